#include "server/auth.h"

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace coach::server {
namespace {

using ::coach::server::testing::StatusIs;
using ::coach::server::testing::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPipelineToken[] = "pipeline-acme-0123456789";
constexpr char kDesktopToken[] = "desktop-agent7-0123456789";
constexpr char kSupervisorToken[] = "supervisor-acme-0123456789";
constexpr char kAdminToken[] = "admin-0123456789abcdef";

constexpr char kTokens[] = R"(# coachd tokens
pipeline-acme-0123456789    pipeline   acme
desktop-agent7-0123456789   desktop    agent-7   # trailing comment

	supervisor-acme-0123456789	supervisor	acme
admin-0123456789abcdef      admin
)";

std::unique_ptr<TokenStore> ParseOrDie(absl::string_view text) {
  absl::StatusOr<std::unique_ptr<TokenStore>> store = TokenStore::Parse(text, "tokens.txt");
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

Principal P(Role role, std::string scope) { return Principal{role, std::move(scope)}; }

// Authenticate() with metadata whose strings outlive the call.
class Metadata {
 public:
  Metadata& Add(std::string key, std::string value) {
    storage_.emplace_back(std::move(key), std::move(value));
    return *this;
  }
  std::multimap<grpc::string_ref, grpc::string_ref> Get() const {
    std::multimap<grpc::string_ref, grpc::string_ref> map;
    for (const auto& [k, v] : storage_) map.emplace(grpc::string_ref(k), grpc::string_ref(v));
    return map;
  }

 private:
  std::vector<std::pair<std::string, std::string>> storage_;
};

TEST(TokenStore, ParsesEveryRoleCommentsAndBlankLines) {
  std::unique_ptr<TokenStore> store = ParseOrDie(kTokens);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->size(), 4u);
  const Principal* pipeline = store->Find(kPipelineToken);
  ASSERT_NE(pipeline, nullptr);
  EXPECT_EQ(pipeline->role, Role::kPipeline);
  EXPECT_EQ(pipeline->scope, "acme");
  const Principal* desktop = store->Find(kDesktopToken);
  ASSERT_NE(desktop, nullptr);
  EXPECT_EQ(desktop->role, Role::kDesktop);
  EXPECT_EQ(desktop->scope, "agent-7");
  ASSERT_NE(store->Find(kSupervisorToken), nullptr);
  EXPECT_EQ(store->Find(kSupervisorToken)->role, Role::kSupervisor);
  ASSERT_NE(store->Find(kAdminToken), nullptr);
  EXPECT_EQ(store->Find(kAdminToken)->role, Role::kAdmin);
  EXPECT_EQ(store->Find(kAdminToken)->scope, "");
  EXPECT_EQ(store->Find("not-a-known-token-at-all"), nullptr);
  EXPECT_EQ(store->Find(""), nullptr);
}

TEST(TokenStore, ToleratesCrlfLineEndings) {
  std::unique_ptr<TokenStore> store =
      ParseOrDie("admin-0123456789abcdef admin\r\npipeline-acme-0123456789 pipeline acme\r\n");
  ASSERT_NE(store, nullptr);
  ASSERT_NE(store->Find(kPipelineToken), nullptr);
  EXPECT_EQ(store->Find(kPipelineToken)->scope, "acme");
}

TEST(TokenStore, UnknownRoleNamesFileLineAndRole) {
  EXPECT_THAT(TokenStore::Parse("# header\nabcdefghijklmnopq operator acme\n", "tokens.txt"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("tokens.txt:2:"), HasSubstr("unknown role 'operator'"))));
}

TEST(TokenStore, ScopedRolesNeedAScope) {
  for (const char* role : {"pipeline", "desktop", "supervisor"}) {
    EXPECT_THAT(TokenStore::Parse(absl::StrCat("abcdefghijklmnopq ", role, "\n"), "t.txt"),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr("t.txt:1:"), HasSubstr("needs a scope"))))
        << role;
  }
}

TEST(TokenStore, AdminMustNotHaveAScope) {
  EXPECT_THAT(TokenStore::Parse("abcdefghijklmnopq admin acme\n", "t.txt"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("t.txt:1:"), HasSubstr("admin takes no scope"))));
}

