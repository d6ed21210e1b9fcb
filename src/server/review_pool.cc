#include "server/review_pool.h"

#include <algorithm>
#include <utility>

namespace coach::server {

int ReviewPool::DefaultThreads() {
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / 2);
}

ReviewPool::ReviewPool(Options options) : max_pending_(std::max(0, options.max_pending)) {
  const int n = options.threads > 0 ? options.threads : DefaultThreads();
  workers_.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) workers_.emplace_back([this] { Work(); });
}

ReviewPool::~ReviewPool() { Stop(); }

bool ReviewPool::TrySubmit(std::function<void()> job) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || queue_.size() >= static_cast<size_t>(max_pending_)) return false;
  queue_.push_back(std::move(job));
  return true;
}

void ReviewPool::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  for (std::thread& worker : workers_) worker.join();
}

size_t ReviewPool::pending() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

void ReviewPool::Work() {
  for (;;) {
    std::function<void()> job;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !queue_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping, and nothing left to run
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job();
  }
}

}  // namespace coach::server
