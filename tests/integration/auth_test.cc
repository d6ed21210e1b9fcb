// Bearer-token auth: roles, scopes, wrong and missing tokens, and the rule
// that a non-loopback address needs a tokens file (or --insecure).

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness.h"

namespace coach::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kPipelineAcme[] = "pipeline-acme-0123456789";
constexpr char kPipelineGlobex[] = "pipeline-globex-0123456789";
// agent-042 of tenant acme.
constexpr char kDesktop42[] = "desktop-agent42-012345";
// agent-042 of the default tenant "".
constexpr char kDesktop42Default[] = "desktop-agent42-default-012345";
constexpr char kSupervisorAcme[] = "supervisor-acme-0123456";
constexpr char kAdmin[] = "admin-token-0123456789";

class AuthTest : public ::testing::Test {
 protected:
  static server::Server::Options Options(FakeClock* clock, const TempDir& dir) {
    server::Server::Options options = TestServer::DefaultOptions(clock);
    options.tokens_file = dir.Write("tokens.txt", absl::StrCat(
        "# test tokens\n",
        kPipelineAcme, " pipeline acme\n",
        kPipelineGlobex, " pipeline globex\n",
        kDesktop42, " desktop acme/agent-042\n",
        kDesktop42Default, " desktop agent-042\n",
        kSupervisorAcme, " supervisor acme\n",
        kAdmin, " admin\n"));
    return options;
  }

  grpc::Status Stream(const std::string& tenant, const std::string& token) {
    return RunCall(stub_.get(), {StartEvent("c-" + tenant + token.substr(0, 4), "agent-042", tenant),
                                 EndEvent()},
                   token)
        .status;
  }

  // WatchAgent of `agent_id` (and `tenant`, when given) with `token`.
  grpc::Status Watch(const std::string& agent_id, const std::string& token,
                     const std::string& tenant = "") {
    v1::WatchAgentRequest request;
    request.set_agent_id(agent_id);
    request.set_tenant(tenant);
    auto watcher = Watcher::Agent(stub_.get(), request, token);
    // An accepted watcher stays open: end it from our side. It is registered
    // under its tenant, which may come from the token.
    auto subscribers = [&] {
      size_t n = 0;
      for (const char* t : {"", "acme", "globex"}) {
        n += server_.server().registry().AgentSubscriberDrops(t, agent_id).size();
      }
      return n;
    };
    Eventually([&] { return subscribers() == 1 || watcher->ended(); });
    if (subscribers() == 1) {
      watcher->Cancel();
      Eventually([&] { return subscribers() == 0; });
      return grpc::Status::OK;
    }
    return watcher->WaitForStatus();
  }

  grpc::Status WatchAlerts(const std::string& tenant, const std::string& token) {
    v1::WatchAlertsRequest request;
    request.set_tenant(tenant);
    auto watcher = Watcher::Alerts(stub_.get(), request, token);
    auto registered = [&] { return server_.server().registry().Subscribers().size() == 1; };
    Eventually([&] { return registered() || watcher->ended(); });
    if (registered()) {
      watcher->Cancel();
      Eventually([&] { return server_.server().registry().Subscribers().empty(); });
      return grpc::Status::OK;
    }
    return watcher->WaitForStatus();
  }

  grpc::Status Review(const std::string& tenant, const std::string& token) {
    v1::ReviewCallRequest request;
    *request.mutable_start() = StartEvent("r", "agent-042", tenant).start();
    grpc::ClientContext context;
    SetToken(&context, token);
    v1::ReviewCallResponse response;
    return stub_->ReviewCall(&context, request, &response);
  }

  grpc::Status Reload(const std::string& token) {
    grpc::ClientContext context;
    SetToken(&context, token);
    v1::ReloadPhraseListsResponse response;
    return admin_->ReloadPhraseLists(&context, v1::ReloadPhraseListsRequest(), &response);
  }

  grpc::Status GetRuleSet(const std::string& token) {
    grpc::ClientContext context;
    SetToken(&context, token);
    v1::GetRuleSetResponse response;
    return admin_->GetRuleSet(&context, v1::GetRuleSetRequest(), &response);
  }

  FakeClock clock_;
  TempDir dir_;
  TestServer server_{Options(&clock_, dir_)};
  std::unique_ptr<v1::CoachService::Stub> stub_ = server_.NewCoachStub();
  std::unique_ptr<v1::AdminService::Stub> admin_ = server_.NewAdminStub();
};

