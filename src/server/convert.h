// File: server/convert.h
//
// Translation between the public API (proto/coach/v1/coach.proto) and the
// engine's plain types, plus the one absl -> gRPC status helper. Nothing here
// decides anything: limits, auth and call state live in the callers.
//
//   absl::StatusOr<engine::Segment> segment = ToEngineSegment(proto_segment);
//   v1::CoachEvent event;
//   ToCoachEvent(engine_event, identity, rule_version, &event);
//
// Stateless and thread-safe.

#ifndef COACHD_SERVER_CONVERT_H_
#define COACHD_SERVER_CONVERT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "coach/v1/coach.pb.h"
#include "engine/types.h"
#include "grpcpp/support/status.h"

namespace coach::server {

// Who a call's events belong to; copied into every CoachEvent.
struct CallIdentity {
  std::string call_id;
  std::string agent_id;
  std::string tenant;
};

// Same code, same message (absl and gRPC codes are numerically equal).
grpc::Status ToGrpcStatus(const absl::Status& status);

// INVALID_ARGUMENT naming the field for SPEAKER_UNSPECIFIED/unknown speakers
// and an empty segment_id; `field` prefixes the field names in messages
// (e.g. "segment" or "segments[3]").
absl::StatusOr<engine::Segment> ToEngineSegment(const v1::TranscriptSegment& segment,
                                                absl::string_view field = "segment");

// "<call_id>/<seq>".
std::string EventId(absl::string_view call_id, int64_t seq);

// Fills a nudge, retraction or reminder CoachEvent.
void ToCoachEvent(const engine::Event& event, const CallIdentity& call,
                  absl::string_view rule_version, v1::CoachEvent* out);

// Fills the report CoachEvent (seq = report.seq).
void ToReportEvent(const engine::CallReport& report, const CallIdentity& call,
                   v1::CoachEvent* out);
void ToCallReport(const engine::CallReport& report, v1::CallReport* out);

// True for events a supervisor's WatchAlerts gets: nudges and retractions of
// escalation-kind rules, and reminders of expectations an escalation opened.
bool IsAlert(const engine::Event& event);

v1::Speaker ToProto(engine::Speaker speaker);
v1::RuleKind ToProto(engine::RuleKind kind);
v1::Severity ToProto(engine::Severity severity);
v1::MissedReason ToProto(engine::MissedReason reason);
void ToProto(const engine::Evidence& evidence, v1::Evidence* out);
// The reverse of ToEngineSegment (for clients that send recorded segments).
void ToProto(const engine::Segment& segment, v1::TranscriptSegment* out);

}  // namespace coach::server

#endif  // COACHD_SERVER_CONVERT_H_
