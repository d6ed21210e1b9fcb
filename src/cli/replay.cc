// coachctl replay: replays recorded calls through the engine, in-process on
// every core or through a running coachd's ReviewCall (see cli/commands.h).
//
// Inputs are files and directories. Directories are walked recursively for
// transcript files (*.jsonl, *.json, *.vtt, *.srt); all files are replayed in
// sorted path order and the calls of a file in file order, so the output is
// the same whatever --jobs is. Workers read files and replay calls in
// parallel; the main thread writes each file's results in order as they
// complete (at most kWindowPerJob files per job are held ahead of the output).
//
// --shard i/n keeps the calls whose key hashes to i modulo n, with the key
//   FNV-1a-64("<file key>\n<call_id>") and the file key the file's path
//   relative to the directory argument it was found under (the file name for
//   a file argument), so every shard of a Kubernetes Indexed Job gets the same
//   split wherever the archive is mounted. The n shards partition the calls.
//
// stdout is deterministic (the same inputs and rules give the same bytes);
// the throughput line and the progress bar go to stderr.

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "cli/commands.h"
#include "cli/html_report.h"
#include "cli/replay_output.h"
#include "cli/server_client.h"
#include "coach/v1/coach.grpc.pb.h"
#include "engine/call_session.h"
#include "phrase_lists/loader.h"
#include "server/convert.h"
#include "transcripts/reader.h"

ABSL_FLAG(std::string, interim_policy, "interim",
          "replay (in-process): 'interim' fires on interim hypotheses, "
          "'final_only' waits for "
          "finals. With --server, coachd's own --interim_policy applies.");
ABSL_FLAG(std::string, format, "auto",
          "replay: transcript format: auto, jsonl, vtt, srt, aws, "
          "contact_lens, harper_valley.");
ABSL_FLAG(std::string, speakers, "",
          "replay: speaker names or labels to roles, e.g. "
          "'Alice=agent,Bob=customer' or "
          "'spk_0=agent,spk_1=customer' (VTT, SRT, AWS Transcribe).");
ABSL_FLAG(std::string, text, "human",
          "replay: Harper Valley text to read: 'human' (human_transcript) or "
          "'asr' (transcript).");
ABSL_FLAG(std::string, html, "",
          "replay: also write an HTML report per call and index.html into this "
          "directory.");
ABSL_FLAG(std::string, shard, "",
          "replay: 'i/n' (0 <= i < n): replay only the calls of shard i of n; "
          "see 'coachctl "
          "replay --help'.");
ABSL_FLAG(int32_t, jobs, 0, "replay: worker threads; 0: one per core.");

namespace coach::cli {
namespace {

namespace fs = std::filesystem;

// Calls without an agent_id (formats that carry none) are replayed as this
// agent, in-process and through ReviewCall alike (ReviewCall requires one).
constexpr char kUnknownAgent[] = "unknown";
// coachd's language for a call that names none (CallStart.language).
constexpr char kDefaultLanguage[] = "en-US";
// How long --server may take to accept the connection.
constexpr std::chrono::seconds kConnectTimeout(10);
// Files read ahead of the output, per job.
constexpr size_t kWindowPerJob = 64;

struct InputFile {
  std::string path;
  std::string shard_key;  // see the file comment
};

struct Shard {
  uint64_t index = 0;
  uint64_t count = 1;
};

std::optional<Shard> ParseShard(const std::string& text) {
  std::vector<std::string> parts = absl::StrSplit(text, '/');
  Shard shard;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &shard.index) ||
      !absl::SimpleAtoi(parts[1], &shard.count) || shard.count == 0 || shard.index >= shard.count) {
    return std::nullopt;
  }
  return shard;
}

uint64_t Fnv1a64(absl::string_view text) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

bool InShard(const Shard& shard, const std::string& file_key, const std::string& call_id) {
  return Fnv1a64(absl::StrCat(file_key, "\n", call_id)) % shard.count == shard.index;
}

bool IsTranscriptFile(const fs::path& path) {
  const std::string extension = absl::AsciiStrToLower(path.extension().string());
  return extension == ".jsonl" || extension == ".json" || extension == ".vtt" ||
         extension == ".srt";
}

