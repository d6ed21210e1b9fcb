#include "engine/rule_set.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "engine/dfa_cost.h"
#include "engine/normalizer.h"
#include "engine/phrase_compiler.h"

namespace coach::engine {
namespace {

bool IsIdentifier(absl::string_view text, absl::string_view extra) {
  if (text.empty()) return false;
  for (char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || extra.find(c) != absl::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

// Stable 64-bit FNV-1a, so a rule set's version is the same in every process
// and build (absl::Hash is deliberately not stable).
class Fingerprint {
 public:
  void Add(absl::string_view text) {
    AddNumber(text.size());
    for (char c : text) Mix(static_cast<unsigned char>(c));
  }
  void AddNumber(uint64_t value) {
    for (int i = 0; i < 8; ++i) Mix(static_cast<unsigned char>(value >> (8 * i)));
  }
  void AddTexts(const std::vector<LocatedText>& texts) {
    AddNumber(texts.size());
    for (const LocatedText& t : texts) Add(t.text);
  }
  void AddStrings(const std::vector<std::string>& texts) {
    AddNumber(texts.size());
    for (const std::string& t : texts) Add(t);
  }
  uint64_t value() const { return hash_; }

 private:
  void Mix(unsigned char byte) {
    hash_ ^= byte;
    hash_ *= 1099511628211ULL;
  }
  uint64_t hash_ = 14695981039346656037ULL;
};

std::string VersionOf(const RuleSetSpec& spec) {
  Fingerprint fp;
  fp.AddNumber(spec.rules.size());
  for (const RuleSpec& r : spec.rules) {
    fp.Add(r.id);
    fp.Add(r.category);
    fp.AddNumber(static_cast<uint64_t>(r.kind));
    fp.AddNumber(static_cast<uint64_t>(r.speaker));
    fp.AddNumber(static_cast<uint64_t>(r.severity));
    fp.AddTexts(r.phrases);
    fp.AddTexts(r.patterns);
    fp.AddTexts(r.unless_phrases);
    fp.AddTexts(r.unless_patterns);
    fp.Add(r.title);
    fp.Add(r.message);
    fp.Add(r.suggestion);
    fp.AddNumber(static_cast<uint64_t>(r.cooldown_ms));
    fp.AddNumber(static_cast<uint64_t>(r.max_per_call));
  }
  fp.AddNumber(spec.expectations.size());
  for (const ExpectationSpec& e : spec.expectations) {
    fp.Add(e.id);
    fp.Add(e.category);
    fp.AddStrings(e.when);
    fp.AddStrings(e.expect);
    fp.AddNumber(static_cast<uint64_t>(e.within_ms));
    fp.AddNumber(static_cast<uint64_t>(e.within_agent_turns));
    fp.AddNumber(static_cast<uint64_t>(e.at_least));
    fp.AddNumber(static_cast<uint64_t>(e.severity));
    fp.Add(e.title);
    fp.Add(e.message);
    fp.Add(e.suggestion);
  }
  return absl::StrFormat("rs-%016x", fp.value());
}

RE2::Options RegexOptions(int64_t max_mem) {
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(max_mem);
  return options;
}

// `text` cut to at most `max` bytes on a UTF-8 character boundary, with how
// long it was: a diagnostic must stay readable (and fit in a gRPC status)
// whatever a phrase list holds.
std::string Shortened(absl::string_view text, size_t max) {
  if (text.size() <= max) return std::string(text);
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return absl::StrCat(text.substr(0, cut), "... (", text.size(), " bytes)");
}

std::string Quoted(absl::string_view text) { return absl::StrCat("\"", Shortened(text, 80), "\""); }

class DiagnosticSink {
 public:
  void Error(const SourceLocation& location, absl::string_view id, std::string message) {
    Add(Diagnostic::Level::kError, location, id, std::move(message));
  }
  void Warning(const SourceLocation& location, absl::string_view id, std::string message) {
    Add(Diagnostic::Level::kWarning, location, id, std::move(message));
  }
  int errors() const { return errors_; }
  const std::vector<Diagnostic>& all() const { return all_; }
  // Appends everything `other` received, in order.
  void Append(DiagnosticSink&& other) {
    errors_ += other.errors_;
    for (Diagnostic& d : other.all_) all_.push_back(std::move(d));
    other.all_.clear();
    other.errors_ = 0;
  }

 private:
  void Add(Diagnostic::Level level, const SourceLocation& location, absl::string_view id,
           std::string message) {
    Diagnostic d;
    d.level = level;
    d.location = location;
    d.rule_id = std::string(id);
    d.message = std::move(message);
    if (level == Diagnostic::Level::kError) ++errors_;
    all_.push_back(std::move(d));
  }
  int errors_ = 0;
  std::vector<Diagnostic> all_;
};

// Runs fn(0) ... fn(n - 1) on up to `threads` threads (the caller's included).
// Each call must touch only its own outputs; callers merge them in index order
// so the result does not depend on the thread count.
template <typename Fn>
void ParallelFor(int n, int threads, const Fn& fn) {
  threads = std::min(threads, n);
  if (threads <= 1) {
    for (int i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<int> next{0};
  auto worker = [&] {
    for (int i = next.fetch_add(1); i < n; i = next.fetch_add(1)) fn(i);
  };
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(threads - 1));
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& thread : pool) thread.join();
}

int CompileThreads(const CompileOptions& options) {
  if (options.compile_threads > 0) return options.compile_threads;
  const int hardware = static_cast<int>(std::thread::hardware_concurrency());
  return std::clamp(hardware, 1, 8);
}

// The memory budget of a Set whose members' programs add up to `instructions`
// RE2 instructions (an upper bound of the Set's program). RE2 compiles a
// program only within a quarter of the budget (16-byte instructions, so 64
// bytes of budget each), and a Set's DFA must then have room for at least 20
// states the size of the whole program (a few bytes per instruction each) or
// the Set is unusable. The DFA cache gets 64 MiB or 256 bytes per
// instruction, whichever is larger: a budget, grown into only as the traffic
// needs states.
int64_t SetMemoryBudget(int64_t instructions) {
  constexpr int64_t kProgramBytesPerInstruction = 64;
  constexpr int64_t kDfaBytesPerInstruction = 256;
  constexpr int64_t kMinDfaBytes = int64_t{64} << 20;
  return kProgramBytesPerInstruction * instructions +
         std::max(kMinDfaBytes, kDfaBytesPerInstruction * instructions);
}

// Whether a rule scoped to `scope` is matched against `speaker`'s Sets.
bool ListensTo(SpeakerScope scope, Speaker speaker) {
  return scope == SpeakerScope::kAny ||
         (scope == SpeakerScope::kAgent) == (speaker == Speaker::kAgent);
}

// What the raw patterns of a rule's Set part cost RE2's DFA (dfa_cost.h).
struct PatternDfaWork {
  int64_t work = 0;
  SourceLocation costliest;  // the pattern with the most work
  int64_t costliest_work = -1;
};

// Builds the alternation of a rule's phrases and raw patterns, reporting each
// bad piece at its own location. Returns "" when nothing valid was given.
// With `dfa_work` set, each raw pattern's DFA work is limited to
// `max_dfa_work` and summed there.
std::string CombinePieces(const std::vector<LocatedText>& phrases,
                          const std::vector<LocatedText>& patterns, absl::string_view rule_id,
                          absl::string_view what, int64_t max_mem, DiagnosticSink* sink,
                          int64_t max_dfa_work = 0, PatternDfaWork* dfa_work = nullptr) {
  std::vector<std::string> pieces;
  for (const LocatedText& phrase : phrases) {
    absl::StatusOr<CompiledPhrase> compiled = CompilePhrase(phrase.text);
    if (!compiled.ok()) {
      sink->Error(phrase.location, rule_id,
                  absl::StrCat(what, " ", Quoted(phrase.text), ": ", compiled.status().message()));
      continue;
    }
    pieces.push_back(std::move(compiled->regex));
  }
  for (const LocatedText& pattern : patterns) {
    RE2 re(pattern.text, RegexOptions(max_mem));
    if (!re.ok()) {
      sink->Error(pattern.location, rule_id,
                  absl::StrCat(what, " pattern ", Quoted(pattern.text), ": ", re.error()));
      continue;
    }
    if (dfa_work != nullptr) {
      const DfaCost cost = EstimateDfaCost(pattern.text, max_dfa_work);
      if (cost.too_deep) {
        sink->Error(pattern.location, rule_id,
                    absl::StrCat(what, " pattern ", Quoted(pattern.text),
                                 ": groups nested more than ", kMaxPatternNesting, " deep"));
        continue;
      }
      if (cost.over_limit) {
        sink->Error(pattern.location, rule_id,
                    absl::StrCat(what, " pattern ", Quoted(pattern.text),
                                 " is too costly to match: RE2's DFA for it needs more than ",
                                 max_dfa_work, " steps of work (", cost.states,
                                 "+ states). A counted repetition such as {20} after text that "
                                 "can also be repeated grows the DFA exponentially; shorten the "
                                 "repetition, or make what precedes it unambiguous"));
        continue;
      }
      dfa_work->work += cost.work;
      if (cost.work > dfa_work->costliest_work) {
        dfa_work->costliest_work = cost.work;
        dfa_work->costliest = pattern.location;
      }
    }
    pieces.push_back(absl::StrCat("(?:", pattern.text, ")"));
  }
  if (pieces.empty()) return "";
  if (pieces.size() == 1) return pieces.front();
  return absl::StrCat("(?:", absl::StrJoin(pieces, "|"), ")");
}

// The raw patterns of all rules one per-speaker Set matches share its DFA,
// so their costs add up: the rule that takes a Set over the limit is an
// error, at its costliest pattern.
void CheckSetPatternDfaWork(const std::vector<CompiledRule>& rules,
                            const std::vector<PatternDfaWork>& window_work,
                            const std::vector<PatternDfaWork>& anchored_work, int64_t limit,
                            DiagnosticSink* sink) {
  for (int part = 0; part < 2; ++part) {
    const std::vector<PatternDfaWork>& work = part == 0 ? window_work : anchored_work;
    for (int s = 0; s < kSpeakerCount; ++s) {
      const auto speaker = static_cast<Speaker>(s);
      int64_t total = 0;
      for (size_t r = 0; r < rules.size(); ++r) {
        const RuleSpec& rule = rules[r].spec;
        if (!ListensTo(rule.speaker, speaker) || work[r].work == 0) continue;
        total += work[r].work;
        if (total <= limit) continue;
        sink->Error(work[r].costliest, rule.id,
                    absl::StrCat("the raw patterns of the rules matched against ",
                                 SpeakerName(speaker), " speech", part == 0 ? "" : " (anchored)",
                                 " need more than ", limit,
                                 " steps of RE2 DFA work together; this rule brings them to ",
                                 total, ". Simplify the patterns with counted repetitions"));
        break;
      }
    }
  }
}

std::unique_ptr<RE2> CompileCombined(const std::string& regex, const RuleSpec& rule,
                                     absl::string_view what, const CompileOptions& options,
                                     DiagnosticSink* sink) {
  auto re = std::make_unique<RE2>(regex, RegexOptions(options.rule_max_mem));
  if (!re->ok()) {
    sink->Error(rule.location, rule.id, absl::StrCat(what, " do not compile together: ", re->error()));
    return nullptr;
  }
  if (re->ProgramSize() > options.max_rule_program_size) {
    sink->Error(rule.location, rule.id,
                absl::StrCat(what, " compile to an RE2 program of size ", re->ProgramSize(),
                             ", over the limit of ", options.max_rule_program_size,
                             "; split them over several rules or simplify them"));
    return nullptr;
  }
  return re;
}

// One way of saying a phrase, written out from its syntax: `typed` keeps the
// author's characters as they are ("[un]happy" -> "unhappy"), `spaced` puts a
// space around every group, the way the phrase compiler reads it ("un happy").
// '*' stands for one word, '...' for none.
struct Spelling {
  std::string typed;
  std::string spaced;
};

// Enumerates the spellings of a phrase that compiled, choosing each
// alternative and each optional part in turn, up to `limit` spellings.
class Speller {
 public:
  Speller(absl::string_view phrase, size_t limit) : phrase_(phrase), limit_(limit) {}

  std::vector<Spelling> All() {
    std::vector<Spelling> out = Sequence();
    return out;
  }

 private:
  static bool IsSpecial(char c) {
    return c == '[' || c == ']' || c == '(' || c == ')' || c == '|' || c == '*';
  }
  bool AtEllipsis() const { return phrase_.substr(pos_, 3) == "..."; }

  std::vector<Spelling> Sequence() {
    std::vector<Spelling> out = {Spelling{}};
    while (pos_ < phrase_.size()) {
      const char c = phrase_[pos_];
      if (c == ']' || c == ')' || c == '|') break;
      std::vector<Spelling> item;
      if (c == '[' || c == '(') {
        ++pos_;
        const char close = c == '[' ? ']' : ')';
        if (c == '[') item.push_back(Spelling{"", " "});
        for (;;) {
          for (Spelling& branch : Sequence()) {
            item.push_back(Spelling{branch.typed, absl::StrCat(" ", branch.spaced, " ")});
          }
          if (pos_ < phrase_.size() && phrase_[pos_] == '|') {
            ++pos_;
            continue;
          }
          if (pos_ < phrase_.size() && phrase_[pos_] == close) ++pos_;
          break;
        }
      } else if (c == '*') {
        ++pos_;
        item.push_back(Spelling{" something ", " something "});
      } else if (AtEllipsis()) {
        pos_ += 3;
        item.push_back(Spelling{" ", " "});
      } else {
        const size_t begin = pos_;
        while (pos_ < phrase_.size() && !IsSpecial(phrase_[pos_]) && !AtEllipsis()) ++pos_;
        const std::string text(phrase_.substr(begin, pos_ - begin));
        item.push_back(Spelling{text, text});
      }
      std::vector<Spelling> next;
      for (const Spelling& head : out) {
        for (const Spelling& tail : item) {
          if (next.size() >= limit_) break;
          next.push_back(Spelling{head.typed + tail.typed, head.spaced + tail.spaced});
        }
      }
      out = std::move(next);
    }
    return out;
  }

  absl::string_view phrase_;
  size_t limit_;
  size_t pos_ = 0;
};

// The words of a phrase that normalization drops (fillers such as "um"): they
// are removed from speech too, so the phrase silently matches without them.
std::vector<std::string> DroppedWords(absl::string_view phrase) {
  std::vector<std::string> dropped;
  std::string word;
  auto flush = [&] {
    if (!word.empty() && NormalizeToString(word).empty()) dropped.push_back(word);
    word.clear();
  };
  for (char c : phrase) {
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (letter) {
      word.push_back(c);
    } else {
      flush();
    }
  }
  flush();
  return dropped;
}

// Warns about phrases of rule `r` that can never match, or never fire, in
// speech: a spelling whose normalized form the phrase does not match (a group
// glued to a word: "[un]happy" only matches "un happy"), a phrase every
// spelling of which the rule's `unless` cancels, and filler words that
// normalization drops. Decided over the phrase's spellings, at most
// kMaxSpellings of them.
void CheckPhrasesCanMatch(const RuleSet& set, int r, DiagnosticSink* sink) {
  constexpr size_t kMaxSpellings = 64;
  const CompiledRule& compiled = set.rules()[r];
  const RuleSpec& rule = compiled.spec;
  if (compiled.regex == nullptr) return;
  // Only an `unless` can cancel every occurrence of a spelling the phrase
  // matches: with phrases alone the rule's regex, an alternation that includes
  // this phrase, finds a non-empty match wherever the phrase matches. Raw
  // patterns (which may match empty text first) keep the full check too.
  const bool can_cancel =
      compiled.unless != nullptr ||
      std::any_of(rule.patterns.begin(), rule.patterns.end(), [](const LocatedText& pattern) {
        return !RuleSet::UsesTextAnchor(pattern.text);
      });
  NormalizedText normalized;
  std::vector<MatchSpan> spans;
  for (const LocatedText& phrase : rule.phrases) {
    absl::StatusOr<CompiledPhrase> alone = CompilePhrase(phrase.text);
    if (!alone.ok()) continue;
    const RE2 re(alone->regex, RegexOptions(int64_t{1} << 20));
    if (!re.ok()) continue;
    for (const std::string& word : DroppedWords(phrase.text)) {
      sink->Warning(phrase.location, rule.id,
                    absl::StrCat("phrase ", Quoted(phrase.text), ": \"", word,
                                 "\" is a filler that normalization removes from speech and "
                                 "phrases alike, so the phrase matches without it"));
    }
    const std::vector<Spelling> spellings = Speller(phrase.text, kMaxSpellings).All();
    const Spelling* unmatched = nullptr;
    std::string unmatched_reads;
    size_t unmatched_count = 0;
    size_t cancelled = 0;
    const Spelling* first_cancelled = nullptr;
    for (const Spelling& spelling : spellings) {
      Normalize(spelling.typed, &normalized);
      if (!RE2::PartialMatch(normalized.text, re)) {
        if (unmatched == nullptr) {
          unmatched = &spelling;
          unmatched_reads = NormalizeToString(spelling.typed);
        }
        ++unmatched_count;
        continue;
      }
      if (!can_cancel) continue;
      spans.clear();
      set.FindInUtterance(r, normalized.text, &spans);
      if (spans.empty()) {
        if (first_cancelled == nullptr) first_cancelled = &spelling;
        ++cancelled;
      }
    }
    if (unmatched != nullptr) {
      const std::string expects = NormalizeToString(unmatched->spaced);
      const bool glued = expects != unmatched_reads;
      sink->Warning(
          phrase.location, rule.id,
          absl::StrCat(
              "phrase ", Quoted(phrase.text),
              unmatched_count == spellings.size() ? " can never match after normalization: "
                                                  : ": one way of saying it can never match: ",
              "speech \"", unmatched->typed, "\" reads \"", unmatched_reads, "\"",
              glued ? absl::StrCat(", but the phrase expects \"", expects,
                                   "\": brackets and parentheses always separate words, so "
                                   "write each alternative as whole words")
                    : ", which the phrase does not match"));
    }
    if (cancelled > 0 && cancelled + unmatched_count == spellings.size()) {
      sink->Warning(phrase.location, rule.id,
                    absl::StrCat("phrase ", Quoted(phrase.text),
                                 " can never fire: the rule's unless cancels every way of "
                                 "saying it (e.g. \"",
                                 NormalizeToString(first_cancelled->typed), "\")"));
    }
  }
}

}  // namespace

absl::Status CandidatesFromSetMatch(bool matched, const RE2::Set::ErrorInfo& error,
                                    size_t set_size, std::vector<int>* hits, bool* fell_back) {
  *fell_back = false;
  if (matched) return absl::OkStatus();
  switch (error.kind) {
    case RE2::Set::kNoError:
      hits->clear();
      return absl::OkStatus();
    case RE2::Set::kOutOfMemory:
      *fell_back = true;
      hits->clear();
      for (size_t i = 0; i < set_size; ++i) hits->push_back(static_cast<int>(i));
      return absl::OkStatus();
    default:
      return absl::InternalError(
          absl::StrCat("RE2::Set match failed (error kind ", static_cast<int>(error.kind), ")"));
  }
}

std::string SourceLocation::ToString() const {
  if (line <= 0) return file.empty() ? "<unknown>" : file;
  if (column <= 0) return absl::StrCat(file, ":", line);
  return absl::StrCat(file, ":", line, ":", column);
}

std::string Diagnostic::ToString() const {
  std::string out = absl::StrCat(location.ToString(), ": ");
  if (level == Level::kWarning) absl::StrAppend(&out, "warning: ");
  if (!rule_id.empty()) absl::StrAppend(&out, "rule ", Shortened(rule_id, kMaxIdBytes), ": ");
  absl::StrAppend(&out, Shortened(message, 1024));
  return out;
}

absl::StatusOr<std::shared_ptr<const RuleSet>> RuleSet::Compile(
    RuleSetSpec spec, const CompileOptions& options, std::vector<Diagnostic>* diagnostics) {
  DiagnosticSink sink;
  std::shared_ptr<RuleSet> set(new RuleSet());
  set->version_ = VersionOf(spec);
  set->source_files_ = std::move(spec.source_files);

  absl::flat_hash_map<std::string, SourceLocation> first_definition;
  absl::flat_hash_set<std::string> categories;
  struct PhraseOwner {
    std::string rule_id;
    SpeakerScope speaker;
    std::string text;
    SourceLocation location;
  };
  absl::flat_hash_map<std::string, std::vector<PhraseOwner>> phrase_owners;  // by regex
  // Each rule's diagnostics go to its own sink, merged in rule order, so the
  // regexes can compile in parallel and still report in a fixed order.
  const int threads = CompileThreads(options);
  std::vector<DiagnosticSink> rule_sinks(spec.rules.size());
  set->rules_.reserve(spec.rules.size());
  for (RuleSpec& rule : spec.rules) {
    DiagnosticSink& rsink = rule_sinks[set->rules_.size()];
    if (!IsIdentifier(rule.id, "._-")) {
      rsink.Error(rule.location, rule.id,
                  "id must be non-empty and use only letters, digits, '_', '.' and '-'");
    } else if (rule.id.size() > kMaxIdBytes) {
      rsink.Error(rule.location, rule.id,
                  absl::StrCat("id is ", rule.id.size(), " bytes; at most ", kMaxIdBytes));
    } else if (auto [it, inserted] = first_definition.emplace(rule.id, rule.location); !inserted) {
      rsink.Error(rule.location, rule.id,
                  absl::StrCat("duplicate id; first defined at ", it->second.ToString()));
    }
    if (!IsIdentifier(rule.category, "_")) {
      rsink.Error(rule.location, rule.id,
                  "category must be non-empty and use only letters, digits and '_'");
    } else if (rule.category.size() > kMaxIdBytes) {
      rsink.Error(rule.location, rule.id,
                  absl::StrCat("category is ", rule.category.size(), " bytes; at most ",
                               kMaxIdBytes));
    }
    for (const auto& [field, text] : {std::pair<const char*, const std::string*>{"title", &rule.title},
                                      {"message", &rule.message},
                                      {"suggestion", &rule.suggestion}}) {
      if (text->size() > kMaxTextBytes) {
        rsink.Error(rule.location, rule.id,
                    absl::StrCat(field, " is ", text->size(), " bytes; at most ", kMaxTextBytes));
      }
    }
    categories.insert(rule.category);
    if (rule.title.empty()) rsink.Error(rule.location, rule.id, "title is empty");
    if (rule.message.empty()) rsink.Error(rule.location, rule.id, "message is empty");
    if (rule.phrases.empty() && rule.patterns.empty()) {
      rsink.Error(rule.location, rule.id, "rule has no phrases and no patterns");
    }
    // A phrase is a few words and a pattern a line: a runaway one would make
    // RE2 (and the phrase checks) spend gigabytes before refusing it. Refused
    // here, and dropped so that no later step compiles it.
    for (auto [what, texts] : {std::pair<const char*, std::vector<LocatedText>*>{
                                   "phrase", &rule.phrases},
                               {"pattern", &rule.patterns},
                               {"unless phrase", &rule.unless_phrases},
                               {"unless pattern", &rule.unless_patterns}}) {
      texts->erase(std::remove_if(texts->begin(), texts->end(),
                                  [&, what = what](const LocatedText& text) {
                                    if (text.text.size() <= kMaxTextBytes) return false;
                                    rsink.Error(text.location, rule.id,
                                                absl::StrCat(what, " is ", text.text.size(),
                                                             " bytes; at most ", kMaxTextBytes));
                                    return true;
                                  }),
                   texts->end());
    }
    if (rule.cooldown_ms < 0) {
      rsink.Error(rule.location, rule.id, "cooldown must not be negative");
    }
    if (rule.max_per_call < 0) {
      rsink.Error(rule.location, rule.id, "max_per_call must not be negative");
    }
    if (rule.examples.empty()) rsink.Warning(rule.location, rule.id, "rule has no examples");
    if (rule.counter_examples.empty()) {
      rsink.Warning(rule.location, rule.id, "rule has no counter-examples");
    }
    // Two phrases are the same when they compile to the same regex ("I'm
    // sorry" = "i am sorry"); they clash when the rules listen to a common
    // speaker, since then one utterance fires both.
    for (const LocatedText& phrase : rule.phrases) {
      absl::StatusOr<CompiledPhrase> compiled_phrase = CompilePhrase(phrase.text);
      if (!compiled_phrase.ok()) continue;  // reported below
      std::vector<PhraseOwner>& owners = phrase_owners[compiled_phrase->regex];
      for (const PhraseOwner& owner : owners) {
        if (owner.rule_id == rule.id) {
          rsink.Warning(phrase.location, rule.id,
                        absl::StrCat("phrase ", Quoted(phrase.text), " repeats phrase ",
                                    Quoted(owner.text), " of the same rule"));
          break;
        }
        if (owner.speaker == SpeakerScope::kAny || rule.speaker == SpeakerScope::kAny ||
            owner.speaker == rule.speaker) {
          rsink.Warning(phrase.location, rule.id,
                        absl::StrCat("phrase ", Quoted(phrase.text), " is also a phrase of rule ",
                                    owner.rule_id, " (", owner.location.ToString(),
                                    "): the same words fire both rules"));
          break;
        }
      }
      owners.push_back(PhraseOwner{rule.id, rule.speaker, phrase.text, phrase.location});
    }

    CompiledRule compiled;
    compiled.spec = std::move(rule);
    set->rules_.push_back(std::move(compiled));
  }

  // The rules' own regexes, in parallel: each rule writes only its own
  // CompiledRule, sink and DFA work.
  std::vector<PatternDfaWork> window_dfa_work(set->rules_.size());
  std::vector<PatternDfaWork> anchored_dfa_work(set->rules_.size());
  ParallelFor(static_cast<int>(set->rules_.size()), threads, [&](int r) {
    CompiledRule& compiled = set->rules_[r];
    const RuleSpec& rule = compiled.spec;
    DiagnosticSink& rsink = rule_sinks[r];
    const int errors_before = rsink.errors();
    std::vector<LocatedText> window_patterns;
    std::vector<LocatedText> anchored_patterns;
    for (const LocatedText& pattern : rule.patterns) {
      (UsesTextAnchor(pattern.text) ? anchored_patterns : window_patterns).push_back(pattern);
    }
    const std::string regex =
        CombinePieces(rule.phrases, window_patterns, rule.id, "phrase", options.rule_max_mem,
                      &rsink, options.max_pattern_dfa_work, &window_dfa_work[r]);
    const std::string anchored =
        CombinePieces({}, anchored_patterns, rule.id, "phrase", options.rule_max_mem, &rsink,
                      options.max_pattern_dfa_work, &anchored_dfa_work[r]);
    const std::string unless = CombinePieces(rule.unless_phrases, rule.unless_patterns, rule.id,
                                             "unless", options.rule_max_mem, &rsink);
    if (rsink.errors() == errors_before) {
      if (!regex.empty()) {
        compiled.regex = CompileCombined(regex, rule, "phrases and patterns", options, &rsink);
      }
      if (!anchored.empty()) {
        compiled.anchored = CompileCombined(anchored, rule, "anchored patterns", options, &rsink);
      }
      if (!unless.empty()) {
        compiled.unless = CompileCombined(unless, rule, "unless phrases and patterns", options,
                                          &rsink);
      }
    }
  });
  for (DiagnosticSink& rule_sink : rule_sinks) sink.Append(std::move(rule_sink));
  CheckSetPatternDfaWork(set->rules_, window_dfa_work, anchored_dfa_work,
                         options.max_set_pattern_dfa_work, &sink);

  // The sinks are empty again: reuse them for the phrase checks.
  if (options.check_phrase_warnings) {
    ParallelFor(static_cast<int>(set->rules_.size()), threads,
                [&](int r) { CheckPhrasesCanMatch(*set, r, &rule_sinks[r]); });
    for (DiagnosticSink& rule_sink : rule_sinks) sink.Append(std::move(rule_sink));
  }


  for (ExpectationSpec& expectation : spec.expectations) {
    const std::string& id = expectation.id;
    if (!IsIdentifier(id, "._-")) {
      sink.Error(expectation.location, id,
                 "id must be non-empty and use only letters, digits, '_', '.' and '-'");
    } else if (id.size() > kMaxIdBytes) {
      sink.Error(expectation.location, id,
                 absl::StrCat("id is ", id.size(), " bytes; at most ", kMaxIdBytes));
    } else if (auto [it, inserted] = first_definition.emplace(id, expectation.location);
               !inserted) {
      sink.Error(expectation.location, id,
                 absl::StrCat("duplicate id; first defined at ", it->second.ToString()));
    }
    if (!IsIdentifier(expectation.category, "_")) {
      sink.Error(expectation.location, id,
                 "category must be non-empty and use only letters, digits and '_'");
    }
    if (expectation.title.empty()) sink.Error(expectation.location, id, "title is empty");
    if (expectation.message.empty()) sink.Error(expectation.location, id, "message is empty");
    if (expectation.expect.empty()) {
      sink.Error(expectation.location, id, "expect lists no category");
    }
    for (const auto* list : {&expectation.when, &expectation.expect}) {
      for (const std::string& category : *list) {
        if (!categories.contains(category)) {
          sink.Error(expectation.location, id,
                     absl::StrCat("category '", category, "' in ",
                                  list == &expectation.when ? "when" : "expect",
                                  " is not the category of any loaded rule"));
        }
      }
    }
    if (expectation.within_ms < 0 || expectation.within_agent_turns < 0) {
      sink.Error(expectation.location, id, "within_seconds and within_agent_turns must not be negative");
    }
    if (!expectation.when.empty() && expectation.within_ms == 0 &&
        expectation.within_agent_turns == 0) {
      sink.Error(expectation.location, id,
                 "an expectation with `when` needs within_seconds or within_agent_turns");
    }
    if (expectation.when.empty() && expectation.at_least < 1) {
      sink.Error(expectation.location, id, "at_least must be 1 or more");
    }
    set->expectations_.push_back(std::move(expectation));
  }

  if (sink.errors() == 0) {
    // The four Sets ([RulePart][Speaker]) compile in parallel, each reporting
    // to its own sink; merged in the same order as before.
    DiagnosticSink set_sinks[2][kSpeakerCount];
    ParallelFor(2 * kSpeakerCount, threads, [&](int index) {
      const int p = index / kSpeakerCount;
      const int s = index % kSpeakerCount;
      const auto part = static_cast<RulePart>(p);
      const auto speaker = static_cast<Speaker>(s);
      DiagnosticSink& set_sink = set_sinks[p][s];
      std::vector<const CompiledRule*> members;
      int64_t instructions = 0;
      for (int r = 0; r < static_cast<int>(set->rules_.size()); ++r) {
        const CompiledRule& compiled = set->rules_[r];
        const RE2* regex =
            part == RulePart::kWindow ? compiled.regex.get() : compiled.anchored.get();
        if (!ListensTo(compiled.spec.speaker, speaker) || regex == nullptr) continue;
        members.push_back(&compiled);
        instructions += regex->ProgramSize();
      }
      const int64_t max_mem = options.set_max_mem > 0
                                  ? options.set_max_mem
                                  : SetMemoryBudget(instructions);
      auto part_set = std::make_unique<RE2::Set>(RegexOptions(max_mem), RE2::UNANCHORED);
      for (const CompiledRule* compiled : members) {
        const RE2* regex =
            part == RulePart::kWindow ? compiled->regex.get() : compiled->anchored.get();
        std::string error;
        if (part_set->Add(regex->pattern(), &error) < 0) {
          set_sink.Error(compiled->spec.location, compiled->spec.id,
                         absl::StrCat("cannot add to RE2::Set: ", error));
          continue;
        }
        set->set_rules_[p][s].push_back(static_cast<int>(compiled - set->rules_.data()));
      }
      // An empty Set is kept for the window part only, so matching code
      // needs no special case there; the segment part is usually empty.
      if (part == RulePart::kSegment && set->set_rules_[p][s].empty()) return;
      if (!part_set->Compile()) {
        set_sink.Error(SourceLocation{}, "",
                       absl::StrCat("the ", SpeakerName(speaker),
                                    " rules do not fit in the RE2::Set memory budget of ",
                                    max_mem, " bytes"));
      }
      set->set_max_mem_[p][s] = max_mem;
      set->sets_[p][s] = std::move(part_set);
    });
    for (auto& by_speaker : set_sinks) {
      for (DiagnosticSink& set_sink : by_speaker) sink.Append(std::move(set_sink));
    }
  }

  if (sink.errors() == 0) {
    for (int r = 0; r < static_cast<int>(set->rules_.size()); ++r) {
      CompiledRule& rule = set->rules_[r];
      for (int e = 0; e < static_cast<int>(set->expectations_.size()); ++e) {
        const ExpectationSpec& expectation = set->expectations_[e];
        for (const std::string& category : expectation.when) {
          if (category == rule.spec.category) rule.opens_expectations.push_back(e);
        }
        for (const std::string& category : expectation.expect) {
          if (category == rule.spec.category && rule.spec.speaker != SpeakerScope::kCustomer) {
            rule.satisfies_expectations.push_back(e);
          }
        }
      }
    }
  }

  if (sink.errors() == 0 && options.check_examples) {
    // Per rule in parallel; the sinks are empty again after the phrase checks.
    ParallelFor(static_cast<int>(set->rules_.size()), threads, [&](int r) {
      DiagnosticSink& rsink = rule_sinks[r];
      const RuleSpec& rule = set->rules_[r].spec;
      NormalizedText normalized;
      std::vector<MatchSpan> spans;
      for (const LocatedText& example : rule.examples) {
        Normalize(example.text, &normalized);
        spans.clear();
        set->FindInUtterance(r, normalized.text, &spans);
        if (spans.empty()) {
          rsink.Error(example.location, rule.id,
                      absl::StrCat("example does not match: ", Quoted(example.text)));
        }
      }
      for (const LocatedText& counter : rule.counter_examples) {
        Normalize(counter.text, &normalized);
        spans.clear();
        set->FindInUtterance(r, normalized.text, &spans);
        if (!spans.empty()) {
          const MatchSpan& span = spans.front();
          rsink.Error(counter.location, rule.id,
                      absl::StrCat("counter-example matches (on \"",
                                   normalized.text.substr(span.begin, span.end - span.begin),
                                   "\"): ", Quoted(counter.text)));
        }
      }
    });
    for (DiagnosticSink& rule_sink : rule_sinks) sink.Append(std::move(rule_sink));
  }

  if (diagnostics != nullptr) *diagnostics = sink.all();
  if (sink.errors() > 0) {
    std::vector<std::string> lines;
    for (const Diagnostic& d : sink.all()) {
      if (d.level == Diagnostic::Level::kError) lines.push_back(d.ToString());
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "phrase lists have ", sink.errors(), sink.errors() == 1 ? " error" : " errors", ":\n",
        absl::StrJoin(lines, "\n")));
  }
  return std::shared_ptr<const RuleSet>(std::move(set));
}

std::map<std::string, int> RuleSet::RuleCountsByCategory() const {
  std::map<std::string, int> counts;
  for (const CompiledRule& rule : rules_) ++counts[rule.spec.category];
  return counts;
}

int RuleSet::FindRule(absl::string_view id) const {
  for (int r = 0; r < static_cast<int>(rules_.size()); ++r) {
    if (rules_[r].spec.id == id) return r;
  }
  return -1;
}

namespace {

// Runs `re` over `text` from the start, calling `visit(begin, end)` for each
// match with boundary spaces trimmed. A match's trailing space may be the
// leading space of the next one, so the scan resumes on it.
template <typename Visit>
void ForEachMatch(const RE2& re, absl::string_view text, Visit visit) {
  const re2::StringPiece subject(text.data(), text.size());
  size_t pos = 0;
  re2::StringPiece match;
  while (pos < text.size() &&
         re.Match(subject, pos, text.size(), RE2::UNANCHORED, &match, 1)) {
    auto begin = static_cast<uint32_t>(match.data() - text.data());
    auto end = static_cast<uint32_t>(begin + match.size());
    size_t next = (end > begin && text[end - 1] == ' ') ? end - 1 : end;
    if (next <= pos) next = pos + 1;
    pos = next;
    while (begin < end && text[begin] == ' ') ++begin;
    while (end > begin && text[end - 1] == ' ') --end;
    if (end > begin && !visit(begin, end)) return;
  }
}

}  // namespace

void RuleSet::FindOccurrences(int rule_index, absl::string_view normalized, uint32_t min_end,
                              std::vector<MatchSpan>* out, RulePart part) const {
  const CompiledRule& rule = rules_[rule_index];
  const RE2* regex = part == RulePart::kWindow ? rule.regex.get() : rule.anchored.get();
  if (regex == nullptr) return;
  const size_t first = out->size();
  ForEachMatch(*regex, normalized, [&](uint32_t begin, uint32_t end) {
    if (end > min_end) out->push_back(MatchSpan{begin, end});
    return true;
  });
  if (rule.unless == nullptr || out->size() == first) return;

  // Exceptions come in order of their start; with the running maximum of
  // their ends, "does any exception that starts before `end` reach past
  // `begin`" is one binary search per occurrence.
  std::vector<MatchSpan> exceptions;
  std::vector<uint32_t> max_end_so_far;
  ForEachMatch(*rule.unless, normalized, [&](uint32_t begin, uint32_t end) {
    exceptions.push_back(MatchSpan{begin, end});
    max_end_so_far.push_back(max_end_so_far.empty() ? end : std::max(max_end_so_far.back(), end));
    return true;
  });
  if (exceptions.empty()) return;
  auto kept = out->begin() + static_cast<std::ptrdiff_t>(first);
  for (auto it = kept; it != out->end(); ++it) {
    const auto starts_before_end = std::lower_bound(
        exceptions.begin(), exceptions.end(), it->end,
        [](const MatchSpan& exception, uint32_t end) { return exception.begin < end; });
    const size_t count = static_cast<size_t>(starts_before_end - exceptions.begin());
    const bool cancelled = count > 0 && max_end_so_far[count - 1] > it->begin;
    if (!cancelled) *kept++ = *it;
  }
  out->erase(kept, out->end());
}

void RuleSet::FindInUtterance(int rule_index, absl::string_view normalized,
                              std::vector<MatchSpan>* out) const {
  const size_t first = out->size();
  FindOccurrences(rule_index, normalized, 0, out, RulePart::kWindow);
  const size_t window_end = out->size();
  std::vector<MatchSpan> anchored;
  FindOccurrences(rule_index, normalized, 0, &anchored, RulePart::kSegment);
  for (const MatchSpan& span : anchored) {
    const bool same = std::any_of(out->begin() + static_cast<std::ptrdiff_t>(first),
                                  out->begin() + static_cast<std::ptrdiff_t>(window_end),
                                  [&](const MatchSpan& other) {
                                    return other.begin < span.end && span.begin < other.end;
                                  });
    if (!same) out->push_back(span);
  }
  std::sort(out->begin() + static_cast<std::ptrdiff_t>(first), out->end(),
            [](const MatchSpan& a, const MatchSpan& b) { return a.begin < b.begin; });
}

bool RuleSet::UsesTextAnchor(absl::string_view pattern) {
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\') {
      if (i + 1 < pattern.size() && !in_class && (pattern[i + 1] == 'A' || pattern[i + 1] == 'z')) {
        return true;
      }
      ++i;  // an escaped character is literal
    } else if (in_class) {
      if (c == ']') in_class = false;
    } else if (c == '[') {
      in_class = true;
      // A ']' right after '[' or '[^' is a literal member of the class.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') ++i;
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') ++i;
    } else if (c == '^' || c == '$') {
      return true;
    }
  }
  return false;
}

}  // namespace coach::engine
