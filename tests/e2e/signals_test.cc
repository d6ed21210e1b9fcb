// End-to-end faults with the real coachd binary (issue 6): SIGHUP 50 times
// while calls stream, half of them with an invalid pack in the directory;
// SIGTERM while 200 calls stream; and no transcript text in the log at the
// default level.

#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "coach/v1/coach.grpc.pb.h"
#include "e2e/call_events.h"
#include "e2e/coachd_process.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using coach::e2e::Coachd;
using coach::e2e::End;
using coach::e2e::Segment;
using coach::e2e::Start;

const std::string kSourceDir = COACHD_SOURCE_DIR;
constexpr auto kPatience = std::chrono::seconds(60);

// A short escalated call; `tag` makes its text distinctive (for the log check).
std::vector<coach::v1::CallEvent> Call(const std::string& call_id, const std::string& tag) {
  return {Start(call_id, "agent-" + call_id),
          Segment("c1", coach::v1::SPEAKER_CUSTOMER,
                  "This is ridiculous, I'm going to report you to the FCC " + tag, 0),
          Segment("a1", coach::v1::SPEAKER_AGENT, "Sir, you need to calm down " + tag, 3000),
          Segment("c2", coach::v1::SPEAKER_CUSTOMER, "I want to speak to your CEO " + tag, 6000),
          Segment("a2", coach::v1::SPEAKER_AGENT,
                  "I understand how frustrating this is, I will fix it " + tag, 9000),
          End()};
}

struct CallResult {
  std::vector<coach::v1::CoachEvent> events;
  grpc::Status status;
};

// (seq, type, rule) of each event.
std::vector<std::string> Rows(const std::vector<coach::v1::CoachEvent>& events) {
  std::vector<std::string> rows;
  for (const auto& e : events) {
    std::string rule = e.has_nudge()        ? e.nudge().rule_id()
                       : e.has_reminder()   ? e.reminder().rule_id()
                       : e.has_retraction() ? "retract " + e.retraction().rule_id()
                       : e.has_report()     ? "report"
                                            : "?";
    rows.push_back(absl::StrCat(e.seq(), " ", rule));
  }
  return rows;
}

// Plays `call`, optionally pausing between messages so it overlaps a signal.
CallResult PlayCall(coach::v1::CoachService::Stub& stub,
                    const std::vector<coach::v1::CallEvent>& call,
                    std::chrono::milliseconds pause = std::chrono::milliseconds(0)) {
  CallResult result;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kPatience);
  auto stream = stub.StreamCall(&context);
  std::thread reader([&] {
    coach::v1::CoachEvent event;
    while (stream->Read(&event)) result.events.push_back(event);
  });
  for (const auto& event : call) {
    if (!stream->Write(event)) break;
    if (pause.count() > 0) std::this_thread::sleep_for(pause);
  }
  stream->WritesDone();
  reader.join();
  result.status = stream->Finish();
  return result;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class SignalsTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = coach::e2e::MakeTestDir("coachd_signals_", kSourceDir); }
  void TearDown() override { coach::e2e::RemoveTestDir(dir_); }

  std::string Packs() const { return "--phrase_lists=" + (dir_ / "phrase_lists").string(); }

  fs::path dir_;
};

