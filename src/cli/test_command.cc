// coachctl test: runs every rule's examples and counter-examples, and the
// labelled utterances of test files (*.test.jsonl), against the loaded phrase
// lists (see cli/commands.h and phrase_lists/README.md, "Testing a pack").
//
//   coachctl test [--tests PATH] [--json] [--verbose] [PATH...]
//
// A PATH ending in ".test.jsonl" is a test file; any other PATH is a phrase
// list file or directory (default: --phrase_lists), and the test files found
// below those directories run too. --tests adds a test file or a directory
// of them.
//
// Each test-file line is one utterance by one speaker:
//   {"id": "t1", "text": "...", "speaker": "agent", "expect": ["empathy"],
//    "reject": ["provoking"]}
// It runs as the only segment of a fresh CallSession; it passes when every
// `expect` category is detected and no `reject` category is. Over all test
// files, per category: TP = expected and detected, FN = expected and not
// detected, FP = rejected and detected; precision = TP / (TP + FP), recall =
// TP / (TP + FN). Detections of a category a line labels neither way are
// shown as "unlabelled" and count in neither figure.
//
// Exit codes: 0 every case passed, 1 a case failed or an input could not be
// read, 2 usage.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cli/commands.h"
#include "engine/call_session.h"
#include "engine/normalizer.h"
#include "engine/rule_set.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "phrase_lists/loader.h"

ABSL_FLAG(std::string, tests, "",
          "test: a *.test.jsonl file, or a directory searched for them, to run as well.");
ABSL_FLAG(bool, verbose, false,
          "test: also print the examples and counter-examples that pass (by default only "
          "failing ones are printed, with every test-file case).");

namespace coach::cli {
namespace {

namespace fs = std::filesystem;
using google::protobuf::Struct;
using google::protobuf::Value;

constexpr absl::string_view kTestFileSuffix = ".test.jsonl";

// One labelled utterance of a test file.
struct LabelledUtterance {
  std::string file;
  int line = 0;
  std::string id;
  std::string text;
  engine::Speaker speaker = engine::Speaker::kAgent;
  std::vector<std::string> expect;
  std::vector<std::string> reject;
};

// The outcome of one case: an example, a counter-example or a labelled
// utterance.
struct CaseResult {
  std::string type;  // "example", "counter_example" or "test"
  std::string file;
  int line = 0;
  std::string name;  // rule id, or the test line's id
  std::string speaker;  // test lines only
  std::string text;
  bool pass = false;
  std::string detail;  // why it failed, or what matched
  std::vector<std::string> detected;  // test lines only: categories detected
};

struct CategoryCounts {
  int tp = 0;
  int fn = 0;
  int fp = 0;
  int tn = 0;
  int unlabelled = 0;  // detected on a line that labels it neither way
};

std::string Ratio(int numerator, int denominator) {
  if (denominator == 0) return "-";
  return absl::StrFormat("%.2f", static_cast<double>(numerator) / denominator);
}

absl::StatusOr<std::vector<std::string>> FindTestFiles(const std::string& path) {
  std::vector<std::string> files;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) {
    return absl::NotFoundError(absl::StrCat("test path '", path, "' does not exist"));
  }
  if (!fs::is_directory(status)) {
    files.push_back(path);
    return files;
  }
  for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file() && absl::EndsWith(it->path().filename().string(), kTestFileSuffix)) {
      files.push_back(it->path().string());
    }
  }
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot list '", path, "': ", ec.message()));
  }
  std::sort(files.begin(), files.end());
  return files;
}

absl::StatusOr<std::vector<std::string>> StringList(const Value& value, absl::string_view field) {
  std::vector<std::string> out;
  if (value.kind_case() != Value::kListValue) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", field, "\" must be a list of category names"));
  }
  for (const Value& item : value.list_value().values()) {
    if (item.kind_case() != Value::kStringValue || item.string_value().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", field, "\" must be a list of category names"));
    }
    out.push_back(item.string_value());
  }
  return out;
}

