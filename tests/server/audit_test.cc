// AuditEvent for every interaction (server/audit): the AuditEvent's content, the Handler and
// Bundle wiring (allowed, denied, 401/403 with authentication), immutability, the resident's
// search of their audit trail, and the batch writer's flush on shutdown.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "fhir/json/parser.h"
#include "fhir/json/writer.h"
#include "fhir/search/index_extractor.h"
#include "server/audit/audit.h"
#include "server/audit/journal_line.h"
#include "server/auth/authenticator.h"
#include "server/auth/jwt.h"
#include "server/auth/mint.h"
#include "server/capability.h"
#include "server/handler.h"
#include "server/rest_service.h"
#include "server/write_fibers.h"
#include "storage/sqlite/sqlite_store.h"
#include "tests/server/rest_fixture.h"

namespace server {
namespace {

namespace http = boost::beast::http;
using testing::At;

constexpr char kSecret[] = "audit-test-secret-of-at-least-32-bytes";
constexpr char kIssuer[] = "https://issuer.test";
constexpr char kAudience[] = "http://test/fhir";

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A Handler (optionally with bearer authentication) over a RestService that audits into an
// AuditLog; `Find` searches the AuditEvents through a second, unaudited RestService.
class AuditServer {
 public:
  explicit AuditServer(bool with_auth = false) {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("audit_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + ".db");
    storage::sqlite::SqliteOptions options;
    options.path = path_.string();
    auto store = storage::sqlite::OpenSqliteStore(options);
    REQUIRE(store.ok());
    store_ = std::move(store).value();
    audit::LogOptions log_options;
    log_options.source.site = "http://test/fhir";
    log_ = std::make_unique<audit::AuditLog>(*store_, log_options);
    rest_ = std::make_unique<RestService>(*store_,
                                          RestService::Options{"http://test/fhir", log_.get()});
    plain_ = std::make_unique<RestService>(*store_, RestService::Options{"http://test/fhir"});
    CapabilityInput capability;
    capability.resource_types = {"AuditEvent", "Observation", "Patient"};
    capability.start_instant = "2024-05-01T00:00:00.000Z";
    capability.rest_interactions = true;
    if (with_auth) {
      auth::VerifierOptions verifier;
      verifier.hs256_secret = kSecret;
      verifier.issuer = kIssuer;
      verifier.audience = kAudience;
      auto made = auth::Authenticator::Create(verifier, auth::SmartOptions{kIssuer, "", ""});
      REQUIRE(made.ok());
      authenticator_ = std::move(made).value();
    }
    handler_ = std::make_unique<Handler>(HandlerOptions{
        "/fhir", CapabilityStatementJson(capability), rest_.get(), authenticator_.get()});
  }
  ~AuditServer() {
    handler_.reset();
    rest_.reset();
    plain_.reset();
    log_.reset();
    store_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(path_.string() + suffix);
    }
  }

  Response Call(http::verb method, std::string_view target, std::string body = {},
                std::string_view authorization = {},
                std::string_view content_type = "application/fhir+json") {
    Request request(method, boost::beast::string_view(target.data(), target.size()), 11);
    if (!authorization.empty()) {
      request.set(http::field::authorization,
                  boost::beast::string_view(authorization.data(), authorization.size()));
    }
    if (!body.empty()) {
      request.set(http::field::content_type,
                  boost::beast::string_view(content_type.data(), content_type.size()));
      request.body() = std::move(body);
      request.prepare_payload();
    }
    return handler_->Handle(request);
  }

  // The id in a 201's Location (".../Type/id/_history/1").
  static std::string CreatedId(const Response& response) {
    std::string location(response[http::field::location]);
    location = location.substr(0, location.find("/_history/"));
    return location.substr(location.rfind('/') + 1);
  }

  // A search of the AuditEvents written so far (flushes first), not itself audited.
  std::string Find(const std::string& query) {
    log_->Flush();
    RestRequest r;
    r.method = "GET";
    r.segments = {"AuditEvent"};
    r.params = ParseQuery(query);
    RestResponse out = plain_->Handle(r);
    REQUIRE(out.status == 200);
    return out.body;
  }

  audit::AuditLog& log() { return *log_; }
  storage::Store& store() { return *store_; }

 private:
  std::filesystem::path path_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<audit::AuditLog> log_;
  std::unique_ptr<RestService> rest_;
  std::unique_ptr<RestService> plain_;
  std::unique_ptr<auth::Authenticator> authenticator_;
  std::unique_ptr<Handler> handler_;
};

std::string Bearer(std::string scope, std::string fhir_user = "Practitioner/9",
                   std::string purpose = {}) {
  auth::TokenClaims claims;
  claims.subject = "dr-9";
  claims.issuer = kIssuer;
  claims.audience = kAudience;
  claims.issued_at = NowSeconds();
  claims.expires_at = NowSeconds() + 600;
  claims.scope = std::move(scope);
  claims.fhir_user = std::move(fhir_user);
  claims.purpose_of_use = std::move(purpose);
  auto signer = auth::Signer::Hs256(kSecret);
  REQUIRE(signer.ok());
  auto token = auth::MintToken(*signer.value(), claims);
  REQUIRE(token.ok());
  return "Bearer " + token.value();
}

std::string Patient(std::string_view family) {
  return R"({"resourceType":"Patient","name":[{"family":")" + std::string(family) + R"("}]})";
}

std::string Observation(std::string_view patient_id) {
  return R"({"resourceType":"Observation","status":"final","code":{"text":"weight"},)"
         R"("subject":{"reference":"Patient/)" +
         std::string(patient_id) + R"("}})";
}

constexpr std::string_view kEntityType = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
constexpr std::string_view kObjectRole = "http://terminology.hl7.org/CodeSystem/object-role";

