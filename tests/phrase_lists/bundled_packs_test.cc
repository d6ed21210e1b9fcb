// The bundled coaching packs (phrase_lists/) load cleanly, cover the whole
// taxonomy, and every rule's examples and counter-examples hold, each rule as
// its own test.

#include <map>
#include <string>
#include <utility>

#include "engine/call_session.h"
#include "engine/normalizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "phrase_lists/loader.h"

namespace coach::phrase_lists {
namespace {

using engine::RuleKind;
using engine::SpeakerScope;
using ::testing::IsEmpty;

const std::string kPacks = std::string(COACHD_SOURCE_DIR) + "/phrase_lists";

std::shared_ptr<const engine::RuleSet> Bundled() {
  static auto* rules = [] {
    std::vector<engine::Diagnostic> diagnostics;
    auto loaded = LoadRuleSet({kPacks}, {}, &diagnostics);
    return new absl::StatusOr<std::shared_ptr<const engine::RuleSet>>(std::move(loaded));
  }();
  return rules->ok() ? **rules : nullptr;
}

TEST(BundledPacks, LoadWithoutErrorsOrWarnings) {
  std::vector<engine::Diagnostic> diagnostics;
  auto rules = LoadRuleSet({kPacks}, {}, &diagnostics);
  ASSERT_TRUE(rules.ok()) << rules.status();
  std::vector<std::string> lines;
  for (const auto& d : diagnostics) lines.push_back(d.ToString());
  EXPECT_THAT(lines, IsEmpty());
}

TEST(BundledPacks, HoldAtLeast150Rules) {
  ASSERT_NE(Bundled(), nullptr);
  EXPECT_GE(Bundled()->rules().size(), 150u);
}

TEST(BundledPacks, CoverEveryCategoryWithItsKindAndSpeaker) {
  ASSERT_NE(Bundled(), nullptr);
  const std::map<std::string, std::pair<RuleKind, SpeakerScope>> taxonomy = {
      {"provoking", {RuleKind::kCorrective, SpeakerScope::kAgent}},
      {"blame", {RuleKind::kCorrective, SpeakerScope::kAgent}},
      {"dismissive", {RuleKind::kCorrective, SpeakerScope::kAgent}},
      {"quick_fix_promise", {RuleKind::kCorrective, SpeakerScope::kAgent}},
      {"empathy", {RuleKind::kReinforcement, SpeakerScope::kAgent}},
      {"apology", {RuleKind::kReinforcement, SpeakerScope::kAgent}},
      {"ownership", {RuleKind::kReinforcement, SpeakerScope::kAgent}},
      {"assurance", {RuleKind::kReinforcement, SpeakerScope::kAgent}},
      {"next_steps", {RuleKind::kReinforcement, SpeakerScope::kAgent}},
      {"confirm_understanding", {RuleKind::kReinforcement, SpeakerScope::kAgent}},
      {"boundary", {RuleKind::kReinforcement, SpeakerScope::kAgent}},
      {"commitment", {RuleKind::kTracked, SpeakerScope::kAgent}},
      {"legal_threat", {RuleKind::kEscalation, SpeakerScope::kCustomer}},
      {"executive_request", {RuleKind::kEscalation, SpeakerScope::kCustomer}},
      {"cancellation", {RuleKind::kEscalation, SpeakerScope::kCustomer}},
      {"abuse", {RuleKind::kEscalation, SpeakerScope::kCustomer}},
      {"frustration", {RuleKind::kCue, SpeakerScope::kCustomer}},
  };
  const auto counts = Bundled()->RuleCountsByCategory();
  for (const auto& [category, kind_and_speaker] : taxonomy) {
    EXPECT_GE(counts.count(category) ? counts.at(category) : 0, 3) << category;
  }
  for (const auto& rule : Bundled()->rules()) {
    auto it = taxonomy.find(rule.spec.category);
    ASSERT_NE(it, taxonomy.end()) << rule.spec.id << " has category " << rule.spec.category;
    EXPECT_EQ(rule.spec.kind, it->second.first) << rule.spec.id;
    EXPECT_EQ(rule.spec.speaker, it->second.second) << rule.spec.id;
    EXPECT_FALSE(rule.spec.examples.empty()) << rule.spec.id;
    EXPECT_FALSE(rule.spec.counter_examples.empty()) << rule.spec.id;
    EXPECT_FALSE(rule.spec.suggestion.empty() && rule.spec.kind == RuleKind::kCorrective)
        << rule.spec.id << ": corrective rules must offer a better wording";
  }
}

TEST(BundledPacks, HaveTriggeredAndEndOfCallExpectations) {
  ASSERT_NE(Bundled(), nullptr);
  bool triggered = false;
  bool end_of_call = false;
  for (const auto& e : Bundled()->expectations()) {
    (e.when.empty() ? end_of_call : triggered) = true;
  }
  EXPECT_TRUE(triggered);
  EXPECT_TRUE(end_of_call);
}

// Events a whole session produces for one utterance of `speaker`.
std::vector<engine::Event> Say(engine::Speaker speaker, const std::string& text) {
  engine::CallSession session(Bundled());
  engine::Segment segment;
  segment.segment_id = "s1";
  segment.speaker = speaker;
  segment.text = text;
  std::vector<engine::Event> events;
  EXPECT_TRUE(session.ProcessSegment(segment, &events).ok());
  return events;
}

std::vector<std::string> Categories(const std::vector<engine::Event>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.category);
  return out;
}

TEST(BundledPacksPrecision, StormCalmingDownIsNotProvoking) {
  ASSERT_NE(Bundled(), nullptr);
  EXPECT_THAT(Categories(Say(engine::Speaker::kAgent, "the storm calmed down")),
              ::testing::Not(::testing::Contains("provoking")));
  EXPECT_THAT(Categories(Say(engine::Speaker::kAgent, "Sir, you need to calm down.")),
              ::testing::Contains("provoking"));
}

TEST(BundledPacksPrecision, AccountManagerIsNotAnExecutiveRequest) {
  ASSERT_NE(Bundled(), nullptr);
  EXPECT_THAT(Categories(Say(engine::Speaker::kCustomer, "my account manager said I could")),
              ::testing::Not(::testing::Contains("executive_request")));
  EXPECT_THAT(Categories(Say(engine::Speaker::kCustomer, "I want to speak to your manager")),
              ::testing::Contains("executive_request"));
}

TEST(BundledPacksPrecision, ItIsNotYourFaultIsNotBlame) {
  ASSERT_NE(Bundled(), nullptr);
  EXPECT_THAT(Categories(Say(engine::Speaker::kAgent, "it's not your fault at all")),
              ::testing::Not(::testing::Contains("blame")));
}

class BundledRule : public ::testing::TestWithParam<std::string> {};

// Where rule `index` matches `text`, as the engine matches one utterance.
std::vector<engine::MatchSpan> Spans(int index, const std::string& text) {
  engine::NormalizedText normalized;
  engine::Normalize(text, &normalized);
  std::vector<engine::MatchSpan> spans;
  Bundled()->FindInUtterance(index, normalized.text, &spans);
  return spans;
}

TEST_P(BundledRule, ExamplesMatchAndCounterExamplesDoNot) {
  ASSERT_NE(Bundled(), nullptr);
  const int index = Bundled()->FindRule(GetParam());
  ASSERT_GE(index, 0);
  const auto& rule = Bundled()->rules()[index];
  for (const auto& example : rule.spec.examples) {
    EXPECT_FALSE(Spans(index, example.text).empty())
        << example.location.ToString() << ": " << example.text;
  }
  for (const auto& counter : rule.spec.counter_examples) {
    EXPECT_THAT(Spans(index, counter.text), IsEmpty())
        << counter.location.ToString() << ": " << counter.text;
  }
}

std::vector<std::string> RuleIds() {
  std::vector<std::string> ids;
  auto specs = LoadSpecs({kPacks}, nullptr);
  if (specs.ok()) {
    for (const auto& rule : specs->rules) ids.push_back(rule.id);
  }
  return ids;
}

std::string TestName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name;
  for (char c : info.param) name += (std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(Packs, BundledRule, ::testing::ValuesIn(RuleIds()), TestName);

}  // namespace
}  // namespace coach::phrase_lists
