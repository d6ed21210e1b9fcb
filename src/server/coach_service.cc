#include "server/coach_service.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/convert.h"
#include "server/logging.h"
#include "server/outbound_queue.h"
#include "spdlog/spdlog.h"

namespace coach::server {

namespace {

// Longest call_id / agent_id / tenant accepted.
constexpr size_t kMaxIdBytes = 256;

absl::Status CheckId(absl::string_view field, const std::string& value, bool required) {
  if (required && value.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is empty"));
  if (value.size() > kMaxIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is ", value.size(), " bytes; at most ", kMaxIdBytes));
  }
  return absl::OkStatus();
}

// CallStart.language when it is empty.
constexpr char kDefaultLanguage[] = "en-US";
// Longest language tag accepted (BCP 47 tags in practice stay far below).
constexpr size_t kMaxLanguageBytes = 35;

// A value for a message: quoted, and cut short when long (ids are client
// data, and a status message must stay well below the metadata limits).
std::string Quote(absl::string_view value) {
  constexpr size_t kMax = 64;
  if (value.size() <= kMax) return absl::StrCat("'", value, "'");
  return absl::StrCat("'", value.substr(0, kMax), "...' (", value.size(), " bytes)");
}

// "en-US" for an empty language; INVALID_ARGUMENT naming `field` unless it
// looks like a BCP 47 tag: ASCII letters, digits and '-', at most 35 bytes.
absl::StatusOr<std::string> CheckLanguage(absl::string_view field, const std::string& language) {
  if (language.empty()) return std::string(kDefaultLanguage);
  const bool well_formed =
      language.size() <= kMaxLanguageBytes && language.front() != '-' &&
      language.back() != '-' &&
      std::all_of(language.begin(), language.end(),
                  [](char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-'; });
  if (!well_formed) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " ", Quote(language), " is not a language tag: expected a BCP 47 tag such as "
        "'en-US' (ASCII letters, digits and '-', at most ", kMaxLanguageBytes, " characters)"));
  }
  return language;
}

// A CallStart with its defaults applied: the tenant (from the token when
// omitted) and the language.
struct StartFields {
  CallIdentity identity;
  std::string language;
};

// Validates `start` and applies the defaults (auth.h, TenantOrDefault).
// `field` names it in messages ("start").
absl::StatusOr<StartFields> ValidateStart(const v1::CallStart& start, absl::string_view field,
                                          const std::optional<Principal>& principal) {
  if (absl::Status s = CheckId(absl::StrCat(field, ".call_id"), start.call_id(), true); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckId(absl::StrCat(field, ".agent_id"), start.agent_id(), true);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckId(absl::StrCat(field, ".tenant"), start.tenant(), false); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::string> language =
      CheckLanguage(absl::StrCat(field, ".language"), start.language());
  if (!language.ok()) return language.status();
  return StartFields{
      CallIdentity{start.call_id(), start.agent_id(), TenantOrDefault(principal, start.tenant())},
      *std::move(language)};
}

// Checks a segment against the limits and converts it. `field` names it in
// messages ("segment", "segments[3]").
absl::StatusOr<engine::Segment> CheckSegment(const v1::TranscriptSegment& segment,
                                             const CallLimits& limits, int64_t segments_so_far,
                                             absl::string_view field) {
  if (static_cast<int64_t>(segment.text().size()) > limits.max_segment_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".text of segment_id ", Quote(segment.segment_id()), " is ", segment.text().size(),
        " bytes; the limit is ", limits.max_segment_bytes, " (--max_segment_bytes)"));
  }
  if (segments_so_far >= limits.max_segments_per_call) {
    return absl::ResourceExhaustedError(
        absl::StrCat(field, ": the call already has ", segments_so_far,
                     " segments; the limit is ", limits.max_segments_per_call,
                     " (--max_segments_per_call)"));
  }
  return ToEngineSegment(segment, field);
}

// Engine errors name the segment's fields without a prefix.
absl::Status InField(absl::string_view field, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(field, ".", status.message()));
}

void CountRejected(ServerMetrics* metrics, absl::string_view method, const absl::Status& status) {
  if (metrics != nullptr && !status.ok()) {
    metrics->RequestRejected(method, absl::StatusCodeToString(status.code()));
  }
}