TEST(TokenStore, DuplicateTokenNamesBothLinesButNotTheToken) {
  absl::StatusOr<std::unique_ptr<TokenStore>> store =
      TokenStore::Parse("abcdefghijklmnopq admin\n\nabcdefghijklmnopq desktop a1\n", "t.txt");
  EXPECT_THAT(store, StatusIs(absl::StatusCode::kInvalidArgument,
                              AllOf(HasSubstr("t.txt:3: duplicate token"), HasSubstr("line 1"),
                                    Not(HasSubstr("abcdefghijklmnopq")))));
}

TEST(TokenStore, ShortTokenIsRejectedWithoutEchoingIt) {
  EXPECT_THAT(TokenStore::Parse("short-secret admin\n", "t.txt"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("t.txt:1:"), HasSubstr("at least 16"),
                             Not(HasSubstr("short-secret")))));
}

TEST(TokenStore, ExtraFieldsAreRejected) {
  EXPECT_THAT(TokenStore::Parse("abcdefghijklmnopq desktop a1 extra\n", "t.txt"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("t.txt:1:")));
}

TEST(TokenStore, ReportsEveryBadLine) {
  EXPECT_THAT(TokenStore::Parse("abcdefghijklmnopq bogus\nabcdefghijklmnopr desktop\n", "t.txt"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("t.txt:1:"), HasSubstr("t.txt:2:"))));
}

TEST(TokenStore, FileWithoutEntriesIsAnError) {
  EXPECT_THAT(TokenStore::Parse("# nothing here\n\n", "t.txt"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("t.txt: no token entries")));
}

TEST(TokenStore, LoadFileReadsAFileAndNamesMissingOnes) {
  TempDir dir;
  const std::string path = dir.Write("tokens.txt", kTokens);
  absl::StatusOr<std::unique_ptr<TokenStore>> store = TokenStore::LoadFile(path);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->size(), 4u);

  EXPECT_THAT(TokenStore::LoadFile(dir.File("missing.txt")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.txt")));
  EXPECT_THAT(TokenStore::LoadFile(dir.Write("bad.txt", "abcdefghijklmnopq nope\n")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bad.txt:1:")));
}

TEST(Authenticate, NoStoreMeansAuthOff) {
  absl::StatusOr<std::optional<Principal>> principal = Authenticate(nullptr, Metadata().Get());
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_FALSE(principal->has_value());
}

TEST(Authenticate, BearerTokenYieldsItsPrincipal) {
  std::unique_ptr<TokenStore> store = ParseOrDie(kTokens);
  for (const char* scheme : {"Bearer ", "bearer ", "BEARER "}) {
    Metadata md;
    md.Add("authorization", absl::StrCat(scheme, kDesktopToken)).Add("x-agent-id", "agent-7");
    absl::StatusOr<std::optional<Principal>> principal = Authenticate(store.get(), md.Get());
    ASSERT_TRUE(principal.ok()) << principal.status();
    ASSERT_TRUE(principal->has_value());
    EXPECT_EQ((*principal)->role, Role::kDesktop);
    EXPECT_EQ((*principal)->scope, "agent-7");
  }
}

TEST(Authenticate, MissingHeaderIsUnauthenticatedNamingTheHeader) {
  std::unique_ptr<TokenStore> store = ParseOrDie(kTokens);
  EXPECT_THAT(Authenticate(store.get(), Metadata().Add("x-agent-id", "a").Get()),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("authorization")));
}

TEST(Authenticate, MalformedHeaderIsUnauthenticated) {
  std::unique_ptr<TokenStore> store = ParseOrDie(kTokens);
  for (std::string value : {std::string(kAdminToken), absl::StrCat("Basic ", kAdminToken),
                            std::string("Bearer"), std::string("Bearer    ")}) {
    EXPECT_THAT(Authenticate(store.get(), Metadata().Add("authorization", value).Get()),
                StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("'authorization'")))
        << value;
  }
}

TEST(Authenticate, UnknownTokenIsUnauthenticatedWithoutEchoingIt) {
  std::unique_ptr<TokenStore> store = ParseOrDie(kTokens);
  EXPECT_THAT(Authenticate(store.get(),
                           Metadata().Add("authorization", "Bearer wrong-token-0123456789").Get()),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       AllOf(HasSubstr("authorization"), Not(HasSubstr("wrong-token")))));
}

