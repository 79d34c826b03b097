// Invalid R4 JSON documents (http://hl7.org/fhir/R4/json.html): each must fail to parse, with an
// issue of the expected type at the expected location and no other issue.

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>

#include "fhir/base/status.h"
#include "fhir/json/parser.h"

namespace fhir::json {
namespace {

using namespace std::string_view_literals;

struct InvalidCase {
  std::string_view name;
  std::string json;
  IssueType type;
  std::string_view expression;  // of the expected issue; "" for the whole document
  std::size_t issues = 1;       // how many issues the document has in all
};

// A Patient with `members` after its resourceType.
std::string Patient(std::string_view members) {
  return R"({"resourceType":"Patient",)" + std::string(members) + "}";
}

// An otherwise valid Observation (status and code present) with `members`.
std::string Observation(std::string_view members) {
  return R"({"resourceType":"Observation","status":"final","code":{"text":"c"},)" +
         std::string(members) + "}";
}

// A collection Bundle whose first entry holds `resource`.
std::string Bundle(std::string_view resource) {
  return R"({"resourceType":"Bundle","type":"collection","entry":[{"resource":)" +
         std::string(resource) + "}]}";
}

// `depth` arrays nested in each other.
std::string Nested(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

std::string Printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 300)) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  if (text.size() > 300) out += "...";
  return out;
}

// Parses `c.json` strictly and checks the outcome.
void CheckInvalid(const InvalidCase& c) {
  CAPTURE(c.name);
  const std::string input = Printable(c.json);
  CAPTURE(input);
  std::vector<Issue> warnings;
  auto result = ParseResource(c.json, ParseOptions{}, &warnings);
  CHECK(warnings.empty());
  if (result.ok()) {
    FAIL_CHECK("the document parsed");
    return;
  }
  const Status& status = result.status();
  const std::string outcome = status.ToString();
  CAPTURE(outcome);
  CHECK(status.issues().size() == c.issues);
  const auto expected = std::find_if(
      status.issues().begin(), status.issues().end(),
      [&](const Issue& issue) { return issue.type == c.type && issue.expression == c.expression; });
  CHECK_MESSAGE(expected != status.issues().end(),
                "no " << IssueTypeCode(c.type) << " issue at '" << c.expression << "'");
  for (const Issue& issue : status.issues()) {
    CHECK(issue.severity == Severity::kError);
    CHECK_FALSE(issue.diagnostics.empty());
  }
  if (c.issues == 1) {
    CHECK(status.type() == c.type);
    CHECK(status.expression() == c.expression);
  }
}

const std::string kId65(65, 'a');

// clang-format off
std::vector<InvalidCase> DocumentCases() {
  return {
      // --- the document and its resourceType ---
      {"top level is an array", "[]", IssueType::kStructure, ""},
      {"top level is a string", R"("Patient")", IssueType::kStructure, ""},
      {"top level is null", "null", IssueType::kStructure, ""},
      {"top level is a number", "42", IssueType::kStructure, ""},
      {"missing resourceType", R"({"id":"a"})", IssueType::kRequired, ""},
      {"empty object", "{}", IssueType::kRequired, ""},
      {"resourceType is a number", R"({"resourceType":1})", IssueType::kStructure, "resourceType"},
      {"resourceType is null", R"({"resourceType":null})", IssueType::kStructure, "resourceType"},
      {"resourceType is an object", R"({"resourceType":{"name":"Patient"}})",
       IssueType::kStructure, "resourceType"},
      {"resourceType is an array", R"({"resourceType":["Patient"]})",
       IssueType::kStructure, "resourceType"},
      {"unknown resourceType", R"({"resourceType":"Patients"})",
       IssueType::kNotSupported, "resourceType"},
      {"resourceType in the wrong case", R"({"resourceType":"patient"})",
       IssueType::kNotSupported, "resourceType"},
      {"abstract resourceType", R"({"resourceType":"DomainResource"})",
       IssueType::kNotSupported, "resourceType"},
      {"datatype as resourceType", R"({"resourceType":"HumanName"})",
       IssueType::kNotSupported, "resourceType"},

      // --- malformed JSON ---
      {"empty input", "", IssueType::kStructure, ""},
      {"whitespace only", " \n\t", IssueType::kStructure, ""},
      {"trailing comma in an object", R"({"resourceType":"Patient","active":true,})",
       IssueType::kStructure, ""},
      {"trailing comma in an array", Patient(R"("name":[{"family":"a"},])"),
       IssueType::kStructure, ""},
      {"unterminated string", R"({"resourceType":"Patient","gender":"male)",
       IssueType::kStructure, ""},
      {"unterminated object", R"({"resourceType":"Patient")", IssueType::kStructure, ""},
      {"trailing garbage", R"({"resourceType":"Patient"} x)", IssueType::kStructure, ""},
      {"two documents", R"({"resourceType":"Patient"}{"resourceType":"Patient"})",
       IssueType::kStructure, ""},
      {"NUL byte after the document", std::string("{\"resourceType\":\"Patient\"}\0"sv),
       IssueType::kStructure, ""},
      {"NUL byte inside a string", std::string("{\"resourceType\":\"Patient\",\"gender\":\"m\0\"}"sv),
       IssueType::kStructure, ""},
      {"invalid UTF-8 byte in a value", Patient("\"name\":[{\"family\":\"M\xfcller\"}]"),
       IssueType::kStructure, ""},
      {"invalid UTF-8 byte in a key", Patient("\"f\xff\":1"), IssueType::kStructure, ""},
      {"overlong UTF-8 sequence", Patient("\"name\":[{\"family\":\"\xc0\xaf\"}]"),
       IssueType::kStructure, ""},
      {"UTF-8 encoded surrogate", Patient("\"name\":[{\"family\":\"\xed\xa0\x80\"}]"),
       IssueType::kStructure, ""},
      {"truncated UTF-8 sequence", Patient("\"name\":[{\"family\":\"\xe2\x82\"}]"),
       IssueType::kStructure, ""},
      {"high surrogate escape without its pair", Patient(R"("name":[{"family":"\ud83dx"}])"),
       IssueType::kStructure, ""},
      {"raw control character in a string", Patient("\"name\":[{\"family\":\"a\tb\"}]"),
       IssueType::kStructure, ""},
      {"single-quoted string", R"({'resourceType':'Patient'})", IssueType::kStructure, ""},
      {"comment", "{\"resourceType\":\"Patient\" // x\n}", IssueType::kStructure, ""},
      {"NaN", Patient(R"("multipleBirthInteger":NaN)"), IssueType::kStructure, ""},
      {"number with a leading zero", Patient(R"("multipleBirthInteger":01)"),
       IssueType::kStructure, ""},
      {"number with a leading plus", Patient(R"("multipleBirthInteger":+1)"),
       IssueType::kStructure, ""},
      {"nesting 201 levels deep", Patient(R"("extension":)" + Nested(200)),
       IssueType::kTooCostly, ""},
      {"nesting 100000 levels deep", Patient(R"("extension":)" + std::string(100000, '[')),
       IssueType::kTooCostly, ""},
  };
}

