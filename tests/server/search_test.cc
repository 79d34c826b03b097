// Search (issue 4): index extraction through the R4 SearchParameter expressions and the search
// interaction, socket-free on a real SQLite store. Each case asserts the exact set of ids.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "fhir/json/parser.h"
#include "fhir/search/index_extractor.h"
#include "fhir/search/normalize.h"
#include "fhir/search/search_registry.h"
#include "server/capability.h"
#include "server/search/reindex.h"
#include "server/search/search_interaction.h"
#include "server/search/search_parser.h"
#include "storage/sqlite/sqlite_store.h"
#include "tests/server/rest_fixture.h"

namespace {

using server::RestResponse;
using server::testing::At;
using server::testing::Fixture;

// The ids of the match entries of a searchset, sorted.
std::set<std::string> Ids(const RestResponse& r) {
  std::set<std::string> ids;
  for (int i = 0;; ++i) {
    std::string entry = "entry[" + std::to_string(i) + "]";
    std::string id = At(r.body, entry + ".resource.id");
    if (id.empty()) {
      if (At(r.body, entry + ".search.mode").empty()) break;
      continue;
    }
    if (At(r.body, entry + ".search.mode") == "match") ids.insert(id);
  }
  return ids;
}

using IdSet = std::set<std::string>;

class SearchFixture : public Fixture {
 public:
  SearchFixture() {
    Put("Patient", "p1",
        R"({"resourceType":"Patient","id":"p1","identifier":[{"system":"urn:nid","value":"111",)"
        R"("type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"NI"}]}},)"
        R"({"system":"urn:passport","value":"P-9","type":{"coding":[{"system":)"
        R"("http://terminology.hl7.org/CodeSystem/v2-0203","code":"PPN"}]}}],)"
        R"("name":[{"family":"Müller","given":["Anna"]}],"gender":"female",)"
        R"("birthDate":"1970-03-15","active":true,"telecom":[{"system":"phone","value":"555-1"}],)"
        R"("address":[{"city":"Zürich","country":"CH"}]})");
    Put("Patient", "p2",
        R"({"resourceType":"Patient","id":"p2","identifier":[{"system":"urn:nid","value":"222"}],)"
        R"("name":[{"family":"Mullerson","given":["Ben"]}],"gender":"male",)"
        R"("birthDate":"1985","active":false})");
    Put("Patient", "p3",
        R"({"resourceType":"Patient","id":"p3","name":[{"family":"Chen, Li","given":["Wei"]}],)"
        R"("gender":"male","birthDate":"2001-07-04","generalPractitioner":)"
        R"([{"reference":"Practitioner/d1"}]})");
    Put("Practitioner", "d1",
        R"({"resourceType":"Practitioner","id":"d1","name":[{"family":"House"}]})");
    Put("Observation", "o1",
        R"({"resourceType":"Observation","id":"o1","status":"final","code":{"coding":)"
        R"([{"system":"http://loinc.org","code":"8480-6","display":"Systolic blood pressure"}]},)"
        R"("subject":{"reference":"Patient/p1"},"effectiveDateTime":"2020-01-10T08:00:00Z",)"
        R"("valueQuantity":{"value":120.5,"unit":"mmHg","system":"http://unitsofmeasure.org",)"
        R"("code":"mm[Hg]"}})");
    Put("Observation", "o2",
        R"({"resourceType":"Observation","id":"o2","status":"preliminary","code":{"coding":)"
        R"([{"system":"http://loinc.org","code":"29463-7"}],"text":"Body weight"},)"
        R"("subject":{"reference":"Patient/p2"},"effectivePeriod":{"start":"2020-02-01",)"
        R"("end":"2020-02-03"},"valueQuantity":{"value":80,"unit":"kg",)"
        R"("system":"http://unitsofmeasure.org","code":"kg"}})");
    Put("Observation", "o3",
        R"({"resourceType":"Observation","id":"o3","status":"final","code":{"coding":)"
        R"([{"system":"http://loinc.org","code":"8480-6"}]},"subject":{"reference":)"
        R"("Patient/p1"},"valueQuantity":{"value":140,"system":"http://unitsofmeasure.org",)"
        R"("code":"mm[Hg]"}})");
    Put("Condition", "c1",
        R"({"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/p3"},)"
        R"("code":{"text":"Asthma"},"onsetAge":{"value":12,"unit":"a",)"
        R"("system":"http://unitsofmeasure.org","code":"a"}})");
    Put("ValueSet", "vs1",
        R"({"resourceType":"ValueSet","id":"vs1","status":"active",)"
        R"("url":"http://example.org/fhir/ValueSet/colors"})");
  }

  void Put(const std::string& type, const std::string& id, const std::string& json) {
    RestResponse r = Call("PUT", type + "/" + id, json);
    REQUIRE_MESSAGE(r.status == 201, r.body);
  }

  IdSet Search(const std::string& query) {
    RestResponse r = Call("GET", query);
    REQUIRE_MESSAGE(r.status == 200, (query + " -> " + r.body));
    return Ids(r);
  }
};

}  // namespace

TEST_CASE("search: string parameters (prefix, :exact, :contains, accents, case)") {
  SearchFixture f;
  CHECK(f.Search("Patient?family=muller") == IdSet{"p1", "p2"});
  CHECK(f.Search("Patient?family=MÜLLER") == IdSet{"p1", "p2"});
  CHECK(f.Search("Patient?family:exact=Müller") == IdSet{"p1"});
  CHECK(f.Search("Patient?family:exact=muller").empty());
  CHECK(f.Search("Patient?family:contains=lers") == IdSet{"p2"});
  CHECK(f.Search("Patient?name=anna") == IdSet{"p1"});
  CHECK(f.Search("Patient?address-city=zurich") == IdSet{"p1"});
  // OR and AND; an escaped comma is part of the value
  CHECK(f.Search("Patient?given=anna,wei") == IdSet{"p1", "p3"});
  CHECK(f.Search("Patient?family=mull&given=ben") == IdSet{"p2"});
  CHECK(f.Search("Patient?family:exact=Chen\\,%20Li") == IdSet{"p3"});
  CHECK(f.Search("Patient?family:exact=Chen").empty());
}

TEST_CASE("search: token parameters (system|code, |code, system|, :not, :text, :of-type)") {
  SearchFixture f;
  CHECK(f.Search("Patient?gender=male") == IdSet{"p2", "p3"});
  CHECK(f.Search("Patient?gender:not=male") == IdSet{"p1"});
  CHECK(f.Search("Patient?identifier=urn:nid|111") == IdSet{"p1"});
  CHECK(f.Search("Patient?identifier=111") == IdSet{"p1"});
  CHECK(f.Search("Patient?identifier=urn:nid|") == IdSet{"p1", "p2"});
  CHECK(f.Search("Patient?identifier=urn:passport|111").empty());
  CHECK(f.Search("Patient?active=true") == IdSet{"p1"});
  CHECK(f.Search("Patient?telecom=555-1") == IdSet{"p1"});
  CHECK(f.Search("Observation?code=http://loinc.org|8480-6") == IdSet{"o1", "o3"});
  CHECK(f.Search("Observation?code:text=systolic") == IdSet{"o1"});
  CHECK(f.Search("Observation?code:text=weight") == IdSet{"o2"});
  CHECK(f.Search("Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|PPN|P-9") ==
        IdSet{"p1"});
  CHECK(f.Search("Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|NI|P-9")
            .empty());
}