// Every input file, sorted by path without repeats. A path that is not a
// directory is taken as a file (reading it reports what is wrong with it).
std::vector<InputFile> ListInputs(const std::vector<std::string>& args,
                                  std::vector<std::string>* errors) {
  std::vector<InputFile> files;
  for (const std::string& arg : args) {
    std::error_code ec;
    if (!fs::is_directory(arg, ec)) {
      files.push_back({arg, fs::path(arg).filename().string()});
      continue;
    }
    fs::recursive_directory_iterator it(arg, fs::directory_options::follow_directory_symlink, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_regular_file(ec) && IsTranscriptFile(it->path())) {
        files.push_back({it->path().string(), fs::relative(it->path(), arg, ec).string()});
      }
    }
    if (ec) errors->push_back(absl::StrCat("cannot list directory '", arg, "': ", ec.message()));
  }
  std::sort(files.begin(), files.end(),
            [](const InputFile& a, const InputFile& b) { return a.path < b.path; });
  files.erase(std::unique(files.begin(), files.end(),
                          [](const InputFile& a, const InputFile& b) { return a.path == b.path; }),
              files.end());
  return files;
}

server::CallIdentity IdentityOf(const transcripts::RecordedCall& call) {
  return server::CallIdentity{call.call_id, call.agent_id.empty() ? kUnknownAgent : call.agent_id,
                              call.tenant};
}

// Replays one call; fills `call->events` or `call->error`. Thread-safe.
class Replayer {
 public:
  virtual ~Replayer() = default;
  virtual void Replay(ReplayedCall* call) const = 0;
};

class InProcessReplayer : public Replayer {
 public:
  InProcessReplayer(std::shared_ptr<const engine::RuleSet> rules, engine::SessionOptions options)
      : rules_(std::move(rules)), options_(std::move(options)) {}

  void Replay(ReplayedCall* call) const override {
    const server::CallIdentity identity = IdentityOf(call->call);
    engine::CallSession session(rules_, options_);
    std::vector<engine::Event> events;
    for (const engine::Segment& segment : call->call.segments) {
      if (absl::Status status = session.ProcessSegment(segment, &events); !status.ok()) {
        call->error = absl::StrCat("segment ", segment.segment_id, ": ", status.message());
        return;
      }
    }
    absl::StatusOr<engine::CallReport> report = session.Finish(&events);
    if (!report.ok()) {
      call->error = std::string(report.status().message());
      return;
    }
    call->events.resize(events.size() + 1);
    for (size_t i = 0; i < events.size(); ++i) {
      server::ToCoachEvent(events[i], identity, rules_->version(), &call->events[i]);
    }
    server::ToReportEvent(*report, identity, &call->events.back());
    call->events.back().mutable_report()->set_language(kDefaultLanguage);
  }

 private:
  std::shared_ptr<const engine::RuleSet> rules_;
  engine::SessionOptions options_;
};

// Each call is one ReviewCall; the events come back exactly as in-process.
class ServerReplayer : public Replayer {
 public:
  ServerReplayer(ServerConnection server, std::shared_ptr<grpc::Channel> channel)
      : server_(std::move(server)), stub_(v1::CoachService::NewStub(std::move(channel))) {}

  void Replay(ReplayedCall* call) const override {
    const server::CallIdentity identity = IdentityOf(call->call);
    v1::ReviewCallRequest request;
    request.mutable_start()->set_call_id(identity.call_id);
    request.mutable_start()->set_agent_id(identity.agent_id);
    request.mutable_start()->set_tenant(identity.tenant);
    for (const engine::Segment& segment : call->call.segments) {
      server::ToProto(segment, request.add_segments());
    }
    v1::ReviewCallResponse response;
    grpc::Status status;
    // RESOURCE_EXHAUSTED is usually coachd's review queue being full
    // (--max_pending_reviews): back off and retry a few times.
    auto backoff = std::chrono::milliseconds(50);
    for (int attempt = 0;; ++attempt) {
      grpc::ClientContext context;
      Authorize(server_, &context);
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(5));
      response.Clear();
      status = stub_->ReviewCall(&context, request, &response);
      if (status.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED || attempt == 6) break;
      std::this_thread::sleep_for(backoff);
      backoff *= 2;
    }
    if (!status.ok()) {
      call->error =
          absl::StrCat("ReviewCall: ",
                       absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())),
                       ": ", status.error_message());
      return;
    }
    call->events.assign(std::make_move_iterator(response.mutable_events()->begin()),
                        std::make_move_iterator(response.mutable_events()->end()));
    v1::CoachEvent& report = call->events.emplace_back();
    report.set_call_id(identity.call_id);
    report.set_agent_id(identity.agent_id);
    // The tenant coachd resolved (a scoped token's own, when the call names
    // none).
    report.set_tenant(call->events.size() > 1 ? call->events.front().tenant() : identity.tenant);
    report.set_seq(response.report_seq());
    report.set_event_id(server::EventId(identity.call_id, response.report_seq()));
    report.set_rule_version(response.report().rule_set_version());
    *report.mutable_report() = std::move(*response.mutable_report());
  }

 private:
  ServerConnection server_;
  std::unique_ptr<v1::CoachService::Stub> stub_;
};