void CountEvent(ServerMetrics* metrics, const engine::Event& event) {
  if (metrics == nullptr) return;
  metrics->EventEmitted(engine::EventTypeName(event.type), engine::RuleKindName(event.kind),
                        event.category);
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A streaming reactor that fails before doing anything (auth).
template <typename Reactor>
class FailedReactor final : public Reactor {
 public:
  explicit FailedReactor(const absl::Status& status) { this->Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

// ---------------------------------------------------------------------------
// StreamCall

// Parses a request read as bytes. protobuf refuses a string field that is not
// valid UTF-8 (and says which on its own log, without the text).
template <typename Message>
absl::Status ParseRequest(grpc::ByteBuffer* bytes, Message* message) {
  if (grpc::SerializationTraits<Message>::Deserialize(bytes, message).ok()) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "the request is not a valid ", Message::descriptor()->full_name(),
      ": string fields such as segment.text must be valid UTF-8"));
}

class StreamCallReactor final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                                public LiveCall,
                                public std::enable_shared_from_this<StreamCallReactor> {
 public:
  StreamCallReactor(const CoachServiceImpl::Env& env, std::optional<Principal> principal)
      : env_(env), principal_(std::move(principal)) {
    if (env_.reactors != nullptr) env_.reactors->Enter();
  }

  // Takes ownership of itself and issues the first Read. Call once, right
  // after construction, before returning the reactor to gRPC.
  void Begin() {
    self_ = shared_from_this();
    Actions actions;
    {
      absl::MutexLock lock(&mu_);
      read_in_flight_ = true;
      read_unissued_ = true;
      actions.read = true;
      last_activity_ = env_.clock();
    }
    env_.registry->TrackOpening(this, weak_from_this());
    Run(&actions);
  }

  void OnReadDone(bool ok) override {
    Actions actions;
    {
      absl::MutexLock lock(&mu_);
      read_in_flight_ = false;
      if (state_ == State::kAwaitingStart || state_ == State::kActive) {
        if (!ok) {
          // Half-close (or a broken stream, which OnCancel also reports).
          EndLocked(state_ == State::kActive
                        ? absl::OkStatus()
                        : absl::FailedPreconditionError(
                              "the stream ended before its first CallEvent (start)"),
                    &actions);
        } else {
          last_activity_ = env_.clock();
          absl::Status status = ParseRequest(&request_bytes_, &request_);
          if (status.ok()) status = HandleLocked(request_, &actions);
          if (!status.ok()) {
            CountRejected(env_.metrics, "StreamCall", status);
            spdlog::info("StreamCall {}: {} ({})",
                         identity_.call_id.empty() ? "(no call)" : identity_.call_id,
                         std::string(status.message()), absl::StatusCodeToString(status.code()));
            EndLocked(status, &actions);
          } else {
            MaybeReadLocked(&actions);
          }
        }
      }
    }
    Run(&actions);
  }

  void OnWriteDone(bool ok) override {
    Actions actions;
    {
      absl::MutexLock lock(&mu_);
      if (!ok) {
        broken_ = true;
        out_.Clear();
        out_.WriteDone();
        if (state_ == State::kActive || state_ == State::kAwaitingStart) {
          EndLocked(absl::CancelledError("StreamCall: the client stopped receiving"), &actions);
        }
      } else {
        actions.write = out_.WriteDone();
      }
      MaybeReadLocked(&actions);
      MaybeFinishLocked(&actions);
    }
    Run(&actions);
  }

  void OnCancel() override {
    Actions actions;
    {
      absl::MutexLock lock(&mu_);
      broken_ = true;
      out_.Clear();
      if (state_ == State::kActive || state_ == State::kAwaitingStart) {
        EndLocked(absl::CancelledError("StreamCall cancelled by the client"), &actions);
      }
      MaybeFinishLocked(&actions);
    }
    Run(&actions);
  }

  void OnDone() override {
    ReactorCount::Leaving leaving(env_.reactors);
    env_.registry->ForgetOpening(this);
    std::shared_ptr<StreamCallReactor> self;
    {
      absl::MutexLock lock(&mu_);
      self = std::move(self_);
    }
    // `self` goes last: the hub or the sweeper may still hold a reference.
  }

  void CheckDeadlines(absl::Time now) override {
    Actions actions;
    {
      absl::MutexLock lock(&mu_);
      if (state_ != State::kActive && state_ != State::kAwaitingStart) return;
      absl::Status status;
      // While reads are paused by backpressure the pipeline is not idle: it
      // is waiting for us (the idle timer restarts when reads resume).
      if (!reads_paused_ && now - last_activity_ > env_.limits.idle_timeout) {
        status = absl::DeadlineExceededError(absl::StrCat(
            state_ == State::kActive ? "no CallEvent for " : "no CallEvent.start for ", absl::FormatDuration(now - last_activity_), "; the limit is ",
            absl::FormatDuration(env_.limits.idle_timeout), " (--idle_timeout)"));
      } else if (state_ == State::kActive && now - started_ > env_.limits.max_call_duration) {
        status = absl::ResourceExhaustedError(absl::StrCat(
            "the call has lasted ", absl::FormatDuration(now - started_), "; the limit is ",
            absl::FormatDuration(env_.limits.max_call_duration), " (--max_call_duration)"));
      } else {
        return;
      }
      CountRejected(env_.metrics, "StreamCall", status);
      spdlog::info("StreamCall {}: {}", identity_.call_id, std::string(status.message()));
      EndLocked(status, &actions);
    }
    Run(&actions);
  }

  void Abort(const absl::Status& status) override {
    Actions actions;
    {
      absl::MutexLock lock(&mu_);
      if (state_ != State::kActive && state_ != State::kAwaitingStart) return;
      EndLocked(status, &actions);
    }
    Run(&actions);
  }

 private:
  enum class State {
    kAwaitingStart,  // no `start` yet
    kActive,         // registered, session running
    kEnding,         // session finished; Finish once the queue is flushed
    kFinished,       // Finish called
  };

  // gRPC operations decided under mu_ and started after releasing it. A
  // decided read is marked by read_unissued_ until StartRead was called, so
  // no Finish can be issued before it (see Run).
  struct Actions {
    std::vector<std::shared_ptr<EventSink>> kick;
    const v1::CoachEvent* write = nullptr;
    bool read = false;
    bool finish = false;
    grpc::Status status;
  };

  void Run(Actions* actions) {
    for (const auto& sink : actions->kick) sink->Kick();
    if (actions->write != nullptr) {
      // One write is in flight at a time (OutboundQueue), so one buffer does.
      bool own_buffer = false;
      write_bytes_.Clear();  // the serializer wants an empty buffer
      grpc::SerializationTraits<v1::CoachEvent>::Serialize(*actions->write, &write_bytes_,
                                                           &own_buffer);
      StartWrite(&write_bytes_);
    }
    if (actions->read) {
      StartRead(&request_bytes_);
      // The call may have ended while the read was decided but not issued
      // (a sweep, a drain or a cancel on another thread): its Finish waited
      // for this StartRead and is due now.
      Actions after;
      {
        absl::MutexLock lock(&mu_);
        read_unissued_ = false;
        MaybeFinishLocked(&after);
      }
      if (after.finish) Finish(after.status);
    }
    if (actions->finish) Finish(actions->status);
  }

  absl::Status HandleLocked(const v1::CallEvent& event, Actions* actions)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    switch (event.event_case()) {
      case v1::CallEvent::kStart:
        return HandleStartLocked(event.start());
      case v1::CallEvent::kSegment:
        return HandleSegmentLocked(event.segment(), actions);
      case v1::CallEvent::kEnd:
        if (state_ != State::kActive) {
          return absl::FailedPreconditionError("CallEvent.end before CallEvent.start");
        }
        EndLocked(absl::OkStatus(), actions);
        return absl::OkStatus();
      case v1::CallEvent::EVENT_NOT_SET:
        break;
    }
    return absl::InvalidArgumentError("CallEvent has none of start, segment or end set");
  }

  absl::Status HandleStartLocked(const v1::CallStart& start) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (state_ != State::kAwaitingStart) {
      return absl::FailedPreconditionError(
          "second CallEvent.start; a StreamCall carries exactly one call");
    }
    absl::StatusOr<StartFields> fields = ValidateStart(start, "start", principal_);
    if (!fields.ok()) return fields.status();
    if (absl::Status status = AuthorizeStreamCall(principal_, fields->identity.tenant);
        !status.ok()) {
      return status;
    }
    // Read the clock before the call becomes visible to the sweeper.
    const absl::Time now = env_.clock();
    CallIdentity identity = std::move(fields->identity);
    absl::StatusOr<std::shared_ptr<CallRecord>> record =
        env_.registry->StartCall(identity, weak_from_this());
    if (!record.ok()) return record.status();
    env_.registry->ForgetOpening(this);
    identity_ = std::move(identity);
    language_ = std::move(fields->language);
    record_ = *std::move(record);
    rules_ = env_.rules->Current();
    engine::SessionOptions options = env_.session;
    options.max_segment_bytes = static_cast<size_t>(env_.limits.max_segment_bytes);
    session_ = std::make_unique<engine::CallSession>(rules_->rules, options);
    started_ = now;
    last_activity_ = now;
    state_ = State::kActive;
    if (env_.metrics != nullptr) env_.metrics->CallStarted();
    spdlog::info("call {} started: agent {}, tenant '{}', language {}, rules {}",
                 identity_.call_id, identity_.agent_id, identity_.tenant, language_,
                 rules_->version());
    return absl::OkStatus();
  }

  absl::Status HandleSegmentLocked(const v1::TranscriptSegment& proto, Actions* actions)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (state_ != State::kActive) {
      return absl::FailedPreconditionError("CallEvent.segment before CallEvent.start");
    }
    absl::StatusOr<engine::Segment> segment =
        CheckSegment(proto, env_.limits, segments_, "segment");
    if (!segment.ok()) return segment.status();
    if (TranscriptLoggingEnabled()) {
      spdlog::debug("call {} segment {} ({}, {}): {}", identity_.call_id, proto.segment_id(),
                    proto.speaker() == v1::SPEAKER_AGENT ? "agent" : "customer",
                    proto.is_final() ? "final" : "interim", proto.text());
    }
    events_.clear();
    const auto engine_start = std::chrono::steady_clock::now();
    absl::Status status = session_->ProcessSegment(*segment, &events_);
    if (env_.metrics != nullptr) env_.metrics->SegmentProcessed(SecondsSince(engine_start));
    if (!status.ok()) {
      // Events the engine produced before the error (finalizing the previous
      // open segment, say) already have their seqs: send them, so that what
      // the server emits has no gap, before the call ends.
      EmitLocked(events_, nullptr, actions);
      return InField("segment", status);
    }
    ++segments_;
    EmitLocked(events_, nullptr, actions);
    return absl::OkStatus();
  }

  // Converts `events` (and `report` when given) once, queues them on this
  // stream and publishes them to the hub.
  void EmitLocked(const std::vector<engine::Event>& events, const engine::CallReport* report,
                  Actions* actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (events.empty() && report == nullptr) return;
    std::vector<PublishedEvent> published;
    published.reserve(events.size() + 1);
    for (const engine::Event& event : events) {
      auto proto = std::make_shared<v1::CoachEvent>();
      ToCoachEvent(event, identity_, rules_->version(), proto.get());
      published.push_back(PublishedEvent{std::move(proto), IsAlert(event)});
      CountEvent(env_.metrics, event);
    }
    if (report != nullptr) {
      auto proto = std::make_shared<v1::CoachEvent>();
      ToReportEvent(*report, identity_, proto.get());
      proto->mutable_report()->set_language(language_);
      published.push_back(PublishedEvent{std::move(proto), false});
    }
    if (!broken_) {
      for (const PublishedEvent& p : published) {
        if (const v1::CoachEvent* write = out_.Push(p.event)) actions->write = write;
      }
    }
    env_.registry->Publish(*record_, published, &actions->kick);
  }

  // Ends the call with `status`: finishes the session, publishes the last
  // events and the report, releases the call_id, and finishes the stream once
  // its queue is flushed.
  void EndLocked(const absl::Status& status, Actions* actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (reads_paused_) {
      reads_paused_ = false;
      if (env_.metrics != nullptr) env_.metrics->ReadsResumed();
    }
    if (state_ == State::kActive) {
      events_.clear();
      absl::StatusOr<engine::CallReport> report = session_->Finish(&events_);
      if (report.ok()) {
        EmitLocked(events_, &*report, actions);
      } else {
        EmitLocked(events_, nullptr, actions);
        spdlog::error("call {}: no report: {}", identity_.call_id, std::string(report.status().message()));
      }
      env_.registry->EndCall(*record_);
      if (env_.metrics != nullptr) env_.metrics->CallEnded();
      spdlog::info("call {} ended ({}): {} segments, score {}", identity_.call_id,
                   status.ok() ? "OK" : absl::StatusCodeToString(status.code()), segments_,
                   report.ok() ? absl::StrCat(report->score.score) : "-");
    }
    state_ = State::kEnding;
    final_status_ = status;
    MaybeFinishLocked(actions);
  }

  void MaybeFinishLocked(Actions* actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (state_ != State::kEnding) return;
    if (read_unissued_) return;  // Run() finishes once the StartRead is issued
    if (out_.writing() || actions->write != nullptr) return;
    if (!broken_ && out_.waiting() > 0) return;
    state_ = State::kFinished;
    actions->finish = true;
    actions->status = ToGrpcStatus(final_status_);
  }

  // Issues the next Read unless one is in flight or the outbound queue is
  // full (backpressure); a paused stream resumes when it drains to half.
  void MaybeReadLocked(Actions* actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (state_ != State::kActive && state_ != State::kAwaitingStart) return;
    if (read_in_flight_) return;
    const size_t waiting = out_.waiting();
    const size_t limit = static_cast<size_t>(std::max(env_.limits.call_queue, 1));
    if (reads_paused_ ? waiting > limit / 2 : waiting >= limit) {
      if (!reads_paused_) {
        reads_paused_ = true;
        if (env_.metrics != nullptr) env_.metrics->ReadsPaused();
      }
      return;
    }
    if (reads_paused_) {
      reads_paused_ = false;
      if (env_.metrics != nullptr) env_.metrics->ReadsResumed();
      // The time paused was the client's reading, not idleness.
      last_activity_ = env_.clock();
    }
    read_in_flight_ = true;
    read_unissued_ = true;
    actions->read = true;
  }

  const CoachServiceImpl::Env& env_;
  const std::optional<Principal> principal_;
  std::shared_ptr<StreamCallReactor> self_;
  // Read into by gRPC, then parsed into request_; only touched between
  // StartRead and OnReadDone.
  grpc::ByteBuffer request_bytes_;
  v1::CallEvent request_;
  // The event being written; only touched between StartWrite and OnWriteDone.
  grpc::ByteBuffer write_bytes_;

  absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kAwaitingStart;
  CallIdentity identity_ ABSL_GUARDED_BY(mu_);
  std::string language_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<CallRecord> record_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const LoadedRules> rules_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<engine::CallSession> session_ ABSL_GUARDED_BY(mu_);
  std::vector<engine::Event> events_ ABSL_GUARDED_BY(mu_);  // scratch
  int64_t segments_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time started_ ABSL_GUARDED_BY(mu_);
  absl::Time last_activity_ ABSL_GUARDED_BY(mu_);
  OutboundQueue out_ ABSL_GUARDED_BY(mu_);
  bool read_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  // A read was decided under mu_ but StartRead has not been called yet.
  bool read_unissued_ ABSL_GUARDED_BY(mu_) = false;
  // Reads stopped by backpressure (the outbound queue is full); the idle
  // timer does not run meanwhile.
  bool reads_paused_ ABSL_GUARDED_BY(mu_) = false;
  // The client is gone: nothing more can be written.
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status final_status_ ABSL_GUARDED_BY(mu_);
};

