// coachctl lint: validates phrase lists (see cli/commands.h).

#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "cli/commands.h"
#include "phrase_lists/loader.h"

ABSL_FLAG(bool, warnings, true, "lint: also print warnings.");

namespace coach::cli {

int RunLint(const std::vector<std::string>& args) {
  std::vector<std::string> paths = args;
  if (paths.empty()) paths.push_back(absl::GetFlag(FLAGS_phrase_lists));
  const bool ok = phrase_lists::WriteLintReport(paths, absl::GetFlag(FLAGS_warnings), std::cout);
  return ok ? kExitOk : kExitFindings;
}

}  // namespace coach::cli
