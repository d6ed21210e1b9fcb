// File: server/admin_service.h
//
// coach.v1.AdminService: ReloadPhraseLists and GetRuleSet, admin tokens only
// (when auth is on). A failed reload's status lists at most 20 problems, then
// "... N more; see the coachd log" (Server::Reload logs them all).
//
// It uses gRPC's synchronous API on purpose: a reload reads files and compiles
// every rule (up to about a second for 5,000 rules), which must not run on a
// callback-API thread. Sync handlers run on gRPC's sync-server thread pool.
//
// Thread safety: immutable after construction; `reload` and the store must be
// thread-safe and outlive the grpc::Server.

#ifndef COACHD_SERVER_ADMIN_SERVICE_H_
#define COACHD_SERVER_ADMIN_SERVICE_H_

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "coach/v1/coach.grpc.pb.h"
#include "server/auth.h"
#include "server/metrics.h"
#include "server/rule_set_store.h"

namespace coach::server {

class AdminServiceImpl final : public v1::AdminService::Service {
 public:
  // Reloads the rules and logs/counts the outcome (Server::Reload).
  using ReloadFn = std::function<absl::StatusOr<std::shared_ptr<const LoadedRules>>()>;

  // `tokens` null means auth off; `metrics` may be null.
  AdminServiceImpl(const RuleSetStore* store, ReloadFn reload, const TokenStore* tokens,
                   ServerMetrics* metrics);

  grpc::Status ReloadPhraseLists(grpc::ServerContext* context,
                                 const v1::ReloadPhraseListsRequest* request,
                                 v1::ReloadPhraseListsResponse* response) override;
  grpc::Status GetRuleSet(grpc::ServerContext* context, const v1::GetRuleSetRequest* request,
                          v1::GetRuleSetResponse* response) override;

 private:
  absl::Status Authorize(grpc::ServerContext* context, absl::string_view method) const;

  const RuleSetStore* const store_;
  const ReloadFn reload_;
  const TokenStore* const tokens_;
  ServerMetrics* const metrics_;
};

}  // namespace coach::server

#endif  // COACHD_SERVER_ADMIN_SERVICE_H_