// ---------------------------------------------------------------------------
// WatchAgent / WatchAlerts

class SubscriberReactor final : public grpc::ServerWriteReactor<v1::CoachEvent>,
                                public EventSink,
                                public std::enable_shared_from_this<SubscriberReactor> {
 public:
  enum class Kind { kAgent, kAlerts };

  SubscriberReactor(const CoachServiceImpl::Env& env, Kind kind) : env_(env), kind_(kind) {
    if (env_.reactors != nullptr) env_.reactors->Enter();
  }

  absl::string_view kind_name() const { return kind_ == Kind::kAgent ? "agent" : "alerts"; }

  void Begin() { self_ = shared_from_this(); }

  // The agent a WatchAgent stream subscribes to; set before subscribing.
  void SetAgent(std::string tenant, std::string agent_id) {
    absl::MutexLock lock(&mu_);
    tenant_ = std::move(tenant);
    agent_id_ = std::move(agent_id);
  }

  // Subscribed: count it, and unsubscribe in OnDone.
  void Registered() {
    {
      absl::MutexLock lock(&mu_);
      registered_ = true;
    }
    if (env_.metrics != nullptr) env_.metrics->SubscriberAdded(kind_name());
  }

  // Finishes right away (the subscription was refused).
  void Refuse(const absl::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      finish_called_ = true;
    }
    Finish(ToGrpcStatus(status));
  }

  bool Enqueue(const EventPtr& event) override {
    absl::MutexLock lock(&mu_);
    if (finish_called_ || closing_ || broken_) return false;
    if (out_.waiting_regular() >= static_cast<size_t>(std::max(env_.limits.subscriber_queue, 1))) {
      ++dropped_;
      ++undelivered_drops_;
      if (env_.metrics != nullptr) env_.metrics->QueueDropped(kind_name(), 1);
      return false;
    }
    if (undelivered_drops_ > 0) {
      // The next event this subscriber gets says how many it missed; a copy,
      // because the shared event goes to other subscribers unchanged.
      auto marked = std::make_shared<v1::CoachEvent>(*event);
      marked->set_dropped_before(undelivered_drops_);
      undelivered_drops_ = 0;
      out_.Add(std::move(marked));
    } else {
      out_.Add(event);
    }
    return !out_.writing();
  }

  bool Replay(const EventPtr& event) override {
    absl::MutexLock lock(&mu_);
    if (finish_called_ || closing_ || broken_) return false;
    out_.AddPriority(event);
    return !out_.writing();
  }

  void Kick() override {
    const v1::CoachEvent* write = nullptr;
    {
      absl::MutexLock lock(&mu_);
      if (finish_called_ || broken_) return;
      write = out_.StartIfIdle();
    }
    if (write != nullptr) StartWrite(write);
  }

  void Close(const absl::Status& status) override {
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      if (finish_called_ || closing_) return;
      closing_ = true;
      close_status_ = status;
      finish = ShouldFinishLocked();
    }
    if (finish) Finish(ToGrpcStatus(status));
  }

  bool closed() const override {
    absl::MutexLock lock(&mu_);
    return finish_called_ || closing_ || broken_;
  }

  uint64_t dropped() const override {
    absl::MutexLock lock(&mu_);
    return dropped_;
  }

  void OnWriteDone(bool ok) override {
    const v1::CoachEvent* write = nullptr;
    bool finish = false;
    grpc::Status status;
    {
      absl::MutexLock lock(&mu_);
      if (!ok) {
        broken_ = true;
        out_.Clear();
        out_.WriteDone();
        if (!closing_) close_status_ = absl::CancelledError("the subscriber stopped receiving");
      } else {
        write = out_.WriteDone();
      }
      finish = write == nullptr && ShouldFinishLocked();
      status = ToGrpcStatus(close_status_);
    }
    if (write != nullptr) StartWrite(write);
    if (finish) Finish(status);
  }

  void OnCancel() override {
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      broken_ = true;
      out_.Clear();
      if (!closing_) close_status_ = absl::CancelledError("cancelled by the client");
      finish = ShouldFinishLocked();
    }
    if (finish) Finish(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    ReactorCount::Leaving leaving(env_.reactors);
    std::shared_ptr<SubscriberReactor> self;
    bool registered;
    std::string tenant;
    std::string agent_id;
    {
      absl::MutexLock lock(&mu_);
      registered = registered_;
      self = std::move(self_);
      tenant = tenant_;
      agent_id = agent_id_;
    }
    if (registered) {
      if (kind_ == Kind::kAgent) {
        env_.registry->UnsubscribeAgent(tenant, agent_id, this);
      } else {
        env_.registry->UnsubscribeAlerts(this);
      }
      if (env_.metrics != nullptr) env_.metrics->SubscriberRemoved(kind_name());
    }
  }

 private:
  // True (and marks it) when Finish is due now: closing or broken, and no
  // write in flight or waiting.
  bool ShouldFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finish_called_ || !(closing_ || broken_)) return false;
    if (out_.writing() || (!broken_ && out_.waiting() > 0)) return false;
    finish_called_ = true;
    return true;
  }

  const CoachServiceImpl::Env& env_;
  const Kind kind_;
  std::shared_ptr<SubscriberReactor> self_;

  mutable absl::Mutex mu_;
  std::string tenant_ ABSL_GUARDED_BY(mu_);
  std::string agent_id_ ABSL_GUARDED_BY(mu_);
  OutboundQueue out_ ABSL_GUARDED_BY(mu_);
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  // Drops not yet reported in an event's dropped_before.
  uint64_t undelivered_drops_ ABSL_GUARDED_BY(mu_) = 0;
  bool registered_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_called_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status close_status_ ABSL_GUARDED_BY(mu_);
};