// Parses one line of a test file (not blank).
absl::StatusOr<LabelledUtterance> ParseTestLine(absl::string_view line) {
  Struct object;
  const auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(line.data(), line.size()), &object);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a JSON object: ", parsed.message().as_string()));
  }
  LabelledUtterance out;
  bool has_text = false;
  bool has_speaker = false;
  for (const auto& [key, value] : object.fields()) {
    if (key == "text" || key == "speaker" || key == "id") {
      if (value.kind_case() != Value::kStringValue) {
        return absl::InvalidArgumentError(absl::StrCat("\"", key, "\" must be a string"));
      }
      if (key == "text") {
        out.text = value.string_value();
        has_text = true;
      } else if (key == "id") {
        out.id = value.string_value();
      } else {
        const auto speaker = engine::ParseSpeaker(value.string_value());
        if (!speaker.has_value()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "\"speaker\" must be \"agent\" or \"customer\", not \"", value.string_value(), "\""));
        }
        out.speaker = *speaker;
        has_speaker = true;
      }
    } else if (key == "expect" || key == "reject") {
      auto list = StringList(value, key);
      if (!list.ok()) return list.status();
      (key == "expect" ? out.expect : out.reject) = *std::move(list);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown field \"", key, "\"; use text, speaker, expect, reject and id"));
    }
  }
  if (!has_text) return absl::InvalidArgumentError("\"text\" is missing");
  if (!has_speaker) return absl::InvalidArgumentError("\"speaker\" is missing");
  if (out.expect.empty() && out.reject.empty()) {
    return absl::InvalidArgumentError("the line neither expects nor rejects any category");
  }
  for (const std::string& category : out.expect) {
    if (std::find(out.reject.begin(), out.reject.end(), category) != out.reject.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("category '", category, "' is both expected and rejected"));
    }
  }
  return out;
}

// Reads every line of `file`; problems go to `errors` as "file:line: message".
std::vector<LabelledUtterance> ReadTestFile(const std::string& file,
                                            const std::map<std::string, int>& categories,
                                            std::vector<std::string>* errors) {
  std::vector<LabelledUtterance> out;
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    errors->push_back(absl::StrCat(file, ": cannot read the test file"));
    return out;
  }
  std::stringstream content;
  content << in.rdbuf();
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(content.str(), '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    auto parsed = ParseTestLine(line);
    if (!parsed.ok()) {
      errors->push_back(absl::StrCat(file, ":", line_number, ": ", parsed.status().message()));
      continue;
    }
    bool known = true;
    for (const auto* list : {&parsed->expect, &parsed->reject}) {
      for (const std::string& category : *list) {
        if (!categories.count(category)) {
          errors->push_back(absl::StrCat(file, ":", line_number, ": category '", category,
                                         "' is not the category of any loaded rule"));
          known = false;
        }
      }
    }
    if (!known) continue;
    parsed->file = file;
    parsed->line = line_number;
    out.push_back(*std::move(parsed));
  }
  return out;
}

// Checks every example and counter-example of every rule, each as one
// complete utterance against its own rule (as RuleSet::Compile does).
std::vector<CaseResult> RunExamples(const engine::RuleSet& rules) {
  std::vector<CaseResult> results;
  engine::NormalizedText normalized;
  std::vector<engine::MatchSpan> spans;
  for (int r = 0; r < static_cast<int>(rules.rules().size()); ++r) {
    const engine::RuleSpec& rule = rules.rules()[r].spec;
    for (const bool counter : {false, true}) {
      for (const engine::LocatedText& text : counter ? rule.counter_examples : rule.examples) {
        engine::Normalize(text.text, &normalized);
        spans.clear();
        rules.FindInUtterance(r, normalized.text, &spans);
        CaseResult result;
        result.type = counter ? "counter_example" : "example";
        result.file = text.location.file;
        result.line = text.location.line;
        result.name = rule.id;
        result.text = text.text;
        result.pass = spans.empty() == counter;
        if (!spans.empty()) {
          result.detail = absl::StrCat(
              "matches \"",
              normalized.text.substr(spans.front().begin, spans.front().end - spans.front().begin),
              "\"");
        } else {
          result.detail = "does not match";
        }
        results.push_back(std::move(result));
      }
    }
  }
  return results;
}

