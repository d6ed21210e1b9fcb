// File: cli/replay_output.h
//
// What `coachctl replay` produces for each call, and its two text forms:
//
//   JSON Lines (--json): one CoachEvent per line, exactly as coachd streams
//   it (proto3 JSON, snake_case field names, int64 as strings, enums by
//   name): every nudge, retraction and reminder in seq order, then the
//   call's report event. See WriteJsonLines().
//
//   The summary table (default): one row per call, then an aggregate over
//   all calls. See ReplaySummary.
//
// The events are the proto CoachEvents whether the call ran in-process or
// through coachd's ReviewCall, so every output is the same in both modes.
// Pure functions; ReplaySummary is not thread-safe (one per replay).

#ifndef COACHD_CLI_REPLAY_OUTPUT_H_
#define COACHD_CLI_REPLAY_OUTPUT_H_

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "coach/v1/coach.pb.h"
#include "transcripts/jsonl_reader.h"

namespace coach::cli {

// One replayed call.
struct ReplayedCall {
  std::string source;  // the transcript file it came from
  transcripts::RecordedCall call;
  // Every event in seq order, the report event last; empty when failed.
  std::vector<v1::CoachEvent> events;
  // Why the call could not be replayed ("" when it was).
  std::string error;

  bool ok() const { return error.empty() && !events.empty() && events.back().has_report(); }
  // The scorecard; only when ok().
  const v1::CallReport& report() const { return events.back().report(); }
};

// One CoachEvent as one line of JSON (no newline): proto3 JSON mapping with
// preserve_proto_field_names.
std::string JsonLine(const v1::CoachEvent& event);

// Every event of the call, then its report, one JSON object per line.
// Nothing for a failed call.
void WriteJsonLines(const ReplayedCall& call, std::ostream& out);

// Nudges standing at the end of the call (emitted and not retracted), by
// rule kind, keyed by the kind's short name ("corrective", ...).
std::map<std::string, int> StandingNudgesByKind(const ReplayedCall& call);

// "corrective" for RULE_KIND_CORRECTIVE, and so on.
std::string KindName(v1::RuleKind kind);

// The default output: a table row per call as calls are added, and the
// aggregate at the end.
class ReplaySummary {
 public:
  // The column titles.
  static std::string Header();
  // Adds a call to the aggregate and returns its row (with a newline).
  std::string Add(const ReplayedCall& call);
  // Calls, failures, mean score, nudges per kind, reminders, missed
  // expectations, commitments, and detections per category and speaker.
  std::string Aggregate() const;

  int calls() const { return calls_; }
  int failed() const { return failed_; }

 private:
  int calls_ = 0;
  int failed_ = 0;
  int64_t score_sum_ = 0;
  int64_t segments_ = 0;
  int64_t reminders_ = 0;
  int64_t missed_ = 0;
  int64_t commitments_ = 0;
  std::map<std::string, int64_t> nudges_by_kind_;
  // category -> {agent, customer}
  std::map<std::string, std::pair<int64_t, int64_t>> categories_;
};

}  // namespace coach::cli

#endif  // COACHD_CLI_REPLAY_OUTPUT_H_
