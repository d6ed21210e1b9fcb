// File: server/rule_set_store.h
//
// RuleSetStore holds the current compiled rule set and swaps it on reload.
//
//   auto store = RuleSetStore::Create({"phrase_lists"});   // validated
//   std::shared_ptr<const LoadedRules> rules = store->Current();
//   // ... a new call keeps `rules` for its whole life ...
//   auto reloaded = store->Reload();  // SIGHUP / AdminService
//
// Every snapshot is complete and immutable: a reload re-reads the same paths,
// loads and validates everything (syntax, references, every rule's examples)
// into a new snapshot, and only then swaps the pointer. A failed reload keeps
// the previous snapshot and returns the loader's "file:line:col: ..." errors.
// Snapshots handed out earlier stay valid for as long as their holders keep
// the shared_ptr, so running calls are unaffected by reloads.
//
// Thread safety: Current() may be called from any thread at any time; it
// holds a mutex only for a shared_ptr copy. Reload() calls are serialized
// with each other (a second caller waits), and never block Current() while
// files are read and compiled.

#ifndef COACHD_SERVER_RULE_SET_STORE_H_
#define COACHD_SERVER_RULE_SET_STORE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/rule_set.h"

namespace coach::server {

// One immutable snapshot of loaded rules.
struct LoadedRules {
  std::shared_ptr<const coach::engine::RuleSet> rules;  // never null
  std::vector<std::string> paths;                       // what was asked to load
  std::vector<std::string> source_files;                // every file actually loaded
  absl::Time loaded_at;
  std::map<std::string, int> rules_per_category;
  int expectation_count = 0;
  // rules->version(), e.g. "rs-3f2a9c0d11e4b7a8".
  std::string version() const;
};

class RuleSetStore {
 public:
  // Loads and validates completely. On error returns the loader's status
  // (INVALID_ARGUMENT listing every "file:line:col: ..." problem, or
  // NOT_FOUND for a missing path / a directory without packs). An empty
  // `paths` is INVALID_ARGUMENT naming --phrase_lists.
  static absl::StatusOr<std::unique_ptr<RuleSetStore>> Create(
      std::vector<std::string> paths, std::function<absl::Time()> clock = absl::Now);

  RuleSetStore(const RuleSetStore&) = delete;
  RuleSetStore& operator=(const RuleSetStore&) = delete;

  // The current snapshot; never null.
  std::shared_ptr<const LoadedRules> Current() const;

  // Re-reads the same paths; on success swaps atomically and returns the new
  // snapshot; on failure keeps the old one and returns the error
  // (INVALID_ARGUMENT / NOT_FOUND with file:line).
  absl::StatusOr<std::shared_ptr<const LoadedRules>> Reload();

  const std::vector<std::string>& paths() const { return paths_; }

  // How many snapshots have been destroyed so far (their last holder, a
  // running call or the store, let go). A snapshot's compiled regexes carry
  // DFA caches of tens of MiB that the allocator keeps after they are freed;
  // the server trims the heap when this count moves (see Server::SweepLoop).
  int64_t released_snapshots() const { return released_->load(std::memory_order_relaxed); }

 private:
  RuleSetStore(std::vector<std::string> paths, std::function<absl::Time()> clock,
               std::shared_ptr<std::atomic<int64_t>> released,
               std::shared_ptr<const LoadedRules> initial);

  // Loads `paths` into a fresh snapshot stamped with clock().
  static absl::StatusOr<std::shared_ptr<const LoadedRules>> Load(
      const std::vector<std::string>& paths, const std::function<absl::Time()>& clock,
      const std::shared_ptr<std::atomic<int64_t>>& released);

  const std::vector<std::string> paths_;
  const std::function<absl::Time()> clock_;
  // Shared with every snapshot's deleter, so snapshots may outlive the store.
  const std::shared_ptr<std::atomic<int64_t>> released_;
  // std::mutex rather than absl::Mutex: the system Abseil is not built with
  // TSan, which then cannot see absl::Mutex and reports false races.
  std::mutex reload_mu_;           // serializes Reload()
  mutable std::mutex current_mu_;  // guards current_
  std::shared_ptr<const LoadedRules> current_;
};

}  // namespace coach::server

#endif  // COACHD_SERVER_RULE_SET_STORE_H_
