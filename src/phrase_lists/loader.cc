#include "phrase_lists/loader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "coach/v1/phrase_list.pb.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace coach::phrase_lists {
namespace {

namespace fs = std::filesystem;
using engine::Diagnostic;
using engine::LocatedText;
using engine::SourceLocation;
using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::TextFormat;

class Collector : public google::protobuf::io::ErrorCollector {
 public:
  Collector(std::string file, std::vector<Diagnostic>* out) : file_(std::move(file)), out_(out) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    Diagnostic d;
    d.location = SourceLocation{file_, line + 1, column + 1};
    d.message = message;
    out_->push_back(std::move(d));
    ++errors_;
  }
  void AddWarning(int line, google::protobuf::io::ColumnNumber column,
                  const std::string& message) override {
    Diagnostic d;
    d.level = Diagnostic::Level::kWarning;
    d.location = SourceLocation{file_, line + 1, column + 1};
    d.message = message;
    out_->push_back(std::move(d));
  }
  int errors() const { return errors_; }

 private:
  std::string file_;
  std::vector<Diagnostic>* out_;
  int errors_ = 0;
};

// Locations of one message's fields, as recorded by the text-format parser.
// A field that is not written (a missing `kind`, say) is reported where its
// message starts, so every diagnostic has a line.
class Locator {
 public:
  Locator(std::string file, const TextFormat::ParseInfoTree* tree, const Descriptor* descriptor,
          SourceLocation message_start = {})
      : file_(std::move(file)),
        tree_(tree),
        descriptor_(descriptor),
        message_start_(std::move(message_start)) {
    if (message_start_.file.empty()) message_start_.file = file_;
  }

  SourceLocation At(absl::string_view field, int index = -1) const {
    const FieldDescriptor* fd = descriptor_->FindFieldByName(std::string(field));
    if (tree_ == nullptr || fd == nullptr) return message_start_;
    const TextFormat::ParseLocation loc = tree_->GetLocation(fd, index);
    if (loc.line < 0) return message_start_;
    return SourceLocation{file_, loc.line + 1, loc.column + 1};
  }

  std::vector<LocatedText> Texts(absl::string_view field,
                                 const google::protobuf::RepeatedPtrField<std::string>& values) const {
    std::vector<LocatedText> out;
    for (int i = 0; i < values.size(); ++i) out.push_back(LocatedText{values.Get(i), At(field, i)});
    return out;
  }

 private:
  std::string file_;
  const TextFormat::ParseInfoTree* tree_;
  const Descriptor* descriptor_;
  SourceLocation message_start_;
};

constexpr absl::string_view kKinds = "corrective, reinforcement, escalation, reminder, tracked or cue";

void Error(std::vector<Diagnostic>* diagnostics, SourceLocation location, absl::string_view id,
           std::string message) {
  Diagnostic d;
  d.location = std::move(location);
  d.rule_id = std::string(id);
  d.message = std::move(message);
  diagnostics->push_back(std::move(d));
}

engine::Severity SeverityOr(absl::string_view text, const Locator& at, absl::string_view id,
                            std::vector<Diagnostic>* diagnostics, int* errors) {
  if (text.empty()) return engine::Severity::kMedium;
  if (auto severity = engine::ParseSeverity(text)) return *severity;
  Error(diagnostics, at.At("severity"), id,
        absl::StrCat("unknown severity '", text, "'; use info, low, medium, high or critical"));
  ++*errors;
  return engine::Severity::kMedium;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> FindPackFiles(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    std::error_code ec;
    const fs::file_status status = fs::status(path, ec);
    if (ec || !fs::exists(status)) {
      return absl::NotFoundError(absl::StrCat("phrase list path '", path, "' does not exist"));
    }
    if (!fs::is_directory(status)) {
      files.push_back(path);
      continue;
    }
    size_t found = 0;
    for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file() && it->path().extension() == ".textproto") {
        files.push_back(it->path().string());
        ++found;
      }
    }
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("cannot list phrase list directory '", path, "': ", ec.message()));
    }
    if (found == 0) {
      return absl::NotFoundError(absl::StrCat("no *.textproto phrase lists under '", path, "'"));
    }
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  return files;
}

