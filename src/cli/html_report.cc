#include "cli/html_report.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "cli/text_report.h"
#include "engine/types.h"

namespace coach::cli {
namespace {

constexpr char kStyle[] = R"css(
:root{--agent:#1d4ed8;--customer:#7c2d12;--bad:#b91c1c;--good:#15803d;--warn:#b45309;
--muted:#6b7280;--line:#e5e7eb}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111827;
background:#f9fafb}
header{padding:16px 24px;background:#111827;color:#f9fafb}
header a{color:#93c5fd}
header h1{margin:4px 0;font-size:20px}
header .meta{margin:0;color:#d1d5db;font-size:13px}
main.layout{display:grid;grid-template-columns:minmax(0,1fr) 380px;gap:20px;padding:20px 24px}
main.index{padding:20px 24px}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:14px 16px}
h2{font-size:16px;margin:0 0 10px}
h3{font-size:13px;margin:14px 0 6px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
.side{display:flex;flex-direction:column;gap:20px}
ol.timeline{list-style:none;margin:0;padding:0}
li.turn{margin:10px 0;max-width:78%;padding:8px 12px;border-radius:10px;border:1px solid var(--line)}
li.turn.agent{background:#eff6ff;border-color:#bfdbfe;margin-right:auto}
li.turn.customer{background:#fff7ed;border-color:#fed7aa;margin-left:auto}
.who{font-size:12px;font-weight:600;color:var(--muted)}
li.agent .who{color:var(--agent)}
li.customer .who{color:var(--customer)}
time{font-variant-numeric:tabular-nums;color:var(--muted);font-weight:400;margin-left:6px}
p.text{margin:4px 0 0}
mark{border-radius:3px;padding:0 2px}
mark.k-corrective{background:#fecaca}
mark.k-escalation{background:#fdba74}
mark.k-cue{background:#fde68a}
mark.k-reinforcement{background:#bbf7d0}
mark.k-tracked{background:#bfdbfe}
aside.nudge{margin:8px 0 2px;padding:8px 10px;border-left:4px solid var(--muted);background:#fff;
border-radius:4px;font-size:13px}
aside.corrective{border-color:var(--bad)}
aside.escalation{border-color:#ea580c}
aside.cue{border-color:#ca8a04}
aside.reinforcement{border-color:var(--good)}
aside.tracked{border-color:var(--agent)}
aside.reminder{border-color:#7c3aed;max-width:78%}
aside.retracted{opacity:.6}
aside.retracted strong,aside.retracted p.message{text-decoration:line-through}
.badge{display:inline-block;font-size:11px;text-transform:uppercase;letter-spacing:.04em;
padding:0 6px;border-radius:8px;background:#f3f4f6;color:#374151;margin-right:6px}
aside p{margin:3px 0}
p.suggestion{color:var(--good)}
p.suggestion q{font-style:italic}
p.rule{color:var(--muted);font-size:12px}
li.reminder-row{list-style:none;margin:10px 0}
.score{font-size:40px;font-weight:700;line-height:1}
.score small{font-size:16px;color:var(--muted);font-weight:400}
.good{color:var(--good)}.fair{color:var(--warn)}.poor{color:var(--bad)}
table{border-collapse:collapse;width:100%}
td,th{padding:3px 6px;text-align:left;border-bottom:1px solid var(--line);font-size:13px}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
ol.asap{list-style:none;margin:0;padding:0}
ol.asap li{padding:3px 0}
ol.asap .check{display:inline-block;width:20px;font-weight:700}
ol.asap li.done .check{color:var(--good)}
ol.asap li.todo .check{color:var(--bad)}
ul.items{margin:0;padding-left:18px}
.error{color:var(--bad);font-weight:600}
svg text{font:11px system-ui,sans-serif;fill:#374151}
)css";

std::string Page(absl::string_view title, absl::string_view header_html, absl::string_view body) {
  return absl::StrCat("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
                      "<meta name=\"viewport\" content=\"width=device-width, "
                      "initial-scale=1\">\n",
                      "<title>", title, "</title>\n<style>", kStyle, "</style>\n</head>\n<body>\n",
                      "<header>", header_html, "</header>\n", body, "</body>\n</html>\n");
}

// Call time on the page; an unknown time reads "--:--".
std::string Time(int64_t offset_ms) { return offset_ms < 0 ? "--:--" : FormatOffset(offset_ms); }

std::string TimeTag(int64_t offset_ms) {
  return absl::StrCat("<time>", Time(offset_ms), "</time>");
}

// "-13", or "0" for no penalty.
std::string Penalty(int points) { return points == 0 ? "0" : absl::StrCat("-", points); }

// "accept_responsibility" -> "Accept responsibility".
std::string StepLabel(absl::string_view name) {
  std::string label = absl::StrReplaceAll(name, {{"_", " "}});
  if (!label.empty()) label[0] = absl::ascii_toupper(static_cast<unsigned char>(label[0]));
  return label;
}

std::string ScoreClass(int score) { return score >= 90 ? "good" : score >= 70 ? "fair" : "poor"; }

const char* SpeakerClass(v1::Speaker speaker) {
  return speaker == v1::SPEAKER_CUSTOMER ? "customer" : "agent";
}

// The rule fields every payload has, read the same way for nudges,
// retractions and reminders.
struct RuleView {
  std::string rule_id, category, title, message, suggestion;
  v1::RuleKind kind = v1::RULE_KIND_UNSPECIFIED;
  v1::Severity severity = v1::SEVERITY_UNSPECIFIED;
  const v1::Evidence* evidence = nullptr;
};
template <typename Payload>
RuleView ViewOf(const Payload& p) {
  return RuleView{p.rule_id(),    p.category(), p.title(),    p.message(),
                  p.suggestion(), p.kind(),     p.severity(), &p.evidence()};
}

// One turn of the conversation: a segment's last (final) text.
struct Turn {
  v1::Speaker speaker = v1::SPEAKER_AGENT;
  std::string segment_id;
  std::string text;
  int64_t start_ms = 0;
  std::vector<const v1::CoachEvent*> nudges;  // nudges whose evidence ends here
  std::vector<const v1::CoachEvent*> due;     // reminders due after this turn began
};

std::vector<Turn> Turns(const transcripts::RecordedCall& call) {
  std::vector<Turn> turns;
  std::map<std::pair<int, std::string>, size_t> index;
  for (const engine::Segment& segment : call.segments) {
    const v1::Speaker speaker =
        segment.speaker == engine::Speaker::kCustomer ? v1::SPEAKER_CUSTOMER : v1::SPEAKER_AGENT;
    auto [it, inserted] =
        index.emplace(std::make_pair(static_cast<int>(speaker), segment.segment_id), turns.size());
    if (inserted) turns.push_back(Turn{speaker, segment.segment_id, "", segment.start_ms, {}, {}});
    turns[it->second].text = segment.text;  // a revision replaces the hypothesis
  }
  return turns;
}

// Where the evidence lies in the turn's final text, or nullopt when the final
// text no longer has it (a nudge on an interim hypothesis that was revised).
std::optional<std::pair<size_t, size_t>> SpanIn(const std::string& text,
                                                const v1::Evidence& evidence) {
  const size_t begin = evidence.span_begin();
  const size_t end = evidence.span_end();
  const std::string& matched = evidence.matched_text();
  if (begin < end && end <= text.size()) {
    const absl::string_view part = absl::string_view(text).substr(begin, end - begin);
    // A cross-segment match quotes words of an earlier segment first.
    if (absl::string_view(matched).size() >= part.size() &&
        absl::string_view(matched).substr(matched.size() - part.size()) == part) {
      return std::make_pair(begin, end);
    }
  }
  if (!matched.empty()) {
    if (size_t at = text.find(matched); at != std::string::npos) {
      return std::make_pair(at, at + matched.size());
    }
  }
  return std::nullopt;
}

// Highlight order when marks overlap: the more urgent kind colors the mark.
int Urgency(v1::RuleKind kind) {
  switch (kind) {
    case v1::RULE_KIND_ESCALATION:
      return 5;
    case v1::RULE_KIND_CORRECTIVE:
      return 4;
    case v1::RULE_KIND_CUE:
      return 3;
    case v1::RULE_KIND_REINFORCEMENT:
      return 2;
    default:
      return 1;
  }
}

// The turn's text with the standing nudges' matched words in <mark>.
std::string MarkedText(const Turn& turn, const std::set<int64_t>& retracted) {
  struct Span {
    size_t begin, end;
    v1::RuleKind kind;
    std::vector<std::string> labels;
  };
  std::vector<Span> spans;
  for (const v1::CoachEvent* event : turn.nudges) {
    if (retracted.count(event->seq()) > 0) continue;
    const v1::Nudge& nudge = event->nudge();
    if (auto span = SpanIn(turn.text, nudge.evidence()); span.has_value()) {
      spans.push_back(Span{span->first,
                           span->second,
                           nudge.kind(),
                           {absl::StrCat("#", event->seq(), " ", nudge.rule_id())}});
    }
  }
  std::sort(spans.begin(), spans.end(),
            [](const Span& a, const Span& b) { return a.begin < b.begin; });
  std::vector<Span> merged;
  for (Span& span : spans) {
    if (!merged.empty() && span.begin < merged.back().end) {
      Span& last = merged.back();
      last.end = std::max(last.end, span.end);
      if (Urgency(span.kind) > Urgency(last.kind)) last.kind = span.kind;
      last.labels.insert(last.labels.end(), span.labels.begin(), span.labels.end());
    } else {
      merged.push_back(std::move(span));
    }
  }
  std::string out;
  size_t at = 0;
  const absl::string_view text = turn.text;
  for (const Span& span : merged) {
    absl::StrAppend(&out, EscapeHtml(text.substr(at, span.begin - at)), "<mark class=\"k-",
                    KindName(span.kind), "\" title=\"",
                    EscapeHtml(absl::StrJoin(span.labels, ", ")), "\">",
                    EscapeHtml(text.substr(span.begin, span.end - span.begin)), "</mark>");
    at = span.end;
  }
  absl::StrAppend(&out, EscapeHtml(text.substr(at)));
  return out;
}

std::string Suggestion(absl::string_view suggestion) {
  if (suggestion.empty()) return "";
  return absl::StrCat("<p class=\"suggestion\">Try: <q>", EscapeHtml(suggestion), "</q></p>");
}

std::string NudgeCard(const v1::CoachEvent& event, const std::map<int64_t, int64_t>& retracted_by) {
  const RuleView rule = ViewOf(event.nudge());
  const auto retraction = retracted_by.find(event.seq());
  const bool retracted = retraction != retracted_by.end();
  std::string out =
      absl::StrCat("<aside class=\"nudge ", KindName(rule.kind), retracted ? " retracted" : "",
                   "\" id=\"event-", event.seq(), "\"><span class=\"badge\">", KindName(rule.kind),
                   "</span><span class=\"badge\">", EscapeHtml(rule.category), "</span><strong>",
                   EscapeHtml(rule.title), "</strong>", event.nudge().interim() ? " (interim)" : "",
                   "<p class=\"message\">", EscapeHtml(rule.message), "</p>",
                   Suggestion(rule.suggestion), "<p class=\"rule\">#", event.seq(), " ",
                   EscapeHtml(rule.rule_id), " &middot; ", TimeTag(rule.evidence->offset_ms()),
                   " &middot; &ldquo;", EscapeHtml(rule.evidence->matched_text()), "&rdquo;</p>");
  if (retracted) {
    absl::StrAppend(&out, "<p class=\"rule\">Retracted by #", retraction->second,
                    ": the final text no longer says it.</p>");
  }
  absl::StrAppend(&out, "</aside>");
  return out;
}

std::string ReminderCard(const v1::CoachEvent& event) {
  const v1::Reminder& reminder = event.reminder();
  const RuleView rule = ViewOf(reminder);
  return absl::StrCat("<li class=\"reminder-row\"><aside class=\"nudge reminder\" id=\"event-",
                      event.seq(), "\"><span class=\"badge\">reminder</span><span class=\"badge\">",
                      EscapeHtml(rule.category), "</span><strong>", EscapeHtml(rule.title),
                      "</strong> ", TimeTag(reminder.due_ms()), "<p class=\"message\">",
                      EscapeHtml(rule.message), "</p>", Suggestion(rule.suggestion),
                      "<p class=\"rule\">#", event.seq(), " ", EscapeHtml(rule.rule_id),
                      ": missed after ", EscapeHtml(reminder.trigger_category()), " &ldquo;",
                      EscapeHtml(rule.evidence->matched_text()), "&rdquo; at ",
                      TimeTag(rule.evidence->offset_ms()), "</p></aside></li>\n");
}

std::string Timeline(const ReplayedCall& call) {
  std::vector<Turn> turns = Turns(call.call);
  std::map<std::pair<int, std::string>, size_t> by_id;
  for (size_t i = 0; i < turns.size(); ++i) {
    by_id[{static_cast<int>(turns[i].speaker), turns[i].segment_id}] = i;
  }
  std::set<int64_t> retracted;
  std::map<int64_t, int64_t> retracted_by;
  for (const v1::CoachEvent& event : call.events) {
    if (event.has_retraction()) {
      retracted.insert(event.retraction().retracted_seq());
      retracted_by[event.retraction().retracted_seq()] = event.seq();
    }
  }
  std::vector<const v1::CoachEvent*> early_reminders;  // due before the first turn
  std::vector<const v1::CoachEvent*> unplaced;
  for (const v1::CoachEvent& event : call.events) {
    if (event.has_nudge()) {
      const v1::Evidence& evidence = event.nudge().evidence();
      const auto it = by_id.find({static_cast<int>(evidence.speaker()), evidence.segment_id()});
      if (it == by_id.end()) {
        unplaced.push_back(&event);
      } else {
        turns[it->second].nudges.push_back(&event);
      }
    } else if (event.has_reminder()) {
      // After the last turn that began by the time it fell due.
      const int64_t due = event.reminder().due_ms();
      size_t place = turns.size();
      for (size_t i = 0; i < turns.size(); ++i) {
        if (turns[i].start_ms <= due) place = i;
      }
      if (place == turns.size()) {
        early_reminders.push_back(&event);
      } else {
        turns[place].due.push_back(&event);
      }
    }
  }
  std::string out =
      "<section id=\"timeline\"><h2>Conversation</h2>\n<ol "
      "class=\"timeline\">\n";
  for (const v1::CoachEvent* event : early_reminders) absl::StrAppend(&out, ReminderCard(*event));
  for (const Turn& turn : turns) {
    const char* who = SpeakerClass(turn.speaker);
    absl::StrAppend(
        &out, "<li class=\"turn ", who, "\" id=\"seg-", EscapeHtml(turn.segment_id),
        "\"><div class=\"who\">", turn.speaker == v1::SPEAKER_CUSTOMER ? "Customer" : "Agent",
        TimeTag(turn.start_ms), "</div><p class=\"text\">", MarkedText(turn, retracted), "</p>");
    for (const v1::CoachEvent* event : turn.nudges) {
      absl::StrAppend(&out, NudgeCard(*event, retracted_by));
    }
    absl::StrAppend(&out, "</li>\n");
    for (const v1::CoachEvent* event : turn.due) absl::StrAppend(&out, ReminderCard(*event));
  }
  for (const v1::CoachEvent* event : unplaced) {
    absl::StrAppend(&out, "<li class=\"reminder-row\">", NudgeCard(*event, retracted_by),
                    "</li>\n");
  }
  absl::StrAppend(&out, "</ol></section>\n");
  return out;
}

std::string Scorecard(const v1::CallReport& report) {
  const int score = report.score();
  std::string out = absl::StrCat(
      "<section id=\"scorecard\"><h2>Scorecard</h2><div class=\"score ", ScoreClass(score), "\">",
      score, "<small>/100</small></div>\n<table class=\"breakdown\">",
      "<tr><td>Conduct</td><td class=\"n\">", Penalty(report.breakdown().conduct_penalty()),
      "</td></tr><tr><td>Missed expectations</td><td class=\"n\">",
      Penalty(report.breakdown().missed_expectation_penalty()),
      "</td></tr><tr><td>ASAP</td><td class=\"n\">", Penalty(report.breakdown().asap_penalty()),
      "</td></tr></table>\n<h3>ASAP checklist</h3>\n<ol class=\"asap\" "
      "id=\"asap\">");
  for (const v1::ChecklistStep& step : report.asap()) {
    absl::StrAppend(&out, "<li class=\"step ", step.done() ? "done" : "todo",
                    "\"><span class=\"check\">", step.done() ? "&#10003;" : "&#10007;", "</span>",
                    EscapeHtml(StepLabel(step.name())),
                    step.done() ? TimeTag(step.first_offset_ms()) : "", "</li>");
  }
  absl::StrAppend(&out, "</ol>\n<h3>Empathy</h3><p>");
  if (report.empathy_latency_ms() >= 0) {
    absl::StrAppendFormat(&out, "Empathy %.1f s after the first customer cue (cue %s, empathy %s).",
                          report.empathy_latency_ms() / 1000.0, Time(report.first_cue_offset_ms()),
                          Time(report.first_empathy_after_cue_offset_ms()));
  } else if (report.first_cue_offset_ms() >= 0) {
    absl::StrAppend(&out, "No empathy after the customer's first cue at ",
                    Time(report.first_cue_offset_ms()), ".");
  } else {
    absl::StrAppend(&out, "No customer cue.");
  }
  absl::StrAppend(&out, " Understanding ",
                  report.understanding_confirmed() ? "confirmed" : "not confirmed", ".</p>\n");
  if (report.missed_expectations_size() > 0) {
    absl::StrAppend(&out, "<h3>Missed expectations</h3><ul class=\"items missed\">");
    for (const v1::MissedExpectation& missed : report.missed_expectations()) {
      absl::StrAppend(&out, "<li>", EscapeHtml(missed.category()), " after ",
                      EscapeHtml(missed.trigger_category()), TimeTag(missed.trigger_offset_ms()),
                      " (<a href=\"#event-", missed.reminder_seq(), "\">#", missed.reminder_seq(),
                      "</a>)</li>");
    }
    absl::StrAppend(&out, "</ul>\n");
  }
  if (report.commitments_size() > 0) {
    absl::StrAppend(&out, "<h3>Commitments to follow up</h3><ul class=\"items commitments\">");
    for (const v1::ReportItem& item : report.commitments()) {
      absl::StrAppend(&out, "<li>&ldquo;", EscapeHtml(item.evidence().matched_text()), "&rdquo;",
                      TimeTag(item.evidence().offset_ms()), "</li>");
    }
    absl::StrAppend(&out, "</ul>\n");
  }
  if (report.call_expectations_size() > 0) {
    absl::StrAppend(&out, "<h3>End of call</h3><ul class=\"items\">");
    for (const v1::CallExpectationResult& result : report.call_expectations()) {
      absl::StrAppend(&out, "<li>", result.met() ? "&#10003; " : "&#10007; ",
                      EscapeHtml(result.title()), " (", result.count(), " of ", result.required(),
                      ")</li>");
    }
    absl::StrAppend(&out, "</ul>\n");
  }
  if (report.category_counts_size() > 0) {
    absl::StrAppend(&out, "<h3>Detections</h3><table class=\"counts\"><tr><th>Category</th>",
                    "<th class=\"n\">Agent</th><th class=\"n\">Customer</th></tr>");
    for (const v1::CategoryCount& count : report.category_counts()) {
      absl::StrAppend(&out, "<tr><td>", EscapeHtml(count.category()), "</td><td class=\"n\">",
                      count.agent(), "</td><td class=\"n\">", count.customer(), "</td></tr>");
    }
    absl::StrAppend(&out, "</table>\n");
  }
  absl::StrAppend(&out, "</section>\n");
  return out;
}

// Cumulative count over call time as an SVG step line.
struct Series {
  std::vector<std::pair<int64_t, std::string>> points;  // (offset, label)
};

std::string Chart(const ReplayedCall& call) {
  const v1::CallReport& report = call.report();
  Series cues, empathy;
  for (const v1::ReportItem& item : report.escalation_cues()) {
    cues.points.push_back({item.evidence().offset_ms(),
                           absl::StrCat(item.category(), ": ", item.evidence().matched_text())});
  }
  std::set<int64_t> retracted;
  for (const v1::CoachEvent& event : call.events) {
    if (event.has_retraction()) retracted.insert(event.retraction().retracted_seq());
  }
  for (const v1::CoachEvent& event : call.events) {
    if (!event.has_nudge() || retracted.count(event.seq()) > 0) continue;
    const v1::Nudge& nudge = event.nudge();
    // The scorecard's empathy categories (engine ReportCategories).
    if (nudge.evidence().speaker() == v1::SPEAKER_AGENT &&
        (nudge.category() == "empathy" || nudge.category() == "apology")) {
      empathy.points.push_back(
          {nudge.evidence().offset_ms(),
           absl::StrCat(nudge.category(), ": ", nudge.evidence().matched_text())});
    }
  }
  int64_t end_ms = 1;
  for (const engine::Segment& segment : call.call.segments) {
    end_ms = std::max({end_ms, segment.end_ms, segment.start_ms});
  }
  for (const Series* series : {&cues, &empathy}) {
    for (const auto& point : series->points) end_ms = std::max(end_ms, point.first);
  }
  const size_t top = std::max<size_t>({cues.points.size(), empathy.points.size(), 1});
  constexpr double kLeft = 34, kRight = 340, kTop = 12, kBottom = 150;
  auto x = [&](int64_t ms) { return kLeft + (kRight - kLeft) * static_cast<double>(ms) / end_ms; };
  auto y = [&](size_t n) { return kBottom - (kBottom - kTop) * static_cast<double>(n) / top; };
  auto draw = [&](Series series, const char* color, const char* name) {
    std::sort(series.points.begin(), series.points.end());
    std::string line = absl::StrFormat("%.1f,%.1f", x(0), y(0));
    std::string dots;
    for (size_t i = 0; i < series.points.size(); ++i) {
      const double px = x(series.points[i].first);
      absl::StrAppendFormat(&line, " %.1f,%.1f %.1f,%.1f", px, y(i), px, y(i + 1));
      absl::StrAppendFormat(&dots,
                            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"><title>%s %s"
                            "</title></circle>",
                            px, y(i + 1), color, Time(series.points[i].first),
                            EscapeHtml(series.points[i].second));
    }
    absl::StrAppendFormat(&line, " %.1f,%.1f", x(end_ms), y(series.points.size()));
    return absl::StrFormat(
        "<polyline class=\"%s\" points=\"%s\" fill=\"none\" "
        "stroke=\"%s\" stroke-width=\"2\"/>%s",
        name, line, color, dots);
  };
  std::string out =
      absl::StrCat("<section id=\"chart\"><h2>Escalation cues vs empathy</h2>\n",
                   "<svg class=\"chart\" width=\"350\" height=\"196\" viewBox=\"0 0 350 "
                   "196\" role=\"img\" "
                   "aria-label=\"Customer escalation cues and agent empathy, cumulative "
                   "over call time\">");
  absl::StrAppendFormat(&out,
                        "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" "
                        "stroke=\"#9ca3af\"/>"
                        "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" "
                        "stroke=\"#9ca3af\"/>",
                        kLeft, kBottom, kRight, kBottom, kLeft, kTop, kLeft, kBottom);
  absl::StrAppendFormat(&out,
                        "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%d</text>"
                        "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">0</text>"
                        "<text x=\"%.0f\" y=\"%.0f\">%s</text>"
                        "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>"
                        "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%s</text>",
                        kLeft - 4, kTop + 4, top, kLeft - 4, kBottom, kLeft, kBottom + 14, Time(0),
                        (kLeft + kRight) / 2, kBottom + 14, Time(end_ms / 2), kRight, kBottom + 14,
                        Time(end_ms));
  absl::StrAppend(&out, draw(cues, "#dc2626", "cues"), draw(empathy, "#16a34a", "empathy"));
  absl::StrAppendFormat(&out,
                        "<rect x=\"%.0f\" y=\"178\" width=\"10\" height=\"10\" fill=\"#dc2626\"/>"
                        "<text x=\"%.0f\" y=\"187\">customer cues (%d)</text>"
                        "<rect x=\"190\" y=\"178\" width=\"10\" height=\"10\" fill=\"#16a34a\"/>"
                        "<text x=\"204\" y=\"187\">agent empathy (%d)</text></svg>",
                        kLeft, kLeft + 14, cues.points.size(), empathy.points.size());
  absl::StrAppend(&out,
                  "<p class=\"rule\">Cumulative over call time: the "
                  "report's escalation and "
                  "frustration cues, and the agent's standing empathy "
                  "and apology nudges.</p>"
                  "</section>\n");
  return out;
}

}  // namespace

std::string EscapeHtml(absl::string_view text) {
  const std::string valid = engine::ValidUtf8(text);
  std::string out;
  out.reserve(valid.size());
  for (char c : valid) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string CallPageName(absl::string_view call_id) {
  constexpr size_t kMaxStem = 120;
  std::string stem;
  for (char c : call_id.substr(0, kMaxStem)) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-';
    stem += keep ? c : '_';
  }
  return absl::StrCat("call-", stem, ".html");
}

std::string RenderCallPage(const ReplayedCall& call) {
  const std::string& call_id = call.call.call_id;
  std::string header = absl::StrCat("<a href=\"index.html\">&larr; All calls</a><h1>Call ",
                                    EscapeHtml(call_id), "</h1><p class=\"meta\">");
  std::vector<std::string> meta;
  if (!call.call.agent_id.empty()) meta.push_back("agent " + EscapeHtml(call.call.agent_id));
  meta.push_back("from " + EscapeHtml(call.source));
  if (call.ok()) {
    meta.push_back(absl::StrCat(call.report().segments(), " segments"));
    meta.push_back("rule set " + EscapeHtml(call.report().rule_set_version()));
  }
  absl::StrAppend(&header, absl::StrJoin(meta, " &middot; "), "</p>");
  const std::string title = absl::StrCat("Call ", EscapeHtml(call_id), " - coachd replay");
  if (!call.ok()) {
    return Page(title, header,
                absl::StrCat("<main class=\"index\"><section><p class=\"error\">Not replayed: ",
                             EscapeHtml(call.error), "</p></section></main>\n"));
  }
  return Page(title, header,
              absl::StrCat("<main class=\"layout\">\n", Timeline(call), "<div class=\"side\">\n",
                           Scorecard(call.report()), Chart(call), "</div>\n</main>\n"));
}

IndexEntry MakeIndexEntry(const ReplayedCall& call, std::string page) {
  IndexEntry entry;
  entry.page = std::move(page);
  entry.call_id = call.call.call_id;
  entry.agent_id = call.call.agent_id;
  entry.source = call.source;
  entry.ok = call.ok();
  entry.error = call.error;
  if (call.ok()) {
    const v1::CallReport& report = call.report();
    entry.score = report.score();
    entry.segments = report.segments();
    entry.nudges = report.nudges();
    entry.reminders = report.reminders();
    entry.missed = report.missed_expectations_size();
    entry.commitments = report.commitments_size();
  }
  return entry;
}

std::string RenderIndexPage(const std::vector<IndexEntry>& entries) {
  int scored = 0;
  int64_t score_sum = 0;
  for (const IndexEntry& entry : entries) {
    if (!entry.ok) continue;
    ++scored;
    score_sum += entry.score;
  }
  std::string header =
      absl::StrCat("<h1>coachd replay</h1><p class=\"meta\">", entries.size(), " calls");
  if (scored > 0) {
    absl::StrAppendFormat(&header, " &middot; mean score %.1f",
                          static_cast<double>(score_sum) / scored);
  }
  if (scored < static_cast<int>(entries.size())) {
    absl::StrAppend(&header, " &middot; ", entries.size() - scored, " failed");
  }
  absl::StrAppend(&header, "</p>");
  std::string body = absl::StrCat(
      "<main class=\"index\"><section><table "
      "id=\"calls\"><tr><th>Call</th><th>Agent</th>",
      "<th class=\"n\">Score</th><th class=\"n\">Segments</th><th "
      "class=\"n\">Nudges</th>",
      "<th class=\"n\">Reminders</th><th class=\"n\">Missed</th>",
      "<th class=\"n\">Commitments</th><th>Source</th></tr>\n");
  for (const IndexEntry& entry : entries) {
    absl::StrAppend(&body, "<tr><td><a href=\"", EscapeHtml(entry.page), "\">",
                    EscapeHtml(entry.call_id), "</a></td><td>", EscapeHtml(entry.agent_id),
                    "</td>");
    if (entry.ok) {
      absl::StrAppend(&body, "<td class=\"n ", ScoreClass(entry.score), "\">", entry.score,
                      "</td><td class=\"n\">", entry.segments, "</td><td class=\"n\">",
                      entry.nudges, "</td><td class=\"n\">", entry.reminders,
                      "</td><td class=\"n\">", entry.missed, "</td><td class=\"n\">",
                      entry.commitments, "</td>");
    } else {
      absl::StrAppend(&body, "<td colspan=\"6\" class=\"error\">", EscapeHtml(entry.error),
                      "</td>");
    }
    absl::StrAppend(&body, "<td>", EscapeHtml(entry.source), "</td></tr>\n");
  }
  absl::StrAppend(&body, "</table></section></main>\n");
  return Page("coachd replay", header, body);
}

}  // namespace coach::cli
