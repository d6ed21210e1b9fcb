#include "transcripts/reader_util.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace coach::transcripts::internal {

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    return absl::InvalidArgumentError(absl::StrCat("transcript '", path, "' is a directory"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open transcript '", path, "'"));
  std::stringstream content;
  content << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read transcript '", path, "'"));
  return content.str();
}

std::string FileStem(absl::string_view file_name) {
  return std::filesystem::path(std::string(file_name)).stem().string();
}

absl::string_view StripBom(absl::string_view content) {
  absl::ConsumePrefix(&content, "\xEF\xBB\xBF");
  return content;
}

std::vector<absl::string_view> SplitLines(absl::string_view content) {
  std::vector<absl::string_view> lines;
  size_t begin = 0;
  for (size_t i = 0; i < content.size(); ++i) {
    if (content[i] != '\n' && content[i] != '\r') continue;
    lines.push_back(content.substr(begin, i - begin));
    if (content[i] == '\r' && i + 1 < content.size() && content[i + 1] == '\n') ++i;
    begin = i + 1;
  }
  if (begin < content.size()) lines.push_back(content.substr(begin));
  return lines;
}

absl::Status CheckUtf8Lines(absl::string_view file_name,
                            const std::vector<absl::string_view>& lines) {
  for (size_t i = 0; i < lines.size(); ++i) {
    if (engine::ValidUtf8(lines[i]) != lines[i]) {
      return absl::InvalidArgumentError(
          absl::StrCat(file_name, ":", i + 1,
                       ": not valid UTF-8 (convert the file, e.g. iconv -f cp1252 -t utf-8)"));
    }
  }
  return absl::OkStatus();
}

namespace {

// Consumes 1..max_digits ASCII digits from the front of `text`.
std::optional<int64_t> ConsumeDigits(absl::string_view* text, size_t min_digits,
                                     size_t max_digits) {
  size_t n = 0;
  while (n < text->size() && n < max_digits && absl::ascii_isdigit((*text)[n])) ++n;
  if (n < min_digits) return std::nullopt;
  int64_t value = 0;
  for (size_t i = 0; i < n; ++i) value = value * 10 + ((*text)[i] - '0');
  text->remove_prefix(n);
  return value;
}

void AppendUtf8(uint32_t code_point, std::string* out) {
  if (code_point < 0x80) {
    out->push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

// Decodes the entity `name` (between '&' and ';'); false if unknown.
bool DecodeEntity(absl::string_view name, std::string* out) {
  static constexpr std::pair<absl::string_view, absl::string_view> kNamed[] = {
      {"amp", "&"},  {"lt", "<"},   {"gt", ">"}, {"quot", "\""},
      {"apos", "'"}, {"nbsp", " "}, {"lrm", ""}, {"rlm", ""},
  };
  for (const auto& [entity, text] : kNamed) {
    if (name == entity) {
      out->append(text.data(), text.size());
      return true;
    }
  }
  if (!absl::ConsumePrefix(&name, "#") || name.empty()) return false;
  uint32_t code_point = 0;
  const bool hex = absl::ConsumePrefix(&name, "x") || absl::ConsumePrefix(&name, "X");
  if (name.empty() || name.size() > 8) return false;
  for (char c : name) {
    const int digit = absl::ascii_isdigit(c)           ? c - '0'
                      : hex && absl::ascii_isxdigit(c) ? absl::ascii_tolower(c) - 'a' + 10
                                                       : -1;
    if (digit < 0) return false;
    code_point = code_point * (hex ? 16 : 10) + static_cast<uint32_t>(digit);
  }
  if (code_point == 0 || code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) {
    return false;
  }
  AppendUtf8(code_point, out);
  return true;
}

}  // namespace

std::optional<int64_t> ParseCueTimestamp(absl::string_view text, bool hours_optional) {
  // Up to three ':'-separated fields before the fraction.
  std::vector<int64_t> fields;
  absl::string_view rest = absl::StripAsciiWhitespace(text);
  for (;;) {
    const auto value = ConsumeDigits(&rest, 1, 9);
    if (!value.has_value()) return std::nullopt;
    fields.push_back(*value);
    if (!absl::ConsumePrefix(&rest, ":")) break;
    if (fields.size() == 3) return std::nullopt;
  }
  if (fields.size() < (hours_optional ? 2u : 3u)) return std::nullopt;
  if (fields.size() == 2) fields.insert(fields.begin(), 0);
  if (fields[1] > 59 || fields[2] > 59) return std::nullopt;
  int64_t millis = 0;
  if (absl::ConsumePrefix(&rest, ".") || absl::ConsumePrefix(&rest, ",")) {
    const size_t before = rest.size();
    const auto fraction = ConsumeDigits(&rest, 1, 3);
    if (!fraction.has_value()) return std::nullopt;
    millis = *fraction;
    for (size_t digits = before - rest.size(); digits < 3; ++digits) millis *= 10;
  } else {
    return std::nullopt;
  }
  if (!rest.empty()) return std::nullopt;
  const int64_t total = ((fields[0] * 60 + fields[1]) * 60 + fields[2]) * 1000 + millis;
  if (total > engine::kMaxCallTimeMs) return std::nullopt;
  return total;
}

std::optional<engine::Speaker> DefaultRoleName(absl::string_view name) {
  name = absl::StripAsciiWhitespace(name);
  if (absl::EqualsIgnoreCase(name, "agent")) return engine::Speaker::kAgent;
  if (absl::EqualsIgnoreCase(name, "customer") || absl::EqualsIgnoreCase(name, "caller")) {
    return engine::Speaker::kCustomer;
  }
  return std::nullopt;
}

absl::Status ParseSpeakerSpec(absl::string_view spec, SpeakerMap* map) {
  for (absl::string_view entry : absl::StrSplit(spec, ',')) {
    entry = absl::StripAsciiWhitespace(entry);
    if (entry.empty()) continue;
    const size_t equals = entry.rfind('=');
    if (equals == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", entry, "\" is not NAME=agent or NAME=customer"));
    }
    const absl::string_view name = absl::StripAsciiWhitespace(entry.substr(0, equals));
    const absl::string_view role = absl::StripAsciiWhitespace(entry.substr(equals + 1));
    if (name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("\"", entry, "\" has no name before '='"));
    }
    const auto speaker = DefaultRoleName(role);
    if (!speaker.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", entry, "\": role must be agent or customer, not \"", role, "\""));
    }
    // A later entry for the same name (in any case) replaces an earlier one.
    for (auto it = map->begin(); it != map->end();) {
      it = absl::EqualsIgnoreCase(it->first, name) ? map->erase(it) : std::next(it);
    }
    (*map)[std::string(name)] = *speaker;
  }
  return absl::OkStatus();
}