TEST_CASE("audit: the AuditEvent of a read under a Consent, exactly") {
  auto principal = std::make_shared<auth::Principal>();
  principal->subject = "dr-9";
  principal->issuer = "https://issuer.test";
  principal->fhir_user = "Practitioner/9";
  principal->purpose_of_use = "TREAT";
  audit::Event e;
  e.recorded = std::chrono::system_clock::time_point(std::chrono::milliseconds(1717243200123));
  e.method = "GET";
  e.segments = {"Immunization", "im1"};
  e.status = 200;
  e.principal = principal;
  e.basis.consent = "Consent/c1";
  const std::string json =
      audit::AuditEventJson(e, audit::Source{"http://test/fhir", "fhir-server"}, {"p1"});
  CHECK(json ==
        R"({"resourceType":"AuditEvent",)"
        R"("type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest","display":"RESTful Operation"},)"
        R"("subtype":[{"system":"http://hl7.org/fhir/restful-interaction","code":"read"}],)"
        R"("action":"R","recorded":"2024-06-01T12:00:00.123Z","outcome":"0","outcomeDesc":"200",)"
        R"("agent":[{"who":{"reference":"Practitioner/9","identifier":{"system":"https://issuer.test","value":"dr-9"}},)"
        R"("altId":"dr-9","requestor":true,"policy":["http://test/fhir/Consent/c1"],)"
        R"("purposeOfUse":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"TREAT"}]}]}],)"
        R"("source":{"site":"http://test/fhir","observer":{"display":"fhir-server"},)"
        R"("type":[{"system":"http://terminology.hl7.org/CodeSystem/security-source-type","code":"4","display":"Application Server"}]},)"
        R"("entity":[)"
        R"({"what":{"reference":"Patient/p1"},"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"1","display":"Person"},"role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"1","display":"Patient"}},)"
        R"({"what":{"reference":"Immunization/im1"},"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"2","display":"System Object"},"role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"4","display":"Domain Resource"}},)"
        R"({"what":{"reference":"Consent/c1"},"type":{"system":"http://terminology.hl7.org/CodeSystem/audit-entity-type","code":"2","display":"System Object"},"role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"4","display":"Domain Resource"},"description":"the Consent that permitted the access"}]})");

  // A search: the query as text and as base64 (standard alphabet).
  audit::Event search;
  search.method = "GET";
  search.segments = {"Observation"};
  search.params = {{"code", "x"}};
  search.status = 200;
  const std::string search_json = audit::AuditEventJson(search, audit::Source{"http://t"}, {});
  CHECK(At(search_json, "entity[0].description") == "Observation?code=x");
  CHECK(At(search_json, "entity[0].query") == "T2JzZXJ2YXRpb24/Y29kZT14");
  CHECK(At(search_json, "agent[0].who.display") == "anonymous");

  // An emergency access: purposeOfEvent ETREAT with the reason.
  principal->purpose_of_use = "ETREAT";
  e.basis = audit::AccessBasis{"", true, "break-the-glass: no Consent"};
  const std::string emergency = audit::AuditEventJson(e, audit::Source{"http://test/fhir"}, {});
  CHECK(At(emergency, "purposeOfEvent[0].coding[0].code") == "ETREAT");
  CHECK(At(emergency, "purposeOfEvent[0].coding[0].system") ==
        "http://terminology.hl7.org/CodeSystem/v3-ActReason");
  CHECK(At(emergency, "purposeOfEvent[0].text") == "break-the-glass: no Consent");
  CHECK(At(emergency, "agent[0].purposeOfUse[0].coding[0].code") == "ETREAT");
  CHECK(At(emergency, "agent[0].policy").empty());
}

// Index entries as comparable text, sorted (the extractor's order is its parameter order).
std::vector<std::string> Rows(const fhir::search::IndexEntries& index) {
  std::vector<std::string> rows;
  for (const auto& t : index.tokens) {
    rows.push_back("token " + t.param + "|" + t.system + "|" + t.code + "|" + t.text + "|" +
                   t.type_system + "|" + t.type_code);
  }
  for (const auto& r : index.references) {
    rows.push_back("reference " + r.param + "|" + r.target_type + "|" + r.target_id + "|" +
                   r.version + "|" + r.url + "|" + r.identifier_system + "|" +
                   r.identifier_value);
  }
  for (const auto& d : index.dates) {
    rows.push_back("date " + d.param + "|" + std::to_string(d.low) + "|" + std::to_string(d.high));
  }
  for (const auto& u : index.uris) rows.push_back("uri " + u.param + "|" + u.value);
  for (const auto& x : index.strings) rows.push_back("string " + x.param + "|" + x.exact);
  for (const auto& n : index.numbers) rows.push_back("number " + n.param);
  for (const auto& q : index.quantities) rows.push_back("quantity " + q.param);
  std::sort(rows.begin(), rows.end());
  return rows;
}

