#include "engine/call_session.h"

#include <limits>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_rules.h"

namespace coach::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using testing::Agent;
using testing::AgentRule;
using testing::Customer;
using testing::CustomerRule;
using testing::Interim;
using testing::MustCompile;
using testing::Play;
using testing::Summaries;

RuleSetSpec BasicSpec() {
  RuleSetSpec spec;
  spec.rules.push_back(AgentRule("provoking.calm_down", "provoking", {"calm down"}));
  spec.rules.push_back(AgentRule("empathy.understand_feel", "empathy",
                                 {"i can [certainly] understand how you feel"},
                                 RuleKind::kReinforcement));
  spec.rules.push_back(CustomerRule("legal.fcc", "legal_threat", {"[the] fcc"}));
  return spec;
}

TEST(CallSessionMatching, NudgeCarriesRuleAndEvidence) {
  CallSession session(MustCompile(BasicSpec()));
  std::vector<Event> events = Play(session, {Agent("s1", "Sir, please CALM down now.", 4200)});
  ASSERT_THAT(events, SizeIs(1));
  const Event& e = events[0];
  EXPECT_EQ(e.seq, 1);
  EXPECT_EQ(e.type, EventType::kNudge);
  EXPECT_EQ(e.rule_id, "provoking.calm_down");
  EXPECT_EQ(e.category, "provoking");
  EXPECT_EQ(e.kind, RuleKind::kCorrective);
  EXPECT_EQ(e.title, "title of provoking.calm_down");
  EXPECT_EQ(e.evidence.speaker, Speaker::kAgent);
  EXPECT_EQ(e.evidence.segment_id, "s1");
  EXPECT_EQ(e.evidence.matched_text, "CALM down");
  EXPECT_EQ(e.evidence.span_begin, 12u);
  EXPECT_EQ(e.evidence.span_end, 21u);
  EXPECT_EQ(e.evidence.offset_ms, 4200);
  EXPECT_FALSE(e.interim);
}

TEST(CallSessionMatching, WordTimingsGiveTheOffsetOfTheFirstMatchedWord) {
  CallSession session(MustCompile(BasicSpec()));
  Segment s = Agent("s1", "please calm down", 1000);
  s.words = {{1000, 1200}, {1300, 1500}, {1600, 1900}};
  std::vector<Event> events = Play(session, {s});
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_EQ(events[0].evidence.offset_ms, 1300);
}

TEST(CallSessionMatching, RulesListenOnlyToTheirSpeaker) {
  CallSession session(MustCompile(BasicSpec()));
  std::vector<Event> events = Play(session, {Customer("c1", "just calm down and fix it"),
                                            Agent("a1", "the FCC requires that notice")});
  EXPECT_THAT(events, IsEmpty());
}

TEST(CallSessionMatching, PhraseSplitAcrossSegmentsOfOneSpeakerMatchesOnce) {
  CallSession session(MustCompile(BasicSpec()));
  std::vector<Event> events =
      Play(session, {Agent("a1", "I can certainly", 1000), Customer("c1", "mm-hmm", 1800),
                    Agent("a2", "understand how you feel.", 2000),
                    Agent("a3", "Let me look into it.", 4000)});
  ASSERT_THAT(Summaries(events), ElementsAre("nudge:empathy.understand_feel"));
  const Evidence& evidence = events[0].evidence;
  EXPECT_EQ(evidence.first_segment_id, "a1");
  EXPECT_EQ(evidence.segment_id, "a2");
  EXPECT_EQ(evidence.matched_text, "I can certainly understand how you feel");
  EXPECT_EQ(evidence.span_begin, 0u);
  EXPECT_EQ(evidence.span_end, 23u);
  EXPECT_EQ(evidence.offset_ms, 1000);
}

TEST(CallSessionMatching, CarryWordsIsClampedToItsRange) {
  // A phrase said over three segments: 2 + 1 + 4 words.
  const std::vector<Segment> split = {Agent("a1", "I can", 1000), Agent("a2", "certainly", 1500),
                                      Agent("a3", "understand how you feel", 2000)};
  auto nudges = [&](int carry_words) {
    SessionOptions options;
    options.carry_words = carry_words;
    CallSession session(MustCompile(BasicSpec()), options);
    return Summaries(Play(session, split));
  };
  EXPECT_THAT(nudges(12), ElementsAre("nudge:empathy.understand_feel"));
  EXPECT_THAT(nudges(0), IsEmpty());
  // Negative is 0, not "keep everything" (a size_t conversion would be).
  EXPECT_THAT(nudges(-5), IsEmpty());
  // Two words carried are not enough to reach "I" from the third segment.
  EXPECT_THAT(nudges(2), IsEmpty());
  EXPECT_THAT(nudges(3), ElementsAre("nudge:empathy.understand_feel"));
  EXPECT_THAT(nudges(1 << 30), ElementsAre("nudge:empathy.understand_feel"));
}

