// The limits: concurrent calls, segments per call, subscribers per agent,
// message size, idle timeout, call duration and the resume buffer. Time limits
// run on a fake clock moved by the test and a sweep triggered by hand.

#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness.h"

namespace coach::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

class LimitsTest : public ::testing::Test {
 protected:
  std::unique_ptr<TestServer> Start(const std::function<void(server::Server::Options&)>& edit) {
    server::Server::Options options = TestServer::DefaultOptions(&clock_);
    edit(options);
    auto server = std::make_unique<TestServer>(std::move(options));
    stub_ = server->NewCoachStub();
    return server;
  }

  FakeClock clock_;
  std::unique_ptr<v1::CoachService::Stub> stub_;
};

TEST_F(LimitsTest, MaxCallsRefusesTheNextCallUntilOneEnds) {
  auto server = Start([](auto& o) { o.limits.max_calls = 1; });
  CallClient first(stub_.get());
  ASSERT_TRUE(first.Send(StartEvent("c1", "a")));
  ASSERT_TRUE(Eventually([&] { return server->server().registry().live_calls() == 1; }));
  CallResult second = RunCall(stub_.get(), {StartEvent("c2", "a"), EndEvent()});
  EXPECT_EQ(second.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(second.status.error_message(), HasSubstr("--max_calls"));
  ASSERT_TRUE(first.Send(EndEvent()));
  ASSERT_TRUE(first.Finish().ok());
  EXPECT_TRUE(RunCall(stub_.get(), {StartEvent("c3", "a"), EndEvent()}).status.ok());
}

TEST_F(LimitsTest, MaxSegmentsPerCallEndsTheCallWithItsReport) {
  auto server = Start([](auto& o) { o.limits.max_segments_per_call = 3; });
  std::vector<v1::CallEvent> call = {StartEvent("c", "a")};
  for (int i = 0; i < 5; ++i) {
    call.push_back(SegmentEvent("s" + std::to_string(i), v1::SPEAKER_AGENT, "hello", true,
                                i * 1000, i * 1000 + 500));
  }
  CallResult result = RunCall(stub_.get(), call);
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(result.status.error_message(), HasSubstr("--max_segments_per_call"));
  ASSERT_FALSE(result.events.empty());
  EXPECT_EQ(result.events.back().report().segments(), 3);
}

TEST_F(LimitsTest, MaxSegmentBytesIsConfigurable) {
  auto server = Start([](auto& o) { o.limits.max_segment_bytes = 10; });
  CallResult result = RunCall(
      stub_.get(), {StartEvent("c", "a"), SegmentEvent("s", v1::SPEAKER_AGENT, "hello world!")});
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(result.status.error_message(), HasSubstr("the limit is 10 (--max_segment_bytes)"));
}

TEST_F(LimitsTest, MaxSubscribersPerAgentRefusesTheNextDesktop) {
  auto server = Start([](auto& o) { o.limits.max_subscribers_per_agent = 1; });
  v1::WatchAgentRequest request;
  request.set_agent_id("agent-1");
  auto first = Watcher::Agent(stub_.get(), request);
  ASSERT_TRUE(server->WaitForAgentSubscribers("", "agent-1", 1));
  auto second = Watcher::Agent(stub_.get(), request);
  grpc::Status status = second->WaitForStatus();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("--max_subscribers_per_agent"));
  // Another agent is not affected, and the slot frees when the first leaves.
  request.set_agent_id("agent-2");
  auto other = Watcher::Agent(stub_.get(), request);
  ASSERT_TRUE(server->WaitForAgentSubscribers("", "agent-2", 1));
  first->Cancel();
  ASSERT_TRUE(Eventually([&] {
    return server->server().registry().AgentSubscriberDrops("", "agent-1").empty();
  }));
  request.set_agent_id("agent-1");
  auto third = Watcher::Agent(stub_.get(), request);
  EXPECT_TRUE(server->WaitForAgentSubscribers("", "agent-1", 1));
}

