#include "server/http_server.h"

#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>  // before any Asio header (STYLE.md)
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "server/operation_outcome.h"
#include "server/session_stream.h"
#include "server/tls_context.h"
#include "server/write_fibers.h"

namespace server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunk = 16 * 1024;
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(50);

class Session;

// Live sessions, so that Stop() can reach the idle ones.
class SessionRegistry {
 public:
  void Add(Session* session, std::weak_ptr<Session> handle) {
    std::lock_guard<std::mutex> lock(mutex_);
    sessions_.emplace(session, std::move(handle));
  }
  void Remove(Session* session) {
    std::lock_guard<std::mutex> lock(mutex_);
    sessions_.erase(session);
  }
  std::vector<std::shared_ptr<Session>> Live() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::shared_ptr<Session>> live;
    for (const auto& [session, handle] : sessions_) {
      if (std::shared_ptr<Session> locked = handle.lock()) live.push_back(std::move(locked));
    }
    return live;
  }

 private:
  std::mutex mutex_;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;
};

// The access log's lines wait in memory and go to stderr in batches, one write(2) each, from
// a thread of their own: a write per request cost the I/O threads a system call (5% of a read).
// A batch is written kFlushDelay after its first line, and Flush() writes what is pending.
class AccessLog {
 public:
  AccessLog() : thread_([this] { Run(); }) {}
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;
  ~AccessLog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
    Flush();
  }

  void Add(std::string_view line) {
    bool first;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      first = pending_.empty();
      pending_ += line;
    }
    if (first) cv_.notify_one();
  }

  // Writes the pending lines now (after those being written), in order.
  void Flush() {
    std::lock_guard<std::mutex> write_lock(write_mutex_);
    std::string batch;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      batch.swap(pending_);
    }
    if (!batch.empty()) std::fwrite(batch.data(), 1, batch.size(), stderr);
  }

 private:
  static constexpr auto kFlushDelay = std::chrono::milliseconds(50);

  void Run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_) {
      cv_.wait(lock, [this] { return stop_ || !pending_.empty(); });
      cv_.wait_for(lock, kFlushDelay, [this] { return stop_; });  // lets the batch grow
      lock.unlock();
      Flush();
      lock.lock();
    }
  }

  std::mutex write_mutex_;  // held while a batch is taken and written, so batches keep order
  std::mutex mutex_;
  std::condition_variable cv_;
  std::string pending_;  // guarded by mutex_
  bool stop_ = false;    // guarded by mutex_
  std::thread thread_;
};

// What every session shares; owned by HttpServer::Impl, which outlives all sessions.
struct ServerState {
  Config config;
  RequestHandler handler;
  std::shared_ptr<net::ssl::context> tls;  // HTTPS when set (config.TlsEnabled())
  std::atomic<bool> stopping{false};
  SessionRegistry registry;
  std::unique_ptr<AccessLog> access_log;  // with config.access_log
  // Runs single-resource writes (config.write_fiber_threads).
  std::unique_ptr<WriteFibers> write_fibers;
  // Runs the other requests but GET and HEAD: Bundles, POST _search, large bodies
  // (config.write_threads).
  std::unique_ptr<net::thread_pool> write_pool;
};

std::string_view ToStd(beast::string_view text) { return {text.data(), text.size()}; }

// Bodies up to this size are written on a fiber; larger ones on a thread of their own: a fiber
// runs until it waits, and parsing a body of megabytes would hold up the other writes of its
// thread (and the write gate, when it is handed to one of them meanwhile).
constexpr std::size_t kMaxFiberBody = 256 * 1024;

// A write of one resource (create, update, patch, delete) of a usual size: not a Bundle (POST to
// the base) nor a POST _search, which may wait on other writers with their thread blocked.
bool SingleResourceWrite(const Request& request, std::string_view base_path) {
  if (request.body().size() > kMaxFiberBody) return false;
  if (request.method() != http::verb::post) return true;
  std::string_view path = ToStd(request.target());
  path = path.substr(0, path.find('?'));
  if (!path.starts_with(base_path)) return true;  // answered 404 at once
  path.remove_prefix(base_path.size());
  while (path.starts_with('/')) path.remove_prefix(1);
  while (path.ends_with('/')) path.remove_suffix(1);
  if (path.empty()) return false;
  if (!path.ends_with("search")) return true;
  path.remove_suffix(std::string_view("search").size());
  // Segments are percent-decoded later: `%5F` is `_`.
  return !path.ends_with('_') && !path.ends_with("%5F") && !path.ends_with("%5f");
}

// IMF-fixdate (RFC 9110 section 5.6.7), which HTTP/1.1 origin servers must send as Date.
// Formatted once per second and thread.
const std::string& HttpDate() {
  thread_local std::time_t cached_second = -1;
  thread_local std::string cached;
  const std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm utc{};
    gmtime_r(&now, &utc);
    char text[64];
    const size_t length = std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &utc);
    cached.assign(text, length);
    cached_second = now;
  }
  return cached;
}

