#include "cli/live_client.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cli/commands.h"
#include "cli/server_client.h"
#include "cli/text_report.h"
#include "coach/v1/coach.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "server/convert.h"
#include "transcripts/jsonl_reader.h"

ABSL_FLAG(double, speed, 1.0,
          "simulate: pace segments at this multiple of real time; 0 sends at once.");
ABSL_FLAG(std::string, call_id_suffix, "",
          "simulate: appended to each call_id (coachd refuses an id it still retains).");
ABSL_FLAG(bool, interims, true,
          "simulate: send interim hypotheses built from word timings before each final.");
ABSL_FLAG(std::string, agent, "", "watch: the agent_id to follow.");
ABSL_FLAG(int64_t, max_events, 0, "watch: stop after this many events; 0 follows forever.");
ABSL_FLAG(std::string, view, "auto",
          "watch: 'text' (colored nudges and scorecards for people), 'json' (one event per "
          "line) or 'auto' (text when stdout is a terminal, else json).");
ABSL_FLAG(std::string, color, "auto",
          "watch: ANSI colors in the text view: 'always', 'never' or 'auto' (when stdout is a "
          "terminal and NO_COLOR is not set).");

namespace coach::cli {
namespace {

std::string ToJson(const v1::CoachEvent& event) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(event, &json, options).ok()) {
    return "{}";
  }
  return json;
}

std::string Describe(const grpc::Status& status) {
  return absl::StrCat(absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())),
                      ": ", status.error_message());
}

// One message of a simulated call and when (call time) it is due.
struct Outgoing {
  int64_t due_ms = 0;
  v1::CallEvent event;
};

// The messages an STT pipeline would send for `call`, in order: for a final
// segment with one timing per word, an interim hypothesis at the end of each
// word but the last (the text so far), then the final at the segment's end.
std::vector<Outgoing> Schedule(const transcripts::RecordedCall& call, bool interims) {
  std::vector<Outgoing> out;
  for (const engine::Segment& segment : call.segments) {
    const int64_t end_ms = std::max(segment.start_ms, segment.end_ms);
    if (interims && segment.is_final && segment.words.size() > 1) {
      const std::vector<absl::string_view> words =
          absl::StrSplit(segment.text, absl::ByAnyChar(" \t\r\n"), absl::SkipEmpty());
      if (words.size() == segment.words.size()) {
        for (size_t i = 0; i + 1 < words.size(); ++i) {
          engine::Segment interim = segment;
          interim.is_final = false;
          interim.text = absl::StrJoin(words.begin(), words.begin() + i + 1, " ");
          interim.words.assign(segment.words.begin(), segment.words.begin() + i + 1);
          interim.end_ms = segment.words[i].end_ms;
          Outgoing message{segment.words[i].end_ms, {}};
          server::ToProto(interim, message.event.mutable_segment());
          out.push_back(std::move(message));
        }
      }
    }
    // A final is known when the speech ends; an interim line of the file
    // when it starts.
    Outgoing message{segment.is_final ? end_ms : segment.start_ms, {}};
    if (segment.is_final && !segment.words.empty()) {
      message.due_ms = std::max(message.due_ms, segment.words.back().end_ms);
    }
    server::ToProto(segment, message.event.mutable_segment());
    out.push_back(std::move(message));
  }
  return out;
}

