#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>  // before any Asio header (STYLE.md)

#include <boost/asio/ssl/context.hpp>

namespace server {

// The server's TLS settings (OpenSSL through Boost.Asio ssl): TLS 1.2 and 1.3 only, the
// server's cipher order, TLS 1.2 limited to ECDHE with AEAD ciphers (Mozilla's "intermediate"
// list), no compression, no renegotiation. `cert_path` is a PEM certificate chain (leaf first),
// `key_path` its PEM private key. Returns why it failed (unreadable file, key not matching the
// certificate) in `error`.
std::shared_ptr<boost::asio::ssl::context> MakeTlsServerContext(const std::string& cert_path,
                                                                const std::string& key_path,
                                                                std::string& error);

}  // namespace server
