// Index rows shared between search parameters (fhir/search/index_sharing.h): which parameters
// share, which rows a resource gets, and that searches of every sharing parameter find what
// they found when each had rows of its own.

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>

#include "fhir/json/parser.h"
#include "fhir/search/index_extractor.h"
#include "fhir/search/search_registry.h"
#include "tests/server/rest_fixture.h"

namespace server::testing {
namespace {

using Codes = std::vector<std::string_view>;

const fhir::search::BoundParam& Param(std::string_view type, std::string_view code) {
  const fhir::search::BoundParam* p = fhir::search::SearchRegistry::Get().Find(type, code);
  REQUIRE_MESSAGE(p != nullptr, (std::string(type) + "." + std::string(code)));
  return *p;
}

TEST_CASE("index sharing: the parameters R4's expressions let share rows") {
  // Alias of a HumanName parameter that itself leaves family and given to their parameters.
  CHECK_FALSE(Param("Patient", "phonetic").own_rows);
  CHECK(Param("Patient", "phonetic").rows_also_in == Codes{"family", "given", "name"});
  CHECK(Param("Patient", "name").own_rows);
  CHECK(Param("Patient", "name").skipped_parts == Codes{"family", "given"});
  CHECK(Param("Patient", "name").rows_also_in == Codes{"family", "given"});
  CHECK(Param("Patient", "address").skipped_parts ==
        Codes{"city", "country", "postalCode", "state"});
  CHECK(Param("Patient", "address").rows_also_in ==
        Codes{"address-city", "address-country", "address-postalcode", "address-state"});
  CHECK(Param("Patient", "family").rows_also_in.empty());
  CHECK(Param("Practitioner", "phonetic").rows_also_in == Codes{"family", "given", "name"});
  // Person has no family or given parameter: name keeps every part.
  CHECK(Param("Person", "name").skipped_parts.empty());
  CHECK(Param("Person", "phonetic").rows_also_in == Codes{"name"});

  // Subsets: a filter of another parameter's expression keeps its rows; the other reads them.
  CHECK(Param("Observation", "subject").own_rows);
  CHECK(Param("Observation", "subject").subsets == Codes{"patient"});
  CHECK(Param("Observation", "subject").rows_also_in == Codes{"patient"});
  CHECK(Param("Patient", "telecom").subsets == Codes{"email", "phone"});
  CHECK(Param("Patient", "telecom").rows_also_in == Codes{"email", "phone"});

  // Unions of other parameters' branches.
  CHECK_FALSE(Param("Observation", "combo-code").own_rows);
  CHECK(Param("Observation", "combo-code").rows_also_in == Codes{"code", "component-code"});
  CHECK(Param("Observation", "combo-value-quantity").rows_also_in ==
        Codes{"component-value-quantity", "value-quantity"});
  CHECK(Param("Observation", "combo-value-concept").rows_also_in ==
        Codes{"component-value-concept", "value-concept"});
  CHECK(Param("Observation", "code").own_rows);
  CHECK(Param("Observation", "code").rows_also_in.empty());

  // Same expression: the first code keeps the rows.
  CHECK_FALSE(Param("Coverage", "patient").own_rows);
  CHECK(Param("Coverage", "patient").rows_also_in == Codes{"beneficiary"});
  CHECK_FALSE(Param("DeviceUseStatement", "subject").own_rows);
  CHECK(Param("DeviceUseStatement", "subject").rows_also_in == Codes{"patient"});

  // Not shared: a filtered expression itself, composites, _tag.
  CHECK(Param("Observation", "patient").own_rows);
  CHECK(Param("Observation", "patient").rows_also_in.empty());
  CHECK(Param("Observation", "code-value-quantity").rows_also_in.empty());
  CHECK(Param("Observation", "_tag").rows_also_in.empty());

  // Every parameter read through another has rows of its own or reads only ones that have.
  for (const fhir::search::SharedRows& shared :
       fhir::search::SearchRegistry::Get().AllSharedRows()) {
    CHECK_MESSAGE(Param(shared.type, shared.rows_of).own_rows,
                  (std::string(shared.type) + "." + std::string(shared.code) + " reads " +
                   std::string(shared.rows_of)));
  }
}

TEST_CASE("index sharing: IsWhereOf recognises one where() on a whole expression") {
  using fhir::search::IsWhereOf;
  CHECK(IsWhereOf("Observation.subject.where(resolve() is Patient)", "Observation.subject"));
  CHECK(IsWhereOf("Patient.telecom.where(system='email')", "Patient.telecom"));
  CHECK(IsWhereOf("A.b.where(c = ')' and d.exists())", "A.b"));  // a parenthesis in a literal
  CHECK_FALSE(IsWhereOf("A.b.where(c).d", "A.b"));          // more after the where()
  CHECK_FALSE(IsWhereOf("A.b.where(c) | A.e", "A.b"));      // another branch
  CHECK_FALSE(IsWhereOf("A.bc.where(c)", "A.b"));           // another element
  CHECK_FALSE(IsWhereOf("A.b | A.c.where(x)", "A.b | A.c"));  // `whole` is not one term
  CHECK_FALSE(IsWhereOf("A.b", "A.b"));
  CHECK_FALSE(IsWhereOf("A.b as X.where(c)", "A.b as X"));  // `as` binds looser than where()
  CHECK(IsWhereOf("(A.b as X).where(c)", "(A.b as X)"));
}

const char kPatient[] =
    R"({"resourceType":"Patient","id":"p1","name":[{"use":"official","family":"Chalmers",)"
    R"("given":["Peter","James"]},{"use":"usual","given":["Jim"],"prefix":["Mr"]}],)"
    R"("address":[{"text":"534 Erewhon St PeasantVille","line":["534 Erewhon St"],)"
    R"("city":"PleasantVille","district":"Rainbow","state":"Vic","postalCode":"3999"}]})";

TEST_CASE("index sharing: a Patient's string rows, each value once") {
  auto patient = fhir::json::ParseResource(kPatient);
  REQUIRE(patient.ok());
  std::map<std::string, std::set<std::string>> rows;
  int count = 0;
  for (const fhir::search::StringEntry& e :
       fhir::search::ExtractIndexEntries(**patient).strings) {
    rows[e.param].insert(e.exact);
    ++count;
  }
  CHECK(rows == std::map<std::string, std::set<std::string>>{
                    {"family", {"Chalmers"}},
                    {"given", {"Peter", "James", "Jim"}},
                    {"name", {"Mr"}},
                    {"address", {"534 Erewhon St PeasantVille", "534 Erewhon St", "Rainbow"}},
                    {"address-city", {"PleasantVille"}},
                    {"address-state", {"Vic"}},
                    {"address-postalcode", {"3999"}},
                });
  CHECK(count == 11);  // 23 before sharing: name, phonetic and address repeated the parts

  auto with_telecom = fhir::json::ParseResource(
      R"({"resourceType":"Patient","telecom":[{"system":"email","value":"a@b.org"},)"
      R"({"system":"phone","value":"555-1"},{"system":"fax","value":"555-2"}]})");
  REQUIRE(with_telecom.ok());
  std::vector<std::string> tokens;
  for (const fhir::search::TokenEntry& e :
       fhir::search::ExtractIndexEntries(**with_telecom).tokens) {
    if (e.param != "deceased") tokens.push_back(e.param + " " + e.system + "|" + e.code);
  }
  std::sort(tokens.begin(), tokens.end());
  CHECK(tokens == std::vector<std::string>{"email email|a@b.org", "phone phone|555-1",
                                           "telecom fax|555-2"});
}

TEST_CASE("index sharing: searches of every sharing parameter find what they did") {
  Fixture f;
  REQUIRE(f.Call("PUT", "Patient/p1", kPatient).status == 201);
  REQUIRE(f.Call("PUT", "Patient/p2",
                 R"({"resourceType":"Patient","id":"p2","name":[{"family":"Peterson"}],)"
                 R"("address":[{"city":"Vicksburg"}]})")
              .status == 201);
  REQUIRE(f.Call("PUT", "Patient/p3", R"({"resourceType":"Patient","id":"p3","gender":"male"})")
              .status == 201);
  auto ids = [&](const std::string& query) {
    RestResponse r = f.Call("GET", query);
    REQUIRE_MESSAGE(r.status == 200, (query + " -> " + r.body));
    std::vector<std::string> out;
    for (int i = 0;; ++i) {
      std::string id = At(r.body, "entry[" + std::to_string(i) + "].resource.id");
      if (id.empty()) break;
      out.push_back(id);
    }
    return out;
  };
  using Ids = std::vector<std::string>;
  CHECK(ids("Patient?name=chalmers") == Ids{"p1"});  // a family, through `family`'s rows
  CHECK(ids("Patient?name=jim") == Ids{"p1"});       // a given, through `given`'s rows
  CHECK(ids("Patient?name=mr") == Ids{"p1"});        // a prefix, in `name`'s own rows
  CHECK(ids("Patient?name=peter&_sort=_id") == Ids{"p1", "p2"});
  CHECK(ids("Patient?phonetic=peter&_sort=_id") == Ids{"p1", "p2"});
  CHECK(ids("Patient?phonetic=mr") == Ids{"p1"});
  CHECK(ids("Patient?family=peter") == Ids{"p2"});
  CHECK(ids("Patient?given=peter") == Ids{"p1"});
  CHECK(ids("Patient?name:exact=James") == Ids{"p1"});
  CHECK(ids("Patient?name:exact=james").empty());
  CHECK(ids("Patient?phonetic:contains=erso") == Ids{"p2"});
  CHECK(ids("Patient?name:missing=true") == Ids{"p3"});
  CHECK(ids("Patient?phonetic:missing=false&_sort=_id") == Ids{"p1", "p2"});
  // Sorting by name reads the smallest value of all its rows: "chalmers" < "peterson".
  CHECK(ids("Patient?_sort=-name&name:missing=false") == Ids{"p2", "p1"});
  CHECK(ids("Patient?address=pleasantville") == Ids{"p1"});  // the city
  CHECK(ids("Patient?address=vic&_sort=_id") == Ids{"p1", "p2"});  // state; city Vicksburg
  CHECK(ids("Patient?address-city=vic") == Ids{"p2"});
  CHECK(ids("Patient?address=rainbow") == Ids{"p1"});  // the district, address's own row
  CHECK(ids("Patient?address-state=vic") == Ids{"p1"});
  // System and compartment searches read the shared rows too.
  CHECK(ids("?_type=Patient&phonetic=peter&_sort=_id") == Ids{"p1", "p2"});
  CHECK(ids("?_type=Patient&name=jim") == Ids{"p1"});

  // A union: combo-code reads code and component-code; :not and :missing as before.
  REQUIRE(f.Call("PUT", "Observation/o1",
                 R"({"resourceType":"Observation","id":"o1","status":"final","code":{"coding":)"
                 R"([{"system":"http://loinc.org","code":"85354-9"}]},"component":[{"code":)"
                 R"({"coding":[{"system":"http://loinc.org","code":"8480-6"}]}}]})")
              .status == 201);
  REQUIRE(f.Call("PUT", "Observation/o2",
                 R"({"resourceType":"Observation","id":"o2","status":"final","code":{"coding":)"
                 R"([{"system":"http://loinc.org","code":"8480-6"}]}})")
              .status == 201);
  CHECK(ids("Observation?combo-code=8480-6&_sort=_id") == Ids{"o1", "o2"});
  CHECK(ids("Observation?combo-code=http://loinc.org|85354-9") == Ids{"o1"});
  CHECK(ids("Observation?code=8480-6") == Ids{"o2"});
  CHECK(ids("Observation?combo-code:not=85354-9") == Ids{"o2"});
  CHECK(ids("Observation?combo-code:missing=true").empty());
  CHECK(ids("Observation?_sort=combo-code,_id") == Ids{"o1", "o2"});

  // Subsets: a subject that is a Patient is in `patient`'s rows, a Group in `subject`'s own.
  REQUIRE(f.Call("PUT", "Group/g1",
                 R"({"resourceType":"Group","id":"g1","type":"person","actual":true})")
              .status == 201);
  REQUIRE(f.Call("PUT", "Observation/o3",
                 R"({"resourceType":"Observation","id":"o3","status":"final","code":{"text":"x"},)"
                 R"("subject":{"reference":"Patient/p1"}})")
              .status == 201);
  REQUIRE(f.Call("PUT", "Observation/o4",
                 R"({"resourceType":"Observation","id":"o4","status":"final","code":{"text":"x"},)"
                 R"("subject":{"reference":"Group/g1"}})")
              .status == 201);
  CHECK(ids("Observation?subject=Patient/p1") == Ids{"o3"});
  CHECK(ids("Observation?subject:Patient=p1") == Ids{"o3"});
  CHECK(ids("Observation?patient=p1") == Ids{"o3"});
  CHECK(ids("Observation?subject=Group/g1") == Ids{"o4"});
  CHECK(ids("Observation?patient=Group/g1").empty());
  CHECK(ids("Observation?subject:missing=false&_sort=_id") == Ids{"o3", "o4"});
  CHECK(ids("Observation?patient:missing=false") == Ids{"o3"});
  CHECK(ids("Observation?subject:missing=true&_sort=_id") == Ids{"o1", "o2"});
  CHECK(ids("Observation?subject:Patient.name=chalmers") == Ids{"o3"});
  CHECK(ids("Patient/p1/Observation") == Ids{"o3"});
  CHECK(ids("Patient/p1/*?_type=Observation") == Ids{"o3"});
  CHECK(ids("Patient?_has:Observation:subject:code:text=x") == Ids{"p1"});
  RestResponse included = f.Call("GET", "Observation?_id=o3&_include=Observation:subject");
  CHECK(At(included.body, "entry[1].resource.id") == "p1");
  CHECK(At(included.body, "entry[1].search.mode") == "include");
  RestResponse revincluded = f.Call("GET", "Group?_id=g1&_revinclude=Observation:subject");
  CHECK(At(revincluded.body, "entry[1].resource.id") == "o4");
  CHECK(At(revincluded.body, "entry[2].resource.id") == "");

  // Patient telecom: email and phone keep their values; telecom reads them.
  REQUIRE(f.Call("PUT", "Patient/p4",
                 R"({"resourceType":"Patient","id":"p4","telecom":[{"system":"email",)"
                 R"("value":"a@b.org"},{"system":"phone","value":"555-1"},)"
                 R"({"system":"fax","value":"555-2"}]})")
              .status == 201);
  CHECK(ids("Patient?telecom=a@b.org") == Ids{"p4"});
  CHECK(ids("Patient?telecom=555-1") == Ids{"p4"});
  CHECK(ids("Patient?telecom=fax|555-2") == Ids{"p4"});
  CHECK(ids("Patient?email=a@b.org") == Ids{"p4"});
  CHECK(ids("Patient?phone=555-1") == Ids{"p4"});
  CHECK(ids("Patient?phone=555-2").empty());
  CHECK(ids("Patient?email=555-1").empty());

  // Contained resources share as their type does ("#Patient" reads "#Patient"'s family rows).
  REQUIRE(f.Call("PUT", "Observation/o5",
                 R"({"resourceType":"Observation","id":"o5","status":"final","code":{"text":"x"},)"
                 R"("contained":[{"resourceType":"Patient","id":"cp","name":[{"family":"Inside",)"
                 R"("given":["Carl"]}]}],"subject":{"reference":"#cp"}})")
              .status == 201);
  CHECK(ids("Patient?_contained=true&name=inside") == Ids{"o5"});
  CHECK(ids("Patient?_contained=true&phonetic=carl") == Ids{"o5"});
  CHECK(ids("Patient?_contained=true&family=carl").empty());
  CHECK(ids("Patient?_contained=true&given=carl") == Ids{"o5"});
}

}  // namespace
}  // namespace server::testing
