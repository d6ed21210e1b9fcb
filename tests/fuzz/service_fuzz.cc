// libFuzzer harness: CoachService request handling, fed proto bytes.
//
// The StreamCall logic lives in its gRPC reactor, so the harness serves a real
// CoachServiceImpl (bundled packs, auth off, no metrics) on an in-process gRPC
// server with no port, and drives it through Server::InProcessChannel: the
// whole reactor path (Read/Write/backpressure/Finish) without a network.
// ReviewCall's work is called directly (CoachServiceImpl::Review).
//
// Input: the first byte picks the mode.
//   even  StreamCall. The rest is a sequence of chunks, each a 2-byte
//         little-endian length and that many bytes of a serialized
//         coach.v1.CallEvent (chunks that do not parse are skipped; at most 64).
//         The events are written on one stream while another thread reads,
//         then the stream is half-closed.
//   odd   ReviewCall. The rest is a serialized coach.v1.ReviewCallRequest.
//
// Invariants checked (abort on violation):
//   - StreamCall finishes (no hang: a 20 s deadline) with OK,
//     INVALID_ARGUMENT, FAILED_PRECONDITION or RESOURCE_EXHAUSTED;
//   - its CoachEvents have seq 1, 2, ... with no gap, event_id
//     "<call_id>/<seq>", the call's ids, and end with exactly one report
//     (also when the call ends with an error); OK means a report came;
//   - a retraction names an earlier nudge by seq and event_id;
//   - when the stream was a clean start, segments..., [end] and finished OK,
//     ReviewCall of the same start and segments returns the same events;
//   - Review fails only with INVALID_ARGUMENT / FAILED_PRECONDITION /
//     RESOURCE_EXHAUSTED, and on success its events count from 1 with the
//     report_seq next.
// The registry keeps no ended call (resume retention 0, swept before each
// input), so every input starts from the same server state.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "coach/v1/coach.grpc.pb.h"
#include "google/protobuf/stubs/logging.h"
#include "grpc/support/log.h"
#include "grpcpp/grpcpp.h"
#include "server/call_registry.h"
#include "server/coach_service.h"
#include "server/rule_set_store.h"
#include "spdlog/spdlog.h"

namespace {

namespace v1 = coach::v1;
using coach::server::CallRegistry;
using coach::server::CoachServiceImpl;
using coach::server::RuleSetStore;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "INVARIANT VIOLATED: %s\n", what.c_str());
  std::abort();
}

struct Fixture {
  std::unique_ptr<RuleSetStore> rules;
  std::unique_ptr<CallRegistry> registry;
  std::unique_ptr<CoachServiceImpl> service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<v1::CoachService::Stub> stub;
};

void SilentProtobufLog(google::protobuf::LogLevel, const char*, int, const std::string&) {}

Fixture& GetFixture() {
  static Fixture* fixture = [] {
    spdlog::set_level(spdlog::level::off);
    gpr_set_log_verbosity(GPR_LOG_SEVERITY_ERROR);
    google::protobuf::SetLogHandler(&SilentProtobufLog);  // invalid UTF-8 parse errors
    auto* f = new Fixture;
    auto rules = RuleSetStore::Create({std::string(COACHD_SOURCE_DIR) + "/phrase_lists"});
    if (!rules.ok()) {
      std::fprintf(stderr, "cannot load the bundled packs: %s\n",
                   std::string(rules.status().message()).c_str());
      std::abort();
    }
    f->rules = *std::move(rules);
    coach::server::RegistryOptions registry_options;
    registry_options.resume_retention = absl::ZeroDuration();
    f->registry = std::make_unique<CallRegistry>(registry_options);
    CoachServiceImpl::Env env;
    env.registry = f->registry.get();
    env.rules = f->rules.get();
    env.reviews = nullptr;  // Review() is called directly
    // Small limits so that fuzz inputs reach them: backpressure after 4
    // queued events, the per-call segment limit after 40 segments.
    env.limits.call_queue = 4;
    env.limits.max_segments_per_call = 40;
    env.limits.max_segment_bytes = 4096;
    f->service = std::make_unique<CoachServiceImpl>(env);
    grpc::ServerBuilder builder;
    builder.RegisterService(f->service.get());
    f->server = builder.BuildAndStart();
    if (f->server == nullptr) {
      std::fprintf(stderr, "cannot start the in-process server\n");
      std::abort();
    }
    f->stub = v1::CoachService::NewStub(f->server->InProcessChannel(grpc::ChannelArguments()));
    return f;
  }();
  return *fixture;
}