TEST_CASE("search: date parameters honour precision, prefixes and time zones") {
  SearchFixture f;
  CHECK(f.Search("Patient?birthdate=1970") == IdSet{"p1"});
  CHECK(f.Search("Patient?birthdate=1970-03") == IdSet{"p1"});
  CHECK(f.Search("Patient?birthdate=1970-03-16").empty());
  // p2's birthDate 1985 is a whole year: it is not inside one day of it
  CHECK(f.Search("Patient?birthdate=1985-06-01").empty());
  CHECK(f.Search("Patient?birthdate=ge1985-06-01") == IdSet{"p2", "p3"});
  CHECK(f.Search("Patient?birthdate=lt1980") == IdSet{"p1"});
  CHECK(f.Search("Patient?birthdate=gt1985") == IdSet{"p3"});
  CHECK(f.Search("Patient?birthdate=sa1984") == IdSet{"p2", "p3"});
  CHECK(f.Search("Patient?birthdate=eb1986") == IdSet{"p1", "p2"});
  CHECK(f.Search("Patient?birthdate=ne1970") == IdSet{"p2", "p3"});
  // o1 is effective at 08:00Z, which is 10:00+02:00
  CHECK(f.Search("Observation?date=2020-01-10T10:00:00%2B02:00") == IdSet{"o1"});
  CHECK(f.Search("Observation?date=2020-01-10T08:00:00%2B02:00").empty());
  CHECK(f.Search("Observation?date=2020-01-10T08:00:00Z") == IdSet{"o1"});
  // a second-precision search value does not contain a day-long birthDate
  CHECK(f.Search("Patient?birthdate=2001-07-04T00:00:00Z").empty());
  // Periods: effective 2020-02-01..03 is inside February
  CHECK(f.Search("Observation?date=2020-02") == IdSet{"o2"});
  CHECK(f.Search("Observation?date=ge2020-01-10&date=lt2020-02-02") == IdSet{"o1", "o2"});
}

TEST_CASE("search: quantity and number parameters") {
  SearchFixture f;
  CHECK(f.Search("Observation?value-quantity=120.5") == IdSet{"o1"});
  CHECK(f.Search("Observation?value-quantity=120") == IdSet{});
  CHECK(f.Search("Observation?value-quantity=gt100|http://unitsofmeasure.org|mm[Hg]") ==
        IdSet{"o1", "o3"});
  CHECK(f.Search("Observation?value-quantity=lt100||kg") == IdSet{"o2"});
  CHECK(f.Search("Observation?value-quantity=ap130") == IdSet{"o1", "o3"});
  CHECK(f.Search("Observation?value-quantity=le120.5") == IdSet{"o1", "o2"});
  CHECK(f.Search("Condition?onset-age=12||a") == IdSet{"c1"});
}

TEST_CASE("search: reference, chaining, _has, :identifier, :missing, uri") {
  SearchFixture f;
  CHECK(f.Search("Observation?subject=Patient/p1") == IdSet{"o1", "o3"});
  CHECK(f.Search("Observation?patient=p2") == IdSet{"o2"});
  CHECK(f.Search("Observation?subject:Patient=p2") == IdSet{"o2"});
  CHECK(f.Search("Observation?subject:Patient.name=anna") == IdSet{"o1", "o3"});
  CHECK(f.Search("Observation?patient.gender=male") == IdSet{"o2"});
  CHECK(f.Search("Condition?subject:Patient.general-practitioner.name=house") == IdSet{"c1"});
  CHECK(f.Search("Patient?_has:Observation:patient:code=8480-6") == IdSet{"p1"});
  CHECK(f.Search("Practitioner?_has:Patient:general-practitioner:_has:Condition:subject:code:text="
                 "asthma") == IdSet{"d1"});
  CHECK(f.Search("Practitioner?_has:Patient:general-practitioner:_has:Observation:patient:code="
                 "8480-6")
            .empty());
  CHECK(f.Search("Patient?general-practitioner:missing=false") == IdSet{"p3"});
  CHECK(f.Search("Patient?general-practitioner:missing=true") == IdSet{"p1", "p2"});
  CHECK(f.Search("ValueSet?url=http://example.org/fhir/ValueSet/colors") == IdSet{"vs1"});
  CHECK(f.Search("ValueSet?url:below=http://example.org/fhir") == IdSet{"vs1"});
  CHECK(f.Search("ValueSet?url:above=http://example.org/fhir/ValueSet/colors/v2") ==
        IdSet{"vs1"});
  CHECK(f.Search("ValueSet?url:below=http://example.org/other").empty());
}

TEST_CASE("search: _id, _lastUpdated, _sort, _count paging, _total, _summary=count") {
  SearchFixture f;
  CHECK(f.Search("Patient?_id=p1,p3") == IdSet{"p1", "p3"});
  CHECK(f.Search("Patient?_lastUpdated=gt2000-01-01") == IdSet{"p1", "p2", "p3"});
  CHECK(f.Search("Patient?_lastUpdated=lt2000-01-01").empty());

  RestResponse sorted = f.Call("GET", "Patient?_sort=-birthdate");
  REQUIRE(sorted.status == 200);
  CHECK(At(sorted.body, "entry[0].resource.id") == "p3");
  CHECK(At(sorted.body, "entry[1].resource.id") == "p2");
  CHECK(At(sorted.body, "entry[2].resource.id") == "p1");
  CHECK(At(sorted.body, "total") == "3");

  RestResponse page1 = f.Call("GET", "Patient?_sort=family&_count=2");
  CHECK(At(page1.body, "total") == "3");
  CHECK(At(page1.body, "entry[0].resource.id") == "p3");  // chen
  CHECK(At(page1.body, "entry[1].resource.id") == "p1");  // muller
  CHECK(At(page1.body, "link[1].relation") == "next");
  CHECK(At(page1.body, "link[1].url") ==
        "http://test/fhir/Patient?_sort=family&_count=2&_offset=2");
  RestResponse page2 = f.Call("GET", "Patient?_sort=family&_count=2&_offset=2");
  CHECK(At(page2.body, "entry[0].resource.id") == "p2");
  CHECK(At(page2.body, "entry[1].resource.id").empty());
  CHECK(At(page2.body, "link[1].relation") == "previous");

  RestResponse none = f.Call("GET", "Patient?_total=none");
  CHECK(At(none.body, "total").empty());
  RestResponse count = f.Call("GET", "Observation?_summary=count");
  CHECK(At(count.body, "total") == "3");
  CHECK(At(count.body, "entry").empty());
}

TEST_CASE("search: _include, _revinclude (:iterate), _elements, _summary") {
  SearchFixture f;
  RestResponse r = f.Call("GET", "Observation?_id=o1&_include=Observation:subject");
  REQUIRE(r.status == 200);
  CHECK(At(r.body, "entry[0].resource.id") == "o1");
  CHECK(At(r.body, "entry[0].search.mode") == "match");
  CHECK(At(r.body, "entry[1].resource.id") == "p1");
  CHECK(At(r.body, "entry[1].search.mode") == "include");
  CHECK(At(r.body, "entry[2]").empty());

  r = f.Call("GET", "Patient?_id=p1&_revinclude=Observation:subject");
  CHECK(At(r.body, "total") == "1");
  CHECK(At(r.body, "entry[1].resource.id") == "o1");
  CHECK(At(r.body, "entry[2].resource.id") == "o3");

  // `*`: whatever references the matches, of any type, by any parameter.
  r = f.Call("GET", "Patient?_id=p1&_revinclude=*");
  REQUIRE(r.status == 200);
  CHECK(At(r.body, "total") == "1");
  CHECK(At(r.body, "entry[0].resource.id") == "p1");
  std::set<std::string> revincluded;
  for (int i = 1; !At(r.body, "entry[" + std::to_string(i) + "]").empty(); ++i) {
    const std::string e = "entry[" + std::to_string(i) + "]";
    CHECK(At(r.body, e + ".search.mode") == "include");
    revincluded.insert(At(r.body, e + ".resource.resourceType") + "/" +
                       At(r.body, e + ".resource.id"));
  }
  CHECK(revincluded == std::set<std::string>{"Observation/o1", "Observation/o3"});

  r = f.Call("GET",
             "Condition?_id=c1&_include=Condition:subject&_include:iterate=Patient:general-practitioner");
  CHECK(At(r.body, "entry[1].resource.id") == "p3");
  CHECK(At(r.body, "entry[2].resource.id") == "d1");

  r = f.Call("GET", "Patient?_id=p1&_elements=gender");
  CHECK(At(r.body, "entry[0].resource.gender") == "female");
  CHECK(At(r.body, "entry[0].resource.name").empty());
  CHECK(At(r.body, "entry[0].resource.meta.tag[0].code") == "SUBSETTED");

  r = f.Call("GET", "Patient?_id=p1&_summary=true");
  CHECK(At(r.body, "entry[0].resource.name[0].family") == "Müller");
  CHECK(At(r.body, "entry[0].resource.telecom[0].value") == "555-1");
}

