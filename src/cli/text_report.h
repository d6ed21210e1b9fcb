// File: cli/text_report.h
//
// Text formatting shared by coachctl's outputs for people (the watch view and
// the HTML report). Pure functions; thread-safe.

#ifndef COACHD_CLI_TEXT_REPORT_H_
#define COACHD_CLI_TEXT_REPORT_H_

#include <cstdint>
#include <string>

namespace coach::cli {

// "mm:ss.t" call time; "--:--.-" for an unknown (negative) time.
std::string FormatOffset(int64_t offset_ms);

}  // namespace coach::cli

#endif  // COACHD_CLI_TEXT_REPORT_H_
