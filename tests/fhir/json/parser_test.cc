#include "fhir/json/parser.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>

#include "fhir/json/writer.h"
#include "fhir/r4/bundle.h"
#include "fhir/r4/observation.h"
#include "fhir/r4/organization.h"
#include "fhir/r4/patient.h"

namespace fhir::json {
namespace {

// fhir::Choice indexes of the alternatives used below (1-based; 0 is empty).
constexpr std::size_t kDeceasedBoolean = 1;
constexpr std::size_t kDeceasedDateTime = 2;
constexpr std::size_t kMultipleBirthInteger = 2;
constexpr std::size_t kExtensionValueDateTime = 6;
constexpr std::size_t kExtensionValueString = 14;
constexpr std::size_t kObservationValueQuantity = 1;

TEST_CASE("the choice indexes used here match the reflection tables") {
  CHECK(reflect::Patient.FindJsonName("deceasedBoolean")->choice == kDeceasedBoolean);
  CHECK(reflect::Patient.FindJsonName("deceasedDateTime")->choice == kDeceasedDateTime);
  CHECK(reflect::Patient.FindJsonName("multipleBirthInteger")->choice == kMultipleBirthInteger);
  CHECK(reflect::Extension.FindJsonName("valueDateTime")->choice == kExtensionValueDateTime);
  CHECK(reflect::Extension.FindJsonName("valueString")->choice == kExtensionValueString);
  CHECK(reflect::Observation.FindJsonName("valueQuantity")->choice ==
        kObservationValueQuantity);
}

TEST_CASE("Parse<Patient> fills the typed fields") {
  auto result = Parse<Patient>(R"({
    "resourceType": "Patient",
    "id": "example",
    "meta": {"versionId": "3", "lastUpdated": "2020-01-02T03:04:05.678Z"},
    "identifier": [{"system": "urn:oid:1.2.36.146.595.217.0.1", "value": "12345"}],
    "active": true,
    "name": [
      {"use": "official", "family": "Chalmers", "given": ["Peter", "James"]},
      {"use": "usual", "given": ["Jim"]}
    ],
    "telecom": [{"system": "phone", "value": "(03) 5555 6473", "use": "work", "rank": 1}],
    "gender": "male",
    "birthDate": "1974-12-25",
    "deceasedBoolean": false,
    "multipleBirthInteger": 2,
    "maritalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus",
                                  "code": "M"}]},
    "contact": [{"name": {"family": "du Marché"}, "gender": "female"}],
    "managingOrganization": {"reference": "Organization/1"}
  })");
  REQUIRE_MESSAGE(result.ok(), result.status().ToString());
  const Patient& patient = result.value();
  CHECK(patient.id == "example");
  REQUIRE(patient.meta);
  CHECK(patient.meta->version_id.value == "3");
  CHECK(patient.meta->last_updated.value == "2020-01-02T03:04:05.678Z");
  REQUIRE(patient.identifier.size() == 1);
  CHECK(patient.identifier[0].system.value == "urn:oid:1.2.36.146.595.217.0.1");
  CHECK(patient.identifier[0].value.value == "12345");
  CHECK(patient.active.value == true);
  REQUIRE(patient.name.size() == 2);
  CHECK(patient.name[0].use.value == "official");
  CHECK(patient.name[0].family.value == "Chalmers");
  REQUIRE(patient.name[0].given.size() == 2);
  CHECK(patient.name[0].given[0].value == "Peter");
  CHECK(patient.name[0].given[1].value == "James");
  CHECK_FALSE(patient.name[1].family.value.has_value());
  REQUIRE(patient.name[1].given.size() == 1);
  CHECK(patient.name[1].given[0].value == "Jim");
  REQUIRE(patient.telecom.size() == 1);
  CHECK(patient.telecom[0].rank.value == 1);
  CHECK(patient.gender.value == "male");
  CHECK(patient.birth_date.value == "1974-12-25");
  CHECK(patient.birth_date.id.empty());
  CHECK(patient.birth_date.extension.empty());
  CHECK(patient.deceased.index() == kDeceasedBoolean);
  REQUIRE(patient.deceased_boolean() != nullptr);
  CHECK(patient.deceased_boolean()->value == false);
  CHECK(patient.multiple_birth.index() == kMultipleBirthInteger);
  REQUIRE(patient.multiple_birth_integer() != nullptr);
  CHECK(patient.multiple_birth_integer()->value == 2);
  REQUIRE(patient.marital_status);
  REQUIRE(patient.marital_status->coding.size() == 1);
  CHECK(patient.marital_status->coding[0].code.value == "M");
  REQUIRE(patient.contact.size() == 1);
  REQUIRE(patient.contact[0].name);
  CHECK(patient.contact[0].name->family.value == "du Marché");
  CHECK(patient.contact[0].gender.value == "female");
  REQUIRE(patient.managing_organization);
  CHECK(patient.managing_organization->reference.value == "Organization/1");
  // Absent elements stay absent.
  CHECK_FALSE(patient.text);
  CHECK(patient.address.empty());
  CHECK(patient.photo.empty());
  CHECK(patient.gender.id.empty());
  CHECK_FALSE(patient.implicit_rules.value.has_value());
}

