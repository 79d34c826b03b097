// FHIRPath Patch (http://hl7.org/fhir/R4/fhirpatch.html): each operation and error on inline
// resources, and HL7's official cases (r4/patch/fhir-patch-tests.xml) when ../shared is present.

#include "fhir/patch/fhirpath_patch.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>

#include "fhir/base/status.h"
#include "fhir/json/parser.h"
#include "fhir/json/writer.h"
#include "fhir/xml/xml_reader.h"

namespace fhir::patch {
namespace {

// One operation parameter: `parts` are the JSON of the parts after type and path.
std::string Op(std::string_view type, std::string_view path, std::string_view parts = {}) {
  std::string out = R"({"name":"operation","part":[{"name":"type","valueCode":")" +
                    std::string(type) + R"("},{"name":"path","valueString":")" +
                    std::string(path) + "\"}";
  if (!parts.empty()) out += "," + std::string(parts);
  return out + "]}";
}

std::string Patch(const std::vector<std::string>& operations) {
  if (operations.empty()) return R"({"resourceType":"Parameters"})";
  std::string out = R"({"resourceType":"Parameters","parameter":[)";
  for (std::size_t i = 0; i < operations.size(); ++i) {
    if (i > 0) out += ",";
    out += operations[i];
  }
  return out + "]}";
}

const char kPatient[] =
    R"({"resourceType":"Patient","id":"p","identifier":[{"value":"a"},{"value":"b"},)"
    R"({"value":"c"}],"active":true,"name":[{"family":"Doe","given":["Jane","Q"]}],)"
    R"("gender":"female","deceasedBoolean":false,)"
    R"("contact":[{"name":{"text":"Mum"}}]})";

// Applies `patch` (JSON Parameters) to `resource` (JSON); the patched JSON or the error.
Result<std::string> Run(std::string_view resource, const std::string& patch) {
  auto r = json::ParseResource(resource);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  auto p = json::Parse<Parameters>(patch);
  REQUIRE_MESSAGE(p.ok(), p.status().ToString());
  auto patched = ApplyFhirPathPatch(**r, *p);
  if (!patched.ok()) return patched.status();
  return json::Write(**patched);
}

// `kPatient` with `from` replaced by `to` (the expected result of a patch).
std::string PatientWith(std::string_view from, std::string_view to) {
  std::string s = kPatient;
  auto at = s.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, from);
  s.replace(at, from.size(), to);
  auto parsed = json::ParseResource(s);
  REQUIRE_MESSAGE(parsed.ok(), parsed.status().ToString());
  return json::Write(**parsed);
}

void CheckResult(const Result<std::string>& got, const std::string& want) {
  REQUIRE_MESSAGE(got.ok(), got.status().ToString());
  CHECK(*got == want);
}

void CheckError(const Result<std::string>& got, IssueType type, std::string_view expression,
                std::string_view diagnostics_part) {
  REQUIRE_FALSE(got.ok());
  CHECK(got.status().type() == type);
  CHECK(got.status().expression() == expression);
  CHECK_MESSAGE(got.status().diagnostics().find(diagnostics_part) != std::string::npos,
                got.status().diagnostics());
}

