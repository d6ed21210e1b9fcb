// File: e2e/coachd_process.h
//
// The real coachd binary as the end-to-end tests run it: started on port 0
// of loopback with stderr captured to a file, its port read from the start-up
// line, signalled, and waited for. The including test target defines
// COACHD_PATH (the binary). Waits end as soon as their condition holds;
// kCoachdPatience is only the safety net. Not thread-safe.
//
//   coach::e2e::Coachd coachd(dir, {"--phrase_lists=" + packs});
//   const int port = coachd.WaitForPort();  // 0 if it did not start
//   coachd.Signal(SIGTERM);
//   EXPECT_EQ(coachd.WaitForExit(), 0) << coachd.Log();

#ifndef COACHD_TESTS_E2E_COACHD_PROCESS_H_
#define COACHD_TESTS_E2E_COACHD_PROCESS_H_

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "gtest/gtest.h"

namespace coach::e2e {

inline constexpr auto kCoachdPatience = std::chrono::seconds(60);

// A fresh directory <tmp>/<prefix><pid>_<current test's name> holding a copy
// of the bundled packs (<source_dir>/phrase_lists) in phrase_lists/, so a test
// may edit them. RemoveTestDir removes it unless KEEP is set in the
// environment (to look at a failed test's files).
inline std::filesystem::path MakeTestDir(const std::string& prefix,
                                         const std::string& source_dir) {
  namespace fs = std::filesystem;
  const fs::path dir =
      fs::temp_directory_path() /
      (prefix + std::to_string(getpid()) + "_" +
       ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy(fs::path(source_dir) / "phrase_lists", dir / "phrase_lists",
           fs::copy_options::recursive);
  return dir;
}

inline void RemoveTestDir(const std::filesystem::path& dir) {
  if (getenv("KEEP") == nullptr) std::filesystem::remove_all(dir);
}

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A coachd process on a free loopback port (--listen=127.0.0.1:0) plus
// `flags`, with its stderr captured to <dir>/coachd.log. SIGKILLed on
// destruction unless it already exited.
class Coachd {
 public:
  Coachd(const std::filesystem::path& dir, std::vector<std::string> flags)
      : log_(dir / "coachd.log") {
    std::vector<std::string> args = {std::string(COACHD_PATH), "--listen=127.0.0.1:0"};
    args.insert(args.end(), flags.begin(), flags.end());
    pid_ = fork();
    if (pid_ == 0) {
      FILE* log = freopen(log_.c_str(), "w", stderr);
      if (log == nullptr) _exit(127);
      std::vector<char*> argv;
      for (std::string& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~Coachd() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  // The port from the start-up line "coachd listening on ... (port N)".
  int WaitForPort() {
    const std::string marker = "(port ";
    for (auto deadline = std::chrono::steady_clock::now() + kCoachdPatience;
         std::chrono::steady_clock::now() < deadline;) {
      const std::string log = ReadFile(log_);
      if (size_t at = log.find(marker); at != std::string::npos) {
        int port = 0;
        const size_t end = log.find(')', at);
        if (absl::SimpleAtoi(log.substr(at + marker.size(), end - at - marker.size()), &port)) {
          return port;
        }
      }
      if (Exited()) return 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return 0;
  }

  bool Exited() {
    if (exited_) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    return exited_;
  }

  // Exit code, or -1 if it did not exit in time.
  int WaitForExit() {
    for (auto deadline = std::chrono::steady_clock::now() + kCoachdPatience;
         std::chrono::steady_clock::now() < deadline;) {
      if (Exited()) return exit_code_;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

  void Signal(int signal) { kill(pid_, signal); }
  std::string Log() const { return ReadFile(log_); }

 private:
  std::filesystem::path log_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
};

}  // namespace coach::e2e

#endif  // COACHD_TESTS_E2E_COACHD_PROCESS_H_
