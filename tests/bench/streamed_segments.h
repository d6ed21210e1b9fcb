// File: tests/bench/streamed_segments.h
//
// Benchmark input shared by the engine benchmarks: final segments turned into
// what an STT engine streams. Header-only; tests only.

#ifndef COACHD_TESTS_BENCH_STREAMED_SEGMENTS_H_
#define COACHD_TESTS_BENCH_STREAMED_SEGMENTS_H_

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "engine/types.h"

namespace coach::bench {

// Each segment as an STT engine streams it: growing word prefixes as interim
// hypotheses, then the final text.
inline std::vector<engine::Segment> AsStreamed(const std::vector<engine::Segment>& finals) {
  std::vector<engine::Segment> out;
  for (const engine::Segment& final_segment : finals) {
    std::vector<std::string> words = absl::StrSplit(final_segment.text, ' ', absl::SkipEmpty());
    std::string prefix;
    for (size_t i = 0; i + 1 < words.size(); ++i) {
      prefix += (i ? " " : "") + words[i];
      engine::Segment interim = final_segment;
      interim.text = prefix;
      interim.is_final = false;
      interim.words.clear();
      out.push_back(std::move(interim));
    }
    out.push_back(final_segment);
  }
  return out;
}

}  // namespace coach::bench

#endif  // COACHD_TESTS_BENCH_STREAMED_SEGMENTS_H_
