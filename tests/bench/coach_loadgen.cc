// coach_loadgen: drives a running coachd with live calls and measures what an
// agent desktop sees.
//
//   coach_loadgen --target=127.0.0.1:50051 --calls=1000 --rate=4 --duration=20s
//                 [--channels=4] [--agents_per_call=1] [--coachd_pid=PID]
//   coach_loadgen --target=... --calls=1000 --idle [--coachd_pid=PID]
//   coach_loadgen --target=ECHO_SERVER --echo --calls=1000 --rate=4 [--coachd_pid=PID]
//   coach_loadgen --target=... --soak --calls=1000 --duration=10m [--coachd_pid=PID]
//
// Live mode. Each of --calls slots plays one simulated call after another
// (slot i plays transcript file i mod the number of files; the next call in
// the slot starts as soon as one ends and takes over the slot's cadence), so
// --calls StreamCalls are open at any time. A call sends `start`, then one
// TranscriptSegment every 1/--rate seconds: for each real utterance 1-3
// interim growing word prefixes (same segment_id), then the final with its
// word timings; right after its last final, `end` and a half-close; then it
// reads its report. Calls go round-robin over --channels distinct connections. Every
// slot has its own agent, watched by --agents_per_call WatchAgent streams over
// another --channels connections; they connect before the first call starts.
// At --duration every running call is ended (end, report, OK).
//
// Latency. The send time of every message is recorded (when it is handed to
// gRPC). When a desktop receives a nudge, its (call_id, evidence.segment_id)
// names the utterance; the revision that triggered it is the first one sent
// whose text covers evidence.span_end ("trigger" rows). The simpler rule,
// the latest revision of that segment sent before the nudge arrived, is
// reported too ("latest send"); it can only be lower. The nudges the pipeline
// receives on its own StreamCall are timed the same way.
//
// Echo floor (--echo). The same live mode against coach_echo_server
// (tests/bench/echo.proto), which writes every CallEvent back on its stream:
// the same calls, messages, cadence and connections, no desktops. Latency is
// from a segment's send to its echo. Run against coachd and the echo server in
// the same run (tests/bench/run_live_load.sh), it tells what coachd adds to
// what gRPC itself costs on the machine.
//
// Soak (--soak; tests/soak/run_soak.sh). The live mode with one resuming
// desktop per agent instead of the plain ones: each second a desktop
// disconnects with chance --desktop_flaps and reconnects 0-1 s later with a
// ResumePoint for every call it saw and has no report of; each second a call's
// pipeline cancels its stream with chance --pipeline_aborts; every
// --reload_every the phrase lists are reloaded through AdminService. At the
// end every desktop reconnects and waits for its reports, then the run fails
// if any desktop missed or duplicated a seq of a call it saw, saw a call
// without its report, a call not aborted ended without its report, a reload
// failed, or coachd's RSS grew by more than --max_rss_growth after --warmup.
//
// Idle mode (--idle). Samples coachd's RSS with the channels connected, again
// with --calls x --agents_per_call desktops connected, again after --calls
// StreamCalls have sent only `start` and --idle_wait has passed, and reports
// RSS per desktop and per idle call; then ends the calls.
//
// coachd's RSS (VmRSS) and CPU time (utime + stime of /proc/PID/stat) are
// read with --coachd_pid, or from the only process named "coachd" when the
// flag is 0 and there is exactly one. The loadgen's own CPU is reported too:
// on a shared machine it competes with coachd.
//
// Threads: gRPC's callback API runs every reaction on its own small pool; one
// pacer thread issues the timed writes and starts and reaps calls. No thread
// per stream.

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "coach/v1/coach.grpc.pb.h"
#include "echo.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "transcripts/harper_valley_reader.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "coachd address, host:port.");
ABSL_FLAG(int32_t, calls, 100, "Concurrent simulated calls (StreamCall streams).");
ABSL_FLAG(int32_t, channels, 4,
          "Distinct connections for the StreamCalls; as many again for the desktops.");
ABSL_FLAG(double, rate, 4.0, "Segments per second per call (interims and finals alike).");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(20),
          "Live mode: how long to send, ramp included; then every call is ended.");
ABSL_FLAG(absl::Duration, ramp, absl::Seconds(1),
          "Live mode: calls start spread evenly over this time; the sustained rates are "
          "measured from its end to --duration.");
ABSL_FLAG(bool, idle, false,
          "Idle mode: start --calls calls that send only `start`, wait --idle_wait, sample "
          "coachd's RSS, then end them.");
ABSL_FLAG(absl::Duration, idle_wait, absl::Seconds(3), "Idle mode: wait before sampling RSS.");
ABSL_FLAG(int32_t, coachd_pid, 0,
          "coachd's pid for RSS and CPU; 0: the only process named coachd, if exactly one.");
ABSL_FLAG(int32_t, agents_per_call, 1,
          "WatchAgent subscribers (desktops) per call's agent; each slot has its own agent. 0: "
          "no desktops (no desktop latency). coachd allows --max_subscribers_per_agent (8).");
ABSL_FLAG(absl::Duration, settle, absl::Milliseconds(500),
          "Wait after connecting the desktops before the first call starts.");
ABSL_FLAG(absl::Duration, drain, absl::Seconds(15),
          "After --duration: how long ended calls get to return their reports before they "
          "are cancelled.");
ABSL_FLAG(std::string, transcripts, COACHD_SOURCE_DIR "/tests/data/harper_valley/transcript",
          "Directory of Harper Valley transcript/*.json files to play.");
ABSL_FLAG(std::string, run_id, "",
          "Prefix of call and agent ids; default lg<pid>, so runs against one coachd never "
          "collide.");
ABSL_FLAG(bool, timeline, false,
          "Live mode: also print a row per second (segments, nudges, latency, send lag, CPU, "
          "RSS), to tell a warm-up transient from saturation.");
ABSL_FLAG(uint64_t, seed, 1, "Seed of the number of interims (1-3) sent before each final.");
ABSL_FLAG(bool, soak, false,
          "Soak mode: live mode with one resuming desktop per agent, random desktop "
          "disconnects (--desktop_flaps), random pipeline aborts (--pipeline_aborts) and a "
          "reload every --reload_every; at the end it checks from the seqs that every desktop "
          "got every event of the calls it saw exactly once, in order, that every call not "
          "aborted got its report, and that coachd's RSS grew by at most --max_rss_growth "
          "after --warmup. Exits 1 if any check fails.");
ABSL_FLAG(double, desktop_flaps, 0.01,
          "Soak: the chance per second that a desktop disconnects; it reconnects with its "
          "resume points 0-1 s later.");
ABSL_FLAG(double, pipeline_aborts, 0.002,
          "Soak: the chance per second that a call's pipeline cancels its stream mid-call.");
ABSL_FLAG(absl::Duration, reload_every, absl::Seconds(30),
          "Soak: AdminService.ReloadPhraseLists this often (0: never).");
ABSL_FLAG(absl::Duration, warmup, absl::ZeroDuration(),
          "Soak: RSS growth is measured after this much of the run (0: a fifth of --duration). "
          "Ended calls stay in coachd for --resume_retention, so the warm-up must be longer.");
ABSL_FLAG(double, max_rss_growth, 0.10,
          "Soak: the largest accepted growth of coachd's RSS after --warmup: the median of the "
          "last fifth of the per-second samples against the median of the first fifth after "
          "the warm-up, as a fraction of the latter.");
ABSL_FLAG(bool, echo, false,
          "Live mode against the echo floor (coach_echo_server) at --target instead of coachd: "
          "the same calls, messages, cadence and connections, no desktops; latency is from a "
          "segment's send to its echo on the same stream. --coachd_pid is then the echo "
          "server's pid.");