TEST_CASE("Parse<Patient> reads a dateTime choice and integer limits") {
  auto result = Parse<Patient>(
      R"({"resourceType":"Patient","deceasedDateTime":"2015-02-14T13:42:00+10:00",)"
      R"("multipleBirthInteger":-2147483648,"photo":[{"size":2147483647}]})");
  REQUIRE_MESSAGE(result.ok(), result.status().ToString());
  CHECK(result->deceased.index() == kDeceasedDateTime);
  REQUIRE(result->deceased_date_time() != nullptr);
  CHECK(result->deceased_date_time()->value == "2015-02-14T13:42:00+10:00");
  REQUIRE(result->multiple_birth_integer() != nullptr);
  CHECK(result->multiple_birth_integer()->value == -2147483647 - 1);
  REQUIRE(result->photo.size() == 1);
  CHECK(result->photo[0].size.value == 2147483647);
}

TEST_CASE("an extension on a primitive comes from its _name companion") {
  auto result = Parse<Patient>(R"({
    "resourceType": "Patient",
    "birthDate": "1974-12-25",
    "_birthDate": {
      "id": "bd",
      "extension": [{
        "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
        "valueDateTime": "1974-12-25T14:35:45-05:00"
      }]
    },
    "_gender": {"extension": [{"url": "http://example.org/why", "valueString": "asked"}]}
  })");
  REQUIRE_MESSAGE(result.ok(), result.status().ToString());
  const Patient& patient = result.value();
  CHECK(patient.birth_date.value == "1974-12-25");
  CHECK(patient.birth_date.id == "bd");
  REQUIRE(patient.birth_date.extension.size() == 1);
  const Extension& birth_time = patient.birth_date.extension[0];
  CHECK(birth_time.url == "http://hl7.org/fhir/StructureDefinition/patient-birthTime");
  CHECK(birth_time.value.index() == kExtensionValueDateTime);
  REQUIRE(birth_time.value_date_time() != nullptr);
  CHECK(birth_time.value_date_time()->value == "1974-12-25T14:35:45-05:00");
  // A primitive may have an extension and no value.
  CHECK_FALSE(patient.gender.value.has_value());
  REQUIRE(patient.gender.extension.size() == 1);
  CHECK(patient.gender.extension[0].value.index() == kExtensionValueString);
  REQUIRE(patient.gender.extension[0].value_string() != nullptr);
  CHECK(patient.gender.extension[0].value_string()->value == "asked");
}

