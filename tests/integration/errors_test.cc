// Every bad input gets a specific status code whose message names the field,
// and a failing call never disturbs the others.

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness.h"

namespace coach::testing {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

class ErrorsTest : public ::testing::Test {
 protected:
  // Streams `events` and returns the final status.
  grpc::Status Stream(const std::vector<v1::CallEvent>& events) {
    return RunCall(stub_.get(), events).status;
  }

  FakeClock clock_;
  TestServer server_{TestServer::DefaultOptions(&clock_)};
  std::unique_ptr<v1::CoachService::Stub> stub_ = server_.NewCoachStub();
};

TEST_F(ErrorsTest, UnspecifiedSpeakerIsInvalidArgument) {
  EXPECT_STATUS(Stream({StartEvent("c", "a"), SegmentEvent("s1", v1::SPEAKER_UNSPECIFIED, "hi")}),
                INVALID_ARGUMENT, "segment.speaker");
}

TEST_F(ErrorsTest, UnknownSpeakerValueIsInvalidArgument) {
  EXPECT_STATUS(Stream({StartEvent("c", "a"),
                        SegmentEvent("s1", static_cast<v1::Speaker>(7), "hi")}),
                INVALID_ARGUMENT, "segment.speaker");
}

TEST_F(ErrorsTest, EmptyCallIdIsInvalidArgument) {
  EXPECT_STATUS(Stream({StartEvent("", "a")}), INVALID_ARGUMENT, "start.call_id is empty");
}

TEST_F(ErrorsTest, EmptyAgentIdIsInvalidArgument) {
  EXPECT_STATUS(Stream({StartEvent("c", "")}), INVALID_ARGUMENT, "start.agent_id is empty");
}

TEST_F(ErrorsTest, EmptySegmentIdIsInvalidArgument) {
  EXPECT_STATUS(Stream({StartEvent("c", "a"), SegmentEvent("", v1::SPEAKER_AGENT, "hi")}),
                INVALID_ARGUMENT, "segment.segment_id is empty");
}

TEST_F(ErrorsTest, OversizeTextIsInvalidArgument) {
  const std::string text(16 * 1024 + 1, 'a');
  EXPECT_STATUS(Stream({StartEvent("c", "a"), SegmentEvent("s1", v1::SPEAKER_AGENT, text)}),
                INVALID_ARGUMENT, "segment.text of segment_id 's1' is 16385 bytes");
  EXPECT_STATUS(Stream({StartEvent("c2", "a"), SegmentEvent("s1", v1::SPEAKER_AGENT, text)}),
                INVALID_ARGUMENT, "--max_segment_bytes");
}

TEST_F(ErrorsTest, MalformedLanguageIsInvalidArgumentNamingTheField) {
  for (const std::string& language :
       {std::string("en US"), std::string("en_US"), std::string("-en"), std::string("fr\xC3\xA7"),
        std::string(36, 'a')}) {
    v1::CallEvent start = StartEvent("c-" + std::to_string(language.size()), "a");
    start.mutable_start()->set_language(language);
    EXPECT_STATUS(Stream({start, EndEvent()}), INVALID_ARGUMENT, "start.language");

    v1::ReviewCallRequest request;
    *request.mutable_start() = start.start();
    grpc::ClientContext context;
    v1::ReviewCallResponse response;
    EXPECT_STATUS(stub_->ReviewCall(&context, request, &response), INVALID_ARGUMENT,
                  "start.language");
  }
  v1::CallEvent start = StartEvent("c-ok", "a");
  start.mutable_start()->set_language(std::string(35, 'a'));
  EXPECT_TRUE(Stream({start, EndEvent()}).ok());
}

TEST_F(ErrorsTest, EmptyCallEventIsInvalidArgument) {
  EXPECT_STATUS(Stream({StartEvent("c", "a"), v1::CallEvent()}), INVALID_ARGUMENT,
                "none of start, segment or end");
}

TEST_F(ErrorsTest, SegmentBeforeStartIsFailedPrecondition) {
  EXPECT_STATUS(Stream({SegmentEvent("s1", v1::SPEAKER_AGENT, "hi")}), FAILED_PRECONDITION,
                "CallEvent.segment before CallEvent.start");
}

TEST_F(ErrorsTest, SecondStartIsFailedPrecondition) {
  EXPECT_STATUS(Stream({StartEvent("c", "a"), StartEvent("c", "a")}), FAILED_PRECONDITION,
                "second CallEvent.start");
}

TEST_F(ErrorsTest, RevisingAFinalSegmentIsFailedPrecondition) {
  EXPECT_STATUS(Stream({StartEvent("c", "a"), SegmentEvent("s1", v1::SPEAKER_AGENT, "hello"),
                        SegmentEvent("s1", v1::SPEAKER_AGENT, "hello again")}),
                FAILED_PRECONDITION, "segment.segment_id 's1' is already final");
}

TEST_F(ErrorsTest, NegativeTimeIsInvalidArgument) {
  EXPECT_STATUS(Stream({StartEvent("c", "a"),
                        SegmentEvent("s1", v1::SPEAKER_AGENT, "hello", true, -5, 10)}),
                INVALID_ARGUMENT, "segment.start_ms");
}

TEST_F(ErrorsTest, LiveDuplicateCallIdIsAlreadyExists) {
  CallClient first(stub_.get());
  ASSERT_TRUE(first.Send(StartEvent("dup", "a")));
  ASSERT_TRUE(first.Send(SegmentEvent("s1", v1::SPEAKER_CUSTOMER, "this is ridiculous")));
  ASSERT_TRUE(first.WaitForEvents(1));  // registered and processing
  EXPECT_STATUS(Stream({StartEvent("dup", "b")}), ALREADY_EXISTS, "start.call_id 'dup'");
  // The first call is unaffected.
  ASSERT_TRUE(first.Send(EndEvent()));
  EXPECT_TRUE(first.Finish().ok());
  EXPECT_TRUE(first.events().back().has_report());
}

TEST_F(ErrorsTest, ErrorEndsTheCallWithItsReportToTheDesktop) {
  v1::WatchAgentRequest watch;
  watch.set_agent_id("agent-1");
  auto desktop = Watcher::Agent(stub_.get(), watch);
  ASSERT_TRUE(server_.WaitForAgentSubscribers("", "agent-1", 1));
  CallResult result =
      RunCall(stub_.get(), {StartEvent("c", "agent-1"),
                            SegmentEvent("s1", v1::SPEAKER_CUSTOMER, "this is ridiculous"),
                            SegmentEvent("s2", v1::SPEAKER_UNSPECIFIED, "x")});
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_FALSE(result.events.empty());
  EXPECT_TRUE(result.events.back().has_report());
  EXPECT_TRUE(desktop->WaitForReport("c"));
  EXPECT_EQ(server_.server().registry().live_calls(), 0);
}

TEST_F(ErrorsTest, BadCallsDoNotDisturbAGoodOneRunningAlongside) {
  std::vector<v1::CallEvent> good = EscalatedCall("good", "agent-042");
  CallClient pipeline(stub_.get());
  const size_t half = good.size() / 2;
  ASSERT_TRUE(pipeline.SendAll({good.begin(), good.begin() + half}));
  for (int i = 0; i < 5; ++i) {
    const std::string id = "bad-" + std::to_string(i);
    EXPECT_FALSE(Stream({StartEvent(id, "agent-042"),
                         SegmentEvent("s", v1::SPEAKER_UNSPECIFIED, "x")})
                     .ok());
    EXPECT_FALSE(Stream({StartEvent("good", "agent-042")}).ok());  // duplicate
  }
  ASSERT_TRUE(pipeline.SendAll({good.begin() + half, good.end()}));
  ASSERT_TRUE(pipeline.Finish().ok());
  const EngineRun& run = EscalatedCallEngineRun();
  std::vector<EventRow> expected = Rows(run.events);
  expected.push_back({run.report_seq, "report", ""});
  EXPECT_THAT(Rows(pipeline.events()), ElementsAreArray(expected));
}

TEST_F(ErrorsTest, StreamClosedBeforeStartIsFailedPrecondition) {
  EXPECT_STATUS(Stream({}), FAILED_PRECONDITION, "before its first CallEvent");
}

TEST_F(ErrorsTest, WatchAgentWithoutAgentIdIsInvalidArgument) {
  auto watcher = Watcher::Agent(stub_.get(), v1::WatchAgentRequest());
  EXPECT_STATUS(watcher->WaitForStatus(), INVALID_ARGUMENT, "agent_id is empty");
}

TEST_F(ErrorsTest, ResumePointWithoutCallIdIsInvalidArgument) {
  v1::WatchAgentRequest request;
  request.set_agent_id("a");
  request.add_resume()->set_last_seq(3);
  auto watcher = Watcher::Agent(stub_.get(), request);
  EXPECT_STATUS(watcher->WaitForStatus(), INVALID_ARGUMENT, "resume[0].call_id is empty");
}

TEST_F(ErrorsTest, ReviewCallErrorsNameTheSegment) {
  v1::ReviewCallRequest request;
  *request.mutable_start() = StartEvent("r", "a").start();
  *request.add_segments() = SegmentEvent("s1", v1::SPEAKER_AGENT, "hello").segment();
  *request.add_segments() = SegmentEvent("s2", v1::SPEAKER_UNSPECIFIED, "hello").segment();
  grpc::ClientContext context;
  v1::ReviewCallResponse response;
  EXPECT_STATUS(stub_->ReviewCall(&context, request, &response), INVALID_ARGUMENT,
                "segments[1].speaker");

  v1::ReviewCallRequest no_start;
  grpc::ClientContext context2;
  EXPECT_STATUS(stub_->ReviewCall(&context2, no_start, &response), INVALID_ARGUMENT,
                "start is missing");
}

TEST_F(ErrorsTest, RejectionsAreCountedByMethodAndCode) {
  (void)Stream({StartEvent("", "a")});
  EXPECT_THAT(server_.Scrape(),
              AllOf(HasSubstr("coachd_rejected_requests_total"), HasSubstr("StreamCall"),
                    HasSubstr("INVALID_ARGUMENT")));
}

}  // namespace
}  // namespace coach::testing
