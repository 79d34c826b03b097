// HTTPS: a self-signed certificate made here with the OpenSSL API, a server with
// --tls-cert/--tls-key, and clients that do or do not speak an acceptable TLS version.
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <utility>  // before any Asio header (STYLE.md)

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <doctest/doctest.h>

#include "server/capability.h"
#include "server/config.h"
#include "server/handler.h"
#include "server/http_server.h"

namespace server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(length));
}

// A P-256 key and a self-signed certificate for CN=localhost, valid for a day, as PEM.
struct SelfSigned {
  std::string cert_pem;
  std::string key_pem;
};

SelfSigned MakeSelfSigned() {
  std::unique_ptr<EVP_PKEY, PkeyFree> key(EVP_EC_gen("P-256"));
  REQUIRE(key);
  std::unique_ptr<X509, X509Free> cert(X509_new());
  REQUIRE(cert);
  REQUIRE(X509_set_version(cert.get(), 2) == 1);
  REQUIRE(ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1) == 1);
  REQUIRE(X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60) != nullptr);
  REQUIRE(X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600) != nullptr);
  X509_NAME* name = X509_get_subject_name(cert.get());
  REQUIRE(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                     reinterpret_cast<const unsigned char*>("localhost"), -1, -1,
                                     0) == 1);
  REQUIRE(X509_set_issuer_name(cert.get(), name) == 1);
  REQUIRE(X509_set_pubkey(cert.get(), key.get()) == 1);
  REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);

  SelfSigned out;
  std::unique_ptr<BIO, BioFree> cert_bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_X509(cert_bio.get(), cert.get()) == 1);
  out.cert_pem = BioText(cert_bio.get());
  std::unique_ptr<BIO, BioFree> key_bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                   nullptr) == 1);
  out.key_pem = BioText(key_bio.get());
  return out;
}

// The certificate files of one test, removed after it.
class CertFiles {
 public:
  CertFiles() : pem_(MakeSelfSigned()) {
    static std::atomic<int> counter{0};
    const std::string stem = (std::filesystem::temp_directory_path() /
                              ("tls_test_" + std::to_string(::getpid()) + "_" +
                               std::to_string(counter++)))
                                 .string();
    cert_path_ = stem + "_cert.pem";
    key_path_ = stem + "_key.pem";
    std::ofstream(cert_path_) << pem_.cert_pem;
    std::ofstream(key_path_) << pem_.key_pem;
  }
  ~CertFiles() {
    std::filesystem::remove(cert_path_);
    std::filesystem::remove(key_path_);
  }
  const std::string& cert_path() const { return cert_path_; }
  const std::string& key_path() const { return key_path_; }
  const std::string& cert_pem() const { return pem_.cert_pem; }

 private:
  SelfSigned pem_;
  std::string cert_path_, key_path_;
};

std::unique_ptr<HttpServer> StartTlsServer(const CertFiles& files) {
  Config config;
  config.port = 0;
  config.threads = 2;
  config.access_log = false;
  config.tls_cert_path = files.cert_path();
  config.tls_key_path = files.key_path();
  CapabilityInput capability;
  capability.resource_types = {"Patient"};
  capability.start_instant = "2024-05-01T00:00:00.000Z";
  auto handler =
      std::make_shared<Handler>(HandlerOptions{"/fhir", CapabilityStatementJson(capability)});
  auto server = std::make_unique<HttpServer>(
      config, [handler](const Request& request) { return handler->Handle(request); });
  const std::optional<std::string> error = server->Start();
  REQUIRE_MESSAGE(!error, *error);
  return server;
}

// What one client connection saw.
struct Attempt {
  beast::error_code handshake;
  std::string protocol;  // "TLSv1.3"
  std::string cipher;
  unsigned status = 0;
  std::string body;
};

// Connects with `context`, handshakes, and on success sends GET /fhir/metadata. Every step
// gives up after 10 seconds.
Attempt Connect(uint16_t port, ssl::context& context) {
  net::io_context ioc;
  beast::ssl_stream<beast::tcp_stream> stream(ioc, context);
  Attempt attempt;
  beast::get_lowest_layer(stream).expires_after(10s);
  beast::get_lowest_layer(stream).async_connect(
      tcp::endpoint(net::ip::make_address("127.0.0.1"), port), [&](beast::error_code ec) {
        REQUIRE_FALSE(ec);
        stream.async_handshake(ssl::stream_base::client, [&](beast::error_code handshake) {
          attempt.handshake = handshake;
        });
      });
  ioc.run();
  if (attempt.handshake) return attempt;
  attempt.protocol = SSL_get_version(stream.native_handle());
  attempt.cipher = SSL_get_cipher_name(stream.native_handle());

  Request request(http::verb::get, "/fhir/metadata", 11);
  request.set(http::field::host, "localhost");
  request.set(http::field::connection, "close");
  beast::flat_buffer buffer;
  Response response;
  ioc.restart();
  beast::get_lowest_layer(stream).expires_after(10s);
  http::async_write(stream, request, [&](beast::error_code ec, size_t) {
    REQUIRE_FALSE(ec);
    http::async_read(stream, buffer, response, [&](beast::error_code read, size_t) {
      REQUIRE_FALSE(read);
    });
  });
  ioc.run();
  attempt.status = response.result_int();
  attempt.body = response.body();
  return attempt;
}

