#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "server/auth/access.h"
#include "server/auth/principal.h"

namespace server::auth {
namespace {

constexpr uint8_t kAll = kPermCreate | kPermRead | kPermUpdate | kPermDelete | kPermSearch;

Principal WithScopes(std::string_view scope_claim) {
  Principal principal;
  principal.subject = "s";
  principal.scopes = ParseScopes(scope_claim);
  return principal;
}

bool Allows(std::string_view scopes, std::string_view type, Interaction interaction) {
  return DecideScopes(WithScopes(scopes), type, interaction).allowed;
}

TEST_CASE("ParseScope reads SMART v1 and v2 resource scopes") {
  struct Case {
    const char* text;
    ScopeContext context;
    const char* type;
    uint8_t permissions;
  };
  const Case cases[] = {
      {"patient/Immunization.read", ScopeContext::kPatient, "Immunization",
       kPermRead | kPermSearch},
      {"user/*.write", ScopeContext::kUser, "*", kPermCreate | kPermUpdate | kPermDelete},
      {"patient/*.*", ScopeContext::kPatient, "*", kAll},
      {"patient/Condition.rs", ScopeContext::kPatient, "Condition", kPermRead | kPermSearch},
      {"system/*.cruds", ScopeContext::kSystem, "*", kAll},
      {"user/Observation.c", ScopeContext::kUser, "Observation", kPermCreate},
      {"user/Observation.ud", ScopeContext::kUser, "Observation", kPermUpdate | kPermDelete},
      {"system/Patient.cs", ScopeContext::kSystem, "Patient", kPermCreate | kPermSearch},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    const std::optional<Scope> scope = ParseScope(c.text);
    REQUIRE(scope.has_value());
    CHECK(scope->context == c.context);
    CHECK(scope->resource_type == c.type);
    CHECK(int{scope->permissions} == int{c.permissions});
    CHECK(scope->text == c.text);
  }
}

TEST_CASE("ParseScope ignores non-resource, malformed and parameterised scopes") {
  for (const char* text :
       {"openid", "fhirUser", "launch", "launch/patient", "offline_access", "online_access",
        "patient/Observation", "patient/Observation.", "patient/Observation.x",
        "patient/Observation.sr", "patient/Observation.rr", "patient/Observation.cruds.",
        "patient/observation.read", "patient/.read", "admin/*.read", "patient/Obs-1.read",
        "patient/Observation.rs?category=laboratory", "Patient/*.read", ""}) {
    CAPTURE(text);
    CHECK_FALSE(ParseScope(text).has_value());
  }
}

TEST_CASE("ParseScopes splits on spaces and keeps resource scopes in order") {
  const std::vector<Scope> scopes =
      ParseScopes("openid  patient/Observation.rs launch/patient user/*.write ");
  REQUIRE(scopes.size() == 2);
  CHECK(scopes[0].text == "patient/Observation.rs");
  CHECK(scopes[1].text == "user/*.write");
  CHECK(ParseScopes("").empty());
}

TEST_CASE("DecideScopes: v1 read covers read, vread, history and search, not writes") {
  const char* scopes = "patient/Immunization.read";
  for (Interaction i : {Interaction::kRead, Interaction::kVread, Interaction::kHistoryInstance,
                        Interaction::kHistoryType, Interaction::kSearch}) {
    CAPTURE(InteractionCode(i));
    CHECK(Allows(scopes, "Immunization", i));
    CHECK_FALSE(Allows(scopes, "Observation", i));
  }
  for (Interaction i : {Interaction::kCreate, Interaction::kUpdate, Interaction::kPatch,
                        Interaction::kDelete}) {
    CAPTURE(InteractionCode(i));
    CHECK_FALSE(Allows(scopes, "Immunization", i));
  }
}

TEST_CASE("DecideScopes: v1 write covers create, update, patch and delete, not reads") {
  const char* scopes = "user/*.write";
  for (Interaction i : {Interaction::kCreate, Interaction::kUpdate, Interaction::kPatch,
                        Interaction::kDelete}) {
    CHECK(Allows(scopes, "Observation", i));
  }
  for (Interaction i : {Interaction::kRead, Interaction::kVread, Interaction::kHistoryInstance,
                        Interaction::kSearch}) {
    CHECK_FALSE(Allows(scopes, "Observation", i));
  }
}

TEST_CASE("DecideScopes: v2 letters map to interactions one by one") {
  CHECK(Allows("patient/Condition.r", "Condition", Interaction::kRead));
  CHECK(Allows("patient/Condition.r", "Condition", Interaction::kVread));
  CHECK(Allows("patient/Condition.r", "Condition", Interaction::kHistoryInstance));
  CHECK_FALSE(Allows("patient/Condition.r", "Condition", Interaction::kSearch));
  CHECK_FALSE(Allows("patient/Condition.r", "Condition", Interaction::kHistoryType));
  CHECK(Allows("patient/Condition.s", "Condition", Interaction::kSearch));
  CHECK(Allows("patient/Condition.s", "Condition", Interaction::kHistoryType));
  CHECK_FALSE(Allows("patient/Condition.s", "Condition", Interaction::kRead));
  CHECK(Allows("user/Condition.c", "Condition", Interaction::kCreate));
  CHECK_FALSE(Allows("user/Condition.c", "Condition", Interaction::kUpdate));
  CHECK(Allows("user/Condition.u", "Condition", Interaction::kUpdate));
  CHECK(Allows("user/Condition.u", "Condition", Interaction::kPatch));
  CHECK_FALSE(Allows("user/Condition.u", "Condition", Interaction::kDelete));
  CHECK(Allows("user/Condition.d", "Condition", Interaction::kDelete));
  CHECK_FALSE(Allows("user/Condition.d", "Condition", Interaction::kCreate));
  for (Interaction i :
       {Interaction::kRead, Interaction::kVread, Interaction::kHistoryInstance,
        Interaction::kHistoryType, Interaction::kSearch, Interaction::kCreate,
        Interaction::kUpdate, Interaction::kPatch, Interaction::kDelete}) {
    CHECK(Allows("system/*.cruds", "Anything", i));
    CHECK(Allows("patient/*.*", "Anything", i));
  }
}

TEST_CASE("DecideScopes: [base]/_history needs a wildcard scope; contexts are reported") {
  CHECK_FALSE(Allows("user/Observation.rs", "*", Interaction::kHistoryType));
  CHECK(Allows("user/*.rs", "*", Interaction::kHistoryType));
  CHECK_FALSE(Allows("user/*.r", "*", Interaction::kHistoryType));

  const Principal principal = WithScopes("patient/Observation.rs user/*.read system/Patient.r");
  ScopeDecision d = DecideScopes(principal, "Observation", Interaction::kRead);
  CHECK(d.allowed);
  CHECK(d.via_patient);
  CHECK(d.via_user);
  CHECK_FALSE(d.via_system);
  d = DecideScopes(principal, "Patient", Interaction::kRead);
  CHECK(d.allowed);
  CHECK_FALSE(d.via_patient);
  CHECK(d.via_user);
  CHECK(d.via_system);
  d = DecideScopes(principal, "Patient", Interaction::kCreate);
  CHECK_FALSE(d.allowed);
  CHECK_FALSE(d.via_patient);
  CHECK_FALSE(d.via_user);
  CHECK_FALSE(d.via_system);
  CHECK_FALSE(DecideScopes(WithScopes(""), "Patient", Interaction::kRead).allowed);
}

TEST_CASE("RequiredAccess mirrors the REST routing") {
  using V = std::vector<std::string>;
  struct Case {
    const char* method;
    V segments;
    const char* type;
    Interaction interaction;
  };
  const Case cases[] = {
      {"GET", {"Patient"}, "Patient", Interaction::kSearch},
      {"HEAD", {"Patient"}, "Patient", Interaction::kSearch},
      {"POST", {"Patient", "_search"}, "Patient", Interaction::kSearch},
      {"POST", {"Patient"}, "Patient", Interaction::kCreate},
      {"PUT", {"Patient"}, "Patient", Interaction::kUpdate},
      {"DELETE", {"Patient"}, "Patient", Interaction::kDelete},
      {"GET", {"Patient", "1"}, "Patient", Interaction::kRead},
      {"PUT", {"Patient", "1"}, "Patient", Interaction::kUpdate},
      {"PATCH", {"Patient", "1"}, "Patient", Interaction::kPatch},
      {"DELETE", {"Patient", "1"}, "Patient", Interaction::kDelete},
      {"GET", {"Patient", "1", "_history"}, "Patient", Interaction::kHistoryInstance},
      {"GET", {"Patient", "1", "_history", "2"}, "Patient", Interaction::kVread},
      {"GET", {"Patient", "_history"}, "Patient", Interaction::kHistoryType},
      {"GET", {"_history"}, "*", Interaction::kHistoryType},
  };
  for (const Case& c : cases) {
    CAPTURE(c.method);
    CAPTURE(c.segments.size());
    const std::optional<Access> access = RequiredAccess(c.method, c.segments);
    REQUIRE(access.has_value());
    CHECK(access->resource_type == c.type);
    CHECK(access->interaction == c.interaction);
    CHECK(access->id == (c.segments.size() >= 2 && c.segments[1].front() != '_'
                             ? c.segments[1]
                             : std::string()));
  }
  CHECK_FALSE(RequiredAccess("POST", V{}).has_value());
  CHECK_FALSE(RequiredAccess("GET", V{}).has_value());
  CHECK_FALSE(RequiredAccess("POST", V{"Patient", "1"}).has_value());
  CHECK_FALSE(RequiredAccess("DELETE", V{"_history"}).has_value());
  CHECK_FALSE(RequiredAccess("GET", V{"$export"}).has_value());
  CHECK_FALSE(RequiredAccess("GET", V{"Patient", "1", "x", "y", "z"}).has_value());

  const std::optional<Access> entry = RequiredAccessOfUrl("GET", "/Observation/7?_format=json");
  REQUIRE(entry.has_value());
  CHECK(entry->resource_type == "Observation");
  CHECK(entry->interaction == Interaction::kRead);
  const std::optional<Access> search = RequiredAccessOfUrl("GET", "Observation?code=x/y");
  REQUIRE(search.has_value());
  CHECK(search->interaction == Interaction::kSearch);
}

std::vector<std::string> TestTargets(std::string_view type, std::string_view param) {
  if (type == "Observation" && param == "subject") return {"Group", "Patient"};
  if (type == "Patient" && param == "organization") return {"Organization"};
  return {};
}

// "Type:interaction" for each access, in order.
std::vector<std::string> Accesses(std::string_view method, std::vector<std::string> segments,
                                  std::vector<std::pair<std::string, std::string>> params) {
  std::vector<std::string> out;
  for (const Access& a : RequiredAccesses(method, segments, params, TestTargets)) {
    out.push_back(a.resource_type + ":" + std::string(InteractionCode(a.interaction)));
  }
  return out;
}

TEST_CASE("RequiredAccesses: every type a search can return or reveal") {
  using S = std::vector<std::string>;
  CHECK(Accesses("GET", {}, {}) == S{"*:search-type"});
  CHECK(Accesses("HEAD", {}, {{"name", "x"}}) == S{"*:search-type"});
  CHECK(Accesses("GET", {}, {{"_type", "Patient,Observation"}, {"_type", "Patient"}}) ==
        S{"Patient:search-type", "Observation:search-type"});
  CHECK(Accesses("GET", {"Observation"}, {{"code", "x"}, {"_count", "5"}}) ==
        S{"Observation:search-type"});
  CHECK(Accesses("GET", {"Observation"}, {{"_include", "Observation:subject"}}) ==
        S{"Observation:search-type", "Group:search-type", "Patient:search-type"});
  CHECK(Accesses("GET", {"Observation"}, {{"_include", "Observation:subject:Patient"}}) ==
        S{"Observation:search-type", "Patient:search-type"});
  CHECK(Accesses("GET", {"Observation"}, {{"_include:iterate", "*"}}) ==
        S{"Observation:search-type", "*:search-type"});
  CHECK(Accesses("GET", {"Observation"}, {{"_include", "Observation:*"}}) ==
        S{"Observation:search-type", "*:search-type"});
  CHECK(Accesses("GET", {"Observation"}, {{"_include", "Observation:performer"}}) ==
        S{"Observation:search-type", "*:search-type"});  // targets unknown to the table
  CHECK(Accesses("GET", {"Patient"}, {{"_revinclude", "Provenance:target"}}) ==
        S{"Patient:search-type", "Provenance:search-type"});
  CHECK(Accesses("GET", {"Patient"}, {{"_revinclude:iterate", "*"}}) ==
        S{"Patient:search-type", "*:search-type"});
  CHECK(Accesses("GET", {"Patient"}, {{"_has:Condition:subject:code", "x"}}) ==
        S{"Patient:search-type", "Condition:search-type"});
  CHECK(Accesses("GET", {"Patient"},
                 {{"_has:Observation:patient:_has:AuditEvent:entity:agent", "x"}}) ==
        S{"Patient:search-type", "Observation:search-type", "AuditEvent:search-type"});
  CHECK(Accesses("GET", {"Observation"}, {{"subject:Patient.organization.name", "x"}}) ==
        S{"Observation:search-type", "Patient:search-type", "Organization:search-type"});
  CHECK(Accesses("GET", {"Observation"}, {{"subject.name", "x"}}) ==
        S{"Observation:search-type", "Group:search-type", "Patient:search-type"});
  CHECK(Accesses("POST", {"Observation", "_search"}, {{"subject:Group.name", "x"}}) ==
        S{"Observation:search-type", "Group:search-type"});
  // Includes only matter for searches; POST [base] has none (its entries are checked).
  CHECK(Accesses("GET", {"Observation", "1"}, {{"_include", "Observation:subject"}}) ==
        S{"Observation:read"});
  CHECK(Accesses("POST", {}, {{"_include", "*"}}).empty());
  // Compartment search: read of the owner, search of the type, and its includes.
  CHECK(Accesses("GET", {"Patient", "p1", "Observation"},
                 {{"_include", "Observation:subject:Group"}}) ==
        S{"Patient:read", "Observation:search-type", "Group:search-type"});
  CHECK(Accesses("POST", {"Patient", "p1", "Observation"}, {}).empty());
  CHECK(Accesses("GET", {"Patient", "p1", "$everything"}, {}).empty());
  // Conditional update/delete criteria: chains and _has, not includes.
  CHECK(Accesses("PUT", {"Observation"}, {{"subject:Patient.name", "x"}, {"_include", "*"}}) ==
        S{"Observation:update", "Patient:search-type"});
  CHECK(Accesses("DELETE", {"Patient"}, {{"_has:Observation:patient:code", "x"}}) ==
        S{"Patient:delete", "Observation:search-type"});
  CHECK(Accesses("POST", {"Observation"}, {{"subject:Patient.name", "x"}}) ==
        S{"Observation:create"});
  CHECK(Accesses("PATCH", {"Observation"}, {}).empty());
}

TEST_CASE("ScopeProblem names the interaction and a scope that would allow it") {
  Principal principal = WithScopes("patient/Observation.rs");
  principal.patient = "p1";
  CHECK_FALSE(ScopeProblem(principal, Access{"Observation", Interaction::kRead}).has_value());
  CHECK(ScopeProblem(principal, Access{"Condition", Interaction::kRead}) ==
        std::optional<std::string>(
            "The token's scopes do not allow read of Condition (a scope such as "
            "patient/Condition.r or user/Condition.read is needed)"));
  CHECK(ScopeProblem(principal, Access{"Observation", Interaction::kCreate}) ==
        std::optional<std::string>(
            "The token's scopes do not allow create of Observation (a scope such as "
            "patient/Observation.c or user/Observation.write is needed)"));
  CHECK(ScopeProblem(principal, Access{"*", Interaction::kHistoryType}) ==
        std::optional<std::string>(
            "The token's scopes do not allow history-type of all resource types (a scope such "
            "as patient/*.s or user/*.read is needed)"));
  CHECK(InsufficientScopeChallenge() ==
        "Bearer realm=\"fhir-server\", error=\"insufficient_scope\"");
}

TEST_CASE("ScopeProblem: patient/ scopes alone need a patient context and reach only that Patient") {
  Principal principal = WithScopes("patient/*.rs");
  const std::optional<std::string> no_context(
      "The token's patient/ scopes need a patient context (a patient claim or a fhirUser "
      "Patient/...), and it has none");
  CHECK(ScopeProblem(principal, Access{"Observation", Interaction::kSearch}) == no_context);
  CHECK(ScopeProblem(principal, Access{"Patient", Interaction::kRead, "123"}) == no_context);

  principal.fhir_user = "Patient/123";
  principal.fhir_user_type = "Patient";
  principal.fhir_user_id = "123";
  CHECK_FALSE(ScopeProblem(principal, Access{"Observation", Interaction::kSearch}).has_value());
  CHECK_FALSE(ScopeProblem(principal, Access{"Patient", Interaction::kRead, "123"}).has_value());
  CHECK_FALSE(
      ScopeProblem(principal, Access{"Patient", Interaction::kVread, "123"}).has_value());
  CHECK(ScopeProblem(principal, Access{"Patient", Interaction::kRead, "456"}) ==
        std::optional<std::string>("The token's patient/ scopes reach only Patient/123"));
  CHECK(ScopeProblem(principal, Access{"Patient", Interaction::kHistoryInstance, "456"}) ==
        std::optional<std::string>("The token's patient/ scopes reach only Patient/123"));
  // The launch context wins over fhirUser.
  principal.patient = "456";
  CHECK_FALSE(ScopeProblem(principal, Access{"Patient", Interaction::kRead, "456"}).has_value());
  CHECK(ScopeProblem(principal, Access{"Patient", Interaction::kRead, "123"}) ==
        std::optional<std::string>("The token's patient/ scopes reach only Patient/456"));

  // A user/ or system/ scope that allows the access is not narrowed.
  Principal user = WithScopes("patient/*.rs user/Patient.r");
  CHECK_FALSE(ScopeProblem(user, Access{"Patient", Interaction::kRead, "456"}).has_value());
  CHECK(ScopeProblem(user, Access{"Observation", Interaction::kRead, "1"}) == no_context);
  Principal system = WithScopes("system/*.rs");
  CHECK_FALSE(ScopeProblem(system, Access{"Patient", Interaction::kRead, "456"}).has_value());
}

}  // namespace
}  // namespace server::auth
