// The authentication, TLS and exposure settings of server/config.h.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "server/config.h"

namespace server {
namespace {

constexpr char kSecret[] = "0123456789abcdef0123456789abcdef";  // 32 bytes

ConfigParse Parse(const std::vector<std::string>& args,
                  const std::map<std::string, std::string>& env = {}) {
  return ParseConfig(args, [&env](std::string_view name) -> std::optional<std::string> {
    auto it = env.find(std::string(name));
    if (it == env.end()) return std::nullopt;
    return it->second;
  });
}

TEST_CASE("Authentication flags and variables; any key turns authentication on") {
  ConfigParse parsed = Parse({});
  REQUIRE(parsed.error.empty());
  CHECK_FALSE(parsed.config.AuthEnabled());
  CHECK_FALSE(parsed.config.TlsEnabled());
  CHECK_FALSE(parsed.config.insecure);
  CHECK(parsed.config.jwt_leeway_seconds == 60);

  parsed = Parse({"--jwks", "keys.json", "--jwt-issuer=https://iss.test", "--jwt-audience",
                  "https://fhir.test/fhir", "--jwt-leeway", "5", "--smart-authorize-url",
                  "https://auth.test/authorize", "--smart-token-url=https://auth.test/token"});
  REQUIRE(parsed.error.empty());
  CHECK(parsed.config.AuthEnabled());
  CHECK(parsed.config.jwks_path == "keys.json");
  CHECK(parsed.config.jwt_issuer == "https://iss.test");
  CHECK(parsed.config.jwt_audience == "https://fhir.test/fhir");
  CHECK(parsed.config.jwt_leeway_seconds == 5);
  CHECK(parsed.config.smart_authorize_url == "https://auth.test/authorize");
  CHECK(parsed.config.smart_token_url == "https://auth.test/token");

  parsed = Parse({}, {{"FHIR_JWT_SECRET", kSecret}, {"FHIR_TLS_CERT", "c.pem"},
                      {"FHIR_TLS_KEY", "k.pem"}, {"FHIR_INSECURE", "on"}});
  REQUIRE(parsed.error.empty());
  CHECK(parsed.config.AuthEnabled());
  CHECK(parsed.config.jwt_secret == kSecret);
  CHECK(parsed.config.TlsEnabled());
  CHECK(parsed.config.tls_cert_path == "c.pem");
  CHECK(parsed.config.tls_key_path == "k.pem");
  CHECK(parsed.config.insecure);
}

TEST_CASE("--insecure is a switch; =off and the variable work too") {
  ConfigParse parsed = Parse({"--insecure", "--port", "9"});
  REQUIRE(parsed.error.empty());
  CHECK(parsed.config.insecure);
  CHECK(parsed.config.port == 9);
  parsed = Parse({"--insecure=off"}, {{"FHIR_INSECURE", "1"}});
  REQUIRE(parsed.error.empty());
  CHECK_FALSE(parsed.config.insecure);
  parsed = Parse({"--insecure=maybe"});
  CHECK(parsed.error == "--insecure 'maybe': expected on or off");
}

TEST_CASE("Bad authentication and TLS settings are named") {
  CHECK(Parse({"--tls-cert", "c.pem"}).error == "--tls-cert and --tls-key must be given together");
  CHECK(Parse({"--tls-key", "k.pem"}).error == "--tls-cert and --tls-key must be given together");
  CHECK(Parse({"--jwt-issuer", "https://iss.test"}).error ==
        "--jwt-issuer and --jwt-audience need --jwks or --jwt-secret to verify tokens with");
  CHECK(Parse({"--jwt-audience", "a"}).error ==
        "--jwt-issuer and --jwt-audience need --jwks or --jwt-secret to verify tokens with");
  CHECK(Parse({"--jwt-leeway", "601", "--jwt-secret", kSecret}).error ==
        "--jwt-leeway '601': expected a whole number from 0 to 600");
  CHECK(Parse({"--smart-token-url", "auth.test/token"}).error ==
        "--smart-token-url 'auth.test/token': expected an http(s):// URL");
  CHECK(Parse({"--jwks"}).error == "--jwks needs a value (FILE)");
  CHECK(Parse({"--jwt-secret="}).error ==
        "--jwt-secret '': the secret needs at least 32 bytes (RFC 7518 section 3.2)");
  CHECK(Parse({}, {{"FHIR_JWT_SECRET", "0123456789abcdef0123456789abcde"}}).error ==
        "FHIR_JWT_SECRET='0123456789abcdef0123456789abcde': the secret needs at least 32 bytes "
        "(RFC 7518 section 3.2)");
}

TEST_CASE("ExposureProblem: no authentication off loopback without --insecure") {
  Config config;
  config.host = "0.0.0.0";
  const std::optional<std::string> problem = ExposureProblem(config, /*loopback=*/false);
  CHECK(problem ==
        std::optional<std::string>(
            "refusing to serve without authentication on 0.0.0.0, which is not a loopback "
            "address: configure --jwks or --jwt-secret, bind 127.0.0.1, or pass --insecure to "
            "accept that anyone who can reach it reads and writes all data"));
  CHECK_FALSE(ExposureProblem(config, /*loopback=*/true).has_value());
  config.insecure = true;
  CHECK_FALSE(ExposureProblem(config, false).has_value());
  config.insecure = false;
  config.jwt_secret = "s";
  CHECK_FALSE(ExposureProblem(config, false).has_value());
}

TEST_CASE("IsLoopbackHost") {
  CHECK(IsLoopbackHost("127.0.0.1") == std::optional<bool>(true));
  CHECK(IsLoopbackHost("127.0.0.2") == std::optional<bool>(true));
  CHECK(IsLoopbackHost("::1") == std::optional<bool>(true));
  CHECK(IsLoopbackHost("localhost") == std::optional<bool>(true));
  CHECK(IsLoopbackHost("0.0.0.0") == std::optional<bool>(false));
  CHECK(IsLoopbackHost("::") == std::optional<bool>(false));
  CHECK(IsLoopbackHost("192.0.2.1") == std::optional<bool>(false));
  CHECK_FALSE(IsLoopbackHost("no-such-host.invalid").has_value());
}

TEST_CASE("Usage documents the security flags; the base URL says https with TLS") {
  const std::string usage = Usage();
  for (const char* word :
       {"--jwks FILE", "FHIR_JWKS", "--jwt-secret SECRET", "FHIR_JWT_SECRET", "--jwt-issuer ISS",
        "--jwt-audience AUD", "--jwt-leeway SECONDS", "--smart-authorize-url URL",
        "--smart-token-url URL", "FHIR_INSECURE", "--tls-cert FILE", "--tls-key FILE"}) {
    CAPTURE(word);
    CHECK(usage.find(word) != std::string::npos);
  }
  CHECK(usage.find("  --insecure ") != std::string::npos);
  CHECK(usage.find("--insecure on|off") == std::string::npos);
  Config config;
  config.tls_cert_path = "c.pem";
  config.tls_key_path = "k.pem";
  CHECK(PublicBaseUrl(config, 8443) == "https://127.0.0.1:8443/fhir");
}

}  // namespace
}  // namespace server