TEST(CallSessionMatching, LongPauseEndsTheCarryOver) {
  CallSession session(MustCompile(BasicSpec()));
  std::vector<Event> events = Play(
      session, {Agent("a1", "I can certainly", 1000), Agent("a2", "understand how you feel", 9000)});
  EXPECT_THAT(events, IsEmpty());
}

TEST(CallSessionMatching, LongPauseEndsTheCarryOverForInterimHypothesesToo) {
  CallSession session(MustCompile(BasicSpec()));
  std::vector<Event> events =
      Play(session, {Agent("a1", "I can certainly", 1000),
                     Interim("a2", Speaker::kAgent, "understand how you feel", 9000)});
  EXPECT_THAT(events, IsEmpty());
}

TEST(CallSessionMatching, RawPatternMatchingInsideAWordReportsTheWholeWord) {
  RuleSetSpec spec;
  spec.rules.push_back(CustomerRule("legal.partial", "legal_threat", {}));
  spec.rules[0].patterns = testing::Texts({"cc"});
  CallSession session(MustCompile(spec));
  std::vector<Event> events = Play(session, {Customer("c1", "call the FCCX now")});
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_EQ(events[0].evidence.matched_text, "FCCX");
  EXPECT_EQ(events[0].evidence.span_begin, 9u);
  EXPECT_EQ(events[0].evidence.span_end, 13u);
}

TEST(CallSessionMatching, ManyOccurrencesInOneSegmentEachFire) {
  CallSession session(MustCompile(BasicSpec()));
  std::vector<Event> events = Play(session, {Agent("a1", "calm down, I said calm down")});
  EXPECT_THAT(Summaries(events),
              ElementsAre("nudge:provoking.calm_down", "nudge:provoking.calm_down"));
  EXPECT_EQ(events[1].evidence.span_begin, 18u);
}

TEST(CallSessionInterim, FiresOnceWhileTheHypothesisIsRevised) {
  CallSession session(MustCompile(BasicSpec()));
  std::vector<Event> events =
      Play(session, {Interim("a1", Speaker::kAgent, "please calm"),
                    Interim("a1", Speaker::kAgent, "please calm down"),
                    Interim("a1", Speaker::kAgent, "please calm down sir"),
                    Agent("a1", "please calm down sir, it's fine")});
  ASSERT_THAT(Summaries(events), ElementsAre("nudge:provoking.calm_down"));
  EXPECT_TRUE(events[0].interim);
}

TEST(CallSessionInterim, OccurrenceGoneFromTheFinalTextIsRetracted) {
  CallSession session(MustCompile(BasicSpec()));
  std::vector<Event> events = Play(session, {Interim("a1", Speaker::kAgent, "you need to calm down"),
                                            Agent("a1", "you need to come down to the branch")});
  ASSERT_THAT(Summaries(events),
              ElementsAre("nudge:provoking.calm_down", "retraction:provoking.calm_down"));
  EXPECT_EQ(events[1].retracts_seq, events[0].seq);
  EXPECT_EQ(events[1].seq, 2);
  EXPECT_EQ(events[1].evidence.matched_text, "calm down");
  std::vector<Event> end;
  auto report = session.Finish(&end);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->nudges, 0);
  EXPECT_EQ(report->retractions, 1);
  EXPECT_TRUE(report->category_counts.empty());
}

TEST(CallSessionInterim, SecondOccurrenceAddedInTheFinalTextFires) {
  CallSession session(MustCompile(BasicSpec()));
  std::vector<Event> events = Play(session, {Interim("a1", Speaker::kAgent, "calm down"),
                                            Agent("a1", "calm down, just calm down")});
  EXPECT_THAT(Summaries(events),
              ElementsAre("nudge:provoking.calm_down", "nudge:provoking.calm_down"));
  EXPECT_TRUE(events[0].interim);
  EXPECT_FALSE(events[1].interim);
}

