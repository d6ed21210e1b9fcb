// The server feeds its metrics: subscribers, engine latency, failed reloads,
// rejected requests by code (scraped through ServerMetrics::Scrape()).

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness.h"

namespace coach::testing {
namespace {

class MetricsTest : public ::testing::Test {
 protected:
  double Metric(const std::string& name, const std::vector<std::string>& labels = {}) {
    return MetricValue(server_.Scrape(), name, labels);
  }

  FakeClock clock_;
  TempDir dir_;
  TestServer server_{[this] {
    server::Server::Options options = TestServer::DefaultOptions(&clock_);
    dir_.Write("packs/hello.textproto", kHelloPack);
    options.phrase_lists = {dir_.path() + "/packs"};
    return options;
  }()};
  std::unique_ptr<v1::CoachService::Stub> stub_ = server_.NewCoachStub();
};

TEST_F(MetricsTest, ActiveSubscribersFollowConnectsAndDisconnects) {
  EXPECT_EQ(Metric("coachd_active_subscribers", {"kind=\"agent\""}), 0);
  v1::WatchAgentRequest request;
  request.set_agent_id("agent-1");
  auto desktop = Watcher::Agent(stub_.get(), request);
  v1::WatchAlertsRequest alerts_request;
  auto alerts = Watcher::Alerts(stub_.get(), alerts_request);
  ASSERT_TRUE(Eventually([&] {
    return Metric("coachd_active_subscribers", {"kind=\"agent\""}) == 1 &&
           Metric("coachd_active_subscribers", {"kind=\"alerts\""}) == 1;
  }));
  desktop->Cancel();
  alerts->Cancel();
  EXPECT_TRUE(Eventually([&] {
    return Metric("coachd_active_subscribers", {"kind=\"agent\""}) == 0 &&
           Metric("coachd_active_subscribers", {"kind=\"alerts\""}) == 0;
  }));
}

TEST_F(MetricsTest, EngineLatencyIsObservedOncePerSegment) {
  ASSERT_TRUE(RunCall(stub_.get(),
                      {StartEvent("c", "a"),
                       SegmentEvent("a1", v1::SPEAKER_AGENT, "hello", false, 0, 500),
                       SegmentEvent("a1", v1::SPEAKER_AGENT, "hello there", true, 0, 1000),
                       SegmentEvent("c1", v1::SPEAKER_CUSTOMER, "hi", true, 1000, 1500),
                       EndEvent()})
                  .status.ok());
  EXPECT_EQ(Metric("coachd_engine_segment_seconds_count"), 3);
  EXPECT_EQ(Metric("coachd_segments_total"), 3);
  EXPECT_EQ(Metric("coachd_events_total", {"category=\"greeting\"", "type=\"nudge\""}), 1);
}

TEST_F(MetricsTest, FailedReloadIsCountedAsAnError) {
  auto admin = server_.NewAdminStub();
  auto reload = [&] {
    grpc::ClientContext context;
    v1::ReloadPhraseListsResponse response;
    return admin->ReloadPhraseLists(&context, v1::ReloadPhraseListsRequest(), &response);
  };
  EXPECT_EQ(Metric("coachd_reloads_total", {"result=\"error\""}), 0);
  ASSERT_TRUE(reload().ok());
  EXPECT_EQ(Metric("coachd_reloads_total", {"result=\"ok\""}), 1);
  dir_.Write("packs/broken.textproto", "name: \"test/broken\"\nrules { id: \"x\" kind: \"nope\" }\n");
  EXPECT_EQ(reload().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(reload().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Metric("coachd_reloads_total", {"result=\"error\""}), 2);
  EXPECT_EQ(Metric("coachd_reloads_total", {"result=\"ok\""}), 1);
}

TEST(MetricsAuthTest, UnauthenticatedAndPermissionDeniedAreCountedByMethod) {
  FakeClock clock;
  TempDir dir;
  server::Server::Options options = TestServer::DefaultOptions(&clock);
  options.tokens_file = dir.Write("tokens.txt", "desktop-agent1-0123456789 desktop agent-1\n");
  TestServer server(options);
  auto stub = server.NewCoachStub();

  v1::WatchAgentRequest mine, theirs;
  mine.set_agent_id("agent-1");
  theirs.set_agent_id("agent-2");
  EXPECT_EQ(Watcher::Agent(stub.get(), mine, "")->WaitForStatus().error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Watcher::Agent(stub.get(), theirs, "desktop-agent1-0123456789")
                ->WaitForStatus()
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(RunCall(stub.get(), {StartEvent("c", "agent-1"), EndEvent()},
                    "desktop-agent1-0123456789")
                .status.error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  const std::string scrape = server.Scrape();
  EXPECT_EQ(MetricValue(scrape, "coachd_rejected_requests_total",
                        {"method=\"WatchAgent\"", "code=\"UNAUTHENTICATED\""}),
            1);
  EXPECT_EQ(MetricValue(scrape, "coachd_rejected_requests_total",
                        {"method=\"WatchAgent\"", "code=\"PERMISSION_DENIED\""}),
            1);
  EXPECT_EQ(MetricValue(scrape, "coachd_rejected_requests_total",
                        {"method=\"StreamCall\"", "code=\"PERMISSION_DENIED\""}),
            1);
}

}  // namespace
}  // namespace coach::testing
