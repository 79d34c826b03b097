// The Consent decision engine (server/auth/consent.h), on Consents parsed from JSON.
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "fhir/json/parser.h"
#include "fhir/search/normalize.h"
#include "server/auth/consent.h"

namespace server::auth {
namespace {

// A Consent of Patient/p1 with the given base provision (JSON object text) and status.
fhir::Consent MakeConsent(const std::string& id, const std::string& provision,
                          const std::string& status = "active",
                          const std::string& patient = "Patient/p1",
                          const std::string& scope = "patient-privacy") {
  const std::string json =
      R"({"resourceType":"Consent","id":")" + id + R"(","status":")" + status +
      R"(","scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":")" +
      scope +
      R"("}]},"category":[{"text":"privacy"}],"patient":{"reference":")" + patient +
      R"("},"provision":)" + provision + "}";
  auto parsed = fhir::json::Parse<fhir::Consent>(json);
  REQUIRE_MESSAGE(parsed.ok(), parsed.status().ToString());
  return std::move(parsed).value();
}

constexpr char kDr9[] = R"({"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}]},"reference":{"reference":"Practitioner/9"}})";
constexpr char kOrgA[] = R"({"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}]},"reference":{"reference":"Organization/a"}})";

std::string Actor(const char* actor) { return std::string(R"("actor":[)") + actor + "]"; }
std::string Class(const std::string& type) {
  return R"("class":[{"system":"http://hl7.org/fhir/resource-types","code":")" + type + R"("}])";
}

std::int64_t Ms(const char* instant) { return fhir::search::DateRange(instant)->low; }

ConsentQuery Query(const std::string& type, const std::string& id = "obs1") {
  ConsentQuery q;
  q.patient_id = "p1";
  q.actor.practitioner = "Practitioner/9";
  q.resource_type = type;
  q.resource_id = id;
  q.security_labels = std::vector<std::pair<std::string, std::string>>{};
  q.purpose = "TREAT";
  q.now_ms = Ms("2025-06-01T00:00:00Z");
  return q;
}

ConsentDecision Decide(const ConsentQuery& q, const std::vector<fhir::Consent>& consents) {
  std::vector<const fhir::Consent*> pointers;
  for (const auto& c : consents) pointers.push_back(&c);
  return DecideConsent(q, pointers);
}

TEST_CASE("No Consent: denied with a reason; an actor-matching permit grants, naming it") {
  ConsentDecision none = Decide(Query("Observation"), {});
  CHECK_FALSE(none.permitted);
  CHECK(none.consent.empty());
  CHECK(none.reason ==
        "no active Consent of Patient/p1 permits Practitioner/9 to access Observation/obs1 for "
        "purpose TREAT");
  std::vector<fhir::Consent> consents{
      MakeConsent("c1", R"({"type":"permit",)" + Actor(kDr9) + "}")};
  ConsentDecision yes = Decide(Query("Observation"), consents);
  CHECK(yes.permitted);
  CHECK_FALSE(yes.emergency);
  CHECK(yes.consent == "Consent/c1");
}

TEST_CASE("Consent-level conditions: status, patient, scope") {
  const std::string provision = R"({"type":"permit",)" + Actor(kDr9) + "}";
  CHECK_FALSE(Decide(Query("Observation"), {MakeConsent("c1", provision, "inactive")}).permitted);
  CHECK_FALSE(Decide(Query("Observation"), {MakeConsent("c1", provision, "draft")}).permitted);
  CHECK_FALSE(Decide(Query("Observation"),
                     {MakeConsent("c1", provision, "active", "Patient/p2")})
                  .permitted);
  CHECK_FALSE(Decide(Query("Observation"),
                     {MakeConsent("c1", provision, "active", "Patient/p1", "research")})
                  .permitted);
  // An absolute patient reference counts.
  CHECK(Decide(Query("Observation"),
               {MakeConsent("c1", provision, "active", "http://x/fhir/Patient/p1")})
            .permitted);
  // A base deny is not a permit.
  CHECK_FALSE(Decide(Query("Observation"),
                     {MakeConsent("c1", R"({"type":"deny",)" + Actor(kDr9) + "}")})
                  .permitted);
}

