// End-to-end: runs the real `coachctl replay` as a QA analyst does, on the
// sample call and the Harper Valley sample, and checks its outputs: JSON Lines
// shapes and seq, sharding, --jobs independence, in-process == coachd's
// ReviewCall (against a real coachd on port 0), the HTML report, usage errors,
// and determinism on real ASR and human text (printing their nudge agreement).
// Every test works in its own temporary directory.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "e2e/coachd_process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace {

namespace fs = std::filesystem;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;
using coach::e2e::Coachd;
using coach::e2e::ReadFile;

const std::string kCoachd = COACHD_PATH;
const std::string kCoachctl = COACHCTL_PATH;
const std::string kSourceDir = COACHD_SOURCE_DIR;
const std::string kSampleCall = kSourceDir + "/tests/data/calls/escalated_call.jsonl";
const std::string kHarperValley = kSourceDir + "/tests/data/harper_valley/transcript";

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class ReplayTest : public ::testing::Test {
 protected:
  struct Result {
    int exit_code = -1;
    std::string out;
    std::string err;
  };

  void SetUp() override { dir_ = coach::e2e::MakeTestDir("replay_e2e_", kSourceDir); }
  void TearDown() override { coach::e2e::RemoveTestDir(dir_); }

  // Runs coachctl with the test's own copy of the bundled packs; stdout and
  // stderr apart.
  Result Coachctl(const std::string& args) {
    Result result;
    const fs::path err = dir_ / "stderr.txt";
    const std::string command =
        absl::StrCat(kCoachctl, " ", args, " --phrase_lists=", (dir_ / "phrase_lists").string(),
                     " 2>", err.string());
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return result;
    char buffer[4096];
    for (size_t n; (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0;) result.out.append(buffer, n);
    const int status = pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.err = ReadFile(err);
    return result;
  }

  fs::path dir_;
};

// The parsed lines of a --json run.
std::vector<json> JsonLines(const std::string& out) {
  std::vector<json> lines;
  for (const std::string& line : Lines(out)) lines.push_back(json::parse(line));
  return lines;
}

const json* Payload(const json& line) {
  for (const char* key : {"nudge", "retraction", "reminder"}) {
    if (line.contains(key)) return &line[key];
  }
  return nullptr;
}

// (call, category, segment) of every nudge still standing at the end.
std::set<std::tuple<std::string, std::string, std::string>> StandingNudges(
    const std::vector<json>& lines) {
  std::set<std::pair<std::string, std::string>> retracted;  // (call, seq)
  for (const json& line : lines) {
    if (line.contains("retraction")) {
      retracted.insert({line["call_id"].get<std::string>(),
                        line["retraction"]["retracted_seq"].get<std::string>()});
    }
  }
  std::set<std::tuple<std::string, std::string, std::string>> nudges;
  for (const json& line : lines) {
    const std::string call = line["call_id"].get<std::string>();
    if (!line.contains("nudge") || retracted.count({call, line["seq"].get<std::string>()}) > 0) {
      continue;
    }
    nudges.insert({call, line["nudge"]["category"].get<std::string>(),
                   line["nudge"]["evidence"]["segment_id"].get<std::string>()});
  }
  return nudges;
}

std::set<std::string> ReportedCalls(const std::vector<json>& lines) {
  std::set<std::string> calls;
  for (const json& line : lines) {
    if (line.contains("report")) calls.insert(line["call_id"].get<std::string>());
  }
  return calls;
}

TEST_F(ReplayTest, JsonLinesAreCoachEventsWithTheKeyFieldsInSeqOrder) {
  Result r = Coachctl("replay --json " + kSampleCall);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<json> lines = JsonLines(r.out);
  ASSERT_GE(lines.size(), 2u);
  int64_t expected_seq = 1;
  for (size_t i = 0; i < lines.size(); ++i) {
    const json& line = lines[i];
    SCOPED_TRACE(line.dump());
    EXPECT_EQ(line["call_id"], "demo-escalated-001");
    EXPECT_EQ(line["agent_id"], "agent-042");
    // proto3 JSON: int64 as a decimal string.
    EXPECT_EQ(line["seq"], std::to_string(expected_seq++));
    EXPECT_EQ(line["event_id"],
              absl::StrCat("demo-escalated-001/", line["seq"].get<std::string>()));
    EXPECT_THAT(line["rule_version"].get<std::string>(), ::testing::StartsWith("rs-"));
    if (i + 1 == lines.size()) {
      ASSERT_TRUE(line.contains("report"));
      EXPECT_EQ(line["report"]["score"], 77);
      EXPECT_EQ(line["report"]["language"], "en-US");
      EXPECT_EQ(line["report"]["asap"].size(), 4u);
      continue;
    }
    const json* payload = Payload(line);
    ASSERT_NE(payload, nullptr);
    EXPECT_FALSE((*payload)["rule_id"].get<std::string>().empty());
    EXPECT_FALSE((*payload)["category"].get<std::string>().empty());
    EXPECT_THAT((*payload)["kind"].get<std::string>(), ::testing::StartsWith("RULE_KIND_"));
    EXPECT_FALSE((*payload)["evidence"]["segment_id"].get<std::string>().empty());
  }
  EXPECT_THAT(r.out, HasSubstr("\"category\":\"legal_threat\""));
  EXPECT_THAT(r.out, HasSubstr("\"category\":\"provoking\""));
  EXPECT_THAT(r.err, HasSubstr("1 calls (0 failed) from 1 files"));
  EXPECT_THAT(r.err,
              Not(HasSubstr("\r")));  // no progress bar without a terminal
}

TEST_F(ReplayTest, DefaultOutputIsASummaryTableAndAnAggregate) {
  Result r = Coachctl("replay " + kSampleCall);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> lines = Lines(r.out);
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines[0], "SCORE  SEGS  CORR REINF ESCAL   CUE TRACK REMIND MISSED COMMIT  CALL");
  EXPECT_THAT(lines[1], ContainsRegex("^ +77 +[0-9]+ .* demo-escalated-001$"));
  EXPECT_THAT(r.out, HasSubstr("1 calls (0 failed)"));
  EXPECT_THAT(r.out, HasSubstr("mean score 77.0"));
  EXPECT_THAT(r.out, ContainsRegex("\nlegal_threat +0 +1\n"));
  EXPECT_THAT(r.err, ContainsRegex("calls/s \\([0-9]+ jobs, in-process\\)"));
}

