// The FHIR XML writer (model -> XML): what it writes reads back as the same resource, for inline
// cases and for every official R4 example (JSON -> model -> XML -> model -> JSON).

#include "fhir/xml/xml_writer.h"

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>

#include "fhir/json/dom.h"
#include "fhir/json/parser.h"
#include "fhir/json/writer.h"
#include "fhir/xml/xml_reader.h"

namespace fhir::xml {
namespace {

std::unique_ptr<Resource> FromJson(std::string_view json) {
  auto parsed = json::ParseResource(json);
  REQUIRE_MESSAGE(parsed.ok(), parsed.status().ToString());
  return std::move(parsed).value();
}

TEST_CASE("WriteXmlResource writes the R4 XML form") {
  auto patient = FromJson(
      R"({"resourceType":"Patient","id":"p","text":{"status":"generated",)"
      R"("div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>a &amp; b</p></div>"},)"
      R"("contained":[{"resourceType":"Organization","id":"o"}],)"
      R"("extension":[{"url":"http://x","valueDecimal":1.50}],"active":true,)"
      R"("name":[{"id":"n","given":["A",null],"_given":[null,{"extension":[{"url":"http://y",)"
      R"("valueBoolean":false}]}]}],"multipleBirthInteger":3})");
  CHECK(WriteXmlResource(*patient) ==
        R"(<Patient xmlns="http://hl7.org/fhir"><id value="p"/><text><status value="generated"/>)"
        R"(<div xmlns="http://www.w3.org/1999/xhtml"><p>a &amp; b</p></div></text>)"
        R"(<contained><Organization><id value="o"/></Organization></contained>)"
        R"(<extension url="http://x"><valueDecimal value="1.50"/></extension>)"
        R"(<active value="true"/><name id="n"><given value="A"/><given>)"
        R"(<extension url="http://y"><valueBoolean value="false"/></extension></given></name>)"
        R"(<multipleBirthInteger value="3"/></Patient>)");
}

TEST_CASE("WriteXmlResource keeps line breaks and tabs in values") {
  auto patient = FromJson(
      R"({"resourceType":"Patient","name":[{"text":"a\n\nb\r\nc\td  e"}]})");
  std::string xml = WriteXmlResource(*patient);
  CHECK(xml == R"(<Patient xmlns="http://hl7.org/fhir"><name><text value="a&#10;&#10;b&#13;&#10;c&#9;d  e"/></name></Patient>)");
  auto back = ParseXmlResource(xml);
  REQUIRE_MESSAGE(back.ok(), back.status().ToString());
  CHECK(json::Write(**back) == json::Write(*patient));
}

TEST_CASE("ResourceToXml reports every node with its path") {
  auto patient = FromJson(R"({"resourceType":"Patient","name":[{"given":["A","B"]}]})");
  std::vector<std::string> seen;
  ResourceToXml(*patient, [&](const TypeInfo& type, const void*, std::span<const std::size_t> path) {
    std::string s(type.name);
    for (std::size_t i : path) s += "/" + std::to_string(i);
    seen.push_back(s);
  });
  CHECK(seen == std::vector<std::string>{"Patient", "HumanName/0", "string/0/0", "string/0/1"});
}

// The XHTML of a narrative as an XML reader sees it: a div whose attributes hold raw line
// breaks (legal in JSON) reads back from XML with spaces there (attribute-value normalization).
std::string CanonicalDiv(std::string_view div) {
  auto parsed = ParseXml(div);
  return parsed.ok() ? WriteXml(*parsed) : std::string(div);
}

// Whether `a` and `b` are the same JSON, narrative divs compared by CanonicalDiv.
bool SameJson(const json::JsonValue& a, const json::JsonValue& b, std::string_view key = {}) {
  if (a.kind != b.kind) return false;
  if ((a.is_array() || a.is_object()) && a.size != b.size) return false;
  switch (a.kind) {
    case json::JsonValue::Kind::kString:
      return a.str() == b.str() || (key == "div" && CanonicalDiv(a.str()) == CanonicalDiv(b.str()));
    case json::JsonValue::Kind::kNumber:
      return a.str() == b.str();
    case json::JsonValue::Kind::kArray:
      for (std::size_t i = 0; i < a.size; ++i) {
        if (!SameJson(a.items[i], b.items[i], key)) return false;
      }
      return true;
    case json::JsonValue::Kind::kObject:
      for (std::size_t i = 0; i < a.size; ++i) {
        if (a.members[i].name != b.members[i].name ||
            !SameJson(a.members[i].value, b.members[i].value, a.members[i].name)) {
          return false;
        }
      }
      return true;
    default:
      return true;
  }
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST_CASE("every official R4 example reads back from its XML unchanged") {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(FHIR_EXAMPLES_DIR)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() == 5306);
  int passed = 0;
  int divs = 0;
  for (const auto& path : files) {
    auto parsed = json::ParseResource(ReadFile(path));
    if (!parsed.ok()) continue;  // the invalid examples of roundtrip_skips.txt
    std::string json = json::Write(**parsed);
    std::string xml = WriteXmlResource(**parsed);
    auto back = ParseXmlResource(xml);
    if (!back.ok()) {
      FAIL_CHECK(path.filename().string() << ": " << back.status().ToString());
      continue;
    }
    std::string again = json::Write(**back);
    json::JsonDocument before;
    json::JsonDocument after;
    REQUIRE(before.Parse(json).ok());
    REQUIRE(after.Parse(again).ok());
    if (!SameJson(before.root(), after.root())) {
      std::size_t at = 0;
      while (at < json.size() && at < again.size() && json[at] == again[at]) ++at;
      std::size_t from = at < 40 ? 0 : at - 40;
      FAIL_CHECK(path.filename().string() << ": differs after XML at byte " << at << ": "
                                          << json.substr(from, 100) << " | "
                                          << again.substr(from, 100));
      continue;
    }
    if (again != json) ++divs;
    ++passed;
  }
  MESSAGE(passed << " examples read back from XML unchanged (" << divs
                 << " with a narrative whose attributes hold line breaks)");
  CHECK(passed == 5288);  // 5,306 less the invalid ones of roundtrip_skips.txt
}

}  // namespace
}  // namespace fhir::xml
