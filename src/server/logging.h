// File: server/logging.h
//
// Process-wide logging setup for coachd, on top of spdlog.
//
// Call ConfigureLogging() once at startup, before the server starts (it
// replaces spdlog's default logger, named "coachd"); afterwards log with
// spdlog::info(...) etc. from any thread. Calling it again (e.g. in tests)
// replaces the logger; it is not meant to race with concurrent logging.
//
// Formats:
//   text  "2024-05-01 12:00:00.123 [info] message"
//   json  one object per line:
//         {"ts":"2024-05-01T12:00:00.123456Z","level":"info","logger":"coachd","msg":"..."}
//         msg is escaped per RFC 8259 (quotes, backslashes, control
//         characters); invalid UTF-8 bytes are replaced with U+FFFD, so every
//         line is valid JSON.
//
// Transcript text: DESIGN.md requires that it never reach a log at the default
// level. Code may log transcript text only inside
//   if (TranscriptLoggingEnabled()) spdlog::debug(...);
// which is true only when --log_transcripts was given AND the level is debug
// or trace.
//
// Thread safety: TranscriptLoggingEnabled() is a lock-free read and safe from
// any thread. ConfigureLogging() is not safe to call concurrently with itself.

#ifndef COACHD_SERVER_LOGGING_H_
#define COACHD_SERVER_LOGGING_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "spdlog/common.h"

namespace coach::server {

enum class LogFormat { kText, kJson };

// "text" | "json"; anything else is INVALID_ARGUMENT naming --log_format.
absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view text);

struct LogOptions {
  LogFormat format = LogFormat::kText;
  // trace | debug | info | warn | error | critical | off (--log_level).
  std::string level = "info";
  // --log_transcripts: allow transcript text in debug logs.
  bool log_transcripts = false;
};

// Installs the default spdlog logger "coachd" writing to stderr, or to `sink`
// when given (tests). INVALID_ARGUMENT naming --log_level for an unknown level;
// on error the previous logger stays in place.
absl::Status ConfigureLogging(const LogOptions& options, spdlog::sink_ptr sink = nullptr);

// True only when log_transcripts was set AND the level is debug or lower.
bool TranscriptLoggingEnabled();

// Escapes `text` as the contents of a JSON string (no surrounding quotes),
// replacing invalid UTF-8 with U+FFFD. Exposed for tests and for code that
// builds JSON by hand.
std::string JsonEscape(absl::string_view text);

}  // namespace coach::server

#endif  // COACHD_SERVER_LOGGING_H_
