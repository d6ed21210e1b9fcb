// File: engine/rule_set.h
//
// A RuleSet is the compiled, validated, immutable form of every loaded coaching
// rule and expectation. Build one with RuleSet::Compile() from plain specs (the
// phrase_lists layer turns .textproto files into specs); then share it, through
// std::shared_ptr<const RuleSet>, across any number of calls and threads. It is
// never modified after Compile(), so concurrent use needs no locking; a reload
// compiles a new RuleSet and swaps the pointer.
//
// Compile() checks everything before returning a RuleSet: ids, categories,
// kinds, phrase syntax, raw RE2 patterns, program-size limits, expectation
// references, and every rule's examples (must match) and counter-examples (must
// not match). Each problem becomes a Diagnostic that names the file:line:column
// and rule, and the returned status lists them all.
//
// Matching uses one RE2::Set per speaker (agent rules + "any" rules, customer
// rules + "any" rules) to find candidate rules in one pass, then each
// candidate's own RE2 to find spans and check `unless` exceptions.

#ifndef COACHD_ENGINE_RULE_SET_H_
#define COACHD_ENGINE_RULE_SET_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/types.h"
#include "re2/re2.h"
#include "re2/set.h"

namespace coach::engine {

struct SourceLocation {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
  // "file:line:col", "file:line" or "file", as much as is known.
  std::string ToString() const;
};

// A string from a phrase list together with where it was written.
struct LocatedText {
  std::string text;
  SourceLocation location;
};

struct RuleSpec {
  std::string id;
  SourceLocation location;
  std::string category;
  RuleKind kind = RuleKind::kCorrective;
  SpeakerScope speaker = SpeakerScope::kAgent;
  Severity severity = Severity::kMedium;
  std::vector<LocatedText> phrases;
  std::vector<LocatedText> patterns;
  std::vector<LocatedText> unless_phrases;
  std::vector<LocatedText> unless_patterns;
  std::string title;
  std::string message;
  std::string suggestion;
  int64_t cooldown_ms = 0;
  int max_per_call = 0;  // 0 = no limit
  std::vector<LocatedText> examples;
  std::vector<LocatedText> counter_examples;
};

struct ExpectationSpec {
  std::string id;
  SourceLocation location;
  std::string category;
  std::vector<std::string> when;    // empty: an end-of-call expectation
  std::vector<std::string> expect;  // categories the agent should say
  int64_t within_ms = 0;            // 0 = no time limit
  int within_agent_turns = 0;       // 0 = no turn limit
  int at_least = 1;                 // end-of-call expectations only
  Severity severity = Severity::kMedium;
  std::string title;
  std::string message;
  std::string suggestion;
};

struct RuleSetSpec {
  std::vector<RuleSpec> rules;
  std::vector<ExpectationSpec> expectations;
  // Files the specs came from, for GetRuleSet-style introspection.
  std::vector<std::string> source_files;
};

struct Diagnostic {
  enum class Level { kError, kWarning };
  Level level = Level::kError;
  SourceLocation location;
  std::string rule_id;  // rule or expectation id; may be empty
  std::string message;
  // "file:line:col: rule <id>: message".
  std::string ToString() const;
};

// Longest rule or expectation id and category, and longest title, message,
// suggestion, phrase or pattern, in bytes. Every event carries the texts to
// desktops, metrics label them by category, and RE2 would spend gigabytes on
// a runaway phrase before refusing it, so a longer value is an error at load.
inline constexpr size_t kMaxIdBytes = 128;
inline constexpr size_t kMaxTextBytes = 4096;

struct CompileOptions {
  // Largest RE2 program (RE2::ProgramSize) one rule's combined phrases and
  // patterns may compile to. Keeps one rule from bloating the shared Sets.
  int max_rule_program_size = 20000;
  // Memory budget (program and DFA cache) of each per-speaker RE2::Set. When a
  // match exceeds it, the session falls back to per-rule matching and counts
  // the fallback. 0, the default, sizes each Set's budget from its program:
  // 64 bytes per RE2 instruction for the program plus a DFA cache of 64 MiB or
  // 256 bytes per instruction, whichever is larger (about 72 MiB for the
  // bundled packs, 0.6 GiB for 5,000 rules). A fixed budget too small for the
  // program is a compile error.
  int64_t set_max_mem = 0;
  // Memory budget of each rule's own RE2.
  int64_t rule_max_mem = int64_t{1} << 20;
  // Most DFA work (engine/dfa_cost.h: positions summed over the DFA states an
  // unanchored search can reach) one raw pattern of `patterns` may need, and
  // all raw patterns of one per-speaker Set together. RE2 never abandons a
  // Set's DFA, so a pattern such as "(a|b)*a(a|b){20}" (2^21 states) would
  // otherwise make one segment cost seconds. `unless_patterns` are matched by
  // the rule's own RE2, which falls back to its linear-time NFA, and are not
  // limited. At the defaults, 300 rules of "(a|b)*a(a|b){8}x<i>" (2,819 each)
  // fit, and their worst 16 KiB segment takes about 40 ms once.
  int64_t max_pattern_dfa_work = 100000;
  int64_t max_set_pattern_dfa_work = 1000000;
  // Run every rule's examples and counter-examples.
  bool check_examples = true;
  // Run the phrase checks that only ever warn (a spelling the phrase can never
  // match, a phrase its own `unless` always cancels). They are about half of
  // the compile time at thousands of rules and warm every rule's DFA cache
  // (tens of MiB kept by the rule set), so callers that drop warnings, such
  // as coachd's reloads, turn them off; `coachctl lint` and `coachd --check`
  // keep them.
  bool check_phrase_warnings = true;
  // Threads compiling rules, checking phrases and examples, and compiling the
  // Sets; 0 uses the hardware concurrency, at most 8. The result, diagnostics
  // included, is the same for any count.
  int compile_threads = 0;
};

// One compiled rule. Members are read-only after RuleSet::Compile().
struct CompiledRule {
  RuleSpec spec;
  // Phrases and unanchored patterns, matched over the speaker's window (the
  // carried tail plus the current segment). Null when there are none.
  std::unique_ptr<RE2> regex;
  // Patterns using ^, $, \A or \z: they anchor to one utterance, so they run
  // on the current segment alone, never on the carried-over window (where ^
  // would mean the start of the previous segment's tail). Null when none.
  std::unique_ptr<RE2> anchored;
  std::unique_ptr<RE2> unless;  // null when the rule has no exceptions
  // Expectations this rule's category opens, and those it satisfies when the
  // agent says it.
  std::vector<int> opens_expectations;
  std::vector<int> satisfies_expectations;
};

// Which of a rule's regexes to run: the phrases and unanchored patterns over
// the window, or the anchored patterns over the current segment.
enum class RulePart { kWindow, kSegment };

// A match of one rule in normalized text: [begin, end) without the boundary
// spaces.
struct MatchSpan {
  uint32_t begin = 0;
  uint32_t end = 0;
};

// Turns the outcome of RE2::Set::Match into the Set entries to check one by
// one. A DFA out-of-memory result is never read as "no match": every entry
// becomes a candidate and *fell_back is set. kInternal for the Set errors that
// mean a bug (not compiled, inconsistent).
absl::Status CandidatesFromSetMatch(bool matched, const RE2::Set::ErrorInfo& error,
                                    size_t set_size, std::vector<int>* hits, bool* fell_back);

class RuleSet {
 public:
  // Validates and compiles. On failure returns kInvalidArgument listing every
  // error (one "file:line:col: rule <id>: message" per line); when
  // `diagnostics` is given it also receives each error and warning.
  static absl::StatusOr<std::shared_ptr<const RuleSet>> Compile(
      RuleSetSpec spec, const CompileOptions& options = {},
      std::vector<Diagnostic>* diagnostics = nullptr);

