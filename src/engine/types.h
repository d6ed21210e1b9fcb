// File: engine/types.h
//
// Plain value types shared by the coaching engine: the rule taxonomy enums, the
// transcript segment a call session consumes, and the events and call report it
// produces. Nothing here owns resources or does I/O; every type is copyable and
// safe to hand between threads once built.
//
// Offsets are call time in milliseconds, taken from the transcript (never the
// wall clock), so the same input always yields the same events.

#ifndef COACHD_ENGINE_TYPES_H_
#define COACHD_ENGINE_TYPES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace coach::engine {

// Who spoke a segment.
enum class Speaker { kAgent = 0, kCustomer = 1 };
inline constexpr int kSpeakerCount = 2;

// Who a rule listens to.
enum class SpeakerScope { kAgent, kCustomer, kAny };

// What a rule is for. kTracked records something for follow-up (promises);
// kCue is a signal about the customer's state that is not an alert by itself.
enum class RuleKind {
  kCorrective,
  kReinforcement,
  kEscalation,
  kReminder,
  kTracked,
  kCue,
};

enum class Severity { kInfo, kLow, kMedium, kHigh, kCritical };

// Parsing and printing of the enums as written in phrase lists ("agent",
// "corrective", "high", ...). Parse functions return nullopt for unknown text.
std::optional<Speaker> ParseSpeaker(absl::string_view text);
std::optional<SpeakerScope> ParseSpeakerScope(absl::string_view text);
std::optional<RuleKind> ParseRuleKind(absl::string_view text);
std::optional<Severity> ParseSeverity(absl::string_view text);
absl::string_view SpeakerName(Speaker speaker);
absl::string_view SpeakerScopeName(SpeakerScope scope);
absl::string_view RuleKindName(RuleKind kind);
absl::string_view SeverityName(Severity severity);

// `text` with every byte that is not part of a well-formed UTF-8 sequence
// replaced by U+FFFD, so evidence quoted from a transcript is always valid
// UTF-8 (protobuf strings and JSON require it).
std::string ValidUtf8(absl::string_view text);

// Call times (start_ms, end_ms, word timings) must lie in [0, kMaxCallTimeMs]:
// about 31 years, far beyond any call, small enough that no sum overflows.
inline constexpr int64_t kMaxCallTimeMs = int64_t{1} << 40;

// Timing of one word of a segment, relative to the call (not the segment).
struct WordTiming {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
};

// One speech-to-text hypothesis. STT engines resend the same segment_id with
// revised text until they send it with is_final set.
struct Segment {
  std::string segment_id;
  Speaker speaker = Speaker::kAgent;
  std::string text;
  bool is_final = true;
  std::optional<float> stability;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  // Optional; used to time a match to its first word when there is one timing
  // per whitespace-separated word of `text`.
  std::vector<WordTiming> words;
};

// Where a rule matched.
struct Evidence {
  Speaker speaker = Speaker::kAgent;
  // The segment in which the match ends.
  std::string segment_id;
  // Set when the match began in an earlier segment of the same speaker.
  std::string first_segment_id;
  // The words as spoken (original text, not normalized).
  std::string matched_text;
  // Byte offsets [span_begin, span_end) of the match within the text of
  // `segment_id` (UTF-8). For a cross-segment match span_begin is where the
  // part inside `segment_id` begins.
  uint32_t span_begin = 0;
  uint32_t span_end = 0;
  // Call time of the first matched word.
  int64_t offset_ms = 0;
};

enum class EventType { kNudge, kRetraction, kReminder };
absl::string_view EventTypeName(EventType type);

// Why an expectation was reported missed.
enum class MissedReason { kTime, kTurns, kEndOfCall };
absl::string_view MissedReasonName(MissedReason reason);

// A coaching event for one call. `seq` counts events of the call from 1 with no
// gaps (the report takes the next number).
struct Event {
  int64_t seq = 0;
  EventType type = EventType::kNudge;
  // The rule (or, for reminders, the expectation) behind the event.
  std::string rule_id;
  std::string category;
  RuleKind kind = RuleKind::kCorrective;
  Severity severity = Severity::kMedium;
  std::string title;
  std::string message;
  std::string suggestion;
  Evidence evidence;
  // True when a nudge fired on an interim hypothesis.
  bool interim = false;
  // Retractions: the seq of the nudge taken back.
  int64_t retracts_seq = 0;
  // Reminders: what opened the expectation, and when and why it was missed.
  std::string trigger_rule_id;
  std::string trigger_category;
  RuleKind trigger_kind = RuleKind::kCue;
  MissedReason missed_reason = MissedReason::kTime;
  int64_t due_ms = 0;
};

// One detection listed in the report (commitments, escalation cues).
struct ReportItem {
  std::string rule_id;
  std::string category;
  RuleKind kind = RuleKind::kCue;
  Evidence evidence;
};

// One step of the ASAP checklist (Acknowledge, Sympathize, Accept
// responsibility, Prepare to help).
struct ChecklistStep {
  std::string name;
  bool done = false;
  int64_t first_offset_ms = -1;  // -1 when not done
};

struct CallExpectationResult {
  std::string expectation_id;
  std::string category;
  std::string title;
  int required = 1;
  int count = 0;
  bool met = false;
};

struct MissedExpectation {
  std::string expectation_id;
  std::string category;
  std::string trigger_category;
  RuleKind trigger_kind = RuleKind::kCue;
  int64_t trigger_offset_ms = 0;
  MissedReason reason = MissedReason::kTime;
  int64_t reminder_seq = 0;
};

// How the 0-100 score was reached; see phrase_lists/README.md "Scoring".
struct ScoreBreakdown {
  int conduct_penalty = 0;
  int missed_expectation_penalty = 0;
  int asap_penalty = 0;
  int score = 100;
};

// The scorecard produced when a call ends. Counts are of detections in final
// text (what was said), whether or not a nudge was shown for each.
struct CallReport {
  int64_t seq = 0;
  std::string rule_set_version;
  // category -> speaker -> count.
  std::map<std::string, std::map<Speaker, int>> category_counts;
  // Nudges still standing at the end: emitted minus retracted.
  int nudges = 0;
  int retractions = 0;
  int reminders = 0;
  // Final segments accepted, including ones with no words.
  int segments = 0;
  // First customer escalation or frustration cue, and the agent's first
  // empathy after it; -1 when absent.
  int64_t first_cue_offset_ms = -1;
  int64_t first_empathy_after_cue_offset_ms = -1;
  int64_t empathy_latency_ms = -1;
  std::vector<ChecklistStep> asap;
  bool understanding_confirmed = false;
  std::vector<ReportItem> commitments;
  std::vector<ReportItem> escalation_cues;
  std::vector<MissedExpectation> missed_expectations;
  std::vector<CallExpectationResult> call_expectations;
  ScoreBreakdown score;
  // Times the RE2::Set ran out of DFA memory and the engine fell back to
  // matching rules one by one (no match was lost).
  int set_out_of_memory_fallbacks = 0;
};

}  // namespace coach::engine

#endif  // COACHD_ENGINE_TYPES_H_