TEST_CASE("audit: the stored JSON is canonical and indexed for the issue's searches") {
  auto practitioner = std::make_shared<auth::Principal>();
  practitioner->subject = "dr-9";
  practitioner->issuer = "https://issuer.test";
  practitioner->fhir_user = "Practitioner/9";
  auto resident = std::make_shared<auth::Principal>();
  resident->subject = "resident-1";
  resident->fhir_user = "Patient/p1";
  resident->purpose_of_use = "PATRQT";
  auto system = std::make_shared<auth::Principal>();
  system->subject = "registry";
  std::vector<audit::Event> events(6);
  events[0].method = "GET";
  events[0].segments = {"Immunization", "im1"};
  events[0].status = 200;
  events[0].principal = practitioner;
  events[0].basis.consent = "Consent/c1";
  events[1].method = "GET";
  events[1].segments = {"Observation"};
  events[1].params = {{"subject", "Patient/p1"}, {"code", "http://loinc.org|8302-2"}};
  events[1].status = 200;
  events[1].principal = resident;
  events[2].method = "GET";
  events[2].segments = {"Patient", "p2"};
  events[2].status = 401;
  events[2].auth_failed = true;
  events[2].body = R"({"resourceType":"OperationOutcome","issue":[{"severity":"error",)"
                   R"("code":"login","diagnostics":"The token expired"}]})";
  events[3].method = "POST";
  events[3].bundle_type = "transaction";
  events[3].status = 200;
  events[3].principal = system;
  events[4].method = "GET";
  events[4].segments = {"Condition", "c1"};
  events[4].status = 200;
  events[4].principal = practitioner;
  events[4].basis = audit::AccessBasis{"", true, "emergency access without Consent"};
  events[5].method = "GET";
  events[5].capabilities = true;
  events[5].status = 200;
  const std::vector<std::vector<std::string>> patients = {{"p1"}, {"p1", "p3"}, {"p2"}, {},
                                                          {"p4"}, {}};
  for (std::size_t i = 0; i < events.size(); ++i) {
    CAPTURE(i);
    events[i].recorded =
        std::chrono::system_clock::time_point(std::chrono::milliseconds(1717243200123 + i));
    const std::string json = audit::AuditEventJson(events[i], audit::Source{"http://test/fhir"},
                                                   patients[i], "id-" + std::to_string(i),
                                                   "2024-06-01T12:00:01.000Z");
    auto parsed = fhir::json::ParseResource(json);
    REQUIRE(parsed.ok());
    CHECK(fhir::json::Write(*parsed.value()) == json);
    const std::vector<std::string> rows = Rows(fhir::search::ExtractIndexEntries(*parsed.value()));
    CAPTURE(rows);
    // What a resident searches by: patient, date, agent, purpose.
    for (const std::string& patient : patients[i]) {
      CHECK(std::count(rows.begin(), rows.end(),
                       "reference patient|Patient|" + patient + "||||") == 1);
    }
    CHECK(std::count_if(rows.begin(), rows.end(), [](const std::string& row) {
            return row.starts_with("date date|");
          }) == 1);
    const bool with_agent = events[i].principal != nullptr;
    CHECK(std::count_if(rows.begin(), rows.end(), [](const std::string& row) {
            return row.starts_with("reference agent|");
          }) == (with_agent ? 1 : 0));
    CHECK(std::count_if(rows.begin(), rows.end(), [](const std::string& row) {
            return row.starts_with("token purpose|");
          }) == (with_agent ? 1 : 0) + (events[i].basis.emergency ? 1 : 0));
  }
  // The resident's own access is about them (agent.who is their Patient).
  auto own = fhir::json::ParseResource(audit::AuditEventJson(
      events[1], audit::Source{"http://test/fhir"}, {}, "x", "2024-06-01T12:00:01.000Z"));
  REQUIRE(own.ok());
  const std::vector<std::string> rows = Rows(fhir::search::ExtractIndexEntries(*own.value()));
  CHECK(std::count(rows.begin(), rows.end(), "reference patient|Patient|p1||||resident-1") == 1);
  CHECK(std::count(rows.begin(), rows.end(),
                   "token purpose|http://terminology.hl7.org/CodeSystem/v3-ActReason|PATRQT|||") ==
        1);
}

TEST_CASE("audit: interactions, actions and outcomes") {
  struct Case {
    std::string method;
    std::vector<std::string> segments;
    std::string_view subtype;
    char action;
  };
  const Case cases[] = {
      {"GET", {"Patient", "1"}, "read", 'R'},
      {"HEAD", {"Patient", "1"}, "read", 'R'},
      {"GET", {"Patient", "1", "_history", "2"}, "vread", 'R'},
      {"PUT", {"Patient", "1"}, "update", 'U'},
      {"PUT", {"Patient"}, "update", 'U'},
      {"PATCH", {"Patient", "1"}, "patch", 'U'},
      {"DELETE", {"Patient", "1"}, "delete", 'D'},
      {"DELETE", {"Patient"}, "delete", 'D'},
      {"GET", {"Patient", "1", "_history"}, "history-instance", 'R'},
      {"GET", {"Patient", "_history"}, "history-type", 'R'},
      {"GET", {"_history"}, "history-system", 'R'},
      {"POST", {"Patient"}, "create", 'C'},
      {"GET", {"Patient"}, "search-type", 'E'},
      {"POST", {"Patient", "_search"}, "search-type", 'E'},
      {"GET", {"Patient", "1", "Observation"}, "search-type", 'E'},
      {"GET", {}, "search-system", 'E'},
      {"OPTIONS", {"Patient"}, "", 'E'},
  };
  for (const Case& c : cases) {
    audit::Event e;
    e.method = c.method;
    e.segments = c.segments;
    CAPTURE(c.method);
    CAPTURE(c.segments.size());
    const audit::Interaction interaction = audit::Classify(e);
    CHECK(interaction.subtype == c.subtype);
    CHECK(interaction.action == c.action);
  }
  audit::Event bundle;
  bundle.method = "POST";
  bundle.bundle_type = "transaction";
  CHECK(audit::Classify(bundle).subtype == "transaction");
  bundle.bundle_type = "batch";
  CHECK(audit::Classify(bundle).subtype == "batch");
  audit::Event metadata;
  metadata.method = "GET";
  metadata.capabilities = true;
  CHECK(audit::Classify(metadata).subtype == "capabilities");

  CHECK(audit::OutcomeCode(200) == "0");
  CHECK(audit::OutcomeCode(304) == "0");
  CHECK(audit::OutcomeCode(403) == "4");
  CHECK(audit::OutcomeCode(500) == "12");
  CHECK(audit::OutcomeCode(503) == "8");

  CHECK(audit::BundleTypeOf(R"({"resourceType":"Bundle","type":"transaction","entry":[]})") ==
        "transaction");
  CHECK(audit::BundleTypeOf(R"({"resourceType":"Bundle","meta":{"type":"x"},"type":"batch"})") ==
        "batch");
  CHECK(audit::BundleTypeOf("not json").empty());
}

TEST_CASE("audit: the patients a body shows or refers to") {
  CHECK(audit::PatientsIn(R"({"resourceType":"Patient","id":"p1"})") ==
        std::vector<std::string>{"p1"});
  CHECK(audit::PatientsIn(
            R"({"resourceType":"Bundle","entry":[)"
            R"({"resource":{"resourceType":"Observation","subject":{"reference":"Patient/p2"},)"
            R"("performer":[{"reference":"Practitioner/9"}]}},)"
            R"({"resource":{"resourceType":"Condition","subject":)"
            R"({"reference":"http://x/fhir/Patient/p3/_history/4"}}},)"
            R"({"resource":{"resourceType":"Patient","id":"p1","link":[{"other":{"reference":"Patient/p2"}}]}}]})") ==
        std::vector<std::string>{"p1", "p2", "p3"});
  CHECK(audit::PatientsIn(R"({"resourceType":"Observation","subject":{"reference":"Group/g"}})")
            .empty());
  CHECK(audit::PatientsIn("{").empty());
}