TEST(CallSessionInterim, FinalOnlyPolicyWaitsForTheFinal) {
  SessionOptions options;
  options.interim_policy = InterimPolicy::kFinalOnly;
  CallSession session(MustCompile(BasicSpec()), options);
  std::vector<Event> events;
  ASSERT_TRUE(session.ProcessSegment(Interim("a1", Speaker::kAgent, "calm down"), &events).ok());
  EXPECT_THAT(events, IsEmpty());
  ASSERT_TRUE(session.ProcessSegment(Agent("a1", "calm down"), &events).ok());
  ASSERT_THAT(Summaries(events), ElementsAre("nudge:provoking.calm_down"));
  EXPECT_FALSE(events[0].interim);
}

TEST(CallSessionInterim, UnstableHypothesesBelowTheThresholdDoNotFire) {
  SessionOptions options;
  options.min_interim_stability = 0.8f;
  CallSession session(MustCompile(BasicSpec()), options);
  Segment shaky = Interim("a1", Speaker::kAgent, "calm down");
  shaky.stability = 0.3f;
  Segment steady = shaky;
  steady.stability = 0.9f;
  std::vector<Event> events;
  ASSERT_TRUE(session.ProcessSegment(shaky, &events).ok());
  EXPECT_THAT(events, IsEmpty());
  ASSERT_TRUE(session.ProcessSegment(steady, &events).ok());
  EXPECT_THAT(Summaries(events), ElementsAre("nudge:provoking.calm_down"));
}

TEST(CallSessionInterim, NewSegmentIdFinalizesTheOpenHypothesis) {
  CallSession session(MustCompile(BasicSpec()));
  std::vector<Event> events = Play(session, {Interim("a1", Speaker::kAgent, "calm down"),
                                            Interim("a2", Speaker::kAgent, "hello")});
  std::vector<Event> end;
  auto report = session.Finish(&end);
  ASSERT_TRUE(report.ok());
  EXPECT_THAT(Summaries(events), ElementsAre("nudge:provoking.calm_down"));
  EXPECT_THAT(end, IsEmpty());
  EXPECT_EQ(report->segments, 2);
  EXPECT_EQ(report->category_counts["provoking"][Speaker::kAgent], 1);
  // Finalized segments cannot be revised any more.
  std::vector<Event> more;
  CallSession again(MustCompile(BasicSpec()));
  Play(again, {Interim("a1", Speaker::kAgent, "x"), Interim("a2", Speaker::kAgent, "y")});
  EXPECT_EQ(again.ProcessSegment(Agent("a1", "x"), &more).code(),
            absl::StatusCode::kFailedPrecondition);
}

RuleSetSpec LimitedSpec(int64_t cooldown_ms, int max_per_call) {
  RuleSetSpec spec = BasicSpec();
  spec.rules[0].cooldown_ms = cooldown_ms;
  spec.rules[0].max_per_call = max_per_call;
  return spec;
}

TEST(CallSessionLimits, CooldownSuppressesRepeatsWithinTheWindow) {
  CallSession session(MustCompile(LimitedSpec(30000, 0)));
  std::vector<Event> events =
      Play(session, {Agent("a1", "calm down", 0), Agent("a2", "calm down", 10000),
                    Agent("a3", "calm down", 31000)});
  ASSERT_THAT(events, SizeIs(2));
  EXPECT_EQ(events[0].evidence.segment_id, "a1");
  EXPECT_EQ(events[1].evidence.segment_id, "a3");
  std::vector<Event> end;
  // Suppressed nudges are still detections: the report counts what was said.
  EXPECT_EQ(session.Finish(&end)->category_counts["provoking"][Speaker::kAgent], 3);
}

TEST(CallSessionLimits, MaxPerCallCapsNudges) {
  CallSession session(MustCompile(LimitedSpec(0, 2)));
  std::vector<Event> events = Play(session, {Agent("a1", "calm down"), Agent("a2", "calm down"),
                                            Agent("a3", "calm down")});
  EXPECT_THAT(events, SizeIs(2));
}

TEST(CallSessionLimits, RetractedNudgeDoesNotCountAgainstMaxPerCall) {
  CallSession session(MustCompile(LimitedSpec(0, 1)));
  std::vector<Event> events =
      Play(session, {Interim("a1", Speaker::kAgent, "calm down"), Agent("a1", "come down"),
                    Agent("a2", "calm down")});
  EXPECT_THAT(Summaries(events),
              ElementsAre("nudge:provoking.calm_down", "retraction:provoking.calm_down",
                          "nudge:provoking.calm_down"));
}

