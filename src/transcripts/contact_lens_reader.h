// File: transcripts/contact_lens_reader.h
//
// Reads one call from Amazon Connect Contact Lens post-call analysis output:
//
//   {"Version": "1.1.0", "Channel": "VOICE",
//    "Participants": [{"ParticipantId": "A1", "ParticipantRole": "AGENT"}, ...],
//    "CustomerMetadata": {"ContactId": "...", ...},
//    "Transcript": [{"Id": "...", "ParticipantId": "A1", "Content": "...",
//                    "BeginOffsetMillis": 120, "EndOffsetMillis": 2050, ...}, ...]}
//
// - Each Transcript entry is a segment: Id -> segment id (else its 1-based
//   ordinal), Content -> text, Begin/EndOffsetMillis -> start/end ms.
// - The role is the entry's ParticipantRole, else the ParticipantRole that
//   Participants gives its ParticipantId. AGENT -> agent, CUSTOMER -> customer
//   (any case). ReadOptions::speakers (--speakers), keyed by ParticipantId or
//   role, overrides both; any other role (e.g. SYSTEM) must be mapped there.
// - call_id is ReadOptions::call_id, else CustomerMetadata.ContactId, else
//   the file's stem.
//
// Errors are kInvalidArgument naming the file and the JSON path
// ("f.json: $.Transcript[2].ParticipantId: ..."). Stateless and thread-safe.

#ifndef COACHD_TRANSCRIPTS_CONTACT_LENS_READER_H_
#define COACHD_TRANSCRIPTS_CONTACT_LENS_READER_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "transcripts/reader.h"

namespace coach::transcripts {

absl::StatusOr<RecordedCall> ParseContactLens(absl::string_view file_name,
                                              absl::string_view content,
                                              const ReadOptions& options = {});

}  // namespace coach::transcripts

#endif  // COACHD_TRANSCRIPTS_CONTACT_LENS_READER_H_