TEST_CASE("audit: a read and a search over HTTP, authentication off") {
  AuditServer server;
  Response created = server.Call(http::verb::post, "/fhir/Patient", Patient("Ada"));
  REQUIRE(created.result_int() == 201);
  const std::string pid = AuditServer::CreatedId(created);
  Response obs = server.Call(http::verb::post, "/fhir/Observation", Observation(pid));
  REQUIRE(obs.result_int() == 201);
  const std::string oid = AuditServer::CreatedId(obs);
  REQUIRE(server.Call(http::verb::get, "/fhir/Observation/" + oid).result_int() == 200);

  const std::string reads = server.Find("subtype=read");
  REQUIRE(At(reads, "total") == "1");
  const std::string read = "entry[0].resource.";
  CHECK(At(reads, read + "type.code") == "rest");
  CHECK(At(reads, read + "type.system") ==
        "http://terminology.hl7.org/CodeSystem/audit-event-type");
  CHECK(At(reads, read + "subtype[0].system") == "http://hl7.org/fhir/restful-interaction");
  CHECK(At(reads, read + "action") == "R");
  CHECK(At(reads, read + "outcome") == "0");
  CHECK(At(reads, read + "outcomeDesc") == "200");
  CHECK(At(reads, read + "recorded").size() == 24);  // an instant with milliseconds
  CHECK(At(reads, read + "meta.versionId") == "1");
  CHECK(At(reads, read + "agent[0].who.display") == "anonymous");
  CHECK(At(reads, read + "agent[0].requestor") == "true");
  CHECK(At(reads, read + "agent[0].purposeOfUse").empty());
  CHECK(At(reads, read + "source.site") == "http://test/fhir");
  CHECK(At(reads, read + "source.observer.display") == "fhir-server");
  CHECK(At(reads, read + "entity") == "<2>");
  CHECK(At(reads, read + "entity[0].what.reference") == "Patient/" + pid);
  CHECK(At(reads, read + "entity[0].role.code") == "1");
  CHECK(At(reads, read + "entity[1].what.reference") == "Observation/" + oid);
  CHECK(At(reads, read + "entity[1].type.code") == "2");

  // The creates were audited too, with the resource created.
  CHECK(At(server.Find("subtype=create"), "total") == "2");
  const std::string creates = server.Find("subtype=create&entity=Observation/" + oid);
  REQUIRE(At(creates, "total") == "1");
  CHECK(At(creates, "entry[0].resource.action") == "C");
  CHECK(At(creates, "entry[0].resource.outcomeDesc") == "201");
  CHECK(At(creates, "entry[0].resource.entity[0].what.reference") == "Patient/" + pid);

  // A search: the query (base64 and text) and the patients whose resources came back.
  REQUIRE(server.Call(http::verb::get, "/fhir/Observation?subject=Patient/" + pid).result_int() ==
          200);
  const std::string searches = server.Find("subtype=search-type");
  REQUIRE(At(searches, "total") == "1");
  const std::string search = "entry[0].resource.";
  CHECK(At(searches, search + "action") == "E");
  CHECK(At(searches, search + "entity") == "<2>");
  CHECK(At(searches, search + "entity[0].what.reference") == "Patient/" + pid);
  CHECK(At(searches, search + "entity[1].role.code") == "24");
  CHECK(At(searches, search + "entity[1].role.system") == kObjectRole);
  CHECK(At(searches, search + "entity[1].type.system") == kEntityType);
  const std::string query = "Observation?subject=Patient/" + pid;
  CHECK(At(searches, search + "entity[1].description") == query);
  CHECK(!At(searches, search + "entity[1].query").empty());
  CHECK(At(searches, search + "entity[1].what").empty());

  // A failed request is audited with its outcome.
  REQUIRE(server.Call(http::verb::get, "/fhir/Observation/nope").result_int() == 404);
  const std::string missing = server.Find("outcome=4");
  REQUIRE(At(missing, "total") == "1");
  CHECK(At(missing, "entry[0].resource.outcomeDesc") == "404: Observation/nope is not known");
  CHECK(At(missing, "entry[0].resource.entity[0].what.reference") == "Observation/nope");

  // metadata: capabilities.
  REQUIRE(server.Call(http::verb::get, "/fhir/metadata").result_int() == 200);
  CHECK(At(server.Find("subtype=capabilities"), "total") == "1");
}

TEST_CASE("audit: denied requests with authentication on (401, 403)") {
  AuditServer server(/*with_auth=*/true);
  // No token: 401, the agent unknown.
  REQUIRE(server.Call(http::verb::get, "/fhir/Patient/p1").result_int() == 401);
  std::string events = server.Find("outcome=4");
  REQUIRE(At(events, "total") == "1");
  std::string r = "entry[0].resource.";
  CHECK(At(events, r + "subtype[0].code") == "read");
  CHECK(At(events, r + "agent[0].who.display") == "unauthenticated");
  CHECK(At(events, r + "outcomeDesc").starts_with("401: "));
  CHECK(At(events, r + "entity[0].what.reference") == "Patient/p1");

  // A token without the scope: 403, the agent known.
  REQUIRE(server.Call(http::verb::get, "/fhir/Patient/p2", {},
                      Bearer("user/Observation.rs", "Practitioner/9", "HPAYMT"))
              .result_int() == 403);
  events = server.Find("outcome=4&agent=Practitioner/9");
  REQUIRE(At(events, "total") == "1");
  CHECK(At(events, r + "subtype[0].code") == "read");
  CHECK(At(events, r + "action") == "R");
  CHECK(At(events, r + "agent[0].who.reference") == "Practitioner/9");
  CHECK(At(events, r + "agent[0].who.identifier.system") == kIssuer);
  CHECK(At(events, r + "agent[0].who.identifier.value") == "dr-9");
  CHECK(At(events, r + "agent[0].altId") == "dr-9");
  CHECK(At(events, r + "agent[0].purposeOfUse[0].coding[0].code") == "HPAYMT");
  CHECK(At(events, r + "outcomeDesc").starts_with("403: "));
  CHECK(At(events, r + "entity[0].what.reference") == "Patient/p2");
  // altid: the token subject.
  CHECK(At(server.Find("altid=dr-9"), "total") == "1");
  CHECK(At(server.Find("altid=dr-8"), "total") == "0");

  // Allowed: agent and purpose (TREAT by default).
  REQUIRE(server.Call(http::verb::get, "/fhir/Observation?code=x", {},
                      Bearer("user/Observation.rs"))
              .result_int() == 200);
  events = server.Find("outcome=0");
  REQUIRE(At(events, "total") == "1");
  CHECK(At(events, r + "subtype[0].code") == "search-type");
  CHECK(At(events, r + "agent[0].purposeOfUse[0].coding[0].code") == "TREAT");
}