TEST(CallSessionLimits, RetractedNudgeDoesNotHoldTheCooldown) {
  CallSession session(MustCompile(LimitedSpec(30000, 0)));
  std::vector<Event> events =
      Play(session, {Interim("a1", Speaker::kAgent, "calm down"), Agent("a1", "come down", 0),
                    Agent("a2", "calm down", 5000), Agent("a3", "calm down", 10000)});
  EXPECT_THAT(Summaries(events),
              ElementsAre("nudge:provoking.calm_down", "retraction:provoking.calm_down",
                          "nudge:provoking.calm_down"));
  EXPECT_EQ(events[2].evidence.segment_id, "a2");
}

TEST(CallSessionLimits, RuleWithoutLimitsNudgesEveryOccurrenceAlongsideALimitedRule) {
  // LimitedSpec(0, 0) has no cooldown and no cap: such a rule keeps no state,
  // and its retractions must not disturb a limited rule's state.
  RuleSetSpec spec = LimitedSpec(0, 0);
  spec.rules.push_back(AgentRule("provoking.relax", "provoking", {"just relax"}));
  spec.rules.back().max_per_call = 1;
  CallSession session(MustCompile(spec));
  std::vector<Event> events = Play(
      session, {Interim("a1", Speaker::kAgent, "calm down just relax"), Agent("a1", "come down"),
                Agent("a2", "calm down calm down"), Agent("a3", "just relax calm down")});
  EXPECT_THAT(Summaries(events),
              ElementsAre("nudge:provoking.calm_down", "nudge:provoking.relax",
                          "retraction:provoking.calm_down", "retraction:provoking.relax",
                          "nudge:provoking.calm_down", "nudge:provoking.calm_down",
                          "nudge:provoking.relax", "nudge:provoking.calm_down"));
}

RuleSetSpec ExpectationSpecs(int64_t within_ms, int within_turns) {
  RuleSetSpec spec = BasicSpec();
  spec.rules.push_back(CustomerRule("frustration.ridiculous", "frustration",
                                    {"this is ridiculous"}, RuleKind::kCue));
  ExpectationSpec expectation;
  expectation.id = "expect.empathy";
  expectation.category = "missed_empathy";
  expectation.when = {"frustration", "legal_threat"};
  expectation.expect = {"empathy"};
  expectation.within_ms = within_ms;
  expectation.within_agent_turns = within_turns;
  expectation.title = "Acknowledge the customer's feelings";
  expectation.message = "Acknowledge the customer's feelings before you explain.";
  spec.expectations.push_back(expectation);
  return spec;
}

TEST(CallSessionExpectations, MissedWithinTheTimeLimitSendsAReminder) {
  CallSession session(MustCompile(ExpectationSpecs(30000, 0)));
  std::vector<Event> events =
      Play(session, {Customer("c1", "this is ridiculous", 5000), Agent("a1", "let me check", 10000),
                    Agent("a2", "one moment please", 36000)});
  ASSERT_THAT(Summaries(events),
              ElementsAre("nudge:frustration.ridiculous", "reminder:expect.empathy"));
  const Event& reminder = events[1];
  EXPECT_EQ(reminder.kind, RuleKind::kReminder);
  EXPECT_EQ(reminder.category, "missed_empathy");
  EXPECT_EQ(reminder.message, "Acknowledge the customer's feelings before you explain.");
  EXPECT_EQ(reminder.trigger_category, "frustration");
  EXPECT_EQ(reminder.trigger_rule_id, "frustration.ridiculous");
  EXPECT_EQ(reminder.evidence.matched_text, "this is ridiculous");
  EXPECT_EQ(reminder.missed_reason, MissedReason::kTime);
  EXPECT_EQ(reminder.due_ms, 35000);
}

TEST(CallSessionExpectations, MissedWithinTheTurnLimitSendsAReminder) {
  CallSession session(MustCompile(ExpectationSpecs(0, 1)));
  std::vector<Event> events =
      Play(session, {Customer("c1", "this is ridiculous"), Agent("a1", "what is your account"),
                    Agent("a2", "number please"), Customer("c2", "it is 1234")});
  ASSERT_THAT(Summaries(events),
              ElementsAre("nudge:frustration.ridiculous", "reminder:expect.empathy"));
  EXPECT_EQ(events[1].missed_reason, MissedReason::kTurns);
}

