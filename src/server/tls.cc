#include "server/tls.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpc/grpc_security_constants.h"
#include "openssl/bio.h"
#include "openssl/err.h"
#include "openssl/evp.h"
#include "openssl/pem.h"
#include "openssl/x509.h"

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

// The first OpenSSL error on this thread's queue, as text; clears the queue.
std::string OpenSslError() {
  const unsigned long code = ERR_get_error();  // NOLINT(runtime/int): OpenSSL's type
  ERR_clear_error();
  if (code == 0) return "unknown error";
  char buffer[256];
  ERR_error_string_n(code, buffer, sizeof(buffer));
  return buffer;
}

// Checks that `key_pem` is the private key of the first certificate in
// `cert_pem`, so a mismatched pair fails here, naming the flags, and not at
// bind time as "cannot listen".
absl::Status CheckKeyMatchesCertificate(const std::string& cert_pem, const std::string& key_pem,
                                        const TlsOptions& options) {
  std::unique_ptr<BIO, decltype(&BIO_free)> cert_bio(
      BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())), &BIO_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(
      BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())), &BIO_free);
  if (cert_bio == nullptr || key_bio == nullptr) return absl::InternalError("out of memory");
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr), &X509_free);
  if (cert == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("--tls_cert=", options.cert_file,
                                                   ": cannot parse the certificate: ",
                                                   OpenSslError()));
  }
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  if (key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls_key=", options.key_file,
        ": cannot parse the private key (an encrypted key is not supported): ", OpenSslError()));
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("--tls_key=", options.key_file, " is not the private key of the certificate in --tls_cert=",
                     options.cert_file, "; give the key the certificate was issued for"));
  }
  return absl::OkStatus();
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
  if (absl::Status status = CheckKeyMatchesCertificate(*cert, *key, options); !status.ok()) {
    return status;
  }

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