TEST_CASE("audit: a transaction and a batch are audited whole and per entry") {
  AuditServer server;
  const std::string transaction =
      R"({"resourceType":"Bundle","type":"transaction","entry":[)"
      R"({"fullUrl":"urn:uuid:11111111-1111-4111-8111-111111111111",)"
      R"("resource":{"resourceType":"Patient","name":[{"family":"Lin"}]},)"
      R"("request":{"method":"POST","url":"Patient"}},)"
      R"({"resource":{"resourceType":"Observation","status":"final","code":{"text":"w"},)"
      R"("subject":{"reference":"urn:uuid:11111111-1111-4111-8111-111111111111"}},)"
      R"("request":{"method":"POST","url":"Observation"}}]})";
  Response done = server.Call(http::verb::post, "/fhir", transaction);
  REQUIRE(done.result_int() == 200);
  std::string events = server.Find("subtype=transaction");
  REQUIRE(At(events, "total") == "1");
  CHECK(At(events, "entry[0].resource.action") == "E");
  CHECK(At(events, "entry[0].resource.outcome") == "0");
  CHECK(At(events, "entry[0].resource.entity").empty());

  events = server.Find("subtype=create&_sort=date");
  REQUIRE(At(events, "total") == "2");
  std::string patient_ref, observation_ref;
  for (int i = 0; i < 2; ++i) {
    const std::string r = "entry[" + std::to_string(i) + "].resource.";
    CHECK(At(events, r + "outcomeDesc") == "201");
    CHECK(At(events, r + "entity[0].what.reference").starts_with("Patient/"));
    if (At(events, r + "entity") == "<2>") {
      observation_ref = At(events, r + "entity[1].what.reference");
      patient_ref = At(events, r + "entity[0].what.reference");
    }
  }
  CHECK(observation_ref.starts_with("Observation/"));
  CHECK(server.Call(http::verb::get, "/fhir/" + observation_ref).result_int() == 200);
  CHECK(server.Call(http::verb::get, "/fhir/" + patient_ref).result_int() == 200);

  // A failing transaction: one event for the whole, none for the entries rolled back.
  const std::string failing =
      R"({"resourceType":"Bundle","type":"transaction","entry":[)"
      R"({"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}},)"
      R"({"request":{"method":"GET","url":"Patient/none"}}]})";
  REQUIRE(server.Call(http::verb::post, "/fhir", failing).result_int() == 404);
  events = server.Find("subtype=transaction&outcome=4");
  REQUIRE(At(events, "total") == "1");
  CHECK(At(server.Find("subtype=create"), "total") == "2");

  // A batch: each entry.
  const std::string batch =
      R"({"resourceType":"Bundle","type":"batch","entry":[)"
      R"({"request":{"method":"GET","url":"Patient/none"}},)"
      R"({"request":{"method":"GET","url":")" + patient_ref + R"("}}]})";
  REQUIRE(server.Call(http::verb::post, "/fhir", batch).result_int() == 200);
  CHECK(At(server.Find("subtype=batch"), "total") == "1");
  // The two reads above and the batch's two entries.
  CHECK(At(server.Find("subtype=read"), "total") == "4");
  events = server.Find("subtype=read&outcome=4");
  REQUIRE(At(events, "total") == "1");
  CHECK(At(events, "entry[0].resource.entity[0].what.reference") == "Patient/none");
  // The patient's own reads (direct and in the batch) and the read of their Observation.
  CHECK(At(server.Find("subtype=read&entity=" + patient_ref), "total") == "3");
}

TEST_CASE("audit: AuditEvents are immutable: client writes get 405") {
  AuditServer server;
  REQUIRE(server.Call(http::verb::get, "/fhir/metadata").result_int() == 200);
  const std::string existing = server.Find("subtype=capabilities");
  REQUIRE(At(existing, "total") == "1");
  const std::string id = At(existing, "entry[0].resource.id");
  const std::string body =
      R"({"resourceType":"AuditEvent","id":")" + id +
      R"(","type":{"code":"rest"},"recorded":"2024-01-01T00:00:00Z",)"
      R"("agent":[{"requestor":true}],"source":{"observer":{"display":"x"}}})";
  struct Case {
    http::verb method;
    std::string target;
  };
  const Case cases[] = {
      {http::verb::post, "/fhir/AuditEvent"},
      {http::verb::put, "/fhir/AuditEvent/" + id},
      {http::verb::patch, "/fhir/AuditEvent/" + id},
      {http::verb::delete_, "/fhir/AuditEvent/" + id},
      {http::verb::put, "/fhir/AuditEvent?_id=" + id},
      {http::verb::delete_, "/fhir/AuditEvent?_id=" + id},
  };
  for (const Case& c : cases) {
    CAPTURE(c.target);
    Response r = c.method == http::verb::patch
                     ? server.Call(c.method, c.target, "[]", {}, "application/json-patch+json")
                     : server.Call(c.method, c.target,
                                   c.method == http::verb::delete_ ? std::string() : body);
    CHECK(r.result_int() == 405);
    CHECK(At(r.body(), "resourceType") == "OperationOutcome");
    CHECK(At(r.body(), "issue[0].code") == "not-supported");
    CHECK(At(r.body(), "issue[0].diagnostics").find("AuditEvent resources are written by the "
                                                    "server only") != std::string::npos);
  }
  // In a transaction too: it fails whole.
  const std::string transaction =
      R"({"resourceType":"Bundle","type":"transaction","entry":[{"resource":)" + body +
      R"(,"request":{"method":"PUT","url":"AuditEvent/)" + id + R"("}}]})";
  CHECK(server.Call(http::verb::post, "/fhir", transaction).result_int() == 405);
  // The AuditEvent is unchanged, and searches still work.
  Response read = server.Call(http::verb::get, "/fhir/AuditEvent/" + id);
  REQUIRE(read.result_int() == 200);
  CHECK(At(read.body(), "meta.versionId") == "1");
  CHECK(At(read.body(), "subtype[0].code") == "capabilities");
  CHECK(server.Call(http::verb::get, "/fhir/AuditEvent?subtype=read").result_int() == 200);
}

