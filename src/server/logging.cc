#include "server/logging.h"

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "spdlog/formatter.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace coach::server {
namespace {

constexpr char kLoggerName[] = "coachd";
constexpr absl::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD

std::atomic<bool> g_log_transcripts{false};

// Length of the well-formed UTF-8 sequence at the start of `s` (s non-empty),
// or 0 if it is not well-formed (Unicode 15, table 3-7).
size_t Utf8SequenceLength(absl::string_view s) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const auto in = [&](size_t i, uint8_t lo, uint8_t hi) {
    return i < s.size() && byte(i) >= lo && byte(i) <= hi;
  };
  const uint8_t b0 = byte(0);
  if (b0 < 0x80) return 1;
  if (b0 >= 0xC2 && b0 <= 0xDF) return in(1, 0x80, 0xBF) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    const uint8_t lo = b0 == 0xE0 ? 0xA0 : 0x80;
    const uint8_t hi = b0 == 0xED ? 0x9F : 0xBF;
    return in(1, lo, hi) && in(2, 0x80, 0xBF) ? 3 : 0;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    const uint8_t lo = b0 == 0xF0 ? 0x90 : 0x80;
    const uint8_t hi = b0 == 0xF4 ? 0x8F : 0xBF;
    return in(1, lo, hi) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF) ? 4 : 0;
  }
  return 0;
}

void AppendJsonString(absl::string_view key, absl::string_view value, bool first,
                      spdlog::memory_buf_t& dest) {
  std::string field = absl::StrCat(first ? "" : ",", "\"", key, "\":\"", JsonEscape(value), "\"");
  dest.append(field.data(), field.data() + field.size());
}

// One JSON object per line:
// {"ts":"...","level":"info","logger":"coachd","msg":"..."}
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const absl::Time time = absl::FromChrono(msg.time);
    const std::string ts = absl::FormatTime("%Y-%m-%d%ET%H:%M:%E6SZ", time, absl::UTCTimeZone());
    const spdlog::string_view_t level = spdlog::level::to_string_view(msg.level);
    dest.push_back('{');
    AppendJsonString("ts", ts, /*first=*/true, dest);
    AppendJsonString("level", absl::string_view(level.data(), level.size()), false, dest);
    AppendJsonString("logger", absl::string_view(msg.logger_name.data(), msg.logger_name.size()),
                     false, dest);
    AppendJsonString("msg", absl::string_view(msg.payload.data(), msg.payload.size()), false, dest);
    dest.push_back('}');
    dest.push_back('\n');
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

absl::StatusOr<spdlog::level::level_enum> ParseLevel(absl::string_view text) {
  const std::string name = absl::AsciiStrToLower(text);
  const spdlog::level::level_enum level = spdlog::level::from_str(name);
  if (level == spdlog::level::off && name != "off") {
    return absl::InvalidArgumentError(
        absl::StrCat("--log_level: unknown level '", text,
                     "'; expected trace, debug, info, warn, error, critical or off"));
  }
  return level;
}

}  // namespace

absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view text) {
  if (text == "text") return LogFormat::kText;
  if (text == "json") return LogFormat::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("--log_format: unknown format '", text, "'; expected text or json"));
}

std::string JsonEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  while (!text.empty()) {
    const size_t length = Utf8SequenceLength(text);
    if (length == 0) {
      out.append(kReplacementCharacter.data(), kReplacementCharacter.size());
      text.remove_prefix(1);
      continue;
    }
    if (length > 1) {
      out.append(text.data(), length);
      text.remove_prefix(length);
      continue;
    }
    const char c = text.front();
    text.remove_prefix(1);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<uint8_t>(c) < 0x20 || c == 0x7F) {
          absl::StrAppendFormat(&out, "\\u%04x", static_cast<uint8_t>(c));
        } else {
          out += c;
        }
    }
  }
  return out;
}

absl::Status ConfigureLogging(const LogOptions& options, spdlog::sink_ptr sink) {
  absl::StatusOr<spdlog::level::level_enum> level = ParseLevel(options.level);
  if (!level.ok()) return level.status();
  try {
    if (sink == nullptr) sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto logger = std::make_shared<spdlog::logger>(kLoggerName, std::move(sink));
    if (options.format == LogFormat::kJson) {
      logger->set_formatter(std::make_unique<JsonFormatter>());
    } else {
      logger->set_pattern("%Y-%m-%d %H:%M:%S.%e [%l] %v");
    }
    logger->set_level(*level);
    logger->flush_on(spdlog::level::warn);
    spdlog::set_default_logger(std::move(logger));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("cannot configure logging: ", e.what()));
  }
  g_log_transcripts.store(options.log_transcripts, std::memory_order_relaxed);
  return absl::OkStatus();
}

bool TranscriptLoggingEnabled() {
  return g_log_transcripts.load(std::memory_order_relaxed) &&
         spdlog::default_logger_raw()->should_log(spdlog::level::debug);
}

}  // namespace coach::server
