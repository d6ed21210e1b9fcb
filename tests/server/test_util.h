// File: tests/server/test_util.h
//
// Helpers shared by the server unit tests: a StatusIs() matcher for
// absl::Status / absl::StatusOr (abseil's is not installed), and a private
// temporary directory removed at scope exit.

#ifndef COACHD_TESTS_SERVER_TEST_UTIL_H_
#define COACHD_TESTS_SERVER_TEST_UTIL_H_

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace coach::server::testing {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

// StatusIs(code, message_matcher) for Status and StatusOr<T>.
MATCHER_P2(StatusIs, code, message_matcher,
           std::string(negation ? "isn't" : "is") + " a status with code " +
               absl::StatusCodeToString(code)) {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "whose status is " << status;
  return status.code() == code &&
         ::testing::ExplainMatchResult(message_matcher, std::string(status.message()),
                                       result_listener);
}

// A fresh directory under $TMPDIR, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "coachd_server_test_XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

  // Writes `content` to `name` (relative to the directory) and returns its
  // path. The file is replaced atomically (written beside it, then renamed), so
  // a concurrent reader sees the old or the new content, never a mix.
  std::string Write(const std::string& name, const std::string& content) const {
    const std::filesystem::path file = path_ / name;
    std::filesystem::create_directories(file.parent_path());
    const std::filesystem::path temp = file.string() + ".partial";
    std::ofstream(temp, std::ios::binary | std::ios::trunc) << content;
    std::filesystem::rename(temp, file);
    return file.string();
  }

 private:
  std::filesystem::path path_;
};

}  // namespace coach::server::testing

#endif  // COACHD_TESTS_SERVER_TEST_UTIL_H_
