#include "conformance/http_client.h"

#include <cctype>
#include <cstdint>
#include <string>
#include <utility>  // before the Asio headers: GCC with Boost 1.74 needs it (STYLE.md)

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace conformance {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::uint64_t kMaxResponseBodyBytes = 256u * 1024u * 1024u;
constexpr std::uint32_t kMaxResponseHeaderBytes = 1024u * 1024u;

beast::string_view ToBeast(std::string_view s) { return {s.data(), s.size()}; }
std::string ToStd(beast::string_view s) { return {s.data(), s.size()}; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool IsDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Runs the asynchronous operation that `start` begins until it completes. The expiry set on
// the tcp_stream bounds it: a late operation fails with beast::error::timeout. Using the
// asynchronous operations is how Beast offers timeouts on a synchronous-looking client.
template <class Start>
beast::error_code RunToCompletion(asio::io_context& ioc, Start&& start) {
  beast::error_code result = asio::error::would_block;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

// True for the errors a server produces when it closed an idle keep-alive connection
// before our request arrived: the request was not processed, so sending it again is safe.
bool IsStaleConnection(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::connection_aborted;
}

}  // namespace

std::optional<Url> ParseUrl(std::string_view url, std::string* error) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, 8) == "https://") {
    *error = "https:// is not supported (plain http:// only): " + std::string(url);
    return std::nullopt;
  }
  if (url.substr(0, kScheme.size()) != kScheme) {
    *error = "expected http://host[:port][/path], got: " + std::string(url);
    return std::nullopt;
  }
  std::string_view rest = url.substr(kScheme.size());
  std::size_t path_start = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_start);
  Url result;
  if (path_start != std::string_view::npos) {
    result.path = std::string(rest.substr(path_start));
    if (std::size_t hash = result.path.find('#'); hash != std::string::npos) {
      result.path.resize(hash);
    }
    if (!result.path.empty() && result.path[0] != '/') result.path.insert(0, "/");
  }
  if (std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority = authority.substr(at + 1);  // user info is not used
  }
  std::string_view port;
  if (!authority.empty() && authority[0] == '[') {  // IPv6 literal
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      *error = "unterminated IPv6 address in: " + std::string(url);
      return std::nullopt;
    }
    result.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        *error = "unexpected text after the IPv6 address in: " + std::string(url);
        return std::nullopt;
      }
      port = after.substr(1);
    }
  } else {
    std::size_t colon = authority.rfind(':');
    result.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (result.host.empty()) {
    *error = "no host in: " + std::string(url);
    return std::nullopt;
  }
  if (port.empty()) {
    result.port = "80";
  } else if (IsDigits(port) && port.size() <= 5) {
    result.port = std::string(port);
  } else {
    *error = "bad port in: " + std::string(url);
    return std::nullopt;
  }
  return result;
}

std::string EncodeQueryValue(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~' || c == ':' || c == '/') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0x0F];
    }
  }
  return out;
}

std::string Response::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return {};
}

bool Response::HasHeader(std::string_view name) const {
  for (const auto& header : headers) {
    if (EqualsIgnoreCase(header.first, name)) return true;
  }
  return false;
}

struct HttpClient::Impl {
  asio::io_context ioc;
  std::optional<beast::tcp_stream> stream;  // engaged while a connection is open
  beast::flat_buffer buffer;
  std::string host;  // of the open connection
  std::string port;

  void Close() {
    if (stream) {
      beast::error_code ignored;
      stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream->socket().close(ignored);
      stream.reset();
    }
    buffer.clear();
  }

  // Opens a connection to host:port; returns a description of the failure, or "".
  std::string Connect(const std::string& to_host, const std::string& to_port,
                      std::chrono::milliseconds timeout) {
    Close();
    tcp::resolver resolver(ioc);
    beast::error_code ec;
    auto endpoints = resolver.resolve(to_host, to_port, ec);
    if (ec) return "resolve " + to_host + ":" + to_port + ": " + ec.message();
    stream.emplace(ioc);
    stream->expires_after(timeout);
    ec = RunToCompletion(
        ioc, [&](auto handler) { stream->async_connect(endpoints, std::move(handler)); });
    if (ec) {
      Close();
      return "connect to " + to_host + ":" + to_port + ": " + ec.message();
    }
    host = to_host;
    port = to_port;
    return {};
  }
};

