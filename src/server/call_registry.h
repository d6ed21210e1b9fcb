// File: server/call_registry.h
//
// The call registry and nudge hub: which calls are live, which desktops and
// supervisors listen, and the fan-out of each call's events to them.
//
//   CallRegistry registry(options, clock);
//   // StreamCall, on `start`:
//   auto call = registry.StartCall({call_id, agent_id, tenant}, live_call_weak_ptr);
//   // for each batch of events the engine produced:
//   std::vector<std::shared_ptr<EventSink>> to_kick;
//   registry.Publish(**call, events, &to_kick);   // buffer + fan-out
//   ... release your own locks, then: for (auto& s : to_kick) s->Kick();
//   registry.EndCall(*call);                       // buffer kept for resume
//   // WatchAgent:
//   registry.SubscribeAgent(tenant, agent_id, resume_points, sink, &to_kick);
//
// Tenants: calls and agents are keyed by (tenant, id). The same call_id or
// agent_id in two tenants are unrelated: their events never mix, and both
// calls may be live at once. The default tenant is "".
//
// Call ids: a call_id is refused (ALREADY_EXISTS) while its call is live and
// while its ended call is retained for resume, so a desktop's (call_id, seq)
// ResumePoint always names one call and event_ids stay unique.
//
// Fan-out. A call's events go, in seq order, to
//   - its resume buffer (the last --resume_buffer events, kept for
//     --resume_retention after the call ends);
//   - every WatchAgent subscriber of its agent, whether it connected before
//     or during the call. On connect a subscriber first gets, per call of its
//     agent: the buffered events after its ResumePoint's last_seq (live or
//     retained calls), or, for live calls it names no ResumePoint for, the
//     whole buffer, so a desktop that connects late still sees the nudges.
//     This replay goes through EventSink::Replay, which is not limited by the
//     subscriber's live queue (the resume buffer bounds it);
//   - every WatchAlerts subscriber whose filter matches, for alert events.
// Subscribers are EventSinks with their own bounded queues: Enqueue never
// blocks, and an overflow is the sink's to drop and count. So a slow desktop
// never stalls the pipeline or the other subscribers.
//
// Ordering argument (no loss, no duplicate, in order): a call's events are
// appended and fanned out under the call's mutex; a new subscriber is added
// to the agent's list under the registry mutex, and to each call that already
// existed under that call's mutex, right after the buffered events were
// replayed to it. A call started later copies the agent's list when it is
// registered, before it publishes anything.
//
// Locks: the registry mutex guards only the maps and is held for map work;
// Publish takes only the call's mutex (plus the alerts list's, shared). Lock
// order: registry -> call -> alerts -> sink. No lock is held while a gRPC
// operation starts: Enqueue only queues, and the caller kicks the sinks after
// releasing its locks.
//
// Thread safety: every method is thread-safe. Publish for one call must not
// run concurrently with itself (the call's StreamCall serializes it).

#ifndef COACHD_SERVER_CALL_REGISTRY_H_
#define COACHD_SERVER_CALL_REGISTRY_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/convert.h"
#include "server/outbound_queue.h"

