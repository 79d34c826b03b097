#pragma once

// The HTTP fixture of the Consent tests (issue 5): the Handler with an HS256 Authenticator in
// front of a RestService on a real SQLite store in a temporary file; tokens minted with the
// same code as tools/fhir-token; Bundle inspection. Shared by consent_test.cc and
// access_matrix_test.cc.

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include "fhir/json/parser.h"
#include "fhir/search/index_extractor.h"
#include "server/auth/authenticator.h"
#include "server/auth/jwt.h"
#include "server/auth/mint.h"
#include "server/capability.h"
#include "server/handler.h"
#include "server/rest_service.h"
#include "storage/sqlite/sqlite_store.h"

namespace server::testing {

inline constexpr char kSecret[] = "consent-test-secret-of-32-bytes!";
inline constexpr char kIssuer[] = "https://issuer.test";
inline constexpr char kAudience[] = "http://test/fhir";

inline int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline std::string Header(const Response& response, std::string_view name) {
  const auto value = response[boost::beast::string_view(name.data(), name.size())];
  return std::string(value.data(), value.size());
}

// The claims of a valid token for the fixture's issuer and audience, expiring in 10 minutes;
// the subject is the fhirUser.
inline auth::TokenClaims Claims(std::string scope, std::string fhir_user,
                                std::string purpose = {}, std::string patient = {}) {
  auth::TokenClaims claims;
  claims.subject = fhir_user;
  claims.issuer = kIssuer;
  claims.audience = kAudience;
  claims.issued_at = Now();
  claims.expires_at = Now() + 600;
  claims.scope = std::move(scope);
  claims.fhir_user = std::move(fhir_user);
  claims.patient = std::move(patient);
  claims.purpose_of_use = std::move(purpose);
  return claims;
}

// "Bearer <JWT>" for `claims`, HS256 with `secret`.
inline std::string BearerOf(const auth::TokenClaims& claims, std::string secret = kSecret) {
  auto signer = auth::Signer::Hs256(std::move(secret));
  REQUIRE(signer.ok());
  auto token = auth::MintToken(*signer.value(), claims);
  REQUIRE(token.ok());
  return "Bearer " + token.value();
}

inline std::string Token(std::string scope, std::string fhir_user, std::string purpose = {},
                         std::string patient = {}) {
  return BearerOf(Claims(std::move(scope), std::move(fhir_user), std::move(purpose),
                         std::move(patient)));
}

// A vaccination registry: system/*.cruds.
inline const std::string& SystemToken() {
  static const std::string t = Token("system/*.cruds", "Device/registry");
  return t;
}

// Bundle inspection.
struct BundleView {
  std::vector<std::string> ids;  // "Type/id" of each entry resource, in order
  std::vector<std::string> modes;
  std::optional<int64_t> total;
  bool redacted = false;
};

inline BundleView View(const std::string& body) {
  BundleView view;
  rapidjson::Document doc;
  doc.Parse(body.c_str());
  REQUIRE(!doc.HasParseError());
  if (doc.HasMember("total")) view.total = doc["total"].GetInt64();
  if (doc.HasMember("meta") && doc["meta"].HasMember("security")) {
    for (const auto& c : doc["meta"]["security"].GetArray()) {
      if (std::string_view(c["code"].GetString()) == "REDACTED") view.redacted = true;
    }
  }
  if (doc.HasMember("entry")) {
    for (const auto& e : doc["entry"].GetArray()) {
      if (!e.HasMember("resource")) continue;
      const auto& r = e["resource"];
      if (std::string_view(r["resourceType"].GetString()) == "OperationOutcome") continue;
      view.ids.push_back(std::string(r["resourceType"].GetString()) + "/" + r["id"].GetString());
      if (e.HasMember("search")) view.modes.push_back(e["search"]["mode"].GetString());
    }
  }
  return view;
}

inline std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// An empty server with authentication on (HS256 kSecret, kIssuer, kAudience).
class AuthServer {
 public:
  AuthServer() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("consent_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) +
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
    capability.smart_security = true;
    auth::VerifierOptions verifier;
    verifier.hs256_secret = kSecret;
    verifier.issuer = kIssuer;
    verifier.audience = kAudience;
    auto made = auth::Authenticator::Create(verifier, auth::SmartOptions{kIssuer, "", ""});
    REQUIRE(made.ok());
    authenticator_ = std::move(made).value();
    handler_ = std::make_unique<Handler>(HandlerOptions{
        "/fhir", CapabilityStatementJson(capability), rest_.get(), authenticator_.get()});
  }
  ~AuthServer() {
    handler_.reset();
    rest_.reset();
    store_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(path_.string() + suffix);
    }
  }
  AuthServer(const AuthServer&) = delete;
  AuthServer& operator=(const AuthServer&) = delete;