std::optional<engine::Speaker> LookupSpeaker(const SpeakerMap& map, absl::string_view name) {
  name = absl::StripAsciiWhitespace(name);
  if (const auto it = map.find(name); it != map.end()) return it->second;
  for (const auto& [key, speaker] : map) {
    if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(key), name)) return speaker;
  }
  return std::nullopt;
}

std::string CueText(absl::string_view line) {
  std::string decoded;
  decoded.reserve(line.size());
  for (size_t i = 0; i < line.size();) {
    const char c = line[i];
    if (c == '<') {
      const size_t close = line.find('>', i);
      if (close != absl::string_view::npos) {
        i = close + 1;
        continue;
      }
    } else if (c == '{' && i + 1 < line.size() && line[i + 1] == '\\') {
      const size_t close = line.find('}', i);
      if (close != absl::string_view::npos) {
        i = close + 1;
        continue;
      }
    } else if (c == '&') {
      const size_t semicolon = line.find(';', i);
      if (semicolon != absl::string_view::npos && semicolon - i <= 10 &&
          DecodeEntity(line.substr(i + 1, semicolon - i - 1), &decoded)) {
        i = semicolon + 1;
        continue;
      }
    }
    decoded.push_back(c);
    ++i;
  }
  // Collapse whitespace runs to single spaces.
  std::string text;
  text.reserve(decoded.size());
  for (absl::string_view word :
       absl::StrSplit(decoded, absl::ByAnyChar(" \t\f\v\r\n"), absl::SkipEmpty())) {
    if (!text.empty()) text.push_back(' ');
    text.append(word.data(), word.size());
  }
  return text;
}

std::vector<std::pair<size_t, size_t>> SplitBlocks(const std::vector<absl::string_view>& lines,
                                                   size_t first_line) {
  std::vector<std::pair<size_t, size_t>> blocks;
  size_t i = first_line;
  while (i < lines.size()) {
    while (i < lines.size() && absl::StripAsciiWhitespace(lines[i]).empty()) ++i;
    const size_t begin = i;
    while (i < lines.size() && !absl::StripAsciiWhitespace(lines[i]).empty()) ++i;
    if (i > begin) blocks.emplace_back(begin, i);
  }
  return blocks;
}

