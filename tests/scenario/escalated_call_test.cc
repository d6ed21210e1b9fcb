// Scenario: the bundled sample call (tests/data/calls/escalated_call.jsonl)
// played through the engine with the bundled packs. The customer is frustrated,
// threatens the FCC and asks for the CEO; the agent says "you need to calm
// down", then recovers with empathy, ownership, an apology, assurance, next
// steps and commitments. Asserts every event and the scorecard exactly.

#include <string>
#include <tuple>
#include <vector>

#include "engine/call_session.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "phrase_lists/loader.h"
#include "transcripts/jsonl_reader.h"

namespace coach {
namespace {

using engine::EventType;
using engine::MissedReason;
using engine::Speaker;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::Pair;

const std::string kSourceDir = COACHD_SOURCE_DIR;

class EscalatedCall : public ::testing::Test {
 protected:
  void SetUp() override {
    auto rules = phrase_lists::LoadRuleSet({kSourceDir + "/phrase_lists"});
    ASSERT_TRUE(rules.ok()) << rules.status();
    auto calls = transcripts::ReadJsonlFile(kSourceDir + "/tests/data/calls/escalated_call.jsonl");
    ASSERT_TRUE(calls.ok()) << calls.status();
    ASSERT_EQ(calls->size(), 1u);
    engine::CallSession session(*rules);
    for (const auto& segment : (*calls)[0].segments) {
      ASSERT_TRUE(session.ProcessSegment(segment, &events_).ok()) << segment.segment_id;
    }
    auto report = session.Finish(&events_);
    ASSERT_TRUE(report.ok()) << report.status();
    report_ = *report;
    version_ = (*rules)->version();
  }

