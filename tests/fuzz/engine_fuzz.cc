// libFuzzer harness: the engine. One engine::CallSession, with the bundled
// packs (phrase_lists/, loaded once), is fed a segment sequence decoded from
// the input with FuzzedDataProvider: revisions of the same segment id, both
// speakers (and invalid ones), arbitrary / out-of-order / negative / huge
// offsets and word timings, empty and huge texts, invalid UTF-8, finals and
// interims, stabilities, the end of the call, and segments after the end.
// Texts are built from the packs' own examples (so rules fire, retract and
// open expectations) mixed with raw fuzz bytes.
//
// Invariants checked (abort on violation):
//   - ProcessSegment fails only with kInvalidArgument or kFailedPrecondition;
//     after Finish it fails with kFailedPrecondition and adds no event;
//   - event seqs count from 1 with no gap and the report takes the next one;
//     a second Finish is kFailedPrecondition;
//   - a nudge's or retraction's rule exists; a reminder's expectation exists;
//   - evidence names a segment id sent for that speaker, its span lies inside
//     one revision's text, the matched text ends with that span's text, and
//     matched text is valid UTF-8; offsets lie in [0, kMaxCallTimeMs];
//   - a retraction takes back an earlier interim nudge of the same rule, once;
//   - only interim segments produce interim nudges;
//   - the report's nudges / retractions / reminders agree with the events, and
//     each missed expectation names a reminder's seq;
//   - the same input gives the same events (a second session replays it).

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/call_session.h"
#include "engine/rule_set.h"
#include "phrase_lists/loader.h"

namespace {

using coach::engine::CallSession;
using coach::engine::Event;
using coach::engine::EventType;
using coach::engine::Segment;
using coach::engine::Speaker;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "INVARIANT VIOLATED: %s\n", what.c_str());
  std::abort();
}

struct Fixture {
  std::shared_ptr<const coach::engine::RuleSet> rules;
  std::vector<std::string> texts;  // every example and counter-example of the packs
};

const Fixture& GetFixture() {
  static const Fixture* fixture = [] {
    auto* f = new Fixture;
    auto rules = coach::phrase_lists::LoadRuleSet({std::string(COACHD_SOURCE_DIR) + "/phrase_lists"});
    if (!rules.ok()) {
      std::fprintf(stderr, "cannot load the bundled packs: %s\n",
                   std::string(rules.status().message()).c_str());
      std::abort();
    }
    f->rules = *rules;
    for (const auto& rule : f->rules->rules()) {
      for (const auto& t : rule.spec.examples) f->texts.push_back(t.text);
      for (const auto& t : rule.spec.counter_examples) f->texts.push_back(t.text);
    }
    return f;
  }();
  return *fixture;
}

// One decoded step.
struct Step {
  bool finish = false;
  Segment segment;
};

// a + b, saturated (the harness itself must not overflow on extreme times).
int64_t Add(int64_t a, int64_t b) {
  int64_t sum;
  if (__builtin_add_overflow(a, b, &sum)) return b > 0 ? INT64_MAX : INT64_MIN;
  return sum;
}

int64_t PickTime(FuzzedDataProvider& fdp, int64_t last) {
  switch (fdp.ConsumeIntegralInRange<int>(0, 7)) {
    case 0:
      return fdp.ConsumeIntegral<int64_t>();  // anything, negative included
    case 1:
      return coach::engine::kMaxCallTimeMs + fdp.ConsumeIntegralInRange<int64_t>(-2, 2);
    case 2:
      return last - fdp.ConsumeIntegralInRange<int64_t>(0, 20000);  // out of order
    case 3:
      return fdp.ConsumeIntegralInRange<int64_t>(-5, 5);
    default:
      return last + fdp.ConsumeIntegralInRange<int64_t>(0, 12000);  // in order
  }
}

