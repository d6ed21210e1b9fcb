// ReviewCall runs on a bounded worker pool, not on gRPC's callback threads: a
// full queue is RESOURCE_EXHAUSTED naming --max_pending_reviews, live calls
// go on while reviews run, and a review cancelled while queued stops.

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness.h"

namespace coach::testing {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

v1::ReviewCallRequest EscalatedReview(const std::string& call_id) {
  v1::ReviewCallRequest request;
  *request.mutable_start() = StartEvent(call_id, "agent-042").start();
  for (const auto& e : EscalatedCallSegments()) *request.add_segments() = e.segment();
  return request;
}

// One worker, one waiting slot, and a hook that holds every review at the
// worker until the test releases them.
class ReviewTest : public ::testing::Test {
 protected:
  ReviewTest() = default;
  ~ReviewTest() override {
    if (!release_.HasBeenNotified()) release_.Notify();  // never leave RPCs stuck
    for (auto& t : threads_) t.join();
  }

  server::Server::Options Options() {
    server::Server::Options options = TestServer::DefaultOptions(&clock_);
    options.reviews.threads = 1;
    options.reviews.max_pending = 1;
    options.before_review = [this](const std::function<bool()>& cancelled) {
      const int n = ++held_;
      release_.WaitForNotification();
      // Let the server see a cancellation the test made before releasing.
      if (n == 2 && wait_for_cancel_) Eventually(cancelled);
    };
    return options;
  }

  // Starts ReviewCall on its own thread; the result lands in *status/*response.
  void ReviewAsync(const std::string& call_id, grpc::ClientContext* context,
                   grpc::Status* status, v1::ReviewCallResponse* response) {
    threads_.emplace_back([this, call_id, context, status, response] {
      *status = stub_->ReviewCall(context, EscalatedReview(call_id), response);
    });
  }

  FakeClock clock_;
  absl::Notification release_;
  std::atomic<int> held_{0};
  std::atomic<bool> wait_for_cancel_{false};
  TestServer server_{Options()};
  std::unique_ptr<v1::CoachService::Stub> stub_ = server_.NewCoachStub();
  std::vector<std::thread> threads_;  // joined before server_ goes
};

TEST_F(ReviewTest, FullQueueIsResourceExhaustedAndLiveCallsGoOn) {
  grpc::ClientContext running_context, waiting_context;
  grpc::Status running_status, waiting_status;
  v1::ReviewCallResponse running, waiting;
  ReviewAsync("review-1", &running_context, &running_status, &running);
  ASSERT_TRUE(Eventually([&] { return held_ == 1; }));  // on the worker
  ReviewAsync("review-2", &waiting_context, &waiting_status, &waiting);
  ASSERT_TRUE(Eventually([&] { return server_.server().reviews().pending() == 1; }));

  grpc::ClientContext refused_context;
  v1::ReviewCallResponse refused;
  grpc::Status status = stub_->ReviewCall(&refused_context, EscalatedReview("review-3"), &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("--max_pending_reviews"));
  EXPECT_EQ(refused.events_size(), 0);
  EXPECT_EQ(MetricValue(server_.Scrape(), "coachd_rejected_requests_total",
                        {"method=\"ReviewCall\"", "code=\"RESOURCE_EXHAUSTED\""}),
            1);

  // The reviews hold the worker, not gRPC: a live call runs to its report.
  CallResult live = RunCall(stub_.get(), EscalatedCall("live-1", "agent-042"));
  ASSERT_TRUE(live.status.ok()) << live.status.error_message();
  ASSERT_FALSE(live.events.empty());
  EXPECT_TRUE(live.events.back().has_report());

  release_.Notify();
  for (auto& t : threads_) t.join();
  threads_.clear();
  ASSERT_TRUE(running_status.ok()) << running_status.error_message();
  ASSERT_TRUE(waiting_status.ok()) << waiting_status.error_message();
  const EngineRun& run = EscalatedCallEngineRun();
  EXPECT_THAT(Rows(std::vector<v1::CoachEvent>(running.events().begin(), running.events().end())),
              ElementsAreArray(Rows(run.events)));
  EXPECT_EQ(running.report_seq(), run.report_seq);
  EXPECT_EQ(waiting.report_seq(), run.report_seq);
}

TEST_F(ReviewTest, ReviewCancelledWhileQueuedStopsBeforeItsSegments) {
  grpc::ClientContext running_context, cancelled_context;
  grpc::Status running_status, cancelled_status;
  v1::ReviewCallResponse running, cancelled;
  ReviewAsync("review-1", &running_context, &running_status, &running);
  ASSERT_TRUE(Eventually([&] { return held_ == 1; }));
  ReviewAsync("review-2", &cancelled_context, &cancelled_status, &cancelled);
  ASSERT_TRUE(Eventually([&] { return server_.server().reviews().pending() == 1; }));
  wait_for_cancel_ = true;
  cancelled_context.TryCancel();
  release_.Notify();
  for (auto& t : threads_) t.join();
  threads_.clear();
  EXPECT_TRUE(running_status.ok());
  EXPECT_EQ(cancelled_status.error_code(), grpc::StatusCode::CANCELLED);
  // The server saw the cancellation between segments and gave up on it.
  EXPECT_TRUE(Eventually([&] {
    return MetricValue(server_.Scrape(), "coachd_rejected_requests_total",
                       {"method=\"ReviewCall\"", "code=\"CANCELLED\""}) == 1;
  }));
}

}  // namespace
}  // namespace coach::testing
