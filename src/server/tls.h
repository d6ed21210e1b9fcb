// File: server/tls.h
//
// TLS and mutual-TLS credentials for the coachd server (and for test clients).
//
//   TlsOptions{}                              -> insecure (plaintext)
//   TlsOptions{cert, key}                     -> TLS
//   TlsOptions{cert, key, client_ca}          -> mTLS; with require_client_cert
//                                                (default) a client without a
//                                                cert signed by client_ca is
//                                                refused at the handshake
//
// The PEM files are read once, when the credentials are made; rotating them
// needs a restart. Errors name the flag: INVALID_ARGUMENT when only one of
// --tls_cert/--tls_key is set or --tls_client_ca is set without them, a file
// is empty / not PEM / does not parse, or the key is not the certificate's
// (names both flags); NOT_FOUND when a file cannot be read.
//
// Stateless and thread-safe. Returned credentials are shared_ptrs owned by the
// caller (and by the grpc::ServerBuilder / channel they are given to).

#ifndef COACHD_SERVER_TLS_H_
#define COACHD_SERVER_TLS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace coach::server {

struct TlsOptions {
  std::string cert_file;       // --tls_cert: server certificate chain (PEM)
  std::string key_file;        // --tls_key: server private key (PEM)
  std::string client_ca_file;  // --tls_client_ca: set => mTLS
  // With mTLS: refuse clients that present no certificate (fail closed).
  // When false, a client cert is requested and verified if presented.
  bool require_client_cert = true;
};

// True when cert_file or key_file is set (i.e. the server should use TLS).
bool TlsEnabled(const TlsOptions& options);

// Insecure credentials when no cert/key are set; TLS/mTLS credentials
// otherwise. See the file comment for errors.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsOptions& options);

// For tests and clients: TLS channel credentials trusting `ca_file` (empty:
// the system roots), presenting `cert_file`/`key_file` as the client
// certificate when both are non-empty. INVALID_ARGUMENT if only one of them is
// set or a file holds no PEM block, NOT_FOUND if a file cannot be read; the
// messages name the parameter ("ca_file=<path>: ...").
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const std::string& ca_file, const std::string& cert_file, const std::string& key_file);

}  // namespace coach::server

#endif  // COACHD_SERVER_TLS_H_
