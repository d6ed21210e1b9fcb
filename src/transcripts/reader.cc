#include "transcripts/reader.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "transcripts/aws_transcribe_reader.h"
#include "transcripts/contact_lens_reader.h"
#include "transcripts/harper_valley_reader.h"
#include "transcripts/json_util.h"
#include "transcripts/reader_util.h"
#include "transcripts/srt_reader.h"
#include "transcripts/webvtt_reader.h"

namespace coach::transcripts {
namespace {

constexpr std::pair<absl::string_view, Format> kFormatNames[] = {
    {"auto", Format::kAuto},
    {"jsonl", Format::kJsonl},
    {"vtt", Format::kWebVtt},
    {"srt", Format::kSrt},
    {"aws", Format::kAwsTranscribe},
    {"contact_lens", Format::kContactLens},
    {"harper_valley", Format::kHarperValley},
    // Aliases.
    {"webvtt", Format::kWebVtt},
    {"aws_transcribe", Format::kAwsTranscribe},
    {"contactlens", Format::kContactLens},
    {"harpervalley", Format::kHarperValley},
    {"ndjson", Format::kJsonl},
};

constexpr absl::string_view kFormatChoices =
    "auto, jsonl, vtt, srt, aws, contact_lens, harper_valley";

// True if `content` has the object key "key" (quoted, followed by ':').
bool HasJsonKey(absl::string_view content, absl::string_view key) {
  const std::string quoted = absl::StrCat("\"", key, "\"");
  for (size_t at = content.find(quoted); at != absl::string_view::npos;
       at = content.find(quoted, at + 1)) {
    absl::string_view rest = absl::StripLeadingAsciiWhitespace(content.substr(at + quoted.size()));
    if (absl::StartsWith(rest, ":")) return true;
  }
  return false;
}

std::optional<Format> DetectJsonDocument(absl::string_view content) {
  if (HasJsonKey(content, "Transcript") &&
      (HasJsonKey(content, "ParticipantId") || HasJsonKey(content, "Participants") ||
       HasJsonKey(content, "BeginOffsetMillis"))) {
    return Format::kContactLens;
  }
  if (HasJsonKey(content, "results") &&
      (HasJsonKey(content, "items") || HasJsonKey(content, "transcripts"))) {
    return Format::kAwsTranscribe;
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<Format> ParseFormat(absl::string_view name) {
  for (const auto& [format_name, format] : kFormatNames) {
    if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(name), format_name)) return format;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--format: unknown format \"", name, "\"; expected one of ", kFormatChoices));
}

absl::string_view FormatName(Format format) {
  for (const auto& [name, value] : kFormatNames) {
    if (value == format) return name;
  }
  return "unknown";
}

absl::StatusOr<TextSource> ParseTextSource(absl::string_view name) {
  name = absl::StripAsciiWhitespace(name);
  if (absl::EqualsIgnoreCase(name, "human")) return TextSource::kHuman;
  if (absl::EqualsIgnoreCase(name, "asr")) return TextSource::kAsr;
  return absl::InvalidArgumentError(
      absl::StrCat("--text: unknown text source \"", name, "\"; expected asr or human"));
}

absl::Status ParseSpeakerMap(absl::string_view spec, ReadOptions* options) {
  internal::SpeakerMap parsed;
  if (absl::Status status = internal::ParseSpeakerSpec(spec, &parsed); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--speakers: ", status.message()));
  }
  if (parsed.empty()) {
    return absl::InvalidArgumentError(
        "--speakers: expected NAME=agent|customer[,NAME=agent|customer...]");
  }
  // Merge: the new entries replace earlier ones for the same name (any case).
  for (auto& [name, speaker] : parsed) {
    for (auto it = options->speakers.begin(); it != options->speakers.end();) {
      it = absl::EqualsIgnoreCase(it->first, name) ? options->speakers.erase(it) : std::next(it);
    }
    options->speakers[name] = speaker;
  }
  return absl::OkStatus();
}

absl::StatusOr<Format> DetectFormat(absl::string_view file_name, absl::string_view content) {
  const std::string extension = [&] {
    const size_t slash = file_name.find_last_of('/');
    const absl::string_view base =
        slash == absl::string_view::npos ? file_name : file_name.substr(slash + 1);
    const size_t dot = base.rfind('.');
    return dot == absl::string_view::npos ? std::string()
                                          : absl::AsciiStrToLower(base.substr(dot + 1));
  }();
  if (extension == "jsonl" || extension == "ndjson") return Format::kJsonl;
  if (extension == "vtt") return Format::kWebVtt;
  if (extension == "srt") return Format::kSrt;

  const absl::string_view body = absl::StripLeadingAsciiWhitespace(internal::StripBom(content));
  if (absl::StartsWith(body, "WEBVTT")) return Format::kWebVtt;
  if (absl::StartsWith(body, "[")) return Format::kHarperValley;
  if (absl::StartsWith(body, "{")) {
    // A first line that is a whole JSON object: minified AWS / Contact Lens
    // output, or JSON Lines.
    const absl::string_view first_line = body.substr(0, body.find('\n'));
    const internal::Json line = internal::Json::parse(first_line.begin(), first_line.end(), nullptr,
                                                      /*allow_exceptions=*/false);
    if (line.is_object()) {
      if (line.contains("results")) return Format::kAwsTranscribe;
      if (line.contains("Transcript")) return Format::kContactLens;
      return Format::kJsonl;
    }
    // A pretty-printed document (possibly malformed): look at its keys.
    if (auto format = DetectJsonDocument(body)) return *format;
  } else {
    // SRT: a cue number then a timing line, or a timing line.
    const std::vector<absl::string_view> lines = internal::SplitLines(body.substr(0, 4096));
    const auto is_timing = [](absl::string_view line) {
      return line.find("-->") != absl::string_view::npos;
    };
    if (!lines.empty() &&
        (is_timing(lines[0]) || (lines.size() > 1 && is_timing(lines[1]) &&
                                 absl::ascii_isdigit(lines[0].empty() ? 'x' : lines[0][0])))) {
      return Format::kSrt;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      file_name, ": cannot tell the transcript format from the name or content; pass --format (",
      kFormatChoices, ")"));
}

absl::StatusOr<std::vector<RecordedCall>> ParseTranscript(absl::string_view file_name,
                                                          absl::string_view content,
                                                          const ReadOptions& options) {
  Format format = options.format;
  if (format == Format::kAuto) {
    auto detected = DetectFormat(file_name, content);
    if (!detected.ok()) return detected.status();
    format = *detected;
  }
  absl::StatusOr<RecordedCall> call;
  switch (format) {
    case Format::kJsonl: {
      auto calls = ParseJsonl(file_name, content);
      if (!calls.ok()) return calls.status();
      for (RecordedCall& each : *calls) {
        if (each.agent_id.empty()) each.agent_id = options.agent_id;
      }
      return calls;
    }
    case Format::kWebVtt:
      call = ParseWebVtt(file_name, content, options);
      break;
    case Format::kSrt:
      call = ParseSrt(file_name, content, options);
      break;
    case Format::kAwsTranscribe:
      call = ParseAwsTranscribe(file_name, content, options);
      break;
    case Format::kContactLens:
      call = ParseContactLens(file_name, content, options);
      break;
    case Format::kHarperValley:
      call = ParseHarperValley(
          file_name, content,
          options.text == TextSource::kAsr ? HarperValleyText::kAsr : HarperValleyText::kHuman);
      if (call.ok()) internal::ApplyCallOptions(file_name, options, &*call);
      break;
    case Format::kAuto:
      return absl::InternalError("format detection returned kAuto");
  }
  if (!call.ok()) return call.status();
  std::vector<RecordedCall> calls;
  calls.push_back(*std::move(call));
  return calls;
}

absl::StatusOr<std::vector<RecordedCall>> ReadTranscriptFile(const std::string& path,
                                                             const ReadOptions& options) {
  auto content = internal::ReadFileToString(path);
  if (!content.ok()) return content.status();
  return ParseTranscript(path, *content, options);
}

}  // namespace coach::transcripts
