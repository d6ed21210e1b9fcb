#include "server/convert.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace coach::server {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

absl::StatusOr<engine::Segment> ToEngineSegment(const v1::TranscriptSegment& segment,
                                                absl::string_view field) {
  engine::Segment out;
  switch (segment.speaker()) {
    case v1::SPEAKER_AGENT:
      out.speaker = engine::Speaker::kAgent;
      break;
    case v1::SPEAKER_CUSTOMER:
      out.speaker = engine::Speaker::kCustomer;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".speaker must be SPEAKER_AGENT or SPEAKER_CUSTOMER, not ",
                       v1::Speaker_IsValid(segment.speaker())
                           ? v1::Speaker_Name(segment.speaker())
                           : absl::StrCat(static_cast<int>(segment.speaker()))));
  }
  if (segment.segment_id().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".segment_id is empty"));
  }
  out.segment_id = segment.segment_id();
  out.text = segment.text();
  out.is_final = segment.is_final();
  if (segment.has_stability()) out.stability = segment.stability();
  out.start_ms = segment.start_ms();
  out.end_ms = segment.end_ms();
  out.words.reserve(segment.words_size());
  for (const auto& word : segment.words()) {
    out.words.push_back(engine::WordTiming{word.start_ms(), word.end_ms()});
  }
  return out;
}

std::string EventId(absl::string_view call_id, int64_t seq) {
  return absl::StrCat(call_id, "/", seq);
}

v1::Speaker ToProto(engine::Speaker speaker) {
  return speaker == engine::Speaker::kAgent ? v1::SPEAKER_AGENT : v1::SPEAKER_CUSTOMER;
}

void ToProto(const engine::Segment& segment, v1::TranscriptSegment* out) {
  out->set_segment_id(segment.segment_id);
  out->set_speaker(ToProto(segment.speaker));
  out->set_text(segment.text);
  out->set_is_final(segment.is_final);
  if (segment.stability.has_value()) out->set_stability(*segment.stability);
  out->set_start_ms(segment.start_ms);
  out->set_end_ms(segment.end_ms);
  for (const engine::WordTiming& word : segment.words) {
    v1::TranscriptSegment::Word* w = out->add_words();
    w->set_start_ms(word.start_ms);
    w->set_end_ms(word.end_ms);
  }
}

v1::RuleKind ToProto(engine::RuleKind kind) {
  switch (kind) {
    case engine::RuleKind::kCorrective:
      return v1::RULE_KIND_CORRECTIVE;
    case engine::RuleKind::kReinforcement:
      return v1::RULE_KIND_REINFORCEMENT;
    case engine::RuleKind::kEscalation:
      return v1::RULE_KIND_ESCALATION;
    case engine::RuleKind::kReminder:
      return v1::RULE_KIND_REMINDER;
    case engine::RuleKind::kTracked:
      return v1::RULE_KIND_TRACKED;
    case engine::RuleKind::kCue:
      return v1::RULE_KIND_CUE;
  }
  return v1::RULE_KIND_UNSPECIFIED;
}

v1::Severity ToProto(engine::Severity severity) {
  switch (severity) {
    case engine::Severity::kInfo:
      return v1::SEVERITY_INFO;
    case engine::Severity::kLow:
      return v1::SEVERITY_LOW;
    case engine::Severity::kMedium:
      return v1::SEVERITY_MEDIUM;
    case engine::Severity::kHigh:
      return v1::SEVERITY_HIGH;
    case engine::Severity::kCritical:
      return v1::SEVERITY_CRITICAL;
  }
  return v1::SEVERITY_UNSPECIFIED;
}

v1::MissedReason ToProto(engine::MissedReason reason) {
  switch (reason) {
    case engine::MissedReason::kTime:
      return v1::MISSED_REASON_TIME;
    case engine::MissedReason::kTurns:
      return v1::MISSED_REASON_TURNS;
    case engine::MissedReason::kEndOfCall:
      return v1::MISSED_REASON_END_OF_CALL;
  }
  return v1::MISSED_REASON_UNSPECIFIED;
}

void ToProto(const engine::Evidence& evidence, v1::Evidence* out) {
  out->set_speaker(ToProto(evidence.speaker));
  out->set_segment_id(evidence.segment_id);
  out->set_first_segment_id(evidence.first_segment_id);
  out->set_matched_text(evidence.matched_text);
  out->set_span_begin(evidence.span_begin);
  out->set_span_end(evidence.span_end);
  out->set_offset_ms(evidence.offset_ms);
}

namespace {

void SetHeader(const CallIdentity& call, int64_t seq, absl::string_view rule_version,
               v1::CoachEvent* out) {
  out->set_call_id(call.call_id);
  out->set_agent_id(call.agent_id);
  out->set_tenant(call.tenant);
  out->set_seq(seq);
  out->set_event_id(EventId(call.call_id, seq));
  out->set_rule_version(std::string(rule_version));
}

// The rule fields every payload carries.
template <typename Payload>
void SetRule(const engine::Event& event, Payload* out) {
  out->set_rule_id(event.rule_id);
  out->set_category(event.category);
  out->set_kind(ToProto(event.kind));
  out->set_severity(ToProto(event.severity));
  out->set_title(event.title);
  out->set_message(event.message);
  out->set_suggestion(event.suggestion);
  ToProto(event.evidence, out->mutable_evidence());
}

void ToReportItem(const engine::ReportItem& item, v1::ReportItem* out) {
  out->set_rule_id(item.rule_id);
  out->set_category(item.category);
  out->set_kind(ToProto(item.kind));
  ToProto(item.evidence, out->mutable_evidence());
}

}  // namespace

