// File: server/coach_service.h
//
// coach.v1.CoachService on the gRPC callback (reactor) API:
//
//   StreamCall   one ServerBidiReactor per call. It reads CallEvents one at a
//                time, runs each segment through the call's engine
//                CallSession (microseconds, under the call's own mutex only),
//                and publishes the events to the hub and to its own outbound
//                queue. It keeps one Write in flight; when its own queue
//                reaches Limits::call_queue it stops issuing Reads until the
//                queue drains to half (backpressure: the pipeline never loses
//                its own events; the idle timeout does not run while reads
//                are paused). `end` or a half-close ends the call: the
//                report is written, then Finish(OK). An error ends the call
//                too: the report still goes to everyone listening, then the
//                stream finishes with the error's status.
//   WatchAgent   one ServerWriteReactor per desktop; an EventSink with a
//   WatchAlerts  bounded queue (Limits::subscriber_queue). Overflow drops the
//                event and counts it (per subscriber and in
//                coachd_queue_dropped_events_total), so the client sees a seq
//                gap it can resume from. The replay on connect is queued
//                ahead of live events and is not limited by that queue.
//   ReviewCall   a unary reactor whose work, a whole call through a fresh
//                CallSession with the current rules, runs on the ReviewPool
//                (never on a callback thread) and finishes from there; a
//                full pool queue is RESOURCE_EXHAUSTED. No subscriber sees it.
//
// No reaction blocks and no stream has a thread. No gRPC operation (Start*,
// Finish) is started while any coachd lock is held. Reactors are owned by
// shared_ptrs (the hub and the sweeper may hold them); OnDone() drops the
// reactor's reference to itself, the equivalent of `delete this`.
//
// Thread safety: the service object is immutable after construction; the
// Env's members must outlive the grpc::Server it is registered with.

#ifndef COACHD_SERVER_COACH_SERVICE_H_
#define COACHD_SERVER_COACH_SERVICE_H_

#include <cstdint>
#include <functional>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coach/v1/coach.grpc.pb.h"
#include "engine/call_session.h"
#include "server/auth.h"
#include "server/call_registry.h"
#include "server/metrics.h"
#include "server/review_pool.h"
#include "server/rule_set_store.h"

namespace coach::server {

// Per-request limits (the registry enforces --max_calls and
// --max_subscribers_per_agent).
struct CallLimits {
  // --max_segment_bytes: longest TranscriptSegment.text.
  int64_t max_segment_bytes = 16 * 1024;
  // --max_segments_per_call: segments (interim revisions included) per call.
  int64_t max_segments_per_call = 200000;
  // --max_call_duration: wall time from `start` to the end of a call.
  absl::Duration max_call_duration = absl::Hours(4);
  // --idle_timeout: longest wait for the next CallEvent of a started call.
  absl::Duration idle_timeout = absl::Minutes(5);
  // Outbound events a StreamCall may have waiting before it stops reading.
  int call_queue = 256;
  // --subscriber_queue: events a WatchAgent/WatchAlerts stream may have
  // waiting before new ones are dropped.
  int subscriber_queue = 256;
};

// StreamCall and ReviewCall take their requests as bytes and parse them
// here: a message protobuf cannot parse (a string field that is not valid
// UTF-8) must be INVALID_ARGUMENT, which the typed API would turn into an
// end of stream (StreamCall) or UNIMPLEMENTED with no message (ReviewCall).
using CoachServiceBase = v1::CoachService::WithRawCallbackMethod_StreamCall<
    v1::CoachService::WithCallbackMethod_WatchAgent<v1::CoachService::WithCallbackMethod_WatchAlerts<
        v1::CoachService::WithRawCallbackMethod_ReviewCall<v1::CoachService::Service>>>>;

// Counts the StreamCall and Watch reactors from their construction to the
// end of their OnDone(). Server::Shutdown waits for zero after gRPC's
// Server::Wait(), so that no reactor still touches the Env (registry, metrics)
// when the server tears them down. This states the ordering in coachd's own
// code, under a lock ThreadSanitizer sees, rather than leaving it to gRPC's
// internal reference counts. Thread-safe.
class ReactorCount {
 public:
  void Enter();
  void Exit();
  // True when the count reached zero within `timeout`.
  bool WaitForNone(absl::Duration timeout);
  int live() const;

  // Calls Exit() on destruction: the first local of an OnDone(), so it runs
  // after everything else there, the reactor's own deletion included.
  class Leaving {
   public:
    explicit Leaving(ReactorCount* count) : count_(count) {}
    Leaving(const Leaving&) = delete;
    Leaving& operator=(const Leaving&) = delete;
    ~Leaving() {
      if (count_ != nullptr) count_->Exit();
    }

   private:
    ReactorCount* const count_;
  };

 private:
  mutable absl::Mutex mu_;
  int live_ ABSL_GUARDED_BY(mu_) = 0;
};

class CoachServiceImpl final : public CoachServiceBase {
 public:
  // Everything the reactors use; not owned. `tokens` null means auth off.
  struct Env {
    CallRegistry* registry = nullptr;
    RuleSetStore* rules = nullptr;
    ServerMetrics* metrics = nullptr;
    const TokenStore* tokens = nullptr;
    // Null: not counted (tests of the service alone).
    ReactorCount* reactors = nullptr;
    // Runs ReviewCalls; null runs them inline on the callback thread (only
    // for tests of the service alone).
    ReviewPool* reviews = nullptr;
    // For tests: runs on the review worker before each review, with the
    // check for the client having cancelled it.
    std::function<void(const std::function<bool()>& cancelled)> before_review;
    CallLimits limits;
    engine::SessionOptions session;
    std::function<absl::Time()> clock = absl::Now;
  };

  explicit CoachServiceImpl(Env env);
  CoachServiceImpl(const CoachServiceImpl&) = delete;
  CoachServiceImpl& operator=(const CoachServiceImpl&) = delete;

  // Reads coach.v1.CallEvent, writes coach.v1.CoachEvent, as bytes.
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* StreamCall(
      grpc::CallbackServerContext* context) override;
  grpc::ServerWriteReactor<v1::CoachEvent>* WatchAgent(
      grpc::CallbackServerContext* context, const v1::WatchAgentRequest* request) override;
  grpc::ServerWriteReactor<v1::CoachEvent>* WatchAlerts(
      grpc::CallbackServerContext* context, const v1::WatchAlertsRequest* request) override;
  // coach.v1.ReviewCallRequest in, coach.v1.ReviewCallResponse out, as bytes.
  grpc::ServerUnaryReactor* ReviewCall(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;

  // ReviewCall's work, without gRPC: the whole call through a fresh session.
  // `cancelled`, when given, is checked before each segment (CANCELLED).
  absl::Status Review(const std::optional<Principal>& principal,
                      const v1::ReviewCallRequest& request, v1::ReviewCallResponse* response,
                      const std::function<bool()>& cancelled = nullptr) const;

 private:
  const Env env_;
};

}  // namespace coach::server

#endif  // COACHD_SERVER_COACH_SERVICE_H_