void WriteNullableString(rapidjson::Writer<rapidjson::StringBuffer>& writer,
                         std::string_view text) {
  if (text.empty()) {
    writer.Null();
    return;
  }
  const std::string valid = SanitizeUtf8(text);
  writer.String(valid.data(), static_cast<rapidjson::SizeType>(valid.size()));
}

// One JSON line per response.
void LogAccess(AccessLog& log, std::string_view method, std::string_view target, unsigned status,
               Clock::duration elapsed) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.SetMaxDecimalPlaces(3);
  writer.StartObject();
  writer.Key("method");
  WriteNullableString(writer, method);
  writer.Key("path");
  WriteNullableString(writer, target.substr(0, target.find('?')));
  writer.Key("status");
  writer.Uint(status);
  writer.Key("duration_ms");
  writer.Double(std::chrono::duration<double, std::milli>(elapsed).count());
  writer.EndObject();
  buffer.Put('\n');
  log.Add(std::string_view(buffer.GetString(), buffer.GetSize()));
}

// One connection, shaped like Beast's advanced_server session: all its handlers run on its
// strand, and the handlers in flight own it through shared_from_this().
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, ServerState& state)
      : stream_(std::move(socket), state.tls.get()), state_(state) {}
  ~Session() { state_.registry.Remove(this); }

  void Start() {
    state_.registry.Add(this, weak_from_this());
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::Handshake, shared_from_this()));
  }

  // Posted by HttpServer::Stop(). A connection between requests is closed now; one with a
  // request in progress closes after answering it (AwaitRequest sees `stopping`).
  void PostStop() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->phase_ != Phase::kBusy) self->stream_.close();
    });
  }

 private:
  enum class Phase { kIdle, kBusy, kLingering };

  std::chrono::seconds ReadTimeout() const {
    return std::chrono::seconds(state_.config.read_timeout_seconds);
  }

  // TLS sessions start with the handshake, within the read timeout.
  void Handshake() {
    if (!stream_.is_tls()) return AwaitRequest();
    stream_.expires_after(ReadTimeout());
    stream_.AsyncHandshake(beast::bind_front_handler(&Session::OnHandshake, shared_from_this()));
  }

  void OnHandshake(beast::error_code ec) {
    if (ec) return Close();  // wrong protocol version, no shared cipher, not TLS at all, ...
    AwaitRequest();
  }

  // Waits for the first byte of the next request under the idle timeout (the read timeout on
  // a new connection), so that the read timeout can then bound the whole request.
  void AwaitRequest() {
    if (state_.stopping) return Close();
    if (buffer_.size() > 0) return ReadRequest();  // a pipelined request is already here
    phase_ = Phase::kIdle;
    stream_.expires_after(
        first_request_ ? ReadTimeout() : std::chrono::seconds(state_.config.idle_timeout_seconds));
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            beast::bind_front_handler(&Session::OnFirstBytes, shared_from_this()));
  }

  void OnFirstBytes(beast::error_code ec, size_t bytes) {
    if (ec) return Close();  // the client left, timed out, or Stop() closed us
    buffer_.commit(bytes);
    ReadRequest();
  }

  void ReadRequest() {
    phase_ = Phase::kBusy;
    first_request_ = false;
    started_ = Clock::now();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(state_.config.max_header_bytes));
    parser_->body_limit(static_cast<std::uint64_t>(state_.config.max_body_bytes));
    stream_.expires_after(ReadTimeout());
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  // An HTTP/1.1 client that sent "Expect: 100-continue" waits for an interim 100 (Continue)
  // before it sends the body (curl does for bodies over 1 MiB, then gives up waiting after a
  // second). A body over the limit was refused already (413 from OnRead, no 100).
  void OnHeader(beast::error_code ec, size_t bytes) {
    if (ec || parser_->is_done()) return OnRead(ec, bytes);
    const Request& request = parser_->get();
    if (request.version() >= 11 && beast::iequals(request[http::field::expect], "100-continue")) {
      interim_.emplace(http::status::continue_, request.version());
      return http::async_write(
          stream_, *interim_,
          beast::bind_front_handler(&Session::OnContinueSent, shared_from_this()));
    }
    ReadBody();
  }

  void OnContinueSent(beast::error_code ec, size_t /*bytes*/) {
    interim_.reset();
    if (ec) return Close();
    ReadBody();
  }

  void ReadBody() {
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t /*bytes*/) {
    if (ec == http::error::body_limit) {
      return Reject(http::status::payload_too_large,
                    "The request body exceeds the limit of " +
                        std::to_string(state_.config.max_body_bytes) + " bytes");
    }
    if (ec == http::error::header_limit) {
      return Reject(http::status::request_header_fields_too_large,
                    "The request line and header fields exceed the limit of " +
                        std::to_string(state_.config.max_header_bytes) + " bytes");
    }
    if (ec && ec.category() == http::make_error_code(http::error::bad_target).category() &&
        ec != http::error::partial_message && ec != http::error::end_of_stream) {
      return Reject(http::status::bad_request, "Malformed HTTP request: " + ec.message());
    }
    if (ec) return Close();  // timeout, reset, or the client left mid-request: nobody to answer

    const http::verb method = parser_->get().method();
    if (method == http::verb::get || method == http::verb::head) {
      return Answer(CallHandler(parser_->get()));
    }
    // A write waits for its group commit on a write fiber or thread; the work guard keeps the
    // I/O threads running (a graceful stop included) until the answer is posted back.
    auto write = [self = shared_from_this(), guard = net::make_work_guard(stream_.get_executor())] {
      Response response = self->CallHandler(self->parser_->get());
      net::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        self->Answer(std::move(response));
      });
    };
    if (SingleResourceWrite(parser_->get(), state_.config.base_path)) {
      state_.write_fibers->Spawn(std::move(write));
    } else {
      net::post(*state_.write_pool, std::move(write));
    }
  }

  void Answer(Response response) {
    // Read `stopping` after the handler: a Stop() meanwhile must still end this connection.
    const bool keep_alive = parser_->get().keep_alive() && !state_.stopping;
    Send(std::move(response), keep_alive, /*linger=*/false);
  }

  Response CallHandler(const Request& request) {
    // Exceptions stop at this edge (STYLE.md): the client gets a 500, the log the reason.
    try {
      return state_.handler(request);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "fhir-server: handler failed: %s\n", e.what());
    } catch (...) {
      std::fprintf(stderr, "fhir-server: handler failed\n");
    }
    return OutcomeResponse(http::status::internal_server_error, request.version(),
                           fhir::IssueType::kException, "Internal server error");
  }

  // Answers a request that could not be read whole. The rest of it is still arriving, so the
  // connection cannot be reused and is closed after lingering (see Linger()).
  void Reject(http::status status, const std::string& diagnostics) {
    const fhir::IssueType type = status == http::status::bad_request ? fhir::IssueType::kStructure
                                                                     : fhir::IssueType::kTooLong;
    Send(OutcomeResponse(status, parser_->get().version(), type, diagnostics),
         /*keep_alive=*/false, /*linger=*/true);
  }

  void Send(Response response, bool keep_alive, bool linger) {
    response.keep_alive(keep_alive);
    response.set(http::field::date, HttpDate());
    if (parser_->get().method() == http::verb::head) response.body().clear();  // keeps length
    response_ = std::move(response);
    stream_.expires_after(ReadTimeout());
    http::async_write(
        stream_, response_,
        beast::bind_front_handler(&Session::OnWrite, shared_from_this(), keep_alive, linger));
  }

  void OnWrite(bool keep_alive, bool linger, beast::error_code ec, size_t /*bytes*/) {
    if (state_.access_log) {
      const Request& request = parser_->get();
      LogAccess(*state_.access_log, ToStd(request.method_string()), ToStd(request.target()),
                response_.result_int(), Clock::now() - started_);
    }
    response_ = {};
    if (ec) return Close();
    if (linger) return Linger();
    if (!keep_alive) return Close();
    AwaitRequest();
  }

  // Closing a socket with unread input makes TCP send a reset, which can destroy the error
  // response before the client reads it. So, like nginx's lingering close, stop sending and
  // discard input until the client closes or the read timeout passes.
  void Linger() {
    phase_ = Phase::kLingering;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(ReadTimeout());
    Discard();
  }

  void Discard() {
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            beast::bind_front_handler(&Session::OnDiscarded, shared_from_this()));
  }

  void OnDiscarded(beast::error_code ec, size_t /*bytes*/) {
    if (ec) return Close();
    Discard();
  }

  // Sends FIN; the socket itself closes when the last handler releases this session.
  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  SessionStream stream_;
  ServerState& state_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Response response_;  // alive until its async_write completes
  std::optional<http::response<http::empty_body>> interim_;  // 100 Continue, while it is sent
  Phase phase_ = Phase::kIdle;
  bool first_request_ = true;
  Clock::time_point started_;
};

}  // namespace

