// coachctl: the command-line tool for coaching leads and QA analysts.
//
//   coachctl lint [PATH...]                  validate phrase lists
//   coachctl replay [--phrase_lists P] FILE  replay recorded calls (JSON Lines)
//   coachctl simulate --server ADDR FILE     play a recorded call into coachd
//   coachctl watch --server ADDR --agent ID  follow an agent's events live
//
// Exit codes: 0 success, 1 findings (lint errors, unreadable input), 2 usage.

#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "cli/live_client.h"
#include "cli/text_report.h"
#include "engine/call_session.h"
#include "phrase_lists/loader.h"
#include "transcripts/jsonl_reader.h"

ABSL_FLAG(std::string, phrase_lists, COACHD_DEFAULT_PHRASE_LISTS,
          "Phrase list file or directory (all *.textproto below it).");
ABSL_FLAG(std::string, interim_policy, "interim",
          "replay: 'interim' fires on interim hypotheses, 'final_only' waits for finals.");
ABSL_FLAG(bool, warnings, true, "lint: also print warnings.");
ABSL_FLAG(std::string, server, "", "simulate, watch: coachd address, host:port.");
ABSL_FLAG(std::string, token, "",
          "simulate, watch: bearer token sent as 'authorization: Bearer <token>'.");
ABSL_FLAG(std::string, tls_ca, "", "simulate, watch: CA certificate (PEM); set to use TLS.");
ABSL_FLAG(std::string, tls_cert, "", "simulate, watch: client certificate (PEM) for mTLS.");
ABSL_FLAG(std::string, tls_key, "", "simulate, watch: client private key (PEM) for mTLS.");
ABSL_FLAG(double, speed, 1.0,
          "simulate: pace segments at this multiple of real time; 0 sends at once.");
ABSL_FLAG(std::string, call_id_suffix, "",
          "simulate: appended to each call_id (coachd refuses an id it still retains).");
ABSL_FLAG(std::string, agent, "", "watch: the agent_id to follow.");
ABSL_FLAG(int64_t, max_events, 0, "watch: stop after this many events; 0 follows forever.");

namespace {

using coach::engine::Diagnostic;

constexpr int kExitOk = 0;
constexpr int kExitFindings = 1;
constexpr int kExitUsage = 2;

constexpr char kUsage[] =
    "coachctl <command> [flags] [args]\n"
    "\n"
    "Commands:\n"
    "  lint [PATH...]    Validate phrase lists (default: --phrase_lists). Prints\n"
    "                    file:line:col: rule <id>: message and exits 1 on any error.\n"
    "  replay FILE...    Replay recorded calls (coachd JSON Lines) through the engine\n"
    "                    and print every event and the scorecard of each call.\n"
    "\n"
    "  simulate --server ADDR [--speed X] FILE\n"
    "                    Play each call of a JSON Lines file into a running coachd\n"
    "                    as an STT pipeline would; print the events (JSON lines).\n"
    "  watch --server ADDR --agent ID\n"
    "                    Follow an agent's events live, as a desktop would; resumes\n"
    "                    after a disconnect without losing or repeating events.\n"
    "\n"
    "Run 'coachctl --help' for every flag.";

int Lint(std::vector<std::string> paths) {
  if (paths.empty()) paths.push_back(absl::GetFlag(FLAGS_phrase_lists));
  const bool ok =
      coach::phrase_lists::WriteLintReport(paths, absl::GetFlag(FLAGS_warnings), std::cout);
  return ok ? kExitOk : kExitFindings;
}

int Replay(const std::vector<std::string>& files) {
  if (files.empty()) {
    std::cerr << "coachctl replay: name at least one transcript file\n\n" << kUsage << "\n";
    return kExitUsage;
  }
  coach::engine::SessionOptions options;
  const std::string policy = absl::GetFlag(FLAGS_interim_policy);
  if (policy == "final_only") {
    options.interim_policy = coach::engine::InterimPolicy::kFinalOnly;
  } else if (policy != "interim") {
    std::cerr << "coachctl: --interim_policy must be 'interim' or 'final_only', not '" << policy
              << "'\n";
    return kExitUsage;
  }
  auto rules = coach::phrase_lists::LoadRuleSet({absl::GetFlag(FLAGS_phrase_lists)});
  if (!rules.ok()) {
    std::cerr << "coachctl: cannot load phrase lists: " << rules.status().message() << "\n";
    return kExitFindings;
  }
  int failures = 0;
  for (const std::string& file : files) {
    auto calls = coach::transcripts::ReadJsonlFile(file);
    if (!calls.ok()) {
      std::cerr << "coachctl: " << calls.status().message() << "\n";
      ++failures;
      continue;
    }
    for (const auto& call : *calls) {
      std::cout << "=== call " << call.call_id
                << (call.agent_id.empty() ? "" : absl::StrCat(" (agent ", call.agent_id, ")"))
                << " from " << file << "\n";
      coach::engine::CallSession session(*rules, options);
      std::vector<coach::engine::Event> events;
      bool failed = false;
      for (const auto& segment : call.segments) {
        if (absl::Status status = session.ProcessSegment(segment, &events); !status.ok()) {
          std::cerr << "coachctl: " << file << ": call " << call.call_id << ", segment "
                    << segment.segment_id << ": " << status.message() << "\n";
          failed = true;
        }
      }
      auto report = session.Finish(&events);
      for (const auto& event : events) std::cout << coach::cli::FormatEvent(event);
      if (!report.ok()) {
        std::cerr << "coachctl: call " << call.call_id << ": " << report.status().message()
                  << "\n";
        failed = true;
      } else {
        std::cout << "\n" << coach::cli::FormatReport(*report) << "\n";
      }
      if (failed) ++failures;
    }
  }
  return failures == 0 ? kExitOk : kExitFindings;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() < 2) {
    std::cerr << kUsage << "\n";
    return kExitUsage;
  }
  const std::string command = positional[1];
  std::vector<std::string> args(positional.begin() + 2, positional.end());
  if (command == "lint") return Lint(args);
  if (command == "replay") return Replay(args);
  if (command == "simulate" || command == "watch") {
    coach::cli::ServerConnection server;
    server.address = absl::GetFlag(FLAGS_server);
    server.token = absl::GetFlag(FLAGS_token);
    server.tls_ca_file = absl::GetFlag(FLAGS_tls_ca);
    server.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
    server.tls_key_file = absl::GetFlag(FLAGS_tls_key);
    if (server.address.empty()) {
      std::cerr << "coachctl " << command << ": --server is required\n";
      return kExitUsage;
    }
    if (command == "simulate") {
      if (args.size() != 1 || absl::GetFlag(FLAGS_speed) < 0) {
        std::cerr << "coachctl simulate: give one FILE and a --speed of 0 or more\n";
        return kExitUsage;
      }
      return coach::cli::Simulate(server, args[0], absl::GetFlag(FLAGS_speed),
                                  absl::GetFlag(FLAGS_call_id_suffix), std::cout, std::cerr);
    }
    if (absl::GetFlag(FLAGS_agent).empty() || !args.empty()) {
      std::cerr << "coachctl watch: --agent is required and takes no arguments\n";
      return kExitUsage;
    }
    return coach::cli::Watch(server, absl::GetFlag(FLAGS_agent), absl::GetFlag(FLAGS_max_events),
                             std::cout, std::cerr);
  }
  std::cerr << "coachctl: unknown command '" << command << "'\n\n" << kUsage << "\n";
  return kExitUsage;
}
