// File: transcripts/reader.h
//
// One entry point for every recorded-call format coachctl reads. The format is
// detected from the file's extension and content unless forced, and the file
// is handed to the format's reader:
//
//   jsonl          coachd's canonical JSON Lines (jsonl_reader.h); many calls.
//   vtt            WebVTT with <v Name> voice tags (webvtt_reader.h).
//   srt            SubRip with a "Name:" prefix on each cue (srt_reader.h).
//   aws            AWS Transcribe batch JSON, speaker or channel labels
//                  (aws_transcribe_reader.h).
//   contact_lens   Amazon Contact Lens analysis output (contact_lens_reader.h).
//   harper_valley  Gridspace-Stanford Harper Valley transcript JSON
//                  (harper_valley_reader.h).
//
// Every error is kInvalidArgument (kNotFound when a file cannot be opened) and
// names the file and the line (text formats) or JSON path (JSON formats).
// No reader throws or crashes on any input. Stateless and thread-safe.

#ifndef COACHD_TRANSCRIPTS_READER_H_
#define COACHD_TRANSCRIPTS_READER_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/types.h"
#include "transcripts/jsonl_reader.h"

namespace coach::transcripts {

enum class Format { kAuto, kJsonl, kWebVtt, kSrt, kAwsTranscribe, kContactLens, kHarperValley };

// "auto", "jsonl", "vtt", "srt", "aws", "contact_lens", "harper_valley"
// (also accepted: "webvtt", "aws_transcribe", "contactlens", "harpervalley",
// "ndjson"; case-insensitive).
// kInvalidArgument naming --format and listing the choices otherwise.
absl::StatusOr<Format> ParseFormat(absl::string_view name);
// The canonical name ParseFormat accepts.
absl::string_view FormatName(Format format);

// Harper Valley carries both: `human_transcript` (kHuman) or `transcript` (kAsr).
enum class TextSource { kHuman, kAsr };
// "human" or "asr"; kInvalidArgument naming --text otherwise.
absl::StatusOr<TextSource> ParseTextSource(absl::string_view name);

struct ReadOptions {
  Format format = Format::kAuto;
  // Speaker name/label -> role for VTT voice tags, SRT "Name:" prefixes, AWS
  // speaker labels (spk_0) or channels (ch_0), Contact Lens ParticipantId or
  // ParticipantRole. Names match case-insensitively and after trimming
  // whitespace. Entries override a file's own mapping (VTT NOTE) and the
  // defaults. Not used by jsonl and Harper Valley (their roles are explicit).
  std::map<std::string, engine::Speaker, std::less<>> speakers;
  TextSource text = TextSource::kHuman;
  // Override for single-call formats (all but jsonl); default: the file's
  // stem (Contact Lens: CustomerMetadata.ContactId if present).
  std::string call_id;
  // Fills every call whose file names no agent (all formats).
  std::string agent_id;
};

// Detects the format (extension + content sniffing) unless forced, reads the
// file, returns its calls. kNotFound if the file cannot be opened.
absl::StatusOr<std::vector<RecordedCall>> ReadTranscriptFile(const std::string& path,
                                                             const ReadOptions& options = {});
absl::StatusOr<std::vector<RecordedCall>> ParseTranscript(absl::string_view file_name,
                                                          absl::string_view content,
                                                          const ReadOptions& options);

// The format of `content` named `file_name`: by extension (.jsonl/.ndjson,
// .vtt, .srt), else by content: "WEBVTT" -> vtt; '[' -> harper_valley; a
// first line that is a whole JSON object -> aws if it has "results",
// contact_lens if it has "Transcript", else jsonl; a multi-line JSON document
// (even a truncated one) -> contact_lens if it has the keys "Transcript" and
// "Participants"/"ParticipantId"/"BeginOffsetMillis", aws if it has "results"
// and "items"/"transcripts"; a cue number then "-->" line -> srt.
// kInvalidArgument naming the file and --format when nothing fits.
absl::StatusOr<Format> DetectFormat(absl::string_view file_name, absl::string_view content);

// Parses "Alice=agent,Bob=customer" (flag --speakers) into
// ReadOptions::speakers (roles: agent, customer; "caller" = customer;
// case-insensitive). Entries are added to (and override) existing ones.
// kInvalidArgument naming --speakers otherwise.
absl::Status ParseSpeakerMap(absl::string_view spec, ReadOptions* options);

}  // namespace coach::transcripts

#endif  // COACHD_TRANSCRIPTS_READER_H_
