// File: server/metrics.h
//
// ServerMetrics holds every Prometheus metric coachd exports (prometheus-cpp)
// and, optionally, the HTTP exposer that serves them on /metrics.
//
//   auto metrics = ServerMetrics::Create("127.0.0.1:9464");  // or "" in tests
//   metrics->CallStarted(); ... metrics->CallEnded();
//
// Metrics:
//   coachd_active_calls                                gauge
//   coachd_backpressured_calls                         gauge
//   coachd_active_subscribers{kind="agent|alerts"}     gauge
//   coachd_segments_total                              counter
//   coachd_engine_segment_seconds                      histogram, 1us..10ms
//   coachd_events_total{type,kind,category}            counter
//   coachd_queue_dropped_events_total{kind}            counter
//   coachd_reloads_total{result="ok|error"}            counter
//   coachd_rejected_requests_total{method,code}        counter
//
// Thread safety: every method may be called from any thread concurrently.
// Unlabelled and fixed-label series are resolved once at construction;
// labelled series are created on first use and cached, so steady-state calls
// are a hash lookup under a short mutex plus an atomic add.
//
// Ownership: the caller owns the ServerMetrics; destroying it stops the
// exposer. It must outlive every thread that records into it.

#ifndef COACHD_SERVER_METRICS_H_
#define COACHD_SERVER_METRICS_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace coach::server {

class ServerMetrics {
 public:
  // listen_address empty => metrics kept but not exposed (tests). Otherwise
  // starts an HTTP exposer on it ("host:port"; port 0 picks a free port, see
  // port()). A malformed address is INVALID_ARGUMENT, a bind failure
  // UNAVAILABLE; both messages name the address and --metrics_address.
  static absl::StatusOr<std::unique_ptr<ServerMetrics>> Create(const std::string& listen_address);

  ~ServerMetrics();
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  // gauge coachd_active_calls
  void CallStarted();
  void CallEnded();
  // gauge coachd_backpressured_calls: a StreamCall stopped reading its input
  // because its outbound queue is full, and started again.
  void ReadsPaused();
  void ReadsResumed();
  // gauge coachd_active_subscribers{kind} ("agent" or "alerts")
  void SubscriberAdded(absl::string_view kind);
  void SubscriberRemoved(absl::string_view kind);
  // counter coachd_segments_total + histogram coachd_engine_segment_seconds
  void SegmentProcessed(double engine_seconds);
  // counter coachd_events_total{type,kind,category}
  void EventEmitted(absl::string_view type, absl::string_view kind, absl::string_view category);
  // counter coachd_queue_dropped_events_total{kind}
  void QueueDropped(absl::string_view kind, uint64_t n);
  // counter coachd_reloads_total{result="ok|error"}
  void ReloadSucceeded();
  void ReloadFailed();
  // counter coachd_rejected_requests_total{method,code}
  void RequestRejected(absl::string_view method, absl::string_view code);

  // Prometheus text exposition format of every metric.
  std::string Scrape() const;
  // The bound TCP port when exposed, else 0.
  int port() const;

 private:
  struct Impl;
  explicit ServerMetrics(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace coach::server

#endif  // COACHD_SERVER_METRICS_H_
