// End-to-end: runs the real coachctl binary as a user does and checks its
// output and exit codes.

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

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

// Whether some line of `output` contains every one of `parts` (JSON objects
// print their keys in no fixed order).
bool HasLineWith(const std::string& output, const std::vector<std::string>& parts) {
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (std::all_of(parts.begin(), parts.end(), [&](const std::string& part) {
          return line.find(part) != std::string::npos;
        })) {
      return true;
    }
  }
  return false;
}

// A fresh directory for one test's files, removed afterwards.
class TempDir {
 public:
  explicit TempDir(const std::string& name)
      : path_(fs::temp_directory_path() / ("coachctl_e2e_" + name)) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  // Writes `content` to `name` in the directory; returns its path.
  std::string Write(const std::string& name, const std::string& content) const {
    const fs::path file = path_ / name;
    fs::create_directories(file.parent_path());
    std::ofstream(file) << content;
    return file.string();
  }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

// One rule with an example and a counter-example, in textproto.
std::string PackRule(const std::string& id, const std::string& category,
                     const std::string& speaker, const std::string& phrase,
                     const std::string& example, const std::string& counter_example) {
  return "rules {\n"
         "  id: \"" + id + "\"\n"
         "  category: \"" + category + "\"\n"
         "  kind: \"" + (speaker == "agent" ? "reinforcement" : "cue") + "\"\n"
         "  speaker: \"" + speaker + "\"\n"
         "  phrases: \"" + phrase + "\"\n"
         "  title: \"t\"\n"
         "  message: \"m\"\n" +
         (example.empty() ? "" : "  examples: \"" + example + "\"\n") +
         (counter_example.empty() ? "" : "  counter_examples: \"" + counter_example + "\"\n") +
         "}\n";
}

TEST(CoachctlLint, WarningsNameFileLineAndRuleAndExitZero) {
  TempDir dir("lint_warnings");
  const std::string pack = dir.Write(
      "warn.textproto",
      PackRule("empathy.feel", "empathy", "agent", "i understand how you feel",
               "I understand how you feel.", "") +                        // lines 1-10
          PackRule("empathy.feel_again", "empathy", "agent", "I understand how you feel!",
                   "i understand how you feel", "I feel fine.") +         // lines 11-21
          PackRule("frustration.unhappy", "frustration", "customer", "so [un]happy",
                   "I am so un happy", "I am happy"));                    // lines 22-32
  Result r = RunCommand("lint " + pack);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr(pack + ":1:1: warning: rule empathy.feel: rule has no "
                                         "counter-examples"));
  EXPECT_THAT(r.output, HasSubstr(pack + ":16:3: warning: rule empathy.feel_again: phrase \"I "
                                         "understand how you feel!\" is also a phrase of rule "
                                         "empathy.feel (" + pack + ":6:3)"));
  EXPECT_THAT(r.output, HasSubstr(pack + ":27:3: warning: rule frustration.unhappy: phrase \"so "
                                         "[un]happy\": one way of saying it can never match: "
                                         "speech \"so unhappy\" reads \"so unhappy\", but the "
                                         "phrase expects \"so un happy\""));
  EXPECT_THAT(r.output, HasSubstr("OK: 3 rules"));
  EXPECT_THAT(r.output, HasSubstr("3 warning(s)"));

  Result quiet = RunCommand("lint --warnings=false " + pack);
  EXPECT_EQ(quiet.exit_code, 0);
  EXPECT_THAT(quiet.output, Not(HasSubstr("warning: rule")));
}

TEST(CoachctlLint, PhraseThatCanNeverMatchIsAWarningAndAnErrorOnlyThroughItsExample) {
  TempDir dir("lint_never");
  // "i can't help" reads "i can not help"; the phrase expects "i can t help".
  const std::string pack =
      dir.Write("never.textproto", PackRule("dismissive.cant", "dismissive", "agent",
                                            "i (can|could)'t help", "", "I can help."));
  Result r = RunCommand("lint " + pack);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr(pack + ":6:3: warning: rule dismissive.cant: phrase \"i "
                                         "(can|could)'t help\" can never match after "
                                         "normalization"));
}

TEST(CoachctlTest, BundledPacksAndTestFilesPassWithPrecisionAndRecall) {
  Result r = RunCommand("test " + kSourceDir + "/phrase_lists");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, ContainsRegex("OK: [0-9]+ examples and counter-examples \\(0 failed\\); "
                                      "[0-9]+ labelled utterances in 3 test files \\(0 failed\\)"));
  EXPECT_THAT(r.output, HasSubstr("PASS " + kSourceDir +
                                  "/phrase_lists/tests/agent_good_practice.test.jsonl:1: "
                                  "seed001-apology agent: \"Mr. Jones"));
  EXPECT_THAT(r.output, ContainsRegex("category +TP +FN +FP +TN +unlabelled +precision +recall"));
  EXPECT_THAT(r.output, ContainsRegex("\nlegal_threat +[0-9]+ +0 +0 +[0-9]+ +[0-9]+ +1.00 +1.00\n"));
  EXPECT_THAT(r.output, Not(HasSubstr("FAIL ")));
}

