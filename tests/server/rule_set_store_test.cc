#include "server/rule_set_store.h"

#include <atomic>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_util.h"

namespace coach::server {
namespace {

using ::coach::server::testing::StatusIs;
using ::coach::server::testing::TempDir;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;
using ::testing::SizeIs;
using ::testing::StartsWith;

constexpr char kRule[] = R"pb(
  rules {
    id: "$ID"
    category: "$CATEGORY"
    kind: "corrective"
    speaker: "agent"
    severity: "high"
    phrases: "$PHRASE"
    title: "t"
    message: "m"
    examples: "$EXAMPLE"
  }
)pb";

std::string Rule(absl::string_view id, absl::string_view category, absl::string_view phrase,
                 absl::string_view example) {
  return absl::StrReplaceAll(
      kRule, {{"$ID", id}, {"$CATEGORY", category}, {"$PHRASE", phrase}, {"$EXAMPLE", example}});
}

// One rule in category "provoking".
const std::string& PackV1() {
  static const std::string pack = absl::StrCat(
      "name: \"test\"\n",
      Rule("provoking.calm_down", "provoking", "[please] calm down", "Sir, please calm down."));
  return pack;
}

// PackV1 plus one rule in category "blame".
const std::string& PackV2() {
  static const std::string pack = absl::StrCat(
      PackV1(), Rule("blame.your_fault", "blame", "your fault", "That is your fault."));
  return pack;
}

// A fake clock: each call returns the next second after the Unix epoch.
std::function<absl::Time()> CountingClock() {
  auto seconds = std::make_shared<int>(0);
  return [seconds] { return absl::FromUnixSeconds(++*seconds); };
}

std::unique_ptr<RuleSetStore> CreateOrDie(std::vector<std::string> paths,
                                          std::function<absl::Time()> clock = CountingClock()) {
  absl::StatusOr<std::unique_ptr<RuleSetStore>> store =
      RuleSetStore::Create(std::move(paths), std::move(clock));
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

TEST(RuleSetStore, LoadsTheBundledPacks) {
  const std::string bundled = std::string(COACHD_SOURCE_DIR) + "/phrase_lists";
  std::unique_ptr<RuleSetStore> store = CreateOrDie({bundled});
  ASSERT_NE(store, nullptr);
  std::shared_ptr<const LoadedRules> rules = store->Current();
  ASSERT_NE(rules, nullptr);
  ASSERT_NE(rules->rules, nullptr);
  EXPECT_THAT(rules->version(), StartsWith("rs-"));
  EXPECT_EQ(rules->version(), rules->rules->version());
  EXPECT_THAT(rules->paths, ElementsAre(bundled));
  EXPECT_THAT(rules->source_files, Contains(HasSubstr("agent/apology.textproto")));
  EXPECT_THAT(rules->source_files, Contains(HasSubstr("expectations.textproto")));
  EXPECT_THAT(rules->rules_per_category, Contains(Pair("apology", ::testing::Gt(0))));
  int total = 0;
  for (const auto& [category, count] : rules->rules_per_category) total += count;
  EXPECT_EQ(total, static_cast<int>(rules->rules->rules().size()));
  EXPECT_EQ(rules->expectation_count, static_cast<int>(rules->rules->expectations().size()));
  EXPECT_EQ(rules->loaded_at, absl::FromUnixSeconds(1));
}

TEST(RuleSetStore, ReloadOfAnEditedCopyOfTheBundledPacksGivesANewVersion) {
  TempDir dir;
  const std::filesystem::path copy = dir.path() / "phrase_lists";
  std::filesystem::copy(std::string(COACHD_SOURCE_DIR) + "/phrase_lists", copy,
                        std::filesystem::copy_options::recursive);
  std::unique_ptr<RuleSetStore> store = CreateOrDie({copy.string()});
  ASSERT_NE(store, nullptr);
  std::shared_ptr<const LoadedRules> before = store->Current();

  dir.Write("phrase_lists/agent/zz_extra.textproto",
            absl::StrCat("name: \"extra\"\n", Rule("extra.unit_test_only", "unit_test_only",
                                                   "flux capacitor", "Check the flux capacitor.")));
  absl::StatusOr<std::shared_ptr<const LoadedRules>> after = store->Reload();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_NE((*after)->version(), before->version());
  EXPECT_EQ(store->Current(), *after);
  EXPECT_THAT((*after)->source_files, Contains(HasSubstr("zz_extra.textproto")));
  EXPECT_THAT((*after)->rules_per_category, Contains(Pair("unit_test_only", 1)));
  EXPECT_THAT(before->rules_per_category, Not(Contains(Pair("unit_test_only", 1))));
  EXPECT_EQ((*after)->rules->rules().size(), before->rules->rules().size() + 1);
}

// A store over one pack file, created from PackV1().
class RuleSetStoreOnOnePack : public ::testing::Test {
 protected:
  void SetUp() override {
    pack_ = dir_.Write("pack.textproto", PackV1());
    store_ = CreateOrDie({pack_});
    ASSERT_NE(store_, nullptr);
    before_ = store_->Current();
  }
  void WritePack(const std::string& content) { dir_.Write("pack.textproto", content); }

  TempDir dir_;
  std::string pack_;
  std::unique_ptr<RuleSetStore> store_;
  std::shared_ptr<const LoadedRules> before_;  // the snapshot after Create()
};

TEST_F(RuleSetStoreOnOnePack, ReloadWithoutChangesKeepsTheVersionButTakesANewSnapshot) {
  absl::StatusOr<std::shared_ptr<const LoadedRules>> after = store_->Reload();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ((*after)->version(), before_->version());
  EXPECT_NE(*after, before_);
  EXPECT_EQ(before_->loaded_at, absl::FromUnixSeconds(1));
  EXPECT_EQ((*after)->loaded_at, absl::FromUnixSeconds(2));
}

TEST_F(RuleSetStoreOnOnePack, SnapshotTakenBeforeAReloadStaysValidAndUnchanged) {
  std::shared_ptr<const LoadedRules> old = std::move(before_);
  const std::string old_version = old->version();

  WritePack(PackV2());
  absl::StatusOr<std::shared_ptr<const LoadedRules>> reloaded = store_->Reload();
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_NE((*reloaded)->version(), old_version);
  EXPECT_THAT((*reloaded)->rules_per_category, ElementsAre(Pair("blame", 1), Pair("provoking", 1)));

  // The store no longer holds `old`; we are its only owner, and it still works.
  EXPECT_EQ(old.use_count(), 1);
  EXPECT_EQ(old->version(), old_version);
  EXPECT_THAT(old->rules_per_category, ElementsAre(Pair("provoking", 1)));
  ASSERT_EQ(old->rules->rules().size(), 1u);
  EXPECT_EQ(old->rules->FindRule("provoking.calm_down"), 0);
  EXPECT_EQ(old->rules->FindRule("blame.your_fault"), -1);
}

TEST_F(RuleSetStoreOnOnePack, SnapshotIsCountedAsReleasedWhenItsLastHolderLetsGo) {
  EXPECT_EQ(store_->released_snapshots(), 0);
  ASSERT_TRUE(store_->Reload().ok());
  // `before_` (a running call, say) still holds the first snapshot.
  EXPECT_EQ(store_->released_snapshots(), 0);
  before_.reset();
  EXPECT_EQ(store_->released_snapshots(), 1);
  // A failed reload builds no snapshot and releases none.
  WritePack("not a pack");
  EXPECT_FALSE(store_->Reload().ok());
  EXPECT_EQ(store_->released_snapshots(), 1);
  // With no other holder, the store's own snapshot goes at the next reload.
  WritePack(PackV2());
  ASSERT_TRUE(store_->Reload().ok());
  EXPECT_EQ(store_->released_snapshots(), 2);
}

TEST_F(RuleSetStoreOnOnePack, SyntaxErrorKeepsTheOldSnapshotAndNamesFileAndLine) {
  WritePack("name: \"test\"\nrules {\n  id: \"x\"\n  bogus_field: 1\n}\n");
  EXPECT_THAT(store_->Reload(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(pack_ + ":4")));
  EXPECT_EQ(store_->Current(), before_);
}

TEST_F(RuleSetStoreOnOnePack, FailingExampleKeepsTheOldSnapshotAndNamesFileLineAndRule) {
  // The example is on line 12 of the file: "name" is line 1, and the rule text
  // starts with an empty line.
  WritePack(absl::StrCat("name: \"test\"\n", Rule("provoking.calm_down", "provoking",
                                                  "[please] calm down", "Have a nice day.")));
  EXPECT_THAT(store_->Reload(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr(pack_ + ":12:"), HasSubstr("provoking.calm_down"))));
  EXPECT_EQ(store_->Current(), before_);
}

TEST_F(RuleSetStoreOnOnePack, DeletedPathKeepsTheOldSnapshotAndIsNotFound) {
  std::filesystem::remove(pack_);
  EXPECT_THAT(store_->Reload(), StatusIs(absl::StatusCode::kNotFound, HasSubstr(pack_)));
  EXPECT_EQ(store_->Current(), before_);

  // Fixing the file makes the next reload succeed.
  WritePack(PackV2());
  absl::StatusOr<std::shared_ptr<const LoadedRules>> fixed = store_->Reload();
  ASSERT_TRUE(fixed.ok()) << fixed.status();
  EXPECT_NE((*fixed)->version(), before_->version());
}

TEST(RuleSetStore, CreateFailsWithTheLoaderErrors) {
  TempDir dir;
  EXPECT_THAT(RuleSetStore::Create({dir.File("missing")}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(dir.File("missing"))));
  const std::string bad = dir.Write("bad.textproto", "name: \"bad\"\nrules {\n");
  EXPECT_THAT(RuleSetStore::Create({bad}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(bad + ":")));
  EXPECT_THAT(RuleSetStore::Create({}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--phrase_lists")));
}

TEST(RuleSetStore, LoadsSeveralPathsInOneSnapshot) {
  TempDir dir;
  const std::string a = dir.Write("a/one.textproto", PackV1());
  const std::string b = dir.Write(
      "b/two.textproto",
      absl::StrCat("name: \"two\"\n",
                   Rule("blame.your_fault", "blame", "your fault", "That is your fault.")));
  std::unique_ptr<RuleSetStore> store = CreateOrDie({dir.File("a"), b});
  ASSERT_NE(store, nullptr);
  std::shared_ptr<const LoadedRules> rules = store->Current();
  EXPECT_THAT(rules->paths, ElementsAre(dir.File("a"), b));
  EXPECT_THAT(rules->source_files, SizeIs(2));
  EXPECT_THAT(rules->rules_per_category, ElementsAre(Pair("blame", 1), Pair("provoking", 1)));
}

TEST_F(RuleSetStoreOnOnePack, CurrentDuringReloadsAlwaysSeesACompleteSnapshot) {
  RuleSetStore* store = store_.get();
  const std::string v1 = before_->version();
  WritePack(PackV2());
  ASSERT_TRUE(store->Reload().ok());
  const std::string v2 = store->Current()->version();
  ASSERT_NE(v1, v2);

  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::atomic<long> reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        std::shared_ptr<const LoadedRules> rules = store->Current();
        const bool complete = rules != nullptr && rules->rules != nullptr &&
                              ((rules->version() == v1 && rules->rules->rules().size() == 1 &&
                                rules->rules_per_category.size() == 1) ||
                               (rules->version() == v2 && rules->rules->rules().size() == 2 &&
                                rules->rules_per_category.size() == 2));
        if (!complete) bad.fetch_add(1);
        reads.fetch_add(1);
      }
    });
  }
  // Two threads reload while the pack is replaced (atomically) under them.
  std::atomic<int> failed_reloads{0};
  std::thread second_reloader([&] {
    while (!stop.load()) {
      if (!store->Reload().ok()) failed_reloads.fetch_add(1);
    }
  });
  for (int i = 0; i < 20; ++i) {
    WritePack(i % 2 == 0 ? PackV1() : PackV2());
    absl::StatusOr<std::shared_ptr<const LoadedRules>> reloaded = store->Reload();
    // No ASSERT here: returning early would leave the threads running.
    EXPECT_TRUE(reloaded.ok()) << reloaded.status();
    if (reloaded.ok()) {
      EXPECT_EQ((*reloaded)->version(), i % 2 == 0 ? v1 : v2);
    }
  }
  while (reads.load() < 1000) std::this_thread::yield();
  stop.store(true);
  second_reloader.join();
  for (std::thread& reader : readers) reader.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(failed_reloads.load(), 0);
  // The last write was V2; a final reload settles on it.
  ASSERT_TRUE(store->Reload().ok());
  EXPECT_EQ(store->Current()->version(), v2);
}

}  // namespace
}  // namespace coach::server
