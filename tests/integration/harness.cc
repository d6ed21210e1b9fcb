#include "harness.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <ostream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "engine/call_session.h"
#include "grpc_wire.pb.h"
#include "grpcpp/impl/client_unary_call.h"
#include "grpcpp/impl/rpc_method.h"
#include "grpcpp/support/sync_stream.h"
#include "gtest/gtest.h"
#include "phrase_lists/loader.h"
#include "server/logging.h"
#include "transcripts/jsonl_reader.h"

namespace coach::testing {

std::string SourceDir() { return COACHD_SOURCE_DIR; }
std::string BundledPacks() { return SourceDir() + "/phrase_lists"; }

bool Eventually(const std::function<bool()>& condition, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "coachd_it_XXXXXX").string();
  char* made = mkdtemp(pattern.data());
  path_ = made != nullptr ? made : "";
}

TempDir::~TempDir() {
  std::error_code ignored;
  if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::Write(const std::string& name, const std::string& content) const {
  const std::string full = path_ + "/" + name;
  std::filesystem::create_directories(std::filesystem::path(full).parent_path());
  std::ofstream out(full, std::ios::trunc);
  out << content;
  return full;
}

server::Server::Options TestServer::DefaultOptions(FakeClock* clock) {
  server::Server::Options options;
  options.listen_address = "127.0.0.1:0";
  options.phrase_lists = {BundledPacks()};
  options.sweep_interval = absl::ZeroDuration();
  if (clock != nullptr) options.clock = clock->AsFunction();
  return options;
}

void TestServer::QuietLoggingOnce() {
  static const bool quiet = [] {
    server::LogOptions log;
    log.level = "warn";
    return server::ConfigureLogging(log).ok();
  }();
  (void)quiet;
}

TestServer::TestServer(server::Server::Options options) {
  QuietLoggingOnce();
  auto server = server::Server::BuildAndStart(std::move(options));
  if (!server.ok()) {
    ADD_FAILURE() << "BuildAndStart: " << server.status();
    return;
  }
  server_ = *std::move(server);
}

TestServer::~TestServer() {
  if (server_) server_->Shutdown(absl::ZeroDuration());
}

std::string TestServer::address() const { return absl::StrCat("127.0.0.1:", server_->port()); }

bool TestServer::WaitForAgentSubscribers(const std::string& tenant, const std::string& agent_id,
                                         size_t n) {
  return Eventually(
      [&] { return server_->registry().AgentSubscriberDrops(tenant, agent_id).size() == n; });
}

v1::WatchAgentRequest WatchRequest(const std::string& agent_id) {
  v1::WatchAgentRequest request;
  request.set_agent_id(agent_id);
  return request;
}

std::shared_ptr<grpc::Channel> TestServer::NewChannel(const grpc::ChannelArguments& extra) const {
  grpc::ChannelArguments args = extra;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address(), grpc::InsecureChannelCredentials(), args);
}

std::unique_ptr<v1::CoachService::Stub> TestServer::NewCoachStub() const {
  return v1::CoachService::NewStub(NewChannel());
}

std::unique_ptr<v1::AdminService::Stub> TestServer::NewAdminStub() const {
  return v1::AdminService::NewStub(NewChannel());
}

void SetToken(grpc::ClientContext* context, const std::string& token) {
  if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
}

v1::CallEvent StartEvent(const std::string& call_id, const std::string& agent_id,
                         const std::string& tenant) {
  v1::CallEvent event;
  event.mutable_start()->set_call_id(call_id);
  event.mutable_start()->set_agent_id(agent_id);
  event.mutable_start()->set_tenant(tenant);
  return event;
}

v1::CallEvent SegmentEvent(const std::string& segment_id, v1::Speaker speaker,
                           const std::string& text, bool is_final, int64_t start_ms,
                           int64_t end_ms) {
  v1::CallEvent event;
  v1::TranscriptSegment* segment = event.mutable_segment();
  segment->set_segment_id(segment_id);
  segment->set_speaker(speaker);
  segment->set_text(text);
  segment->set_is_final(is_final);
  segment->set_start_ms(start_ms);
  segment->set_end_ms(end_ms);
  return event;
}

v1::CallEvent EndEvent() {
  v1::CallEvent event;
  event.mutable_end();
  return event;
}

namespace {

std::vector<engine::Segment> EscalatedEngineSegments() {
  auto calls =
      transcripts::ReadJsonlFile(SourceDir() + "/tests/data/calls/escalated_call.jsonl");
  if (!calls.ok() || calls->size() != 1) {
    ADD_FAILURE() << "cannot read escalated_call.jsonl";
    return {};
  }
  return (*calls)[0].segments;
}

}  // namespace

std::vector<v1::CallEvent> EscalatedCallSegments() {
  std::vector<v1::CallEvent> out;
  for (const engine::Segment& s : EscalatedEngineSegments()) {
    v1::CallEvent event = SegmentEvent(
        s.segment_id, s.speaker == engine::Speaker::kAgent ? v1::SPEAKER_AGENT : v1::SPEAKER_CUSTOMER,
        s.text, s.is_final, s.start_ms, s.end_ms);
    if (s.stability) event.mutable_segment()->set_stability(*s.stability);
    out.push_back(std::move(event));
  }
  return out;
}

