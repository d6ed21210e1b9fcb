#include "server/admin_service.h"

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "server/convert.h"

namespace coach::server {

namespace {

// Problems a failed reload lists in its status; the rest are only logged
// (a status message travels in gRPC metadata, which is limited to a few KiB).
constexpr size_t kMaxReloadErrors = 20;

// `status` with its message cut to kMaxReloadErrors problems, one per line,
// after a heading line that ends with ':' ("phrase lists have 30 errors:").
absl::Status CapErrors(const absl::Status& status) {
  std::vector<absl::string_view> lines =
      absl::StrSplit(status.message(), '\n', absl::SkipEmpty());
  const size_t heading = !lines.empty() && absl::EndsWith(lines.front(), ":") ? 1 : 0;
  if (lines.size() <= heading + kMaxReloadErrors) return status;
  const size_t more = lines.size() - heading - kMaxReloadErrors;
  lines.resize(heading + kMaxReloadErrors);
  return absl::Status(status.code(),
                      absl::StrCat(absl::StrJoin(lines, "\n"), "\n... ", more,
                                   " more; see the coachd log"));
}

}  // namespace

AdminServiceImpl::AdminServiceImpl(const RuleSetStore* store, ReloadFn reload,
                                   const TokenStore* tokens, ServerMetrics* metrics)
    : store_(store), reload_(std::move(reload)), tokens_(tokens), metrics_(metrics) {}

absl::Status AdminServiceImpl::Authorize(grpc::ServerContext* context,
                                         absl::string_view method) const {
  absl::StatusOr<std::optional<Principal>> principal =
      Authenticate(tokens_, context->client_metadata());
  absl::Status status = principal.ok() ? AuthorizeAdmin(*principal) : principal.status();
  if (!status.ok() && metrics_ != nullptr) {
    metrics_->RequestRejected(method, absl::StatusCodeToString(status.code()));
  }
  return status;
}

grpc::Status AdminServiceImpl::ReloadPhraseLists(grpc::ServerContext* context,
                                                 const v1::ReloadPhraseListsRequest* request,
                                                 v1::ReloadPhraseListsResponse* response) {
  if (absl::Status status = Authorize(context, "ReloadPhraseLists"); !status.ok()) {
    return ToGrpcStatus(status);
  }
  absl::StatusOr<std::shared_ptr<const LoadedRules>> loaded = reload_();
  if (!loaded.ok()) {
    if (metrics_ != nullptr) {
      metrics_->RequestRejected("ReloadPhraseLists",
                                absl::StatusCodeToString(loaded.status().code()));
    }
    return ToGrpcStatus(CapErrors(loaded.status()));
  }
  response->set_version((*loaded)->version());
  response->set_rule_count(static_cast<int32_t>((*loaded)->rules->rules().size()));
  response->set_expectation_count((*loaded)->expectation_count);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::GetRuleSet(grpc::ServerContext* context,
                                          const v1::GetRuleSetRequest* request,
                                          v1::GetRuleSetResponse* response) {
  if (absl::Status status = Authorize(context, "GetRuleSet"); !status.ok()) {
    return ToGrpcStatus(status);
  }
  std::shared_ptr<const LoadedRules> current = store_->Current();
  response->set_version(current->version());
  for (const std::string& file : current->source_files) response->add_source_files(file);
  for (const auto& [category, count] : current->rules_per_category) {
    (*response->mutable_rules_per_category())[category] = count;
  }
  const int64_t nanos = absl::ToUnixNanos(current->loaded_at);
  response->mutable_loaded_at()->set_seconds(nanos / 1000000000);
  response->mutable_loaded_at()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
  response->set_rule_count(static_cast<int32_t>(current->rules->rules().size()));
  response->set_expectation_count(current->expectation_count);
  return grpc::Status::OK;
}

}  // namespace coach::server
