// HTTP-level authentication and scopes: the Handler with an Authenticator in front of a real
// RestService on SQLite.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <doctest/doctest.h>

#include "server/auth/authenticator.h"
#include "server/auth/jwt.h"
#include "server/auth/mint.h"
#include "server/capability.h"
#include "server/handler.h"
#include "server/rest_service.h"
#include "storage/sqlite/sqlite_store.h"

namespace server {
namespace {

namespace http = boost::beast::http;

constexpr char kSecret[] = "http-test-secret";
constexpr char kIssuer[] = "https://issuer.test";
constexpr char kAudience[] = "http://test/fhir";

std::string Outcome(std::string_view code, std::string_view diagnostics) {
  return "{\"resourceType\":\"OperationOutcome\",\"issue\":[{\"severity\":\"error\",\"code\":\"" +
         std::string(code) + "\",\"diagnostics\":\"" + std::string(diagnostics) + "\"}]}";
}

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Header(const Response& response, http::field field) {
  const auto value = response[field];
  return std::string(value.data(), value.size());
}

class AuthServer {
 public:
  explicit AuthServer(bool with_auth = true) {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("auth_http_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) +
             ".db");
    storage::sqlite::SqliteOptions options;
    options.path = path_.string();
    auto store = storage::sqlite::OpenSqliteStore(options);
    REQUIRE(store.ok());
    store_ = std::move(store).value();
    rest_ = std::make_unique<RestService>(*store_, RestService::Options{"http://test/fhir"});
    CapabilityInput capability;
    capability.resource_types = {"Observation", "Patient"};
    capability.start_instant = "2024-05-01T00:00:00.000Z";
    capability.rest_interactions = true;
    capability.smart_security = with_auth;
    capability.token_url = with_auth ? "https://auth.test/token" : "";
    if (with_auth) {
      auth::VerifierOptions verifier;
      verifier.hs256_secret = kSecret;
      verifier.issuer = kIssuer;
      verifier.audience = kAudience;
      auto made = auth::Authenticator::Create(
          verifier, auth::SmartOptions{kIssuer, "https://auth.test/authorize",
                                       "https://auth.test/token"});
      REQUIRE(made.ok());
      authenticator_ = std::move(made).value();
    }
    handler_ = std::make_unique<Handler>(HandlerOptions{
        "/fhir", CapabilityStatementJson(capability), rest_.get(), authenticator_.get()});
  }
  ~AuthServer() {
    handler_.reset();
    rest_.reset();
    store_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_.string() + suffix);
  }

  Response Call(http::verb method, std::string_view target, std::string_view authorization,
                std::string body = {}) {
    Request request(method, boost::beast::string_view(target.data(), target.size()), 11);
    if (!authorization.empty()) {
      request.set(http::field::authorization,
                  boost::beast::string_view(authorization.data(), authorization.size()));
    }
    if (!body.empty()) {
      request.set(http::field::content_type, "application/fhir+json");
      request.body() = std::move(body);
      request.prepare_payload();
    }
    return handler_->Handle(request);
  }

