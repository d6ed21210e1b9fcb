// Tenant isolation: calls and agents are keyed by (tenant, id), so the same
// agent_id or call_id in two tenants never mix.

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness.h"

namespace coach::testing {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

v1::WatchAgentRequest WatchRequest(const std::string& tenant, const std::string& agent_id) {
  v1::WatchAgentRequest request;
  request.set_tenant(tenant);
  request.set_agent_id(agent_id);
  return request;
}

class TenantsTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  TestServer server_{TestServer::DefaultOptions(&clock_)};
  std::unique_ptr<v1::CoachService::Stub> stub_ = server_.NewCoachStub();
};

TEST_F(TenantsTest, SameAgentIdInTwoTenantsIsIsolated) {
  auto acme = Watcher::Agent(stub_.get(), WatchRequest("acme", "agent-1"));
  auto globex = Watcher::Agent(stub_.get(), WatchRequest("globex", "agent-1"));
  auto fallback = Watcher::Agent(stub_.get(), WatchRequest("", "agent-1"));  // tenant ""
  ASSERT_TRUE(server_.WaitForAgentSubscribers("acme", "agent-1", 1));
  ASSERT_TRUE(server_.WaitForAgentSubscribers("globex", "agent-1", 1));
  ASSERT_TRUE(server_.WaitForAgentSubscribers("", "agent-1", 1));

  // Each desktop's queue is in order: once it has its own call's report, any
  // event of an earlier call of another tenant would have arrived before it.
  ASSERT_TRUE(RunCall(stub_.get(), EscalatedCall("globex-1", "agent-1", "globex")).status.ok());
  ASSERT_TRUE(RunCall(stub_.get(), EscalatedCall("acme-1", "agent-1", "acme")).status.ok());
  ASSERT_TRUE(RunCall(stub_.get(), EscalatedCall("globex-2", "agent-1", "globex")).status.ok());
  ASSERT_TRUE(RunCall(stub_.get(), EscalatedCall("default-1", "agent-1")).status.ok());

  ASSERT_TRUE(acme->WaitForReport("acme-1"));
  EXPECT_THAT(Rows(acme->events()), ElementsAreArray(ExpectedRows()));
  for (const auto& e : acme->events()) EXPECT_EQ(e.tenant(), "acme") << e.call_id();

  ASSERT_TRUE(globex->WaitForReport("globex-2"));
  EXPECT_THAT(OfCall(globex->events(), "acme-1"), IsEmpty());
  EXPECT_EQ(globex->events().size(), 2 * ExpectedRows().size());
  for (const auto& e : globex->events()) EXPECT_EQ(e.tenant(), "globex") << e.call_id();

  ASSERT_TRUE(fallback->WaitForReport("default-1"));
  EXPECT_THAT(Rows(fallback->events()), ElementsAreArray(ExpectedRows()));
  for (const auto& e : fallback->events()) EXPECT_EQ(e.call_id(), "default-1");
}

TEST_F(TenantsTest, SameCallIdInTwoTenantsAreTwoLiveCalls) {
  CallClient acme(stub_.get());
  CallClient globex(stub_.get());
  ASSERT_TRUE(acme.Send(StartEvent("call-1", "agent-1", "acme")));
  ASSERT_TRUE(globex.Send(StartEvent("call-1", "agent-1", "globex")));
  ASSERT_TRUE(Eventually([&] { return server_.server().registry().live_calls() == 2; }));
  // Within one tenant the id is still unique.
  CallResult duplicate = RunCall(stub_.get(), {StartEvent("call-1", "agent-2", "acme"), EndEvent()});
  EXPECT_EQ(duplicate.status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(duplicate.status.error_message(), HasSubstr("tenant 'acme'"));

  for (const auto& segment : EscalatedCallSegments()) {
    ASSERT_TRUE(acme.Send(segment));
    ASSERT_TRUE(globex.Send(segment));
  }
  ASSERT_TRUE(acme.Send(EndEvent()));
  ASSERT_TRUE(globex.Send(EndEvent()));
  ASSERT_TRUE(acme.Finish().ok());
  ASSERT_TRUE(globex.Finish().ok());
  EXPECT_THAT(Rows(acme.events()), ElementsAreArray(ExpectedRows()));
  EXPECT_THAT(Rows(globex.events()), ElementsAreArray(ExpectedRows()));
  for (const auto& e : acme.events()) EXPECT_EQ(e.tenant(), "acme");
  for (const auto& e : globex.events()) EXPECT_EQ(e.tenant(), "globex");

  // Both are retained for resume, each under its own tenant.
  EXPECT_EQ(server_.server().registry().retained_calls(), 2);
  v1::WatchAgentRequest resume = WatchRequest("globex", "agent-1");
  resume.add_resume()->set_call_id("call-1");
  auto desktop = Watcher::Agent(stub_.get(), resume);
  ASSERT_TRUE(desktop->WaitForReport("call-1"));
  EXPECT_THAT(Rows(desktop->events()), ElementsAreArray(ExpectedRows()));
  for (const auto& e : desktop->events()) EXPECT_EQ(e.tenant(), "globex");
}

}  // namespace
}  // namespace coach::testing