namespace coach::server {

// A subscriber's end of the hub: a WatchAgent or WatchAlerts stream.
class EventSink {
 public:
  virtual ~EventSink() = default;
  // Queues a live `event`, or drops and counts it when the live queue is
  // full. Never blocks and never starts gRPC work (the hub may hold locks).
  // Returns true when the caller must Kick() the sink once it holds no locks.
  virtual bool Enqueue(const EventPtr& event) = 0;
  // Queues a replayed (buffered) `event` ahead of every live event; never
  // dropped and not counted against the live queue's limit (the resume
  // buffer bounds the replay). Otherwise as Enqueue.
  virtual bool Replay(const EventPtr& event) = 0;
  // Starts a write if one is due. Call with no registry or call lock held.
  virtual void Kick() = 0;
  // Finishes the stream with `status` once what is queued has been written.
  virtual void Close(const absl::Status& status) = 0;
  // True once the stream is finished; the hub then forgets the sink.
  virtual bool closed() const = 0;
  // Events dropped because the queue was full.
  virtual uint64_t dropped() const = 0;
};

// A live StreamCall, as the sweeper and the drain see it.
class LiveCall {
 public:
  virtual ~LiveCall() = default;
  // Ends the call if it has been idle for longer than its idle timeout or has
  // run longer than its maximum duration as of `now`.
  virtual void CheckDeadlines(absl::Time now) = 0;
  // Ends the call now: report to everyone still listening, then `status`.
  virtual void Abort(const absl::Status& status) = 0;
};

// An event on its way to the hub.
struct PublishedEvent {
  EventPtr event;
  // Also goes to matching WatchAlerts subscribers.
  bool alert = false;
};

// What a WatchAlerts subscriber wants.
struct AlertFilter {
  // Empty: every tenant.
  std::string tenant;
  // Empty: every agent.
  absl::flat_hash_set<std::string> agent_ids;
  bool Matches(const CallIdentity& call) const;
};

struct RegistryOptions {
  // --max_calls: live StreamCalls at once.
  int max_calls = 20000;
  // --max_subscribers_per_agent: WatchAgent streams per agent_id.
  int max_subscribers_per_agent = 8;
  // --resume_buffer: events kept per call for resume.
  int resume_buffer = 1024;
  // --resume_retention: how long an ended call's buffer is kept.
  absl::Duration resume_retention = absl::Minutes(10);
};

// One call's hub state. Created by CallRegistry::StartCall; outlives the
// StreamCall for --resume_retention.
class CallRecord {
 public:
  CallRecord(CallIdentity identity, size_t buffer_capacity, std::weak_ptr<LiveCall> live)
      : identity_(std::move(identity)), buffer_capacity_(buffer_capacity), live_(std::move(live)) {}
  CallRecord(const CallRecord&) = delete;
  CallRecord& operator=(const CallRecord&) = delete;

  const CallIdentity& identity() const { return identity_; }
  bool ended() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  friend class CallRegistry;

  const CallIdentity identity_;
  const size_t buffer_capacity_;
  const std::weak_ptr<LiveCall> live_;
  mutable absl::Mutex mu_;
  std::deque<EventPtr> buffer_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<EventSink>> subscribers_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time ended_at_ ABSL_GUARDED_BY(mu_);
};

class CallRegistry {
 public:
  explicit CallRegistry(RegistryOptions options,
                        std::function<absl::Time()> clock = absl::Now);
  CallRegistry(const CallRegistry&) = delete;
  CallRegistry& operator=(const CallRegistry&) = delete;

  // Registers a live call. UNAVAILABLE while draining, ALREADY_EXISTS when
  // the (tenant, call_id) is live or ended but still retained for resume
  // (the message says until when), RESOURCE_EXHAUSTED at --max_calls.
  absl::StatusOr<std::shared_ptr<CallRecord>> StartCall(CallIdentity identity,
                                                        std::weak_ptr<LiveCall> live)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Buffers `events` (in seq order) and fans them out; sinks that need a
  // Kick() are appended to `to_kick`.
  void Publish(CallRecord& call, const std::vector<PublishedEvent>& events,
               std::vector<std::shared_ptr<EventSink>>* to_kick) ABSL_LOCKS_EXCLUDED(mu_);

  // The call is over: it stops counting as live, and its buffer is kept for
  // --resume_retention. Idempotent.
  void EndCall(CallRecord& call) ABSL_LOCKS_EXCLUDED(mu_);

