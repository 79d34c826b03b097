// fhir-ref-server: the reference of the REST read benchmark (tools/bench/rest_bench.sh). A minimal
// Boost.Beast HTTP/1.1 server that answers every request with one fixed response: the bytes our
// server sent for a read, captured to a file (`curl -si URL > FILE`). Same library, same thread
// count, same keep-alive loop, and a fresh Date header per response as ours has; everything
// else (routing, storage, JSON) is left out, so its requests/s is the physical limit of the
// HTTP path on this machine.
//
// Usage: fhir-ref-server --response FILE [--port N] [--threads N]
// Prints "listening on PORT" on stdout once accepting; runs until SIGINT or SIGTERM.
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>  // before any Asio header (STYLE.md)
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Response = http::response<http::string_body>;

std::string HttpDate() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[64];
  const size_t length = std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &utc);
  return std::string(text, length);
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const Response& canned)
      : stream_(std::move(socket)), canned_(canned) {}

  void Read() {
    parser_.emplace();
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());  // whole Synthea bundles
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

 private:
  void OnRead(beast::error_code ec, size_t /*bytes*/) {
    if (ec) return Close();
    response_ = canned_;
    response_.set(http::field::date, HttpDate());
    response_.keep_alive(parser_->get().keep_alive());
    http::async_write(stream_, response_,
                      beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, size_t /*bytes*/) {
    if (ec || !response_.keep_alive()) return Close();
    Read();
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  const Response& canned_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Response response_;
};

class Listener {
 public:
  Listener(net::io_context& ioc, tcp::acceptor& acceptor, const Response& canned)
      : ioc_(ioc), acceptor_(acceptor), canned_(canned) {}

  void Accept() {
    acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket s) {
      if (!ec) std::make_shared<Session>(std::move(s), canned_)->Read();
      if (acceptor_.is_open()) Accept();
    });
  }

 private:
  net::io_context& ioc_;
  tcp::acceptor& acceptor_;
  const Response& canned_;
};

// Parses a raw HTTP response (status line, headers, body) as curl -si writes it.
bool LoadResponse(const std::string& path, Response& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream text;
  text << in.rdbuf();
  const std::string raw = text.str();
  http::response_parser<http::string_body> parser;
  parser.eager(true);
  beast::error_code ec;
  parser.put(net::buffer(raw), ec);
  if (ec || !parser.is_done()) return false;
  out = parser.release();
  out.erase(http::field::date);
  out.erase(http::field::connection);
  out.prepare_payload();
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string response_path;
  unsigned short port = 0;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (flag == "--response") {
      response_path = argv[i + 1];
    } else if (flag == "--port") {
      port = static_cast<unsigned short>(std::atoi(argv[i + 1]));
    } else if (flag == "--threads") {
      threads = std::max(1, std::atoi(argv[i + 1]));
    } else {
      std::cerr << "fhir-ref-server: unknown flag " << flag << "\n";
      return 2;
    }
  }
  Response canned;
  if (response_path.empty() || !LoadResponse(response_path, canned)) {
    std::cerr << "usage: fhir-ref-server --response FILE [--port N] [--threads N]\n"
                 "FILE must hold one complete HTTP response (curl -si URL > FILE)\n";
    return 2;
  }
  try {
    net::io_context ioc(threads);
    tcp::acceptor acceptor(net::make_strand(ioc),
                           tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    Listener listener(ioc, acceptor, canned);
    listener.Accept();
    net::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](beast::error_code, int) { ioc.stop(); });
    std::cout << "listening on " << acceptor.local_endpoint().port() << std::endl;
    std::vector<std::thread> workers;
    for (int i = 1; i < threads; ++i) workers.emplace_back([&ioc] { ioc.run(); });
    ioc.run();
    for (std::thread& worker : workers) worker.join();
  } catch (const std::exception& e) {
    std::cerr << "fhir-ref-server: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