TEST(CallSessionExpectations, ExpectedCategoryInTimeClosesTheExpectation) {
  CallSession session(MustCompile(ExpectationSpecs(30000, 1)));
  std::vector<Event> events =
      Play(session, {Customer("c1", "this is ridiculous", 0),
                    Agent("a1", "I can understand how you feel", 4000),
                    Customer("c2", "ok", 50000), Agent("a2", "thanks", 60000)});
  EXPECT_THAT(Summaries(events),
              ElementsAre("nudge:frustration.ridiculous", "nudge:empathy.understand_feel"));
  std::vector<Event> end;
  auto report = session.Finish(&end);
  EXPECT_THAT(end, IsEmpty());
  EXPECT_THAT(report->missed_expectations, IsEmpty());
}

TEST(CallSessionExpectations, OpenExpectationIsMissedAtTheEndOfTheCall) {
  CallSession session(MustCompile(ExpectationSpecs(30000, 2)));
  std::vector<Event> events = Play(session, {Customer("c1", "I'll call the FCC", 2000)});
  ASSERT_THAT(Summaries(events), ElementsAre("nudge:legal.fcc"));
  std::vector<Event> end;
  auto report = session.Finish(&end);
  ASSERT_THAT(Summaries(end), ElementsAre("reminder:expect.empathy"));
  EXPECT_EQ(end[0].missed_reason, MissedReason::kEndOfCall);
  EXPECT_EQ(end[0].trigger_kind, RuleKind::kEscalation);
  ASSERT_THAT(report->missed_expectations, SizeIs(1));
  EXPECT_EQ(report->missed_expectations[0].reminder_seq, end[0].seq);
  EXPECT_EQ(report->seq, end[0].seq + 1);
}

TEST(CallSessionExpectations, RepeatedTriggerWhileOpenDoesNotStackReminders) {
  CallSession session(MustCompile(ExpectationSpecs(30000, 0)));
  std::vector<Event> events =
      Play(session, {Customer("c1", "this is ridiculous", 0), Customer("c2", "this is ridiculous", 5000),
                    Agent("a1", "ok", 40000)});
  EXPECT_THAT(Summaries(events),
              ElementsAre("nudge:frustration.ridiculous", "nudge:frustration.ridiculous",
                          "reminder:expect.empathy"));
}

TEST(CallSessionExpectations, DeadlinePassesOnAnInterimHypothesis) {
  CallSession session(MustCompile(ExpectationSpecs(30000, 0)));
  std::vector<Event> events = Play(session, {Customer("c1", "this is ridiculous", 0),
                                            Interim("a1", Speaker::kAgent, "so", 40000)});
  ASSERT_THAT(Summaries(events),
              ElementsAre("nudge:frustration.ridiculous", "reminder:expect.empathy"));
  EXPECT_EQ(events[1].missed_reason, MissedReason::kTime);
}

TEST(CallSessionExpectations, DeadlineThatPassedBeforeTheEndIsMissedInTime) {
  CallSession session(MustCompile(ExpectationSpecs(30000, 0)));
  Segment long_rant = Customer("c1", "this is ridiculous", 0);
  long_rant.end_ms = 45000;
  std::vector<Event> events = Play(session, {long_rant});
  std::vector<Event> end;
  ASSERT_TRUE(session.Finish(&end).ok());
  ASSERT_THAT(Summaries(end), ElementsAre("reminder:expect.empathy"));
  EXPECT_EQ(end[0].missed_reason, MissedReason::kTime);
  EXPECT_EQ(end[0].due_ms, 30000);
}

TEST(CallSessionExpectations, EmptyFinalIsNotATurn) {
  CallSession session(MustCompile(ExpectationSpecs(0, 1)));
  std::vector<Event> events = Play(session, {Customer("c1", "this is ridiculous"),
                                            Agent("a1", " um "), Customer("c2", "hello?"),
                                            Agent("a2", "I can understand how you feel")});
  EXPECT_THAT(Summaries(events),
              ElementsAre("nudge:frustration.ridiculous", "nudge:empathy.understand_feel"));
}

TEST(CallSessionScore, ConductPenaltyIsCappedAtFifty) {
  RuleSetSpec spec = BasicSpec();
  spec.rules[0].severity = Severity::kHigh;
  CallSession session(MustCompile(spec));
  std::vector<Segment> segments;
  for (int i = 0; i < 7; ++i) segments.push_back(Agent("a" + std::to_string(i), "calm down", i * 1000));
  Play(session, segments);
  std::vector<Event> end;
  auto report = session.Finish(&end);
  EXPECT_EQ(report->score.conduct_penalty, 50);
  EXPECT_EQ(report->score.score, 50);
}

