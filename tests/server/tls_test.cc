#include "server/tls.h"

#include <cstdlib>
#include <fstream>
#include <future>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "gtest/gtest.h"
#include "test_certificates.h"
#include "test_util.h"

namespace coach::server {
namespace {

using ::coach::server::testing::Certificates;
using ::coach::server::testing::StatusIs;
using ::coach::server::testing::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;

// A server with only the default gRPC health service, on 127.0.0.1:0.
class HealthServer {
 public:
  explicit HealthServer(std::shared_ptr<grpc::ServerCredentials> credentials) {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", std::move(credentials), &port_);
    // A callback server needs at least one callback service; this one answers
    // every unknown method with UNIMPLEMENTED.
    builder.RegisterCallbackGenericService(&unimplemented_);
    server_ = builder.BuildAndStart();
  }
  ~HealthServer() {
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
  }
  bool started() const { return server_ != nullptr && port_ > 0; }
  std::string target() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  int port_ = 0;
  grpc::CallbackGenericService unimplemented_;
  std::unique_ptr<grpc::Server> server_;
};

// Calls grpc.health.v1.Health/Check for the whole server; returns the status
// and, on success, the serialized response.
grpc::Status HealthCheck(const std::string& target,
                         std::shared_ptr<grpc::ChannelCredentials> credentials,
                         std::string* response_bytes = nullptr) {
  auto channel = grpc::CreateChannel(target, std::move(credentials));
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  grpc::ByteBuffer request;  // HealthCheckRequest{service: ""} serializes to no bytes
  grpc::Slice empty;
  request = grpc::ByteBuffer(&empty, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status status) { done.set_value(std::move(status)); });
  grpc::Status status = done.get_future().get();
  if (status.ok() && response_bytes != nullptr) {
    std::vector<grpc::Slice> slices;
    response.Dump(&slices);
    response_bytes->clear();
    for (const grpc::Slice& slice : slices) {
      response_bytes->append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
  }
  return status;
}

std::shared_ptr<grpc::ChannelCredentials> ClientCredentials(const std::string& ca,
                                                            const std::string& cert = "",
                                                            const std::string& key = "") {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      MakeChannelCredentials(ca, cert, key);
  EXPECT_TRUE(credentials.ok()) << credentials.status();
  return credentials.ok() ? *credentials : nullptr;
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(certs().ok()) << "the openssl CLI is needed to make test certificates:\n"
                              << certs().log();
  }
  static const Certificates& certs() { return Certificates::Get(); }

  std::unique_ptr<HealthServer> StartServer(const TlsOptions& options) {
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
        MakeServerCredentials(options);
    EXPECT_TRUE(credentials.ok()) << credentials.status();
    if (!credentials.ok()) return nullptr;
    auto server = std::make_unique<HealthServer>(*credentials);
    EXPECT_TRUE(server->started());
    return server;
  }

