// coachd: the real-time phrase-coaching daemon.
//
//   coachd [--listen 127.0.0.1:50051] [--phrase_lists DIR] [flags]
//   coachd --check [--phrase_lists DIR]     validate the phrase lists and exit
//
// Flags -> Server::Options -> Server::BuildAndStart, then the main thread
// waits for signals (blocked in every thread, taken with sigwait):
//   SIGHUP           reload the phrase lists (the old ones stay on error)
//   SIGTERM, SIGINT  drain (--drain_timeout) and exit 0
// Exit codes: 0 clean shutdown or --check OK, 1 startup failure or --check
// errors, 2 usage.

#include <signal.h>

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/call_session.h"
#include "phrase_lists/loader.h"
#include "server/logging.h"
#include "server/server.h"
#include "spdlog/spdlog.h"

namespace {
const coach::server::Server::Options kDefaults;
}  // namespace

ABSL_FLAG(std::string, listen, kDefaults.listen_address,
          "Address to serve gRPC on, host:port. A non-loopback address needs --tokens_file "
          "(or --insecure).");
ABSL_FLAG(std::vector<std::string>, phrase_lists, {COACHD_DEFAULT_PHRASE_LISTS},
          "Comma-separated phrase list files or directories (every *.textproto below them).");
ABSL_FLAG(bool, check, false,
          "Validate the phrase lists, print every error as file:line:col, and exit (0 OK, 1 "
          "errors).");
ABSL_FLAG(std::string, tokens_file, "",
          "Bearer tokens file ('<token> <role> [<scope>]' per line; roles pipeline, desktop, "
          "supervisor, admin). Turns authentication on.");
ABSL_FLAG(bool, insecure, false,
          "Allow serving without authentication on a non-loopback --listen address.");
ABSL_FLAG(std::string, tls_cert, "", "Server certificate chain (PEM); with --tls_key enables TLS.");
ABSL_FLAG(std::string, tls_key, "", "Server private key (PEM).");
ABSL_FLAG(std::string, tls_client_ca, "",
          "CA bundle (PEM) for client certificates; enables mutual TLS.");
ABSL_FLAG(bool, tls_require_client_cert, true,
          "With --tls_client_ca: refuse clients without a valid certificate.");
ABSL_FLAG(int64_t, max_segment_bytes, kDefaults.limits.max_segment_bytes,
          "Longest TranscriptSegment.text in bytes (INVALID_ARGUMENT beyond).");
ABSL_FLAG(int32_t, max_message_bytes, kDefaults.limits.max_message_bytes,
          "Largest gRPC message received, in bytes (RESOURCE_EXHAUSTED beyond); bounds "
          "ReviewCall requests.");
ABSL_FLAG(int32_t, max_calls, kDefaults.limits.max_calls,
          "Live StreamCalls at once (RESOURCE_EXHAUSTED beyond).");
ABSL_FLAG(int64_t, max_segments_per_call, kDefaults.limits.max_segments_per_call,
          "Segments per call, interim revisions included (RESOURCE_EXHAUSTED beyond).");
ABSL_FLAG(absl::Duration, max_call_duration, kDefaults.limits.max_call_duration,
          "Longest call from its start; then it ends with its report and RESOURCE_EXHAUSTED.");
ABSL_FLAG(absl::Duration, idle_timeout, kDefaults.limits.idle_timeout,
          "Longest wait for the next CallEvent of a started call; then it ends with its report "
          "and DEADLINE_EXCEEDED.");
ABSL_FLAG(int32_t, max_subscribers_per_agent, kDefaults.limits.max_subscribers_per_agent,
          "WatchAgent streams per agent_id (RESOURCE_EXHAUSTED beyond).");
ABSL_FLAG(int32_t, subscriber_queue, kDefaults.limits.subscriber_queue,
          "Events a WatchAgent/WatchAlerts stream may have waiting; more are dropped and counted "
          "(the client sees a seq gap and can resume).");
ABSL_FLAG(int32_t, call_queue, kDefaults.limits.call_queue,
          "Events a StreamCall may have waiting before coachd stops reading its input "
          "(backpressure; nothing is dropped).");
ABSL_FLAG(int32_t, review_threads, kDefaults.reviews.threads,
          "ReviewCall worker threads; 0 means max(1, cores / 2). Reviews never run on gRPC's "
          "callback threads.");
ABSL_FLAG(int32_t, max_pending_reviews, kDefaults.reviews.max_pending,
          "ReviewCalls that may wait for a worker; more get RESOURCE_EXHAUSTED.");
ABSL_FLAG(int32_t, resume_buffer, kDefaults.resume.buffer_events,
          "Events kept per call for WatchAgent resume.");
ABSL_FLAG(absl::Duration, resume_retention, kDefaults.resume.retention,
          "How long an ended call's events stay resumable; its call_id cannot be reused "
          "(ALREADY_EXISTS) meanwhile.");
ABSL_FLAG(std::string, metrics_address, "",
          "host:port for Prometheus metrics at /metrics; empty: not exposed.");
ABSL_FLAG(std::string, log_format, "text", "Log format: text or json.");
ABSL_FLAG(std::string, log_level, "info",
          "Log level: trace, debug, info, warn, error, critical or off.");
ABSL_FLAG(bool, log_transcripts, false,
          "Log each segment's text at debug level (needs --log_level=debug or trace). Off: "
          "transcript text never reaches a log.");
ABSL_FLAG(absl::Duration, drain_timeout, kDefaults.drain_timeout,
          "On SIGTERM/SIGINT: how long running calls get to end and receive their reports.");
