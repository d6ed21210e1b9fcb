// StreamCall and ReviewCall end to end over real channels: the events a call
// produces, on the pipeline's stream and on a desktop's, interim revisions,
// and ReviewCall matching streaming.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "harness.h"

namespace coach::testing {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

class StreamCallTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  TestServer server_{TestServer::DefaultOptions(&clock_)};
  std::unique_ptr<v1::CoachService::Stub> stub_ = server_.NewCoachStub();
};

TEST_F(StreamCallTest, StreamsTheEngineEventsThenTheReport) {
  CallResult result = RunCall(stub_.get(), EscalatedCall("call-1", "agent-042", "acme"));
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_THAT(Rows(result.events), ElementsAreArray(ExpectedRows()));
  const std::string version = EscalatedCallEngineRun().version;
  for (size_t i = 0; i < result.events.size(); ++i) {
    const v1::CoachEvent& e = result.events[i];
    EXPECT_EQ(e.seq(), static_cast<int64_t>(i + 1));
    EXPECT_EQ(e.call_id(), "call-1");
    EXPECT_EQ(e.agent_id(), "agent-042");
    EXPECT_EQ(e.tenant(), "acme");
    EXPECT_EQ(e.event_id(), "call-1/" + std::to_string(i + 1));
    EXPECT_EQ(e.rule_version(), version);
  }
  ASSERT_FALSE(result.events.empty());
  const v1::CallReport& report = result.events.back().report();
  EXPECT_EQ(report.rule_set_version(), version);
  EXPECT_EQ(report.segments(), 12);
}

TEST_F(StreamCallTest, NudgeCarriesRuleAndEvidence) {
  CallResult result = RunCall(stub_.get(), EscalatedCall("call-1", "agent-042"));
  ASSERT_TRUE(result.status.ok());
  const v1::CoachEvent* fcc = nullptr;
  for (const auto& e : result.events) {
    if (e.has_nudge() && e.nudge().rule_id() == "legal_threat.fcc") fcc = &e;
  }
  ASSERT_NE(fcc, nullptr);
  EXPECT_EQ(fcc->nudge().category(), "legal_threat");
  EXPECT_EQ(fcc->nudge().kind(), v1::RULE_KIND_ESCALATION);
  EXPECT_NE(fcc->nudge().severity(), v1::SEVERITY_UNSPECIFIED);
  EXPECT_FALSE(fcc->nudge().title().empty());
  EXPECT_FALSE(fcc->nudge().message().empty());
  EXPECT_EQ(fcc->nudge().evidence().speaker(), v1::SPEAKER_CUSTOMER);
  EXPECT_EQ(fcc->nudge().evidence().segment_id(), "c2");
  EXPECT_EQ(fcc->nudge().evidence().matched_text(), "report you to the FCC");
  EXPECT_LT(fcc->nudge().evidence().span_begin(), fcc->nudge().evidence().span_end());
  EXPECT_GE(fcc->nudge().evidence().offset_ms(), 8600);
}

TEST_F(StreamCallTest, DesktopOnItsOwnChannelGetsTheSameEvents) {
  v1::WatchAgentRequest request;
  request.set_agent_id("agent-042");
  auto desktop_stub = server_.NewCoachStub();  // separate connection
  auto desktop = Watcher::Agent(desktop_stub.get(), request);
  ASSERT_TRUE(server_.WaitForAgentSubscribers("", "agent-042", 1));
  CallResult result = RunCall(stub_.get(), EscalatedCall("call-1", "agent-042"));
  ASSERT_TRUE(result.status.ok());
  ASSERT_TRUE(desktop->WaitForReport("call-1"));
  EXPECT_THAT(Rows(desktop->events()), ElementsAreArray(Rows(result.events)));
  for (size_t i = 0; i < result.events.size(); ++i) {
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(desktop->events()[i],
                                                                   result.events[i]));
  }
}

TEST_F(StreamCallTest, DesktopConnectingMidCallGetsTheWholeCallOnce) {
  std::vector<v1::CallEvent> call = EscalatedCall("call-1", "agent-042");
  CallClient pipeline(stub_.get());
  // Start plus the first three segments: the customer's cues.
  ASSERT_TRUE(pipeline.SendAll({call.begin(), call.begin() + 4}));
  ASSERT_TRUE(pipeline.WaitForEvents(4));

  v1::WatchAgentRequest request;
  request.set_agent_id("agent-042");
  auto desktop_stub = server_.NewCoachStub();
  auto desktop = Watcher::Agent(desktop_stub.get(), request);
  ASSERT_TRUE(desktop->WaitForEvents(4));
  ASSERT_TRUE(pipeline.SendAll({call.begin() + 4, call.end()}));
  ASSERT_TRUE(pipeline.Finish().ok());
  ASSERT_TRUE(desktop->WaitForReport("call-1"));
  EXPECT_THAT(Rows(desktop->events()), ElementsAreArray(ExpectedRows()));
}