TEST_F(SignalsTest, FiftySighupsUnderLoadHalfInvalidDropNoCallAndKeepTheOldRules) {
  Coachd coachd(dir_, {Packs()});
  const int port = coachd.WaitForPort();
  ASSERT_GT(port, 0) << coachd.Log();
  const std::string address = "127.0.0.1:" + std::to_string(port);
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  coach::v1::CoachService::Stub stub(channel);
  coach::v1::AdminService::Stub admin(channel);
  auto version = [&] {
    grpc::ClientContext context;
    coach::v1::GetRuleSetResponse response;
    grpc::Status status = admin.GetRuleSet(&context, {}, &response);
    return status.ok() ? response.version() : "error: " + status.error_message();
  };
  const std::string initial_version = version();
  const CallResult reference = PlayCall(stub, Call("reference", "ref"));
  ASSERT_TRUE(reference.status.ok()) << reference.status.error_message();
  const std::vector<std::string> expected = Rows(reference.events);
  ASSERT_GT(expected.size(), 3u);

  // Pipelines stream calls the whole time, each spread over a few ms.
  std::atomic<bool> stop{false};
  absl::Mutex mu;
  std::vector<std::string> failures;
  int completed = 0;
  std::vector<std::thread> pipelines;
  for (int t = 0; t < 4; ++t) {
    pipelines.emplace_back([&, t] {
      auto own = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), [] {
        grpc::ChannelArguments args;
        args.SetInt("grpc.use_local_subchannel_pool", 1);
        return args;
      }());
      coach::v1::CoachService::Stub pipeline(own);
      for (int i = 0; !stop.load() || i < 3; ++i) {
        const std::string id = absl::StrCat("p", t, "-", i);
        CallResult result = PlayCall(pipeline, Call(id, "x"), std::chrono::milliseconds(2));
        absl::MutexLock lock(&mu);
        if (!result.status.ok() || Rows(result.events) != expected ||
            result.events.back().report().rule_set_version() != initial_version) {
          failures.push_back(absl::StrCat(id, ": ", result.status.error_code(), " ",
                                          result.status.error_message(), ", ",
                                          result.events.size(), " events"));
        } else {
          ++completed;
        }
      }
    });
  }

  const fs::path broken = dir_ / "phrase_lists" / "agent" / "zz_broken.textproto";
  for (int i = 0; i < 50; ++i) {
    const bool invalid = i % 2 == 1;
    if (invalid) {
      std::ofstream(broken) << "rules {\n  id: \"broken.rule\"\n  kind: \"no_such_kind\"\n}\n";
    } else {
      fs::remove(broken);
    }
    const std::string marker = invalid ? "phrase list reload failed" : "phrase lists reloaded";
    const size_t before = Count(coachd.Log(), marker);
    coachd.Signal(SIGHUP);
    // Each signal is handled before the next (signals do not queue).
    bool handled = false;
    for (auto deadline = std::chrono::steady_clock::now() + kPatience;
         std::chrono::steady_clock::now() < deadline;) {
      if (Count(coachd.Log(), marker) > before) {
        handled = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_TRUE(handled) << "SIGHUP " << i << " not handled:\n" << coachd.Log();
    EXPECT_EQ(version(), initial_version) << i;
  }
  stop = true;
  for (auto& t : pipelines) t.join();
  EXPECT_THAT(failures, IsEmpty());
  EXPECT_GE(completed, 12);
  const std::string log = coachd.Log();
  EXPECT_EQ(Count(log, "phrase list reload failed; keeping rules " + initial_version), 25u);
  EXPECT_EQ(Count(log, "zz_broken.textproto:3:"), 25u) << log;
  EXPECT_EQ(Count(log, "phrase lists reloaded"), 25u);
  EXPECT_FALSE(coachd.Exited()) << log;
  std::cerr << completed << " calls completed during 50 SIGHUPs\n";
  coachd.Signal(SIGTERM);
  EXPECT_EQ(coachd.WaitForExit(), 0) << coachd.Log();
}

TEST_F(SignalsTest, SigtermDuringTwoHundredCallsDrainsThemAllAndExitsZero) {
  Coachd coachd(dir_, {Packs(), "--drain_timeout=20s"});
  const int port = coachd.WaitForPort();
  ASSERT_GT(port, 0) << coachd.Log();
  const std::string address = "127.0.0.1:" + std::to_string(port);
  constexpr int kCalls = 200;
  constexpr int kChannels = 4;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<coach::v1::CoachService::Stub>> stubs;
  for (int c = 0; c < kChannels; ++c) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);
    channels.push_back(
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
    stubs.push_back(std::make_unique<coach::v1::CoachService::Stub>(channels.back()));
  }
  const CallResult reference = PlayCall(*stubs[0], Call("reference", "ref"));
  ASSERT_TRUE(reference.status.ok());
  const std::vector<std::string> expected = Rows(reference.events);

  // 200 calls open at once: each has sent its start and first segment and
  // received its first event before SIGTERM; then they finish under the drain.
  struct Live {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReaderWriter<coach::v1::CallEvent, coach::v1::CoachEvent>> stream;
    std::vector<coach::v1::CoachEvent> events;
  };
  std::vector<std::unique_ptr<Live>> calls;
  for (int i = 0; i < kCalls; ++i) {
    auto live = std::make_unique<Live>();
    live->context.set_deadline(std::chrono::system_clock::now() + kPatience);
    live->stream = stubs[i % kChannels]->StreamCall(&live->context);
    const auto call = Call(absl::StrCat("drain-", i), "y");
    ASSERT_TRUE(live->stream->Write(call[0]));
    ASSERT_TRUE(live->stream->Write(call[1]));
    calls.push_back(std::move(live));
  }
  for (auto& live : calls) {
    coach::v1::CoachEvent event;
    ASSERT_TRUE(live->stream->Read(&event));
    live->events.push_back(event);
  }
  coachd.Signal(SIGTERM);
  // The rest of every call, on 4 threads, while coachd drains.
  std::vector<grpc::Status> statuses(kCalls);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kCalls; i += 4) {
        Live& live = *calls[i];
        const auto call = Call(absl::StrCat("drain-", i), "y");
        for (size_t m = 2; m < call.size(); ++m) {
          if (!live.stream->Write(call[m])) break;
        }
        live.stream->WritesDone();
        coach::v1::CoachEvent event;
        while (live.stream->Read(&event)) live.events.push_back(event);
        statuses[i] = live.stream->Finish();
      }
    });
  }
  for (auto& t : threads) t.join();
  int reports = 0;
  for (int i = 0; i < kCalls; ++i) {
    SCOPED_TRACE(i);
    // Every call ends with its report: completed normally (OK, all events),
    // or ended by the drain (UNAVAILABLE after its report).
    ASSERT_FALSE(calls[i]->events.empty());
    EXPECT_TRUE(calls[i]->events.back().has_report());
    reports += calls[i]->events.back().has_report() ? 1 : 0;
    if (statuses[i].ok()) {
      EXPECT_EQ(Rows(calls[i]->events), expected);
    } else {
      EXPECT_EQ(statuses[i].error_code(), grpc::StatusCode::UNAVAILABLE)
          << statuses[i].error_message();
    }
  }
  EXPECT_EQ(reports, kCalls);
  EXPECT_EQ(coachd.WaitForExit(), 0) << coachd.Log();
  EXPECT_THAT(coachd.Log(), HasSubstr("coachd stopped"));
}