TEST_CASE("audit: a resident searches the AuditEvents about them") {
  AuditServer server;
  const std::string ada =
      AuditServer::CreatedId(server.Call(http::verb::post, "/fhir/Patient", Patient("Ada")));
  const std::string bob =
      AuditServer::CreatedId(server.Call(http::verb::post, "/fhir/Patient", Patient("Bob")));
  const std::string ada_obs = AuditServer::CreatedId(
      server.Call(http::verb::post, "/fhir/Observation", Observation(ada)));
  const std::string bob_obs = AuditServer::CreatedId(
      server.Call(http::verb::post, "/fhir/Observation", Observation(bob)));
  REQUIRE(server.Call(http::verb::get, "/fhir/Observation/" + ada_obs).result_int() == 200);
  REQUIRE(server.Call(http::verb::get, "/fhir/Observation/" + ada_obs).result_int() == 200);
  REQUIRE(server.Call(http::verb::get, "/fhir/Observation/" + bob_obs).result_int() == 200);
  REQUIRE(server.Call(http::verb::delete_, "/fhir/Observation/" + bob_obs).result_int() == 204);
  server.log().Flush();

  // Over HTTP (itself audited): entity.what is indexed under `patient`.
  Response about_ada =
      server.Call(http::verb::get, "/fhir/AuditEvent?patient=Patient/" + ada + "&subtype=read");
  REQUIRE(about_ada.result_int() == 200);
  CHECK(At(about_ada.body(), "total") == "2");
  CHECK(At(about_ada.body(), "entry[0].resource.entity[1].what.reference") ==
        "Observation/" + ada_obs);
  // Every event about Ada: her create, her Observation's create, two reads, and the search
  // above (it returned AuditEvents about her).
  CHECK(At(server.Find("patient=" + ada), "total") == "5");
  CHECK(At(server.Find("patient=" + ada + "&subtype=search-type"), "total") == "1");
  // Bob's: his create, his Observation's create, read and delete (found from the last version).
  CHECK(At(server.Find("patient=" + bob), "total") == "4");
  const std::string deleted = server.Find("patient=" + bob + "&subtype=delete");
  REQUIRE(At(deleted, "total") == "1");
  CHECK(At(deleted, "entry[0].resource.action") == "D");
  CHECK(At(deleted, "entry[0].resource.outcomeDesc") == "204");
  // date: this year's; none before 2000.
  CHECK(At(server.Find("patient=" + ada + "&date=ge2000-01-01"), "total") == "5");
  CHECK(At(server.Find("patient=" + ada + "&date=lt2000-01-01"), "total") == "0");
}

TEST_CASE("audit: with authentication, a resident reads the trail of their own record") {
  AuditServer server(/*with_auth=*/true);
  const std::string registry = Bearer("system/*.cruds", "");
  const std::string ada = AuditServer::CreatedId(
      server.Call(http::verb::post, "/fhir/Patient", Patient("Ada"), registry));
  const std::string bob = AuditServer::CreatedId(
      server.Call(http::verb::post, "/fhir/Patient", Patient("Bob"), registry));
  REQUIRE(!ada.empty());
  REQUIRE(!bob.empty());
  const std::string ada_token = Bearer("patient/*.rs", "Patient/" + ada);
  REQUIRE(server.Call(http::verb::get, "/fhir/Patient/" + ada, {}, ada_token).result_int() == 200);
  REQUIRE(server.Call(http::verb::get, "/fhir/Patient/" + bob, {}, registry).result_int() == 200);
  server.log().Flush();
  // Her create (by the registry) and her own read; nothing about Bob.
  Response trail =
      server.Call(http::verb::get, "/fhir/AuditEvent?patient=Patient/" + ada, {}, ada_token);
  REQUIRE(trail.result_int() == 200);
  CHECK(At(trail.body(), "total") == "2");
  CHECK(trail.body().find(bob) == std::string::npos);
  CHECK(trail.body().find("\"reference\":\"Patient/" + ada + "\"") != std::string::npos);
  // The registry's create: agent identified by its subject only.
  const std::string created = server.Find("patient=" + ada + "&subtype=create");
  REQUIRE(At(created, "total") == "1");
  CHECK(At(created, "entry[0].resource.agent[0].who.reference").empty());
  CHECK(At(created, "entry[0].resource.agent[0].who.identifier.value") == "dr-9");
}

TEST_CASE("audit: a large body is reduced to its patients before it is queued") {
  AuditServer server;
  audit::LogOptions options;
  options.source.site = "http://test/fhir";
  audit::AuditLog log(server.store(), options);
  audit::Event e;
  e.recorded = std::chrono::system_clock::now();
  e.method = "GET";
  e.segments = {"Observation"};
  e.status = 200;
  e.body = R"({"resourceType":"Bundle","type":"searchset","entry":[)";
  for (int i = 0; i < 400; ++i) {
    e.body += std::string(i ? "," : "") +
              R"({"resource":{"resourceType":"Observation","subject":{"reference":"Patient/big-)" +
              std::to_string(i % 3) + R"("}}})";
  }
  e.body += "]}";
  REQUIRE(e.body.size() > audit::kMaxQueuedBody);
  log.Submit(std::move(e));
  log.Stop();
  CHECK(log.written() == 1);
  const std::string events = server.Find("subtype=search-type&patient=big-2");
  REQUIRE(At(events, "total") == "1");
  CHECK(At(events, "entry[0].resource.entity") == "<4>");  // 3 patients and the query
  CHECK(At(events, "entry[0].resource.entity[2].what.reference") == "Patient/big-2");
}