namespace coach::loadgen {
namespace {

// Every simulated call and desktop belongs to this tenant.
constexpr char kTenant[] = "loadgen";

using Clock = std::chrono::steady_clock;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// ---------------------------------------------------------------------------
// Scripts: what a simulated call sends, built once per recorded call.

struct Revision {
  int message = 0;       // index into Script::messages
  size_t text_size = 0;  // bytes of its text
};

struct Script {
  std::string source;  // the recorded call's id
  // The segment messages in send order (interims, then the final, per utterance).
  std::vector<v1::CallEvent> messages;
  // segment_id -> its revisions in send order.
  absl::flat_hash_map<std::string, std::vector<Revision>> revisions;
};

v1::Speaker ToProto(engine::Speaker speaker) {
  return speaker == engine::Speaker::kAgent ? v1::SPEAKER_AGENT : v1::SPEAKER_CUSTOMER;
}

Script BuildScript(const transcripts::RecordedCall& call, std::mt19937_64& rng) {
  Script script;
  script.source = call.call_id;
  for (const engine::Segment& segment : call.segments) {
    const std::vector<absl::string_view> words =
        absl::StrSplit(segment.text, ' ', absl::SkipEmpty());
    // 1-3 interims, never more than there are proper word prefixes.
    const int max_interims = std::min<int>(3, static_cast<int>(words.size()) - 1);
    const int interims =
        max_interims <= 0 ? 0 : 1 + static_cast<int>(rng() % static_cast<uint64_t>(max_interims));
    std::vector<Revision>& revisions = script.revisions[segment.segment_id];
    for (int i = 1; i <= interims + 1; ++i) {
      v1::CallEvent event;
      v1::TranscriptSegment* out = event.mutable_segment();
      out->set_segment_id(segment.segment_id);
      out->set_speaker(ToProto(segment.speaker));
      out->set_start_ms(segment.start_ms);
      if (i <= interims) {
        const size_t n = (words.size() * static_cast<size_t>(i) + interims) /
                         static_cast<size_t>(interims + 1);
        out->set_text(absl::StrJoin(words.begin(), words.begin() + static_cast<long>(n), " "));
        out->set_is_final(false);
        out->set_end_ms(segment.start_ms +
                        (segment.end_ms - segment.start_ms) * i / (interims + 1));
      } else {
        out->set_text(segment.text);
        out->set_is_final(true);
        out->set_end_ms(segment.end_ms);
        // The reader keeps one timing per whitespace-separated word, in order.
        for (size_t w_index = 0; w_index < segment.words.size(); ++w_index) {
          const engine::WordTiming& word = segment.words[w_index];
          v1::TranscriptSegment::Word* w = out->add_words();
          if (w_index < words.size()) w->set_text(std::string(words[w_index]));
          w->set_start_ms(word.start_ms);
          w->set_end_ms(word.end_ms);
        }
      }
      revisions.push_back({static_cast<int>(script.messages.size()), out->text().size()});
      script.messages.push_back(std::move(event));
    }
  }
  return script;
}

// ---------------------------------------------------------------------------
// Measurements shared by every stream.

// Start of the live run; Samples file each value under the second of the run
// it was taken in, for --timeline.
std::atomic<int64_t> run_start_ns{0};

class Samples {
 public:
  void Add(int64_t ns) {
    const int64_t start = run_start_ns.load(std::memory_order_relaxed);
    const int32_t second =
        start == 0 ? -1 : static_cast<int32_t>((NowNs() - start) / 1'000'000'000);
    absl::MutexLock lock(&mu_);
    values_.push_back({second, ns});
  }
  // Every value (second < 0), or those taken in one second of the run.
  std::vector<int64_t> Sorted(int32_t second = -1) {
    std::vector<int64_t> out;
    {
      absl::MutexLock lock(&mu_);
      for (const Value& v : values_) {
        if (second < 0 || v.second == second) out.push_back(v.ns);
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  struct Value {
    int32_t second;
    int64_t ns;
  };
  absl::Mutex mu_;
  std::vector<Value> values_ ABSL_GUARDED_BY(mu_);
};

class StatusCounts {
 public:
  void Add(grpc::StatusCode code) {
    absl::MutexLock lock(&mu_);
    ++counts_[code];
  }
  std::map<grpc::StatusCode, int64_t> Get() {
    absl::MutexLock lock(&mu_);
    return counts_;
  }

 private:
  absl::Mutex mu_;
  std::map<grpc::StatusCode, int64_t> counts_ ABSL_GUARDED_BY(mu_);
};

// Send times of one call's messages, kept after the call ends for late nudges.
struct CallTimes {
  explicit CallTimes(const Script* s)
      : script(s), sent_ns(new std::atomic<int64_t>[s->messages.size()]) {
    for (size_t i = 0; i < s->messages.size(); ++i) sent_ns[i].store(0);
  }
  const Script* script;
  std::unique_ptr<std::atomic<int64_t>[]> sent_ns;  // 0: not sent yet
};

struct EventCounts {
  std::atomic<int64_t> nudges{0};
  std::atomic<int64_t> retractions{0};
  std::atomic<int64_t> reminders{0};
  std::atomic<int64_t> reports{0};
};

struct Stats {
  std::atomic<int64_t> segments_sent{0};  // segment writes completed OK
  std::atomic<int64_t> segment_bytes{0};
  std::atomic<int64_t> calls_started{0};
  std::atomic<int64_t> calls_completed{0};       // script played out, report, OK
  std::atomic<int64_t> calls_ended_at_stop{0};   // ended by --duration, report, OK
  std::atomic<int64_t> calls_without_report{0};  // finished without a report (not aborted)
  std::atomic<int64_t> calls_aborted{0};         // soak: the pipeline cancelled mid-call
  EventCounts pipeline;  // events received on the StreamCalls
  EventCounts desktop;   // events received by the desktops
  std::atomic<int64_t> desktop_seq_gaps{0};     // events missing from a desktop's seq
  std::atomic<int64_t> unmatched_nudges{0};     // no send time found for the evidence
  std::atomic<int64_t> starts_written{0};
  Samples desktop_trigger;  // nudge at desktop - send of the triggering revision
  Samples desktop_latest;   // nudge at desktop - latest send of that segment
  Samples pipeline_trigger; // nudge on StreamCall - send of the triggering revision
  Samples send_lag;         // actual write - scheduled time
  std::atomic<int64_t> echoes{0};  // echo floor: segments echoed back
  Samples echo_trigger;     // echo floor: segment echoed - its send
  StatusCounts call_status;
  StatusCounts desktop_status;  // before the loadgen cancels them at the end
};

Stats* stats = nullptr;

// call_id -> send times, sharded to keep the desktops' lookups off one lock.
class CallTimesIndex {
 public:
  void Put(const std::string& call_id, std::shared_ptr<CallTimes> times) {
    Shard& shard = shards_[std::hash<std::string>()(call_id) % kShards];
    absl::MutexLock lock(&shard.mu);
    shard.map[call_id] = std::move(times);
  }
  std::shared_ptr<CallTimes> Get(const std::string& call_id) {
    Shard& shard = shards_[std::hash<std::string>()(call_id) % kShards];
    absl::MutexLock lock(&shard.mu);
    auto it = shard.map.find(call_id);
    return it == shard.map.end() ? nullptr : it->second;
  }

 private:
  static constexpr size_t kShards = 64;
  struct Shard {
    absl::Mutex mu;
    absl::flat_hash_map<std::string, std::shared_ptr<CallTimes>> map ABSL_GUARDED_BY(mu);
  };
  Shard shards_[kShards];
};

CallTimesIndex* call_times = nullptr;

// Times a nudge that arrived at `arrival_ns`. Returns false when no revision
// of its segment had been sent (which would be a server or loadgen bug).
bool TimeNudge(const v1::CoachEvent& event, int64_t arrival_ns, Samples* trigger,
               Samples* latest) {
  std::shared_ptr<CallTimes> times = call_times->Get(event.call_id());
  if (times == nullptr) return false;
  const v1::Evidence& evidence = event.nudge().evidence();
  auto it = times->script->revisions.find(evidence.segment_id());
  if (it == times->script->revisions.end()) return false;
  int64_t first_covering = 0;
  int64_t last_sent = 0;
  for (const Revision& revision : it->second) {
    const int64_t sent = times->sent_ns[revision.message].load(std::memory_order_acquire);
    if (sent == 0 || sent > arrival_ns) break;
    if (first_covering == 0 && revision.text_size >= evidence.span_end()) first_covering = sent;
    last_sent = sent;
  }
  if (last_sent == 0) return false;
  if (first_covering == 0) first_covering = last_sent;
  trigger->Add(arrival_ns - first_covering);
  if (latest != nullptr) latest->Add(arrival_ns - last_sent);
  return true;
}

// Counts `event` in `counts` and, for a nudge, times it.
void CountEvent(const v1::CoachEvent& event, int64_t arrival_ns, EventCounts* counts,
                Samples* trigger, Samples* latest) {
  switch (event.payload_case()) {
    case v1::CoachEvent::kNudge:
      counts->nudges.fetch_add(1, std::memory_order_relaxed);
      if (!TimeNudge(event, arrival_ns, trigger, latest)) {
        stats->unmatched_nudges.fetch_add(1, std::memory_order_relaxed);
      }
      break;
    case v1::CoachEvent::kRetraction:
      counts->retractions.fetch_add(1, std::memory_order_relaxed);
      break;
    case v1::CoachEvent::kReminder:
      counts->reminders.fetch_add(1, std::memory_order_relaxed);
      break;
    case v1::CoachEvent::kReport:
      counts->reports.fetch_add(1, std::memory_order_relaxed);
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------------------
// One simulated call: a StreamCall client reactor.
//
// The pacer thread calls Tick() at the cadence; at most one write is in
// flight, later ticks queue up (their delay is the send lag). A hold keeps
// OnDone away while the pacer may still start a write; it is removed once the
// half-close is issued or the stream has failed with no write in flight.
// The pacer deletes the object after OnDone has handed it back.

// What the pacer needs of a simulated call, whichever service it talks to.
class SimCallBase {
 public:
  virtual ~SimCallBase() = default;
  virtual void Start() = 0;
  // A cadence tick due at `due_ns`: the next segment goes out now, or as soon
  // as the write in flight completes. Returns false, taking nothing, when
  // every segment is already sent or queued, or the call is ending or failed;
  // the slot's next call then gets the tick.
  virtual bool Tick(int64_t due_ns) = 0;
  // Ends the call now: `end` as the next write, then the half-close.
  virtual void BeginEnd() = 0;
  virtual void Cancel() = 0;
  // Soak: the pipeline goes away mid-call (cancels its stream). The call's
  // CANCELLED status is then expected, and no report is owed to it.
  void Abort() {
    aborted_.store(true);
    Cancel();
  }
  bool aborted() const { return aborted_.load(); }
  virtual int slot() const = 0;
  virtual const grpc::Status& status() const = 0;
  // coachd: the report arrived. Echo floor: the echo of `end` arrived.
  virtual bool got_report() const = 0;
  virtual bool ended_by_stop() const = 0;

 private:
  std::atomic<bool> aborted_{false};
};

void CallDone(SimCallBase* call);  // hands a finished call back to the pacer

// The two services a simulated call can stream to: coachd's StreamCall, or
// the echo floor (tests/bench/echo.proto), which returns each CallEvent.
struct CoachdTarget {
  using Stub = v1::CoachService::Stub;
  using Response = v1::CoachEvent;
  static void Open(Stub* stub, grpc::ClientContext* context,
                   grpc::ClientBidiReactor<v1::CallEvent, Response>* reactor) {
    stub->async()->StreamCall(context, reactor);
  }
};
struct EchoTarget {
  using Stub = bench::EchoService::Stub;
  using Response = v1::CallEvent;
  static void Open(Stub* stub, grpc::ClientContext* context,
                   grpc::ClientBidiReactor<v1::CallEvent, Response>* reactor) {
    stub->async()->Echo(context, reactor);
  }
};

template <typename Target>
class SimCall final : public grpc::ClientBidiReactor<v1::CallEvent, typename Target::Response>,
                      public SimCallBase {
 public:
  SimCall(int slot, std::string call_id, std::string agent_id, const Script* script,
          typename Target::Stub* stub)
      : slot_(slot), call_id_(std::move(call_id)), script_(script), stub_(stub),
        times_(std::make_shared<CallTimes>(script)) {
    v1::CallStart* start = start_.mutable_start();
    start->set_call_id(call_id_);
    start->set_agent_id(std::move(agent_id));
    start->set_tenant(kTenant);
    end_.mutable_end()->set_reason("loadgen");
    call_times->Put(call_id_, times_);
  }

  void Start() override {
    Target::Open(stub_, &context_, this);
    this->AddHold();
    {
      std::lock_guard<std::mutex> lock(mu_);
      in_flight_ = true;  // the start
    }
    this->StartWrite(&start_);
    this->StartRead(&in_);
    this->StartCall();
    stats->calls_started.fetch_add(1, std::memory_order_relaxed);
  }

  bool Tick(int64_t due_ns) override {
    Action action;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_ || ending_ || next_ + static_cast<int>(backlog_.size()) >= Size()) {
        return false;
      }
      backlog_.push_back(due_ns);
      if (in_flight_) return true;
      action = NextLocked();
    }
    Issue(action);
    return true;
  }

  void BeginEnd() override {
    Action action;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_ || ending_) return;
      ending_ = true;
      ended_by_stop_ = true;
      backlog_.clear();
      if (in_flight_) return;
      action = NextLocked();
    }
    Issue(action);
  }

  void Cancel() override { context_.TryCancel(); }

  void OnWriteDone(bool ok) override {
    Action action;
    {
      std::lock_guard<std::mutex> lock(mu_);
      in_flight_ = false;
      if (!ok) {
        stopped_ = true;
      } else if (last_written_ == kStartMessage) {
        stats->starts_written.fetch_add(1, std::memory_order_relaxed);
      } else if (last_written_ >= 0) {
        stats->segments_sent.fetch_add(1, std::memory_order_relaxed);
        stats->segment_bytes.fetch_add(
            static_cast<int64_t>(
                script_->messages[static_cast<size_t>(last_written_)].segment().text().size()),
            std::memory_order_relaxed);
      }
      action = NextLocked();
    }
    Issue(action);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Action action;
      {
        std::lock_guard<std::mutex> lock(mu_);
        stopped_ = true;
        action = NextLocked();
      }
      Issue(action);
      return;
    }
    Receive(in_, NowNs());
    this->StartRead(&in_);
  }

  void OnDone(const grpc::Status& status) override {
    status_ = status;
    CallDone(this);  // last touch: the pacer may delete `this` from here on
  }

  int slot() const override { return slot_; }
  const grpc::Status& status() const override { return status_; }
  bool got_report() const override { return got_report_; }
  bool ended_by_stop() const override { return ended_by_stop_; }

 private:
  // coachd's events on the pipeline's own stream.
  void Receive(const v1::CoachEvent& event, int64_t arrival_ns) {
    if (event.has_report()) got_report_ = true;
    CountEvent(event, arrival_ns, &stats->pipeline, &stats->pipeline_trigger, nullptr);
  }

  // The echo floor returns the start, every segment in send order, then the end.
  void Receive(const v1::CallEvent& echo, int64_t arrival_ns) {
    if (echo.has_end()) got_report_ = true;
    if (!echo.has_segment()) return;
    const int index = echoed_segments_++;
    const int64_t sent =
        index < Size() ? times_->sent_ns[index].load(std::memory_order_acquire) : 0;
    if (sent == 0 || sent > arrival_ns) {
      stats->unmatched_nudges.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    stats->echoes.fetch_add(1, std::memory_order_relaxed);
    stats->echo_trigger.Add(arrival_ns - sent);
  }

  static constexpr int kStartMessage = -1;
  static constexpr int kEndMessage = -2;

  struct Action {
    enum Kind { kNone, kWrite, kWritesDone, kRemoveHold } kind = kNone;
    const v1::CallEvent* message = nullptr;
    int index = 0;  // message index, or kEndMessage
  };

  int Size() const { return static_cast<int>(script_->messages.size()); }

  // What to do next, with mu_ held and no write in flight.
  Action NextLocked() {
    Action action;
    if (in_flight_ || hold_removed_) return action;
    if (stopped_) {
      hold_removed_ = true;
      action.kind = Action::kRemoveHold;
      return action;
    }
    if (end_written_) {
      hold_removed_ = true;
      action.kind = Action::kWritesDone;
      return action;
    }
    action.kind = Action::kWrite;
    int64_t due = 0;
    if (ending_ || next_ >= Size()) {
      // The call hangs up right after its last segment (or at --duration).
      ending_ = true;
      action.message = &end_;
      action.index = kEndMessage;
    } else if (!backlog_.empty()) {
      due = backlog_.front();
      backlog_.pop_front();
      action.index = next_++;
      action.message = &script_->messages[static_cast<size_t>(action.index)];
    } else {
      return Action();  // wait for the next tick
    }
    in_flight_ = true;
    last_written_ = action.index;
    if (action.index == kEndMessage) end_written_ = true;  // takes effect on its OnWriteDone
    if (due != 0) stats->send_lag.Add(std::max<int64_t>(0, NowNs() - due));
    return action;
  }

  void Issue(const Action& action) {
    switch (action.kind) {
      case Action::kNone:
        return;
      case Action::kWrite:
        if (action.index >= 0) {
          times_->sent_ns[action.index].store(NowNs(), std::memory_order_release);
        }
        this->StartWrite(action.message);
        return;
      case Action::kWritesDone:
        this->StartWritesDone();
        this->RemoveHold();
        return;
      case Action::kRemoveHold:
        this->RemoveHold();
        return;
    }
  }

  const int slot_;
  const std::string call_id_;
  const Script* const script_;
  typename Target::Stub* const stub_;
  const std::shared_ptr<CallTimes> times_;
  grpc::ClientContext context_;
  v1::CallEvent start_;
  v1::CallEvent end_;
  typename Target::Response in_;  // only OnReadDone touches it
  int echoed_segments_ = 0;       // only OnReadDone touches it
  bool got_report_ = false;
  grpc::Status status_;

  std::mutex mu_;
  int next_ = 0;                 // next script message
  std::deque<int64_t> backlog_;  // due times of ticks not yet written
  bool in_flight_ = false;
  int last_written_ = kStartMessage;
  bool ending_ = false;
  bool ended_by_stop_ = false;
  bool end_written_ = false;
  bool stopped_ = false;
  bool hold_removed_ = false;
};

// ---------------------------------------------------------------------------
// One agent desktop: a WatchAgent client reactor.

class Desktop final : public grpc::ClientReadReactor<v1::CoachEvent> {
 public:
  void Start(v1::CoachService::Stub* stub, const std::string& agent_id) {
    request_.set_agent_id(agent_id);
    request_.set_tenant(kTenant);  // calls and desktops meet only within a tenant
    stub->async()->WatchAgent(&context_, &request_, this);
    StartRead(&in_);
    StartCall();
  }

  void Cancel() {
    cancelled_by_us_.store(true);
    context_.TryCancel();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    const int64_t arrival = NowNs();
    int64_t& last = last_seq_[in_.call_id()];
    if (last != 0 && in_.seq() > last + 1) {
      stats->desktop_seq_gaps.fetch_add(in_.seq() - last - 1, std::memory_order_relaxed);
    }
    last = std::max(last, in_.seq());
    CountEvent(in_, arrival, &stats->desktop, &stats->desktop_trigger, &stats->desktop_latest);
    if (in_.has_report()) last_seq_.erase(in_.call_id());
    StartRead(&in_);
  }

  void OnDone(const grpc::Status& status) override {
    if (!(cancelled_by_us_.load() && status.error_code() == grpc::StatusCode::CANCELLED)) {
      stats->desktop_status.Add(status.error_code());
    }
    std::lock_guard<std::mutex> lock(done_mu_);
    done_ = true;
    done_cv_.notify_all();
  }

  bool WaitDone(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(done_mu_);
    return done_cv_.wait_for(lock, timeout, [this] { return done_; });
  }

 private:
  grpc::ClientContext context_;
  v1::WatchAgentRequest request_;
  v1::CoachEvent in_;
  absl::flat_hash_map<std::string, int64_t> last_seq_;  // only OnReadDone touches it
  std::atomic<bool> cancelled_by_us_{false};
  std::mutex done_mu_;
  std::condition_variable done_cv_;
  bool done_ = false;
};

// ---------------------------------------------------------------------------
// Soak: an agent desktop that disconnects and resumes, and keeps a ledger of
// every call it saw, to check delivery exactly once and in order.
//
// Each connection is its own WatchAgent reactor; a reconnect sends a
// ResumePoint (call_id, last seq) for every call seen but not yet reported.
// coachd then replays what was missed, and replays live calls the desktop
// never saw from their first event, so for every call a desktop saw any event
// of, it must end up with seqs 1..report exactly once each, in order.

class SoakDesktop {
 public:
  struct Totals {
    int64_t calls = 0;       // calls seen
    int64_t complete = 0;    // calls seen through their report
    int64_t events = 0;      // events counted once
    int64_t duplicates = 0;  // seq at or below the last one seen
    int64_t gaps = 0;        // seqs skipped (events lost)
    int64_t dropped = 0;     // coachd's dropped_before counts
    int64_t connections = 0;
    int64_t unexpected_ends = 0;  // streams coachd ended with an error
  };

  SoakDesktop(v1::CoachService::Stub* stub, std::string agent_id)
      : stub_(stub), agent_id_(std::move(agent_id)) {}
  ~SoakDesktop() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](SoakDesktop* d) { return d->current_ == nullptr || d->current_done_; }, this));
  }