// What a CoachEvent is, as a comparable string (ids and seq included).
std::string Digest(const v1::CoachEvent& e) {
  std::string kind;
  const v1::Evidence* evidence = nullptr;
  switch (e.payload_case()) {
    case v1::CoachEvent::kNudge:
      kind = absl::StrCat("nudge ", e.nudge().rule_id(), " ", e.nudge().interim());
      evidence = &e.nudge().evidence();
      break;
    case v1::CoachEvent::kRetraction:
      kind = absl::StrCat("retraction ", e.retraction().rule_id(), " ",
                          e.retraction().retracted_seq());
      evidence = &e.retraction().evidence();
      break;
    case v1::CoachEvent::kReminder:
      kind = absl::StrCat("reminder ", e.reminder().rule_id(), " ", e.reminder().due_ms());
      evidence = &e.reminder().evidence();
      break;
    case v1::CoachEvent::kReport:
      kind = absl::StrCat("report ", e.report().score(), " ", e.report().nudges(), " ",
                          e.report().segments());
      break;
    default:
      kind = "none";
  }
  if (evidence != nullptr) {
    absl::StrAppend(&kind, " ", evidence->segment_id(), " ", evidence->span_begin(), " ",
                    evidence->span_end(), " ", evidence->offset_ms(), " ",
                    evidence->matched_text());
  }
  return absl::StrCat(e.seq(), " ", kind);
}

void CheckEventStream(const std::vector<v1::CoachEvent>& events, const std::string& call_id,
                      const std::string& agent_id, const std::string& where) {
  int reports = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    const v1::CoachEvent& e = events[i];
    if (e.seq() != static_cast<int64_t>(i) + 1) {
      Fail(absl::StrCat(where, ": event ", i, " has seq ", e.seq(), "; seqs must be 1.. with no gap"));
    }
    if (e.call_id() != call_id || e.agent_id() != agent_id) {
      Fail(absl::StrCat(where, ": event ", e.seq(), " names call '", e.call_id(), "' agent '",
                        e.agent_id(), "'"));
    }
    if (e.event_id() != absl::StrCat(call_id, "/", e.seq())) {
      Fail(absl::StrCat(where, ": event_id '", e.event_id(), "' for seq ", e.seq()));
    }
    if (e.payload_case() == v1::CoachEvent::PAYLOAD_NOT_SET) Fail(where + ": event without payload");
    if (e.has_report()) ++reports;
    if (e.has_retraction()) {
      const int64_t r = e.retraction().retracted_seq();
      if (r < 1 || r >= e.seq() || !events[r - 1].has_nudge() ||
          e.retraction().retracted_event_id() != absl::StrCat(call_id, "/", r)) {
        Fail(absl::StrCat(where, ": retraction ", e.seq(), " names seq ", r));
      }
    }
  }
  if (!events.empty() && (reports != 1 || !events.back().has_report())) {
    Fail(absl::StrCat(where, ": ", reports, " reports; exactly one, last, expected"));
  }
}

bool ExpectedCode(grpc::StatusCode code) {
  return code == grpc::StatusCode::OK || code == grpc::StatusCode::INVALID_ARGUMENT ||
         code == grpc::StatusCode::FAILED_PRECONDITION ||
         code == grpc::StatusCode::RESOURCE_EXHAUSTED;
}

