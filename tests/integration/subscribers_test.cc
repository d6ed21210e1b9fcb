// WatchAgent and WatchAlerts: resume after a disconnect, retention, isolation
// between agents, alert filtering, and slow subscribers.

#include <algorithm>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness.h"
#include "server/convert.h"

namespace coach::testing {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

size_t AlertsPerEscalatedCall() {
  size_t n = 0;
  for (const auto& e : EscalatedCallEngineRun().events) n += server::IsAlert(e) ? 1 : 0;
  return n;
}

class SubscribersTest : public ::testing::Test {
 protected:
  explicit SubscribersTest(server::Server::Options options) : server_(std::move(options)) {}
  SubscribersTest() : SubscribersTest(TestServer::DefaultOptions(&clock_)) {}

  FakeClock clock_;
  TestServer server_;
  std::unique_ptr<v1::CoachService::Stub> stub_ = server_.NewCoachStub();
};

TEST_F(SubscribersTest, ResumeAfterDisconnectLosesNothingAndDuplicatesNothing) {
  std::vector<v1::CallEvent> call = EscalatedCall("call-1", "agent-042");
  auto desktop_stub = server_.NewCoachStub();
  auto first = Watcher::Agent(desktop_stub.get(), WatchRequest("agent-042"));
  ASSERT_TRUE(server_.WaitForAgentSubscribers("", "agent-042", 1));

  CallClient pipeline(stub_.get());
  ASSERT_TRUE(pipeline.SendAll({call.begin(), call.begin() + 4}));  // start + 3 segments
  ASSERT_TRUE(first->WaitForEvents(4));
  first->Cancel();  // the desktop disconnects
  ASSERT_TRUE(server_.WaitForAgentSubscribers("", "agent-042", 0));
  const std::vector<v1::CoachEvent> seen = first->events();
  ASSERT_FALSE(seen.empty());

  // The call goes on while the desktop is away.
  ASSERT_TRUE(pipeline.SendAll({call.begin() + 4, call.begin() + 8}));
  ASSERT_TRUE(pipeline.WaitForEvents(seen.size() + 2));

  v1::WatchAgentRequest resume = WatchRequest("agent-042");
  v1::ResumePoint* point = resume.add_resume();
  point->set_call_id("call-1");
  point->set_last_seq(seen.back().seq());
  auto second = Watcher::Agent(desktop_stub.get(), resume);
  ASSERT_TRUE(pipeline.SendAll({call.begin() + 8, call.end()}));
  ASSERT_TRUE(pipeline.Finish().ok());
  ASSERT_TRUE(second->WaitForReport("call-1"));

  std::vector<v1::CoachEvent> all = seen;
  for (const auto& e : second->events()) all.push_back(e);
  EXPECT_THAT(Rows(all), ElementsAreArray(ExpectedRows()));
}

TEST_F(SubscribersTest, ResumeAfterTheCallEndedReplaysTheRest) {
  CallResult result = RunCall(stub_.get(), EscalatedCall("call-1", "agent-042"));
  ASSERT_TRUE(result.status.ok());
  v1::WatchAgentRequest resume = WatchRequest("agent-042");
  resume.add_resume()->set_call_id("call-1");
  resume.mutable_resume(0)->set_last_seq(5);
  auto desktop = Watcher::Agent(stub_.get(), resume);
  ASSERT_TRUE(desktop->WaitForReport("call-1"));
  std::vector<EventRow> expected = ExpectedRows();
  expected.erase(expected.begin(), expected.begin() + 5);
  EXPECT_THAT(Rows(desktop->events()), ElementsAreArray(expected));
}

TEST_F(SubscribersTest, EndedCallsAreNotReplayedWithoutAResumePoint) {
  ASSERT_TRUE(RunCall(stub_.get(), EscalatedCall("old-call", "agent-042")).status.ok());
  auto desktop = Watcher::Agent(stub_.get(), WatchRequest("agent-042"));
  ASSERT_TRUE(server_.WaitForAgentSubscribers("", "agent-042", 1));
  ASSERT_TRUE(RunCall(stub_.get(), EscalatedCall("new-call", "agent-042")).status.ok());
  ASSERT_TRUE(desktop->WaitForReport("new-call"));
  EXPECT_THAT(OfCall(desktop->events(), "old-call"), IsEmpty());
  EXPECT_THAT(Rows(desktop->events()), ElementsAreArray(ExpectedRows()));
}

TEST_F(SubscribersTest, ResumeBufferIsForgottenAfterRetention) {
  ASSERT_TRUE(RunCall(stub_.get(), EscalatedCall("call-1", "agent-042")).status.ok());
  EXPECT_EQ(server_.server().registry().retained_calls(), 1);
  clock_.Advance(absl::Minutes(9));
  server_.server().SweepNow();
  EXPECT_EQ(server_.server().registry().retained_calls(), 1);
  clock_.Advance(absl::Minutes(2));  // past the default 10m retention
  server_.server().SweepNow();
  EXPECT_EQ(server_.server().registry().retained_calls(), 0);

  v1::WatchAgentRequest resume = WatchRequest("agent-042");
  resume.add_resume()->set_call_id("call-1");
  auto desktop = Watcher::Agent(stub_.get(), resume);
  ASSERT_TRUE(server_.WaitForAgentSubscribers("", "agent-042", 1));
  ASSERT_TRUE(RunCall(stub_.get(), EscalatedCall("call-2", "agent-042")).status.ok());
  ASSERT_TRUE(desktop->WaitForReport("call-2"));
  EXPECT_THAT(OfCall(desktop->events(), "call-1"), IsEmpty());
}

TEST_F(SubscribersTest, DesktopNeverSeesAnotherAgentsCalls) {
  auto desktop = Watcher::Agent(stub_.get(), WatchRequest("agent-B"));
  ASSERT_TRUE(server_.WaitForAgentSubscribers("", "agent-B", 1));
  ASSERT_TRUE(RunCall(stub_.get(), EscalatedCall("call-A", "agent-A")).status.ok());
  ASSERT_TRUE(RunCall(stub_.get(), EscalatedCall("call-B", "agent-B")).status.ok());
  ASSERT_TRUE(desktop->WaitForReport("call-B"));
  for (const auto& e : desktop->events()) EXPECT_EQ(e.agent_id(), "agent-B");
  EXPECT_THAT(OfCall(desktop->events(), "call-A"), IsEmpty());
}

TEST_F(SubscribersTest, ResumePointForAnotherAgentsCallIsIgnored) {
  ASSERT_TRUE(RunCall(stub_.get(), EscalatedCall("call-A", "agent-A")).status.ok());
  v1::WatchAgentRequest resume = WatchRequest("agent-B");
  resume.add_resume()->set_call_id("call-A");
  auto desktop = Watcher::Agent(stub_.get(), resume);
  ASSERT_TRUE(server_.WaitForAgentSubscribers("", "agent-B", 1));
  ASSERT_TRUE(RunCall(stub_.get(), EscalatedCall("call-B", "agent-B")).status.ok());
  ASSERT_TRUE(desktop->WaitForReport("call-B"));
  EXPECT_THAT(OfCall(desktop->events(), "call-A"), IsEmpty());
}

TEST_F(SubscribersTest, TwoDesktopsOfOneAgentBothGetEverything) {
  auto one = Watcher::Agent(stub_.get(), WatchRequest("agent-042"));
  auto other_stub = server_.NewCoachStub();
  auto two = Watcher::Agent(other_stub.get(), WatchRequest("agent-042"));
  ASSERT_TRUE(server_.WaitForAgentSubscribers("", "agent-042", 2));
  ASSERT_TRUE(RunCall(stub_.get(), EscalatedCall("call-1", "agent-042")).status.ok());
  ASSERT_TRUE(one->WaitForReport("call-1"));
  ASSERT_TRUE(two->WaitForReport("call-1"));
  EXPECT_THAT(Rows(one->events()), ElementsAreArray(ExpectedRows()));
  EXPECT_THAT(Rows(two->events()), ElementsAreArray(ExpectedRows()));
}

TEST_F(SubscribersTest, AlertsAreFilteredByTenantAndAgent) {
  const size_t per_call = AlertsPerEscalatedCall();
  ASSERT_GT(per_call, 0u);
  auto alerts = [&](const std::string& tenant, std::vector<std::string> agents) {
    v1::WatchAlertsRequest request;
    request.set_tenant(tenant);
    for (const auto& a : agents) request.add_agent_ids(a);
    return Watcher::Alerts(stub_.get(), request);
  };
  auto acme = alerts("acme", {});
  auto acme_agent1 = alerts("acme", {"agent-1"});
  auto globex = alerts("globex", {});
  auto everyone = alerts("", {});
  ASSERT_TRUE(Eventually([&] { return server_.server().registry().Subscribers().size() == 4; }));

  ASSERT_TRUE(RunCall(stub_.get(), EscalatedCall("acme-1", "agent-1", "acme")).status.ok());
  ASSERT_TRUE(RunCall(stub_.get(), EscalatedCall("acme-2", "agent-2", "acme")).status.ok());
  ASSERT_TRUE(RunCall(stub_.get(), EscalatedCall("globex-3", "agent-3", "globex")).status.ok());

  ASSERT_TRUE(everyone->WaitForEvents(3 * per_call));
  ASSERT_TRUE(acme->WaitForEvents(2 * per_call));
  ASSERT_TRUE(acme_agent1->WaitForEvents(per_call));
  ASSERT_TRUE(globex->WaitForEvents(per_call));
  auto calls_of = [](const std::vector<v1::CoachEvent>& events) {
    std::set<std::string> calls;
    for (const auto& e : events) calls.insert(e.call_id());
    return calls;
  };
  EXPECT_EQ(calls_of(acme->events()), (std::set<std::string>{"acme-1", "acme-2"}));
  EXPECT_EQ(calls_of(acme_agent1->events()), (std::set<std::string>{"acme-1"}));
  EXPECT_EQ(calls_of(globex->events()), (std::set<std::string>{"globex-3"}));
  EXPECT_EQ(calls_of(everyone->events()),
            (std::set<std::string>{"acme-1", "acme-2", "globex-3"}));
  EXPECT_EQ(acme->events().size(), 2 * per_call);
  EXPECT_EQ(acme_agent1->events().size(), per_call);
  for (const auto& e : everyone->events()) {
    const bool escalation = (e.has_nudge() && e.nudge().kind() == v1::RULE_KIND_ESCALATION) ||
                            (e.has_retraction() &&
                             e.retraction().kind() == v1::RULE_KIND_ESCALATION) ||
                            (e.has_reminder() &&
                             e.reminder().trigger_kind() == v1::RULE_KIND_ESCALATION);
    EXPECT_TRUE(escalation) << e.ShortDebugString();
  }
}

TEST_F(SubscribersTest, ReminderMissedAfterAnEscalationReachesSupervisors) {
  v1::WatchAlertsRequest request;
  request.set_tenant("acme");
  auto supervisor = Watcher::Alerts(stub_.get(), request);
  ASSERT_TRUE(Eventually([&] { return server_.server().registry().Subscribers().size() == 1; }));

  // The customer threatens the FCC; the agent never de-escalates.
  CallResult call = RunCall(
      stub_.get(), {StartEvent("legal-1", "agent-1", "acme"),
                    SegmentEvent("c1", v1::SPEAKER_CUSTOMER,
                                 "I'm going to report you to the FCC.", true, 0, 2000),
                    SegmentEvent("a1", v1::SPEAKER_AGENT, "What is your account number?", true,
                                 3000, 5000),
                    EndEvent()});
  ASSERT_TRUE(call.status.ok()) << call.status.error_message();
  std::vector<v1::CoachEvent> reminders;
  for (const auto& e : call.events) {
    if (e.has_reminder() && e.reminder().trigger_kind() == v1::RULE_KIND_ESCALATION) {
      reminders.push_back(e);
    }
  }
  ASSERT_FALSE(reminders.empty());
  // The supervisor gets the threat and every reminder it led to, same seq.
  ASSERT_TRUE(supervisor->WaitForEvents(1 + reminders.size()));
  const std::vector<v1::CoachEvent> alerts = supervisor->events();
  EXPECT_TRUE(alerts.front().has_nudge());
  EXPECT_EQ(alerts.front().nudge().category(), "legal_threat");
  for (const auto& reminder : reminders) {
    EXPECT_TRUE(std::any_of(alerts.begin(), alerts.end(), [&](const v1::CoachEvent& alert) {
      return alert.has_reminder() && alert.seq() == reminder.seq() &&
             alert.reminder().rule_id() == reminder.reminder().rule_id();
    })) << reminder.ShortDebugString();
  }
}

class SlowSubscriberTest : public SubscribersTest {
 protected:
  static server::Server::Options Options(FakeClock* clock) {
    server::Server::Options options = TestServer::DefaultOptions(clock);
    options.limits.subscriber_queue = 32;  // more than one call's events
    return options;
  }
  SlowSubscriberTest() : SubscribersTest(Options(&clock_)) {}
};

TEST_F(SlowSubscriberTest, NeverReadingDesktopDoesNotStallThePipelineAndItsDropsAreCounted) {
  // A desktop that never reads, on a connection with a tiny receive window.
  grpc::ChannelArguments tiny_window;
  tiny_window.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  tiny_window.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 1024);
  auto slow_stub = v1::CoachService::NewStub(server_.NewChannel(tiny_window));
  grpc::ClientContext slow_context;
  auto slow = slow_stub->WatchAgent(&slow_context, WatchRequest("agent-042"));
  // A desktop that keeps up.
  auto fast = Watcher::Agent(stub_.get(), WatchRequest("agent-042"));
  ASSERT_TRUE(server_.WaitForAgentSubscribers("", "agent-042", 2));