  // Opens a new connection with the resume points; false while the last one
  // has not ended yet.
  bool Connect() {
    auto request = std::make_unique<v1::WatchAgentRequest>();
    request->set_agent_id(agent_id_);
    request->set_tenant(kTenant);
    Connection* connection;
    {
      absl::MutexLock lock(&mu_);
      if (current_ != nullptr && !current_done_) return false;
      for (const auto& [call_id, ledger] : ledger_) {
        if (ledger.last_seq > 0 && !ledger.reported) {
          v1::ResumePoint* point = request->add_resume();
          point->set_call_id(call_id);
          point->set_last_seq(ledger.last_seq);
        }
      }
      if (current_ != nullptr) ended_.push_back(std::move(current_owner_));
      current_owner_ = std::make_unique<Connection>(this, std::move(request));
      current_ = current_owner_.get();
      current_done_ = false;
      ++totals_.connections;
      connection = current_;
    }
    connection->Start(stub_);
    return true;
  }

  // Cancels the current connection (it ends with CANCELLED, which is expected).
  void Disconnect() {
    absl::MutexLock lock(&mu_);
    if (current_ != nullptr && !current_done_) {
      current_->cancelled_by_us = true;
      current_->context.TryCancel();
    }
  }

  bool connected() {
    absl::MutexLock lock(&mu_);
    return current_ != nullptr && !current_done_;
  }

