#include "server/http_server.h"

#include <stdio.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>  // before any Asio header (STYLE.md)

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include "server/capability.h"
#include "server/config.h"
#include "server/handler.h"
#include "storage/suspension.h"

namespace server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kClientTimeout = 10s;  // no test may hang on a broken server

Config TestConfig() {
  Config config;
  config.port = 0;
  config.threads = 2;
  config.access_log = false;
  return config;
}

RequestHandler FhirHandler() {
  CapabilityInput capability;
  capability.resource_types = {"Observation", "Patient"};
  capability.start_instant = "2024-05-01T00:00:00.000Z";
  auto handler =
      std::make_shared<Handler>(HandlerOptions{"/fhir", CapabilityStatementJson(capability)});
  return [handler](const Request& request) { return handler->Handle(request); };
}

std::unique_ptr<HttpServer> StartServer(Config config = TestConfig(),
                                        RequestHandler handler = FhirHandler()) {
  auto server = std::make_unique<HttpServer>(std::move(config), std::move(handler));
  const std::optional<std::string> error = server->Start();
  REQUIRE_MESSAGE(!error, *error);
  REQUIRE(server->port() != 0);
  return server;
}

// A blocking HTTP client whose every operation gives up after kClientTimeout.
class Client {
 public:
  explicit Client(uint16_t port) {
    stream_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  }

  void Send(const Request& request) {
    beast::error_code result;
    stream_.expires_after(kClientTimeout);
    http::async_write(stream_, request, [&](beast::error_code ec, size_t) { result = ec; });
    Run();
    REQUIRE_MESSAGE(!result, result.message());
  }

  void SendRaw(std::string_view bytes) {
    beast::error_code result;
    stream_.expires_after(kClientTimeout);
    net::async_write(stream_, net::buffer(bytes.data(), bytes.size()),
                     [&](beast::error_code ec, size_t) { result = ec; });
    Run();
    REQUIRE_MESSAGE(!result, result.message());
  }

  // Reads one response; `head` says it answers a HEAD request (so it has no body).
  Response Receive(bool head = false) {
    http::response_parser<http::string_body> parser;
    parser.skip(head);
    beast::error_code result;
    stream_.expires_after(kClientTimeout);
    http::async_read(stream_, buffer_, parser, [&](beast::error_code ec, size_t) { result = ec; });
    Run();
    REQUIRE_MESSAGE(!result, result.message());
    return parser.release();
  }

  // True if the server closed the connection (without sending anything more).
  bool ServerClosed() {
    beast::error_code result;
    size_t bytes = 0;
    stream_.expires_after(kClientTimeout);
    stream_.async_read_some(buffer_.prepare(1), [&](beast::error_code ec, size_t n) {
      result = ec;
      bytes = n;
    });
    Run();
    return bytes == 0 && (result == net::error::eof || result == net::error::connection_reset);
  }

 private:
  void Run() {
    ioc_.restart();
    ioc_.run();
  }

  net::io_context ioc_;
  beast::tcp_stream stream_{ioc_};
  beast::flat_buffer buffer_;
};

Request Get(std::string_view target) {
  Request request(http::verb::get, beast::string_view(target.data(), target.size()), 11);
  request.set(http::field::host, "127.0.0.1");
  return request;
}

std::string Header(const Response& response, http::field field) {
  const auto value = response[field];
  return std::string(value.data(), value.size());
}

std::string JsonString(const std::string& body, const char* pointer_a,
                       const char* pointer_b = nullptr) {
  rapidjson::Document doc;
  doc.Parse(body.c_str(), body.size());
  REQUIRE_MESSAGE(!doc.HasParseError(), body);
  const rapidjson::Value* value = &doc[pointer_a];
  if (pointer_b != nullptr) value = &(*value)[0][pointer_b];
  REQUIRE(value->IsString());
  return value->GetString();
}

// The issue code of an OperationOutcome body.
std::string IssueCode(const Response& response) {
  CHECK(JsonString(response.body(), "resourceType") == "OperationOutcome");
  return JsonString(response.body(), "issue", "code");
}

