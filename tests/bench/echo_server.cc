// coach_echo_server: the echo floor of the live benchmark (tests/bench/echo.proto).
//
//   coach_echo_server --listen=127.0.0.1:0
//
// Serves coach.bench.EchoService on the same gRPC build, the same callback
// API and the same server settings that matter for streaming as coachd
// (Debian's Abseil with mutex deadlock detection off), and does nothing else:
// each stream reads one CallEvent, writes it back, and reads the next once the
// write completes. What coach_loadgen measures against it is the floor that
// gRPC, protobuf and the loopback set on this machine for coachd's messages.
// Logs "echo server listening on ADDR (port N)" on stderr, as coachd does, and
// exits 0 on SIGTERM or SIGINT.

#include <pthread.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "echo.grpc.pb.h"
#include "grpcpp/grpcpp.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0", "host:port to listen on; port 0 picks a free one.");

namespace coach::bench {
namespace {

class EchoReactor final : public grpc::ServerBidiReactor<v1::CallEvent, v1::CallEvent> {
 public:
  EchoReactor() { StartRead(&message_); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);  // the client half-closed (or went away)
      return;
    }
    StartWrite(&message_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      return;
    }
    StartRead(&message_);
  }

  void OnDone() override { delete this; }

 private:
  v1::CallEvent message_;  // read into, then written back from
};

class EchoServiceImpl final : public EchoService::CallbackService {
  grpc::ServerBidiReactor<v1::CallEvent, v1::CallEvent>* Echo(
      grpc::CallbackServerContext* context) override {
    return new EchoReactor();
  }
};

}  // namespace
}  // namespace coach::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "The echo floor of the live benchmark: echoes coach.v1.CallEvent streams.\n"
      "  coach_echo_server --listen=127.0.0.1:0");
  absl::ParseCommandLine(argc, argv);
  // As in coachd: Debian's Abseil records every lock-order edge of every
  // absl::Mutex (gRPC's included) under one global lock unless told not to.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // SIGTERM and SIGINT are taken with sigwait below; block them before gRPC
  // starts its threads, which inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  coach::bench::EchoServiceImpl service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::GetFlag(FLAGS_listen), grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(-1);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    fprintf(stderr, "coach_echo_server: cannot listen on %s\n",
            absl::GetFlag(FLAGS_listen).c_str());
    return 1;
  }
  fprintf(stderr, "echo server listening on %s (port %d)\n", absl::GetFlag(FLAGS_listen).c_str(),
          port);
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return 0;
}
