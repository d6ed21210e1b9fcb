// End-to-end: runs the real coachd binary as an operator does (port 0 on
// loopback, its own copy of the bundled packs), drives it over the network as
// an STT pipeline and an agent desktop, reloads it with SIGHUP and stops it
// with SIGTERM.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "coach/v1/coach.grpc.pb.h"
#include "e2e/call_events.h"
#include "e2e/coachd_process.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/http_get.h"

namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kCoachd = COACHD_PATH;
const std::string kCoachctl = COACHCTL_PATH;
const std::string kSourceDir = COACHD_SOURCE_DIR;
// Safety net only: every wait below ends as soon as its condition holds.
constexpr auto kPatience = std::chrono::seconds(60);

using coach::e2e::Coachd;
using coach::e2e::End;
using coach::e2e::Segment;
using coach::e2e::Start;
using coach::e2e::ReadFile;

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + kPatience);
  return context;
}

// Plays a whole call as a pipeline and returns every event it got back.
struct CallResult {
  std::vector<coach::v1::CoachEvent> events;
  grpc::Status status;
};
CallResult PlayCall(coach::v1::CoachService::Stub& stub,
                    const std::vector<coach::v1::CallEvent>& call) {
  CallResult result;
  auto context = Context();
  auto stream = stub.StreamCall(context.get());
  for (const auto& event : call) stream->Write(event);
  stream->WritesDone();
  coach::v1::CoachEvent event;
  while (stream->Read(&event)) result.events.push_back(event);
  result.status = stream->Finish();
  return result;
}

std::vector<std::string> RuleIds(const std::vector<coach::v1::CoachEvent>& events) {
  std::vector<std::string> ids;
  for (const auto& e : events) {
    if (e.has_nudge()) ids.push_back(e.nudge().rule_id());
    if (e.has_reminder()) ids.push_back(e.reminder().rule_id());
  }
  return ids;
}

std::string CurrentVersion(coach::v1::AdminService::Stub& admin) {
  auto context = Context();
  coach::v1::GetRuleSetResponse response;
  grpc::Status status = admin.GetRuleSet(context.get(), {}, &response);
  return status.ok() ? response.version() : "error: " + status.error_message();
}

class CoachdEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = coach::e2e::MakeTestDir("coachd_e2e_", kSourceDir); }
  void TearDown() override { coach::e2e::RemoveTestDir(dir_); }

  fs::path dir_;
};

