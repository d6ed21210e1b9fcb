// Fault tests (issue 6, "Fault and abuse tests"): desktops that disconnect and
// resume at every point of a call, 10,000 subscribers for one agent, a
// 100,000-segment call, a 1 MiB segment, invalid UTF-8 as raw bytes, offsets
// out of order and floods of CallStart. Each fault runs while a good call
// (the "bystander", with its own desktop) streams, and the bystander's events
// must be exactly what the engine alone produces.

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "engine/call_session.h"
#include "gmock/gmock.h"
#include "grpcpp/impl/client_unary_call.h"
#include "grpcpp/impl/rpc_method.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/sync_stream.h"
#include "gtest/gtest.h"
#include "harness.h"
#include "phrase_lists/loader.h"
#include "server/convert.h"

namespace coach::testing {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// What the engine alone produces for `segments` with the bundled packs, as
// rows (events, then the report). `cumulative`, when given, receives the
// number of events after each segment.
std::vector<EventRow> EngineRows(const std::vector<v1::CallEvent>& segments,
                                 std::vector<size_t>* cumulative = nullptr,
                                 int64_t* report_segments = nullptr) {
  static const auto* rules = [] {
    auto loaded = phrase_lists::LoadRuleSet({BundledPacks()});
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return new std::shared_ptr<const engine::RuleSet>(*loaded);
  }();
  engine::CallSession session(*rules);
  std::vector<engine::Event> events;
  for (const v1::CallEvent& e : segments) {
    auto segment = server::ToEngineSegment(e.segment(), "segment");
    EXPECT_TRUE(segment.ok()) << segment.status();
    EXPECT_TRUE(session.ProcessSegment(*segment, &events).ok());
    if (cumulative != nullptr) cumulative->push_back(events.size());
  }
  auto report = session.Finish(&events);
  EXPECT_TRUE(report.ok());
  std::vector<EventRow> rows = Rows(events);
  rows.push_back({report->seq, "report", ""});
  if (report_segments != nullptr) *report_segments = report->segments;
  return rows;
}

// A good call on its own agent, with a desktop watching it, that streams its
// first half on construction and the rest in Finish(), which checks that the
// pipeline and the desktop got exactly the engine's events.
class Bystander {
 public:
  explicit Bystander(TestServer* server, const std::string& id = "bystander")
      : server_(server),
        id_(id),
        agent_(id + "-agent"),
        stub_(server->NewCoachStub()),
        desktop_stub_(server->NewCoachStub()) {
    desktop_ = Watcher::Agent(desktop_stub_.get(), WatchRequest(agent_));
    EXPECT_TRUE(server_->WaitForAgentSubscribers("", agent_, 1));
    call_ = EscalatedCall(id_, agent_);
    pipeline_ = std::make_unique<CallClient>(stub_.get());
    half_ = call_.size() / 2;
    EXPECT_TRUE(pipeline_->SendAll({call_.begin(), call_.begin() + half_}));
    // Registered and streaming before the test's fault begins.
    EXPECT_TRUE(pipeline_->WaitForEvents(1));
  }

  void Finish() {
    ASSERT_TRUE(pipeline_->SendAll({call_.begin() + half_, call_.end()}));
    grpc::Status status = pipeline_->Finish();
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_THAT(Rows(pipeline_->events()), ElementsAreArray(ExpectedRows()))
        << "the bystander call's events changed";
    ASSERT_TRUE(desktop_->WaitForReport(id_));
    EXPECT_THAT(Rows(desktop_->events()), ElementsAreArray(ExpectedRows()))
        << "the bystander desktop's events changed";
  }

 private:
  TestServer* server_;
  std::string id_;
  std::string agent_;
  std::unique_ptr<v1::CoachService::Stub> stub_;
  std::unique_ptr<v1::CoachService::Stub> desktop_stub_;
  std::unique_ptr<Watcher> desktop_;
  std::vector<v1::CallEvent> call_;
  size_t half_ = 0;
  std::unique_ptr<CallClient> pipeline_;
};

class FaultTest : public ::testing::Test {
 protected:
  explicit FaultTest(server::Server::Options options) : server_(std::move(options)) {}
  FaultTest() : FaultTest(TestServer::DefaultOptions(&clock_)) {}