TEST_F(StreamCallTest, InterimRevisionsProduceNoDuplicates) {
  std::vector<v1::CallEvent> call = {StartEvent("call-1", "agent-1")};
  // The agent's utterance revised five times, then final.
  const std::vector<std::string> revisions = {
      "okay you need",
      "okay you need to",
      "okay you need to calm",
      "okay you need to calm down",
      "okay you need to calm down so",
      "okay you need to calm down so i can look at it",
  };
  for (size_t i = 0; i < revisions.size(); ++i) {
    call.push_back(SegmentEvent("a1", v1::SPEAKER_AGENT, revisions[i],
                                /*is_final=*/i + 1 == revisions.size(), 1000, 2000 + 300 * i));
  }
  call.push_back(EndEvent());
  CallResult result = RunCall(stub_.get(), call);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  std::multiset<std::string> nudges;
  for (const auto& e : result.events) {
    if (e.has_nudge()) nudges.insert(e.nudge().rule_id());
    EXPECT_FALSE(e.has_retraction());
  }
  EXPECT_EQ(nudges.count("provoking.calm_down"), 1u);
  EXPECT_EQ(nudges.count("provoking.you_need_to"), 1u);
  for (const std::string& rule : nudges) EXPECT_EQ(nudges.count(rule), 1u) << rule;
  ASSERT_FALSE(result.events.empty());
  EXPECT_TRUE(result.events.back().has_report());
  EXPECT_EQ(result.events.back().report().segments(), 1);  // finals only
}

TEST_F(StreamCallTest, RetractionNamesTheNudgeItTakesBack) {
  std::vector<v1::CallEvent> call = {
      StartEvent("call-1", "agent-1"),
      SegmentEvent("a1", v1::SPEAKER_AGENT, "okay you need to calm down", false, 1000, 2000),
      SegmentEvent("a1", v1::SPEAKER_AGENT, "okay let me look at that for you", true, 1000, 3000),
      EndEvent(),
  };
  CallResult result = RunCall(stub_.get(), call);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  std::map<int64_t, std::string> nudge_ids;
  int retractions = 0;
  for (const auto& e : result.events) {
    if (e.has_nudge()) nudge_ids[e.seq()] = e.event_id();
    if (e.has_retraction()) {
      ++retractions;
      ASSERT_TRUE(nudge_ids.count(e.retraction().retracted_seq()));
      EXPECT_EQ(e.retraction().retracted_event_id(), nudge_ids[e.retraction().retracted_seq()]);
    }
  }
  EXPECT_GT(retractions, 0);
}

TEST_F(StreamCallTest, HalfCloseWithoutEndStillEndsTheCallWithItsReport) {
  std::vector<v1::CallEvent> call = EscalatedCall("call-1", "agent-042");
  call.pop_back();  // no `end`
  CallResult result = RunCall(stub_.get(), call);
  ASSERT_TRUE(result.status.ok());
  EXPECT_THAT(Rows(result.events), ElementsAreArray(ExpectedRows()));
}

TEST_F(StreamCallTest, CallIdCanBeReusedOnceItsRetentionPassed) {
  ASSERT_TRUE(RunCall(stub_.get(), EscalatedCall("call-1", "agent-042")).status.ok());
  // Reuse is refused while the ended call is retained for resume...
  CallResult refused = RunCall(stub_.get(), EscalatedCall("call-1", "agent-042"));
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(refused.status.error_message(),
              AllOf(HasSubstr("start.call_id 'call-1'"), HasSubstr("retained"),
                    HasSubstr("2023-11-14T22:23:20Z"), HasSubstr("--resume_retention")));
  // ... (the retained buffer still holds the first call only) ...
  v1::WatchAgentRequest resume;
  resume.set_agent_id("agent-042");
  resume.add_resume()->set_call_id("call-1");
  auto desktop = Watcher::Agent(stub_.get(), resume);
  ASSERT_TRUE(desktop->WaitForReport("call-1"));
  EXPECT_THAT(Rows(desktop->events()), ElementsAreArray(ExpectedRows()));
  desktop->Cancel();
  // ... and allowed once --resume_retention (10m by default) has passed,
  // even before a sweep forgot it.
  clock_.Advance(absl::Minutes(10));
  CallResult again = RunCall(stub_.get(), EscalatedCall("call-1", "agent-042"));
  ASSERT_TRUE(again.status.ok()) << again.status.error_message();
  EXPECT_THAT(Rows(again.events), ElementsAreArray(ExpectedRows()));
}

