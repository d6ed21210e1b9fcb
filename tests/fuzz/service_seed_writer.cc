// Writes service_fuzz seed inputs built from recorded calls (any format the
// transcript readers know): for each call, a StreamCall input (mode byte 0,
// then 2-byte little-endian length-prefixed serialized CallEvents: start, the
// segments, end), variants (interim revisions before each final, no end, a
// segment before start), and a ReviewCall input (mode byte 1, then a
// serialized ReviewCallRequest). Used by make_seeds.sh:
//
//   service_seed_writer OUT_DIR FILE...

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "coach/v1/coach.pb.h"
#include "server/convert.h"
#include "transcripts/reader.h"

namespace {

namespace v1 = coach::v1;

// service_fuzz's limits: 40 segments per call, 4096 bytes per segment.
constexpr size_t kMaxSegments = 36;
constexpr size_t kMaxText = 4096;

void Append(const v1::CallEvent& event, std::string* out) {
  const std::string bytes = event.SerializeAsString();
  if (bytes.size() > 0xFFFF) return;
  out->push_back(static_cast<char>(bytes.size() & 0xFF));
  out->push_back(static_cast<char>(bytes.size() >> 8));
  out->append(bytes);
}

void Write(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s OUT_DIR FILE...\n", argv[0]);
    return 2;
  }
  const std::string out_dir = argv[1];
  int written = 0;
  for (int a = 2; a < argc; ++a) {
    auto calls = coach::transcripts::ReadTranscriptFile(argv[a]);
    if (!calls.ok()) continue;  // fixtures of bad input: nothing to replay
    for (const auto& call : *calls) {
      v1::CallEvent start;
      start.mutable_start()->set_call_id(call.call_id.empty() ? "call" : call.call_id);
      start.mutable_start()->set_agent_id(call.agent_id.empty() ? "agent-1" : call.agent_id);
      std::vector<v1::CallEvent> segments;
      std::vector<v1::CallEvent> with_interims;
      for (const auto& segment : call.segments) {
        if (segments.size() >= kMaxSegments) break;
        if (segment.text.size() > kMaxText) continue;
        v1::CallEvent event;
        coach::server::ToProto(segment, event.mutable_segment());
        segments.push_back(event);
        if (with_interims.size() + 3 <= kMaxSegments) {
          const std::string& text = segment.text;
          for (size_t cut : {text.size() / 3, 2 * text.size() / 3}) {
            v1::CallEvent interim = event;
            interim.mutable_segment()->set_text(text.substr(0, cut));
            interim.mutable_segment()->set_is_final(false);
            with_interims.push_back(interim);
          }
          with_interims.push_back(event);
        }
      }
      v1::CallEvent end;
      end.mutable_end()->set_reason("done");
      const std::string stem = absl::StrCat(out_dir, "/", written++);

      std::string full(1, '\0');
      Append(start, &full);
      for (const auto& s : segments) Append(s, &full);
      std::string no_end = full;
      Append(end, &full);
      Write(stem + "_stream", full);
      Write(stem + "_stream_no_end", no_end);

      std::string interims(1, '\0');
      Append(start, &interims);
      for (const auto& s : with_interims) Append(s, &interims);
      Append(end, &interims);
      Write(stem + "_stream_interims", interims);

      if (!segments.empty()) {
        std::string early(1, '\0');
        Append(segments[0], &early);
        Append(start, &early);
        Write(stem + "_segment_before_start", early);
      }

      v1::ReviewCallRequest review;
      *review.mutable_start() = start.start();
      for (const auto& s : segments) *review.add_segments() = s.segment();
      Write(stem + "_review", std::string(1, '\1') + review.SerializeAsString());
    }
  }
  std::printf("service_seed_writer: %d calls\n", written);
  return 0;
}
