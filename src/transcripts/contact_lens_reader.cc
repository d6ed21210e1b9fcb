#include "transcripts/contact_lens_reader.h"

#include <map>
#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "transcripts/json_util.h"
#include "transcripts/reader_util.h"

namespace coach::transcripts {
namespace {

using internal::GetArray;
using internal::GetInt;
using internal::GetObject;
using internal::GetString;
using internal::Json;
using internal::JsonErrors;
using internal::JsonPath;

std::optional<engine::Speaker> RoleOf(absl::string_view role) {
  if (absl::EqualsIgnoreCase(role, "AGENT")) return engine::Speaker::kAgent;
  if (absl::EqualsIgnoreCase(role, "CUSTOMER")) return engine::Speaker::kCustomer;
  return std::nullopt;
}

absl::StatusOr<RecordedCall> Read(absl::string_view file_name, absl::string_view content,
                                  const ReadOptions& options) {
  auto parsed = internal::ParseJsonDocument(file_name, content);
  if (!parsed.ok()) return parsed.status();
  const Json& doc = *parsed;
  const JsonErrors errors(file_name);
  const JsonPath root;
  if (!doc.is_object()) return errors.WrongType(root, doc, "a Contact Lens output object");

  // ParticipantId -> ParticipantRole.
  std::map<std::string, std::string, std::less<>> roles;
  auto participants = GetArray(errors, doc, root, "Participants", false);
  if (!participants.ok()) return participants.status();
  if (*participants != nullptr) {
    for (size_t i = 0; i < (*participants)->size(); ++i) {
      const Json& participant = (**participants)[i];
      const JsonPath at = root.Key("Participants").Index(i);
      if (!participant.is_object()) return errors.WrongType(at, participant, "an object");
      std::string id;
      std::string role;
      COACH_RETURN_IF_ERROR(GetString(errors, participant, at, "ParticipantId", true, &id));
      COACH_RETURN_IF_ERROR(GetString(errors, participant, at, "ParticipantRole", true, &role));
      roles[id] = role;
    }
  }

  RecordedCall call;
  auto metadata = GetObject(errors, doc, root, "CustomerMetadata", false);
  if (!metadata.ok()) return metadata.status();
  if (*metadata != nullptr) {
    COACH_RETURN_IF_ERROR(GetString(errors, **metadata, root.Key("CustomerMetadata"), "ContactId",
                                    false, &call.call_id));
  }

  auto transcript = GetArray(errors, doc, root, "Transcript", true);
  if (!transcript.ok()) return transcript.status();
  for (size_t i = 0; i < (*transcript)->size(); ++i) {
    const Json& entry = (**transcript)[i];
    const JsonPath at = root.Key("Transcript").Index(i);
    if (!entry.is_object()) return errors.WrongType(at, entry, "a transcript entry object");
    std::string participant;
    std::string role;
    engine::Segment segment;
    COACH_RETURN_IF_ERROR(GetString(errors, entry, at, "ParticipantId", false, &participant));
    COACH_RETURN_IF_ERROR(GetString(errors, entry, at, "ParticipantRole", false, &role));
    if (role.empty() && !participant.empty()) {
      const auto it = roles.find(participant);
      if (it == roles.end()) {
        return errors.At(
            at.Key("ParticipantId"),
            absl::StrCat("participant \"", participant,
                         "\" has no ParticipantRole and is not listed in $.Participants"));
      }
      role = it->second;
    }
    if (participant.empty() && role.empty()) {
      return errors.At(at, "has neither ParticipantId nor ParticipantRole");
    }
    std::optional<engine::Speaker> speaker;
    if (!participant.empty()) speaker = internal::LookupSpeaker(options.speakers, participant);
    if (!speaker.has_value()) speaker = internal::LookupSpeaker(options.speakers, role);
    if (!speaker.has_value()) speaker = RoleOf(role);
    if (!speaker.has_value()) {
      return errors.At(
          at, absl::StrCat("role \"", role,
                           "\" is neither AGENT nor CUSTOMER; map it with --speakers \"", role,
                           "=agent\" (or =customer)"));
    }
    segment.speaker = *speaker;
    COACH_RETURN_IF_ERROR(GetString(errors, entry, at, "Content", true, &segment.text));
    COACH_RETURN_IF_ERROR(GetInt(errors, entry, at, "BeginOffsetMillis", true, 0,
                                 engine::kMaxCallTimeMs, &segment.start_ms));
    COACH_RETURN_IF_ERROR(GetInt(errors, entry, at, "EndOffsetMillis", true, 0,
                                 engine::kMaxCallTimeMs, &segment.end_ms));
    if (segment.end_ms < segment.start_ms) {
      return errors.At(at.Key("EndOffsetMillis"), "is before BeginOffsetMillis");
    }
    COACH_RETURN_IF_ERROR(GetString(errors, entry, at, "Id", false, &segment.segment_id));
    if (segment.segment_id.empty()) segment.segment_id = absl::StrCat(i + 1);
    call.segments.push_back(std::move(segment));
  }
  internal::ApplyCallOptions(file_name, options, &call);
  return call;
}

}  // namespace

absl::StatusOr<RecordedCall> ParseContactLens(absl::string_view file_name,
                                              absl::string_view content,
                                              const ReadOptions& options) {
  return internal::CatchJsonExceptions<RecordedCall>(
      file_name, [&] { return Read(file_name, content, options); });
}

}  // namespace coach::transcripts