CaseResult RunLabelled(const std::shared_ptr<const engine::RuleSet>& rules,
                       const LabelledUtterance& utterance,
                       std::map<std::string, CategoryCounts>* categories) {
  engine::CallSession session(rules);
  engine::Segment segment;
  segment.segment_id = "1";
  segment.speaker = utterance.speaker;
  segment.text = utterance.text;
  std::vector<engine::Event> events;
  CaseResult result;
  result.type = "test";
  result.file = utterance.file;
  result.line = utterance.line;
  result.name = utterance.id;
  result.speaker = std::string(engine::SpeakerName(utterance.speaker));
  result.text = utterance.text;
  if (absl::Status status = session.ProcessSegment(segment, &events); !status.ok()) {
    result.detail = std::string(status.message());
    return result;
  }
  auto report = session.Finish(&events);
  if (!report.ok()) {
    result.detail = std::string(report.status().message());
    return result;
  }
  std::set<std::string> detected;
  for (const auto& [category, by_speaker] : report->category_counts) {
    for (const auto& [speaker, count] : by_speaker) {
      if (count > 0) detected.insert(category);
    }
  }
  // What fired, for the message: "provoking (provoking.calm_down on "calm down")".
  auto why = [&](const std::string& category) {
    std::vector<std::string> rules_fired;
    for (const engine::Event& event : events) {
      if (event.type == engine::EventType::kNudge && event.category == category) {
        rules_fired.push_back(
            absl::StrCat(event.rule_id, " on \"", event.evidence.matched_text, "\""));
      }
    }
    return rules_fired.empty() ? category
                               : absl::StrCat(category, " (", absl::StrJoin(rules_fired, ", "), ")");
  };
  std::vector<std::string> problems;
  for (const std::string& category : utterance.expect) {
    CategoryCounts& counts = (*categories)[category];
    if (detected.count(category)) {
      ++counts.tp;
    } else {
      ++counts.fn;
      problems.push_back(absl::StrCat("expected ", category, " was not detected"));
    }
  }
  for (const std::string& category : utterance.reject) {
    CategoryCounts& counts = (*categories)[category];
    if (detected.count(category)) {
      ++counts.fp;
      problems.push_back(absl::StrCat("rejected ", why(category), " was detected"));
    } else {
      ++counts.tn;
    }
  }
  for (const std::string& category : detected) {
    const bool labelled =
        std::find(utterance.expect.begin(), utterance.expect.end(), category) !=
            utterance.expect.end() ||
        std::find(utterance.reject.begin(), utterance.reject.end(), category) !=
            utterance.reject.end();
    if (!labelled) ++(*categories)[category].unlabelled;
  }
  result.detected.assign(detected.begin(), detected.end());
  result.pass = problems.empty();
  result.detail = problems.empty()
                      ? absl::StrCat("detected: ", detected.empty() ? "nothing"
                                                                    : absl::StrJoin(detected, ", "))
                      : absl::StrJoin(problems, "; ");
  return result;
}

std::string Where(const CaseResult& result) {
  return result.line > 0 ? absl::StrCat(result.file, ":", result.line) : result.file;
}

void PrintCase(const CaseResult& result, std::ostream& out) {
  const std::string label =
      result.type == "test"
          ? absl::StrCat(result.name.empty() ? "" : absl::StrCat(result.name, " "), result.speaker)
          : absl::StrCat(result.name, result.type == "example" ? " example" : " counter-example");
  out << (result.pass ? "PASS " : "FAIL ") << Where(result) << ": " << label << ": \""
      << result.text << "\"";
  if (!result.pass) out << "\n       " << result.detail;
  out << "\n";
}

std::string JsonOf(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) return "{}";
  return json;
}

void SetString(Struct* object, const std::string& key, const std::string& value) {
  (*object->mutable_fields())[key].set_string_value(value);
}
void SetNumber(Struct* object, const std::string& key, double value) {
  (*object->mutable_fields())[key].set_number_value(value);
}

std::string CaseJson(const CaseResult& result) {
  Struct object;
  SetString(&object, "type", result.type);
  SetString(&object, "file", result.file);
  SetNumber(&object, "line", result.line);
  if (result.type == "test") {
    if (!result.name.empty()) SetString(&object, "id", result.name);
    SetString(&object, "speaker", result.speaker);
    auto* detected = (*object.mutable_fields())["detected"].mutable_list_value();
    for (const std::string& category : result.detected) detected->add_values()->set_string_value(category);
  } else {
    SetString(&object, "rule_id", result.name);
  }
  SetString(&object, "text", result.text);
  (*object.mutable_fields())["pass"].set_bool_value(result.pass);
  if (!result.pass) SetString(&object, "detail", result.detail);
  return JsonOf(object);
}

}  // namespace