struct HttpServer::Impl {
  Impl(Config config, RequestHandler handler)
      : threads(config.threads > 0
                    ? config.threads
                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))),
        ioc(threads) {
    state.config = std::move(config);
    state.handler = std::move(handler);
    if (state.config.access_log) state.access_log = std::make_unique<AccessLog>();
    state.write_pool = std::make_unique<net::thread_pool>(
        static_cast<std::size_t>(std::max(1, state.config.write_threads)));
    state.write_fibers = std::make_unique<WriteFibers>(state.config.write_fiber_threads);
  }

  void Accept() {
    acceptor->async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (state.stopping) return;
      if (!ec) {
        std::make_shared<Session>(std::move(socket), state)->Start();
        return Accept();
      }
      // Out of descriptors and the like: retry later rather than spin.
      std::fprintf(stderr, "fhir-server: accept failed: %s\n", ec.message().c_str());
      retry_timer->expires_after(kAcceptRetryDelay);
      retry_timer->async_wait([this](beast::error_code) {
        if (!state.stopping) Accept();
      });
    });
  }

  void Run() {
    while (true) {
      try {
        ioc.run();
        return;
      } catch (const std::exception& e) {
        std::fprintf(stderr, "fhir-server: I/O thread caught: %s\n", e.what());
      }
    }
  }

  // Members die in reverse order: the acceptor and timer before `ioc`, and `ioc`, whose
  // destructor destroys the sessions its queue still holds, before the `state` they use.
  ServerState state;
  const int threads;
  std::mutex lifecycle_mutex;
  std::vector<std::thread> workers;
  bool started = false;
  bool stopped = false;
  uint16_t port = 0;
  net::io_context ioc;
  std::optional<tcp::acceptor> acceptor;  // and the timer share one strand
  std::optional<net::steady_timer> retry_timer;
};

