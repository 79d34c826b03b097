// PATCH with a FHIRPath Patch Parameters body (http://hl7.org/fhir/R4/http.html#patch,
// http://hl7.org/fhir/R4/fhirpatch.html), socket-free on a real SQLite store.

#include <string>

#include <doctest/doctest.h>

#include "tests/server/rest_fixture.h"

namespace server::testing {
namespace {

void FhirJson(RestRequest& r) { r.content_type = "application/fhir+json"; }
void PlainJson(RestRequest& r) { r.content_type = "application/json"; }
void Xml(RestRequest& r) { r.content_type = "application/xml"; }

const char kReplaceGender[] =
    R"({"resourceType":"Parameters","parameter":[{"name":"operation","part":[)"
    R"({"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.gender"},)"
    R"({"name":"value","valueCode":"female"}]}]})";

TEST_CASE("FHIRPath Patch over REST") {
  Fixture f;
  REQUIRE(f.Call("PUT", "Patient/p1",
                 R"({"resourceType":"Patient","id":"p1","gender":"male",)"
                 R"("name":[{"given":["A","B"]}]})")
              .status == 201);

  RestResponse patched = f.Call("PATCH", "Patient/p1", kReplaceGender, FhirJson);
  CHECK(patched.status == 200);
  CHECK(patched.etag == "W/\"2\"");
  CHECK(At(patched.body, "gender") == "female");
  CHECK(At(patched.body, "meta.versionId") == "2");
  CHECK(At(f.Call("GET", "Patient/p1").body, "gender") == "female");

  // application/json works too; insert and move reorder a list.
  RestResponse moved = f.Call(
      "PATCH", "Patient/p1",
      R"({"resourceType":"Parameters","parameter":[{"name":"operation","part":[)"
      R"({"name":"type","valueCode":"insert"},{"name":"path","valueString":"Patient.name.given"},)"
      R"({"name":"index","valueInteger":0},{"name":"value","valueString":"Z"}]},)"
      R"({"name":"operation","part":[{"name":"type","valueCode":"move"},)"
      R"({"name":"path","valueString":"Patient.name.given"},{"name":"source","valueInteger":2},)"
      R"({"name":"destination","valueInteger":1}]}]})",
      PlainJson);
  CHECK(moved.status == 200);
  CHECK(At(moved.body, "name[0].given[0]") == "Z");
  CHECK(At(moved.body, "name[0].given[1]") == "B");
  CHECK(At(moved.body, "name[0].given[2]") == "A");
  CHECK(At(moved.body, "meta.versionId") == "3");
}

TEST_CASE("FHIRPath Patch over REST: errors name the operation") {
  Fixture f;
  REQUIRE(f.Call("PUT", "Patient/p1", R"({"resourceType":"Patient","id":"p1","gender":"male"})")
              .status == 201);

  // Not applicable to this resource: 422, the operation and its path named.
  RestResponse missing = f.Call(
      "PATCH", "Patient/p1",
      R"({"resourceType":"Parameters","parameter":[{"name":"operation","part":[)"
      R"({"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.birthDate"},)"
      R"({"name":"value","valueDate":"2000-01-01"}]}]})",
      FhirJson);
  CHECK(missing.status == 422);
  CHECK(At(missing.body, "issue[0].code") == "processing");
  CHECK(At(missing.body, "issue[0].expression[0]") == "Parameters.parameter[0]");
  CHECK(At(missing.body, "issue[0].diagnostics") ==
        "FHIRPath Patch replace at 'Patient.birthDate': No content found at Patient.birthDate "
        "when replacing");

  // A result that is not a valid resource: 422, with the validation issue after it.
  RestResponse invalid = f.Call(
      "PATCH", "Patient/p1",
      R"({"resourceType":"Parameters","parameter":[{"name":"operation","part":[)"
      R"({"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.gender"},)"
      R"({"name":"value","valueCode":"x"}]}]})",
      FhirJson);
  CHECK(invalid.status == 422);
  CHECK(At(invalid.body, "issue[1].code") == "code-invalid");
  CHECK(At(invalid.body, "issue[1].expression[0]") == "Patient.gender");

  // Not a FHIRPath Patch: 400.
  RestResponse bad_type = f.Call(
      "PATCH", "Patient/p1",
      R"({"resourceType":"Parameters","parameter":[{"name":"operation","part":[)"
      R"({"name":"type","valueCode":"copy"},{"name":"path","valueString":"Patient"}]}]})",
      FhirJson);
  CHECK(bad_type.status == 400);
  CHECK(At(bad_type.body, "issue[0].expression[0]") == "Parameters.parameter[0].part[0]");
  RestResponse not_parameters = f.Call("PATCH", "Patient/p1", R"({"resourceType":"Patient"})",
                                       FhirJson);
  CHECK(not_parameters.status == 400);
  CHECK(f.Call("PATCH", "Patient/p1", "[]", FhirJson).status == 400);

  // The id is not an element FHIRPath Patch can reach (Patient.id is a System string).
  RestResponse id = f.Call(
      "PATCH", "Patient/p1",
      R"({"resourceType":"Parameters","parameter":[{"name":"operation","part":[)"
      R"({"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.id"},)"
      R"({"name":"value","valueId":"p2"}]}]})",
      FhirJson);
  CHECK(id.status == 422);

  CHECK(f.Call("PATCH", "Patient/nope", kReplaceGender, FhirJson).status == 404);
  CHECK(f.Call("PATCH", "Patient/p1", kReplaceGender, Xml).status == 415);
  // No failed patch changed anything.
  CHECK(At(f.Call("GET", "Patient/p1").body, "meta.versionId") == "1");
  CHECK(At(f.Call("GET", "Patient/p1").body, "gender") == "male");
}

TEST_CASE("FHIRPath Patch in a transaction") {
  Fixture f;
  REQUIRE(f.Call("PUT", "Patient/p1", R"({"resourceType":"Patient","id":"p1","gender":"male"})")
              .status == 201);
  RestResponse r = f.Call(
      "POST", "",
      std::string(R"({"resourceType":"Bundle","type":"transaction","entry":[{"resource":)") +
          kReplaceGender + R"(,"request":{"method":"PATCH","url":"Patient/p1"}}]})");
  REQUIRE(r.status == 200);
  CHECK(At(r.body, "entry[0].response.status").rfind("200", 0) == 0);
  CHECK(At(f.Call("GET", "Patient/p1").body, "gender") == "female");
}

}  // namespace
}  // namespace server::testing
