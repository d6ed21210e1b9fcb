#include "server/server.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server_builder.h"
#include "server/convert.h"
#include "spdlog/spdlog.h"

namespace coach::server {

namespace {

// Extra time, after the drain, for reports and close statuses to flush before
// the gRPC server cancels what is left.
constexpr absl::Duration kFlushGrace = absl::Seconds(5);

constexpr const char* kServiceNames[] = {"", "coach.v1.CoachService", "coach.v1.AdminService"};

absl::Status Positive(absl::string_view flag, int64_t value) {
  if (value > 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(flag, " must be positive, not ", value));
}

absl::Status Positive(absl::string_view flag, absl::Duration value) {
  if (value > absl::ZeroDuration()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(flag, " must be positive, not ", absl::FormatDuration(value)));
}

absl::Status Validate(const Server::Options& options) {
  if (options.listen_address.empty()) return absl::InvalidArgumentError("--listen is empty");
  const Server::Limits& l = options.limits;
  for (absl::Status status : {
           Positive("--max_segment_bytes", l.max_segment_bytes),
           Positive("--max_message_bytes", l.max_message_bytes),
           Positive("--max_calls", l.max_calls),
           Positive("--max_segments_per_call", l.max_segments_per_call),
           Positive("--max_call_duration", l.max_call_duration),
           Positive("--idle_timeout", l.idle_timeout),
           Positive("--max_subscribers_per_agent", l.max_subscribers_per_agent),
           Positive("--subscriber_queue", l.subscriber_queue),
           Positive("--call_queue", l.call_queue),
           Positive("--resume_buffer", options.resume.buffer_events),
           Positive("--max_pending_reviews", options.reviews.max_pending),
       }) {
    if (!status.ok()) return status;
  }
  if (options.reviews.threads < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--review_threads must be 0 (automatic) or positive, not ", options.reviews.threads));
  }
  if (options.resume.retention < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--resume_retention must not be negative");
  }
  if (options.drain_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--drain_timeout must not be negative");
  }
  if (options.sweep_interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("sweep_interval must not be negative");
  }
  if (options.phrase_lists.empty()) {
    return absl::InvalidArgumentError("--phrase_lists: no path given");
  }
  if (options.tokens_file.empty() && !options.insecure &&
      !IsLoopbackAddress(options.listen_address)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--listen ", options.listen_address,
        " is not a loopback address: give --tokens_file to require bearer tokens, or "
        "--insecure to serve without authentication"));
  }
  return absl::OkStatus();
}

}  // namespace

Server::Server(Options options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<Server>> Server::BuildAndStart(Options options) {
  if (!options.clock) options.clock = absl::Now;
  if (absl::Status status = Validate(options); !status.ok()) return status;
  std::unique_ptr<Server> server(new Server(std::move(options)));
  const Options& o = server->options_;

  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      MakeServerCredentials(o.tls);
  if (!credentials.ok()) return credentials.status();
  if (!o.tokens_file.empty()) {
    absl::StatusOr<std::unique_ptr<TokenStore>> tokens = TokenStore::LoadFile(o.tokens_file);
    if (!tokens.ok()) {
      return absl::Status(tokens.status().code(),
                          absl::StrCat("--tokens_file: ", tokens.status().message()));
    }
    server->tokens_ = *std::move(tokens);
  }
  absl::StatusOr<std::unique_ptr<ServerMetrics>> metrics = ServerMetrics::Create(o.metrics_address);
  if (!metrics.ok()) return metrics.status();
  server->metrics_ = *std::move(metrics);
  absl::StatusOr<std::unique_ptr<RuleSetStore>> rules = RuleSetStore::Create(o.phrase_lists);
  if (!rules.ok()) return rules.status();
  server->rules_ = *std::move(rules);

  RegistryOptions registry_options;
  registry_options.max_calls = o.limits.max_calls;
  registry_options.max_subscribers_per_agent = o.limits.max_subscribers_per_agent;
  registry_options.resume_buffer = o.resume.buffer_events;
  registry_options.resume_retention = o.resume.retention;
  server->registry_ = std::make_unique<CallRegistry>(registry_options, o.clock);
  ReviewPool::Options review_options;
  review_options.threads = o.reviews.threads;
  review_options.max_pending = o.reviews.max_pending;
  server->reviews_ = std::make_unique<ReviewPool>(review_options);

  CoachServiceImpl::Env env;
  env.registry = server->registry_.get();
  env.rules = server->rules_.get();
  env.metrics = server->metrics_.get();
  env.tokens = server->tokens_.get();
  env.reviews = server->reviews_.get();
  env.reactors = &server->reactors_;
  env.before_review = o.before_review;
  env.limits.max_segment_bytes = o.limits.max_segment_bytes;
  env.limits.max_segments_per_call = o.limits.max_segments_per_call;
  env.limits.max_call_duration = o.limits.max_call_duration;
  env.limits.idle_timeout = o.limits.idle_timeout;
  env.limits.call_queue = o.limits.call_queue;
  env.limits.subscriber_queue = o.limits.subscriber_queue;
  env.session.interim_policy = o.interim_policy;
  env.clock = o.clock;
  server->coach_service_ = std::make_unique<CoachServiceImpl>(std::move(env));
  Server* raw = server.get();
  server->admin_service_ = std::make_unique<AdminServiceImpl>(
      server->rules_.get(), [raw] { return raw->Reload(); }, server->tokens_.get(),
      server->metrics_.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(o.listen_address, *credentials, &server->port_);
  builder.SetMaxReceiveMessageSize(o.limits.max_message_bytes);
  // Find dead peers (a desktop whose network vanished) within about a
  // minute and a half, and let clients keep idle streams alive with pings.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60 * 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20 * 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10 * 1000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // gRPC sets SO_REUSEPORT by default, so a second coachd started on a port
  // in use would bind too and the kernel would split connections between the
  // two: a desktop on one would never see the calls streamed to the other.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(server->coach_service_.get());
  builder.RegisterService(server->admin_service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", o.listen_address,
        " (--listen): the port is in use (another coachd?) or the address is not this host's",
        TlsEnabled(o.tls) ? "; with TLS on, also check --tls_cert, --tls_key and --tls_client_ca"
                          : ""));
  }
  for (const char* name : kServiceNames) {
    server->server_->GetHealthCheckService()->SetServingStatus(name, true);
  }
  if (o.sweep_interval > absl::ZeroDuration()) {
    server->sweeper_ = std::thread([raw] { raw->SweepLoop(); });
  }

  std::shared_ptr<const LoadedRules> current = server->rules_->Current();
  spdlog::info(
      "coachd listening on {} (port {}); rules {}: {} rules, {} expectations from {} files; "
      "auth {}; tls {}; metrics {}; {} review threads",
      o.listen_address, server->port_, current->version(), current->rules->rules().size(),
      current->expectation_count, current->source_files.size(),
      server->tokens_ ? "on" : "off", TlsEnabled(o.tls) ? "on" : "off",
      o.metrics_address.empty() ? std::string("off")
                                : absl::StrCat("on port ", server->metrics_->port()),
      server->reviews_->threads());
  return server;
}

