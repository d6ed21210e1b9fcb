// File: transcripts/harper_valley_reader.h
//
// Reads one call of the Gridspace-Stanford Harper Valley corpus
// (transcript/<sid>.json: a JSON array of segments with speaker_role,
// transcript, human_transcript, start_ms, duration_ms and word offsets relative
// to the segment). The call id is the file's stem. Either the ASR text or the
// human correction can be read, which lets tests measure robustness to STT
// errors on the same call.
//
// Fields may be missing or null (defaults: 0, ""); integers may be written as
// strings, as protobuf's JSON mapping allows. Times must lie in
// [0, engine::kMaxCallTimeMs / 2]. Segment ids are the segments' `index`.
//
// Errors are kInvalidArgument naming the file and the JSON path
// ("f.json: $[3].speaker_role: segment 4: ..."), or file:line:column for
// invalid JSON. Stateless and thread-safe.

#ifndef COACHD_TRANSCRIPTS_HARPER_VALLEY_READER_H_
#define COACHD_TRANSCRIPTS_HARPER_VALLEY_READER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "transcripts/jsonl_reader.h"

namespace coach::transcripts {

enum class HarperValleyText { kAsr, kHuman };

absl::StatusOr<RecordedCall> ParseHarperValley(absl::string_view file_name,
                                               absl::string_view content,
                                               HarperValleyText text = HarperValleyText::kAsr);

absl::StatusOr<RecordedCall> ReadHarperValleyFile(const std::string& path,
                                                  HarperValleyText text = HarperValleyText::kAsr);

}  // namespace coach::transcripts

#endif  // COACHD_TRANSCRIPTS_HARPER_VALLEY_READER_H_