TEST_CASE("search: errors, lenient and strict handling, POST _search, system search") {
  SearchFixture f;
  RestResponse bad = f.Call("GET", "Patient?birthdate=yesterday");
  CHECK(bad.status == 400);
  CHECK(At(bad.body, "issue[0].expression[0]") == "birthdate");

  RestResponse no_such_chain = f.Call("GET", "Observation?subject.shoe-size=x");
  CHECK(no_such_chain.status == 400);
  CHECK(At(no_such_chain.body, "issue[0].expression[0]") == "subject.shoe-size");
  // Without a type, a chain tries every target type that has the parameter.
  CHECK(f.Search("Observation?subject.name=anna") == IdSet{"o1", "o3"});

  // Unknown parameter: ignored (and left out of self) by default, 400 when strict.
  RestResponse lenient = f.Call("GET", "Patient?gender=male&shoe-size=42");
  CHECK(lenient.status == 200);
  CHECK(Ids(lenient) == IdSet{"p2", "p3"});
  CHECK(At(lenient.body, "link[0].url") == "http://test/fhir/Patient?gender=male");
  RestResponse strict = f.Call("GET", "Patient?gender=male&shoe-size=42", {},
                               [](server::RestRequest& r) { r.prefer = "handling=strict"; });
  CHECK(strict.status == 400);
  CHECK(At(strict.body, "issue[0].expression[0]") == "shoe-size");

  RestResponse posted = f.Call("POST", "Patient/_search", "gender=male&family=chen",
                               [](server::RestRequest& r) {
                                 r.content_type = "application/x-www-form-urlencoded";
                               });
  REQUIRE(posted.status == 200);
  CHECK(Ids(posted) == IdSet{"p3"});

  CHECK(f.Search("?_type=Practitioner,ValueSet") == IdSet{"d1", "vs1"});
  CHECK(f.Search("?_id=o2") == IdSet{"o2"});
}

TEST_CASE("search: updates and deletes keep the index current; conditional create uses search") {
  SearchFixture f;
  REQUIRE(f.Call("PUT", "Patient/p2", R"({"resourceType":"Patient","id":"p2","gender":"female"})")
              .status == 200);
  CHECK(f.Search("Patient?gender=female") == IdSet{"p1", "p2"});
  CHECK(f.Search("Patient?family=muller") == IdSet{"p1"});
  REQUIRE(f.Call("DELETE", "Patient/p1").status == 204);
  CHECK(f.Search("Patient?gender=female") == IdSet{"p2"});
  CHECK(f.Search("Observation?patient.gender=female") == IdSet{"o2"});  // p1 is gone

  RestResponse exists = f.Call("POST", "Observation", R"({"resourceType":"Observation",)"
                                                      R"("status":"final","code":{"text":"x"}})",
                               [](server::RestRequest& r) {
                                 r.if_none_exist = "code=http://loinc.org|8480-6&status=final";
                               });
  CHECK(exists.status == 412);  // o1 and o3 match
}

TEST_CASE("normalisation and date ranges") {
  using fhir::search::DateRange;
  using fhir::search::FormatInstant;
  CHECK(fhir::search::NormalizeString("Ærøskøbing ÉCOLE Straße") == "aeroskobing ecole strasse");
  auto year = DateRange("2020");
  REQUIRE(year);
  CHECK(FormatInstant(year->low) == "2020-01-01T00:00:00.000Z");
  CHECK(FormatInstant(year->high) == "2020-12-31T23:59:59.999Z");
  auto feb = DateRange("2024-02");
  REQUIRE(feb);
  CHECK(FormatInstant(feb->high) == "2024-02-29T23:59:59.999Z");
  auto zoned = DateRange("2020-01-01T00:30:00-05:00");
  REQUIRE(zoned);
  CHECK(FormatInstant(zoned->low) == "2020-01-01T05:30:00.000Z");
  CHECK(FormatInstant(zoned->high) == "2020-01-01T05:30:00.999Z");
  CHECK_FALSE(DateRange("2020-13"));
  CHECK_FALSE(DateRange("2021-02-29"));
  CHECK_FALSE(DateRange("2020-01-01T25:00"));
  CHECK(server::search::SplitUnescaped("a\\,b,c", ',') == std::vector<std::string>{"a\\,b", "c"});
  CHECK(server::search::Unescape("a\\,b\\|c\\$d\\\\") == "a,b|c$d\\");
}

TEST_CASE("search: the R4 SearchParameters, one per type and code, not the resource's examples") {
  const auto& registry = fhir::search::SearchRegistry::Get();
  // The R4 package carries three examples of the SearchParameter resource; one repeated
  // Condition's `subject`, which indexed every Condition's subject twice.
  for (const char* url : {"http://hl7.org/fhir/SearchParameter/example",
                          "http://hl7.org/fhir/SearchParameter/example-extension",
                          "http://hl7.org/fhir/SearchParameter/example-reference"}) {
    CHECK_MESSAGE(registry.FindByUrl(url) == nullptr, url);
  }
  REQUIRE(registry.FindByUrl("http://hl7.org/fhir/SearchParameter/Condition-subject") != nullptr);
  int types = 0;
  for (const char* type : {"Condition", "Patient", "Observation", "DocumentReference"}) {
    auto params = registry.ForType(type);
    REQUIRE(!params.empty());
    ++types;
    for (std::size_t i = 1; i < params.size(); ++i) {
      CHECK_MESSAGE(params[i - 1].def->code != params[i].def->code,
                    type << "." << params[i].def->code << " is defined twice");
    }
  }
  CHECK(types == 4);
  CHECK(registry.Find("Patient", "part-agree") == nullptr);

  auto condition = fhir::json::ParseResource(
      R"({"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/p1"}})");
  REQUIRE(condition.ok());
  // The subject is indexed once: a Patient under `patient` (Condition.subject.where(resolve()
  // is Patient)), whose rows a search of `subject` reads too (fhir/search/index_sharing.h).
  auto reference_rows = [](const fhir::Resource& resource) {
    std::vector<std::string> rows;
    for (const auto& ref : fhir::search::ExtractIndexEntries(resource).references) {
      rows.push_back(ref.param + " " + ref.target_type + "/" + ref.target_id);
    }
    return rows;
  };
  CHECK(reference_rows(**condition) == std::vector<std::string>{"patient Patient/p1"});
  auto of_group = fhir::json::ParseResource(
      R"({"resourceType":"Condition","id":"c2","subject":{"reference":"Group/g1"}})");
  REQUIRE(of_group.ok());
  CHECK(reference_rows(**of_group) == std::vector<std::string>{"subject Group/g1"});
}

TEST_CASE("the CapabilityStatement lists exactly the search parameters that work") {
  server::CapabilityInput input;
  input.resource_types = {"Observation"};
  input.rest_interactions = true;
  input.start_instant = "2026-01-01T00:00:00.000Z";
  std::string json = server::CapabilityStatementJson(input);
  std::set<std::string> names;
  for (int i = 0;; ++i) {
    std::string name = At(json, "rest[0].resource[0].searchParam[" + std::to_string(i) + "].name");
    if (name.empty()) break;
    names.insert(name);
  }
  CHECK(names.count("code") == 1);
  CHECK(names.count("value-quantity") == 1);
  CHECK(names.count("subject") == 1);
  CHECK(names.count("_id") == 1);
  CHECK(names.count("_profile") == 1);
  CHECK(names.count("code-value-quantity") == 1);
  CHECK(names.count("component-code-value-quantity") == 1);
  CHECK(names.count("combo-code-value-concept") == 1);
  CHECK(names.count("_text") == 0);                 // no expression to index
  CHECK(json.find("\"search-system\"") != std::string::npos);
  // Compartment searches work for the five R4 compartments.
  CHECK(At(json, "rest[0].compartment[0]") == "http://hl7.org/fhir/CompartmentDefinition/device");
  CHECK(At(json, "rest[0].compartment[2]") == "http://hl7.org/fhir/CompartmentDefinition/patient");
  CHECK(At(json, "rest[0].compartment[4]") ==
        "http://hl7.org/fhir/CompartmentDefinition/relatedPerson");
  CHECK(At(json, "rest[0].compartment[5]").empty());
}