  constexpr int kCalls = 12;
  for (int i = 0; i < kCalls; ++i) {
    const std::string id = "call-" + std::to_string(i);
    CallResult result = RunCall(stub_.get(), EscalatedCall(id, "agent-042"));
    ASSERT_TRUE(result.status.ok()) << id << ": " << result.status.error_message();
    EXPECT_THAT(Rows(result.events), ElementsAreArray(ExpectedRows()));
    ASSERT_TRUE(fast->WaitForReport(id));
  }
  EXPECT_EQ(fast->events().size(), kCalls * ExpectedRows().size());

  std::vector<uint64_t> drops = server_.server().registry().AgentSubscriberDrops("", "agent-042");
  ASSERT_EQ(drops.size(), 2u);
  EXPECT_GT(drops[0] + drops[1], 0u);
  EXPECT_TRUE(drops[0] == 0 || drops[1] == 0);  // only the slow one drops
  EXPECT_THAT(server_.Scrape(), HasSubstr("coachd_queue_dropped_events_total{kind=\"agent\"}"));

  slow_context.TryCancel();
  (void)slow->Finish();
}

TEST_F(SlowSubscriberTest, SubscriberThatFellBehindIsToldHowManyEventsItMissed) {
  // A supervisor on a tiny receive window that does not read at first.
  grpc::ChannelArguments tiny_window;
  tiny_window.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  tiny_window.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 1024);
  auto slow_stub = v1::CoachService::NewStub(server_.NewChannel(tiny_window));
  grpc::ClientContext context;
  v1::WatchAlertsRequest request;
  request.set_tenant("acme");
  auto supervisor = slow_stub->WatchAlerts(&context, request);
  ASSERT_TRUE(Eventually([&] { return server_.server().registry().Subscribers().size() == 1; }));

  const size_t per_call = AlertsPerEscalatedCall();
  constexpr size_t kCalls = 40;
  for (size_t i = 0; i < kCalls; ++i) {
    const std::string id = "call-" + std::to_string(i);
    ASSERT_TRUE(RunCall(stub_.get(), EscalatedCall(id, "agent-1", "acme")).status.ok()) << id;
  }
  const double dropped = MetricValue(server_.Scrape(), "coachd_queue_dropped_events_total",
                                     {"kind=\"alerts\""});
  ASSERT_GT(dropped, 0);

  // Now it reads everything.
  absl::Mutex mu;
  size_t received = 0;
  uint64_t reported = 0;
  std::thread reader([&] {
    v1::CoachEvent event;
    while (supervisor->Read(&event)) {
      absl::MutexLock lock(&mu);
      ++received;
      reported += event.dropped_before();
    }
  });
  auto accounted = [&](size_t calls) {
    absl::MutexLock lock(&mu);
    return received + static_cast<size_t>(dropped) == calls * per_call;
  };
  // Every alert that was not dropped arrives ...
  EXPECT_TRUE(Eventually([&] { return accounted(kCalls); }));
  // ... and the next one carries the count of those that were, if the last
  // drops came after the last delivered event.
  ASSERT_TRUE(RunCall(stub_.get(), EscalatedCall("call-last", "agent-1", "acme")).status.ok());
  EXPECT_TRUE(Eventually([&] { return accounted(kCalls + 1); }));
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(static_cast<double>(reported), dropped);
  }
  EXPECT_EQ(MetricValue(server_.Scrape(), "coachd_queue_dropped_events_total",
                        {"kind=\"alerts\""}),
            dropped);
  context.TryCancel();
  reader.join();
  (void)supervisor->Finish();
}

