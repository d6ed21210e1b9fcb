#include "cli/server_client.h"

#include <fstream>
#include <sstream>
#include <string>

#include "absl/flags/flag.h"
#include "cli/commands.h"

namespace coach::cli {
namespace {

bool ReadPem(const std::string& path, std::string* out, std::ostream& err) {
  if (path.empty()) return true;
  std::ifstream in(path);
  if (!in) {
    err << "coachctl: cannot read " << path << "\n";
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  *out = text.str();
  return true;
}

}  // namespace

ServerConnection ServerConnectionFromFlags() {
  ServerConnection server;
  server.address = absl::GetFlag(FLAGS_server);
  server.token = absl::GetFlag(FLAGS_token);
  server.tls_ca_file = absl::GetFlag(FLAGS_tls_ca);
  server.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  server.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  return server;
}

std::shared_ptr<grpc::Channel> Connect(const ServerConnection& server, std::ostream& err) {
  if (server.tls_ca_file.empty()) {
    return grpc::CreateChannel(server.address, grpc::InsecureChannelCredentials());
  }
  grpc::SslCredentialsOptions ssl;
  if (!ReadPem(server.tls_ca_file, &ssl.pem_root_certs, err) ||
      !ReadPem(server.tls_cert_file, &ssl.pem_cert_chain, err) ||
      !ReadPem(server.tls_key_file, &ssl.pem_private_key, err)) {
    return nullptr;
  }
  return grpc::CreateChannel(server.address, grpc::SslCredentials(ssl));
}

void Authorize(const ServerConnection& server, grpc::ClientContext* context) {
  if (!server.token.empty()) context->AddMetadata("authorization", "Bearer " + server.token);
}

}  // namespace coach::cli