TEST_CASE("compartment search: GET Patient/id/Type uses the R4 CompartmentDefinition") {
  SearchFixture f;
  CHECK(f.Search("Patient/p1/Observation") == IdSet{"o1", "o3"});
  CHECK(f.Search("Patient/p1/Observation?value-quantity=gt130") == IdSet{"o3"});
  CHECK(f.Search("Patient/p3/Condition") == IdSet{"c1"});
  CHECK(f.Search("Patient/p2/Condition").empty());
  RestResponse r = f.Call("GET", "Patient/p1/Observation?_count=1");
  CHECK(At(r.body, "link[0].url") == "http://test/fhir/Patient/p1/Observation?_count=1");
  CHECK(At(r.body, "total") == "2");
  // ValueSets are never in a patient's compartment.
  CHECK(f.Call("GET", "Patient/p1/ValueSet").status == 404);

  // GET [compartment]/[id]/*: every type at once, narrowed by _type.
  CHECK(f.Search("Patient/p1/*") == IdSet{"o1", "o3"});
  CHECK(f.Search("Patient/p3/*") == IdSet{"c1"});
  CHECK(f.Search("Patient/p3/*?_type=Observation").empty());
  CHECK(f.Search("Practitioner/d1/*") == IdSet{"p3"});  // through general-practitioner
  r = f.Call("GET", "Patient/p1/*?_count=1");
  REQUIRE(r.status == 200);
  CHECK(At(r.body, "total") == "2");
  CHECK(At(r.body, "link[0].url") == "http://test/fhir/Patient/p1/*?_count=1");
  CHECK(At(r.body, "entry[0].resource.resourceType") == "Observation");
  RestResponse no_compartment = f.Call("GET", "ValueSet/vs1/*");
  CHECK(no_compartment.status == 404);
  CHECK(At(no_compartment.body, "issue[0].diagnostics") ==
        "ValueSet is not a compartment (R4 has Patient, Encounter, RelatedPerson, Practitioner "
        "and Device)");
  CHECK(f.Call("POST", "Patient/p1/*", "{}").status == 405);
}

TEST_CASE("paging links of the default order are cursors: writes between pages skip nothing") {
  SearchFixture f;
  RestResponse page1 = f.Call("GET", "Patient?_count=2");
  REQUIRE(page1.status == 200);
  CHECK(At(page1.body, "entry[0].resource.id") == "p1");
  CHECK(At(page1.body, "entry[1].resource.id") == "p2");
  CHECK(At(page1.body, "link[0].url") == "http://test/fhir/Patient?_count=2");
  CHECK(At(page1.body, "link[1].relation") == "next");
  CHECK(At(page1.body, "link[1].url") == "http://test/fhir/Patient?_count=2&_after=Patient/p2");
  CHECK(At(page1.body, "link[2]").empty());  // no previous on the first page

  // Between the pages: one resource inserted before the cursor, one seen resource deleted.
  f.Put("Patient", "p0", R"({"resourceType":"Patient","id":"p0"})");
  REQUIRE(f.Call("DELETE", "Patient/p1").status == 204);
  RestResponse page2 = f.Call("GET", "Patient?_count=2&_after=Patient/p2");
  REQUIRE(page2.status == 200);
  CHECK(Ids(page2) == IdSet{"p3"});  // offsets would have repeated p2 (or skipped p3)
  CHECK(At(page2.body, "total") == "3");
  CHECK(At(page2.body, "link[1].relation") == "previous");
  CHECK(At(page2.body, "link[1].url") == "http://test/fhir/Patient?_count=2&_before=Patient/p3");

  RestResponse back = f.Call("GET", "Patient?_count=2&_before=Patient/p3");
  CHECK(At(back.body, "entry[0].resource.id") == "p0");
  CHECK(At(back.body, "entry[1].resource.id") == "p2");
  CHECK(At(back.body, "link[1].relation") == "next");
  CHECK(At(back.body, "link[1].url") == "http://test/fhir/Patient?_count=2&_after=Patient/p2");

  CHECK(f.Call("GET", "Patient?_after=nonsense").status == 400);
  CHECK(f.Call("GET", "Patient?_sort=family&_after=Patient/p2").status == 400);
}

