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
// 1,000 and 5,000 rules with the shape of the packs, generated from a fixed
// word list with a fixed seed, compiled with check_examples=false. A set is
// built the first time a benchmark needs it; its compile times are measured
// then. The generator (v2, see "generator v2") draws phrases from tables
// counted on the packs: phrases per rule, elements per phrase and their kinds
// by position, alternatives per group and words per alternative, function
// words inside longer phrases, `unless` on the rule's own words, cooldown and
// max_per_call; the summary's shape table compares each set with the packs on
// those statistics and on the rate at which rules match the messages.
// COACHD_MATCHER_BENCH_GENERATOR=v1 uses the first generator instead (one Zipf
// over all words: its rules match about nine times as often as the packs',
// and have no limits), to reproduce figures measured with it.
// COACHD_MATCHER_BENCH=stats prints only the shape table, for the packs and
// both generators at every size (about 20 s), and times nothing.
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
#include <numeric>
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
#include "engine/phrase_compiler.h"
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
  double Unit() { return static_cast<double>(engine_()) / 4294967296.0; }
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

// Generator v1 (COACHD_MATCHER_BENCH_GENERATOR=v1), kept as it was; see
// "generator v2" for why it was replaced.
//
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

engine::RuleSetSpec SyntheticSpecV1(int rules) {
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

// ------------------------------------------------------- shape statistics
//
// How the phrases of a rule set are built, measured on the specs themselves
// (the packs as loaded, each synthetic set as generated), so that the
// synthetic sets can be checked against the packs: printed with the summary,
// and alone with COACHD_MATCHER_BENCH=stats (packs, and both generators at
// every size, without timing anything).

// Closed-class English words (pronouns, determiners, prepositions,
// conjunctions, auxiliaries and modals, negation, a few particles): the words
// that carry no topic. Used to measure, and in the v2 generator to draw, where
// phrases put them.
constexpr const char* kFunctionWords[] = {
    "i", "you", "we", "they", "he", "she", "it", "me", "us", "them", "him", "her", "my",
    "your", "our", "their", "his", "its", "this", "that", "these", "those", "the", "a", "an",
    "some", "any", "all", "no", "not", "to", "of", "for", "on", "in", "at", "with", "about",
    "from", "by", "into", "up", "out", "over", "through", "and", "or", "but", "so", "if",
    "because", "when", "while", "until", "till", "unless", "as", "than", "what", "which",
    "who", "where", "why", "how", "whatever", "whoever", "is", "am", "are", "was", "were", "be",
    "been", "being", "do", "does", "did", "have", "has", "had", "will", "would", "can",
    "could", "shall", "should", "may", "might", "must", "going", "gonna", "there", "here",
    "just", "very", "really", "too", "also", "again", "already", "yet", "still", "then",
    "now", "one", "let", "get", "got", "t", "s", "own", "such", "each", "every", "both",
    "either", "never", "only", "whether", "even", "though", "although", "however",
};

bool IsFunctionWord(absl::string_view word) {
  for (const char* w : kFunctionWords) {
    if (word == w) return true;
  }
  return false;
}

// Share of the bench's messages in which `word` occurs, the speech frequency
// of a phrase's words: what makes a phrase of random words match often or not.
double MessageShare(const std::string& word) {
  static const auto* shares = [] {
    auto* out = new std::map<std::string, double>();
    int64_t messages = 0;
    for (const CallInput& call : Calls()) {
      for (const Message& m : call.messages) {
        std::vector<std::string> words = absl::StrSplit(m.normalized, ' ', absl::SkipEmpty());
        std::sort(words.begin(), words.end());
        words.erase(std::unique(words.begin(), words.end()), words.end());
        for (const std::string& w : words) (*out)[w] += 1;
        ++messages;
      }
    }
    for (auto& [w, n] : *out) n /= static_cast<double>(messages);
    return out;
  }();
  const auto it = shares->find(word);
  return it == shares->end() ? 0.0 : it->second;
}

// A phrase parsed for counting (the syntax of phrase_lists/README.md; the
// engine's own compiler decides validity, this only counts).
struct PhraseNode {
  enum Kind { kWord, kAnyWord, kGap, kGroup, kOptional } kind = kWord;
  std::string word;
  std::vector<std::vector<PhraseNode>> alternatives;  // kGroup, kOptional
};

std::vector<std::string> PhraseTokens(absl::string_view phrase) {
  std::vector<std::string> out;
  std::string word;
  auto flush = [&] {
    if (!word.empty()) out.push_back(std::move(word));
    word.clear();
  };
  for (size_t i = 0; i < phrase.size(); ++i) {
    const char c = phrase[i];
    if (phrase.substr(i, 3) == "...") {
      flush();
      out.push_back("...");
      i += 2;
    } else if (c == '[' || c == ']' || c == '(' || c == ')' || c == '|' || c == '*') {
      flush();
      out.push_back(std::string(1, c));
    } else if (c == ' ' || c == '\t') {
      flush();
    } else {
      word.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
    }
  }
  flush();
  return out;
}

// Sequence := Item*, Item := word | * | ... | [Alt] | (Alt), Alt := Sequence (| Sequence)*.
std::vector<std::vector<PhraseNode>> ParseAlternatives(const std::vector<std::string>& tokens,
                                                        size_t* at);
std::vector<PhraseNode> ParseSequence(const std::vector<std::string>& tokens, size_t* at) {
  std::vector<PhraseNode> out;
  while (*at < tokens.size()) {
    const std::string& t = tokens[*at];
    if (t == "]" || t == ")" || t == "|") break;
    ++*at;
    PhraseNode node;
    if (t == "*") {
      node.kind = PhraseNode::kAnyWord;
    } else if (t == "...") {
      node.kind = PhraseNode::kGap;
    } else if (t == "[" || t == "(") {
      node.kind = t == "[" ? PhraseNode::kOptional : PhraseNode::kGroup;
      node.alternatives = ParseAlternatives(tokens, at);
      if (*at < tokens.size()) ++*at;  // the closing bracket
    } else {
      node.word = t;
    }
    out.push_back(std::move(node));
  }
  return out;
}
std::vector<std::vector<PhraseNode>> ParseAlternatives(const std::vector<std::string>& tokens,
                                                        size_t* at) {
  std::vector<std::vector<PhraseNode>> out;
  out.push_back(ParseSequence(tokens, at));
  while (*at < tokens.size() && tokens[*at] == "|") {
    ++*at;
    out.push_back(ParseSequence(tokens, at));
  }
  return out;
}

struct ShapeStats {
  int rules = 0;
  int64_t phrases = 0;
  int64_t elements = 0;        // top-level items of a phrase
  int64_t min_words = 0;       // engine::CompilePhrase's fewest words a match spans
  int64_t min_words_hist[7] = {};  // 1..5, 6+ (index 0 unused)
  int64_t groups = 0;          // (a|b) anywhere, nested ones too
  int64_t alternatives = 0;    // alternatives of those groups
  int64_t alternative_words = 0;  // words in those alternatives
  int64_t optionals = 0;       // [x] anywhere
  int64_t gap_phrases = 0;     // phrases with a ...
  int64_t any_word_phrases = 0;  // phrases with a *
  int64_t words = 0;           // word tokens anywhere
  int64_t function_words = 0;
  double function_word_share = 0;  // sums of MessageShare over those words
  double content_word_share = 0;
  int64_t function_only_phrases = 0;  // every required word slot a function word
  int64_t unless_rules = 0;
  int64_t unless_phrases = 0;
  int64_t pattern_rules = 0;   // raw RE2 patterns or unless_patterns
  int64_t cooldown_rules = 0;
  int64_t max_per_call_rules = 0;
  int64_t agent_rules = 0, customer_rules = 0, any_rules = 0;
  double matches_per_message = -1;  // matching rules per message; <0: not measured
};

// Counts the words of `seq`; *required_content is set when some word on the
// path taken by the first alternative of every group (optional parts left out)
// is a content word.
void CountSequence(const std::vector<PhraseNode>& seq, bool required, ShapeStats* s,
                   bool* required_content) {
  for (const PhraseNode& node : seq) {
    switch (node.kind) {
      case PhraseNode::kWord:
        ++s->words;
        if (IsFunctionWord(node.word)) {
          ++s->function_words;
          s->function_word_share += MessageShare(node.word);
        } else {
          s->content_word_share += MessageShare(node.word);
          if (required) *required_content = true;
        }
        break;
      case PhraseNode::kAnyWord:
      case PhraseNode::kGap:
        break;
      case PhraseNode::kGroup:
      case PhraseNode::kOptional:
        if (node.kind == PhraseNode::kGroup) {
          ++s->groups;
          s->alternatives += static_cast<int64_t>(node.alternatives.size());
        } else {
          ++s->optionals;
        }
        for (size_t a = 0; a < node.alternatives.size(); ++a) {
          const int64_t before = s->words;
          // A group is required when every alternative holds a content word.
          bool content = false;
          CountSequence(node.alternatives[a], required && node.kind == PhraseNode::kGroup, s,
                        &content);
          if (node.kind == PhraseNode::kGroup) s->alternative_words += s->words - before;
          if (a == 0 && content) *required_content = true;
        }
        break;
    }
  }
}

void CountPhrase(const std::string& phrase, ShapeStats* s) {
  const std::vector<std::string> tokens = PhraseTokens(phrase);
  size_t at = 0;
  const std::vector<PhraseNode> seq = ParseSequence(tokens, &at);
  ++s->phrases;
  s->elements += static_cast<int64_t>(seq.size());
  auto compiled = engine::CompilePhrase(phrase);
  const int min_words = compiled.ok() ? compiled->min_words : 0;
  s->min_words += min_words;
  ++s->min_words_hist[std::clamp(min_words, 1, 6)];
  bool content = false;
  CountSequence(seq, true, s, &content);
  if (!content) ++s->function_only_phrases;
  for (const std::string& t : tokens) {
    if (t == "...") { ++s->gap_phrases; break; }
  }
  for (const std::string& t : tokens) {
    if (t == "*") { ++s->any_word_phrases; break; }
  }
}

ShapeStats MeasureShape(const engine::RuleSetSpec& spec) {
  ShapeStats s;
  for (const engine::RuleSpec& rule : spec.rules) {
    ++s.rules;
    for (const auto& phrase : rule.phrases) CountPhrase(phrase.text, &s);
    if (!rule.unless_phrases.empty() || !rule.unless_patterns.empty()) ++s.unless_rules;
    s.unless_phrases += static_cast<int64_t>(rule.unless_phrases.size());
    if (!rule.patterns.empty() || !rule.unless_patterns.empty()) ++s.pattern_rules;
    if (rule.cooldown_ms > 0) ++s.cooldown_rules;
    if (rule.max_per_call > 0) ++s.max_per_call_rules;
    switch (rule.speaker) {
      case engine::SpeakerScope::kAgent: ++s.agent_rules; break;
      case engine::SpeakerScope::kCustomer: ++s.customer_rules; break;
      default: ++s.any_rules; break;
    }
  }
  return s;
}

void PrintShapeTable(const std::vector<std::pair<std::string, ShapeStats>>& columns) {
  if (columns.empty()) return;
  printf("\nRule-set shape (phrases as written; match rate on this run's messages)\n");
  printf("%-34s", "statistic");
  for (const auto& [name, s] : columns) printf(" %11s", name.c_str());
  printf("\n");
  auto row = [&](const char* label, auto value, const char* format) {
    printf("%-34s", label);
    for (const auto& [name, s] : columns) {
      const double v = value(s);
      if (v < 0) {
        printf(" %11s", "-");
      } else {
        printf(format, v);
      }
    }
    printf("\n");
  };
  auto ratio = [](int64_t a, int64_t b) {
    return b == 0 ? 0.0 : static_cast<double>(a) / static_cast<double>(b);
  };
  row("rules", [](const ShapeStats& s) { return static_cast<double>(s.rules); }, " %11.0f");
  row("phrases per rule", [&](const ShapeStats& s) { return ratio(s.phrases, s.rules); },
      " %11.2f");
  row("elements per phrase (top level)",
      [&](const ShapeStats& s) { return ratio(s.elements, s.phrases); }, " %11.2f");
  row("min words per phrase", [&](const ShapeStats& s) { return ratio(s.min_words, s.phrases); },
      " %11.2f");
  const char* hist_labels[] = {"", "  share min words = 1", "  share min words = 2",
                               "  share min words = 3", "  share min words = 4",
                               "  share min words = 5", "  share min words >= 6"};
  for (int i = 1; i <= 6; ++i) {
    row(hist_labels[i],
        [&](const ShapeStats& s) { return ratio(s.min_words_hist[i], s.phrases); }, " %11.3f");
  }
  row("groups per phrase", [&](const ShapeStats& s) { return ratio(s.groups, s.phrases); },
      " %11.2f");
  row("alternatives per group",
      [&](const ShapeStats& s) { return ratio(s.alternatives, s.groups); }, " %11.2f");
  row("words per alternative",
      [&](const ShapeStats& s) { return ratio(s.alternative_words, s.alternatives); },
      " %11.2f");
  row("[optional] per phrase",
      [&](const ShapeStats& s) { return ratio(s.optionals, s.phrases); }, " %11.2f");
  row("share of phrases with ...",
      [&](const ShapeStats& s) { return ratio(s.gap_phrases, s.phrases); }, " %11.3f");
  row("share of phrases with *",
      [&](const ShapeStats& s) { return ratio(s.any_word_phrases, s.phrases); }, " %11.3f");
  row("function-word share of words",
      [&](const ShapeStats& s) { return ratio(s.function_words, s.words); }, " %11.3f");
  row("function words: share of msgs with",
      [&](const ShapeStats& s) {
        return s.function_words == 0 ? 0.0
                                     : s.function_word_share / static_cast<double>(s.function_words);
      },
      " %11.4f");
  row("content words: share of msgs with",
      [&](const ShapeStats& s) {
        return s.words == s.function_words
                   ? 0.0
                   : s.content_word_share / static_cast<double>(s.words - s.function_words);
      },
      " %11.4f");
  row("share of function-word-only phrases",
      [&](const ShapeStats& s) { return ratio(s.function_only_phrases, s.phrases); },
      " %11.3f");
  row("share of rules with unless",
      [&](const ShapeStats& s) { return ratio(s.unless_rules, s.rules); }, " %11.3f");
  row("unless phrases per such rule",
      [&](const ShapeStats& s) { return ratio(s.unless_phrases, s.unless_rules); }, " %11.2f");
  row("share of rules with raw patterns",
      [&](const ShapeStats& s) { return ratio(s.pattern_rules, s.rules); }, " %11.3f");
  row("share of rules with cooldown",
      [&](const ShapeStats& s) { return ratio(s.cooldown_rules, s.rules); }, " %11.3f");
  row("share of rules with max_per_call",
      [&](const ShapeStats& s) { return ratio(s.max_per_call_rules, s.rules); }, " %11.3f");
  row("share agent / customer / any", [&](const ShapeStats& s) { return ratio(s.agent_rules, s.rules); },
      " %11.2f");
  row("  customer", [&](const ShapeStats& s) { return ratio(s.customer_rules, s.rules); },
      " %11.2f");
  row("  any", [&](const ShapeStats& s) { return ratio(s.any_rules, s.rules); }, " %11.2f");
  row("matching rules per message",
      [&](const ShapeStats& s) { return s.matches_per_message; }, " %11.3f");
  row("matches per message per rule (e-4)",
      [&](const ShapeStats& s) {
        return s.matches_per_message < 0 ? -1.0 : 1e4 * s.matches_per_message / s.rules;
      },
      " %11.2f");
}

// Which generator builds the synthetic sets: v2 (default) or v1, the first
// one, kept so that figures measured with it can be reproduced
// (COACHD_MATCHER_BENCH_GENERATOR=v1).
bool g_generator_v1 = false;

engine::RuleSetSpec SyntheticSpecV2(int rules);
engine::RuleSetSpec SyntheticSpec(int rules) {
  return g_generator_v1 ? SyntheticSpecV1(rules) : SyntheticSpecV2(rules);
}

// ------------------------------------------------------------ generator v2
//
// The v1 generator above drew every word from one Zipf over kWords, so a
// third of its words were the ten most frequent function words, and it
// allowed phrases such as "you (the|to)": its rules matched the bench's
// messages about nine times as often per rule as the packs' rules, and had no
// cooldown or max_per_call. v2 builds phrases the way the pack phrases are
// built. Every table below was counted once on the 189 bundled pack rules
// (640 phrases) with the same word classes as IsFunctionWord; the summary's
// shape table prints the same statistics for the packs and for each synthetic
// set, so drift can be seen. Nothing here was chosen from timing results.

// Uniform draw over a weight table: index i with probability w[i] / sum(w).
size_t Weighted(Rng& rng, const std::vector<int>& weights) {
  int total = 0;
  for (const int w : weights) total += w;
  auto roll = static_cast<int>(rng.Below(static_cast<size_t>(total)));
  for (size_t i = 0; i < weights.size(); ++i) {
    if (roll < weights[i]) return i;
    roll -= weights[i];
  }
  return weights.size() - 1;
}

// kWords split into function words and content words (IsFunctionWord),
// duplicates dropped, in kWords' order so the lists never depend on hashing.
// Content words are drawn uniformly: a pack author picks the content word that
// carries the meaning, not the most frequent one, and v1's Zipf over all of
// kWords is what made its phrases match everything. Function words: V2Word.
struct WordLists {
  std::vector<const char*> function;
  std::vector<const char*> content;
};
const WordLists& V2Words() {
  static const WordLists* lists = [] {
    auto* out = new WordLists();
    for (const char* word : kWords) {
      auto& list = IsFunctionWord(word) ? out->function : out->content;
      if (std::none_of(list.begin(), list.end(),
                       [&](const char* w) { return std::string(w) == word; })) {
        list.push_back(word);
      }
    }
    return out;
  }();
  return *lists;
}

// Top-level elements of a phrase, classified as in the packs: a function word
// (F), a content word (C), a group whose alternatives are all function words
// (g: "(i|we)"), a group each of whose alternatives holds a content word
// (G: "(lawyer|attorney)"), a mixed group (m), an [optional] part, a ... gap.
// The packs have no `*`, so v2 has none either.
enum V2Element { kV2F, kV2C, kV2g, kV2G, kV2m, kV2Optional, kV2Gap };
// Packs: element kinds by position (F, C, g, G, m, [], ...), counted over the
// first, the middle and the last elements of the 640 phrases.
const std::vector<int> kV2FirstWeights = {220, 58, 156, 112, 92, 2, 0};
const std::vector<int> kV2MiddleWeights = {523, 188, 264, 196, 162, 124, 47};
const std::vector<int> kV2LastWeights = {81, 139, 31, 272, 88, 27, 0};
// Packs: phrases by number of top-level elements (index); the two
// one-element phrases (a lone group) are counted as two elements.
const std::vector<int> kV2ElementCountWeights = {0, 0, 50, 131, 200, 141, 62, 38, 15, 2, 1};
// Packs: groups by number of alternatives (index), 2 to 35: few alternatives
// mostly, with a long tail of vocabulary lists ("(inconvenience|trouble|...)").
const std::vector<int> kV2AlternativeWeights = {
    0, 0, 432, 274, 178, 110, 103, 62, 42, 44, 28, 31, 13, 16, 7, 4, 7, 3,
    1, 1, 3,   2,   1,   3,   3,   1, 0,  0,  0,  0,  1,  1,  0, 0, 0, 1};
// Packs: alternatives by number of words (index); 5 and more counted as 5.
const std::vector<int> kV2AlternativeWordWeights = {0, 4267, 1513, 508, 132, 42};
// Packs: phrases per rule (index), and exceptions per rule (index). Two pack
// rules have their exception as unless_patterns only; v2 writes every
// exception as a phrase, so they count as one here.
const std::vector<int> kV2PhraseCountWeights = {0, 17, 45, 49, 35, 22, 14, 5, 1, 1};
const std::vector<int> kV2UnlessCountWeights = {109, 62, 15, 2, 1};
// Packs: 179 of 189 rules have both a cooldown and a max_per_call, drawn here
// from the packs' own values.
const std::vector<int> kV2CooldownSeconds = {30, 45, 60, 90, 120, 180, 300};
const std::vector<int> kV2CooldownWeights = {1, 7, 23, 61, 82, 4, 1};
const std::vector<int> kV2MaxPerCallWeights = {0, 4, 117, 58};
constexpr int kV2LimitedRules = 179;
constexpr int kV2PackRules = 189;
// Packs: 136 agent rules and 53 customer rules, none for any speaker.
constexpr int kV2AgentRules = 136;

// Function words are drawn with a u^2 Zipf over their kWords order (most
// frequent in speech first), content words uniformly. The packs use the common
// function words ("you", "to", "the", "i", "this", "that": 41% of their
// function words are ten words), and a uniform draw would make v2's function
// words half as frequent in speech as the packs' (the shape table's "function
// words: share of msgs with it"); u^2 brings that statistic to the packs'.
// (u^3 overshoots it, and makes the 5,000-rule agent set too large for a
// 4 GiB RE2::Set budget.)
const char* V2Word(Rng& rng, bool content) {
  if (content) return V2Words().content[rng.Below(V2Words().content.size())];
  const auto& list = V2Words().function;
  const double u = rng.Unit();
  return list[std::min(static_cast<size_t>(static_cast<double>(list.size()) * u * u),
                       list.size() - 1)];
}

// One alternative of a group: function words only, or, when `content`, one
// content word at a random place and each other word a content or a function
// word with even odds. Packs: 17% of the words of content groups (G) are
// function words ("have been charged", "the fraud team"); this gives 16%.
std::string V2Alternative(Rng& rng, bool content) {
  const size_t words = Weighted(rng, kV2AlternativeWordWeights);
  const size_t content_at = rng.Below(words);
  std::vector<const char*> out;
  for (size_t i = 0; i < words; ++i) {
    out.push_back(V2Word(rng, content && (i == content_at || rng.Chance(50))));
  }
  return absl::StrJoin(out, " ");
}

// A group of kind g, G or m; alternatives are distinct (a repeated one is
// drawn again, a few times at most). Packs: in mixed groups ("(was
// wrong|messed|made a mistake|should not have)") 58% of the alternatives
// hold a content word.
std::string V2Group(Rng& rng, V2Element kind) {
  const size_t n = Weighted(rng, kV2AlternativeWeights);
  std::vector<std::string> alternatives;
  for (size_t i = 0; i < n; ++i) {
    for (int attempt = 0; attempt < 4; ++attempt) {
      const bool content = kind == kV2G || (kind == kV2m && rng.Chance(58));
      std::string alternative = V2Alternative(rng, content);
      if (std::find(alternatives.begin(), alternatives.end(), alternative) ==
          alternatives.end()) {
        alternatives.push_back(std::move(alternative));
        break;
      }
    }
  }
  if (alternatives.size() < 2) alternatives.push_back(V2Alternative(rng, true));
  return absl::StrCat("(", absl::StrJoin(alternatives, "|"), ")");
}

struct V2Phrase {
  std::vector<V2Element> kinds;
  std::vector<std::string> elements;
  std::string Text() const { return absl::StrJoin(elements, " "); }
};

// Packs: every phrase has two required words at least (none has fewer), and
// function words alone make only a few longer phrases ("it is what it is",
// "over and over again": 3.7% of the phrases by the shape table's count, all
// of three required words or more). So a drawn sequence of element kinds is
// kept if it has two required elements and a C or G element, or, one time in
// two, if it has three required elements and none of C or G (which brings the
// shape table's function-word-only share near the packs'); otherwise it is
// drawn again.
V2Phrase V2MakePhrase(Rng& rng) {
  V2Phrase phrase;
  while (true) {
    const size_t n = Weighted(rng, kV2ElementCountWeights);
    phrase.kinds.clear();
    int required = 0;
    bool content = false;
    for (size_t i = 0; i < n; ++i) {
      const auto& weights = i == 0 ? kV2FirstWeights : i + 1 == n ? kV2LastWeights
                                                                  : kV2MiddleWeights;
      auto kind = static_cast<V2Element>(Weighted(rng, weights));
      // Two gaps in a row are one gap.
      while (kind == kV2Gap && phrase.kinds.back() == kV2Gap) {
        kind = static_cast<V2Element>(Weighted(rng, weights));
      }
      phrase.kinds.push_back(kind);
      if (kind != kV2Optional && kind != kV2Gap) ++required;
      if (kind == kV2C || kind == kV2G) content = true;
    }
    if (required >= 2 && content) break;
    if (required >= 3 && rng.Chance(50)) break;
  }
  phrase.elements.clear();
  for (const V2Element kind : phrase.kinds) {
    switch (kind) {
      case kV2F: phrase.elements.push_back(V2Word(rng, false)); break;
      case kV2C: phrase.elements.push_back(V2Word(rng, true)); break;
      case kV2Gap: phrase.elements.push_back("..."); break;
      case kV2Optional:
        // Packs: 142 of 153 optional parts are one word, function or content
        // about evenly; the rest hold a few alternatives.
        phrase.elements.push_back(
            rng.Below(153) < 142
                ? absl::StrCat("[", V2Word(rng, rng.Chance(50)), "]")
                : absl::StrCat("[", V2Group(rng, rng.Chance(50) ? kV2g : kV2G), "]"));
        break;
      default: phrase.elements.push_back(V2Group(rng, kind)); break;
    }
  }
  return phrase;
}

// Pack exceptions name a context around the rule's own words, so that they
// overlap its matches: "(if|in case|even if|maybe) you made" for "you made (a|the|an)
// (mistake|error)". An exception here is a leading function word or
// function-word group (drawn like a first element) followed by one of the
// rule's phrases up to and including its first content element.
std::string V2Unless(Rng& rng, const std::vector<V2Phrase>& phrases) {
  const V2Phrase& base = phrases[rng.Below(phrases.size())];
  std::vector<std::string> out;
  out.push_back(rng.Chance(50) ? V2Word(rng, false) : V2Group(rng, kV2g));
  for (size_t i = 0; i < base.elements.size(); ++i) {
    if (base.kinds[i] == kV2Gap && i + 1 == base.elements.size()) break;
    out.push_back(base.elements[i]);
    if (base.kinds[i] == kV2C || base.kinds[i] == kV2G) break;
  }
  return absl::StrJoin(out, " ");
}

engine::RuleSetSpec SyntheticSpecV2(int rules) {
  Rng rng(0xC0AC4D02u + static_cast<uint32_t>(rules));
  engine::RuleSetSpec spec;
  for (int r = 0; r < rules; ++r) {
    engine::RuleSpec rule;
    rule.id = absl::StrCat("synthetic.r", r);
    rule.category = absl::StrCat("synthetic_", r % 12);
    rule.speaker = rng.Below(kV2PackRules) < kV2AgentRules ? engine::SpeakerScope::kAgent
                                                           : engine::SpeakerScope::kCustomer;
    rule.title = "synthetic";
    rule.message = "synthetic rule";
    std::vector<V2Phrase> phrases;
    const size_t count = Weighted(rng, kV2PhraseCountWeights);
    for (size_t p = 0; p < count; ++p) {
      phrases.push_back(V2MakePhrase(rng));
      rule.phrases.push_back({phrases.back().Text(), {}});
    }
    const size_t exceptions = Weighted(rng, kV2UnlessCountWeights);
    for (size_t u = 0; u < exceptions; ++u) {
      rule.unless_phrases.push_back({V2Unless(rng, phrases), {}});
    }
    if (rng.Below(kV2PackRules) < kV2LimitedRules) {
      rule.cooldown_ms =
          1000 * int64_t{kV2CooldownSeconds[Weighted(rng, kV2CooldownWeights)]};
      rule.max_per_call = static_cast<int>(Weighted(rng, kV2MaxPerCallWeights));
    }
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

// Matching rules per message of `spec` over every message (coachd's matcher,
// after `unless`), as CheckAgreement counts them.
double MeasureMatchesPerMessage(const engine::RuleSetSpec& spec) {
  Fixture f;
  auto rules = RuleSet::Compile(spec, f.options);
  while (!rules.ok() && absl::StrContains(rules.status().message(), "RE2::Set memory budget") &&
         f.options.set_max_mem < (int64_t{1} << 32)) {
    f.options.set_max_mem = std::max(f.options.set_max_mem, int64_t{64} << 20) * 4;
    rules = RuleSet::Compile(spec, f.options);
  }
  if (!rules.ok()) Die(std::string(rules.status().message()));
  f.rules = *rules;
  std::vector<Hit> hits;
  int64_t matched = 0;
  int64_t messages = 0;
  for (const CallInput& call : Calls()) {
    for (const Message& m : call.messages) {
      CoachdMatch(f, m, &hits);
      matched += static_cast<int64_t>(FirstOccurrences(hits).size());
      ++messages;
    }
  }
  return messages == 0 ? 0 : static_cast<double>(matched) / static_cast<double>(messages);
}

// COACHD_MATCHER_BENCH=stats: the shape table of the packs and of both
// generators at every size, match rates included; no timing.
void PrintShapesOnly() {
  std::vector<std::pair<std::string, ShapeStats>> columns;
  const engine::RuleSetSpec packs = SpecFor(0);
  columns.emplace_back("packs", MeasureShape(packs));
  columns.back().second.matches_per_message = MeasureMatchesPerMessage(packs);
  const bool saved = g_generator_v1;
  for (const bool v1 : {true, false}) {
    g_generator_v1 = v1;
    for (const int size : {50, 500, 1000, 5000}) {
      const engine::RuleSetSpec spec = SyntheticSpec(size);
      columns.emplace_back(absl::StrCat(v1 ? "v1/" : "v2/", size), MeasureShape(spec));
      columns.back().second.matches_per_message = MeasureMatchesPerMessage(spec);
    }
  }
  g_generator_v1 = saved;
  printf("%zu messages in %zu calls\n",
         static_cast<size_t>(std::accumulate(Calls().begin(), Calls().end(), size_t{0},
                                             [](size_t n, const CallInput& c) {
                                               return n + c.messages.size();
                                             })),
         Calls().size());
  PrintShapeTable(columns);
}


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
            "rule set %s: %d rules, compile coachd %.1f ms, hyperscan not run (%s); %lld "
            "messages compared: %lld span mismatches (naive vs coachd); %.3f matching rules "
            "per message\n",
            f->name.c_str(), f->total_rules, f->coachd_compile_ms,
            !g_hyperscan ? "COACHD_MATCHER_BENCH_HYPERSCAN=off"
                         : "smoke run: Hyperscan on the 50-rule set only",
            static_cast<long long>(f->compared_messages),
            static_cast<long long>(f->naive_mismatches), f->matches_per_message);
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
  {
    std::vector<std::pair<std::string, ShapeStats>> columns;
    for (const auto& [kind, f] : Fixtures()) {
      if (f == nullptr) continue;
      ShapeStats stats = MeasureShape(f->spec);
      stats.matches_per_message = f->matches_per_message;
      columns.emplace_back(kind == 0 ? "packs"
                                     : absl::StrCat(g_generator_v1 ? "v1/" : "v2/", kind),
                           stats);
    }
    PrintShapeTable(columns);
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
  const char* generator = std::getenv("COACHD_MATCHER_BENCH_GENERATOR");
  if (generator != nullptr) {
    const std::string g = generator;
    if (g != "v1" && g != "v2") {
      fprintf(stderr, "matcher_bench: COACHD_MATCHER_BENCH_GENERATOR must be v1 or v2\n");
      return 2;
    }
    coach::g_generator_v1 = g == "v1";
  }
  if (mode != nullptr && std::string(mode) == "stats") {
    coach::PrintShapesOnly();
    return 0;
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
