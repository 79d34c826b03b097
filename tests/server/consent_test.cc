// Consent-gated access and patient compartments (issue 5) over HTTP: the Handler with an
// Authenticator in front of a real RestService on SQLite. Each check asserts the exact status
// and which ids the body holds (and that forbidden ids appear nowhere in it).
#include <algorithm>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include "tests/server/consent_fixture.h"

namespace server {
namespace {

namespace http = boost::beast::http;

using testing::BundleView;
using testing::Header;
using testing::Sorted;
using testing::Token;
using testing::View;

// The principals of these tests.
const std::string& Resident1() {
  static const std::string t = Token("patient/*.cruds", "Patient/p1");
  return t;
}
const std::string& Resident2() {
  static const std::string t = Token("patient/*.cruds", "Patient/p2");
  return t;
}
const std::string& Doctor9() {
  static const std::string t = Token("user/*.cruds", "Practitioner/9");
  return t;
}
const std::string& Doctor8() {  // works for Organization/orgA (PractitionerRole)
  static const std::string t = Token("user/*.rs", "Practitioner/8");
  return t;
}
const std::string& Emergency7() {
  static const std::string t = Token("user/*.rs", "Practitioner/7", "ETREAT");
  return t;
}
const std::string& System() { return testing::SystemToken(); }

// The seeded server of these tests: two residents and their data, Practitioner/9,
// Organization/orgA with PractitionerRole/r8 of Practitioner/8.
class ConsentServer : public testing::AuthServer {
 public:
  ConsentServer() { Seed(); }

