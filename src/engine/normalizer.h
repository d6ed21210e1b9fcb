// File: engine/normalizer.h
//
// The one normalizer shared by the phrase compiler and incoming transcript text,
// so that a phrase and the speech it should match are always reduced the same
// way:
//   - lower case (ASCII and Latin-1 letters), Unicode apostrophes become "'",
//     other punctuation and symbols become word breaks;
//   - contractions expand ("can't" = "cannot" = "can not", "I'm" = "i am"),
//     including the apostrophe-less spellings STT engines emit ("dont");
//   - number words become digits ("three" -> "3");
//   - pure fillers (um, uh, er, erm, ah, hmm, mm) are dropped.
//
// The result is a string of the form " w1 w2 ... wn " (a space before and after
// every word; " " for no words) plus, per word, its byte range in the result and
// in the source, so a match can be mapped back to what was said.
//
// Normalize() is a pure function and safe to call from any thread; a
// NormalizedText is reused across calls to avoid allocation.

#ifndef COACHD_ENGINE_NORMALIZER_H_
#define COACHD_ENGINE_NORMALIZER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace coach::engine {

struct NormalizedToken {
  // Byte range of the word in NormalizedText::text (without spaces).
  uint32_t norm_begin = 0;
  uint32_t norm_end = 0;
  // Byte range in the source of the word it came from; the words of one
  // expanded contraction share the range of the contraction.
  uint32_t source_begin = 0;
  uint32_t source_end = 0;
};

struct NormalizedText {
  std::string text = " ";
  std::vector<NormalizedToken> tokens;
};

// Replaces `out` with the normalized form of `source`.
void Normalize(absl::string_view source, NormalizedText* out);

// Convenience for tests and tools: the normalized text without the outer spaces.
std::string NormalizeToString(absl::string_view source);

// Words that the matcher lets appear between any two words of a phrase. They are
// kept in the text because they also carry meaning ("I would like to").
inline constexpr absl::string_view kSkippableWords[] = {"like", "you know"};

}  // namespace coach::engine

#endif  // COACHD_ENGINE_NORMALIZER_H_