  std::vector<engine::Event> events_;
  engine::CallReport report_;
  std::string version_;
};

using Row = std::tuple<int64_t, std::string, std::string, std::string, std::string>;

TEST_F(EscalatedCall, ProducesExactlyTheseEvents) {
  std::vector<Row> rows;
  for (const auto& e : events_) {
    rows.emplace_back(e.seq, std::string(engine::EventTypeName(e.type)), e.rule_id,
                      e.evidence.segment_id, e.evidence.matched_text);
  }
  EXPECT_THAT(rows,
              ElementsAreArray(std::vector<Row>{
                  {1, "nudge", "frustration.on_hold", "c1", "been on hold for an hour"},
                  {2, "nudge", "frustration.nth_time", "c1", "this is the third time"},
                  {3, "nudge", "frustration.ridiculous", "c2", "This is ridiculous"},
                  {4, "nudge", "legal_threat.fcc", "c2", "report you to the FCC"},
                  {5, "nudge", "provoking.you_need_to", "a2", "you need to"},
                  {6, "nudge", "provoking.calm_down", "a2", "you need to calm down"},
                  {7, "reminder", "expect.empathy_after_frustration", "c1",
                   "been on hold for an hour"},
                  {8, "nudge", "executive_request.ceo", "c3", "speak to your CEO"},
                  {9, "nudge", "empathy.understand_how_you_feel", "a3",
                   "I can certainly understand how you feel"},
                  {10, "nudge", "ownership.our_mistake", "a4", "That was our mistake"},
                  {11, "nudge", "apology.apologize_for", "a4", "I apologize for the inconvenience"},
                  {12, "nudge", "assurance.do_everything", "a5", "I will do everything I can"},
                  {13, "nudge", "next_steps.heres_what_ill_do", "a6", "Here's what I'm going to do"},
                  {14, "nudge", "next_steps.escalate", "a6", "I'll escalate the"},
                  {15, "nudge", "commitment.credit_applied", "a6", "I've applied a credit"},
                  {16, "nudge", "commitment.callback", "a7", "I'll call you"},
                  {17, "nudge", "confirm_understanding.sound_good", "a7", "Does that sound good"},
              }));
}

TEST_F(EscalatedCall, InterimHypothesisFiredEarlyAndOnlyOnce) {
  ASSERT_GE(events_.size(), 6u);
  EXPECT_TRUE(events_[4].interim);                // "you need to" seen in "Okay, you need to calm"
  EXPECT_FALSE(events_[5].interim);               // "calm down" arrived only in the final text
  EXPECT_EQ(events_[5].evidence.offset_ms, 13800);
  EXPECT_EQ(events_[5].evidence.span_begin, 6u);  // within "Okay, you need to calm down so..."
  EXPECT_EQ(events_[5].evidence.span_end, 27u);
}

TEST_F(EscalatedCall, ReminderExplainsWhatWasMissed) {
  const engine::Event& reminder = events_[6];
  EXPECT_EQ(reminder.type, EventType::kReminder);
  EXPECT_EQ(reminder.category, "missed_empathy");
  EXPECT_EQ(reminder.trigger_category, "frustration");
  EXPECT_EQ(reminder.missed_reason, MissedReason::kTurns);
}

TEST_F(EscalatedCall, ScorecardIsExact) {
  EXPECT_EQ(report_.seq, 18);
  EXPECT_EQ(report_.rule_set_version, version_);
  EXPECT_EQ(report_.segments, 12);
  EXPECT_EQ(report_.nudges, 16);
  EXPECT_EQ(report_.retractions, 0);
  EXPECT_EQ(report_.reminders, 1);
  EXPECT_THAT(report_.category_counts,
              ElementsAre(Pair("apology", ElementsAre(Pair(Speaker::kAgent, 1))),
                          Pair("assurance", ElementsAre(Pair(Speaker::kAgent, 1))),
                          Pair("commitment", ElementsAre(Pair(Speaker::kAgent, 2))),
                          Pair("confirm_understanding", ElementsAre(Pair(Speaker::kAgent, 1))),
                          Pair("empathy", ElementsAre(Pair(Speaker::kAgent, 1))),
                          Pair("executive_request", ElementsAre(Pair(Speaker::kCustomer, 1))),
                          Pair("frustration", ElementsAre(Pair(Speaker::kCustomer, 3))),
                          Pair("legal_threat", ElementsAre(Pair(Speaker::kCustomer, 1))),
                          Pair("next_steps", ElementsAre(Pair(Speaker::kAgent, 2))),
                          Pair("ownership", ElementsAre(Pair(Speaker::kAgent, 1))),
                          Pair("provoking", ElementsAre(Pair(Speaker::kAgent, 2)))));
  EXPECT_EQ(report_.first_cue_offset_ms, 0);
  EXPECT_EQ(report_.first_empathy_after_cue_offset_ms, 21500);
  EXPECT_EQ(report_.empathy_latency_ms, 21500);
  ASSERT_EQ(report_.asap.size(), 4u);
  const std::vector<std::tuple<std::string, bool, int64_t>> asap = {
      {"acknowledge", true, 21500},
      {"sympathize", true, 23600},
      {"accept_responsibility", true, 23600},
      {"prepare_to_help", true, 27000}};
  for (size_t i = 0; i < asap.size(); ++i) {
    EXPECT_EQ(report_.asap[i].name, std::get<0>(asap[i]));
    EXPECT_EQ(report_.asap[i].done, std::get<1>(asap[i]));
    EXPECT_EQ(report_.asap[i].first_offset_ms, std::get<2>(asap[i]));
  }
  EXPECT_TRUE(report_.understanding_confirmed);
  ASSERT_EQ(report_.commitments.size(), 2u);
  EXPECT_EQ(report_.commitments[0].evidence.matched_text, "I've applied a credit");
  EXPECT_EQ(report_.commitments[0].evidence.offset_ms, 30200);
  EXPECT_EQ(report_.commitments[1].evidence.matched_text, "I'll call you");
  EXPECT_EQ(report_.commitments[1].evidence.offset_ms, 36800);
  std::vector<std::string> cues;
  for (const auto& cue : report_.escalation_cues) cues.push_back(cue.category);
  EXPECT_THAT(cues, ElementsAre("frustration", "frustration", "frustration", "legal_threat",
                                "executive_request"));
  ASSERT_EQ(report_.missed_expectations.size(), 1u);
  EXPECT_EQ(report_.missed_expectations[0].expectation_id, "expect.empathy_after_frustration");
  EXPECT_EQ(report_.missed_expectations[0].reminder_seq, 7);
  ASSERT_EQ(report_.call_expectations.size(), 2u);
  EXPECT_TRUE(report_.call_expectations[0].met);
  EXPECT_TRUE(report_.call_expectations[1].met);
  // 100 - conduct (you_need_to low 3 + calm_down high 10) - one missed expectation (10).
  EXPECT_EQ(report_.score.conduct_penalty, 13);
  EXPECT_EQ(report_.score.missed_expectation_penalty, 10);
  EXPECT_EQ(report_.score.asap_penalty, 0);
  EXPECT_EQ(report_.score.score, 77);
  EXPECT_EQ(report_.set_out_of_memory_fallbacks, 0);
}

}  // namespace
}  // namespace coach
