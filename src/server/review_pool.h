// File: server/review_pool.h
//
// A small fixed pool of worker threads with a bounded queue, for ReviewCall:
// a review runs a whole recorded call through the engine (milliseconds for a
// large one), which must not run on a gRPC callback thread, and the number of
// reviews accepted at once must be bounded.
//
//   ReviewPool pool({.threads = 0, .max_pending = 64});   // 0: max(1, cores/2)
//   if (!pool.TrySubmit([...] { ...; reactor->Finish(status); })) {
//     reactor->Finish(RESOURCE_EXHAUSTED);               // queue full
//   }
//   ...
//   pool.Stop();   // runs what is queued, then joins the workers
//
// Jobs run in submission order, each on one worker. TrySubmit never blocks.
//
// Thread safety: every method may be called from any thread. Stop() must not
// be called from a job.

#ifndef COACHD_SERVER_REVIEW_POOL_H_
#define COACHD_SERVER_REVIEW_POOL_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace coach::server {

class ReviewPool {
 public:
  struct Options {
    // --review_threads: worker threads; 0 means max(1, cores / 2).
    int threads = 0;
    // --max_pending_reviews: jobs waiting for a worker (not counting the
    // ones running); TrySubmit fails beyond.
    int max_pending = 64;
  };

  // The thread count `threads` = 0 stands for on this machine.
  static int DefaultThreads();

  explicit ReviewPool(Options options);
  ~ReviewPool();  // Stop()
  ReviewPool(const ReviewPool&) = delete;
  ReviewPool& operator=(const ReviewPool&) = delete;

  // Queues `job`. False, and `job` is dropped without running, when
  // max_pending jobs are already waiting or the pool is stopped.
  bool TrySubmit(std::function<void()> job) ABSL_LOCKS_EXCLUDED(mu_);

  // Runs every job already queued, then joins the workers. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  int threads() const { return static_cast<int>(workers_.size()); }
  int max_pending() const { return max_pending_; }
  // Jobs waiting for a worker.
  size_t pending() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Work() ABSL_LOCKS_EXCLUDED(mu_);

  const int max_pending_;
  std::vector<std::thread> workers_;
  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace coach::server

#endif  // COACHD_SERVER_REVIEW_POOL_H_
