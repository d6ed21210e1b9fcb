// Matcher benchmark: coachd's engine against a naive loop of one RE2 per rule
// and against Hyperscan, all three doing the same job on the same inputs:
// which rules match each normalized segment, and where.
//
//   build/tests/bench/matcher_bench --benchmark_min_time=0.5
//
// Job. For every message a call streams (the growing word prefixes of each
// Harper Valley segment as interim hypotheses, then the final text), already
// normalized with engine::Normalize, find every rule that listens to the
// message's speaker and matches it, with its occurrences, after the rule's
// `unless` exceptions. All three use each rule's own combined regex
// (CompiledRule::regex and ::unless, RE2 syntax):
//   1. Coachd_SetThenRE2    the engine's path: the per-speaker RE2::Set finds
//                           candidates, RuleSet::FindOccurrences runs each one;
//      Coachd_CallSession   a full CallSession::ProcessSegment on the raw text
//                           (adds normalization, the carried window, interim
//                           bookkeeping, evidence, limits, expectations and
//                           anchored patterns); its job is larger, so its
//                           output is not compared;
//   2. Naive_RE2PerRule     RuleSet::FindOccurrences on every listening rule;
//   3. Hyperscan_Block      block mode: one database per speaker without
//                           start of match says which rules and exceptions
//                           match; each matching rule's own database with
//                           HS_FLAG_SOM_LEFTMOST gives its spans; occurrences
//                           are then cancelled by exceptions as RuleSet does.
// Rules whose regex Hyperscan cannot compile are dropped from all three (the
// summary says how many); every figure is on that common subset.
//
// Rule sets: the bundled packs (phrase_lists/) and synthetic sets of 50, 500,
// 1,000 and 5,000 rules with the shape of the packs (2-6 words, [optional]
// words, (a|b) groups, ... gaps, some `unless`), generated from a fixed word
// list with a fixed seed, compiled with check_examples=false. A set is built
// the first time a benchmark needs it; its compile times are measured then.
//
// Each benchmark iteration plays one call (the calls in turn) and times every
// message: p50_ns, p99_ns and mean_ns are per message, MB/s counts the
// normalized text matched (raw text for CallSession). Agreement is checked once
// per rule set on every message: the sets of matching rules and the start of
// each rule's first occurrence (Hyperscan against coachd), every span (naive
// against coachd). The summary at the end gives the ratios of this run, the
// compile times and the engine memory per call.
//
// Smoke run: with a --benchmark_min_time under 0.1 (tests/run_all.sh), only
// the packs and the 50-rule set run, Hyperscan on the 50-rule set only, since
// Hyperscan needs seconds to minutes to compile the larger sets.
// COACHD_MATCHER_BENCH=full or =smoke overrides; COACHD_MATCHER_BENCH_HYPERSCAN=off
// leaves Hyperscan out.
// COACHD_BENCH_TRANSCRIPTS=<dir of Harper Valley *.json> replaces the sample in
// tests/data.

#include <hs.h>
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "benchmark/benchmark.h"
#include "engine/call_session.h"
#include "engine/normalizer.h"
#include "engine/rule_set.h"
#include "phrase_lists/loader.h"
#include "transcripts/harper_valley_reader.h"
#include "streamed_segments.h"

