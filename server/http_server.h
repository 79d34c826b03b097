#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "server/config.h"
#include "server/handler.h"

namespace server {

// Answers one request. Called on the server's threads, several at once, so it must be
// thread-safe; an exception it throws becomes a 500 OperationOutcome.
using RequestHandler = std::function<Response(const Request&)>;

// An HTTP/1.1 server on Boost.Beast that hands each request to a RequestHandler.
//   - With config.TlsEnabled() every connection is HTTPS (server/tls_context.h: TLS 1.2+), the
//     handshake bounded by the read timeout; Listen() fails on an unusable certificate or key.
//   - Keep-alive and pipelining; "Connection: close" and HTTP/1.0 are honoured.
//   - A body over config.max_body_bytes gets 413, a request line plus headers over
//     config.max_header_bytes 431, unparseable HTTP 400, each with an OperationOutcome, and
//     then the connection is closed.
//   - A new connection must deliver a whole request, and every response must be sent, within
//     config.read_timeout_seconds; a kept-alive connection may wait config.idle_timeout_seconds
//     for its next request. Then the connection is closed, so no client holds a thread.
//   - With config.access_log, one line per response on stderr:
//     {"method":"GET","path":"/fhir/metadata","status":200,"duration_ms":0.25}
//     (the path without its query, which may hold personal data; null when unknown).
//     Lines are written in batches, at most about 50 ms after their response; Stop() writes
//     the rest.
//   - "Expect: 100-continue" from an HTTP/1.1 client gets an interim 100 (Continue) once the
//     header is read and accepted.
class HttpServer {
 public:
  HttpServer(Config config, RequestHandler handler);
  ~HttpServer();  // Stop()s first.

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds config.host:config.port and listens, without accepting yet; port() is valid after.
  // Returns why it failed (unknown host, port in use, ...), or nullopt.
  std::optional<std::string> Listen();

  // Listen()s unless that was done, then accepts and serves on config.threads threads
  // (0 = one per hardware thread). Returns why it failed, or nullopt.
  // REQUIRES: called at most once.
  std::optional<std::string> Start();

  // The bound port, or 0 before Listen().
  uint16_t port() const;

  // Stops accepting, closes idle connections, lets requests in progress finish (each within
  // its timeouts) with "Connection: close", then joins the threads. Idempotent.
  // REQUIRES: not called from a RequestHandler.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace server