int RunTest(const std::vector<std::string>& args) {
  std::vector<std::string> pack_paths;
  std::vector<std::string> test_paths;
  for (const std::string& arg : args) {
    (absl::EndsWith(arg, kTestFileSuffix) ? test_paths : pack_paths).push_back(arg);
  }
  const bool explicit_tests = !test_paths.empty() || !absl::GetFlag(FLAGS_tests).empty();
  if (pack_paths.empty()) pack_paths.push_back(absl::GetFlag(FLAGS_phrase_lists));
  if (!absl::GetFlag(FLAGS_tests).empty()) test_paths.push_back(absl::GetFlag(FLAGS_tests));
  // Test files that live with the packs run too.
  for (const std::string& path : pack_paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) test_paths.push_back(path);
  }

  engine::CompileOptions options;
  options.check_examples = false;  // run below, one result per case
  std::vector<engine::Diagnostic> diagnostics;
  auto rules = phrase_lists::LoadRuleSet(pack_paths, options, &diagnostics);
  if (!rules.ok()) {
    std::cerr << "coachctl test: cannot load phrase lists: " << rules.status().message() << "\n";
    return kExitFindings;
  }

  std::vector<std::string> errors;
  std::vector<std::string> test_files;
  for (const std::string& path : test_paths) {
    auto found = FindTestFiles(path);
    if (!found.ok()) {
      std::cerr << "coachctl test: " << found.status().message() << "\n";
      return kExitUsage;
    }
    test_files.insert(test_files.end(), found->begin(), found->end());
  }
  std::sort(test_files.begin(), test_files.end());
  test_files.erase(std::unique(test_files.begin(), test_files.end()), test_files.end());
  if (explicit_tests && test_files.empty()) {
    std::cerr << "coachctl test: no *" << kTestFileSuffix << " files under the given paths\n";
    return kExitUsage;
  }

  const std::map<std::string, int> known_categories = (*rules)->RuleCountsByCategory();
  std::vector<CaseResult> results = RunExamples(**rules);
  const size_t example_cases = results.size();
  std::map<std::string, CategoryCounts> categories;
  for (const std::string& file : test_files) {
    for (const LabelledUtterance& utterance : ReadTestFile(file, known_categories, &errors)) {
      results.push_back(RunLabelled(*rules, utterance, &categories));
    }
  }

  const bool json = absl::GetFlag(FLAGS_json);
  const bool verbose = absl::GetFlag(FLAGS_verbose);
  int failed[2] = {0, 0};  // examples, test lines
  for (size_t i = 0; i < results.size(); ++i) {
    const CaseResult& result = results[i];
    if (!result.pass) ++failed[i < example_cases ? 0 : 1];
    if (json) {
      std::cout << CaseJson(result) << "\n";
    } else if (!result.pass || verbose || i >= example_cases) {
      PrintCase(result, std::cout);
    }
  }
  for (const std::string& error : errors) std::cerr << error << "\n";

  const size_t test_cases = results.size() - example_cases;
  if (json) {
    for (const auto& [category, c] : categories) {
      Struct object;
      SetString(&object, "type", "category");
      SetString(&object, "category", category);
      SetNumber(&object, "tp", c.tp);
      SetNumber(&object, "fn", c.fn);
      SetNumber(&object, "fp", c.fp);
      SetNumber(&object, "tn", c.tn);
      SetNumber(&object, "unlabelled", c.unlabelled);
      if (c.tp + c.fp > 0) SetNumber(&object, "precision", double(c.tp) / (c.tp + c.fp));
      if (c.tp + c.fn > 0) SetNumber(&object, "recall", double(c.tp) / (c.tp + c.fn));
      std::cout << JsonOf(object) << "\n";
    }
    Struct summary;
    SetString(&summary, "type", "summary");
    SetNumber(&summary, "examples", static_cast<double>(example_cases));
    SetNumber(&summary, "examples_failed", failed[0]);
    SetNumber(&summary, "test_files", static_cast<double>(test_files.size()));
    SetNumber(&summary, "tests", static_cast<double>(test_cases));
    SetNumber(&summary, "tests_failed", failed[1]);
    SetNumber(&summary, "errors", static_cast<double>(errors.size()));
    std::cout << JsonOf(summary) << "\n";
  } else {
    std::cout << "\n";
    if (!categories.empty()) {
      std::cout << absl::StrFormat("%-24s %4s %4s %4s %4s %10s %9s %7s\n", "category", "TP", "FN",
                                   "FP", "TN", "unlabelled", "precision", "recall");
      for (const auto& [category, c] : categories) {
        std::cout << absl::StrFormat("%-24s %4d %4d %4d %4d %10d %9s %7s\n", category, c.tp, c.fn,
                                     c.fp, c.tn, c.unlabelled, Ratio(c.tp, c.tp + c.fp),
                                     Ratio(c.tp, c.tp + c.fn));
      }
      std::cout << "\n";
    }
    std::cout << absl::StrFormat(
        "%s: %d examples and counter-examples (%d failed); %d labelled utterances in %d test "
        "files (%d failed)%s\n",
        failed[0] + failed[1] + errors.size() == 0 ? "OK" : "FAILED", example_cases, failed[0],
        test_cases, test_files.size(), failed[1],
        errors.empty() ? "" : absl::StrCat("; ", errors.size(), " unreadable test lines"));
  }
  return failed[0] + failed[1] + errors.size() == 0 ? kExitOk : kExitFindings;
}

}  // namespace coach::cli
