// File: cli/commands.h
//
// coachctl's subcommands. main() (coachctl.cc) parses the flags, then calls
// one Run* function with the positional arguments after the subcommand name;
// each returns the process exit code. Each subcommand lives in its own file
// with its own flags; the flags several subcommands share are declared here.
// Not thread-safe: one command per process.

#ifndef COACHD_CLI_COMMANDS_H_
#define COACHD_CLI_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/flags/declare.h"

ABSL_DECLARE_FLAG(std::string, phrase_lists);
ABSL_DECLARE_FLAG(std::string, server);
ABSL_DECLARE_FLAG(std::string, token);
ABSL_DECLARE_FLAG(std::string, tls_ca);
ABSL_DECLARE_FLAG(std::string, tls_cert);
ABSL_DECLARE_FLAG(std::string, tls_key);
ABSL_DECLARE_FLAG(bool, json);

namespace coach::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFindings = 1;  // lint errors, failed tests, unreadable input
inline constexpr int kExitUsage = 2;

int RunLint(const std::vector<std::string>& args);      // lint.cc
int RunTest(const std::vector<std::string>& args);      // test_command.cc
int RunReplay(const std::vector<std::string>& args);    // replay.cc
int RunSimulate(const std::vector<std::string>& args);  // live_client.cc
int RunWatch(const std::vector<std::string>& args);     // live_client.cc

}  // namespace coach::cli

#endif  // COACHD_CLI_COMMANDS_H_
