#include "server/config.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>
#include <string>
#include <utility>  // before any Asio header (STYLE.md)

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace server {
namespace {

// Why a value was rejected, without naming its source; nullopt when it was accepted.
using Error = std::optional<std::string>;

// Parses a whole decimal number in [min, max]; from_chars rejects signs and spaces for us.
Error ParseNumber(std::string_view text, uint64_t min, uint64_t max, uint64_t& out) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || value < min || value > max) {
    return "expected a whole number from " + std::to_string(min) + " to " + std::to_string(max);
  }
  out = value;
  return std::nullopt;
}

template <class T>
Error SetNumber(std::string_view text, uint64_t min, uint64_t max, T& field) {
  uint64_t value = 0;
  if (Error error = ParseNumber(text, min, max, value)) return error;
  field = static_cast<T>(value);  // in range: max fits T by construction of the table
  return std::nullopt;
}

// RFC 3986 pchar plus '/': what a base path may contain, so it can be compared with request
// targets byte for byte.
bool IsPathChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("-._~!$&'()*+,;=:@%/").find(c) != std::string_view::npos;
}

Error SetBasePath(std::string_view path, Config& config) {
  for (char c : path) {
    if (!IsPathChar(c)) return "the path may not contain '" + std::string(1, c) + "'";
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  config.base_path = std::string(path);
  return std::nullopt;
}

bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    const char c = text[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) != prefix[i]) return false;
  }
  return true;
}

// "/fhir" sets the path only; "https://example.org/fhir" also sets the URL the server
// advertises (behind a proxy it differs from the address it binds).
Error SetBaseUrl(std::string_view value, Config& config) {
  if (!value.empty() && value.front() == '/') {
    config.public_base_url.clear();
    return SetBasePath(value, config);
  }
  size_t scheme_end = 0;
  if (StartsWithNoCase(value, "http://")) scheme_end = 7;
  if (StartsWithNoCase(value, "https://")) scheme_end = 8;
  if (scheme_end == 0) return "expected a path starting with '/' or an http(s):// URL";
  const size_t path_start = value.find('/', scheme_end);
  const std::string_view authority = value.substr(scheme_end, path_start - scheme_end);
  if (authority.empty() || authority.find_first_of("?# ") != std::string_view::npos) {
    return "the URL has no valid host";
  }
  const std::string_view path =
      path_start == std::string_view::npos ? std::string_view() : value.substr(path_start);
  if (Error error = SetBasePath(path, config)) return error;
  config.public_base_url =
      std::string(value.substr(0, scheme_end)) + std::string(authority) + config.base_path;
  return std::nullopt;
}

Error SetBool(std::string_view text, bool& field) {
  if (text == "on" || text == "true" || text == "1") {
    field = true;
  } else if (text == "off" || text == "false" || text == "0") {
    field = false;
  } else {
    return "expected on or off";
  }
  return std::nullopt;
}

Error SetString(std::string_view text, std::string_view what, std::string& field) {
  if (text.empty()) return "expected " + std::string(what);
  field = std::string(text);
  return std::nullopt;
}

Error SetUrl(std::string_view text, std::string& field) {
  if (!StartsWithNoCase(text, "https://") && !StartsWithNoCase(text, "http://")) {
    return "expected an http(s):// URL";
  }
  field = std::string(text);
  return std::nullopt;
}

// Settings that are wrong only together.
Error CheckCombination(const Config& config) {
  if (config.tls_cert_path.empty() != config.tls_key_path.empty()) {
    return "--tls-cert and --tls-key must be given together";
  }
  if (config.AuthEnabled() && config.jwks_path.empty() && config.jwt_secret.empty()) {
    return "--jwt-issuer and --jwt-audience need --jwks or --jwt-secret to verify tokens with";
  }
  return std::nullopt;
}

// A flag without a value (metavar ""): "--insecure" alone means on.
struct Option {
  std::string_view flag;
  std::string_view env;
  std::string_view metavar;
  std::string_view help;
  Error (*set)(std::string_view value, Config& config);
  std::string (*show)(const Config& config);  // the value as --help prints the default
};

