// File: cli/text_report.h
//
// Renders engine events and call reports as text for people: one line per
// event (time, speaker, kind, category, rule, matched words) with the
// message and suggestion under it, and a scorecard block per call.
// Pure functions; thread-safe.

#ifndef COACHD_CLI_TEXT_REPORT_H_
#define COACHD_CLI_TEXT_REPORT_H_

#include <string>

#include "engine/types.h"

namespace coach::cli {

// "mm:ss.t" call time.
std::string FormatOffset(int64_t offset_ms);
std::string FormatEvent(const engine::Event& event);
std::string FormatReport(const engine::CallReport& report);

}  // namespace coach::cli

#endif  // COACHD_CLI_TEXT_REPORT_H_