HttpServer::HttpServer(Config config, RequestHandler handler)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(handler))) {}

HttpServer::~HttpServer() { Stop(); }

uint16_t HttpServer::port() const { return impl_->port; }

std::optional<std::string> HttpServer::Listen() {
  Impl& impl = *impl_;
  if (impl.acceptor) return std::nullopt;
  const Config& config = impl.state.config;
  const std::string where = config.host + ":" + std::to_string(config.port);
  beast::error_code ec;
  tcp::resolver resolver(impl.ioc);
  const auto endpoints =
      resolver.resolve(config.host, std::to_string(config.port),
                       tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || endpoints.empty()) return "cannot resolve " + where + ": " + ec.message();
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  if (config.TlsEnabled() && !impl.state.tls) {
    std::string error;
    impl.state.tls = MakeTlsServerContext(config.tls_cert_path, config.tls_key_path, error);
    if (!impl.state.tls) return error;
  }

  // The acceptor's handlers run on a strand so that Stop() can close it from another thread.
  tcp::acceptor acceptor(net::make_strand(impl.ioc));
  if (acceptor.open(endpoint.protocol(), ec); ec) return "cannot open socket: " + ec.message();
  if (acceptor.set_option(net::socket_base::reuse_address(true), ec); ec) {
    return "cannot set SO_REUSEADDR: " + ec.message();
  }
  if (acceptor.bind(endpoint, ec); ec) return "cannot bind " + where + ": " + ec.message();
  if (acceptor.listen(net::socket_base::max_listen_connections, ec); ec) {
    return "cannot listen on " + where + ": " + ec.message();
  }
  impl.port = acceptor.local_endpoint(ec).port();
  impl.retry_timer.emplace(acceptor.get_executor());
  impl.acceptor.emplace(std::move(acceptor));
  return std::nullopt;
}

std::optional<std::string> HttpServer::Start() {
  Impl& impl = *impl_;
  std::lock_guard<std::mutex> lock(impl.lifecycle_mutex);
  if (impl.started || impl.stopped) return "the server was already started or stopped";
  if (std::optional<std::string> error = Listen()) return error;
  impl.started = true;
  impl.Accept();
  for (int i = 0; i < impl.threads; ++i) impl.workers.emplace_back([&impl] { impl.Run(); });
  return std::nullopt;
}

void HttpServer::Stop() {
  Impl& impl = *impl_;
  std::lock_guard<std::mutex> lock(impl.lifecycle_mutex);
  if (impl.stopped) return;
  impl.stopped = true;
  impl.state.stopping = true;
  if (impl.acceptor) {
    // Closing on the acceptor's strand cancels the pending accept without racing it.
    net::post(impl.acceptor->get_executor(), [&impl] {
      beast::error_code ignored;
      impl.acceptor->close(ignored);
      impl.retry_timer->cancel();
    });
  }
  // Sessions that register after this read `stopping` before they wait for a request.
  for (const std::shared_ptr<Session>& session : impl.state.registry.Live()) session->PostStop();
  if (!impl.started) impl.ioc.run();  // runs the close posted above
  for (std::thread& worker : impl.workers) worker.join();
  impl.workers.clear();
  impl.state.write_pool->join();  // idle by now: each write held the I/O threads' work guard
  impl.state.write_fibers->Join();
  if (impl.state.access_log) impl.state.access_log->Flush();
}

}  // namespace server