TEST(CallSessionScore, MissedExpectationPenaltyIsCappedAtThirty) {
  RuleSetSpec spec = BasicSpec();
  for (int i = 0; i < 4; ++i) {
    ExpectationSpec expectation;
    expectation.id = "expect.empathy" + std::to_string(i);
    expectation.category = "missed_empathy";
    expectation.expect = {"empathy"};
    expectation.title = "Empathize";
    expectation.message = "Say it.";
    spec.expectations.push_back(expectation);
  }
  CallSession session(MustCompile(spec));
  Play(session, {Agent("a1", "hello")});
  std::vector<Event> end;
  auto report = session.Finish(&end);
  EXPECT_EQ(report->score.missed_expectation_penalty, 30);
  EXPECT_EQ(report->score.score, 70);
}

TEST(CallSessionScore, AsapStepsMissingAfterACueCostFivePointsEach) {
  auto rules = MustCompile(BasicSpec());
  CallSession silent(rules);
  Play(silent, {Customer("c1", "I am calling the FCC")});
  std::vector<Event> end;
  auto none = silent.Finish(&end);
  EXPECT_EQ(none->score.asap_penalty, 20);
  EXPECT_EQ(none->score.score, 80);

  CallSession empathic(rules);
  Play(empathic, {Customer("c1", "I am calling the FCC", 0),
                  Agent("a1", "I can understand how you feel", 2000)});
  auto one_step = empathic.Finish(&end);
  EXPECT_TRUE(one_step->asap[0].done);
  EXPECT_EQ(one_step->score.asap_penalty, 15);
  EXPECT_EQ(one_step->empathy_latency_ms, 2000);

  // Without a customer cue the checklist costs nothing.
  CallSession calm(rules);
  Play(calm, {Agent("a1", "hello")});
  EXPECT_EQ(calm.Finish(&end)->score.asap_penalty, 0);
}

TEST(CallSessionExpectations, EndOfCallExpectationsAreScored) {
  RuleSetSpec spec = BasicSpec();
  spec.rules.push_back(AgentRule("confirm.sound_good", "confirm_understanding",
                                 {"does that sound good"}, RuleKind::kReinforcement));
  ExpectationSpec confirm;
  confirm.id = "expect.confirm";
  confirm.category = "missed_confirmation";
  confirm.expect = {"confirm_understanding"};
  confirm.title = "Confirm understanding";
  confirm.message = "Check the customer agrees.";
  spec.expectations.push_back(confirm);
  auto rules = MustCompile(spec);

  CallSession confirmed(rules);
  Play(confirmed, {Agent("a1", "Does that sound good to you?")});
  std::vector<Event> end;
  auto good = confirmed.Finish(&end);
  ASSERT_THAT(good->call_expectations, SizeIs(1));
  EXPECT_TRUE(good->call_expectations[0].met);
  EXPECT_EQ(good->call_expectations[0].count, 1);
  EXPECT_TRUE(good->understanding_confirmed);
  EXPECT_EQ(good->score.score, 100);

  CallSession unconfirmed(rules);
  Play(unconfirmed, {Agent("a1", "Bye now")});
  auto bad = unconfirmed.Finish(&end);
  EXPECT_FALSE(bad->call_expectations[0].met);
  EXPECT_FALSE(bad->understanding_confirmed);
  EXPECT_EQ(bad->score.missed_expectation_penalty, 10);
  EXPECT_EQ(bad->score.score, 90);
}