// Points stderr at a temporary file while alive; Text() reads what was written.
class CaptureStderr {
 public:
  CaptureStderr() : file_(std::tmpfile()), saved_(dup(STDERR_FILENO)) {
    REQUIRE(file_ != nullptr);
    std::fflush(stderr);
    dup2(fileno(file_), STDERR_FILENO);
  }
  ~CaptureStderr() {
    Restore();
    std::fclose(file_);
  }
  std::string Text() {
    Restore();
    std::string text;
    std::rewind(file_);
    for (int c = std::fgetc(file_); c != EOF; c = std::fgetc(file_)) text += static_cast<char>(c);
    return text;
  }

 private:
  void Restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    dup2(saved_, STDERR_FILENO);
    close(saved_);
    saved_ = -1;
  }

  std::FILE* file_;
  int saved_;
};

TEST_CASE("HttpServer serves GET [base]/metadata on an ephemeral port") {
  const auto server = StartServer();
  Client client(server->port());
  client.Send(Get("/fhir/metadata"));
  const Response response = client.Receive();
  CHECK(response.result() == http::status::ok);
  CHECK(Header(response, http::field::content_type) == "application/fhir+json; charset=utf-8");
  CHECK(Header(response, http::field::date).ends_with(" GMT"));
  CHECK(response.keep_alive());
  CHECK(JsonString(response.body(), "resourceType") == "CapabilityStatement");
}