// Opens a WatchAgent/WatchAlerts stream: authenticates, then runs
// `subscribe` (validation, authorization, registration with the hub). On
// error the stream finishes at once with that status.
grpc::ServerWriteReactor<v1::CoachEvent>* OpenSubscriber(
    const CoachServiceImpl::Env& env, absl::string_view method, SubscriberReactor::Kind kind,
    grpc::CallbackServerContext* context,
    const std::function<absl::Status(const std::optional<Principal>&,
                                     const std::shared_ptr<SubscriberReactor>&)>& subscribe) {
  auto reactor = std::make_shared<SubscriberReactor>(env, kind);
  reactor->Begin();
  absl::StatusOr<std::optional<Principal>> principal =
      Authenticate(env.tokens, context->client_metadata());
  absl::Status status = principal.ok() ? subscribe(*principal, reactor) : principal.status();
  if (status.ok()) {
    reactor->Registered();
    reactor->Kick();  // writes the replayed events, if any
  } else {
    CountRejected(env.metrics, method, status);
    reactor->Refuse(status);
  }
  return reactor.get();
}

}  // namespace

void ReactorCount::Enter() {
  absl::MutexLock lock(&mu_);
  ++live_;
}

void ReactorCount::Exit() {
  absl::MutexLock lock(&mu_);
  --live_;
}