#define EXPECT_CODE(status, code) \
  EXPECT_EQ((status).error_code(), grpc::StatusCode::code) << (status).error_message()

TEST_F(AuthTest, MissingTokenIsUnauthenticatedEverywhere) {
  EXPECT_TRUE(server_.server().auth_enabled());
  EXPECT_CODE(Stream("acme", ""), UNAUTHENTICATED);
  EXPECT_CODE(Watch("agent-042", ""), UNAUTHENTICATED);
  EXPECT_CODE(WatchAlerts("acme", ""), UNAUTHENTICATED);
  EXPECT_CODE(Review("acme", ""), UNAUTHENTICATED);
  EXPECT_CODE(Reload(""), UNAUTHENTICATED);
  EXPECT_CODE(GetRuleSet(""), UNAUTHENTICATED);
}

TEST_F(AuthTest, UnknownTokenIsUnauthenticatedAndNotEchoed) {
  const std::string wrong = "not-a-real-token-0123456789";
  grpc::Status status = Stream("acme", wrong);
  EXPECT_CODE(status, UNAUTHENTICATED);
  EXPECT_THAT(status.error_message(), ::testing::Not(HasSubstr(wrong)));
  EXPECT_CODE(Watch("agent-042", wrong), UNAUTHENTICATED);
}

TEST_F(AuthTest, PipelineStreamsOnlyItsTenant) {
  EXPECT_TRUE(Stream("acme", kPipelineAcme).ok());
  grpc::Status other = Stream("globex", kPipelineAcme);
  EXPECT_CODE(other, PERMISSION_DENIED);
  EXPECT_THAT(other.error_message(), HasSubstr("tenant"));
}

TEST_F(AuthTest, OtherRolesCannotStreamCalls) {
  EXPECT_CODE(Stream("acme", kDesktop42), PERMISSION_DENIED);
  EXPECT_CODE(Stream("acme", kSupervisorAcme), PERMISSION_DENIED);
  EXPECT_TRUE(Stream("acme", kAdmin).ok());
}

TEST_F(AuthTest, DesktopWatchesOnlyItsOwnAgent) {
  EXPECT_TRUE(Watch("agent-042", kDesktop42).ok());
  grpc::Status other = Watch("agent-007", kDesktop42);
  EXPECT_CODE(other, PERMISSION_DENIED);
  EXPECT_THAT(other.error_message(), HasSubstr("agent_id"));
  EXPECT_CODE(Watch("agent-042", kSupervisorAcme), PERMISSION_DENIED);
  EXPECT_CODE(Watch("agent-042", kPipelineAcme), PERMISSION_DENIED);
  EXPECT_TRUE(Watch("agent-042", kAdmin).ok());
}

TEST_F(AuthTest, SupervisorWatchesAlertsOfItsTenantOnly) {
  EXPECT_TRUE(WatchAlerts("acme", kSupervisorAcme).ok());
  EXPECT_CODE(WatchAlerts("globex", kSupervisorAcme), PERMISSION_DENIED);
  EXPECT_TRUE(WatchAlerts("", kSupervisorAcme).ok());  // defaults to its own tenant
  EXPECT_CODE(WatchAlerts("acme", kDesktop42), PERMISSION_DENIED);
  EXPECT_TRUE(WatchAlerts("", kAdmin).ok());
}

TEST_F(AuthTest, ReviewCallNeedsPipelineOrSupervisorOfTheTenant) {
  EXPECT_TRUE(Review("acme", kPipelineAcme).ok());
  EXPECT_TRUE(Review("acme", kSupervisorAcme).ok());
  EXPECT_CODE(Review("globex", kSupervisorAcme), PERMISSION_DENIED);
  EXPECT_CODE(Review("acme", kDesktop42), PERMISSION_DENIED);
}

TEST_F(AuthTest, AdminServiceIsForAdminsOnly) {
  EXPECT_TRUE(Reload(kAdmin).ok());
  EXPECT_TRUE(GetRuleSet(kAdmin).ok());
  EXPECT_CODE(Reload(kSupervisorAcme), PERMISSION_DENIED);
  EXPECT_CODE(GetRuleSet(kDesktop42), PERMISSION_DENIED);
}

TEST_F(AuthTest, AuthorizedDesktopReceivesItsAgentsCall) {
  v1::WatchAgentRequest request;
  request.set_agent_id("agent-042");
  auto desktop = Watcher::Agent(stub_.get(), request, kDesktop42);
  ASSERT_TRUE(server_.WaitForAgentSubscribers("acme", "agent-042", 1));
  ASSERT_TRUE(RunCall(stub_.get(), EscalatedCall("c1", "agent-042", "acme"), kPipelineAcme)
                  .status.ok());
  EXPECT_TRUE(desktop->WaitForReport("c1"));
}