TEST_CASE("audit: the batch writer writes what is queued on shutdown") {
  AuditServer server;
  storage::Store& store = server.store();
  {
    audit::LogOptions options;
    options.source.site = "http://test/fhir";
    options.interval = std::chrono::hours(1);  // only Stop() writes
    options.batch = 1000;
    audit::AuditLog log(store, options);
    for (int i = 0; i < 3; ++i) {
      audit::Event e;
      e.recorded = std::chrono::system_clock::now();
      e.method = "GET";
      e.segments = {"Patient", "shutdown-" + std::to_string(i)};
      e.status = 404;
      log.Submit(std::move(e));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    storage::SearchQuery query;
    query.type = "AuditEvent";
    auto before = store.Search(query, true);
    REQUIRE(before.ok());
    CHECK(before->total == 0);
    log.Stop();
    CHECK(log.written() == 3);
    CHECK(log.failed() == 0);
    log.Submit(audit::Event{});  // after Stop(): nothing
  }
  CHECK(At(server.Find("patient=shutdown-1"), "total") == "1");
  CHECK(At(server.Find("subtype=read"), "total") == "3");
}

// The number of AuditEvent resources in `store` (not the journal).
std::int64_t StoredAuditEvents(storage::Store& store) {
  storage::SearchQuery query;
  query.type = "AuditEvent";
  auto page = store.Search(query, true);
  REQUIRE(page.ok());
  return page->total;
}

audit::Event ReadEvent(const std::string& id) {
  audit::Event e;
  e.recorded = std::chrono::system_clock::now();
  e.method = "GET";
  e.segments = {"Patient", id};
  e.status = 404;
  return e;
}

TEST_CASE("audit: a search of AuditEvents sees every interaction answered before it") {
  AuditServer server;
  const std::string ada =
      AuditServer::CreatedId(server.Call(http::verb::post, "/fhir/Patient", Patient("Ada")));
  REQUIRE(server.Call(http::verb::get, "/fhir/Patient/" + ada).result_int() == 200);
  // No Flush: the request itself makes the journaled AuditEvents resources first.
  Response events = server.Call(http::verb::get, "/fhir/AuditEvent?patient=" + ada);
  REQUIRE(events.result_int() == 200);
  CHECK(At(events.body(), "total") == "2");
  Response read = server.Call(http::verb::get, "/fhir/AuditEvent?subtype=read&patient=" + ada);
  REQUIRE(read.result_int() == 200);
  CHECK(At(read.body(), "total") == "1");
  CHECK(At(read.body(), "entry[0].resource.entity[0].what.reference") == "Patient/" + ada);
  // A read by id of one of them, and a system search naming the type, see them too: by then
  // also the two searches above (they answered AuditEvents about Ada) and that read.
  const std::string id = At(read.body(), "entry[0].resource.id");
  CHECK(server.Call(http::verb::get, "/fhir/AuditEvent/" + id).result_int() == 200);
  Response system = server.Call(http::verb::get, "/fhir?_type=AuditEvent&patient=" + ada);
  REQUIRE(system.result_int() == 200);
  CHECK(At(system.body(), "total") == "5");
}

TEST_CASE("audit: AuditEvents are journaled at once and become resources when idle") {
  AuditServer server;
  storage::Store& store = server.store();
  SUBCASE("not before the server is idle") {
    audit::LogOptions options;
    options.source.site = "http://test/fhir";
    options.interval = std::chrono::milliseconds(5);
    options.idle = std::chrono::hours(1);
    audit::AuditLog log(store, options);
    for (int i = 0; i < 3; ++i) log.Submit(ReadEvent("journal-" + std::to_string(i)));
    // Journaled within `interval`: one record holds the three.
    std::optional<storage::JournalRecord> record;
    for (int wait = 0; wait < 500 && !record; ++wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      auto txn = store.BeginWrite();
      REQUIRE(txn.ok());
      auto oldest = (*txn)->OldestJournal();
      REQUIRE(oldest.ok());
      record = *oldest;
    }
    REQUIRE(record.has_value());
    CHECK(std::count(record->data.begin(), record->data.end(), '\n') == 3);
    CHECK(record->data.find("journal-2") != std::string::npos);
    CHECK(StoredAuditEvents(store) == 0);
    CHECK(log.written() == 0);
    log.Flush();
    CHECK(log.written() == 3);
    CHECK(StoredAuditEvents(store) == 3);
    CHECK(At(server.Find("patient=journal-1"), "total") == "1");
  }
  SUBCASE("once no event arrived for `idle`") {
    audit::LogOptions options;
    options.source.site = "http://test/fhir";
    options.interval = std::chrono::milliseconds(5);
    options.idle = std::chrono::milliseconds(20);
    audit::AuditLog log(store, options);
    for (int i = 0; i < 3; ++i) log.Submit(ReadEvent("idle-" + std::to_string(i)));
    for (int wait = 0; wait < 500 && log.written() < 3; ++wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(log.written() == 3);
    CHECK(StoredAuditEvents(store) == 3);
  }
}

TEST_CASE("audit: a journal left by an earlier run (a kill -9) becomes AuditEvents") {
  AuditServer server;
  const audit::Event third = ReadEvent("p-left-3");
  storage::Store& store = server.store();
  {
    std::string record;
    for (const char* id : {"left-1", "left-2"}) {
      const std::string json = audit::AuditEventJson(ReadEvent("p-" + std::string(id)),
                                                     audit::Source{"http://test/fhir"},
                                                     {"p-" + std::string(id)}, id,
                                                     "2024-06-01T12:00:01.000Z");
      record += std::string(id) + "\t2024-06-01T12:00:01.000Z\t" + json + "\n";
    }
    // The compact layout of this version, and a line that is neither.
    record += audit::EncodeJournalLine(third, {"p-left-3"}, "left-3",
                                       "2024-06-01T12:00:02.000Z") +
              "\n";
    record += "[1,\"broken\"]\n";
    auto txn = store.BeginWrite();
    REQUIRE(txn.ok());
    REQUIRE((*txn)->AppendJournal(record).ok());
    REQUIRE((*txn)->Commit().ok());
  }
  audit::LogOptions options;
  options.source.site = "http://test/fhir";
  options.idle = std::chrono::hours(1);
  audit::AuditLog log(store, options);
  log.Flush();
  CHECK(log.written() == 3);
  CHECK(log.failed() == 1);
  auto compact = store.ReadCurrent("AuditEvent", "left-3");
  REQUIRE(compact.ok());
  CHECK(compact->last_updated == "2024-06-01T12:00:02.000Z");
  CHECK(compact->json == audit::AuditEventJson(third,
                                               audit::Source{"http://test/fhir"}, {"p-left-3"},
                                               "left-3", "2024-06-01T12:00:02.000Z"));
  auto left = store.ReadCurrent("AuditEvent", "left-2");
  REQUIRE(left.ok());
  CHECK(left->version == 1);
  CHECK(left->last_updated == "2024-06-01T12:00:01.000Z");
  CHECK(At(left->json, "entity[0].what.reference") == "Patient/p-left-2");
  CHECK(At(server.Find("patient=p-left-1"), "total") == "1");
}

TEST_CASE("audit: a search is about the patients its query names, also when it found nothing") {
  AuditServer server;
  REQUIRE(server.Call(http::verb::get, "/fhir/Observation?subject=Patient/nobody-1")
              .result_int() == 200);
  REQUIRE(server.Call(http::verb::get, "/fhir/Condition?patient=nobody-2,nobody-3")
              .result_int() == 200);
  REQUIRE(server.Call(http::verb::get, "/fhir/Patient?_id=nobody-4").result_int() == 200);
  REQUIRE(server.Call(http::verb::get, "/fhir/Encounter?subject:Patient=nobody-5&_count=1")
              .result_int() == 200);
  // Not a patient: a practitioner, an identifier, another type's _id.
  REQUIRE(server.Call(http::verb::get, "/fhir/Observation?performer=Practitioner/nobody-6")
              .result_int() == 200);
  REQUIRE(server.Call(http::verb::get, "/fhir/Condition?_id=nobody-7").result_int() == 200);
  for (const char* id : {"nobody-1", "nobody-2", "nobody-3", "nobody-4", "nobody-5"}) {
    CAPTURE(id);
    const std::string found = server.Find(std::string("patient=") + id);
    REQUIRE(At(found, "total") == "1");
    CHECK(At(found, "entry[0].resource.subtype[0].code") == "search-type");
  }
  CHECK(At(server.Find("patient=nobody-6"), "total") == "0");
  CHECK(At(server.Find("patient=nobody-7"), "total") == "0");
}

TEST_CASE("audit: which requests may read AuditEvents") {
  const auto request = [](std::string method, std::vector<std::string> segments,
                          std::vector<std::pair<std::string, std::string>> params = {}) {
    RestRequest r;
    r.method = std::move(method);
    r.segments = std::move(segments);
    r.params = std::move(params);
    return r;
  };
  CHECK(audit::MayReadAuditEvents(request("GET", {"AuditEvent"})));
  CHECK(audit::MayReadAuditEvents(request("GET", {"AuditEvent", "a1"})));
  CHECK(audit::MayReadAuditEvents(request("POST", {"AuditEvent", "_search"})));
  CHECK(audit::MayReadAuditEvents(request("GET", {})));  // system search
  CHECK(audit::MayReadAuditEvents(request("GET", {"_history"})));
  CHECK(audit::MayReadAuditEvents(request("GET", {"Patient", "p1", "*"})));
  CHECK(audit::MayReadAuditEvents(request("GET", {"Patient", "p1", "AuditEvent"})));
  CHECK(audit::MayReadAuditEvents(
      request("GET", {"Patient"}, {{"_revinclude", "AuditEvent:patient"}})));
  CHECK(audit::MayReadAuditEvents(request("GET", {"Patient"}, {{"_revinclude", "*"}})));
  CHECK(audit::MayReadAuditEvents(
      request("GET", {"Patient"}, {{"_has:AuditEvent:patient:subtype", "read"}})));
  CHECK_FALSE(audit::MayReadAuditEvents(request("GET", {"Patient", "p1"})));
  CHECK_FALSE(audit::MayReadAuditEvents(
      request("GET", {"Observation"}, {{"subject", "Patient/p1"}, {"_include", "Observation:subject"}})));
  CHECK_FALSE(audit::MayReadAuditEvents(request("POST", {})));  // a Bundle: by its entries
  CHECK_FALSE(audit::MayReadAuditEvents(request("PUT", {"Patient", "p1"})));
  CHECK(audit::MayEntryReadAuditEvents("GET", "AuditEvent?patient=p1"));
  CHECK(audit::MayEntryReadAuditEvents("GET", "?_type=Patient"));
  CHECK(audit::MayEntryReadAuditEvents("GET", "/_history"));
  CHECK(audit::MayEntryReadAuditEvents("GET", "Patient/p1/*"));
  CHECK_FALSE(audit::MayEntryReadAuditEvents("GET", "Patient/p1"));
  CHECK_FALSE(audit::MayEntryReadAuditEvents("POST", "AuditEvent"));
  CHECK_FALSE(audit::MayEntryReadAuditEvents("PUT", "Patient?identifier=x"));
}

TEST_CASE("audit: a write fiber waiting for room in a full queue leaves its thread to others") {
  AuditServer server;
  audit::LogOptions options;
  options.source.site = "http://test/fhir";
  options.interval = std::chrono::hours(1);  // the writer takes the queue only when asked
  options.batch = 1000;
  options.max_queue = 1;
  audit::AuditLog log(server.store(), options);
  log.Submit(ReadEvent("full-0"));  // the queue is full
  std::atomic<bool> submitted{false};
  std::atomic<bool> other_ran{false};
  WriteFibers fibers(1);
  fibers.Spawn([&] {
    log.Submit(ReadEvent("full-1"));
    submitted = true;
  });
  fibers.Spawn([&] { other_ran = true; });
  const auto eventually = [](const std::atomic<bool>& flag) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!flag && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return flag.load();
  };
  // The second fiber runs while the first waits (a blocked thread would run it only after).
  CHECK(eventually(other_ran));
  CHECK_FALSE(submitted);
  log.Flush();  // the writer takes the queue: room for the waiting fiber's event
  CHECK(eventually(submitted));
  fibers.Join();
  log.Stop();
  CHECK(log.written() == 2);
  CHECK(At(server.Find("patient=full-1"), "total") == "1");
}

}  // namespace
}  // namespace server
