#include "server/tls.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpc/grpc_security_constants.h"

namespace coach::server {
namespace {

enum class PemKind { kCertificate, kPrivateKey };

// Reads a PEM file given by `flag` (a flag or parameter name, for messages)
// and checks that it holds the expected kind
// of block, so a wrong path or swapped flags fail here rather than at bind.
absl::StatusOr<std::string> ReadPem(const std::string& path, absl::string_view flag, PemKind kind) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat(flag, "=", path, ": cannot open file: ", std::strerror(errno)));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string pem = buffer.str();
  const bool ok =
      kind == PemKind::kCertificate
          ? absl::StrContains(pem, "-----BEGIN CERTIFICATE-----")
          : absl::StrContains(pem, "-----BEGIN") && absl::StrContains(pem, "PRIVATE KEY-----");
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, "=", path, ": no PEM ", kind == PemKind::kCertificate ? "CERTIFICATE" : "PRIVATE KEY",
        " block found"));
  }
  return pem;
}

}  // namespace

bool TlsEnabled(const TlsOptions& options) {
  return !options.cert_file.empty() || !options.key_file.empty();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsOptions& options) {
  if (!TlsEnabled(options)) {
    if (!options.client_ca_file.empty()) {
      return absl::InvalidArgumentError(
          "--tls_client_ca is set but --tls_cert and --tls_key are not; mutual TLS needs a "
          "server certificate and key");
    }
    return grpc::InsecureServerCredentials();
  }
  if (options.cert_file.empty()) {
    return absl::InvalidArgumentError("--tls_key is set but --tls_cert is not; TLS needs both");
  }
  if (options.key_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert is set but --tls_key is not; TLS needs both");
  }
  absl::StatusOr<std::string> cert =
      ReadPem(options.cert_file, "--tls_cert", PemKind::kCertificate);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPem(options.key_file, "--tls_key", PemKind::kPrivateKey);
  if (!key.ok()) return key.status();

  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  ssl.pem_key_cert_pairs.push_back({*std::move(key), *std::move(cert)});
  if (!options.client_ca_file.empty()) {
    absl::StatusOr<std::string> ca =
        ReadPem(options.client_ca_file, "--tls_client_ca", PemKind::kCertificate);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
    ssl.client_certificate_request =
        options.require_client_cert ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                    : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const std::string& ca_file, const std::string& cert_file, const std::string& key_file) {
  if (cert_file.empty() != key_file.empty()) {
    return absl::InvalidArgumentError(
        "client TLS: cert_file and key_file must be given together (only one is set)");
  }
  grpc::SslCredentialsOptions ssl;
  if (!ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadPem(ca_file, "ca_file", PemKind::kCertificate);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
  }
  if (!cert_file.empty()) {
    absl::StatusOr<std::string> cert = ReadPem(cert_file, "cert_file", PemKind::kCertificate);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPem(key_file, "key_file", PemKind::kPrivateKey);
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *std::move(cert);
    ssl.pem_private_key = *std::move(key);
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace coach::server
