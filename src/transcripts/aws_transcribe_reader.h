// File: transcripts/aws_transcribe_reader.h
//
// Reads one call from an AWS Transcribe batch job's output JSON:
//
//   {"jobName": "...", "results": {
//      "transcripts": [{"transcript": "..."}],
//      "items": [{"type": "pronunciation", "start_time": "0.44", "end_time": "0.84",
//                 "alternatives": [{"content": "Hello", "confidence": "0.99"}],
//                 "speaker_label": "spk_0"},
//                {"type": "punctuation", "alternatives": [{"content": ","}]}, ...],
//      "speaker_labels": {"speakers": 2, "segments": [{"speaker_label": "spk_0",
//                 "start_time": "0.44", "end_time": "3.1", "items": [...]}]},
//      "channel_labels": {"number_of_channels": 2, "channels": [{"channel_label": "ch_0",
//                 "items": [...]}]}}}
//
// - Each pronunciation item is a word; its speaker is its own speaker_label
//   or channel_label, else the speaker_labels segment (or channel) listing an
//   item with the same start_time, else the speaker_labels segment whose time
//   range holds it. Output with channel identification but no
//   results.items lists each channel's items: they are merged by time.
// - Punctuation attaches to the word before it (a leading one is dropped).
// - Consecutive words of the same role form one segment (a speaker turn):
//   text joined by spaces, start/end from the first/last word, one word
//   timing per word. Segment ids are the turns' 1-based ordinals.
// - Labels map to roles through ReadOptions::speakers (--speakers, e.g.
//   "spk_0=customer,spk_1=agent"), else by default spk_0 and ch_0 -> agent,
//   spk_1 and ch_1 -> customer. Any other label must be mapped.
// - Times are seconds as strings (numbers are accepted), rounded to ms.
// - call_id is ReadOptions::call_id, else the file's stem.
//
// Errors are kInvalidArgument naming the file and the JSON path
// ("f.json: $.results.items[3].start_time: ..."). Stateless and thread-safe.

#ifndef COACHD_TRANSCRIPTS_AWS_TRANSCRIBE_READER_H_
#define COACHD_TRANSCRIPTS_AWS_TRANSCRIBE_READER_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "transcripts/reader.h"

namespace coach::transcripts {

absl::StatusOr<RecordedCall> ParseAwsTranscribe(absl::string_view file_name,
                                                absl::string_view content,
                                                const ReadOptions& options = {});

}  // namespace coach::transcripts

#endif  // COACHD_TRANSCRIPTS_AWS_TRANSCRIBE_READER_H_
