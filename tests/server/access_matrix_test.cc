// The access matrix of issue 5: who (principal) reaches a resident's data by which path (read,
// vread, history, search, _include, _revinclude, chaining, _has, _total, conditional
// create/update, transaction, PATCH; also batch, compartment and system searches and
// histories) under which Consent state of that resident (none, active, expired period, revoked
// by status or by delete, deny provisions, class-limited, naming another's data). One row per
// scenario, each run on a fresh server (tests/server/consent_fixture.h) with the same data:
//
//   Patient/pat-alice-7f3 (family Alvarez)   Immunization/imm-alice-a11, Observation/obs-alice-c33
//   Patient/pat-bruno-2c9 (family Brunelli)  Immunization/imm-bruno-b22, Observation/obs-bruno-d44
//   Observation/obs-nobody-e55 (in no resident's record)
//   Practitioner/doc-orla-5d2 works for Organization/org-clinic-3a7
//     (PractitionerRole/role-orla-6e1)
//   Practitioner/doc-otto-3b8 worked there until 2021 (PractitionerRole/role-otto-1c4)
//   Condition/cond-moved-f77: version 1 in Bruno's record, version 2 in Alice's
//   AuditEvent/audit-alice-read-5a3 (in Alice's record), AuditEvent/audit-dana-search-9e2 (in
//     no resident's record, its query naming Alice)
//
// and the Consent state set up by Alice (Consent/cns-alice-0d8, naming Practitioner/doc-dana-41e
// and Organization/org-clinic-3a7 as actors). Each row asserts the exact status, that no
// forbidden id appears anywhere in the body or the headers (Location, X-Access-Basis, ...), the
// X-Access-Basis header; for Bundles the exact set of entry ids, Bundle.total (or its absence)
// and whether Bundle.meta.security says REDACTED; for writes that the store holds what the
// status says (a refused write changed nothing).
#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include "server/auth/access_control.h"
#include "server/auth/jwt.h"
#include "server/auth/mint.h"
#include "tests/server/consent_fixture.h"
#include "tests/server/rest_fixture.h"

namespace server {
namespace {

namespace http = boost::beast::http;
using testing::At;
using testing::AuthServer;
using testing::Claims;
using testing::Header;
using testing::Sorted;
using testing::View;

// ---- The axes ----

enum class Who {
  kResident,       // Alice herself
  kOtherResident,  // Bruno, about Alice's data
  kConsented,      // Dr. Dana, named in Alice's Consent
  kNotConsented,   // Dr. Omar, named nowhere
  kOrganisation,   // Dr. Orla, of Organization/org-clinic-3a7 named in the Consent
  kFormerMember,   // Dr. Otto, whose PractitionerRole at org-clinic-3a7 ended in 2021
  kEmergency,      // Dr. Erin, purpose of use ETREAT
  kSystem,         // a vaccination registry, system/*.cruds
  kNoToken,
  kExpiredToken,
  kForgedSignature,
  kAlgNone,
};
constexpr Who kAllWho[] = {Who::kResident,     Who::kOtherResident, Who::kConsented,
                           Who::kNotConsented, Who::kOrganisation,  Who::kFormerMember,
                           Who::kEmergency,
                           Who::kSystem,       Who::kNoToken,       Who::kExpiredToken,
                           Who::kForgedSignature, Who::kAlgNone};

enum class State {
  kNone,
  kActive,
  kExpired,
  kRevoked,
  kDeleted,
  kDeny,
  kClassLimited,
  kOthersData,  // Alice's Consent names Bruno's Immunization as its data
};
constexpr State kAllStates[] = {State::kNone,    State::kActive, State::kExpired,
                                State::kRevoked, State::kDeleted, State::kDeny,
                                State::kClassLimited, State::kOthersData};

enum class Kind {
  kRead,
  kVread,
  kHistory,
  kSearch,
  kInclude,
  kRevinclude,
  kChain,
  kHas,
  kTotal,
  kConditionalCreate,
  kConditionalUpdate,
  kTransaction,
  kPatch,
};
constexpr Kind kAllKinds[] = {Kind::kRead,    Kind::kVread,   Kind::kHistory,
                              Kind::kSearch,  Kind::kInclude, Kind::kRevinclude,
                              Kind::kChain,   Kind::kHas,     Kind::kTotal,
                              Kind::kConditionalCreate, Kind::kConditionalUpdate,
                              Kind::kTransaction, Kind::kPatch};

std::string_view Name(Who who) {
  switch (who) {
    case Who::kResident: return "resident Alice";
    case Who::kOtherResident: return "other resident Bruno";
    case Who::kConsented: return "practitioner with Consent (Dana)";
    case Who::kNotConsented: return "practitioner without Consent (Omar)";
    case Who::kOrganisation: return "practitioner of a consented organisation (Orla)";
    case Who::kFormerMember: return "practitioner whose role at that organisation ended (Otto)";
    case Who::kEmergency: return "emergency ETREAT (Erin)";
    case Who::kSystem: return "system scope";
    case Who::kNoToken: return "no token";
    case Who::kExpiredToken: return "expired token";
    case Who::kForgedSignature: return "forged signature";
    case Who::kAlgNone: return "alg=none";
  }
  return "?";
}

std::string_view Name(State state) {
  switch (state) {
    case State::kNone: return "no Consent";
    case State::kActive: return "active Consent";
    case State::kExpired: return "Consent with an expired period";
    case State::kRevoked: return "Consent revoked (status inactive)";
    case State::kDeleted: return "Consent revoked (deleted)";
    case State::kDeny: return "Consent with deny provisions (Observation, ETREAT)";
    case State::kClassLimited: return "Consent limited to class Immunization";
    case State::kOthersData: return "Consent whose data is another resident's resource";
  }
  return "?";
}

// ---- The data ----

constexpr char kAlice[] = "pat-alice-7f3";
constexpr char kBruno[] = "pat-bruno-2c9";
constexpr char kImmAlice[] = "imm-alice-a11";
constexpr char kImmBruno[] = "imm-bruno-b22";
constexpr char kObsAlice[] = "obs-alice-c33";
constexpr char kObsBruno[] = "obs-bruno-d44";
constexpr char kObsNobody[] = "obs-nobody-e55";
constexpr char kConsent[] = "cns-alice-0d8";
constexpr char kCondMoved[] = "cond-moved-f77";
constexpr char kAuditSearch[] = "audit-dana-search-9e2";  // in no resident's record
constexpr char kAuditRead[] = "audit-alice-read-5a3";     // in Alice's

std::string ImmunizationJson(const std::string& id, const std::string& patient,
                             const std::string& vaccine) {
  return R"({"resourceType":"Immunization",)" +
         (id.empty() ? std::string() : R"("id":")" + id + R"(",)") +
         R"("status":"completed","vaccineCode":{"text":")" + vaccine +
         R"("},"patient":{"reference":"Patient/)" + patient +
         R"("},"occurrenceDateTime":"2024-01-01"})";
}

std::string ObservationJson(const std::string& id, const std::string& subject) {
  return R"({"resourceType":"Observation",)" +
         (id.empty() ? std::string() : R"("id":")" + id + R"(",)") +
         R"("status":"final","code":{"text":"weight"})" +
         (subject.empty() ? std::string()
                          : R"(,"subject":{"reference":"Patient/)" + subject + R"("})") +
         "}";
}

std::string ConditionJson(const std::string& subject) {
  return R"({"resourceType":"Condition","id":"cond-moved-f77","code":{"text":"asthma"},)"
         R"("subject":{"reference":"Patient/)" +
         subject + R"("}})";
}

