#include "server/auth.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace coach::server {
namespace {

constexpr absl::string_view kBearerPrefix = "bearer ";

std::optional<Role> ParseRole(absl::string_view name) {
  if (name == "pipeline") return Role::kPipeline;
  if (name == "desktop") return Role::kDesktop;
  if (name == "supervisor") return Role::kSupervisor;
  if (name == "admin") return Role::kAdmin;
  return std::nullopt;
}

// What the scope of each role is called in messages.
absl::string_view ScopeField(Role role, absl::string_view scope = "") {
  switch (role) {
    case Role::kDesktop:
      return absl::StrContains(scope, '/') ? "tenant/agent_id" : "agent_id";
    case Role::kPipeline:
    case Role::kSupervisor:
      return "tenant";
    case Role::kAdmin:
      break;
  }
  return "";
}

bool IsAdmin(const std::optional<Principal>& principal) { return principal->role == Role::kAdmin; }

// PERMISSION_DENIED for `principal` asking for `field` = `value` in `what`.
absl::Status Denied(const Principal& principal, absl::string_view what, absl::string_view field,
                    absl::string_view value) {
  std::string who(RoleName(principal.role));
  if (!principal.scope.empty()) {
    absl::StrAppend(&who, " token scoped to ", ScopeField(principal.role, principal.scope), " '",
                    principal.scope,
                    "'");
  } else {
    absl::StrAppend(&who, " token");
  }
  return absl::PermissionDeniedError(
      absl::StrCat(what, " denied: a ", who, " may not use ", field, " '", value, "'"));
}

// Allows admin, or a principal whose role is in `roles` and whose scope is
// exactly `value`.
absl::Status AuthorizeScoped(const std::optional<Principal>& principal,
                             std::initializer_list<Role> roles, absl::string_view what,
                             absl::string_view field, absl::string_view value) {
  if (!principal.has_value() || IsAdmin(principal)) return absl::OkStatus();
  for (Role role : roles) {
    if (principal->role == role && principal->scope == value) return absl::OkStatus();
  }
  return Denied(*principal, what, field, value);
}

bool IsLoopbackHost(absl::string_view host) {
  if (absl::EqualsIgnoreCase(host, "localhost")) return true;
  std::string h(host);
  in_addr v4;
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    if (IN6_IS_ADDR_V4MAPPED(&v6)) return v6.s6_addr[12] == 127;
  }
  return false;
}

}  // namespace

absl::string_view PrincipalTenant(const Principal& principal) {
  switch (principal.role) {
    case Role::kPipeline:
    case Role::kSupervisor:
      return principal.scope;
    case Role::kDesktop: {
      const size_t slash = principal.scope.find('/');
      return slash == std::string::npos ? absl::string_view()
                                        : absl::string_view(principal.scope).substr(0, slash);
    }
    case Role::kAdmin:
      break;
  }
  return "";
}

absl::string_view DesktopAgentId(const Principal& principal) {
  if (principal.role != Role::kDesktop) return "";
  const size_t slash = principal.scope.find('/');
  return slash == std::string::npos ? absl::string_view(principal.scope)
                                    : absl::string_view(principal.scope).substr(slash + 1);
}

std::string TenantOrDefault(const std::optional<Principal>& principal, absl::string_view tenant) {
  if (!tenant.empty() || !principal.has_value()) return std::string(tenant);
  return std::string(PrincipalTenant(*principal));
}

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kPipeline:
      return "pipeline";
    case Role::kDesktop:
      return "desktop";
    case Role::kSupervisor:
      return "supervisor";
    case Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<TokenStore>> TokenStore::LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot open tokens file (--tokens_file): ", std::strerror(errno)));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) {
    return absl::DataLossError(absl::StrCat(path, ": error reading tokens file"));
  }
  return Parse(buffer.str(), path);
}

absl::StatusOr<std::unique_ptr<TokenStore>> TokenStore::Parse(absl::string_view text,
                                                              absl::string_view file_name) {
  std::unique_ptr<TokenStore> store(new TokenStore());
  absl::flat_hash_map<std::string, int> first_line;  // token -> line it was defined on
  std::vector<std::string> errors;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    auto error = [&](absl::string_view message) {
      errors.push_back(absl::StrCat(file_name, ":", line_number, ": ", message));
    };
    if (size_t hash = line.find('#'); hash != absl::string_view::npos) line = line.substr(0, hash);
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r\v\f"), absl::SkipEmpty());
    if (fields.empty()) continue;
    if (fields.size() == 1) {
      error("expected '<token> <role> [<scope>]', found only a token");
      continue;
    }
    if (fields.size() > 3) {
      error(absl::StrCat("expected '<token> <role> [<scope>]', found ", fields.size(), " fields"));
      continue;
    }
    const absl::string_view token = fields[0];
    std::optional<Role> role = ParseRole(fields[1]);
    if (!role.has_value()) {
      error(absl::StrCat("unknown role '", fields[1],
                         "'; expected pipeline, desktop, supervisor or admin"));
      continue;
    }
    Principal principal{*role, fields.size() == 3 ? std::string(fields[2]) : std::string()};
    if (*role == Role::kAdmin && !principal.scope.empty()) {
      error(absl::StrCat("role admin takes no scope, found '", principal.scope, "'"));
      continue;
    }
    if (*role != Role::kAdmin && principal.scope.empty()) {
      error(absl::StrCat("role ", RoleName(*role), " needs a scope (the ", ScopeField(*role), ")"));
      continue;
    }
    if (*role == Role::kDesktop && absl::StrContains(principal.scope, '/') &&
        (PrincipalTenant(principal).empty() || DesktopAgentId(principal).empty())) {
      error(absl::StrCat("desktop scope '", principal.scope,
                         "' must be 'agent_id' or 'tenant/agent_id' with both parts non-empty"));
      continue;
    }
    if (token.size() < kMinTokenLength) {
      error(absl::StrCat("token is ", token.size(), " characters; tokens need at least ",
                         kMinTokenLength));
      continue;
    }
    auto [it, inserted] = first_line.emplace(std::string(token), line_number);
    if (!inserted) {
      error(absl::StrCat("duplicate token (first defined on line ", it->second, ")"));
      continue;
    }
    store->principals_.emplace(std::string(token), std::move(principal));
  }
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  if (store->principals_.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(file_name,
                     ": no token entries; every request would be rejected (format: "
                     "'<token> <role> [<scope>]' per line)"));
  }
  return store;
}