void ToCoachEvent(const engine::Event& event, const CallIdentity& call,
                  absl::string_view rule_version, v1::CoachEvent* out) {
  SetHeader(call, event.seq, rule_version, out);
  switch (event.type) {
    case engine::EventType::kNudge: {
      v1::Nudge* nudge = out->mutable_nudge();
      SetRule(event, nudge);
      nudge->set_interim(event.interim);
      break;
    }
    case engine::EventType::kRetraction: {
      v1::Retraction* retraction = out->mutable_retraction();
      SetRule(event, retraction);
      retraction->set_retracted_seq(event.retracts_seq);
      retraction->set_retracted_event_id(EventId(call.call_id, event.retracts_seq));
      break;
    }
    case engine::EventType::kReminder: {
      v1::Reminder* reminder = out->mutable_reminder();
      SetRule(event, reminder);
      reminder->set_trigger_rule_id(event.trigger_rule_id);
      reminder->set_trigger_category(event.trigger_category);
      reminder->set_trigger_kind(ToProto(event.trigger_kind));
      reminder->set_missed_reason(ToProto(event.missed_reason));
      reminder->set_due_ms(event.due_ms);
      break;
    }
  }
}

void ToCallReport(const engine::CallReport& report, v1::CallReport* out) {
  out->set_rule_set_version(report.rule_set_version);
  out->set_score(report.score.score);
  v1::ScoreBreakdown* breakdown = out->mutable_breakdown();
  breakdown->set_conduct_penalty(report.score.conduct_penalty);
  breakdown->set_missed_expectation_penalty(report.score.missed_expectation_penalty);
  breakdown->set_asap_penalty(report.score.asap_penalty);
  breakdown->set_score(report.score.score);
  for (const engine::ChecklistStep& step : report.asap) {
    v1::ChecklistStep* s = out->add_asap();
    s->set_name(step.name);
    s->set_done(step.done);
    s->set_first_offset_ms(step.first_offset_ms);
  }
  out->set_understanding_confirmed(report.understanding_confirmed);
  for (const auto& [category, by_speaker] : report.category_counts) {
    v1::CategoryCount* count = out->add_category_counts();
    count->set_category(category);
    for (const auto& [speaker, n] : by_speaker) {
      if (speaker == engine::Speaker::kAgent) {
        count->set_agent(n);
      } else {
        count->set_customer(n);
      }
    }
  }
  out->set_nudges(report.nudges);
  out->set_retractions(report.retractions);
  out->set_reminders(report.reminders);
  out->set_segments(report.segments);
  out->set_first_cue_offset_ms(report.first_cue_offset_ms);
  out->set_first_empathy_after_cue_offset_ms(report.first_empathy_after_cue_offset_ms);
  out->set_empathy_latency_ms(report.empathy_latency_ms);
  for (const auto& item : report.commitments) ToReportItem(item, out->add_commitments());
  for (const auto& item : report.escalation_cues) ToReportItem(item, out->add_escalation_cues());
  for (const engine::MissedExpectation& missed : report.missed_expectations) {
    v1::MissedExpectation* m = out->add_missed_expectations();
    m->set_expectation_id(missed.expectation_id);
    m->set_category(missed.category);
    m->set_trigger_category(missed.trigger_category);
    m->set_trigger_kind(ToProto(missed.trigger_kind));
    m->set_trigger_offset_ms(missed.trigger_offset_ms);
    m->set_reason(ToProto(missed.reason));
    m->set_reminder_seq(missed.reminder_seq);
  }
  for (const engine::CallExpectationResult& result : report.call_expectations) {
    v1::CallExpectationResult* r = out->add_call_expectations();
    r->set_expectation_id(result.expectation_id);
    r->set_category(result.category);
    r->set_title(result.title);
    r->set_required(result.required);
    r->set_count(result.count);
    r->set_met(result.met);
  }
  out->set_set_out_of_memory_fallbacks(report.set_out_of_memory_fallbacks);
}

void ToReportEvent(const engine::CallReport& report, const CallIdentity& call,
                   v1::CoachEvent* out) {
  SetHeader(call, report.seq, report.rule_set_version, out);
  ToCallReport(report, out->mutable_report());
}

bool IsAlert(const engine::Event& event) {
  switch (event.type) {
    case engine::EventType::kNudge:
    case engine::EventType::kRetraction:
      return event.kind == engine::RuleKind::kEscalation;
    case engine::EventType::kReminder:
      return event.trigger_kind == engine::RuleKind::kEscalation;
  }
  return false;
}

}  // namespace coach::server
