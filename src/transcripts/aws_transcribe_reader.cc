#include "transcripts/aws_transcribe_reader.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "transcripts/json_util.h"
#include "transcripts/reader_util.h"

namespace coach::transcripts {
namespace {

using internal::GetArray;
using internal::GetObject;
using internal::GetString;
using internal::Json;
using internal::JsonErrors;
using internal::JsonPath;

struct Word {
  std::string text;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  std::string start_key;  // start_time as written, to find the item's speaker
  std::string label;      // empty until resolved
  JsonPath path;          // of the item
  JsonPath label_path;    // where the label came from
};

struct LabelRange {
  int64_t start_ms;
  int64_t end_ms;
  std::string label;
  JsonPath path;
};

struct Labels {
  std::map<std::string, std::pair<std::string, JsonPath>> by_start_time;
  std::vector<LabelRange> ranges;
};

class Reader {
 public:
  Reader(absl::string_view file_name, const ReadOptions& options)
      : file_name_(file_name), options_(options), errors_(file_name) {}

  absl::StatusOr<RecordedCall> Read(absl::string_view content) {
    auto parsed = internal::ParseJsonDocument(file_name_, content);
    if (!parsed.ok()) return parsed.status();
    const Json& doc = *parsed;
    const JsonPath root;
    if (!doc.is_object()) return errors_.WrongType(root, doc, "an AWS Transcribe output object");
    auto results = GetObject(errors_, doc, root, "results", true);
    if (!results.ok()) return results.status();
    const JsonPath results_path = root.Key("results");
    auto items = GetArray(errors_, **results, results_path, "items", false);
    if (!items.ok()) return items.status();
    auto speaker_labels = GetObject(errors_, **results, results_path, "speaker_labels", false);
    if (!speaker_labels.ok()) return speaker_labels.status();
    auto channel_labels = GetObject(errors_, **results, results_path, "channel_labels", false);
    if (!channel_labels.ok()) return channel_labels.status();

    std::vector<Word> words;
    Labels labels;
    const bool items_listed = *items != nullptr && !(*items)->empty();
    if (items_listed) {
      COACH_RETURN_IF_ERROR(ReadItems(**items, results_path.Key("items"), nullptr, &words));
    }
    if (*speaker_labels != nullptr) {
      const JsonPath path = results_path.Key("speaker_labels");
      COACH_RETURN_IF_ERROR(
          ReadLabelGroups(**speaker_labels, path, "segments", "speaker_label", nullptr, &labels));
    }
    if (*channel_labels != nullptr) {
      const JsonPath path = results_path.Key("channel_labels");
      // Without results.items, the channels' own items are the words.
      COACH_RETURN_IF_ERROR(ReadLabelGroups(**channel_labels, path, "channels", "channel_label",
                                            items_listed ? nullptr : &words, &labels));
      if (!items_listed) {
        std::stable_sort(words.begin(), words.end(),
                         [](const Word& a, const Word& b) { return a.start_ms < b.start_ms; });
      }
    }
    return Segments(&words, labels);
  }

