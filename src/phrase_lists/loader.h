// File: phrase_lists/loader.h
//
// Loads coaching packs (phrase_lists/**/*.textproto, schema
// proto/coach/v1/phrase_list.proto) and turns them into engine specs and a
// compiled engine::RuleSet. This is the only layer that knows the protobuf
// form of a pack; the engine sees plain structs.
//
// Every problem is reported as an engine::Diagnostic with file:line:column:
// text-format syntax errors, unknown fields, unknown kind/speaker/severity
// values, and everything RuleSet::Compile() checks (duplicate ids, phrase
// syntax, bad regexes, failing examples). Nothing here crashes on a bad file;
// the functions return a status instead.
//
// Stateless and thread-safe. Files are read in sorted path order so that the
// same tree always yields the same rule order and version.

#ifndef COACHD_PHRASE_LISTS_LOADER_H_
#define COACHD_PHRASE_LISTS_LOADER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include <ostream>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/rule_set.h"

namespace coach::phrase_lists {

// Expands files and directories (recursively) into the sorted list of
// *.textproto files. kNotFound if a path does not exist or a directory holds no
// pack.
absl::StatusOr<std::vector<std::string>> FindPackFiles(const std::vector<std::string>& paths);

// Parses one pack's text (as read from `file_name`) and appends its rules and
// expectations to `spec`. Problems go to `diagnostics`; returns
// kInvalidArgument if there was any error.
absl::Status AppendPack(absl::string_view file_name, absl::string_view content,
                        engine::RuleSetSpec* spec, std::vector<engine::Diagnostic>* diagnostics);

// Reads every pack under `paths` into one spec. `diagnostics` may be null.
absl::StatusOr<engine::RuleSetSpec> LoadSpecs(const std::vector<std::string>& paths,
                                              std::vector<engine::Diagnostic>* diagnostics);

// LoadSpecs() + RuleSet::Compile(). On failure the status message lists every
// error as "file:line:col: rule <id>: message", one per line.
absl::StatusOr<std::shared_ptr<const engine::RuleSet>> LoadRuleSet(
    const std::vector<std::string>& paths, const engine::CompileOptions& options = {},
    std::vector<engine::Diagnostic>* diagnostics = nullptr);

// Loads `paths` as LoadRuleSet() does and writes a report for people to `out`:
// every error (and, when `show_warnings`, every warning) as
// "file:line:col: rule <id>: message" in file and line order, then either "FAILED: ..." or an
// "OK: ..." summary followed by the rule count of each category. Returns true
// when the lists load. Shared by `coachctl lint` and `coachd --check`.
bool WriteLintReport(const std::vector<std::string>& paths, bool show_warnings, std::ostream& out);

}  // namespace coach::phrase_lists

#endif  // COACHD_PHRASE_LISTS_LOADER_H_
