#include "fhir/fhirpath/units.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

namespace fhir::fhirpath::internal {
namespace {

// A unit as a product of base dimensions with integer powers and a factor to the base units
// (g, m, s, mol, L as m3, ...).
struct Dimension {
  double factor = 1;
  std::map<std::string, int> powers;  // base unit -> power
  bool calendar_month = false;        // year/month keywords: not convertible to seconds
};

struct UnitEntry {
  std::string_view unit;
  double factor;
  std::string_view base;
  int power;
};

constexpr UnitEntry kUnits[] = {
    {"g", 1, "g", 1},
    {"kg", 1000, "g", 1},
    {"mg", 1e-3, "g", 1},
    {"ug", 1e-6, "g", 1},
    {"ng", 1e-9, "g", 1},
    {"[lb_av]", 453.59237, "g", 1},
    {"[oz_av]", 28.349523125, "g", 1},
    {"m", 1, "m", 1},
    {"km", 1000, "m", 1},
    {"cm", 0.01, "m", 1},
    {"mm", 0.001, "m", 1},
    {"um", 1e-6, "m", 1},
    {"[in_i]", 0.0254, "m", 1},
    {"[ft_i]", 0.3048, "m", 1},
    {"s", 1, "s", 1},
    {"ms", 0.001, "s", 1},
    {"min", 60, "s", 1},
    {"h", 3600, "s", 1},
    {"d", 86400, "s", 1},
    {"wk", 604800, "s", 1},
    {"mo", 2629800, "s", 1},
    {"a", 31557600, "s", 1},
    {"mol", 1, "mol", 1},
    {"mmol", 1e-3, "mol", 1},
    {"umol", 1e-6, "mol", 1},
    {"L", 1e-3, "m", 3},
    {"l", 1e-3, "m", 3},
    {"dL", 1e-4, "m", 3},
    {"mL", 1e-6, "m", 3},
    {"ml", 1e-6, "m", 3},
    {"Cel", 1, "Cel", 1},
    {"[degF]", 1, "[degF]", 1},
    {"%", 0.01, "", 0},
    {"1", 1, "", 0},
};

// Calendar keywords: weeks and smaller are definite; year and month count in months.
std::optional<Dimension> CalendarDimension(std::string_view unit) {
  if (!unit.empty() && unit.back() == 's') unit.remove_suffix(1);
  Dimension d;
  if (unit == "year" || unit == "month") {
    d.calendar_month = true;
    d.factor = unit == "year" ? 12 : 1;
    d.powers["month"] = 1;
    return d;
  }
  double seconds = 0;
  if (unit == "week")
    seconds = 604800;
  else if (unit == "day")
    seconds = 86400;
  else if (unit == "hour")
    seconds = 3600;
  else if (unit == "minute")
    seconds = 60;
  else if (unit == "second")
    seconds = 1;
  else if (unit == "millisecond")
    seconds = 0.001;
  else
    return std::nullopt;
  d.factor = seconds;
  d.powers["s"] = 1;
  return d;
}

const UnitEntry* FindUnit(std::string_view unit) {
  for (const UnitEntry& entry : kUnits) {
    if (entry.unit == unit) return &entry;
  }
  return nullptr;
}

// One UCUM term, optionally with an exponent: "m2", "cm", "[lb_av]".
std::optional<Dimension> TermDimension(std::string_view term) {
  int power = 1;
  std::size_t end = term.size();
  while (end > 0 && std::isdigit(static_cast<unsigned char>(term[end - 1])) != 0) --end;
  if (end < term.size() && end > 0 && term[end - 1] != ']') {
    power = std::atoi(std::string(term.substr(end)).c_str());
    if (end > 0 && term[end - 1] == '-') {
      power = -power;
      --end;
    }
    term = term.substr(0, end);
  }
  const UnitEntry* entry = FindUnit(term);
  if (entry == nullptr) return std::nullopt;
  Dimension d;
  d.factor = std::pow(entry->factor, power);
  if (entry->power != 0) d.powers[std::string(entry->base)] = entry->power * power;
  return d;
}

// A UCUM unit made of terms joined by '.' and '/': "mg/dL", "g/m", "m2", "kg.m/s2".
std::optional<Dimension> UnitDimension(std::string_view unit) {
  if (std::optional<Dimension> c = CalendarDimension(unit)) return c;
  Dimension total;
  int sign = 1;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= unit.size(); ++i) {
    if (i < unit.size() && unit[i] != '.' && unit[i] != '/') continue;
    std::string_view term = unit.substr(start, i - start);
    if (term.empty()) return std::nullopt;
    std::optional<Dimension> d = TermDimension(term);
    if (!d) return std::nullopt;
    total.factor = sign > 0 ? total.factor * d->factor : total.factor / d->factor;
    for (const auto& [base, power] : d->powers) total.powers[base] += sign * power;
    if (i < unit.size()) sign = unit[i] == '/' ? -1 : 1;
    start = i + 1;
  }
  for (auto it = total.powers.begin(); it != total.powers.end();) {
    it = it->second == 0 ? total.powers.erase(it) : std::next(it);
  }
  return total;
}

std::string Format(double value) {
  if (value == 0) return "0";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.15g", value);
  return buffer;
}

std::string BaseUnit(const Dimension& d) {
  std::string out;
  for (const auto& [base, power] : d.powers) {
    if (!out.empty()) out += '.';
    out += base;
    if (power != 1) out += std::to_string(power);
  }
  return out.empty() ? "1" : out;
}

int Decimals(std::string_view number) {
  std::size_t dot = number.find('.');
  return dot == std::string_view::npos ? 0 : static_cast<int>(number.size() - dot - 1);
}

}  // namespace

