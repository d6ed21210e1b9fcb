// coachctl: the command-line tool for coaching leads, QA analysts and
// integrators. Parses the flags and runs one subcommand (cli/commands.h).
//
//   coachctl lint [PATH...]                  validate phrase lists
//   coachctl test [PATH...]                  run examples and labelled test files
//   coachctl replay FILE|DIR...              replay recorded calls (QA)
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
ABSL_FLAG(std::string, server, "", "replay, simulate, watch: coachd address, host:port.");
ABSL_FLAG(std::string, token, "",
          "replay, simulate, watch: bearer token sent as 'authorization: Bearer <token>'.");
ABSL_FLAG(std::string, tls_ca, "",
          "replay, simulate, watch: CA certificate (PEM); set to use TLS.");
ABSL_FLAG(std::string, tls_cert, "",
          "replay, simulate, watch: client certificate (PEM) for mTLS.");
ABSL_FLAG(std::string, tls_key, "",
          "replay, simulate, watch: client private key (PEM) for mTLS.");
ABSL_FLAG(bool, json, false, "replay, test: write JSON Lines to stdout instead of text.");

namespace {

constexpr char kUsage[] =
    "coachctl <command> [flags] [args]\n"
    "\n"
    "Commands:\n"
    "  lint [PATH...]    Validate phrase lists (default: --phrase_lists). Prints\n"
    "                    file:line:col: rule <id>: message and exits 1 on any error;\n"
    "                    warnings (a phrase that can never match, a phrase shared by\n"
    "                    two rules, a rule without counter-examples) exit 0.\n"
    "  test [--tests PATH] [--json] [PATH...]\n"
    "                    Run every rule's examples and counter-examples and the\n"
    "                    labelled utterances of *.test.jsonl files; print pass/fail\n"
    "                    per case and precision/recall per category; exit 1 on a\n"
    "                    failure.\n"
    "  replay [--json] [--html DIR] [--server ADDR] [--shard i/n] [--jobs N]\n"
    "         [--format F] [--speakers MAP] [--text asr|human] FILE|DIR...\n"
    "                    Replay recorded calls (files, or directories searched for\n"
    "                    *.jsonl, *.json, *.vtt, *.srt) through the engine on every\n"
    "                    core, or through coachd's ReviewCall with --server. Prints a\n"
    "                    summary row per call and an aggregate; --json prints every\n"
    "                    CoachEvent and report as JSON Lines; --html writes a page\n"
    "                    per call and index.html. Exits 1 if a file or call failed.\n"
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
  if (command == "test") return coach::cli::RunTest(args);
  if (command == "replay") return coach::cli::RunReplay(args);
  if (command == "simulate") return coach::cli::RunSimulate(args);
  if (command == "watch") return coach::cli::RunWatch(args);
  std::cerr << "coachctl: unknown command '" << command << "'\n\n" << kUsage << "\n";
  return coach::cli::kExitUsage;
}