absl::Status AppendPack(absl::string_view file_name, absl::string_view content,
                        engine::RuleSetSpec* spec, std::vector<Diagnostic>* diagnostics) {
  std::vector<Diagnostic> local;
  if (diagnostics == nullptr) diagnostics = &local;
  const std::string file(file_name);
  coach::v1::PhraseList pack;
  TextFormat::Parser parser;
  Collector collector(file, diagnostics);
  TextFormat::ParseInfoTree tree;
  parser.RecordErrorsTo(&collector);
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(std::string(content), &pack) || collector.errors() > 0) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": not a valid phrase list"));
  }
  spec->source_files.push_back(file);
  int errors = 0;
  const Locator pack_at(file, &tree, coach::v1::PhraseList::descriptor());
  for (int i = 0; i < pack.rules_size(); ++i) {
    const coach::v1::Rule& rule = pack.rules(i);
    const Locator at(file,
                     tree.GetTreeForNested(coach::v1::PhraseList::descriptor()->FindFieldByName("rules"), i),
                     coach::v1::Rule::descriptor(), pack_at.At("rules", i));
    engine::RuleSpec out;
    out.id = rule.id();
    out.location = pack_at.At("rules", i);
    out.category = rule.category();
    if (auto kind = engine::ParseRuleKind(rule.kind())) {
      out.kind = *kind;
    } else {
      Error(diagnostics, at.At("kind"), rule.id(),
            rule.kind().empty() ? absl::StrCat("kind is missing; use ", kKinds)
                                : absl::StrCat("unknown kind '", rule.kind(), "'; use ", kKinds));
      ++errors;
    }
    if (auto speaker = engine::ParseSpeakerScope(rule.speaker())) {
      out.speaker = *speaker;
    } else {
      Error(diagnostics, at.At("speaker"), rule.id(),
            rule.speaker().empty()
                ? std::string("speaker is missing; use agent, customer or any")
                : absl::StrCat("unknown speaker '", rule.speaker(), "'; use agent, customer or any"));
      ++errors;
    }
    out.severity = SeverityOr(rule.severity(), at, rule.id(), diagnostics, &errors);
    out.phrases = at.Texts("phrases", rule.phrases());
    out.patterns = at.Texts("patterns", rule.patterns());
    out.unless_phrases = at.Texts("unless", rule.unless());
    out.unless_patterns = at.Texts("unless_patterns", rule.unless_patterns());
    out.title = rule.title();
    out.message = rule.message();
    out.suggestion = rule.suggestion();
    out.cooldown_ms = int64_t{rule.cooldown_seconds()} * 1000;
    out.max_per_call = rule.max_per_call();
    out.examples = at.Texts("examples", rule.examples());
    out.counter_examples = at.Texts("counter_examples", rule.counter_examples());
    spec->rules.push_back(std::move(out));
  }
  for (int i = 0; i < pack.expectations_size(); ++i) {
    const coach::v1::Expectation& expectation = pack.expectations(i);
    const Locator at(
        file,
        tree.GetTreeForNested(coach::v1::PhraseList::descriptor()->FindFieldByName("expectations"), i),
        coach::v1::Expectation::descriptor(), pack_at.At("expectations", i));
    engine::ExpectationSpec out;
    out.id = expectation.id();
    out.location = pack_at.At("expectations", i);
    out.category = expectation.category();
    out.when.assign(expectation.when().begin(), expectation.when().end());
    out.expect.assign(expectation.expect().begin(), expectation.expect().end());
    out.within_ms = int64_t{expectation.within_seconds()} * 1000;
    out.within_agent_turns = expectation.within_agent_turns();
    out.at_least = expectation.at_least() == 0 ? 1 : expectation.at_least();
    out.severity = SeverityOr(expectation.severity(), at, expectation.id(), diagnostics, &errors);
    out.title = expectation.title();
    out.message = expectation.message();
    out.suggestion = expectation.suggestion();
    spec->expectations.push_back(std::move(out));
  }
  if (errors > 0) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": ", errors, " invalid values"));
  }
  return absl::OkStatus();
}

