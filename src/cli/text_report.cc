#include "cli/text_report.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace coach::cli {

using engine::CallReport;
using engine::Event;
using engine::EventType;

std::string FormatOffset(int64_t offset_ms) {
  if (offset_ms < 0) return "--:--.-";
  return absl::StrFormat("%02d:%02d.%d", offset_ms / 60000, (offset_ms / 1000) % 60,
                         (offset_ms / 100) % 10);
}

std::string FormatEvent(const Event& event) {
  const std::string when = FormatOffset(event.evidence.offset_ms);
  const std::string who = std::string(engine::SpeakerName(event.evidence.speaker));
  switch (event.type) {
    case EventType::kRetraction:
      return absl::StrFormat("#%-3d %s %-8s RETRACTED  #%d %s (\"%s\" was revised away)\n",
                             event.seq, when, who, event.retracts_seq, event.rule_id,
                             event.evidence.matched_text);
    case EventType::kReminder:
      return absl::StrFormat(
          "#%-3d %s %-8s REMINDER      %-22s %s\n"
          "                          missed after %s \"%s\" (%s)\n"
          "                          %s\n%s",
          event.seq, FormatOffset(event.due_ms), "agent", event.category, event.title,
          event.trigger_category, event.evidence.matched_text,
          engine::MissedReasonName(event.missed_reason), event.message,
          event.suggestion.empty()
              ? ""
              : absl::StrCat("                          try: \"", event.suggestion, "\"\n"));
    case EventType::kNudge:
      break;
  }
  return absl::StrFormat(
      "#%-3d %s %-8s %-13s %-22s %s%s\n"
      "                          \"%s\"  [%s]\n"
      "                          %s\n%s",
      event.seq, when, who, absl::AsciiStrToUpper(engine::RuleKindName(event.kind)),
      event.category, event.title, event.interim ? " (interim)" : "", event.evidence.matched_text,
      event.rule_id, event.message,
      event.suggestion.empty()
          ? ""
          : absl::StrCat("                          try: \"", event.suggestion, "\"\n"));
}

std::string FormatReport(const CallReport& report) {
  std::string out;
  const auto& s = report.score;
  absl::StrAppendFormat(&out, "Scorecard (rule set %s, %d segments)\n", report.rule_set_version,
                        report.segments);
  absl::StrAppendFormat(&out,
                        "  score            %d/100  (conduct -%d, missed expectations -%d, "
                        "ASAP -%d)\n",
                        s.score, s.conduct_penalty, s.missed_expectation_penalty, s.asap_penalty);
  absl::StrAppendFormat(&out, "  events           %d nudges, %d retractions, %d reminders\n",
                        report.nudges, report.retractions, report.reminders);
  std::vector<std::string> steps;
  for (const auto& step : report.asap) {
    steps.push_back(absl::StrCat(step.done ? "[x] " : "[ ] ", step.name,
                                 step.done ? absl::StrCat(" ", FormatOffset(step.first_offset_ms))
                                           : ""));
  }
  absl::StrAppend(&out, "  ASAP             ", absl::StrJoin(steps, "  "), "\n");
  absl::StrAppend(&out, "  empathy latency  ",
                  report.empathy_latency_ms < 0
                      ? (report.first_cue_offset_ms < 0 ? std::string("n/a (no customer cue)")
                                                        : std::string("no empathy after the cue"))
                      : absl::StrFormat("%.1f s (cue %s, empathy %s)",
                                        report.empathy_latency_ms / 1000.0,
                                        FormatOffset(report.first_cue_offset_ms),
                                        FormatOffset(report.first_empathy_after_cue_offset_ms)),
                  "\n");
  absl::StrAppend(&out, "  understanding    ",
                  report.understanding_confirmed ? "confirmed" : "not confirmed", "\n");
  absl::StrAppend(&out, "  counts          ");
  for (const auto& [category, by_speaker] : report.category_counts) {
    for (const auto& [speaker, count] : by_speaker) {
      absl::StrAppend(&out, " ", category, "(", engine::SpeakerName(speaker), ")=", count);
    }
  }
  absl::StrAppend(&out, "\n");
  for (const auto& item : report.escalation_cues) {
    absl::StrAppendFormat(&out, "  escalation cue   %s %-18s \"%s\"\n",
                          FormatOffset(item.evidence.offset_ms), item.category,
                          item.evidence.matched_text);
  }
  for (const auto& item : report.commitments) {
    absl::StrAppendFormat(&out, "  commitment       %s \"%s\"  (follow up)\n",
                          FormatOffset(item.evidence.offset_ms), item.evidence.matched_text);
  }
  for (const auto& missed : report.missed_expectations) {
    absl::StrAppendFormat(&out, "  missed           %s after %s at %s (%s)\n", missed.category,
                          missed.trigger_category, FormatOffset(missed.trigger_offset_ms),
                          engine::MissedReasonName(missed.reason));
  }
  for (const auto& result : report.call_expectations) {
    absl::StrAppendFormat(&out, "  end of call      %s %s (%d of %d)\n", result.met ? "[x]" : "[ ]",
                          result.title, result.count, result.required);
  }
  if (report.set_out_of_memory_fallbacks > 0) {
    absl::StrAppendFormat(&out, "  warning          RE2::Set ran out of DFA memory %d times; "
                                "rules were matched one by one\n",
                          report.set_out_of_memory_fallbacks);
  }
  return out;
}

}  // namespace coach::cli