// Replay on connect does not go through the live queue's limit.
class SmallQueueTest : public SubscribersTest {
 protected:
  static server::Server::Options Options(FakeClock* clock) {
    server::Server::Options options = TestServer::DefaultOptions(clock);
    options.limits.subscriber_queue = 4;  // far fewer than one call's events
    return options;
  }
  SmallQueueTest() : SubscribersTest(Options(&clock_)) {}
};

TEST_F(SmallQueueTest, ResumeReplaysEveryBufferedEventBeyondTheLiveQueue) {
  ASSERT_GT(ExpectedRows().size(), 4u);
  ASSERT_TRUE(RunCall(stub_.get(), EscalatedCall("call-1", "agent-042")).status.ok());
  v1::WatchAgentRequest resume = WatchRequest("agent-042");
  v1::ResumePoint* point = resume.add_resume();
  point->set_call_id("call-1");
  point->set_last_seq(0);
  auto desktop = Watcher::Agent(stub_.get(), resume);
  ASSERT_TRUE(desktop->WaitForReport("call-1"));
  EXPECT_THAT(Rows(desktop->events()), ElementsAreArray(ExpectedRows()));
  EXPECT_THAT(server_.server().registry().AgentSubscriberDrops("", "agent-042"),
              ElementsAreArray({0u}));
}

