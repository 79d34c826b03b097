// A small synchronous HTTP/1.1 client for the black-box conformance suite.
// Plain http:// only; one keep-alive connection, reopened when the server closes it.
// Independent of the server code on purpose: it must be able to test any FHIR server.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace conformance {

// http://host[:port][/path]; `path` never ends with '/' ("" for the root).
struct Url {
  std::string host;
  std::string port;
  std::string path;
};

// Parses an absolute http:// URL; sets `*error` and returns nullopt otherwise.
std::optional<Url> ParseUrl(std::string_view url, std::string* error);

// Percent-encodes a query parameter value (RFC 3986: unreserved characters, ':' and '/'
// stay as they are; '|', '+', ' ' and the rest are encoded).
std::string EncodeQueryValue(std::string_view value);

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Response {
  int status = 0;  // 0 when the exchange failed; see `error`
  Headers headers;
  std::string body;
  std::string error;  // transport failure (connect, timeout, parse), empty on success

  // First header named `name` (case-insensitive), or "" when absent.
  std::string Header(std::string_view name) const;
  bool HasHeader(std::string_view name) const;
};

class HttpClient {
 public:
  HttpClient(Url base, std::chrono::milliseconds timeout);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request and waits for its response.
  // `target` is either an absolute http:// URL (e.g. a Bundle's next link), or a path
  // relative to the base URL ("Patient/1", "metadata", "" for the base itself).
  // A header given with an empty value is not sent (e.g. {"Accept", ""}).
  // Adds Host, User-Agent, `Accept: application/fhir+json`, and, when `body` is not empty,
  // `Content-Type: application/fhir+json`; an entry of `headers` with the same name
  // replaces the default. Each network step is bounded by the timeout. A request on a
  // reused connection that the server had already closed is sent once more on a new one.
  Response Request(std::string_view method, std::string_view target, const Headers& headers = {},
                   std::string_view body = {});

  const Url& base() const { return base_; }

 private:
  struct Impl;
  Url base_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace conformance