TEST_F(ReplayTest, ProgressBarOnlyWhenStderrIsATerminal) {
  // Not a terminal: stderr holds only the closing summary line.
  Result plain = Coachctl("replay --format=harper_valley " + kSourceDir +
                          "/tests/data/harper_valley");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_THAT(plain.err, Not(HasSubstr("\r")));
  EXPECT_THAT(plain.err, Not(HasSubstr("files,")));
  // A pseudo-terminal from util-linux's script(1): the bar is drawn, then cleared.
  const fs::path typescript = dir_ / "tty.txt";
  const std::string inner = absl::StrCat(
      kCoachctl, " replay --format=harper_valley --phrase_lists=", (dir_ / "phrase_lists").string(),
      " ", kSourceDir, "/tests/data/harper_valley > /dev/null");
  const std::string command = absl::StrCat("script -q -e -c '", inner, "' ", typescript.string(),
                                           " > /dev/null 2>&1");
  ASSERT_EQ(std::system(command.c_str()), 0);
  const std::string tty = ReadFile(typescript);
  EXPECT_THAT(tty, HasSubstr("\r["));
  EXPECT_THAT(tty, HasSubstr("20/20 files, 20 calls"));
  EXPECT_THAT(tty, HasSubstr("\r\033[K"));
}

TEST_F(ReplayTest, ShardsPartitionTheCallsAndKeepTheirOutput) {
  const std::string inputs = kHarperValley + " " + kSampleCall;
  Result all = Coachctl("replay --json --format=auto " + inputs);
  ASSERT_EQ(all.exit_code, 0) << all.err;
  const std::set<std::string> every = ReportedCalls(JsonLines(all.out));
  ASSERT_EQ(every.size(), 21u);
  std::set<std::string> seen;
  size_t total_lines = 0;
  for (int i = 0; i < 3; ++i) {
    Result shard = Coachctl(absl::StrCat("replay --json --shard=", i, "/3 ", inputs));
    ASSERT_EQ(shard.exit_code, 0) << shard.err;
    const std::set<std::string> calls = ReportedCalls(JsonLines(shard.out));
    EXPECT_FALSE(calls.empty()) << "shard " << i;
    for (const std::string& call : calls) {
      EXPECT_TRUE(seen.insert(call).second) << call << " is in two shards";
    }
    // A shard prints exactly the lines the full run prints for its calls.
    for (const std::string& line : Lines(shard.out)) {
      EXPECT_THAT(all.out, HasSubstr(line + "\n"));
    }
    total_lines += Lines(shard.out).size();
  }
  EXPECT_EQ(seen, every);
  EXPECT_EQ(total_lines, Lines(all.out).size());
}