ABSL_FLAG(std::string, interim_policy, "interim",
          "'interim' fires nudges on interim hypotheses; 'final_only' waits for final text.");

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

constexpr char kUsage[] =
    "the real-time phrase-coaching gRPC daemon.\n"
    "\n"
    "  coachd [--listen 127.0.0.1:50051] [--phrase_lists DIR] [flags]\n"
    "  coachd --check [--phrase_lists DIR]\n"
    "\n"
    "Signals: SIGHUP reloads the phrase lists; SIGTERM/SIGINT drain and exit 0.\n"
    "Run 'coachd --help' for every flag.";

int Check(const std::vector<std::string>& paths) {
  const bool ok = coach::phrase_lists::WriteLintReport(paths, /*show_warnings=*/true, std::cout);
  return ok ? kExitOk : kExitFailure;
}

absl::StatusOr<coach::server::Server::Options> OptionsFromFlags() {
  coach::server::Server::Options o;
  o.listen_address = absl::GetFlag(FLAGS_listen);
  o.phrase_lists = absl::GetFlag(FLAGS_phrase_lists);
  o.tokens_file = absl::GetFlag(FLAGS_tokens_file);
  o.insecure = absl::GetFlag(FLAGS_insecure);
  o.tls.cert_file = absl::GetFlag(FLAGS_tls_cert);
  o.tls.key_file = absl::GetFlag(FLAGS_tls_key);
  o.tls.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  o.tls.require_client_cert = absl::GetFlag(FLAGS_tls_require_client_cert);
  o.limits.max_segment_bytes = absl::GetFlag(FLAGS_max_segment_bytes);
  o.limits.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  o.limits.max_calls = absl::GetFlag(FLAGS_max_calls);
  o.limits.max_segments_per_call = absl::GetFlag(FLAGS_max_segments_per_call);
  o.limits.max_call_duration = absl::GetFlag(FLAGS_max_call_duration);
  o.limits.idle_timeout = absl::GetFlag(FLAGS_idle_timeout);
  o.limits.max_subscribers_per_agent = absl::GetFlag(FLAGS_max_subscribers_per_agent);
  o.limits.subscriber_queue = absl::GetFlag(FLAGS_subscriber_queue);
  o.limits.call_queue = absl::GetFlag(FLAGS_call_queue);
  o.reviews.threads = absl::GetFlag(FLAGS_review_threads);
  o.reviews.max_pending = absl::GetFlag(FLAGS_max_pending_reviews);
  o.resume.buffer_events = absl::GetFlag(FLAGS_resume_buffer);
  o.resume.retention = absl::GetFlag(FLAGS_resume_retention);
  o.metrics_address = absl::GetFlag(FLAGS_metrics_address);
  o.drain_timeout = absl::GetFlag(FLAGS_drain_timeout);
  const std::string policy = absl::GetFlag(FLAGS_interim_policy);
  if (policy == "interim") {
    o.interim_policy = coach::engine::InterimPolicy::kInterim;
  } else if (policy == "final_only") {
    o.interim_policy = coach::engine::InterimPolicy::kFinalOnly;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--interim_policy must be 'interim' or 'final_only', not '", policy, "'"));
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
#ifdef NDEBUG
  // Debian's Abseil is built with mutex deadlock detection on. It records
  // every lock-order edge under one global lock (gRPC's mutexes included) and
  // took half of coachd's CPU at 5,000 calls; debug builds keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  absl::SetProgramUsageMessage(kUsage);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() > 1) {
    std::cerr << "coachd: unexpected argument '" << positional[1] << "'\n\n" << kUsage << "\n";
    return kExitUsage;
  }
  if (absl::GetFlag(FLAGS_check)) return Check(absl::GetFlag(FLAGS_phrase_lists));

  coach::server::LogOptions log_options;
  absl::StatusOr<coach::server::LogFormat> format =
      coach::server::ParseLogFormat(absl::GetFlag(FLAGS_log_format));
  if (!format.ok()) {
    std::cerr << "coachd: " << format.status().message() << "\n";
    return kExitUsage;
  }
  log_options.format = *format;
  log_options.level = absl::GetFlag(FLAGS_log_level);
  log_options.log_transcripts = absl::GetFlag(FLAGS_log_transcripts);
  if (absl::Status status = coach::server::ConfigureLogging(log_options); !status.ok()) {
    std::cerr << "coachd: " << status.message() << "\n";
    return kExitUsage;
  }
  absl::StatusOr<coach::server::Server::Options> options = OptionsFromFlags();
  if (!options.ok()) {
    spdlog::critical("{}", std::string(options.status().message()));
    return kExitUsage;
  }

  // Block the signals in every thread (gRPC's threads inherit the mask) and
  // take them synchronously below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const absl::Duration drain = options->drain_timeout;
  absl::StatusOr<std::unique_ptr<coach::server::Server>> server =
      coach::server::Server::BuildAndStart(*std::move(options));
  if (!server.ok()) {
    spdlog::critical("coachd cannot start: {}", std::string(server.status().message()));
    return kExitFailure;
  }
  for (;;) {
    int signal = 0;
    if (sigwait(&signals, &signal) != 0) continue;
    if (signal == SIGHUP) {
      spdlog::info("SIGHUP: reloading phrase lists");
      (void)(*server)->Reload();  // logs the outcome
      continue;
    }
    spdlog::info("{}: shutting down, draining for up to {}",
                 signal == SIGTERM ? "SIGTERM" : "SIGINT", absl::FormatDuration(drain));
    (*server)->Shutdown(drain);
    return kExitOk;
  }
}