TEST_F(SmallQueueTest, LateJoinToALiveCallGetsEveryEventBeyondTheLiveQueue) {
  const EngineRun& run = EscalatedCallEngineRun();
  ASSERT_GT(run.segment_events, 4u);
  // The end-of-call batch (reminders and the report) fits the live queue.
  ASSERT_LE(ExpectedRows().size() - run.segment_events, 4u);
  std::vector<v1::CallEvent> call = EscalatedCall("call-1", "agent-042");
  call.pop_back();  // `end` comes after the desktop joined
  CallClient pipeline(stub_.get());
  ASSERT_TRUE(pipeline.SendAll(call));
  ASSERT_TRUE(pipeline.WaitForEvents(run.segment_events));

  // Joins late, with no ResumePoint: the whole buffer is replayed.
  auto desktop = Watcher::Agent(stub_.get(), WatchRequest("agent-042"));
  ASSERT_TRUE(desktop->WaitForEvents(run.segment_events));
  ASSERT_TRUE(pipeline.Send(EndEvent()));
  ASSERT_TRUE(pipeline.Finish().ok());
  ASSERT_TRUE(desktop->WaitForReport("call-1"));
  EXPECT_THAT(Rows(desktop->events()), ElementsAreArray(ExpectedRows()));
  EXPECT_THAT(server_.server().registry().AgentSubscriberDrops("", "agent-042"),
              ElementsAreArray({0u}));
}

}  // namespace
}  // namespace coach::testing
