// End-to-end: runs the real coachctl binary as a user does and checks its
// output and exit codes.

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kCoachctl = COACHCTL_PATH;
const std::string kSourceDir = COACHD_SOURCE_DIR;

struct Result {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

Result RunCommand(const std::string& args) {
  Result result;
  const std::string command = kCoachctl + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

TEST(CoachctlLint, BundledPacksAreClean) {
  Result r = RunCommand("lint " + kSourceDir + "/phrase_lists");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("OK: "));
  EXPECT_THAT(r.output, HasSubstr("examples checked, 0 warning(s)"));
  // Rule counts per category follow the summary line.
  EXPECT_THAT(r.output, HasSubstr("\n  provoking: "));
  EXPECT_THAT(r.output, HasSubstr("\n  legal_threat: "));
}

TEST(CoachctlLint, BrokenPackPrintsFileLineColumnAndFails) {
  const auto dir = std::filesystem::temp_directory_path() / "coachctl_e2e_lint";
  std::filesystem::create_directories(dir);
  const std::string pack = (dir / "bad.textproto").string();
  std::ofstream(pack) << "rules {\n"
                         "  id: \"provoking.calm_down\"\n"
                         "  category: \"provoking\"\n"
                         "  kind: \"corrective\"\n"
                         "  speaker: \"agent\"\n"
                         "  phrases: \"calm (down\"\n"
                         "  title: \"t\"\n"
                         "  message: \"m\"\n"
                         "}\n";
  Result r = RunCommand("lint " + pack);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr(pack + ":6:3: rule provoking.calm_down: phrase \"calm (down\": "
                                         "column 6: '(' is never closed"));
  EXPECT_THAT(r.output, HasSubstr("FAILED: 1 error(s)"));
  std::filesystem::remove_all(dir);
}

TEST(CoachctlReplay, SampleCallPrintsNudgesAndScorecard) {
  Result r = RunCommand("replay --phrase_lists " + kSourceDir + "/phrase_lists " + kSourceDir +
                        "/tests/data/calls/escalated_call.jsonl");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("=== call demo-escalated-001 (agent agent-042)"));
  EXPECT_THAT(r.output, ::testing::ContainsRegex("ESCALATION +legal_threat"));
  EXPECT_THAT(r.output, ::testing::ContainsRegex("CORRECTIVE +provoking"));
  EXPECT_THAT(r.output, HasSubstr("Scorecard (rule set rs-"));
  EXPECT_THAT(r.output, HasSubstr("[x] acknowledge"));
  EXPECT_THAT(r.output, HasSubstr("commitment"));
}

TEST(CoachctlReplay, MissingFileFailsWithAMessage) {
  Result r = RunCommand("replay /nonexistent/call.jsonl");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("cannot open transcript '/nonexistent/call.jsonl'"));
}

TEST(Coachctl, UsageErrorsExitTwo) {
  Result unknown = RunCommand("frobnicate");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.output, HasSubstr("unknown command 'frobnicate'"));
  Result none = RunCommand("");
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_THAT(none.output, HasSubstr("Commands:"));
  Result policy = RunCommand("replay --interim_policy=sometimes x.jsonl");
  EXPECT_EQ(policy.exit_code, 2);
  EXPECT_THAT(policy.output, Not(HasSubstr("Scorecard")));
}

}  // namespace
