#include "engine/normalizer.h"

#include "gtest/gtest.h"

namespace coach::engine {
namespace {

TEST(Normalizer, LowercasesAndTurnsPunctuationIntoWordBreaks) {
  EXPECT_EQ(NormalizeToString("Please, CALM down!!"), "please calm down");
  EXPECT_EQ(NormalizeToString("follow-up\temail...now"), "follow up email now");
  EXPECT_EQ(NormalizeToString("   "), "");
}

TEST(Normalizer, ResultHasASpaceAroundEveryWord) {
  NormalizedText n;
  Normalize("Hi there", &n);
  EXPECT_EQ(n.text, " hi there ");
  Normalize("", &n);
  EXPECT_EQ(n.text, " ");
  EXPECT_TRUE(n.tokens.empty());
}

TEST(Normalizer, ContractionsEqualTheirExpansions) {
  EXPECT_EQ(NormalizeToString("can't"), "can not");
  EXPECT_EQ(NormalizeToString("cannot"), "can not");
  EXPECT_EQ(NormalizeToString("can not"), "can not");
  EXPECT_EQ(NormalizeToString("I'm"), "i am");
  EXPECT_EQ(NormalizeToString("you're"), "you are");
  EXPECT_EQ(NormalizeToString("won't"), "will not");
  EXPECT_EQ(NormalizeToString("didn't"), "did not");
  EXPECT_EQ(NormalizeToString("that's"), "that is");
  EXPECT_EQ(NormalizeToString("I'll"), "i will");
  EXPECT_EQ(NormalizeToString("we've"), "we have");
  EXPECT_EQ(NormalizeToString("let's"), "let us");
}

TEST(Normalizer, UnicodeApostrophesCountAsApostrophes) {
  EXPECT_EQ(NormalizeToString("I\u2019m sorry, that\u2019s \u201cwrong\u201d"),
            "i am sorry that is wrong");
}

TEST(Normalizer, ApostropheLessSpellingsFromSpeechToTextExpand) {
  EXPECT_EQ(NormalizeToString("dont"), "do not");
  EXPECT_EQ(NormalizeToString("im sure thats fine"), "i am sure that is fine");
  EXPECT_EQ(NormalizeToString("youre"), "you are");
  // Real words are left alone.
  EXPECT_EQ(NormalizeToString("its well ill were"), "its well ill were");
}

TEST(Normalizer, PossessivesStayPossessive) {
  EXPECT_EQ(NormalizeToString("the customer's card"), "the customer's card");
  EXPECT_EQ(NormalizeToString("it's"), "it is");
}

TEST(Normalizer, NumberWordsBecomeDigits) {
  EXPECT_EQ(NormalizeToString("I've called three times"), "i have called 3 times");
  EXPECT_EQ(NormalizeToString("twenty five dollars"), "20 5 dollars");
  EXPECT_EQ(NormalizeToString("3 times"), "3 times");
}

TEST(Normalizer, PureFillersAreDropped) {
  EXPECT_EQ(NormalizeToString("um I uh can er help"), "i can help");
  // "like" carries meaning too, so it stays; the matcher may skip it.
  EXPECT_EQ(NormalizeToString("I would like to"), "i would like to");
}

TEST(Normalizer, TokensMapBackToTheSource) {
  NormalizedText n;
  const std::string source = "Well, I can't.";
  Normalize(source, &n);
  ASSERT_EQ(n.tokens.size(), 4u);  // well i can not
  EXPECT_EQ(source.substr(n.tokens[0].source_begin,
                          n.tokens[0].source_end - n.tokens[0].source_begin),
            "Well");
  // Both words of the contraction map to "can't".
  for (int i : {2, 3}) {
    EXPECT_EQ(source.substr(n.tokens[i].source_begin,
                            n.tokens[i].source_end - n.tokens[i].source_begin),
              "can't");
  }
  EXPECT_EQ(n.text.substr(n.tokens[3].norm_begin, n.tokens[3].norm_end - n.tokens[3].norm_begin),
            "not");
}

TEST(Normalizer, InvalidUtf8BecomesWordBreaksAndOutputIsValid) {
  const std::string bad = std::string("caf\xC3\xA9 \xFF\xFE ok \xE2\x82") + "x";
  EXPECT_EQ(NormalizeToString(bad), "caf\xC3\xA9 ok x");
}

TEST(Normalizer, LatinCapitalsAreLowercased) {
  EXPECT_EQ(NormalizeToString("CAF\xC3\x89"), "caf\xC3\xA9");
}

}  // namespace
}  // namespace coach::engine