 private:
  // Appends the words of an items array; punctuation joins the word before.
  // `label` (a channel's) applies to every item when given.
  absl::Status ReadItems(const Json& items, const JsonPath& path, const std::string* label,
                         std::vector<Word>* words) {
    const size_t first_word = words->size();
    for (size_t i = 0; i < items.size(); ++i) {
      const Json& item = items[i];
      const JsonPath at = path.Index(i);
      if (!item.is_object()) return errors_.WrongType(at, item, "an item object");
      std::string type;
      COACH_RETURN_IF_ERROR(GetString(errors_, item, at, "type", false, &type));
      auto alternatives = GetArray(errors_, item, at, "alternatives", true);
      if (!alternatives.ok()) return alternatives.status();
      if ((*alternatives)->empty()) return errors_.At(at.Key("alternatives"), "is empty");
      const Json& best = (**alternatives)[0];
      const JsonPath best_path = at.Key("alternatives").Index(0);
      if (!best.is_object()) return errors_.WrongType(best_path, best, "an alternative object");
      std::string content;
      COACH_RETURN_IF_ERROR(GetString(errors_, best, best_path, "content", true, &content));
      if (type.empty()) type = item.contains("start_time") ? "pronunciation" : "punctuation";
      if (type == "punctuation") {
        if (words->size() > first_word) words->back().text += content;
        continue;
      }
      if (type != "pronunciation") {
        return errors_.At(
            at.Key("type"),
            absl::StrCat("must be \"pronunciation\" or \"punctuation\", not \"", type, "\""));
      }
      Word word;
      word.text = std::move(content);
      word.path = at;
      auto start = Time(item, at, "start_time", &word.start_key);
      if (!start.ok()) return start.status();
      std::string unused;
      auto end = Time(item, at, "end_time", &unused);
      if (!end.ok()) return end.status();
      if (*end < *start) return errors_.At(at.Key("end_time"), "is before start_time");
      word.start_ms = *start;
      word.end_ms = *end;
      if (label != nullptr) {
        word.label = *label;
        word.label_path = path;
      } else {
        for (const char* key : {"speaker_label", "channel_label"}) {
          COACH_RETURN_IF_ERROR(GetString(errors_, item, at, key, false, &word.label));
          if (!word.label.empty()) {
            word.label_path = at.Key(key);
            break;
          }
        }
      }
      words->push_back(std::move(word));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<int64_t> Time(const Json& item, const JsonPath& at, absl::string_view key,
                               std::string* as_written) {
    const Json* value = internal::FindField(item, key);
    if (value == nullptr) return errors_.At(at.Key(key), "is missing");
    const auto ms = internal::SecondsToMs(*value);
    if (!ms.has_value()) {
      return errors_.At(at.Key(key), absl::StrCat("bad time ", value->dump(),
                                                  ": expected seconds such as \"12.345\""));
    }
    *as_written = value->is_string() ? value->get<std::string>() : value->dump();
    return *ms;
  }

  // speaker_labels.segments[] or channel_labels.channels[]: each group has a
  // label and items; records which start_time has which label, and each
  // group's time range. With `words`, the groups' items are also read as words.
  absl::Status ReadLabelGroups(const Json& parent, const JsonPath& parent_path,
                               absl::string_view groups_key, absl::string_view label_key,
                               std::vector<Word>* words, Labels* labels) {
    auto groups = GetArray(errors_, parent, parent_path, groups_key, true);
    if (!groups.ok()) return groups.status();
    const JsonPath groups_path = parent_path.Key(groups_key);
    for (size_t g = 0; g < (*groups)->size(); ++g) {
      const Json& group = (**groups)[g];
      const JsonPath at = groups_path.Index(g);
      if (!group.is_object()) return errors_.WrongType(at, group, "an object");
      std::string label;
      COACH_RETURN_IF_ERROR(GetString(errors_, group, at, label_key, true, &label));
      std::string unused;
      if (internal::FindField(group, "start_time") != nullptr &&
          internal::FindField(group, "end_time") != nullptr) {
        auto start = Time(group, at, "start_time", &unused);
        if (!start.ok()) return start.status();
        auto end = Time(group, at, "end_time", &unused);
        if (!end.ok()) return end.status();
        labels->ranges.push_back(LabelRange{*start, *end, label, at.Key(label_key)});
      }
      auto items = GetArray(errors_, group, at, "items", false);
      if (!items.ok()) return items.status();
      if (*items == nullptr) continue;
      if (words != nullptr) {
        COACH_RETURN_IF_ERROR(ReadItems(**items, at.Key("items"), &label, words));
        continue;
      }
      for (size_t i = 0; i < (*items)->size(); ++i) {
        const Json& item = (**items)[i];
        const Json* start = internal::FindField(item, "start_time");
        if (start == nullptr) continue;  // punctuation
        if (!start->is_string()) {
          return errors_.WrongType(at.Key("items").Index(i).Key("start_time"), *start, "a string");
        }
        labels->by_start_time.emplace(start->get<std::string>(),
                                      std::make_pair(label, at.Key(label_key)));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<engine::Speaker> Role(const Word& word) const {
    if (auto speaker = internal::LookupSpeaker(options_.speakers, word.label)) return *speaker;
    if (word.label == "spk_0" || word.label == "ch_0") return engine::Speaker::kAgent;
    if (word.label == "spk_1" || word.label == "ch_1") return engine::Speaker::kCustomer;
    return errors_.At(
        word.label_path,
        absl::StrCat("speaker label \"", word.label,
                     "\" is not mapped to agent or customer; map it with --speakers \"", word.label,
                     "=agent\" (or =customer)"));
  }

  absl::StatusOr<RecordedCall> Segments(std::vector<Word>* words, const Labels& labels) const {
    RecordedCall call;
    for (Word& word : *words) {
      if (word.label.empty()) {
        if (auto it = labels.by_start_time.find(word.start_key); it != labels.by_start_time.end()) {
          word.label = it->second.first;
          word.label_path = it->second.second;
        } else {
          for (const LabelRange& range : labels.ranges) {
            if (word.start_ms >= range.start_ms && word.start_ms < range.end_ms) {
              word.label = range.label;
              word.label_path = range.path;
              break;
            }
          }
        }
      }
      if (word.label.empty()) {
        return errors_.At(word.path,
                          "no speaker: the item has no speaker_label or channel_label and no "
                          "results.speaker_labels segment covers it (transcribe with speaker "
                          "diarization or channel identification)");
      }
      auto role = Role(word);
      if (!role.ok()) return role.status();
      if (call.segments.empty() || call.segments.back().speaker != *role) {
        engine::Segment segment;
        segment.segment_id = absl::StrCat(call.segments.size() + 1);
        segment.speaker = *role;
        segment.start_ms = word.start_ms;
        call.segments.push_back(std::move(segment));
      }
      engine::Segment& segment = call.segments.back();
      if (!segment.text.empty()) segment.text.push_back(' ');
      segment.text += word.text;
      segment.end_ms = std::max(segment.end_ms, word.end_ms);
      segment.words.push_back(engine::WordTiming{word.start_ms, word.end_ms});
    }
    internal::ApplyCallOptions(file_name_, options_, &call);
    return call;
  }

  absl::string_view file_name_;
  const ReadOptions& options_;
  JsonErrors errors_;
};

}  // namespace

absl::StatusOr<RecordedCall> ParseAwsTranscribe(absl::string_view file_name,
                                                absl::string_view content,
                                                const ReadOptions& options) {
  return internal::CatchJsonExceptions<RecordedCall>(
      file_name, [&] { return Reader(file_name, options).Read(content); });
}

}  // namespace coach::transcripts