TEST_CASE("Actor: the practitioner, an Organization it belongs to; nobody named grants nobody") {
  std::vector<fhir::Consent> org{MakeConsent("c1", R"({"type":"permit",)" + Actor(kOrgA) + "}")};
  ConsentQuery q = Query("Observation");
  CHECK_FALSE(Decide(q, org).permitted);
  q.actor.organizations = {"Organization/a"};
  CHECK(Decide(q, org).permitted);
  std::vector<fhir::Consent> other{MakeConsent(
      "c1", R"({"type":"permit","actor":[{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}]},"reference":{"reference":"Practitioner/8"}}]})")};
  CHECK_FALSE(Decide(Query("Observation"), other).permitted);
  std::vector<fhir::Consent> nobody{MakeConsent("c1", R"({"type":"permit"})")};
  CHECK_FALSE(Decide(Query("Observation"), nobody).permitted);
}

TEST_CASE("Period, purpose, class") {
  const std::string period = R"("period":{"start":"2025-01-01","end":"2025-12-31"})";
  std::vector<fhir::Consent> dated{
      MakeConsent("c1", R"({"type":"permit",)" + Actor(kDr9) + "," + period + "}")};
  ConsentQuery q = Query("Observation");
  CHECK(Decide(q, dated).permitted);
  q.now_ms = Ms("2026-01-01T00:00:00Z");
  CHECK_FALSE(Decide(q, dated).permitted);
  q.now_ms = Ms("2024-12-31T23:59:59Z");
  CHECK_FALSE(Decide(q, dated).permitted);
  q.now_ms = Ms("2025-12-31T23:59:59Z");  // the end date's whole day
  CHECK(Decide(q, dated).permitted);

  std::vector<fhir::Consent> research{MakeConsent(
      "c1", R"({"type":"permit",)" + Actor(kDr9) +
                R"(,"purpose":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"HRESCH"}]})")};
  ConsentQuery treat = Query("Observation");
  CHECK_FALSE(Decide(treat, research).permitted);
  treat.purpose = "HRESCH";
  CHECK(Decide(treat, research).permitted);

  std::vector<fhir::Consent> vaccinations{
      MakeConsent("c1", R"({"type":"permit",)" + Actor(kDr9) + "," + Class("Immunization") + "}")};
  CHECK(Decide(Query("Immunization"), vaccinations).permitted);
  CHECK_FALSE(Decide(Query("Observation"), vaccinations).permitted);
  ConsentQuery type_level = Query("Immunization", "");
  type_level.security_labels.reset();
  CHECK(Decide(type_level, vaccinations).permitted);
}

