// File: transcripts/srt_reader.h
//
// Reads one call from a SubRip (.srt) file whose cue text starts with the
// speaker's name:
//
//   1
//   00:00:01,000 --> 00:00:04,500
//   Agent: Thank you for calling,
//   how can I help?
//
// - Cue times (hh:mm:ss,mmm; '.' is accepted too) become start_ms/end_ms.
// - The cue number is the segment id (the 1-based ordinal if it is missing).
//   A cue whose lines change speaker ("Agent: ..." then "Customer: ...") is
//   split, one segment per speaker, with ids "<n>.1", "<n>.2", ...
// - The prefix is the text before the first ": " of a line (at most 40
//   bytes, after formatting tags and a dialogue dash "- " are removed). It is
//   a speaker if it is a mapped name, or looks like one: at most 3 words, none
//   starting with a lower-case letter ("Dana Whitfield", "Speaker 2"; not
//   "so I checked"). Names map to roles through
//   ReadOptions::speakers (--speakers) first, then the names
//   agent/customer/caller themselves (case-insensitive).
// - A line without a prefix continues the current speaker (across cues);
//   the first cue with text must have one. Cues with no text are skipped.
// - Formatting tags (<i>, <font ...>, {\an8}) are removed.
//
// Errors are kInvalidArgument naming file:line. Stateless and thread-safe.

#ifndef COACHD_TRANSCRIPTS_SRT_READER_H_
#define COACHD_TRANSCRIPTS_SRT_READER_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "transcripts/reader.h"

namespace coach::transcripts {

absl::StatusOr<RecordedCall> ParseSrt(absl::string_view file_name, absl::string_view content,
                                      const ReadOptions& options = {});

}  // namespace coach::transcripts

#endif  // COACHD_TRANSCRIPTS_SRT_READER_H_
