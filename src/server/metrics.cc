#include "server/metrics.h"

#include <arpa/inet.h>

#include <exception>
#include <initializer_list>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace coach::server {
namespace {

// Series of one labelled family, created on first use and cached by their
// label values. Family::Add() is itself idempotent, but it builds and hashes a
// std::map per call; this keeps the hot path to one string hash.
template <typename T>
class LabelledSeries {
 public:
  LabelledSeries(prometheus::Family<T>& family, std::vector<std::string> label_names)
      : family_(family), label_names_(std::move(label_names)) {}

  // `values` are in label_names_ order.
  T& Get(std::initializer_list<absl::string_view> values) {
    std::string key = absl::StrJoin(values, absl::string_view("\0", 1));
    std::lock_guard<std::mutex> lock(mu_);
    T*& series = series_[key];
    if (series == nullptr) {
      prometheus::Labels labels;
      size_t i = 0;
      for (absl::string_view value : values) labels.emplace(label_names_[i++], std::string(value));
      series = &family_.Add(labels);
    }
    return *series;
  }

 private:
  prometheus::Family<T>& family_;
  const std::vector<std::string> label_names_;
  // std::mutex, not absl::Mutex: TSan cannot see the uninstrumented system
  // Abseil's Mutex.
  std::mutex mu_;  // guards series_
  absl::flat_hash_map<std::string, T*> series_;
};

prometheus::Histogram::BucketBoundaries EngineLatencyBuckets() {
  // 1 us .. 10 ms in 1-2.5-5 steps.
  return {1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2};
}

// Checks "host:port" (host a numeric IPv4, a bracketed IPv6 or "localhost")
// and returns it in the form civetweb accepts.
absl::StatusOr<std::string> NormalizeListenAddress(const std::string& address) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics_address '", address, "': ", why,
                     "; expected host:port with a numeric IPv4 address, [IPv6] or localhost, e.g. "
                     "127.0.0.1:9464"));
  };
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return invalid("no port");
  std::string host = address.substr(0, colon);
  const std::string port_text = address.substr(colon + 1);
  int port = 0;
  if (port_text.empty() || !absl::c_all_of(port_text, absl::ascii_isdigit) ||
      !absl::SimpleAtoi(port_text, &port) || port > 65535) {
    return invalid(absl::StrCat("bad port '", port_text, "'"));
  }
  if (absl::EqualsIgnoreCase(host, "localhost")) host = "127.0.0.1";
  unsigned char buffer[16];
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), buffer) != 1) {
      return invalid(absl::StrCat("bad IPv6 address '", host, "'"));
    }
  } else if (inet_pton(AF_INET, host.c_str(), buffer) != 1) {
    return invalid(absl::StrCat("bad host '", host, "'"));
  }
  return absl::StrCat(host, ":", port);
}

}  // namespace

struct ServerMetrics::Impl {
  Impl()
      : registry(std::make_shared<prometheus::Registry>()),
        active_calls(prometheus::BuildGauge()
                         .Name("coachd_active_calls")
                         .Help("Calls currently streaming (StreamCall).")
                         .Register(*registry)
                         .Add({})),
        backpressured_calls(prometheus::BuildGauge()
                                .Name("coachd_backpressured_calls")
                                .Help("StreamCalls whose input is paused because their client "
                                      "does not read the call's events fast enough "
                                      "(--call_queue).")
                                .Register(*registry)
                                .Add({})),
        subscriber_family(prometheus::BuildGauge()
                              .Name("coachd_active_subscribers")
                              .Help("Connected WatchAgent (agent) and WatchAlerts (alerts) "
                                    "subscribers.")
                              .Register(*registry)),
        subscribers(subscriber_family, {"kind"}),
        segments(prometheus::BuildCounter()
                     .Name("coachd_segments_total")
                     .Help("Transcript segments processed by the engine.")
                     .Register(*registry)
                     .Add({})),
        engine_seconds(prometheus::BuildHistogram()
                           .Name("coachd_engine_segment_seconds")
                           .Help("Engine time per transcript segment, in seconds.")
                           .Register(*registry)
                           .Add({}, EngineLatencyBuckets())),
        events(prometheus::BuildCounter()
                   .Name("coachd_events_total")
                   .Help("Coaching events emitted, by event type, rule kind and category.")
                   .Register(*registry),
               {"type", "kind", "category"}),
        dropped(prometheus::BuildCounter()
                    .Name("coachd_queue_dropped_events_total")
                    .Help("Events dropped because a subscriber's queue was full, by "
                          "subscriber kind.")
                    .Register(*registry),
                {"kind"}),
        reload_family(prometheus::BuildCounter()
                          .Name("coachd_reloads_total")
                          .Help("Phrase-list reloads, by result.")
                          .Register(*registry)),
        reloads_ok(reload_family.Add({{"result", "ok"}})),
        reloads_error(reload_family.Add({{"result", "error"}})),
        rejected(prometheus::BuildCounter()
                     .Name("coachd_rejected_requests_total")
                     .Help("Requests rejected with an error status, by method and code.")
                     .Register(*registry),
                 {"method", "code"}) {
    // Make the common series visible at 0 from the first scrape.
    subscribers.Get({"agent"});
    subscribers.Get({"alerts"});
  }

