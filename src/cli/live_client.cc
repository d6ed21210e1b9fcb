#include "cli/live_client.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "coach/v1/coach.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "transcripts/jsonl_reader.h"

ABSL_FLAG(double, speed, 1.0,
          "simulate: pace segments at this multiple of real time; 0 sends at once.");
ABSL_FLAG(std::string, call_id_suffix, "",
          "simulate: appended to each call_id (coachd refuses an id it still retains).");
ABSL_FLAG(std::string, agent, "", "watch: the agent_id to follow.");
ABSL_FLAG(int64_t, max_events, 0, "watch: stop after this many events; 0 follows forever.");

namespace coach::cli {
namespace {

// --server and the credentials flags; nullopt (after a message) without --server.
std::optional<ServerConnection> ServerFromFlags(const std::string& command) {
  ServerConnection server;
  server.address = absl::GetFlag(FLAGS_server);
  server.token = absl::GetFlag(FLAGS_token);
  server.tls_ca_file = absl::GetFlag(FLAGS_tls_ca);
  server.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  server.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  if (server.address.empty()) {
    std::cerr << "coachctl " << command << ": --server is required\n";
    return std::nullopt;
  }
  return server;
}

bool ReadPem(const std::string& path, std::string* out, std::ostream& err) {
  if (path.empty()) return true;
  std::ifstream in(path);
  if (!in) {
    err << "coachctl: cannot read " << path << "\n";
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  *out = text.str();
  return true;
}

std::shared_ptr<grpc::Channel> Connect(const ServerConnection& server, std::ostream& err) {
  if (server.tls_ca_file.empty()) {
    return grpc::CreateChannel(server.address, grpc::InsecureChannelCredentials());
  }
  grpc::SslCredentialsOptions ssl;
  if (!ReadPem(server.tls_ca_file, &ssl.pem_root_certs, err) ||
      !ReadPem(server.tls_cert_file, &ssl.pem_cert_chain, err) ||
      !ReadPem(server.tls_key_file, &ssl.pem_private_key, err)) {
    return nullptr;
  }
  return grpc::CreateChannel(server.address, grpc::SslCredentials(ssl));
}

void Authorize(const ServerConnection& server, grpc::ClientContext* context) {
  if (!server.token.empty()) context->AddMetadata("authorization", "Bearer " + server.token);
}

std::string ToJson(const v1::CoachEvent& event) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(event, &json, options).ok()) {
    return "{}";
  }
  return json;
}

void ToProtoSegment(const engine::Segment& segment, v1::TranscriptSegment* out) {
  out->set_segment_id(segment.segment_id);
  out->set_speaker(segment.speaker == engine::Speaker::kAgent ? v1::SPEAKER_AGENT
                                                               : v1::SPEAKER_CUSTOMER);
  out->set_text(segment.text);
  out->set_is_final(segment.is_final);
  if (segment.stability.has_value()) out->set_stability(*segment.stability);
  out->set_start_ms(segment.start_ms);
  out->set_end_ms(segment.end_ms);
  for (const engine::WordTiming& word : segment.words) {
    v1::TranscriptSegment::Word* w = out->add_words();
    w->set_start_ms(word.start_ms);
    w->set_end_ms(word.end_ms);
  }
}

std::string Describe(const grpc::Status& status) {
  return absl::StrCat(absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())),
                      ": ", status.error_message());
}

int PlayOne(v1::CoachService::Stub& stub, const ServerConnection& server,
            const transcripts::RecordedCall& call, double speed, const std::string& call_id,
            std::ostream& out, std::ostream& err) {
  grpc::ClientContext context;
  Authorize(server, &context);
  auto stream = stub.StreamCall(&context);
  std::mutex out_mu;
  std::thread reader([&] {
    v1::CoachEvent event;
    while (stream->Read(&event)) {
      std::lock_guard<std::mutex> lock(out_mu);
      out << ToJson(event) << "\n" << std::flush;
    }
  });

  v1::CallEvent start;
  start.mutable_start()->set_call_id(call_id);
  start.mutable_start()->set_agent_id(call.agent_id);
  start.mutable_start()->set_tenant(call.tenant);
  bool writing = stream->Write(start);
  const auto began = std::chrono::steady_clock::now();
  const int64_t first_ms = call.segments.empty() ? 0 : call.segments.front().start_ms;
  for (const engine::Segment& segment : call.segments) {
    if (!writing) break;
    if (speed > 0) {
      const auto due = began + std::chrono::microseconds(static_cast<int64_t>(
                                   std::max<int64_t>(0, segment.start_ms - first_ms) * 1000 / speed));
      std::this_thread::sleep_until(due);
    }
    v1::CallEvent event;
    ToProtoSegment(segment, event.mutable_segment());
    writing = stream->Write(event);
  }
  if (writing) {
    v1::CallEvent end;
    end.mutable_end();
    stream->Write(end);
  }
  stream->WritesDone();
  reader.join();
  const grpc::Status status = stream->Finish();
  if (!status.ok()) {
    err << "coachctl: call " << call_id << ": " << Describe(status) << "\n";
    if (status.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
      err << "coachctl: to play the same calls again, add --call_id_suffix (e.g. -2)\n";
    }
    return 1;
  }
  return 0;
}

}  // namespace