std::vector<v1::CallEvent> EscalatedCall(const std::string& call_id, const std::string& agent_id,
                                         const std::string& tenant) {
  std::vector<v1::CallEvent> out = {StartEvent(call_id, agent_id, tenant)};
  for (auto& e : EscalatedCallSegments()) out.push_back(std::move(e));
  out.push_back(EndEvent());
  return out;
}

const EngineRun& EscalatedCallEngineRun() {
  static const EngineRun* run = [] {
    auto* r = new EngineRun;
    auto rules = phrase_lists::LoadRuleSet({BundledPacks()});
    if (!rules.ok()) {
      ADD_FAILURE() << rules.status();
      return r;
    }
    engine::CallSession session(*rules);
    for (const engine::Segment& s : EscalatedEngineSegments()) {
      EXPECT_TRUE(session.ProcessSegment(s, &r->events).ok());
    }
    r->segment_events = r->events.size();
    auto report = session.Finish(&r->events);
    EXPECT_TRUE(report.ok());
    if (report.ok()) r->report_seq = report->seq;
    r->version = (*rules)->version();
    return r;
  }();
  return *run;
}

// CallClient ----------------------------------------------------------------

CallClient::CallClient(v1::CoachService::Stub* stub, const std::string& token, bool read_now) {
  SetToken(&context_, token);
  stream_ = stub->StreamCall(&context_);
  if (read_now) StartReading();
}

void CallClient::StartReading() {
  if (reader_.joinable()) return;
  reader_ = std::thread([this] {
    v1::CoachEvent event;
    while (stream_->Read(&event)) {
      absl::MutexLock lock(&mu_);
      events_.push_back(event);
    }
    absl::MutexLock lock(&mu_);
    ended_ = true;
  });
}

CallClient::~CallClient() {
  if (!finished_) {
    context_.TryCancel();
    Finish();
  }
}

bool CallClient::Send(const v1::CallEvent& event) { return stream_->Write(event); }

bool CallClient::SendAll(const std::vector<v1::CallEvent>& events) {
  for (const auto& e : events) {
    if (!Send(e)) return false;
  }
  return true;
}

grpc::Status CallClient::Finish() {
  if (finished_) return status_;
  stream_->WritesDone();
  StartReading();
  reader_.join();
  status_ = stream_->Finish();
  finished_ = true;
  return status_;
}

bool CallClient::WaitForEvents(size_t n, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return events_.size() >= n || ended_; };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  return events_.size() >= n;
}

bool CallClient::WaitForEnd(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&ended_), timeout);
}

std::vector<v1::CoachEvent> CallClient::events() const {
  absl::MutexLock lock(&mu_);
  return events_;
}

CallResult RunCall(v1::CoachService::Stub* stub, const std::vector<v1::CallEvent>& events,
                   const std::string& token) {
  CallClient client(stub, token);
  client.SendAll(events);
  CallResult result;
  result.status = client.Finish();
  result.events = client.events();
  return result;
}

// Watcher -------------------------------------------------------------------

std::unique_ptr<Watcher> Watcher::Agent(v1::CoachService::Stub* stub,
                                        const v1::WatchAgentRequest& request,
                                        const std::string& token) {
  std::unique_ptr<Watcher> watcher(new Watcher);
  SetToken(&watcher->context_, token);
  Watcher* w = watcher.get();
  w->Run([w, stub, request] { return stub->WatchAgent(&w->context_, request); });
  return watcher;
}

std::unique_ptr<Watcher> Watcher::Alerts(v1::CoachService::Stub* stub,
                                         const v1::WatchAlertsRequest& request,
                                         const std::string& token) {
  std::unique_ptr<Watcher> watcher(new Watcher);
  SetToken(&watcher->context_, token);
  Watcher* w = watcher.get();
  w->Run([w, stub, request] { return stub->WatchAlerts(&w->context_, request); });
  return watcher;
}

void Watcher::Run(std::function<std::unique_ptr<grpc::ClientReader<v1::CoachEvent>>()> open) {
  reader_ = std::thread([this, open = std::move(open)] {
    std::unique_ptr<grpc::ClientReader<v1::CoachEvent>> reader = open();
    v1::CoachEvent event;
    while (reader->Read(&event)) {
      absl::MutexLock lock(&mu_);
      events_.push_back(event);
    }
    grpc::Status status = reader->Finish();
    absl::MutexLock lock(&mu_);
    status_ = status;
    ended_ = true;
  });
}

Watcher::~Watcher() { Cancel(); }

void Watcher::Cancel() {
  if (!reader_.joinable()) return;
  context_.TryCancel();
  reader_.join();
}

bool Watcher::WaitForEvents(size_t n, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return events_.size() >= n || ended_; };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  return events_.size() >= n;
}

