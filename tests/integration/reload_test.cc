// Hot reload through AdminService: new calls get the new rules, running calls
// keep theirs, a failed reload keeps the old rules and returns file:line, and
// reloading under traffic drops no call.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness.h"

namespace coach::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr char kWelcomePack[] = R"pb(
name: "test/welcome"
rules {
  id: "greeting.welcome"
  category: "greeting"
  kind: "reinforcement"
  speaker: "agent"
  severity: "info"
  phrases: "welcome back"
  title: "Welcome"
  message: "Nice welcome."
}
)pb";

constexpr char kBrokenPack[] = R"pb(
name: "test/broken"
rules {
  id: "broken.rule"
  category: "greeting"
  kind: "no_such_kind"
  speaker: "agent"
  phrases: "whatever"
}
)pb";

class ReloadTest : public ::testing::Test {
 protected:
  static server::Server::Options Options(FakeClock* clock, const TempDir& dir) {
    dir.Write("packs/hello.textproto", kHelloPack);
    server::Server::Options options = TestServer::DefaultOptions(clock);
    options.phrase_lists = {dir.path() + "/packs"};
    return options;
  }

  grpc::Status Reload(v1::ReloadPhraseListsResponse* response) {
    grpc::ClientContext context;
    // These tests are about reloading, not about connecting: a first connect
    // attempt that fails on a loaded machine must not turn into UNAVAILABLE.
    context.set_wait_for_ready(true);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return admin_->ReloadPhraseLists(&context, v1::ReloadPhraseListsRequest(), response);
  }

  v1::GetRuleSetResponse GetRuleSet() {
    grpc::ClientContext context;
    v1::GetRuleSetResponse response;
    EXPECT_TRUE(admin_->GetRuleSet(&context, v1::GetRuleSetRequest(), &response).ok());
    return response;
  }

  static std::vector<std::string> NudgeRules(const std::vector<v1::CoachEvent>& events) {
    std::vector<std::string> rules;
    for (const auto& e : events) {
      if (e.has_nudge()) rules.push_back(e.nudge().rule_id());
    }
    return rules;
  }

  FakeClock clock_;
  TempDir dir_;
  TestServer server_{Options(&clock_, dir_)};
  std::unique_ptr<v1::CoachService::Stub> stub_ = server_.NewCoachStub();
  std::unique_ptr<v1::AdminService::Stub> admin_ = server_.NewAdminStub();
};

TEST_F(ReloadTest, GetRuleSetDescribesTheLoadedRules) {
  v1::GetRuleSetResponse rules = GetRuleSet();
  EXPECT_THAT(rules.version(), HasSubstr("rs-"));
  EXPECT_EQ(rules.rule_count(), 1);
  EXPECT_THAT(rules.rules_per_category(), Contains(Pair("greeting", 1)));
  ASSERT_EQ(rules.source_files_size(), 1);
  EXPECT_THAT(rules.source_files(0), HasSubstr("hello.textproto"));
  EXPECT_GT(rules.loaded_at().seconds(), 0);
}

TEST_F(ReloadTest, NewCallsGetTheNewRulesAndRunningCallsKeepTheirs) {
  const std::string old_version = GetRuleSet().version();
  CallClient running(stub_.get());
  ASSERT_TRUE(running.Send(StartEvent("running", "a")));
  ASSERT_TRUE(running.Send(SegmentEvent("a1", v1::SPEAKER_AGENT, "hello there", true, 0, 1000)));
  ASSERT_TRUE(running.WaitForEvents(1));

  dir_.Write("packs/welcome.textproto", kWelcomePack);
  v1::ReloadPhraseListsResponse reloaded;
  ASSERT_TRUE(Reload(&reloaded).ok());
  EXPECT_NE(reloaded.version(), old_version);
  EXPECT_EQ(reloaded.rule_count(), 2);
  EXPECT_EQ(GetRuleSet().version(), reloaded.version());

  // The running call still has the old rules: "welcome back" means nothing.
  ASSERT_TRUE(running.Send(SegmentEvent("a2", v1::SPEAKER_AGENT, "welcome back", true, 2000, 3000)));
  ASSERT_TRUE(running.Send(EndEvent()));
  ASSERT_TRUE(running.Finish().ok());
  EXPECT_EQ(NudgeRules(running.events()), std::vector<std::string>{"greeting.hello"});
  EXPECT_EQ(running.events().back().report().rule_set_version(), old_version);
  for (const auto& e : running.events()) EXPECT_EQ(e.rule_version(), old_version);

  // A new call gets the new rules.
  CallResult fresh = RunCall(
      stub_.get(), {StartEvent("fresh", "a"),
                    SegmentEvent("a1", v1::SPEAKER_AGENT, "welcome back", true, 0, 1000),
                    EndEvent()});
  ASSERT_TRUE(fresh.status.ok());
  EXPECT_EQ(NudgeRules(fresh.events), std::vector<std::string>{"greeting.welcome"});
  EXPECT_EQ(fresh.events.back().report().rule_set_version(), reloaded.version());
}

