// Operations: health checks, server reflection and the graceful drain.

#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness.h"

namespace coach::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

constexpr int kServing = 1;
constexpr int kNotServing = 2;

class LifecycleTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  TestServer server_{TestServer::DefaultOptions(&clock_)};
  std::shared_ptr<grpc::Channel> channel_ = server_.NewChannel();
  std::unique_ptr<v1::CoachService::Stub> stub_ = v1::CoachService::NewStub(channel_);
};

TEST_F(LifecycleTest, HealthIsServing) {
  EXPECT_EQ(HealthStatus(channel_, ""), kServing);
  EXPECT_EQ(HealthStatus(channel_, "coach.v1.CoachService"), kServing);
  EXPECT_EQ(HealthStatus(channel_, "coach.v1.AdminService"), kServing);
}

TEST_F(LifecycleTest, ReflectionListsTheServices) {
  std::vector<std::string> services = ReflectionServices(channel_);
  EXPECT_THAT(services, Contains("coach.v1.CoachService"));
  EXPECT_THAT(services, Contains("coach.v1.AdminService"));
  EXPECT_THAT(services, Contains("grpc.health.v1.Health"));
}

TEST_F(LifecycleTest, DrainLetsTheRunningCallFinishAndRefusesNewOnes) {
  std::vector<v1::CallEvent> call = EscalatedCall("running", "agent-042");
  v1::WatchAgentRequest watch;
  watch.set_agent_id("agent-042");
  auto desktop = Watcher::Agent(stub_.get(), watch);
  CallClient pipeline(stub_.get());
  ASSERT_TRUE(pipeline.SendAll({call.begin(), call.begin() + 4}));
  ASSERT_TRUE(pipeline.WaitForEvents(1));
  // The desktop's WatchAgent must reach the server before the drain starts,
  // or it is refused like the late desktop below.
  ASSERT_TRUE(server_.WaitForAgentSubscribers("", "agent-042", 1));
  EXPECT_EQ(server_.server().live_reactors(), 2);  // the call and the desktop

  std::thread shutdown([&] { server_.server().Shutdown(absl::Seconds(60)); });
  ASSERT_TRUE(Eventually([&] { return HealthStatus(channel_, "") == kNotServing; }));
  EXPECT_EQ(HealthStatus(channel_, "coach.v1.CoachService"), kNotServing);

  CallResult refused = RunCall(stub_.get(), EscalatedCall("new", "agent-042"));
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(refused.status.error_message(), HasSubstr("shutting down"));
  auto late_desktop = Watcher::Agent(stub_.get(), watch);
  EXPECT_EQ(late_desktop->WaitForStatus().error_code(), grpc::StatusCode::UNAVAILABLE);
  v1::ReviewCallRequest review;
  *review.mutable_start() = StartEvent("r", "a").start();
  grpc::ClientContext review_context;
  v1::ReviewCallResponse review_response;
  EXPECT_EQ(stub_->ReviewCall(&review_context, review, &review_response).error_code(),
            grpc::StatusCode::UNAVAILABLE);

  // The running call completes normally and gets its report.
  ASSERT_TRUE(pipeline.SendAll({call.begin() + 4, call.end()}));
  ASSERT_TRUE(pipeline.Finish().ok());
  ASSERT_FALSE(pipeline.events().empty());
  EXPECT_TRUE(pipeline.events().back().has_report());
  shutdown.join();
  // Shutdown returned only after every reactor's OnDone() finished.
  EXPECT_EQ(server_.server().live_reactors(), 0);
  // The desktop got the report before being told the server is going away.
  EXPECT_TRUE(desktop->WaitForReport("running"));
  EXPECT_EQ(desktop->WaitForStatus().error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(LifecycleTest, DrainTimeoutEndsStragglersWithTheirReport) {
  CallClient pipeline(stub_.get());
  ASSERT_TRUE(pipeline.Send(StartEvent("straggler", "a")));
  ASSERT_TRUE(pipeline.Send(SegmentEvent("c1", v1::SPEAKER_CUSTOMER, "This is ridiculous.")));
  ASSERT_TRUE(pipeline.WaitForEvents(1));
  server_.server().Shutdown(absl::Milliseconds(50));
  ASSERT_TRUE(pipeline.WaitForEnd());
  grpc::Status status = pipeline.Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("--drain_timeout"));
  EXPECT_TRUE(pipeline.events().back().has_report());
}

TEST_F(LifecycleTest, MetricsCountCallsSegmentsAndEvents) {
  ASSERT_TRUE(RunCall(stub_.get(), EscalatedCall("c", "agent-042")).status.ok());
  const std::string metrics = server_.Scrape();
  EXPECT_THAT(metrics, HasSubstr("coachd_segments_total"));
  EXPECT_THAT(metrics, HasSubstr("coachd_events_total"));
  EXPECT_THAT(metrics, HasSubstr("legal_threat"));
  EXPECT_THAT(metrics, HasSubstr("coachd_active_calls"));
}

}  // namespace
}  // namespace coach::testing
