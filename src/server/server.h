// File: server/server.h
//
// The coachd server: options -> BuildAndStart -> (Reload)* -> Shutdown.
//
//   Server::Options options;
//   options.listen_address = "127.0.0.1:0";          // port 0: pick a free port
//   options.phrase_lists = {"phrase_lists"};
//   absl::StatusOr<std::unique_ptr<Server>> server = Server::BuildAndStart(options);
//   ... (*server)->port() ...
//   (*server)->Reload();                               // SIGHUP
//   (*server)->Shutdown(absl::Seconds(30));            // SIGTERM
//
// BuildAndStart validates every option before building anything and returns
// INVALID_ARGUMENT naming the flag for a bad one; phrase lists that do not
// load are the loader's error; a port that cannot be bound is UNAVAILABLE.
//
// Auth: a tokens file turns bearer-token auth on (server/auth.h). Without one,
// auth is off, which is allowed only on a loopback listen address unless
// Options::insecure is set.
//
// Services: coach.v1.CoachService (callback API), coach.v1.AdminService,
// grpc.health.v1.Health (SERVING until Shutdown, then NOT_SERVING, for "" and
// both coach services) and server reflection.
//
// Shutdown(drain): health goes NOT_SERVING; new StreamCalls, WatchAgent,
// WatchAlerts and ReviewCalls get UNAVAILABLE; running calls get up to `drain`
// to end and receive their reports; calls still running then are ended (their
// report goes out, then UNAVAILABLE); subscribers are closed with UNAVAILABLE
// once their queues are flushed; then the gRPC server stops, Shutdown waits
// for every stream reactor to be through OnDone(), and then the ReviewCall
// worker pool stops (reviews already queued finish first).
//
// Thread safety: every method may be called from any thread; Shutdown is
// idempotent and the destructor calls Shutdown(0) if it was not called.

#ifndef COACHD_SERVER_SERVER_H_
#define COACHD_SERVER_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "engine/call_session.h"
#include "grpcpp/server.h"
#include "server/admin_service.h"
#include "server/auth.h"
#include "server/call_registry.h"
#include "server/coach_service.h"
#include "server/metrics.h"
#include "server/review_pool.h"
#include "server/rule_set_store.h"
#include "server/tls.h"

namespace coach::server {

class Server {
 public:
  struct Limits {
    // --max_segment_bytes: longest TranscriptSegment.text (INVALID_ARGUMENT).
    int64_t max_segment_bytes = 16 * 1024;
    // --max_message_bytes: largest gRPC message received (RESOURCE_EXHAUSTED);
    // it bounds ReviewCall requests, which carry a whole call.
    int max_message_bytes = 4 * 1024 * 1024;
    // --max_calls: live StreamCalls at once.
    int max_calls = 20000;
    // --max_segments_per_call: segments per call, interim revisions included.
    int64_t max_segments_per_call = 200000;
    // --max_call_duration: longest call, from `start`.
    absl::Duration max_call_duration = absl::Hours(4);
    // --idle_timeout: longest gap between CallEvents of a started call
    // (DEADLINE_EXCEEDED).
    absl::Duration idle_timeout = absl::Minutes(5);
    // --max_subscribers_per_agent: WatchAgent streams per agent_id.
    int max_subscribers_per_agent = 8;
    // --subscriber_queue: events a WatchAgent/WatchAlerts stream may have
    // waiting; more are dropped and counted.
    int subscriber_queue = 256;
    // --call_queue: events a StreamCall may have waiting before it stops
    // reading the pipeline's messages (backpressure; nothing is dropped).
    int call_queue = 256;
  };

  struct Reviews {
    // --review_threads: ReviewCall worker threads; 0 means max(1, cores / 2).
    int threads = 0;
    // --max_pending_reviews: ReviewCalls waiting for a worker; more get
    // RESOURCE_EXHAUSTED.
    int max_pending = 64;
  };

  struct Resume {
    // --resume_buffer: events kept per call for WatchAgent resume.
    int buffer_events = 1024;
    // --resume_retention: how long an ended call's events stay resumable.
    absl::Duration retention = absl::Minutes(10);
  };

  struct Options {
    // --listen: host:port; port 0 picks a free port (see port()).
    std::string listen_address = "127.0.0.1:50051";
    // --tls_cert, --tls_key, --tls_client_ca.
    TlsOptions tls;
    // --tokens_file: bearer tokens (server/auth.h); empty: auth off.
    std::string tokens_file;
    // --insecure: allow auth off on a non-loopback address.
    bool insecure = false;
    Limits limits;
    Resume resume;
    Reviews reviews;
    // --metrics_address: Prometheus /metrics endpoint; empty: not exposed.
    std::string metrics_address;
    // --phrase_lists: pack files or directories.
    std::vector<std::string> phrase_lists;
    // --interim_policy: fire nudges on interim hypotheses or on finals only.
    engine::InterimPolicy interim_policy = engine::InterimPolicy::kInterim;
    // --drain_timeout: used by callers of Shutdown (coachd's signal handler).
    absl::Duration drain_timeout = absl::Seconds(30);

    // For tests. The clock behind idle timeouts, call durations and resume
    // retention (never the engine's timing, which is transcript time).
    std::function<absl::Time()> clock = absl::Now;
    // How often the sweeper checks deadlines; zero runs no sweeper thread
    // (tests call SweepNow()).
    absl::Duration sweep_interval = absl::Seconds(1);
    // For tests: runs on the review worker before each ReviewCall's work,
    // with the check for the client having cancelled it.
    std::function<void(const std::function<bool()>& cancelled)> before_review;
  };

  // Validates `options`, loads the phrase lists and starts serving.
  static absl::StatusOr<std::unique_ptr<Server>> BuildAndStart(Options options);

  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound port.
  int port() const { return port_; }
  // True when bearer-token auth is on.
  bool auth_enabled() const { return tokens_ != nullptr; }

  // Reloads the phrase lists (SIGHUP, AdminService): logs and counts the
  // outcome; on failure the old rules stay.
  absl::StatusOr<std::shared_ptr<const LoadedRules>> Reload();

  // See the file comment. Blocks until the server has stopped.
  void Shutdown(absl::Duration drain);

  // Runs one sweeper tick now (idle timeouts, max durations, retention).
  void SweepNow();

  const Options& options() const { return options_; }
  RuleSetStore& rules() { return *rules_; }
  CallRegistry& registry() { return *registry_; }
  // StreamCall and Watch reactors not yet through OnDone(); 0 after Shutdown.
  int live_reactors() const { return reactors_.live(); }
  ReviewPool& reviews() { return *reviews_; }
  ServerMetrics& metrics() { return *metrics_; }

 private:
  explicit Server(Options options);
  void SweepLoop();
  // Returns the allocator's free pages to the system (glibc's malloc_trim).
  static void TrimHeap();

  const Options options_;
  std::unique_ptr<TokenStore> tokens_;
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<RuleSetStore> rules_;
  std::unique_ptr<CallRegistry> registry_;
  std::unique_ptr<ReviewPool> reviews_;
  ReactorCount reactors_;
  std::unique_ptr<CoachServiceImpl> coach_service_;
  std::unique_ptr<AdminServiceImpl> admin_service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;

  absl::Notification stop_sweeper_;
  std::thread sweeper_;

  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
};

}  // namespace coach::server

#endif  // COACHD_SERVER_SERVER_H_