int PlayOne(v1::CoachService::Stub& stub, const ServerConnection& server,
            const transcripts::RecordedCall& call, const SimulateOptions& options,
            std::ostream& out, std::ostream& err) {
  const std::string call_id = call.call_id + options.call_id_suffix;
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
  for (const Outgoing& message : Schedule(call, options.interims)) {
    if (!writing) break;
    if (options.speed > 0) {
      const auto due = began + std::chrono::microseconds(static_cast<int64_t>(
                                   std::max<int64_t>(0, message.due_ms - first_ms) * 1000 /
                                   options.speed));
      std::this_thread::sleep_until(due);
    }
    writing = stream->Write(message.event);
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

// ANSI styles of the text view.
constexpr char kReset[] = "\033[0m";
constexpr char kBold[] = "\033[1m";
constexpr char kDim[] = "\033[2m";
constexpr char kRed[] = "\033[31m";
constexpr char kGreen[] = "\033[32m";
constexpr char kYellow[] = "\033[33m";
constexpr char kMagenta[] = "\033[35m";
constexpr char kCyan[] = "\033[36m";

const char* KindColor(v1::RuleKind kind) {
  switch (kind) {
    case v1::RULE_KIND_CORRECTIVE:
      return kRed;
    case v1::RULE_KIND_REINFORCEMENT:
      return kGreen;
    case v1::RULE_KIND_ESCALATION:
      return kMagenta;
    case v1::RULE_KIND_REMINDER:
      return kYellow;
    default:
      return kCyan;  // tracked, cue
  }
}

// "CORRECTIVE" for RULE_KIND_CORRECTIVE.
std::string KindLabel(v1::RuleKind kind) {
  const std::string& name = v1::RuleKind_Name(kind);
  return std::string(absl::StripPrefix(name, "RULE_KIND_"));
}

// The text view of Watch: one or two lines per event.
class TextView {
 public:
  TextView(std::ostream& out, bool color) : out_(out), color_(color) {}

  void Status(absl::string_view line) {
    out_ << Style(kDim) << line << Style(kReset) << "\n" << std::flush;
  }
  void Warning(absl::string_view line) {
    out_ << Style(kYellow) << line << Style(kReset) << "\n" << std::flush;
  }

  void Event(const v1::CoachEvent& event) {
    if (event.call_id() != call_id_) {
      call_id_ = event.call_id();
      out_ << Style(kBold) << "-- call " << call_id_ << " --" << Style(kReset) << "\n";
    }
    switch (event.payload_case()) {
      case v1::CoachEvent::kNudge: {
        const v1::Nudge& n = event.nudge();
        Headline(n.kind(), n.evidence().offset_ms(), KindLabel(n.kind()), n.title(),
                 absl::StrCat("\"", n.evidence().matched_text(), "\"",
                              n.interim() ? " (interim)" : ""));
        Suggestion(n.suggestion());
        break;
      }
      case v1::CoachEvent::kReminder: {
        const v1::Reminder& r = event.reminder();
        Headline(v1::RULE_KIND_REMINDER, r.due_ms(), "REMINDER", r.title(),
                 absl::StrCat("missed after ", r.trigger_category(), " \"",
                              r.evidence().matched_text(), "\""));
        Suggestion(r.suggestion());
        break;
      }
      case v1::CoachEvent::kRetraction: {
        const v1::Retraction& r = event.retraction();
        out_ << Style(kDim) << FormatOffset(r.evidence().offset_ms()) << "  RETRACTED  "
             << r.title() << " (\"" << r.evidence().matched_text() << "\" was revised away)"
             << Style(kReset) << "\n";
        break;
      }
      case v1::CoachEvent::kReport:
        Scorecard(event.report());
        break;
      default:
        break;
    }
    out_ << std::flush;
  }

 private:
  const char* Style(const char* style) const { return color_ ? style : ""; }

  void Headline(v1::RuleKind kind, int64_t offset_ms, const std::string& label,
                const std::string& title, const std::string& detail) {
    std::string padded = label;
    padded.resize(std::max<size_t>(padded.size(), 13), ' ');
    out_ << Style(KindColor(kind)) << FormatOffset(offset_ms) << "  " << Style(kBold) << padded
         << " " << title << Style(kReset) << Style(KindColor(kind)) << "  " << detail
         << Style(kReset) << "\n";
  }

  void Suggestion(const std::string& suggestion) {
    if (suggestion.empty()) return;
    out_ << "         try: \"" << suggestion << "\"\n";
  }

  void Scorecard(const v1::CallReport& report) {
    std::vector<std::string> steps;
    for (const v1::ChecklistStep& step : report.asap()) {
      steps.push_back(absl::StrCat(step.done() ? "[x] " : "[ ] ", step.name()));
    }
    out_ << Style(kBold) << "== call " << call_id_ << " ended: score " << report.score()
         << "/100 | " << report.nudges() << " nudges, " << report.reminders() << " reminders | ASAP "
         << absl::StrJoin(steps, " ") << " | understanding "
         << (report.understanding_confirmed() ? "confirmed" : "not confirmed") << Style(kReset)
         << "\n";
  }

  std::ostream& out_;
  bool color_;
  std::string call_id_;
};

bool IsTerminal(int fd) { return isatty(fd) == 1; }

}  // namespace

int Simulate(const ServerConnection& server, const std::string& file,
             const SimulateOptions& options, std::ostream& out, std::ostream& err) {
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
    failures += PlayOne(stub, server, call, options, out, err);
  }
  return failures == 0 ? 0 : 1;
}