// Live heap bytes, for the per-call memory figures. Counted with
// malloc_usable_size so that frees need no size.
namespace {
std::atomic<int64_t> g_live_heap{0};

void* CountedAlloc(size_t size) {
  void* p = std::malloc(size == 0 ? 1 : size);
  if (p == nullptr) throw std::bad_alloc();
  g_live_heap.fetch_add(static_cast<int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
  return p;
}
void* CountedAlignedAlloc(size_t size, std::align_val_t align) {
  const size_t alignment = std::max(static_cast<size_t>(align), sizeof(void*));
  void* p = nullptr;
  if (posix_memalign(&p, alignment, size == 0 ? 1 : size) != 0) throw std::bad_alloc();
  g_live_heap.fetch_add(static_cast<int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
  return p;
}
void CountedFree(void* p) {
  if (p == nullptr) return;
  g_live_heap.fetch_sub(static_cast<int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
  std::free(p);
}
}  // namespace

void* operator new(size_t size) { return CountedAlloc(size); }
void* operator new[](size_t size) { return CountedAlloc(size); }
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  try { return CountedAlloc(size); } catch (...) { return nullptr; }
}
void* operator new[](size_t size, const std::nothrow_t&) noexcept {
  try { return CountedAlloc(size); } catch (...) { return nullptr; }
}
void* operator new(size_t size, std::align_val_t align) { return CountedAlignedAlloc(size, align); }
void* operator new[](size_t size, std::align_val_t align) {
  return CountedAlignedAlloc(size, align);
}
void operator delete(void* p) noexcept { CountedFree(p); }
void operator delete[](void* p) noexcept { CountedFree(p); }
void operator delete(void* p, size_t) noexcept { CountedFree(p); }
void operator delete[](void* p, size_t) noexcept { CountedFree(p); }
void operator delete(void* p, std::align_val_t) noexcept { CountedFree(p); }
void operator delete[](void* p, std::align_val_t) noexcept { CountedFree(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { CountedFree(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { CountedFree(p); }

namespace coach {
namespace {

using engine::MatchSpan;
using engine::RuleSet;
using engine::Speaker;
using Clock = std::chrono::steady_clock;

const std::string kSourceDir = COACHD_SOURCE_DIR;

[[noreturn]] void Die(const std::string& message) {
  fprintf(stderr, "matcher_bench: %s\n", message.c_str());
  std::abort();
}

// ---------------------------------------------------------------- inputs

struct Message {
  Speaker speaker = Speaker::kAgent;
  std::string normalized;  // engine::NormalizedText::text
};

struct CallInput {
  std::vector<engine::Segment> streamed;  // interims then the final, per segment
  std::vector<Message> messages;          // the same, normalized
  int64_t normalized_bytes = 0;
  int64_t raw_bytes = 0;
};

using bench::AsStreamed;

const std::vector<CallInput>& Calls() {
  static const auto* calls = [] {
    const char* dir_env = std::getenv("COACHD_BENCH_TRANSCRIPTS");
    const std::string dir =
        dir_env != nullptr ? dir_env : kSourceDir + "/tests/data/harper_valley/transcript";
    std::vector<std::string> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.path().extension() == ".json") files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) Die("no *.json transcript in " + dir);
    auto* out = new std::vector<CallInput>();
    engine::NormalizedText normalized;
    for (const std::string& file : files) {
      auto call = transcripts::ReadHarperValleyFile(file);
      if (!call.ok()) Die(std::string(call.status().message()));
      CallInput input;
      input.streamed = AsStreamed(call->segments);
      for (const engine::Segment& segment : input.streamed) {
        engine::Normalize(segment.text, &normalized);
        input.messages.push_back(Message{segment.speaker, normalized.text});
        input.normalized_bytes += static_cast<int64_t>(normalized.text.size());
        input.raw_bytes += static_cast<int64_t>(segment.text.size());
      }
      out->push_back(std::move(input));
    }
    return out;
  }();
  return *calls;
}

// ------------------------------------------------------------- rule sets

// Words of contact-center speech, most frequent first. No number words,
// fillers, contractions or skippable words, so normalization leaves them as
// they are.
constexpr const char* kWords[] = {
    "i", "you", "the", "to", "a", "is", "it", "that", "and", "for", "can", "your", "my", "we",
    "am", "do", "have", "this", "of", "what", "be", "okay", "on", "me", "not", "so", "help",
    "with", "are", "just", "yes", "in", "account", "get", "will", "card", "please", "no", "if",
    "would", "want", "thank", "all", "right", "there", "go", "how", "at", "about", "need",
    "could", "was", "now", "let", "see", "sure", "any", "here", "today", "make", "number",
    "call", "payment", "time", "bank", "check", "back", "up", "out", "again", "name", "new",
    "great", "good", "day", "order", "thanks", "date", "schedule", "appointment", "transfer",
    "money", "balance", "address", "phone", "email", "password", "reset", "locked", "open",
    "close", "savings", "checking", "deposit", "withdraw", "fee", "charge", "refund", "credit",
    "debit", "loan", "rate", "statement", "online", "branch", "manager", "supervisor", "hold",
    "wait", "minute", "moment", "sorry", "apologize", "understand", "frustrating", "problem",
    "issue", "fix", "resolve", "solution", "happen", "happened", "wrong", "error", "mistake",
    "policy", "cannot", "should", "must", "never", "always", "really", "very", "definitely",
    "absolutely", "certainly", "maybe", "probably", "again", "already", "still", "yet", "soon",
    "tomorrow", "week", "month", "year", "morning", "afternoon", "evening", "verify",
    "confirm", "security", "question", "answer", "information", "details", "system", "website",
    "app", "update", "change", "cancel", "keep", "send", "receive", "mail", "text", "message",
    "look", "into", "take", "care", "sir", "ma'am", "customer", "service", "department",
    "team", "someone", "somebody", "anyone", "nothing", "everything", "something", "fine",
    "great", "perfect", "wonderful", "awesome", "correct", "exactly", "else", "other",
    "another", "same", "different", "first", "last", "next", "before", "after", "because",
    "when", "where", "why", "who", "which", "did", "does", "done", "been", "had", "has",
    "said", "told", "asked", "called", "tried", "used", "paid", "owe", "due", "late",
    "early", "fraud", "stolen", "lost", "found", "replace", "replacement", "activate",
    "block", "limit", "approved", "declined", "pending", "process", "processing", "business",
    "days", "hours", "minutes", "long", "quick", "fast", "slow", "easy", "hard", "best",
};
constexpr size_t kWordCount = sizeof(kWords) / sizeof(kWords[0]);

// Deterministic across standard libraries: only the raw mt19937 output is used.
class Rng {
 public:
  explicit Rng(uint32_t seed) : engine_(seed) {}
  size_t Below(size_t n) { return static_cast<size_t>(engine_() % n); }
  bool Chance(int percent) { return Below(100) < static_cast<size_t>(percent); }
  // Zipf-like: low ranks far more often, as in speech.
  const char* Word() {
    const double u = static_cast<double>(engine_()) / 4294967296.0;
    const auto rank = static_cast<size_t>(static_cast<double>(kWordCount) * u * u * u);
    return kWords[std::min(rank, kWordCount - 1)];
  }

 private:
  std::mt19937 engine_;
};

std::string Group(Rng& rng) {
  std::vector<std::string> alternatives;
  const size_t n = 2 + rng.Below(3);
  for (size_t i = 0; i < n; ++i) {
    std::string alternative = rng.Word();
    if (rng.Chance(25)) absl::StrAppend(&alternative, " ", rng.Word());
    alternatives.push_back(std::move(alternative));
  }
  return absl::StrCat("(", absl::StrJoin(alternatives, "|"), ")");
}

// 2-6 elements: words, [optional] words, (a|b) groups, and ... gaps between
// two words; at least two elements are required.
std::string Phrase(Rng& rng) {
  const size_t elements = 2 + rng.Below(5);
  std::vector<std::string> out;
  size_t required = 0;
  for (size_t i = 0; i < elements; ++i) {
    const bool inner = i > 0 && i + 1 < elements;
    const size_t roll = rng.Below(100);
    if (inner && roll < 8 && out.back() != "...") {
      out.push_back("...");
    } else if (inner && roll < 20 && required >= 1) {
      out.push_back(rng.Chance(50) ? absl::StrCat("[", rng.Word(), "]")
                                   : absl::StrCat("[", Group(rng), "]"));
    } else if (roll < 40) {
      out.push_back(Group(rng));
      ++required;
    } else {
      out.push_back(rng.Word());
      ++required;
    }
  }
  if (required < 2) out.push_back(rng.Word());
  return absl::StrJoin(out, " ");
}

engine::RuleSetSpec SyntheticSpec(int rules) {
  Rng rng(0xC0AC4D00u + static_cast<uint32_t>(rules));
  engine::RuleSetSpec spec;
  for (int r = 0; r < rules; ++r) {
    engine::RuleSpec rule;
    rule.id = absl::StrCat("synthetic.r", r);
    rule.category = absl::StrCat("synthetic_", r % 12);
    const size_t speaker_roll = rng.Below(10);
    rule.speaker = speaker_roll < 7   ? engine::SpeakerScope::kAgent
                   : speaker_roll < 9 ? engine::SpeakerScope::kCustomer
                                      : engine::SpeakerScope::kAny;
    rule.title = "synthetic";
    rule.message = "synthetic rule";
    const size_t phrases = 1 + rng.Below(8);
    for (size_t p = 0; p < phrases; ++p) rule.phrases.push_back({Phrase(rng), {}});
    if (rng.Chance(10)) rule.unless_phrases.push_back({Phrase(rng), {}});
    spec.rules.push_back(std::move(rule));
  }
  return spec;
}

// ------------------------------------------------------------- Hyperscan

struct HsDatabase {
  hs_database_t* db = nullptr;
  size_t bytes = 0;
  ~HsDatabase() { hs_free_database(db); }
};

// Compiles one database; null with *error set when Hyperscan rejects it.
std::unique_ptr<HsDatabase> HsCompileMulti(const std::vector<const char*>& patterns,
                                           const std::vector<unsigned>& flags,
                                           const std::vector<unsigned>& ids, std::string* error) {
  auto out = std::make_unique<HsDatabase>();
  hs_compile_error_t* compile_error = nullptr;
  if (hs_compile_multi(patterns.data(), flags.data(), ids.data(),
                       static_cast<unsigned>(patterns.size()), HS_MODE_BLOCK, nullptr, &out->db,
                       &compile_error) != HS_SUCCESS) {
    *error = compile_error->message;
    hs_free_compile_error(compile_error);
    return nullptr;
  }
  hs_database_size(out->db, &out->bytes);
  return out;
}

std::unique_ptr<HsDatabase> HsCompileOne(const std::string& pattern, unsigned flags,
                                         std::string* error) {
  return HsCompileMulti({pattern.c_str()}, {flags}, {0}, error);
}

// Ids in the detection database: rule index r for its regex, kUnlessBase + r
// for its exceptions.
constexpr unsigned kUnlessBase = 1u << 24;

// Hyperscan's side of a rule set. Start-of-match tracking makes Hyperscan
// compile slowly (seconds for the packs in one database) and scan slowly, so
// it is used only where a start is needed: one database per speaker without
// SOM says which rules and exceptions match at all (HS_FLAG_SINGLEMATCH),
// then each matching rule's own SOM database (HS_FLAG_SOM_LEFTMOST) gives its
// spans.
struct HsRules {
  std::unique_ptr<HsDatabase> detect[engine::kSpeakerCount];
  std::vector<std::unique_ptr<HsDatabase>> spans;   // by rule index
  std::vector<std::unique_ptr<HsDatabase>> unless;  // by rule index; null if none
  hs_scratch_t* scratch = nullptr;                  // fits every database
  size_t bytes = 0;
  ~HsRules() { hs_free_scratch(scratch); }
};

void GrowScratch(const HsDatabase* db, HsRules* out) {
  if (db != nullptr && hs_alloc_scratch(db->db, &out->scratch) != HS_SUCCESS) {
    Die("hs_alloc_scratch");
  }
}

// The per-rule SOM databases of `rules` (null entries for rules Hyperscan
// rejects; *rejected gets their reasons).
void HsCompileRules(const RuleSet& rules, HsRules* out, std::vector<std::string>* rejected) {
  out->spans.resize(rules.rules().size());
  out->unless.resize(rules.rules().size());
  for (size_t r = 0; r < rules.rules().size(); ++r) {
    const engine::CompiledRule& rule = rules.rules()[r];
    std::string error;
    if (rule.regex != nullptr) {
      out->spans[r] = HsCompileOne(rule.regex->pattern(), HS_FLAG_SOM_LEFTMOST, &error);
      if (out->spans[r] == nullptr && rejected != nullptr) {
        rejected->push_back(absl::StrCat(rule.spec.id, ": ", error));
      }
    }
    if (rule.unless != nullptr) {
      out->unless[r] = HsCompileOne(rule.unless->pattern(), HS_FLAG_SOM_LEFTMOST, &error);
      if (out->unless[r] == nullptr && rejected != nullptr) {
        rejected->push_back(absl::StrCat(rule.spec.id, " (unless): ", error));
      }
    }
    GrowScratch(out->spans[r].get(), out);
    GrowScratch(out->unless[r].get(), out);
    if (out->spans[r] != nullptr) out->bytes += out->spans[r]->bytes;
    if (out->unless[r] != nullptr) out->bytes += out->unless[r]->bytes;
  }
}

void HsCompileDetect(const RuleSet& rules, HsRules* out) {
  for (int s = 0; s < engine::kSpeakerCount; ++s) {
    const auto speaker = static_cast<Speaker>(s);
    std::vector<const char*> patterns;
    std::vector<unsigned> flags;
    std::vector<unsigned> ids;
    for (const int r : rules.set_rules(speaker)) {
      const engine::CompiledRule& rule = rules.rules()[r];
      patterns.push_back(rule.regex->pattern().c_str());
      flags.push_back(HS_FLAG_SINGLEMATCH);
      ids.push_back(static_cast<unsigned>(r));
      if (rule.unless != nullptr) {
        patterns.push_back(rule.unless->pattern().c_str());
        flags.push_back(HS_FLAG_SINGLEMATCH);
        ids.push_back(kUnlessBase + static_cast<unsigned>(r));
      }
    }
    if (patterns.empty()) continue;
    std::string error;
    out->detect[s] = HsCompileMulti(patterns, flags, ids, &error);
    if (out->detect[s] == nullptr) Die("hs_compile_multi: " + error);
    GrowScratch(out->detect[s].get(), out);
    out->bytes += out->detect[s]->bytes;
  }
}

// ------------------------------------------------------------- matchers

// The job's output: every occurrence of every matching rule, by rule then
// start.
struct Hit {
  int rule = 0;
  MatchSpan span;
};

// Spans with the boundary spaces trimmed, as RuleSet reports them.
MatchSpan Trimmed(absl::string_view text, unsigned long long from, unsigned long long to) {
  auto begin = static_cast<uint32_t>(from);
  auto end = static_cast<uint32_t>(to);
  while (begin < end && text[begin] == ' ') ++begin;
  while (end > begin && text[end - 1] == ' ') --end;
  return MatchSpan{begin, end};
}

engine::CompileOptions BenchCompileOptions() {
  engine::CompileOptions options;
  options.check_examples = false;
  return options;
}

struct Fixture {
  std::string name;
  engine::RuleSetSpec spec;  // the common subset
  std::shared_ptr<const RuleSet> rules;
  int total_rules = 0;
  int hs_unsupported = 0;
  engine::CompileOptions options = BenchCompileOptions();
  double coachd_compile_ms = 0;
  double mean_program_size = 0;  // RE2::ProgramSize of a rule's regex
  double hs_compile_ms = 0;  // the per-rule SOM databases
  double hs_detect_compile_ms = 0;
  std::unique_ptr<HsRules> hs = std::make_unique<HsRules>();
  // Agreement over every message of every call.
  int64_t compared_messages = 0;
  int64_t rule_mismatches = 0;   // messages where the sets of matching rules differ
  int64_t where_mismatches = 0;  // same rules, but a first occurrence differs
  int64_t naive_mismatches = 0;  // coachd vs naive, every span
  double matches_per_message = 0;

  // Scratch.
  std::vector<int> set_hits;
  std::vector<MatchSpan> spans;
  std::vector<unsigned> detected;
  std::vector<MatchSpan> reports;
  std::vector<MatchSpan> exceptions;
  std::vector<uint32_t> max_end;
};

void CoachdMatch(Fixture& f, const Message& m, std::vector<Hit>* out) {
  out->clear();
  const RE2::Set* set = f.rules->set_for(m.speaker);
  const std::vector<int>& set_rules = f.rules->set_rules(m.speaker);
  f.set_hits.clear();
  RE2::Set::ErrorInfo error;
  const bool matched = set->Match(m.normalized, &f.set_hits, &error);
  bool fell_back = false;
  if (!engine::CandidatesFromSetMatch(matched, error, set_rules.size(), &f.set_hits, &fell_back)
           .ok()) {
    Die("RE2::Set::Match failed");
  }
  std::sort(f.set_hits.begin(), f.set_hits.end());
  for (const int hit : f.set_hits) {
    const int r = set_rules[static_cast<size_t>(hit)];
    f.spans.clear();
    f.rules->FindOccurrences(r, m.normalized, 0, &f.spans);
    for (const MatchSpan& span : f.spans) out->push_back(Hit{r, span});
  }
}

void NaiveMatch(Fixture& f, const Message& m, std::vector<Hit>* out) {
  out->clear();
  for (const int r : f.rules->set_rules(m.speaker)) {
    f.spans.clear();
    f.rules->FindOccurrences(r, m.normalized, 0, &f.spans);
    for (const MatchSpan& span : f.spans) out->push_back(Hit{r, span});
  }
}

// Hyperscan reports every end of every match, with its leftmost start when
// asked. The detection database names the rules (and exceptions) that match;
// each such rule's SOM database gives its reports, read left to right as
// occurrences: the leftmost start with its shortest end, then the next report
// starting at or after that end (RE2's scan resumes on the boundary space
// there too). An occurrence is cancelled when an exception match overlaps it,
// as RuleSet does.
int CollectId(unsigned id, unsigned long long, unsigned long long, unsigned, void* ctx) {
  static_cast<std::vector<unsigned>*>(ctx)->push_back(id);
  return 0;
}

struct SpanContext {
  std::vector<MatchSpan>* out;
  absl::string_view text;
};
int CollectSpan(unsigned, unsigned long long from, unsigned long long to, unsigned, void* ctx) {
  auto* c = static_cast<SpanContext*>(ctx);
  const MatchSpan span = Trimmed(c->text, from, to);
  if (span.end > span.begin) c->out->push_back(span);
  return 0;
}

void HsScan(const HsDatabase& db, hs_scratch_t* scratch, absl::string_view text,
            match_event_handler handler, void* ctx) {
  if (hs_scan(db.db, text.data(), static_cast<unsigned>(text.size()), 0, scratch, handler,
              ctx) != HS_SUCCESS) {
    Die("hs_scan failed");
  }
}

bool SpanLess(const MatchSpan& a, const MatchSpan& b) {
  return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
}

void HyperscanMatch(Fixture& f, const Message& m, std::vector<Hit>* out) {
  out->clear();
  const HsDatabase* detect = f.hs->detect[static_cast<int>(m.speaker)].get();
  if (detect == nullptr) return;
  f.detected.clear();
  HsScan(*detect, f.hs->scratch, m.normalized, CollectId, &f.detected);
  if (f.detected.empty()) return;
  std::sort(f.detected.begin(), f.detected.end());
  for (const unsigned id : f.detected) {
    if (id >= kUnlessBase) break;
    const int rule = static_cast<int>(id);
    f.reports.clear();
    SpanContext spans{&f.reports, m.normalized};
    HsScan(*f.hs->spans[id], f.hs->scratch, m.normalized, CollectSpan, &spans);
    std::sort(f.reports.begin(), f.reports.end(), SpanLess);
    f.exceptions.clear();
    f.max_end.clear();
    if (std::binary_search(f.detected.begin(), f.detected.end(), kUnlessBase + id)) {
      SpanContext exceptions{&f.exceptions, m.normalized};
      HsScan(*f.hs->unless[id], f.hs->scratch, m.normalized, CollectSpan, &exceptions);
      std::sort(f.exceptions.begin(), f.exceptions.end(), SpanLess);
      for (const MatchSpan& e : f.exceptions) {
        f.max_end.push_back(f.max_end.empty() ? e.end : std::max(f.max_end.back(), e.end));
      }
    }
    uint32_t resume = 0;
    for (const MatchSpan& span : f.reports) {
      if (span.begin < resume) continue;
      resume = span.end;
      const auto starts_before_end = std::lower_bound(
          f.exceptions.begin(), f.exceptions.end(), span.end,
          [](const MatchSpan& exception, uint32_t end) { return exception.begin < end; });
      const size_t count = static_cast<size_t>(starts_before_end - f.exceptions.begin());
      if (count > 0 && f.max_end[count - 1] > span.begin) continue;
      out->push_back(Hit{rule, span});
    }
  }
}

// Which rules matched, and where each one's first occurrence starts.
std::vector<std::pair<int, uint32_t>> FirstOccurrences(const std::vector<Hit>& hits) {
  std::vector<std::pair<int, uint32_t>> out;
  for (const Hit& hit : hits) {
    if (out.empty() || out.back().first != hit.rule) {
      out.emplace_back(hit.rule, hit.span.begin);
    } else {
      out.back().second = std::min(out.back().second, hit.span.begin);
    }
  }
  return out;
}

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

void CheckAgreement(Fixture& f) {
  std::vector<Hit> coachd, naive, hyperscan;
  int64_t matched_rules = 0;
  for (const CallInput& call : Calls()) {
    for (const Message& m : call.messages) {
      CoachdMatch(f, m, &coachd);
      NaiveMatch(f, m, &naive);
      ++f.compared_messages;
      const bool same_spans =
          coachd.size() == naive.size() &&
          std::equal(coachd.begin(), coachd.end(), naive.begin(), [](const Hit& a, const Hit& b) {
            return a.rule == b.rule && a.span.begin == b.span.begin && a.span.end == b.span.end;
          });
      if (!same_spans) ++f.naive_mismatches;
      const auto c = FirstOccurrences(coachd);
      matched_rules += static_cast<int64_t>(c.size());
      if (f.hs == nullptr) continue;
      HyperscanMatch(f, m, &hyperscan);
      const auto h = FirstOccurrences(hyperscan);
      bool same_rules = c.size() == h.size();
      for (size_t i = 0; same_rules && i < c.size(); ++i) same_rules = c[i].first == h[i].first;
      if (!same_rules) {
        if (f.rule_mismatches < 3) {
          fprintf(stderr, "  %s: rules differ on \"%s\": coachd %zu rules, hyperscan %zu\n",
                  f.name.c_str(), m.normalized.c_str(), c.size(), h.size());
        }
        ++f.rule_mismatches;
      } else if (c != h) {
        ++f.where_mismatches;
      }
    }
  }
  f.matches_per_message =
      static_cast<double>(matched_rules) / static_cast<double>(f.compared_messages);
}

// Rule-set kinds: 0 is the bundled packs, any other value a synthetic size.
engine::RuleSetSpec SpecFor(int kind) {
  if (kind != 0) return SyntheticSpec(kind);
  auto specs = phrase_lists::LoadSpecs({kSourceDir + "/phrase_lists"}, nullptr);
  if (!specs.ok()) Die(std::string(specs.status().message()));
  return *std::move(specs);
}

std::string KindName(int kind) { return kind == 0 ? "packs" : absl::StrCat(kind); }


// Hyperscan takes seconds to compile even the packs (see the summary), so
// the smoke run uses Hyperscan on the 50-rule set only and skips the larger
// sets (see the top of the file).
// COACHD_MATCHER_BENCH_HYPERSCAN=off leaves Hyperscan out altogether (it needs
// minutes to compile the larger sets), to time or profile coachd alone.
bool g_smoke = false;
bool g_hyperscan = true;
bool WithHyperscan(int kind) { return g_hyperscan && (!g_smoke || kind == 50); }

std::map<int, std::unique_ptr<Fixture>>& Fixtures() {
  static auto* fixtures = new std::map<int, std::unique_ptr<Fixture>>();
  return *fixtures;
}

Fixture& FixtureFor(int kind) {
  std::unique_ptr<Fixture>& slot = Fixtures()[kind];
  if (slot != nullptr) return *slot;
  auto f = std::make_unique<Fixture>();
  f->name = KindName(kind);
  engine::RuleSetSpec spec = SpecFor(kind);
  f->total_rules = static_cast<int>(spec.rules.size());
  auto start = Clock::now();
  auto rules = RuleSet::Compile(spec, f->options);
  f->coachd_compile_ms = MsSince(start);
  // A set too large for its RE2::Set budget (sized from the rules by default)
  // is a finding, printed; the benchmark goes on with a larger fixed budget.
  while (!rules.ok() && absl::StrContains(rules.status().message(), "RE2::Set memory budget") &&
         f->options.set_max_mem < (int64_t{1} << 32)) {
    fprintf(stderr, "  %s: RuleSet::Compile fails with set_max_mem=%lld: %s; retrying x4\n",
            f->name.c_str(), static_cast<long long>(f->options.set_max_mem),
            std::string(rules.status().message()).c_str());
    f->options.set_max_mem = std::max(f->options.set_max_mem, int64_t{64} << 20) * 4;
    start = Clock::now();
    rules = RuleSet::Compile(spec, f->options);
    f->coachd_compile_ms = MsSince(start);
  }
  if (!rules.ok()) Die(std::string(rules.status().message()));
  for (const engine::CompiledRule& rule : (*rules)->rules()) {
    if (rule.regex != nullptr) f->mean_program_size += rule.regex->ProgramSize();
  }
  f->mean_program_size /= static_cast<double>((*rules)->rules().size());

  if (!WithHyperscan(kind)) {
    f->spec = std::move(spec);
    f->rules = *rules;
    f->hs = nullptr;
    CheckAgreement(*f);
    fprintf(stderr,
            "rule set %s: %d rules, compile coachd %.1f ms, hyperscan not run (smoke); %lld "
            "messages compared: %lld span mismatches (naive vs coachd)\n",
            f->name.c_str(), f->total_rules, f->coachd_compile_ms,
            static_cast<long long>(f->compared_messages),
            static_cast<long long>(f->naive_mismatches));
    slot = std::move(f);
    return *slot;
  }
  // Keep the rules whose regex and exceptions Hyperscan accepts.
  std::vector<std::string> rejected;
  start = Clock::now();
  HsCompileRules(**rules, f->hs.get(), &rejected);
  f->hs_compile_ms = MsSince(start);
  engine::RuleSetSpec subset;
  subset.expectations = spec.expectations;
  for (size_t r = 0; r < spec.rules.size(); ++r) {
    const engine::CompiledRule& rule = (*rules)->rules()[r];
    const bool accepted = (rule.regex == nullptr || f->hs->spans[r] != nullptr) &&
                          (rule.unless == nullptr || f->hs->unless[r] != nullptr);
    if (accepted) {
      subset.rules.push_back(spec.rules[r]);
    } else {
      ++f->hs_unsupported;
    }
  }
  for (const std::string& reason : rejected) {
    fprintf(stderr, "  %s: hyperscan rejects %s\n", f->name.c_str(), reason.c_str());
  }
  if (f->hs_unsupported > 0) {
    // Expectations may name categories no longer present: drop those.
    std::vector<engine::ExpectationSpec> kept;
    for (const auto& e : subset.expectations) {
      bool ok = true;
      for (const auto* list : {&e.when, &e.expect}) {
        for (const std::string& category : *list) {
          ok = ok && std::any_of(subset.rules.begin(), subset.rules.end(),
                                 [&](const auto& rule) { return rule.category == category; });
        }
      }
      if (ok) kept.push_back(e);
    }
    subset.expectations = std::move(kept);
    start = Clock::now();
    rules = RuleSet::Compile(subset, f->options);
    f->coachd_compile_ms = MsSince(start);
    if (!rules.ok()) Die(std::string(rules.status().message()));
    f->hs = std::make_unique<HsRules>();
    start = Clock::now();
    HsCompileRules(**rules, f->hs.get(), nullptr);
    f->hs_compile_ms = MsSince(start);
  }
  f->spec = std::move(subset);
  f->rules = *rules;
  start = Clock::now();
  HsCompileDetect(*f->rules, f->hs.get());
  f->hs_detect_compile_ms = MsSince(start);
  CheckAgreement(*f);
  fprintf(stderr,
          "rule set %s: %d rules, %d rejected by hyperscan, compile coachd %.1f ms, "
          "hyperscan %.1f ms (SOM per rule) + %.1f ms (detection); %lld messages "
          "compared: %lld rule-set mismatches, %lld first-occurrence mismatches (hyperscan "
          "vs coachd), %lld span mismatches (naive vs coachd); %.3f matching rules per "
          "message\n",
          f->name.c_str(), f->total_rules, f->hs_unsupported, f->coachd_compile_ms,
          f->hs_compile_ms, f->hs_detect_compile_ms, static_cast<long long>(f->compared_messages),
          static_cast<long long>(f->rule_mismatches), static_cast<long long>(f->where_mismatches),
          static_cast<long long>(f->naive_mismatches), f->matches_per_message);
  slot = std::move(f);
  return *slot;
}

// ------------------------------------------------------------ benchmarks

struct Result {
  double p50_ns = 0;
  double p99_ns = 0;
  double mean_ns = 0;
  double mb_per_s = 0;
};
std::map<std::string, std::map<int, Result>>& Results() {
  static auto* results = new std::map<std::string, std::map<int, Result>>();
  return *results;
}

void Report(benchmark::State& state, const std::string& impl, int kind, Fixture& f,
            std::vector<double>& samples, int64_t messages, int64_t bytes) {
  std::sort(samples.begin(), samples.end());
  auto at = [&](double q) {
    return samples.empty() ? 0.0 : samples[static_cast<size_t>(q * (samples.size() - 1))];
  };
  double total_ns = 0;
  for (const double s : samples) total_ns += s;
  Result result;
  result.p50_ns = at(0.50);
  result.p99_ns = at(0.99);
  result.mean_ns = samples.empty() ? 0 : total_ns / static_cast<double>(samples.size());
  result.mb_per_s = total_ns > 0 ? static_cast<double>(bytes) * 1e3 / total_ns : 0;
  Results()[impl][kind] = result;
  state.counters["p50_ns"] = result.p50_ns;
  state.counters["p99_ns"] = result.p99_ns;
  state.counters["mean_ns"] = result.mean_ns;
  state.counters["MB/s"] = result.mb_per_s;
  state.counters["rules"] = static_cast<double>(f.spec.rules.size());
  state.counters["msgs"] = static_cast<double>(messages);
  state.SetBytesProcessed(bytes);
  state.SetItemsProcessed(messages);
}

template <void (*Match)(Fixture&, const Message&, std::vector<Hit>*)>
void BM_Matcher(benchmark::State& state, const std::string& impl, int kind) {
  Fixture& f = FixtureFor(kind);
  const std::vector<CallInput>& calls = Calls();
  std::vector<Hit> hits;
  hits.reserve(1024);
  std::vector<double> samples;
  int64_t messages = 0;
  int64_t bytes = 0;
  size_t next = 0;
  for (auto _ : state) {
    const CallInput& call = calls[next++ % calls.size()];
    for (const Message& m : call.messages) {
      const auto start = Clock::now();
      Match(f, m, &hits);
      const auto stop = Clock::now();
      benchmark::DoNotOptimize(hits.data());
      samples.push_back(std::chrono::duration<double, std::nano>(stop - start).count());
    }
    messages += static_cast<int64_t>(call.messages.size());
    bytes += call.normalized_bytes;
  }
  Report(state, impl, kind, f, samples, messages, bytes);
}

void BM_CallSession(benchmark::State& state, int kind) {
  Fixture& f = FixtureFor(kind);
  const std::vector<CallInput>& calls = Calls();
  std::vector<engine::Event> events;
  std::vector<double> samples;
  int64_t messages = 0;
  int64_t bytes = 0;
  size_t next = 0;
  for (auto _ : state) {
    const CallInput& call = calls[next++ % calls.size()];
    engine::CallSession session(f.rules);
    for (const engine::Segment& segment : call.streamed) {
      events.clear();
      const auto start = Clock::now();
      const absl::Status status = session.ProcessSegment(segment, &events);
      const auto stop = Clock::now();
      if (!status.ok()) Die(std::string(status.message()));
      samples.push_back(std::chrono::duration<double, std::nano>(stop - start).count());
    }
    auto report = session.Finish(&events);
    benchmark::DoNotOptimize(report);
    messages += static_cast<int64_t>(call.streamed.size());
    bytes += call.raw_bytes;
  }
  Report(state, "Coachd_CallSession", kind, f, samples, messages, bytes);
}

void BM_Compile(benchmark::State& state, int kind) {
  const engine::RuleSetSpec spec = FixtureFor(kind).spec;
  const engine::CompileOptions options = FixtureFor(kind).options;
  for (auto _ : state) {
    auto rules = RuleSet::Compile(spec, options);
    if (!rules.ok()) Die(std::string(rules.status().message()));
    benchmark::DoNotOptimize(rules);
  }
  state.counters["rules"] = static_cast<double>(spec.rules.size());
}

// Engine state of one call: the CallSession object plus the heap it holds
// after the whole call (streamed) and Finish(). The rule set's shared RE2
// caches are warmed by a first play so they are not counted.
struct MemoryResult {
  double sizeof_bytes = 0;
  double median_bytes = 0;
  double max_bytes = 0;
};
std::map<int, MemoryResult>& MemoryResults() {
  static auto* results = new std::map<int, MemoryResult>();
  return *results;
}

void PlayCall(const std::shared_ptr<const RuleSet>& rules, const CallInput& call,
              engine::CallSession* session, std::vector<engine::Event>* events) {
  for (const engine::Segment& segment : call.streamed) {
    if (!session->ProcessSegment(segment, events).ok()) Die("ProcessSegment failed");
  }
}

void BM_SessionMemory(benchmark::State& state, int kind) {
  Fixture& f = FixtureFor(kind);
  std::vector<int64_t> held;
  std::vector<engine::Event> events;
  events.reserve(4096);
  for (auto _ : state) {
    held.clear();
    for (const CallInput& call : Calls()) {
      {
        engine::CallSession warm(f.rules);
        PlayCall(f.rules, call, &warm, &events);
        events.clear();
      }
      const int64_t before = g_live_heap.load();
      auto* session = new engine::CallSession(f.rules);
      PlayCall(f.rules, call, session, &events);
      auto report = session->Finish(&events);
      benchmark::DoNotOptimize(report);
      held.push_back(g_live_heap.load() - before);
      delete session;
      events.clear();
    }
  }
  std::sort(held.begin(), held.end());
  MemoryResult result;
  result.sizeof_bytes = sizeof(engine::CallSession);
  result.median_bytes = static_cast<double>(held[held.size() / 2]);
  result.max_bytes = static_cast<double>(held.back());
  MemoryResults()[kind] = result;
  state.counters["sizeof_B"] = result.sizeof_bytes;
  state.counters["per_call_median_B"] = result.median_bytes;
  state.counters["per_call_max_B"] = result.max_bytes;
}

constexpr int kKinds[] = {0, 50, 500, 1000, 5000};

void RegisterAll() {
  for (const int kind : kKinds) {
    if (g_smoke && kind > 50) continue;
    const std::string suffix = "/" + KindName(kind);
    benchmark::RegisterBenchmark(("Compile_Coachd" + suffix).c_str(), BM_Compile, kind)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("Coachd_SetThenRE2" + suffix).c_str(),
                                 BM_Matcher<CoachdMatch>, "Coachd_SetThenRE2", kind)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("Coachd_CallSession" + suffix).c_str(), BM_CallSession, kind)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("Naive_RE2PerRule" + suffix).c_str(), BM_Matcher<NaiveMatch>,
                                 "Naive_RE2PerRule", kind)
        ->Unit(benchmark::kMillisecond);
    if (WithHyperscan(kind)) {
      benchmark::RegisterBenchmark(("Hyperscan_Block" + suffix).c_str(),
                                   BM_Matcher<HyperscanMatch>, "Hyperscan_Block", kind)
          ->Unit(benchmark::kMillisecond);
    }
    benchmark::RegisterBenchmark(("SessionMemory" + suffix).c_str(), BM_SessionMemory, kind)
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond);
  }
}

void PrintSummary() {
  const auto& results = Results();
  if (results.empty()) return;
  printf("\nSummary (per message; same run)\n");
  printf("%-20s %-6s %10s %10s %10s %9s\n", "implementation", "rules", "p50_ns", "p99_ns",
         "mean_ns", "MB/s");
  for (const auto& [impl, by_kind] : results) {
    for (const auto& [kind, r] : by_kind) {
      printf("%-20s %-6s %10.0f %10.0f %10.0f %9.1f\n", impl.c_str(), KindName(kind).c_str(),
             r.p50_ns, r.p99_ns, r.mean_ns, r.mb_per_s);
    }
  }
  auto find = [&](const std::string& impl, int kind) -> const Result* {
    auto it = results.find(impl);
    if (it == results.end()) return nullptr;
    auto jt = it->second.find(kind);
    return jt == it->second.end() ? nullptr : &jt->second;
  };
  printf("\nGrowth 50 -> 5,000 rules (mean, p50)\n");
  for (const auto& [impl, by_kind] : results) {
    const Result* small = find(impl, 50);
    const Result* large = find(impl, 5000);
    if (small != nullptr && large != nullptr && small->mean_ns > 0 && small->p50_ns > 0) {
      printf("  %-20s %8.1fx %8.1fx\n", impl.c_str(), large->mean_ns / small->mean_ns,
             large->p50_ns / small->p50_ns);
    }
  }
  printf("\nOther engine / Coachd_SetThenRE2 (mean, p50; >1 means coachd is faster)\n");
  for (const int kind : kKinds) {
    const Result* coachd = find("Coachd_SetThenRE2", kind);
    if (coachd == nullptr || coachd->mean_ns <= 0) continue;
    for (const char* other : {"Naive_RE2PerRule", "Hyperscan_Block", "Coachd_CallSession"}) {
      const Result* r = find(other, kind);
      if (r != nullptr) {
        printf("  %-6s %-20s %8.2fx %8.2fx\n", KindName(kind).c_str(), other,
               r->mean_ns / coachd->mean_ns, r->p50_ns / coachd->p50_ns);
      }
    }
  }
  printf("\nRule sets: compile time (one compile each) and agreement on every message\n");
  printf("%-6s %6s %8s %8s %10s %10s %12s %14s %9s %8s %8s %8s\n", "rules", "kept",
         "prog", "set_MiB", "coachd_ms", "hs_rej", "hs_som_ms", "hs_detect_ms", "msgs",
         "rule_mm", "where_mm", "naive_mm");
  for (const auto& [kind, f] : Fixtures()) {
    if (f == nullptr) continue;
    if (f->hs == nullptr) {
      printf("%-6s %6zu %8.0f %8lld %10.1f %10s %12s %14s %9lld %8s %8s %8lld\n",
             f->name.c_str(), f->spec.rules.size(), f->mean_program_size,
             static_cast<long long>(f->rules->set_max_mem(Speaker::kAgent) >> 20),
             f->coachd_compile_ms, "-",
             "-", "-",
             static_cast<long long>(f->compared_messages), "-", "-",
             static_cast<long long>(f->naive_mismatches));
    } else {
      printf("%-6s %6zu %8.0f %8lld %10.1f %10d %12.1f %14.1f %9lld %8lld %8lld %8lld\n",
             f->name.c_str(), f->spec.rules.size(), f->mean_program_size,
             static_cast<long long>(f->rules->set_max_mem(Speaker::kAgent) >> 20),
             f->coachd_compile_ms, f->hs_unsupported, f->hs_compile_ms,
             f->hs_detect_compile_ms, static_cast<long long>(f->compared_messages),
             static_cast<long long>(f->rule_mismatches),
             static_cast<long long>(f->where_mismatches),
             static_cast<long long>(f->naive_mismatches));
    }
  }
  if (!MemoryResults().empty()) {
    printf("\nEngine memory per call (CallSession after the call and Finish)\n");
    for (const auto& [kind, m] : MemoryResults()) {
      printf("  %-6s sizeof %6.0f B; sizeof + heap held after the call: median %8.0f B, "
             "max %8.0f B\n",
             KindName(kind).c_str(), m.sizeof_bytes, m.median_bytes, m.max_bytes);
    }
  }
}

}  // namespace
}  // namespace coach

int main(int argc, char** argv) {
  const char* mode = std::getenv("COACHD_MATCHER_BENCH");
  if (mode != nullptr) {
    coach::g_smoke = std::string(mode) == "smoke";
  } else {
    const std::string flag = "--benchmark_min_time=";
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg.rfind(flag, 0) == 0) {
        coach::g_smoke = std::strtod(arg.c_str() + flag.size(), nullptr) < 0.1;
      }
    }
  }
  const char* hyperscan = std::getenv("COACHD_MATCHER_BENCH_HYPERSCAN");
  if (hyperscan != nullptr && std::string(hyperscan) == "off") coach::g_hyperscan = false;
  if (coach::g_smoke) {
    fprintf(stderr,
            "matcher_bench: smoke run (packs and 50 rules; Hyperscan on 50 only); "
            "COACHD_MATCHER_BENCH=full runs every size\n");
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  coach::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  coach::PrintSummary();
  return 0;
}
