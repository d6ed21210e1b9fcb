// File: transcripts/jsonl_reader.h
//
// Reads recorded calls in coachd's canonical JSON Lines form
// (proto/coach/v1/transcript.proto): one segment per line, snake_case fields,
// many calls per file grouped by call_id in order of first appearance. Blank
// lines are skipped; `is_final` defaults to true; a missing segment_id becomes
// the segment's 1-based ordinal within its call.
//
// Errors are kInvalidArgument and name file:line and the field. Stateless and
// thread-safe.

#ifndef COACHD_TRANSCRIPTS_JSONL_READER_H_
#define COACHD_TRANSCRIPTS_JSONL_READER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/types.h"

namespace coach::transcripts {

struct RecordedCall {
  std::string call_id;
  std::string agent_id;
  std::string tenant;
  std::vector<engine::Segment> segments;
};

absl::StatusOr<std::vector<RecordedCall>> ParseJsonl(absl::string_view file_name,
                                                     absl::string_view content);

// Reads and parses a file; kNotFound if it cannot be opened.
absl::StatusOr<std::vector<RecordedCall>> ReadJsonlFile(const std::string& path);

}  // namespace coach::transcripts

#endif  // COACHD_TRANSCRIPTS_JSONL_READER_H_