TEST(CallSessionErrors, RejectBadSegmentsAndLeaveTheSessionUsable) {
  CallSession session(MustCompile(BasicSpec()));
  std::vector<Event> events;
  EXPECT_EQ(session.ProcessSegment(Agent("", "calm down"), &events).code(),
            absl::StatusCode::kInvalidArgument);
  Segment bad_speaker = Agent("a0", "calm down");
  bad_speaker.speaker = static_cast<Speaker>(7);
  EXPECT_EQ(session.ProcessSegment(bad_speaker, &events).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(session.ProcessSegment(Agent("a1", "hello"), &events).ok());
  absl::Status again = session.ProcessSegment(Agent("a1", "calm down"), &events);
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.message(), HasSubstr("'a1' is already final"));
  EXPECT_THAT(events, IsEmpty());
  ASSERT_TRUE(session.ProcessSegment(Agent("a2", "calm down"), &events).ok());
  EXPECT_THAT(events, SizeIs(1));
  ASSERT_TRUE(session.Finish(&events).ok());
  EXPECT_EQ(session.ProcessSegment(Agent("a3", "hi"), &events).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(session.Finish(&events).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(CallSessionErrors, TimesOutsideTheCallRangeAreRejectedByField) {
  CallSession session(MustCompile(BasicSpec()));
  std::vector<Event> events;
  absl::Status negative = session.ProcessSegment(Agent("a1", "calm down", -5), &events);
  EXPECT_EQ(negative.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(negative.message(), HasSubstr("start_ms is -5"));
  Segment huge_end = Agent("a2", "calm down");
  huge_end.end_ms = std::numeric_limits<int64_t>::max();
  EXPECT_THAT(session.ProcessSegment(huge_end, &events).message(), HasSubstr("end_ms"));
  Segment bad_word = Agent("a3", "calm down");
  bad_word.words = {{0, 10}, {std::numeric_limits<int64_t>::min(), 20}};
  EXPECT_THAT(session.ProcessSegment(bad_word, &events).message(),
              HasSubstr("words[1].start_ms"));
  EXPECT_THAT(events, IsEmpty());
  // The largest allowed time is accepted and its arithmetic does not overflow.
  ASSERT_TRUE(session.ProcessSegment(Agent("a4", "calm down", kMaxCallTimeMs - 1000), &events).ok());
  EXPECT_THAT(events, SizeIs(1));
}

TEST(CallSessionErrors, TextOverTheSizeLimitIsRejected) {
  SessionOptions options;
  options.max_segment_bytes = 16;
  CallSession session(MustCompile(BasicSpec()), options);
  std::vector<Event> events;
  absl::Status status = session.ProcessSegment(Agent("a1", "please calm down right now"), &events);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("26 bytes; the limit is 16"));
  EXPECT_TRUE(session.ProcessSegment(Agent("a2", "calm down"), &events).ok());
  EXPECT_THAT(events, SizeIs(1));
}

TEST(CallSessionErrors, SegmentIdsAreFinalPerSpeaker) {
  // Some STT engines number each channel's results on their own.
  CallSession session(MustCompile(BasicSpec()));
  std::vector<Event> events =
      Play(session, {Agent("1", "hello"), Customer("1", "I will call the FCC")});
  EXPECT_THAT(Summaries(events), ElementsAre("nudge:legal.fcc"));
  EXPECT_EQ(session.ProcessSegment(Customer("1", "again"), &events).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(CallSessionMatching, MatchedTextIsValidUtf8EvenWhenTheTranscriptIsNot) {
  CallSession session(MustCompile(BasicSpec()));
  std::vector<Event> events = Play(session, {Agent("a1", "please calm\xff" "down")});
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_EQ(events[0].evidence.matched_text, "calm\xEF\xBF\xBD" "down");
}

TEST(CallSessionMatching, CarriedMatchExtendedByAnOptionalWordIsNotCountedAgain) {
  RuleSetSpec spec;
  spec.rules.push_back(AgentRule("blame.your_fault", "blame", {"your fault [again]"}));
  CallSession session(MustCompile(spec));
  std::vector<Event> events = Play(session, {Agent("a1", "that is your fault", 0),
                                            Agent("a2", "again and your fault", 1500)});
  // a2 holds one new occurrence ("your fault" at its end), not a second
  // report of "your fault again" that began in a1.
  ASSERT_THAT(Summaries(events), ElementsAre("nudge:blame.your_fault", "nudge:blame.your_fault"));
  EXPECT_EQ(events[0].evidence.segment_id, "a1");
  EXPECT_EQ(events[1].evidence.segment_id, "a2");
  EXPECT_EQ(events[1].evidence.matched_text, "your fault");
  std::vector<Event> end;
  EXPECT_EQ(session.Finish(&end)->category_counts["blame"][Speaker::kAgent], 2);
}

TEST(CallSessionMatching, AnchoredPatternsMatchAtTheStartOfEachSegment) {
  RuleSetSpec spec;
  RuleSpec rule = AgentRule("provoking.calm_down_opening", "provoking", {});
  rule.patterns = testing::Texts({"^ (?:(?:ok|okay) )*calm down "});
  spec.rules.push_back(rule);
  auto rules = MustCompile(spec);
  // The only agent rule is anchored: it is in the segment Set only.
  EXPECT_THAT(rules->set_rules(Speaker::kAgent, RulePart::kWindow), IsEmpty());
  EXPECT_THAT(rules->set_rules(Speaker::kAgent, RulePart::kSegment), ElementsAre(0));
  EXPECT_EQ(rules->set_for(Speaker::kCustomer, RulePart::kSegment), nullptr);
  CallSession session(rules);
  std::vector<Event> events =
      Play(session, {Agent("a1", "I hear you", 0), Agent("a2", "okay calm down please", 1500),
                    Agent("a3", "things will calm down soon", 3000),
                    Interim("a4", Speaker::kAgent, "calm down"), Agent("a4", "calm down", 4000)});
  ASSERT_THAT(Summaries(events), ElementsAre("nudge:provoking.calm_down_opening",
                                             "nudge:provoking.calm_down_opening"));
  EXPECT_EQ(events[0].evidence.segment_id, "a2");
  EXPECT_EQ(events[0].evidence.matched_text, "okay calm down");
  EXPECT_TRUE(events[1].interim);
  EXPECT_EQ(events[1].evidence.segment_id, "a4");
}
TEST(CallSessionMatching, PhraseAndAnchoredPatternOfOneRuleCountOnce) {
  RuleSetSpec spec;
  RuleSpec rule = AgentRule("provoking.calm_down", "provoking", {"please calm down"});
  rule.patterns = testing::Texts({"^ calm down "});
  spec.rules.push_back(rule);
  CallSession session(MustCompile(spec));
  std::vector<Event> events =
      Play(session, {Agent("a1", "okay please", 0), Agent("a2", "calm down", 1000),
                    Agent("a3", "calm down please calm down", 2000)});
  // a2: the phrase across segments and the anchored pattern overlap: one
  // occurrence. a3: the anchored one at the start, then the phrase.
  ASSERT_THAT(Summaries(events), ElementsAre("nudge:provoking.calm_down",
                                             "nudge:provoking.calm_down",
                                             "nudge:provoking.calm_down"));
  EXPECT_EQ(events[0].evidence.matched_text, "please calm down");
  EXPECT_EQ(events[1].evidence.matched_text, "calm down");
  EXPECT_EQ(events[2].evidence.matched_text, "please calm down");
}

TEST(CallSessionDeterminism, SameInputGivesSameEventsAndReport) {
  auto rules = MustCompile(ExpectationSpecs(30000, 1));
  const std::vector<Segment> call = {
      Customer("c1", "this is ridiculous, I'll go to the FCC", 0),
      Interim("a1", Speaker::kAgent, "calm down"), Agent("a1", "please calm down", 3000),
      Agent("a2", "I can certainly understand how you feel", 6000)};
  auto play = [&] {
    CallSession session(rules);
    std::vector<Event> events = Play(session, call);
    auto report = session.Finish(&events);
    std::vector<std::string> out = Summaries(events);
    for (const Event& e : events) out.push_back(std::to_string(e.seq) + e.evidence.matched_text);
    out.push_back(std::to_string(report->score.score));
    return out;
  };
  EXPECT_EQ(play(), play());
}

TEST(CallSessionSharing, OneRuleSetServesManyThreadsWithIdenticalResults) {
  auto rules = MustCompile(ExpectationSpecs(30000, 1));
  const std::vector<Segment> call = {
      Customer("c1", "this is ridiculous, I'll go to the FCC", 0),
      Interim("a1", Speaker::kAgent, "calm down"), Agent("a1", "please calm down", 3000),
      Agent("a2", "I can certainly understand how you feel", 6000)};
  auto play = [&] {
    std::vector<std::string> out;
    for (int i = 0; i < 200; ++i) {
      CallSession session(rules);
      std::vector<Event> events;
      for (const Segment& s : call) {
        if (!session.ProcessSegment(s, &events).ok()) out.push_back("error");
      }
      auto report = session.Finish(&events);
      if (i == 0) {
        out = Summaries(events);
        out.push_back(std::to_string(report->score.score));
      }
    }
    return out;
  };
  const std::vector<std::string> expected = play();
  std::vector<std::vector<std::string>> results(4);
  std::vector<std::thread> threads;
  for (auto& result : results) threads.emplace_back([&result, &play] { result = play(); });
  for (auto& thread : threads) thread.join();
  for (const auto& result : results) EXPECT_EQ(result, expected);
  EXPECT_THAT(expected, ::testing::Contains("nudge:legal.fcc"));
}

}  // namespace
}  // namespace coach::engine
