// libFuzzer target for FHIRPath: any bytes as an expression, parsed and (when it parses)
// evaluated on a Patient, normally and in strict mode. Beyond "never crash": parsing is
// deterministic, and the ParseCached result is the same expression.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "fhir/fhirpath/fhirpath.h"
#include "fhir/json/parser.h"
#include "fhir/r4/resource.h"

namespace {

const fhir::Resource& TestPatient() {
  static const std::unique_ptr<fhir::Resource> patient = [] {
    auto parsed = fhir::json::ParseResource(R"({
      "resourceType": "Patient", "id": "p1",
      "contained": [{"resourceType": "Organization", "id": "o1", "name": "Clinic"}],
      "extension": [{"url": "http://example.org/x", "valueQuantity": {"value": 1.5, "code": "mg",
                     "system": "http://unitsofmeasure.org"}}],
      "active": true,
      "name": [{"use": "official", "family": "Chalmers", "given": ["Peter", "James"]}],
      "telecom": [{"system": "phone", "value": "555"}],
      "gender": "male", "birthDate": "1974-12-25",
      "_birthDate": {"extension": [{"url": "http://example.org/t", "valueTime": "14:35:45"}]},
      "deceasedDateTime": "2015-02-04T14:34:28+10:00",
      "managingOrganization": {"reference": "#o1"}
    })");
    if (!parsed.ok()) std::abort();
    return std::move(parsed).value();
  }();
  return *patient;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = fhir::fhirpath::Parse(text);
  auto again = fhir::fhirpath::Parse(text);
  if (parsed.ok() != again.ok()) std::abort();
  if (!parsed.ok()) return 0;
  auto cached = fhir::fhirpath::ParseCached(text);
  if (!cached.ok() || cached.value()->text() != text) std::abort();
  fhir::fhirpath::Environment env;
  for (bool strict : {false, true}) {
    env.strict = strict;
    auto result = fhir::fhirpath::Evaluate(*parsed.value(), TestPatient(), env);
    if (!result.ok()) continue;
    for (const fhir::fhirpath::Value& value : result.value()) {
      (void)fhir::fhirpath::ToText(value);
      (void)fhir::fhirpath::TypeName(value);
    }
  }
  return 0;
}
