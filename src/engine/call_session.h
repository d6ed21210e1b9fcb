// File: engine/call_session.h
//
// A CallSession scores one call. Feed it the call's segments in arrival order
// with ProcessSegment(); each call appends the events it produces (nudges,
// retractions, reminders). Finish() ends the call: it finalizes any segment
// still open, reports expectations still pending, and returns the scorecard.
//
//   auto rules = RuleSet::Compile(spec);            // shared, immutable
//   CallSession session(*rules);
//   std::vector<Event> events;
//   session.ProcessSegment(segment, &events);        // as segments arrive
//   absl::StatusOr<CallReport> report = session.Finish(&events);
//
// Semantics (phrase_lists/README.md documents them for authors):
//   - Matching runs per speaker over a window made of the tail of that
//     speaker's previous final segments plus the current text, so a phrase
//     split across segments still matches. A match counts once: matches lying
//     wholly inside the carried tail were already handled.
//   - Interim hypotheses (is_final false) fire nudges under
//     InterimPolicy::kInterim; an occurrence fires once however often the
//     hypothesis is revised, and is retracted if the final text lacks it.
//     A new segment_id from the same speaker finalizes the open one with its
//     last text.
//   - Detections, cooldowns and expectations use call time from the
//     transcript, never the wall clock: same input, same events.
//
// Thread safety: a CallSession is not thread-safe; use one per call from one
// thread at a time. It keeps the RuleSet it was created with alive, so a
// reload never changes the rules a running call is scored by. Errors leave the
// session unchanged and usable.

#ifndef COACHD_ENGINE_CALL_SESSION_H_
#define COACHD_ENGINE_CALL_SESSION_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/normalizer.h"
#include "engine/rule_set.h"
#include "engine/types.h"

namespace coach::engine {

enum class InterimPolicy {
  kFinalOnly,  // match final text only
  kInterim,    // also fire as soon as a phrase shows in an interim hypothesis
};

// Categories the scorecard looks for. The defaults are the bundled taxonomy.
struct ReportCategories {
  std::string empathy = "empathy";
  std::string apology = "apology";
  std::string ownership = "ownership";
  std::vector<std::string> prepare_to_help = {"assurance", "next_steps"};
  std::string confirm_understanding = "confirm_understanding";
  std::string commitment = "commitment";
};

struct SessionOptions {
  InterimPolicy interim_policy = InterimPolicy::kInterim;
  // Interim hypotheses whose stability is given and below this never fire.
  float min_interim_stability = 0.0f;
  // How many words of a speaker's previous final text stay in the window.
  // Clamped to [0, kMaxCarryWords]: the window is matched at every segment,
  // so an unbounded carry would make a long call's cost grow with its length.
  int carry_words = 12;
  static constexpr int kMaxCarryWords = 64;
  // A pause longer than this (segment start minus previous end of the same
  // speaker) ends the carry-over, so unrelated sentences never join.
  int64_t carry_max_gap_ms = 5000;
  // How many recent final segment ids (per call, keyed by speaker and id) are
  // remembered to reject re-sends.
  int remembered_final_ids = 64;
  // Longest segment text accepted, in bytes; longer text is kInvalidArgument.
  // Bounds the work one segment can cause.
  size_t max_segment_bytes = 64 * 1024;
  ReportCategories categories;
};

// Points taken off the 100 of a call score; see phrase_lists/README.md.
int SeverityPenalty(Severity severity);

class CallSession {
 public:
  explicit CallSession(std::shared_ptr<const RuleSet> rules, SessionOptions options = {});
  CallSession(const CallSession&) = delete;
  CallSession& operator=(const CallSession&) = delete;

  // Processes one hypothesis and appends the resulting events. Errors:
  //   kInvalidArgument     empty segment_id, unknown speaker, text longer than
  //                        max_segment_bytes, or a time outside [0, kMaxCallTimeMs];
  //   kFailedPrecondition  the call has finished, or this speaker's segment_id
  //                        is already final.
  absl::Status ProcessSegment(const Segment& segment, std::vector<Event>* events);

  // Ends the call; appends the last events (reminders) and returns the report,
  // whose seq follows the last event. kFailedPrecondition if called twice.
  absl::StatusOr<CallReport> Finish(std::vector<Event>* events);

  const RuleSet& rule_set() const { return *rules_; }
  bool finished() const { return finished_; }