TEST_F(AuthTest, OmittedTenantDefaultsToTheTokensTenant) {
  // A pipeline that leaves start.tenant empty streams for its own tenant...
  v1::WatchAgentRequest request;
  request.set_agent_id("agent-042");  // tenant omitted: acme, from the desktop token
  auto desktop = Watcher::Agent(stub_.get(), request, kDesktop42);
  ASSERT_TRUE(server_.WaitForAgentSubscribers("acme", "agent-042", 1));
  CallResult call = RunCall(stub_.get(), EscalatedCall("c-omitted", "agent-042", ""), kPipelineAcme);
  ASSERT_TRUE(call.status.ok()) << call.status.error_message();
  ASSERT_FALSE(call.events.empty());
  for (const auto& e : call.events) EXPECT_EQ(e.tenant(), "acme");
  ASSERT_TRUE(desktop->WaitForReport("c-omitted"));
  // ... and so do reviews by pipelines and supervisors.
  EXPECT_TRUE(Review("", kPipelineAcme).ok());
  EXPECT_TRUE(Review("", kSupervisorAcme).ok());
  // An admin (like auth off) gets the default tenant "".
  CallResult admin = RunCall(stub_.get(), EscalatedCall("c-admin", "agent-042", ""), kAdmin);
  ASSERT_TRUE(admin.status.ok());
  for (const auto& e : admin.events) EXPECT_EQ(e.tenant(), "");
}

TEST_F(AuthTest, DesktopCannotWatchTheSameAgentIdOfAnotherTenant) {
  grpc::Status other = Watch("agent-042", kDesktop42, "globex");
  EXPECT_CODE(other, PERMISSION_DENIED);
  EXPECT_THAT(other.error_message(), AllOf(HasSubstr("tenant 'globex'"),
                                           HasSubstr("'acme/agent-042'")));
  EXPECT_TRUE(Watch("agent-042", kDesktop42, "acme").ok());
  // A plain agent_id scope is the default tenant's agent.
  EXPECT_TRUE(Watch("agent-042", kDesktop42Default).ok());
  EXPECT_CODE(Watch("agent-042", kDesktop42Default, "acme"), PERMISSION_DENIED);

  // And the default tenant's agent-042 never sees acme's agent-042 calls.
  v1::WatchAgentRequest request;
  request.set_agent_id("agent-042");
  auto desktop = Watcher::Agent(stub_.get(), request, kDesktop42Default);
  ASSERT_TRUE(server_.WaitForAgentSubscribers("", "agent-042", 1));
  ASSERT_TRUE(RunCall(stub_.get(), EscalatedCall("acme-call", "agent-042", "acme"), kPipelineAcme)
                  .status.ok());
  ASSERT_TRUE(RunCall(stub_.get(), EscalatedCall("globex-call", "agent-042"), kPipelineGlobex)
                  .status.ok());  // tenant globex, from the token
  ASSERT_TRUE(RunCall(stub_.get(), EscalatedCall("default-call", "agent-042"), kAdmin).status.ok());
  ASSERT_TRUE(desktop->WaitForReport("default-call"));
  for (const auto& e : desktop->events()) EXPECT_EQ(e.call_id(), "default-call");
}

TEST(AuthConfig, NonLoopbackAddressNeedsTokensOrInsecure) {
  FakeClock clock;
  server::Server::Options options = TestServer::DefaultOptions(&clock);
  options.listen_address = "0.0.0.0:0";
  auto refused = server::Server::BuildAndStart(options);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("--tokens_file"));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("--insecure"));

  options.insecure = true;
  auto insecure = server::Server::BuildAndStart(options);
  ASSERT_TRUE(insecure.ok()) << insecure.status();
  EXPECT_FALSE((*insecure)->auth_enabled());
  (*insecure)->Shutdown(absl::ZeroDuration());
}

TEST(AuthConfig, MissingTokensFileFailsToStartNamingTheFlag) {
  FakeClock clock;
  server::Server::Options options = TestServer::DefaultOptions(&clock);
  options.tokens_file = "/nonexistent/tokens.txt";
  auto server = server::Server::BuildAndStart(options);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(std::string(server.status().message()), HasSubstr("--tokens_file"));
}

}  // namespace
}  // namespace coach::testing