TEST_F(ReplayTest, BadShardJobsFormatOrNoInputIsAUsageError) {
  for (const std::string& args :
       {std::string("replay --shard=3/3 ") + kSampleCall, "replay --shard=1/0 " + kSampleCall,
        "replay --shard=-1/2 " + kSampleCall, "replay --shard=1 " + kSampleCall,
        "replay --jobs=-1 " + kSampleCall, "replay --format=docx " + kSampleCall,
        "replay --text=robot " + kSampleCall, std::string("replay")}) {
    Result r = Coachctl(args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr("coachctl replay: ")) << args;
    EXPECT_EQ(r.out, "") << args;
  }
  Result shard = Coachctl("replay --shard=4/3 " + kSampleCall);
  EXPECT_THAT(shard.err, HasSubstr("--shard must be i/n with 0 <= i < n"));
}

TEST_F(ReplayTest, UnreadableInputExitsOneAndTheOtherCallsStillRun) {
  std::ofstream(dir_ / "broken.jsonl") << "{\"call_id\": \"x\", \"speaker\": \"robot\"}\n";
  Result r = Coachctl(absl::StrCat("replay ", (dir_ / "broken.jsonl").string(),
                                   " /nonexistent/call.jsonl ", kSampleCall));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("/nonexistent/call.jsonl"));
  EXPECT_THAT(r.err, HasSubstr("broken.jsonl:1"));
  EXPECT_THAT(r.out, HasSubstr("demo-escalated-001"));
}

TEST_F(ReplayTest, OutputIsTheSameWithOneOrTwoJobs) {
  const std::string inputs = kHarperValley + " " + kSampleCall;
  for (const std::string mode : {"--json", ""}) {
    Result one = Coachctl("replay --jobs=1 " + mode + " " + inputs);
    Result two = Coachctl("replay --jobs=2 " + mode + " " + inputs);
    ASSERT_EQ(one.exit_code, 0) << one.err;
    ASSERT_EQ(two.exit_code, 0) << two.err;
    EXPECT_EQ(one.out, two.out) << mode;
    EXPECT_THAT(two.err, HasSubstr("(2 jobs, in-process)"));
  }
}