int Watch(const ServerConnection& server, const std::string& agent_id,
          const WatchOptions& options, std::ostream& out, std::ostream& err) {
  std::shared_ptr<grpc::Channel> channel = Connect(server, err);
  if (channel == nullptr) return 1;
  v1::CoachService::Stub stub(channel);
  const bool text = options.view == WatchView::kText;
  TextView view(out, options.color);
  // Notices go with the events in the text view, to stderr in the JSON view
  // so that stdout stays JSON.
  auto notice = [&](const std::string& line) {
    if (text) {
      view.Warning(line);
    } else {
      err << "coachctl: " << line << "\n";
    }
  };
  if (text) view.Status(absl::StrCat("watching agent ", agent_id, " on ", server.address));
  std::map<std::string, int64_t> last_seq;  // per call: the resume points
  int64_t printed = 0;
  auto backoff = std::chrono::milliseconds(250);
  std::string last_cause;  // why the stream last broke; "" while connected
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
      if (!last_cause.empty()) {
        notice("reconnected; resuming");
        last_cause.clear();
      }
      int64_t& seen = last_seq[event.call_id()];
      if (event.seq() <= seen) continue;  // already printed before a reconnect
      if (event.seq() > seen + 1) {
        notice(absl::StrCat("call ", event.call_id(), ": events ", seen + 1, "..",
                            event.seq() - 1, " were dropped by the server (slow reader)"));
      }
      seen = event.seq();
      if (text) {
        view.Event(event);
      } else {
        out << ToJson(event) << "\n" << std::flush;
      }
      if (options.max_events > 0 && ++printed >= options.max_events) {
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
        // Once per outage and cause, not once per attempt.
        if (const std::string cause = Describe(status); cause != last_cause) {
          notice(absl::StrCat("connection lost (", cause, "); reconnecting..."));
          last_cause = cause;
        }
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
  const ServerConnection server = ServerConnectionFromFlags();
  if (server.address.empty()) {
    std::cerr << "coachctl simulate: --server is required\n";
    return kExitUsage;
  }
  if (args.size() != 1 || absl::GetFlag(FLAGS_speed) < 0) {
    std::cerr << "coachctl simulate: give one FILE and a --speed of 0 or more\n";
    return kExitUsage;
  }
  SimulateOptions options;
  options.speed = absl::GetFlag(FLAGS_speed);
  options.call_id_suffix = absl::GetFlag(FLAGS_call_id_suffix);
  options.interims = absl::GetFlag(FLAGS_interims);
  return Simulate(server, args[0], options, std::cout, std::cerr);
}

int RunWatch(const std::vector<std::string>& args) {
  const ServerConnection server = ServerConnectionFromFlags();
  if (server.address.empty()) {
    std::cerr << "coachctl watch: --server is required\n";
    return kExitUsage;
  }
  if (absl::GetFlag(FLAGS_agent).empty() || !args.empty()) {
    std::cerr << "coachctl watch: --agent is required and takes no arguments\n";
    return kExitUsage;
  }
  WatchOptions options;
  options.max_events = absl::GetFlag(FLAGS_max_events);
  const std::string view = absl::GetFlag(FLAGS_view);
  const bool terminal = IsTerminal(STDOUT_FILENO);
  if (view == "text" || (view == "auto" && terminal)) {
    options.view = WatchView::kText;
  } else if (view != "json" && view != "auto") {
    std::cerr << "coachctl watch: --view must be 'text', 'json' or 'auto', not '" << view << "'\n";
    return kExitUsage;
  }
  const std::string color = absl::GetFlag(FLAGS_color);
  if (color == "always") {
    options.color = true;
  } else if (color == "auto") {
    const char* no_color = std::getenv("NO_COLOR");
    options.color = terminal && (no_color == nullptr || *no_color == '\0');
  } else if (color != "never") {
    std::cerr << "coachctl watch: --color must be 'always', 'never' or 'auto', not '" << color
              << "'\n";
    return kExitUsage;
  }
  return Watch(server, absl::GetFlag(FLAGS_agent), options, std::cout, std::cerr);
}

}  // namespace coach::cli