TEST_CASE("FHIRPath Patch add") {
  // A primitive, a complex value, an anonymous BackboneElement from parts, a choice element.
  CheckResult(Run(kPatient, Patch({Op("add", "Patient",
                                      R"({"name":"name","valueString":"birthDate"},)"
                                      R"({"name":"value","valueDate":"1970-01-02"})")})),
              PatientWith(R"("gender":"female",)", R"("gender":"female","birthDate":"1970-01-02",)"));
  CheckResult(Run(kPatient, Patch({Op("add", "Patient",
                                      R"({"name":"name","valueString":"identifier"},)"
                                      R"({"name":"value","valueIdentifier":{"value":"d"}})")})),
              PatientWith(R"({"value":"c"})", R"({"value":"c"},{"value":"d"})"));
  CheckResult(
      Run(kPatient, Patch({Op("add", "Patient",
                              R"({"name":"name","valueString":"contact"},{"name":"value","part":[)"
                              R"({"name":"gender","valueCode":"male"},)"
                              R"({"name":"name","valueHumanName":{"text":"Dad"}}]})")})),
      PatientWith(R"({"name":{"text":"Mum"}})",
                  R"({"name":{"text":"Mum"}},{"name":{"text":"Dad"},"gender":"male"})"));
  CheckResult(Run(kPatient, Patch({Op("add", "Patient.name[0]",
                                      R"({"name":"name","valueString":"given"},)"
                                      R"({"name":"value","valueString":"R"})")})),
              PatientWith(R"(["Jane","Q"])", R"(["Jane","Q","R"])"));
  CheckResult(Run(R"({"resourceType":"Patient"})",
                  Patch({Op("add", "Patient",
                            R"({"name":"name","valueString":"multipleBirth"},)"
                            R"({"name":"value","valueInteger":2})")})),
              R"({"resourceType":"Patient","multipleBirthInteger":2})");
  // A choice element may also be named with its type.
  CheckResult(Run(R"({"resourceType":"Patient"})",
                  Patch({Op("add", "Patient",
                            R"({"name":"name","valueString":"multipleBirthBoolean"},)"
                            R"({"name":"value","valueBoolean":true})")})),
              R"({"resourceType":"Patient","multipleBirthBoolean":true})");
  CheckError(Run(R"({"resourceType":"Patient"})",
                 Patch({Op("add", "Patient",
                           R"({"name":"name","valueString":"multipleBirthBoolean"},)"
                           R"({"name":"value","valueInteger":2})")})),
             IssueType::kProcessing, "Parameters.parameter[0]",
             "the value's type makes 'multipleBirthInteger', not 'multipleBirthBoolean'");
  // An extension on a primitive.
  CheckResult(Run(kPatient, Patch({Op("add", "Patient.gender",
                                      R"({"name":"name","valueString":"extension"},)"
                                      R"({"name":"value","part":[{"name":"url",)"
                                      R"("valueUri":"http://x"},{"name":"value",)"
                                      R"("valueString":"y"}]})")})),
              PatientWith(R"("gender":"female",)",
                          R"("gender":"female","_gender":{"extension":[{"url":"http://x",)"
                          R"("valueString":"y"}]},)"));

  CheckError(Run(kPatient, Patch({Op("add", "Patient",
                                     R"({"name":"name","valueString":"gender"},)"
                                     R"({"name":"value","valueCode":"male"})")})),
             IssueType::kProcessing, "Parameters.parameter[0]", "'gender' is already present");
  CheckError(Run(kPatient, Patch({Op("add", "Patient",
                                     R"({"name":"name","valueString":"colour"},)"
                                     R"({"name":"value","valueCode":"red"})")})),
             IssueType::kProcessing, "Parameters.parameter[0]",
             "'colour' is not an element of Patient");
  CheckError(Run(kPatient, Patch({Op("add", "Patient",
                                     R"({"name":"name","valueString":"identifier"},)"
                                     R"({"name":"value","valueCoding":{"code":"x"}})")})),
             IssueType::kProcessing, "Parameters.parameter[0]",
             "a value of type Coding cannot be Patient.identifier");
  CheckError(Run(kPatient, Patch({Op("add", "Patient.link",
                                     R"({"name":"name","valueString":"type"},)"
                                     R"({"name":"value","valueCode":"seealso"})")})),
             IssueType::kProcessing, "Parameters.parameter[0]",
             "No content found at Patient.link when adding");
  CheckError(Run(kPatient, Patch({Op("add", "Patient.identifier",
                                     R"({"name":"name","valueString":"system"},)"
                                     R"({"name":"value","valueUri":"http://x"})")})),
             IssueType::kProcessing, "Parameters.parameter[0]",
             "the path selects 3 elements; it must select one");
}

TEST_CASE("FHIRPath Patch insert") {
  auto insert = [](std::string_view path, int index, std::string_view value) {
    return Patch({Op("insert", path,
                     R"({"name":"index","valueInteger":)" + std::to_string(index) +
                         R"(},{"name":"value",)" + std::string(value) + "}")});
  };
  CheckResult(Run(kPatient, insert("Patient.identifier", 0, R"("valueIdentifier":{"value":"z"})")),
              PatientWith(R"({"value":"a"})", R"({"value":"z"},{"value":"a"})"));
  CheckResult(Run(kPatient, insert("Patient.identifier", 2, R"("valueIdentifier":{"value":"z"})")),
              PatientWith(R"({"value":"c"})", R"({"value":"z"},{"value":"c"})"));
  CheckResult(Run(kPatient, insert("Patient.identifier", 3, R"("valueIdentifier":{"value":"z"})")),
              PatientWith(R"({"value":"c"})", R"({"value":"c"},{"value":"z"})"));
  CheckResult(Run(kPatient, insert("Patient.name.given", 1, R"("valueString":"Ann")")),
              PatientWith(R"(["Jane","Q"])", R"(["Jane","Ann","Q"])"));
  // Into an empty list: the path selects nothing, its owner is found without the last step.
  CheckResult(Run(kPatient, insert("Patient.telecom", 0, R"("valueContactPoint":{"value":"1"})")),
              PatientWith(R"("gender")", R"("telecom":[{"value":"1"}],"gender")"));

  CheckError(Run(kPatient, insert("Patient.identifier", 4, R"("valueIdentifier":{"value":"z"})")),
             IssueType::kProcessing, "Parameters.parameter[0]",
             "the index 4 is out of range (0 to 3)");
  CheckError(Run(kPatient, insert("Patient.identifier", -1, R"("valueIdentifier":{"value":"z"})")),
             IssueType::kProcessing, "Parameters.parameter[0]", "out of range");
  CheckError(Run(kPatient, insert("Patient.gender", 0, R"("valueCode":"male")")),
             IssueType::kProcessing, "Parameters.parameter[0]", "Patient.gender is not a list");
  CheckError(Run(kPatient, insert("Patient.identifier.where(value = 'b')", 0,
                                  R"("valueIdentifier":{"value":"z"})")),
             IssueType::kProcessing, "Parameters.parameter[0]",
             "the path must select the whole list (it selects 1 of 3 items)");
}

TEST_CASE("FHIRPath Patch delete") {
  CheckResult(Run(kPatient, Patch({Op("delete", "Patient.identifier[1]")})),
              PatientWith(R"({"value":"a"},{"value":"b"},)", R"({"value":"a"},)"));
  CheckResult(Run(kPatient, Patch({Op("delete", "Patient.gender")})),
              PatientWith(R"("gender":"female",)", ""));
  CheckResult(Run(kPatient, Patch({Op("delete", "Patient.contact[0].name")})),
              PatientWith(R"(,"contact":[{"name":{"text":"Mum"}}])", ""));
  CheckResult(Run(kPatient, Patch({Op("delete", "Patient.name.given.where($this = 'Q')")})),
              PatientWith(R"(["Jane","Q"])", R"(["Jane"])"));
  // Nothing selected: nothing to do.
  CheckResult(Run(kPatient, Patch({Op("delete", "Patient.birthDate")})), PatientWith("", ""));

  CheckError(Run(kPatient, Patch({Op("delete", "Patient.identifier")})), IssueType::kProcessing,
             "Parameters.parameter[0]", "the path selects 3 elements; delete removes one");
  CheckError(Run(kPatient, Patch({Op("delete", "Patient")})), IssueType::kProcessing,
             "Parameters.parameter[0]", "the resource itself cannot be deleted");
}

TEST_CASE("FHIRPath Patch replace") {
  CheckResult(Run(kPatient, Patch({Op("replace", "Patient.gender",
                                      R"({"name":"value","valueCode":"male"})")})),
              PatientWith(R"("gender":"female")", R"("gender":"male")"));
  CheckResult(Run(kPatient, Patch({Op("replace", "Patient.identifier[1]",
                                      R"({"name":"value","valueIdentifier":{"system":"s"}})")})),
              PatientWith(R"({"value":"b"})", R"({"system":"s"})"));
  CheckResult(Run(kPatient, Patch({Op("replace", "Patient.name.given[1]",
                                      R"({"name":"value","valueString":"Quinn"})")})),
              PatientWith(R"("Q")", R"("Quinn")"));
  // A choice element may change its type.
  CheckResult(Run(kPatient, Patch({Op("replace", "Patient.deceased",
                                      R"({"name":"value","valueDateTime":"2020-02-02"})")})),
              PatientWith(R"("deceasedBoolean":false)", R"("deceasedDateTime":"2020-02-02")"));

  CheckError(Run(kPatient, Patch({Op("replace", "Patient.birthDate",
                                     R"({"name":"value","valueDate":"2000"})")})),
             IssueType::kProcessing, "Parameters.parameter[0]",
             "No content found at Patient.birthDate when replacing");
  CheckError(Run(kPatient, Patch({Op("replace", "Patient.active",
                                     R"({"name":"value","valueString":"yes"})")})),
             IssueType::kProcessing, "Parameters.parameter[0]",
             "a value of type string cannot be Patient.active");
  CheckError(Run(kPatient, Patch({Op("replace", "Patient.deceased",
                                     R"({"name":"value","valueString":"x"})")})),
             IssueType::kProcessing, "Parameters.parameter[0]",
             "a value of type string cannot be Patient.deceased[x]");
  // A value of the right kind that breaks a rule of the resource: the outcome is invalid.
  auto invalid = Run(kPatient, Patch({Op("replace", "Patient.gender",
                                         R"({"name":"value","valueCode":"x"})")}));
  CheckError(invalid, IssueType::kProcessing, "Parameters.parameter[0]",
             "replace at 'Patient.gender' makes the resource invalid");
  REQUIRE(invalid.status().issues().size() == 2);
  CHECK(invalid.status().issues()[1].type == IssueType::kCodeInvalid);
  CHECK(invalid.status().issues()[1].expression == "Patient.gender");
}

TEST_CASE("FHIRPath Patch replaces a narrative with well-formed XHTML only") {
  const char narrative[] =
      R"({"resourceType":"Patient","text":{"status":"generated",)"
      R"("div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">old</div>"}})";
  CheckResult(
      Run(narrative, Patch({Op("replace", "Patient.text.div",
                               R"({"name":"value","valueString":)"
                               R"("<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>new</p></div>"})")})),
      R"({"resourceType":"Patient","text":{"status":"generated",)"
      R"("div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>new</p></div>"}})");
  CheckError(Run(narrative, Patch({Op("replace", "Patient.text.div",
                                      R"({"name":"value","valueString":"<p>new</p>"})")})),
             IssueType::kProcessing, "Parameters.parameter[0]",
             "the value of Narrative.div must be an XHTML <div>");
  CheckError(Run(narrative, Patch({Op("replace", "Patient.text.div",
                                      R"({"name":"value","valueString":"<div>x"})")})),
             IssueType::kProcessing, "Parameters.parameter[0]", "Malformed XML");
}

TEST_CASE("FHIRPath Patch move") {
  auto move = [](int source, int destination) {
    return Patch({Op("move", "Patient.identifier",
                     R"({"name":"source","valueInteger":)" + std::to_string(source) +
                         R"(},{"name":"destination","valueInteger":)" +
                         std::to_string(destination) + "}")});
  };
  CheckResult(Run(kPatient, move(2, 0)),
              PatientWith(R"({"value":"a"},{"value":"b"},{"value":"c"})",
                          R"({"value":"c"},{"value":"a"},{"value":"b"})"));
  CheckResult(Run(kPatient, move(0, 2)),
              PatientWith(R"({"value":"a"},{"value":"b"},{"value":"c"})",
                          R"({"value":"b"},{"value":"c"},{"value":"a"})"));
  CheckResult(Run(kPatient, move(1, 1)), PatientWith("", ""));
  CheckError(Run(kPatient, move(3, 0)), IssueType::kProcessing, "Parameters.parameter[0]",
             "the source 3 is out of range (0 to 2)");
  CheckError(Run(kPatient, move(0, 3)), IssueType::kProcessing, "Parameters.parameter[0]",
             "the destination 3 is out of range (0 to 2)");
}

TEST_CASE("FHIRPath Patch applies operations in order, all or nothing") {
  CheckResult(Run(kPatient, Patch({Op("replace", "Patient.gender",
                                      R"({"name":"value","valueCode":"male"})"),
                                   Op("delete", "Patient.identifier.where(value = 'a')"),
                                   Op("replace", "Patient.identifier[0].value",
                                      R"({"name":"value","valueString":"B"})")})),
              PatientWith(R"({"value":"a"},{"value":"b"},{"value":"c"}],"active":true,)"
                          R"("name":[{"family":"Doe","given":["Jane","Q"]}],"gender":"female")",
                          R"({"value":"B"},{"value":"c"}],"active":true,)"
                          R"("name":[{"family":"Doe","given":["Jane","Q"]}],"gender":"male")"));
  CheckError(Run(kPatient, Patch({Op("replace", "Patient.gender",
                                     R"({"name":"value","valueCode":"male"})"),
                                  Op("delete", "Patient.identifier")})),
             IssueType::kProcessing, "Parameters.parameter[1]", "delete removes one");
  CheckResult(Run(kPatient, Patch({})), PatientWith("", ""));
}

TEST_CASE("FHIRPath Patch rejects what is not a patch") {
  CheckError(Run(kPatient, R"({"resourceType":"Parameters","parameter":[{"name":"op",)"
                           R"("valueString":"x"}]})"),
             IssueType::kInvalid, "Parameters.parameter[0].name",
             "must be named 'operation', found 'op'");
  CheckError(Run(kPatient, Patch({Op("copy", "Patient")})), IssueType::kInvalid,
             "Parameters.parameter[0].part[0]", "Unknown operation type 'copy'");
  CheckError(Run(kPatient, Patch({Op("add", "Patient", R"({"name":"name","valueString":"x"})")})),
             IssueType::kRequired, "Parameters.parameter[0]",
             "The operation 'add' needs the part 'value'");
  CheckError(Run(kPatient, Patch({Op("insert", "Patient.identifier",
                                     R"({"name":"index","valueString":"1"})")})),
             IssueType::kInvalid, "Parameters.parameter[0].part[2]",
             "The part 'index' needs a valueInteger");
  CheckError(Run(kPatient, Patch({Op("delete", "Patient", R"({"name":"colour","valueString":"x"})")})),
             IssueType::kInvalid, "Parameters.parameter[0].part[2]", "Unknown part 'colour'");
  CheckError(Run(kPatient, Patch({Op("delete", "Patient.name.(")})), IssueType::kInvalid,
             "Parameters.parameter[0].part[1]", "the path is not valid FHIRPath");
  CheckError(Run(kPatient, Patch({Op("delete", "Patient.gender.toString()")})),
             IssueType::kProcessing, "Parameters.parameter[0]",
             "must select elements of the resource being patched");
  CheckError(Run(R"({"resourceType":"Observation","status":"final","code":{"text":"c"},)"
                 R"("subject":{"reference":"Patient/1"}})",
                 Patch({Op("replace", "Observation.subject.resolve()",
                           R"({"name":"value","resource":{"resourceType":"Patient"}})")})),
             IssueType::kProcessing, "Parameters.parameter[0]",
             "must select elements of the resource being patched");
}

TEST_CASE("FHIRPath Patch bounds the number of operations") {
  std::vector<std::string> operations(kMaxOperations, Op("delete", "Patient.birthDate"));
  CheckResult(Run(kPatient, Patch(operations)), PatientWith("", ""));
  operations.push_back(Op("delete", "Patient.birthDate"));
  CheckError(Run(kPatient, Patch(operations)), IssueType::kTooCostly, "Parameters.parameter",
             "at most 1000 operations, found 1001");
}

TEST_CASE("FHIRPath Patch reaches contained resources") {
  const char resource[] =
      R"({"resourceType":"Observation","contained":[{"resourceType":"Patient","id":"p1",)"
      R"("gender":"male"}],"status":"final","code":{"text":"c"},"subject":{"reference":"#p1"}})";
  CheckResult(Run(resource, Patch({Op("replace", "Observation.subject.resolve().gender",
                                      R"({"name":"value","valueCode":"other"})")})),
              R"({"resourceType":"Observation","contained":[{"resourceType":"Patient","id":"p1",)"
              R"("gender":"other"}],"status":"final","code":{"text":"c"},)"
              R"("subject":{"reference":"#p1"}})");
  CheckResult(Run(resource, Patch({Op("add", "Observation",
                                      R"({"name":"name","valueString":"contained"},)"
                                      R"({"name":"value","resource":{"resourceType":"Device",)"
                                      R"("id":"d"}})")})),
              R"({"resourceType":"Observation","contained":[{"resourceType":"Patient","id":"p1",)"
              R"("gender":"male"},{"resourceType":"Device","id":"d"}],"status":"final",)"
              R"("code":{"text":"c"},"subject":{"reference":"#p1"}})");
}

#ifdef FHIR_SHARED_DIR
std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The only element child of `e` (the resource inside <input>, <diff>, <output>).
const xml::XmlElement& OnlyChild(const xml::XmlElement& e) {
  REQUIRE(e.children.size() == 1);
  return e.children[0];
}

TEST_CASE("FHIRPath Patch passes the official FHIR Patch tests") {
  const std::filesystem::path file = FHIR_SHARED_DIR "/fhir-test-cases/r4/patch/fhir-patch-tests.xml";
  if (!std::filesystem::exists(file)) {
    MESSAGE("skipped: " << file.string() << " is absent");
    return;
  }
  auto tests = xml::ParseXml(ReadFile(file));
  REQUIRE_MESSAGE(tests.ok(), tests.status().ToString());
  int cases = 0;
  int errors = 0;
  int passed = 0;
  for (const xml::XmlElement& c : tests->children) {
    if (c.name != "case") continue;
    ++cases;
    const std::string name = c.FindAttribute("name")->value;
    CAPTURE(name);
    const xml::XmlElement* input = c.FindChild("input");
    const xml::XmlElement* diff = c.FindChild("diff");
    const xml::XmlElement* output = c.FindChild("output");
    const xml::XmlElement* error = c.FindChild("error");
    REQUIRE(input != nullptr);
    REQUIRE(diff != nullptr);
    REQUIRE((output != nullptr) != (error != nullptr));
    auto resource = xml::ParseXmlResourceElement(OnlyChild(*input));
    REQUIRE_MESSAGE(resource.ok(), resource.status().ToString());
    auto parameters = xml::ParseXmlResourceElement(OnlyChild(*diff));
    REQUIRE_MESSAGE(parameters.ok(), parameters.status().ToString());
    REQUIRE(parameters.value()->type_info().name == "Parameters");
    auto patched =
        ApplyFhirPathPatch(**resource, static_cast<const Parameters&>(**parameters));
    if (error != nullptr) {
      ++errors;
      REQUIRE_FALSE(patched.ok());
      const std::string& message = error->FindAttribute("msg")->value;
      CHECK_MESSAGE(patched.status().diagnostics().find(message) != std::string::npos,
                    patched.status().diagnostics());
      if (patched.status().diagnostics().find(message) != std::string::npos) ++passed;
      continue;
    }
    REQUIRE_MESSAGE(patched.ok(), patched.status().ToString());
    auto expected = xml::ParseXmlResourceElement(OnlyChild(*output));
    REQUIRE_MESSAGE(expected.ok(), expected.status().ToString());
    CHECK(json::Write(**patched) == json::Write(**expected));
    if (json::Write(**patched) == json::Write(**expected)) ++passed;
  }
  MESSAGE(passed << " of " << cases << " official FHIRPath Patch cases passed");
  CHECK(cases == 33);
  CHECK(errors == 1);
  CHECK(passed == cases);
}
#else
TEST_CASE("FHIRPath Patch passes the official FHIR Patch tests") {
  MESSAGE("skipped: FHIR_SHARED_DIR is not defined");
}
#endif

}  // namespace
}  // namespace fhir::patch