// Connects now, so that a wrong --server fails once, not once per call.
// False when the connection fails or is not up by `deadline`.
bool Reachable(grpc::Channel& channel, std::chrono::system_clock::time_point deadline) {
  for (grpc_connectivity_state state = channel.GetState(/*try_to_connect=*/true);
       state != GRPC_CHANNEL_READY; state = channel.GetState(/*try_to_connect=*/true)) {
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) return false;
    if (!channel.WaitForStateChange(state, deadline)) return false;
  }
  return true;
}

// One input file's results, filled by workers, written in order by main.
struct FileSlot {
  std::string read_error;
  std::vector<ReplayedCall> calls;
  std::vector<std::string> pages;  // HTML, with --html
  size_t pending = 0;              // calls not replayed yet
  bool done = false;
};

// A progress bar on stderr, redrawn at most every 100 ms; only on a terminal.
class Progress {
 public:
  explicit Progress(size_t files) : files_(files), enabled_(isatty(STDERR_FILENO) == 1) {}
  void Update(size_t files_done, int calls, std::chrono::steady_clock::time_point began) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (files_done < files_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    constexpr int kWidth = 30;
    const int filled = files_ == 0 ? kWidth : static_cast<int>(kWidth * files_done / files_);
    const double seconds = std::chrono::duration<double>(now - began).count();
    std::cerr << absl::StrFormat("\r[%s%s] %d/%d files, %d calls, %.0f calls/s\033[K",
                                 std::string(filled, '#'), std::string(kWidth - filled, ' '),
                                 files_done, files_, calls, seconds > 0 ? calls / seconds : 0.0)
              << std::flush;
    drawn_ = true;
  }
  // Erases the bar before other output reaches the terminal.
  void Clear() {
    if (drawn_) std::cerr << "\r\033[K" << std::flush;
    drawn_ = false;
  }

 private:
  size_t files_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
};

// Everything the flags say, checked before any work.
struct ReplayOptions {
  transcripts::ReadOptions read;
  engine::SessionOptions session;
  Shard shard;
  int jobs = 1;
  bool json = false;
  std::string html_dir;
  ServerConnection server;
};

// Usage problems go to stderr; nullopt means exit 2.
std::optional<ReplayOptions> OptionsFromFlags() {
  ReplayOptions options;
  auto usage = [](const std::string& message) {
    std::cerr << "coachctl replay: " << message << "\n";
    return std::nullopt;
  };
  const std::string policy = absl::GetFlag(FLAGS_interim_policy);
  if (policy == "final_only") {
    options.session.interim_policy = engine::InterimPolicy::kFinalOnly;
  } else if (policy != "interim") {
    return usage(
        absl::StrCat("--interim_policy must be 'interim' or 'final_only', not '", policy, "'"));
  }
  absl::StatusOr<transcripts::Format> format =
      transcripts::ParseFormat(absl::GetFlag(FLAGS_format));
  if (!format.ok()) return usage(std::string(format.status().message()));
  options.read.format = *format;
  absl::StatusOr<transcripts::TextSource> text =
      transcripts::ParseTextSource(absl::GetFlag(FLAGS_text));
  if (!text.ok()) return usage(std::string(text.status().message()));
  options.read.text = *text;
  if (const std::string speakers = absl::GetFlag(FLAGS_speakers); !speakers.empty()) {
    if (absl::Status s = transcripts::ParseSpeakerMap(speakers, &options.read); !s.ok()) {
      return usage(std::string(s.message()));
    }
  }
  if (const std::string shard = absl::GetFlag(FLAGS_shard); !shard.empty()) {
    std::optional<Shard> parsed = ParseShard(shard);
    if (!parsed.has_value()) {
      return usage(
          absl::StrCat("--shard must be i/n with 0 <= i < n, e.g. 0/4; not '", shard, "'"));
    }
    options.shard = *parsed;
  }
  const int jobs = absl::GetFlag(FLAGS_jobs);
  if (jobs < 0) return usage(absl::StrCat("--jobs must be 0 (one per core) or more, not ", jobs));
  options.jobs = jobs > 0 ? jobs : std::max(1u, std::thread::hardware_concurrency());
  options.json = absl::GetFlag(FLAGS_json);
  options.html_dir = absl::GetFlag(FLAGS_html);
  options.server = ServerConnectionFromFlags();
  return options;
}