  FakeClock clock_;
  TestServer server_;
  std::unique_ptr<v1::CoachService::Stub> stub_ = server_.NewCoachStub();
};

// ---------------------------------------------------------------------------
// Disconnect and resume at every point.

TEST_F(FaultTest, DesktopResumesAtEveryPointOfALiveCall) {
  Bystander bystander(&server_);
  const std::vector<EventRow> expected = ExpectedRows();
  const std::vector<v1::CallEvent> segments = EscalatedCallSegments();
  std::vector<size_t> after;  // events after each segment
  ASSERT_THAT(EngineRows(segments, &after), ElementsAreArray(expected));
  const size_t segment_events = after.back();
  ASSERT_GT(segment_events, 3u);
  auto desktop_stub = server_.NewCoachStub();

  // While the call is live, the desktop can have seen 0..segment_events.
  for (size_t k = 0; k <= segment_events; ++k) {
    SCOPED_TRACE(absl::StrCat("live, k = ", k));
    const std::string call_id = absl::StrCat("live-", k);
    const std::string agent = absl::StrCat("agent-live-", k);
    auto first = Watcher::Agent(desktop_stub.get(), WatchRequest(agent));
    ASSERT_TRUE(server_.WaitForAgentSubscribers("", agent, 1));
    CallClient pipeline(stub_.get());
    ASSERT_TRUE(pipeline.Send(StartEvent(call_id, agent)));
    // Stream segments until the call has emitted at least k events.
    size_t sent = 1;
    while (after[sent - 1] < k) ++sent;
    ASSERT_TRUE(pipeline.SendAll({segments.begin(), segments.begin() + sent}));
    ASSERT_TRUE(pipeline.WaitForEvents(after[sent - 1]));
    ASSERT_TRUE(first->WaitForEvents(k));
    first->Cancel();  // the desktop disconnects, having seen at least k
    ASSERT_TRUE(server_.WaitForAgentSubscribers("", agent, 0));
    std::vector<v1::CoachEvent> seen = first->events();
    ASSERT_GE(seen.size(), k);
    seen.resize(k);  // what it kept: events 1..k
    EXPECT_THAT(Rows(seen), ElementsAreArray(expected.begin(), expected.begin() + k));

    v1::WatchAgentRequest resume = WatchRequest(agent);
    resume.add_resume()->set_call_id(call_id);
    resume.mutable_resume(0)->set_last_seq(static_cast<int64_t>(k));
    auto second = Watcher::Agent(desktop_stub.get(), resume);
    // The rest of the call races with the replay.
    ASSERT_TRUE(pipeline.SendAll({segments.begin() + sent, segments.end()}));
    ASSERT_TRUE(pipeline.Send(EndEvent()));
    ASSERT_TRUE(pipeline.Finish().ok());
    ASSERT_TRUE(second->WaitForReport(call_id));
    // A later call flushes anything still in flight: nothing more of call_id.
    ASSERT_TRUE(RunCall(stub_.get(), {StartEvent(call_id + "-next", agent), EndEvent()})
                    .status.ok());
    ASSERT_TRUE(second->WaitForReport(call_id + "-next"));
    EXPECT_THAT(Rows(OfCall(second->events(), call_id)),
                ElementsAreArray(expected.begin() + k, expected.end()));
  }
  bystander.Finish();
}

TEST_F(FaultTest, DesktopResumesAtEveryPointOfAnEndedCall) {
  Bystander bystander(&server_);
  const std::vector<EventRow> expected = ExpectedRows();
  const size_t n = expected.size();
  auto desktop_stub = server_.NewCoachStub();
  for (size_t k = 0; k <= n; ++k) {
    SCOPED_TRACE(absl::StrCat("ended, k = ", k));
    const std::string call_id = absl::StrCat("ended-", k);
    const std::string agent = absl::StrCat("agent-ended-", k);
    auto first = Watcher::Agent(desktop_stub.get(), WatchRequest(agent));
    ASSERT_TRUE(server_.WaitForAgentSubscribers("", agent, 1));
    CallResult call = RunCall(stub_.get(), EscalatedCall(call_id, agent));
    ASSERT_TRUE(call.status.ok()) << call.status.error_message();
    ASSERT_TRUE(first->WaitForEvents(k));
    first->Cancel();
    ASSERT_TRUE(server_.WaitForAgentSubscribers("", agent, 0));
    std::vector<v1::CoachEvent> seen = first->events();
    ASSERT_GE(seen.size(), k);
    seen.resize(k);
    EXPECT_THAT(Rows(seen), ElementsAreArray(expected.begin(), expected.begin() + k));

    v1::WatchAgentRequest resume = WatchRequest(agent);
    resume.add_resume()->set_call_id(call_id);
    resume.mutable_resume(0)->set_last_seq(static_cast<int64_t>(k));
    auto second = Watcher::Agent(desktop_stub.get(), resume);
    ASSERT_TRUE(server_.WaitForAgentSubscribers("", agent, 1));
    ASSERT_TRUE(RunCall(stub_.get(), {StartEvent(call_id + "-next", agent), EndEvent()})
                    .status.ok());
    ASSERT_TRUE(second->WaitForReport(call_id + "-next"));
    EXPECT_THAT(Rows(OfCall(second->events(), call_id)),
                ElementsAreArray(expected.begin() + k, expected.end()));
  }
  bystander.Finish();
}

// ---------------------------------------------------------------------------
// 10,000 WatchAgent streams for one agent.

// One WatchAgent stream on the callback API (no thread per stream).
class RawWatch final : public grpc::ClientReadReactor<v1::CoachEvent> {
 public:
  struct Tally {
    absl::Mutex mu;
    size_t done = 0;
    size_t reports = 0;
  };