 private:
  struct WindowToken {
    uint32_t norm_begin = 0;
    uint32_t norm_end = 0;
    uint32_t piece = 0;  // index into the window's pieces
    uint32_t source_begin = 0;
    uint32_t source_end = 0;
    int64_t offset_ms = 0;
  };
  // Original text of a segment whose words are in the window.
  struct Piece {
    std::string segment_id;
    std::string text;
  };
  struct Occurrence {
    int rule = 0;
    uint32_t nth = 0;  // per rule, within the segment
    MatchSpan span;
  };
  struct RuleState {
    int nudges = 0;
    bool has_last = false;
    int64_t last_nudge_ms = 0;
    int64_t last_nudge_seq = 0;
  };
  struct FiredNudge {
    int rule = 0;
    uint32_t nth = 0;
    int64_t seq = 0;
    Evidence evidence;
    // The rule's state before this nudge, restored if it is retracted so a
    // retracted nudge does not hold a cooldown.
    RuleState before;
  };
  // An occurrence already reported, in carry-text coordinates.
  struct ReportedSpan {
    int rule = 0;
    MatchSpan span;
  };
  struct SpeakerState {
    // Tail of the previous final text, in NormalizedText form, and its words.
    std::string carry_text = " ";
    std::vector<WindowToken> carry_tokens;
    std::vector<Piece> carry_pieces;
    // Occurrences reported on earlier finals that overlap the carried tail: a
    // longer match of the same rule that extends one of them into the new
    // text is the same occurrence, not a new one.
    std::vector<ReportedSpan> carry_reported;
    int64_t carry_end_ms = 0;
    // The hypothesis being revised, if any, and the nudges it fired.
    bool open = false;
    uint64_t open_order = 0;
    Segment open_segment;
    std::vector<FiredNudge> fired;
  };
  struct OpenExpectation {
    int expectation = 0;
    int64_t trigger_ms = 0;
    int agent_turns = 0;
    ReportItem trigger;
  };

  absl::Status ProcessFinal(const Segment& segment, std::vector<Event>* events);
  absl::Status FinalizeOpen(Speaker speaker, std::vector<Event>* events);
  // Builds window_ from the speaker's carry and `segment`, then finds every
  // occurrence that ends after the carry.
  absl::Status Match(const Segment& segment);
  Evidence MakeEvidence(Speaker speaker, const MatchSpan& span) const;
  void UpdateCarry(Speaker speaker, const Segment& segment);
  int64_t TryNudge(int rule, const Evidence& evidence, bool interim, std::vector<Event>* events);
  void RecordDetection(int rule, const Evidence& evidence, std::vector<Event>* events);
  void ReportMissed(size_t open_index, MissedReason reason, int64_t due_ms,
                    std::vector<Event>* events);
  void CheckTimeDeadlines(int64_t now_ms, std::vector<Event>* events);
  void StartOfTurn(Speaker speaker, std::vector<Event>* events);
  bool IsRecentFinal(Speaker speaker, absl::string_view segment_id) const;
  static absl::Status ValidateSegment(const Segment& segment, const SessionOptions& options);
  Event NewEvent(EventType type);

  std::shared_ptr<const RuleSet> rules_;
  SessionOptions options_;
  bool finished_ = false;
  int64_t next_seq_ = 1;
  uint64_t next_open_order_ = 0;
  int64_t last_time_ms_ = 0;
  std::optional<Speaker> last_final_speaker_;
  SpeakerState speakers_[kSpeakerCount];
  // State of the rules with a cooldown or max_per_call that nudged in this
  // call; rules without limits need none.
  absl::flat_hash_map<int, RuleState> rule_states_;
  std::vector<OpenExpectation> open_expectations_;
  std::deque<std::pair<Speaker, std::string>> recent_final_ids_;
  int conduct_points_ = 0;
  CallReport report_;

  // Scratch reused across segments to avoid per-segment allocation.
  NormalizedText normalized_;
  std::string window_text_;
  std::vector<WindowToken> window_tokens_;
  // Views into the speaker's carry_pieces and the current segment; valid only
  // while one segment is processed.
  struct PieceRef {
    absl::string_view segment_id;
    absl::string_view text;
  };
  std::vector<PieceRef> window_pieces_;
  uint32_t window_carry_end_ = 0;
  bool window_has_carry_ = false;
  std::vector<uint32_t> word_starts_;
  std::vector<int> set_hits_;
  std::vector<std::pair<int, RulePart>> candidates_;
  std::vector<MatchSpan> spans_;
  std::vector<Occurrence> occurrences_;
};

}  // namespace coach::engine

#endif  // COACHD_ENGINE_CALL_SESSION_H_
