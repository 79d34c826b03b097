#include "server/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace server {
namespace {

namespace ssl = boost::asio::ssl;

// TLS 1.2 suites with forward secrecy and AEAD; TLS 1.3 suites are OpenSSL's defaults.
constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

}  // namespace

std::shared_ptr<ssl::context> MakeTlsServerContext(const std::string& cert_path,
                                                   const std::string& key_path,
                                                   std::string& error) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    error = "cannot configure TLS: " + OpenSslError();
    return nullptr;
  }
  SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
                                  SSL_OP_NO_RENEGOTIATION);
  boost::system::error_code ec;
  context->use_certificate_chain_file(cert_path, ec);
  if (ec) {
    error = "cannot load the TLS certificate " + cert_path + ": " + ec.message();
    return nullptr;
  }
  context->use_private_key_file(key_path, ssl::context::pem, ec);
  if (ec) {
    error = "cannot load the TLS key " + key_path + ": " + ec.message();
    return nullptr;
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    error = "the TLS key " + key_path + " does not match the certificate " + cert_path;
    return nullptr;
  }
  return context;
}

}  // namespace server