std::optional<int> CompareQuantities(std::string_view a_number, std::string_view a_unit,
                                     std::string_view b_number, std::string_view b_unit,
                                     bool equivalent) {
  double a = std::strtod(std::string(a_number).c_str(), nullptr);
  double b = std::strtod(std::string(b_number).c_str(), nullptr);
  if (a_unit == b_unit) {
    if (equivalent) {
      double scale = std::pow(10.0, std::min(Decimals(a_number), Decimals(b_number)));
      a = std::round(a * scale);
      b = std::round(b * scale);
    }
    return a < b ? -1 : (a > b ? 1 : 0);
  }
  std::optional<Dimension> da = UnitDimension(a_unit), db = UnitDimension(b_unit);
  if (!da || !db) return std::nullopt;
  if (da->calendar_month != db->calendar_month) {
    // 1 year vs 1 'a': only equivalent, never equal.
    if (!equivalent) return std::nullopt;
    auto to_seconds = [](Dimension& d) {
      if (d.calendar_month) {
        d.factor *= 2629800;
        d.powers = {{"s", 1}};
        d.calendar_month = false;
      }
    };
    to_seconds(*da);
    to_seconds(*db);
  }
  if (da->powers != db->powers) return std::nullopt;
  double x = a * da->factor, y = b * db->factor;
  double tolerance = 1e-9 * std::max(std::fabs(x), std::fabs(y));
  if (equivalent) {
    // Equivalence at the precision of the less precise operand, in the first unit.
    double scale = std::pow(10.0, std::min(Decimals(a_number), Decimals(b_number)));
    double xa = std::round(x / da->factor * scale), ya = std::round(y / da->factor * scale);
    return xa < ya ? -1 : (xa > ya ? 1 : 0);
  }
  if (std::fabs(x - y) <= tolerance) return 0;
  return x < y ? -1 : 1;
}

std::optional<QuantityValue> QuantityArithmetic(char op, std::string_view a_number,
                                                std::string_view a_unit, std::string_view b_number,
                                                std::string_view b_unit) {
  double a = std::strtod(std::string(a_number).c_str(), nullptr);
  double b = std::strtod(std::string(b_number).c_str(), nullptr);
  if (op == '+' || op == '-') {
    if (a_unit == b_unit) {
      return QuantityValue{Format(op == '+' ? a + b : a - b), std::string(a_unit)};
    }
    std::optional<QuantityValue> converted = ConvertQuantity(b_number, b_unit, a_unit);
    if (!converted) return std::nullopt;
    double c = std::strtod(converted->number.c_str(), nullptr);
    return QuantityValue{Format(op == '+' ? a + c : a - c), std::string(a_unit)};
  }
  if (op != '*' && op != '/') return std::nullopt;
  if (op == '/' && b == 0) return std::nullopt;
  if (b_unit == "1") {
    return QuantityValue{Format(op == '*' ? a * b : a / b), std::string(a_unit)};
  }
  if (a_unit == "1" && op == '*') return QuantityValue{Format(a * b), std::string(b_unit)};
  std::optional<Dimension> da = UnitDimension(a_unit), db = UnitDimension(b_unit);
  if (!da || !db || da->calendar_month || db->calendar_month) return std::nullopt;
  Dimension r;
  r.factor = op == '*' ? da->factor * db->factor : da->factor / db->factor;
  r.powers = da->powers;
  for (const auto& [base, power] : db->powers) r.powers[base] += op == '*' ? power : -power;
  for (auto it = r.powers.begin(); it != r.powers.end();) {
    it = it->second == 0 ? r.powers.erase(it) : std::next(it);
  }
  double value = (op == '*' ? a * b : a / b) * r.factor;
  // Keep a unit of the operands when the result has its dimension (g/m stays g/m).
  std::string unit = BaseUnit(r);
  if (r.powers.size() == 2 && op == '/') {
    std::string direct = std::string(a_unit) + "/" + std::string(b_unit);
    std::optional<Dimension> dd = UnitDimension(direct);
    if (dd && dd->powers == r.powers) {
      return QuantityValue{Format(value / dd->factor), direct};
    }
  }
  return QuantityValue{Format(value), unit};
}

bool UnitsComparable(std::string_view a, std::string_view b) {
  if (a == b) return true;
  std::optional<Dimension> da = UnitDimension(a), db = UnitDimension(b);
  return da && db && da->powers == db->powers && da->calendar_month == db->calendar_month;
}

std::optional<QuantityValue> ConvertQuantity(std::string_view number, std::string_view from,
                                             std::string_view to) {
  if (from == to) return QuantityValue{std::string(number), std::string(to)};
  std::optional<Dimension> df = UnitDimension(from), dt = UnitDimension(to);
  if (!df || !dt || df->powers != dt->powers || df->calendar_month != dt->calendar_month) {
    return std::nullopt;
  }
  double value = std::strtod(std::string(number).c_str(), nullptr);
  return QuantityValue{Format(value * df->factor / dt->factor), std::string(to)};
}

}  // namespace fhir::fhirpath::internal
