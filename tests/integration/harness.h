// Test harness for the integration tests: an in-process coachd on port 0, real
// gRPC channels (each with its own connection), a fake clock for the sweeper,
// and small clients that record what they receive.
//
// Waiting: nothing here sleeps to make logic work. Helpers wait for a
// condition (events received, a subscriber registered) and give up after a
// generous timeout that only guards against hangs.

#ifndef COACHD_TESTS_INTEGRATION_HARNESS_H_
#define COACHD_TESTS_INTEGRATION_HARNESS_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coach/v1/coach.grpc.pb.h"
#include "engine/types.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "grpcpp/grpcpp.h"
#include "server/server.h"

namespace coach::testing {

inline constexpr absl::Duration kWaitTimeout = absl::Seconds(30);

std::string SourceDir();
std::string BundledPacks();

// A one-rule phrase list ("greeting.hello" on the agent's "hello there").
inline constexpr char kHelloPack[] = R"pb(
name: "test/greeting"
rules {
  id: "greeting.hello"
  category: "greeting"
  kind: "reinforcement"
  speaker: "agent"
  severity: "info"
  phrases: "hello there"
  title: "Greeting"
  message: "Nice greeting."
}
)pb";

// A clock tests move by hand.
class FakeClock {
 public:
  absl::Time Now() const {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }
  std::function<absl::Time()> AsFunction() {
    return [this] { return Now(); };
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
};

// Polls `condition` until true or `timeout`; returns its last value.
bool Eventually(const std::function<bool()>& condition, absl::Duration timeout = kWaitTimeout);

// Expects `status` to have StatusCode::`code` and a message containing
// `substring`.
#define EXPECT_STATUS(status, code, substring)                        \
  do {                                                                \
    const grpc::Status s_ = (status);                                 \
    EXPECT_EQ(s_.error_code(), grpc::StatusCode::code)                \
        << s_.error_message();                                        \
    EXPECT_THAT(s_.error_message(), ::testing::HasSubstr(substring)); \
  } while (0)

// A WatchAgent request for `agent_id` (default tenant, no resume points).
v1::WatchAgentRequest WatchRequest(const std::string& agent_id);

// A unique temporary directory, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  // Writes `content` to path()/name and returns the full path.
  std::string Write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

// The server under test plus channel factories.
class TestServer {
 public:
  // Options for a hermetic server: 127.0.0.1:0, bundled packs, no sweeper
  // thread, the given fake clock.
  static server::Server::Options DefaultOptions(FakeClock* clock);

  // Sets coachd's logging to warnings once per process; every TestServer
  // does it first. Tests that install their own logger call it before.
  static void QuietLoggingOnce();

  explicit TestServer(server::Server::Options options);
  ~TestServer();

  server::Server& server() { return *server_; }
  std::string address() const;
  // A channel with its own TCP connection (a local subchannel pool).
  std::shared_ptr<grpc::Channel> NewChannel(const grpc::ChannelArguments& extra = {}) const;
  std::unique_ptr<v1::CoachService::Stub> NewCoachStub() const;
  std::unique_ptr<v1::AdminService::Stub> NewAdminStub() const;
  // The server's metrics text.
  std::string Scrape() { return server_->metrics().Scrape(); }
  // Waits until exactly `n` WatchAgent streams of (tenant, agent_id) are
  // registered: a desktop's stream opens on its own thread.
  bool WaitForAgentSubscribers(const std::string& tenant, const std::string& agent_id, size_t n);