  RawWatch(v1::CoachService::Stub* stub, const v1::WatchAgentRequest& request, Tally* tally)
      : request_(request), tally_(tally) {
    stub->async()->WatchAgent(&context_, &request_, this);
    StartRead(&event_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    {
      absl::MutexLock lock(&mu_);
      events_.push_back(event_);
    }
    if (event_.has_report()) {
      absl::MutexLock lock(&tally_->mu);
      ++tally_->reports;
    }
    StartRead(&event_);
  }

  void OnDone(const grpc::Status& status) override {
    {
      absl::MutexLock lock(&mu_);
      status_ = status;
      done_ = true;
    }
    absl::MutexLock lock(&tally_->mu);
    ++tally_->done;
  }

  void Cancel() { context_.TryCancel(); }
  bool done() const {
    absl::MutexLock lock(&mu_);
    return done_;
  }
  grpc::Status status() const {
    absl::MutexLock lock(&mu_);
    return status_;
  }
  std::vector<v1::CoachEvent> events() const {
    absl::MutexLock lock(&mu_);
    return events_;
  }

 private:
  grpc::ClientContext context_;
  v1::WatchAgentRequest request_;
  v1::CoachEvent event_;
  Tally* tally_;
  mutable absl::Mutex mu_;
  std::vector<v1::CoachEvent> events_ ABSL_GUARDED_BY(mu_);
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

TEST_F(FaultTest, TenThousandSubscribersForOneAgentHitTheLimitAndTheAcceptedGetTheCall) {
  constexpr size_t kStreams = 10000;
  constexpr size_t kChannels = 4;
  const size_t limit = static_cast<size_t>(server_.server().options().limits.max_subscribers_per_agent);
  ASSERT_EQ(limit, 8u);  // the documented default of --max_subscribers_per_agent
  Bystander bystander(&server_);
  // Another agent's desktop, connected before the flood.
  auto other = Watcher::Agent(stub_.get(), WatchRequest("agent-other"));
  ASSERT_TRUE(server_.WaitForAgentSubscribers("", "agent-other", 1));

  std::vector<std::unique_ptr<v1::CoachService::Stub>> stubs;
  for (size_t c = 0; c < kChannels; ++c) stubs.push_back(server_.NewCoachStub());
  RawWatch::Tally tally;
  std::vector<std::unique_ptr<RawWatch>> watches;
  watches.reserve(kStreams);
  // However the test ends, no stream outlives its reactor.
  struct CancelAll {
    std::vector<std::unique_ptr<RawWatch>>* watches;
    RawWatch::Tally* tally;
    ~CancelAll() {
      for (auto& w : *watches) w->Cancel();
      Eventually([&] {
        absl::MutexLock lock(&tally->mu);
        return tally->done == watches->size();
      });
    }
  } cancel_all{&watches, &tally};
  const absl::Time start = absl::Now();
  for (size_t i = 0; i < kStreams; ++i) {
    watches.push_back(std::make_unique<RawWatch>(stubs[i % kChannels].get(),
                                                 WatchRequest("agent-popular"), &tally));
  }
  // All but `limit` are refused; the accepted ones stay open.
  ASSERT_TRUE(Eventually([&] {
    absl::MutexLock lock(&tally.mu);
    return tally.done == kStreams - limit;
  })) << tally.done;
  ASSERT_TRUE(server_.WaitForAgentSubscribers("", "agent-popular", limit));
  const absl::Duration opened = absl::Now() - start;
  std::vector<RawWatch*> accepted;
  for (const auto& w : watches) {
    if (!w->done()) {
      accepted.push_back(w.get());
      continue;
    }
    grpc::Status status = w->status();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr("--max_subscribers_per_agent"));
  }
  ASSERT_THAT(accepted, SizeIs(limit));

  // The accepted desktops and the other agent's desktop get their calls.
  CallResult popular = RunCall(stub_.get(), EscalatedCall("popular-call", "agent-popular"));
  ASSERT_TRUE(popular.status.ok()) << popular.status.error_message();
  CallResult other_call = RunCall(stub_.get(), EscalatedCall("other-call", "agent-other"));
  ASSERT_TRUE(other_call.status.ok());
  ASSERT_TRUE(Eventually([&] {
    absl::MutexLock lock(&tally.mu);
    return tally.reports == limit;
  }));
  for (RawWatch* w : accepted) {
    EXPECT_THAT(Rows(w->events()), ElementsAreArray(ExpectedRows()));
  }
  ASSERT_TRUE(other->WaitForReport("other-call"));
  EXPECT_THAT(Rows(other->events()), ElementsAreArray(ExpectedRows()));
  bystander.Finish();

  for (RawWatch* w : accepted) w->Cancel();
  ASSERT_TRUE(Eventually([&] {
    absl::MutexLock lock(&tally.mu);
    return tally.done == kStreams;
  }));
  EXPECT_TRUE(server_.WaitForAgentSubscribers("", "agent-popular", 0));
  std::cerr << "10,000 WatchAgent streams opened and settled in " << opened << "\n";
}

// ---------------------------------------------------------------------------
// Very long calls.

// `n` final segments, mostly small talk with a few phrases that match.
std::vector<v1::CallEvent> ManySegments(int n) {
  const std::vector<std::pair<v1::Speaker, std::string>> texts = {
      {v1::SPEAKER_CUSTOMER, "okay"},
      {v1::SPEAKER_AGENT, "let me check that for you"},
      {v1::SPEAKER_CUSTOMER, "this is ridiculous"},
      {v1::SPEAKER_AGENT, "I understand how frustrating that is"},
      {v1::SPEAKER_AGENT, "you need to calm down"},
      {v1::SPEAKER_CUSTOMER, "fine"},
  };
  std::vector<v1::CallEvent> out;
  out.reserve(n);
  for (int i = 0; i < n; ++i) {
    const auto& [speaker, text] = texts[i % texts.size()];
    out.push_back(SegmentEvent(absl::StrCat("s", i), speaker, text, true, int64_t{i} * 1000,
                               int64_t{i} * 1000 + 800));
  }
  return out;
}

TEST_F(FaultTest, HundredThousandSegmentCallWithinTheDefaultLimitGetsEveryEvent) {
  constexpr int kSegments = 100000;
  ASSERT_EQ(server_.server().options().limits.max_segments_per_call, 200000);  // the default
  Bystander bystander(&server_);
  const std::vector<v1::CallEvent> segments = ManySegments(kSegments);
  int64_t report_segments = 0;
  const std::vector<EventRow> expected = EngineRows(segments, nullptr, &report_segments);
  ASSERT_EQ(report_segments, kSegments);

  std::vector<v1::CallEvent> call = {StartEvent("long-call", "agent-long")};
  call.insert(call.end(), segments.begin(), segments.end());
  call.push_back(EndEvent());
  const absl::Time start = absl::Now();
  CallResult result = RunCall(stub_.get(), call);
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_THAT(Rows(result.events), ElementsAreArray(expected));
  ASSERT_FALSE(result.events.empty());
  EXPECT_EQ(result.events.back().report().segments(), kSegments);
  bystander.Finish();
  std::cerr << kSegments << "-segment call streamed in " << took << "\n";
}

class SmallSegmentLimitTest : public FaultTest {
 protected:
  static server::Server::Options Options(FakeClock* clock) {
    server::Server::Options options = TestServer::DefaultOptions(clock);
    options.limits.max_segments_per_call = 1000;
    return options;
  }
  SmallSegmentLimitTest() : FaultTest(Options(&clock_)) {}
};

TEST_F(SmallSegmentLimitTest, HundredThousandSegmentCallEndsAtTheLimitWithItsReport) {
  Bystander bystander(&server_);
  const std::vector<v1::CallEvent> segments = ManySegments(100000);
  const std::vector<EventRow> expected =
      EngineRows({segments.begin(), segments.begin() + 1000});
  CallClient pipeline(stub_.get());
  ASSERT_TRUE(pipeline.Send(StartEvent("long-call", "agent-long")));
  size_t written = 0;
  for (const auto& s : segments) {
    if (!pipeline.Send(s)) break;  // the server ended the call
    ++written;
  }
  grpc::Status status = pipeline.Finish();
  EXPECT_STATUS(status, RESOURCE_EXHAUSTED,
                "segment: the call already has 1000 segments; the limit is 1000 "
                "(--max_segments_per_call)");
  EXPECT_GT(written, 1000u);
  ASSERT_FALSE(pipeline.events().empty());
  EXPECT_THAT(Rows(pipeline.events()), ElementsAreArray(expected));
  EXPECT_EQ(pipeline.events().back().report().segments(), 1000);
  EXPECT_EQ(server_.server().registry().live_calls(), 1);  // the bystander only
  bystander.Finish();
}

// ---------------------------------------------------------------------------
// Oversized and malformed segments.

TEST_F(FaultTest, OneMebibyteSegmentIsInvalidArgumentNamingTheLimitAndTheCallGetsItsReport) {
  Bystander bystander(&server_);
  const std::string text(1 << 20, 'a');
  CallResult result = RunCall(
      stub_.get(), {StartEvent("huge", "agent-huge"),
                    SegmentEvent("c1", v1::SPEAKER_CUSTOMER, "this is ridiculous", true, 0, 900),
                    SegmentEvent("big", v1::SPEAKER_AGENT, text, true, 1000, 2000)});
  EXPECT_STATUS(result.status, INVALID_ARGUMENT,
                "segment.text of segment_id 'big' is 1048576 bytes; the limit is 16384 "
                "(--max_segment_bytes)");
  ASSERT_FALSE(result.events.empty());
  EXPECT_TRUE(result.events.back().has_report());
  EXPECT_EQ(result.events.back().report().segments(), 1);
  bystander.Finish();
}

TEST_F(FaultTest, SegmentOverMaxMessageBytesIsResourceExhausted) {
  Bystander bystander(&server_);
  auto desktop = Watcher::Agent(stub_.get(), WatchRequest("agent-huge"));
  ASSERT_TRUE(server_.WaitForAgentSubscribers("", "agent-huge", 1));
  const std::string text(5 << 20, 'a');  // over the 4 MiB --max_message_bytes
  CallResult result = RunCall(
      stub_.get(), {StartEvent("huger", "agent-huge"),
                    SegmentEvent("big", v1::SPEAKER_AGENT, text, true, 1000, 2000)});
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << result.status.error_message();
  std::cerr << "5 MiB message: " << result.status.error_code() << " "
            << result.status.error_message() << " (" << result.events.size() << " events)\n";
  EXPECT_TRUE(Eventually([&] { return server_.server().registry().live_calls() == 1; }));
  // The call was live: it ended, and its desktop gets its report.
  EXPECT_TRUE(desktop->WaitForReport("huger"));
  bystander.Finish();
}

// Writes raw CallEvent bytes on a StreamCall, as a client with no protobuf
// checks (or another language's) could.
class RawCall {
 public:
  explicit RawCall(const std::shared_ptr<grpc::Channel>& channel)
      : method_("/coach.v1.CoachService/StreamCall", grpc::internal::RpcMethod::BIDI_STREAMING),
        stream_(grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, v1::CoachEvent>::Create(
            channel.get(), method_, &context_)) {}