std::string PickText(FuzzedDataProvider& fdp, const Fixture& fixture) {
  std::string text;
  const int parts = fdp.ConsumeIntegralInRange<int>(0, 4);
  for (int i = 0; i < parts; ++i) {
    if (!text.empty()) text.push_back(' ');
    switch (fdp.ConsumeIntegralInRange<int>(0, 6)) {
      case 0:
      case 1:
        text += fdp.ConsumeRandomLengthString(256);  // raw bytes, invalid UTF-8 included
        break;
      case 2: {  // a prefix of an example: interim-like partial text
        const std::string& t = fixture.texts[fdp.ConsumeIntegralInRange<size_t>(
            0, fixture.texts.size() - 1)];
        text += t.substr(0, fdp.ConsumeIntegralInRange<size_t>(0, t.size()));
        break;
      }
      case 3: {  // huge: around the 64 KiB engine limit
        const std::string& t = fixture.texts[fdp.ConsumeIntegralInRange<size_t>(
            0, fixture.texts.size() - 1)];
        const size_t target = fdp.ConsumeIntegralInRange<size_t>(1000, 70000);
        while (text.size() < target) absl::StrAppend(&text, t, " ");
        break;
      }
      default:
        text += fixture.texts[fdp.ConsumeIntegralInRange<size_t>(0, fixture.texts.size() - 1)];
        break;
    }
  }
  return text;
}

std::vector<Step> Decode(FuzzedDataProvider& fdp, const Fixture& fixture) {
  std::vector<Step> steps;
  int64_t last = 0;
  while (fdp.remaining_bytes() > 0 && steps.size() < 200) {
    Step step;
    if (fdp.ConsumeIntegralInRange<int>(0, 40) == 0) {
      step.finish = true;
      steps.push_back(std::move(step));
      continue;
    }
    Segment& s = step.segment;
    const int id_kind = fdp.ConsumeIntegralInRange<int>(0, 9);
    if (id_kind == 0) {
      s.segment_id = fdp.ConsumeRandomLengthString(16);  // empty included
    } else {
      s.segment_id = absl::StrCat("s", id_kind % 5);  // few ids: revisions and re-sends
    }
    const int speaker = fdp.ConsumeIntegralInRange<int>(0, 20);
    s.speaker = speaker == 20 ? static_cast<Speaker>(fdp.ConsumeIntegralInRange<int>(-3, 5))
                              : static_cast<Speaker>(speaker % 2);
    s.text = PickText(fdp, fixture);
    s.is_final = fdp.ConsumeBool();
    if (fdp.ConsumeBool()) s.stability = fdp.ConsumeFloatingPoint<float>();
    s.start_ms = PickTime(fdp, last);
    s.end_ms = fdp.ConsumeBool() ? Add(s.start_ms, fdp.ConsumeIntegralInRange<int64_t>(0, 5000))
                                 : PickTime(fdp, last);
    if (s.start_ms >= 0 && s.start_ms < coach::engine::kMaxCallTimeMs) last = s.start_ms;
    const int words = fdp.ConsumeIntegralInRange<int>(0, 3);
    if (words == 3) {
      // One timing per whitespace-separated word (so they are used), or a few.
      size_t n = 0;
      bool in_word = false;
      for (char c : s.text) {
        const bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
        if (!space && !in_word) ++n;
        in_word = !space;
      }
      if (fdp.ConsumeBool()) n = fdp.ConsumeIntegralInRange<size_t>(0, 8);
      int64_t t = s.start_ms;
      for (size_t i = 0; i < n && i < 20000; ++i) {
        coach::engine::WordTiming w;
        w.start_ms = fdp.ConsumeIntegralInRange<int>(0, 30) == 0 ? fdp.ConsumeIntegral<int64_t>() : t;
        w.end_ms = Add(w.start_ms, fdp.ConsumeIntegralInRange<int64_t>(0, 900));
        t = w.end_ms;
        s.words.push_back(w);
      }
    }
    steps.push_back(std::move(step));
  }
  return steps;
}

coach::engine::SessionOptions DecodeOptions(FuzzedDataProvider& fdp) {
  coach::engine::SessionOptions options;
  const uint8_t bits = fdp.ConsumeIntegral<uint8_t>();
  if (bits & 1) options.interim_policy = coach::engine::InterimPolicy::kFinalOnly;
  if (bits & 2) options.min_interim_stability = 0.5f;
  if (bits & 4) options.max_segment_bytes = 16 * 1024;  // coachd's --max_segment_bytes default
  if (bits & 8) options.carry_words = 1 + (bits >> 4);  // 1..16
  if (bits & 16) options.remembered_final_ids = 1 + (bits >> 5);
  return options;
}