  std::shared_ptr<prometheus::Registry> registry;
  prometheus::Gauge& active_calls;
  prometheus::Gauge& backpressured_calls;
  prometheus::Family<prometheus::Gauge>& subscriber_family;
  LabelledSeries<prometheus::Gauge> subscribers;
  prometheus::Counter& segments;
  prometheus::Histogram& engine_seconds;
  LabelledSeries<prometheus::Counter> events;
  LabelledSeries<prometheus::Counter> dropped;
  prometheus::Family<prometheus::Counter>& reload_family;
  prometheus::Counter& reloads_ok;
  prometheus::Counter& reloads_error;
  LabelledSeries<prometheus::Counter> rejected;
  // Declared last so that it stops serving before the registry goes away.
  std::unique_ptr<prometheus::Exposer> exposer;
};

absl::StatusOr<std::unique_ptr<ServerMetrics>> ServerMetrics::Create(
    const std::string& listen_address) {
  auto impl = std::make_unique<Impl>();
  if (!listen_address.empty()) {
    absl::StatusOr<std::string> address = NormalizeListenAddress(listen_address);
    if (!address.ok()) return address.status();
    try {
      impl->exposer = std::make_unique<prometheus::Exposer>(*address, /*num_threads=*/1);
      impl->exposer->RegisterCollectable(impl->registry);
    } catch (const std::exception& e) {
      return absl::UnavailableError(absl::StrCat("--metrics_address '", listen_address,
                                                 "': cannot serve metrics: ", e.what()));
    }
  }
  return std::unique_ptr<ServerMetrics>(new ServerMetrics(std::move(impl)));
}

ServerMetrics::ServerMetrics(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ServerMetrics::~ServerMetrics() = default;

void ServerMetrics::CallStarted() { impl_->active_calls.Increment(); }
void ServerMetrics::CallEnded() { impl_->active_calls.Decrement(); }
void ServerMetrics::ReadsPaused() { impl_->backpressured_calls.Increment(); }
void ServerMetrics::ReadsResumed() { impl_->backpressured_calls.Decrement(); }

void ServerMetrics::SubscriberAdded(absl::string_view kind) {
  impl_->subscribers.Get({kind}).Increment();
}
void ServerMetrics::SubscriberRemoved(absl::string_view kind) {
  impl_->subscribers.Get({kind}).Decrement();
}

void ServerMetrics::SegmentProcessed(double engine_seconds) {
  impl_->segments.Increment();
  impl_->engine_seconds.Observe(engine_seconds);
}

void ServerMetrics::EventEmitted(absl::string_view type, absl::string_view kind,
                                 absl::string_view category) {
  impl_->events.Get({type, kind, category}).Increment();
}

void ServerMetrics::QueueDropped(absl::string_view kind, uint64_t n) {
  if (n == 0) return;
  impl_->dropped.Get({kind}).Increment(static_cast<double>(n));
}

void ServerMetrics::ReloadSucceeded() { impl_->reloads_ok.Increment(); }
void ServerMetrics::ReloadFailed() { impl_->reloads_error.Increment(); }

void ServerMetrics::RequestRejected(absl::string_view method, absl::string_view code) {
  impl_->rejected.Get({method, code}).Increment();
}

std::string ServerMetrics::Scrape() const {
  return prometheus::TextSerializer().Serialize(impl_->registry->Collect());
}

int ServerMetrics::port() const {
  if (impl_->exposer == nullptr) return 0;
  std::vector<int> ports = impl_->exposer->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

}  // namespace coach::server
