// System values of FHIRPath: numbers, dates, equality and equivalence, conversions.

#include "fhir/fhirpath/system_values.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fhir/fhirpath/model_access.h"
#include "fhir/fhirpath/units.h"

namespace fhir::fhirpath::internal {

using Kind = Value::Kind;

// ---- numbers -------------------------------------------------------------------------------

std::optional<double> ParseNumber(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::string copy(text);
  char* end = nullptr;
  double value = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size()) return std::nullopt;
  return value;
}

// Decimal text of `value` with at most 15 significant digits, so that binary rounding noise
// (1.8 - 1.2) does not show.
std::string FormatDecimal(double value) {
  if (value == 0) return "0";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.15g", value);
  std::string text = buffer;
  if (text.find('e') != std::string::npos) {
    std::snprintf(buffer, sizeof buffer, "%.15f", value);
    text = buffer;
    while (!text.empty() && text.back() == '0') text.pop_back();
    if (!text.empty() && text.back() == '.') text.pop_back();
  }
  return text;
}

int DecimalPlaces(std::string_view text) {
  std::size_t dot = text.find('.');
  return dot == std::string_view::npos ? 0 : static_cast<int>(text.size() - dot - 1);
}

namespace {

// A decimal text as mantissa and scale (digits after the point): "-1.50" -> (-150, 2).
bool SplitDecimal(std::string_view text, std::int64_t& mantissa, int& scale) {
  std::size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
  mantissa = 0;
  scale = 0;
  int digits = 0;
  bool point = false;
  bool any = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.' && !point) {
      point = true;
      continue;
    }
    if (c < '0' || c > '9') return false;
    any = true;
    if (mantissa != 0 || c != '0') ++digits;
    if (digits > 18) return false;
    mantissa = mantissa * 10 + (c - '0');
    if (point) ++scale;
  }
  if (!any) return false;
  if (negative) mantissa = -mantissa;
  return true;
}

bool ScaleUp(std::int64_t& mantissa, int by) {
  for (int i = 0; i < by; ++i) {
    if (__builtin_mul_overflow(mantissa, 10, &mantissa)) return false;
  }
  return true;
}

std::string JoinDecimal(std::int64_t mantissa, int scale) {
  bool negative = mantissa < 0;
  std::string digits = std::to_string(mantissa);
  if (negative) digits.erase(0, 1);
  if (scale > 0) {
    if (static_cast<int>(digits.size()) <= scale) {
      digits.insert(0, static_cast<std::size_t>(scale) + 1 - digits.size(), '0');
    }
    digits.insert(digits.size() - static_cast<std::size_t>(scale), ".");
  }
  return (negative ? "-" : "") + digits;
}

}  // namespace

std::optional<std::string> ExactDecimal(char op, std::string_view a, std::string_view b) {
  std::int64_t x = 0, y = 0;
  int sx = 0, sy = 0;
  if (!SplitDecimal(a, x, sx) || !SplitDecimal(b, y, sy)) return std::nullopt;
  std::int64_t r = 0;
  int scale = 0;
  if (op == '*') {
    if (__builtin_mul_overflow(x, y, &r)) return std::nullopt;
    scale = sx + sy;
  } else {
    scale = std::max(sx, sy);
    if (!ScaleUp(x, scale - sx) || !ScaleUp(y, scale - sy)) return std::nullopt;
    bool overflow = op == '+' ? __builtin_add_overflow(x, y, &r) : __builtin_sub_overflow(x, y, &r);
    if (overflow) return std::nullopt;
  }
  if (scale > 28) return std::nullopt;
  return JoinDecimal(r, scale);
}

// A whole double as an Integer; empty when it does not fit (or is not a number).
Collection IntegerResult(double d) {
  if (!(d >= -9.2e18 && d <= 9.2e18)) return {};
  return Collection{Value::Integer(static_cast<std::int64_t>(d))};
}

bool IsNumeric(const Value& v) { return v.kind() == Kind::kInteger || v.kind() == Kind::kDecimal; }

