// TLS and mutual TLS through Server::BuildAndStart: the right certificates
// connect, a wrong CA or a missing client certificate fail closed, and a key
// that is not the certificate's fails at startup naming the flags.

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness.h"
#include "server/tls.h"
#include "test_certificates.h"

namespace coach::testing {
namespace {

using ::coach::server::testing::Certificates;
using ::testing::AllOf;
using ::testing::HasSubstr;

class TlsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(certs().ok()) << "the openssl CLI (deploy/install-deps.sh) could not make "
                                 "test certificates:\n"
                              << certs().log();
  }
  static const Certificates& certs() { return Certificates::Get(); }

  // Starts coachd with `tls`; null (and a test failure) if it does not start.
  std::unique_ptr<server::Server> Start(const server::TlsOptions& tls) {
    server::Server::Options options = TestServer::DefaultOptions(&clock_);
    options.tls = tls;
    auto server = server::Server::BuildAndStart(options);
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? *std::move(server) : nullptr;
  }

  // Streams a tiny call over a channel with these client credentials.
  grpc::Status Call(const server::Server& server, const std::string& ca,
                    const std::string& cert = "", const std::string& key = "") {
    auto credentials = server::MakeChannelCredentials(ca, cert, key);
    EXPECT_TRUE(credentials.ok()) << credentials.status();
    if (!credentials.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "test: credentials");
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto stub = v1::CoachService::NewStub(grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", server.port()), *credentials, args));
    return RunCall(stub.get(), {StartEvent("tls-" + std::to_string(++calls_), "a"), EndEvent()})
        .status;
  }

  FakeClock clock_;
  int calls_ = 0;
};

TEST_F(TlsServerTest, TlsServesClientsTrustingItsCaAndRefusesOthers) {
  auto server = Start({certs().File("server.crt"), certs().File("server.key"), ""});
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(Call(*server, certs().File("ca.crt")).ok());
  EXPECT_EQ(Call(*server, certs().File("other_ca.crt")).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  server->Shutdown(absl::ZeroDuration());
}

TEST_F(TlsServerTest, MutualTlsNeedsAClientCertificateFromTheClientCa) {
  auto server = Start({certs().File("server.crt"), certs().File("server.key"),
                       certs().File("ca.crt"), /*require_client_cert=*/true});
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(
      Call(*server, certs().File("ca.crt"), certs().File("client.crt"), certs().File("client.key"))
          .ok());
  EXPECT_EQ(Call(*server, certs().File("ca.crt")).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Call(*server, certs().File("ca.crt"), certs().File("stranger.crt"),
                 certs().File("stranger.key"))
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);
  server->Shutdown(absl::ZeroDuration());
}

TEST_F(TlsServerTest, KeyOfAnotherCertificateFailsAtStartupNamingTheFlags) {
  server::Server::Options options = TestServer::DefaultOptions(&clock_);
  options.tls = {certs().File("server.crt"), certs().File("client.key"), ""};
  auto server = server::Server::BuildAndStart(options);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(server.status().message()),
              AllOf(HasSubstr("--tls_key="), HasSubstr("--tls_cert="),
                    HasSubstr("not the private key")));
}

}  // namespace
}  // namespace coach::testing
