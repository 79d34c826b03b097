// libFuzzer target for the strict JSON parser. Beyond "never crash": whatever the parser
// accepts must write out as JSON that parses again and writes out byte-identically.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fhir/json/parser.h"
#include "fhir/json/writer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  fhir::json::ParseOptions options;
  options.lenient = (data[0] & 1) != 0;
  std::string_view json(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto parsed = fhir::json::ParseResource(json, options);
  if (!parsed.ok()) return 0;
  std::string once = fhir::json::Write(*parsed.value());
  auto again = fhir::json::ParseResource(once);
  if (!again.ok() || fhir::json::Write(*again.value()) != once) std::abort();
  return 0;
}
