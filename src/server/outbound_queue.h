// File: server/outbound_queue.h
//
// Bookkeeping for a streaming reactor that keeps exactly one Write in flight:
// events wait in a FIFO; the head moves to "in flight" when a write starts and
// is released when OnWriteDone reports it done. A second FIFO, filled with
// AddPriority() (a subscriber's replay on connect), is written before
// anything queued with Add()/Push().
//
//   // under the reactor's mutex:
//   if (const v1::CoachEvent* next = queue.Push(event)) to_write = next;
//   ... unlock, then StartWrite(to_write) ...
//   // in OnWriteDone, under the mutex:
//   to_write = queue.WriteDone();   // next event to write, or nullptr
//
// Not thread-safe: the owning reactor guards it with its own mutex. Events are
// shared (the same CoachEvent goes to many streams) and never modified.

#ifndef COACHD_SERVER_OUTBOUND_QUEUE_H_
#define COACHD_SERVER_OUTBOUND_QUEUE_H_

#include <cstddef>
#include <deque>
#include <memory>
#include <utility>

#include "coach/v1/coach.pb.h"

namespace coach::server {

// One event as shared by every queue it goes to.
using EventPtr = std::shared_ptr<const v1::CoachEvent>;

class OutboundQueue {
 public:
  OutboundQueue() = default;
  OutboundQueue(const OutboundQueue&) = delete;
  OutboundQueue& operator=(const OutboundQueue&) = delete;

  // Queues `event`. Returns it when no write was in flight (the caller must
  // start writing it), else nullptr.
  const v1::CoachEvent* Push(EventPtr event) {
    Add(std::move(event));
    return StartIfIdle();
  }

  // Queues `event` without starting a write.
  void Add(EventPtr event) { waiting_.push_back(std::move(event)); }

  // Queues `event` ahead of every event queued with Add()/Push() (and behind
  // earlier AddPriority() events), without starting a write.
  void AddPriority(EventPtr event) { priority_.push_back(std::move(event)); }

  // When no write is in flight, moves the head in flight and returns it (the
  // caller must start writing it); else nullptr.
  const v1::CoachEvent* StartIfIdle() { return in_flight_ ? nullptr : StartNext(); }

  // The in-flight write finished: returns the next event to write, or nullptr
  // when the queue is empty.
  const v1::CoachEvent* WriteDone() {
    in_flight_.reset();
    return StartNext();
  }

  // Drops everything still waiting (the stream is broken); returns how many.
  size_t Clear() {
    size_t n = waiting();
    priority_.clear();
    waiting_.clear();
    return n;
  }

  // Events waiting (both FIFOs), not counting the one in flight.
  size_t waiting() const { return priority_.size() + waiting_.size(); }
  // Events waiting that were queued with Add()/Push().
  size_t waiting_regular() const { return waiting_.size(); }
  bool writing() const { return in_flight_ != nullptr; }
  bool idle() const { return !in_flight_ && waiting() == 0; }

 private:
  const v1::CoachEvent* StartNext() {
    std::deque<EventPtr>& from = priority_.empty() ? waiting_ : priority_;
    if (from.empty()) return nullptr;
    in_flight_ = std::move(from.front());
    from.pop_front();
    return in_flight_.get();
  }

  std::deque<EventPtr> priority_;
  std::deque<EventPtr> waiting_;
  EventPtr in_flight_;
};

}  // namespace coach::server

#endif  // COACHD_SERVER_OUTBOUND_QUEUE_H_
