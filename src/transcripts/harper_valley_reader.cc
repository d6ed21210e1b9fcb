#include "transcripts/harper_valley_reader.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "transcripts/harper_valley.pb.h"

namespace coach::transcripts {

absl::StatusOr<RecordedCall> ParseHarperValley(absl::string_view file_name,
                                               absl::string_view content,
                                               HarperValleyText text) {
  if (!absl::StartsWith(absl::StripLeadingAsciiWhitespace(content), "[")) {
    return absl::InvalidArgumentError(absl::StrCat(
        file_name, ": not a Harper Valley transcript: expected a JSON array of segments"));
  }
  internal::HarperValleyTranscript transcript;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  // The file is a bare JSON array; give it a field name to parse it as a message.
  const std::string wrapped = absl::StrCat("{\"segments\":", content, "}");
  const auto status = google::protobuf::util::JsonStringToMessage(wrapped, &transcript, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        file_name, ": not a Harper Valley transcript: ", status.message().as_string()));
  }
  RecordedCall call;
  call.call_id = std::filesystem::path(std::string(file_name)).stem().string();
  for (const auto& in : transcript.segments()) {
    engine::Segment segment;
    segment.segment_id = absl::StrCat(in.index());
    if (in.speaker_role() == "agent") {
      segment.speaker = engine::Speaker::kAgent;
    } else if (in.speaker_role() == "caller") {
      segment.speaker = engine::Speaker::kCustomer;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(file_name, ": segment ", in.index(),
                                                     ": speaker_role must be agent or caller, not \"",
                                                     in.speaker_role(), "\""));
    }
    segment.text = text == HarperValleyText::kAsr ? in.transcript() : in.human_transcript();
    segment.start_ms = in.start_ms();
    segment.end_ms = in.start_ms() + in.duration_ms();
    for (int i = 0; i < in.word_offsets_ms_size(); ++i) {
      const int64_t start = in.start_ms() + in.word_offsets_ms(i);
      const int64_t duration = i < in.word_durations_ms_size() ? in.word_durations_ms(i) : 0;
      segment.words.push_back(engine::WordTiming{start, start + duration});
    }
    call.segments.push_back(std::move(segment));
  }
  return call;
}

absl::StatusOr<RecordedCall> ReadHarperValleyFile(const std::string& path, HarperValleyText text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open transcript '", path, "'"));
  std::stringstream content;
  content << in.rdbuf();
  return ParseHarperValley(path, content.str(), text);
}

}  // namespace coach::transcripts
