// libFuzzer harness: engine::CompilePhrase (engine/phrase_compiler.h) on
// arbitrary phrase text, and engine::EstimateDfaCost (engine/dfa_cost.h) on
// the same bytes read as a raw RE2 pattern.
//
// Invariants checked (trap on violation):
//   - a syntax error is an absl::Status, kInvalidArgument, and a "column N:"
//     message names a column inside the phrase (1 .. size + 1);
//   - a compiled phrase has min_words >= 1 and a regex that starts with " ";
//   - the regex compiles in RE2 (unless RE2's own memory limit refuses it);
//   - compiling is deterministic;
//   - the phrase matches one of its own spellings: every group takes its first
//     alternative, every optional part is said, '*' is one word and '...' none.
//     That spelling, normalized like speech, must contain a match.
//   - for a pattern RE2 accepts, the DFA estimate terminates, is
//     deterministic, reports over_limit exactly when work passes the limit,
//     and counts at least one unit of work per state.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/string_view.h"
#include "engine/dfa_cost.h"
#include "engine/normalizer.h"
#include "engine/phrase_compiler.h"
#include "re2/re2.h"

namespace {

void Fail(const char* what, absl::string_view phrase, absl::string_view detail) {
  std::fprintf(stderr, "INVARIANT VIOLATED: %s\nphrase: '%.*s'\ndetail: %.*s\n", what,
               static_cast<int>(phrase.size()), phrase.data(), static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

bool IsSpecial(char c) {
  return c == '[' || c == ']' || c == '(' || c == ')' || c == '|' || c == '*';
}

// One spelling of a phrase that compiled: the first alternative of every
// group, optional parts included, a space around every group, '*' -> "w",
// '...' -> nothing. Mirrors the tokenization of the phrase syntax only (not
// its validation: the phrase is known to be valid).
class Speller {
 public:
  explicit Speller(absl::string_view phrase) : p_(phrase) {}
  std::string Spell() {
    std::string out;
    Sequence(&out, /*emit=*/true);
    return out;
  }

 private:
  bool AtEllipsis() const { return p_.substr(pos_, 3) == "..."; }

  void Sequence(std::string* out, bool emit) {
    while (pos_ < p_.size()) {
      const char c = p_[pos_];
      if (c == ']' || c == ')' || c == '|') return;
      if (c == '[' || c == '(') {
        ++pos_;
        bool first = true;
        while (pos_ < p_.size()) {
          Sequence(out, emit && first);
          first = false;
          if (pos_ < p_.size() && p_[pos_] == '|') {
            ++pos_;
            continue;
          }
          if (pos_ < p_.size()) ++pos_;  // the closing bracket
          break;
        }
        if (emit) out->append(" ");
        continue;
      }
      if (c == '*') {
        ++pos_;
        if (emit) out->append(" w ");
        continue;
      }
      if (AtEllipsis()) {
        pos_ += 3;
        if (emit) out->append(" ");
        continue;
      }
      const size_t begin = pos_;
      while (pos_ < p_.size() && !IsSpecial(p_[pos_]) && !AtEllipsis()) ++pos_;
      if (emit) {
        out->append(" ");
        out->append(p_.data() + begin, pos_ - begin);
        out->append(" ");
      }
    }
  }

  absl::string_view p_;
  size_t pos_ = 0;
};

void CheckDfaCost(absl::string_view pattern) {
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(int64_t{1} << 20);  // as RuleSet compiles a raw pattern
  RE2 re(re2::StringPiece(pattern.data(), pattern.size()), options);
  if (!re.ok()) return;
  constexpr int64_t kLimit = 20000;
  const coach::engine::DfaCost cost = coach::engine::EstimateDfaCost(pattern, kLimit);
  const coach::engine::DfaCost again = coach::engine::EstimateDfaCost(pattern, kLimit);
  if (cost.states != again.states || cost.work != again.work ||
      cost.over_limit != again.over_limit || cost.too_deep != again.too_deep) {
    Fail("EstimateDfaCost is not deterministic", pattern, "");
  }
  if (cost.too_deep) return;
  if (cost.over_limit != (cost.work > kLimit)) {
    Fail("over_limit disagrees with work", pattern, std::to_string(cost.work));
  }
  if (cost.work < cost.states) Fail("less work than states", pattern, std::to_string(cost.work));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view phrase(reinterpret_cast<const char*>(data), size);
  CheckDfaCost(phrase);
  absl::StatusOr<coach::engine::CompiledPhrase> compiled = coach::engine::CompilePhrase(phrase);

  // Deterministic.
  absl::StatusOr<coach::engine::CompiledPhrase> again = coach::engine::CompilePhrase(phrase);
  if (compiled.ok() != again.ok() ||
      (compiled.ok() && (compiled->regex != again->regex ||
                         compiled->min_words != again->min_words)) ||
      (!compiled.ok() && compiled.status() != again.status())) {
    Fail("CompilePhrase is not deterministic", phrase, "");
  }

  if (!compiled.ok()) {
    const absl::Status& status = compiled.status();
    if (status.code() != absl::StatusCode::kInvalidArgument) {
      Fail("error is not kInvalidArgument", phrase, status.ToString());
    }
    absl::string_view message = status.message();
    if (message.empty()) Fail("error without a message", phrase, "");
    if (absl::ConsumePrefix(&message, "column ")) {
      const size_t colon = message.find(':');
      int column = 0;
      if (colon == absl::string_view::npos ||
          !absl::SimpleAtoi(message.substr(0, colon), &column) || column < 1 ||
          static_cast<size_t>(column) > size + 1) {
        Fail("error names a column outside the phrase", phrase, status.message());
      }
    }
    return 0;
  }

  if (compiled->min_words < 1) Fail("compiled phrase with min_words < 1", phrase, compiled->regex);
  if (!absl::StartsWith(compiled->regex, " ")) {
    Fail("regex does not start with the boundary space", phrase, compiled->regex);
  }
  RE2::Options options;
  options.set_log_errors(false);
  RE2 re(compiled->regex, options);
  if (!re.ok()) {
    if (re.error_code() == RE2::ErrorPatternTooLarge) return 0;  // RuleSet reports it
    Fail("compiled regex does not compile in RE2", phrase,
         compiled->regex + "\nRE2: " + re.error());
  }

  // The phrase matches one of its own spellings.
  const std::string spelling = Speller(phrase).Spell();
  coach::engine::NormalizedText normalized;
  coach::engine::Normalize(spelling, &normalized);
  if (static_cast<int>(normalized.tokens.size()) < compiled->min_words) {
    Fail("spelling has fewer words than min_words", phrase, spelling);
  }
  if (!RE2::PartialMatch(normalized.text, re)) {
    Fail("phrase does not match its own spelling", phrase,
         "spelling: '" + spelling + "'\nnormalized: '" + normalized.text + "'\nregex: " +
             compiled->regex);
  }
  return 0;
}
