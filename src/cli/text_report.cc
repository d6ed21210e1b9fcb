#include "cli/text_report.h"

#include "absl/strings/str_format.h"

namespace coach::cli {

std::string FormatOffset(int64_t offset_ms) {
  if (offset_ms < 0) return "--:--.-";
  return absl::StrFormat("%02d:%02d.%d", offset_ms / 60000, (offset_ms / 1000) % 60,
                         (offset_ms / 100) % 10);
}

}  // namespace coach::cli