TEST_F(CoachdEndToEnd, PipelineDesktopReloadAndDrain) {
  Coachd coachd(dir_, {"--phrase_lists=" + (dir_ / "phrase_lists").string(),
                       "--drain_timeout=30s"});
  const int port = coachd.WaitForPort();
  ASSERT_GT(port, 0) << coachd.Log();
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                     grpc::InsecureChannelCredentials());
  coach::v1::CoachService::Stub coach(channel);
  coach::v1::AdminService::Stub admin(channel);
  const std::string first_version = CurrentVersion(admin);
  ASSERT_EQ(first_version.rfind("rs-", 0), 0u) << first_version;

  // An agent desktop on its own connection, opened before the call.
  auto desktop_channel = grpc::CreateCustomChannel(
      "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials(),
      [] {
        grpc::ChannelArguments args;
        args.SetInt("grpc.use_local_subchannel_pool", 1);  // a separate connection
        return args;
      }());
  coach::v1::CoachService::Stub desktop(desktop_channel);
  auto desktop_context = Context();
  coach::v1::WatchAgentRequest watch;
  watch.set_agent_id("agent-042");
  // The desktop learned the call id from telephony: naming it makes the
  // server replay whatever the call emitted before the subscription landed.
  coach::v1::ResumePoint* resume = watch.add_resume();
  resume->set_call_id("e2e-1");
  resume->set_last_seq(0);
  auto desktop_stream = desktop.WatchAgent(desktop_context.get(), watch);

  const std::string secret = "my card number is 4111 1111 1111 1111";
  CallResult call = PlayCall(
      coach, {Start("e2e-1", "agent-042"),
              Segment("c1", coach::v1::SPEAKER_CUSTOMER,
                      "This is ridiculous, I'm going to report you to the FCC. " + secret, 0),
              Segment("a1", coach::v1::SPEAKER_AGENT, "Sir, you need to calm down.", 3000),
              End()});
  ASSERT_TRUE(call.status.ok()) << call.status.error_message();
  ASSERT_FALSE(call.events.empty());
  EXPECT_TRUE(call.events.back().has_report());
  EXPECT_THAT(RuleIds(call.events), Contains(HasSubstr("legal_threat.")));
  EXPECT_THAT(RuleIds(call.events), Contains(HasSubstr("provoking.calm_down")));
  for (size_t i = 0; i < call.events.size(); ++i) {
    EXPECT_EQ(call.events[i].seq(), static_cast<int64_t>(i + 1));
    EXPECT_EQ(call.events[i].call_id(), "e2e-1");
  }

  // The desktop gets the same events, in order, ending with the report.
  std::vector<coach::v1::CoachEvent> seen;
  coach::v1::CoachEvent event;
  while (seen.size() < call.events.size() && desktop_stream->Read(&event)) seen.push_back(event);
  ASSERT_EQ(seen.size(), call.events.size());
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].seq(), call.events[i].seq());
    EXPECT_EQ(seen[i].event_id(), call.events[i].event_id());
  }
  desktop_context->TryCancel();
  desktop_stream->Finish();

  // SIGHUP with an edited list: new calls get the new rule and version.
  {
    std::ofstream pack(dir_ / "phrase_lists" / "agent" / "e2e_added.textproto");
    pack << R"pb(rules {
  id: "e2e.purple_banana"
  category: "provoking"
  kind: "corrective"
  speaker: "agent"
  severity: "low"
  phrases: "purple banana"
  title: "No fruit talk"
  message: "Keep it about the account."
  examples: "that is a purple banana"
  counter_examples: "a yellow banana"
})pb";
  }
  coachd.Signal(SIGHUP);
  std::string second_version = first_version;
  for (auto deadline = std::chrono::steady_clock::now() + kPatience;
       second_version == first_version && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    second_version = CurrentVersion(admin);
  }
  ASSERT_NE(second_version, first_version) << coachd.Log();
  CallResult reloaded = PlayCall(
      coach, {Start("e2e-2", "agent-042"),
              Segment("a1", coach::v1::SPEAKER_AGENT, "well that is a purple banana", 0), End()});
  ASSERT_TRUE(reloaded.status.ok()) << reloaded.status.error_message();
  EXPECT_THAT(RuleIds(reloaded.events), Contains("e2e.purple_banana"));
  EXPECT_EQ(reloaded.events.back().report().rule_set_version(), second_version);

  // A broken edit is refused on SIGHUP: the version stays, the log names file:line.
  {
    std::ofstream pack(dir_ / "phrase_lists" / "agent" / "e2e_added.textproto", std::ios::app);
    pack << "\nrules { id: \"e2e.broken\" phrases: \"(unclosed\" }\n";
  }
  coachd.Signal(SIGHUP);
  for (auto deadline = std::chrono::steady_clock::now() + kPatience;
       coachd.Log().find("reload failed") == std::string::npos &&
       std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_THAT(coachd.Log(), ContainsRegex("e2e_added\\.textproto:13:1: rule e2e\\.broken: "));
  EXPECT_EQ(CurrentVersion(admin), second_version);

  // SIGTERM while a call runs: new calls get UNAVAILABLE, the running call
  // still ends with its report, and coachd exits 0.
  auto running_context = Context();
  auto running = coach.StreamCall(running_context.get());
  ASSERT_TRUE(running->Write(Start("e2e-3", "agent-042")));
  ASSERT_TRUE(running->Write(
      Segment("a1", coach::v1::SPEAKER_AGENT, "you need to calm down", 0)));
  ASSERT_TRUE(running->Read(&event));  // the call is live and matched
  EXPECT_TRUE(event.has_nudge());
  coachd.Signal(SIGTERM);
  grpc::Status refused;
  for (auto deadline = std::chrono::steady_clock::now() + kPatience;
       std::chrono::steady_clock::now() < deadline;) {
    refused = PlayCall(coach, {Start("e2e-4", "agent-042"), End()}).status;
    if (refused.error_code() == grpc::StatusCode::UNAVAILABLE) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE) << refused.error_message();
  ASSERT_TRUE(running->Write(End()));
  running->WritesDone();
  bool got_report = false;
  while (running->Read(&event)) got_report = got_report || event.has_report();
  EXPECT_TRUE(got_report);
  EXPECT_TRUE(running->Finish().ok());
  EXPECT_EQ(coachd.WaitForExit(), 0) << coachd.Log();

  // At the default log level no transcript text reaches the log.
  const std::string log = coachd.Log();
  EXPECT_THAT(log, Not(HasSubstr("4111")));
  EXPECT_THAT(log, Not(HasSubstr("ridiculous")));
  EXPECT_THAT(log, Not(HasSubstr("purple banana")));
}

