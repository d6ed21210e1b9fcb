#include "transcripts/webvtt_reader.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "transcripts/reader_util.h"

namespace coach::transcripts {
namespace {

using internal::Cue;

// True if `line` is `keyword` alone or followed by a space or tab.
bool IsBlockKeyword(absl::string_view line, absl::string_view keyword) {
  if (!absl::StartsWith(line, keyword)) return false;
  return line.size() == keyword.size() || line[keyword.size()] == ' ' ||
         line[keyword.size()] == '\t';
}

// Finds the next voice tag "<v Name>" or "<v.class Name>" at or after `from`;
// returns its [begin, end) and sets *name (possibly empty).
bool FindVoiceTag(absl::string_view line, size_t from, size_t* begin, size_t* end,
                  std::string* name) {
  for (size_t at = line.find("<v", from); at != absl::string_view::npos;
       at = line.find("<v", at + 2)) {
    if (at + 2 >= line.size()) return false;
    const char next = line[at + 2];
    if (next != ' ' && next != '\t' && next != '.') continue;
    const size_t close = line.find('>', at);
    if (close == absl::string_view::npos) return false;
    const absl::string_view inside = line.substr(at + 2, close - at - 2);  // ".class Name"
    const size_t space = inside.find_first_of(" \t");
    *name = space == absl::string_view::npos
                ? ""
                : std::string(absl::StripAsciiWhitespace(inside.substr(space + 1)));
    *begin = at;
    *end = close + 1;
    return true;
  }
  return false;
}

// Splits a payload line into spans at its voice tags.
void AppendSpans(absl::string_view line, int line_number, Cue* cue) {
  size_t pos = 0;
  std::string speaker;  // named by the tag before this span; empty: none
  for (;;) {
    size_t begin = 0;
    size_t end = 0;
    std::string name;
    const bool found = FindVoiceTag(line, pos, &begin, &end, &name);
    Cue::Span span;
    span.line_number = line_number;
    if (!speaker.empty()) span.speaker = speaker;
    span.text = internal::CueText(line.substr(pos, found ? begin - pos : absl::string_view::npos));
    cue->spans.push_back(std::move(span));
    if (!found) return;
    speaker = std::move(name);
    pos = end;
  }
}

}  // namespace

absl::StatusOr<RecordedCall> ParseWebVtt(absl::string_view file_name, absl::string_view content,
                                         const ReadOptions& options) {
  const std::vector<absl::string_view> lines = internal::SplitLines(internal::StripBom(content));
  if (lines.empty() || !IsBlockKeyword(lines[0], "WEBVTT")) {
    return absl::InvalidArgumentError(
        absl::StrCat(file_name, ":1: not a WebVTT file: the first line must be \"WEBVTT\""));
  }
  COACH_RETURN_IF_ERROR(internal::CheckUtf8Lines(file_name, lines));
  // The header runs to the first blank line.
  size_t first = 1;
  while (first < lines.size() && !absl::StripAsciiWhitespace(lines[first]).empty()) ++first;

  internal::SpeakerMap file_map;
  std::vector<Cue> cues;
  for (const auto& [begin, end] : internal::SplitBlocks(lines, first)) {
    const int line_number = static_cast<int>(begin) + 1;
    if (IsBlockKeyword(lines[begin], "NOTE")) {
      for (size_t i = begin; i < end; ++i) {
        absl::string_view text = absl::StripAsciiWhitespace(lines[i]);
        if (i == begin) text = absl::StripLeadingAsciiWhitespace(text.substr(4));
        if (!absl::StartsWithIgnoreCase(text, "speakers:")) continue;
        const absl::Status status = internal::ParseSpeakerSpec(text.substr(9), &file_map);
        if (!status.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat(file_name, ":", i + 1, ": NOTE speakers: ", status.message()));
        }
      }
      continue;
    }
    const bool has_id = lines[begin].find("-->") == absl::string_view::npos;
    if ((IsBlockKeyword(lines[begin], "STYLE") || IsBlockKeyword(lines[begin], "REGION")) &&
        has_id && (end - begin < 2 || lines[begin + 1].find("-->") == absl::string_view::npos)) {
      continue;
    }
    Cue cue;
    size_t timing = begin;
    if (has_id) {
      cue.id = std::string(absl::StripAsciiWhitespace(lines[begin]));
      timing = begin + 1;
      if (timing == end) {
        return absl::InvalidArgumentError(absl::StrCat(
            file_name, ":", line_number,
            ": expected a cue (an optional id, then \"00:00:01.000 --> 00:00:02.500\"), found \"",
            absl::StripAsciiWhitespace(lines[begin]), "\""));
      }
    }
    COACH_RETURN_IF_ERROR(internal::ParseCueTiming(file_name, static_cast<int>(timing) + 1,
                                                   lines[timing], /*hours_optional=*/true, &cue));
    for (size_t i = timing + 1; i < end; ++i) AppendSpans(lines[i], static_cast<int>(i) + 1, &cue);
    cues.push_back(std::move(cue));
  }

  RecordedCall call;
  std::optional<std::string> current;
  for (size_t i = 0; i < cues.size(); ++i) {
    COACH_RETURN_IF_ERROR(internal::AppendCueSegments(
        file_name, cues[i], i + 1, options.speakers, file_map,
        "tag the cue with a voice, e.g. \"<v Alice>\"", &current, &call));
  }
  internal::ApplyCallOptions(file_name, options, &call);
  return call;
}

}  // namespace coach::transcripts
