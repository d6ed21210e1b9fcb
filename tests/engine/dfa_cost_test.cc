#include "engine/dfa_cost.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace coach::engine {
namespace {

constexpr int64_t kNoLimit = int64_t{1} << 40;

DfaCost Cost(const std::string& pattern, int64_t limit = kNoLimit) {
  return EstimateDfaCost(pattern, limit);
}

TEST(DfaCostTest, NthSymbolFromTheEndNeedsTwoToTheNStates) {
  // "(a|b)*a(a|b){n}x": the DFA must remember where every 'a' of the last
  // n+1 bytes was: 2^(n+1) subsets, plus the states after 'x'.
  for (int n : {4, 8, 10}) {
    SCOPED_TRACE(n);
    const DfaCost cost = Cost(absl::StrCat("(a|b)*a(a|b){", n, "}x"));
    EXPECT_FALSE(cost.over_limit);
    EXPECT_EQ(cost.states, (int64_t{1} << (n + 1)) + 2);
  }
  EXPECT_EQ(Cost("(a|b)*a(a|b){10}x").states, 2 * Cost("(a|b)*a(a|b){9}x").states - 2);
}

TEST(DfaCostTest, RunsOfOneClassStayLinear) {
  // Every live start is inside the same run of digits: one state per length.
  EXPECT_EQ(Cost("\\d{16}").states, 17);
  EXPECT_EQ(Cost("\\d{32}").states, 33);
  // A distinguished first digit is exponential again.
  EXPECT_EQ(Cost("4\\d{15}").states, int64_t{1} << 16);
}

TEST(DfaCostTest, ALiteralNeedsOneStatePerPrefix) {
  EXPECT_EQ(Cost("abc").states, 4);
  EXPECT_EQ(Cost("abc").work, 1 + 1 + 1 + 1);
  EXPECT_EQ(Cost("").states, 1);
}

TEST(DfaCostTest, ExplorationStopsAtTheLimit) {
  const DfaCost cost = Cost("(a|b)*a(a|b){20}x", 100000);
  EXPECT_TRUE(cost.over_limit);
  EXPECT_GT(cost.work, 100000);
  EXPECT_LT(cost.work, 100000 + 64);  // one state past the limit at most
  EXPECT_LT(cost.states, 1 << 21);
  EXPECT_FALSE(Cost("(a|b)*a(a|b){8}x", 100000).over_limit);
}

TEST(DfaCostTest, ExpansionPastTheBudgetIsOverTheLimit) {
  // 40,000 optional items: first/last lists would grow quadratically.
  std::string chain;
  for (int i = 0; i < 40000; ++i) chain += "a?";
  const DfaCost cost = Cost(chain, 100000);
  EXPECT_TRUE(cost.over_limit);
  EXPECT_FALSE(cost.too_deep);
}

TEST(DfaCostTest, NestingPastTheLimitIsReportedNotRecursed) {
  const std::string deep =
      absl::StrCat(std::string(20000, '('), "calm down", std::string(20000, ')'));
  EXPECT_TRUE(Cost(deep).too_deep);
  const std::string ok = absl::StrCat(std::string(kMaxPatternNesting, '('), "calm down",
                                      std::string(kMaxPatternNesting, ')'));
  EXPECT_FALSE(Cost(ok).too_deep);
  EXPECT_EQ(Cost(ok).states, Cost("calm down").states);
}

// Spellings of one language give the same DFA: the reader understands RE2's
// syntax rather than guessing.
TEST(DfaCostTest, EquivalentSyntaxHasTheSameCost) {
  const std::pair<const char*, const char*> same[] = {
      {"[ab]{6}c", "(?:a|b){6}c"},
      {"(?i)ab", "[aA][bB]"},
      {"(?i:a)b", "[aA]b"},
      {"a{2,4}", "aa(?:a(?:a)?)?"},
      {"a{2,}", "aa+"},
      {"a+?b*?", "a+b*"},
      {"\\x41\\101", "AA"},
      {"\\x{42}", "B"},
      {"\\Qa.b\\E", "a\\.b"},
      {"(?P<name>ab)(?<other>c)", "abc"},
      {"\\bab\\B^$\\A\\z", "ab"},
      {"[[:digit:]]{5}", "\\d{5}"},
      {"[^\\d]x", "\\Dx"},
      {"[a-c]{4}z", "[abc]{4}z"},
      {"[]a]", "[a\\]]"},
      {"a{,2}", "a\\{,2\\}"},
  };
  for (const auto& [a, b] : same) {
    SCOPED_TRACE(absl::StrCat(a, " vs ", b));
    const DfaCost left = Cost(a);
    const DfaCost right = Cost(b);
    EXPECT_EQ(left.states, right.states);
    EXPECT_EQ(left.work, right.work);
  }
}

TEST(DfaCostTest, NonAsciiAndUnicodeClassesAreRead) {
  // A non-ASCII character is its UTF-8 bytes in sequence.
  EXPECT_EQ(Cost("\xC3\xA9").states, Cost("ab").states);  // two positions either way
  EXPECT_EQ(Cost("é").states, 3);
  EXPECT_FALSE(Cost("caf\u00e9\\pL+\\p{Greek}\\PN[^\\x{263a}]").over_limit);
}

TEST(DfaCostTest, TheBundledKindsOfPatternAreCheap) {
  // Shapes used by phrase_lists/: anchored openers, word gaps, a bounded
  // "but ... here is what" exception.
  EXPECT_LT(Cost("^ (?:(?:ok|okay|hey|alright|now|look|whoa|woah|well) )*calm down ").work, 1000);
  EXPECT_LT(Cost(" let me finish (?:(?:please|sir) )?$").work, 1000);
  EXPECT_LT(Cost("(?: [^ ]+){0,12} (?:but|however)(?: [^ ]+){0,2} (?:let me|i can)").work,
            100000);
  EXPECT_LT(Cost("\\b(?:card|account) (?:number )?(?:is )?\\d{4,16}\\b").work, 1000);
}

}  // namespace
}  // namespace coach::engine