HttpClient::HttpClient(Url base, std::chrono::milliseconds timeout)
    : base_(std::move(base)), timeout_(timeout), impl_(std::make_unique<Impl>()) {
  while (!base_.path.empty() && base_.path.back() == '/') base_.path.pop_back();
}

HttpClient::~HttpClient() { impl_->Close(); }

Response HttpClient::Request(std::string_view method, std::string_view target,
                             const Headers& headers, std::string_view body) {
  Url to = base_;
  if (target.substr(0, 7) == "http://" || target.substr(0, 8) == "https://") {
    std::string error;
    std::optional<Url> absolute = ParseUrl(target, &error);
    if (!absolute) {
      Response failed;
      failed.error = error;
      return failed;
    }
    to = std::move(*absolute);
    if (to.path.empty()) to.path = "/";
  } else if (target.empty()) {
    to.path = base_.path.empty() ? "/" : base_.path;
  } else if (target[0] == '?') {
    to.path = (base_.path.empty() ? "/" : base_.path) + std::string(target);
  } else {
    to.path = base_.path + "/" + std::string(target);
  }

  http::request<http::string_body> request;
  http::verb verb = http::string_to_verb(ToBeast(method));
  if (verb == http::verb::unknown) {
    request.method_string(ToBeast(method));
  } else {
    request.method(verb);
  }
  request.target(ToBeast(to.path));
  request.version(11);
  bool ipv6 = to.host.find(':') != std::string::npos;
  std::string host_header = ipv6 ? "[" + to.host + "]" : to.host;
  if (to.port != "80") host_header += ":" + to.port;
  request.set(http::field::host, host_header);
  request.set(http::field::user_agent, "fhir-conformance");
  request.set(http::field::accept, "application/fhir+json");
  if (!body.empty()) request.set(http::field::content_type, "application/fhir+json");
  for (const auto& [name, value] : headers) {
    if (value.empty()) {
      request.erase(ToBeast(name));
    } else {
      request.set(ToBeast(name), value);
    }
  }
  request.body() = std::string(body);
  request.prepare_payload();

  Response response;
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = impl_->stream && impl_->host == to.host && impl_->port == to.port;
    if (!reused) {
      response.error = impl_->Connect(to.host, to.port, timeout_);
      if (!response.error.empty()) return response;
    }
    impl_->stream->expires_after(timeout_);
    beast::error_code ec = RunToCompletion(impl_->ioc, [&](auto handler) {
      http::async_write(*impl_->stream, request, std::move(handler));
    });
    if (ec) {
      impl_->Close();
      if (reused && attempt == 0) continue;
      response.error = "send " + std::string(method) + " " + to.path + ": " + ec.message();
      return response;
    }

    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxResponseBodyBytes);
    parser.header_limit(kMaxResponseHeaderBytes);
    if (verb == http::verb::head) parser.skip(true);
    impl_->stream->expires_after(timeout_);
    ec = RunToCompletion(impl_->ioc, [&](auto handler) {
      http::async_read(*impl_->stream, impl_->buffer, parser, std::move(handler));
    });
    if (ec) {
      impl_->Close();
      if (reused && attempt == 0 && IsStaleConnection(ec) && !parser.got_some()) continue;
      response.error = "receive the response to " + std::string(method) + " " + to.path + ": " +
                       (ec == beast::error::timeout ? "timed out" : ec.message());
      return response;
    }
    http::response<http::string_body> message = parser.release();
    if (!message.keep_alive()) impl_->Close();
    response.status = static_cast<int>(message.result_int());
    for (const auto& field : message) {
      response.headers.emplace_back(ToStd(field.name_string()), ToStd(field.value()));
    }
    response.body = std::move(message.body());
    return response;
  }
  response.error = "connection closed by the server twice";
  return response;
}

}  // namespace conformance
