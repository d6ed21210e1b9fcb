// The examples in phrase_lists/README.md are real: every ```textproto block
// parses as a pack, and the full rule example compiles with its examples and
// counter-examples passing.

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "phrase_lists/loader.h"

namespace coach::phrase_lists {
namespace {

std::vector<std::string> TextprotoBlocks() {
  std::ifstream in(std::string(COACHD_SOURCE_DIR) + "/phrase_lists/README.md");
  std::stringstream content;
  content << in.rdbuf();
  const std::string text = content.str();
  std::vector<std::string> blocks;
  const std::string open = "```textproto\n";
  for (size_t pos = text.find(open); pos != std::string::npos; pos = text.find(open, pos)) {
    pos += open.size();
    const size_t end = text.find("```", pos);
    if (end == std::string::npos) break;
    blocks.push_back(text.substr(pos, end - pos));
    pos = end + 3;
  }
  return blocks;
}

TEST(ReadmeExamples, EveryBlockParses) {
  const std::vector<std::string> blocks = TextprotoBlocks();
  ASSERT_GE(blocks.size(), 3u);
  for (size_t i = 0; i < blocks.size(); ++i) {
    engine::RuleSetSpec spec;
    std::vector<engine::Diagnostic> diagnostics;
    absl::Status status = AppendPack("README block " + std::to_string(i + 1), blocks[i], &spec,
                                     &diagnostics);
    EXPECT_TRUE(status.ok()) << status << "\n"
                             << (diagnostics.empty() ? "" : diagnostics[0].ToString());
  }
}

TEST(ReadmeExamples, RuleExampleCompilesAndItsExamplesHold) {
  const std::vector<std::string> blocks = TextprotoBlocks();
  ASSERT_FALSE(blocks.empty());
  engine::RuleSetSpec spec;
  ASSERT_TRUE(AppendPack("README", blocks[0], &spec, nullptr).ok());
  ASSERT_EQ(spec.rules.size(), 1u);
  std::vector<engine::Diagnostic> diagnostics;
  auto rules = engine::RuleSet::Compile(spec, {}, &diagnostics);
  EXPECT_TRUE(rules.ok()) << rules.status();
}

}  // namespace
}  // namespace coach::phrase_lists
