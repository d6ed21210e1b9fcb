// coachctl: the command-line tool for coaching leads, QA analysts and
// integrators. Parses the flags and runs one subcommand (cli/commands.h).
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
#include "cli/commands.h"

ABSL_FLAG(std::string, phrase_lists, COACHD_DEFAULT_PHRASE_LISTS,
          "Phrase list file or directory (all *.textproto below it).");
ABSL_FLAG(std::string, server, "", "simulate, watch: coachd address, host:port.");
ABSL_FLAG(std::string, token, "",
          "simulate, watch: bearer token sent as 'authorization: Bearer <token>'.");
ABSL_FLAG(std::string, tls_ca, "", "simulate, watch: CA certificate (PEM); set to use TLS.");
ABSL_FLAG(std::string, tls_cert, "", "simulate, watch: client certificate (PEM) for mTLS.");
ABSL_FLAG(std::string, tls_key, "", "simulate, watch: client private key (PEM) for mTLS.");

namespace {

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

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() < 2) {
    std::cerr << kUsage << "\n";
    return coach::cli::kExitUsage;
  }
  const std::string command = positional[1];
  const std::vector<std::string> args(positional.begin() + 2, positional.end());
  if (command == "lint") return coach::cli::RunLint(args);
  if (command == "replay") return coach::cli::RunReplay(args);
  if (command == "simulate") return coach::cli::RunSimulate(args);
  if (command == "watch") return coach::cli::RunWatch(args);
  std::cerr << "coachctl: unknown command '" << command << "'\n\n" << kUsage << "\n";
  return coach::cli::kExitUsage;
}