// One row per setting: flags, variables and --help all come from here, so they cannot drift.
const std::array<Option, 24>& Options() {
  static const std::array<Option, 24> options = {{
      {"--host", "FHIR_HOST", "HOST", "address or host name to listen on",
       [](std::string_view v, Config& c) -> Error {
         if (v.empty()) return "expected an address or host name";
         c.host = std::string(v);
         return std::nullopt;
       },
       [](const Config& c) { return c.host; }},
      {"--port", "FHIR_PORT", "PORT", "TCP port; 0 picks a free one",
       [](std::string_view v, Config& c) { return SetNumber(v, 0, 65535, c.port); },
       [](const Config& c) { return std::to_string(c.port); }},
      {"--base-url", "FHIR_BASE_URL", "URL",
       "base path (/fhir), or full base URL (https://host/fhir) to advertise", SetBaseUrl,
       [](const Config& c) { return c.base_path; }},
      {"--db", "FHIR_DB", "FILE", "SQLite database file, created if missing",
       [](std::string_view v, Config& c) -> Error {
         if (v.empty()) return "expected a file name";
         c.db_path = std::string(v);
         return std::nullopt;
       },
       [](const Config& c) { return c.db_path; }},
      {"--sync", "FHIR_SYNC", "normal|full",
       "durability of commits: normal survives a server crash, full also a power loss",
       [](std::string_view v, Config& c) -> Error {
         if (v != "normal" && v != "full") return "expected normal or full";
         c.sync_full = v == "full";
         return std::nullopt;
       },
       [](const Config& c) { return std::string(c.sync_full ? "full" : "normal"); }},
      {"--threads", "FHIR_THREADS", "N", "I/O threads; 0 = one per hardware thread",
       [](std::string_view v, Config& c) { return SetNumber(v, 0, 1024, c.threads); },
       [](const Config& c) { return std::to_string(c.threads); }},
      {"--write-fiber-threads", "FHIR_WRITE_FIBER_THREADS", "N",
       "threads for creates, updates, patches and deletes, each on a fiber (writes arriving "
       "together commit together)",
       [](std::string_view v, Config& c) { return SetNumber(v, 1, 256, c.write_fiber_threads); },
       [](const Config& c) { return std::to_string(c.write_fiber_threads); }},
      {"--write-threads", "FHIR_WRITE_THREADS", "N", "threads for Bundles, POST _search and bodies over 256 KiB",
       [](std::string_view v, Config& c) { return SetNumber(v, 1, 1024, c.write_threads); },
       [](const Config& c) { return std::to_string(c.write_threads); }},
      {"--max-body-bytes", "FHIR_MAX_BODY_BYTES", "N", "largest request body; more gets 413",
       [](std::string_view v, Config& c) {
         return SetNumber(v, 1, uint64_t{1} << 30, c.max_body_bytes);
       },
       [](const Config& c) { return std::to_string(c.max_body_bytes); }},
      {"--max-header-bytes", "FHIR_MAX_HEADER_BYTES", "N",
       "largest request line plus headers; more gets 431",
       [](std::string_view v, Config& c) {
         return SetNumber(v, 1024, uint64_t{1} << 20, c.max_header_bytes);
       },
       [](const Config& c) { return std::to_string(c.max_header_bytes); }},
      {"--read-timeout", "FHIR_READ_TIMEOUT", "SECONDS",
       "time to receive a request once started, and to send a response",
       [](std::string_view v, Config& c) { return SetNumber(v, 1, 3600, c.read_timeout_seconds); },
       [](const Config& c) { return std::to_string(c.read_timeout_seconds); }},
      {"--idle-timeout", "FHIR_IDLE_TIMEOUT", "SECONDS",
       "time a kept-alive connection may wait for its next request",
       [](std::string_view v, Config& c) { return SetNumber(v, 1, 3600, c.idle_timeout_seconds); },
       [](const Config& c) { return std::to_string(c.idle_timeout_seconds); }},
      {"--access-log", "FHIR_ACCESS_LOG", "on|off", "one JSON line per request on stderr",
       [](std::string_view v, Config& c) { return SetBool(v, c.access_log); },
       [](const Config& c) { return std::string(c.access_log ? "on" : "off"); }},
      {"--audit", "FHIR_AUDIT", "on|off",
       "write an AuditEvent for every interaction (server/audit)",
       [](std::string_view v, Config& c) { return SetBool(v, c.audit); },
       [](const Config& c) { return std::string(c.audit ? "on" : "off"); }},
      {"--jwks", "FHIR_JWKS", "FILE",
       "JWK Set file of RS256/ES256 public keys; turns authentication on",
       [](std::string_view v, Config& c) { return SetString(v, "a file name", c.jwks_path); },
       [](const Config& c) { return c.jwks_path; }},
      {"--jwt-secret", "FHIR_JWT_SECRET", "SECRET",
       "HS256 shared secret (prefer the variable); turns authentication on",
       [](std::string_view v, Config& c) -> Error {
         // RFC 7518 section 3.2: an HS256 key has at least as many bits as the hash.
         if (v.size() < 32) return "the secret needs at least 32 bytes (RFC 7518 section 3.2)";
         c.jwt_secret = std::string(v);
         return std::nullopt;
       },
       [](const Config&) { return std::string(); }},
      {"--jwt-issuer", "FHIR_JWT_ISSUER", "ISS",
       "required token issuer (iss); turns authentication on",
       [](std::string_view v, Config& c) { return SetString(v, "an issuer", c.jwt_issuer); },
       [](const Config& c) { return c.jwt_issuer; }},
      {"--jwt-audience", "FHIR_JWT_AUDIENCE", "AUD",
       "required token audience (aud); turns authentication on",
       [](std::string_view v, Config& c) { return SetString(v, "an audience", c.jwt_audience); },
       [](const Config& c) { return c.jwt_audience; }},
      {"--jwt-leeway", "FHIR_JWT_LEEWAY", "SECONDS", "clock skew allowed for exp and nbf",
       [](std::string_view v, Config& c) { return SetNumber(v, 0, 600, c.jwt_leeway_seconds); },
       [](const Config& c) { return std::to_string(c.jwt_leeway_seconds); }},
      {"--smart-authorize-url", "FHIR_SMART_AUTHORIZE_URL", "URL",
       "authorization endpoint to advertise (smart-configuration, capability)",
       [](std::string_view v, Config& c) { return SetUrl(v, c.smart_authorize_url); },
       [](const Config& c) { return c.smart_authorize_url; }},
      {"--smart-token-url", "FHIR_SMART_TOKEN_URL", "URL",
       "token endpoint to advertise (smart-configuration, capability)",
       [](std::string_view v, Config& c) { return SetUrl(v, c.smart_token_url); },
       [](const Config& c) { return c.smart_token_url; }},
      {"--insecure", "FHIR_INSECURE", "",
       "allow serving without authentication on a non-loopback address",
       [](std::string_view v, Config& c) { return SetBool(v, c.insecure); },
       [](const Config& c) { return std::string(c.insecure ? "on" : "off"); }},
      {"--tls-cert", "FHIR_TLS_CERT", "FILE",
       "PEM certificate (chain) for HTTPS; needs --tls-key",
       [](std::string_view v, Config& c) { return SetString(v, "a file name", c.tls_cert_path); },
       [](const Config& c) { return c.tls_cert_path; }},
      {"--tls-key", "FHIR_TLS_KEY", "FILE", "PEM private key for HTTPS; needs --tls-cert",
       [](std::string_view v, Config& c) { return SetString(v, "a file name", c.tls_key_path); },
       [](const Config& c) { return c.tls_key_path; }},
  }};
  return options;
}