// What was said, for the evidence checks: (speaker, segment_id) -> texts.
using Said = std::map<std::pair<int, std::string>, std::vector<std::string>>;

void CheckEvidence(const coach::engine::Evidence& e, const Said& said, const std::string& where) {
  if (e.offset_ms < 0 || e.offset_ms > coach::engine::kMaxCallTimeMs) {
    Fail(absl::StrCat(where, ": evidence offset_ms ", e.offset_ms, " outside call time"));
  }
  if (coach::engine::ValidUtf8(e.matched_text) != e.matched_text) {
    Fail(where + ": evidence matched_text is not valid UTF-8");
  }
  auto it = said.find({static_cast<int>(e.speaker), e.segment_id});
  if (it == said.end()) {
    Fail(absl::StrCat(where, ": evidence names segment '", e.segment_id,
                      "' never sent by that speaker"));
  }
  if (e.span_begin > e.span_end) Fail(where + ": evidence span_begin > span_end");
  for (const std::string& text : it->second) {
    if (e.span_end > text.size()) continue;
    const std::string part =
        coach::engine::ValidUtf8(text.substr(e.span_begin, e.span_end - e.span_begin));
    if (absl::EndsWith(e.matched_text, part)) return;
  }
  Fail(absl::StrCat(where, ": evidence span [", e.span_begin, ", ", e.span_end, ") of segment '",
                    e.segment_id, "' matches no revision of its text (matched_text '",
                    e.matched_text, "')"));
}

std::string Digest(const Event& e) {
  return absl::StrCat(e.seq, "|", static_cast<int>(e.type), "|", e.rule_id, "|", e.interim, "|",
                      e.retracts_seq, "|", e.due_ms, "|", static_cast<int>(e.evidence.speaker),
                      "|", e.evidence.segment_id, "|", e.evidence.first_segment_id, "|",
                      e.evidence.span_begin, "|", e.evidence.span_end, "|",
                      e.evidence.offset_ms, "|", e.evidence.matched_text);
}

