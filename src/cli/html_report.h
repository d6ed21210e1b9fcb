// File: cli/html_report.h
//
// The HTML report of `coachctl replay --html DIR`: one self-contained page
// per call and an index. The pages need no network and no JavaScript: CSS is
// inline, the chart is inline SVG, and every transcript-derived string is
// HTML-escaped (and made valid UTF-8).
//
// A call page (RenderCallPage) has, with these ids for tools and tests:
//   #scorecard  the score and its breakdown, the ASAP checklist (#asap, one
//               <li class="step done|todo"> per step), empathy latency,
//               understanding, missed expectations, commitments, end-of-call
//               expectations and detections per category;
//   #chart      an inline <svg> of the customer's escalation/frustration cues
//               (the report's escalation_cues) against the agent's empathy
//               (standing empathy and apology nudges), cumulative over call
//               time;
//   #timeline   the conversation, one <li class="turn agent|customer"> per
//               segment (its final text), with each nudge's matched words in
//               <mark> (from the evidence span) and the nudge itself after the
//               turn as <aside class="nudge ..." id="event-SEQ"> with its
//               title, message and <p class="suggestion">; reminders appear
//               where they fell due; retracted nudges are struck through.
// The index (RenderIndexPage) lists every call with its score and a link.
//
//   std::string page = RenderCallPage(call);
//   std::string index = RenderIndexPage(entries);
//
// Pure functions; thread-safe.

#ifndef COACHD_CLI_HTML_REPORT_H_
#define COACHD_CLI_HTML_REPORT_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "cli/replay_output.h"

namespace coach::cli {

// `text` with & < > " ' escaped, after replacing invalid UTF-8.
std::string EscapeHtml(absl::string_view text);

// "call-<call_id>.html" with every byte outside [A-Za-z0-9._-] replaced by
// '_' (and cut to a sane length). Callers make names unique.
std::string CallPageName(absl::string_view call_id);

// The page of a replayed call (ok() or failed: a failed call's page shows the
// error).
std::string RenderCallPage(const ReplayedCall& call);

// One row of the index.
struct IndexEntry {
  std::string page;  // file name of the call's page
  std::string call_id;
  std::string agent_id;
  std::string source;
  bool ok = false;
  std::string error;
  int score = 0;
  int segments = 0;
  int nudges = 0;
  int reminders = 0;
  int missed = 0;
  int commitments = 0;
};
IndexEntry MakeIndexEntry(const ReplayedCall& call, std::string page);

std::string RenderIndexPage(const std::vector<IndexEntry>& entries);

}  // namespace coach::cli

#endif  // COACHD_CLI_HTML_REPORT_H_
