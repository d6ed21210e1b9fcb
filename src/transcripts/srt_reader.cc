#include "transcripts/srt_reader.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "transcripts/reader_util.h"

namespace coach::transcripts {
namespace {

using internal::Cue;

constexpr size_t kMaxPrefixBytes = 40;
constexpr size_t kMaxPrefixWords = 3;

bool IsCueNumber(absl::string_view line) {
  line = absl::StripAsciiWhitespace(line);
  if (line.empty()) return false;
  for (char c : line) {
    if (!absl::ascii_isdigit(c)) return false;
  }
  return true;
}

// True if every word of `name` starts with something other than a lower-case
// letter: "Dana Whitfield", "Speaker 2", "AGENT" (but not "so I checked").
bool LooksLikeName(absl::string_view name) {
  size_t words = 0;
  for (absl::string_view word : absl::StrSplit(name, ' ', absl::SkipEmpty())) {
    if (absl::ascii_islower(word[0])) return false;
    ++words;
  }
  return words > 0 && words <= kMaxPrefixWords;
}

// "Alice: text" -> span {Alice, "text"}; a line without a prefix -> {nullopt, line}.
// A prefix is a mapped name (--speakers, agent/customer/caller) or looks like a name.
Cue::Span SplitPrefix(absl::string_view line, int line_number, const internal::SpeakerMap& map) {
  std::string text = internal::CueText(line);
  absl::string_view view = text;
  if (absl::ConsumePrefix(&view, "- ") || absl::ConsumePrefix(&view, "-")) {
    view = absl::StripLeadingAsciiWhitespace(view);  // dialogue dash
  }
  const size_t colon = view.find(':');
  if (colon != absl::string_view::npos && colon > 0 && colon <= kMaxPrefixBytes &&
      (colon + 1 == view.size() || view[colon + 1] == ' ')) {
    const absl::string_view name = view.substr(0, colon);
    const bool mapped = internal::LookupSpeaker(map, name).has_value() ||
                        internal::DefaultRoleName(name).has_value();
    if (name == absl::StripAsciiWhitespace(name) && (mapped || LooksLikeName(name))) {
      return Cue::Span{line_number, std::string(name),
                       std::string(absl::StripLeadingAsciiWhitespace(view.substr(colon + 1)))};
    }
  }
  return Cue::Span{line_number, std::nullopt, text};
}

}  // namespace

absl::StatusOr<RecordedCall> ParseSrt(absl::string_view file_name, absl::string_view content,
                                      const ReadOptions& options) {
  const std::vector<absl::string_view> lines = internal::SplitLines(internal::StripBom(content));
  COACH_RETURN_IF_ERROR(internal::CheckUtf8Lines(file_name, lines));
  RecordedCall call;
  std::optional<std::string> current;
  const internal::SpeakerMap no_file_map;
  size_t ordinal = 0;
  for (const auto& [begin, end] : internal::SplitBlocks(lines, 0)) {
    Cue cue;
    size_t timing = begin;
    if (IsCueNumber(lines[begin])) {
      cue.id = std::string(absl::StripAsciiWhitespace(lines[begin]));
      timing = begin + 1;
    }
    if (timing == end || lines[timing].find("-->") == absl::string_view::npos) {
      const size_t at = timing == end ? begin : timing;
      return absl::InvalidArgumentError(absl::StrCat(
          file_name, ":", at + 1,
          ": expected a cue (a number, then \"00:00:01,000 --> 00:00:02,500\"), found \"",
          absl::StripAsciiWhitespace(lines[at]), "\""));
    }
    COACH_RETURN_IF_ERROR(internal::ParseCueTiming(file_name, static_cast<int>(timing) + 1,
                                                   lines[timing], /*hours_optional=*/false, &cue));
    for (size_t i = timing + 1; i < end; ++i) {
      cue.spans.push_back(SplitPrefix(lines[i], static_cast<int>(i) + 1, options.speakers));
    }
    COACH_RETURN_IF_ERROR(internal::AppendCueSegments(
        file_name, cue, ++ordinal, options.speakers, no_file_map,
        "start the cue with the speaker's name, e.g. \"Agent: \"", &current, &call));
  }
  internal::ApplyCallOptions(file_name, options, &call);
  return call;
}

}  // namespace coach::transcripts