TEST_CASE("HttpServer keeps a connection alive for several requests, pipelined or not") {
  const auto server = StartServer();
  Client client(server->port());
  client.Send(Get("/fhir/metadata"));
  CHECK(client.Receive().result() == http::status::ok);
  client.Send(Get("/fhir/Patient"));
  const Response second = client.Receive();
  CHECK(second.result() == http::status::not_found);
  CHECK(IssueCode(second) == "not-found");
  CHECK(second.keep_alive());

  client.SendRaw(
      "GET /fhir/metadata HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(client.Receive().result() == http::status::ok);
  CHECK(client.Receive().result() == http::status::not_found);
}

TEST_CASE("HttpServer closes the connection when the client asks") {
  const auto server = StartServer();
  Client client(server->port());
  Request request = Get("/fhir/metadata");
  request.keep_alive(false);
  client.Send(request);
  const Response response = client.Receive();
  CHECK(response.result() == http::status::ok);
  CHECK_FALSE(response.keep_alive());
  CHECK(client.ServerClosed());
}

TEST_CASE("HttpServer answers a body over the limit with 413 and closes") {
  const auto server = StartServer();
  Client client(server->port());
  Request request(http::verb::post, "/fhir/Patient", 11);
  request.set(http::field::host, "127.0.0.1");
  request.set(http::field::content_type, "application/fhir+json");
  request.body().assign(size_t{17} << 20, 'x');
  request.prepare_payload();
  client.Send(request);  // the server reads (and drops) it all, so the write completes
  const Response response = client.Receive();
  CHECK(response.result() == http::status::payload_too_large);
  CHECK(Header(response, http::field::content_type) == "application/fhir+json; charset=utf-8");
  CHECK(IssueCode(response) == "too-long");
  CHECK_FALSE(response.keep_alive());
  CHECK(client.ServerClosed());
}

TEST_CASE("HttpServer answers Expect: 100-continue before reading the body") {
  const auto server = StartServer(TestConfig(), [](const Request& request) {
    Response response(http::status::ok, request.version());
    response.body() = "got " + request.body();
    response.prepare_payload();
    return response;
  });
  Client client(server->port());
  client.SendRaw(
      "POST /fhir HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  const Response interim = client.Receive();  // sent before the body exists
  CHECK(interim.result() == http::status::continue_);
  CHECK(interim.body().empty());
  client.SendRaw("hello");
  const Response response = client.Receive();
  CHECK(response.result() == http::status::ok);
  CHECK(response.body() == "got hello");

  // A body over the limit gets 413 at once, not 100.
  Client big(server->port());
  big.SendRaw("POST /fhir HTTP/1.1\r\nHost: x\r\nContent-Length: " +
              std::to_string(size_t{17} << 20) + "\r\nExpect: 100-continue\r\n\r\n");
  CHECK(big.Receive().result() == http::status::payload_too_large);
}

TEST_CASE("HttpServer answers oversized header fields with 431") {
  const auto server = StartServer();
  Client client(server->port());
  std::string request = "GET /fhir/metadata HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 16; ++i)
    request += "X-Big-" + std::to_string(i) + ": " + std::string(4000, 'a') + "\r\n";
  client.SendRaw(request + "\r\n");
  const Response response = client.Receive();
  CHECK(response.result() == http::status::request_header_fields_too_large);
  CHECK(IssueCode(response) == "too-long");
  CHECK(client.ServerClosed());
}

TEST_CASE("HttpServer answers unparseable HTTP with 400") {
  const auto server = StartServer();
  Client client(server->port());
  client.SendRaw("GET /fhir/metadata HTTP/1.1\r\nBad Header\r\n\r\n");
  const Response response = client.Receive();
  CHECK(response.result() == http::status::bad_request);
  CHECK(IssueCode(response) == "structure");
  CHECK(client.ServerClosed());
}

TEST_CASE("HttpServer sends no body in answer to HEAD") {
  const auto server = StartServer();
  Client client(server->port());
  Request request = Get("/fhir/metadata");
  request.method(http::verb::head);
  client.Send(request);
  const Response response = client.Receive(/*head=*/true);
  CHECK(response.result() == http::status::method_not_allowed);
  CHECK(response.body().empty());
  CHECK(Header(response, http::field::content_length) != "0");
  client.Send(Get("/fhir/metadata"));  // nothing stray is left on the connection
  CHECK(client.Receive().result() == http::status::ok);
}

TEST_CASE("HttpServer turns a handler exception into 500") {
  CaptureStderr capture;
  const auto server = StartServer(
      TestConfig(), [](const Request&) -> Response { throw std::runtime_error("boom"); });
  Client client(server->port());
  client.Send(Get("/fhir/metadata"));
  const Response response = client.Receive();
  CHECK(response.result() == http::status::internal_server_error);
  CHECK(IssueCode(response) == "exception");
  CHECK(response.body().find("boom") == std::string::npos);  // internals stay in the log
  CHECK(capture.Text().find("boom") != std::string::npos);
}

// Creates, updates, patches and deletes of a usual size run on write fibers; Bundles, POST
// _search and large bodies on threads of their own, reads on the I/O threads.
TEST_CASE("HttpServer runs single-resource writes on fibers, and the other requests not") {
  auto server = StartServer(TestConfig(), [](const Request& request) {
    Response response(http::status::ok, request.version());
    response.body() = storage::CurrentSuspendable() != nullptr ? "fiber" : "thread";
    response.prepare_payload();
    return response;
  });
  Client client(server->port());
  const auto where = [&client](http::verb method, std::string_view target, std::size_t body) {
    Request request(method, beast::string_view(target.data(), target.size()), 11);
    request.set(http::field::host, "127.0.0.1");
    request.body() = std::string(body, 'x');
    request.prepare_payload();
    client.Send(request);
    const Response response = client.Receive();
    REQUIRE(response.result() == http::status::ok);
    return response.body();
  };
  CHECK(where(http::verb::post, "/fhir/Patient", 100) == "fiber");
  CHECK(where(http::verb::put, "/fhir/Patient/a", 100) == "fiber");
  CHECK(where(http::verb::put, "/fhir/Patient?identifier=s|1", 100) == "fiber");
  CHECK(where(http::verb::patch, "/fhir/Patient/a", 100) == "fiber");
  CHECK(where(http::verb::delete_, "/fhir/Patient/a", 0) == "fiber");
  CHECK(where(http::verb::post, "/fhir", 100) == "thread");
  CHECK(where(http::verb::post, "/fhir/", 100) == "thread");
  CHECK(where(http::verb::post, "/fhir/Patient/_search", 100) == "thread");
  CHECK(where(http::verb::post, "/fhir/Patient/%5Fsearch?x=1", 100) == "thread");
  CHECK(where(http::verb::post, "/fhir/_search", 100) == "thread");
  CHECK(where(http::verb::post, "/fhir/Patient", 300 * 1024) == "thread");
  CHECK(where(http::verb::put, "/fhir/Patient/a", 300 * 1024) == "thread");
  CHECK(where(http::verb::get, "/fhir/Patient/a", 0) == "thread");
}

TEST_CASE("HttpServer::Stop returns promptly with idle clients connected") {
  auto server = StartServer();  // read timeout 30 s, idle timeout 60 s
  Client silent(server->port());
  Client kept_alive(server->port());
  kept_alive.Send(Get("/fhir/metadata"));
  CHECK(kept_alive.Receive().result() == http::status::ok);
  std::this_thread::sleep_for(50ms);  // let the server see the silent connection

  const auto start = Clock::now();
  server->Stop();
  CHECK(Clock::now() - start < 2s);
  CHECK(silent.ServerClosed());
  CHECK(kept_alive.ServerClosed());
  server->Stop();  // idempotent
}

TEST_CASE("HttpServer::Stop lets a request in progress finish") {
  std::promise<void> entered;
  std::atomic<bool> entered_once{false};
  RequestHandler inner = FhirHandler();
  auto server = StartServer(TestConfig(), [&](const Request& request) {
    if (!entered_once.exchange(true)) entered.set_value();
    std::this_thread::sleep_for(300ms);
    return inner(request);
  });
  Client client(server->port());
  client.Send(Get("/fhir/metadata"));
  entered.get_future().wait();
  server->Stop();  // returns after the response went out
  const Response response = client.Receive();
  CHECK(response.result() == http::status::ok);
  CHECK_FALSE(response.keep_alive());
  CHECK(client.ServerClosed());
}

TEST_CASE("HttpServer closes idle connections and stalled requests after their timeouts") {
  Config config = TestConfig();
  config.read_timeout_seconds = 1;
  config.idle_timeout_seconds = 1;
  const auto server = StartServer(config);

  Client idle(server->port());
  idle.Send(Get("/fhir/metadata"));
  CHECK(idle.Receive().result() == http::status::ok);
  Client stalled(server->port());
  stalled.SendRaw("GET /fhir/metadata HTTP/1.1\r\nHost: x\r\n");  // never finished

  const auto start = Clock::now();
  CHECK(idle.ServerClosed());
  CHECK(stalled.ServerClosed());
  CHECK(Clock::now() - start < 5s);
}

TEST_CASE("HttpServer reports a port it cannot bind") {
  const auto first = StartServer();
  Config config = TestConfig();
  config.port = first->port();
  HttpServer second(config, FhirHandler());
  const std::optional<std::string> error = second.Start();
  REQUIRE(error.has_value());
  CHECK(error->find("cannot bind 127.0.0.1:" + std::to_string(first->port())) != std::string::npos);
}

TEST_CASE("HttpServer writes one JSON access log line per request") {
  CaptureStderr capture;
  Config config = TestConfig();
  config.access_log = true;
  auto server = StartServer(config);
  {
    Client client(server->port());
    client.Send(Get("/fhir/metadata?name=secret"));
    CHECK(client.Receive().result() == http::status::ok);
  }
  server->Stop();  // joins the threads, so the line is written
  const std::string text = capture.Text();
  REQUIRE(!text.empty());
  CHECK(text.back() == '\n');
  CHECK(text.find('\n') == text.size() - 1);  // exactly one line
  rapidjson::Document doc;
  doc.Parse(text.c_str());
  REQUIRE_MESSAGE(!doc.HasParseError(), text);
  CHECK(std::string(doc["method"].GetString()) == "GET");
  CHECK(std::string(doc["path"].GetString()) == "/fhir/metadata");  // no query
  CHECK(doc["status"].GetInt() == 200);
  CHECK(doc["duration_ms"].IsNumber());
  CHECK(doc["duration_ms"].GetDouble() >= 0.0);
}

}  // namespace
}  // namespace server