std::string RunAndCapture(const std::string& command) {
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return output;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
  pclose(pipe);
  return output;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST_F(CoachdEndToEnd, CoachctlSimulateAndWatchSeeTheSameEvents) {
  Coachd coachd(dir_, {"--phrase_lists=" + (dir_ / "phrase_lists").string()});
  const int port = coachd.WaitForPort();
  ASSERT_GT(port, 0) << coachd.Log();
  const std::string server = " --server=127.0.0.1:" + std::to_string(port);
  const std::string call = kSourceDir + "/tests/data/calls/escalated_call.jsonl";
  const std::vector<std::string> simulated =
      Lines(RunAndCapture(kCoachctl + " simulate --speed=0" + server + " " + call));
  ASSERT_GE(simulated.size(), 2u);
  EXPECT_THAT(simulated.front(), HasSubstr("\"seq\":\"1\""));
  EXPECT_THAT(simulated.back(), HasSubstr("\"report\":"));
  EXPECT_THAT(simulated.back(), HasSubstr("\"score\":77"));
  // A desktop following the agent while a second call is played at 20x real
  // time (about 2 s): a desktop that subscribes while the call is live gets
  // it from its first event, so the watcher sees exactly the pipeline's events.
  const std::string watch_command = kCoachctl + " watch --agent=agent-042 --max_events=" +
                                    std::to_string(simulated.size()) + server;
  std::string watched;
  std::thread watcher([&] { watched = RunAndCapture(watch_command); });
  const std::vector<std::string> second = Lines(RunAndCapture(
      kCoachctl + " simulate --speed=20 --call_id_suffix=-2" + server + " " + call));
  // Playing the first call's ids again is refused while coachd retains them.
  const std::string again =
      RunAndCapture(kCoachctl + " simulate --speed=0" + server + " " + call + " 2>&1");
  EXPECT_THAT(again, HasSubstr("ALREADY_EXISTS"));
  EXPECT_THAT(again, HasSubstr("--call_id_suffix"));
  watcher.join();
  const std::vector<std::string> seen = Lines(watched);
  ASSERT_EQ(seen.size(), second.size()) << watched;
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], second[i]);
}

TEST_F(CoachdEndToEnd, CheckValidatesThePhraseListsAndExits) {
  const std::string ok_command = kCoachd + " --check --phrase_lists=" +
                                 (dir_ / "phrase_lists").string() + " > " +
                                 (dir_ / "out.txt").string() + " 2>&1";
  EXPECT_EQ(WEXITSTATUS(std::system(ok_command.c_str())), 0) << ReadFile(dir_ / "out.txt");
  {
    std::ofstream pack(dir_ / "phrase_lists" / "agent" / "broken.textproto");
    pack << "rules {\n  id: \"x\"\n  bogus_field: 1\n}\n";
  }
  EXPECT_NE(WEXITSTATUS(std::system(ok_command.c_str())), 0);
  EXPECT_THAT(ReadFile(dir_ / "out.txt"), HasSubstr("broken.textproto:3"));
}

TEST_F(CoachdEndToEnd, RefusesANonLoopbackAddressWithoutTokensOrInsecure) {
  const std::string command = kCoachd + " --listen=0.0.0.0:0 --phrase_lists=" +
                              (dir_ / "phrase_lists").string() + " > " +
                              (dir_ / "out.txt").string() + " 2>&1";
  EXPECT_NE(WEXITSTATUS(std::system(command.c_str())), 0);
  EXPECT_THAT(ReadFile(dir_ / "out.txt"), HasSubstr("--tokens_file"));
}