  // Calls seen whose report has not arrived.
  int64_t Incomplete() {
    absl::MutexLock lock(&mu_);
    int64_t n = 0;
    for (const auto& [call_id, ledger] : ledger_) n += ledger.reported ? 0 : 1;
    return n;
  }

  Totals totals() {
    absl::MutexLock lock(&mu_);
    Totals t = totals_;
    t.calls = static_cast<int64_t>(ledger_.size());
    for (const auto& [call_id, ledger] : ledger_) t.complete += ledger.reported ? 1 : 0;
    return t;
  }

 private:
  struct Connection final : public grpc::ClientReadReactor<v1::CoachEvent> {
    Connection(SoakDesktop* owner, std::unique_ptr<v1::WatchAgentRequest> request)
        : owner(owner), request(std::move(request)) {}
    void Start(v1::CoachService::Stub* stub) {
      stub->async()->WatchAgent(&context, request.get(), this);
      StartRead(&in);
      StartCall();
    }
    void OnReadDone(bool ok) override {
      if (!ok) return;
      owner->Record(in);
      StartRead(&in);
    }
    void OnDone(const grpc::Status& status) override { owner->Ended(this, status); }

    SoakDesktop* const owner;
    const std::unique_ptr<v1::WatchAgentRequest> request;
    grpc::ClientContext context;
    v1::CoachEvent in;
    bool cancelled_by_us = false;  // guarded by owner->mu_
  };

  struct CallLedger {
    int64_t last_seq = 0;
    bool reported = false;
  };

  void Record(const v1::CoachEvent& event) {
    absl::MutexLock lock(&mu_);
    CallLedger& ledger = ledger_[event.call_id()];
    const int64_t seq = static_cast<int64_t>(event.seq());
    totals_.dropped += static_cast<int64_t>(event.dropped_before());
    if (seq <= ledger.last_seq) {
      ++totals_.duplicates;
      return;
    }
    totals_.gaps += seq - ledger.last_seq - 1;
    ledger.last_seq = seq;
    ++totals_.events;
    if (event.has_report()) ledger.reported = true;
  }

  void Ended(Connection* connection, const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    if (!(connection->cancelled_by_us && status.error_code() == grpc::StatusCode::CANCELLED)) {
      ++totals_.unexpected_ends;
      fprintf(stderr, "coach_loadgen: desktop %s: WatchAgent ended: %s %s\n", agent_id_.c_str(),
              absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())).c_str(),
              status.error_message().c_str());
    }
    if (connection == current_) current_done_ = true;
  }

  v1::CoachService::Stub* const stub_;
  const std::string agent_id_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, CallLedger> ledger_ ABSL_GUARDED_BY(mu_);
  Totals totals_ ABSL_GUARDED_BY(mu_);
  // The live connection, and the ended ones (deleted with the desktop, so
  // that no reactor is freed while gRPC may still be returning from OnDone).
  std::unique_ptr<Connection> current_owner_ ABSL_GUARDED_BY(mu_);
  Connection* current_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool current_done_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::unique_ptr<Connection>> ended_ ABSL_GUARDED_BY(mu_);
};

// ---------------------------------------------------------------------------
// The pacer: cadence ticks, call starts and restarts, the end of the run.

std::mutex done_mu;
std::condition_variable done_cv;
std::vector<SimCallBase*> done_calls;  // guarded by done_mu

void CallDone(SimCallBase* call) {
  std::lock_guard<std::mutex> lock(done_mu);
  done_calls.push_back(call);
  done_cv.notify_all();
}

struct Options {
  std::string run_id;
  int calls = 0;
  double rate = 4;
  bool idle = false;
  int64_t duration_ns = 0;
  int64_t ramp_ns = 0;
  int64_t drain_ns = 0;
};

class Pacer {
 public:
  // Makes the (not yet started) call for a slot.
  using CallFactory = std::function<SimCallBase*(int slot, std::string call_id,
                                                 std::string agent_id, const Script* script)>;

  Pacer(const Options& options, const std::vector<Script>& scripts, CallFactory make_call)
      : options_(options), scripts_(scripts), make_call_(std::move(make_call)),
        period_ns_(static_cast<int64_t>(1e9 / options.rate)),
        slots_(static_cast<size_t>(options.calls)), generation_(slots_.size(), 0),
        pending_(slots_.size()) {}

  // Live mode: runs until `stop_ns` (absolute), then ends every call and
  // waits up to the drain for them. `on_tick` is called at `window_ns`.
  // `each_second` is called at every whole second of the run.
  void RunLive(int64_t start_ns, int64_t window_ns, int64_t stop_ns,
               const std::function<void()>& at_window, const std::function<void()>& at_stop,
               const std::function<void()>& each_second) {
    int64_t next_second = start_ns + 1'000'000'000;
    for (int slot = 0; slot < options_.calls; ++slot) {
      const int64_t offset = options_.ramp_ns * slot / std::max(1, options_.calls);
      heap_.push({start_ns + offset, slot, /*start=*/true});
    }
    bool window_marked = false;
    while (true) {
      ReapDone(/*restart=*/true);
      const int64_t now = NowNs();
      if (!window_marked && now >= window_ns) {
        window_marked = true;
        at_window();
      }
      if (now >= next_second) {
        next_second += 1'000'000'000;
        each_second();
      }
      if (now >= stop_ns) break;
      while (!heap_.empty() && heap_.top().due_ns <= now) {
        Entry entry = heap_.top();
        heap_.pop();
        if (entry.start) {
          StartCall(entry.slot);
        } else {
          Deliver(entry.slot, entry.due_ns);
        }
        heap_.push({entry.due_ns + period_ns_, entry.slot, false});
      }
      int64_t wake = std::min(stop_ns, next_second);
      if (!window_marked) wake = std::min(wake, window_ns);
      if (!heap_.empty()) wake = std::min(wake, heap_.top().due_ns);
      WaitForDone(wake);
    }
    at_stop();
    EndAll();
  }