TEST_F(LimitsTest, MaxMessageBytesRefusesLargeMessages) {
  auto server = Start([](auto& o) { o.limits.max_message_bytes = 4096; });
  v1::ReviewCallRequest request;
  *request.mutable_start() = StartEvent("r", "a").start();
  for (int i = 0; i < 100; ++i) {
    *request.add_segments() =
        SegmentEvent("s" + std::to_string(i), v1::SPEAKER_AGENT, std::string(100, 'x')).segment();
  }
  grpc::ClientContext context;
  v1::ReviewCallResponse response;
  grpc::Status status = stub_->ReviewCall(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_F(LimitsTest, IdleCallEndsWithItsReportAndDeadlineExceeded) {
  auto server = Start([](auto& o) { o.limits.idle_timeout = absl::Minutes(1); });
  CallClient pipeline(stub_.get());
  ASSERT_TRUE(pipeline.Send(StartEvent("idle", "a")));
  ASSERT_TRUE(pipeline.Send(SegmentEvent("c1", v1::SPEAKER_CUSTOMER, "this is ridiculous")));
  ASSERT_TRUE(pipeline.WaitForEvents(1));
  clock_.Advance(absl::Seconds(59));
  server->server().SweepNow();
  EXPECT_EQ(server->server().registry().live_calls(), 1);
  clock_.Advance(absl::Seconds(2));
  server->server().SweepNow();
  ASSERT_TRUE(pipeline.WaitForEnd());
  grpc::Status status = pipeline.Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_THAT(status.error_message(), HasSubstr("--idle_timeout"));
  EXPECT_TRUE(pipeline.events().back().has_report());
  EXPECT_EQ(server->server().registry().live_calls(), 0);
}

TEST_F(LimitsTest, StreamThatNeverSendsStartTimesOut) {
  auto server = Start([](auto& o) { o.limits.idle_timeout = absl::Minutes(1); });
  CallClient pipeline(stub_.get());
  // Nothing is sent; the server still tracks the open stream.
  ASSERT_TRUE(Eventually([&] { return server->server().registry().opening_calls() == 1; }));
  clock_.Advance(absl::Seconds(59));
  server->server().SweepNow();
  EXPECT_EQ(server->server().registry().opening_calls(), 1);
  clock_.Advance(absl::Seconds(2));
  server->server().SweepNow();
  ASSERT_TRUE(pipeline.WaitForEnd());
  grpc::Status status = pipeline.Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_THAT(status.error_message(), HasSubstr("no CallEvent.start"));
}

TEST_F(LimitsTest, ActivityResetsTheIdleTimer) {
  auto server = Start([](auto& o) { o.limits.idle_timeout = absl::Minutes(1); });
  CallClient pipeline(stub_.get());
  ASSERT_TRUE(pipeline.Send(StartEvent("busy", "a")));
  const std::vector<std::string> texts = {"This is ridiculous.",
                                          "I'm going to report you to the FCC.",
                                          "I want to speak to your CEO, right now."};
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(absl::Seconds(50));
    ASSERT_TRUE(pipeline.Send(SegmentEvent("s" + std::to_string(i), v1::SPEAKER_CUSTOMER,
                                           texts[i], true, i * 50000, i * 50000 + 1000)));
    ASSERT_TRUE(pipeline.WaitForEvents(static_cast<size_t>(i + 1)));
    server->server().SweepNow();
  }
  EXPECT_EQ(server->server().registry().live_calls(), 1);
  ASSERT_TRUE(pipeline.Send(EndEvent()));
  EXPECT_TRUE(pipeline.Finish().ok());
}

TEST_F(LimitsTest, MaxCallDurationEndsTheCallWithResourceExhausted) {
  auto server = Start([](auto& o) {
    o.limits.max_call_duration = absl::Minutes(10);
    o.limits.idle_timeout = absl::Hours(1);
  });
  CallClient pipeline(stub_.get());
  ASSERT_TRUE(pipeline.Send(StartEvent("long", "a")));
  ASSERT_TRUE(Eventually([&] { return server->server().registry().live_calls() == 1; }));
  clock_.Advance(absl::Minutes(11));
  server->server().SweepNow();
  ASSERT_TRUE(pipeline.WaitForEnd());
  grpc::Status status = pipeline.Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("--max_call_duration"));
  ASSERT_FALSE(pipeline.events().empty());
  EXPECT_TRUE(pipeline.events().back().has_report());
}

