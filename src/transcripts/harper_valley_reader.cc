#include "transcripts/harper_valley_reader.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "transcripts/json_util.h"
#include "transcripts/reader_util.h"

namespace coach::transcripts {
namespace {

using internal::GetArray;
using internal::GetInt;
using internal::GetString;
using internal::Json;
using internal::JsonErrors;
using internal::JsonPath;

// Word offsets and durations: arrays of integers, each in [0, max].
absl::Status GetMillisArray(const JsonErrors& errors, const Json& segment, const JsonPath& at,
                            absl::string_view key, std::vector<int64_t>* out) {
  auto values = GetArray(errors, segment, at, key, false);
  if (!values.ok()) return values.status();
  if (*values == nullptr) return absl::OkStatus();
  const JsonPath path = at.Key(key);
  for (size_t i = 0; i < (*values)->size(); ++i) {
    const Json& value = (**values)[i];
    if (!value.is_number_integer() || value.get<int64_t>() < 0 ||
        value.get<int64_t>() > engine::kMaxCallTimeMs) {
      return errors.At(
          path.Index(i),
          absl::StrCat("expected an integer in [0, ", engine::kMaxCallTimeMs, "], found ",
                       value.is_primitive() ? value.dump() : value.type_name()));
    }
    out->push_back(value.get<int64_t>());
  }
  return absl::OkStatus();
}

absl::StatusOr<RecordedCall> Read(absl::string_view file_name, absl::string_view content,
                                  HarperValleyText text) {
  auto parsed = internal::ParseJsonDocument(file_name, content);
  if (!parsed.ok()) return parsed.status();
  const Json& doc = *parsed;
  const JsonErrors errors(file_name);
  if (!doc.is_array()) {
    return errors.At(JsonPath(), absl::StrCat("not a Harper Valley transcript: expected a JSON "
                                              "array of segments, found ",
                                              doc.type_name()));
  }
  RecordedCall call;
  call.call_id = internal::FileStem(file_name);
  // Half the engine's limit each, so start + duration stays within it.
  constexpr int64_t kMax = engine::kMaxCallTimeMs / 2;
  for (size_t i = 0; i < doc.size(); ++i) {
    const Json& in = doc[i];
    const JsonPath at = JsonPath().Index(i);
    if (!in.is_object()) return errors.WrongType(at, in, "a segment object");
    int64_t index = 0;
    std::string role;
    int64_t start_ms = 0;
    int64_t duration_ms = 0;
    engine::Segment segment;
    COACH_RETURN_IF_ERROR(GetInt(errors, in, at, "index", false, INT32_MIN, INT32_MAX, &index));
    COACH_RETURN_IF_ERROR(GetString(errors, in, at, "speaker_role", false, &role));
    COACH_RETURN_IF_ERROR(GetString(
        errors, in, at, text == HarperValleyText::kAsr ? "transcript" : "human_transcript", false,
        &segment.text));
    COACH_RETURN_IF_ERROR(GetInt(errors, in, at, "start_ms", false, 0, kMax, &start_ms));
    COACH_RETURN_IF_ERROR(GetInt(errors, in, at, "duration_ms", false, 0, kMax, &duration_ms));
    std::vector<int64_t> offsets;
    std::vector<int64_t> durations;
    COACH_RETURN_IF_ERROR(GetMillisArray(errors, in, at, "word_offsets_ms", &offsets));
    COACH_RETURN_IF_ERROR(GetMillisArray(errors, in, at, "word_durations_ms", &durations));
    segment.segment_id = absl::StrCat(index);
    if (role == "agent") {
      segment.speaker = engine::Speaker::kAgent;
    } else if (role == "caller") {
      segment.speaker = engine::Speaker::kCustomer;
    } else {
      return errors.At(at.Key("speaker_role"),
                       absl::StrCat("segment ", index,
                                    ": speaker_role must be agent or caller, not \"", role, "\""));
    }
    segment.start_ms = start_ms;
    segment.end_ms = start_ms + duration_ms;
    for (size_t w = 0; w < offsets.size(); ++w) {
      const int64_t start = std::min(start_ms + offsets[w], engine::kMaxCallTimeMs);
      const int64_t duration = w < durations.size() ? durations[w] : 0;
      segment.words.push_back(
          engine::WordTiming{start, std::min(start + duration, engine::kMaxCallTimeMs)});
    }
    call.segments.push_back(std::move(segment));
  }
  return call;
}

}  // namespace

absl::StatusOr<RecordedCall> ParseHarperValley(absl::string_view file_name,
                                               absl::string_view content, HarperValleyText text) {
  return internal::CatchJsonExceptions<RecordedCall>(
      file_name, [&] { return Read(file_name, content, text); });
}

absl::StatusOr<RecordedCall> ReadHarperValleyFile(const std::string& path, HarperValleyText text) {
  auto content = internal::ReadFileToString(path);
  if (!content.ok()) return content.status();
  return ParseHarperValley(path, *content, text);
}

}  // namespace coach::transcripts