absl::Status ParseCueTiming(absl::string_view file_name, int line_number, absl::string_view line,
                            bool hours_optional, Cue* cue) {
  const absl::string_view example =
      hours_optional ? "00:00:01.000 --> 00:00:02.500" : "00:00:01,000 --> 00:00:02,500";
  auto error = [&](absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat(file_name, ":", line_number, ": ", what, "; expected \"", example, "\""));
  };
  const size_t arrow = line.find("-->");
  if (arrow == absl::string_view::npos) return error("not a cue timing line");
  const absl::string_view start_text = absl::StripAsciiWhitespace(line.substr(0, arrow));
  absl::string_view end_text = absl::StripLeadingAsciiWhitespace(line.substr(arrow + 3));
  end_text = end_text.substr(0, end_text.find_first_of(" \t"));  // cue settings follow
  const auto start = ParseCueTimestamp(start_text, hours_optional);
  if (!start.has_value()) return error(absl::StrCat("bad start time \"", start_text, "\""));
  const auto end = ParseCueTimestamp(end_text, hours_optional);
  if (!end.has_value()) return error(absl::StrCat("bad end time \"", end_text, "\""));
  if (*end < *start) {
    return absl::InvalidArgumentError(absl::StrCat(file_name, ":", line_number, ": the cue ends (",
                                                   end_text, ") before it starts (", start_text,
                                                   ")"));
  }
  cue->line_number = line_number;
  cue->start_ms = *start;
  cue->end_ms = *end;
  return absl::OkStatus();
}

absl::Status AppendCueSegments(absl::string_view file_name, const Cue& cue, size_t ordinal,
                               const SpeakerMap& flag_map, const SpeakerMap& file_map,
                               absl::string_view how_to_name, std::optional<std::string>* current,
                               RecordedCall* call) {
  struct Run {
    engine::Speaker speaker;
    std::string text;
  };
  std::vector<Run> runs;
  std::optional<engine::Speaker> run_speaker;
  for (const Cue::Span& span : cue.spans) {
    if (span.speaker.has_value() && span.speaker != *current) {
      *current = span.speaker;
      run_speaker.reset();  // the next text starts a new run
    }
    if (span.text.empty()) continue;
    if (!current->has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(file_name, ":", span.line_number,
                                                     ": no speaker for this text; ", how_to_name));
    }
    if (!run_speaker.has_value()) {
      std::optional<engine::Speaker> speaker = LookupSpeaker(flag_map, **current);
      if (!speaker.has_value()) speaker = LookupSpeaker(file_map, **current);
      if (!speaker.has_value()) speaker = DefaultRoleName(**current);
      if (!speaker.has_value()) {
        return absl::InvalidArgumentError(
            absl::StrCat(file_name, ":", span.line_number, ": speaker \"", **current,
                         "\" is not mapped to agent or customer; map it with --speakers \"",
                         **current, "=agent\" (or =customer)"));
      }
      run_speaker = speaker;
      if (runs.empty() || runs.back().speaker != *speaker) {
        runs.push_back(Run{*speaker, ""});
      }
    }
    std::string& text = runs.back().text;
    if (!text.empty()) text.push_back(' ');
    text += span.text;
  }
  const std::string base = cue.id.empty() ? absl::StrCat(ordinal) : cue.id;
  for (size_t k = 0; k < runs.size(); ++k) {
    engine::Segment segment;
    segment.segment_id = runs.size() == 1 ? base : absl::StrCat(base, ".", k + 1);
    segment.speaker = runs[k].speaker;
    segment.text = std::move(runs[k].text);
    segment.start_ms = cue.start_ms;
    segment.end_ms = cue.end_ms;
    call->segments.push_back(std::move(segment));
  }
  return absl::OkStatus();
}

void ApplyCallOptions(absl::string_view file_name, const ReadOptions& options, RecordedCall* call) {
  if (!options.call_id.empty()) {
    call->call_id = options.call_id;
  } else if (call->call_id.empty()) {
    call->call_id = FileStem(file_name);
  }
  if (call->agent_id.empty()) call->agent_id = options.agent_id;
}

}  // namespace coach::transcripts::internal