void Seed(AuthServer& server) {
  server.Put(std::string("Patient/") + kAlice,
             R"({"resourceType":"Patient","id":"pat-alice-7f3","name":[{"family":"Alvarez"}]})");
  server.Put(std::string("Patient/") + kBruno,
             R"({"resourceType":"Patient","id":"pat-bruno-2c9","name":[{"family":"Brunelli"}]})");
  server.Put("Organization/org-clinic-3a7",
             R"({"resourceType":"Organization","id":"org-clinic-3a7","name":"Clinic"})");
  server.Put("PractitionerRole/role-orla-6e1",
             R"({"resourceType":"PractitionerRole","id":"role-orla-6e1","practitioner":{"reference":"Practitioner/doc-orla-5d2"},"organization":{"reference":"Organization/org-clinic-3a7"}})");
  server.Put("PractitionerRole/role-otto-1c4",
             R"({"resourceType":"PractitionerRole","id":"role-otto-1c4","period":{"start":"2015-03-01","end":"2021-06-30"},"practitioner":{"reference":"Practitioner/doc-otto-3b8"},"organization":{"reference":"Organization/org-clinic-3a7"}})");
  server.Put(std::string("Immunization/") + kImmAlice, ImmunizationJson(kImmAlice, kAlice, "flu"));
  server.Put(std::string("Immunization/") + kImmBruno, ImmunizationJson(kImmBruno, kBruno, "flu"));
  server.Put(std::string("Observation/") + kObsAlice, ObservationJson(kObsAlice, kAlice));
  server.Put(std::string("Observation/") + kObsBruno, ObservationJson(kObsBruno, kBruno));
  server.Put(std::string("Observation/") + kObsNobody, ObservationJson(kObsNobody, ""));
  // Recorded in Bruno's record by mistake (version 1), then moved to Alice's (version 2).
  server.Put(std::string("Condition/") + kCondMoved, ConditionJson(kBruno));
  server.Put(std::string("Condition/") + kCondMoved, ConditionJson(kAlice));
  // AuditEvents as the server writes them: Dana's search whose answer held no patient (so in
  // no resident's record, its query naming Alice and what was looked for), and Dana's read.
  const std::string audit_head =
      R"("type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest"},)";
  const std::string audit_agent =
      R"("recorded":"2026-01-01T00:00:00.000Z","outcome":"0",)"
      R"("agent":[{"who":{"reference":"Practitioner/doc-dana-41e"},"requestor":true}],)"
      R"("source":{"observer":{"display":"fhir-server"}},)";
  server.StoreDirectly(
      R"({"resourceType":"AuditEvent","id":"audit-dana-search-9e2",)" + audit_head +
      R"("subtype":[{"system":"http://hl7.org/fhir/restful-interaction","code":"search-type"}],)"
      R"("action":"E",)" + audit_agent +
      R"("entity":[{"role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"24"},)"
      R"("description":"Condition?patient=Patient/pat-alice-7f3&code:text=hiv"}]})");
  server.StoreDirectly(
      R"({"resourceType":"AuditEvent","id":"audit-alice-read-5a3",)" + audit_head +
      R"("subtype":[{"system":"http://hl7.org/fhir/restful-interaction","code":"read"}],)"
      R"("action":"R",)" + audit_agent +
      R"("entity":[{"what":{"reference":"Patient/pat-alice-7f3"},)"
      R"("role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"1"}},)"
      R"({"what":{"reference":"Immunization/imm-alice-a11"},)"
      R"("role":{"system":"http://terminology.hl7.org/CodeSystem/object-role","code":"4"}}]})");
}

// ---- The principals ----

constexpr char kActors[] =
    R"("actor":[{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}]},"reference":{"reference":"Practitioner/doc-dana-41e"}},)"
    R"({"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}]},"reference":{"reference":"Organization/org-clinic-3a7"}}])";

std::string Provision(State state) {
  const std::string actors = kActors;
  switch (state) {
    case State::kExpired:
      return R"({"type":"permit","period":{"start":"2020-01-01","end":"2020-12-31"},)" + actors +
             "}";
    case State::kDeny:
      // Everything but Observations for the actors; no emergency access for anyone.
      return R"({"type":"permit","provision":[{"type":"permit",)" + actors +
             R"(,"provision":[{"type":"deny","class":[{"system":"http://hl7.org/fhir/resource-types","code":"Observation"}]}]},)"
             R"({"type":"deny","purpose":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"ETREAT"}]}]})";
    case State::kClassLimited:
      return R"({"type":"permit",)" + actors +
             R"(,"class":[{"system":"http://hl7.org/fhir/resource-types","code":"Immunization"}]})";
    case State::kOthersData:
      return R"({"type":"permit",)" + actors +
             R"(,"data":[{"meaning":"instance","reference":{"reference":"Immunization/imm-bruno-b22"}}]})";
    default:
      return R"({"type":"permit",)" + actors + "}";
  }
}

const std::string& AliceToken() {
  static const std::string t = testing::Token("patient/*.cruds", "Patient/pat-alice-7f3");
  return t;
}

// Alice sets up `state` herself, as the README's worked example does. False (and a failed
// check) when she cannot: the row is not run, the others are.
bool SetUp(AuthServer& server, State state) {
  if (state == State::kNone) return true;
  const std::string path = std::string("/fhir/Consent/") + kConsent;
  Response made =
      server.Call(http::verb::put, path, AliceToken(),
                  AuthServer::ConsentJson(kConsent, kAlice, "active", Provision(state)));
  INFO(made.body());
  CHECK(made.result_int() == 201);
  if (made.result_int() != 201) return false;
  if (state == State::kRevoked) {
    Response revoked =
        server.Call(http::verb::put, path, AliceToken(),
                    AuthServer::ConsentJson(kConsent, kAlice, "inactive", Provision(state)));
    INFO(revoked.body());
    CHECK(revoked.result_int() == 200);
    return revoked.result_int() == 200;
  } else if (state == State::kDeleted) {
    Response deleted = server.Call(http::verb::delete_, path, AliceToken());
    INFO(deleted.body());
    CHECK(deleted.result_int() == 204);
    return deleted.result_int() == 204;
  }
  return true;
}

std::string Authorization(Who who) {
  switch (who) {
    case Who::kResident: return AliceToken();
    case Who::kOtherResident: return testing::Token("patient/*.cruds", "Patient/pat-bruno-2c9");
    case Who::kConsented: return testing::Token("user/*.cruds", "Practitioner/doc-dana-41e");
    case Who::kNotConsented: return testing::Token("user/*.cruds", "Practitioner/doc-omar-8b5");
    case Who::kOrganisation: return testing::Token("user/*.cruds", "Practitioner/doc-orla-5d2");
    case Who::kFormerMember: return testing::Token("user/*.cruds", "Practitioner/doc-otto-3b8");
    case Who::kEmergency:
      return testing::Token("user/*.cruds", "Practitioner/doc-erin-9c4", "ETREAT");
    case Who::kSystem: return testing::SystemToken();
    case Who::kNoToken: return "";
    case Who::kExpiredToken: {
      // A system/ token (valid signature, issuer, audience) that expired an hour ago.
      auth::TokenClaims claims = Claims("system/*.cruds", "Device/registry");
      claims.issued_at = testing::Now() - 7200;
      claims.expires_at = testing::Now() - 3600;
      return testing::BearerOf(claims);
    }
    case Who::kForgedSignature:
      return testing::BearerOf(Claims("system/*.cruds", "Device/registry"),
                               "a-forger-guessing-the-secret-32b");
    case Who::kAlgNone:
      return "Bearer " + auth::Base64UrlEncode(R"({"alg":"none","typ":"JWT"})") + "." +
             auth::Base64UrlEncode(auth::ClaimsJson(Claims("system/*.cruds", "Device/registry"))) +
             ".";
  }
  return "";
}

// ---- The paths ----

struct Path {
  Kind kind;
  const char* name;
  http::verb method;
  std::string target;
  std::string body = {};
  std::vector<std::pair<std::string, std::string>> headers = {};
  // What a 200 does to the store: a new version of imm-alice-a11, a new Observation.
  bool updates_alice = false;
  bool adds_observation = false;
};