TEST_F(LimitsTest, PipelineThatDoesNotReadIsBackpressuredNotDropped) {
  auto server = Start([](auto& o) { o.limits.call_queue = 1; });
  grpc::ChannelArguments tiny_window;
  tiny_window.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  tiny_window.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 1024);
  auto stub = v1::CoachService::NewStub(server->NewChannel(tiny_window));
  CallClient pipeline(stub.get(), "", /*read_now=*/false);
  ASSERT_TRUE(pipeline.SendAll(EscalatedCall("c", "agent-042")));
  pipeline.StartReading();
  ASSERT_TRUE(pipeline.Finish().ok());
  const EngineRun& run = EscalatedCallEngineRun();
  std::vector<v1::CoachEvent> events = pipeline.events();
  ASSERT_THAT(events, SizeIs(run.events.size() + 1));
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].seq(), static_cast<int64_t>(i + 1));
}

TEST_F(LimitsTest, TimeWithReadsPausedByBackpressureIsNotIdleTime) {
  // One segment whose nudges (200 of ~1 KiB) are far more than gRPC buffers
  // for a client that reads nothing: the first pause lasts until it reads.
  TempDir dir;
  dir.Write("packs/hello.textproto",
            absl::StrReplaceAll(kHelloPack, {{"Nice greeting.", std::string(1000, 'x')}}));
  auto server = Start([&](auto& o) {
    o.phrase_lists = {dir.path() + "/packs"};
    o.limits.call_queue = 1;
    o.limits.idle_timeout = absl::Minutes(1);
  });
  grpc::ChannelArguments tiny_window;
  tiny_window.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  tiny_window.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 1024);
  auto stub = v1::CoachService::NewStub(server->NewChannel(tiny_window));
  CallClient pipeline(stub.get(), "", /*read_now=*/false);
  std::string text;
  for (int i = 0; i < 200; ++i) absl::StrAppend(&text, "hello there. ");
  ASSERT_TRUE(pipeline.Send(StartEvent("slow-reader", "agent-042")));
  ASSERT_TRUE(pipeline.Send(SegmentEvent("a1", v1::SPEAKER_AGENT, text, true, 0, 60000)));
  ASSERT_TRUE(Eventually([&] {
    return MetricValue(server->Scrape(), "coachd_backpressured_calls") == 1;
  }));
  // Far past the idle timeout, but the server is the one waiting.
  clock_.Advance(absl::Minutes(5));
  server->server().SweepNow();
  EXPECT_EQ(server->server().registry().live_calls(), 1);

  pipeline.StartReading();
  ASSERT_TRUE(Eventually([&] {
    return MetricValue(server->Scrape(), "coachd_backpressured_calls") == 0;
  }));
  // The idle timer restarted when reads resumed.
  clock_.Advance(absl::Seconds(59));
  server->server().SweepNow();
  EXPECT_EQ(server->server().registry().live_calls(), 1);
  ASSERT_TRUE(pipeline.Send(EndEvent()));
  grpc::Status status = pipeline.Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_THAT(pipeline.events(), SizeIs(201));  // 200 nudges and the report
  EXPECT_TRUE(pipeline.events().back().has_report());
}

TEST_F(LimitsTest, ResumeBufferKeepsOnlyTheLastEventsSoTheGapIsVisible) {
  auto server = Start([](auto& o) { o.resume.buffer_events = 5; });
  CallResult result = RunCall(stub_.get(), EscalatedCall("c", "agent-042"));
  ASSERT_TRUE(result.status.ok());
  v1::WatchAgentRequest request;
  request.set_agent_id("agent-042");
  request.add_resume()->set_call_id("c");
  auto desktop = Watcher::Agent(stub_.get(), request);
  ASSERT_TRUE(desktop->WaitForReport("c"));
  std::vector<v1::CoachEvent> events = desktop->events();
  ASSERT_THAT(events, SizeIs(5));
  EXPECT_EQ(events.front().seq(), result.events.back().seq() - 4);  // the client sees the gap
}

TEST_F(LimitsTest, BuildAndStartRejectsBadLimitsNamingTheFlag) {
  server::Server::Options options = TestServer::DefaultOptions(&clock_);
  options.limits.max_calls = 0;
  auto server = server::Server::BuildAndStart(options);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(server.status().message()), HasSubstr("--max_calls"));

  options = TestServer::DefaultOptions(&clock_);
  options.limits.idle_timeout = absl::ZeroDuration();
  server = server::Server::BuildAndStart(options);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(std::string(server.status().message()), HasSubstr("--idle_timeout"));

  options = TestServer::DefaultOptions(&clock_);
  options.phrase_lists = {"/nonexistent/packs"};
  server = server::Server::BuildAndStart(options);
  EXPECT_FALSE(server.ok());
}

}  // namespace
}  // namespace coach::testing