TEST_CASE("primitive arrays keep null placeholders aligned with _name") {
  auto result = Parse<Patient>(R"({
    "resourceType": "Patient",
    "name": [{
      "given": ["Peter", null, "James"],
      "_given": [null, {"id": "g2", "extension": [{"url": "http://example.org/x",
                                                  "valueString": "second"}]}, {"id": "g3"}]
    }]
  })");
  REQUIRE_MESSAGE(result.ok(), result.status().ToString());
  REQUIRE(result->name.size() == 1);
  const std::vector<String>& given = result->name[0].given;
  REQUIRE(given.size() == 3);
  CHECK(given[0].value == "Peter");
  CHECK(given[0].id.empty());
  CHECK(given[0].extension.empty());
  CHECK_FALSE(given[1].value.has_value());
  CHECK(given[1].id == "g2");
  REQUIRE(given[1].extension.size() == 1);
  CHECK(given[1].extension[0].url == "http://example.org/x");
  CHECK(given[2].value == "James");
  CHECK(given[2].id == "g3");
  CHECK(given[2].extension.empty());
}

TEST_CASE("_name may come before name in the JSON") {
  auto result = Parse<Patient>(
      R"({"resourceType":"Patient","name":[{"_given":[{"id":"a"},null],"given":[null,"B"]}]})");
  REQUIRE_MESSAGE(result.ok(), result.status().ToString());
  const std::vector<String>& given = result->name[0].given;
  REQUIRE(given.size() == 2);
  CHECK(given[0].id == "a");
  CHECK_FALSE(given[0].value.has_value());
  CHECK(given[1].value == "B");
  CHECK(given[1].id.empty());
}

TEST_CASE("decimals keep their source text") {
  // clang-format off
  const std::string_view decimals[] = {
      "1.50", "0", "-0.0", "1e3", "1E-3", "100.000", "3.14159265358979323846264338327950288",
      "12345678901234567890",
  };
  // clang-format on
  for (std::string_view decimal : decimals) {
    CAPTURE(decimal);
    const std::string json =
        R"({"resourceType":"Observation","status":"final","code":{"text":"x"},)"
        R"("valueQuantity":{"value":)" +
        std::string(decimal) + "}}";
    auto result = Parse<Observation>(json);
    REQUIRE_MESSAGE(result.ok(), result.status().ToString());
    CHECK(result->value.index() == kObservationValueQuantity);
    const Quantity* quantity = result->value_quantity();
    REQUIRE(quantity != nullptr);
    CHECK(quantity->value.value == decimal);
  }
}

TEST_CASE("a contained resource keeps its concrete type") {
  auto result = Parse<Patient>(R"({
    "resourceType": "Patient",
    "contained": [
      {"resourceType": "Organization", "id": "org", "name": "ACME"},
      {"resourceType": "Patient", "id": "other", "gender": "female"}
    ],
    "managingOrganization": {"reference": "#org"}
  })");
  REQUIRE_MESSAGE(result.ok(), result.status().ToString());
  REQUIRE(result->contained.size() == 2);
  REQUIRE(result->contained[0]);
  CHECK(result->contained[0]->type_info().name == "Organization");
  CHECK(&result->contained[0]->type_info() == &reflect::Organization);
  const auto* organization = dynamic_cast<const Organization*>(result->contained[0].get());
  REQUIRE(organization != nullptr);
  CHECK(organization->id == "org");
  CHECK(organization->name.value == "ACME");
  const auto* other = dynamic_cast<const Patient*>(result->contained[1].get());
  REQUIRE(other != nullptr);
  CHECK(other->id == "other");
  CHECK(other->gender.value == "female");
}

