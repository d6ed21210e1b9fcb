#include "server/metrics.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http_get.h"
#include "test_util.h"

namespace coach::server {
namespace {

using ::coach::server::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

std::unique_ptr<ServerMetrics> Unexposed() {
  absl::StatusOr<std::unique_ptr<ServerMetrics>> metrics = ServerMetrics::Create("");
  EXPECT_TRUE(metrics.ok()) << metrics.status();
  return metrics.ok() ? *std::move(metrics) : nullptr;
}

using ::coach::http_test::HttpGet;

TEST(ServerMetrics, UnexposedHasNoPort) {
  std::unique_ptr<ServerMetrics> metrics = Unexposed();
  ASSERT_NE(metrics, nullptr);
  EXPECT_EQ(metrics->port(), 0);
}

TEST(ServerMetrics, GaugesFollowCallsAndSubscribers) {
  std::unique_ptr<ServerMetrics> metrics = Unexposed();
  metrics->CallStarted();
  metrics->CallStarted();
  metrics->CallStarted();
  metrics->CallEnded();
  metrics->SubscriberAdded("agent");
  metrics->SubscriberAdded("agent");
  metrics->SubscriberAdded("alerts");
  metrics->SubscriberRemoved("agent");
  const std::string text = metrics->Scrape();
  EXPECT_THAT(text, HasSubstr("# TYPE coachd_active_calls gauge"));
  EXPECT_THAT(text, HasSubstr("\ncoachd_active_calls 2\n"));
  EXPECT_THAT(text, HasSubstr("coachd_active_subscribers{kind=\"agent\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("coachd_active_subscribers{kind=\"alerts\"} 1\n"));
}

TEST(ServerMetrics, SegmentsFeedTheCounterAndTheLatencyHistogram) {
  std::unique_ptr<ServerMetrics> metrics = Unexposed();
  metrics->SegmentProcessed(0.5e-6);  // below the first bucket
  metrics->SegmentProcessed(3e-6);
  metrics->SegmentProcessed(0.02);  // above the last bucket
  const std::string text = metrics->Scrape();
  EXPECT_THAT(text, HasSubstr("\ncoachd_segments_total 3\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE coachd_engine_segment_seconds histogram"));
  EXPECT_THAT(text, HasSubstr("coachd_engine_segment_seconds_count 3\n"));
  EXPECT_THAT(text, HasSubstr("coachd_engine_segment_seconds_bucket{le=\"1e-06\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("coachd_engine_segment_seconds_bucket{le=\"5e-06\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("coachd_engine_segment_seconds_bucket{le=\"0.01\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("coachd_engine_segment_seconds_bucket{le=\"+Inf\"} 3\n"));
}

TEST(ServerMetrics, LabelledCountersKeepSeriesApart) {
  std::unique_ptr<ServerMetrics> metrics = Unexposed();
  metrics->EventEmitted("nudge", "corrective", "provoking");
  metrics->EventEmitted("nudge", "corrective", "provoking");
  metrics->EventEmitted("reminder", "expectation", "missed_confirmation");
  metrics->QueueDropped("agent", 5);
  metrics->QueueDropped("agent", 2);
  metrics->QueueDropped("alerts", 0);
  metrics->ReloadSucceeded();
  metrics->ReloadFailed();
  metrics->ReloadFailed();
  metrics->RequestRejected("StreamCall", "INVALID_ARGUMENT");
  metrics->RequestRejected("WatchAgent", "PERMISSION_DENIED");
  metrics->RequestRejected("WatchAgent", "PERMISSION_DENIED");
  const std::string text = metrics->Scrape();
  EXPECT_THAT(text, HasSubstr("coachd_events_total{category=\"provoking\",kind=\"corrective\","
                              "type=\"nudge\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("coachd_events_total{category=\"missed_confirmation\","
                              "kind=\"expectation\",type=\"reminder\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("coachd_queue_dropped_events_total{kind=\"agent\"} 7\n"));
  EXPECT_THAT(text, Not(HasSubstr("coachd_queue_dropped_events_total{kind=\"alerts\"}")));
  EXPECT_THAT(text, HasSubstr("coachd_reloads_total{result=\"ok\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("coachd_reloads_total{result=\"error\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("coachd_rejected_requests_total{code=\"INVALID_ARGUMENT\","
                              "method=\"StreamCall\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("coachd_rejected_requests_total{code=\"PERMISSION_DENIED\","
                              "method=\"WatchAgent\"} 2\n"));
}

TEST(ServerMetrics, LabelValuesWithSeparatorsDoNotCollide) {
  std::unique_ptr<ServerMetrics> metrics = Unexposed();
  metrics->RequestRejected("a", "b,c");
  metrics->RequestRejected("a,b", "c");
  const std::string text = metrics->Scrape();
  EXPECT_THAT(text, HasSubstr("coachd_rejected_requests_total{code=\"b,c\",method=\"a\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("coachd_rejected_requests_total{code=\"c\",method=\"a,b\"} 1\n"));
}

TEST(ServerMetrics, ConcurrentUpdatesAreAllCounted) {
  std::unique_ptr<ServerMetrics> metrics = Unexposed();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&metrics, t] {
      for (int i = 0; i < kPerThread; ++i) {
        metrics->SegmentProcessed(1e-6);
        metrics->EventEmitted("nudge", "corrective", absl::StrCat("category", i % 3));
        metrics->SubscriberAdded(t % 2 == 0 ? "agent" : "alerts");
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const std::string text = metrics->Scrape();
  EXPECT_THAT(text,
              HasSubstr(absl::StrCat("\ncoachd_segments_total ", kThreads * kPerThread, "\n")));
  EXPECT_THAT(text, HasSubstr(absl::StrCat("coachd_active_subscribers{kind=\"agent\"} ",
                                           kThreads / 2 * kPerThread, "\n")));
}

TEST(ServerMetrics, ExposerServesMetricsOverHttp) {
  absl::StatusOr<std::unique_ptr<ServerMetrics>> metrics = ServerMetrics::Create("127.0.0.1:0");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  const int port = (*metrics)->port();
  ASSERT_GT(port, 0);
  (*metrics)->CallStarted();
  (*metrics)->ReloadFailed();
  const std::string response = HttpGet(port, "/metrics");
  EXPECT_THAT(response, AllOf(HasSubstr("200 OK"), HasSubstr("\ncoachd_active_calls 1\n"),
                              HasSubstr("coachd_reloads_total{result=\"error\"} 1\n")));
}

TEST(ServerMetrics, BusyPortIsUnavailableNamingTheAddress) {
  absl::StatusOr<std::unique_ptr<ServerMetrics>> first = ServerMetrics::Create("127.0.0.1:0");
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string address = absl::StrCat("127.0.0.1:", (*first)->port());
  EXPECT_THAT(ServerMetrics::Create(address),
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr("--metrics_address"), HasSubstr(address))));
}

TEST(ServerMetrics, MalformedAddressesAreInvalidArguments) {
  for (const char* address : {"nonsense", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:70000",
                              "not-a-host.invalid:9464", "[::1:9464", "1.2.3:9464"}) {
    EXPECT_THAT(ServerMetrics::Create(address),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr("--metrics_address"), HasSubstr(address))))
        << address;
  }
}

}  // namespace
}  // namespace coach::server
