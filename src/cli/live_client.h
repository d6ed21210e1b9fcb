// File: cli/live_client.h
//
// The parts of coachctl that talk to a running coachd over gRPC:
//
//   Simulate  plays a recorded call (coachd JSON Lines) into StreamCall the way
//             an STT pipeline does, paced by the segments' start times scaled
//             by `speed` (0: as fast as possible), and prints every CoachEvent
//             it gets back.
//   Watch     is a desktop: it follows WatchAgent for one agent and prints
//             every event; when the stream breaks it reconnects with the last
//             (call_id, seq) it saw of each call, so nothing is missed or
//             printed twice.
//
// Events are printed one JSON object per line, with the proto's snake_case
// field names. Each function returns a process exit code (0 ok, 1 failure) and
// writes errors to `err`. Not thread-safe; one call at a time.

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

// `call_id_suffix` is appended to every call_id of the file: coachd keeps an
// ended call's id for --resume_retention, so playing a file again needs new ids.
int Simulate(const ServerConnection& server, const std::string& file, double speed,
             const std::string& call_id_suffix, std::ostream& out, std::ostream& err);

// Stops after `max_events` events (0: never) or when the server refuses the
// subscription (auth, limits).
int Watch(const ServerConnection& server, const std::string& agent_id, int64_t max_events,
          std::ostream& out, std::ostream& err);

}  // namespace coach::cli

#endif  // COACHD_CLI_LIVE_CLIENT_H_