 private:
  std::unique_ptr<server::Server> server_;
};

// Adds "authorization: Bearer <token>" when token is not empty.
void SetToken(grpc::ClientContext* context, const std::string& token);

// Building CallEvents.
v1::CallEvent StartEvent(const std::string& call_id, const std::string& agent_id,
                         const std::string& tenant = "");
v1::CallEvent SegmentEvent(const std::string& segment_id, v1::Speaker speaker,
                           const std::string& text, bool is_final = true, int64_t start_ms = 0,
                           int64_t end_ms = 0);
v1::CallEvent EndEvent();
// tests/data/calls/escalated_call.jsonl as segments (no start/end).
std::vector<v1::CallEvent> EscalatedCallSegments();
// start + the escalated call + end.
std::vector<v1::CallEvent> EscalatedCall(const std::string& call_id, const std::string& agent_id,
                                         const std::string& tenant = "");

// What the engine alone produces for the escalated call with the bundled
// packs: every event in seq order and the report's seq.
struct EngineRun {
  std::vector<engine::Event> events;
  // How many of `events` the segments produced (the rest came at the end).
  size_t segment_events = 0;
  int64_t report_seq = 0;
  std::string version;
};
const EngineRun& EscalatedCallEngineRun();

// One StreamCall driven from the test thread, with a reader thread recording
// every event the server sends.
class CallClient {
 public:
  // With read_now false, nothing is read until StartReading().
  CallClient(v1::CoachService::Stub* stub, const std::string& token = "", bool read_now = true);
  ~CallClient();
  void StartReading();
  // Writes one event; false when the stream is broken.
  bool Send(const v1::CallEvent& event);
  bool SendAll(const std::vector<v1::CallEvent>& events);
  // Half-closes, waits for the server to finish, returns its status.
  grpc::Status Finish();
  // Waits until at least `n` events arrived.
  bool WaitForEvents(size_t n, absl::Duration timeout = kWaitTimeout);
  // Waits until the server finished the stream (reads ended).
  bool WaitForEnd(absl::Duration timeout = kWaitTimeout);
  std::vector<v1::CoachEvent> events() const;
  grpc::ClientContext& context() { return context_; }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::CallEvent, v1::CoachEvent>> stream_;
  std::thread reader_;
  mutable absl::Mutex mu_;
  std::vector<v1::CoachEvent> events_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ = false;
  grpc::Status status_;
};

// Streams a whole call and returns what came back.
struct CallResult {
  std::vector<v1::CoachEvent> events;
  grpc::Status status;
};
CallResult RunCall(v1::CoachService::Stub* stub, const std::vector<v1::CallEvent>& events,
                   const std::string& token = "");

// A WatchAgent or WatchAlerts stream recording what it receives on a thread.
class Watcher {
 public:
  static std::unique_ptr<Watcher> Agent(v1::CoachService::Stub* stub,
                                        const v1::WatchAgentRequest& request,
                                        const std::string& token = "");
  static std::unique_ptr<Watcher> Alerts(v1::CoachService::Stub* stub,
                                         const v1::WatchAlertsRequest& request,
                                         const std::string& token = "");
  ~Watcher();
  bool WaitForEvents(size_t n, absl::Duration timeout = kWaitTimeout);
  // Waits for the report of `call_id`.
  bool WaitForReport(const std::string& call_id, absl::Duration timeout = kWaitTimeout);
  // Waits until the server ended the stream; returns its status.
  grpc::Status WaitForStatus(absl::Duration timeout = kWaitTimeout);
  // Cancels the stream and waits for the reader to stop.
  void Cancel();
  std::vector<v1::CoachEvent> events() const;
  // True once the server ended the stream.
  bool ended() const;

 private:
  Watcher() = default;
  void Run(std::function<std::unique_ptr<grpc::ClientReader<v1::CoachEvent>>()> open);

  grpc::ClientContext context_;
  std::thread reader_;
  mutable absl::Mutex mu_;
  std::vector<v1::CoachEvent> events_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

// (seq, type, rule_id) rows for comparing event lists.
struct EventRow {
  int64_t seq;
  std::string type;
  std::string rule_id;
  bool operator==(const EventRow& other) const {
    return seq == other.seq && type == other.type && rule_id == other.rule_id;
  }
};
std::ostream& operator<<(std::ostream& os, const EventRow& row);
std::vector<EventRow> Rows(const std::vector<v1::CoachEvent>& events);
std::vector<EventRow> Rows(const std::vector<engine::Event>& events);
// The rows of the escalated call as streamed: the engine's events, then the
// report.
std::vector<EventRow> ExpectedRows();
// Events of `events` belonging to `call_id`.
std::vector<v1::CoachEvent> OfCall(const std::vector<v1::CoachEvent>& events,
                                   const std::string& call_id);

// The value of metric `name` in Prometheus text `scrape`, summed over the
// series whose labels include every `label` (each written `key="value"`);
// -1 when no series matches.
double MetricValue(const std::string& scrape, const std::string& name,
                   const std::vector<std::string>& labels = {});

// Unary health check of `service` ("" = the server); the status enum value
// (1 SERVING, 2 NOT_SERVING) or -1 on an RPC error.
int HealthStatus(const std::shared_ptr<grpc::Channel>& channel, const std::string& service);
// Service names listed by server reflection.
std::vector<std::string> ReflectionServices(const std::shared_ptr<grpc::Channel>& channel);

}  // namespace coach::testing

#endif  // COACHD_TESTS_INTEGRATION_HARNESS_H_