TEST(CoachctlTest, FailingCaseExitsOneNamesTheCaseAndCountsIt) {
  TempDir dir("test_failing");
  const std::string pack = dir.Write(
      "packs/empathy.textproto",
      PackRule("empathy.feel", "empathy", "agent", "i understand how you feel",
               "I understand how you feel.", "I feel fine.") +
          PackRule("frustration.ridiculous", "frustration", "customer", "this is ridiculous",
                   "This is ridiculous!", "Is this real?"));
  const std::string tests = dir.Write(
      "packs/tests/empathy.test.jsonl",
      "{\"id\": \"hit\", \"text\": \"I understand how you feel.\", \"speaker\": \"agent\", "
      "\"expect\": [\"empathy\"]}\n"
      "\n"
      "{\"id\": \"miss\", \"text\": \"I get why you are upset.\", \"speaker\": \"agent\", "
      "\"expect\": [\"empathy\"]}\n"
      "{\"text\": \"This is ridiculous.\", \"speaker\": \"customer\", \"expect\": "
      "[\"frustration\"], \"reject\": [\"empathy\"]}\n"
      "{\"text\": \"I understand how you feel\", \"speaker\": \"agent\", \"reject\": "
      "[\"empathy\"]}\n");
  Result r = RunCommand("test " + dir.path() + "/packs");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("PASS " + tests + ":1: hit agent: \"I understand how you "
                                                    "feel.\""));
  EXPECT_THAT(r.output, HasSubstr("FAIL " + tests + ":3: miss agent: \"I get why you are "
                                                    "upset.\"\n       expected empathy was not "
                                                    "detected"));
  EXPECT_THAT(r.output, HasSubstr("FAIL " + tests + ":5: agent: \"I understand how you feel\"\n"
                                                    "       rejected empathy (empathy.feel on "
                                                    "\"I understand how you feel\") was "
                                                    "detected"));
  // empathy: TP 1 (line 1), FN 1 (line 3), FP 1 (line 5), TN 1 (line 4).
  EXPECT_THAT(r.output, ContainsRegex("\nempathy +1 +1 +1 +1 +0 +0.50 +0.50\n"));
  EXPECT_THAT(r.output, ContainsRegex("\nfrustration +1 +0 +0 +0 +0 +1.00 +1.00\n"));
  EXPECT_THAT(r.output, HasSubstr("FAILED: 4 examples and counter-examples (0 failed); 4 "
                                  "labelled utterances in 1 test files (2 failed)"));

  Result json = RunCommand("test --json " + dir.path() + "/packs");
  EXPECT_EQ(json.exit_code, 1);
  EXPECT_TRUE(HasLineWith(json.output, {"\"type\":\"test\"", "\"id\":\"miss\"",
                                         "\"pass\":false", "\"line\":3"}))
      << json.output;
  EXPECT_TRUE(HasLineWith(json.output, {"\"type\":\"category\"", "\"category\":\"empathy\"",
                                         "\"precision\":0.5", "\"recall\":0.5"}))
      << json.output;
  EXPECT_TRUE(HasLineWith(json.output, {"\"type\":\"summary\"", "\"tests_failed\":2"}))
      << json.output;
}

TEST(CoachctlTest, FailingExampleIsReportedWithItsLineAndRule) {
  TempDir dir("test_example");
  const std::string pack =
      dir.Write("p.textproto", PackRule("empathy.feel", "empathy", "agent",
                                        "i understand how you feel", "I see how you feel.",
                                        "I understand how you feel."));
  Result r = RunCommand("test " + pack);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("FAIL " + pack + ":9: empathy.feel example: \"I see how you "
                                                   "feel.\"\n       does not match"));
  EXPECT_THAT(r.output, HasSubstr("FAIL " + pack + ":10: empathy.feel counter-example: \"I "
                                                   "understand how you feel.\"\n       matches "
                                                   "\"i understand how you feel\""));
}

TEST(CoachctlTest, BadTestLinesAndPathsAreReported) {
  TempDir dir("test_bad");
  const std::string pack = dir.Write(
      "p.textproto", PackRule("empathy.feel", "empathy", "agent", "i understand how you feel",
                              "I understand how you feel.", "I feel fine."));
  const std::string tests = dir.Write(
      "bad.test.jsonl",
      "{\"text\": \"hi\", \"speaker\": \"agent\", \"expect\": [\"empathyy\"]}\n"
      "{\"text\": \"hi\", \"speaker\": \"robot\", \"expect\": [\"empathy\"]}\n"
      "{\"text\": \"hi\", \"speaker\": \"agent\", \"expects\": [\"empathy\"]}\n"
      "not json\n");
  Result r = RunCommand("test " + pack + " " + tests);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr(tests + ":1: category 'empathyy' is not the category of any "
                                          "loaded rule"));
  EXPECT_THAT(r.output, HasSubstr(tests + ":2: \"speaker\" must be \"agent\" or \"customer\""));
  EXPECT_THAT(r.output, HasSubstr(tests + ":3: unknown field \"expects\""));
  EXPECT_THAT(r.output, HasSubstr(tests + ":4: not a JSON object"));

  Result missing = RunCommand("test " + pack + " --tests " + dir.path() + "/nowhere");
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_THAT(missing.output, HasSubstr("does not exist"));
}