std::vector<InvalidCase> ElementCases() {
  return {
      // --- unknown elements ---
      {"unknown element at the root", Patient(R"("foo":1)"), IssueType::kStructure, "Patient.foo"},
      {"unknown element in a backbone element",
       Patient(R"("contact":[{"name":{"family":"A"},"foo":true}])"),
       IssueType::kStructure, "Patient.contact[0].foo"},
      {"unknown element in a datatype",
       Patient(R"("name":[{"family":"A"},{"family":"B","foo":"x"}])"),
       IssueType::kStructure, "Patient.name[1].foo"},
      {"unknown element in an extension",
       Patient(R"("extension":[{"url":"http://e","valueString":"v","foo":1}])"),
       IssueType::kStructure, "Patient.extension[0].foo"},
      {"element name in the wrong case", Patient(R"("BirthDate":"1970")"),
       IssueType::kStructure, "Patient.BirthDate"},
      {"element name in snake case", Patient(R"("birth_date":"1970")"),
       IssueType::kStructure, "Patient.birth_date"},
      {"element of another resource", Patient(R"("status":"active")"),
       IssueType::kStructure, "Patient.status"},
      {"choice element without its type", Patient(R"("deceased":true)"),
       IssueType::kStructure, "Patient.deceased"},
      {"choice element with a type it does not allow", Patient(R"("deceasedString":"yes")"),
       IssueType::kStructure, "Patient.deceasedString"},
      {"choice element with a lower-case type", Patient(R"("deceasedboolean":true)"),
       IssueType::kStructure, "Patient.deceasedboolean"},
      {"_ companion of a complex element", Patient(R"("name":[{"family":"A"}],"_name":[{"id":"n"}])"),
       IssueType::kStructure, "Patient._name"},
      {"_ companion of a complex choice", Observation(R"("valueQuantity":{"value":1},"_valueQuantity":{"id":"q"})"),
       IssueType::kStructure, "Observation._valueQuantity"},
      {"_ companion of Resource.id (a System.String)", Patient(R"("id":"a","_id":{"id":"x"})"),
       IssueType::kStructure, "Patient._id"},
      {"resourceType inside a datatype", Patient(R"("name":[{"resourceType":"HumanName","family":"A"}])"),
       IssueType::kStructure, "Patient.name[0].resourceType"},
      {"resourceType on a Bundle entry", R"({"resourceType":"Bundle","type":"collection","entry":[{"resourceType":"Patient"}]})",
       IssueType::kStructure, "Bundle.entry[0].resourceType"},

      // --- the wrong JSON type for a primitive ---
      {"string for a boolean", Patient(R"("active":"true")"), IssueType::kValue, "Patient.active"},
      {"number for a boolean", Patient(R"("active":1)"), IssueType::kValue, "Patient.active"},
      {"number for a string", Patient(R"("name":[{"family":42}])"),
       IssueType::kValue, "Patient.name[0].family"},
      {"boolean for a date", Patient(R"("birthDate":true)"), IssueType::kValue, "Patient.birthDate"},
      {"number for a code", Patient(R"("gender":1)"), IssueType::kValue, "Patient.gender"},
      {"string for an integer", Patient(R"("multipleBirthInteger":"2")"),
       IssueType::kValue, "Patient.multipleBirthInteger"},
      {"boolean for an unsignedInt", Patient(R"("photo":[{"size":true}])"),
       IssueType::kValue, "Patient.photo[0].size"},
      {"decimal written as a string", Observation(R"("valueQuantity":{"value":"1.5"})"),
       IssueType::kValue, "Observation.valueQuantity.value"},
      {"object for a primitive", Patient(R"("birthDate":{"value":"1970"})"),
       IssueType::kStructure, "Patient.birthDate"},
      {"array for a single primitive", Patient(R"("gender":["male"])"),
       IssueType::kStructure, "Patient.gender"},
      {"array for a single choice primitive", Patient(R"("deceasedBoolean":[true])"),
       IssueType::kStructure, "Patient.deceasedBoolean"},
      {"array for a single complex element", Patient(R"("maritalStatus":[{"text":"M"}])"),
       IssueType::kStructure, "Patient.maritalStatus"},
      {"object for a repeating element", Patient(R"("name":{"family":"x"})"),
       IssueType::kStructure, "Patient.name"},
      {"string for a repeating primitive", Patient(R"("name":[{"given":"Jo"}])"),
       IssueType::kStructure, "Patient.name[0].given"},
      {"string for a complex element", Patient(R"("maritalStatus":"M")"),
       IssueType::kStructure, "Patient.maritalStatus"},
      {"string in an array of complex elements", Patient(R"("name":["Jo"])"),
       IssueType::kStructure, "Patient.name[0]"},
      {"array in an array of complex elements", Patient(R"("name":[[{"family":"x"}]])"),
       IssueType::kStructure, "Patient.name[0]"},
      {"object for the contained array", Patient(R"("contained":{"resourceType":"Patient"})"),
       IssueType::kStructure, "Patient.contained"},
      {"array for Bundle.entry.resource", Bundle(R"([{"resourceType":"Patient"}])"),
       IssueType::kStructure, "Bundle.entry[0].resource"},
      {"string for a contained resource", Patient(R"("contained":["Patient/1"])"),
       IssueType::kStructure, "Patient.contained[0]"},

      // --- empty objects, arrays and strings ---
      {"empty object for a complex element", Patient(R"("maritalStatus":{})"),
       IssueType::kStructure, "Patient.maritalStatus"},
      {"empty object in an array", Patient(R"("name":[{"family":"A"},{}])"),
       IssueType::kStructure, "Patient.name[1]"},
      {"empty object for a backbone element", Patient(R"("contact":[{}])"),
       IssueType::kStructure, "Patient.contact[0]"},
      {"empty array", Patient(R"("name":[])"), IssueType::kStructure, "Patient.name"},
      {"empty array of primitives", Patient(R"("name":[{"given":[]}])"),
       IssueType::kStructure, "Patient.name[0].given"},
      {"empty string for a date", Patient(R"("birthDate":"")"),
       IssueType::kValue, "Patient.birthDate"},
      {"empty string for a string", Patient(R"("name":[{"family":""}])"),
       IssueType::kValue, "Patient.name[0].family"},
      {"empty string for Resource.id", Patient(R"("id":"")"), IssueType::kValue, "Patient.id"},
      {"empty string for Extension.url", Patient(R"("extension":[{"url":"","valueString":"v"}])"),
       IssueType::kValue, "Patient.extension[0].url"},
      {"empty _ companion", Patient(R"("birthDate":"1970","_birthDate":{})"),
       IssueType::kStructure, "Patient.birthDate"},
      {"empty extension array in a _ companion", Patient(R"("birthDate":"1970","_birthDate":{"extension":[]})"),
       IssueType::kStructure, "Patient.birthDate.extension"},
      {"empty contained resource", Patient(R"("contained":[{}])"),
       IssueType::kRequired, "Patient.contained[0]"},

      // --- nulls ---
      {"null for a single primitive", Patient(R"("birthDate":null)"),
       IssueType::kStructure, "Patient.birthDate"},
      {"null for a single choice", Patient(R"("deceasedBoolean":null)"),
       IssueType::kStructure, "Patient.deceasedBoolean"},
      {"null for a single complex element", Patient(R"("maritalStatus":null)"),
       IssueType::kStructure, "Patient.maritalStatus"},
      {"null for an array", Patient(R"("name":null)"), IssueType::kStructure, "Patient.name"},
      {"null for a _ companion", Patient(R"("birthDate":"1970","_birthDate":null)"),
       IssueType::kStructure, "Patient.birthDate"},
      {"null in an array of complex elements", Patient(R"("name":[{"family":"A"},null])"),
       IssueType::kStructure, "Patient.name[1]"},
      {"null in the contained array", Patient(R"("contained":[null])"),
       IssueType::kStructure, "Patient.contained[0]"},
      {"null for Bundle.entry.resource", Bundle("null"),
       IssueType::kStructure, "Bundle.entry[0].resource"},
      {"null in given and _given at one index", Patient(R"("name":[{"given":["A",null],"_given":[null,null]}])"),
       IssueType::kStructure, "Patient.name[0].given[1]"},
      {"null in given without _given", Patient(R"("name":[{"given":[null]}])"),
       IssueType::kStructure, "Patient.name[0].given[0]"},
      {"null in _given without given", Patient(R"("name":[{"_given":[{"id":"a"},null]}])"),
       IssueType::kStructure, "Patient.name[0].given[1]"},
      {"given longer than _given", Patient(R"("name":[{"given":["A","B"],"_given":[{"id":"x"}]}])"),
       IssueType::kStructure, "Patient.name[0].given"},
      {"_given longer than given", Patient(R"("name":[{"_given":[{"id":"a"},{"id":"b"},{"id":"c"}],"given":["A","B"]}])"),
       IssueType::kStructure, "Patient.name[0].given"},

      // --- duplicate keys ---
      {"duplicate key at the root", Patient(R"("birthDate":"1970","birthDate":"1971")"),
       IssueType::kStructure, "Patient.birthDate"},
      {"duplicate Resource.id", Patient(R"("id":"a","id":"a")"), IssueType::kStructure, "Patient.id"},
      {"duplicate array key", Patient(R"("name":[{"family":"A"}],"name":[{"family":"B"}])"),
       IssueType::kStructure, "Patient.name"},
      {"duplicate nested key", Patient(R"("name":[{"family":"A","family":"B"}])"),
       IssueType::kStructure, "Patient.name[0].family"},
      {"duplicate _birthDate", Patient(R"("birthDate":"1970","_birthDate":{"id":"a"},"_birthDate":{"id":"b"})"),
       IssueType::kStructure, "Patient.birthDate"},
      {"duplicate key in a _ companion", Patient(R"("birthDate":"1970","_birthDate":{"id":"a","id":"b"})"),
       IssueType::kStructure, "Patient.birthDate.id"},
      {"duplicate choice key", Patient(R"("deceasedBoolean":true,"deceasedBoolean":false)"),
       IssueType::kStructure, "Patient.deceasedBoolean"},
      {"duplicate key in a contained resource",
       Patient(R"("contained":[{"resourceType":"Organization","name":"A","name":"B"}])"),
       IssueType::kStructure, "Patient.contained[0].name"},
      {"duplicate key in a Bundle entry resource",
       Bundle(R"({"resourceType":"Patient","gender":"male","gender":"male"})"),
       IssueType::kStructure, "Bundle.entry[0].resource.gender"},

      // --- choice elements ---
      {"two types of one choice", Patient(R"("deceasedBoolean":true,"deceasedDateTime":"2020")"),
       IssueType::kStructure, "Patient.deceasedDateTime"},
      {"two types of one choice, other order", Patient(R"("deceasedDateTime":"2020","deceasedBoolean":true)"),
       IssueType::kStructure, "Patient.deceasedBoolean"},
      {"value of one type, _ companion of another", Patient(R"("deceasedBoolean":true,"_deceasedDateTime":{"id":"d"})"),
       IssueType::kStructure, "Patient.deceasedDateTime"},
      {"two types of Observation.value", Observation(R"("valueString":"s","valueQuantity":{"value":1})"),
       IssueType::kStructure, "Observation.valueQuantity"},
      {"two types of Extension.value", Patient(R"("extension":[{"url":"http://e","valueString":"s","valueCode":"c"}])"),
       IssueType::kStructure, "Patient.extension[0].valueCode"},
      {"three types of one choice", Patient(R"("multipleBirthBoolean":true,"multipleBirthInteger":2,"_multipleBirthInteger":{"id":"m"})"),
       IssueType::kStructure, "Patient.multipleBirthInteger", 2},

      // --- the _ companion of a primitive ---
      {"unknown key in a _ companion", Patient(R"("birthDate":"1970","_birthDate":{"foo":1})"),
       IssueType::kStructure, "Patient.birthDate.foo"},
      {"value key in a _ companion", Patient(R"("_birthDate":{"value":"1970"})"),
       IssueType::kStructure, "Patient.birthDate.value"},
      {"unknown key in a _given item", Patient(R"("name":[{"given":["A"],"_given":[{"foo":1}]}])"),
       IssueType::kStructure, "Patient.name[0].given[0].foo"},
      {"string for a _ companion", Patient(R"("birthDate":"1970","_birthDate":"x")"),
       IssueType::kStructure, "Patient.birthDate"},
      {"array for a single _ companion", Patient(R"("birthDate":"1970","_birthDate":[{"id":"x"}])"),
       IssueType::kStructure, "Patient.birthDate"},
      {"object for _given", Patient(R"("name":[{"given":["A"],"_given":{"id":"x"}}])"),
       IssueType::kStructure, "Patient.name[0].given"},
      {"string in _given", Patient(R"("name":[{"given":["A"],"_given":["x"]}])"),
       IssueType::kStructure, "Patient.name[0].given[0]"},
      {"object for the extension of a _ companion", Patient(R"("birthDate":"1970","_birthDate":{"extension":{"url":"http://e"}})"),
       IssueType::kStructure, "Patient.birthDate.extension"},
      {"extension without url in a _ companion",
       Patient(R"("birthDate":"1970","_birthDate":{"extension":[{"valueString":"x"}]})"),
       IssueType::kRequired, "Patient.birthDate.extension[0].url"},
      {"invalid id in a _ companion", Patient(R"("birthDate":"1970","_birthDate":{"id":""})"),
       IssueType::kValue, "Patient.birthDate.id"},
  };
}

std::vector<InvalidCase> FormatCases() {
  return {
      // --- date, dateTime, instant, time ---
      {"date: February 30th", Patient(R"("birthDate":"2019-02-30")"), IssueType::kValue, "Patient.birthDate"},
      {"date: February 29th of a common year", Patient(R"("birthDate":"2019-02-29")"), IssueType::kValue, "Patient.birthDate"},
      {"date: month 13", Patient(R"("birthDate":"2019-13-01")"), IssueType::kValue, "Patient.birthDate"},
      {"date: two-digit year", Patient(R"("birthDate":"19-01-01")"), IssueType::kValue, "Patient.birthDate"},
      {"date: one-digit month", Patient(R"("birthDate":"2019-1-01")"), IssueType::kValue, "Patient.birthDate"},
      {"date: year 0000", Patient(R"("birthDate":"0000")"), IssueType::kValue, "Patient.birthDate"},
      {"date with a time", Patient(R"("birthDate":"2019-01-01T00:00:00Z")"), IssueType::kValue, "Patient.birthDate"},
      {"dateTime: time without zone", Patient(R"("deceasedDateTime":"2019-01-01T10:00:00")"),
       IssueType::kValue, "Patient.deceasedDateTime"},
      {"dateTime: zone beyond +14:00", Patient(R"("deceasedDateTime":"2019-01-01T10:00:00+15:00")"),
       IssueType::kValue, "Patient.deceasedDateTime"},
      {"dateTime: zone without colon", Patient(R"("deceasedDateTime":"2019-01-01T10:00:00+0100")"),
       IssueType::kValue, "Patient.deceasedDateTime"},
      {"dateTime: time without seconds", Patient(R"("deceasedDateTime":"2019-01-01T10:00Z")"),
       IssueType::kValue, "Patient.deceasedDateTime"},
      {"dateTime: hour 24", Patient(R"("deceasedDateTime":"2019-01-01T24:00:00Z")"),
       IssueType::kValue, "Patient.deceasedDateTime"},
      {"dateTime: space instead of T", Patient(R"("deceasedDateTime":"2019-01-01 10:00:00Z")"),
       IssueType::kValue, "Patient.deceasedDateTime"},
      {"instant: no seconds", Patient(R"("meta":{"lastUpdated":"2019-01-01T10:00Z"})"),
       IssueType::kValue, "Patient.meta.lastUpdated"},
      {"instant: no zone", Patient(R"("meta":{"lastUpdated":"2019-01-01T10:00:00"})"),
       IssueType::kValue, "Patient.meta.lastUpdated"},
      {"instant: date only", Patient(R"("meta":{"lastUpdated":"2019-01-01"})"),
       IssueType::kValue, "Patient.meta.lastUpdated"},
      {"instant: empty fraction", Observation(R"("issued":"2019-01-01T10:00:00.Z")"),
       IssueType::kValue, "Observation.issued"},
      {"time: hour 25", Observation(R"("valueTime":"25:00:00")"), IssueType::kValue, "Observation.valueTime"},
      {"time: with a zone", Observation(R"("valueTime":"10:00:00Z")"), IssueType::kValue, "Observation.valueTime"},
      {"time: without seconds", Observation(R"("valueTime":"10:00")"), IssueType::kValue, "Observation.valueTime"},

      // --- id ---
      {"id: 65 characters", Patient(R"("id":")" + kId65 + R"(")"), IssueType::kValue, "Patient.id"},
      {"id: underscore", Patient(R"("id":"a_b")"), IssueType::kValue, "Patient.id"},
      {"id: space", Patient(R"("id":"a b")"), IssueType::kValue, "Patient.id"},
      {"id: slash", Patient(R"("id":"Patient/1")"), IssueType::kValue, "Patient.id"},
      {"id: Meta.versionId", Patient(R"("meta":{"versionId":"v 1"})"), IssueType::kValue, "Patient.meta.versionId"},
      {"id: of a contained resource", Patient(R"("contained":[{"resourceType":"Patient","id":"#p"}])"),
       IssueType::kValue, "Patient.contained[0].id"},

      // --- code ---
      {"code: leading space", Patient(R"("gender":" male")"), IssueType::kValue, "Patient.gender"},
      {"code: trailing space", Patient(R"("language":"en ")"), IssueType::kValue, "Patient.language"},
      {"code: double space", Patient(R"("language":"en  US")"), IssueType::kValue, "Patient.language"},
      {"code: tab", Patient(R"("language":"en\tUS")"), IssueType::kValue, "Patient.language"},
      {"code: only a space", Patient(R"("language":" ")"), IssueType::kValue, "Patient.language"},

      // --- uri, url, canonical, oid, uuid ---
      {"uri: space", Patient(R"("implicitRules":"http://a b")"), IssueType::kValue, "Patient.implicitRules"},
      {"uri: Identifier.system with a space", Patient(R"("identifier":[{"system":"urn: x","value":"1"}])"),
       IssueType::kValue, "Patient.identifier[0].system"},
      {"uri: Extension.url with a space", Patient(R"("extension":[{"url":"http://e x","valueString":"v"}])"),
       IssueType::kValue, "Patient.extension[0].url"},
      {"oid: without urn:oid:", Patient(R"("extension":[{"url":"http://e","valueOid":"1.2.3"}])"),
       IssueType::kValue, "Patient.extension[0].valueOid"},
      {"oid: arc with a leading zero", Patient(R"("extension":[{"url":"http://e","valueOid":"urn:oid:1.02"}])"),
       IssueType::kValue, "Patient.extension[0].valueOid"},
      {"uuid: upper case", Patient(R"("extension":[{"url":"http://e","valueUuid":"urn:uuid:C757873D-EC9A-4326-A141-556F43239520"}])"),
       IssueType::kValue, "Patient.extension[0].valueUuid"},
      {"uuid: without urn:uuid:", Patient(R"("extension":[{"url":"http://e","valueUuid":"c757873d-ec9a-4326-a141-556f43239520"}])"),
       IssueType::kValue, "Patient.extension[0].valueUuid"},

      // --- base64Binary ---
      {"base64Binary: length not a multiple of 4", Patient(R"("photo":[{"data":"abc"}])"),
       IssueType::kValue, "Patient.photo[0].data"},
      {"base64Binary: illegal character", Patient(R"("photo":[{"data":"ab$d"}])"),
       IssueType::kValue, "Patient.photo[0].data"},
      {"base64Binary: padding in the middle", Patient(R"("photo":[{"data":"ab=cdefg"}])"),
       IssueType::kValue, "Patient.photo[0].data"},

      // --- integer, positiveInt, unsignedInt, decimal ---
      {"integer: fraction", Patient(R"("multipleBirthInteger":1.5)"), IssueType::kValue, "Patient.multipleBirthInteger"},
      {"integer: 1.0", Patient(R"("multipleBirthInteger":1.0)"), IssueType::kValue, "Patient.multipleBirthInteger"},
      {"integer: exponent", Patient(R"("multipleBirthInteger":1e2)"), IssueType::kValue, "Patient.multipleBirthInteger"},
      {"integer: 2147483648", Patient(R"("multipleBirthInteger":2147483648)"), IssueType::kValue, "Patient.multipleBirthInteger"},
      {"integer: -2147483649", Patient(R"("multipleBirthInteger":-2147483649)"), IssueType::kValue, "Patient.multipleBirthInteger"},
      {"integer: in Extension.valueInteger", Patient(R"("extension":[{"url":"http://e","valueInteger":99999999999}])"),
       IssueType::kValue, "Patient.extension[0].valueInteger"},
      {"positiveInt: 0", Observation(R"("effectiveTiming":{"repeat":{"count":0}})"),
       IssueType::kValue, "Observation.effectiveTiming.repeat.count"},
      {"positiveInt: -1", Patient(R"("telecom":[{"system":"phone","value":"1","rank":-1}])"),
       IssueType::kValue, "Patient.telecom[0].rank"},
      {"unsignedInt: -1", Patient(R"("photo":[{"size":-1}])"), IssueType::kValue, "Patient.photo[0].size"},
      {"unsignedInt: -0", Patient(R"("photo":[{"size":-0}])"), IssueType::kValue, "Patient.photo[0].size"},
      {"unsignedInt: fraction", Patient(R"("photo":[{"size":1.5}])"), IssueType::kValue, "Patient.photo[0].size"},
      {"unsignedInt: Bundle.total -1", R"({"resourceType":"Bundle","type":"searchset","total":-1})",
       IssueType::kValue, "Bundle.total"},
      {"decimal: boolean", Observation(R"("valueQuantity":{"value":true})"),
       IssueType::kValue, "Observation.valueQuantity.value"},

      // --- string, xhtml ---
      {"string: control character", Patient(R"("name":[{"family":"a\u0001b"}])"),
       IssueType::kValue, "Patient.name[0].family"},
      {"string: escaped NUL", Patient(R"("name":[{"text":"a\u0000"}])"),
       IssueType::kValue, "Patient.name[0].text"},
      {"string: control character in Element.id", Patient(R"("name":[{"id":"n\u001f","family":"A"}])"),
       IssueType::kValue, "Patient.name[0].id"},
      {"xhtml: not a div", Patient(R"("text":{"status":"generated","div":"<p>x</p>"})"),
       IssueType::kValue, "Patient.text.div"},
      {"xhtml: a div outside the XHTML namespace", Patient(R"("text":{"status":"generated","div":"<div>x</div>"})"),
       IssueType::kValue, "Patient.text.div"},
      {"xhtml: not well-formed", Patient(R"("text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>x</div>"})"),
       IssueType::kValue, "Patient.text.div"},
      {"xhtml: an HTML entity", Patient(R"("text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">a&nbsp;b</div>"})"),
       IssueType::kValue, "Patient.text.div"},
      {"xhtml: a DOCTYPE", Patient(R"("text":{"status":"generated","div":"<!DOCTYPE div><div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"})"),
       IssueType::kValue, "Patient.text.div"},
      {"txt-1: <script>", Patient(R"("text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><script>x()</script></div>"})"),
       IssueType::kInvariant, "Patient.text.div"},
      {"txt-1: an event attribute", Patient(R"("text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p onclick=\"x()\">x</p></div>"})"),
       IssueType::kInvariant, "Patient.text.div"},
      {"txt-1: a javascript: link", Patient(R"("text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><a href=\" JavaScript:x()\">x</a></div>"})"),
       IssueType::kInvariant, "Patient.text.div"},
      {"txt-1: an element of another namespace", Patient(R"("text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><svg xmlns=\"http://www.w3.org/2000/svg\"/>x</div>"})"),
       IssueType::kInvariant, "Patient.text.div"},
      {"txt-2: whitespace only", Patient(R"("text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"> <p>\n</p> </div>"})"),
       IssueType::kInvariant, "Patient.text.div"},
      {"txt-1 in a contained resource", Patient(R"("contained":[{"resourceType":"Patient","id":"c","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><iframe/>x</div>"}}])"),
       IssueType::kInvariant, "Patient.contained[0].text.div"},

      // --- codes outside a required ValueSet ---
      {"code-invalid: gender mal", Patient(R"("gender":"mal")"), IssueType::kCodeInvalid, "Patient.gender"},
      {"code-invalid: gender Male", Patient(R"("gender":"Male")"), IssueType::kCodeInvalid, "Patient.gender"},
      {"code-invalid: contact gender", Patient(R"("contact":[{"name":{"family":"A"},"gender":"x"}])"),
       IssueType::kCodeInvalid, "Patient.contact[0].gender"},
      {"code-invalid: HumanName.use", Patient(R"("name":[{"use":"formal","family":"A"}])"),
       IssueType::kCodeInvalid, "Patient.name[0].use"},
      {"code-invalid: Narrative.status", Patient(R"("text":{"status":"made-up","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"})"),
       IssueType::kCodeInvalid, "Patient.text.status"},
      {"code-invalid: Observation.status", R"({"resourceType":"Observation","status":"done","code":{"text":"c"}})",
       IssueType::kCodeInvalid, "Observation.status"},
      {"code-invalid: Quantity.comparator", Observation(R"("valueQuantity":{"value":1,"comparator":"="})"),
       IssueType::kCodeInvalid, "Observation.valueQuantity.comparator"},
      {"code-invalid: Bundle.type", R"({"resourceType":"Bundle","type":"batch-result"})",
       IssueType::kCodeInvalid, "Bundle.type"},
  };
}

std::vector<InvalidCase> RequiredAndNestingCases() {
  return {
      // --- missing required elements ---
      {"Observation.status missing", R"({"resourceType":"Observation","code":{"text":"c"}})",
       IssueType::kRequired, "Observation.status"},
      {"Observation.code missing", R"({"resourceType":"Observation","status":"final"})",
       IssueType::kRequired, "Observation.code"},
      {"Observation.status and code missing", R"({"resourceType":"Observation","id":"o"})",
       IssueType::kRequired, "Observation.code", 2},
      {"Extension.url missing", Patient(R"("extension":[{"valueString":"v"}])"),
       IssueType::kRequired, "Patient.extension[0].url"},
      {"nested Extension.url missing", Patient(R"("extension":[{"url":"http://e","extension":[{"valueString":"v"}]}])"),
       IssueType::kRequired, "Patient.extension[0].extension[0].url"},
      {"modifierExtension url missing", Patient(R"("modifierExtension":[{"valueBoolean":true}])"),
       IssueType::kRequired, "Patient.modifierExtension[0].url"},
      {"Narrative.div missing", Patient(R"("text":{"status":"generated"})"),
       IssueType::kRequired, "Patient.text.div"},
      {"Narrative.status missing", Patient(R"("text":{"div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"})"),
       IssueType::kRequired, "Patient.text.status"},
      {"choice element missing", R"({"resourceType":"MedicationRequest","status":"active","intent":"order","subject":{"reference":"Patient/1"}})",
       IssueType::kRequired, "MedicationRequest.medication"},
      {"Bundle.type missing", R"({"resourceType":"Bundle","entry":[{"fullUrl":"urn:x"}]})",
       IssueType::kRequired, "Bundle.type"},
      {"backbone element field missing", Patient(R"("link":[{"type":"seealso"}])"),
       IssueType::kRequired, "Patient.link[0].other"},
      {"Patient.communication.language missing", Patient(R"("communication":[{"preferred":true}])"),
       IssueType::kRequired, "Patient.communication[0].language"},
      {"Observation.component.code missing", Observation(R"("component":[{"valueString":"x"}])"),
       IssueType::kRequired, "Observation.component[0].code"},
      {"required element of a contained resource", Patient(R"("contained":[{"resourceType":"Observation","code":{"text":"c"}}])"),
       IssueType::kRequired, "Patient.contained[0].status"},
      {"required element of a Bundle entry resource", Bundle(R"({"resourceType":"Observation","status":"final"})"),
       IssueType::kRequired, "Bundle.entry[0].resource.code"},

      // --- contained resources and Bundle entries ---
      {"contained resource that contains (dom-2)",
       Patient(R"("contained":[{"resourceType":"Patient","id":"a","contained":[{"resourceType":"Organization","id":"b"}]}])"),
       IssueType::kInvariant, "Patient.contained[0].contained[0]"},
      {"contained resource that contains two",
       Patient(R"("contained":[{"resourceType":"Organization","id":"o"},{"resourceType":"Patient","id":"a","contained":[{"resourceType":"Organization","id":"b"},{"resourceType":"Organization","id":"c"}]}])"),
       IssueType::kInvariant, "Patient.contained[1].contained[1]", 2},
      {"dom-2 in a Bundle entry resource",
       Bundle(R"({"resourceType":"Patient","contained":[{"resourceType":"Patient","id":"a","contained":[{"resourceType":"Patient","id":"b"}]}]})"),
       IssueType::kInvariant, "Bundle.entry[0].resource.contained[0].contained[0]"},
      {"invalid code in a contained resource", Patient(R"("contained":[{"resourceType":"Patient","id":"a","gender":"x"}])"),
       IssueType::kCodeInvalid, "Patient.contained[0].gender"},
      {"unknown element in a contained resource", Patient(R"("contained":[{"resourceType":"Organization","id":"o"},{"resourceType":"Patient","id":"a","foo":1}])"),
       IssueType::kStructure, "Patient.contained[1].foo"},
      {"contained resource of an unknown type", Patient(R"("contained":[{"resourceType":"Nope","id":"a"}])"),
       IssueType::kNotSupported, "Patient.contained[0].resourceType"},
      {"contained resourceType not a string", Patient(R"("contained":[{"resourceType":5,"id":"a"}])"),
       IssueType::kStructure, "Patient.contained[0].resourceType"},
      {"contained resource without resourceType", Patient(R"("contained":[{"id":"a"}])"),
       IssueType::kRequired, "Patient.contained[0]"},
      {"invalid date in a Bundle entry resource", Bundle(R"({"resourceType":"Patient","birthDate":"2019-02-30"})"),
       IssueType::kValue, "Bundle.entry[0].resource.birthDate"},
      {"unknown element in the second Bundle entry",
       R"({"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient"}},{"resource":{"resourceType":"Patient","foo":1}}]})",
       IssueType::kStructure, "Bundle.entry[1].resource.foo"},
      {"Bundle entry resource of an unknown type", Bundle(R"({"resourceType":"Patientt"})"),
       IssueType::kNotSupported, "Bundle.entry[0].resource.resourceType"},
      {"Bundle entry resource without resourceType", Bundle(R"({"id":"x"})"),
       IssueType::kRequired, "Bundle.entry[0].resource"},
      {"Parameters.parameter.resource",
       R"({"resourceType":"Parameters","parameter":[{"name":"p","resource":{"resourceType":"Patient","gender":"x"}}]})",
       IssueType::kCodeInvalid, "Parameters.parameter[0].resource.gender"},
      {"Bundle inside a contained resource",
       Patient(R"("contained":[{"resourceType":"Bundle","id":"b","type":"collection","entry":[{"resource":{"resourceType":"Patient","birthDate":"x"}}]}])"),
       IssueType::kValue, "Patient.contained[0].entry[0].resource.birthDate"},

      // --- paths through choice elements ---
      {"inside Observation.valueQuantity", Observation(R"("valueQuantity":{"value":"1"})"),
       IssueType::kValue, "Observation.valueQuantity.value"},
      {"unknown element in Observation.valueQuantity", Observation(R"("valueQuantity":{"value":1,"foo":1})"),
       IssueType::kStructure, "Observation.valueQuantity.foo"},
      {"inside a component's valueQuantity", Observation(R"("component":[{"code":{"text":"a"},"valueQuantity":{"value":"1"}}])"),
       IssueType::kValue, "Observation.component[0].valueQuantity.value"},
      {"inside Observation.effectivePeriod", Observation(R"("effectivePeriod":{"start":"2019-02-30"})"),
       IssueType::kValue, "Observation.effectivePeriod.start"},
      {"Extension.valueBoolean", Patient(R"("extension":[{"url":"http://e","valueBoolean":"yes"}])"),
       IssueType::kValue, "Patient.extension[0].valueBoolean"},
      {"inside Extension.valueHumanName", Patient(R"("extension":[{"url":"http://e","valueHumanName":{"use":"x"}}])"),
       IssueType::kCodeInvalid, "Patient.extension[0].valueHumanName.use"},
  };
}
// clang-format on

TEST_CASE("invalid documents and resourceTypes fail with their issue") {
  const std::vector<InvalidCase> cases = DocumentCases();
  CHECK(cases.size() == 38);
  for (const InvalidCase& c : cases) CheckInvalid(c);
}

TEST_CASE("invalid elements fail with their issue and location") {
  const std::vector<InvalidCase> cases = ElementCases();
  CHECK(cases.size() == 85);
  for (const InvalidCase& c : cases) CheckInvalid(c);
}

TEST_CASE("invalid primitive values fail with their issue and location") {
  const std::vector<InvalidCase> cases = FormatCases();
  CHECK(cases.size() == 76);
  for (const InvalidCase& c : cases) CheckInvalid(c);
}

TEST_CASE("missing required elements and errors in nested resources have full paths") {
  const std::vector<InvalidCase> cases = RequiredAndNestingCases();
  CHECK(cases.size() == 35);
  for (const InvalidCase& c : cases) CheckInvalid(c);
}

TEST_CASE("every error of a document is reported, in document order") {
  const std::string json = Patient(
      R"("foo":1,"active":"yes","gender":"mal","birthDate":"2019-02-30",)"
      R"("name":[null],"contact":[{"gender":"female","bar":2}],"extension":[{"valueString":"x"}])");
  auto result = ParseResource(json);
  REQUIRE_FALSE(result.ok());
  struct Expected {
    IssueType type;
    std::string_view expression;
  };
  const Expected expected[] = {
      {IssueType::kStructure, "Patient.foo"},
      {IssueType::kValue, "Patient.active"},
      {IssueType::kCodeInvalid, "Patient.gender"},
      {IssueType::kValue, "Patient.birthDate"},
      {IssueType::kStructure, "Patient.name[0]"},
      {IssueType::kStructure, "Patient.contact[0].bar"},
      {IssueType::kRequired, "Patient.extension[0].url"},
  };
  const std::vector<Issue>& issues = result.status().issues();
  CAPTURE(result.status().ToString());
  REQUIRE(issues.size() == std::size(expected));
  for (std::size_t i = 0; i < issues.size(); ++i) {
    CAPTURE(i);
    CHECK(issues[i].severity == Severity::kError);
    CHECK(issues[i].type == expected[i].type);
    CHECK(issues[i].expression == expected[i].expression);
  }
}

TEST_CASE("five distinct errors give exactly five issues") {
  auto result = ParseResource(Patient(
      R"("foo":1,"gender":"mal","birthDate":"2019-02-30","active":"yes","name":[null])"));
  REQUIRE_FALSE(result.ok());
  const std::vector<Issue>& issues = result.status().issues();
  CAPTURE(result.status().ToString());
  REQUIRE(issues.size() == 5);
  CHECK(issues[0].type == IssueType::kStructure);
  CHECK(issues[0].expression == "Patient.foo");
  CHECK(issues[0].diagnostics == "Unknown element 'foo' in Patient");
  CHECK(issues[1].type == IssueType::kCodeInvalid);
  CHECK(issues[1].expression == "Patient.gender");
  CHECK(issues[1].diagnostics ==
        "The code 'mal' is not in the required ValueSet "
        "http://hl7.org/fhir/ValueSet/administrative-gender");
  CHECK(issues[2].type == IssueType::kValue);
  CHECK(issues[2].expression == "Patient.birthDate");
  CHECK(issues[2].diagnostics == "Invalid date '2019-02-30'");
  CHECK(issues[3].type == IssueType::kValue);
  CHECK(issues[3].expression == "Patient.active");
  CHECK(issues[3].diagnostics == "A boolean must be a JSON boolean, found a string");
  CHECK(issues[4].type == IssueType::kStructure);
  CHECK(issues[4].expression == "Patient.name[0]");
  CHECK(issues[4].diagnostics == "null is only allowed in arrays of primitives");
}

TEST_CASE("the same document is valid once the errors are removed") {
  // Guards the table above against failing for a reason other than the one it names.
  const std::string_view valid[] = {
      R"({"resourceType":"Patient","id":"a","active":true,"gender":"male","birthDate":"2019-02-28",)"
      R"("deceasedDateTime":"2019-01-01T10:00:00+14:00","name":[{"given":["A",null],)"
      R"("_given":[null,{"id":"g"}]}],"photo":[{"data":"abcd","size":0}],)"
      R"("meta":{"lastUpdated":"2019-01-01T10:00:00.5Z","versionId":"v1"},"language":"en-US",)"
      R"("extension":[{"url":"http://e","valueOid":"urn:oid:1.2.3"},)"
      R"({"url":"http://e","valueUuid":"urn:uuid:c757873d-ec9a-4326-a141-556f43239520"}]})",
      R"({"resourceType":"Observation","status":"final","code":{"text":"c"},)"
      R"("effectiveTiming":{"repeat":{"count":1}},"valueQuantity":{"value":1.5,"comparator":"<"}})",
      R"({"resourceType":"Observation","_status":{"extension":[{"url":"http://e","valueCode":"x"}]},)"
      R"("code":{"text":"c"},"valueTime":"23:59:60"})",
      R"({"resourceType":"Patient","contained":[{"resourceType":"Patient","id":"a"}],)"
      R"("text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}})",
  };
  for (std::string_view json : valid) {
    CAPTURE(json);
    auto result = ParseResource(json);
    CHECK_MESSAGE(result.ok(), result.status().ToString());
  }
}

// --- cases that were parser bugs, fixed ---------------------------------------------------------

// clang-format off
std::vector<InvalidCase> KnownBugCases() {
  return {
      // JSON objects must not have duplicate keys; the second resourceType is skipped unseen.
      {"duplicate resourceType", R"({"resourceType":"Patient","resourceType":"Observation"})",
       IssueType::kStructure, "Patient.resourceType"},
      {"duplicate resourceType in a contained resource",
       Patient(R"("contained":[{"resourceType":"Organization","id":"o","resourceType":"Patient"}])"),
       IssueType::kStructure, "Patient.contained[0].resourceType"},
      // A lone low surrogate escape is not Unicode; it is kept as the invalid UTF-8 bytes ED B0 80.
      {"lone low surrogate escape", Patient(R"("name":[{"family":"\udc00"}])"),
       IssueType::kStructure, ""},
      // One wrong item of a primitive array is one error; the parser adds a second, false one
      // ("must not be null in both 'given' and '_given'") for the same item.
      {"number in an array of strings", Patient(R"("name":[{"given":["A",5]}])"),
       IssueType::kValue, "Patient.name[0].given[1]"},
      {"object in an array of strings", Patient(R"("name":[{"given":[{"value":"a"}]}])"),
       IssueType::kStructure, "Patient.name[0].given[0]"},
      {"empty string in an array", Patient(R"("name":[{"given":[""]}])"),
       IssueType::kValue, "Patient.name[0].given[0]"},
      {"control character in an array item", Patient(R"("name":[{"given":["a\u0001"]}])"),
       IssueType::kValue, "Patient.name[0].given[0]"},
      {"invalid canonical in an array", Patient(R"("meta":{"profile":["http://a b"]})"),
       IssueType::kValue, "Patient.meta.profile[0]"},
      // A scalar of the wrong JSON type is kValue for every primitive ("number for a string"
      // above), but kStructure for the System.String elements Resource.id, Element.id and
      // Extension.url.
      {"number for Resource.id", Patient(R"("id":123)"), IssueType::kValue, "Patient.id"},
      {"boolean for Element.id", Patient(R"("name":[{"id":true,"family":"A"}])"),
       IssueType::kValue, "Patient.name[0].id"},
      {"number for Extension.url", Patient(R"("extension":[{"url":5,"valueString":"v"}])"),
       IssueType::kValue, "Patient.extension[0].url"},
  };
}
// clang-format on

TEST_CASE("invalid documents that were once reported wrongly") {
  for (const InvalidCase& c : KnownBugCases()) CheckInvalid(c);
}

// --- an error in one array item must not hide a null elsewhere in the array ----------------------

// clang-format off
std::vector<InvalidCase> OpenBugCases() {
  return {
      // An error in one item of a primitive array must not hide a null-in-both error in another
      // item of the same array: every error of the document is reported.
      {"wrong item and null item in one array", Patient(R"("name":[{"given":[5,null]}])"),
       IssueType::kStructure, "Patient.name[0].given[1]", 2},
      {"bad _given item and null item in one array",
       Patient(R"("name":[{"given":["a",null],"_given":[{"foo":1},null]}])"),
       IssueType::kStructure, "Patient.name[0].given[1]", 2},
      {"invalid canonical and null item in one array", Patient(R"("meta":{"profile":[null,"http://a b"]})"),
       IssueType::kStructure, "Patient.meta.profile[0]", 2},
  };
}
// clang-format on

TEST_CASE("an error in one array item does not hide another item's error") {
  for (const InvalidCase& c : OpenBugCases()) CheckInvalid(c);
}

}  // namespace
}  // namespace fhir::json