// Runs `steps`; returns the digest of every event and the report.
std::vector<std::string> Run(const Fixture& fixture, const coach::engine::SessionOptions& options,
                             const std::vector<Step>& steps, bool check) {
  const coach::engine::RuleSet& rules = *fixture.rules;
  CallSession session(fixture.rules, options);
  std::vector<Event> events;
  std::vector<std::string> digests;
  Said said;
  int64_t next_seq = 1;
  std::vector<Event> all;
  std::set<int64_t> retracted;
  int nudge_count = 0, retraction_count = 0, reminder_count = 0;
  std::set<int64_t> reminder_seqs;
  bool finished = false;

  auto check_events = [&](size_t from, const std::string& where, bool interim_allowed) {
    for (size_t i = from; i < events.size(); ++i) {
      const Event& e = events[i];
      digests.push_back(Digest(e));
      if (!check) continue;
      if (e.seq != next_seq) {
        Fail(absl::StrCat(where, ": event seq ", e.seq, ", expected ", next_seq));
      }
      ++next_seq;
      switch (e.type) {
        case EventType::kNudge:
          ++nudge_count;
          if (rules.FindRule(e.rule_id) < 0) Fail(where + ": nudge of unknown rule " + e.rule_id);
          if (e.interim && !interim_allowed) Fail(where + ": interim nudge from a final segment");
          CheckEvidence(e.evidence, said, where);
          break;
        case EventType::kRetraction: {
          ++retraction_count;
          if (rules.FindRule(e.rule_id) < 0) Fail(where + ": retraction of unknown rule");
          const Event* nudge = nullptr;
          for (const Event& prev : all) {
            if (prev.seq == e.retracts_seq) nudge = &prev;
          }
          if (nudge == nullptr || nudge->type != EventType::kNudge || !nudge->interim ||
              nudge->rule_id != e.rule_id) {
            Fail(absl::StrCat(where, ": retraction ", e.seq, " retracts ", e.retracts_seq,
                              ", not an earlier interim nudge of ", e.rule_id));
          }
          if (!retracted.insert(e.retracts_seq).second) {
            Fail(absl::StrCat(where, ": nudge ", e.retracts_seq, " retracted twice"));
          }
          CheckEvidence(e.evidence, said, where);
          break;
        }
        case EventType::kReminder: {
          ++reminder_count;
          reminder_seqs.insert(e.seq);
          bool known = false;
          for (const auto& x : rules.expectations()) known |= x.id == e.rule_id;
          if (!known) Fail(where + ": reminder of unknown expectation " + e.rule_id);
          CheckEvidence(e.evidence, said, where);
          break;
        }
      }
      all.push_back(e);
    }
  };

  for (size_t i = 0; i < steps.size(); ++i) {
    const std::string where = absl::StrCat("step ", i);
    const size_t from = events.size();
    if (steps[i].finish) {
      auto report = session.Finish(&events);
      if (finished) {
        if (report.ok() || report.status().code() != absl::StatusCode::kFailedPrecondition) {
          Fail(where + ": second Finish is not kFailedPrecondition");
        }
        if (events.size() != from) Fail(where + ": second Finish added events");
        continue;
      }
      if (!report.ok()) Fail(where + ": Finish failed: " + report.status().ToString());
      finished = true;
      check_events(from, where, /*interim_allowed=*/false);
      digests.push_back(absl::StrCat("report ", report->seq, " ", report->score.score, " ",
                                     report->nudges, " ", report->segments));
      if (!check) continue;
      if (report->seq != next_seq) {
        Fail(absl::StrCat(where, ": report seq ", report->seq, ", expected ", next_seq));
      }
      if (report->nudges != nudge_count - retraction_count ||
          report->retractions != retraction_count || report->reminders != reminder_count) {
        Fail(absl::StrCat(where, ": report counts nudges ", report->nudges, " retractions ",
                          report->retractions, " reminders ", report->reminders,
                          "; events say ", nudge_count - retraction_count, " ", retraction_count,
                          " ", reminder_count));
      }
      for (const auto& missed : report->missed_expectations) {
        if (reminder_seqs.count(missed.reminder_seq) == 0) {
          Fail(absl::StrCat(where, ": missed expectation names reminder seq ",
                            missed.reminder_seq));
        }
      }
      if (report->score.score < 0 || report->score.score > 100) Fail(where + ": score out of range");
      continue;
    }
    const Segment& segment = steps[i].segment;
    // Record before processing: a finalized open segment is one sent earlier.
    const int speaker = static_cast<int>(segment.speaker);
    said[{speaker, segment.segment_id}].push_back(segment.text);
    const absl::Status status = session.ProcessSegment(segment, &events);
    digests.push_back(absl::StrCat("status ", status.code()));
    if (check && !status.ok()) {
      const auto code = status.code();
      if (code != absl::StatusCode::kInvalidArgument &&
          code != absl::StatusCode::kFailedPrecondition) {
        Fail(where + ": unexpected status " + status.ToString());
      }
      if (finished && (code != absl::StatusCode::kFailedPrecondition || events.size() != from)) {
        Fail(where + ": segment after Finish not refused cleanly: " + status.ToString());
      }
    }
    if (check && status.ok() && finished) Fail(where + ": segment accepted after Finish");
    check_events(from, where, /*interim_allowed=*/!segment.is_final);
  }
  if (!finished) {
    const size_t from = events.size();
    auto report = session.Finish(&events);
    if (!report.ok()) Fail("final Finish failed: " + report.status().ToString());
    check_events(from, "end", false);
    digests.push_back(absl::StrCat("report ", report->seq, " ", report->score.score));
    if (check && report->seq != next_seq) Fail("report seq does not follow the last event");
    if (check && (report->nudges != nudge_count - retraction_count ||
                  report->retractions != retraction_count || report->reminders != reminder_count)) {
      Fail("report counts disagree with the events");
    }
  }
  return digests;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  GetFixture();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Fixture& fixture = GetFixture();
  FuzzedDataProvider fdp(data, size);
  const coach::engine::SessionOptions options = DecodeOptions(fdp);
  const std::vector<Step> steps = Decode(fdp, fixture);
  const std::vector<std::string> first = Run(fixture, options, steps, /*check=*/true);
  const std::vector<std::string> second = Run(fixture, options, steps, /*check=*/false);
  if (first != second) Fail("the same segments gave different events in a second session");
  return 0;
}