bool Watcher::WaitForReport(const std::string& call_id, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto has_report = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const auto& e : events_) {
      if (e.call_id() == call_id && e.has_report()) return true;
    }
    return ended_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&has_report), timeout);
  for (const auto& e : events_) {
    if (e.call_id() == call_id && e.has_report()) return true;
  }
  return false;
}

grpc::Status Watcher::WaitForStatus(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  if (!mu_.AwaitWithTimeout(absl::Condition(&ended_), timeout)) {
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "test: stream did not end");
  }
  return status_;
}

bool Watcher::ended() const {
  absl::MutexLock lock(&mu_);
  return ended_;
}

std::vector<v1::CoachEvent> Watcher::events() const {
  absl::MutexLock lock(&mu_);
  return events_;
}

// Rows ----------------------------------------------------------------------

std::ostream& operator<<(std::ostream& os, const EventRow& row) {
  return os << "{" << row.seq << ", " << row.type << ", " << row.rule_id << "}";
}

std::vector<EventRow> Rows(const std::vector<v1::CoachEvent>& events) {
  std::vector<EventRow> rows;
  for (const auto& e : events) {
    switch (e.payload_case()) {
      case v1::CoachEvent::kNudge:
        rows.push_back({e.seq(), "nudge", e.nudge().rule_id()});
        break;
      case v1::CoachEvent::kRetraction:
        rows.push_back({e.seq(), "retraction", e.retraction().rule_id()});
        break;
      case v1::CoachEvent::kReminder:
        rows.push_back({e.seq(), "reminder", e.reminder().rule_id()});
        break;
      case v1::CoachEvent::kReport:
        rows.push_back({e.seq(), "report", ""});
        break;
      case v1::CoachEvent::PAYLOAD_NOT_SET:
        rows.push_back({e.seq(), "unset", ""});
        break;
    }
  }
  return rows;
}

std::vector<EventRow> Rows(const std::vector<engine::Event>& events) {
  std::vector<EventRow> rows;
  for (const auto& e : events) {
    rows.push_back({e.seq, std::string(engine::EventTypeName(e.type)), e.rule_id});
  }
  return rows;
}

std::vector<EventRow> ExpectedRows() {
  const EngineRun& run = EscalatedCallEngineRun();
  std::vector<EventRow> rows = Rows(run.events);
  rows.push_back({run.report_seq, "report", ""});
  return rows;
}

std::vector<v1::CoachEvent> OfCall(const std::vector<v1::CoachEvent>& events,
                                   const std::string& call_id) {
  std::vector<v1::CoachEvent> out;
  for (const auto& e : events) {
    if (e.call_id() == call_id) out.push_back(e);
  }
  return out;
}

// Metrics -------------------------------------------------------------------

double MetricValue(const std::string& scrape, const std::string& name,
                   const std::vector<std::string>& labels) {
  double total = 0;
  bool found = false;
  for (absl::string_view line : absl::StrSplit(scrape, '\n')) {
    if (line.empty() || line.front() == '#' || !absl::StartsWith(line, name)) continue;
    absl::string_view rest = line.substr(name.size());
    absl::string_view label_text;
    if (absl::ConsumePrefix(&rest, "{")) {
      const size_t close = rest.find('}');
      if (close == absl::string_view::npos) continue;
      label_text = rest.substr(0, close);
      rest.remove_prefix(close + 1);
    }
    if (!absl::ConsumePrefix(&rest, " ")) continue;  // a longer metric name
    bool all = true;
    for (const std::string& label : labels) all &= absl::StrContains(label_text, label);
    double value = 0;
    if (!all || !absl::SimpleAtod(rest, &value)) continue;
    total += value;
    found = true;
  }
  return found ? total : -1;
}

// Health and reflection -----------------------------------------------------

int HealthStatus(const std::shared_ptr<grpc::Channel>& channel, const std::string& service) {
  const grpc::internal::RpcMethod method("/grpc.health.v1.Health/Check",
                                         grpc::internal::RpcMethod::NORMAL_RPC);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kWaitTimeout));
  HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  grpc::Status status = grpc::internal::BlockingUnaryCall<HealthCheckRequest, HealthCheckResponse>(
      channel.get(), method, &context, request, &response);
  return status.ok() ? static_cast<int>(response.status()) : -1;
}

std::vector<std::string> ReflectionServices(const std::shared_ptr<grpc::Channel>& channel) {
  const grpc::internal::RpcMethod method(
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      grpc::internal::RpcMethod::BIDI_STREAMING);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kWaitTimeout));
  std::unique_ptr<grpc::ClientReaderWriter<ReflectionRequest, ReflectionResponse>> stream(
      grpc::internal::ClientReaderWriterFactory<ReflectionRequest, ReflectionResponse>::Create(
          channel.get(), method, &context));
  ReflectionRequest request;
  request.set_list_services("*");
  std::vector<std::string> names;
  if (!stream->Write(request)) return names;
  stream->WritesDone();
  ReflectionResponse response;
  while (stream->Read(&response)) {
    for (const auto& service : response.list_services_response().service()) {
      names.push_back(service.name());
    }
  }
  (void)stream->Finish();
  return names;
}

}  // namespace coach::testing
