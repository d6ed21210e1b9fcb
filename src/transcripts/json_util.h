// File: transcripts/json_util.h
//
// Internal: nlohmann::json behind absl::Status for the JSON transcript
// readers. Every error names the file and a JSONPath-like location
// ("f.json: $.results.items[3].start_time: ..."); no exception escapes.
// Not part of the public API.

#ifndef COACHD_TRANSCRIPTS_JSON_UTIL_H_
#define COACHD_TRANSCRIPTS_JSON_UTIL_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace coach::transcripts::internal {

using Json = nlohmann::json;

// Parses a whole document. A syntax error names file:line:column and what
// was expected, e.g. "f.json:12:3: invalid JSON: unexpected end of input".
absl::StatusOr<Json> ParseJsonDocument(absl::string_view file_name, absl::string_view content);

// A JSON path under construction, for error messages: "$", "$.results",
// "$.results.items[3]".
class JsonPath {
 public:
  JsonPath() : text_("$") {}
  JsonPath Key(absl::string_view key) const;
  JsonPath Index(size_t index) const;
  const std::string& str() const { return text_; }

 private:
  explicit JsonPath(std::string text) : text_(std::move(text)) {}
  std::string text_;
};

// Errors for one file: "<file>: <path>: <message>".
class JsonErrors {
 public:
  explicit JsonErrors(absl::string_view file_name) : file_name_(file_name) {}
  absl::Status At(const JsonPath& path, absl::string_view message) const;
  // "expected <what>, found <type>".
  absl::Status WrongType(const JsonPath& path, const Json& value, absl::string_view what) const;

 private:
  absl::string_view file_name_;
};

// Field `key` of `object` (an object), or nullptr when absent or null.
const Json* FindField(const Json& object, absl::string_view key);

// Required or optional typed fields of `object` at `path`. Absent (or null)
// optional fields leave the output untouched.
absl::Status GetString(const JsonErrors& errors, const Json& object, const JsonPath& path,
                       absl::string_view key, bool required, std::string* out);
// An integer: a JSON integer, a float with an integral value, or a decimal
// string (protobuf's JSON mapping allows those); must lie in [min, max].
absl::Status GetInt(const JsonErrors& errors, const Json& object, const JsonPath& path,
                    absl::string_view key, bool required, int64_t min, int64_t max, int64_t* out);
// The array (or object) at `key`; nullptr when absent and not required.
absl::StatusOr<const Json*> GetArray(const JsonErrors& errors, const Json& object,
                                     const JsonPath& path, absl::string_view key, bool required);
absl::StatusOr<const Json*> GetObject(const JsonErrors& errors, const Json& object,
                                      const JsonPath& path, absl::string_view key, bool required);

// Seconds as AWS writes them ("12.345", or a JSON number) -> ms, rounded to
// the nearest ms; nullopt if malformed, negative or beyond kMaxCallTimeMs.
std::optional<int64_t> SecondsToMs(const Json& value);

// Runs `parse` and turns any nlohmann exception that escapes it into an
// error naming the file (a safety net; the readers check types first).
template <typename T, typename F>
absl::StatusOr<T> CatchJsonExceptions(absl::string_view file_name, F&& parse) {
  try {
    return parse();
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(file_name, ": malformed JSON: ", e.what()));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(file_name, ": cannot read: ", e.what()));
  }
}

}  // namespace coach::transcripts::internal

#endif  // COACHD_TRANSCRIPTS_JSON_UTIL_H_
