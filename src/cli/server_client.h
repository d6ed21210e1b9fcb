// File: cli/server_client.h
//
// The gRPC plumbing coachctl's server-facing commands share: a channel to
// coachd built from a ServerConnection (plaintext, TLS or mTLS), the bearer
// token on each call, and the connection read from the shared flags
// (cli/commands.h).
//
//   ServerConnection server = ServerConnectionFromFlags();
//   std::shared_ptr<grpc::Channel> channel = Connect(server, std::cerr);
//   grpc::ClientContext context;
//   Authorize(server, &context);
//
// Stateless and thread-safe.

#ifndef COACHD_CLI_SERVER_CLIENT_H_
#define COACHD_CLI_SERVER_CLIENT_H_

#include <memory>
#include <ostream>

#include "cli/live_client.h"
#include "grpcpp/grpcpp.h"

namespace coach::cli {

// --server, --token, --tls_ca, --tls_cert and --tls_key.
ServerConnection ServerConnectionFromFlags();

// nullptr (after a message to `err`) when a PEM file cannot be read.
std::shared_ptr<grpc::Channel> Connect(const ServerConnection& server, std::ostream& err);

// Adds "authorization: Bearer <token>" when the connection has a token.
void Authorize(const ServerConnection& server, grpc::ClientContext* context);

}  // namespace coach::cli

#endif  // COACHD_CLI_SERVER_CLIENT_H_