const Path& ReadImm() {
  static const Path p{Kind::kRead, "read Immunization/imm-alice-a11", http::verb::get,
                      "/fhir/Immunization/imm-alice-a11"};
  return p;
}
const Path& ReadObs() {
  static const Path p{Kind::kRead, "read Observation/obs-alice-c33", http::verb::get,
                      "/fhir/Observation/obs-alice-c33"};
  return p;
}
const Path& ReadPatient() {
  static const Path p{Kind::kRead, "read Patient/pat-alice-7f3", http::verb::get,
                      "/fhir/Patient/pat-alice-7f3"};
  return p;
}
const Path& ReadImmBruno() {
  static const Path p{Kind::kRead, "read Immunization/imm-bruno-b22", http::verb::get,
                      "/fhir/Immunization/imm-bruno-b22"};
  return p;
}
const Path& VreadImm() {
  static const Path p{Kind::kVread, "vread Immunization/imm-alice-a11/_history/1",
                      http::verb::get, "/fhir/Immunization/imm-alice-a11/_history/1"};
  return p;
}
const Path& HistoryImm() {
  static const Path p{Kind::kHistory, "history Immunization/imm-alice-a11/_history",
                      http::verb::get, "/fhir/Immunization/imm-alice-a11/_history"};
  return p;
}
const Path& HistoryObs() {
  static const Path p{Kind::kHistory, "history Observation/obs-alice-c33/_history",
                      http::verb::get, "/fhir/Observation/obs-alice-c33/_history"};
  return p;
}
const Path& HistoryType() {
  static const Path p{Kind::kHistory, "type history Immunization/_history", http::verb::get,
                      "/fhir/Immunization/_history"};
  return p;
}
const Path& SearchImm() {
  static const Path p{Kind::kSearch, "search Immunization?status=completed", http::verb::get,
                      "/fhir/Immunization?status=completed"};
  return p;
}
const Path& SearchObs() {
  static const Path p{Kind::kSearch, "search Observation?status=final", http::verb::get,
                      "/fhir/Observation?status=final"};
  return p;
}
const Path& IncludeImm() {
  static const Path p{Kind::kInclude, "search Immunization?_include=Immunization:patient",
                      http::verb::get, "/fhir/Immunization?_include=Immunization:patient"};
  return p;
}
const Path& IncludeObs() {
  static const Path p{Kind::kInclude, "search Observation?_include=Observation:subject",
                      http::verb::get, "/fhir/Observation?_include=Observation:subject"};
  return p;
}
const Path& RevincludeImm() {
  static const Path p{Kind::kRevinclude, "search Patient?_revinclude=Immunization:patient",
                      http::verb::get, "/fhir/Patient?_revinclude=Immunization:patient"};
  return p;
}
const Path& RevincludeObs() {
  static const Path p{Kind::kRevinclude, "search Patient?_revinclude=Observation:subject",
                      http::verb::get, "/fhir/Patient?_revinclude=Observation:subject"};
  return p;
}
const Path& ChainAlice() {
  static const Path p{Kind::kChain, "search Immunization?patient:Patient.name=Alvarez",
                      http::verb::get, "/fhir/Immunization?patient:Patient.name=Alvarez"};
  return p;
}
const Path& ChainObsAlice() {
  static const Path p{Kind::kChain, "search Observation?subject:Patient.name=Alvarez",
                      http::verb::get, "/fhir/Observation?subject:Patient.name=Alvarez"};
  return p;
}
const Path& HasImm() {
  static const Path p{Kind::kHas, "search Patient?_has:Immunization:patient:status=completed",
                      http::verb::get, "/fhir/Patient?_has:Immunization:patient:status=completed"};
  return p;
}
const Path& HasObs() {
  static const Path p{Kind::kHas, "search Patient?_has:Observation:subject:status=final",
                      http::verb::get, "/fhir/Patient?_has:Observation:subject:status=final"};
  return p;
}
const Path& CountImm() {
  static const Path p{Kind::kTotal, "search Immunization?_summary=count", http::verb::get,
                      "/fhir/Immunization?_summary=count"};
  return p;
}
const Path& TotalObs() {
  static const Path p{Kind::kTotal, "search Observation?_total=accurate&_count=0",
                      http::verb::get, "/fhir/Observation?_total=accurate&_count=0"};
  return p;
}
// If-None-Exist matching Alice's Immunization; a new one for Alice (or for Bruno).
const Path& ConditionalCreate() {
  static const Path p{Kind::kConditionalCreate,
                      "POST Immunization (for Alice), If-None-Exist: _id=imm-alice-a11",
                      http::verb::post,
                      "/fhir/Immunization",
                      ImmunizationJson("", kAlice, "conditional"),
                      {{"If-None-Exist", "_id=imm-alice-a11"}}};
  return p;
}
const Path& ConditionalCreateBruno() {
  static const Path p{Kind::kConditionalCreate,
                      "POST Immunization (for Bruno), If-None-Exist: _id=imm-alice-a11",
                      http::verb::post,
                      "/fhir/Immunization",
                      ImmunizationJson("", kBruno, "conditional"),
                      {{"If-None-Exist", "_id=imm-alice-a11"}}};
  return p;
}
const Path& ConditionalUpdate() {
  static const Path p{Kind::kConditionalUpdate, "PUT Immunization?_id=imm-alice-a11 (for Alice)",
                      http::verb::put, "/fhir/Immunization?_id=imm-alice-a11",
                      ImmunizationJson("", kAlice, "updated"), {}, true};
  return p;
}
const Path& ConditionalUpdateBruno() {
  static const Path p{Kind::kConditionalUpdate, "PUT Immunization?_id=imm-alice-a11 (for Bruno)",
                      http::verb::put, "/fhir/Immunization?_id=imm-alice-a11",
                      ImmunizationJson("", kBruno, "updated"), {}, true};
  return p;
}
// A new Observation for Alice and an update of her Immunization.
const Path& Transaction() {
  static const Path p{
      Kind::kTransaction, "transaction: POST Observation for Alice, PUT Immunization/imm-alice-a11",
      http::verb::post, "/fhir",
      R"({"resourceType":"Bundle","type":"transaction","entry":[)"
      R"({"resource":)" +
          ObservationJson("", kAlice) +
          R"(,"request":{"method":"POST","url":"Observation"}},)"
          R"({"resource":)" +
          ImmunizationJson(kImmAlice, kAlice, "updated") +
          R"(,"request":{"method":"PUT","url":"Immunization/imm-alice-a11"}}]})",
      {},
      true,
      true};
  return p;
}
const Path& PatchImm() {
  static const Path p{Kind::kPatch,
                      "PATCH Immunization/imm-alice-a11",
                      http::verb::patch,
                      "/fhir/Immunization/imm-alice-a11",
                      R"([{"op":"replace","path":"/vaccineCode/text","value":"patched"}])",
                      {{"Content-Type", "application/json-patch+json"}},
                      true};
  return p;
}
const Path& PatchObs() {
  static const Path p{Kind::kPatch,
                      "PATCH Observation/obs-alice-c33",
                      http::verb::patch,
                      "/fhir/Observation/obs-alice-c33",
                      R"([{"op":"replace","path":"/status","value":"amended"}])",
                      {{"Content-Type", "application/json-patch+json"}}};
  return p;
}