bool WriteFile(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  return static_cast<bool>(out);
}

// Reads the files and replays their calls on `jobs` threads; calls `emit`
// on the calling thread with each file's slot, in file order.
template <typename Emit>
void RunOrdered(const std::vector<InputFile>& files, const ReplayOptions& options,
                const Replayer& replayer, Emit emit) {
  std::vector<FileSlot> slots(files.size());
  std::mutex mu;
  std::condition_variable cv;
  size_t next_file = 0;  // guarded by mu, as are the rest
  size_t emitted = 0;
  size_t reading = 0;
  std::deque<std::pair<size_t, size_t>> queue;  // (file, call) waiting for a worker
  const size_t window = kWindowPerJob * static_cast<size_t>(options.jobs);
  const bool html = !options.html_dir.empty();

  auto replay = [&](size_t file, size_t index) {
    FileSlot& slot = slots[file];
    replayer.Replay(&slot.calls[index]);
    if (html) slot.pages[index] = RenderCallPage(slot.calls[index]);
    std::lock_guard<std::mutex> lock(mu);
    if (--slot.pending == 0) {
      slot.done = true;
      cv.notify_all();
    }
  };
  auto read = [&](size_t file) {
    FileSlot& slot = slots[file];
    auto calls = transcripts::ReadTranscriptFile(files[file].path, options.read);
    if (!calls.ok()) {
      slot.read_error = std::string(calls.status().message());
      return;
    }
    for (transcripts::RecordedCall& call : *calls) {
      if (!InShard(options.shard, files[file].shard_key, call.call_id)) continue;
      slot.calls.push_back(ReplayedCall{files[file].path, std::move(call), {}, {}});
    }
    slot.pages.resize(html ? slot.calls.size() : 0);
  };
  auto work = [&] {
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      cv.wait(lock, [&] {
        return !queue.empty() || (next_file < files.size() && next_file < emitted + window) ||
               (next_file == files.size() && reading == 0);
      });
      if (!queue.empty()) {
        const auto [file, index] = queue.front();
        queue.pop_front();
        lock.unlock();
        replay(file, index);
        lock.lock();
        continue;
      }
      if (next_file == files.size()) return;
      const size_t file = next_file++;
      ++reading;
      lock.unlock();
      read(file);
      lock.lock();
      --reading;
      FileSlot& slot = slots[file];
      slot.pending = slot.calls.size();
      if (slot.pending == 0) {
        slot.done = true;
      } else {
        for (size_t i = 1; i < slot.calls.size(); ++i) queue.emplace_back(file, i);
      }
      cv.notify_all();
      if (slot.pending > 0) {
        lock.unlock();
        replay(file, 0);
        lock.lock();
      }
    }
  };
  std::vector<std::thread> workers;
  for (int i = 0; i < options.jobs; ++i) workers.emplace_back(work);
  for (size_t file = 0; file < files.size(); ++file) {
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return slots[file].done; });
    }
    emit(file, slots[file]);
    slots[file] = FileSlot{};
    {
      std::lock_guard<std::mutex> lock(mu);
      emitted = file + 1;
    }
    cv.notify_all();
  }
  for (std::thread& worker : workers) worker.join();
}

}  // namespace