TEST_CASE("Bundle entries hold resources of their own types") {
  auto result = ParseResource(R"({
    "resourceType": "Bundle",
    "type": "collection",
    "total": 2,
    "entry": [
      {"fullUrl": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",
       "resource": {"resourceType": "Patient", "id": "p", "birthDate": "2000-01-01"}},
      {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "t"},
                    "valueQuantity": {"value": 1.50, "unit": "mg"}}},
      {"fullUrl": "http://example.org/fhir/Basic/nothing"}
    ]
  })");
  REQUIRE_MESSAGE(result.ok(), result.status().ToString());
  REQUIRE(result.value() != nullptr);
  CHECK(result.value()->type_info().name == "Bundle");
  const auto* bundle = dynamic_cast<const Bundle*>(result.value().get());
  REQUIRE(bundle != nullptr);
  CHECK(bundle->type.value == "collection");
  CHECK(bundle->total.value == 2);
  REQUIRE(bundle->entry.size() == 3);
  CHECK(bundle->entry[0].full_url.value == "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a");
  REQUIRE(bundle->entry[0].resource);
  CHECK(bundle->entry[0].resource->type_info().name == "Patient");
  const auto* patient = dynamic_cast<const Patient*>(bundle->entry[0].resource.get());
  REQUIRE(patient != nullptr);
  CHECK(patient->birth_date.value == "2000-01-01");
  REQUIRE(bundle->entry[1].resource);
  CHECK(bundle->entry[1].resource->type_info().name == "Observation");
  const auto* observation = dynamic_cast<const Observation*>(bundle->entry[1].resource.get());
  REQUIRE(observation != nullptr);
  CHECK(observation->status.value == "final");
  REQUIRE(observation->value_quantity() != nullptr);
  CHECK(observation->value_quantity()->value.value == "1.50");
  CHECK_FALSE(bundle->entry[2].resource);
}

TEST_CASE("ParseResourceValue parses an already parsed JSON value, naming it by `path`") {
  JsonDocument doc;
  REQUIRE(doc.Parse(R"({"resourceType":"Patient","birthDate":"2019-02-30"})").ok());
  auto named = ParseResourceValue(doc.root(), {}, nullptr, "Bundle.entry[3].resource");
  REQUIRE_FALSE(named.ok());
  REQUIRE(named.status().issues().size() == 1);
  CHECK(named.status().type() == IssueType::kValue);
  CHECK(named.status().expression() == "Bundle.entry[3].resource.birthDate");
  auto unnamed = ParseResourceValue(doc.root());
  REQUIRE_FALSE(unnamed.ok());
  CHECK(unnamed.status().expression() == "Patient.birthDate");

  JsonDocument good;
  REQUIRE(good.Parse(R"({"resourceType":"Patient","id":"x"})").ok());
  auto parsed = ParseResourceValue(good.root());
  REQUIRE(parsed.ok());
  CHECK(parsed.value()->id == "x");
}

TEST_CASE("Parse<T> fails with kInvalid on a resource of another type") {
  auto result = Parse<Observation>(R"({"resourceType":"Patient","id":"p"})");
  REQUIRE_FALSE(result.ok());
  REQUIRE(result.status().issues().size() == 1);
  CHECK(result.status().type() == IssueType::kInvalid);
  CHECK(result.status().expression() == "resourceType");
  CHECK(result.status().issues()[0].severity == Severity::kError);

  auto as_bundle = Parse<Bundle>(R"({"resourceType":"Patient"})");
  REQUIRE_FALSE(as_bundle.ok());
  CHECK(as_bundle.status().type() == IssueType::kInvalid);

  // An invalid document reports its own errors, not the type mismatch.
  auto invalid = Parse<Observation>(R"({"resourceType":"Patient","gender":"mal"})");
  REQUIRE_FALSE(invalid.ok());
  CHECK(invalid.status().type() == IssueType::kCodeInvalid);
  CHECK(invalid.status().expression() == "Patient.gender");
}

TEST_CASE("a minimal resource parses") {
  auto result = ParseResource(R"({"resourceType":"Basic","code":{"text":"x"}})");
  REQUIRE_MESSAGE(result.ok(), result.status().ToString());
  CHECK(result.value()->type_info().name == "Basic");
  auto patient = Parse<Patient>(R"({"resourceType":"Patient"})");
  REQUIRE(patient.ok());
  CHECK(patient->id.empty());
  CHECK(patient->name.empty());
}