const Path& ReadMoved() {
  static const Path p{Kind::kRead, "read Condition/cond-moved-f77 (now Alice's)", http::verb::get,
                      "/fhir/Condition/cond-moved-f77"};
  return p;
}
const Path& VreadMovedV1() {
  static const Path p{Kind::kVread, "vread Condition/cond-moved-f77/_history/1 (then Bruno's)",
                      http::verb::get, "/fhir/Condition/cond-moved-f77/_history/1"};
  return p;
}
const Path& HistoryMoved() {
  static const Path p{Kind::kHistory, "history Condition/cond-moved-f77/_history",
                      http::verb::get, "/fhir/Condition/cond-moved-f77/_history"};
  return p;
}
const Path& SystemHistory() {
  static const Path p{Kind::kHistory, "system history _history", http::verb::get,
                      "/fhir/_history"};
  return p;
}
const Path& CompartmentImm() {
  static const Path p{Kind::kSearch, "compartment search Patient/pat-alice-7f3/Immunization",
                      http::verb::get, "/fhir/Patient/pat-alice-7f3/Immunization"};
  return p;
}
const Path& CompartmentAll() {
  static const Path p{Kind::kSearch, "compartment search Patient/pat-alice-7f3/*",
                      http::verb::get, "/fhir/Patient/pat-alice-7f3/*"};
  return p;
}
const Path& SystemSearch() {
  static const Path p{Kind::kSearch, "system search ?_type=Immunization,Observation",
                      http::verb::get, "/fhir?_type=Immunization,Observation"};
  return p;
}
const Path& SearchAuditByDana() {
  static const Path p{Kind::kSearch, "search AuditEvent?agent=Practitioner/doc-dana-41e",
                      http::verb::get, "/fhir/AuditEvent?agent=Practitioner/doc-dana-41e"};
  return p;
}
const Path& SearchAuditOfAlice() {
  static const Path p{Kind::kSearch, "search AuditEvent?patient=Patient/pat-alice-7f3",
                      http::verb::get, "/fhir/AuditEvent?patient=Patient/pat-alice-7f3"};
  return p;
}
const Path& ReadAuditSearch() {
  static const Path p{Kind::kRead, "read AuditEvent/audit-dana-search-9e2", http::verb::get,
                      "/fhir/AuditEvent/audit-dana-search-9e2"};
  return p;
}
const Path& SystemSearchAuditId() {
  static const Path p{Kind::kSearch, "system search ?_id=audit-dana-search-9e2", http::verb::get,
                      "/fhir?_id=audit-dana-search-9e2"};
  return p;
}
const Path& RevincludeAudit() {
  static const Path p{Kind::kRevinclude, "search Patient?_revinclude=AuditEvent:patient",
                      http::verb::get, "/fhir/Patient?_revinclude=AuditEvent:patient"};
  return p;
}
const Path& PostSearch() {
  static const Path p{Kind::kSearch,
                      "POST Immunization/_search (status=completed)",
                      http::verb::post,
                      "/fhir/Immunization/_search",
                      "status=completed",
                      {{"Content-Type", "application/x-www-form-urlencoded"}}};
  return p;
}
const Path& SearchById() {
  static const Path p{Kind::kSearch, "search Immunization?_id=imm-alice-a11", http::verb::get,
                      "/fhir/Immunization?_id=imm-alice-a11"};
  return p;
}
const Path& IncludeAll() {
  static const Path p{Kind::kInclude, "search Observation?_include=*", http::verb::get,
                      "/fhir/Observation?_include=*"};
  return p;
}
const Path& RevincludeConditionConsent() {
  static const Path p{Kind::kRevinclude,
                      "search Patient?_revinclude=Condition:subject&_revinclude=Consent:patient",
                      http::verb::get,
                      "/fhir/Patient?_revinclude=Condition:subject&_revinclude=Consent:patient"};
  return p;
}
const Path& PagedObs() {
  static const Path p{Kind::kTotal, "search Observation?_count=1&_total=accurate",
                      http::verb::get, "/fhir/Observation?_count=1&_total=accurate"};
  return p;
}
// The body names the forbidden id its criteria cannot see.
const Path& ConditionalUpdateNamed() {
  static const Path p{Kind::kConditionalUpdate,
                      "PUT Immunization?_id=imm-alice-a11 with id imm-alice-a11 in the body",
                      http::verb::put, "/fhir/Immunization?_id=imm-alice-a11",
                      ImmunizationJson(kImmAlice, kAlice, "updated"), {}, true};
  return p;
}
// A read of Alice's Immunization and a search of Observations.
const Path& Batch() {
  static const Path p{
      Kind::kTransaction, "batch: GET Immunization/imm-alice-a11, GET Observation?status=final",
      http::verb::post, "/fhir",
      R"({"resourceType":"Bundle","type":"batch","entry":[)"
      R"({"request":{"method":"GET","url":"Immunization/imm-alice-a11"}},)"
      R"({"request":{"method":"GET","url":"Observation?status=final"}}]})"};
  return p;
}
const Path& TransactionRead() {
  static const Path p{
      Kind::kTransaction, "transaction: GET Immunization/imm-alice-a11", http::verb::post, "/fhir",
      R"({"resourceType":"Bundle","type":"transaction","entry":[)"
      R"({"request":{"method":"GET","url":"Immunization/imm-alice-a11"}}]})"};
  return p;
}

bool IsBundle(const Path& path) {
  switch (path.kind) {
    case Kind::kHistory: return path.target.find("/_history/") == std::string::npos;
    case Kind::kSearch:
    case Kind::kInclude:
    case Kind::kRevinclude:
    case Kind::kChain:
    case Kind::kHas:
    case Kind::kTotal: return true;
    default: return false;
  }
}
bool IsWrite(const Path& path) { return path.method != http::verb::get; }

// ---- The rows ----

constexpr int64_t kNoTotal = -1;

struct Row {
  Who who;
  State state;
  const Path* path;
  int status;
  // Bundles: exactly the entry resources ("Type/id", any order). Others: ids that must appear
  // in the body.
  std::vector<std::string> ids;
  // Ids that must appear nowhere: not in the body, not in any header.
  std::vector<std::string> absent;
  int64_t total = kNoTotal;  // Bundles: Bundle.total, kNoTotal when it must be absent
  bool redacted = false;     // Bundles: Bundle.meta.security REDACTED
  std::string basis = {};    // X-Access-Basis ("" none); a 2xx with "emergency" is ETREAT-tagged
  // batch/transaction responses: each entry's response.status (its code), in order.
  std::vector<std::string> statuses = {};
};