TEST_CASE("Data and security labels: per resource yes; type level only when sure") {
  std::vector<fhir::Consent> one{MakeConsent(
      "c1", R"({"type":"permit",)" + Actor(kDr9) +
                R"(,"data":[{"meaning":"instance","reference":{"reference":"Observation/obs1"}}]})")};
  CHECK(Decide(Query("Observation", "obs1"), one).permitted);
  CHECK_FALSE(Decide(Query("Observation", "obs2"), one).permitted);
  ConsentQuery type_level = Query("Observation", "");
  type_level.security_labels.reset();
  CHECK_FALSE(Decide(type_level, one).permitted);  // not every Observation

  std::vector<fhir::Consent> normal{MakeConsent(
      "c1", R"({"type":"permit",)" + Actor(kDr9) +
                R"(,"securityLabel":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"N"}]})")};
  ConsentQuery labelled = Query("Observation");
  labelled.security_labels = std::vector<std::pair<std::string, std::string>>{
      {"http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "N"}};
  CHECK(Decide(labelled, normal).permitted);
  CHECK_FALSE(Decide(Query("Observation"), normal).permitted);  // no label
}

TEST_CASE("Nested provisions carve exceptions; deny wins across Consents") {
  std::vector<fhir::Consent> all_but_fmh{MakeConsent(
      "c1", R"({"type":"permit",)" + Actor(kDr9) + R"(,"provision":[{"type":"deny",)" +
                Class("FamilyMemberHistory") + "}]}")};
  CHECK(Decide(Query("Observation"), all_but_fmh).permitted);
  ConsentDecision fmh = Decide(Query("FamilyMemberHistory"), all_but_fmh);
  CHECK_FALSE(fmh.permitted);
  CHECK(fmh.consent == "Consent/c1");
  CHECK(fmh.reason == "Consent/c1 of Patient/p1 denies FamilyMemberHistory access for purpose TREAT");
  ConsentQuery type_level = Query("Observation", "");
  type_level.security_labels.reset();
  CHECK(Decide(type_level, all_but_fmh).permitted);

  // A nested permit for the actor under a base naming nobody.
  std::vector<fhir::Consent> nested_actor{MakeConsent(
      "c2", R"({"type":"permit","provision":[{"type":"permit",)" + Actor(kDr9) + "," +
                Class("Immunization") + "}]}")};
  CHECK(Decide(Query("Immunization"), nested_actor).permitted);
  CHECK_FALSE(Decide(Query("Observation"), nested_actor).permitted);

  // A deny in another Consent wins over a permit.
  std::vector<fhir::Consent> both{
      MakeConsent("c3", R"({"type":"permit",)" + Actor(kDr9) + "}"),
      MakeConsent("c4", R"({"type":"deny",)" + Actor(kDr9) + "," + Class("Condition") + "}")};
  CHECK(Decide(Query("Observation"), both).permitted);
  ConsentDecision condition = Decide(Query("Condition"), both);
  CHECK_FALSE(condition.permitted);
  CHECK(condition.consent == "Consent/c4");
  // A deny on a label the resource may carry refuses the type-level question (fail closed).
  std::vector<fhir::Consent> label_deny{MakeConsent(
      "c5", R"({"type":"permit",)" + Actor(kDr9) +
                R"(,"provision":[{"type":"deny","securityLabel":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}]}]})")};
  CHECK(Decide(Query("Observation"), label_deny).permitted);  // no R label
  CHECK_FALSE(Decide(type_level, label_deny).permitted);
}

TEST_CASE("Emergency: allowed without Consent unless a Consent denies ETREAT") {
  ConsentQuery q = Query("Observation");
  q.purpose = "ETREAT";
  q.emergency_allowed = true;
  ConsentDecision e = Decide(q, {});
  CHECK(e.permitted);
  CHECK(e.emergency);
  CHECK(e.consent.empty());
  std::vector<fhir::Consent> no_etreat{MakeConsent(
      "c9", R"({"type":"permit","provision":[{"type":"deny","purpose":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"ETREAT"}]}]})")};
  ConsentDecision refused = Decide(q, no_etreat);
  CHECK_FALSE(refused.permitted);
  CHECK(refused.consent == "Consent/c9");
  // The same Consent does not stop ordinary treatment under a permit.
  std::vector<fhir::Consent> with_permit = no_etreat;
  with_permit.push_back(MakeConsent("c1", R"({"type":"permit",)" + Actor(kDr9) + "}"));
  CHECK(Decide(Query("Observation"), with_permit).permitted);
  // A revoked (inactive) ETREAT deny no longer counts.
  std::vector<fhir::Consent> revoked{MakeConsent(
      "c9", R"({"type":"deny","purpose":[{"code":"ETREAT"}]})", "inactive")};
  CHECK(Decide(q, revoked).emergency);
  // Without the emergency rule (no user/ scope), ETREAT alone grants nothing.
  q.emergency_allowed = false;
  CHECK_FALSE(Decide(q, {}).permitted);
}

}  // namespace
}  // namespace server::auth