// --- lenient mode ------------------------------------------------------------------------------

TEST_CASE("strict mode rejects unknown elements and reports no warnings") {
  std::vector<Issue> warnings;
  auto result = ParseResource(R"({"resourceType":"Patient","foo":1})", {}, &warnings);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().type() == IssueType::kStructure);
  CHECK(result.status().expression() == "Patient.foo");
  CHECK(warnings.empty());
}

TEST_CASE("lenient mode turns unknown elements into warnings and drops them") {
  std::vector<Issue> warnings;
  auto result = ParseResource(R"({
    "resourceType": "Patient",
    "foo": 1,
    "name": [{"family": "Chalmers", "bar": {"x": true}}],
    "birthDate": "1974-12-25",
    "_birthDate": {"id": "b", "baz": []},
    "_name": {"id": "n"},
    "gender": "male"
  })",
                              ParseOptions{.lenient = true}, &warnings);
  REQUIRE_MESSAGE(result.ok(), result.status().ToString());
  struct Expected {
    std::string_view expression;
    std::string_view diagnostics;
  };
  const Expected expected[] = {
      {"Patient.foo", "Unknown element 'foo' in Patient (ignored)"},
      {"Patient.name[0].bar", "Unknown element 'bar' in HumanName (ignored)"},
      {"Patient.birthDate.baz", "Unknown element 'baz' in a primitive's '_' object (ignored)"},
      {"Patient._name", "Unknown element '_name' in Patient (ignored)"},
  };
  REQUIRE(warnings.size() == std::size(expected));
  for (std::size_t i = 0; i < warnings.size(); ++i) {
    CAPTURE(i);
    CHECK(warnings[i].severity == Severity::kWarning);
    CHECK(warnings[i].type == IssueType::kStructure);
    CHECK(warnings[i].expression == expected[i].expression);
    CHECK(warnings[i].diagnostics == expected[i].diagnostics);
  }
  CHECK(Write(*result.value()) ==
        R"({"resourceType":"Patient","name":[{"family":"Chalmers"}],"gender":"male",)"
        R"("birthDate":"1974-12-25","_birthDate":{"id":"b"}})");
}

TEST_CASE("lenient mode works without a warnings sink") {
  auto result = ParseResource(R"({"resourceType":"Patient","foo":1,"active":true})",
                              ParseOptions{.lenient = true});
  REQUIRE_MESSAGE(result.ok(), result.status().ToString());
  CHECK(Write(*result.value()) == R"({"resourceType":"Patient","active":true})");
  auto typed = Parse<Patient>(R"({"resourceType":"Patient","foo":1})", ParseOptions{.lenient = true});
  CHECK(typed.ok());
}

TEST_CASE("lenient mode keeps every other rule strict") {
  struct Case {
    std::string_view json;
    IssueType type;
    std::string_view expression;
    std::string_view warning;  // expression of the one warning; empty for none
  };
  // clang-format off
  const Case cases[] = {
      {R"({"resourceType":"Patient","foo":1,"gender":"mal"})",
       IssueType::kCodeInvalid, "Patient.gender", "Patient.foo"},
      {R"({"resourceType":"Patient","foo":1,"birthDate":"2019-02-30"})",
       IssueType::kValue, "Patient.birthDate", "Patient.foo"},
      {R"({"resourceType":"Patient","foo":1,"active":true,"active":false})",
       IssueType::kStructure, "Patient.active", "Patient.foo"},
      {R"({"resourceType":"Patient","foo":1,"name":{"family":"x"}})",
       IssueType::kStructure, "Patient.name", "Patient.foo"},
      {R"({"resourceType":"Patient","foo":1,"deceasedBoolean":true,"deceasedDateTime":"2020"})",
       IssueType::kStructure, "Patient.deceasedDateTime", "Patient.foo"},
      {R"({"resourceType":"Observation","foo":1,"code":{"text":"x"}})",
       IssueType::kRequired, "Observation.status", "Observation.foo"},
      {R"({"resourceType":"Patients","foo":1})",
       IssueType::kNotSupported, "resourceType", ""},
  };
  // clang-format on
  for (const Case& c : cases) {
    CAPTURE(c.json);
    std::vector<Issue> warnings;
    auto result = ParseResource(c.json, ParseOptions{.lenient = true}, &warnings);
    REQUIRE_FALSE(result.ok());
    REQUIRE(result.status().issues().size() == 1);
    CHECK(result.status().type() == c.type);
    CHECK(result.status().expression() == c.expression);
    CHECK(result.status().issues()[0].severity == Severity::kError);
    if (c.warning.empty()) {
      CHECK(warnings.empty());
    } else {
      REQUIRE(warnings.size() == 1);
      CHECK(warnings[0].severity == Severity::kWarning);
      CHECK(warnings[0].expression == c.warning);
    }
  }
}

