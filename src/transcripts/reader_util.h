// File: transcripts/reader_util.h
//
// Internal helpers shared by the transcript readers: reading a file, splitting
// text into numbered lines, cue timestamps, speaker-name mapping. Not part of
// the public API.

#ifndef COACHD_TRANSCRIPTS_READER_UTIL_H_
#define COACHD_TRANSCRIPTS_READER_UTIL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/types.h"
#include "transcripts/reader.h"

// Returns the status of `expr` from the enclosing function if it is not OK.
#define COACH_RETURN_IF_ERROR(expr)                                 \
  do {                                                              \
    if (absl::Status coach_status_ = (expr); !coach_status_.ok()) { \
      return coach_status_;                                         \
    }                                                               \
  } while (false)

namespace coach::transcripts::internal {

using SpeakerMap = std::map<std::string, engine::Speaker, std::less<>>;

// The whole file; kNotFound naming the path if it cannot be opened.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// The file name's stem: "dir/call-7.vtt" -> "call-7".
std::string FileStem(absl::string_view file_name);

// `content` without a leading UTF-8 byte order mark.
absl::string_view StripBom(absl::string_view content);

// Lines split at "\n", "\r\n" or "\r"; line i is line number i + 1.
std::vector<absl::string_view> SplitLines(absl::string_view content);

// kInvalidArgument naming file:line of the first line that is not valid UTF-8.
absl::Status CheckUtf8Lines(absl::string_view file_name,
                            const std::vector<absl::string_view>& lines);

// A cue timestamp "[H:]MM:SS.mmm" (WebVTT, hours optional) or "H:MM:SS,mmm"
// (SRT, ',' or '.', 1 to 3 fraction digits) in ms; nullopt if malformed or
// beyond engine::kMaxCallTimeMs.
std::optional<int64_t> ParseCueTimestamp(absl::string_view text, bool hours_optional);

// Parses "Name=role, Name2=role2" (roles agent|customer|caller, any case) into
// `map`; the message names the entry at fault, without a prefix.
absl::Status ParseSpeakerSpec(absl::string_view spec, SpeakerMap* map);

// The role of `name` (trimmed, case-insensitive) in `map`.
std::optional<engine::Speaker> LookupSpeaker(const SpeakerMap& map, absl::string_view name);

// "agent" -> agent, "customer"/"caller" -> customer (any case): the names
// every text format maps without being told.
std::optional<engine::Speaker> DefaultRoleName(absl::string_view name);

// Text of a cue line: tags <...> removed, the usual entities (&amp; &lt; &gt;
// &quot; &apos; &nbsp; &lrm; &rlm;, numeric &#NN; &#xNN;) decoded, SRT
// {\...} overrides removed, runs of whitespace collapsed.
std::string CueText(absl::string_view line);

// One cue of a subtitle format (WebVTT, SRT), before speakers are resolved.
struct Cue {
  struct Span {
    int line_number = 0;
    std::optional<std::string> speaker;  // named here; else continues the previous span
    std::string text;                    // CueText of the span
  };
  int line_number = 0;  // of the timing line
  std::string id;       // empty: the cue's ordinal is used
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  std::vector<Span> spans;
};

// Blank-line-separated blocks of non-blank lines: [first, last) line indices.
std::vector<std::pair<size_t, size_t>> SplitBlocks(const std::vector<absl::string_view>& lines,
                                                   size_t first_line);

// Parses a timing line "START --> END[ settings]" into cue->start_ms/end_ms;
// the message names file:line.
absl::Status ParseCueTiming(absl::string_view file_name, int line_number, absl::string_view line,
                            bool hours_optional, Cue* cue);

// Resolves speakers and appends the cue's segments to `call`: one segment per
// run of spans with the same speaker, ids "<id>" or "<id>.<k>" when split.
// Speakers resolve through `flag_map`, then `file_map`, then DefaultRoleName;
// `current` carries the speaker across cues. `how_to_name` completes the
// message when the first span names no speaker.
absl::Status AppendCueSegments(absl::string_view file_name, const Cue& cue, size_t ordinal,
                               const SpeakerMap& flag_map, const SpeakerMap& file_map,
                               absl::string_view how_to_name, std::optional<std::string>* current,
                               RecordedCall* call);

// Applies ReadOptions::call_id / agent_id to a single-call format's result.
void ApplyCallOptions(absl::string_view file_name, const ReadOptions& options, RecordedCall* call);

}  // namespace coach::transcripts::internal

#endif  // COACHD_TRANSCRIPTS_READER_UTIL_H_