namespace {

// Blood pressure panels (two components each), a string, a concept and a date value, and
// DocumentReferences that relate to each other, for the composite parameters.
void PutCompositeData(SearchFixture& f) {
  auto panel = [&](const std::string& id, const std::string& systolic,
                   const std::string& diastolic) {
    f.Put("Observation", id,
          R"({"resourceType":"Observation","id":")" + id + R"(","status":"final","code":)"
          R"({"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"component":[)"
          R"({"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},)"
          R"("valueQuantity":{"value":)" + systolic + R"(,"system":"http://unitsofmeasure.org",)"
          R"("code":"mm[Hg]"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},)"
          R"("valueQuantity":{"value":)" + diastolic + R"(,"system":"http://unitsofmeasure.org",)"
          R"("code":"mm[Hg]"}}]})");
  };
  panel("bp1", "120", "80");
  panel("bp2", "150", "95");
  f.Put("Observation", "s1",
        R"({"resourceType":"Observation","id":"s1","status":"final","code":{"coding":)"
        R"([{"system":"http://loinc.org","code":"5778-6"}]},"valueString":"Costs $5, Amber"})");
  f.Put("Observation", "cc1",
        R"({"resourceType":"Observation","id":"cc1","status":"final","code":{"coding":)"
        R"([{"system":"http://loinc.org","code":"94500-6"}]},"valueCodeableConcept":{"coding":)"
        R"([{"system":"http://snomed.info/sct","code":"260385009"}]}})");
  f.Put("Observation", "d1",
        R"({"resourceType":"Observation","id":"d1","status":"final","code":{"coding":)"
        R"([{"system":"http://loinc.org","code":"11778-8"}]},"valueDateTime":"2021-05-01"})");
  f.Put("DocumentReference", "doc1",
        R"({"resourceType":"DocumentReference","id":"doc1","status":"current","content":)"
        R"([{"attachment":{"url":"http://example.org/1"}}]})");
  f.Put("DocumentReference", "doc2",
        R"({"resourceType":"DocumentReference","id":"doc2","status":"current","relatesTo":)"
        R"([{"code":"replaces","target":{"reference":"DocumentReference/doc1"}}],"content":)"
        R"([{"attachment":{"url":"http://example.org/2"}}]})");
}

void Strict(server::RestRequest& r) { r.prefer = "handling=strict"; }

}  // namespace

TEST_CASE("search: composite parameters match components on the same element") {
  SearchFixture f;
  PutCompositeData(f);
  // The resource as the element: code and value.
  CHECK(f.Search("Observation?code-value-quantity=http://loinc.org|8480-6$gt130") == IdSet{"o3"});
  CHECK(f.Search("Observation?code-value-quantity=8480-6$120.5") == IdSet{"o1"});
  CHECK(f.Search("Observation?code-value-quantity=8480-6$120") == IdSet{});
  CHECK(f.Search("Observation?code-value-quantity=http://loinc.org|8480-6$lt100").empty());
  CHECK(f.Search("Observation?code-value-quantity=8480-6$gt100|http://unitsofmeasure.org|mm[Hg]") ==
        IdSet{"o1", "o3"});
  CHECK(f.Search("Observation?code-value-quantity=8480-6$gt100|http://unitsofmeasure.org|kg")
            .empty());
  CHECK(f.Search("Observation?code-value-quantity=http://loinc.org|29463-7$80") == IdSet{"o2"});
  CHECK(f.Search("Observation?code-value-quantity=http://other.org|8480-6$gt100").empty());
  // Inside _has.
  CHECK(f.Search("Patient?_has:Observation:patient:code-value-quantity=8480-6$gt130") ==
        IdSet{"p1"});
  CHECK(f.Search("Patient?_has:Observation:patient:code-value-quantity=8480-6$gt150").empty());
  // Components: a panel with systolic 120 and diastolic 80 is not "systolic 80".
  CHECK(f.Search("Observation?component-code-value-quantity=8480-6$80").empty());
  CHECK(f.Search("Observation?component-code-value-quantity=8462-4$80") == IdSet{"bp1"});
  CHECK(f.Search("Observation?component-code=8480-6&component-value-quantity=80") ==
        IdSet{"bp1"});  // two separate parameters may match different components
  CHECK(f.Search("Observation?component-code-value-quantity=http://loinc.org|8480-6$gt140") ==
        IdSet{"bp2"});
  // OR (`,`) and AND (repetition).
  CHECK(f.Search("Observation?component-code-value-quantity=8480-6$gt140,8462-4$lt85") ==
        IdSet{"bp1", "bp2"});
  CHECK(f.Search("Observation?component-code-value-quantity=8480-6$gt100&"
                 "component-code-value-quantity=8462-4$lt85") == IdSet{"bp1"});
  // combo: the Observation's own code and value, or a component's.
  CHECK(f.Search("Observation?combo-code-value-quantity=8480-6$gt130") == IdSet{"o3", "bp2"});
  CHECK(f.Search("Observation?combo-code-value-quantity=85354-9$gt0").empty());
  // string (prefix, case-insensitive; `\$` and `\,` escape), concept, date with prefixes.
  CHECK(f.Search("Observation?code-value-string=5778-6$costs%20\\$5\\,%20am") == IdSet{"s1"});
  CHECK(f.Search("Observation?code-value-string=5778-6$amber").empty());
  CHECK(f.Search("Observation?code-value-concept=94500-6$http://snomed.info/sct|260385009") ==
        IdSet{"cc1"});
  CHECK(f.Search("Observation?code-value-concept=94500-6$260373001").empty());
  CHECK(f.Search("Observation?code-value-date=11778-8$2021") == IdSet{"d1"});
  CHECK(f.Search("Observation?code-value-date=11778-8$ge2021-05-02").empty());
  CHECK(f.Search("Observation?code-value-date=11778-8$lt2021-06") == IdSet{"d1"});
  // DocumentReference.relatesTo: target (reference) $ code (R4's definition swaps them).
  CHECK(f.Search("DocumentReference?relationship=DocumentReference/doc1$replaces") ==
        IdSet{"doc2"});
  CHECK(f.Search("DocumentReference?relationship=doc1$replaces") == IdSet{"doc2"});
  CHECK(f.Search("DocumentReference?relationship=doc1$appends").empty());
  // :missing
  CHECK(f.Search("DocumentReference?relationship:missing=true") == IdSet{"doc1"});
  CHECK(f.Search("Observation?component-code-value-quantity:missing=false") ==
        IdSet{"bp1", "bp2"});
}

TEST_CASE("search: malformed composite values are a 400 naming the parameter") {
  SearchFixture f;
  PutCompositeData(f);
  for (const char* query : {"Observation?code-value-quantity=8480-6",
                            "Observation?code-value-quantity=8480-6$",
                            "Observation?code-value-quantity=8480-6$100$3",
                            "Observation?code-value-quantity=8480-6$abc",
                            "Observation?code-value-date=11778-8$yesterday",
                            "DocumentReference?relationship=DocumentReference/doc1/_history/1$"
                            "replaces"}) {
    RestResponse r = f.Call("GET", query);
    CHECK_MESSAGE(r.status == 400, query);
    const std::string text = query;
    const std::size_t start = text.find('?') + 1;
    std::string name = text.substr(start, text.find('=') - start);
    CHECK(At(r.body, "issue[0].expression[0]") == name);
  }
  // An escaped `$` is part of the code, so there is one component only.
  CHECK(f.Call("GET", "Observation?code-value-quantity=8480-6\\$100").status == 400);
  // No modifiers but :missing: ignored when lenient, 400 when strict.
  RestResponse lenient = f.Call("GET", "Observation?code-value-quantity:not=8480-6$100");
  CHECK(lenient.status == 200);
  CHECK(At(lenient.body, "link[0].url") == "http://test/fhir/Observation");
  RestResponse strict = f.Call("GET", "Observation?code-value-quantity:not=8480-6$100", {}, Strict);
  CHECK(strict.status == 400);
  CHECK(At(strict.body, "issue[0].expression[0]") == "code-value-quantity:not");
  CHECK(f.Call("GET", "Observation?_sort=code-value-quantity").status == 400);
}

namespace {

// ValueSets (compose with concepts, a whole system less one code, an expansion, a nested one,
// filters) and CodeSystems (an is-a hierarchy, a part-of one), and Observations coded in them.
void PutTerminologyData(SearchFixture& f) {
  f.Put("CodeSystem", "shapes",
        R"({"resourceType":"CodeSystem","id":"shapes","url":"http://example.org/cs/shapes",)"
        R"("status":"active","hierarchyMeaning":"is-a","content":"complete","concept":[)"
        R"({"code":"shape","concept":[{"code":"polygon","concept":[{"code":"triangle"},)"
        R"({"code":"square"}]},{"code":"circle"}]}]})");
  f.Put("CodeSystem", "parts",
        R"({"resourceType":"CodeSystem","id":"parts","url":"http://example.org/cs/parts",)"
        R"("status":"active","hierarchyMeaning":"part-of","content":"complete","concept":[)"
        R"({"code":"car","concept":[{"code":"wheel"}]}]})");
  auto value_set = [&](const std::string& id, const std::string& body) {
    f.Put("ValueSet", id,
          R"({"resourceType":"ValueSet","id":")" + id + R"(","url":"http://example.org/vs/)" + id +
              R"(","status":"active",)" + body + "}");
  };
  value_set("bp", R"("compose":{"include":[{"system":"http://loinc.org","concept":[)"
                  R"({"code":"8480-6"},{"code":"8462-4"}]}]})");
  value_set("loinc-but-weight", R"("compose":{"include":[{"system":"http://loinc.org"}],)"
                                R"("exclude":[{"system":"http://loinc.org","concept":[)"
                                R"({"code":"29463-7"}]}]})");
  value_set("expanded", R"("expansion":{"timestamp":"2026-01-01T00:00:00Z","contains":[)"
                        R"({"system":"http://loinc.org","code":"29463-7"}]})");
  value_set("nested", R"("compose":{"include":[{"valueSet":["http://example.org/vs/bp"]}]})");
  value_set("polygons", R"("compose":{"include":[{"system":"http://example.org/cs/shapes",)"
                        R"("filter":[{"property":"concept","op":"is-a","value":"polygon"}]}]})");
  value_set("regex", R"("compose":{"include":[{"system":"http://snomed.info/sct",)"
                     R"("filter":[{"property":"concept","op":"regex","value":"1.*"}]}]})");
  for (const char* code : {"square", "polygon", "circle"}) {
    f.Put("Observation", code,
          std::string(R"({"resourceType":"Observation","id":")") + code +
              R"(","status":"final","code":{"coding":[{"system":"http://example.org/cs/shapes",)"
              R"("code":")" + code + R"("}]}})");
  }
}

}  // namespace

TEST_CASE("search: token :in and :not-in against the server's ValueSets") {
  SearchFixture f;
  PutTerminologyData(f);
  CHECK(f.Search("Observation?code:in=http://example.org/vs/bp") == IdSet{"o1", "o3"});
  CHECK(f.Search("Observation?code:in=ValueSet/expanded") == IdSet{"o2"});
  CHECK(f.Search("Observation?code:in=http://example.org/vs/loinc-but-weight") ==
        IdSet{"o1", "o3"});
  CHECK(f.Search("Observation?code:in=http://example.org/vs/nested") == IdSet{"o1", "o3"});
  CHECK(f.Search("Observation?code:in=http://example.org/vs/polygons") ==
        IdSet{"square", "polygon"});
  CHECK(f.Search("Observation?code:in=http://example.org/vs/bp,ValueSet/expanded") ==
        IdSet{"o1", "o2", "o3"});
  // :not-in: resources with no code in the ValueSet (as :not, also those without a code).
  CHECK(f.Search("Observation?code:not-in=http://example.org/vs/bp") ==
        IdSet{"o2", "square", "polygon", "circle"});
  CHECK(f.Search("Patient?_has:Observation:patient:code:in=ValueSet/expanded") == IdSet{"p2"});

  RestResponse unknown = f.Call("GET", "Observation?code:in=http://example.org/vs/none");
  CHECK(unknown.status == 400);
  CHECK(At(unknown.body, "issue[0].expression[0]") == "code:in");
  CHECK(At(unknown.body, "issue[0].diagnostics") ==
        "Search parameter 'code:in': there is no ValueSet 'http://example.org/vs/none' on this "
        "server");
  RestResponse regex = f.Call("GET", "Observation?code:in=http://example.org/vs/regex");
  CHECK(regex.status == 400);
  CHECK(At(regex.body, "issue[0].diagnostics") ==
        "Search parameter 'code:in': ValueSet 'http://example.org/vs/regex' has a filter "
        "(concept regex 1.*) that needs a terminology service, which this server does not have");

  // Conditional create resolves the ValueSet inside its transaction: o1 and o3 match.
  RestResponse exists = f.Call("POST", "Observation", R"({"resourceType":"Observation",)"
                                                      R"("status":"final","code":{"text":"x"}})",
                               [](server::RestRequest& r) {
                                 r.if_none_exist = "code:in=http://example.org/vs/bp";
                               });
  CHECK(exists.status == 412);

  // A newer edition of a ValueSet stored beside the old one under the same canonical: the one
  // updated last is used (2 ms apart: lastUpdated has millisecond precision), with or without
  // its version; the old one is still found by its id.
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  f.Put("ValueSet", "bp-2",
        R"({"resourceType":"ValueSet","id":"bp-2","url":"http://example.org/vs/bp",)"
        R"("version":"2","status":"active","compose":{"include":[{"system":"http://loinc.org",)"
        R"("concept":[{"code":"29463-7"}]}]}})");
  CHECK(f.Search("Observation?code:in=http://example.org/vs/bp") == IdSet{"o2"});
  CHECK(f.Search("Observation?code:in=http://example.org/vs/bp|2") == IdSet{"o2"});
  CHECK(f.Search("Observation?code:in=ValueSet/bp") == IdSet{"o1", "o3"});
}

TEST_CASE("search: token :above and :below in a stored is-a CodeSystem") {
  SearchFixture f;
  PutTerminologyData(f);
  CHECK(f.Search("Observation?code:below=http://example.org/cs/shapes|polygon") ==
        IdSet{"square", "polygon"});
  CHECK(f.Search("Observation?code:below=http://example.org/cs/shapes|shape") ==
        IdSet{"square", "polygon", "circle"});
  CHECK(f.Search("Observation?code:below=http://example.org/cs/shapes|triangle").empty());
  CHECK(f.Search("Observation?code:above=http://example.org/cs/shapes|square") ==
        IdSet{"square", "polygon"});
  CHECK(f.Search("Observation?code:above=http://example.org/cs/shapes|circle") ==
        IdSet{"circle"});

  RestResponse no_system = f.Call("GET", "Observation?code:below=polygon");
  CHECK(no_system.status == 400);
  CHECK(At(no_system.body, "issue[0].expression[0]") == "code:below");
  RestResponse unknown = f.Call("GET", "Observation?code:below=http://loinc.org|8480-6");
  CHECK(unknown.status == 400);
  CHECK(At(unknown.body, "issue[0].diagnostics") ==
        "Search parameter 'code:below': there is no CodeSystem 'http://loinc.org' on this server");
  RestResponse part_of = f.Call("GET", "Observation?code:above=http://example.org/cs/parts|wheel");
  CHECK(part_of.status == 400);
  CHECK(At(part_of.body, "issue[0].expression[0]") == "code:above");
  CHECK(f.Call("GET", "Observation?code:below=http://example.org/cs/shapes|hexagon").status ==
        400);
}

TEST_CASE("search: the server's AuditEvent purpose parameter (purposeOfEvent | purposeOfUse)") {
  // AuditEvents are written by the server only (no PUT): stored here directly, indexed by the
  // extractor as the audit writer does.
  const std::string path = std::filesystem::temp_directory_path() /
                           ("search_purpose_" + std::to_string(::getpid()) + ".db");
  {
    storage::sqlite::SqliteOptions options;
    options.path = path;
    auto store = storage::sqlite::OpenSqliteStore(options);
    REQUIRE(store.ok());
    auto audit = [&](const std::string& id, const std::string& purposes) {
      storage::StoredVersion v;
      v.type = "AuditEvent";
      v.id = id;
      v.version = 1;
      v.last_updated = "2026-01-01T00:00:00.000Z";
      v.json = R"({"resourceType":"AuditEvent","id":")" + id + R"(","type":{"system":)"
               R"("http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest"},)"
               R"("recorded":"2026-01-01T00:00:00Z",)" + purposes + R"("agent":[{"requestor":)"
               R"(true,"who":{"reference":"Practitioner/d1"},"purposeOfUse":[{"coding":[{)"
               R"("system":"http://terminology.hl7.org/CodeSystem/v3-ActReason",)"
               R"("code":"TREAT"}]}]}],)"
               R"("source":{"observer":{"display":"server"}}})";
      auto resource = fhir::json::ParseResource(v.json);
      REQUIRE_MESSAGE(resource.ok(), resource.status().ToString());
      auto txn = (*store)->BeginWrite();
      REQUIRE(txn.ok());
      REQUIRE((*txn)->Put(v, fhir::search::ExtractIndexEntries(**resource)).ok());
      REQUIRE((*txn)->Commit().ok());
    };
    audit("a1", "");
    audit("a2", R"("purposeOfEvent":[{"coding":[{"system":)"
                R"("http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"ETREAT"}]}],)");
    server::search::SearchTarget target{**store, nullptr, "http://test/fhir"};
    auto search = [&](const std::string& name, const std::string& value) {
      RestResponse r = server::search::RunSearch(target, "AuditEvent", {{name, value}},
                                                 /*strict=*/true, "AuditEvent");
      REQUIRE_MESSAGE(r.status == 200, r.body);
      return Ids(r);
    };
    CHECK(search("purpose", "ETREAT") == IdSet{"a2"});
    CHECK(search("purpose", "http://terminology.hl7.org/CodeSystem/v3-ActReason|TREAT") ==
          IdSet{"a1", "a2"});
    CHECK(search("purpose:not", "ETREAT") == IdSet{"a1"});
    CHECK(search("purpose", "HPAYMT").empty());
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);

  server::CapabilityInput input;
  input.resource_types = {"AuditEvent"};
  input.rest_interactions = true;
  input.start_instant = "2026-01-01T00:00:00.000Z";
  std::string json = server::CapabilityStatementJson(input);
  bool listed = false;
  for (int i = 0;; ++i) {
    std::string at = "rest[0].resource[0].searchParam[" + std::to_string(i) + "]";
    std::string name = At(json, at + ".name");
    if (name.empty()) break;
    if (name == "purpose") {
      listed = true;
      CHECK(At(json, at + ".definition") == "urn:fhir-server:SearchParameter:AuditEvent-purpose");
      CHECK(At(json, at + ".type") == "token");
    }
  }
  CHECK(listed);
}

TEST_CASE("search: MolecularSequence's three-component coordinates (%resource in a component)") {
  SearchFixture f;
  f.Put("MolecularSequence", "ms1",
        R"({"resourceType":"MolecularSequence","id":"ms1","coordinateSystem":0,"referenceSeq":{)"
        R"("chromosome":{"coding":[{"system":)"
        R"("http://terminology.hl7.org/CodeSystem/chromosome-human","code":"1"}]},)"
        R"("referenceSeqId":{"coding":[{"system":"http://www.ncbi.nlm.nih.gov/nuccore",)"
        R"("code":"NC_000001.11"}]},"windowStart":22125500,"windowEnd":22125510},)"
        R"("variant":[{"start":22125503,"end":22125504}]})");
  CHECK(f.Search("MolecularSequence?chromosome-window-coordinate=1$lt22125510$gt22125500") ==
        IdSet{"ms1"});
  CHECK(f.Search("MolecularSequence?chromosome-window-coordinate=1$gt22125500$gt22125510")
            .empty());
  CHECK(f.Search("MolecularSequence?chromosome-variant-coordinate=1$ge22125503$le22125504") ==
        IdSet{"ms1"});
  CHECK(f.Search("MolecularSequence?chromosome-variant-coordinate=2$ge22125503$le22125504")
            .empty());
  CHECK(f.Search("MolecularSequence?referenceseqid-variant-coordinate=NC_000001.11$22125503$"
                 "22125504") == IdSet{"ms1"});
  CHECK(f.Search("MolecularSequence?referenceseqid-window-coordinate=NC_000001.11$22125500$"
                 "lt22125500")
            .empty());
}

TEST_CASE("search: _contained=true|both finds the containers; false (the default) does not") {
  SearchFixture f;
  auto request = [&](const std::string& id, const std::string& medication_id,
                     const std::string& code) {
    f.Put("MedicationRequest", id,
          R"({"resourceType":"MedicationRequest","id":")" + id + R"(","status":"active",)"
          R"("intent":"order","contained":[{"resourceType":"Medication","id":")" +
              medication_id + R"(","code":{"coding":[{"system":"http://www.nlm.nih.gov/research/)"
              R"(umls/rxnorm","code":")" + code + R"("}]},"status":"active"}],)"
              R"("medicationReference":{"reference":"#)" + medication_id + R"("},)"
              R"("subject":{"reference":"Patient/p1"}})");
  };
  request("mr1", "med1", "1234");
  request("mr2", "med2", "5678");
  f.Put("Medication", "m3",
        R"({"resourceType":"Medication","id":"m3","code":{"coding":[{"system":)"
        R"("http://www.nlm.nih.gov/research/umls/rxnorm","code":"1234"}]}})");
  CHECK(f.Search("Medication?code=1234") == IdSet{"m3"});
  CHECK(f.Search("Medication?_contained=false&code=1234") == IdSet{"m3"});
  CHECK(f.Search("Medication?_contained=true&code=1234") == IdSet{"mr1"});
  CHECK(f.Search("Medication?_contained=true&code=http://www.nlm.nih.gov/research/umls/rxnorm|"
                 "5678,1234") == IdSet{"mr1", "mr2"});
  CHECK(f.Search("Medication?_contained=both&code=1234") == IdSet{"mr1", "m3"});
  CHECK(f.Search("Medication?_contained=true&_id=med2") == IdSet{"mr2"});
  CHECK(f.Search("Medication?_contained=true&status=active&code=1234") == IdSet{"mr1"});
  CHECK(f.Search("Medication?_contained=true&code:not=1234") == IdSet{"mr2"});
  CHECK(f.Search("Medication?_contained=true") == IdSet{"mr1", "mr2"});
  CHECK(f.Search("Medication?_contained=true&code=9999").empty());
  // The criteria must hold for one contained resource.
  f.Put("MedicationRequest", "mr3",
        R"({"resourceType":"MedicationRequest","id":"mr3","status":"active","intent":"order",)"
        R"("contained":[{"resourceType":"Medication","id":"medA","status":"active","code":)"
        R"({"coding":[{"code":"1111"}]}},{"resourceType":"Medication","id":"medB",)"
        R"("status":"inactive","code":{"coding":[{"code":"2222"}]}}],)"
        R"("medicationReference":{"reference":"#medA"},"subject":{"reference":"Patient/p1"}})");
  CHECK(f.Search("Medication?_contained=true&code=1111&status=inactive").empty());
  CHECK(f.Search("Medication?_contained=true&code=2222&status=inactive") == IdSet{"mr3"});
  CHECK(f.Search("Medication?_contained=true&_id=medB&code=2222") == IdSet{"mr3"});
  CHECK(f.Search("Medication?_contained=true&_id=medA&code=2222").empty());
  CHECK(f.Search("Medication?_contained=true&code=1111&code:not=2222") == IdSet{"mr3"});
  CHECK(f.Search("Medication?_contained=true&status=inactive") == IdSet{"mr3"});
  // The container's own parameters do not reach into what it contains (MedicationRequest's
  // `code` is medicationCodeableConcept).
  CHECK(f.Search("MedicationRequest?code=1234").empty());
  RestResponse r = f.Call("GET", "Medication?_contained=true&code=1234");
  CHECK(At(r.body, "total") == "1");
  CHECK(At(r.body, "entry[0].resource.resourceType") == "MedicationRequest");
  CHECK(At(r.body, "entry[0].resource.contained[0].id") == "med1");
  CHECK(At(r.body, "link[0].url") == "http://test/fhir/Medication?_contained=true&code=1234");
  // Errors and what is not supported.
  CHECK(f.Call("GET", "Medication?_contained=maybe").status == 400);
  CHECK(f.Call("GET", "Medication?_contained=true&_sort=code").status == 400);
  CHECK(f.Call("GET", "Medication?_contained=true&_lastUpdated=gt2020").status == 400);
  CHECK(f.Call("GET", "?_contained=true&_id=med1").status == 400);
  RestResponse contained_type =
      f.Call("GET", "Medication?_contained=true&_containedType=contained&code=1234", {}, Strict);
  CHECK(contained_type.status == 400);
  CHECK(At(contained_type.body, "issue[0].expression[0]") == "_containedType");
}

TEST_CASE("stored JSON with a narrative today's rules refuse stays indexed and patchable") {
  // Written before narratives were checked (no XHTML namespace, an HTML entity): the reindex
  // that a new index version starts must still index it, and a FHIRPath Patch must start from it.
  Fixture f;
  {
    auto txn = f.store().BeginWrite();
    REQUIRE(txn.ok());
    storage::StoredVersion v;
    v.type = "Patient";
    v.id = "legacy";
    v.version = 1;
    v.last_updated = "2025-01-01T00:00:00.000Z";
    v.json = R"({"resourceType":"Patient","id":"legacy","meta":{"versionId":"1",)"
             R"("lastUpdated":"2025-01-01T00:00:00.000Z"},"text":{"status":"generated",)"
             R"("div":"<div>Ann&nbsp;Old</div>"},"name":[{"family":"Oldrecord"}]})";
    REQUIRE((*txn)->Put(v, {}).ok());
    REQUIRE((*txn)->Commit().ok());
  }
  // As an incoming body the narrative is refused; as stored JSON it parses.
  CHECK(fhir::json::ParseResource(f.Call("GET", "Patient/legacy").body).status().type() ==
        fhir::IssueType::kValue);
  CHECK(fhir::json::ParseResource(f.Call("GET", "Patient/legacy").body,
                                  fhir::json::kStoredJson).ok());

  CHECK(Ids(f.Call("GET", "Patient?family=oldrecord")).empty());
  REQUIRE(server::search::EnsureSearchIndex(f.store(), true).ok());
  CHECK(Ids(f.Call("GET", "Patient?family=oldrecord")) == std::set<std::string>{"legacy"});

  // A patch that leaves the old narrative in place makes a new version today's rules refuse
  // (422 naming it); one that replaces it applies to the stored version.
  auto patch = [](const std::string& path, const std::string& value) {
    return R"({"resourceType":"Parameters","parameter":[{"name":"operation","part":[)"
           R"({"name":"type","valueCode":"replace"},{"name":"path","valueString":")" +
           path + R"("},{"name":"value",)" + value + "}]}]}";
  };
  auto fhir_json = [](server::RestRequest& r) { r.content_type = "application/fhir+json"; };
  RestResponse kept = f.Call("PATCH", "Patient/legacy",
                             patch("Patient.name.family", R"("valueString":"Newrecord")"), fhir_json);
  CHECK(kept.status == 422);
  CHECK(At(kept.body, "issue[0].expression[0]") == "Parameters.parameter[0]");
  CHECK(At(kept.body, "issue[1].expression[0]") == "Patient.text.div");
  CHECK(At(kept.body, "issue[1].diagnostics") ==
        "Invalid narrative: the narrative must be a <div> in the XHTML namespace "
        "(http://www.w3.org/1999/xhtml)");
  RestResponse fixed =
      f.Call("PATCH", "Patient/legacy",
             patch("Patient.text.div",
                   R"("valueString":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Ann Old</div>")"),
             fhir_json);
  CHECK(fixed.status == 200);
  CHECK(At(fixed.body, "meta.versionId") == "2");
  CHECK(At(fixed.body, "name[0].family") == "Oldrecord");
}