absl::StatusOr<engine::RuleSetSpec> LoadSpecs(const std::vector<std::string>& paths,
                                              std::vector<Diagnostic>* diagnostics) {
  std::vector<Diagnostic> local;
  if (diagnostics == nullptr) diagnostics = &local;
  absl::StatusOr<std::vector<std::string>> files = FindPackFiles(paths);
  if (!files.ok()) return files.status();
  engine::RuleSetSpec spec;
  bool ok = true;
  for (const std::string& file : *files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      return absl::PermissionDeniedError(absl::StrCat("cannot read phrase list '", file, "'"));
    }
    std::stringstream content;
    content << in.rdbuf();
    if (!AppendPack(file, content.str(), &spec, diagnostics).ok()) ok = false;
  }
  if (!ok) {
    std::vector<std::string> lines;
    for (const Diagnostic& d : *diagnostics) {
      if (d.level == Diagnostic::Level::kError) lines.push_back(d.ToString());
    }
    return absl::InvalidArgumentError(absl::StrCat("phrase lists have ", lines.size(),
                                                   lines.size() == 1 ? " error" : " errors", ":\n",
                                                   absl::StrJoin(lines, "\n")));
  }
  return spec;
}

absl::StatusOr<std::shared_ptr<const engine::RuleSet>> LoadRuleSet(
    const std::vector<std::string>& paths, const engine::CompileOptions& options,
    std::vector<Diagnostic>* diagnostics) {
  std::vector<Diagnostic> local;
  std::vector<Diagnostic>* sink = diagnostics != nullptr ? diagnostics : &local;
  absl::StatusOr<engine::RuleSetSpec> spec = LoadSpecs(paths, sink);
  if (!spec.ok()) return spec.status();
  std::vector<Diagnostic> compile_diagnostics;
  auto rules = engine::RuleSet::Compile(*std::move(spec), options, &compile_diagnostics);
  sink->insert(sink->end(), compile_diagnostics.begin(), compile_diagnostics.end());
  return rules;
}

bool WriteLintReport(const std::vector<std::string>& paths, bool show_warnings, std::ostream& out) {
  std::vector<Diagnostic> diagnostics;
  auto rules = LoadRuleSet(paths, {}, &diagnostics);
  // In file order, whichever check found them.
  std::stable_sort(diagnostics.begin(), diagnostics.end(),
                   [](const Diagnostic& a, const Diagnostic& b) {
                     return std::tie(a.location.file, a.location.line, a.location.column) <
                            std::tie(b.location.file, b.location.line, b.location.column);
                   });
  int errors = 0;
  int warnings = 0;
  for (const Diagnostic& d : diagnostics) {
    const bool error = d.level == Diagnostic::Level::kError;
    (error ? errors : warnings)++;
    if (error || show_warnings) out << d.ToString() << "\n";
  }
  if (!rules.ok()) {
    if (errors == 0) out << "error: " << rules.status().message() << "\n";
    out << "FAILED: " << std::max(errors, 1) << " error(s), " << warnings << " warning(s)\n";
    return false;
  }
  int examples = 0;
  for (const auto& rule : (*rules)->rules()) {
    examples += static_cast<int>(rule.spec.examples.size() + rule.spec.counter_examples.size());
  }
  out << "OK: " << (*rules)->rules().size() << " rules, " << (*rules)->expectations().size()
      << " expectations, " << examples << " examples checked, " << warnings << " warning(s), "
      << (*rules)->source_files().size() << " files, version " << (*rules)->version() << "\n";
  for (const auto& [category, count] : (*rules)->RuleCountsByCategory()) {
    out << "  " << category << ": " << count << "\n";
  }
  return true;
}

}  // namespace coach::phrase_lists
