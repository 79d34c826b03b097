#include "fhir/json/writer.h"

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <doctest/doctest.h>

#include "fhir/json/parser.h"
#include "fhir/r4/observation.h"
#include "fhir/r4/organization.h"
#include "fhir/r4/patient.h"

namespace fhir::json {
namespace {

// Parses `json` strictly and writes it back compactly.
std::string Rewrite(std::string_view json, const WriteOptions& options = {}) {
  auto parsed = ParseResource(json);
  REQUIRE_MESSAGE(parsed.ok(), parsed.status().ToString());
  return Write(*parsed.value(), options);
}

TEST_CASE("Write puts resourceType first and elements in StructureDefinition order") {
  struct Case {
    std::string_view name;
    std::string_view input;
    std::string_view output;
  };
  // clang-format off
  const Case cases[] = {
      {"resourceType last in the input",
       R"({"id":"p","resourceType":"Patient"})",
       R"({"resourceType":"Patient","id":"p"})"},
      {"reversed Patient",
       R"({"link":[{"type":"seealso","other":{"reference":"Patient/2"}}],"birthDate":"2000",)"
       R"("gender":"male","name":[{"given":["A"],"family":"X","use":"official"}],"active":true,)"
       R"("identifier":[{"value":"1"}],"extension":[{"valueString":"v","url":"http://e"}],)"
       R"("text":{"div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>","status":"generated"},)"
       R"("meta":{"versionId":"1"},"id":"p","resourceType":"Patient"})",
       R"({"resourceType":"Patient","id":"p","meta":{"versionId":"1"},)"
       R"("text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"},)"
       R"("extension":[{"url":"http://e","valueString":"v"}],"identifier":[{"value":"1"}],)"
       R"("active":true,"name":[{"use":"official","family":"X","given":["A"]}],"gender":"male",)"
       R"("birthDate":"2000","link":[{"other":{"reference":"Patient/2"},"type":"seealso"}]})"},
      {"_given right after given, _birthDate right after birthDate",
       R"({"resourceType":"Patient","_birthDate":{"id":"b"},"name":[{"_given":[{"id":"g"},null],)"
       R"("prefix":["Dr"],"given":["A","B"],"family":"X"}],"birthDate":"1970"})",
       R"({"resourceType":"Patient","name":[{"family":"X","given":["A","B"],)"
       R"("_given":[{"id":"g"},null],"prefix":["Dr"]}],"birthDate":"1970","_birthDate":{"id":"b"}})"},
      {"_name without a value",
       R"({"resourceType":"Patient","_gender":{"extension":[{"url":"http://e","valueCode":"x"}]}})",
       R"({"resourceType":"Patient","_gender":{"extension":[{"url":"http://e","valueCode":"x"}]}})"},
      {"id before extension inside _name",
       R"({"resourceType":"Patient","_active":{"extension":[{"url":"http://e","valueBoolean":true}],)"
       R"("id":"a"},"active":false})",
       R"({"resourceType":"Patient","active":false,"_active":{"id":"a","extension":[{"url":"http://e",)"
       R"("valueBoolean":true}]}})"},
      {"primitive array with only _name items",
       R"({"resourceType":"Patient","name":[{"_given":[{"id":"a"},{"id":"b"}]}]})",
       R"({"resourceType":"Patient","name":[{"_given":[{"id":"a"},{"id":"b"}]}]})"},
      {"choice element named by its type",
       R"({"resourceType":"Patient","multipleBirthInteger":3,"deceasedDateTime":"2020-01-01"})",
       R"({"resourceType":"Patient","deceasedDateTime":"2020-01-01","multipleBirthInteger":3})"},
      {"contained resource with its own resourceType first",
       R"({"resourceType":"Patient","contained":[{"name":"A","id":"o","resourceType":"Organization"}],)"
       R"("id":"p"})",
       R"({"resourceType":"Patient","id":"p","contained":[{"resourceType":"Organization","id":"o",)"
       R"("name":"A"}]})"},
      {"Observation: status, code, value[x], component",
       R"({"component":[{"valueString":"c","code":{"text":"cc"}}],"valueQuantity":{"unit":"mg",)"
       R"("value":1},"code":{"text":"t"},"status":"final","resourceType":"Observation"})",
       R"({"resourceType":"Observation","status":"final","code":{"text":"t"},)"
       R"("valueQuantity":{"value":1,"unit":"mg"},"component":[{"code":{"text":"cc"},)"
       R"("valueString":"c"}]})"},
  };
  // clang-format on
  for (const Case& c : cases) {
    CAPTURE(c.name);
    CHECK(Rewrite(c.input) == c.output);
  }
}

TEST_CASE("Write keeps decimals as their source text") {
  // clang-format off
  const std::string_view decimals[] = {
      "1.50", "1e3", "-0.0", "0", "100", "1E+3", "2.5e-10", "0.000001000",
      "12345678901234567890.12345678901234567890",
  };
  // clang-format on
  for (std::string_view decimal : decimals) {
    CAPTURE(decimal);
    const std::string json = R"({"resourceType":"Observation","status":"final","code":{"text":"x"},)"
                             R"("valueQuantity":{"value":)" +
                             std::string(decimal) + "}}";
    CHECK(Rewrite(json) == json);
  }
  CHECK(Rewrite(R"({"resourceType":"Patient","extension":[{"url":"http://e","valueDecimal":-0.0}]})") ==
        R"({"resourceType":"Patient","extension":[{"url":"http://e","valueDecimal":-0.0}]})");
}

TEST_CASE("Write writes integers and booleans as JSON numbers and booleans") {
  CHECK(Rewrite(R"({"resourceType":"Patient","active":false,"multipleBirthInteger":-2147483648,)"
                R"("photo":[{"size":0}]})") ==
        R"({"resourceType":"Patient","active":false,"multipleBirthInteger":-2147483648,)"
        R"("photo":[{"size":0}]})");
}

TEST_CASE("Write escapes strings as JSON requires") {
  CHECK(Rewrite(R"({"resourceType":"Patient","name":[{"family":"a\"b\\c\/d\te\nf\u00e9\u20ac"}]})") ==
        "{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"a\\\"b\\\\c/d\\te\\nf\xc3\xa9"
        "\xe2\x82\xac\"}]}");
}

TEST_CASE("Write of a resource built in code") {
  Patient patient;
  patient.id = "built";
  patient.active.value = true;
  HumanName& name = patient.name.emplace_back();
  name.family.value = "Doe";
  name.given.emplace_back().value = "Jane";
  String& middle = name.given.emplace_back();
  middle.id = "m";
  patient.birth_date.value = "1990-05";
  patient.mutable_deceased_date_time().value = "2020-01-01T00:00:00Z";
  patient.marital_status.ensure().text.value = "single";
  CHECK(Write(patient) ==
        R"({"resourceType":"Patient","id":"built","active":true,"name":[{"family":"Doe",)"
        R"("given":["Jane",null],"_given":[null,{"id":"m"}]}],"birthDate":"1990-05",)"
        R"("deceasedDateTime":"2020-01-01T00:00:00Z","maritalStatus":{"text":"single"}})");
  CHECK(Write(Patient()) == R"({"resourceType":"Patient"})");
}

TEST_CASE("pretty output indents by two spaces") {
  Patient patient;
  patient.id = "p";
  patient.active.value = true;
  patient.name.emplace_back().given.emplace_back().value = "A";
  patient.birth_date.id = "b";
  const std::string expected =
      "{\n"
      "  \"resourceType\": \"Patient\",\n"
      "  \"id\": \"p\",\n"
      "  \"active\": true,\n"
      "  \"name\": [\n"
      "    {\n"
      "      \"given\": [\n"
      "        \"A\"\n"
      "      ]\n"
      "    }\n"
      "  ],\n"
      "  \"_birthDate\": {\n"
      "    \"id\": \"b\"\n"
      "  }\n"
      "}";
  CHECK(Write(patient, WriteOptions{.pretty = true}) == expected);
  CHECK(Write(patient, WriteOptions{.pretty = false}) ==
        R"({"resourceType":"Patient","id":"p","active":true,"name":[{"given":["A"]}],)"
        R"("_birthDate":{"id":"b"}})");
}

TEST_CASE("pretty output of a decimal keeps its text") {
  const std::string json = R"({"resourceType":"Observation","status":"final","code":{"text":"x"},)"
                           R"("valueQuantity":{"value":1.50}})";
  CHECK(Rewrite(json, WriteOptions{.pretty = true}) ==
        "{\n"
        "  \"resourceType\": \"Observation\",\n"
        "  \"status\": \"final\",\n"
        "  \"code\": {\n"
        "    \"text\": \"x\"\n"
        "  },\n"
        "  \"valueQuantity\": {\n"
        "    \"value\": 1.50\n"
        "  }\n"
        "}");
}

TEST_CASE("write -> parse -> write is byte-stable, compact and pretty") {
  const std::string_view inputs[] = {
      R"({"resourceType":"Patient","id":"example","meta":{"lastUpdated":"2020-01-01T00:00:00Z"},)"
      R"("text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">P</div>"},)"
      R"("contained":[{"resourceType":"Organization","id":"o","name":"ACME"}],)"
      R"("name":[{"family":"Chalmers","given":["Peter",null,"James"],)"
      R"("_given":[null,{"extension":[{"url":"http://e","valueString":"x"}]},null]}],)"
      R"("gender":"male","birthDate":"1974-12-25","_birthDate":{"id":"bd"},)"
      R"("deceasedBoolean":false,"managingOrganization":{"reference":"#o"}})",
      R"({"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org",)"
      R"("code":"29463-7"}]},"effectiveDateTime":"2016-03-28","valueQuantity":{"value":1e3,)"
      R"("unit":"kg","system":"http://unitsofmeasure.org","code":"kg"},"component":[{"code":)"
      R"({"text":"a"},"valueQuantity":{"value":-0.0}}]})",
      R"({"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient",)"
      R"("id":"1"}},{"fullUrl":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"}]})",
  };
  for (std::string_view input : inputs) {
    CAPTURE(input);
    for (bool pretty : {false, true}) {
      CAPTURE(pretty);
      const std::string first = Rewrite(input, WriteOptions{.pretty = pretty});
      const std::string second = Rewrite(first, WriteOptions{.pretty = pretty});
      CHECK(first == second);
    }
    // The inputs are canonical already, so the compact output is the input.
    CHECK(Rewrite(input) == input);
  }
}

}  // namespace
}  // namespace fhir::json