  // Idle mode: starts every call (start only); returns once each start is
  // written or `timeout_ns` has passed.
  void StartIdle(int64_t timeout_ns) {
    for (int slot = 0; slot < options_.calls; ++slot) StartCall(slot);
    const int64_t deadline = NowNs() + timeout_ns;
    while (stats->starts_written.load() + Finished() < options_.calls && NowNs() < deadline) {
      ReapDone(/*restart=*/false);
      WaitForDone(NowNs() + 10'000'000);
    }
    ReapDone(/*restart=*/false);
  }

  // Soak: aborts each running call with probability `p`. Pacer thread only
  // (from RunLive's callbacks).
  int AbortRandom(double p, std::mt19937_64& rng) {
    if (stopping_ || p <= 0) return 0;
    std::uniform_real_distribution<double> coin(0, 1);
    int aborted = 0;
    for (SimCallBase* call : slots_) {
      if (call != nullptr && coin(rng) < p) {
        call->Abort();
        ++aborted;
      }
    }
    return aborted;
  }

  // Ends every running call, waits up to the drain, then cancels the rest.
  void EndAll() {
    stopping_ = true;
    ReapDone(/*restart=*/false);
    for (SimCallBase* call : slots_) {
      if (call != nullptr) call->BeginEnd();
    }
    const int64_t deadline = NowNs() + options_.drain_ns;
    while (Live() > 0 && NowNs() < deadline) {
      WaitForDone(std::min(deadline, NowNs() + 50'000'000));
      ReapDone(/*restart=*/false);
    }
    if (Live() > 0) {
      fprintf(stderr, "coach_loadgen: %d calls still open after the drain; cancelling them\n",
              Live());
      for (SimCallBase* call : slots_) {
        if (call != nullptr) call->Cancel();
      }
      while (Live() > 0) {
        WaitForDone(NowNs() + 50'000'000);
        ReapDone(/*restart=*/false);
      }
    }
  }

 private:
  struct Entry {
    int64_t due_ns;
    int slot;
    bool start;
    bool operator>(const Entry& other) const { return due_ns > other.due_ns; }
  };

  void StartCall(int slot) {
    const Script* script = &scripts_[static_cast<size_t>(slot) % scripts_.size()];
    const int generation = generation_[static_cast<size_t>(slot)]++;
    SimCallBase* call =
        make_call_(slot, absl::StrCat(options_.run_id, "-call-", slot, "-", generation),
                   absl::StrCat(options_.run_id, "-agent-", slot), script);
    slots_[static_cast<size_t>(slot)] = call;
    ++live_;
    call->Start();
    // Ticks that came while the slot was between calls.
    std::vector<int64_t> pending;
    pending.swap(pending_[static_cast<size_t>(slot)]);
    for (int64_t due : pending) Deliver(slot, due);
  }

  // Gives a cadence tick to the slot's call, or keeps it for the slot's next
  // call while the current one is ending.
  void Deliver(int slot, int64_t due_ns) {
    SimCallBase* call = slots_[static_cast<size_t>(slot)];
    if (call == nullptr || !call->Tick(due_ns)) {
      if (!stopping_) pending_[static_cast<size_t>(slot)].push_back(due_ns);
    }
  }

  void WaitForDone(int64_t until_ns) {
    std::unique_lock<std::mutex> lock(done_mu);
    const int64_t wait = until_ns - NowNs();
    if (wait <= 0 || !done_calls.empty()) return;
    done_cv.wait_for(lock, std::chrono::nanoseconds(wait));
  }

  void ReapDone(bool restart) {
    std::vector<SimCallBase*> done;
    {
      std::lock_guard<std::mutex> lock(done_mu);
      done.swap(done_calls);
    }
    for (SimCallBase* call : done) {
      if (call->aborted() && !call->status().ok()) {
        stats->calls_aborted.fetch_add(1, std::memory_order_relaxed);
      } else {
        stats->call_status.Add(call->status().error_code());
        if (call->status().ok() && call->got_report()) {
          (call->ended_by_stop() ? stats->calls_ended_at_stop : stats->calls_completed)
              .fetch_add(1, std::memory_order_relaxed);
        }
        if (!call->got_report()) stats->calls_without_report.fetch_add(1);
      }
      const int slot = call->slot();
      slots_[static_cast<size_t>(slot)] = nullptr;
      --live_;
      ++finished_;
      delete call;
      // The next call of the slot starts at once and takes the slot's cadence
      // (the ticks that came while the slot was between calls first).
      if (restart && !stopping_) StartCall(slot);
    }
  }

  int Live() const { return live_; }
  int Finished() const { return finished_; }

  const Options options_;
  const std::vector<Script>& scripts_;
  const CallFactory make_call_;
  const int64_t period_ns_;
  std::vector<SimCallBase*> slots_;
  std::vector<int> generation_;  // per slot: calls started
  std::vector<std::vector<int64_t>> pending_;  // per slot: ticks waiting for its next call
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap_;
  int live_ = 0;
  int finished_ = 0;
  bool stopping_ = false;
};

// ---------------------------------------------------------------------------
// /proc sampling.

struct ProcSample {
  bool ok = false;
  int64_t rss_kb = 0;
  int64_t threads = 0;
  double cpu_s = 0;  // utime + stime
  int64_t at_ns = 0;
};

ProcSample SampleProc(int pid) {
  ProcSample sample;
  sample.at_ns = NowNs();
  if (pid <= 0) return sample;
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (absl::StartsWith(line, "VmRSS:") || absl::StartsWith(line, "Threads:")) {
      std::vector<absl::string_view> parts = absl::StrSplit(line, absl::ByAnyChar(" \t"),
                                                            absl::SkipEmpty());
      int64_t value = 0;
      if (parts.size() >= 2 && absl::SimpleAtoi(parts[1], &value)) {
        (absl::StartsWith(line, "VmRSS:") ? sample.rss_kb : sample.threads) = value;
      }
    }
  }
  std::ifstream stat_file(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  // Fields after the parenthesized command: state is field 3, utime 14, stime 15.
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos || sample.rss_kb == 0) return sample;
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(stat).substr(paren + 2), ' ', absl::SkipEmpty());
  int64_t utime = 0;
  int64_t stime = 0;
  if (fields.size() > 12 && absl::SimpleAtoi(fields[11], &utime) &&
      absl::SimpleAtoi(fields[12], &stime)) {
    sample.cpu_s = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
    sample.ok = true;
  }
  return sample;
}

ProcSample SampleSelf() {
  ProcSample sample = SampleProc(getpid());
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  sample.cpu_s = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                 static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  return sample;
}

// The only process whose comm is "coachd", or 0.
int FindCoachd() {
  int found = 0;
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &pid)) continue;
    std::ifstream comm(entry.path() / "comm");
    std::string name;
    if (std::getline(comm, name) && name == "coachd") {
      found = pid;
      ++count;
    }
  }
  return count == 1 ? found : 0;
}

// ---------------------------------------------------------------------------
// Output.

std::string Ms(int64_t ns) { return absl::StrFormat("%.3f", static_cast<double>(ns) / 1e6); }

int64_t Percentile(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

void Row(const std::string& name, const std::string& value) {
  printf("  %-48s %s\n", name.c_str(), value.c_str());
}

void LatencyRow(const std::string& name, Samples& samples) {
  const std::vector<int64_t> s = samples.Sorted();
  if (s.empty()) {
    printf("  %-40s %9s %9s %9s %9s %9s\n", name.c_str(), "0", "-", "-", "-", "-");
    return;
  }
  printf("  %-40s %9zu %9s %9s %9s %9s\n", name.c_str(), s.size(),
         Ms(Percentile(s, 0.50)).c_str(), Ms(Percentile(s, 0.99)).c_str(),
         Ms(Percentile(s, 0.999)).c_str(), Ms(s.back()).c_str());
}

std::string StatusTable(StatusCounts& counts) {
  std::vector<std::string> parts;
  for (const auto& [code, n] : counts.Get()) {
    // gRPC's codes are Abseil's, number for number.
    parts.push_back(absl::StrCat(absl::StatusCodeToString(static_cast<absl::StatusCode>(code)),
                                 " ", n));
  }
  return parts.empty() ? "none" : absl::StrJoin(parts, ", ");
}

int64_t Errors(StatusCounts& counts) {
  int64_t n = 0;
  for (const auto& [code, count] : counts.Get()) {
    if (code != grpc::StatusCode::OK) n += count;
  }
  return n;
}

std::string Mib(int64_t kb) { return absl::StrFormat("%.1f MiB", static_cast<double>(kb) / 1024); }

std::string CpuPercent(const ProcSample& a, const ProcSample& b) {
  if (!a.ok || !b.ok || b.at_ns <= a.at_ns) return "n/a";
  const double wall = static_cast<double>(b.at_ns - a.at_ns) / 1e9;
  return absl::StrFormat("%.1f%% of one core (%.2f s CPU in %.2f s)",
                         100.0 * (b.cpu_s - a.cpu_s) / wall, b.cpu_s - a.cpu_s, wall);
}

std::string MachineLine() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  std::string model = "unknown CPU";
  while (std::getline(cpuinfo, line)) {
    if (absl::StartsWith(line, "model name")) {
      model = std::string(absl::StripAsciiWhitespace(line.substr(line.find(':') + 1)));
      break;
    }
  }
  std::ifstream loadavg_file("/proc/loadavg");
  std::string loadavg;
  std::getline(loadavg_file, loadavg);
  return absl::StrCat(std::thread::hardware_concurrency(), " CPUs (", model,
                      "); coachd and the loadgen share them; /proc/loadavg before the run: ",
                      loadavg);
}

