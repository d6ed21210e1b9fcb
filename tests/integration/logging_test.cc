// Transcript text reaches the log only with --log_transcripts at debug level
// (DESIGN.md: never at the default level).

#include <memory>
#include <mutex>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness.h"
#include "server/logging.h"
#include "spdlog/sinks/base_sink.h"

namespace coach::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSecret[] = "my card number is four two four two";

// Collects every formatted log line.
class CaptureSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::string text() {
    std::lock_guard<std::mutex> lock(mutex_);
    return text_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    text_.append(formatted.data(), formatted.size());
  }
  void flush_() override {}

 private:
  std::string text_;
};

class TranscriptLoggingTest : public ::testing::Test {
 protected:
  TranscriptLoggingTest() { TestServer::QuietLoggingOnce(); }
  ~TranscriptLoggingTest() override { Quiet(); }

  static void Quiet() {
    server::LogOptions quiet;
    quiet.level = "warn";
    EXPECT_TRUE(server::ConfigureLogging(quiet).ok());
  }

  // Streams a call with kSecret in it while logging with `options`; returns
  // the log. The logger is set up as coachd does it, before the server and
  // its threads start, and swapped back after they stopped: spdlog's default
  // logger is not meant to change under threads that log.
  std::string LogOfCall(const server::LogOptions& options, const std::string& call_id) {
    auto sink = std::make_shared<CaptureSink>();
    EXPECT_TRUE(server::ConfigureLogging(options, sink).ok());
    {
      TestServer server(TestServer::DefaultOptions(&clock_));
      std::unique_ptr<v1::CoachService::Stub> stub = server.NewCoachStub();
      CallResult result = RunCall(
          stub.get(), {StartEvent(call_id, "agent-1"),
                       SegmentEvent("s1", v1::SPEAKER_CUSTOMER, kSecret, false, 0, 900),
                       SegmentEvent("s1", v1::SPEAKER_CUSTOMER, kSecret, true, 0, 1000),
                       EndEvent()});
      EXPECT_TRUE(result.status.ok()) << result.status.error_message();
    }
    Quiet();
    return sink->text();
  }

  FakeClock clock_;
};

TEST_F(TranscriptLoggingTest, TextIsNotLoggedWithoutTheFlagAndDebugLevel) {
  server::LogOptions defaults;  // info, no --log_transcripts
  std::string log = LogOfCall(defaults, "c-default");
  EXPECT_THAT(log, HasSubstr("call c-default started"));  // the sink does log
  EXPECT_THAT(log, Not(HasSubstr(kSecret)));

  server::LogOptions flag_at_info;
  flag_at_info.log_transcripts = true;
  log = LogOfCall(flag_at_info, "c-flag-info");
  EXPECT_THAT(log, HasSubstr("call c-flag-info started"));
  EXPECT_THAT(log, Not(HasSubstr(kSecret)));

  server::LogOptions debug_without_flag;
  debug_without_flag.level = "debug";
  log = LogOfCall(debug_without_flag, "c-debug");
  EXPECT_THAT(log, HasSubstr("call c-debug started"));
  EXPECT_THAT(log, Not(HasSubstr(kSecret)));
}

TEST_F(TranscriptLoggingTest, FlagAndDebugLevelLogEachSegmentsText) {
  server::LogOptions options;
  options.level = "debug";
  options.log_transcripts = true;
  const std::string log = LogOfCall(options, "c-transcript");
  EXPECT_THAT(log, HasSubstr(absl::StrCat("call c-transcript segment s1 (customer, interim): ",
                                          kSecret)));
  EXPECT_THAT(log, HasSubstr(absl::StrCat("call c-transcript segment s1 (customer, final): ",
                                          kSecret)));
}

}  // namespace
}  // namespace coach::testing