 private:
  void Seed() {
    Put("Patient/p1", R"({"resourceType":"Patient","id":"p1","name":[{"family":"Alpha"}]})");
    Put("Patient/p2", R"({"resourceType":"Patient","id":"p2","name":[{"family":"Beta"}]})");
    Put("Practitioner/9", R"({"resourceType":"Practitioner","id":"9","name":[{"family":"Nine"}]})");
    Put("Organization/orgA", R"({"resourceType":"Organization","id":"orgA","name":"A"})");
    Put("PractitionerRole/r8",
        R"({"resourceType":"PractitionerRole","id":"r8","practitioner":{"reference":"Practitioner/8"},"organization":{"reference":"Organization/orgA"}})");
    Put("Observation/obs-p1",
        R"({"resourceType":"Observation","id":"obs-p1","status":"final","code":{"text":"w"},"subject":{"reference":"Patient/p1"},"performer":[{"reference":"Practitioner/9"}]})");
    Put("Observation/obs-p2",
        R"({"resourceType":"Observation","id":"obs-p2","status":"final","code":{"text":"w"},"subject":{"reference":"Patient/p2"}})");
    Put("Observation/obs-none",
        R"({"resourceType":"Observation","id":"obs-none","status":"final","code":{"text":"w"}})");
    Put("Immunization/imm-p1",
        R"({"resourceType":"Immunization","id":"imm-p1","status":"completed","vaccineCode":{"text":"flu"},"patient":{"reference":"Patient/p1"},"occurrenceDateTime":"2024-01-01"})");
    Put("Immunization/imm-p2",
        R"({"resourceType":"Immunization","id":"imm-p2","status":"completed","vaccineCode":{"text":"flu"},"patient":{"reference":"Patient/p2"},"occurrenceDateTime":"2024-01-01"})");
    Put("FamilyMemberHistory/fmh-p1",
        R"({"resourceType":"FamilyMemberHistory","id":"fmh-p1","status":"completed","patient":{"reference":"Patient/p1"},"relationship":{"text":"father"}})");
  }
};

constexpr char kPermitDoctor9[] =
    R"({"type":"permit","actor":[{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}]},"reference":{"reference":"Practitioner/9"}}]})";
constexpr char kPermitDoctor9Vaccinations[] =
    R"({"type":"permit","actor":[{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}]},"reference":{"reference":"Practitioner/9"}}],"class":[{"system":"http://hl7.org/fhir/resource-types","code":"Immunization"}]})";
constexpr char kPermitOrgA[] =
    R"({"type":"permit","actor":[{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}]},"reference":{"reference":"Organization/orgA"}}]})";
constexpr char kPermitAllButFamilyHistory[] =
    R"({"type":"permit","actor":[{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}]},"reference":{"reference":"Practitioner/9"}}],"provision":[{"type":"deny","class":[{"system":"http://hl7.org/fhir/resource-types","code":"FamilyMemberHistory"}]}]})";
constexpr char kExpiredDoctor9[] =
    R"({"type":"permit","period":{"start":"2020-01-01","end":"2020-12-31"},"actor":[{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}]},"reference":{"reference":"Practitioner/9"}}]})";
constexpr char kDenyEmergency[] =
    R"({"type":"permit","provision":[{"type":"deny","purpose":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"ETREAT"}]}]})";

void CheckForbidden(const Response& r, std::string_view diagnostics_start) {
  CHECK(r.result_int() == 403);
  rapidjson::Document doc;
  doc.Parse(r.body().c_str());
  REQUIRE(doc.HasMember("issue"));
  CHECK(std::string_view(doc["issue"][0]["code"].GetString()) == "forbidden");
  std::string diagnostics = doc["issue"][0]["diagnostics"].GetString();
  CAPTURE(diagnostics);
  CHECK(diagnostics.starts_with(diagnostics_start));
}

TEST_CASE("Resident: own compartment only, on every read path") {
  ConsentServer server;
  const std::string& me = Resident1();
  // read, vread, history of own data
  CHECK(server.Get("/fhir/Observation/obs-p1", me).result_int() == 200);
  CHECK(server.Get("/fhir/Observation/obs-p1/_history/1", me).result_int() == 200);
  CHECK(server.Get("/fhir/Patient/p1", me).result_int() == 200);
  Response own_history = server.Get("/fhir/Observation/obs-p1/_history", me);
  CHECK(own_history.result_int() == 200);
  CHECK(View(own_history.body()).ids == std::vector<std::string>{"Observation/obs-p1"});
  // another resident's and ownerless data: 403
  CheckForbidden(server.Get("/fhir/Observation/obs-p2", me),
                 "Observation/obs-p2 is not in the compartment of Patient/p1");
  CheckForbidden(server.Get("/fhir/Observation/obs-p2/_history/1", me),
                 "Observation/obs-p2 is not in the compartment of Patient/p1");
  CheckForbidden(server.Get("/fhir/Observation/obs-p2/_history", me),
                 "Observation/obs-p2 is not in the compartment of Patient/p1");
  CheckForbidden(server.Get("/fhir/Observation/obs-none", me),
                 "Observation/obs-none is not in the compartment of Patient/p1");
  CHECK(server.Get("/fhir/Patient/p2", me).result_int() == 403);
  // a Patient user's user/ scopes reach no further than the own compartment either
  CheckForbidden(
      server.Get("/fhir/Practitioner/9", Token("patient/*.rs user/Practitioner.rs", "Patient/p1")),
      "Practitioner/9 is not in the compartment of Patient/p1");

  // search: filtered inside the query, totals right, REDACTED when something was left out
  Response search = server.Get("/fhir/Observation?_total=accurate", me);
  CHECK(search.result_int() == 200);
  BundleView v = View(search.body());
  CHECK(v.ids == std::vector<std::string>{"Observation/obs-p1"});
  CHECK(v.total == 1);
  CHECK(v.redacted);
  CHECK(search.body().find("obs-p2") == std::string::npos);
  CHECK(search.body().find("obs-none") == std::string::npos);
  // nothing omitted: no REDACTED
  Response immunizations = server.Get("/fhir/Immunization?patient=Patient/p1", me);
  CHECK(View(immunizations.body()).ids == std::vector<std::string>{"Immunization/imm-p1"});
  CHECK_FALSE(View(immunizations.body()).redacted);
  // _count=0 / _summary=count totals
  CHECK(View(server.Get("/fhir/Observation?_summary=count", me).body()).total == 1);
  CHECK(View(server.Get("/fhir/Patient", me).body()).ids == std::vector<std::string>{"Patient/p1"});
  // _include: the Patient comes along, Practitioner/9 (outside) is dropped
  Response include = server.Get(
      "/fhir/Observation?_include=Observation:subject&_include=Observation:performer", me);
  BundleView vi = View(include.body());
  CHECK(Sorted(vi.ids) == std::vector<std::string>{"Observation/obs-p1", "Patient/p1"});
  CHECK(vi.redacted);
  CHECK(include.body().find("\"resourceType\":\"Practitioner\"") == std::string::npos);
  // _revinclude
  Response rev = server.Get("/fhir/Patient?_revinclude=Observation:subject", me);
  CHECK(Sorted(View(rev.body()).ids) ==
        std::vector<std::string>{"Observation/obs-p1", "Patient/p1"});
  CHECK(rev.body().find("obs-p2") == std::string::npos);
  // chaining and _has never match another's data
  Response chain = server.Get("/fhir/Observation?subject:Patient.name=Beta", me);
  CHECK(View(chain.body()).ids.empty());
  CHECK(View(chain.body()).redacted);
  Response has = server.Get("/fhir/Patient?_has:Observation:subject:status=final", me);
  CHECK(View(has.body()).ids == std::vector<std::string>{"Patient/p1"});
  CHECK(View(has.body()).redacted);
  // system search and compartment search
  Response all = server.Get("/fhir?_type=Observation,Immunization", me);
  CHECK(Sorted(View(all.body()).ids) ==
        std::vector<std::string>{"Immunization/imm-p1", "Observation/obs-p1"});
  CHECK(server.Get("/fhir/Patient/p1/Observation", me).result_int() == 200);
  CHECK(View(server.Get("/fhir/Patient/p1/Observation", me).body()).ids ==
        std::vector<std::string>{"Observation/obs-p1"});
  // type history: other residents' versions left out, no total
  Response type_history = server.Get("/fhir/Observation/_history", me);
  CHECK(type_history.result_int() == 200);
  CHECK(View(type_history.body()).ids == std::vector<std::string>{"Observation/obs-p1"});
  CHECK(View(type_history.body()).redacted);
  CHECK_FALSE(View(type_history.body()).total.has_value());
}

TEST_CASE("Resident: writes stay in the own record; Consents are created and revoked") {
  ConsentServer server;
  const std::string& me = Resident1();
  const std::string consent = server.Grant(me, "p1", kPermitDoctor9);
  CHECK(server.Get("/fhir/Consent/" + consent, me).result_int() == 200);
  CHECK(server.Get("/fhir/Consent/" + consent, Resident2()).result_int() == 403);
  // a Consent for someone else: 403
  Response other = server.Call(http::verb::post, "/fhir/Consent", me,
                               ConsentServer::ConsentJson("", "p2", "active", kPermitDoctor9));
  CheckForbidden(other, "Consent/ is not in the compartment of Patient/p1");
  // revoke: status inactive
  Response revoke = server.Call(http::verb::put, "/fhir/Consent/" + consent, me,
                                ConsentServer::ConsentJson(consent, "p1", "inactive", kPermitDoctor9));
  CHECK(revoke.result_int() == 200);
  // another resident may not revoke (or delete) it
  CHECK(server.Call(http::verb::delete_, "/fhir/Consent/" + consent, Resident2()).result_int() ==
        403);
  CHECK(server.Call(http::verb::delete_, "/fhir/Consent/" + consent, me).result_int() == 204);
  // updating another's Observation: 403; moving own data to another resident: 403
  CHECK(server.Call(http::verb::put, "/fhir/Observation/obs-p2", me,
                    R"({"resourceType":"Observation","id":"obs-p2","status":"final","code":{"text":"w"},"subject":{"reference":"Patient/p1"}})")
            .result_int() == 403);
  CHECK(server.Call(http::verb::put, "/fhir/Observation/obs-p1", me,
                    R"({"resourceType":"Observation","id":"obs-p1","status":"final","code":{"text":"w"},"subject":{"reference":"Patient/p2"}})")
            .result_int() == 403);
}

TEST_CASE("Practitioner without Consent: 403 on read paths, search shows only unowned data") {
  ConsentServer server;
  const std::string& dr = Doctor9();
  CheckForbidden(server.Get("/fhir/Observation/obs-p1", dr),
                 "Consent is required: no active Consent of the resident whose record holds "
                 "Observation/obs-p1 permits Practitioner/9 to access it for purpose TREAT");
  CheckForbidden(server.Get("/fhir/Observation/obs-p1/_history/1", dr), "Consent is required");
  CheckForbidden(server.Get("/fhir/Observation/obs-p1/_history", dr), "Consent is required");
  CheckForbidden(server.Get("/fhir/Patient/p1", dr), "Consent is required");
  CHECK(server.Get("/fhir/Observation/obs-none", dr).result_int() == 200);
  CHECK(server.Get("/fhir/Practitioner/9", dr).result_int() == 200);
  Response search = server.Get("/fhir/Observation?_total=accurate", dr);
  CHECK(View(search.body()).ids == std::vector<std::string>{"Observation/obs-none"});
  CHECK(View(search.body()).total == 1);
  CHECK(View(search.body()).redacted);
  CHECK(search.body().find("obs-p1") == std::string::npos);
  CHECK(View(server.Get("/fhir/Patient", dr).body()).ids.empty());
  // may record new data for a resident without Consent, but not change existing data
  Response created = server.Call(
      http::verb::post, "/fhir/Immunization", dr,
      R"({"resourceType":"Immunization","status":"completed","vaccineCode":{"text":"flu"},"patient":{"reference":"Patient/p1"},"occurrenceDateTime":"2025-01-01"})");
  CHECK(created.result_int() == 201);
  CHECK(server.Call(http::verb::put, "/fhir/Observation/obs-p1", dr,
                    R"({"resourceType":"Observation","id":"obs-p1","status":"amended","code":{"text":"w"},"subject":{"reference":"Patient/p1"}})")
            .result_int() == 403);
  CHECK(server.Call(http::verb::delete_, "/fhir/Observation/obs-p1", dr).result_int() == 403);
  // nor grant themselves access
  CheckForbidden(server.Call(http::verb::post, "/fhir/Consent", dr,
                             ConsentServer::ConsentJson("", "p1", "active", kPermitDoctor9)),
                 "Only the resident (or a system/ scope) may write their Consents");
  CheckForbidden(server.Call(http::verb::put, "/fhir/Consent/forged", dr,
                             ConsentServer::ConsentJson("forged", "p1", "active", kPermitDoctor9)),
                 "Only the resident (or a system/ scope) may write their Consents");
  CheckForbidden(
      server.Call(
          http::verb::post, "/fhir/PractitionerRole", dr,
          R"({"resourceType":"PractitionerRole","practitioner":{"reference":"Practitioner/9"},"organization":{"reference":"Organization/orgA"}})"),
      "Only a system/ scope may write PractitionerRoles");
  CheckForbidden(server.Get("/fhir/Observation/obs-p1", dr), "Consent is required");
  // conditional update/delete do not see forbidden matches
  CHECK(server.Call(http::verb::delete_, "/fhir/Observation?_id=obs-p1", dr).result_int() == 204);
  CHECK(server.Get("/fhir/Observation/obs-p1", Resident1()).result_int() == 200);
}

TEST_CASE("Practitioner with Consent: vaccinations only; revoking takes effect at once") {
  ConsentServer server;
  const std::string& dr = Doctor9();
  const std::string consent = server.Grant(Resident1(), "p1", kPermitDoctor9Vaccinations);
  Response read = server.Get("/fhir/Immunization/imm-p1", dr);
  CHECK(read.result_int() == 200);
  CHECK(Header(read, "X-Access-Basis") == "Consent/" + consent);
  CHECK(server.Get("/fhir/Immunization/imm-p1/_history/1", dr).result_int() == 200);
  CHECK(server.Get("/fhir/Immunization/imm-p1/_history", dr).result_int() == 200);
  CheckForbidden(server.Get("/fhir/Observation/obs-p1", dr), "Consent is required");
  CheckForbidden(server.Get("/fhir/Immunization/imm-p2", dr), "Consent is required");
  Response search = server.Get("/fhir/Immunization?_total=accurate", dr);
  CHECK(View(search.body()).ids == std::vector<std::string>{"Immunization/imm-p1"});
  CHECK(View(search.body()).total == 1);
  CHECK(View(search.body()).redacted);
  CHECK(search.body().find("imm-p2") == std::string::npos);
  // chains and _has into types the Consent does not cover match nothing
  CHECK(View(server.Get("/fhir/Immunization?patient:Patient.name=Alpha", dr).body()).ids.empty());
  CHECK(View(server.Get("/fhir/Patient?_has:Immunization:patient:status=completed", dr).body())
            .ids.empty());
  CHECK(View(server.Get("/fhir/Immunization?patient=Patient/p1&_summary=count", dr).body())
            .total == 1);
  // _include of the Patient: not covered by the class-limited Consent, dropped
  Response include = server.Get("/fhir/Immunization?_include=Immunization:patient", dr);
  CHECK(View(include.body()).ids == std::vector<std::string>{"Immunization/imm-p1"});
  CHECK(View(include.body()).redacted);
  // a Consent lets the practitioner read it (if its class allows) but never change it
  CHECK(server.Call(http::verb::delete_, "/fhir/Consent/" + consent, dr).result_int() == 403);
  // update existing data under Consent
  CHECK(server.Call(http::verb::put, "/fhir/Immunization/imm-p1", dr,
                    R"({"resourceType":"Immunization","id":"imm-p1","status":"completed","vaccineCode":{"text":"flu2"},"patient":{"reference":"Patient/p1"},"occurrenceDateTime":"2024-01-01"})")
            .result_int() == 200);
  // revoke: the very next request is refused
  CHECK(server.Call(http::verb::put, "/fhir/Consent/" + consent, Resident1(),
                    ConsentServer::ConsentJson(consent, "p1", "inactive",
                                               kPermitDoctor9Vaccinations))
            .result_int() == 200);
  CheckForbidden(server.Get("/fhir/Immunization/imm-p1", dr), "Consent is required");
  CHECK(View(server.Get("/fhir/Immunization", dr).body()).ids.empty());
  // a new Consent, then deleted
  const std::string again = server.Grant(Resident1(), "p1", kPermitDoctor9Vaccinations);
  CHECK(server.Get("/fhir/Immunization/imm-p1", dr).result_int() == 200);
  CHECK(server.Call(http::verb::delete_, "/fhir/Consent/" + again, Resident1()).result_int() ==
        204);
  CheckForbidden(server.Get("/fhir/Immunization/imm-p1", dr), "Consent is required");
}

TEST_CASE("Practitioner: whole-record Consent, nested deny, expired period, organisation") {
  ConsentServer server;
  server.Grant(Resident1(), "p1", kPermitAllButFamilyHistory);
  const std::string& dr = Doctor9();
  CHECK(server.Get("/fhir/Observation/obs-p1", dr).result_int() == 200);
  CHECK(server.Get("/fhir/Patient/p1", dr).result_int() == 200);
  CheckForbidden(server.Get("/fhir/FamilyMemberHistory/fmh-p1", dr),
                 "Consent is required: a Consent of the resident whose record holds "
                 "FamilyMemberHistory/fmh-p1 denies FamilyMemberHistory access for purpose TREAT");
  Response fmh = server.Get("/fhir/FamilyMemberHistory", dr);
  CHECK(View(fmh.body()).ids.empty());
  CHECK(View(fmh.body()).redacted);
  Response obs = server.Get("/fhir/Observation?_include=Observation:subject", dr);
  CHECK(Sorted(View(obs.body()).ids) ==
        std::vector<std::string>{"Observation/obs-none", "Observation/obs-p1", "Patient/p1"});
  CHECK(View(obs.body()).redacted);  // obs-p2
  Response rev = server.Get("/fhir/Patient?_revinclude=Observation:subject&_revinclude=FamilyMemberHistory:patient", dr);
  CHECK(Sorted(View(rev.body()).ids) ==
        std::vector<std::string>{"Observation/obs-p1", "Patient/p1"});
  CHECK(rev.body().find("fmh-p1") == std::string::npos);
  Response has = server.Get("/fhir/Patient?_has:Observation:subject:status=final", dr);
  CHECK(View(has.body()).ids == std::vector<std::string>{"Patient/p1"});
  Response chain = server.Get("/fhir/Observation?subject:Patient.name=Beta", dr);
  CHECK(View(chain.body()).ids.empty());
  CHECK(chain.body().find("obs-p2") == std::string::npos);
  Response chain_ok = server.Get("/fhir/Observation?subject:Patient.name=Alpha", dr);
  CHECK(View(chain_ok.body()).ids == std::vector<std::string>{"Observation/obs-p1"});
  CHECK_FALSE(View(chain_ok.body()).redacted);
  // type and system history: only what the Consent covers, no total
  Response history = server.Get("/fhir/Observation/_history", dr);
  CHECK(history.result_int() == 200);
  CHECK(Sorted(View(history.body()).ids) ==
        std::vector<std::string>{"Observation/obs-none", "Observation/obs-p1"});
  CHECK(View(history.body()).redacted);
  CHECK_FALSE(View(history.body()).total.has_value());
  Response system_history = server.Get("/fhir/_history", dr);
  CHECK(system_history.result_int() == 200);
  for (const std::string& id : View(system_history.body()).ids) {
    CAPTURE(id);
    CHECK(id != "Observation/obs-p2");
    CHECK(id != "Immunization/imm-p2");
    CHECK(id != "FamilyMemberHistory/fmh-p1");
    CHECK(id != "Patient/p2");
  }
  CHECK(system_history.body().find("obs-p2") == std::string::npos);
  CHECK(system_history.body().find("fmh-p1") == std::string::npos);

  // expired: grants nothing (Patient p2's Consent)
  server.Grant(Resident2(), "p2", kExpiredDoctor9);
  CheckForbidden(server.Get("/fhir/Observation/obs-p2", dr), "Consent is required");
  // an organisation's practitioner (PractitionerRole r8 -> orgA)
  CheckForbidden(server.Get("/fhir/Observation/obs-p2", Doctor8()), "Consent is required");
  server.Grant(Resident2(), "p2", kPermitOrgA);
  CHECK(server.Get("/fhir/Observation/obs-p2", Doctor8()).result_int() == 200);
  CHECK(View(server.Get("/fhir/Observation", Doctor8()).body()).ids ==
        std::vector<std::string>{"Observation/obs-none", "Observation/obs-p2"});
  CheckForbidden(server.Get("/fhir/Observation/obs-p2", dr), "Consent is required");
  // another kind of user is matched as itself
  const std::string related = Token("user/*.rs", "RelatedPerson/rp1");
  CheckForbidden(server.Get("/fhir/Observation/obs-p2", related),
                 "Consent is required: no active Consent of the resident whose record holds "
                 "Observation/obs-p2 permits RelatedPerson/rp1");
  server.Grant(Resident2(), "p2",
               R"({"type":"permit","actor":[{"role":{"text":"carer"},"reference":{"reference":"RelatedPerson/rp1"}}]})");
  CHECK(server.Get("/fhir/Observation/obs-p2", related).result_int() == 200);
  // a fhirUser id that is no FHIR id does not borrow Practitioner/8's organisation
  CheckForbidden(server.Get("/fhir/Observation/obs-p2", Token("user/*.rs", "Practitioner/7,8")),
                 "Consent is required");
}

TEST_CASE("Emergency: ETREAT reads without Consent, marked; a Consent can deny it") {
  ConsentServer server;
  const std::string& er = Emergency7();
  Response read = server.Get("/fhir/Observation/obs-p2", er);
  CHECK(read.result_int() == 200);
  CHECK(Header(read, "X-Access-Basis") == "emergency");
  CHECK(read.body().find(
            R"({"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"ETREAT"})") !=
        std::string::npos);
  server.Grant(Resident1(), "p1", kDenyEmergency);
  CheckForbidden(server.Get("/fhir/Observation/obs-p1", er),
                 "Consent is required: a Consent of the resident whose record holds "
                 "Observation/obs-p1 denies Observation access for purpose ETREAT");
  Response search = server.Get("/fhir/Observation?_total=accurate", er);
  CHECK(Sorted(View(search.body()).ids) ==
        std::vector<std::string>{"Observation/obs-none", "Observation/obs-p2"});
  CHECK(View(search.body()).total == 2);
  CHECK(View(search.body()).redacted);
  CHECK(Header(search, "X-Access-Basis") == "emergency");
  CHECK(search.body().find("obs-p1") == std::string::npos);
  // _include under the emergency rule: the refusing resident's Patient stays out, each
  // returned resource is tagged
  Response include = server.Get("/fhir/Observation?_include=Observation:subject", er);
  CHECK(Sorted(View(include.body()).ids) ==
        std::vector<std::string>{"Observation/obs-none", "Observation/obs-p2", "Patient/p2"});
  CHECK(include.body().find("Patient/p1") == std::string::npos);
  rapidjson::Document doc;
  doc.Parse(include.body().c_str());
  for (const auto& e : doc["entry"].GetArray()) {
    CHECK(std::string_view(e["resource"]["meta"]["security"][0]["code"].GetString()) == "ETREAT");
  }
  CheckForbidden(server.Get("/fhir/Patient/p1/_history", er), "Consent is required");
  // ETREAT with only patient/ scopes is no emergency access
  CHECK(server.Get("/fhir/Observation/obs-p2", Token("patient/*.rs", "Patient/p1", "ETREAT"))
            .result_int() == 403);
}

TEST_CASE("Writes: PATCH, conditional create, transactions need Consent for existing data") {
  ConsentServer server;
  const std::string& dr = Doctor9();
  const std::vector<std::pair<std::string, std::string>> json_patch{
      {"Content-Type", "application/json-patch+json"}};
  const std::string patch = R"([{"op":"replace","path":"/status","value":"amended"}])";
  CheckForbidden(server.Call(http::verb::patch, "/fhir/Observation/obs-p1", dr, patch, json_patch),
                 "Consent is required");
  CheckForbidden(server.Call(http::verb::patch, "/fhir/Observation/obs-p2", Resident1(), patch,
                             json_patch),
                 "Observation/obs-p2 is not in the compartment of Patient/p1");
  CHECK(server.Call(http::verb::patch, "/fhir/Observation/obs-p1", Resident1(), patch, json_patch)
            .result_int() == 200);
  // conditional create: a forbidden match does not count (nor show), so a new one is made
  Response conditional = server.Call(
      http::verb::post, "/fhir/Observation", dr,
      R"({"resourceType":"Observation","status":"final","code":{"text":"w"},"subject":{"reference":"Patient/p1"}})",
      {{"If-None-Exist", "_id=obs-p1"}});
  CHECK(conditional.result_int() == 201);
  CHECK(conditional.body().find("obs-p1") == std::string::npos);
  // a transaction with one forbidden entry fails whole with 403
  const std::string transaction =
      R"({"resourceType":"Bundle","type":"transaction","entry":[)"
      R"({"resource":{"resourceType":"Observation","status":"final","code":{"text":"new"},"subject":{"reference":"Patient/p2"}},"request":{"method":"POST","url":"Observation"}},)"
      R"({"request":{"method":"DELETE","url":"Observation/obs-p1"}}]})";
  Response refused = server.Call(http::verb::post, "/fhir", dr, transaction);
  CHECK(refused.result_int() == 403);
  CHECK(View(server.Get("/fhir/Observation?code:text=new", System()).body()).ids.empty());
  CHECK(server.Get("/fhir/Observation/obs-p1", System()).result_int() == 200);
  // conditional references and ifNoneExist see only what the caller may see
  const std::string conditional_reference =
      R"({"resourceType":"Bundle","type":"transaction","entry":[)"
      R"({"resource":{"resourceType":"Observation","status":"final","code":{"text":"cond"},"subject":{"reference":"Patient?name=Alpha"}},"request":{"method":"POST","url":"Observation"}}]})";
  Response unresolved = server.Call(http::verb::post, "/fhir", dr, conditional_reference);
  CHECK(unresolved.result_int() == 412);
  INFO(unresolved.body());
  CHECK(unresolved.body().find("failed; the transaction was rolled back") != std::string::npos);
  const std::string if_none_exist =
      R"({"resourceType":"Bundle","type":"transaction","entry":[)"
      R"({"resource":{"resourceType":"Observation","status":"final","code":{"text":"ine"},"subject":{"reference":"Patient/p1"}},"request":{"method":"POST","url":"Observation","ifNoneExist":"_id=obs-p1"}}]})";
  CHECK(server.Call(http::verb::post, "/fhir", dr, if_none_exist).result_int() == 200);
  CHECK(View(server.Get("/fhir/Observation?code:text=ine", System()).body()).ids.size() == 1);
  server.Grant(Resident1(), "p1", kPermitDoctor9);
  CHECK(server.Call(http::verb::post, "/fhir", dr, conditional_reference).result_int() == 200);
  Response allowed = server.Call(http::verb::post, "/fhir", dr, transaction);
  CHECK(allowed.result_int() == 200);
  CHECK(server.Get("/fhir/Observation/obs-p1", System()).result_int() == 410);
  CHECK(View(server.Get("/fhir/Observation?code:text=new", System()).body()).ids.size() == 1);
}

TEST_CASE("A search under many Consents names the first eight in X-Access-Basis") {
  ConsentServer server;
  for (int i = 0; i < 10; ++i) {
    const std::string patient = "q" + std::to_string(i);
    server.Grant(Token("patient/*.cruds", "Patient/" + patient), patient, kPermitDoctor9);
  }
  Response search = server.Get("/fhir/Observation", Doctor9());
  CHECK(search.result_int() == 200);
  const std::string basis = Header(search, "X-Access-Basis");
  CAPTURE(basis);
  CHECK(basis.starts_with("Consent/"));
  CHECK(basis.ends_with(" and 2 more Consents"));
  CHECK(std::count(basis.begin(), basis.end(), ',') == 7);
}

TEST_CASE("System scopes act within scope, unfiltered") {
  ConsentServer server;
  CHECK(server.Get("/fhir/Observation/obs-p1", System()).result_int() == 200);
  Response search = server.Get("/fhir/Observation", System());
  CHECK(View(search.body()).ids.size() == 3);
  CHECK_FALSE(View(search.body()).redacted);
  CHECK(Header(search, "X-Access-Basis").empty());
}

}  // namespace
}  // namespace server