 private:
  std::filesystem::path path_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<RestService> rest_;
  std::unique_ptr<auth::Authenticator> authenticator_;
  std::unique_ptr<Handler> handler_;
};

auth::TokenClaims Claims(std::string scope) {
  auth::TokenClaims claims;
  claims.subject = "dr-9";
  claims.issuer = kIssuer;
  claims.audience = kAudience;
  claims.issued_at = Now();
  claims.expires_at = Now() + 600;
  claims.scope = std::move(scope);
  claims.fhir_user = "Practitioner/9";
  claims.patient = "p1";  // patient/ scopes need a patient context
  return claims;
}

std::string Bearer(const auth::TokenClaims& claims, std::string_view secret = kSecret) {
  auto signer = auth::Signer::Hs256(std::string(secret));
  REQUIRE(signer.ok());
  auto token = auth::MintToken(*signer.value(), claims);
  REQUIRE(token.ok());
  return "Bearer " + token.value();
}

std::string Bearer(std::string scope) { return Bearer(Claims(std::move(scope))); }

constexpr char kObservation[] =
    R"({"resourceType":"Observation","status":"final","code":{"text":"weight"}})";

TEST_CASE("No token, another scheme, or an empty bearer: 401 with a bare Bearer challenge") {
  AuthServer server;
  const std::string required =
      Outcome("login", "Authentication is required: send Authorization: Bearer <token>");
  const std::string only_bearer = Outcome(
      "login", "Only Bearer authentication is supported: send Authorization: Bearer <token>");
  struct Case {
    http::verb method;
    const char* target;
    const char* authorization;
    const std::string* body;
  };
  const Case cases[] = {
      {http::verb::get, "/fhir/Patient/1", "", &required},
      {http::verb::get, "/fhir/Patient?name=x", "", &required},
      {http::verb::post, "/fhir", "", &required},
      {http::verb::delete_, "/fhir/Patient/1", "", &required},
      {http::verb::get, "/fhir/Nonsense/path/here", "", &required},
      {http::verb::get, "/fhir/Patient/1", "Basic dXNlcjpwYXNz", &only_bearer},
      {http::verb::get, "/fhir/Patient/1", "Bearer", &only_bearer},
  };
  for (const Case& c : cases) {
    CAPTURE(c.target);
    CAPTURE(c.authorization);
    const Response response = server.Call(c.method, c.target, c.authorization);
    CHECK(response.result_int() == 401);
    CHECK(Header(response, http::field::www_authenticate) == "Bearer realm=\"fhir-server\"");
    CHECK(Header(response, http::field::content_type) == "application/fhir+json; charset=utf-8");
    CHECK(response.body() == *c.body);
  }
}

TEST_CASE("Invalid tokens: 401 with error=invalid_token and the reason") {
  AuthServer server;
  auth::TokenClaims expired = Claims("user/*.read");
  expired.expires_at = Now() - 3600;
  auth::TokenClaims early = Claims("user/*.read");
  early.not_before = Now() + 3600;
  auth::TokenClaims wrong_issuer = Claims("user/*.read");
  wrong_issuer.issuer = "https://evil.test";
  auth::TokenClaims wrong_audience = Claims("user/*.read");
  wrong_audience.audience = "https://elsewhere.test/fhir";
  const std::string none_token =
      auth::Base64UrlEncode("{\"alg\":\"none\"}") + "." +
      auth::Base64UrlEncode(auth::ClaimsJson(Claims("system/*.cruds"))) + ".";
  struct Case {
    std::string authorization;
    std::string description;
  };
  const Case cases[] = {
      {Bearer(expired), "The token expired"},
      {Bearer(early), "The token is not valid yet (nbf)"},
      {Bearer(wrong_issuer), "The token issuer is not the configured one"},
      {Bearer(wrong_audience), "The token audience does not include this server"},
      {Bearer(Claims("user/*.read"), "not-the-secret"), "The token signature is not valid"},
      {"Bearer " + none_token, "alg none is not accepted: tokens must be signed"},
      {"Bearer abc.def", "The token is not a compact JWS (three base64url parts separated by dots)"},
      {"bearer a!b.c.d", "The token has a part that is not base64url"},
      {"Bearer " + auth::Base64UrlEncode("{\"alg\":\"X\\\"\\r\\nSet-Cookie: a\"}") + ".e30.",
       "alg X???Set-Cookie: a is not supported; use HS256, RS256 or ES256"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.authorization);
    const Response response = server.Call(http::verb::get, "/fhir/Observation/1", c.authorization);
    CHECK(response.result_int() == 401);
    CHECK(Header(response, http::field::www_authenticate) ==
          "Bearer realm=\"fhir-server\", error=\"invalid_token\", error_description=\"" +
              c.description + "\"");
    if (c.description.find('?') == std::string::npos) {
      CHECK(response.body() == Outcome("login", "Invalid bearer token: " + c.description));
    } else {  // the body keeps the original text, JSON-escaped
      CHECK(response.body() ==
            Outcome("login",
                    "Invalid bearer token: alg X\\\"\\r\\nSet-Cookie: a is not supported; use "
                    "HS256, RS256 or ES256"));
    }
  }
}

TEST_CASE("Scopes: allowed interactions reach the REST layer, others get 403") {
  AuthServer server;
  const std::string writer = Bearer("user/Observation.write");
  const std::string reader = Bearer("patient/Observation.rs");

  Response created = server.Call(http::verb::put, "/fhir/Observation/o1", writer,
                                 R"({"resourceType":"Observation","id":"o1","status":"final",)"
                                 R"("code":{"text":"weight"},"subject":{"reference":"Patient/p1"}})");
  CHECK(created.result_int() == 201);
  CHECK(server.Call(http::verb::post, "/fhir/Observation", writer, kObservation).result_int() ==
        201);
  CHECK(server.Call(http::verb::get, "/fhir/Observation/o1", reader).result_int() == 200);
  CHECK(server.Call(http::verb::get, "/fhir/Observation/o1/_history/1", reader).result_int() ==
        200);
  CHECK(server.Call(http::verb::get, "/fhir/Observation/o1/_history", reader).result_int() == 200);
  CHECK(server.Call(http::verb::get, "/fhir/Observation/missing", reader).result_int() == 404);

  struct Case {
    http::verb method;
    const char* target;
    const std::string* token;
    std::string diagnostics;
  };
  const Case cases[] = {
      {http::verb::get, "/fhir/Observation/o1", &writer,
       "The token's scopes do not allow read of Observation (a scope such as "
       "patient/Observation.r or user/Observation.read is needed)"},
      {http::verb::get, "/fhir/Observation", &writer,
       "The token's scopes do not allow search-type of Observation (a scope such as "
       "patient/Observation.s or user/Observation.read is needed)"},
      {http::verb::post, "/fhir/Observation", &reader,
       "The token's scopes do not allow create of Observation (a scope such as "
       "patient/Observation.c or user/Observation.write is needed)"},
      {http::verb::delete_, "/fhir/Observation/o1", &reader,
       "The token's scopes do not allow delete of Observation (a scope such as "
       "patient/Observation.d or user/Observation.write is needed)"},
      {http::verb::get, "/fhir/Patient/p1", &reader,
       "The token's scopes do not allow read of Patient (a scope such as patient/Patient.r or "
       "user/Patient.read is needed)"},
      {http::verb::get, "/fhir/_history", &reader,
       "The token's scopes do not allow history-type of all resource types (a scope such as "
       "patient/*.s or user/*.read is needed)"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.target);
    const Response response = server.Call(c.method, c.target, *c.token,
                                          c.method == http::verb::post ? kObservation : "");
    CHECK(response.result_int() == 403);
    CHECK(Header(response, http::field::www_authenticate) ==
          "Bearer realm=\"fhir-server\", error=\"insufficient_scope\"");
    CHECK(response.body() == Outcome("forbidden", c.diagnostics));
  }
  // The refused delete did not happen.
  CHECK(server.Call(http::verb::get, "/fhir/Observation/o1", reader).result_int() == 200);
}

TEST_CASE("Searches need scopes on every type they can return or reveal") {
  AuthServer server;
  const std::string observations = Bearer("patient/Observation.rs");
  const std::string everything = Bearer("user/*.read");
  struct Case {
    const char* target;
    std::string diagnostics;
  };
  const Case cases[] = {
      {"/fhir", "The token's scopes do not allow search-type of all resource types (a scope such "
                "as patient/*.s or user/*.read is needed)"},
      {"/fhir?_type=Patient",
       "The token's scopes do not allow search-type of Patient (a scope such as "
       "patient/Patient.s or user/Patient.read is needed)"},
      {"/fhir/Observation?_include=Observation:subject",
       "The token's scopes do not allow search-type of Device (a scope such as "
       "patient/Device.s or user/Device.read is needed)"},
      {"/fhir/Observation?_include=Observation:subject:Patient",
       "The token's scopes do not allow search-type of Patient (a scope such as "
       "patient/Patient.s or user/Patient.read is needed)"},
      {"/fhir/Observation?_revinclude=Provenance:target",
       "The token's scopes do not allow search-type of Provenance (a scope such as "
       "patient/Provenance.s or user/Provenance.read is needed)"},
      {"/fhir/Observation?subject:Patient.name=smith",
       "The token's scopes do not allow search-type of Patient (a scope such as "
       "patient/Patient.s or user/Patient.read is needed)"},
      {"/fhir/Observation?_has:Provenance:target:agent=x",
       "The token's scopes do not allow search-type of Provenance (a scope such as "
       "patient/Provenance.s or user/Provenance.read is needed)"},
  };
  for (const Case& c : cases) {
    const std::string target = c.target;
    CAPTURE(target);
    const Response response = server.Call(http::verb::get, c.target, observations);
    CHECK(response.result_int() == 403);
    CHECK(response.body() == Outcome("forbidden", c.diagnostics));
    const Response allowed = server.Call(http::verb::get, c.target, everything);
    CHECK_MESSAGE(allowed.result_int() == 200, allowed.body());
  }
  CHECK(server.Call(http::verb::get, "/fhir/Observation?code=x", observations).result_int() ==
        200);
}

TEST_CASE("Compartment searches need reading the owner; patient/ scopes reach only their own") {
  AuthServer server;  // tokens have the patient context p1
  const std::string resident = Bearer("patient/*.rs");
  CHECK(server.Call(http::verb::get, "/fhir/Patient/p1/Observation", resident).result_int() ==
        200);
  const Response other = server.Call(http::verb::get, "/fhir/Patient/p2/Observation", resident);
  CHECK(other.result_int() == 403);
  CHECK(other.body() == Outcome("forbidden", "The token's patient/ scopes reach only Patient/p1"));
  const Response no_patient_read =
      server.Call(http::verb::get, "/fhir/Patient/p2/Observation", Bearer("user/Observation.rs"));
  CHECK(no_patient_read.result_int() == 403);
  CHECK(no_patient_read.body() ==
        Outcome("forbidden",
                "The token's scopes do not allow read of Patient (a scope such as "
                "patient/Patient.r or user/Patient.read is needed)"));
  CHECK(server.Call(http::verb::get, "/fhir/Patient/p2/Observation",
                    Bearer("user/Observation.rs user/Patient.r"))
            .result_int() == 200);
}

TEST_CASE("Transactions with a forbidden entry fail whole; batches refuse that entry only") {
  AuthServer server;
  const std::string token = Bearer("user/Observation.cruds");
  const std::string entries =
      R"([{"resource":{"resourceType":"Observation","id":"t1","status":"final","code":{"text":"x"}},)"
      R"("request":{"method":"PUT","url":"Observation/t1"}},)"
      R"({"resource":{"resourceType":"Patient","id":"p1"},)"
      R"("request":{"method":"PUT","url":"Patient/p1"}}])";
  const Response transaction = server.Call(
      http::verb::post, "/fhir", token,
      R"({"resourceType":"Bundle","type":"transaction","entry":)" + entries + "}");
  CHECK(transaction.result_int() == 403);
  CHECK(Header(transaction, http::field::www_authenticate) ==
        "Bearer realm=\"fhir-server\", error=\"insufficient_scope\"");
  CHECK(transaction.body() ==
        "{\"resourceType\":\"OperationOutcome\",\"issue\":[{\"severity\":\"error\",\"code\":"
        "\"forbidden\",\"diagnostics\":\"Entry 1 (PUT Patient/p1): The token's scopes do not "
        "allow update of Patient (a scope such as patient/Patient.u or user/Patient.write is "
        "needed); the transaction was not run\",\"expression\":[\"Bundle.entry[1]\"]}]}");
  CHECK(server.Call(http::verb::get, "/fhir/Observation/t1", token).result_int() == 404);

  const Response batch = server.Call(
      http::verb::post, "/fhir", token,
      R"({"resourceType":"Bundle","type":"batch","entry":)" + entries + "}");
  CHECK(batch.result_int() == 200);
  const std::string& body = batch.body();
  CHECK(body.find("\"status\":\"201 Created\"") != std::string::npos);
  CHECK(body.find("\"status\":\"403 Forbidden\"") != std::string::npos);
  CHECK(body.find("The token's scopes do not allow update of Patient") != std::string::npos);
  CHECK(body.find("\"id\":\"p1\"") == std::string::npos);
  CHECK(server.Call(http::verb::get, "/fhir/Observation/t1", token).result_int() == 200);
  CHECK(server.Call(http::verb::get, "/fhir/Patient/p1", Bearer("user/*.read")).result_int() ==
        404);
}

TEST_CASE("metadata and smart-configuration are open; the capability names SMART-on-FHIR") {
  AuthServer server;
  const Response metadata = server.Call(http::verb::get, "/fhir/metadata", "");
  CHECK(metadata.result_int() == 200);
  const std::string security =
      "\"security\":{\"extension\":[{\"url\":\"http://fhir-registry.smarthealthit.org/"
      "StructureDefinition/oauth-uris\",\"extension\":[{\"url\":\"token\",\"valueUri\":\"https://"
      "auth.test/token\"}]}],\"service\":[{\"coding\":[{\"system\":\"http://terminology.hl7.org/"
      "CodeSystem/restful-security-service\",\"code\":\"SMART-on-FHIR\"}],\"text\":\"OAuth2 "
      "bearer tokens with SMART on FHIR scopes\"}]";
  CHECK(metadata.body().find("\"rest\":[{\"mode\":\"server\"," + security) != std::string::npos);

  const std::string expected =
      R"({"issuer":"https://issuer.test","authorization_endpoint":"https://auth.test/authorize",)"
      R"("token_endpoint":"https://auth.test/token","grant_types_supported":)"
      R"(["authorization_code","client_credentials"],"response_types_supported":["code"],)"
      R"("code_challenge_methods_supported":["S256"],"scopes_supported":["openid","fhirUser",)"
      R"("launch/patient","patient/*.cruds","user/*.cruds","system/*.cruds","patient/*.read",)"
      R"("patient/*.write","user/*.read","user/*.write","system/*.read","system/*.write"],)"
      R"("capabilities":["permission-v1","permission-v2","permission-patient","permission-user"]})";
  for (const char* target :
       {"/fhir/.well-known/smart-configuration", "/.well-known/smart-configuration"}) {
    CAPTURE(target);
    const Response response = server.Call(http::verb::get, target, "");
    CHECK(response.result_int() == 200);
    CHECK(Header(response, http::field::content_type) == "application/json");
    CHECK(response.body() == expected);
    const Response post = server.Call(http::verb::post, target, "");
    CHECK(post.result_int() == 405);
    CHECK(Header(post, http::field::allow) == "GET");
  }
  CHECK(auth::SmartConfigurationJson(auth::SmartOptions{}) ==
        R"({"scopes_supported":["openid","fhirUser","launch/patient","patient/*.cruds",)"
        R"("user/*.cruds","system/*.cruds","patient/*.read","patient/*.write","user/*.read",)"
        R"("user/*.write","system/*.read","system/*.write"],"capabilities":["permission-v1",)"
        R"("permission-v2","permission-patient","permission-user"]})");
}

TEST_CASE("Without authentication every request is served and smart-configuration is absent") {
  AuthServer server(/*with_auth=*/false);
  CHECK(server.Call(http::verb::post, "/fhir/Observation", "", kObservation).result_int() == 201);
  CHECK(server.Call(http::verb::get, "/fhir/Observation/none", "").result_int() == 404);
  CHECK(server.Call(http::verb::get, "/fhir/.well-known/smart-configuration", "").result_int() ==
        404);
  CHECK(server.Call(http::verb::get, "/.well-known/smart-configuration", "").result_int() == 404);
  const Response metadata = server.Call(http::verb::get, "/fhir/metadata", "");
  CHECK(metadata.body().find("\"security\"") == std::string::npos);
}

}  // namespace
}  // namespace server