const Principal* TokenStore::Find(absl::string_view token) const {
  auto it = principals_.find(token);
  return it == principals_.end() ? nullptr : &it->second;
}

absl::StatusOr<std::optional<Principal>> Authenticate(
    const TokenStore* store,
    const std::multimap<grpc::string_ref, grpc::string_ref>& client_metadata) {
  if (store == nullptr) return std::optional<Principal>();
  auto [begin, end] = client_metadata.equal_range(
      grpc::string_ref(kAuthorizationHeader.data(), kAuthorizationHeader.size()));
  if (begin == end) {
    return absl::UnauthenticatedError(
        "missing 'authorization' metadata; send 'authorization: Bearer <token>'");
  }
  if (std::next(begin) != end) {
    return absl::UnauthenticatedError(
        "more than one 'authorization' metadata entry; send exactly one "
        "'authorization: Bearer <token>'");
  }
  absl::string_view value(begin->second.data(), begin->second.size());
  if (value.size() < kBearerPrefix.size() ||
      !absl::EqualsIgnoreCase(value.substr(0, kBearerPrefix.size()), kBearerPrefix)) {
    return absl::UnauthenticatedError(
        "malformed 'authorization' metadata: expected 'Bearer <token>'");
  }
  absl::string_view token = absl::StripAsciiWhitespace(value.substr(kBearerPrefix.size()));
  if (token.empty()) {
    return absl::UnauthenticatedError(
        "malformed 'authorization' metadata: empty token after 'Bearer'");
  }
  const Principal* principal = store->Find(token);
  if (principal == nullptr) {
    return absl::UnauthenticatedError("unknown bearer token in 'authorization' metadata");
  }
  return std::optional<Principal>(*principal);
}

absl::Status AuthorizeStreamCall(const std::optional<Principal>& principal,
                                 absl::string_view tenant) {
  return AuthorizeScoped(principal, {Role::kPipeline}, "StreamCall", "tenant", tenant);
}

absl::Status AuthorizeWatchAgent(const std::optional<Principal>& principal,
                                 absl::string_view tenant, absl::string_view agent_id) {
  if (!principal.has_value() || IsAdmin(principal)) return absl::OkStatus();
  if (principal->role == Role::kDesktop) {
    if (PrincipalTenant(*principal) != tenant) {
      return Denied(*principal, "WatchAgent", "tenant", tenant);
    }
    if (DesktopAgentId(*principal) == agent_id) return absl::OkStatus();
  }
  return Denied(*principal, "WatchAgent", "agent_id", agent_id);
}

absl::Status AuthorizeWatchAlerts(const std::optional<Principal>& principal,
                                  absl::string_view tenant) {
  return AuthorizeScoped(principal, {Role::kSupervisor}, "WatchAlerts", "tenant", tenant);
}

absl::Status AuthorizeReviewCall(const std::optional<Principal>& principal,
                                 absl::string_view tenant) {
  return AuthorizeScoped(principal, {Role::kPipeline, Role::kSupervisor}, "ReviewCall", "tenant",
                         tenant);
}

absl::Status AuthorizeAdmin(const std::optional<Principal>& principal) {
  if (!principal.has_value() || IsAdmin(principal)) return absl::OkStatus();
  std::string who = absl::StrCat(RoleName(principal->role), " token scoped to ",
                                 ScopeField(principal->role), " '", principal->scope, "'");
  return absl::PermissionDeniedError(
      absl::StrCat("AdminService denied: needs an admin token, got a ", who));
}

bool IsLoopbackAddress(absl::string_view address) {
  address = absl::StripAsciiWhitespace(address);
  if (absl::StartsWith(address, "unix:") || absl::StartsWith(address, "unix-abstract:")) {
    return true;
  }
  if (!absl::ConsumePrefix(&address, "ipv4:") && !absl::ConsumePrefix(&address, "ipv6:")) {
    if (absl::ConsumePrefix(&address, "dns:")) absl::ConsumePrefix(&address, "///");
  }
  absl::string_view host;
  if (absl::ConsumePrefix(&address, "[")) {
    size_t close = address.find(']');
    if (close == absl::string_view::npos) return false;
    host = address.substr(0, close);
  } else if (address.find(':') != address.rfind(':')) {
    host = address;  // a bare IPv6 address without a port, e.g. "::1"
  } else {
    host = address.substr(0, address.find(':'));
  }
  return IsLoopbackHost(host);
}

}  // namespace coach::server
