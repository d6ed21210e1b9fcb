#include "server/logging.h"

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"
#include "test_util.h"

namespace coach::server {
namespace {

using ::coach::server::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::SizeIs;

// Installs the logger on an in-memory sink and returns its output lines.
class CapturedLog {
 public:
  explicit CapturedLog(const LogOptions& options)
      : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)) {
    status_ = ConfigureLogging(options, sink_);
  }
  ~CapturedLog() { (void)ConfigureLogging(LogOptions{}); }  // back to stderr

  const absl::Status& status() const { return status_; }
  std::vector<std::string> Lines() {
    spdlog::default_logger()->flush();
    return absl::StrSplit(out_.str(), '\n', absl::SkipEmpty());
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
  absl::Status status_;
};

// A JSON log line parsed strictly (protobuf's JSON parser) into a message
// built at runtime: message LogLine { string ts, level, logger, msg }.
// Unknown keys, unescaped quotes, raw control characters or bad escapes
// fail the check. (A
// google.protobuf.Struct would do, but its inlined Map code misbehaves under
// TSan against the uninstrumented system libprotobuf.)
class LogLine {
 public:
  explicit LogLine(const std::string& json) : message_(Prototype().New()) {
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    const auto status = google::protobuf::util::JsonStringToMessage(json, message_.get(), options);
    // protobuf's parser tolerates raw control characters in strings; RFC 8259
    // does not, and our compact lines have no whitespace to allow either.
    const bool has_control =
        absl::c_any_of(json, [](char c) { return static_cast<unsigned char>(c) < 0x20; });
    ok_ = status.ok() && !has_control;
    EXPECT_TRUE(status.ok()) << status.ToString() << "\nline: " << json;
    EXPECT_FALSE(has_control) << "raw control character in: " << json;
  }
  bool ok() const { return ok_; }
  std::string Get(const std::string& field) const {
    const google::protobuf::FieldDescriptor* descriptor =
        message_->GetDescriptor()->FindFieldByName(field);
    return message_->GetReflection()->GetString(*message_, descriptor);
  }

 private:
  static const google::protobuf::Message& Prototype() {
    static const google::protobuf::Message* prototype = [] {
      google::protobuf::FileDescriptorProto file;
      file.set_name("coachd_test_log_line.proto");
      file.set_syntax("proto3");
      google::protobuf::DescriptorProto* message = file.add_message_type();
      message->set_name("LogLine");
      int number = 0;
      for (const char* name : {"ts", "level", "logger", "msg"}) {
        google::protobuf::FieldDescriptorProto* field = message->add_field();
        field->set_name(name);
        field->set_number(++number);
        field->set_type(google::protobuf::FieldDescriptorProto::TYPE_STRING);
        field->set_label(google::protobuf::FieldDescriptorProto::LABEL_OPTIONAL);
      }
      static google::protobuf::DescriptorPool pool;
      static google::protobuf::DynamicMessageFactory factory(&pool);
      const google::protobuf::FileDescriptor* built = pool.BuildFile(file);
      return factory.GetPrototype(built->FindMessageTypeByName("LogLine"));
    }();
    return *prototype;
  }