TEST(Authenticate, TwoAuthorizationHeadersAreRejected) {
  std::unique_ptr<TokenStore> store = ParseOrDie(kTokens);
  Metadata md;
  md.Add("authorization", absl::StrCat("Bearer ", kDesktopToken))
      .Add("authorization", absl::StrCat("Bearer ", kAdminToken));
  EXPECT_THAT(Authenticate(store.get(), md.Get()),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("more than one")));
}

TEST(Authorize, AuthOffAllowsEverything) {
  const std::optional<Principal> off;
  EXPECT_TRUE(AuthorizeStreamCall(off, "any").ok());
  EXPECT_TRUE(AuthorizeWatchAgent(off, "", "any").ok());
  EXPECT_TRUE(AuthorizeWatchAlerts(off, "any").ok());
  EXPECT_TRUE(AuthorizeReviewCall(off, "any").ok());
  EXPECT_TRUE(AuthorizeAdmin(off).ok());
}

TEST(Authorize, AdminMayDoEverything) {
  const std::optional<Principal> admin = P(Role::kAdmin, "");
  EXPECT_TRUE(AuthorizeStreamCall(admin, "acme").ok());
  EXPECT_TRUE(AuthorizeWatchAgent(admin, "", "agent-7").ok());
  EXPECT_TRUE(AuthorizeWatchAlerts(admin, "acme").ok());
  EXPECT_TRUE(AuthorizeReviewCall(admin, "acme").ok());
  EXPECT_TRUE(AuthorizeAdmin(admin).ok());
}

TEST(Authorize, PipelineStreamsAndReviewsOnlyItsTenant) {
  const std::optional<Principal> pipeline = P(Role::kPipeline, "acme");
  EXPECT_TRUE(AuthorizeStreamCall(pipeline, "acme").ok());
  EXPECT_TRUE(AuthorizeReviewCall(pipeline, "acme").ok());
  EXPECT_THAT(AuthorizeStreamCall(pipeline, "globex"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       AllOf(HasSubstr("tenant 'globex'"), HasSubstr("'acme'"))));
  EXPECT_THAT(AuthorizeStreamCall(pipeline, ""),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("tenant")));
  EXPECT_THAT(AuthorizeWatchAgent(pipeline, "", "agent-7"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("agent_id 'agent-7'")));
  EXPECT_THAT(AuthorizeWatchAlerts(pipeline, "acme"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("tenant 'acme'")));
  EXPECT_THAT(AuthorizeAdmin(pipeline),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("admin")));
}

TEST(Authorize, DesktopWatchesOnlyItsOwnAgent) {
  const std::optional<Principal> desktop = P(Role::kDesktop, "agent-7");
  EXPECT_TRUE(AuthorizeWatchAgent(desktop, "", "agent-7").ok());
  EXPECT_THAT(AuthorizeWatchAgent(desktop, "", "agent-8"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       AllOf(HasSubstr("WatchAgent"), HasSubstr("agent_id 'agent-8'"),
                             HasSubstr("agent_id 'agent-7'"))));
  EXPECT_THAT(AuthorizeStreamCall(desktop, "agent-7"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("StreamCall")));
  EXPECT_THAT(AuthorizeWatchAlerts(desktop, "agent-7"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("WatchAlerts")));
  EXPECT_THAT(AuthorizeReviewCall(desktop, "agent-7"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("ReviewCall")));
  EXPECT_THAT(AuthorizeAdmin(desktop),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("admin")));
}

TEST(Authorize, SupervisorWatchesAlertsAndReviewsButNotDesktops) {
  const std::optional<Principal> supervisor = P(Role::kSupervisor, "acme");
  EXPECT_TRUE(AuthorizeWatchAlerts(supervisor, "acme").ok());
  EXPECT_TRUE(AuthorizeReviewCall(supervisor, "acme").ok());
  EXPECT_THAT(AuthorizeWatchAlerts(supervisor, "globex"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("tenant 'globex'")));
  EXPECT_THAT(AuthorizeReviewCall(supervisor, "globex"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("tenant 'globex'")));
  EXPECT_THAT(AuthorizeWatchAgent(supervisor, "", "agent-7"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("agent_id 'agent-7'")));
  EXPECT_THAT(AuthorizeStreamCall(supervisor, "acme"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("StreamCall")));
}