TEST_CASE("search: a system search with _type takes the parameters common to its types") {
  SearchFixture f;
  // Each type's own definition of the name applies (Patient-name, Practitioner-name).
  CHECK(f.Search("?_type=Patient,Practitioner&name=house") == IdSet{"d1"});
  CHECK(f.Search("?_type=Patient,Practitioner&family=mull") == IdSet{"p1", "p2"});
  CHECK(f.Search("?_type=Observation,Condition&code=8480-6") == IdSet{"o1", "o3"});
  CHECK(f.Search("?_type=Observation,Condition&subject=Patient/p3") == IdSet{"c1"});
  CHECK(f.Search("?_type=Observation,Condition&subject=Patient/p1&status=final") ==
        IdSet{"o1", "o3"});  // Condition has no `status`: ignored (lenient), with an outcome
  // Contained resources' rows are their container's, under "#Type" parameters: a system
  // search does not read them (a Patient containing a Practitioner named House is no match).
  f.Put("Patient", "pc1",
        R"({"resourceType":"Patient","id":"pc1","name":[{"family":"Smith"}],"contained":[)"
        R"({"resourceType":"Practitioner","id":"d","name":[{"family":"Housecont"}]}],)"
        R"("generalPractitioner":[{"reference":"#d"}]})");
  f.Put("Patient", "pc2",
        R"({"resourceType":"Patient","id":"pc2","contained":[{"resourceType":"Organization",)"
        R"("id":"o","name":"Housecont Org"}],"managingOrganization":{"reference":"#o"}})");
  CHECK(f.Search("Patient?name=housecont").empty());
  CHECK(f.Search("?_type=Patient&name=housecont").empty());
  CHECK(f.Search("?_type=Patient,Practitioner&name=housecont").empty());
  CHECK(f.Search("?_type=Patient&name:missing=true") == IdSet{"pc2"});
  // A bare id means any target of any listed type's definition, whatever the order.
  f.Put("Group", "g1", R"({"resourceType":"Group","id":"g1","type":"person","actual":true})");
  f.Put("Observation", "og",
        R"({"resourceType":"Observation","id":"og","status":"final","code":{"text":"x"},)"
        R"("subject":{"reference":"Group/g1"}})");
  CHECK(f.Search("?_type=Observation,EnrollmentRequest&subject=g1") == IdSet{"og"});
  CHECK(f.Search("?_type=EnrollmentRequest,Observation&subject=g1") == IdSet{"og"});
  CHECK(f.Search("?_type=EnrollmentRequest,Observation&subject:Group=g1") == IdSet{"og"});
  // A compartment search takes the system search's parameters.
  CHECK(f.Search("Patient/p1/*?_type=Observation,Condition&code=8480-6") == IdSet{"o1", "o3"});
  CHECK(f.Search("Patient/p3/*?_type=Observation,Condition&code:text=asthma") == IdSet{"c1"});

  // Not common: strict is a 400 naming the parameter and why; lenient ignores it.
  RestResponse missing = f.Call("GET", "?_type=Patient,Observation&name=house", {}, Strict);
  CHECK(missing.status == 400);
  CHECK(At(missing.body, "issue[0].expression[0]") == "name");
  CHECK(At(missing.body, "issue[0].diagnostics") ==
        "Search parameter 'name': not a parameter of the same type on every _type "
        "(Patient, Observation)");
  RestResponse other_type =
      f.Call("GET", "?_type=DiagnosticReport,Task&performer=Practitioner/d1", {}, Strict);
  CHECK(other_type.status == 400);  // a reference on one, a token on the other
  CHECK(At(other_type.body, "issue[0].expression[0]") == "performer");
  RestResponse no_type = f.Call("GET", "?name=house", {}, Strict);
  CHECK(no_type.status == 400);
  CHECK(At(no_type.body, "issue[0].diagnostics") ==
        "Search parameter 'name': unknown parameter for a system search without _type (only "
        "parameters of every resource, e.g. _id, _lastUpdated)");
}

// An Observation with thousands of components: the composites over `Observation |
// Observation.component` (combo-code-value-quantity) index every component, and the write does
// not spend its time deduplicating that union (12,000 components took 40 s before, and past
// the FHIRPath evaluation bounds the composite would index nothing).
TEST_CASE("search: an Observation with 5,000 components is indexed for each of them") {
  SearchFixture f;
  std::string json = R"({"resourceType":"Observation","id":"big","status":"final",)"
                     R"("code":{"text":"panel"},"component":[)";
  for (int i = 0; i < 5000; ++i) {
    if (i > 0) json += ",";
    json += R"({"code":{"coding":[{"system":"s","code":"c)" + std::to_string(i) +
            R"("}]},"valueQuantity":{"value":)" + std::to_string(i) +
            R"(,"system":"http://unitsofmeasure.org","code":"mg"}})";
  }
  json += "]}";
  f.Put("Observation", "big", json);
  CHECK(f.Search("Observation?combo-code-value-quantity=s|c4999$4999") == IdSet{"big"});
  CHECK(f.Search("Observation?combo-code-value-quantity=s|c0$0") == IdSet{"big"});
  CHECK(f.Search("Observation?combo-code-value-quantity=s|c4999$4998").empty());
  CHECK(f.Search("Observation?component-code-value-quantity=s|c2500$2500") == IdSet{"big"});
  CHECK(f.Search("Observation?combo-code=s|c3000") == IdSet{"big"});
}

