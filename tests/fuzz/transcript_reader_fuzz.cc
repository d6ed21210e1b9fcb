// libFuzzer harness: every transcript reader, through
// transcripts::ParseTranscript (the in-memory entry point behind
// ReadTranscriptFile). The first byte picks the reader and the options:
//
//   bits 0-2  0 auto (name "fuzz"), 1 jsonl, 2 vtt, 3 srt, 4 aws,
//             5 contact_lens, 6 harper_valley, 7 auto with a name from the
//             next byte's extension (.jsonl/.vtt/.srt/.json)
//   bit 3     Harper Valley text: asr instead of human
//   bit 4     a speaker map (--speakers "Alice=agent,Bob=customer,spk_1=customer,ch_0=agent")
//   bit 5     --call_id / --agent_id overrides
//
// The rest is the file's content. tests/fuzz/make_seeds.sh prefixes each
// fixture with the byte of its format.
//
// Invariants checked (abort on violation):
//   - a reader error is kInvalidArgument (never kNotFound, kInternal, ...),
//     with a message;
//   - single-call formats return exactly one call; every call has a call_id;
//   - every segment has a segment_id and an agent/customer speaker;
//   - segments of every format but jsonl have start/end and word times in
//     [0, kMaxCallTimeMs] (the readers check the range; jsonl leaves it to the
//     engine);
//   - auto-detection and the forced format of the detected kind agree.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/types.h"
#include "transcripts/reader.h"

namespace {

using coach::transcripts::Format;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "INVARIANT VIOLATED: %s\n", what.c_str());
  std::abort();
}

bool InCallTime(int64_t ms) { return ms >= 0 && ms <= coach::engine::kMaxCallTimeMs; }

void Check(const absl::StatusOr<std::vector<coach::transcripts::RecordedCall>>& calls,
           Format format) {
  const std::string name(coach::transcripts::FormatName(format));
  if (!calls.ok()) {
    if (calls.status().code() != absl::StatusCode::kInvalidArgument) {
      Fail(name + ": reader error is not kInvalidArgument: " + calls.status().ToString());
    }
    if (calls.status().message().empty()) Fail(name + ": reader error without a message");
    return;
  }
  if (format != Format::kJsonl && calls->size() != 1) {
    Fail(absl::StrCat(name, ": single-call format returned ", calls->size(), " calls"));
  }
  for (const auto& call : *calls) {
    if (call.call_id.empty()) Fail(name + ": call without a call_id");
    for (size_t i = 0; i < call.segments.size(); ++i) {
      const coach::engine::Segment& s = call.segments[i];
      const std::string where = absl::StrCat(name, ": call ", call.call_id, " segment ", i);
      if (s.segment_id.empty()) Fail(where + ": empty segment_id");
      const int speaker = static_cast<int>(s.speaker);
      if (speaker < 0 || speaker >= coach::engine::kSpeakerCount) Fail(where + ": bad speaker");
      if (format == Format::kJsonl) continue;
      if (!InCallTime(s.start_ms) || !InCallTime(s.end_ms)) {
        Fail(absl::StrCat(where, ": times ", s.start_ms, "..", s.end_ms, " outside call time"));
      }
      for (const auto& w : s.words) {
        if (!InCallTime(w.start_ms) || !InCallTime(w.end_ms)) {
          Fail(absl::StrCat(where, ": word times ", w.start_ms, "..", w.end_ms,
                            " outside call time"));
        }
      }
    }
  }
}

bool SameCalls(const std::vector<coach::transcripts::RecordedCall>& a,
               const std::vector<coach::transcripts::RecordedCall>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].call_id != b[i].call_id || a[i].segments.size() != b[i].segments.size()) return false;
    for (size_t j = 0; j < a[i].segments.size(); ++j) {
      const auto& x = a[i].segments[j];
      const auto& y = b[i].segments[j];
      if (x.segment_id != y.segment_id || x.text != y.text || x.start_ms != y.start_ms ||
          x.end_ms != y.end_ms || x.speaker != y.speaker || x.is_final != y.is_final) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t control = data[0];
  absl::string_view content(reinterpret_cast<const char*>(data + 1), size - 1);

  static constexpr Format kFormats[] = {Format::kAuto,        Format::kJsonl,
                                        Format::kWebVtt,      Format::kSrt,
                                        Format::kAwsTranscribe, Format::kContactLens,
                                        Format::kHarperValley, Format::kAuto};
  coach::transcripts::ReadOptions options;
  options.format = kFormats[control & 7];
  std::string file_name = "calls/fuzz";
  if ((control & 7) == 7 && !content.empty()) {
    static constexpr const char* kExtensions[] = {".jsonl", ".vtt", ".srt", ".json"};
    file_name += kExtensions[static_cast<uint8_t>(content[0]) % 4];
    content.remove_prefix(1);
  }
  if (control & 8) options.text = coach::transcripts::TextSource::kAsr;
  if (control & 16) {
    if (!coach::transcripts::ParseSpeakerMap("Alice=agent,Bob=customer,spk_1=customer,ch_0=agent",
                                             &options)
             .ok()) {
      Fail("ParseSpeakerMap refused a valid map");
    }
  }
  if (control & 32) {
    options.call_id = "override-call";
    options.agent_id = "override-agent";
  }

  auto calls = coach::transcripts::ParseTranscript(file_name, content, options);
  Format format = options.format;
  if (format == Format::kAuto) {
    auto detected = coach::transcripts::DetectFormat(file_name, content);
    if (!detected.ok()) {
      if (calls.ok()) Fail("ParseTranscript succeeded where DetectFormat fails");
      if (detected.status().code() != absl::StatusCode::kInvalidArgument) {
        Fail("DetectFormat error is not kInvalidArgument");
      }
      return 0;
    }
    format = *detected;
    if (format == Format::kAuto) Fail("DetectFormat returned kAuto");
    coach::transcripts::ReadOptions forced = options;
    forced.format = format;
    auto again = coach::transcripts::ParseTranscript(file_name, content, forced);
    if (calls.ok() != again.ok() || (calls.ok() && !SameCalls(*calls, *again))) {
      Fail("auto-detected and forced format disagree");
    }
  }
  Check(calls, format);
  return 0;
}
