#include "transcripts/jsonl_reader.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "coach/v1/transcript.pb.h"
#include "google/protobuf/util/json_util.h"
#include "transcripts/reader_util.h"

namespace coach::transcripts {

absl::StatusOr<std::vector<RecordedCall>> ParseJsonl(absl::string_view file_name,
                                                     absl::string_view content) {
  std::vector<RecordedCall> calls;
  absl::flat_hash_map<std::string, size_t> index_of;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(content, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    auto where = [&] { return absl::StrCat(file_name, ":", line_number, ": "); };
    coach::v1::TranscriptLine parsed;
    const auto status = google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(line.data(), line.size()), &parsed, options);
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), "not a JSON transcript line: ", status.message().as_string()));
    }
    if (parsed.call_id().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where(), "call_id is missing"));
    }
    const auto speaker = engine::ParseSpeaker(parsed.speaker());
    if (!speaker.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          where(), "speaker must be \"agent\" or \"customer\", not \"", parsed.speaker(), "\""));
    }
    auto [it, inserted] = index_of.emplace(parsed.call_id(), calls.size());
    if (inserted) {
      calls.emplace_back();
      calls.back().call_id = parsed.call_id();
    }
    RecordedCall& call = calls[it->second];
    if (call.agent_id.empty()) call.agent_id = parsed.agent_id();
    if (call.tenant.empty()) call.tenant = parsed.tenant();
    engine::Segment segment;
    segment.segment_id =
        parsed.segment_id().empty() ? absl::StrCat(call.segments.size() + 1) : parsed.segment_id();
    segment.speaker = *speaker;
    segment.text = parsed.text();
    segment.is_final = !parsed.has_is_final() || parsed.is_final();
    if (parsed.has_stability()) segment.stability = parsed.stability();
    segment.start_ms = parsed.start_ms();
    segment.end_ms = parsed.end_ms();
    for (const auto& word : parsed.words()) {
      segment.words.push_back(engine::WordTiming{word.start_ms(), word.end_ms()});
    }
    call.segments.push_back(std::move(segment));
  }
  return calls;
}

absl::StatusOr<std::vector<RecordedCall>> ReadJsonlFile(const std::string& path) {
  auto content = internal::ReadFileToString(path);
  if (!content.ok()) return content.status();
  return ParseJsonl(path, *content);
}

}  // namespace coach::transcripts