TEST(Authorize, TenantScopedDesktopWatchesOnlyItsAgentOfItsTenant) {
  const std::optional<Principal> desktop = P(Role::kDesktop, "acme/agent-7");
  EXPECT_TRUE(AuthorizeWatchAgent(desktop, "acme", "agent-7").ok());
  EXPECT_THAT(AuthorizeWatchAgent(desktop, "globex", "agent-7"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       AllOf(HasSubstr("tenant 'globex'"), HasSubstr("'acme/agent-7'"))));
  EXPECT_THAT(AuthorizeWatchAgent(desktop, "", "agent-7"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("tenant ''")));
  EXPECT_THAT(AuthorizeWatchAgent(desktop, "acme", "agent-8"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("agent_id 'agent-8'")));
  // A plain agent_id scope is an agent of the default tenant "".
  EXPECT_THAT(AuthorizeWatchAgent(P(Role::kDesktop, "agent-7"), "acme", "agent-7"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("tenant 'acme'")));
}

TEST(TenantOrDefault, OmittedTenantIsTheTokensTenantOrTheDefaultTenant) {
  EXPECT_EQ(TenantOrDefault(std::nullopt, ""), "");
  EXPECT_EQ(TenantOrDefault(std::nullopt, "acme"), "acme");
  EXPECT_EQ(TenantOrDefault(P(Role::kAdmin, ""), ""), "");
  EXPECT_EQ(TenantOrDefault(P(Role::kPipeline, "acme"), ""), "acme");
  EXPECT_EQ(TenantOrDefault(P(Role::kPipeline, "acme"), "globex"), "globex");
  EXPECT_EQ(TenantOrDefault(P(Role::kSupervisor, "acme"), ""), "acme");
  EXPECT_EQ(TenantOrDefault(P(Role::kDesktop, "acme/agent-7"), ""), "acme");
  EXPECT_EQ(TenantOrDefault(P(Role::kDesktop, "agent-7"), ""), "");
  EXPECT_EQ(DesktopAgentId(P(Role::kDesktop, "acme/agent-7")), "agent-7");
  EXPECT_EQ(DesktopAgentId(P(Role::kDesktop, "agent-7")), "agent-7");
}

TEST(TokenStore, DesktopScopeNeedsBothTenantAndAgentAroundTheSlash) {
  std::unique_ptr<TokenStore> store = ParseOrDie("abcdefghijklmnopq desktop acme/agent-7\n");
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(PrincipalTenant(*store->Find("abcdefghijklmnopq")), "acme");
  for (const char* scope : {"acme/", "/agent-7"}) {
    EXPECT_THAT(TokenStore::Parse(absl::StrCat("abcdefghijklmnopq desktop ", scope, "\n"), "t.txt"),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr("t.txt:1:"), HasSubstr("tenant/agent_id"))))
        << scope;
  }
}

TEST(RoleName, NamesEveryRole) {
  EXPECT_EQ(RoleName(Role::kPipeline), "pipeline");
  EXPECT_EQ(RoleName(Role::kDesktop), "desktop");
  EXPECT_EQ(RoleName(Role::kSupervisor), "supervisor");
  EXPECT_EQ(RoleName(Role::kAdmin), "admin");
}

TEST(IsLoopbackAddress, AcceptsOnlyLocalAddresses) {
  for (const char* address : {"127.0.0.1:50051", "127.1.2.3:1", "localhost:50051", "LOCALHOST:1",
                              "[::1]:50051", "::1", "ipv4:127.0.0.1:50051", "ipv6:[::1]:50051",
                              "unix:/run/coachd.sock", "unix:///run/coachd.sock",
                              "unix-abstract:coachd", "[::ffff:127.0.0.1]:50051", "127.0.0.1"}) {
    EXPECT_TRUE(IsLoopbackAddress(address)) << address;
  }
  for (const char* address :
       {"0.0.0.0:50051", "[::]:50051", "10.0.0.5:50051", "128.0.0.1:50051", "example.com:50051",
        "localhost.example.com:1", "[::2]:50051", "", ":50051", "[::1:50051"}) {
    EXPECT_FALSE(IsLoopbackAddress(address)) << address;
  }
}

}  // namespace
}  // namespace coach::server
