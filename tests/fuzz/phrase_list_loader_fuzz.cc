// libFuzzer harness: the textproto phrase-list loader. The input is the whole
// content of one pack file, handed to phrase_lists::AppendPack (the in-memory
// entry point LoadSpecs uses for each file), then, when it parses, compiled
// with engine::RuleSet::Compile as LoadRuleSet does.
//
// Invariants checked (abort on violation):
//   - every failure is kInvalidArgument and comes with at least one error
//     Diagnostic; success comes with none;
//   - every Diagnostic of the pack names the pack's file;
//   - a compiled rule set holds exactly the rules of the spec, each found by id;
//   - every example of every compiled rule is detected by a fresh CallSession
//     when spoken by the rule's speaker as one final segment (Compile checked
//     the examples with FindInUtterance; the session must agree).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/call_session.h"
#include "engine/rule_set.h"
#include "phrase_lists/loader.h"

namespace {

using coach::engine::Diagnostic;

constexpr char kFile[] = "fuzz/pack.textproto";

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "INVARIANT VIOLATED: %s\n", what.c_str());
  std::abort();
}

size_t Errors(const std::vector<Diagnostic>& diagnostics) {
  size_t n = 0;
  for (const Diagnostic& d : diagnostics) n += d.level == Diagnostic::Level::kError;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view content(reinterpret_cast<const char*>(data), size);
  coach::engine::RuleSetSpec spec;
  std::vector<Diagnostic> diagnostics;
  const absl::Status appended = coach::phrase_lists::AppendPack(kFile, content, &spec, &diagnostics);
  for (const Diagnostic& d : diagnostics) {
    if (d.location.file != kFile) Fail("diagnostic names another file: " + d.ToString());
    (void)d.ToString();
  }
  if (!appended.ok()) {
    if (appended.code() != absl::StatusCode::kInvalidArgument) {
      Fail("AppendPack error is not kInvalidArgument: " + appended.ToString());
    }
    if (Errors(diagnostics) == 0) Fail("AppendPack failed without an error diagnostic");
    return 0;
  }
  if (Errors(diagnostics) != 0) Fail("AppendPack succeeded with error diagnostics");

  const size_t rule_count = spec.rules.size();
  coach::engine::CompileOptions options;
  std::vector<Diagnostic> compile_diagnostics;
  auto rules = coach::engine::RuleSet::Compile(spec, options, &compile_diagnostics);
  if (!rules.ok()) {
    if (rules.status().code() != absl::StatusCode::kInvalidArgument) {
      Fail("Compile error is not kInvalidArgument: " + rules.status().ToString());
    }
    if (Errors(compile_diagnostics) == 0) Fail("Compile failed without an error diagnostic");
    return 0;
  }
  if (Errors(compile_diagnostics) != 0) Fail("Compile succeeded with error diagnostics");
  const coach::engine::RuleSet& set = **rules;
  if (set.rules().size() != rule_count) Fail("compiled rule count differs from the spec");
  (void)set.RuleCountsByCategory();

  // Every example is detected by a session.
  int examples_run = 0;
  for (size_t r = 0; r < set.rules().size(); ++r) {
    const coach::engine::RuleSpec& rule = set.rules()[r].spec;
    if (set.FindRule(rule.id) < 0) Fail("FindRule does not find rule " + rule.id);
    const coach::engine::Speaker speaker = rule.speaker == coach::engine::SpeakerScope::kCustomer
                                               ? coach::engine::Speaker::kCustomer
                                               : coach::engine::Speaker::kAgent;
    for (const coach::engine::LocatedText& example : rule.examples) {
      if (++examples_run > 32) return 0;
      coach::engine::CallSession session(*rules);
      coach::engine::Segment segment;
      segment.segment_id = "1";
      segment.speaker = speaker;
      segment.text = example.text;
      std::vector<coach::engine::Event> events;
      const absl::Status status = session.ProcessSegment(segment, &events);
      if (!status.ok()) {
        // Only the size limit may refuse an example.
        if (example.text.size() > coach::engine::SessionOptions().max_segment_bytes) continue;
        Fail(absl::StrCat("session refused example of rule ", rule.id, ": ", status.ToString()));
      }
      auto report = session.Finish(&events);
      if (!report.ok()) Fail("Finish failed: " + report.status().ToString());
      auto category = report->category_counts.find(rule.category);
      if (category == report->category_counts.end() || category->second[speaker] < 1) {
        Fail(absl::StrCat("example '", example.text, "' of rule ", rule.id,
                          " compiled but the session does not detect it"));
      }
    }
  }
  return 0;
}
