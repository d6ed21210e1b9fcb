#include "phrase_lists/loader.h"

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace coach::phrase_lists {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr char kGoodPack[] = R"pb(name: "test"
rules {
  id: "provoking.calm_down"
  category: "provoking"
  kind: "corrective"
  speaker: "agent"
  severity: "high"
  phrases: "[please] calm down"
  unless: "storm ... calm down"
  title: "Don't tell the customer to calm down"
  message: "Acknowledge the feeling instead."
  suggestion: "I can see how frustrating this is."
  cooldown_seconds: 60
  max_per_call: 2
  examples: "Sir, please calm down."
  counter_examples: "The storm will calm down soon."
}
expectations {
  id: "expect.confirm"
  category: "missed_confirmation"
  expect: "provoking"
  title: "t"
  message: "m"
}
)pb";

std::string ErrorsOf(absl::string_view content, engine::RuleSetSpec* spec = nullptr) {
  engine::RuleSetSpec local;
  std::vector<engine::Diagnostic> diagnostics;
  absl::Status status = AppendPack("pack.textproto", content, spec ? spec : &local, &diagnostics);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  std::string out;
  for (const auto& d : diagnostics) out += d.ToString() + "\n";
  return out;
}

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("coach_loader_test_" + std::string(::testing::UnitTest::GetInstance()
                                                    ->current_test_info()
                                                    ->name()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string Write(const std::string& relative, const std::string& content) const {
    const auto file = path_ / relative;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file) << content;
    return file.string();
  }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

TEST(AppendPack, ConvertsEveryField) {
  engine::RuleSetSpec spec;
  std::vector<engine::Diagnostic> diagnostics;
  ASSERT_TRUE(AppendPack("good.textproto", kGoodPack, &spec, &diagnostics).ok());
  ASSERT_THAT(spec.rules, SizeIs(1));
  const engine::RuleSpec& rule = spec.rules[0];
  EXPECT_EQ(rule.id, "provoking.calm_down");
  EXPECT_EQ(rule.kind, engine::RuleKind::kCorrective);
  EXPECT_EQ(rule.speaker, engine::SpeakerScope::kAgent);
  EXPECT_EQ(rule.severity, engine::Severity::kHigh);
  EXPECT_EQ(rule.cooldown_ms, 60000);
  EXPECT_EQ(rule.max_per_call, 2);
  EXPECT_EQ(rule.location.ToString(), "good.textproto:2:1");
  ASSERT_THAT(rule.phrases, SizeIs(1));
  EXPECT_EQ(rule.phrases[0].location.ToString(), "good.textproto:8:3");
  EXPECT_EQ(rule.examples[0].location.ToString(), "good.textproto:15:3");
  ASSERT_THAT(spec.expectations, SizeIs(1));
  EXPECT_EQ(spec.expectations[0].at_least, 1);  // default
  EXPECT_EQ(spec.expectations[0].severity, engine::Severity::kMedium);
  EXPECT_THAT(spec.source_files, ElementsAre("good.textproto"));
}

TEST(AppendPack, SyntaxErrorNamesLineAndColumn) {
  EXPECT_THAT(ErrorsOf("rules {\n  id: \"x\"\n  phrases: calm down\n}\n"),
              HasSubstr("pack.textproto:3:12:"));
}

TEST(AppendPack, UnknownFieldIsAnError) {
  EXPECT_THAT(ErrorsOf("rules {\n  id: \"x\"\n  phrase: \"calm down\"\n}\n"),
              HasSubstr("pack.textproto:3:9: Message type \"coach.v1.Rule\" has no field named \"phrase\""));
}

TEST(AppendPack, UnknownKindSpeakerAndSeverityNameTheirFields) {
  const std::string errors = ErrorsOf(
      "rules {\n  id: \"x\"\n  kind: \"rude\"\n  speaker: \"robot\"\n  severity: \"huge\"\n}\n");
  EXPECT_THAT(errors, HasSubstr("pack.textproto:3:3: rule x: unknown kind 'rude'"));
  EXPECT_THAT(errors, HasSubstr("pack.textproto:4:3: rule x: unknown speaker 'robot'"));
  EXPECT_THAT(errors, HasSubstr("pack.textproto:5:3: rule x: unknown severity 'huge'"));
}

TEST(AppendPack, MissingKindAndSpeakerPointAtTheirRule) {
  const std::string errors =
      ErrorsOf("rules {\n  id: \"ok\"\n  kind: \"cue\"\n  speaker: \"any\"\n}\n\n"
               "  rules { id: \"x\" }\n");
  EXPECT_THAT(errors, HasSubstr("pack.textproto:7:3: rule x: kind is missing"));
  EXPECT_THAT(errors, HasSubstr("pack.textproto:7:3: rule x: speaker is missing"));
}

TEST(AppendPack, NonsenseBytesDoNotCrash) {
  const std::string garbage("\x00\xff{{{rules: [\"\\", 14);
  EXPECT_THAT(ErrorsOf(garbage), HasSubstr("pack.textproto:1:"));
}

TEST(LoadRuleSet, FailingExampleIsReportedWithFileLineAndRule) {
  TempDir dir;
  std::string pack = kGoodPack;
  pack.replace(pack.find("Sir, please calm down."), 22, "Sir, please settle down");
  const std::string file = dir.Write("agent/provoking.textproto", pack);
  std::vector<engine::Diagnostic> diagnostics;
  auto rules = LoadRuleSet({dir.path()}, {}, &diagnostics);
  ASSERT_FALSE(rules.ok());
  EXPECT_EQ(rules.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(rules.status().message(),
              HasSubstr(file + ":15:3: rule provoking.calm_down: example does not match: "
                               "\"Sir, please settle down\""));
}

TEST(LoadRuleSet, DuplicateIdsAcrossFilesNameBothFiles) {
  TempDir dir;
  const std::string a = dir.Write("a.textproto", kGoodPack);
  std::string second = kGoodPack;
  second.replace(second.find("expect.confirm"), 14, "expect.other");
  const std::string b = dir.Write("b/b.textproto", second);
  auto rules = LoadRuleSet({dir.path()});
  ASSERT_FALSE(rules.ok());
  EXPECT_THAT(rules.status().message(),
              HasSubstr(b + ":2:1: rule provoking.calm_down: duplicate id; first defined at " + a +
                        ":2:1"));
}

TEST(LoadRuleSet, LoadsDirectoriesRecursivelyInSortedOrder) {
  TempDir dir;
  std::string second = kGoodPack;
  second.replace(second.find("provoking.calm_down"), 19, "provoking.relax");
  second.replace(second.find("expect.confirm"), 14, "expect.other");
  dir.Write("z.textproto", kGoodPack);
  dir.Write("a/nested.textproto", second);
  dir.Write("notes.txt", "not a pack");
  auto rules = LoadRuleSet({dir.path()});
  ASSERT_TRUE(rules.ok()) << rules.status();
  ASSERT_THAT((*rules)->rules(), SizeIs(2));
  EXPECT_EQ((*rules)->rules()[0].spec.id, "provoking.relax");
  EXPECT_THAT((*rules)->source_files(), SizeIs(2));
}

TEST(LoadRuleSet, MissingPathsAreNotFound) {
  EXPECT_EQ(LoadRuleSet({"/nonexistent/coach/packs"}).status().code(), absl::StatusCode::kNotFound);
  TempDir empty;
  auto rules = LoadRuleSet({empty.path()});
  EXPECT_EQ(rules.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(rules.status().message(), HasSubstr("no *.textproto"));
}

}  // namespace
}  // namespace coach::phrase_lists