bool ReactorCount::WaitForNone(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(
                                  +[](int* live) { return *live == 0; }, &live_),
                              timeout);
}

int ReactorCount::live() const {
  absl::MutexLock lock(&mu_);
  return live_;
}

CoachServiceImpl::CoachServiceImpl(Env env) : env_(std::move(env)) {}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* CoachServiceImpl::StreamCall(
    grpc::CallbackServerContext* context) {
  absl::StatusOr<std::optional<Principal>> principal =
      Authenticate(env_.tokens, context->client_metadata());
  if (!principal.ok()) {
    CountRejected(env_.metrics, "StreamCall", principal.status());
    return new FailedReactor<grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>>(
        principal.status());
  }
  auto reactor = std::make_shared<StreamCallReactor>(env_, *std::move(principal));
  reactor->Begin();
  return reactor.get();
}

grpc::ServerWriteReactor<v1::CoachEvent>* CoachServiceImpl::WatchAgent(
    grpc::CallbackServerContext* context, const v1::WatchAgentRequest* request) {
  return OpenSubscriber(
      env_, "WatchAgent", SubscriberReactor::Kind::kAgent, context,
      [&](const std::optional<Principal>& principal,
          const std::shared_ptr<SubscriberReactor>& reactor) -> absl::Status {
        if (absl::Status s = CheckId("agent_id", request->agent_id(), true); !s.ok()) return s;
        if (absl::Status s = CheckId("tenant", request->tenant(), false); !s.ok()) return s;
        const std::string tenant = TenantOrDefault(principal, request->tenant());
        if (absl::Status s = AuthorizeWatchAgent(principal, tenant, request->agent_id());
            !s.ok()) {
          return s;
        }
        absl::flat_hash_map<std::string, int64_t> resume;
        for (int i = 0; i < request->resume_size(); ++i) {
          const v1::ResumePoint& point = request->resume(i);
          if (point.call_id().empty()) {
            return absl::InvalidArgumentError(absl::StrCat("resume[", i, "].call_id is empty"));
          }
          int64_t& last = resume[point.call_id()];
          last = std::max(last, point.last_seq());
        }
        reactor->SetAgent(tenant, request->agent_id());
        std::vector<std::shared_ptr<EventSink>> to_kick;  // the reactor; kicked by the caller
        return env_.registry->SubscribeAgent(tenant, request->agent_id(), resume, reactor,
                                             &to_kick);
      });
}

