#include "engine/types.h"

#include <array>
#include <utility>

namespace coach::engine {
namespace {

// One table per enum keeps parsing and printing in agreement.
template <typename Enum, size_t N>
std::optional<Enum> Lookup(const std::array<std::pair<absl::string_view, Enum>, N>& table,
                           absl::string_view text) {
  for (const auto& [name, value] : table) {
    if (name == text) return value;
  }
  return std::nullopt;
}

template <typename Enum, size_t N>
absl::string_view NameOf(const std::array<std::pair<absl::string_view, Enum>, N>& table,
                         Enum value) {
  for (const auto& [name, candidate] : table) {
    if (candidate == value) return name;
  }
  return "unknown";
}

constexpr std::array<std::pair<absl::string_view, Speaker>, 2> kSpeakers = {{
    {"agent", Speaker::kAgent},
    {"customer", Speaker::kCustomer},
}};
constexpr std::array<std::pair<absl::string_view, SpeakerScope>, 3> kScopes = {{
    {"agent", SpeakerScope::kAgent},
    {"customer", SpeakerScope::kCustomer},
    {"any", SpeakerScope::kAny},
}};
constexpr std::array<std::pair<absl::string_view, RuleKind>, 6> kKinds = {{
    {"corrective", RuleKind::kCorrective},
    {"reinforcement", RuleKind::kReinforcement},
    {"escalation", RuleKind::kEscalation},
    {"reminder", RuleKind::kReminder},
    {"tracked", RuleKind::kTracked},
    {"cue", RuleKind::kCue},
}};
constexpr std::array<std::pair<absl::string_view, Severity>, 5> kSeverities = {{
    {"info", Severity::kInfo},
    {"low", Severity::kLow},
    {"medium", Severity::kMedium},
    {"high", Severity::kHigh},
    {"critical", Severity::kCritical},
}};
constexpr std::array<std::pair<absl::string_view, EventType>, 3> kEventTypes = {{
    {"nudge", EventType::kNudge},
    {"retraction", EventType::kRetraction},
    {"reminder", EventType::kReminder},
}};
constexpr std::array<std::pair<absl::string_view, MissedReason>, 3> kMissedReasons = {{
    {"time", MissedReason::kTime},
    {"turns", MissedReason::kTurns},
    {"end_of_call", MissedReason::kEndOfCall},
}};

}  // namespace

std::optional<Speaker> ParseSpeaker(absl::string_view text) { return Lookup(kSpeakers, text); }
std::optional<SpeakerScope> ParseSpeakerScope(absl::string_view text) {
  return Lookup(kScopes, text);
}
std::optional<RuleKind> ParseRuleKind(absl::string_view text) { return Lookup(kKinds, text); }
std::optional<Severity> ParseSeverity(absl::string_view text) {
  return Lookup(kSeverities, text);
}
absl::string_view SpeakerName(Speaker speaker) { return NameOf(kSpeakers, speaker); }
absl::string_view SpeakerScopeName(SpeakerScope scope) { return NameOf(kScopes, scope); }
absl::string_view RuleKindName(RuleKind kind) { return NameOf(kKinds, kind); }
absl::string_view SeverityName(Severity severity) { return NameOf(kSeverities, severity); }
absl::string_view EventTypeName(EventType type) { return NameOf(kEventTypes, type); }
absl::string_view MissedReasonName(MissedReason reason) {
  return NameOf(kMissedReasons, reason);
}

std::string ValidUtf8(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    size_t length = 0;
    uint32_t min_code = 0;
    if (lead < 0x80) {
      length = 1;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
      min_code = 0x80;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      min_code = 0x800;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      min_code = 0x10000;
    }
    bool valid = length > 0 && i + length <= text.size();
    uint32_t code = length == 1 ? lead : lead & (0x7F >> length);
    for (size_t k = 1; valid && k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) valid = false;
      code = (code << 6) | (next & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF.
    if (valid && length > 1 &&
        (code < min_code || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF)) {
      valid = false;
    }
    if (valid) {
      out.append(text.data() + i, length);
      i += length;
    } else {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
  return out;
}

}  // namespace coach::engine
