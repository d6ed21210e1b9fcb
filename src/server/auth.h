// File: server/auth.h
//
// Bearer-token authentication and role/scope authorization for coachd.
//
// A TokenStore maps opaque bearer tokens to a Principal (a role plus a scope).
// It is loaded once from a tokens file and is immutable afterwards, so any
// number of threads may call Find() concurrently without locking. Callers own
// the store (std::unique_ptr); Authenticate() only borrows it.
//
// Tokens file format (UTF-8 text):
//
//   # comment: '#' starts a comment anywhere on a line
//   <token> <role> [<scope>]
//
//   - one entry per line, fields separated by spaces or tabs; blank lines are
//     ignored;
//   - <token>: at least 16 characters, no whitespace and no '#', unique in
//     the file;
//   - <role>: pipeline | desktop | supervisor | admin;
//   - <scope>: required for pipeline (tenant), desktop (agent) and
//     supervisor (tenant); an admin entry must not have one. A desktop's
//     scope is "tenant/agent_id" (split at the first '/', both parts
//     non-empty), or a plain "agent_id" for an agent of the default tenant "".
//
//   Example:
//     3f9c2e7a51b04d8e9a7c  pipeline    acme
//     d41d8cd98f00b204e980  desktop     acme/agent-007
//     a87ff679a2f3e71d9181  desktop     agent-007        # tenant ""
//     9e107d9d372bb6826bd8  supervisor  acme
//     e4d909c290d0fb1ca068  admin
//
// Errors: a missing file is NOT_FOUND; any bad line is INVALID_ARGUMENT with a
// "file:line: ..." message (unknown role, missing or extra scope, a desktop
// scope with an empty tenant or agent_id around '/', duplicate token, short
// token, extra fields). Token values never appear in messages or
// logs.
//
// Call order per RPC: Authenticate() once with the client metadata, then
// TenantOrDefault() for the request's tenant field, then the Authorize*()
// check for that RPC with the resulting principal and tenant. A std::nullopt
// principal means auth is off (no store configured): every check passes.
//
// Tenant defaulting: a request that leaves its tenant empty gets the tenant
// of its token's scope (PrincipalTenant); with auth off or an admin token it
// stays "" (the default tenant; for WatchAlerts, every tenant).
//
// Authorization policy:
//   StreamCall   pipeline of the call's tenant, or admin
//   WatchAgent   desktop whose scope is that tenant and agent_id, or admin
//                (supervisors may NOT watch an agent's desktop stream; they
//                use WatchAlerts)
//   WatchAlerts  supervisor of that tenant, or admin
//   ReviewCall   pipeline or supervisor of that tenant, or admin
//   Admin RPCs   admin only
//
// Thread safety: all free functions are stateless and thread-safe.

#ifndef COACHD_SERVER_AUTH_H_
#define COACHD_SERVER_AUTH_H_

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/support/string_ref.h"

namespace coach::server {

enum class Role { kPipeline, kDesktop, kSupervisor, kAdmin };

// "pipeline", "desktop", "supervisor", "admin".
absl::string_view RoleName(Role role);

struct Principal {
  Role role = Role::kPipeline;
  // As written in the tokens file: "tenant/agent_id" or "agent_id" for
  // desktops, the tenant for pipelines and supervisors, empty for admin.
  std::string scope;
};

// The tenant a principal acts for: the scope of a pipeline or supervisor, the
// part of a desktop's scope before '/' ("" when it has none), "" for admin.
absl::string_view PrincipalTenant(const Principal& principal);
// The agent_id of a desktop's scope (after the '/', if any); "" for the other
// roles.
absl::string_view DesktopAgentId(const Principal& principal);
// `tenant` when not empty; else the principal's tenant (PrincipalTenant), or
// "" when auth is off (std::nullopt) or for an admin.
std::string TenantOrDefault(const std::optional<Principal>& principal, absl::string_view tenant);

class TokenStore {
 public:
  // Tokens shorter than this are rejected when loading.
  static constexpr size_t kMinTokenLength = 16;

  // Reads and parses `path`. NOT_FOUND if it cannot be opened.
  static absl::StatusOr<std::unique_ptr<TokenStore>> LoadFile(const std::string& path);
  // Parses tokens-file text; `file_name` is used only in error messages.
  static absl::StatusOr<std::unique_ptr<TokenStore>> Parse(absl::string_view text,
                                                           absl::string_view file_name);

  TokenStore(const TokenStore&) = delete;
  TokenStore& operator=(const TokenStore&) = delete;

  // The principal of `token`, or nullptr if unknown. The pointer stays valid
  // for the store's lifetime.
  const Principal* Find(absl::string_view token) const;
  size_t size() const { return principals_.size(); }

 private:
  TokenStore() = default;

  absl::flat_hash_map<std::string, Principal> principals_;
};

// Name of the metadata header carrying "Bearer <token>".
inline constexpr absl::string_view kAuthorizationHeader = "authorization";

// Reads "authorization: Bearer <token>" from client metadata.
// store == nullptr means auth is off: returns std::nullopt (everything
// allowed). Missing/malformed header or unknown token -> UNAUTHENTICATED with a
// message naming the header.
absl::StatusOr<std::optional<Principal>> Authenticate(
    const TokenStore* store,
    const std::multimap<grpc::string_ref, grpc::string_ref>& client_metadata);

// Authorization checks (see the policy above). A std::nullopt principal (auth
// off) allows all. `tenant` / `agent_id` must equal the principal's scope
// exactly (an empty tenant matches only a desktop of the default tenant:
// callers pass the value TenantOrDefault() returned). PERMISSION_DENIED
// messages name the RPC, the field and the scope, never the token.
absl::Status AuthorizeStreamCall(const std::optional<Principal>& principal,
                                 absl::string_view tenant);
absl::Status AuthorizeWatchAgent(const std::optional<Principal>& principal,
                                 absl::string_view tenant, absl::string_view agent_id);
absl::Status AuthorizeWatchAlerts(const std::optional<Principal>& principal,
                                  absl::string_view tenant);
absl::Status AuthorizeReviewCall(const std::optional<Principal>& principal,
                                 absl::string_view tenant);
absl::Status AuthorizeAdmin(const std::optional<Principal>& principal);

// True when `listen_address` only accepts local connections: 127.0.0.0/8
// (optionally "ipv4:"-prefixed), [::1] / ::1, localhost, and unix:/unix-abstract:
// sockets. Used to decide whether auth is mandatory. Wildcards (0.0.0.0, [::])
// and every other host are not loopback.
bool IsLoopbackAddress(absl::string_view listen_address);

}  // namespace coach::server

#endif  // COACHD_SERVER_AUTH_H_