// A coachd on a free loopback port, for the commands that need a server.
class CoachdProcess {
 public:
  explicit CoachdProcess(const std::string& log) : log_(log) {
    const std::string command = std::string(COACHD_PATH) +
                                " --listen=127.0.0.1:0 --phrase_lists=" + kSourceDir +
                                "/phrase_lists 2> " + log + " & echo $!";
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe != nullptr) {
      if (fscanf(pipe, "%d", &pid_) != 1) pid_ = -1;
      pclose(pipe);
    }
  }
  ~CoachdProcess() {
    if (pid_ > 0) kill(pid_, SIGTERM);
  }
  // The port from the start-up line "(port N)"; 0 if none within 30 s.
  int Port() const {
    const std::regex port_line("\\(port ([0-9]+)\\)");
    for (int i = 0; i < 300; ++i) {
      std::ifstream in(log_);
      std::stringstream text;
      text << in.rdbuf();
      std::smatch match;
      const std::string log = text.str();
      if (std::regex_search(log, match, port_line)) return std::stoi(match[1]);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return 0;
  }

 private:
  std::string log_;
  int pid_ = -1;
};

TEST(CoachctlSimulate, SendsInterimHypothesesFromWordTimings) {
  TempDir dir("simulate_interims");
  CoachdProcess coachd(dir.path() + "/coachd.log");
  const int port = coachd.Port();
  ASSERT_GT(port, 0);
  // "calm down" shows in the interim "Sir please calm down" (at 1.4 s), so
  // the nudge fires there, marked interim, and the final does not repeat it.
  const std::string call = dir.Write(
      "call.jsonl",
      "{\"call_id\":\"sim-interim\",\"agent_id\":\"agent-7\",\"segment_id\":\"a1\","
      "\"speaker\":\"agent\",\"text\":\"Sir please calm down and listen\",\"start_ms\":0,"
      "\"end_ms\":2000,\"words\":[{\"start_ms\":0,\"end_ms\":300},{\"start_ms\":300,"
      "\"end_ms\":700},{\"start_ms\":700,\"end_ms\":1000},{\"start_ms\":1000,\"end_ms\":1400},"
      "{\"start_ms\":1400,\"end_ms\":1600},{\"start_ms\":1600,\"end_ms\":2000}]}\n");
  const std::string server = " --server=127.0.0.1:" + std::to_string(port);
  Result r = RunCommand("simulate --speed=0" + server + " " + call);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(HasLineWith(r.output, {"\"rule_id\":\"provoking.calm_down\"", "\"interim\":true"}))
      << r.output;
  EXPECT_THAT(r.output, HasSubstr("\"matched_text\":\"please calm down\""));
  EXPECT_THAT(r.output, Not(HasSubstr("\"retraction\"")));
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 2) << r.output;  // nudge, report

  // Without interims the same nudge fires on the final.
  Result finals = RunCommand("simulate --speed=0 --interims=false --call_id_suffix=-2" + server +
                             " " + call);
  ASSERT_EQ(finals.exit_code, 0) << finals.output;
  EXPECT_THAT(finals.output, HasSubstr("\"rule_id\":\"provoking.calm_down\""));
  EXPECT_THAT(finals.output, Not(HasSubstr("\"interim\":true")));
}

// More in replay_test.cc (replay_e2e_test).
TEST(CoachctlReplay, SampleCallPrintsASummaryRowAndTheAggregate) {
  Result r = RunCommand("replay --phrase_lists " + kSourceDir + "/phrase_lists " + kSourceDir +
                        "/tests/data/calls/escalated_call.jsonl");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, ::testing::ContainsRegex("\n +77 +12 +2 .* demo-escalated-001\n"));
  EXPECT_THAT(r.output, HasSubstr("1 calls (0 failed), 12 segments, mean score 77.0"));
  EXPECT_THAT(r.output, ::testing::ContainsRegex("\nlegal_threat +0 +1\n"));
  EXPECT_THAT(r.output, ::testing::ContainsRegex("\nprovoking +2 +0\n"));
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
  Result view = RunCommand("watch --server=127.0.0.1:1 --agent=a --view=fancy");
  EXPECT_EQ(view.exit_code, 2);
  EXPECT_THAT(view.output, HasSubstr("--view must be 'text', 'json' or 'auto'"));
  Result policy = RunCommand("replay --interim_policy=sometimes x.jsonl");
  EXPECT_EQ(policy.exit_code, 2);
  EXPECT_THAT(policy.output, Not(HasSubstr("Scorecard")));
}

}  // namespace
