#include "engine/phrase_compiler.h"

#include <string>

#include "engine/normalizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "re2/re2.h"

namespace coach::engine {
namespace {

using ::testing::HasSubstr;

// Whether `phrase` matches `speech` the way the engine matches it.
bool Matches(const std::string& phrase, const std::string& speech) {
  absl::StatusOr<CompiledPhrase> compiled = CompilePhrase(phrase);
  EXPECT_TRUE(compiled.ok()) << phrase << ": " << compiled.status();
  if (!compiled.ok()) return false;
  RE2 re(compiled->regex);
  EXPECT_TRUE(re.ok()) << re.error();
  NormalizedText normalized;
  Normalize(speech, &normalized);
  return RE2::PartialMatch(normalized.text, re);
}

std::string ErrorOf(const std::string& phrase) {
  absl::StatusOr<CompiledPhrase> compiled = CompilePhrase(phrase);
  EXPECT_FALSE(compiled.ok()) << phrase << " compiled to " << compiled->regex;
  if (compiled.ok()) return "";
  EXPECT_EQ(compiled.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(compiled.status().message());
}

TEST(PhraseSyntax, PlainWordsMatchCaseInsensitivelyOnWordBoundaries) {
  EXPECT_TRUE(Matches("calm down", "Sir, please CALM DOWN."));
  EXPECT_FALSE(Matches("calm down", "the storm calmed down"));
  EXPECT_FALSE(Matches("manager", "the management team"));
  EXPECT_FALSE(Matches("sue", "we will pursue it"));
}

TEST(PhraseSyntax, BracketsMakeWordsOptional) {
  EXPECT_TRUE(Matches("[please] calm down", "calm down"));
  EXPECT_TRUE(Matches("[please] calm down", "please calm down"));
  EXPECT_TRUE(Matches("i am [so|very] sorry", "I'm very sorry"));
  EXPECT_FALSE(Matches("i am [so] sorry", "I am really sorry"));
}

TEST(PhraseSyntax, ParenthesesGiveAlternativesOfSeveralWords) {
  const std::string phrase = "(talk|speak) to (your|a) (manager|supervisor)";
  EXPECT_TRUE(Matches(phrase, "let me speak to your supervisor"));
  EXPECT_TRUE(Matches(phrase, "I want to talk to a manager"));
  EXPECT_FALSE(Matches(phrase, "I talked to my account manager"));
  EXPECT_TRUE(Matches("(billing|the billing department) messed up", "the billing department messed up"));
}

TEST(PhraseSyntax, StarIsExactlyOneWord) {
  EXPECT_FALSE(Matches("you * wrong", "you got it wrong"));
  EXPECT_TRUE(Matches("you * wrong", "you're wrong"));
  EXPECT_TRUE(Matches("you * wrong", "you got wrong"));
  EXPECT_FALSE(Matches("you * wrong", "you wrong"));
}

TEST(PhraseSyntax, EllipsisIsUpToThreeWords) {
  EXPECT_TRUE(Matches("i ... understand", "I understand"));
  EXPECT_TRUE(Matches("i ... understand", "I can certainly understand"));
  EXPECT_TRUE(Matches("i ... understand", "I really can certainly understand"));
  EXPECT_FALSE(Matches("i ... understand", "I think you will never understand"));
}

TEST(PhraseSyntax, ContractionsInPhrasesEqualExpansionsInSpeech) {
  for (const char* speech : {"I can't do that", "I cannot do that", "I can not do that",
                             "i cant do that"}) {
    EXPECT_TRUE(Matches("i can't do that", speech)) << speech;
    EXPECT_TRUE(Matches("i cannot do that", speech)) << speech;
  }
  EXPECT_TRUE(Matches("that is not my fault", "That's not my fault"));
  EXPECT_TRUE(Matches("you're wrong", "you are wrong"));
}

TEST(PhraseSyntax, FillersBetweenWordsDoNotBreakAMatch) {
  EXPECT_TRUE(Matches("calm down", "calm, um, down"));
  EXPECT_TRUE(Matches("calm down", "calm like down"));
  EXPECT_TRUE(Matches("i can certainly understand", "I can uh you know certainly like understand"));
  EXPECT_TRUE(Matches("i would like to help", "I would like to help"));
}

TEST(PhraseSyntax, NumberWordsEqualDigits) {
  EXPECT_TRUE(Matches("called 3 times", "I've called three times"));
  EXPECT_TRUE(Matches("called three times", "I called 3 times"));
}

TEST(PhraseSyntax, PunctuationInPhrasesIsIgnored) {
  EXPECT_TRUE(Matches("sorry, sir!", "sorry sir"));
}

TEST(PhraseSyntax, RegexCharactersInWordsAreLiteral) {
  EXPECT_FALSE(Matches("a+b", "aab"));
}

TEST(PhraseSyntaxErrors, NameTheColumn) {
  EXPECT_THAT(ErrorOf("calm (down"), HasSubstr("column 6: '(' is never closed"));
  EXPECT_THAT(ErrorOf("calm down)"), HasSubstr("column 10"));
  EXPECT_THAT(ErrorOf("calm [down"), HasSubstr("column 6: '[' is never closed"));
  EXPECT_THAT(ErrorOf("calm | down"), HasSubstr("'|' outside parentheses"));
  EXPECT_THAT(ErrorOf("(calm|) down"), HasSubstr("empty alternative"));
  EXPECT_THAT(ErrorOf("(calm] down"), HasSubstr("expected ')'"));
}

TEST(PhraseSyntaxErrors, RejectPhrasesThatMatchNothingOrAnything) {
  EXPECT_THAT(ErrorOf(""), HasSubstr("no words"));
  EXPECT_THAT(ErrorOf("um, uh"), HasSubstr("no words"));
  EXPECT_THAT(ErrorOf("[sorry]"), HasSubstr("match nothing"));
  EXPECT_THAT(ErrorOf("* *"), HasSubstr("fixed word"));
  EXPECT_THAT(ErrorOf("... sorry"), HasSubstr("'...' cannot start or end"));
  EXPECT_THAT(ErrorOf("sorry ..."), HasSubstr("'...' cannot start or end"));
}

// Found by hand while writing the fuzz harnesses (tests/fuzz/regressions/):
// 30 nested groups took minutes (the fewest-words count visited the first
// branch twice per level) and 20,000 overflowed the stack.
TEST(PhraseSyntaxErrors, NestingIsLinearAndBoundedAt32Levels) {
  const std::string deepest_allowed = std::string(32, '(') + "calm down" + std::string(32, ')');
  absl::StatusOr<CompiledPhrase> compiled = CompilePhrase(deepest_allowed);
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  EXPECT_EQ(compiled->min_words, 2);
  EXPECT_TRUE(Matches(deepest_allowed, "Please calm down."));

  EXPECT_THAT(ErrorOf(std::string(33, '(') + "calm" + std::string(33, ')')),
              HasSubstr("column 33: groups nested more than 32 deep"));
  EXPECT_THAT(ErrorOf(std::string(20000, '[') + "calm" + std::string(20000, ']')),
              HasSubstr("groups nested more than 32 deep"));
  // Wide is fine: 32 levels with two branches each.
  std::string wide = "calm";
  for (int i = 0; i < 32; ++i) wide = "(" + wide + "|relax)";
  ASSERT_TRUE(CompilePhrase(wide).ok());
  EXPECT_EQ(CompilePhrase(wide)->min_words, 1);
}

TEST(PhraseCompiler, ReportsTheFewestWordsAMatchSpans) {
  EXPECT_EQ(CompilePhrase("[please] calm down")->min_words, 2);
  EXPECT_EQ(CompilePhrase("(a b c|d) * e")->min_words, 3);
  EXPECT_EQ(CompilePhrase("can't")->min_words, 2);
}

TEST(PhraseCompiler, CompilesToRe2WithoutBacktrackingConstructs) {
  // Every construct must be accepted by RE2 (which has no backreferences or
  // lookaround), so no phrase list can make matching super-linear.
  absl::StatusOr<CompiledPhrase> compiled =
      CompilePhrase("[i am] (so|very|really) sorry ... * (inconvenience|trouble)");
  ASSERT_TRUE(compiled.ok());
  RE2 re(compiled->regex);
  EXPECT_TRUE(re.ok()) << re.error();
}

}  // namespace
}  // namespace coach::engine
