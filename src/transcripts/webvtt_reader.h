// File: transcripts/webvtt_reader.h
//
// Reads one call from a WebVTT file whose cues carry <v Name> voice tags:
//
//   WEBVTT
//
//   NOTE speakers: Alice=agent, Bob=customer
//
//   intro-1
//   00:00:01.000 --> 00:00:04.500 align:start
//   <v Alice>Thank you for calling,
//   how can I help?</v>
//
// - Cue times ([hh:]mm:ss.ttt) become start_ms/end_ms; cue settings are ignored.
// - A cue's lines are joined with single spaces; tags are removed and the
//   usual entities decoded.
// - The cue id is the segment id; cues without an id get their 1-based
//   ordinal among the file's cues. A cue whose lines change voice is split,
//   one segment per voice, with ids "<id>.1", "<id>.2", ...
// - Speaker names map to roles through, in order of precedence:
//   ReadOptions::speakers (--speakers), "speakers:" lines in NOTE blocks, and
//   the names agent/customer/caller themselves (case-insensitive).
// - A cue without a voice tag continues the previous cue's voice; the first
//   cue with text must have one. Cues with no text are skipped.
//
// Errors are kInvalidArgument naming file:line. Stateless and thread-safe.

#ifndef COACHD_TRANSCRIPTS_WEBVTT_READER_H_
#define COACHD_TRANSCRIPTS_WEBVTT_READER_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "transcripts/reader.h"

namespace coach::transcripts {

absl::StatusOr<RecordedCall> ParseWebVtt(absl::string_view file_name, absl::string_view content,
                                         const ReadOptions& options = {});

}  // namespace coach::transcripts

#endif  // COACHD_TRANSCRIPTS_WEBVTT_READER_H_