const Option* FindFlag(std::string_view flag) {
  for (const Option& option : Options()) {
    if (option.flag == flag) return &option;
  }
  return nullptr;
}

// Built by appending: GCC 12 at -O2 warns falsely (-Wrestrict, its bug 105329) about
// "'" + std::string(text).
std::string Quoted(std::string_view text) {
  std::string out = "'";
  out.append(text);
  out += '\'';
  return out;
}

}  // namespace

std::optional<std::string> ProcessEnv(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());  // NOLINT(concurrency-mt-unsafe)
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

ConfigParse ParseConfig(const std::vector<std::string>& args, const EnvLookup& env) {
  ConfigParse result;
  for (const std::string& arg : args) {
    if (arg == "--help" || arg == "-h") {
      result.help = true;
      return result;
    }
  }
  for (const Option& option : Options()) {
    const std::optional<std::string> value = env(option.env);
    if (!value || value->empty()) continue;
    if (Error error = option.set(*value, result.config)) {
      result.error = std::string(option.env) + "=" + Quoted(*value) + ": " + *error;
      return result;
    }
  }
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    const size_t equals = arg.find('=');
    const std::string_view flag = arg.substr(0, equals);
    const Option* option = arg.starts_with("--") ? FindFlag(flag) : nullptr;
    if (option == nullptr) {
      result.error = "unknown argument " + Quoted(arg);
      return result;
    }
    std::string_view value;
    if (equals != std::string_view::npos) {
      value = arg.substr(equals + 1);
    } else if (option->metavar.empty()) {
      value = "on";
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      result.error = std::string(flag) + " needs a value (" + std::string(option->metavar) + ")";
      return result;
    }
    if (Error error = option->set(value, result.config)) {
      result.error = std::string(flag) + " " + Quoted(value) + ": " + *error;
      return result;
    }
  }
  if (Error error = CheckCombination(result.config)) result.error = *error;
  return result;
}