  // `authorization` "" sends no Authorization header.
  Response Call(boost::beast::http::verb method, std::string_view target,
                const std::string& authorization, std::string body = {},
                const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    Request request(method, boost::beast::string_view(target.data(), target.size()), 11);
    if (!authorization.empty()) {
      request.set(boost::beast::http::field::authorization, authorization);
    }
    for (const auto& [name, value] : headers) request.set(name, value);
    if (!body.empty()) {
      if (request[boost::beast::http::field::content_type].empty()) {
        request.set(boost::beast::http::field::content_type, "application/fhir+json");
      }
      request.body() = std::move(body);
      request.prepare_payload();
    }
    return handler_->Handle(request);
  }
  Response Get(std::string_view target, const std::string& authorization) {
    return Call(boost::beast::http::verb::get, target, authorization);
  }
  // PUT [base]/path with a system/ scope (200 or 201 required).
  void Put(const std::string& path, const std::string& json) {
    Response r = Call(boost::beast::http::verb::put, "/fhir/" + path, SystemToken(), json);
    INFO(r.body());
    REQUIRE((r.result_int() == 201 || r.result_int() == 200));
  }

  // Stores a new resource (version 1) with its search index straight into the store, bypassing
  // the REST layer: for what no client may write, such as AuditEvents.
  void StoreDirectly(const std::string& json) {
    auto resource = fhir::json::ParseResource(json);
    REQUIRE(resource.ok());
    storage::StoredVersion v;
    v.type = std::string((*resource)->type_info().name);
    v.id = (*resource)->id;
    v.version = 1;
    v.last_updated = "2026-01-01T00:00:00.000Z";
    v.json = json;
    auto txn = store_->BeginWrite();
    REQUIRE(txn.ok());
    REQUIRE(txn.value()->Put(v, fhir::search::ExtractIndexEntries(**resource)).ok());
    REQUIRE(txn.value()->Commit().ok());
  }

  // A Consent of `patient` made by the resident (POST), returning its id.
  std::string Grant(const std::string& patient_token, const std::string& patient,
                    const std::string& provision) {
    Response r = Call(boost::beast::http::verb::post, "/fhir/Consent", patient_token,
                      ConsentJson("", patient, "active", provision));
    INFO(r.body());
    REQUIRE(r.result_int() == 201);
    rapidjson::Document doc;
    doc.Parse(r.body().c_str());
    return doc["id"].GetString();
  }

  // A privacy Consent (scope patient-privacy, category LOINC 59284-0) of Patient/`patient`;
  // `id` "" leaves the id out; `provision` is the JSON of the base provision.
  static std::string ConsentJson(const std::string& id, const std::string& patient,
                                 const std::string& status, const std::string& provision) {
    return std::string(R"({"resourceType":"Consent",)") +
           (id.empty() ? "" : R"("id":")" + id + R"(",)") + R"("status":")" + status +
           R"(","scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},)"
           R"("category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],)"
           R"("patient":{"reference":"Patient/)" +
           patient + R"("},"provision":)" + provision + "}";
  }

 private:
  std::filesystem::path path_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<RestService> rest_;
  std::unique_ptr<auth::Authenticator> authenticator_;
  std::unique_ptr<Handler> handler_;
};

}  // namespace server::testing