TEST_F(ReloadTest, FailedReloadKeepsTheOldRulesAndReturnsFileAndLine) {
  const std::string old_version = GetRuleSet().version();
  dir_.Write("packs/broken.textproto", kBrokenPack);
  v1::ReloadPhraseListsResponse response;
  grpc::Status status = Reload(&response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("broken.textproto:"));
  EXPECT_EQ(GetRuleSet().version(), old_version);

  CallResult call = RunCall(
      stub_.get(), {StartEvent("c", "a"),
                    SegmentEvent("a1", v1::SPEAKER_AGENT, "hello there", true, 0, 1000),
                    EndEvent()});
  ASSERT_TRUE(call.status.ok());
  EXPECT_EQ(call.events.back().report().rule_set_version(), old_version);
  EXPECT_THAT(server_.Scrape(), HasSubstr("coachd_reloads_total"));

  // Fixing the file makes the next reload succeed.
  dir_.Write("packs/broken.textproto", kWelcomePack);
  EXPECT_TRUE(Reload(&response).ok());
  EXPECT_NE(response.version(), old_version);
}

TEST_F(ReloadTest, FailedReloadReturnsAtMostTwentyProblems) {
  for (int i = 0; i < 30; ++i) {
    dir_.Write(absl::StrCat("packs/broken", 100 + i, ".textproto"), kBrokenPack);
  }
  v1::ReloadPhraseListsResponse response;
  grpc::Status status = Reload(&response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // The heading, 20 problems, and how many more the log has.
  const std::vector<std::string> lines = absl::StrSplit(status.error_message(), '\n');
  ASSERT_EQ(lines.size(), 22u) << status.error_message();
  EXPECT_EQ(lines[0], "phrase lists have 30 errors:");
  for (size_t i = 1; i <= 20; ++i) EXPECT_THAT(lines[i], HasSubstr(".textproto:")) << i;
  EXPECT_EQ(lines[21], "... 10 more; see the coachd log");
}

TEST_F(ReloadTest, ReloadUnderTrafficDropsNoCall) {
  dir_.Write("packs/welcome.textproto", kWelcomePack);
  std::atomic<bool> stop{false};
  std::atomic<int> completed{0};
  absl::Mutex failures_mu;
  std::vector<std::string> failures;
  std::vector<std::thread> pipelines;
  for (int t = 0; t < 3; ++t) {
    pipelines.emplace_back([&, t] {
      auto stub = server_.NewCoachStub();
      for (int i = 0; !stop.load() || i < 5; ++i) {
        const std::string call_id = absl::StrCat("t", t, "-", i);
        CallResult result = RunCall(
            stub.get(), {StartEvent(call_id, "a"),
                         SegmentEvent("a1", v1::SPEAKER_AGENT, "hello there", true, 0, 1000),
                         SegmentEvent("a2", v1::SPEAKER_AGENT, "welcome back", true, 2000, 3000),
                         EndEvent()});
        if (result.status.ok() && !result.events.empty() && result.events.back().has_report()) {
          ++completed;
        } else {
          absl::MutexLock lock(&failures_mu);
          failures.push_back(absl::StrCat(call_id, ": status ", result.status.error_code(), " ",
                                          result.status.error_message(), ", ",
                                          result.events.size(), " events"));
        }
      }
    });
  }
  std::set<std::string> versions;
  std::vector<std::string> reload_errors;
  for (int i = 0; i < 6; ++i) {
    // Alternate between one and two packs.
    if (i % 2 == 0) {
      std::filesystem::remove(dir_.path() + "/packs/welcome.textproto");
    } else {
      dir_.Write("packs/welcome.textproto", kWelcomePack);
    }
    v1::ReloadPhraseListsResponse response;
    grpc::Status status = Reload(&response);
    if (status.ok()) {
      versions.insert(response.version());
    } else {
      reload_errors.push_back(absl::StrCat(status.error_code(), " ", status.error_message()));
    }
  }
  stop = true;
  for (auto& t : pipelines) t.join();
  EXPECT_THAT(reload_errors, ::testing::IsEmpty());
  EXPECT_EQ(versions.size(), 2u);
  EXPECT_THAT(failures, ::testing::IsEmpty());
  EXPECT_GE(completed.load(), 15);
  EXPECT_EQ(server_.server().registry().live_calls(), 0);
}

}  // namespace
}  // namespace coach::testing