grpc::ServerWriteReactor<v1::CoachEvent>* CoachServiceImpl::WatchAlerts(
    grpc::CallbackServerContext* context, const v1::WatchAlertsRequest* request) {
  return OpenSubscriber(
      env_, "WatchAlerts", SubscriberReactor::Kind::kAlerts, context,
      [&](const std::optional<Principal>& principal,
          const std::shared_ptr<SubscriberReactor>& reactor) -> absl::Status {
        if (absl::Status s = CheckId("tenant", request->tenant(), false); !s.ok()) return s;
        // Empty: a supervisor's own tenant; every tenant for admin / auth off.
        const std::string tenant = TenantOrDefault(principal, request->tenant());
        if (absl::Status s = AuthorizeWatchAlerts(principal, tenant); !s.ok()) return s;
        AlertFilter filter;
        filter.tenant = tenant;
        for (int i = 0; i < request->agent_ids_size(); ++i) {
          if (request->agent_ids(i).empty()) {
            return absl::InvalidArgumentError(absl::StrCat("agent_ids[", i, "] is empty"));
          }
          filter.agent_ids.insert(request->agent_ids(i));
        }
        return env_.registry->SubscribeAlerts(std::move(filter), reactor);
      });
}

absl::Status CoachServiceImpl::Review(const std::optional<Principal>& principal,
                                      const v1::ReviewCallRequest& request,
                                      v1::ReviewCallResponse* response,
                                      const std::function<bool()>& cancelled) const {
  if (!request.has_start()) return absl::InvalidArgumentError("start is missing");
  absl::StatusOr<StartFields> fields = ValidateStart(request.start(), "start", principal);
  if (!fields.ok()) return fields.status();
  if (absl::Status s = AuthorizeReviewCall(principal, fields->identity.tenant); !s.ok()) return s;
  if (env_.registry->draining()) {
    return absl::UnavailableError("coachd is shutting down (draining); retry on another replica");
  }
  std::shared_ptr<const LoadedRules> rules = env_.rules->Current();
  engine::SessionOptions options = env_.session;
  options.max_segment_bytes = static_cast<size_t>(env_.limits.max_segment_bytes);
  engine::CallSession session(rules->rules, options);
  const CallIdentity& identity = fields->identity;
  std::vector<engine::Event> events;
  for (int i = 0; i < request.segments_size(); ++i) {
    if (cancelled && cancelled()) {
      return absl::CancelledError(
          absl::StrCat("ReviewCall cancelled by the client at segments[", i, "]"));
    }
    const std::string field = absl::StrCat("segments[", i, "]");
    absl::StatusOr<engine::Segment> segment =
        CheckSegment(request.segments(i), env_.limits, i, field);
    if (!segment.ok()) return segment.status();
    if (absl::Status s = session.ProcessSegment(*segment, &events); !s.ok()) {
      return InField(field, s);
    }
  }
  absl::StatusOr<engine::CallReport> report = session.Finish(&events);
  if (!report.ok()) return report.status();
  for (const engine::Event& event : events) {
    ToCoachEvent(event, identity, rules->version(), response->add_events());
  }
  ToCallReport(*report, response->mutable_report());
  response->mutable_report()->set_language(fields->language);
  response->set_report_seq(report->seq);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* CoachServiceImpl::ReviewCall(grpc::CallbackServerContext* context,
                                                       const grpc::ByteBuffer* request_bytes,
                                                       grpc::ByteBuffer* response_bytes) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  ServerMetrics* metrics = env_.metrics;
  // The parsed request and the response live until Finish.
  struct Exchange {
    v1::ReviewCallRequest request;
    v1::ReviewCallResponse response;
  };
  auto exchange = std::make_shared<Exchange>();
  const v1::ReviewCallRequest* request = &exchange->request;
  v1::ReviewCallResponse* response = &exchange->response;
  auto finish = [reactor, exchange, response_bytes, metrics](absl::Status status) {
    if (status.ok()) {
      bool own_buffer = false;
      grpc::Status serialized = grpc::SerializationTraits<v1::ReviewCallResponse>::Serialize(
          exchange->response, response_bytes, &own_buffer);
      if (!serialized.ok()) {
        status = absl::InternalError(absl::StrCat("ReviewCall: cannot serialize the response: ",
                                                  serialized.error_message()));
      }
    }
    if (!status.ok()) CountRejected(metrics, "ReviewCall", status);
    reactor->Finish(ToGrpcStatus(status));
  };
  absl::StatusOr<std::optional<Principal>> principal =
      Authenticate(env_.tokens, context->client_metadata());
  if (!principal.ok()) {
    finish(principal.status());
    return reactor;
  }
  // The ByteBuffer is gRPC's; a copy refers to the same slices.
  grpc::ByteBuffer bytes(*request_bytes);
  if (absl::Status parsed = ParseRequest(&bytes, &exchange->request); !parsed.ok()) {
    finish(parsed);
    return reactor;
  }
  auto cancelled = [context] { return context->IsCancelled(); };
  if (env_.reviews == nullptr) {  // no pool (tests of the service alone): run inline
    finish(Review(*principal, *request, response, cancelled));
    return reactor;
  }
  // The review runs on the pool: a large call takes milliseconds of engine
  // time, which must not hold a gRPC callback thread. The request and the
  // response stay valid until Finish.
  const bool queued = env_.reviews->TrySubmit(
      [this, request, response, finish, cancelled, principal = *std::move(principal)] {
        if (env_.before_review) env_.before_review(cancelled);
        finish(Review(principal, *request, response, cancelled));
      });
  if (!queued) {
    finish(absl::ResourceExhaustedError(absl::StrCat(
        "ReviewCall: the review queue is full: ", env_.reviews->max_pending(),
        " reviews are already waiting for a worker (--max_pending_reviews); retry later")));
  }
  return reactor;
}

}  // namespace coach::server
