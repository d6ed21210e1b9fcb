#include "engine/rule_set.h"

#include "engine/normalizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_rules.h"

namespace coach::engine {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using testing::AgentRule;
using testing::CustomerRule;
using testing::MustCompile;
using testing::Texts;

std::string CompileError(RuleSetSpec spec, CompileOptions options = {}) {
  auto rules = RuleSet::Compile(std::move(spec), options);
  EXPECT_FALSE(rules.ok());
  if (rules.ok()) return "";
  EXPECT_EQ(rules.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(rules.status().message());
}

std::vector<MatchSpan> Find(const RuleSet& rules, const std::string& id, const std::string& text,
                            uint32_t min_end = 0) {
  NormalizedText normalized;
  Normalize(text, &normalized);
  std::vector<MatchSpan> spans;
  rules.FindOccurrences(rules.FindRule(id), normalized.text, min_end, &spans);
  return spans;
}

TEST(RuleSetCompile, DuplicateIdNamesBothPlaces) {
  RuleSetSpec spec;
  spec.rules.push_back(AgentRule("dup", "provoking", {"calm down"}));
  spec.rules.push_back(AgentRule("dup", "provoking", {"relax"}));
  spec.rules[0].location = SourceLocation{"a.textproto", 3, 1};
  spec.rules[1].location = SourceLocation{"b.textproto", 7, 1};
  EXPECT_THAT(CompileError(spec),
              HasSubstr("b.textproto:7:1: rule dup: duplicate id; first defined at a.textproto:3:1"));
}

TEST(RuleSetCompile, PhraseSyntaxErrorNamesTheLineOfThePhrase) {
  RuleSetSpec spec;
  spec.rules.push_back(AgentRule("r", "provoking", {"calm (down"}));
  spec.rules[0].phrases[0].location = SourceLocation{"p.textproto", 12, 11};
  EXPECT_THAT(CompileError(spec),
              HasSubstr("p.textproto:12:11: rule r: phrase \"calm (down\": column 6: '(' is never closed"));
}

TEST(RuleSetCompile, BadRawPatternIsReported) {
  RuleSetSpec spec;
  spec.rules.push_back(AgentRule("r", "provoking", {}));
  spec.rules[0].patterns = Texts({" (unclosed "});
  EXPECT_THAT(CompileError(spec), AllOf(HasSubstr("rule r: phrase pattern"),
                                        HasSubstr("missing )")));
}

TEST(RuleSetCompile, BacktrackingOnlyRegexIsRejectedByRe2) {
  RuleSetSpec spec;
  spec.rules.push_back(AgentRule("r", "provoking", {}));
  spec.rules[0].patterns = Texts({"(a+)\\1"});
  EXPECT_THAT(CompileError(spec), HasSubstr("rule r: phrase pattern"));
}

TEST(RuleSetCompile, RuleWithoutPhrasesOrMessageIsRejected) {
  RuleSetSpec spec;
  spec.rules.push_back(AgentRule("r", "provoking", {}));
  spec.rules[0].message.clear();
  const std::string error = CompileError(spec);
  EXPECT_THAT(error, HasSubstr("rule r: rule has no phrases and no patterns"));
  EXPECT_THAT(error, HasSubstr("rule r: message is empty"));
}

TEST(RuleSetCompile, FailingExampleAndMatchingCounterExampleAreErrors) {
  RuleSetSpec spec;
  spec.rules.push_back(AgentRule("provoking.calm_down", "provoking", {"calm down"}));
  spec.rules[0].examples = {LocatedText{"please relax", SourceLocation{"p.textproto", 20, 13}}};
  spec.rules[0].counter_examples = {
      LocatedText{"the storm will calm down", SourceLocation{"p.textproto", 21, 21}}};
  const std::string error = CompileError(spec);
  EXPECT_THAT(error, HasSubstr("p.textproto:20:13: rule provoking.calm_down: example does not "
                               "match: \"please relax\""));
  EXPECT_THAT(error, HasSubstr("p.textproto:21:21: rule provoking.calm_down: counter-example "
                               "matches (on \"calm down\"): \"the storm will calm down\""));
}

TEST(RuleSetCompile, ProgramSizeOverTheLimitIsRejected) {
  std::string many = "(";
  for (int i = 0; i < 300; ++i) many += (i ? "|" : "") + std::string("word") + std::to_string(i);
  many += ") thing";
  RuleSetSpec spec;
  spec.rules.push_back(AgentRule("big", "provoking", {many}));
  CompileOptions options;
  options.max_rule_program_size = 500;
  EXPECT_THAT(CompileError(spec, options), HasSubstr("over the limit of 500"));
}

// A raw pattern whose DFA grows exponentially would make RE2::Set, which
// never gives up its DFA, spend seconds on one segment.
TEST(RuleSetCompile, RawPatternWithAnExponentialDfaIsRejectedAtItsLine) {
  RuleSetSpec spec;
  spec.rules.push_back(AgentRule("dfa", "provoking", {"calm down"}));
  spec.rules[0].patterns = {
      LocatedText{"(a|b)*a(a|b){20}x", SourceLocation{"p.textproto", 9, 3}}};
  EXPECT_THAT(CompileError(spec),
              AllOf(HasSubstr("p.textproto:9:3: rule dfa: phrase pattern "
                              "\"(a|b)*a(a|b){20}x\" is too costly to match"),
                    HasSubstr("more than 100000 steps")));

  // The same shape with a short repetition is fine, and matches.
  spec.rules[0].patterns[0].text = "(a|b)*a(a|b){8}x";
  const auto rules = MustCompile(spec);
  ASSERT_NE(rules, nullptr);
  EXPECT_THAT(Find(*rules, "dfa", "abbbbbbbbx"), SizeIs(1));
}

TEST(RuleSetCompile, PhrasesAndPatternsLongerThanTheLimitAreRefusedAtTheirLine) {
  std::string long_phrase;
  while (long_phrase.size() <= kMaxTextBytes) long_phrase += "word ";
  RuleSetSpec spec;
  spec.rules.push_back(AgentRule("long", "provoking", {"calm down"}));
  spec.rules[0].phrases.push_back(LocatedText{long_phrase, SourceLocation{"p.textproto", 4, 3}});
  spec.rules[0].patterns = {LocatedText{long_phrase, SourceLocation{"p.textproto", 5, 3}}};
  spec.rules[0].unless_phrases = {LocatedText{long_phrase, SourceLocation{"p.textproto", 6, 3}}};
  spec.rules[0].unless_patterns = {LocatedText{long_phrase, SourceLocation{"p.textproto", 7, 3}}};
  const std::string bytes = std::to_string(long_phrase.size());
  const std::string error = CompileError(spec);
  EXPECT_THAT(error, HasSubstr("p.textproto:4:3: rule long: phrase is " + bytes + " bytes; at most 4096"));
  EXPECT_THAT(error, HasSubstr("p.textproto:5:3: rule long: pattern is " + bytes));
  EXPECT_THAT(error, HasSubstr("p.textproto:6:3: rule long: unless phrase is " + bytes));
  EXPECT_THAT(error, HasSubstr("p.textproto:7:3: rule long: unless pattern is " + bytes));
  // Nothing else is said about them: they never reached the compilers.
  EXPECT_THAT(error, Not(HasSubstr("do not compile")));

  // At the limit, a phrase is compiled as usual.
  std::string at_limit = "calm down";
  while (at_limit.size() + 5 <= kMaxTextBytes) at_limit += " word";
  RuleSetSpec fits;
  fits.rules.push_back(AgentRule("fits", "provoking", {at_limit}));
  EXPECT_TRUE(RuleSet::Compile(std::move(fits)).ok());
}

TEST(RuleSetCompile, AnchoredRawPatternsAreLimitedToo) {
  RuleSetSpec spec;
  spec.rules.push_back(AgentRule("dfa", "provoking", {}));
  spec.rules[0].patterns = Texts({"^ (a|b)*a(a|b){20}x"});
  EXPECT_THAT(CompileError(spec), HasSubstr("is too costly to match"));
}

TEST(RuleSetCompile, UnlessPatternsAreNotLimitedBecauseTheirRegexFallsBackToTheNfa) {
  RuleSetSpec spec;
  spec.rules.push_back(AgentRule("r", "provoking", {"calm down"}));
  spec.rules[0].unless_patterns = Texts({"(a|b)*a(a|b){20}x calm down"});
  const auto rules = MustCompile(spec);
  ASSERT_NE(rules, nullptr);
  EXPECT_THAT(Find(*rules, "r", "please calm down"), SizeIs(1));
}

TEST(RuleSetCompile, RawPatternNestedTooDeepIsRejectedWithoutRecursingIntoIt) {
  RuleSetSpec spec;
  spec.rules.push_back(AgentRule("deep", "provoking", {}));
  spec.rules[0].patterns =
      Texts({std::string(2000, '(') + "calm down" + std::string(2000, ')')});
  EXPECT_THAT(CompileError(spec), HasSubstr("rule deep: phrase pattern"));
  EXPECT_THAT(CompileError(spec), HasSubstr("groups nested more than 32 deep"));
}

// Rules listening to one speaker share a Set and its DFA: their patterns'
// costs add up, and the rule that passes the limit is named once.
TEST(RuleSetCompile, RawPatternsOfOneSpeakerShareOneDfaBudget) {
  auto spec_with = [](int rules, int repeat, SpeakerScope speaker) {
    RuleSetSpec spec;
    for (int i = 0; i < rules; ++i) {
      RuleSpec rule = AgentRule("dfa." + std::to_string(i), "provoking", {});
      rule.speaker = speaker;
      rule.patterns = {LocatedText{"(a|b)*a(a|b){" + std::to_string(repeat) + "}x" +
                                       std::to_string(i),
                                   SourceLocation{"p.textproto", 10 * i + 1, 3}}};
      spec.rules.push_back(std::move(rule));
    }
    return spec;
  };
  CompileOptions options;
  options.check_examples = false;
  // "(a|b)*a(a|b){8}x<i>" costs 2,819 (2,822 from x100 on): 300 fit in 1,000,000.
  EXPECT_TRUE(RuleSet::Compile(spec_with(300, 8, SpeakerScope::kAgent), options).ok());
  // "(a|b)*a(a|b){9}x<i>" costs 6,147 (6,150 from x10 on): the 163rd rule
  // (dfa.162) passes the limit.
  const std::string error = CompileError(spec_with(300, 9, SpeakerScope::kAgent), options);
  EXPECT_THAT(error, HasSubstr("p.textproto:1621:3: rule dfa.162: the raw patterns of the rules "
                               "matched against agent speech need more than 1000000 steps"));
  EXPECT_THAT(error, HasSubstr("this rule brings them to 1002"));
  EXPECT_THAT(error, Not(HasSubstr("rule dfa.163:")));
  // Split over the two speakers, the same rules fit.
  RuleSetSpec split = spec_with(300, 9, SpeakerScope::kAgent);
  for (int i = 0; i < 150; ++i) split.rules[i].speaker = SpeakerScope::kCustomer;
  EXPECT_TRUE(RuleSet::Compile(std::move(split), options).ok());
  // The budget is an option.
  options.max_set_pattern_dfa_work = 2000000;
  EXPECT_TRUE(RuleSet::Compile(spec_with(300, 9, SpeakerScope::kAgent), options).ok());
}

TEST(RuleSetCompile, ExpectationsMustReferToLoadedCategories) {
  RuleSetSpec spec;
  spec.rules.push_back(CustomerRule("f", "frustration", {"this is ridiculous"}));
  ExpectationSpec expectation;
  expectation.id = "e";
  expectation.category = "missed_empathy";
  expectation.when = {"frustration"};
  expectation.expect = {"empthy"};
  expectation.within_ms = 1000;
  expectation.title = "t";
  expectation.message = "m";
  spec.expectations.push_back(expectation);
  EXPECT_THAT(CompileError(spec),
              HasSubstr("category 'empthy' in expect is not the category of any loaded rule"));
}

TEST(RuleSetCompile, TriggeredExpectationNeedsATimeOrTurnLimit) {
  RuleSetSpec spec;
  spec.rules.push_back(CustomerRule("f", "frustration", {"this is ridiculous"}));
  spec.rules.push_back(AgentRule("e", "empathy", {"i understand"}, RuleKind::kReinforcement));
  ExpectationSpec expectation;
  expectation.id = "x";
  expectation.category = "missed_empathy";
  expectation.when = {"frustration"};
  expectation.expect = {"empathy"};
  expectation.title = "t";
  expectation.message = "m";
  spec.expectations.push_back(expectation);
  EXPECT_THAT(CompileError(spec), HasSubstr("needs within_seconds or within_agent_turns"));
}

TEST(RuleSetCompile, WarnsAboutMissingExamplesAndSharedPhrases) {
  RuleSetSpec spec;
  spec.rules.push_back(AgentRule("a", "provoking", {"calm down"}));
  spec.rules.push_back(AgentRule("b", "provoking", {"Calm down!"}));
  std::vector<Diagnostic> diagnostics;
  ASSERT_TRUE(RuleSet::Compile(spec, {}, &diagnostics).ok());
  std::vector<std::string> lines;
  for (const Diagnostic& d : diagnostics) {
    EXPECT_EQ(d.level, Diagnostic::Level::kWarning);
    lines.push_back(d.ToString());
  }
  EXPECT_THAT(lines, ::testing::Contains(HasSubstr("rule a: rule has no counter-examples")));
  EXPECT_THAT(lines, ::testing::Contains(HasSubstr("is also a phrase of rule a")));
}

// The warnings of one compile (which must succeed), as "file:line:col:
// warning: rule <id>: message" lines, less "rule has no examples" (the rules
// below have none, so that a phrase that cannot match is no error).
std::vector<std::string> Warnings(const RuleSetSpec& spec, const CompileOptions& options = {}) {
  std::vector<Diagnostic> diagnostics;
  auto rules = RuleSet::Compile(spec, options, &diagnostics);
  EXPECT_TRUE(rules.ok()) << rules.status();
  std::vector<std::string> lines;
  for (const Diagnostic& d : diagnostics) {
    EXPECT_EQ(d.level, Diagnostic::Level::kWarning) << d.ToString();
    if (d.message != "rule has no examples") lines.push_back(d.ToString());
  }
  return lines;
}

// A rule with an example and a counter-example, so only the warning under
// test shows.
RuleSpec CheckedRule(std::string id, std::string category, std::vector<std::string> phrases,
                     SpeakerScope speaker = SpeakerScope::kAgent) {
  RuleSpec rule = testing::Rule(std::move(id), std::move(category), RuleKind::kCorrective,
                                speaker, std::move(phrases));
  rule.counter_examples = Texts({"nothing to see here"});
  return rule;
}

TEST(RuleSetLintWarnings, RuleWithoutCounterExamplesIsAWarningNotAnError) {
  RuleSetSpec spec;
  spec.rules.push_back(AgentRule("provoking.calm_down", "provoking", {"calm down"}));
  spec.rules[0].examples = Texts({"please calm down"});
  EXPECT_THAT(Warnings(spec),
              ElementsAre("test.textproto:1:1: warning: rule provoking.calm_down: rule has no "
                          "counter-examples"));
}

TEST(RuleSetLintWarnings, SamePhraseInTwoRulesOfOneSpeakerNamesTheFirstRule) {
  RuleSetSpec spec;
  spec.rules.push_back(CheckedRule("a", "provoking", {"calm down"}));
  // Spelled differently, compiles to the same regex.
  spec.rules.push_back(CheckedRule("b", "provoking", {"Calm, down!"}));
  spec.rules.push_back(CheckedRule("c", "empathy", {"I'm sorry"}));
  spec.rules.push_back(CheckedRule("d", "apology", {"i am sorry"}, SpeakerScope::kAny));
  EXPECT_THAT(Warnings(spec),
              ElementsAre(HasSubstr("rule b: phrase \"Calm, down!\" is also a phrase of rule a "
                                    "(test:1:1): the same words fire both rules"),
                          HasSubstr("rule d: phrase \"i am sorry\" is also a phrase of rule c")));
}

TEST(RuleSetLintWarnings, SamePhraseForDifferentSpeakersIsNotAWarning) {
  RuleSetSpec spec;
  spec.rules.push_back(CheckedRule("agent.calm", "provoking", {"calm down"}));
  spec.rules.push_back(CheckedRule("customer.calm", "frustration", {"calm down"},
                                   SpeakerScope::kCustomer));
  EXPECT_THAT(Warnings(spec), IsEmpty());
}

TEST(RuleSetLintWarnings, PhraseRepeatedInOneRule) {
  RuleSetSpec spec;
  spec.rules.push_back(CheckedRule("a", "provoking", {"calm down", "[please] calm down",
                                                      "calm  DOWN"}));
  EXPECT_THAT(Warnings(spec), ElementsAre(HasSubstr("test:3:1: warning: rule a: phrase \"calm  DOWN\" "
                                                    "repeats phrase \"calm down\" of the same "
                                                    "rule")));
}

TEST(RuleSetLintWarnings, GroupGluedToAWordCanNeverMatchAsWritten) {
  RuleSetSpec spec;
  // "can't" reads "can not" in speech; the phrase expects "can t".
  spec.rules.push_back(CheckedRule("a", "dismissive", {"i (can|could)'t help"}));
  EXPECT_THAT(Warnings(spec),
              ElementsAre(HasSubstr("rule a: phrase \"i (can|could)'t help\" can never match "
                                    "after normalization: speech \"i can't help\" reads "
                                    "\"i can not help\", but the phrase expects \"i can t "
                                    "help\"")));
  // One spelling of the two is unreachable: "unhappy" is one word in speech.
  RuleSetSpec partly;
  partly.rules.push_back(CheckedRule("b", "frustration", {"so [un]happy"}));
  EXPECT_THAT(Warnings(partly),
              ElementsAre(HasSubstr("rule b: phrase \"so [un]happy\": one way of saying it can "
                                    "never match: speech \"so unhappy\" reads \"so unhappy\", "
                                    "but the phrase expects \"so un happy\"")));
}

TEST(RuleSetLintWarnings, PhraseChecksCanBeTurnedOffWhereWarningsAreDropped) {
  RuleSetSpec spec;
  spec.rules.push_back(CheckedRule("a", "dismissive", {"i (can|could)'t help", "no way"}));
  CompileOptions options;
  options.check_phrase_warnings = false;
  EXPECT_THAT(Warnings(spec, options), IsEmpty());
  // The rule itself is the same: its other phrase still matches.
  auto rules = RuleSet::Compile(spec, options);
  ASSERT_TRUE(rules.ok()) << rules.status();
  auto with_checks = RuleSet::Compile(spec);
  ASSERT_TRUE(with_checks.ok());
  EXPECT_EQ((*rules)->version(), (*with_checks)->version());
  EXPECT_THAT(Warnings(spec), SizeIs(1));
}

TEST(RuleSetLintWarnings, NormalizationThatBothSidesShareIsNotAWarning) {
  RuleSetSpec spec;
  // Contractions, number words, punctuation, optional parts, '*' and '...'
  // normalize the same way in phrases and in speech.
  spec.rules.push_back(CheckedRule(
      "a", "frustration",
      {"I've called three times", "(can't|won't) [you] help", "that's * ridiculous",
       "i ... understand", "twenty one days", "(i am|i'm) [(so|very)] sorry"}));
  EXPECT_THAT(Warnings(spec), IsEmpty());
}

TEST(RuleSetLintWarnings, FillerInAPhraseIsDroppedAndSaidSo) {
  RuleSetSpec spec;
  spec.rules.push_back(CheckedRule("a", "provoking", {"calm um down"}));
  EXPECT_THAT(Warnings(spec),
              ElementsAre(HasSubstr("rule a: phrase \"calm um down\": \"um\" is a filler that "
                                    "normalization removes from speech and phrases alike")));
}

TEST(RuleSetLintWarnings, PhraseThatItsOwnUnlessAlwaysCancelsCanNeverFire) {
  RuleSetSpec spec;
  spec.rules.push_back(CheckedRule("a", "blame", {"[it is] your fault"}));
  spec.rules[0].unless_phrases = Texts({"fault"});
  EXPECT_THAT(Warnings(spec),
              ElementsAre(HasSubstr("rule a: phrase \"[it is] your fault\" can never fire: the "
                                    "rule's unless cancels every way of saying it (e.g. \"your "
                                    "fault\")")));
  // An exception that leaves some way of saying it is fine.
  spec.rules[0].unless_phrases = Texts({"it is your fault"});
  EXPECT_THAT(Warnings(spec), IsEmpty());
}

TEST(RuleSetMatching, UnlessCancelsOnlyOverlappingMatches) {
  RuleSetSpec spec;
  spec.rules.push_back(AgentRule("blame.your_fault", "blame", {"your fault"}));
  spec.rules[0].unless_phrases = Texts({"not your fault"});
  auto rules = MustCompile(spec);
  EXPECT_THAT(Find(*rules, "blame.your_fault", "it's not your fault at all"), IsEmpty());
  EXPECT_THAT(Find(*rules, "blame.your_fault", "well this is your fault"), SizeIs(1));
  // The exception elsewhere in the utterance does not cancel this match.
  EXPECT_THAT(Find(*rules, "blame.your_fault", "it's not your fault, the rest is your fault"),
              SizeIs(1));
}

TEST(RuleSetMatching, UnlessChecksEachOccurrenceAgainstEveryOverlappingException) {
  RuleSetSpec spec;
  spec.rules.push_back(AgentRule("blame.your_fault", "blame", {"your fault"}));
  spec.rules[0].unless_phrases = Texts({"not your fault", "your fault ... (sorry|apologize)"});
  auto rules = MustCompile(spec);
  EXPECT_THAT(Find(*rules, "blame.your_fault", "your fault, not your fault, your fault"),
              SizeIs(2));
  // A long exception covering the first occurrence, then a free one.
  EXPECT_THAT(Find(*rules, "blame.your_fault",
                   "your fault and I am sorry and it is your fault again"),
              SizeIs(1));
  std::string many;
  for (int i = 0; i < 2000; ++i) many += (i % 2 == 0) ? "your fault " : "not your fault ";
  EXPECT_THAT(Find(*rules, "blame.your_fault", many), SizeIs(1000));
}

TEST(RuleSetCompile, TextAnchorsOutsideCharacterClassesMarkARuleSegmentAnchored) {
  EXPECT_TRUE(RuleSet::UsesTextAnchor("^ calm down "));
  EXPECT_TRUE(RuleSet::UsesTextAnchor(" done here $"));
  EXPECT_TRUE(RuleSet::UsesTextAnchor("\\A calm"));
  EXPECT_FALSE(RuleSet::UsesTextAnchor("[^ ]+ calm"));
  EXPECT_FALSE(RuleSet::UsesTextAnchor("[]^] calm"));
  EXPECT_FALSE(RuleSet::UsesTextAnchor("cost \\$5"));
  EXPECT_FALSE(RuleSet::UsesTextAnchor("calm down"));
}

TEST(RuleSetMatching, FindsEveryOccurrenceWithSpansWithoutBoundarySpaces) {
  auto rules = MustCompile(RuleSetSpec{{AgentRule("r", "provoking", {"calm down"})}, {}, {}});
  NormalizedText normalized;
  Normalize("calm down calm down", &normalized);
  std::vector<MatchSpan> spans;
  rules->FindOccurrences(0, normalized.text, 0, &spans);
  ASSERT_THAT(spans, SizeIs(2));
  EXPECT_EQ(normalized.text.substr(spans[0].begin, spans[0].end - spans[0].begin), "calm down");
  EXPECT_EQ(normalized.text.substr(spans[1].begin, spans[1].end - spans[1].begin), "calm down");
  // Occurrences ending at or before min_end are skipped.
  spans.clear();
  rules->FindOccurrences(0, normalized.text, /*min_end=*/10, &spans);
  EXPECT_THAT(spans, SizeIs(1));
}

TEST(RuleSetMatching, SetsHoldTheRulesOfEachSpeakerScope) {
  RuleSetSpec spec;
  spec.rules.push_back(AgentRule("a", "provoking", {"calm down"}));
  spec.rules.push_back(CustomerRule("c", "legal_threat", {"lawyer"}));
  spec.rules.push_back(testing::Rule("any", "profanity", RuleKind::kCue, SpeakerScope::kAny,
                                     {"darn"}));
  auto rules = MustCompile(spec);
  EXPECT_THAT(rules->set_rules(Speaker::kAgent), ::testing::ElementsAre(0, 2));
  EXPECT_THAT(rules->set_rules(Speaker::kCustomer), ::testing::ElementsAre(1, 2));
}

TEST(RuleSetVersion, DependsOnContentOnly) {
  RuleSetSpec spec;
  spec.rules.push_back(AgentRule("a", "provoking", {"calm down"}));
  auto first = MustCompile(spec);
  auto again = MustCompile(spec);
  EXPECT_EQ(first->version(), again->version());
  EXPECT_THAT(first->version(), ::testing::StartsWith("rs-"));
  spec.rules[0].message = "changed";
  EXPECT_NE(MustCompile(spec)->version(), first->version());
}

TEST(RuleSetStats, CountsRulesPerCategory) {
  RuleSetSpec spec;
  spec.rules.push_back(AgentRule("a", "provoking", {"calm down"}));
  spec.rules.push_back(AgentRule("b", "provoking", {"relax"}));
  spec.rules.push_back(CustomerRule("c", "legal_threat", {"lawyer"}));
  auto counts = MustCompile(spec)->RuleCountsByCategory();
  EXPECT_EQ(counts["provoking"], 2);
  EXPECT_EQ(counts["legal_threat"], 1);
}

TEST(SetMatchOutcome, OutOfMemoryMakesEveryEntryACandidate) {
  std::vector<int> hits = {7};
  bool fell_back = false;
  RE2::Set::ErrorInfo oom{RE2::Set::kOutOfMemory};
  ASSERT_TRUE(CandidatesFromSetMatch(false, oom, 3, &hits, &fell_back).ok());
  EXPECT_TRUE(fell_back);
  EXPECT_THAT(hits, ::testing::ElementsAre(0, 1, 2));
}

TEST(SetMatchOutcome, NoMatchAndMatchAreTakenAsTheyAre) {
  std::vector<int> hits = {1};
  bool fell_back = true;
  ASSERT_TRUE(CandidatesFromSetMatch(true, RE2::Set::ErrorInfo{RE2::Set::kNoError}, 3, &hits,
                                     &fell_back).ok());
  EXPECT_FALSE(fell_back);
  EXPECT_THAT(hits, ::testing::ElementsAre(1));
  ASSERT_TRUE(CandidatesFromSetMatch(false, RE2::Set::ErrorInfo{RE2::Set::kNoError}, 3, &hits,
                                     &fell_back).ok());
  EXPECT_THAT(hits, IsEmpty());
}

TEST(SetMatchOutcome, InconsistentSetIsAnInternalError) {
  std::vector<int> hits;
  bool fell_back = false;
  EXPECT_EQ(CandidatesFromSetMatch(false, RE2::Set::ErrorInfo{RE2::Set::kInconsistent}, 3, &hits,
                                   &fell_back).code(),
            absl::StatusCode::kInternal);
}

TEST(RuleSetCompile, SetThatCannotFitItsMemoryBudgetIsRejected) {
  RuleSetSpec spec;
  for (int i = 0; i < 200; ++i) {
    spec.rules.push_back(AgentRule("r" + std::to_string(i), "provoking",
                                   {"(alpha|beta) ... word" + std::to_string(i)}));
  }
  CompileOptions tight;
  tight.set_max_mem = 100 << 10;
  EXPECT_THAT(CompileError(spec, tight),
              HasSubstr("the agent rules do not fit in the RE2::Set memory budget"));
}

TEST(RuleSetCompile, DefaultSetBudgetGrowsWithTheRules) {
  // 2,000 rules of several phrases: too many RE2 instructions in the agent
  // Set for a fixed 4 MiB budget (RE2 needs 64 bytes of budget per
  // instruction for the program alone, and the DFA needs room on top); the
  // default budget is sized from them. (The synthetic 5,000-rule set of
  // matcher_bench needs more than the former fixed default of 64 MiB.)
  RuleSetSpec spec;
  for (int i = 0; i < 2000; ++i) {
    const std::string n = std::to_string(i);
    spec.rules.push_back(AgentRule("r" + n, "provoking",
                                   {"(alpha|beta|gamma) ... word" + n + " [(one|two)] three",
                                    "(delta|epsilon) zeta" + n + " (eta|theta|iota|kappa)",
                                    "lambda" + n + " [mu] (nu|xi) omicron"}));
  }
  CompileOptions fixed;
  fixed.set_max_mem = int64_t{4} << 20;
  EXPECT_THAT(CompileError(spec, fixed),
              HasSubstr("the agent rules do not fit in the RE2::Set memory budget"));
  auto rules = MustCompile(spec);
  EXPECT_GT(rules->set_max_mem(Speaker::kAgent), int64_t{64} << 20);
  // No customer rules: the minimum DFA budget.
  EXPECT_EQ(rules->set_max_mem(Speaker::kCustomer), int64_t{64} << 20);
  EXPECT_EQ(rules->set_max_mem(Speaker::kAgent, RulePart::kSegment), 0);
  EXPECT_THAT(Find(*rules, "r1999", "say beta to word1999 three now"), SizeIs(1));
  std::vector<int> hits;
  RE2::Set::ErrorInfo error{};
  NormalizedText normalized;
  Normalize("well lambda1234 nu omicron", &normalized);
  ASSERT_TRUE(rules->set_for(Speaker::kAgent)->Match(normalized.text, &hits, &error));
  EXPECT_THAT(hits, ElementsAre(1234));
}

TEST(RuleSetCompile, ThreadCountDoesNotChangeTheResult) {
  RuleSetSpec spec;
  for (int i = 0; i < 40; ++i) {
    const std::string n = std::to_string(i);
    spec.rules.push_back(AgentRule("r" + n, "provoking", {"calm down " + n, "[un]happy " + n}));
    spec.rules.back().examples = Texts({"calm down " + n, i % 7 == 0 ? "nothing" : "calm down"});
    spec.rules.back().counter_examples = Texts({i % 5 == 0 ? "calm down " + n : "relax"});
    if (i % 9 == 0) spec.rules.back().patterns = Texts({"bad(" + n});
  }
  spec.rules.push_back(AgentRule("r3", "provoking", {"calm down 3"}));  // duplicate id
  std::vector<std::string> reference;
  for (const int threads : {1, 2, 4, 16}) {
    CompileOptions options;
    options.compile_threads = threads;
    std::vector<Diagnostic> diagnostics;
    auto rules = RuleSet::Compile(spec, options, &diagnostics);
    ASSERT_FALSE(rules.ok());
    std::vector<std::string> lines;
    for (const Diagnostic& d : diagnostics) lines.push_back(d.ToString());
    lines.push_back(std::string(rules.status().message()));
    if (reference.empty()) {
      reference = lines;
      EXPECT_GT(reference.size(), 40u);
    } else {
      EXPECT_EQ(lines, reference) << "threads " << threads;
    }
  }
  // Without the errors, every thread count gives the same Sets.
  RuleSetSpec good;
  for (int i = 0; i < 40; ++i) {
    good.rules.push_back(AgentRule("r" + std::to_string(i), "provoking",
                                   {"calm down " + std::to_string(i)}));
  }
  good.rules.push_back(CustomerRule("c", "abuse", {"this is ridiculous"}));
  for (const int threads : {1, 3}) {
    CompileOptions options;
    options.compile_threads = threads;
    auto rules = MustCompile(good, options);
    EXPECT_THAT(rules->set_rules(Speaker::kAgent), SizeIs(40));
    EXPECT_THAT(rules->set_rules(Speaker::kCustomer), ElementsAre(40));
    EXPECT_EQ(rules->version(), MustCompile(good)->version());
  }
}

}  // namespace
}  // namespace coach::engine