double NumberOf(const Value& v) {
  if (v.kind() == Kind::kInteger) return static_cast<double>(v.integer());
  return ParseNumber(v.text()).value_or(0);
}

bool IsCalendarWord(std::string_view unit) {
  static constexpr std::string_view kUnits[] = {
      "year", "years", "month",  "months",  "week",   "weeks",   "day",         "days",
      "hour", "hours", "minute", "minutes", "second", "seconds", "millisecond", "milliseconds"};
  for (std::string_view u : kUnits) {
    if (u == unit) return true;
  }
  return false;
}

std::optional<Temporal> TemporalOf(const Value& v) {
  switch (v.kind()) {
    case Kind::kDate:
      return ParseDate(v.text());
    case Kind::kDateTime:
      return ParseDateTime(v.text());
    case Kind::kTime:
      return ParseTime(v.text());
    default:
      return std::nullopt;
  }
}

bool IsTemporal(const Value& v) {
  return v.kind() == Kind::kDate || v.kind() == Kind::kDateTime || v.kind() == Kind::kTime;
}

Value TemporalValue(const Temporal& t) {
  switch (t.kind) {
    case Temporal::Kind::kDate:
      return Value::Date(t.ToString());
    case Temporal::Kind::kDateTime:
      return Value::DateTime(t.ToString());
    case Temporal::Kind::kTime:
      return Value::Time(t.ToString());
  }
  return Value::Date(t.ToString());
}