TEST_F(StreamCallTest, LanguageDefaultsToEnUsAndIsRecordedInTheReport) {
  CallResult plain = RunCall(stub_.get(), EscalatedCall("call-en", "agent-042"));
  ASSERT_TRUE(plain.status.ok());
  EXPECT_EQ(plain.events.back().report().language(), "en-US");

  std::vector<v1::CallEvent> call = EscalatedCall("call-fr", "agent-042");
  call.front().mutable_start()->set_language("fr-CA");
  CallResult french = RunCall(stub_.get(), call);
  ASSERT_TRUE(french.status.ok());
  EXPECT_EQ(french.events.back().report().language(), "fr-CA");

  v1::ReviewCallRequest request;
  *request.mutable_start() = StartEvent("review-de", "agent-042").start();
  request.mutable_start()->set_language("de-DE");
  grpc::ClientContext context;
  v1::ReviewCallResponse response;
  ASSERT_TRUE(stub_->ReviewCall(&context, request, &response).ok());
  EXPECT_EQ(response.report().language(), "de-DE");
}

TEST_F(StreamCallTest, ManyConcurrentCallsEachGetTheirOwnEvents) {
  constexpr int kCalls = 16;
  std::vector<std::unique_ptr<CallClient>> clients;
  std::vector<v1::CallEvent> segments = EscalatedCallSegments();
  for (int i = 0; i < kCalls; ++i) {
    clients.push_back(std::make_unique<CallClient>(stub_.get()));
    ASSERT_TRUE(clients.back()->Send(StartEvent("call-" + std::to_string(i), "agent-" + std::to_string(i % 4))));
  }
  // Interleave the calls segment by segment.
  for (const auto& segment : segments) {
    for (auto& client : clients) ASSERT_TRUE(client->Send(segment));
  }
  for (int i = 0; i < kCalls; ++i) {
    ASSERT_TRUE(clients[i]->Send(EndEvent()));
    ASSERT_TRUE(clients[i]->Finish().ok());
    EXPECT_THAT(Rows(clients[i]->events()), ElementsAreArray(ExpectedRows()));
    for (const auto& e : clients[i]->events()) EXPECT_EQ(e.call_id(), "call-" + std::to_string(i));
  }
  EXPECT_EQ(server_.server().registry().live_calls(), 0);
}

TEST_F(StreamCallTest, ReviewCallGivesTheSameEventsAsStreaming) {
  CallResult streamed = RunCall(stub_.get(), EscalatedCall("call-1", "agent-042", "acme"));
  ASSERT_TRUE(streamed.status.ok());

  v1::ReviewCallRequest request;
  *request.mutable_start() = StartEvent("call-1", "agent-042", "acme").start();
  for (const auto& e : EscalatedCallSegments()) *request.add_segments() = e.segment();
  grpc::ClientContext context;
  v1::ReviewCallResponse response;
  grpc::Status status = stub_->ReviewCall(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();

  ASSERT_THAT(streamed.events, SizeIs(response.events_size() + 1));
  for (int i = 0; i < response.events_size(); ++i) {
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(response.events(i),
                                                                   streamed.events[i]))
        << "event " << i;
  }
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
      response.report(), streamed.events.back().report()));
  EXPECT_EQ(response.report_seq(), streamed.events.back().seq());
}

TEST_F(StreamCallTest, ReviewCallIsNotSeenByDesktops) {
  v1::WatchAgentRequest watch;
  watch.set_agent_id("agent-042");
  auto desktop = Watcher::Agent(stub_.get(), watch);
  ASSERT_TRUE(server_.WaitForAgentSubscribers("", "agent-042", 1));
  v1::ReviewCallRequest request;
  *request.mutable_start() = StartEvent("review-1", "agent-042").start();
  for (const auto& e : EscalatedCallSegments()) *request.add_segments() = e.segment();
  grpc::ClientContext context;
  v1::ReviewCallResponse response;
  ASSERT_TRUE(stub_->ReviewCall(&context, request, &response).ok());
  EXPECT_GT(response.events_size(), 0);
  // A live call afterwards is seen; the review before it never is.
  ASSERT_TRUE(RunCall(stub_.get(), EscalatedCall("live-1", "agent-042")).status.ok());
  ASSERT_TRUE(desktop->WaitForReport("live-1"));
  EXPECT_THAT(OfCall(desktop->events(), "review-1"), IsEmpty());
}

}  // namespace
}  // namespace coach::testing