std::vector<std::string> Join(std::initializer_list<std::vector<std::string>> parts) {
  std::vector<std::string> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
const std::vector<std::string> kAliceIds = {kAlice, kImmAlice, kObsAlice, kConsent};
const std::vector<std::string> kBrunoIds = {kBruno, kImmBruno, kObsBruno};
const std::vector<std::string> kAllIds = Join({kAliceIds, kBrunoIds, {kObsNobody}});
// The same but the Consent, which X-Access-Basis names to the practitioner it permits.
const std::vector<std::string> kAllData = Join({{kAlice, kImmAlice, kObsAlice}, kBrunoIds,
                                                {kObsNobody}});
const std::string kByConsent = std::string("Consent/") + kConsent;
const std::string kEmergencyBasis = "emergency";

std::string I(const char* id) { return std::string("Immunization/") + id; }
std::string O(const char* id) { return std::string("Observation/") + id; }
std::string P(const char* id) { return std::string("Patient/") + id; }
std::string CondMoved() { return std::string("Condition/") + kCondMoved; }
std::string AE(const char* id) { return std::string("AuditEvent/") + id; }

std::vector<Row> Matrix() {
  using W = Who;
  using S = State;
  const std::vector<std::string> none;
  return {
      // --- The resident: her whole record, nothing of Bruno's; Consents do not bind her.
      {W::kResident, S::kNone, &ReadImm(), 200, {kImmAlice, kAlice}, kBrunoIds},
      {W::kResident, S::kNone, &ReadImmBruno(), 403, {}, {kBruno, kObsBruno}},
      {W::kResident, S::kNone, &VreadImm(), 200, {kImmAlice}, kBrunoIds},
      {W::kResident, S::kNone, &HistoryType(), 200, {I(kImmAlice)}, kBrunoIds, kNoTotal, true},
      {W::kResident, S::kNone, &SearchImm(), 200, {I(kImmAlice)}, kBrunoIds, 1, true},
      {W::kResident, S::kNone, &IncludeImm(), 200, {I(kImmAlice), P(kAlice)}, kBrunoIds, 1, true},
      {W::kResident, S::kNone, &RevincludeImm(), 200, {P(kAlice), I(kImmAlice)}, kBrunoIds, 1,
       true},
      {W::kResident, S::kActive, &ChainAlice(), 200, {I(kImmAlice)}, kBrunoIds, 1, false},
      {W::kResident, S::kNone, &HasImm(), 200, {P(kAlice)}, kBrunoIds, 1, true},
      {W::kResident, S::kNone, &CountImm(), 200, {}, kAllIds, 1, true},
      {W::kResident, S::kNone, &ConditionalCreate(), 200, {}, kBrunoIds},
      {W::kResident, S::kNone, &ConditionalUpdate(), 200, {kImmAlice}, kBrunoIds},
      {W::kResident, S::kNone, &Transaction(), 200, {kImmAlice}, kBrunoIds, kNoTotal, false, "",
       {"201", "200"}},
      {W::kResident, S::kDeny, &PatchImm(), 200, {kImmAlice}, kBrunoIds},
      {W::kResident, S::kDeny, &ReadObs(), 200, {kObsAlice}, kBrunoIds},

      // --- Another resident: nothing of Alice's, whatever Alice consented to.
      {W::kOtherResident, S::kNone, &ReadImm(), 403, {}, {kAlice, kObsAlice}},
      {W::kOtherResident, S::kActive, &ReadPatient(), 403, {}, {kImmAlice, kObsAlice, kConsent}},
      {W::kOtherResident, S::kActive, &VreadImm(), 403, {}, {kAlice, kObsAlice, kConsent}},
      {W::kOtherResident, S::kNone, &HistoryImm(), 403, {}, {kAlice, kObsAlice}},
      {W::kOtherResident, S::kActive, &SearchImm(), 200, {I(kImmBruno)}, kAliceIds, 1, true},
      {W::kOtherResident, S::kNone, &IncludeImm(), 200, {I(kImmBruno), P(kBruno)}, kAliceIds, 1,
       true},
      {W::kOtherResident, S::kNone, &RevincludeImm(), 200, {P(kBruno), I(kImmBruno)}, kAliceIds,
       1, true},
      {W::kOtherResident, S::kNone, &ChainAlice(), 200, {}, kAliceIds, 0, true},
      {W::kOtherResident, S::kNone, &HasImm(), 200, {P(kBruno)}, kAliceIds, 1, true},
      {W::kOtherResident, S::kNone, &CountImm(), 200, {}, kAllIds, 1, true},
      {W::kOtherResident, S::kNone, &ConditionalCreateBruno(), 201, {kBruno}, kAliceIds},
      {W::kOtherResident, S::kNone, &ConditionalUpdateBruno(), 201, {kBruno}, kAliceIds},
      {W::kOtherResident, S::kActive, &Transaction(), 403, {}, {kObsAlice, kConsent}},
      {W::kOtherResident, S::kActive, &PatchImm(), 403, {}, {kAlice, kObsAlice, kConsent}},

      // --- The practitioner Alice consented to.
      {W::kConsented, S::kActive, &ReadImm(), 200, {kImmAlice}, kBrunoIds, kNoTotal, false,
       kByConsent},
      {W::kConsented, S::kActive, &ReadObs(), 200, {kObsAlice}, kBrunoIds, kNoTotal, false,
       kByConsent},
      {W::kConsented, S::kActive, &VreadImm(), 200, {kImmAlice}, kBrunoIds, kNoTotal, false,
       kByConsent},
      {W::kConsented, S::kActive, &HistoryImm(), 200, {I(kImmAlice)}, kBrunoIds, 1, false,
       kByConsent},
      {W::kConsented, S::kActive, &HistoryType(), 200, {I(kImmAlice)}, kBrunoIds, kNoTotal, true,
       kByConsent},
      {W::kConsented, S::kActive, &SearchImm(), 200, {I(kImmAlice)}, kBrunoIds, 1, true,
       kByConsent},
      {W::kConsented, S::kActive, &IncludeObs(), 200,
       {O(kObsAlice), O(kObsNobody), P(kAlice)}, kBrunoIds, 2, true, kByConsent},
      {W::kConsented, S::kActive, &RevincludeImm(), 200, {P(kAlice), I(kImmAlice)}, kBrunoIds, 1,
       true, kByConsent},
      {W::kConsented, S::kActive, &ChainAlice(), 200, {I(kImmAlice)}, kBrunoIds, 1, false,
       kByConsent},
      {W::kConsented, S::kActive, &HasImm(), 200, {P(kAlice)}, kBrunoIds, 1, true, kByConsent},
      {W::kConsented, S::kActive, &CountImm(), 200, {}, kBrunoIds, 1, true, kByConsent},
      {W::kConsented, S::kActive, &ConditionalCreate(), 200, {}, kBrunoIds, kNoTotal, false,
       kByConsent},
      {W::kConsented, S::kActive, &ConditionalUpdate(), 200, {kImmAlice}, kBrunoIds, kNoTotal,
       false, kByConsent},
      // (a Bundle's entries are each audited with their basis; the response has no header)
      {W::kConsented, S::kActive, &Transaction(), 200, {kImmAlice}, kBrunoIds, kNoTotal, false,
       "", {"201", "200"}},
      {W::kConsented, S::kActive, &PatchImm(), 200, {kImmAlice}, kBrunoIds, kNoTotal, false,
       kByConsent},
      // ... whose Consent is absent, expired or revoked: no access, no hint of whose it is
      {W::kConsented, S::kNone, &ReadImm(), 403, {}, Join({{kAlice, kObsAlice}, kBrunoIds})},
      {W::kConsented, S::kNone, &SearchImm(), 200, {}, kAllIds, 0, true},
      {W::kConsented, S::kNone, &PatchImm(), 403, {}, Join({{kAlice, kObsAlice}, kBrunoIds})},
      {W::kConsented, S::kNone, &ConditionalCreate(), 201, {kAlice},
       Join({{kImmAlice, kObsAlice}, kBrunoIds})},
      {W::kConsented, S::kExpired, &ReadImm(), 403, {}, {kAlice, kObsAlice, kConsent}},
      {W::kConsented, S::kExpired, &SearchImm(), 200, {}, kAllIds, 0, true},
      {W::kConsented, S::kExpired, &HasImm(), 200, {}, kAllIds, 0, true},
      {W::kConsented, S::kExpired, &ConditionalUpdate(), 201, {kAlice},
       Join({{kImmAlice, kObsAlice, kConsent}, kBrunoIds})},
      {W::kConsented, S::kRevoked, &ReadImm(), 403, {}, {kAlice, kObsAlice, kConsent}},
      {W::kConsented, S::kRevoked, &VreadImm(), 403, {}, {kAlice, kObsAlice, kConsent}},
      {W::kConsented, S::kRevoked, &IncludeImm(), 200, {}, kAllIds, 0, true},
      {W::kConsented, S::kRevoked, &Transaction(), 403, {}, {kObsAlice, kConsent}},
      {W::kConsented, S::kDeleted, &ReadImm(), 403, {}, {kAlice, kObsAlice, kConsent}},
      {W::kConsented, S::kDeleted, &SearchImm(), 200, {}, kAllIds, 0, true},
      {W::kConsented, S::kDeleted, &RevincludeImm(), 200, {}, kAllIds, 0, true},
      // ... under deny provisions: everything but Observations
      {W::kConsented, S::kDeny, &ReadImm(), 200, {kImmAlice}, kBrunoIds, kNoTotal, false,
       kByConsent},
      {W::kConsented, S::kDeny, &ReadObs(), 403, {}, kBrunoIds},
      {W::kConsented, S::kDeny, &HistoryObs(), 403, {}, kBrunoIds},
      {W::kConsented, S::kDeny, &SearchObs(), 200, {O(kObsNobody)}, Join({{kObsAlice}, kBrunoIds}),
       1, true},
      {W::kConsented, S::kDeny, &RevincludeObs(), 200, {P(kAlice)}, Join({{kObsAlice}, kBrunoIds}),
       1, true, kByConsent},
      {W::kConsented, S::kDeny, &HasObs(), 200, {}, Join({{kAlice, kObsAlice}, kBrunoIds}), 0,
       true, kByConsent},
      {W::kConsented, S::kDeny, &TotalObs(), 200, {}, kAllIds, 1, true},
      {W::kConsented, S::kDeny, &PatchObs(), 403, {}, kBrunoIds},
      // ... limited to class Immunization
      {W::kConsented, S::kClassLimited, &ReadImm(), 200, {kImmAlice}, kBrunoIds, kNoTotal, false,
       kByConsent},
      {W::kConsented, S::kClassLimited, &ReadPatient(), 403, {}, Join({{kImmAlice, kObsAlice},
                                                                       kBrunoIds})},
      {W::kConsented, S::kClassLimited, &IncludeImm(), 200, {I(kImmAlice)}, kBrunoIds, 1, true,
       kByConsent},
      {W::kConsented, S::kClassLimited, &ChainAlice(), 200, {}, kAllData, 0, true, kByConsent},
      {W::kConsented, S::kClassLimited, &ChainObsAlice(), 200, {}, kAllIds, 0, true},
      {W::kConsented, S::kClassLimited, &HasImm(), 200, {}, kAllData, 0, true, kByConsent},
      {W::kConsented, S::kClassLimited, &RevincludeImm(), 200, {}, kAllData, 0, true, kByConsent},
      {W::kConsented, S::kClassLimited, &CountImm(), 200, {}, kAllData, 1, true, kByConsent},
      {W::kConsented, S::kClassLimited, &ConditionalUpdate(), 200, {kImmAlice}, kBrunoIds,
       kNoTotal, false, kByConsent},
      {W::kConsented, S::kClassLimited, &Transaction(), 200, {kImmAlice}, kBrunoIds, kNoTotal,
       false, "", {"201", "200"}},
      {W::kConsented, S::kClassLimited, &PatchObs(), 403, {}, kBrunoIds},

      // ... whose Consent names Bruno's data: a resident grants nothing of another's record
      {W::kConsented, S::kOthersData, &ReadImmBruno(), 403, {}, {kBruno, kObsBruno}},
      {W::kConsented, S::kOthersData, &ReadImm(), 403, {}, kBrunoIds},
      {W::kConsented, S::kOthersData, &SearchImm(), 200, {}, kAllIds, 0, true},

      // --- A practitioner no Consent names: nothing, and no hint of whose record it is.
      {W::kNotConsented, S::kActive, &ReadImm(), 403, {}, {kAlice, kObsAlice, kConsent}},
      {W::kNotConsented, S::kActive, &VreadImm(), 403, {}, {kAlice, kObsAlice, kConsent}},
      {W::kNotConsented, S::kActive, &HistoryImm(), 403, {}, {kAlice, kObsAlice, kConsent}},
      {W::kNotConsented, S::kActive, &SearchImm(), 200, {}, kAllIds, 0, true},
      {W::kNotConsented, S::kActive, &IncludeObs(), 200, {O(kObsNobody)},
       Join({kAliceIds, kBrunoIds}), 1, true},
      {W::kNotConsented, S::kActive, &HasImm(), 200, {}, kAllIds, 0, true},
      {W::kNotConsented, S::kActive, &CountImm(), 200, {}, kAllIds, 0, true},
      {W::kNotConsented, S::kActive, &ConditionalCreate(), 201, {kAlice},
       Join({{kImmAlice, kObsAlice, kConsent}, kBrunoIds})},
      {W::kNotConsented, S::kActive, &ConditionalUpdate(), 201, {kAlice},
       Join({{kImmAlice, kObsAlice, kConsent}, kBrunoIds})},
      {W::kNotConsented, S::kActive, &Transaction(), 403, {}, {kObsAlice, kConsent}},
      {W::kNotConsented, S::kActive, &PatchImm(), 403, {}, {kAlice, kObsAlice, kConsent}},

      // --- A practitioner of the consented organisation (through PractitionerRole).
      {W::kOrganisation, S::kActive, &ReadImm(), 200, {kImmAlice}, kBrunoIds, kNoTotal, false,
       kByConsent},
      {W::kOrganisation, S::kActive, &SearchImm(), 200, {I(kImmAlice)}, kBrunoIds, 1, true,
       kByConsent},
      {W::kOrganisation, S::kActive, &RevincludeImm(), 200, {P(kAlice), I(kImmAlice)}, kBrunoIds,
       1, true, kByConsent},
      {W::kOrganisation, S::kActive, &PatchImm(), 200, {kImmAlice}, kBrunoIds, kNoTotal, false,
       kByConsent},
      {W::kOrganisation, S::kClassLimited, &ReadObs(), 403, {}, kBrunoIds},
      {W::kOrganisation, S::kClassLimited, &IncludeImm(), 200, {I(kImmAlice)}, kBrunoIds, 1, true,
       kByConsent},
      {W::kOrganisation, S::kNone, &ReadImm(), 403, {}, {kAlice, kObsAlice}},
      {W::kOrganisation, S::kExpired, &SearchImm(), 200, {}, kAllIds, 0, true},
      // ... but not one whose role there has ended
      {W::kFormerMember, S::kActive, &ReadImm(), 403, {}, {kAlice, kObsAlice, kConsent}},
      {W::kFormerMember, S::kActive, &SearchImm(), 200, {}, kAllIds, 0, true},
      {W::kFormerMember, S::kActive, &RevincludeImm(), 200, {}, kAllIds, 0, true},
      {W::kFormerMember, S::kClassLimited, &HasImm(), 200, {}, kAllIds, 0, true},
      {W::kFormerMember, S::kActive, &PatchImm(), 403, {}, {kAlice, kObsAlice, kConsent}},

      // --- Emergency: reads without Consent, marked; Alice's deny provision for ETREAT wins.
      {W::kEmergency, S::kNone, &ReadImm(), 200, {kImmAlice}, kBrunoIds, kNoTotal, false,
       kEmergencyBasis},
      {W::kEmergency, S::kNone, &SearchImm(), 200, {I(kImmAlice), I(kImmBruno)}, none, 2, false,
       kEmergencyBasis},
      {W::kEmergency, S::kNone, &IncludeImm(), 200,
       {I(kImmAlice), I(kImmBruno), P(kAlice), P(kBruno)}, none, 2, false, kEmergencyBasis},
      {W::kEmergency, S::kActive, &HistoryImm(), 200, {I(kImmAlice)}, kBrunoIds, 1, false,
       kEmergencyBasis},
      {W::kEmergency, S::kClassLimited, &ReadObs(), 200, {kObsAlice}, kBrunoIds, kNoTotal, false,
       kEmergencyBasis},
      {W::kEmergency, S::kDeny, &ReadImm(), 403, {}, {kAlice, kObsAlice, kConsent}},
      {W::kEmergency, S::kDeny, &VreadImm(), 403, {}, {kAlice, kObsAlice, kConsent}},
      {W::kEmergency, S::kDeny, &SearchImm(), 200, {I(kImmBruno)}, kAliceIds, 1, true,
       kEmergencyBasis},
      {W::kEmergency, S::kDeny, &RevincludeImm(), 200, {P(kBruno), I(kImmBruno)}, kAliceIds, 1,
       true, kEmergencyBasis},
      {W::kEmergency, S::kDeny, &ChainAlice(), 200, {}, kAliceIds, 0, true, kEmergencyBasis},
      {W::kEmergency, S::kDeny, &HasImm(), 200, {P(kBruno)}, kAliceIds, 1, true, kEmergencyBasis},
      {W::kEmergency, S::kDeny, &CountImm(), 200, {}, kAliceIds, 1, true, kEmergencyBasis},
      // reading is what the emergency rule grants: changing existing data still needs Consent
      {W::kEmergency, S::kNone, &PatchImm(), 403, {}, {kObsAlice}},
      {W::kEmergency, S::kNone, &ConditionalCreate(), 200, {}, kBrunoIds, kNoTotal, false,
       kEmergencyBasis},

      // --- A system/ scope: everything its scopes allow, whatever the Consents say.
      {W::kSystem, S::kDeny, &ReadObs(), 200, {kObsAlice}, {}},
      {W::kSystem, S::kNone, &SearchImm(), 200, {I(kImmAlice), I(kImmBruno)}, {}, 2, false},
      {W::kSystem, S::kDeny, &HasImm(), 200, {P(kAlice), P(kBruno)}, {}, 2, false},
      {W::kSystem, S::kRevoked, &ConditionalUpdate(), 200, {kImmAlice}, {}},
      {W::kSystem, S::kActive, &Transaction(), 200, {kImmAlice}, {}, kNoTotal, false, "",
       {"201", "200"}},
      {W::kSystem, S::kDeny, &PatchImm(), 200, {kImmAlice}, {}},

      // --- More paths: a resource that moved between records, system-level and compartment
      // searches, wildcard includes, paging, batches and transactions that read.
      {W::kConsented, S::kActive, &ReadMoved(), 200, {kCondMoved, kAlice}, kBrunoIds, kNoTotal,
       false, kByConsent},
      {W::kConsented, S::kActive, &VreadMovedV1(), 403, {}, kBrunoIds},
      {W::kConsented, S::kActive, &HistoryMoved(), 200, {CondMoved()}, kBrunoIds, kNoTotal, true,
       kByConsent},
      {W::kResident, S::kNone, &VreadMovedV1(), 403, {}, kBrunoIds},
      {W::kResident, S::kNone, &HistoryMoved(), 200, {CondMoved()}, kBrunoIds, kNoTotal, true},
      {W::kOtherResident, S::kNone, &ReadMoved(), 403, {}, {kAlice}},
      {W::kOtherResident, S::kNone, &VreadMovedV1(), 200, {kCondMoved, kBruno}, {kAlice}},
      {W::kOtherResident, S::kNone, &HistoryMoved(), 403, {}, {kAlice}},
      {W::kOtherResident, S::kNone, &SystemHistory(), 200,
       {P(kBruno), I(kImmBruno), O(kObsBruno), CondMoved()}, kAliceIds, kNoTotal, true},
      {W::kOrganisation, S::kActive, &SystemHistory(), 200,
       {P(kAlice), I(kImmAlice), O(kObsAlice), O(kObsNobody), CondMoved(),
        std::string("Consent/") + kConsent, "Organization/org-clinic-3a7",
        "PractitionerRole/role-orla-6e1", "PractitionerRole/role-otto-1c4", AE(kAuditRead)},
       Join({kBrunoIds, {kAuditSearch, "hiv"}}), kNoTotal, true, kByConsent},
      {W::kNotConsented, S::kActive, &SystemHistory(), 200,
       {O(kObsNobody), "Organization/org-clinic-3a7", "PractitionerRole/role-orla-6e1",
        "PractitionerRole/role-otto-1c4"},
       Join({kAliceIds, kBrunoIds, {kCondMoved}}), kNoTotal, true},
      {W::kNotConsented, S::kActive, &CompartmentImm(), 200, {},
       Join({{kImmAlice, kObsAlice, kConsent}, kBrunoIds}), 0, true},
      {W::kConsented, S::kActive, &CompartmentImm(), 200, {I(kImmAlice)}, kBrunoIds, 1, false,
       kByConsent},
      {W::kOtherResident, S::kActive, &CompartmentImm(), 403, {}, {kImmAlice, kObsAlice, kConsent}},
      {W::kOtherResident, S::kActive, &CompartmentAll(), 403, {}, {kImmAlice, kObsAlice, kConsent}},
      {W::kNotConsented, S::kActive, &CompartmentAll(), 200, {},
       Join({{kImmAlice, kObsAlice, kConsent}, kBrunoIds}), 0, true},
      {W::kNotConsented, S::kActive, &SystemSearch(), 200, {O(kObsNobody)},
       Join({kAliceIds, kBrunoIds}), 1, true},
      {W::kResident, S::kNone, &SystemSearch(), 200, {I(kImmAlice), O(kObsAlice)},
       Join({kBrunoIds, {kObsNobody}}), 2, true},
      {W::kEmergency, S::kDeny, &SystemSearch(), 200,
       {I(kImmBruno), O(kObsBruno), O(kObsNobody)}, kAliceIds, 3, true, kEmergencyBasis},
      {W::kNotConsented, S::kActive, &PostSearch(), 200, {}, kAllIds, 0, true},
      {W::kOrganisation, S::kActive, &PostSearch(), 200, {I(kImmAlice)}, kBrunoIds, 1, true,
       kByConsent},
      {W::kEmergency, S::kNone, &ConditionalUpdate(), 403, {}, {kObsAlice}},
      {W::kNotConsented, S::kActive, &SearchById(), 200, {},
       Join({{kAlice, kObsAlice, kConsent}, kBrunoIds}), 0, true},
      {W::kConsented, S::kRevoked, &SearchById(), 200, {},
       Join({{kAlice, kObsAlice, kConsent}, kBrunoIds}), 0, true},
      {W::kNotConsented, S::kActive, &IncludeAll(), 200, {O(kObsNobody)},
       Join({kAliceIds, kBrunoIds}), 1, true},
      {W::kConsented, S::kDeny, &IncludeAll(), 200, {O(kObsNobody)},
       Join({{kObsAlice}, kBrunoIds}), 1, true, kByConsent},
      {W::kConsented, S::kDeny, &RevincludeConditionConsent(), 200,
       {P(kAlice), CondMoved(), std::string("Consent/") + kConsent},
       Join({{kObsAlice}, kBrunoIds}), 1, true, kByConsent},
      {W::kEmergency, S::kNone, &RevincludeConditionConsent(), 200,
       {P(kAlice), P(kBruno), CondMoved()}, {}, 2, false, kEmergencyBasis},
      {W::kOtherResident, S::kActive, &RevincludeConditionConsent(), 200, {P(kBruno)},
       kAliceIds, 1, true},
      {W::kConsented, S::kActive, &PagedObs(), 200, {O(kObsAlice)}, kBrunoIds, 2, true,
       kByConsent},
      {W::kNotConsented, S::kActive, &ConditionalUpdateNamed(), 403, {},
       {kAlice, kObsAlice, kConsent}},
      {W::kNotConsented, S::kActive, &Batch(), 200, {kObsNobody},
       Join({{kAlice, kObsAlice, kConsent}, kBrunoIds}), kNoTotal, false, "", {"403", "200"}},
      {W::kConsented, S::kDeny, &Batch(), 200, {kImmAlice, kObsNobody},
       Join({{kObsAlice}, kBrunoIds}), kNoTotal, false, "", {"200", "200"}},
      {W::kEmergency, S::kDeny, &Batch(), 200, {kObsBruno, kObsNobody},
       {kAlice, kObsAlice, kConsent}, kNoTotal, false, "", {"403", "200"}},
      {W::kOtherResident, S::kNone, &Batch(), 200, {kObsBruno},
       {kAlice, kObsAlice, kConsent, kObsNobody}, kNoTotal, false, "", {"403", "200"}},
      {W::kEmergency, S::kNone, &TransactionRead(), 200, {kImmAlice}, kBrunoIds, kNoTotal, false,
       "", {"200"}},
      {W::kNotConsented, S::kActive, &TransactionRead(), 403, {}, {kAlice, kObsAlice, kConsent}},

      // --- AuditEvents: a practitioner sees those in a resident's record the Consent opens,
      // never those in no resident's record (who did what; a query naming the resident).
      {W::kNotConsented, S::kActive, &SearchAuditByDana(), 200, {},
       {kAlice, kAuditSearch, kAuditRead, "hiv"}, 0, true},
      {W::kNotConsented, S::kActive, &ReadAuditSearch(), 403, {}, {kAlice, "hiv"}},
      {W::kNotConsented, S::kActive, &SystemSearchAuditId(), 200, {}, {kAlice, kAuditRead, "hiv"},
       0, true},
      {W::kNotConsented, S::kActive, &RevincludeAudit(), 200, {}, Join({kAllIds, {kAuditRead}}),
       0, true},
      {W::kConsented, S::kActive, &SearchAuditByDana(), 200, {AE(kAuditRead)},
       {kAuditSearch, "hiv"}, 1, true, kByConsent},
      {W::kConsented, S::kActive, &ReadAuditSearch(), 403, {}, {kAlice, "hiv"}},
      {W::kConsented, S::kActive, &RevincludeAudit(), 200, {P(kAlice), AE(kAuditRead)},
       Join({kBrunoIds, {kAuditSearch}}), 1, true, kByConsent},
      {W::kConsented, S::kClassLimited, &SearchAuditByDana(), 200, {},
       {kAuditSearch, kAuditRead, "hiv"}, 0, true},
      {W::kResident, S::kNone, &SearchAuditOfAlice(), 200, {AE(kAuditRead)},
       Join({kBrunoIds, {kAuditSearch, "hiv"}}), 1, false},
      {W::kOtherResident, S::kNone, &SearchAuditByDana(), 200, {},
       {kAlice, kAuditSearch, kAuditRead, "hiv"}, 0, true},
      {W::kSystem, S::kNone, &SearchAuditByDana(), 200, {AE(kAuditSearch), AE(kAuditRead)}, {},
       2, false},

      // --- Not authenticated: 401 whatever the path, nothing shown, nothing written.
      {W::kNoToken, S::kActive, &ReadImm(), 401, {}, kAllIds},
      {W::kNoToken, S::kNone, &SearchImm(), 401, {}, kAllIds},
      {W::kNoToken, S::kNone, &Transaction(), 401, {}, kAllIds},
      {W::kExpiredToken, S::kActive, &ReadImm(), 401, {}, kAllIds},
      {W::kExpiredToken, S::kNone, &HasImm(), 401, {}, kAllIds},
      {W::kExpiredToken, S::kNone, &PatchImm(), 401, {}, kAllIds},
      {W::kForgedSignature, S::kNone, &VreadImm(), 401, {}, kAllIds},
      {W::kForgedSignature, S::kNone, &IncludeImm(), 401, {}, kAllIds},
      {W::kForgedSignature, S::kNone, &ConditionalCreate(), 401, {}, kAllIds},
      {W::kAlgNone, S::kNone, &ReadImm(), 401, {}, kAllIds},
      {W::kAlgNone, S::kNone, &RevincludeImm(), 401, {}, kAllIds},
      {W::kAlgNone, S::kNone, &ConditionalUpdate(), 401, {}, kAllIds},
  };
}

// ---- Running a row ----

std::string Describe(const Row& row, std::size_t index) {
  return "row " + std::to_string(index) + ": " + std::string(Name(row.who)) + " | " +
         row.path->name + " | " + std::string(Name(row.state)) + " -> " +
         std::to_string(row.status);
}

// Every resource in `resource` (itself, or each one in a Bundle, nested Bundles included)
// carries meta.security ETREAT (v3-ActReason); OperationOutcomes need not.
bool AllTaggedEmergency(const rapidjson::Value& resource) {
  const std::string_view type = resource["resourceType"].GetString();
  if (type == "OperationOutcome") return true;
  if (type == "Bundle") {
    if (!resource.HasMember("entry")) return true;
    for (const auto& e : resource["entry"].GetArray()) {
      if (e.HasMember("resource") && !AllTaggedEmergency(e["resource"])) return false;
    }
    return true;
  }
  if (!resource.HasMember("meta") || !resource["meta"].HasMember("security")) return false;
  for (const auto& c : resource["meta"]["security"].GetArray()) {
    if (std::string_view(c["system"].GetString()) == auth::kActReasonSystem &&
        std::string_view(c["code"].GetString()) == "ETREAT") {
      return true;
    }
  }
  return false;
}
bool AllTaggedEmergency(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.c_str());
  return !doc.HasParseError() && doc.IsObject() && doc.HasMember("resourceType") &&
         AllTaggedEmergency(doc);
}