Server::~Server() { Shutdown(absl::ZeroDuration()); }

absl::StatusOr<std::shared_ptr<const LoadedRules>> Server::Reload() {
  const std::string previous = rules_->Current()->version();
  absl::StatusOr<std::shared_ptr<const LoadedRules>> loaded = rules_->Reload();
  if (loaded.ok()) {
    metrics_->ReloadSucceeded();
    spdlog::info("phrase lists reloaded: rules {} -> {} ({} rules)", previous,
                 (*loaded)->version(), (*loaded)->rules->rules().size());
  } else {
    metrics_->ReloadFailed();
    spdlog::error("phrase list reload failed; keeping rules {}:\n{}", previous,
                  std::string(loaded.status().message()));
  }
  return loaded;
}

void Server::SweepNow() { registry_->Sweep(); }

void Server::TrimHeap() {
#ifdef __GLIBC__
  const absl::Time start = absl::Now();
  malloc_trim(0);
  spdlog::debug("released rule set: heap trimmed in {}", absl::FormatDuration(absl::Now() - start));
#endif
}

void Server::SweepLoop() {
  int64_t trimmed_at = rules_->released_snapshots();
  while (!stop_sweeper_.WaitForNotificationWithTimeout(options_.sweep_interval)) {
    registry_->Sweep();
    // A replaced rule set is freed when the last call started under it ends,
    // on whichever thread that is. glibc keeps the freed DFA caches (tens of
    // MiB per snapshot, spread over its per-thread arenas) and RSS would grow
    // with every reload; hand them back here, off the serving threads.
    const int64_t released = rules_->released_snapshots();
    if (released != trimmed_at) {
      trimmed_at = released;
      TrimHeap();
    }
  }
}

void Server::Shutdown(absl::Duration drain) {
  {
    absl::MutexLock lock(&shutdown_mu_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  if (server_ != nullptr) {
    for (const char* name : kServiceNames) {
      server_->GetHealthCheckService()->SetServingStatus(name, false);
    }
    registry_->StartDraining();
    const int live = registry_->live_calls();
    spdlog::info("draining: {} live calls, up to {}", live, absl::FormatDuration(drain));
    if (!registry_->WaitForNoLiveCalls(drain)) {
      std::vector<std::shared_ptr<LiveCall>> stragglers = registry_->LiveCalls();
      spdlog::warn("drain timeout: ending {} calls still running", stragglers.size());
      for (const auto& call : stragglers) {
        call->Abort(absl::UnavailableError(
            "coachd is shutting down: the call was ended after --drain_timeout"));
      }
    }
    for (const auto& sink : registry_->Subscribers()) {
      sink->Close(absl::UnavailableError("coachd is shutting down; reconnect to another replica"));
    }
    server_->Shutdown(absl::ToChronoTime(absl::Now() + kFlushGrace));
    server_->Wait();
    // Every RPC is done; their reactors' OnDone() may still be finishing.
    if (!reactors_.WaitForNone(kFlushGrace)) {
      spdlog::error("shutdown: {} stream reactors did not finish within {}", reactors_.live(),
                    absl::FormatDuration(kFlushGrace));
    }
  }
  // After the gRPC server: a queued review still has to Finish its RPC.
  if (reviews_ != nullptr) reviews_->Stop();
  stop_sweeper_.Notify();
  if (sweeper_.joinable()) sweeper_.join();
  spdlog::info("coachd stopped");
}

}  // namespace coach::server
