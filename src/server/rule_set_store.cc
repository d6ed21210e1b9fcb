#include "server/rule_set_store.h"

#include <utility>

#include "phrase_lists/loader.h"

namespace coach::server {

std::string LoadedRules::version() const { return rules->version(); }

absl::StatusOr<std::unique_ptr<RuleSetStore>> RuleSetStore::Create(
    std::vector<std::string> paths, std::function<absl::Time()> clock) {
  if (paths.empty()) {
    return absl::InvalidArgumentError(
        "--phrase_lists: no path given; name at least one pack file or directory");
  }
  if (!clock) clock = absl::Now;
  auto released = std::make_shared<std::atomic<int64_t>>(0);
  absl::StatusOr<std::shared_ptr<const LoadedRules>> initial = Load(paths, clock, released);
  if (!initial.ok()) return initial.status();
  return std::unique_ptr<RuleSetStore>(new RuleSetStore(
      std::move(paths), std::move(clock), std::move(released), *std::move(initial)));
}

RuleSetStore::RuleSetStore(std::vector<std::string> paths, std::function<absl::Time()> clock,
                           std::shared_ptr<std::atomic<int64_t>> released,
                           std::shared_ptr<const LoadedRules> initial)
    : paths_(std::move(paths)), clock_(std::move(clock)), released_(std::move(released)),
      current_(std::move(initial)) {}

absl::StatusOr<std::shared_ptr<const LoadedRules>> RuleSetStore::Load(
    const std::vector<std::string>& paths, const std::function<absl::Time()>& clock,
    const std::shared_ptr<std::atomic<int64_t>>& released) {
  engine::CompileOptions options;
  options.check_examples = true;
  // The store keeps no warnings (coachd --check and coachctl lint show them).
  options.check_phrase_warnings = false;
  absl::StatusOr<std::shared_ptr<const engine::RuleSet>> rules =
      phrase_lists::LoadRuleSet(paths, options);
  if (!rules.ok()) return rules.status();
  auto loaded = std::make_unique<LoadedRules>();
  loaded->rules = *std::move(rules);
  loaded->paths = paths;
  loaded->source_files = loaded->rules->source_files();
  loaded->loaded_at = clock();
  loaded->rules_per_category = loaded->rules->RuleCountsByCategory();
  loaded->expectation_count = static_cast<int>(loaded->rules->expectations().size());
  return std::shared_ptr<const LoadedRules>(loaded.release(), [released](const LoadedRules* rules) {
    delete rules;
    released->fetch_add(1, std::memory_order_relaxed);
  });
}

std::shared_ptr<const LoadedRules> RuleSetStore::Current() const {
  std::lock_guard<std::mutex> lock(current_mu_);
  return current_;
}

absl::StatusOr<std::shared_ptr<const LoadedRules>> RuleSetStore::Reload() {
  std::lock_guard<std::mutex> reload_lock(reload_mu_);
  absl::StatusOr<std::shared_ptr<const LoadedRules>> loaded = Load(paths_, clock_, released_);
  if (!loaded.ok()) return loaded.status();
  std::shared_ptr<const LoadedRules> previous;  // released after the lock
  {
    std::lock_guard<std::mutex> lock(current_mu_);
    previous = std::exchange(current_, *loaded);
  }
  return loaded;
}

}  // namespace coach::server