TEST_F(ReplayTest, HtmlReportHasAPagePerCallAndAnIndex) {
  // A call whose text would break the page if it were not escaped.
  std::ofstream(dir_ / "tricky.jsonl")
      << R"({"call_id":"tricky/1","agent_id":"a<1>","segment_id":"c1","speaker":"customer",)"
      << R"("text":"<script>alert('x')</script> this is ridiculous & I want a supervisor","start_ms":0})"
      << "\n"
      << R"({"call_id":"tricky/1","segment_id":"a1","speaker":"agent",)"
      << R"("text":"Sir, you need to <b>calm down</b>. Calm down!","start_ms":4000})"
      << "\n";
  const fs::path html = dir_ / "html";
  Result r = Coachctl(absl::StrCat("replay --html=", html.string(), " ", kSampleCall, " ",
                                   (dir_ / "tricky.jsonl").string()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string index = ReadFile(html / "index.html");
  EXPECT_THAT(index, HasSubstr("href=\"call-demo-escalated-001.html\""));
  EXPECT_THAT(index, HasSubstr("href=\"call-tricky_1.html\""));
  EXPECT_THAT(index, HasSubstr(">77</td>"));

  const std::string page = ReadFile(html / "call-demo-escalated-001.html");
  for (const char* element :
       {"<section id=\"timeline\">", "<li class=\"turn customer\"", "<li class=\"turn agent\"",
        "<mark class=\"k-escalation\"", "<mark class=\"k-corrective\"", "<aside class=\"nudge ",
        "<p class=\"suggestion\">Try: <q>", "<section id=\"scorecard\">",
        "<ol class=\"asap\" id=\"asap\">", "<li class=\"step done\">", "<section id=\"chart\">",
        "<svg class=\"chart\"", "<polyline class=\"cues\"", "<polyline class=\"empathy\"",
        "aside class=\"nudge reminder\""}) {
    EXPECT_THAT(page, HasSubstr(element));
  }
  // Self-contained: no scripts, no network.
  for (const std::string& file : {index, page}) {
    EXPECT_THAT(file, Not(HasSubstr("<script")));
    EXPECT_THAT(file, Not(HasSubstr("http://")));
    EXPECT_THAT(file, Not(HasSubstr("https://")));
    EXPECT_THAT(file, Not(HasSubstr("<link")));
  }

  const std::string tricky = ReadFile(html / "call-tricky_1.html");
  EXPECT_THAT(tricky, Not(HasSubstr("<script")));
  EXPECT_THAT(tricky, Not(HasSubstr("<b>")));
  EXPECT_THAT(tricky, HasSubstr("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
  EXPECT_THAT(tricky, HasSubstr("agent a&lt;1&gt;"));
  // The matched words are marked inside the escaped text.
  EXPECT_THAT(tricky, ContainsRegex("<mark class=\"k-corrective\"[^>]*>you need to</mark> "
                                    "&lt;b&gt;calm down&lt;/b&gt;"));
  EXPECT_THAT(tricky,
              ContainsRegex("<mark class=\"k-escalation\"[^>]*>I want a supervisor</mark>"));
}

TEST_F(ReplayTest, InProcessEqualsReviewCallThroughCoachdEventForEvent) {
  Coachd coachd(dir_, {"--phrase_lists=" + (dir_ / "phrase_lists").string()});
  const int port = coachd.WaitForPort();
  ASSERT_GT(port, 0) << coachd.Log();
  const std::string inputs = kHarperValley + " " + kSampleCall;
  for (const std::string text : {"asr", "human"}) {
    const std::string args = "replay --json --text=" + text + " " + inputs;
    Result local = Coachctl(args);
    Result remote = Coachctl(args + " --server=127.0.0.1:" + std::to_string(port));
    ASSERT_EQ(local.exit_code, 0) << local.err;
    ASSERT_EQ(remote.exit_code, 0) << remote.err << coachd.Log();
    EXPECT_THAT(remote.err, HasSubstr("server 127.0.0.1:"));
    const std::vector<std::string> a = Lines(local.out);
    const std::vector<std::string> b = Lines(remote.out);
    ASSERT_EQ(a.size(), b.size()) << text;
    EXPECT_GT(a.size(), 21u);
    for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << text << " line " << i;
  }
  // The summary table is the same too.
  EXPECT_EQ(Coachctl("replay " + kSampleCall).out,
            Coachctl("replay --server=127.0.0.1:" + std::to_string(port) + " " + kSampleCall).out);
}

TEST_F(ReplayTest, ACallCoachdRefusesFailsAloneAndAnUnreachableServerExitsOne) {
  Coachd coachd(dir_, {"--phrase_lists=" + (dir_ / "phrase_lists").string()});
  const int port = coachd.WaitForPort();
  ASSERT_GT(port, 0) << coachd.Log();
  // A final segment sent twice: FAILED_PRECONDITION in the engine and in
  // coachd.
  std::ofstream(dir_ / "calls.jsonl")
      << R"({"call_id":"dup","agent_id":"a","segment_id":"a1","speaker":"agent","text":"hello"})"
      << "\n"
      << R"({"call_id":"dup","agent_id":"a","segment_id":"a1","speaker":"agent","text":"again"})"
      << "\n"
      << R"({"call_id":"fine","agent_id":"a","segment_id":"a1","speaker":"agent","text":"calm down"})"
      << "\n";
  const std::string args = "replay --json " + (dir_ / "calls.jsonl").string();
  Result local = Coachctl(args);
  Result remote = Coachctl(args + " --server=127.0.0.1:" + std::to_string(port));
  for (const Result* r : {&local, &remote}) {
    EXPECT_EQ(r->exit_code, 1) << r->err;
    EXPECT_THAT(r->err, ContainsRegex("call dup: .*already final"));
    EXPECT_THAT(r->out, HasSubstr("\"call_id\":\"fine\""));
    EXPECT_THAT(r->out, Not(HasSubstr("\"call_id\":\"dup\"")));
  }
  EXPECT_THAT(remote.err, HasSubstr("ReviewCall: FAILED_PRECONDITION"));
  EXPECT_EQ(local.out, remote.out);

  // Nothing listens on port 1.
  Result unreachable = Coachctl("replay --server=127.0.0.1:1 " + kSampleCall);
  EXPECT_EQ(unreachable.exit_code, 1);
  EXPECT_THAT(unreachable.err, HasSubstr("cannot reach coachd at 127.0.0.1:1"));
}

// The whole Harper Valley sample, ASR and human text: each replay is
// deterministic; prints the nudge agreement between the two and calls/s.
TEST_F(ReplayTest, HarperValleyAsrAndHumanAreDeterministicAndAgreementIsPrinted) {
  std::map<std::string, std::set<std::tuple<std::string, std::string, std::string>>> nudges;
  for (const std::string text : {"asr", "human"}) {
    const std::string args =
        "replay --json --format=harper_valley --text=" + text + " " + kHarperValley;
    Result first = Coachctl(args);
    Result second = Coachctl(args);
    ASSERT_EQ(first.exit_code, 0) << first.err;
    EXPECT_EQ(first.out, second.out) << text << " replay is not deterministic";
    const std::vector<json> lines = JsonLines(first.out);
    EXPECT_EQ(ReportedCalls(lines).size(), 20u);
    nudges[text] = StandingNudges(lines);
    std::cout << "[ harper valley " << text << " ] " << nudges[text].size() << " nudges; "
              << Lines(first.err).back() << "\n";
  }
  const auto& asr = nudges["asr"];
  const auto& human = nudges["human"];
  EXPECT_FALSE(human.empty());
  size_t both = 0;
  for (const auto& nudge : asr) both += human.count(nudge);
  const double precision = asr.empty() ? 0 : static_cast<double>(both) / asr.size();
  const double recall = static_cast<double>(both) / human.size();
  const double f1 = both == 0 ? 0 : 2 * precision * recall / (precision + recall);
  std::cout << "[ harper valley ] nudge agreement ASR vs human, (call, "
               "category, segment): "
            << both << " shared, " << asr.size() - both << " ASR only, " << human.size() - both
            << " human only; precision " << precision << ", recall " << recall << ", F1 " << f1
            << "\n";
  RecordProperty("asr_human_f1", std::to_string(f1));
  EXPECT_GE(f1, 0.0);
  EXPECT_LE(f1, 1.0);
}

}  // namespace
