// Helpers for engine tests: build small rule sets inline, and run whole calls.
// Header-only; tests only.

#ifndef COACHD_TESTS_ENGINE_TEST_RULES_H_
#define COACHD_TESTS_ENGINE_TEST_RULES_H_

#include <memory>
#include <string>
#include <vector>

#include "engine/call_session.h"
#include "engine/rule_set.h"
#include "gtest/gtest.h"

namespace coach::engine::testing {

inline std::vector<LocatedText> Texts(const std::vector<std::string>& texts) {
  std::vector<LocatedText> out;
  int line = 1;
  for (const std::string& t : texts) out.push_back(LocatedText{t, SourceLocation{"test", line++, 1}});
  return out;
}

inline RuleSpec Rule(std::string id, std::string category, RuleKind kind, SpeakerScope speaker,
                     std::vector<std::string> phrases) {
  RuleSpec rule;
  rule.id = std::move(id);
  rule.category = std::move(category);
  rule.kind = kind;
  rule.speaker = speaker;
  rule.phrases = Texts(phrases);
  rule.title = "title of " + rule.id;
  rule.message = "message of " + rule.id;
  rule.location = SourceLocation{"test.textproto", 1, 1};
  return rule;
}

inline RuleSpec AgentRule(std::string id, std::string category, std::vector<std::string> phrases,
                          RuleKind kind = RuleKind::kCorrective) {
  return Rule(std::move(id), std::move(category), kind, SpeakerScope::kAgent, std::move(phrases));
}

inline RuleSpec CustomerRule(std::string id, std::string category, std::vector<std::string> phrases,
                             RuleKind kind = RuleKind::kEscalation) {
  return Rule(std::move(id), std::move(category), kind, SpeakerScope::kCustomer,
              std::move(phrases));
}

inline std::shared_ptr<const RuleSet> MustCompile(RuleSetSpec spec, CompileOptions options = {}) {
  auto rules = RuleSet::Compile(std::move(spec), options);
  EXPECT_TRUE(rules.ok()) << rules.status();
  return rules.ok() ? *rules : nullptr;
}

inline Segment Seg(std::string id, Speaker speaker, std::string text, int64_t start_ms = 0,
                   bool is_final = true) {
  Segment s;
  s.segment_id = std::move(id);
  s.speaker = speaker;
  s.text = std::move(text);
  s.start_ms = start_ms;
  s.end_ms = start_ms + 1000;
  s.is_final = is_final;
  return s;
}

inline Segment Agent(std::string id, std::string text, int64_t start_ms = 0) {
  return Seg(std::move(id), Speaker::kAgent, std::move(text), start_ms);
}
inline Segment Customer(std::string id, std::string text, int64_t start_ms = 0) {
  return Seg(std::move(id), Speaker::kCustomer, std::move(text), start_ms);
}
inline Segment Interim(std::string id, Speaker speaker, std::string text, int64_t start_ms = 0) {
  return Seg(std::move(id), speaker, std::move(text), start_ms, /*is_final=*/false);
}

// Feeds every segment (each must be accepted) and returns all events.
inline std::vector<Event> Play(CallSession& session, const std::vector<Segment>& segments) {
  std::vector<Event> events;
  for (const Segment& s : segments) {
    absl::Status status = session.ProcessSegment(s, &events);
    EXPECT_TRUE(status.ok()) << s.segment_id << ": " << status;
  }
  return events;
}

// "type:rule_id" per event, for compact exact assertions.
inline std::vector<std::string> Summaries(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const Event& e : events) {
    out.push_back(std::string(EventTypeName(e.type)) + ":" + e.rule_id);
  }
  return out;
}

}  // namespace coach::engine::testing

#endif  // COACHD_TESTS_ENGINE_TEST_RULES_H_