void RunReview(Fixture& f, const v1::ReviewCallRequest& request, const std::string& where,
               absl::Status* status_out, v1::ReviewCallResponse* response) {
  const absl::Status status = f.service->Review(std::nullopt, request, response);
  if (!ExpectedCode(static_cast<grpc::StatusCode>(status.code()))) {
    Fail(where + ": Review returned " + status.ToString());
  }
  if (status.ok()) {
    for (int i = 0; i < response->events_size(); ++i) {
      if (response->events(i).seq() != i + 1) Fail(where + ": Review event seqs have a gap");
      if (response->events(i).call_id() != request.start().call_id()) {
        Fail(where + ": Review event names another call");
      }
    }
    if (response->report_seq() != response->events_size() + 1) {
      Fail(absl::StrCat(where, ": Review report_seq ", response->report_seq(), " after ",
                        response->events_size(), " events"));
    }
  }
  *status_out = status;
}

void RunStream(Fixture& f, const std::vector<v1::CallEvent>& requests) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  std::unique_ptr<grpc::ClientReaderWriter<v1::CallEvent, v1::CoachEvent>> stream =
      f.stub->StreamCall(&context);
  std::vector<v1::CoachEvent> received;
  std::thread reader([&] {
    v1::CoachEvent event;
    while (stream->Read(&event)) received.push_back(event);
  });
  for (const v1::CallEvent& request : requests) {
    if (!stream->Write(request)) break;
  }
  stream->WritesDone();
  reader.join();
  const grpc::Status status = stream->Finish();
  if (!ExpectedCode(status.error_code())) {
    Fail(absl::StrCat("StreamCall finished with code ", status.error_code(), ": ",
                      status.error_message()));
  }
  // The call the server started, if any: the first event is a start.
  std::string call_id, agent_id;
  if (!requests.empty() && requests[0].has_start()) {
    call_id = requests[0].start().call_id();
    agent_id = requests[0].start().agent_id();
  }
  if (!received.empty() && received[0].call_id() != call_id) {
    Fail("StreamCall events for a call that never started: '" + received[0].call_id() + "'");
  }
  CheckEventStream(received, call_id, agent_id, "StreamCall");
  if (status.ok() && received.empty()) Fail("StreamCall finished OK without a report");

  // Differential: a clean start, segments..., [end] that finished OK must
  // give what ReviewCall gives for the same call.
  if (!status.ok() || requests.empty() || !requests[0].has_start()) return;
  v1::ReviewCallRequest review;
  *review.mutable_start() = requests[0].start();
  for (size_t i = 1; i < requests.size(); ++i) {
    if (requests[i].has_end()) break;
    if (!requests[i].has_segment()) return;
    *review.add_segments() = requests[i].segment();
  }
  absl::Status review_status;
  v1::ReviewCallResponse response;
  RunReview(f, review, "Review of the streamed call", &review_status, &response);
  if (!review_status.ok()) {
    Fail("StreamCall finished OK but Review of the same call fails: " + review_status.ToString());
  }
  if (static_cast<size_t>(response.events_size()) + 1 != received.size()) {
    Fail(absl::StrCat("StreamCall sent ", received.size(), " events + report; Review ",
                      response.events_size(), " events"));
  }
  for (int i = 0; i < response.events_size(); ++i) {
    if (Digest(response.events(i)) != Digest(received[i])) {
      Fail("StreamCall and Review disagree:\n  stream: " + Digest(received[i]) +
           "\n  review: " + Digest(response.events(i)));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  GetFixture();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  Fixture& f = GetFixture();
  f.registry->Sweep();  // forget the previous input's ended call
  if (f.registry->live_calls() != 0) Fail("a call is still live after its stream finished");

  if (data[0] & 1) {
    v1::ReviewCallRequest request;
    if (!request.ParseFromArray(data + 1, static_cast<int>(size - 1))) return 0;
    absl::Status status;
    v1::ReviewCallResponse response;
    RunReview(f, request, "Review", &status, &response);
    return 0;
  }

  std::vector<v1::CallEvent> requests;
  size_t pos = 1;
  while (pos + 2 <= size && requests.size() < 64) {
    const size_t length = data[pos] | (size_t{data[pos + 1]} << 8);
    pos += 2;
    if (length > size - pos) break;
    v1::CallEvent event;
    if (event.ParseFromArray(data + pos, static_cast<int>(length))) {
      requests.push_back(std::move(event));
    }
    pos += length;
  }
  RunStream(f, requests);
  return 0;
}