ssl::context ClientContext(const CertFiles& files) {
  ssl::context context(ssl::context::tls_client);
  context.add_certificate_authority(net::buffer(files.cert_pem()));
  context.set_verify_mode(ssl::verify_peer);
  context.set_verify_callback(ssl::host_name_verification("localhost"));
  return context;
}

TEST_CASE("HTTPS: a verified TLS 1.3 handshake, then a FHIR request") {
  CertFiles files;
  auto server = StartTlsServer(files);
  ssl::context client = ClientContext(files);
  const Attempt attempt = Connect(server->port(), client);
  REQUIRE_MESSAGE(!attempt.handshake, attempt.handshake.message());
  CHECK(attempt.protocol == "TLSv1.3");
  CHECK(attempt.status == 200);
  CHECK(attempt.body.starts_with("{\"resourceType\":\"CapabilityStatement\""));
}

TEST_CASE("HTTPS: TLS 1.2 works, with the server's cipher preference") {
  CertFiles files;
  auto server = StartTlsServer(files);
  ssl::context client = ClientContext(files);
  REQUIRE(SSL_CTX_set_max_proto_version(client.native_handle(), TLS1_2_VERSION) == 1);
  // The client prefers ChaCha20; the server's list puts AES-128-GCM first.
  REQUIRE(SSL_CTX_set_cipher_list(client.native_handle(),
                                  "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384:"
                                  "ECDHE-ECDSA-AES128-GCM-SHA256") == 1);
  const Attempt attempt = Connect(server->port(), client);
  REQUIRE_MESSAGE(!attempt.handshake, attempt.handshake.message());
  CHECK(attempt.protocol == "TLSv1.2");
  CHECK(attempt.cipher == "ECDHE-ECDSA-AES128-GCM-SHA256");
  CHECK(attempt.status == 200);

  // Suites without forward secrecy or AEAD are not offered by the server.
  ssl::context weak = ClientContext(files);
  REQUIRE(SSL_CTX_set_max_proto_version(weak.native_handle(), TLS1_2_VERSION) == 1);
  REQUIRE(SSL_CTX_set_cipher_list(weak.native_handle(), "ECDHE-ECDSA-AES128-SHA:AES128-SHA") ==
          1);
  const Attempt refused = Connect(server->port(), weak);
  REQUIRE(refused.handshake);
  CHECK(ERR_GET_REASON(static_cast<unsigned long>(refused.handshake.value())) ==
        SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE);
}

TEST_CASE("HTTPS: TLS 1.1 and 1.0 are refused by the server") {
  CertFiles files;
  auto server = StartTlsServer(files);
  for (int version : {TLS1_1_VERSION, TLS1_VERSION}) {
    CAPTURE(version);
    ssl::context client = ClientContext(files);
    // Security level 0 lets this client offer the old versions at all.
    SSL_CTX_set_security_level(client.native_handle(), 0);
    REQUIRE(SSL_CTX_set_cipher_list(client.native_handle(), "DEFAULT:@SECLEVEL=0") == 1);
    REQUIRE(SSL_CTX_set_min_proto_version(client.native_handle(), version) == 1);
    REQUIRE(SSL_CTX_set_max_proto_version(client.native_handle(), version) == 1);
    const Attempt attempt = Connect(server->port(), client);
    REQUIRE(attempt.handshake);
    // The server's "protocol version" alert, not a client-side refusal to offer the version.
    CHECK(ERR_GET_REASON(static_cast<unsigned long>(attempt.handshake.value())) ==
          SSL_R_TLSV1_ALERT_PROTOCOL_VERSION);
  }
}

TEST_CASE("HTTPS: a client that does not trust the certificate fails verification") {
  CertFiles files;
  auto server = StartTlsServer(files);
  CertFiles other;  // another self-signed certificate as the only trusted one
  ssl::context client = ClientContext(other);
  const Attempt attempt = Connect(server->port(), client);
  REQUIRE(attempt.handshake);
  CHECK(ERR_GET_REASON(static_cast<unsigned long>(attempt.handshake.value())) ==
        SSL_R_CERTIFICATE_VERIFY_FAILED);
}

TEST_CASE("HTTPS: a bad certificate or key stops the server from starting") {
  CertFiles files;
  CertFiles other;
  Config config;
  config.port = 0;
  config.threads = 1;
  config.tls_cert_path = files.cert_path();
  config.tls_key_path = other.key_path();
  HttpServer mismatched(config, [](const Request& r) { return Response(http::status::ok, r.version()); });
  CHECK(mismatched.Start() == std::optional<std::string>("cannot load the TLS key " +
                                                         other.key_path() +
                                                         ": key values mismatch"));
  config.tls_cert_path = files.cert_path() + ".missing";
  HttpServer missing(config, [](const Request& r) { return Response(http::status::ok, r.version()); });
  const std::optional<std::string> error = missing.Start();
  REQUIRE(error.has_value());
  CHECK(error->starts_with("cannot load the TLS certificate " + config.tls_cert_path + ": "));
}

}  // namespace
}  // namespace server
