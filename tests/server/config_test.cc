#include "server/config.h"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>

namespace server {
namespace {

// A fake environment, so that tests neither read nor change the process's.
EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    const auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

ConfigParse Parse(const std::vector<std::string>& args,
                  std::map<std::string, std::string> vars = {}) {
  return ParseConfig(args, Env(std::move(vars)));
}

TEST_CASE("ParseConfig without arguments gives the defaults") {
  const ConfigParse parsed = Parse({});
  REQUIRE(parsed.error.empty());
  CHECK_FALSE(parsed.help);
  const Config& c = parsed.config;
  CHECK(c.host == "127.0.0.1");
  CHECK(c.port == 8080);
  CHECK(c.base_path == "/fhir");
  CHECK(c.public_base_url.empty());
  CHECK(c.db_path == "fhir.db");
  CHECK(c.threads == 0);
  CHECK(c.write_fiber_threads == 4);
  CHECK(c.write_threads == 32);
  CHECK(c.max_body_bytes == 16u * 1024 * 1024);
  CHECK(c.max_header_bytes == 16u * 1024);
  CHECK(c.read_timeout_seconds == 30);
  CHECK(c.idle_timeout_seconds == 60);
  CHECK(c.access_log);
}

TEST_CASE("ParseConfig reads every flag, as '--flag value' or '--flag=value'") {
  const ConfigParse parsed =
      Parse({"--host", "0.0.0.0", "--port=0", "--base-url", "/api/r4/", "--db", "/tmp/x.db",
             "--threads=3", "--write-fiber-threads", "2", "--write-threads=8", "--max-body-bytes",
             "1000", "--max-header-bytes=2048", "--read-timeout", "5", "--idle-timeout=7",
             "--access-log", "off"});
  REQUIRE_MESSAGE(parsed.error.empty(), parsed.error);
  const Config& c = parsed.config;
  CHECK(c.host == "0.0.0.0");
  CHECK(c.port == 0);
  CHECK(c.base_path == "/api/r4");
  CHECK(c.db_path == "/tmp/x.db");
  CHECK_FALSE(c.sync_full);
  CHECK(c.threads == 3);
  CHECK(c.write_fiber_threads == 2);
  CHECK(c.write_threads == 8);
  CHECK(c.max_body_bytes == 1000);
  CHECK(c.max_header_bytes == 2048);
  CHECK(c.read_timeout_seconds == 5);
  CHECK(c.idle_timeout_seconds == 7);
  CHECK_FALSE(c.access_log);
}

TEST_CASE("ParseConfig reads every variable") {
  const ConfigParse parsed = Parse({}, {{"FHIR_HOST", "::1"},
                                        {"FHIR_PORT", "9000"},
                                        {"FHIR_BASE_URL", "https://example.org/fhir/r4"},
                                        {"FHIR_DB", "env.db"},
                                        {"FHIR_THREADS", "2"},
                                        {"FHIR_WRITE_FIBER_THREADS", "6"},
                                        {"FHIR_WRITE_THREADS", "5"},
                                        {"FHIR_MAX_BODY_BYTES", "123"},
                                        {"FHIR_MAX_HEADER_BYTES", "4096"},
                                        {"FHIR_READ_TIMEOUT", "11"},
                                        {"FHIR_IDLE_TIMEOUT", "12"},
                                        {"FHIR_ACCESS_LOG", "false"}});
  REQUIRE_MESSAGE(parsed.error.empty(), parsed.error);
  const Config& c = parsed.config;
  CHECK(c.host == "::1");
  CHECK(c.port == 9000);
  CHECK(c.base_path == "/fhir/r4");
  CHECK(c.public_base_url == "https://example.org/fhir/r4");
  CHECK(c.db_path == "env.db");
  CHECK(c.threads == 2);
  CHECK(c.write_fiber_threads == 6);
  CHECK(c.write_threads == 5);
  CHECK(c.max_body_bytes == 123);
  CHECK(c.max_header_bytes == 4096);
  CHECK(c.read_timeout_seconds == 11);
  CHECK(c.idle_timeout_seconds == 12);
  CHECK_FALSE(c.access_log);
}

TEST_CASE("Flags win over variables; empty variables count as unset") {
  const ConfigParse parsed = Parse(
      {"--port", "7000", "--base-url=/flag"},
      {{"FHIR_PORT", "9000"}, {"FHIR_BASE_URL", "/env"}, {"FHIR_HOST", ""}, {"FHIR_DB", "env.db"}});
  REQUIRE_MESSAGE(parsed.error.empty(), parsed.error);
  CHECK(parsed.config.port == 7000);
  CHECK(parsed.config.base_path == "/flag");
  CHECK(parsed.config.host == "127.0.0.1");
  CHECK(parsed.config.db_path == "env.db");

  // A path flag also drops a full URL that came from the environment.
  const ConfigParse mixed = Parse({"--base-url", "/flag"}, {{"FHIR_BASE_URL", "http://h/env"}});
  CHECK(mixed.config.base_path == "/flag");
  CHECK(mixed.config.public_base_url.empty());
}

TEST_CASE("--base-url takes a path or a full URL") {
  const struct {
    const char* value;
    const char* base_path;
    const char* public_url;
  } cases[] = {
      {"/fhir", "/fhir", ""},
      {"/fhir/", "/fhir", ""},
      {"/", "", ""},
      {"http://example.org", "", "http://example.org"},
      {"http://example.org/", "", "http://example.org"},
      {"https://example.org:8443/base/r4/", "/base/r4", "https://example.org:8443/base/r4"},
      {"HTTPS://Example.org/fhir", "/fhir", "HTTPS://Example.org/fhir"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.value);
    const ConfigParse parsed = Parse({"--base-url", c.value});
    REQUIRE_MESSAGE(parsed.error.empty(), parsed.error);
    CHECK(parsed.config.base_path == c.base_path);
    CHECK(parsed.config.public_base_url == c.public_url);
  }
}

TEST_CASE("Bad flags and values give an error naming them") {
  const struct {
    std::vector<std::string> args;
    const char* error_part;
  } cases[] = {
      {{"--port", "65536"}, "--port '65536': expected a whole number from 0 to 65535"},
      {{"--port", "-1"}, "--port '-1'"},
      {{"--port", "80x"}, "--port '80x'"},
      {{"--port", ""}, "--port ''"},
      {{"--port"}, "--port needs a value"},
      {{"--threads", "1025"}, "--threads '1025'"},
      {{"--write-fiber-threads", "0"},
       "--write-fiber-threads '0': expected a whole number from 1 to 256"},
      {{"--write-fiber-threads", "257"}, "--write-fiber-threads '257'"},
      {{"--write-threads", "0"}, "--write-threads '0'"},
      {{"--max-body-bytes", "0"}, "--max-body-bytes '0'"},
      {{"--max-header-bytes=100"}, "--max-header-bytes '100'"},
      {{"--read-timeout", "0"}, "--read-timeout '0'"},
      {{"--idle-timeout", "1.5"}, "--idle-timeout '1.5'"},
      {{"--access-log", "maybe"}, "--access-log 'maybe': expected on or off"},
      {{"--host", ""}, "--host ''"},
      {{"--db="}, "--db ''"},
      {{"--base-url", "fhir"}, "--base-url 'fhir': expected a path starting with '/'"},
      {{"--base-url", "ftp://x/fhir"}, "--base-url 'ftp://x/fhir'"},
      {{"--base-url", "http:///fhir"}, "the URL has no valid host"},
      {{"--base-url", "/fhir?x=1"}, "may not contain '?'"},
      {{"--base-url", "/my fhir"}, "may not contain ' '"},
      {{"--bogus"}, "unknown argument '--bogus'"},
      {{"-p", "80"}, "unknown argument '-p'"},
      {{"serve"}, "unknown argument 'serve'"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.error_part);
    const ConfigParse parsed = Parse(c.args);
    CHECK(parsed.error.find(c.error_part) != std::string::npos);
    CHECK_FALSE(parsed.help);
  }
}

TEST_CASE("Bad variables give an error naming the variable") {
  const ConfigParse parsed = Parse({}, {{"FHIR_THREADS", "many"}});
  CHECK(parsed.error.find("FHIR_THREADS='many': expected a whole number") != std::string::npos);
  // Even when a flag would have overridden it: a broken environment is worth knowing about.
  CHECK_FALSE(Parse({"--threads", "1"}, {{"FHIR_THREADS", "many"}}).error.empty());
}

TEST_CASE("--help wins over everything else") {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--help"}, {"-h"}, {"--port", "1", "--help"}, {"--bogus", "--help"}}) {
    const ConfigParse parsed = Parse(args, {{"FHIR_PORT", "bad"}});
    CHECK(parsed.help);
    CHECK(parsed.error.empty());
  }
}

TEST_CASE("--sync chooses SQLite's synchronous setting") {
  CHECK_FALSE(Parse({}).config.sync_full);
  CHECK(Parse({"--sync", "full"}).config.sync_full);
  CHECK_FALSE(Parse({"--sync=normal"}).config.sync_full);
  CHECK(Parse({"--sync", "sometimes"}).error.find("--sync 'sometimes': expected normal or full") !=
        std::string::npos);
}

TEST_CASE("Usage documents every flag and variable") {
  const std::string usage = Usage();
  for (const char* word : {"--host",
                           "FHIR_HOST",
                           "--port",
                           "FHIR_PORT",
                           "--base-url",
                           "FHIR_BASE_URL",
                           "--db",
                           "FHIR_DB",
                           "--sync",
                           "FHIR_SYNC",
                           "--threads",
                           "FHIR_THREADS",
                           "--write-fiber-threads",
                           "FHIR_WRITE_FIBER_THREADS",
                           "--write-threads",
                           "FHIR_WRITE_THREADS",
                           "--max-body-bytes",
                           "FHIR_MAX_BODY_BYTES",
                           "--max-header-bytes",
                           "FHIR_MAX_HEADER_BYTES",
                           "--read-timeout",
                           "FHIR_READ_TIMEOUT",
                           "--idle-timeout",
                           "FHIR_IDLE_TIMEOUT",
                           "--access-log",
                           "FHIR_ACCESS_LOG",
                           "--help",
                           "default '8080'",
                           "default '16777216'"}) {
    CAPTURE(word);
    CHECK(usage.find(word) != std::string::npos);
  }
}

TEST_CASE("PublicBaseUrl derives the URL unless one was given") {
  Config config;
  CHECK(PublicBaseUrl(config, 4321) == "http://127.0.0.1:4321/fhir");
  config.host = "::1";
  config.base_path = "";
  CHECK(PublicBaseUrl(config, 80) == "http://[::1]:80");
  config.public_base_url = "https://example.org/fhir";
  CHECK(PublicBaseUrl(config, 80) == "https://example.org/fhir");
}

TEST_CASE("ProcessEnv reads the real environment") {
  CHECK_FALSE(ProcessEnv("FHIR_SERVER_TEST_SURELY_UNSET_VARIABLE").has_value());
  CHECK(ProcessEnv("PATH").has_value());
}

}  // namespace
}  // namespace server
