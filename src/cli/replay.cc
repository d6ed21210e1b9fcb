// coachctl replay: replays recorded calls through the engine in-process
// (see cli/commands.h).

#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/text_report.h"
#include "engine/call_session.h"
#include "phrase_lists/loader.h"
#include "transcripts/jsonl_reader.h"

ABSL_FLAG(std::string, interim_policy, "interim",
          "replay: 'interim' fires on interim hypotheses, 'final_only' waits for finals.");

namespace coach::cli {

int RunReplay(const std::vector<std::string>& files) {
  if (files.empty()) {
    std::cerr << "coachctl replay: name at least one transcript file\n";
    return kExitUsage;
  }
  engine::SessionOptions options;
  const std::string policy = absl::GetFlag(FLAGS_interim_policy);
  if (policy == "final_only") {
    options.interim_policy = engine::InterimPolicy::kFinalOnly;
  } else if (policy != "interim") {
    std::cerr << "coachctl: --interim_policy must be 'interim' or 'final_only', not '" << policy
              << "'\n";
    return kExitUsage;
  }
  auto rules = phrase_lists::LoadRuleSet({absl::GetFlag(FLAGS_phrase_lists)});
  if (!rules.ok()) {
    std::cerr << "coachctl: cannot load phrase lists: " << rules.status().message() << "\n";
    return kExitFindings;
  }
  int failures = 0;
  for (const std::string& file : files) {
    auto calls = transcripts::ReadJsonlFile(file);
    if (!calls.ok()) {
      std::cerr << "coachctl: " << calls.status().message() << "\n";
      ++failures;
      continue;
    }
    for (const auto& call : *calls) {
      std::cout << "=== call " << call.call_id
                << (call.agent_id.empty() ? "" : absl::StrCat(" (agent ", call.agent_id, ")"))
                << " from " << file << "\n";
      engine::CallSession session(*rules, options);
      std::vector<engine::Event> events;
      bool failed = false;
      for (const auto& segment : call.segments) {
        if (absl::Status status = session.ProcessSegment(segment, &events); !status.ok()) {
          std::cerr << "coachctl: " << file << ": call " << call.call_id << ", segment "
                    << segment.segment_id << ": " << status.message() << "\n";
          failed = true;
        }
      }
      auto report = session.Finish(&events);
      for (const auto& event : events) std::cout << FormatEvent(event);
      if (!report.ok()) {
        std::cerr << "coachctl: call " << call.call_id << ": " << report.status().message()
                  << "\n";
        failed = true;
      } else {
        std::cout << "\n" << FormatReport(*report) << "\n";
      }
      if (failed) ++failures;
    }
  }
  return failures == 0 ? kExitOk : kExitFindings;
}

}  // namespace coach::cli
