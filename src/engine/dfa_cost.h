// File: engine/dfa_cost.h
//
// Estimates how much work RE2's lazy DFA can be made to do by one raw RE2
// pattern, so that a phrase list cannot stall a call.
//
// Why: an RE2::Set never abandons its DFA (RE2 can fall back to the NFA for
// one regex, not for a Set). A pattern such as "(a|b)*a(a|b){20}" needs 2^21
// DFA states; in a Set, text that keeps reaching new states makes RE2 build a
// state at every byte, and the per-byte cost grows with the number of rules.
// 300 such rules took seconds on one 16 KiB segment. Phrases compile to
// regexes without this shape; only raw `patterns` can have it.
//
// How: the pattern is read (RE2 syntax, already accepted by RE2) into its
// position automaton over bytes, and the DFA of an unanchored search is
// explored breadth-first. The cost is the sum over the states reached of the
// number of positions in each state, which is what RE2 spends to build them.
// Exploration stops once the cost passes the caller's limit, so estimating is
// itself bounded (about limit x byte classes steps).
//
// The reading is deliberately simple where exactness does not change the
// shape of the DFA: zero-width assertions (\b, ^, $) are treated as empty, a
// non-ASCII character or class is one position over the bytes 0x80-0xFF,
// and Unicode classes are approximated by ASCII letters or digits plus those
// bytes. Repetitions are expanded the way RE2 expands them.
//
// Thread-safe; no state.

#ifndef COACHD_ENGINE_DFA_COST_H_
#define COACHD_ENGINE_DFA_COST_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace coach::engine {

struct DfaCost {
  // Distinct DFA states reached, and the sum of their sizes (positions).
  int64_t states = 0;
  int64_t work = 0;
  // True when exploration stopped at the limit: the real cost is higher.
  // Also set, with work raised past the limit, when the position automaton
  // or the exploration itself outgrows its own budget. Then `work` and
  // `states` are lower bounds.
  bool over_limit = false;
  // True when groups nest deeper than kMaxPatternNesting; nothing is
  // estimated (the reader is recursive and must not exhaust the stack).
  bool too_deep = false;
};

inline constexpr int kMaxPatternNesting = 32;

// `limit` bounds `work`; the result has over_limit set when it was passed.
// Building the automaton and exploring it are bounded too, in proportion to
// `limit` and the pattern's length.
DfaCost EstimateDfaCost(absl::string_view pattern, int64_t limit);

}  // namespace coach::engine

#endif  // COACHD_ENGINE_DFA_COST_H_