  RuleSet(const RuleSet&) = delete;
  RuleSet& operator=(const RuleSet&) = delete;

  // Content hash of the specs, e.g. "rs-3f2a9c0d11e4b7a8": equal specs give
  // equal versions in every process.
  const std::string& version() const { return version_; }
  const std::vector<CompiledRule>& rules() const { return rules_; }
  const std::vector<ExpectationSpec>& expectations() const { return expectations_; }
  const std::vector<std::string>& source_files() const { return source_files_; }
  // category -> number of rules.
  std::map<std::string, int> RuleCountsByCategory() const;
  // Index of the rule with this id, or -1.
  int FindRule(absl::string_view id) const;

  // The Set of the `part` regexes of the rules that listen to `speaker`, and
  // the rule index of each Set entry. The kSegment Set is null when no such
  // rule has anchored patterns.
  const RE2::Set* set_for(Speaker speaker, RulePart part = RulePart::kWindow) const {
    return sets_[static_cast<int>(part)][static_cast<int>(speaker)].get();
  }
  const std::vector<int>& set_rules(Speaker speaker, RulePart part = RulePart::kWindow) const {
    return set_rules_[static_cast<int>(part)][static_cast<int>(speaker)];
  }
  // The memory budget that Set was compiled with (see CompileOptions); 0 when
  // there is no such Set.
  int64_t set_max_mem(Speaker speaker, RulePart part = RulePart::kWindow) const {
    return set_max_mem_[static_cast<int>(part)][static_cast<int>(speaker)];
  }

  // Appends to `out` every occurrence of the `part` regex of rule
  // `rule_index` in `normalized` (a NormalizedText::text) that ends after byte
  // `min_end` and is not cancelled by an overlapping `unless` match in the same
  // text. Linear in the text and the number of matches: the `unless` matches
  // are found once, not once per occurrence.
  void FindOccurrences(int rule_index, absl::string_view normalized, uint32_t min_end,
                       std::vector<MatchSpan>* out, RulePart part = RulePart::kWindow) const;

  // Every occurrence of the rule in one complete utterance, both parts, in
  // order; an anchored match overlapping a phrase match of the rule is the
  // same occurrence. How examples are checked.
  void FindInUtterance(int rule_index, absl::string_view normalized,
                       std::vector<MatchSpan>* out) const;

  // True when a raw pattern uses a text anchor (^, $, \A, \z) outside a
  // character class.
  static bool UsesTextAnchor(absl::string_view pattern);

 private:
  RuleSet() = default;

  std::string version_;
  std::vector<CompiledRule> rules_;
  std::vector<ExpectationSpec> expectations_;
  std::vector<std::string> source_files_;
  std::unique_ptr<RE2::Set> sets_[2][kSpeakerCount];    // [RulePart][Speaker]
  std::vector<int> set_rules_[2][kSpeakerCount];
  int64_t set_max_mem_[2][kSpeakerCount] = {};
};

}  // namespace coach::engine

#endif  // COACHD_ENGINE_RULE_SET_H_
