#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace server {

// How the server runs. Every field has a flag and an environment variable; see Usage().
struct Config {
  std::string host = "127.0.0.1";   // address or name to bind
  uint16_t port = 8080;             // 0 = an ephemeral port chosen by the OS
  std::string base_path = "/fhir";  // "" (root) or "/a[/b...]" without a trailing slash
  std::string public_base_url;      // full base URL from --base-url; "" = http://host:port/base
  std::string db_path = "fhir.db";  // the SQLite file, created if missing
  // SQLite synchronous setting of the writer: false = NORMAL (an acknowledged write survives a
  // crash or kill -9 of the server), true = FULL (also a power loss or OS crash; an fsync per
  // commit).
  bool sync_full = false;
  int threads = 0;                  // io_context threads; 0 = std::thread::hardware_concurrency()
  // Threads that run single-resource writes (create, update, patch, delete), each write on a
  // fiber of its own (server/write_fibers.h): a write waits for the store's group commit, and
  // while it waits its thread runs other writes.
  int write_fiber_threads = 4;
  // Threads that run the other requests but GET and HEAD: Bundles, POST _search and bodies
  // over 256 KiB. A transaction Bundle holds the writer for its whole transaction.
  int write_threads = 32;
  // Largest request body; a larger one gets 413. Whole bodies are held in memory.
  size_t max_body_bytes = size_t{16} << 20;
  // Largest request line plus header fields, in total; more gets 431. 16 KiB (Node.js's
  // default) leaves room for a bearer JWT, which 8 KiB does not always.
  size_t max_header_bytes = size_t{16} << 10;
  // Time allowed to receive one whole request once its first byte arrived (and for the first
  // byte on a new connection), and to send one response.
  int read_timeout_seconds = 30;
  int idle_timeout_seconds = 60;  // time a kept-alive connection may wait for its next request
  bool access_log = true;         // one JSON line per request on stderr
  // An AuditEvent for every interaction, written in batches by a background thread
  // (server/audit/audit.h).
  bool audit = true;

  // Authentication (server/auth): giving any of jwks_path, jwt_secret, jwt_issuer or
  // jwt_audience turns it on; then every request below the base but metadata and
  // .well-known/smart-configuration needs a valid bearer token.
  std::string jwks_path;     // JWK Set file with the RS256/ES256 public keys
  std::string jwt_secret;    // HS256 shared secret
  std::string jwt_issuer;    // required `iss`, when set
  std::string jwt_audience;  // required in `aud`, when set
  int jwt_leeway_seconds = 60;  // clock skew allowed for `exp` and `nbf`
  std::string smart_authorize_url;  // published in smart-configuration and the capability
  std::string smart_token_url;
  // Serve without authentication on a non-loopback address (refused otherwise).
  bool insecure = false;
  // HTTPS: both or neither. PEM files; the certificate file may hold the chain.
  std::string tls_cert_path;
  std::string tls_key_path;

  bool AuthEnabled() const {
    return !jwks_path.empty() || !jwt_secret.empty() || !jwt_issuer.empty() ||
           !jwt_audience.empty();
  }
  bool TlsEnabled() const { return !tls_cert_path.empty(); }
};

// The value of environment variable `name`, or nullopt when it is unset.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// Looks `name` up in the process environment (std::getenv).
std::optional<std::string> ProcessEnv(std::string_view name);

// The outcome of ParseConfig(): `error` non-empty (the caller should exit with status 2),
// else `help` (print Usage() and exit 0), else `config` is ready to use.
struct ConfigParse {
  Config config;
  bool help = false;
  std::string error;  // one line naming the flag or variable and what is wrong with it
};

// Builds a Config from defaults, then the FHIR_* variables found by `env`, then `args` (the
// command line without the program name), so flags win over the environment. Flags take their
// value as `--flag value` or `--flag=value`. An empty variable counts as unset.
ConfigParse ParseConfig(const std::vector<std::string>& args, const EnvLookup& env);

// The --help text: every flag with its variable, default and meaning.
std::string Usage();

// Why the server must not start with `config` when its address is (`loopback`) or is not a
// loopback address: authentication off on a non-loopback address needs config.insecure.
// nullopt when it may start.
std::optional<std::string> ExposureProblem(const Config& config, bool loopback);

// Whether `host` (an address or a name; "localhost" counts without a lookup) resolves to
// loopback addresses only; nullopt when it cannot be resolved.
std::optional<bool> IsLoopbackHost(const std::string& host);

// The base URL clients see: config.public_base_url if set, else "http://host:port" + base_path
// ("https://" with TLS)
// (an IPv6 host in brackets). `port` is the bound port, which differs from config.port when
// that is 0.
std::string PublicBaseUrl(const Config& config, uint16_t port);

}  // namespace server
