#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace fhir::fhirpath::internal {

// Quantities with UCUM units (http://hl7.org/fhirpath/N1/#quantity): a small table of common
// units (mass, length, volume, time, the calendar duration keywords) with their factor to a
// base unit, enough for comparisons and conversions between units of one dimension. Units the
// table does not know compare only with the same unit.
struct QuantityValue {
  std::string number;
  std::string unit;
};

// <0, 0, >0, or nullopt when the units are not comparable. `equivalent`: calendar durations
// compare with the UCUM definite durations (1 year ~ 1 'a'), and numbers at the precision of
// the less precise one.
std::optional<int> CompareQuantities(std::string_view a_number, std::string_view a_unit,
                                     std::string_view b_number, std::string_view b_unit,
                                     bool equivalent);

// `op` is '+', '-', '*' or '/'; nullopt when the units do not allow it.
std::optional<QuantityValue> QuantityArithmetic(char op, std::string_view a_number,
                                                std::string_view a_unit, std::string_view b_number,
                                                std::string_view b_unit);

// The quantity in `unit`, or nullopt when not convertible.
std::optional<QuantityValue> ConvertQuantity(std::string_view number, std::string_view from,
                                             std::string_view to);

// Whether quantities in these units can be compared (comparable()).
bool UnitsComparable(std::string_view a, std::string_view b);

}  // namespace fhir::fhirpath::internal