int Simulate(const ServerConnection& server, const std::string& file, double speed,
             const std::string& call_id_suffix, std::ostream& out, std::ostream& err) {
  auto calls = transcripts::ReadJsonlFile(file);
  if (!calls.ok()) {
    err << "coachctl: " << calls.status().message() << "\n";
    return 1;
  }
  std::shared_ptr<grpc::Channel> channel = Connect(server, err);
  if (channel == nullptr) return 1;
  v1::CoachService::Stub stub(channel);
  int failures = 0;
  for (const transcripts::RecordedCall& call : *calls) {
    failures += PlayOne(stub, server, call, speed, call.call_id + call_id_suffix, out, err);
  }
  return failures == 0 ? 0 : 1;
}

int Watch(const ServerConnection& server, const std::string& agent_id, int64_t max_events,
          std::ostream& out, std::ostream& err) {
  std::shared_ptr<grpc::Channel> channel = Connect(server, err);
  if (channel == nullptr) return 1;
  v1::CoachService::Stub stub(channel);
  std::map<std::string, int64_t> last_seq;  // per call: the resume points
  int64_t printed = 0;
  auto backoff = std::chrono::milliseconds(250);
  for (;;) {
    grpc::ClientContext context;
    Authorize(server, &context);
    v1::WatchAgentRequest request;
    request.set_agent_id(agent_id);
    for (const auto& [call_id, seq] : last_seq) {
      v1::ResumePoint* resume = request.add_resume();
      resume->set_call_id(call_id);
      resume->set_last_seq(seq);
    }
    auto stream = stub.WatchAgent(&context, request);
    v1::CoachEvent event;
    while (stream->Read(&event)) {
      backoff = std::chrono::milliseconds(250);
      int64_t& seen = last_seq[event.call_id()];
      if (event.seq() <= seen) continue;  // already printed before a reconnect
      if (event.seq() > seen + 1) {
        err << "coachctl: call " << event.call_id() << ": events " << seen + 1 << ".."
            << event.seq() - 1 << " were dropped by the server (slow reader)\n";
      }
      seen = event.seq();
      out << ToJson(event) << "\n" << std::flush;
      if (max_events > 0 && ++printed >= max_events) {
        context.TryCancel();
        stream->Finish();
        return 0;
      }
    }
    const grpc::Status status = stream->Finish();
    switch (status.error_code()) {
      case grpc::StatusCode::UNAVAILABLE:
      case grpc::StatusCode::CANCELLED:
      case grpc::StatusCode::DEADLINE_EXCEEDED:
      case grpc::StatusCode::OK:
        err << "coachctl: watch interrupted (" << Describe(status) << "); reconnecting\n";
        std::this_thread::sleep_for(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
        continue;
      default:
        err << "coachctl: watch " << agent_id << ": " << Describe(status) << "\n";
        return 1;
    }
  }
}

int RunSimulate(const std::vector<std::string>& args) {
  std::optional<ServerConnection> server = ServerFromFlags("simulate");
  if (!server.has_value()) return kExitUsage;
  if (args.size() != 1 || absl::GetFlag(FLAGS_speed) < 0) {
    std::cerr << "coachctl simulate: give one FILE and a --speed of 0 or more\n";
    return kExitUsage;
  }
  return Simulate(*server, args[0], absl::GetFlag(FLAGS_speed),
                  absl::GetFlag(FLAGS_call_id_suffix), std::cout, std::cerr);
}

int RunWatch(const std::vector<std::string>& args) {
  std::optional<ServerConnection> server = ServerFromFlags("watch");
  if (!server.has_value()) return kExitUsage;
  if (absl::GetFlag(FLAGS_agent).empty() || !args.empty()) {
    std::cerr << "coachctl watch: --agent is required and takes no arguments\n";
    return kExitUsage;
  }
  return Watch(*server, absl::GetFlag(FLAGS_agent), absl::GetFlag(FLAGS_max_events), std::cout,
               std::cerr);
}

}  // namespace coach::cli