  std::unique_ptr<google::protobuf::Message> message_;
  bool ok_ = false;
};

TEST(LogLineChecker, RejectsWhatANaivePatternFormatterWouldWrite) {
  EXPECT_TRUE(LogLine(R"({"ts":"t","level":"info","logger":"coachd","msg":"ok"})").ok());
  EXPECT_NONFATAL_FAILURE(LogLine("{\"msg\":\"say \"hi\"\"}"), "");     // raw quote
  EXPECT_NONFATAL_FAILURE(LogLine("{\"msg\":\"a\nb\"}"), "");           // raw newline
  EXPECT_NONFATAL_FAILURE(LogLine(R"({"msg":"ok","extra":"x"})"), "");  // unknown key
}

TEST(ParseLogFormat, AcceptsTextAndJsonOnly) {
  EXPECT_EQ(*ParseLogFormat("text"), LogFormat::kText);
  EXPECT_EQ(*ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_THAT(ParseLogFormat("xml"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--log_format")));
  EXPECT_THAT(ParseLogFormat(""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--log_format")));
}

TEST(ConfigureLogging, UnknownLevelIsInvalidNamingTheFlag) {
  LogOptions options;
  options.level = "verbose";
  std::ostringstream out;
  EXPECT_THAT(ConfigureLogging(options, std::make_shared<spdlog::sinks::ostream_sink_mt>(out)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--log_level")));
}

constexpr char kControls[] = "nul \0 bell \a esc \x1b del \x7f";

TEST(ConfigureLogging, JsonLinesStayValidForHostileMessages) {
  LogOptions options;
  options.format = LogFormat::kJson;
  CapturedLog log(options);
  ASSERT_TRUE(log.status().ok()) << log.status();
  const std::string hostile[] = {
      "plain",
      "quote \" backslash \\ slash /",
      "new\nline\r\ntab\tform\fback\b",
      std::string(kControls, sizeof(kControls) - 1),
      "utf8 caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80",
      "bad \xFF\xFE lone-continuation \x80 truncated \xE2\x82 overlong \xC0\xAF surrogate "
      "\xED\xA0\x80 end",
      "{\"msg\":\"injected\"}\n{\"level\":\"critical\"}",
  };
  for (const std::string& message : hostile) spdlog::info("{}", message);
  std::vector<std::string> lines = log.Lines();
  ASSERT_THAT(lines, SizeIs(std::size(hostile)));
  for (size_t i = 0; i < lines.size(); ++i) {
    LogLine line(lines[i]);
    ASSERT_TRUE(line.ok());
    EXPECT_EQ(line.Get("level"), "info");
    EXPECT_EQ(line.Get("logger"), "coachd");
    EXPECT_THAT(line.Get("ts"),
                MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z"));
    if (i != 5) {  // line 5 holds invalid UTF-8, checked below
      EXPECT_EQ(line.Get("msg"), hostile[i]) << lines[i];
    }
  }
  // Invalid UTF-8 becomes U+FFFD, valid text around it is kept.
  EXPECT_EQ(LogLine(lines[5]).Get("msg"),
            "bad \uFFFD\uFFFD lone-continuation \uFFFD truncated \uFFFD\uFFFD overlong "
            "\uFFFD\uFFFD surrogate \uFFFD\uFFFD\uFFFD end");
}

TEST(JsonEscape, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonEscape("a\"b\\c"), "a\\\"b\\\\c");
  EXPECT_EQ(JsonEscape("\n\r\t\b\f"), "\\n\\r\\t\\b\\f");
  EXPECT_EQ(JsonEscape(std::string("\0\x01\x1f\x7f", 4)), "\\u0000\\u0001\\u001f\\u007f");
  EXPECT_EQ(JsonEscape("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(JsonEscape("\xF4\x90\x80\x80"), "\uFFFD\uFFFD\uFFFD\uFFFD");  // > U+10FFFF
}

TEST(ConfigureLogging, TextFormatHasLevelAndMessage) {
  CapturedLog log(LogOptions{});
  ASSERT_TRUE(log.status().ok()) << log.status();
  spdlog::warn("reload failed: {}", "x.textproto:3:1: bad");
  EXPECT_THAT(log.Lines(), ElementsAre(MatchesRegex("[0-9-]+ [0-9:.]+ \\[warning\\] reload failed: "
                                                    "x\\.textproto:3:1: bad")));
}

TEST(ConfigureLogging, LevelFiltersMessages) {
  LogOptions options;
  options.format = LogFormat::kJson;
  options.level = "warn";
  CapturedLog log(options);
  ASSERT_TRUE(log.status().ok()) << log.status();
  spdlog::debug("debug");
  spdlog::info("info");
  spdlog::warn("warn");
  spdlog::error("error");
  std::vector<std::string> lines = log.Lines();
  ASSERT_THAT(lines, SizeIs(2));
  EXPECT_EQ(LogLine(lines[0]).Get("msg"), "warn");
  EXPECT_EQ(LogLine(lines[1]).Get("level"), "error");
}

TEST(TranscriptLogging, OffByDefault) {
  CapturedLog log(LogOptions{});
  EXPECT_FALSE(TranscriptLoggingEnabled());
}

TEST(TranscriptLogging, OffAtDebugWithoutTheFlag) {
  LogOptions options;
  options.level = "debug";
  CapturedLog log(options);
  EXPECT_FALSE(TranscriptLoggingEnabled());
}

TEST(TranscriptLogging, OffAtInfoEvenWithTheFlag) {
  LogOptions options;
  options.log_transcripts = true;
  CapturedLog log(options);
  EXPECT_FALSE(TranscriptLoggingEnabled());
}

TEST(TranscriptLogging, OnOnlyWithTheFlagAtDebugOrTrace) {
  for (const char* level : {"debug", "trace"}) {
    LogOptions options;
    options.log_transcripts = true;
    options.level = level;
    CapturedLog log(options);
    EXPECT_TRUE(TranscriptLoggingEnabled()) << level;
  }
  // Reconfiguring back to the defaults turns it off again.
  CapturedLog log(LogOptions{});
  EXPECT_FALSE(TranscriptLoggingEnabled());
}

}  // namespace
}  // namespace coach::server