TEST_F(SignalsTest, NoTranscriptTextInTheLogAtDefaultFlags) {
  Coachd coachd(dir_, {Packs()});
  const int port = coachd.WaitForPort();
  ASSERT_GT(port, 0) << coachd.Log();
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                     grpc::InsecureChannelCredentials());
  coach::v1::CoachService::Stub stub(channel);
  // Distinctive text in every segment of many calls, including calls that
  // fail (oversize text, a bad speaker, a duplicate id) and interim revisions.
  std::vector<std::string> secrets;
  for (int i = 0; i < 40; ++i) {
    const std::string secret = absl::StrCat("zebracobalt", i, "quux");
    secrets.push_back(secret);
    std::vector<coach::v1::CallEvent> call = Call(absl::StrCat("log-", i), secret);
    coach::v1::CallEvent interim = call[2];
    interim.mutable_segment()->set_is_final(false);
    interim.mutable_segment()->set_segment_id("a0");
    call.insert(call.begin() + 2, interim);
    if (i % 4 == 1) {
      call.insert(call.end() - 1, Segment("big", coach::v1::SPEAKER_AGENT,
                                          secret + std::string(20000, 'q'), 12000));
    } else if (i % 4 == 2) {
      call.insert(call.end() - 1,
                  Segment("bad", static_cast<coach::v1::Speaker>(9), secret, 12000));
    } else if (i % 4 == 3) {
      call[0] = Start("log-0", "agent-x");  // duplicate of a retained call
    }
    (void)PlayCall(stub, call);
  }
  coachd.Signal(SIGTERM);
  ASSERT_EQ(coachd.WaitForExit(), 0) << coachd.Log();
  const std::string log = coachd.Log();
  EXPECT_THAT(log, HasSubstr("call log-0 started"));
  for (const std::string& secret : secrets) EXPECT_THAT(log, Not(HasSubstr(secret)));
  for (const char* words : {"zebracobalt", "ridiculous", "calm down", "frustrating", "FCC"}) {
    EXPECT_THAT(log, Not(HasSubstr(words)));
  }
}

}  // namespace
