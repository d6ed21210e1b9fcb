// File: tests/server/test_certificates.h
//
// Test certificates, made once per test binary with the openssl CLI (shared
// by tests/server/tls_test.cc and the TLS integration tests):
//   ca         a CA; server.{crt,key} (localhost, 127.0.0.1) and
//              client.{crt,key} signed by it
//   other_ca   an unrelated CA; stranger.{crt,key} signed by it
//
//   const Certificates& certs = Certificates::Get();
//   ASSERT_TRUE(certs.ok()) << certs.log();   // openssl comes with install-deps
//   options.tls.cert_file = certs.File("server.crt");

#ifndef COACHD_TESTS_SERVER_TEST_CERTIFICATES_H_
#define COACHD_TESTS_SERVER_TEST_CERTIFICATES_H_

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/str_cat.h"
#include "test_util.h"

namespace coach::server::testing {

// The certificates above, in a temporary directory removed at exit.
class Certificates {
 public:
  static const Certificates& Get() {
    static const Certificates certificates;  // its directory is removed at exit
    return certificates;
  }

  std::string File(const std::string& name) const { return dir_.File(name); }
  bool ok() const { return ok_; }
  const std::string& log() const { return log_; }

 private:
  Certificates() {
    const std::string d = dir_.path().string();
    // P-256 keys: fast to generate, unlike RSA.
    const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const std::string script = absl::StrCat(
        "set -e; cd '", d, "';",
        "printf 'basicConstraints=critical,CA:FALSE\\nsubjectAltName=DNS:localhost,IP:127.0.0.1\\n"
        "extendedKeyUsage=serverAuth\\n' > server.ext;",
        "printf 'basicConstraints=critical,CA:FALSE\\nextendedKeyUsage=clientAuth\\n' > "
        "client.ext;",
        "for ca in ca other_ca; do openssl req -x509 ", key, " -keyout $ca.key -out $ca.crt",
        " -days 3650 -subj \"/CN=coachd test $ca\"",
        " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign;",
        " done;", "sign() { openssl req ", key, " -keyout $1.key -out $1.csr -subj \"/CN=$4\";",
        " openssl x509 -req -in $1.csr -CA $2.crt -CAkey $2.key -CAcreateserial -days 3650",
        " -extfile $3 -out $1.crt; };", "sign server ca server.ext localhost;",
        "sign client ca client.ext pipeline;", "sign stranger other_ca client.ext stranger;");
    const std::string command =
        absl::StrCat("sh -c \"", EscapeForDoubleQuotes(script), "\" > '", d, "/openssl.log' 2>&1");
    ok_ = std::system(command.c_str()) == 0;
    if (!ok_) {
      std::ifstream in(d + "/openssl.log");
      log_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
  }

  static std::string EscapeForDoubleQuotes(const std::string& s) {
    std::string out;
    for (char c : s) {
      if (c == '"' || c == '\\' || c == '$' || c == '`') out += '\\';
      out += c;
    }
    return out;
  }

  TempDir dir_;
  bool ok_ = false;
  std::string log_;
};

}  // namespace coach::server::testing

#endif  // COACHD_TESTS_SERVER_TEST_CERTIFICATES_H_