// The codes of a batch/transaction response's entry statuses ("403 Forbidden" -> "403").
std::vector<std::string> EntryStatuses(const std::string& body) {
  std::vector<std::string> out;
  rapidjson::Document doc;
  doc.Parse(body.c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("entry")) return out;
  for (const auto& e : doc["entry"].GetArray()) {
    out.push_back(std::string(e["response"]["status"].GetString()).substr(0, 3));
  }
  return out;
}

// Total of a search as the system sees it.
int64_t SystemCount(AuthServer& server, const std::string& type) {
  Response r = server.Get("/fhir/" + type + "?_summary=count", testing::SystemToken());
  REQUIRE(r.result_int() == 200);
  return View(r.body()).total.value_or(-1);
}

std::string VersionOfAliceImmunization(AuthServer& server) {
  Response r = server.Get("/fhir/Immunization/imm-alice-a11", testing::SystemToken());
  REQUIRE(r.result_int() == 200);
  rapidjson::Document doc;
  doc.Parse(r.body().c_str());
  return doc["meta"]["versionId"].GetString();
}

void Run(const Row& row, std::size_t index) {
  const std::string scenario = Describe(row, index);
  INFO(scenario);
  AuthServer server;
  Seed(server);
  if (!SetUp(server, row.state)) return;
  const Path& path = *row.path;
  Response r = server.Call(path.method, path.target, Authorization(row.who), path.body,
                           path.headers);
  const std::string& body = r.body();
  INFO("body: " << body);
  CHECK(r.result_int() == row.status);

  // No forbidden id anywhere: body and every header.
  for (const std::string& id : row.absent) {
    CAPTURE(id);
    CHECK(body.find(id) == std::string::npos);
    for (const auto& field : r) {
      const std::string value(field.value().data(), field.value().size());
      CAPTURE(value);
      CHECK(value.find(id) == std::string::npos);
    }
  }
  CHECK(Header(r, "X-Access-Basis") == row.basis);
  if (row.status == 401) {
    CHECK(Header(r, "WWW-Authenticate").starts_with("Bearer realm=\"fhir-server\""));
  }
  if (row.status >= 400) {
    CHECK(At(body, "resourceType") == "OperationOutcome");
    CHECK(At(body, "issue[0].code") == (row.status == 401 ? "login" : "forbidden"));
    if (row.status == 403 && !IsWrite(path) && row.who != Who::kResident &&
        row.who != Who::kOtherResident) {
      const std::string diagnostics = At(body, "issue[0].diagnostics");
      CHECK((diagnostics.starts_with("Consent is required") ||
             diagnostics.ends_with("is in no resident's record: only a system/ scope may access "
                                   "it")));
    }
  } else if (IsBundle(path)) {
    testing::BundleView view = View(body);
    std::string got;
    for (const std::string& id : Sorted(view.ids)) got += id + " ";
    CAPTURE(got);
    CHECK(Sorted(view.ids) == Sorted(row.ids));
    CHECK(view.total.value_or(kNoTotal) == row.total);
    CHECK(view.redacted == row.redacted);
  } else {
    for (const std::string& id : row.ids) {
      CAPTURE(id);
      CHECK(body.find(id) != std::string::npos);
    }
    if (path.kind == Kind::kTransaction && row.status == 200) {
      CHECK(EntryStatuses(body) == row.statuses);
    }
  }
  // What the emergency rule let through is tagged, also inside a batch or transaction (whose
  // response has no X-Access-Basis: each entry is audited with its own).
  if (r.result_int() < 300 && !body.empty() &&
      (row.basis == kEmergencyBasis || (row.who == Who::kEmergency && !IsBundle(path)))) {
    CHECK(AllTaggedEmergency(body));
  }

  // What the store holds afterwards: a refused write changed nothing; a conditional write
  // that could not see Alice's Immunization made a new one and left hers alone.
  if (IsWrite(path)) {
    CHECK(VersionOfAliceImmunization(server) ==
          (row.status == 200 && path.updates_alice ? "2" : "1"));
    CHECK(SystemCount(server, "Immunization") == (row.status == 201 ? 3 : 2));
    CHECK(SystemCount(server, "Observation") ==
          (row.status == 200 && path.adds_observation ? 4 : 3));
  }
}

TEST_CASE("Access matrix: at least 60 scenarios covering every principal, path and Consent state") {
  const std::vector<Row> rows = Matrix();
  CHECK(rows.size() >= 60);
  std::set<Who> who;
  std::set<State> states;
  std::set<Kind> kinds;
  for (const Row& row : rows) {
    who.insert(row.who);
    states.insert(row.state);
    kinds.insert(row.path->kind);
  }
  for (Who w : kAllWho) {
    CAPTURE(Name(w));
    CHECK(who.count(w) == 1);
  }
  for (State s : kAllStates) {
    CAPTURE(Name(s));
    CHECK(states.count(s) == 1);
  }
  for (Kind k : kAllKinds) {
    CAPTURE(static_cast<int>(k));
    CHECK(kinds.count(k) == 1);
  }
  MESSAGE(rows.size() << " scenarios");
}

TEST_CASE("Access matrix") {
  const std::vector<Row> rows = Matrix();
  for (std::size_t i = 0; i < rows.size(); ++i) Run(rows[i], i);
}

}  // namespace
}  // namespace server
