// File: engine/phrase_compiler.h
//
// Compiles one phrase of the coaching phrase syntax (phrase_lists/README.md) to
// an RE2 regular expression over normalized text (see normalizer.h):
//
//   words        whole words, normalized like speech ("can't" = "can not")
//   [x]          x is optional
//   (a|b c)      one of the alternatives
//   *            exactly one word
//   ...          up to three words
//
// The regex matches " w1 w2 ... wn " including the space before the first and
// after the last word, so matches fall on word boundaries; callers trim those
// two spaces to get the span. Between any two words it also lets the skippable
// words ("like", "you know") appear, so fillers don't break a match.
//
// The result is meant for RE2 only: the syntax has no construct that needs
// backtracking. Thread-safe; no state.

#ifndef COACHD_ENGINE_PHRASE_COMPILER_H_
#define COACHD_ENGINE_PHRASE_COMPILER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace coach::engine {

struct CompiledPhrase {
  std::string regex;
  // Fewest words any match can span (fillers not counted).
  int min_words = 0;
};

// Returns kInvalidArgument for a syntax error; the message names the 1-based
// column within the phrase, e.g. "column 7: '(' is never closed".
absl::StatusOr<CompiledPhrase> CompilePhrase(absl::string_view phrase);

}  // namespace coach::engine

#endif  // COACHD_ENGINE_PHRASE_COMPILER_H_