  bool Send(const std::string& bytes) {
    grpc::Slice slice(bytes);
    grpc::ByteBuffer buffer(&slice, 1);
    return stream_->Write(buffer);
  }
  bool Send(const v1::CallEvent& event) { return Send(event.SerializeAsString()); }

  CallResult Finish() {
    CallResult result;
    stream_->WritesDone();
    v1::CoachEvent event;
    while (stream_->Read(&event)) result.events.push_back(event);
    result.status = stream_->Finish();
    return result;
  }

 private:
  grpc::ClientContext context_;
  grpc::internal::RpcMethod method_;
  std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, v1::CoachEvent>> stream_;
};

// A serialized segment whose text is `bytes` (any bytes, same length as the
// placeholder).
std::string SegmentWithRawText(const std::string& segment_id, const std::string& bytes) {
  const std::string placeholder(bytes.size(), '@');
  std::string wire =
      SegmentEvent(segment_id, v1::SPEAKER_CUSTOMER, placeholder, true, 0, 1000).SerializeAsString();
  const size_t at = wire.find(placeholder);
  EXPECT_NE(at, std::string::npos);
  wire.replace(at, bytes.size(), bytes);
  return wire;
}

TEST_F(FaultTest, InvalidUtf8AsRawBytesIsRefusedWithASpecificStatus) {
  Bystander bystander(&server_);
  v1::WatchAgentRequest watch = WatchRequest("agent-utf8");
  auto desktop = Watcher::Agent(stub_.get(), watch);
  ASSERT_TRUE(server_.WaitForAgentSubscribers("", "agent-utf8", 1));
  // The raw path itself works: a valid call sent as bytes.
  {
    RawCall valid(server_.NewChannel());
    ASSERT_TRUE(valid.Send(StartEvent("utf8-valid", "agent-utf8")));
    ASSERT_TRUE(valid.Send(SegmentWithRawText("c1", "this is ridiculous")));
    CallResult result = valid.Finish();
    ASSERT_TRUE(result.status.ok()) << result.status.error_message();
    ASSERT_FALSE(result.events.empty());
    EXPECT_EQ(result.events.back().report().segments(), 1);
  }
  // Lone continuation byte, truncated sequence, overlong '/', a surrogate.
  const std::vector<std::string> invalid = {"this is \x80 ridiculous", "ridiculous \xC3",
                                            "calm \xC0\xAF down", "x \xED\xA0\x80 y"};
  for (size_t i = 0; i < invalid.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("invalid[", i, "]"));
    const std::string call_id = absl::StrCat("utf8-", i);
    RawCall raw(server_.NewChannel());
    ASSERT_TRUE(raw.Send(StartEvent(call_id, "agent-utf8")));
    raw.Send(SegmentWithRawText("c1", invalid[i]));
    raw.Send(SegmentEvent("c2", v1::SPEAKER_CUSTOMER, "after the bad one", true, 2000, 3000));
    CallResult result = raw.Finish();
    // The bad message must not pass for a half-close (an OK call with the
    // segment silently dropped): it is a malformed request.
    EXPECT_NE(result.status.error_code(), grpc::StatusCode::OK)
        << "invalid UTF-8 in segment.text was silently accepted; "
        << result.events.size() << " events, report segments "
        << (result.events.empty() ? -1 : result.events.back().report().segments());
    EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << result.status.error_message();
    EXPECT_THAT(result.status.error_message(), HasSubstr("UTF-8"));
    EXPECT_TRUE(desktop->WaitForReport(call_id));
  }
  EXPECT_TRUE(Eventually([&] { return server_.server().registry().live_calls() == 1; }));