std::string Usage() {
  const Config defaults;
  std::string text =
      "Usage: fhir-server [FLAGS]\n"
      "Serves the FHIR R4 REST API over HTTP/1.1. Each flag may also be set by the variable\n"
      "named after it; a flag wins over its variable. Exit status: 0 after --help or a clean\n"
      "shutdown on SIGINT/SIGTERM, 1 if the server cannot start, 2 for a bad flag or value.\n\n";
  for (const Option& option : Options()) {
    std::string line = "  " + std::string(option.flag);
    if (!option.metavar.empty()) line += " " + std::string(option.metavar);
    line.resize(std::max<size_t>(line.size() + 1, 31), ' ');
    text += line + std::string(option.help) + "\n";
    text += std::string(31, ' ') + "env " + std::string(option.env) + ", default " +
            Quoted(option.show(defaults)) + "\n";
  }
  text += "  --help, -h                   print this text and exit\n";
  return text;
}

std::string PublicBaseUrl(const Config& config, uint16_t port) {
  if (!config.public_base_url.empty()) return config.public_base_url;
  const bool ipv6 = config.host.find(':') != std::string::npos;
  const std::string host = ipv6 ? "[" + config.host + "]" : config.host;
  return (config.TlsEnabled() ? "https://" : "http://") + host + ":" + std::to_string(port) +
         config.base_path;
}

std::optional<std::string> ExposureProblem(const Config& config, bool loopback) {
  if (loopback || config.AuthEnabled() || config.insecure) return std::nullopt;
  return "refusing to serve without authentication on " + config.host +
         ", which is not a loopback address: configure --jwks or --jwt-secret, bind " +
         "127.0.0.1, or pass --insecure to accept that anyone who can reach it reads and " +
         "writes all data";
}

std::optional<bool> IsLoopbackHost(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  const boost::asio::ip::address address = boost::asio::ip::make_address(host, ec);
  if (!ec) return address.is_loopback();
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::resolver resolver(ioc);
  const auto endpoints = resolver.resolve(host, "0", boost::asio::ip::tcp::resolver::passive, ec);
  if (ec || endpoints.empty()) return std::nullopt;
  for (const auto& entry : endpoints) {
    if (!entry.endpoint().address().is_loopback()) return false;
  }
  return true;
}

}  // namespace server