// ---------------------------------------------------------------------------

std::vector<Script> LoadScripts(const std::string& dir, uint64_t seed) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  std::mt19937_64 rng(seed);
  std::vector<Script> scripts;
  for (const std::string& file : files) {
    absl::StatusOr<transcripts::RecordedCall> call = transcripts::ReadHarperValleyFile(file);
    if (!call.ok()) {
      fprintf(stderr, "coach_loadgen: %s\n", std::string(call.status().message()).c_str());
      exit(2);
    }
    scripts.push_back(BuildScript(*call, rng));
  }
  return scripts;
}

std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(const std::string& target, int count,
                                                         const std::string& role) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < count; ++i) {
    grpc::ChannelArguments args;
    // A subchannel (connection) of its own for each channel.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetString("coach_loadgen.channel", absl::StrCat(role, "-", i));
    args.SetMaxReceiveMessageSize(-1);
    channels.push_back(grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
  }
  for (auto& channel : channels) {
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
      fprintf(stderr, "coach_loadgen: cannot connect to %s\n", target.c_str());
      exit(1);
    }
  }
  return channels;
}

int Main() {
  Options options;
  options.calls = absl::GetFlag(FLAGS_calls);
  options.rate = absl::GetFlag(FLAGS_rate);
  options.idle = absl::GetFlag(FLAGS_idle);
  options.duration_ns = absl::ToInt64Nanoseconds(absl::GetFlag(FLAGS_duration));
  options.ramp_ns = absl::ToInt64Nanoseconds(absl::GetFlag(FLAGS_ramp));
  options.drain_ns = absl::ToInt64Nanoseconds(absl::GetFlag(FLAGS_drain));
  options.run_id = absl::GetFlag(FLAGS_run_id);
  if (options.run_id.empty()) options.run_id = absl::StrCat("lg", getpid());
  const std::string target = absl::GetFlag(FLAGS_target);
  const int channel_count = absl::GetFlag(FLAGS_channels);
  const int desktops_per_agent = absl::GetFlag(FLAGS_agents_per_call);
  if (options.calls <= 0 || channel_count <= 0 || options.rate <= 0 || desktops_per_agent < 0 ||
      (!options.idle && options.ramp_ns >= options.duration_ns)) {
    fprintf(stderr,
            "coach_loadgen: need --calls > 0, --channels > 0, --rate > 0, --agents_per_call >= 0 "
            "and --ramp < --duration\n");
    return 2;
  }
  const bool echo = absl::GetFlag(FLAGS_echo);
  if (echo && options.idle) {
    fprintf(stderr, "coach_loadgen: --echo measures live traffic; it does not go with --idle\n");
    return 2;
  }
  const bool soak = absl::GetFlag(FLAGS_soak);
  if (soak && (echo || options.idle)) {
    fprintf(stderr, "coach_loadgen: --soak goes with neither --echo nor --idle\n");
    return 2;
  }
  // The echo floor has no desktops: its latency is measured on the stream
  // itself. The soak opens its own resuming desktops.
  const int desktops_per_agent_to_open = echo || soak ? 0 : desktops_per_agent;
  const std::string server_name = echo ? "echo server" : "coachd";
  int pid = absl::GetFlag(FLAGS_coachd_pid);
  if (pid == 0 && !echo) pid = FindCoachd();

  Stats the_stats;
  stats = &the_stats;
  CallTimesIndex the_index;
  call_times = &the_index;

  const std::vector<Script> scripts =
      LoadScripts(absl::GetFlag(FLAGS_transcripts), absl::GetFlag(FLAGS_seed));
  if (scripts.empty()) {
    fprintf(stderr, "coach_loadgen: no transcripts in --transcripts\n");
    return 2;
  }
  size_t script_messages = 0;
  for (const Script& s : scripts) script_messages += s.messages.size();

  const ProcSample before_channels = SampleProc(pid);
  std::vector<std::shared_ptr<grpc::Channel>> call_channels =
      MakeChannels(target, channel_count, "pipeline");
  std::vector<std::shared_ptr<grpc::Channel>> desktop_channels;
  if (desktops_per_agent_to_open > 0 || soak) {
    desktop_channels = MakeChannels(target, channel_count, "desktop");
  }
  std::vector<std::unique_ptr<v1::CoachService::Stub>> call_stubs;
  std::vector<std::unique_ptr<bench::EchoService::Stub>> echo_stubs;
  std::vector<std::unique_ptr<v1::CoachService::Stub>> desktop_stubs;
  for (auto& c : call_channels) {
    if (echo) {
      echo_stubs.push_back(bench::EchoService::NewStub(c));
    } else {
      call_stubs.push_back(v1::CoachService::NewStub(c));
    }
  }
  for (auto& c : desktop_channels) desktop_stubs.push_back(v1::CoachService::NewStub(c));

  const ProcSample coachd_base = SampleProc(pid);
  std::vector<std::unique_ptr<Desktop>> desktops;
  for (int slot = 0; slot < options.calls; ++slot) {
    for (int d = 0; d < desktops_per_agent_to_open; ++d) {
      desktops.push_back(std::make_unique<Desktop>());
      desktops.back()->Start(desktop_stubs[desktops.size() % desktop_stubs.size()].get(),
                             absl::StrCat(options.run_id, "-agent-", slot));
    }
  }
  std::vector<std::unique_ptr<SoakDesktop>> soak_desktops;
  if (soak) {
    for (int slot = 0; slot < options.calls; ++slot) {
      soak_desktops.push_back(std::make_unique<SoakDesktop>(
          desktop_stubs[static_cast<size_t>(slot) % desktop_stubs.size()].get(),
          absl::StrCat(options.run_id, "-agent-", slot)));
      soak_desktops.back()->Connect();
    }
  }
  absl::SleepFor(absl::GetFlag(FLAGS_settle));
  const ProcSample coachd_with_desktops = SampleProc(pid);

  Pacer::CallFactory make_call;
  if (echo) {
    make_call = [&echo_stubs](int slot, std::string call_id, std::string agent_id,
                              const Script* script) -> SimCallBase* {
      return new SimCall<EchoTarget>(slot, std::move(call_id), std::move(agent_id), script,
                                     echo_stubs[static_cast<size_t>(slot) % echo_stubs.size()].get());
    };
  } else {
    make_call = [&call_stubs](int slot, std::string call_id, std::string agent_id,
                              const Script* script) -> SimCallBase* {
      return new SimCall<CoachdTarget>(slot, std::move(call_id), std::move(agent_id), script,
                                       call_stubs[static_cast<size_t>(slot) % call_stubs.size()].get());
    };
  }
  Pacer pacer(options, scripts, std::move(make_call));
  printf("coach_loadgen %s: target %s (%s), %d calls over %d connections, %zu desktops over %zu "
         "connections, run id %s\n",
         options.idle ? "idle" : "live", target.c_str(), server_name.c_str(), options.calls,
         channel_count, desktops.size(), desktop_channels.size(), options.run_id.c_str());
  printf("  machine: %s\n", MachineLine().c_str());
  printf("  %s pid: %s\n", server_name.c_str(),
         pid > 0 ? std::to_string(pid).c_str() : "unknown (no --coachd_pid, no single coachd)");

  if (options.idle) {
    const int64_t t0 = NowNs();
    pacer.StartIdle(absl::ToInt64Nanoseconds(absl::Seconds(60)));
    const int64_t started_ns = NowNs() - t0;
    absl::SleepFor(absl::GetFlag(FLAGS_idle_wait));
    const ProcSample coachd_idle = SampleProc(pid);
    pacer.EndAll();
    absl::SleepFor(absl::Milliseconds(500));
    const ProcSample coachd_after = SampleProc(pid);
    for (auto& d : desktops) d->Cancel();
    for (auto& d : desktops) d->WaitDone(std::chrono::seconds(10));

    printf("\nidle calls: %d started (start written: %" PRId64 ") in %s ms, sampled after %s\n",
           options.calls, stats->starts_written.load(), Ms(started_ns).c_str(),
           absl::FormatDuration(absl::GetFlag(FLAGS_idle_wait)).c_str());
    Row("coachd RSS before the loadgen connected", Mib(before_channels.rss_kb));
    Row("coachd RSS with the connections open", Mib(coachd_base.rss_kb));
    Row(absl::StrCat("coachd RSS with ", desktops.size(), " desktops"),
        Mib(coachd_with_desktops.rss_kb));
    Row(absl::StrCat("coachd RSS with ", options.calls, " idle calls too"), Mib(coachd_idle.rss_kb));
    Row("coachd RSS after the calls ended", Mib(coachd_after.rss_kb));
    Row("coachd threads", std::to_string(coachd_idle.threads));
    if (!desktops.empty()) {
      Row("RSS per desktop (WatchAgent)",
          absl::StrFormat("%.1f KiB",
                          static_cast<double>(coachd_with_desktops.rss_kb - coachd_base.rss_kb) /
                              static_cast<double>(desktops.size())));
    }
    Row("RSS per idle call (StreamCall after start)",
        absl::StrFormat("%.1f KiB", static_cast<double>(coachd_idle.rss_kb -
                                                         coachd_with_desktops.rss_kb) /
                                        options.calls));
    Row("StreamCall statuses", StatusTable(stats->call_status));
    Row("WatchAgent statuses (before cancel)", StatusTable(stats->desktop_status));
    return Errors(stats->call_status) + Errors(stats->desktop_status) == 0 ? 0 : 1;
  }

  // Soak chaos: desktop disconnects and reconnects, and reloads, on a thread
  // of their own; pipeline aborts on the pacer thread (each second).
  std::mt19937_64 chaos_rng(absl::GetFlag(FLAGS_seed) * 7919 + 1);
  std::atomic<bool> chaos_stop{false};
  std::atomic<int64_t> flaps{0}, reloads_ok{0}, reloads_failed{0};
  std::thread chaos;
  if (soak) {
    chaos = std::thread([&] {
      std::unique_ptr<v1::AdminService::Stub> admin = v1::AdminService::NewStub(call_channels[0]);
      std::mt19937_64 rng(absl::GetFlag(FLAGS_seed) * 104729 + 3);
      std::uniform_real_distribution<double> coin(0, 1);
      constexpr int64_t kStepNs = 100'000'000;
      const double flap_per_step =
          absl::GetFlag(FLAGS_desktop_flaps) * static_cast<double>(kStepNs) / 1e9;
      const int64_t reload_ns = absl::ToInt64Nanoseconds(absl::GetFlag(FLAGS_reload_every));
      int64_t next_reload = reload_ns > 0 ? NowNs() + reload_ns : INT64_MAX;
      std::vector<int64_t> reconnect_at(soak_desktops.size(), 0);
      while (!chaos_stop.load()) {
        const int64_t now = NowNs();
        for (size_t i = 0; i < soak_desktops.size(); ++i) {
          if (reconnect_at[i] != 0) {
            if (now >= reconnect_at[i] && soak_desktops[i]->Connect()) reconnect_at[i] = 0;
          } else if (coin(rng) < flap_per_step) {
            soak_desktops[i]->Disconnect();
            flaps.fetch_add(1);
            reconnect_at[i] = now + static_cast<int64_t>(coin(rng) * 1e9);
          }
        }
        if (now >= next_reload) {
          next_reload += reload_ns;
          grpc::ClientContext context;
          context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
          v1::ReloadPhraseListsResponse response;
          grpc::Status status =
              admin->ReloadPhraseLists(&context, v1::ReloadPhraseListsRequest(), &response);
          (status.ok() ? reloads_ok : reloads_failed).fetch_add(1);
          if (!status.ok()) {
            fprintf(stderr, "coach_loadgen: reload failed: %s\n", status.error_message().c_str());
          }
        }
        std::this_thread::sleep_for(std::chrono::nanoseconds(kStepNs));
      }
      // Every desktop ends the run connected, so that it can get its reports.
      for (size_t i = 0; i < soak_desktops.size(); ++i) {
        while (!soak_desktops[i]->connected() && !soak_desktops[i]->Connect()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      }
    });
  }
  const double aborts_per_second = soak ? absl::GetFlag(FLAGS_pipeline_aborts) : 0.0;

  const int64_t start_ns = NowNs();
  run_start_ns.store(start_ns);
  const int64_t window_ns = start_ns + options.ramp_ns;
  struct Second {
    int64_t segments = 0;
    int64_t nudges = 0;
    ProcSample coachd;
    ProcSample self;
  };
  std::vector<Second> seconds = {{0, 0, SampleProc(pid), SampleSelf()}};
  const int64_t stop_ns = start_ns + options.duration_ns;
  ProcSample coachd_window, coachd_stop, self_window, self_stop;
  int64_t segments_at_window = 0, segments_at_stop = 0;
  int64_t completed_at_window = 0, completed_at_stop = 0;
  pacer.RunLive(
      start_ns, window_ns, stop_ns,
      [&] {
        coachd_window = SampleProc(pid);
        self_window = SampleSelf();
        segments_at_window = stats->segments_sent.load();
        completed_at_window = stats->calls_completed.load();
      },
      [&] {
        chaos_stop.store(true);  // desktops reconnect before the calls end
        coachd_stop = SampleProc(pid);
        self_stop = SampleSelf();
        segments_at_stop = stats->segments_sent.load();
        completed_at_stop = stats->calls_completed.load();
      },
      [&] {
        pacer.AbortRandom(aborts_per_second, chaos_rng);
        seconds.push_back({stats->segments_sent.load(),
                           echo ? stats->echoes.load() : stats->desktop.nudges.load(),
                           SampleProc(pid), SampleSelf()});
      });
  const int64_t drained_ns = NowNs();
  if (chaos.joinable()) chaos.join();
  // Late events of the ended calls (reports) reach the desktops.
  absl::SleepFor(absl::Milliseconds(300));
  if (soak) {
    const int64_t deadline = NowNs() + options.drain_ns;
    auto incomplete = [&] {
      int64_t n = 0;
      for (auto& d : soak_desktops) n += d->Incomplete();
      return n;
    };
    while (incomplete() > 0 && NowNs() < deadline) absl::SleepFor(absl::Milliseconds(50));
  }
  const ProcSample coachd_end = SampleProc(pid);
  for (auto& d : desktops) d->Cancel();
  for (auto& d : desktops) d->WaitDone(std::chrono::seconds(10));

  const double window_s = static_cast<double>(stop_ns - window_ns) / 1e9;
  const double offered = options.rate * options.calls;
  const double sustained = static_cast<double>(segments_at_stop - segments_at_window) / window_s;
  printf("\nlive: %.1f seg/s per call offered, %s run (%s ramp, then a %.1f s measured window), "
         "calls end at %s and get %s to return reports (took %s ms)\n",
         options.rate, absl::FormatDuration(absl::GetFlag(FLAGS_duration)).c_str(),
         absl::FormatDuration(absl::GetFlag(FLAGS_ramp)).c_str(), window_s,
         absl::FormatDuration(absl::GetFlag(FLAGS_duration)).c_str(),
         absl::FormatDuration(absl::GetFlag(FLAGS_drain)).c_str(),
         Ms(drained_ns - stop_ns).c_str());
  printf("  script: %zu Harper Valley calls, %zu segment messages (%.1f per call)\n",
         scripts.size(), script_messages,
         static_cast<double>(script_messages) / static_cast<double>(scripts.size()));
  Row("segments/s offered", absl::StrFormat("%.0f", offered));
  Row("segments/s sustained (measured window)",
      absl::StrFormat("%.0f (%.1f%% of offered)", sustained, 100.0 * sustained / offered));
  Row("segments sent (whole run)", absl::StrCat(stats->segments_sent.load(), ", ",
                                                stats->segment_bytes.load(), " text bytes"));
  Row("calls started", std::to_string(stats->calls_started.load()));
  Row("calls completed/s (script played out, OK)",
      absl::StrFormat("%.1f/s in the window (%" PRId64 " in the run)",
                      static_cast<double>(completed_at_stop - completed_at_window) / window_s,
                      stats->calls_completed.load()));
  Row("calls ended at --duration (report, OK)", std::to_string(stats->calls_ended_at_stop.load()));
  Row("calls finished without a report", std::to_string(stats->calls_without_report.load()));
  for (auto [name, counts] : {std::pair{"pipeline", &stats->pipeline},
                               std::pair{"desktop", &stats->desktop}}) {
    Row(absl::StrCat(name, ": nudges/retractions/reminders/reports"),
        absl::StrCat(counts->nudges.load(), " / ", counts->retractions.load(), " / ",
                     counts->reminders.load(), " / ", counts->reports.load()));
  }
  if (echo) Row("segments echoed back", std::to_string(stats->echoes.load()));
  Row("desktop seq gaps (events dropped)", std::to_string(stats->desktop_seq_gaps.load()));
  Row(echo ? "echoes with no matching send" : "nudges with no matching send",
      std::to_string(stats->unmatched_nudges.load()));
  Row("StreamCall statuses", StatusTable(stats->call_status));
  Row("WatchAgent statuses (before cancel)", StatusTable(stats->desktop_status));
  Row("errors (non-OK statuses)",
      std::to_string(Errors(stats->call_status) + Errors(stats->desktop_status)));

  printf("\n  %-40s %9s %9s %9s %9s %9s\n", "latency, ms", "n", "p50", "p99", "p99.9", "max");
  Samples& headline = echo ? stats->echo_trigger : stats->desktop_trigger;
  if (echo) {
    LatencyRow("segment->its echo on the same stream", stats->echo_trigger);
  } else {
    LatencyRow("segment->nudge at desktop (trigger)", stats->desktop_trigger);
    LatencyRow("segment->nudge at desktop (latest send)", stats->desktop_latest);
    LatencyRow("segment->nudge on StreamCall (trigger)", stats->pipeline_trigger);
  }
  LatencyRow("send lag (write - scheduled)", stats->send_lag);

  if (absl::GetFlag(FLAGS_timeline)) {
    printf("\n  timeline (second of the run: its segments sent, desktop nudges, their latency "
           "in ms, send lag p99 in ms, CPU in %% of one core, coachd RSS)\n");
    printf("  %4s %8s %7s %9s %9s %9s %8s %8s %10s\n", "s", "segments", "nudges", "p50",
           "p99", "lag p99", "coachd", "loadgen", "RSS");
    for (size_t i = 1; i < seconds.size(); ++i) {
      const Second& a = seconds[i - 1];
      const Second& b = seconds[i];
      const std::vector<int64_t> lat = headline.Sorted(static_cast<int32_t>(i - 1));
      const std::vector<int64_t> lag = stats->send_lag.Sorted(static_cast<int32_t>(i - 1));
      auto cpu = [](const ProcSample& x, const ProcSample& y) {
        if (!x.ok || !y.ok || y.at_ns <= x.at_ns) return std::string("n/a");
        return absl::StrFormat("%.0f%%", 100.0 * (y.cpu_s - x.cpu_s) /
                                             (static_cast<double>(y.at_ns - x.at_ns) / 1e9));
      };
      printf("  %4zu %8" PRId64 " %7" PRId64 " %9s %9s %9s %8s %8s %10s\n", i - 1,
             b.segments - a.segments, b.nudges - a.nudges,
             lat.empty() ? "-" : Ms(Percentile(lat, 0.5)).c_str(),
             lat.empty() ? "-" : Ms(Percentile(lat, 0.99)).c_str(),
             lag.empty() ? "-" : Ms(Percentile(lag, 0.99)).c_str(), cpu(a.coachd, b.coachd).c_str(),
             cpu(a.self, b.self).c_str(), Mib(b.coachd.rss_kb).c_str());
    }
  }

  printf("\n");
  Row(absl::StrCat(server_name, " CPU (measured window)"), CpuPercent(coachd_window, coachd_stop));
  Row(absl::StrCat(server_name, " RSS: base / window start / stop / end"),
      absl::StrCat(Mib(coachd_base.rss_kb), " / ", Mib(coachd_window.rss_kb), " / ",
                   Mib(coachd_stop.rss_kb), " / ", Mib(coachd_end.rss_kb)));
  Row(absl::StrCat(server_name, " threads"), std::to_string(coachd_stop.threads));
  Row("loadgen CPU (measured window)", CpuPercent(self_window, self_stop));
  Row("loadgen RSS", Mib(self_stop.rss_kb));

  int64_t soak_failures = 0;
  if (soak) {
    SoakDesktop::Totals t;
    for (auto& d : soak_desktops) {
      const SoakDesktop::Totals one = d->totals();
      t.calls += one.calls;
      t.complete += one.complete;
      t.events += one.events;
      t.duplicates += one.duplicates;
      t.gaps += one.gaps;
      t.dropped += one.dropped;
      t.connections += one.connections;
      t.unexpected_ends += one.unexpected_ends;
    }
    for (auto& d : soak_desktops) d->Disconnect();
    // RSS growth after the warm-up (seconds[i] was sampled i seconds into the
    // run): the median of the last fifth of the samples against the median of
    // the first fifth after the warm-up. Medians, because every reload holds
    // two rule sets for a while (running calls keep theirs) and compiles a
    // third: a spike that passes is not growth. The maximum is printed too.
    absl::Duration warmup = absl::GetFlag(FLAGS_warmup);
    if (warmup <= absl::ZeroDuration()) warmup = absl::GetFlag(FLAGS_duration) / 5;
    const size_t warm = std::min(seconds.size() - 1,
                                 static_cast<size_t>(absl::ToInt64Seconds(warmup)));
    std::vector<int64_t> after;
    for (size_t i = warm; i < seconds.size(); ++i) after.push_back(seconds[i].coachd.rss_kb);
    auto median = [](std::vector<int64_t> v) {
      std::sort(v.begin(), v.end());
      return v.empty() ? int64_t{0} : v[v.size() / 2];
    };
    const size_t fifth = std::max<size_t>(1, after.size() / 5);
    const int64_t rss_warm = median({after.begin(), after.begin() + static_cast<long>(fifth)});
    const int64_t rss_last = median({after.end() - static_cast<long>(fifth), after.end()});
    const int64_t rss_max = after.empty() ? 0 : *std::max_element(after.begin(), after.end());
    const double growth =
        rss_warm > 0 ? static_cast<double>(rss_last - rss_warm) / static_cast<double>(rss_warm) : 0;
    const double max_growth = absl::GetFlag(FLAGS_max_rss_growth);

    printf("\nsoak: %s, %" PRId64 " desktop disconnects (then resumes), %" PRId64
           " pipeline aborts, %" PRId64 " reloads OK, %" PRId64 " failed\n",
           absl::FormatDuration(absl::GetFlag(FLAGS_duration)).c_str(), flaps.load(),
           stats->calls_aborted.load(), reloads_ok.load(), reloads_failed.load());
    auto check = [&](const std::string& name, int64_t value, bool ok) {
      Row(name, absl::StrCat(value, ok ? "" : "   <-- FAIL"));
      if (!ok) ++soak_failures;
    };
    check("calls started", stats->calls_started.load(), true);
    check("calls seen by desktops", t.calls, true);
    check("desktop connections (first + resumes)", t.connections, true);
    check("events delivered to desktops (once each)", t.events, t.events > 0);
    check("events lost (seq gaps)", t.gaps, t.gaps == 0);
    check("events duplicated", t.duplicates, t.duplicates == 0);
    check("events coachd reported dropped (dropped_before)", t.dropped, t.dropped == 0);
    check("calls seen without their report at a desktop", t.calls - t.complete,
          t.calls == t.complete);
    check("calls not aborted that ended without a report", stats->calls_without_report.load(),
          stats->calls_without_report.load() == 0);
    check("desktop streams coachd ended with an error", t.unexpected_ends,
          t.unexpected_ends == 0);
    check("reloads failed", reloads_failed.load(), reloads_failed.load() == 0);
    Row("coachd RSS: after the warm-up / at the end (medians) / max",
        absl::StrCat(Mib(rss_warm), " / ", Mib(rss_last), " / ", Mib(rss_max), " (",
                     absl::FormatDuration(warmup), " warm-up, medians of ", fifth, " samples)"));
    Row("coachd RSS growth after the warm-up",
        absl::StrFormat("%.1f%% (limit %.0f%%)%s", 100 * growth, 100 * max_growth,
                        growth <= max_growth ? "" : "   <-- FAIL"));
    if (growth > max_growth) ++soak_failures;
    printf("  RSS timeline (MiB, one sample per 10 s):");
    for (size_t i = 0; i < seconds.size(); i += 10) {
      printf(" %.0f", static_cast<double>(seconds[i].coachd.rss_kb) / 1024);
    }
    printf("\nsoak: %s\n", soak_failures == 0 ? "PASS" : "FAIL");
  }

  // One line for scripts (run_live_load.sh compares coachd with the echo floor).
  const std::vector<int64_t> latency = headline.Sorted();
  auto cpu_share = [](const ProcSample& a, const ProcSample& b) {
    return a.ok && b.ok && b.at_ns > a.at_ns
               ? 100.0 * (b.cpu_s - a.cpu_s) / (static_cast<double>(b.at_ns - a.at_ns) / 1e9)
               : -1.0;
  };
  const int64_t errors = Errors(stats->call_status) + Errors(stats->desktop_status);
  printf("\nsummary: server=%s calls=%d offered=%.0f sustained=%.0f latency_n=%zu p50_ms=%s "
         "p99_ms=%s p999_ms=%s server_cpu_pct=%.1f loadgen_cpu_pct=%.1f server_rss_mib=%.1f "
         "errors=%" PRId64 "\n",
         echo ? "echo" : "coachd", options.calls, offered, sustained, latency.size(),
         Ms(Percentile(latency, 0.50)).c_str(), Ms(Percentile(latency, 0.99)).c_str(),
         Ms(Percentile(latency, 0.999)).c_str(), cpu_share(coachd_window, coachd_stop),
         cpu_share(self_window, self_stop), static_cast<double>(coachd_stop.rss_kb) / 1024,
         errors);
  return errors == 0 && soak_failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace coach::loadgen

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Drives a running coachd with live calls and agent desktops and reports throughput, "
      "segment->nudge latency, errors, and coachd's CPU and RSS.\n"
      "  coach_loadgen --target=HOST:PORT --calls=N --rate=4 --duration=20s\n"
      "  coach_loadgen --target=HOST:PORT --calls=N --idle\n"
      "  coach_loadgen --target=ECHO_HOST:PORT --echo --calls=N --rate=4 --duration=20s");
  absl::ParseCommandLine(argc, argv);
  // Debian's Abseil is built without NDEBUG, so every absl::Mutex (gRPC's
  // included) records lock-order edges in one global graph under one global
  // lock. A load generator must not pay for that.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return coach::loadgen::Main();
}
