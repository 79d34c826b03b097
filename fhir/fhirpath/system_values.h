#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fhir/fhirpath/ast.h"
#include "fhir/fhirpath/fhirpath.h"
#include "fhir/fhirpath/temporal.h"

namespace fhir::fhirpath::internal {

// ---- numbers: System.Decimal keeps its text; arithmetic runs on doubles ----------------------

std::optional<double> ParseNumber(std::string_view text);
// `value` as decimal text with at most 15 significant digits, without an exponent.
std::string FormatDecimal(double value);
// Digits after the decimal point of a decimal's text.
int DecimalPlaces(std::string_view text);
// A whole double as a System.Integer; empty when it does not fit.
Collection IntegerResult(double d);
// Exact decimal `a op b` for '+', '-', '*' on decimal texts ("1.10", "-3"), keeping the
// digits after the point (1.1 + 2.20 = 3.30); nullopt when a value does not fit in 18 digits
// (the caller falls back to binary floating point).
std::optional<std::string> ExactDecimal(char op, std::string_view a, std::string_view b);
bool IsNumeric(const Value& v);   // Integer or Decimal
double NumberOf(const Value& v);  // of an Integer or Decimal

// ---- dates and times ---------------------------------------------------------------------------

// "year", "months", ...: the calendar duration keywords of FHIRPath quantities.
bool IsCalendarWord(std::string_view unit);
bool IsTemporal(const Value& v);  // Date, DateTime or Time
std::optional<Temporal> TemporalOf(const Value& v);
Value TemporalValue(const Temporal& t);

// ---- values ------------------------------------------------------------------------------------

// The System value of an item, or the item itself (complex elements).
Value Sys(const Value& v);
std::string Lower(std::string_view s);
// Lower case with runs of whitespace as one space, trimmed: strings under `~`.
std::string NormalizeSpace(std::string_view s);

// Equality (`=`, `equivalent` false) or equivalence (`~`) of two items; nullopt when equality
// cannot be decided (dates of different precision, incomparable quantities).
std::optional<bool> ItemEqual(const Value& a, const Value& b, bool equivalent);
// `=` on collections: nullopt (empty result) when either is empty or an item pair is unknown.
std::optional<bool> CollectionsEqual(const Collection& a, const Collection& b);
// `~` on collections: order-independent.
bool CollectionsEquivalent(const Collection& a, const Collection& b);
// Whether `c` has an item equal to `v`.
bool Contains(const Collection& c, const Value& v);
// Appends `v` unless `out` already has an equal item.
void AppendDistinct(Collection& out, const Value& v);

// ---- conversions (toX / convertsToX) -----------------------------------------------------------

bool MatchesInteger(std::string_view s);
bool MatchesDecimal(std::string_view s);
// "1 'mg'", "4 days", "1.5" (unit '1') as a quantity.
std::optional<Value> ParseQuantityText(std::string_view s);
// The conversion of System value `v` by `fn` (a to* function), or nullopt when it does not
// convert.
std::optional<Value> Convert(Fn fn, const Value& v);

}  // namespace fhir::fhirpath::internal