  // ReviewCall with the same bytes in a segment.
  {
    const std::string placeholder(invalid[0].size(), '@');
    v1::ReviewCallRequest request;
    *request.mutable_start() = StartEvent("review-utf8", "agent-utf8").start();
    *request.add_segments() =
        SegmentEvent("c1", v1::SPEAKER_CUSTOMER, placeholder, true, 0, 1000).segment();
    std::string wire = request.SerializeAsString();
    wire.replace(wire.find(placeholder), placeholder.size(), invalid[0]);
    grpc::Slice slice(wire);
    grpc::ByteBuffer buffer(&slice, 1);
    const grpc::internal::RpcMethod method("/coach.v1.CoachService/ReviewCall",
                                           grpc::internal::RpcMethod::NORMAL_RPC);
    auto channel = server_.NewChannel();
    grpc::ClientContext context;
    v1::ReviewCallResponse response;
    grpc::Status status =
        grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, v1::ReviewCallResponse>(
            channel.get(), method, &context, buffer, &response);
    std::cerr << "ReviewCall with invalid UTF-8: " << status.error_code() << " "
              << status.error_message() << "\n";
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  }
  bystander.Finish();
}

TEST_F(FaultTest, OutOfOrderOffsetsAreAcceptedAndScoredAsTheEngineDoes) {
  Bystander bystander(&server_);
  // end before start, and times going backwards between segments.
  const std::vector<v1::CallEvent> segments = {
      SegmentEvent("c1", v1::SPEAKER_CUSTOMER, "this is ridiculous", true, 50000, 40000),
      SegmentEvent("a1", v1::SPEAKER_AGENT, "you need to calm down", true, 10000, 11000),
      SegmentEvent("c2", v1::SPEAKER_CUSTOMER, "I'm going to report you to the FCC", true, 5000,
                   4000),
      SegmentEvent("a2", v1::SPEAKER_AGENT, "I understand how frustrating this is", false, 0, 0),
      SegmentEvent("a2", v1::SPEAKER_AGENT, "I understand how frustrating this is", true, 90000,
                   1000),
      SegmentEvent("c3", v1::SPEAKER_CUSTOMER, "I want to speak to your CEO", true, 0, 0),
  };
  const std::vector<EventRow> expected = EngineRows(segments);
  ASSERT_GT(expected.size(), 3u);
  std::vector<v1::CallEvent> call = {StartEvent("backwards", "agent-b")};
  call.insert(call.end(), segments.begin(), segments.end());
  call.push_back(EndEvent());
  CallResult result = RunCall(stub_.get(), call);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_THAT(Rows(result.events), ElementsAreArray(expected));
  bystander.Finish();
}

TEST_F(FaultTest, NegativeAndOutOfRangeOffsetsAreInvalidArgumentNamingTheField) {
  Bystander bystander(&server_);
  auto with_words = [](int64_t word_start) {
    v1::CallEvent e = SegmentEvent("a1", v1::SPEAKER_AGENT, "hello", true, 0, 1000);
    auto* word = e.mutable_segment()->add_words();
    word->set_text("hello");
    word->set_start_ms(word_start);
    word->set_end_ms(500);
    return e;
  };
  const std::vector<std::pair<v1::CallEvent, std::string>> cases = {
      {SegmentEvent("a1", v1::SPEAKER_AGENT, "hello", true, 0, -1), "segment.end_ms is -1"},
      {SegmentEvent("a1", v1::SPEAKER_AGENT, "hello", true, INT64_MIN, 0),
       "segment.start_ms is -9223372036854775808"},
      {SegmentEvent("a1", v1::SPEAKER_AGENT, "hello", true, 0, INT64_MAX),
       "segment.end_ms is 9223372036854775807"},
      {with_words(-7), "segment.words[0].start_ms is -7"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    CallResult result =
        RunCall(stub_.get(), {StartEvent(absl::StrCat("neg-", i), "agent-n"), cases[i].first});
    EXPECT_STATUS(result.status, INVALID_ARGUMENT, cases[i].second);
    ASSERT_FALSE(result.events.empty());
    EXPECT_TRUE(result.events.back().has_report());
  }
  bystander.Finish();
}

// ---------------------------------------------------------------------------
// CallStart floods.

TEST_F(FaultTest, TenThousandStartsOnOneStreamEndItAtTheSecond) {
  Bystander bystander(&server_);
  CallClient pipeline(stub_.get());
  size_t written = 0;
  for (int i = 0; i < 10000; ++i) {
    if (!pipeline.Send(StartEvent("flood", "agent-flood"))) break;
    ++written;
  }
  grpc::Status status = pipeline.Finish();
  EXPECT_STATUS(status, FAILED_PRECONDITION,
                "second CallEvent.start; a StreamCall carries exactly one call");
  ASSERT_THAT(pipeline.events(), SizeIs(1));  // the report of the (empty) call
  EXPECT_TRUE(pipeline.events()[0].has_report());
  EXPECT_EQ(pipeline.events()[0].seq(), 1);
  EXPECT_GE(written, 2u);
  EXPECT_EQ(server_.server().registry().live_calls(), 1);
  bystander.Finish();
}

TEST_F(FaultTest, ManyStreamsFloodingStartsEachGetFailedPrecondition) {
  Bystander bystander(&server_);
  constexpr int kStreams = 50;
  constexpr int kStartsEach = 200;
  std::vector<grpc::Status> statuses(kStreams);
  std::vector<size_t> reports(kStreams);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      auto stub = server_.NewCoachStub();
      for (int s = t; s < kStreams; s += 2) {
        std::vector<v1::CallEvent> starts(kStartsEach,
                                          StartEvent(absl::StrCat("flood-", s), "agent-flood"));
        CallResult result = RunCall(stub.get(), starts);
        statuses[s] = result.status;
        for (const auto& e : result.events) reports[s] += e.has_report() ? 1 : 0;
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int s = 0; s < kStreams; ++s) {
    EXPECT_STATUS(statuses[s], FAILED_PRECONDITION, "second CallEvent.start");
    EXPECT_EQ(reports[s], 1u) << s;
  }
  EXPECT_EQ(server_.server().registry().live_calls(), 1);
  bystander.Finish();
}

class StartOnlyStreamsTest : public FaultTest {
 protected:
  static server::Server::Options Options(FakeClock* clock) {
    server::Server::Options options = TestServer::DefaultOptions(clock);
    options.limits.max_calls = 100;
    return options;
  }
  StartOnlyStreamsTest() : FaultTest(Options(&clock_)) {}
};

TEST_F(StartOnlyStreamsTest, StreamsSendingOnlyAStartHitMaxCallsAndTimeOutWithTheirReports) {
  constexpr int kStreams = 250;
  auto bystander = std::make_unique<Bystander>(&server_);  // one of the 100 calls
  std::vector<std::unique_ptr<v1::CoachService::Stub>> stubs;
  for (int c = 0; c < 4; ++c) stubs.push_back(server_.NewCoachStub());
  std::vector<std::unique_ptr<CallClient>> streams;
  for (int i = 0; i < kStreams; ++i) {
    streams.push_back(std::make_unique<CallClient>(stubs[i % 4].get()));
    ASSERT_TRUE(streams.back()->Send(StartEvent(absl::StrCat("only-start-", i), "agent-s")));
  }
  // 99 are accepted (the bystander holds the 100th slot); the rest refused.
  ASSERT_TRUE(Eventually([&] {
    size_t ended = 0;
    for (const auto& s : streams) ended += s->WaitForEnd(absl::ZeroDuration()) ? 1 : 0;
    return ended == kStreams - 99;
  }));
  EXPECT_EQ(server_.server().registry().live_calls(), 100);
  std::vector<CallClient*> accepted;
  for (const auto& s : streams) {
    if (!s->WaitForEnd(absl::ZeroDuration())) {
      accepted.push_back(s.get());
      continue;
    }
    EXPECT_STATUS(s->Finish(), RESOURCE_EXHAUSTED, "--max_calls");
    EXPECT_THAT(s->events(), IsEmpty());
  }
  ASSERT_THAT(accepted, SizeIs(99));
  bystander->Finish();
  bystander.reset();
  // Past --idle_timeout every start-only call ends with its report.
  clock_.Advance(absl::Minutes(6));
  server_.server().SweepNow();
  for (CallClient* s : accepted) {
    ASSERT_TRUE(s->WaitForEnd());
    EXPECT_STATUS(s->Finish(), DEADLINE_EXCEEDED, "--idle_timeout");
    ASSERT_THAT(s->events(), SizeIs(1));
    EXPECT_TRUE(s->events()[0].has_report());
  }
  EXPECT_EQ(server_.server().registry().live_calls(), 0);
}

}  // namespace
}  // namespace coach::testing