TEST_F(CoachdEndToEnd, SecondCoachdOnAPortInUseFailsAndTheFirstKeepsServing) {
  // gRPC's default SO_REUSEPORT would let both bind and split the connections.
  const std::string packs = "--phrase_lists=" + (dir_ / "phrase_lists").string();
  Coachd first(dir_, {packs});
  const int port = first.WaitForPort();
  ASSERT_NE(port, 0) << first.Log();
  const std::string command = kCoachd + " --listen=127.0.0.1:" + std::to_string(port) + " " +
                              packs + " > " + (dir_ / "out.txt").string() + " 2>&1";
  EXPECT_NE(WEXITSTATUS(std::system(command.c_str())), 0);
  EXPECT_THAT(ReadFile(dir_ / "out.txt"),
              HasSubstr("cannot listen on 127.0.0.1:" + std::to_string(port) +
                        " (--listen): the port is in use"));
  // Every call still reaches the first coachd.
  const std::vector<std::string> simulated = Lines(RunAndCapture(
      kCoachctl + " simulate --speed=0 --server=127.0.0.1:" + std::to_string(port) + " " +
      kSourceDir + "/tests/data/calls/escalated_call.jsonl"));
  ASSERT_FALSE(simulated.empty());
  EXPECT_THAT(simulated.back(), HasSubstr("\"score\":77"));
  first.Signal(SIGTERM);
  EXPECT_EQ(first.WaitForExit(), 0) << first.Log();
}

TEST_F(CoachdEndToEnd, HelpListsEveryFlag) {
  const std::string help =
      RunAndCapture(kCoachd + " --help 2>&1");
  for (const char* flag :
       {"--listen", "--phrase_lists", "--check", "--tokens_file", "--insecure", "--tls_cert",
        "--tls_key", "--tls_client_ca", "--tls_require_client_cert", "--max_segment_bytes",
        "--max_message_bytes", "--max_calls", "--max_segments_per_call", "--max_call_duration",
        "--idle_timeout", "--max_subscribers_per_agent", "--subscriber_queue", "--call_queue",
        "--resume_buffer", "--resume_retention", "--metrics_address", "--log_format",
        "--log_level", "--log_transcripts", "--drain_timeout", "--interim_policy"}) {
    EXPECT_THAT(help, HasSubstr(std::string("    ") + flag + " (")) << flag;
  }
}

using ::coach::http_test::HttpGet;

TEST_F(CoachdEndToEnd, ServesMetricsAndWritesJsonLogs) {
  Coachd coachd(dir_, {"--phrase_lists=" + (dir_ / "phrase_lists").string(),
                       "--metrics_address=127.0.0.1:0", "--log_format=json"});
  const int port = coachd.WaitForPort();
  ASSERT_GT(port, 0) << coachd.Log();
  const std::string marker = "metrics on port ";
  const std::string log = coachd.Log();
  const size_t at = log.find(marker);
  ASSERT_NE(at, std::string::npos) << log;
  int metrics_port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(log.substr(at + marker.size(), log.find_first_not_of(
                                                                  "0123456789", at + marker.size()) -
                                                                  at - marker.size()),
                               &metrics_port));
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                     grpc::InsecureChannelCredentials());
  coach::v1::CoachService::Stub coach(channel);
  CallResult call = PlayCall(
      coach, {Start("metrics-1", "agent-9"),
              Segment("a1", coach::v1::SPEAKER_AGENT, "Sir, you need to calm down.", 0), End()});
  ASSERT_TRUE(call.status.ok()) << call.status.error_message();

  const std::string metrics = HttpGet(metrics_port, "/metrics");
  EXPECT_THAT(metrics, HasSubstr("coachd_segments_total 1"));
  EXPECT_THAT(metrics, ContainsRegex("coachd_events_total\\{[^}]*category=\"provoking\""));
  EXPECT_THAT(metrics, HasSubstr("coachd_engine_segment_seconds_count 1"));
  EXPECT_THAT(metrics, HasSubstr("coachd_active_calls 0"));

  coachd.Signal(SIGTERM);
  EXPECT_EQ(coachd.WaitForExit(), 0);
  // Every log line is one JSON object with the level and the message.
  for (const std::string& line : Lines(coachd.Log())) {
    EXPECT_THAT(line, ContainsRegex("^\\{\"ts\":\"[^\"]+\",\"level\":\"[a-z]+\",.*\"msg\":\".*\"\\}$"))
        << line;
  }
  EXPECT_THAT(coachd.Log(), Not(HasSubstr("calm down")));
}

}  // namespace
