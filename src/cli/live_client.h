// File: cli/live_client.h
//
// The parts of coachctl that talk to a running coachd over gRPC:
//
//   Simulate  plays a recorded call (coachd JSON Lines) into StreamCall the way
//             an STT pipeline does and prints every CoachEvent it gets back
//             (one JSON object per line, snake_case field names). A final
//             segment whose words carry timings (one per whitespace-separated
//             word of its text) is sent first as interim hypotheses, growing
//             by one word at each word's end time, then as the final at the
//             segment's end. Pacing follows call time scaled by `speed`
//             (0: as fast as possible, in the same order).
//   Watch     is a desktop: it follows WatchAgent for one agent and prints
//             every event; when the stream breaks it reconnects with the last
//             (call_id, seq) it saw of each call, so nothing is missed or
//             printed twice. Its text view (WatchView::kText) shows each
//             nudge as one or two lines colored by kind, and each call's
//             report as a one-line scorecard; the JSON view prints the events
//             as JSON lines.
//
// Each function returns a process exit code (0 ok, 1 failure) and writes
// errors to `err`. Not thread-safe; one call at a time.

#ifndef COACHD_CLI_LIVE_CLIENT_H_
#define COACHD_CLI_LIVE_CLIENT_H_

#include <cstdint>
#include <ostream>
#include <string>

namespace coach::cli {

struct ServerConnection {
  std::string address;       // host:port
  std::string token;         // bearer token; empty: none
  std::string tls_ca_file;   // PEM; set to use TLS
  std::string tls_cert_file; // client certificate for mTLS (optional)
  std::string tls_key_file;
};

struct SimulateOptions {
  double speed = 1.0;  // multiple of real time; 0: no pacing
  // Appended to every call_id of the file: coachd keeps an ended call's id
  // for --resume_retention, so playing a file again needs new ids.
  std::string call_id_suffix;
  // Send interim hypotheses built from word timings before each final.
  bool interims = true;
};

int Simulate(const ServerConnection& server, const std::string& file,
             const SimulateOptions& options, std::ostream& out, std::ostream& err);

enum class WatchView {
  kJson,  // one CoachEvent per line, as JSON
  kText,  // for people: colored nudges, a scorecard line per call
};

struct WatchOptions {
  WatchView view = WatchView::kJson;
  bool color = false;  // ANSI colors in the text view
  // Stop after this many events (0: never). Watch also stops when the server
  // refuses the subscription (auth, limits).
  int64_t max_events = 0;
};

int Watch(const ServerConnection& server, const std::string& agent_id,
          const WatchOptions& options, std::ostream& out, std::ostream& err);

}  // namespace coach::cli

#endif  // COACHD_CLI_LIVE_CLIENT_H_