int RunReplay(const std::vector<std::string>& args) {
  if (args.empty()) {
    std::cerr << "coachctl replay: name at least one transcript file or directory\n";
    return kExitUsage;
  }
  std::optional<ReplayOptions> options = OptionsFromFlags();
  if (!options.has_value()) return kExitUsage;

  std::unique_ptr<Replayer> replayer;
  if (!options->server.address.empty()) {
    std::shared_ptr<grpc::Channel> channel = Connect(options->server, std::cerr);
    if (channel == nullptr) return kExitFindings;
    if (!Reachable(*channel, std::chrono::system_clock::now() + kConnectTimeout)) {
      std::cerr << "coachctl replay: cannot reach coachd at " << options->server.address
                << " (connection failed or took over " << kConnectTimeout.count() << " s)\n";
      return kExitFindings;
    }
    replayer = std::make_unique<ServerReplayer>(options->server, std::move(channel));
  } else {
    // Replay shows no lint warnings (coachctl lint does): skip those checks.
    engine::CompileOptions compile;
    compile.check_phrase_warnings = false;
    auto rules = phrase_lists::LoadRuleSet({absl::GetFlag(FLAGS_phrase_lists)}, compile);
    if (!rules.ok()) {
      std::cerr << "coachctl: cannot load phrase lists: " << rules.status().message() << "\n";
      return kExitFindings;
    }
    replayer = std::make_unique<InProcessReplayer>(*std::move(rules), options->session);
  }
  const fs::path html_dir = options->html_dir;
  if (!html_dir.empty()) {
    std::error_code ec;
    fs::create_directories(html_dir, ec);
    if (ec) {
      std::cerr << "coachctl replay: cannot create --html directory '" << html_dir.string()
                << "': " << ec.message() << "\n";
      return kExitFindings;
    }
  }

  std::vector<std::string> errors;
  const std::vector<InputFile> files = ListInputs(args, &errors);
  int failures = static_cast<int>(errors.size());
  for (const std::string& error : errors) std::cerr << "coachctl replay: " << error << "\n";

  ReplaySummary summary;
  std::vector<IndexEntry> index;
  std::set<std::string> pages_used = {"index.html"};
  Progress progress(files.size());
  const auto began = std::chrono::steady_clock::now();
  if (!options->json) std::cout << ReplaySummary::Header();
  RunOrdered(files, *options, *replayer, [&](size_t file, const FileSlot& slot) {
    progress.Clear();
    if (!slot.read_error.empty()) {
      std::cerr << "coachctl replay: " << slot.read_error << "\n";
      ++failures;
    }
    for (size_t i = 0; i < slot.calls.size(); ++i) {
      const ReplayedCall& call = slot.calls[i];
      if (!call.ok()) {
        std::cerr << "coachctl replay: " << call.source << ": call " << call.call.call_id << ": "
                  << call.error << "\n";
        ++failures;
      }
      if (options->json) {
        WriteJsonLines(call, std::cout);
        summary.Add(call);
      } else {
        std::cout << summary.Add(call);
      }
      if (!html_dir.empty()) {
        std::string page = CallPageName(call.call.call_id);
        for (int n = 2; !pages_used.insert(page).second; ++n) {
          page = CallPageName(absl::StrCat(call.call.call_id, "-", n));
        }
        if (!WriteFile(html_dir / page, slot.pages[i])) {
          std::cerr << "coachctl replay: cannot write " << (html_dir / page).string() << "\n";
          ++failures;
        }
        index.push_back(MakeIndexEntry(call, page));
      }
    }
    std::cout << std::flush;
    progress.Update(file + 1, summary.calls(), began);
  });
  progress.Clear();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  if (!options->json) std::cout << summary.Aggregate() << std::flush;
  if (!html_dir.empty() && !WriteFile(html_dir / "index.html", RenderIndexPage(index))) {
    std::cerr << "coachctl replay: cannot write " << (html_dir / "index.html").string() << "\n";
    ++failures;
  }
  std::cerr << absl::StrFormat(
      "coachctl replay: %d calls (%d failed) from %d files in %.3f s: %.0f "
      "calls/s (%d jobs, %s)\n",
      summary.calls(), summary.failed(), files.size(), seconds,
      seconds > 0 ? summary.calls() / seconds : 0.0, options->jobs,
      options->server.address.empty() ? "in-process"
                                      : absl::StrCat("server ", options->server.address));
  return failures == 0 ? kExitOk : kExitFindings;
}

}  // namespace coach::cli