// The System value of an item, or the item itself (complex elements).
Value Sys(const Value& v) {
  if (v.kind() != Kind::kElement) return v;
  std::optional<Value> s = ToSystemValue(v);
  return s ? *s : v;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string NormalizeSpace(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// ---- equality and comparison ---------------------------------------------------------------

namespace {

// Deep equality of two complex elements: same type, same children.
bool ElementsEqual(const Value& a, const Value& b, bool equivalent) {
  if (a.type() != b.type()) return false;
  if (a.object() == b.object()) return true;
  if (a.object() == nullptr || b.object() == nullptr) return false;
  Collection ca, cb;
  for (const FieldInfo& field : a.type()->fields) {
    if (equivalent && field.name == "id") continue;
    ca.clear();
    cb.clear();
    AppendFieldValues(a, field, 0, ca);
    AppendFieldValues(b, field, 0, cb);
    if (ca.size() != cb.size()) return false;
    for (std::size_t i = 0; i < ca.size(); ++i) {
      std::optional<bool> eq = ItemEqual(ca[i], cb[i], equivalent);
      if (!eq || !*eq) return false;
    }
  }
  return true;
}

}  // namespace

std::optional<bool> ItemEqual(const Value& a_in, const Value& b_in, bool equivalent) {
  // The same node of a resource (unions of overlapping paths).
  if (a_in.kind() == Kind::kElement && b_in.kind() == Kind::kElement &&
      a_in.object() == b_in.object() && a_in.type() == b_in.type() && a_in.object() != nullptr) {
    return true;
  }
  // Two complex elements: equal only as the same type, child by child; quantities compare
  // as System.Quantity below.
  if (a_in.kind() == Kind::kElement && b_in.kind() == Kind::kElement &&
      a_in.type()->kind != TypeKind::kPrimitive && b_in.type()->kind != TypeKind::kPrimitive &&
      !(IsQuantityType(*a_in.type()) && IsQuantityType(*b_in.type()))) {
    return ElementsEqual(a_in, b_in, equivalent);
  }
  Value a = Sys(a_in);
  Value b = Sys(b_in);
  if (a.kind() == Kind::kElement || b.kind() == Kind::kElement) {
    if (a.kind() != b.kind()) return false;
    return ElementsEqual(a, b, equivalent);
  }
  if (IsNumeric(a) && IsNumeric(b)) {
    if (a.kind() == Kind::kInteger && b.kind() == Kind::kInteger) {
      return a.integer() == b.integer();
    }
    double x = NumberOf(a), y = NumberOf(b);
    if (equivalent) {
      int places = std::min(a.kind() == Kind::kDecimal ? DecimalPlaces(a.text()) : 0,
                            b.kind() == Kind::kDecimal ? DecimalPlaces(b.text()) : 0);
      double scale = std::pow(10.0, places);
      return std::round(x * scale) == std::round(y * scale);
    }
    return std::fabs(x - y) <= 1e-12 * std::max(1.0, std::max(std::fabs(x), std::fabs(y)));
  }
  if (IsTemporal(a) && IsTemporal(b)) {
    if ((a.kind() == Kind::kTime) != (b.kind() == Kind::kTime)) return false;
    std::optional<Temporal> ta = TemporalOf(a), tb = TemporalOf(b);
    if (!ta || !tb) return a.text() == b.text();
    std::optional<int> c = CompareTemporal(*ta, *tb);
    if (!c) {
      if (equivalent) return false;
      return std::nullopt;
    }
    return *c == 0;
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::kBoolean:
      return a.boolean() == b.boolean();
    case Kind::kString:
      if (equivalent) return NormalizeSpace(a.text()) == NormalizeSpace(b.text());
      return a.text() == b.text();
    case Kind::kQuantity: {
      std::optional<int> c = CompareQuantities(a.text(), a.unit(), b.text(), b.unit(), equivalent);
      if (!c) {
        if (equivalent) return false;
        return std::nullopt;
      }
      return *c == 0;
    }
    default:
      return a.text() == b.text();
  }
}

// =, !=: empty when either side is empty or an item pair cannot be decided.
std::optional<bool> CollectionsEqual(const Collection& a, const Collection& b) {
  if (a.empty() || b.empty()) return std::nullopt;
  if (a.size() != b.size()) return false;
  bool unknown = false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    std::optional<bool> eq = ItemEqual(a[i], b[i], false);
    if (!eq) {
      unknown = true;
    } else if (!*eq) {
      return false;
    }
  }
  if (unknown) return std::nullopt;
  return true;
}

bool CollectionsEquivalent(const Collection& a, const Collection& b) {
  if (a.size() != b.size()) return false;
  std::vector<bool> used(b.size(), false);
  for (const Value& x : a) {
    bool found = false;
    for (std::size_t j = 0; j < b.size(); ++j) {
      if (used[j]) continue;
      if (ItemEqual(x, b[j], true).value_or(false)) {
        used[j] = true;
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

bool Contains(const Collection& c, const Value& v) {
  for (const Value& item : c) {
    if (ItemEqual(item, v, false).value_or(false)) return true;
  }
  return false;
}

void AppendDistinct(Collection& out, const Value& v) {
  if (!Contains(out, v)) out.push_back(v);
}

bool MatchesInteger(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  if (i == s.size()) return false;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

bool MatchesDecimal(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  std::size_t digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  if (digits == 0) return false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    std::size_t frac = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++frac;
    if (frac == 0) return false;
  }
  return i == s.size();
}

// Parses "1 'mg'", "4 days", "1.5" (unit '1') as a quantity.
std::optional<Value> ParseQuantityText(std::string_view s) {
  std::size_t space = s.find(' ');
  std::string_view number = s.substr(0, space);
  if (!MatchesDecimal(number)) return std::nullopt;
  std::string n(number);
  if (!n.empty() && n[0] == '+') n.erase(0, 1);
  if (space == std::string_view::npos) return Value::Quantity(n, "1");
  std::string_view unit = s.substr(space + 1);
  while (!unit.empty() && unit[0] == ' ') unit.remove_prefix(1);
  if (unit.size() >= 2 && unit.front() == '\'' && unit.back() == '\'') {
    return Value::Quantity(n, std::string(unit.substr(1, unit.size() - 2)));
  }
  if (IsCalendarWord(unit)) return Value::Quantity(n, std::string(unit));
  return std::nullopt;
}

// The conversion of `v` by `fn` (a to* function), or nullopt when it does not convert.
std::optional<Value> Convert(Fn fn, const Value& v) {
  switch (fn) {
    case Fn::kToBoolean:
      switch (v.kind()) {
        case Kind::kBoolean:
          return v;
        case Kind::kInteger:
          if (v.integer() == 1) return Value::Boolean(true);
          if (v.integer() == 0) return Value::Boolean(false);
          return std::nullopt;
        case Kind::kDecimal: {
          double d = NumberOf(v);
          if (d == 1) return Value::Boolean(true);
          if (d == 0) return Value::Boolean(false);
          return std::nullopt;
        }
        case Kind::kString: {
          std::string l = Lower(v.text());
          if (l == "true" || l == "t" || l == "yes" || l == "y" || l == "1" || l == "1.0") {
            return Value::Boolean(true);
          }
          if (l == "false" || l == "f" || l == "no" || l == "n" || l == "0" || l == "0.0") {
            return Value::Boolean(false);
          }
          return std::nullopt;
        }
        default:
          return std::nullopt;
      }
    case Fn::kToInteger:
      switch (v.kind()) {
        case Kind::kInteger:
          return v;
        case Kind::kBoolean:
          return Value::Integer(v.boolean() ? 1 : 0);
        case Kind::kString: {
          if (!MatchesInteger(v.text())) return std::nullopt;
          std::int64_t n = 0;
          std::string_view t = v.text();
          if (t[0] == '+') t.remove_prefix(1);
          auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
          if (ec != std::errc() || ptr != t.data() + t.size()) return std::nullopt;
          return Value::Integer(n);
        }
        default:
          return std::nullopt;
      }
    case Fn::kToDecimal:
      switch (v.kind()) {
        case Kind::kDecimal:
          return v;
        case Kind::kInteger:
          return Value::Decimal(std::to_string(v.integer()));
        case Kind::kBoolean:
          return Value::Decimal(v.boolean() ? "1.0" : "0.0");
        case Kind::kString:
          if (!MatchesDecimal(v.text())) return std::nullopt;
          return Value::Decimal(v.text()[0] == '+' ? v.text().substr(1) : v.text());
        default:
          return std::nullopt;
      }
    case Fn::kToString: {
      std::optional<std::string> text = ToText(v);
      if (!text) return std::nullopt;
      return Value::String(*text);
    }
    case Fn::kToDate:
      switch (v.kind()) {
        case Kind::kDate:
          return v;
        case Kind::kDateTime:
        case Kind::kString: {
          std::optional<Temporal> t = v.kind() == Kind::kString && ParseDate(v.text())
                                          ? ParseDate(v.text())
                                          : ParseDateTime(v.text());
          if (!t) return std::nullopt;
          t->kind = Temporal::Kind::kDate;
          if (t->precision > Temporal::kDay) t->precision = Temporal::kDay;
          return Value::Date(t->ToString());
        }
        default:
          return std::nullopt;
      }
    case Fn::kToDateTime:
      switch (v.kind()) {
        case Kind::kDateTime:
          return v;
        case Kind::kDate:
        case Kind::kString: {
          std::optional<Temporal> t = ParseDateTime(v.text());
          if (!t) return std::nullopt;
          return Value::DateTime(t->ToString());
        }
        default:
          return std::nullopt;
      }
    case Fn::kToTime:
      switch (v.kind()) {
        case Kind::kTime:
          return v;
        case Kind::kString: {
          std::optional<Temporal> t = ParseTime(v.text());
          if (!t) return std::nullopt;
          return Value::Time(t->ToString());
        }
        default:
          return std::nullopt;
      }
    case Fn::kToQuantity:
      switch (v.kind()) {
        case Kind::kQuantity:
          return v;
        case Kind::kInteger:
          return Value::Quantity(std::to_string(v.integer()), "1");
        case Kind::kDecimal:
          return Value::Quantity(v.text(), "1");
        case Kind::kBoolean:
          return Value::Quantity(v.boolean() ? "1.0" : "0.0", "1");
        case Kind::kString:
          return ParseQuantityText(v.text());
        default:
          return std::nullopt;
      }
    default:
      return std::nullopt;
  }
}

}  // namespace fhir::fhirpath::internal