// The spec forbids empty objects (http://hl7.org/fhir/R4/json.html); an element that held only
// unknown elements would be empty once they are dropped, and Write() would emit it as {}, which
// no strict parser accepts. Lenient mode therefore rejects such an element.
TEST_CASE("lenient mode rejects an element that only unknown elements made non-empty") {
  struct Case {
    std::string_view json;
    std::string_view expression;  // of the emptied element
  };
  // clang-format off
  const Case cases[] = {
      {R"({"resourceType":"Patient","name":[{"foo":1}]})", "Patient.name[0]"},
      {R"({"resourceType":"Patient","maritalStatus":{"foo":1}})", "Patient.maritalStatus"},
      {R"({"resourceType":"Patient","contact":[{"name":{"family":"x"}},{"foo":1}]})",
       "Patient.contact[1]"},
      {R"({"resourceType":"Observation","status":"final","code":{"text":"c"},)"
       R"("valueQuantity":{"foo":1}})", "Observation.valueQuantity"},
  };
  // clang-format on
  for (const Case& c : cases) {
    CAPTURE(c.json);
    std::vector<Issue> warnings;
    auto result = ParseResource(c.json, ParseOptions{.lenient = true}, &warnings);
    REQUIRE_FALSE(result.ok());
    REQUIRE(result.status().issues().size() == 1);
    CHECK(result.status().type() == IssueType::kStructure);
    CHECK(result.status().expression() == c.expression);
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].severity == Severity::kWarning);
    CHECK(warnings[0].expression == std::string(c.expression) + ".foo");
  }
}

TEST_CASE("what lenient mode keeps always parses strictly") {
  const std::string_view inputs[] = {
      R"({"resourceType":"Patient","foo":1,"name":[{"family":"x","foo":2}]})",
      R"({"resourceType":"Patient","_birthDate":{"foo":1}})",
      R"({"resourceType":"Patient","birthDate":"1970","_birthDate":{"id":"b","foo":1}})",
      R"({"resourceType":"Patient","name":[{"given":["a"],"_given":[{"foo":1}]}]})",
      R"({"resourceType":"Observation","status":"final","code":{"text":"c","foo":1},)"
      R"("valueQuantity":{"value":1,"foo":1}})",
  };
  for (std::string_view json : inputs) {
    CAPTURE(json);
    std::vector<Issue> warnings;
    auto result = ParseResource(json, ParseOptions{.lenient = true}, &warnings);
    REQUIRE_MESSAGE(result.ok(), result.status().ToString());
    CHECK_FALSE(warnings.empty());
    const std::string written = Write(*result.value());
    CAPTURE(written);
    auto reparsed = ParseResource(written);
    CHECK_MESSAGE(reparsed.ok(), reparsed.status().ToString());
    CHECK(written.find("foo") == std::string::npos);
  }
}

}  // namespace
}  // namespace fhir::json