// Searches SQLite cannot prepare for their size are the client's too costly request (400 with
// too-costly), not a server failure: a thousand repetitions of one parameter (each is a
// condition of its own).
TEST_CASE("search: a search past SQLite's limits is 400 too-costly") {
  SearchFixture f;
  std::string repeated = "Patient?";
  for (int i = 0; i < 1000; ++i) repeated += (i > 0 ? "&" : "") + std::string("name=x");
  RestResponse r = f.Call("GET", repeated);
  CHECK(r.status == 400);
  CHECK(At(r.body, "issue[0].code") == "too-costly");
  CHECK(At(r.body, "issue[0].diagnostics").find("The search is too complex for the store") == 0);
  CHECK(r.body.find("SELECT") == std::string::npos);
}

// Many OR values are a balanced tree of ORs (a chain of 450 passed SQLite's expression depth),
// and a chain's hop with one criterion is one subquery (three hops passed its parser's stack).
TEST_CASE("search: 2,000 OR values, and chains of five hops") {
  SearchFixture f;
  std::string many = "Patient?name=";
  for (int i = 0; i < 2000; ++i) many += "x" + std::to_string(i) + ",";
  CHECK(f.Search(many + "anna") == IdSet{"p1"});
  CHECK(f.Search(many + "zzz").empty());
  // Each value is of the parameter: a city Weimar is not a given name wei.
  f.Put("Patient", "p8",
        R"({"resourceType":"Patient","id":"p8","name":[{"given":["Max"]}],)"
        R"("address":[{"city":"Weimar"}]})");
  CHECK(f.Search("Patient?given=anna,wei") == IdSet{"p1", "p3"});
  CHECK(f.Search(many + "wei") == IdSet{"p3"});
  // o1 -> o2 -> o3 -> o4 -> o5 (partOf); p9 is managed by o1.
  for (int i = 1; i <= 5; ++i) {
    std::string json = R"({"resourceType":"Organization","id":"o)" + std::to_string(i) +
                       R"(","name":"Level )" + std::to_string(i) + R"(")";
    if (i < 5) json += R"(,"partOf":{"reference":"Organization/o)" + std::to_string(i + 1) + R"("})";
    f.Put("Organization", "o" + std::to_string(i), json + "}");
  }
  f.Put("Patient", "p9",
        R"({"resourceType":"Patient","id":"p9","managingOrganization":{"reference":"Organization/o1"}})");
  CHECK(f.Search("Patient?organization.partof.partof.partof.partof.name=level%205") ==
        IdSet{"p9"});
  CHECK(f.Search("Patient?organization.partof.partof.partof.name=level%204") == IdSet{"p9"});
  CHECK(f.Search("Patient?organization.partof.partof.partof.name=level%205").empty());
  CHECK(f.Search("Patient?organization.partof.partof.name=level%203") == IdSet{"p9"});
  CHECK(f.Search("Patient?organization:Organization.partof:Organization.partof.name=level%203") ==
        IdSet{"p9"});
  CHECK(f.Search("Patient?organization.partof.partof.partof.partof.name:exact=Level%205,x") ==
        IdSet{"p9"});
}