  TlsOptions ServerTls() const {
    return TlsOptions{certs().File("server.crt"), certs().File("server.key"), ""};
  }
  TlsOptions ServerMtls() const {
    TlsOptions options = ServerTls();
    options.client_ca_file = certs().File("ca.crt");
    return options;
  }
};

constexpr char kServing[] = "\x08\x01";  // HealthCheckResponse{status: SERVING}

TEST(TlsOptions, EnabledOnlyWithCertOrKey) {
  EXPECT_FALSE(TlsEnabled(TlsOptions{}));
  EXPECT_FALSE(TlsEnabled(TlsOptions{"", "", "ca.pem"}));
  EXPECT_TRUE(TlsEnabled(TlsOptions{"cert.pem", "key.pem", ""}));
  EXPECT_TRUE(TlsEnabled(TlsOptions{"cert.pem", "", ""}));
}

TEST(MakeServerCredentials, InsecureWithoutCertAndKey) {
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      MakeServerCredentials(TlsOptions{});
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  HealthServer server(*credentials);
  ASSERT_TRUE(server.started());
  std::string response;
  grpc::Status status = HealthCheck(server.target(), grpc::InsecureChannelCredentials(), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response, std::string(kServing, 2));
}

TEST(MakeServerCredentials, HalfConfiguredTlsNamesTheMissingFlag) {
  EXPECT_THAT(MakeServerCredentials(TlsOptions{"cert.pem", "", ""}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--tls_key")));
  EXPECT_THAT(MakeServerCredentials(TlsOptions{"", "key.pem", ""}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--tls_cert")));
  EXPECT_THAT(MakeServerCredentials(TlsOptions{"", "", "ca.pem"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--tls_client_ca")));
}

TEST_F(TlsTest, UnreadableFilesAreNotFoundNamingFlagAndPath) {
  TempDir dir;
  TlsOptions options = ServerTls();
  options.cert_file = dir.File("nope.crt");
  EXPECT_THAT(
      MakeServerCredentials(options),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("--tls_cert=" + dir.File("nope.crt"))));
  options = ServerTls();
  options.key_file = dir.File("nope.key");
  EXPECT_THAT(MakeServerCredentials(options),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("--tls_key=")));
  options = ServerMtls();
  options.client_ca_file = dir.File("nope-ca.crt");
  EXPECT_THAT(MakeServerCredentials(options),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("--tls_client_ca=")));
}

TEST_F(TlsTest, SwappedOrNonPemFilesAreInvalidArguments) {
  TlsOptions swapped{certs().File("server.key"), certs().File("server.crt"), ""};
  EXPECT_THAT(MakeServerCredentials(swapped),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--tls_cert=")));
  TempDir dir;
  TlsOptions garbage = ServerTls();
  garbage.client_ca_file = dir.Write("ca.txt", "not a certificate\n");
  EXPECT_THAT(MakeServerCredentials(garbage),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--tls_client_ca=")));
}

TEST_F(TlsTest, KeyOfAnotherCertificateIsInvalidNamingBothFlags) {
  TlsOptions options{certs().File("server.crt"), certs().File("client.key"), ""};
  EXPECT_THAT(MakeServerCredentials(options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("--tls_key=" + certs().File("client.key")),
                             HasSubstr("--tls_cert=" + certs().File("server.crt")))));
}

TEST(MakeChannelCredentials, CertWithoutKeyIsInvalid) {
  EXPECT_THAT(MakeChannelCredentials("", "client.crt", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("together")));
  EXPECT_THAT(MakeChannelCredentials("/nonexistent/ca.crt", "", ""),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/ca.crt")));
}

TEST_F(TlsTest, TlsServesClientsThatTrustTheCa) {
  std::unique_ptr<HealthServer> server = StartServer(ServerTls());
  ASSERT_NE(server, nullptr);
  std::string response;
  grpc::Status status =
      HealthCheck(server->target(), ClientCredentials(certs().File("ca.crt")), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response, std::string(kServing, 2));
}

TEST_F(TlsTest, TlsRefusesClientsTrustingAnotherCa) {
  std::unique_ptr<HealthServer> server = StartServer(ServerTls());
  ASSERT_NE(server, nullptr);
  grpc::Status status =
      HealthCheck(server->target(), ClientCredentials(certs().File("other_ca.crt")));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(TlsTest, TlsRefusesPlaintextClients) {
  std::unique_ptr<HealthServer> server = StartServer(ServerTls());
  ASSERT_NE(server, nullptr);
  grpc::Status status = HealthCheck(server->target(), grpc::InsecureChannelCredentials());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(TlsTest, MtlsServesClientsWithACertFromTheClientCa) {
  std::unique_ptr<HealthServer> server = StartServer(ServerMtls());
  ASSERT_NE(server, nullptr);
  std::string response;
  grpc::Status status =
      HealthCheck(server->target(),
                  ClientCredentials(certs().File("ca.crt"), certs().File("client.crt"),
                                    certs().File("client.key")),
                  &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response, std::string(kServing, 2));
}

TEST_F(TlsTest, MtlsRefusesClientsWithoutACert) {
  std::unique_ptr<HealthServer> server = StartServer(ServerMtls());
  ASSERT_NE(server, nullptr);
  grpc::Status status = HealthCheck(server->target(), ClientCredentials(certs().File("ca.crt")));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(TlsTest, MtlsRefusesClientCertsFromAnotherCa) {
  std::unique_ptr<HealthServer> server = StartServer(ServerMtls());
  ASSERT_NE(server, nullptr);
  grpc::Status status = HealthCheck(
      server->target(), ClientCredentials(certs().File("ca.crt"), certs().File("stranger.crt"),
                                          certs().File("stranger.key")));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(TlsTest, OptionalClientCertStillRejectsCertsFromAnotherCa) {
  TlsOptions options = ServerMtls();
  options.require_client_cert = false;
  std::unique_ptr<HealthServer> server = StartServer(options);
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(HealthCheck(server->target(), ClientCredentials(certs().File("ca.crt"))).ok());
  grpc::Status status = HealthCheck(
      server->target(), ClientCredentials(certs().File("ca.crt"), certs().File("stranger.crt"),
                                          certs().File("stranger.key")));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

}  // namespace
}  // namespace coach::server