  // Adds a WatchAgent subscriber of (tenant, agent_id) and queues its replay
  // (see the file comment). `resume` maps call_id (of that tenant) ->
  // last_seq. UNAVAILABLE while draining, RESOURCE_EXHAUSTED at
  // --max_subscribers_per_agent.
  absl::Status SubscribeAgent(const std::string& tenant, const std::string& agent_id,
                              const absl::flat_hash_map<std::string, int64_t>& resume,
                              std::shared_ptr<EventSink> sink,
                              std::vector<std::shared_ptr<EventSink>>* to_kick)
      ABSL_LOCKS_EXCLUDED(mu_);
  void UnsubscribeAgent(const std::string& tenant, const std::string& agent_id,
                        const EventSink* sink) ABSL_LOCKS_EXCLUDED(mu_);

  // Adds a WatchAlerts subscriber (live events only). UNAVAILABLE while
  // draining.
  absl::Status SubscribeAlerts(AlertFilter filter, std::shared_ptr<EventSink> sink)
      ABSL_LOCKS_EXCLUDED(mu_, alerts_mu_);
  void UnsubscribeAlerts(const EventSink* sink) ABSL_LOCKS_EXCLUDED(alerts_mu_);

  // A StreamCall that has not sent `start` yet: the sweeper checks its idle
  // deadline and the drain ends it. Forgotten on start or when the stream ends.
  void TrackOpening(const LiveCall* key, std::weak_ptr<LiveCall> call) ABSL_LOCKS_EXCLUDED(mu_);
  void ForgetOpening(const LiveCall* key) ABSL_LOCKS_EXCLUDED(mu_);

  // One sweeper tick: checks the deadlines of live and opening calls (outside
  // every registry lock) and forgets ended calls older than
  // --resume_retention.
  void Sweep() ABSL_LOCKS_EXCLUDED(mu_);

  // Drain: refuse new calls and subscribers from now on.
  void StartDraining() ABSL_LOCKS_EXCLUDED(mu_);
  bool draining() const ABSL_LOCKS_EXCLUDED(mu_);
  // Waits (wall clock) until no call is live; false on timeout.
  bool WaitForNoLiveCalls(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);
  // The live and opening calls (for the drain to abort the stragglers).
  std::vector<std::shared_ptr<LiveCall>> LiveCalls() const ABSL_LOCKS_EXCLUDED(mu_);
  // Every subscriber, agent and alerts (for the drain to close them).
  std::vector<std::shared_ptr<EventSink>> Subscribers() const ABSL_LOCKS_EXCLUDED(mu_, alerts_mu_);

  int live_calls() const ABSL_LOCKS_EXCLUDED(mu_);
  // StreamCalls open but without `start` yet.
  int opening_calls() const ABSL_LOCKS_EXCLUDED(mu_);
  // Calls kept (live and ended-but-retained).
  int retained_calls() const ABSL_LOCKS_EXCLUDED(mu_);
  // dropped() of each WatchAgent subscriber of (tenant, agent_id).
  std::vector<uint64_t> AgentSubscriberDrops(const std::string& tenant,
                                             const std::string& agent_id) const
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // (tenant, call_id) or (tenant, agent_id).
  using Key = std::pair<std::string, std::string>;

  struct AgentEntry {
    std::vector<std::shared_ptr<EventSink>> subscribers;
    // Live and retained calls, oldest first.
    std::vector<std::shared_ptr<CallRecord>> calls;
  };
  struct AlertSubscription {
    AlertFilter filter;
    std::shared_ptr<EventSink> sink;
  };

  void ForgetLocked(const std::shared_ptr<CallRecord>& call) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const RegistryOptions options_;
  const std::function<absl::Time()> clock_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<Key, std::shared_ptr<CallRecord>> calls_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Key, AgentEntry> agents_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<const LiveCall*, std::weak_ptr<LiveCall>> opening_ ABSL_GUARDED_BY(mu_);
  int live_calls_ ABSL_GUARDED_BY(mu_) = 0;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;

  mutable absl::Mutex alerts_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::vector<AlertSubscription> alerts_ ABSL_GUARDED_BY(alerts_mu_);
};

}  // namespace coach::server

#endif  // COACHD_SERVER_CALL_REGISTRY_H_
