// A write acknowledged to the client survives kill -9 of the server: a child process serves
// HTTP on the SQLite store, the test writes over HTTP, kills the child with SIGKILL right after
// the 201, reopens the file and reads the resource back.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <thread>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <doctest/doctest.h>

#include "server/capability.h"
#include "server/config.h"
#include "server/handler.h"
#include "server/http_server.h"
#include "server/rest_service.h"
#include "storage/sqlite/sqlite_store.h"

namespace {

namespace http = boost::beast::http;

[[noreturn]] void ServeInChild(const std::string& db, int ready_fd) {
  storage::sqlite::SqliteOptions options;
  options.path = db;
  auto store = storage::sqlite::OpenSqliteStore(options);
  if (!store.ok()) _exit(3);
  server::Config config;
  config.port = 0;
  config.threads = 2;
  config.access_log = false;
  std::unique_ptr<server::Handler> handler;
  server::HttpServer http_server(config,
                                 [&handler](const server::Request& r) { return handler->Handle(r); });
  if (http_server.Listen()) _exit(4);
  server::RestService rest(*store.value(), server::RestService::Options{"http://127.0.0.1/fhir"});
  handler = std::make_unique<server::Handler>(server::HandlerOptions{"/fhir", "{}", &rest});
  if (http_server.Start()) _exit(5);
  std::uint16_t port = http_server.port();
  if (write(ready_fd, &port, sizeof port) != sizeof port) _exit(6);
  while (true) pause();
}

int Put(std::uint16_t port, const std::string& target, const std::string& body) {
  boost::asio::io_context ioc;
  boost::beast::tcp_stream stream(ioc);
  stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req(http::verb::put, target, 11);
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::content_type, "application/fhir+json");
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  return static_cast<int>(res.result_int());
}

}  // namespace

TEST_CASE("an acknowledged write survives kill -9 of the server") {
  std::string db = (std::filesystem::temp_directory_path() /
                    ("durability_" + std::to_string(getpid()) + ".db"))
                       .string();
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    close(fds[0]);
    ServeInChild(db, fds[1]);
  }
  close(fds[1]);
  std::uint16_t port = 0;
  REQUIRE(read(fds[0], &port, sizeof port) == sizeof port);
  close(fds[0]);

  constexpr int kWrites = 20;
  for (int i = 0; i < kWrites; ++i) {
    std::string id = "d" + std::to_string(i);
    CHECK(Put(port, "/fhir/Patient/" + id,
              R"({"resourceType":"Patient","id":")" + id + R"(","active":true})") == 201);
  }
  REQUIRE(kill(child, SIGKILL) == 0);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));

  storage::sqlite::SqliteOptions options;
  options.path = db;
  {
    auto store = storage::sqlite::OpenSqliteStore(options);
    REQUIRE(store.ok());
    for (int i = 0; i < kWrites; ++i) {
      auto v = store.value()->ReadCurrent("Patient", "d" + std::to_string(i));
      REQUIRE(v.ok());
      CHECK(v->version == 1);
      CHECK(v->json.find("\"active\":true") != std::string::npos);
    }
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix);
}
