#include "fhir/fhirpath/temporal.h"

#include <chrono>
#include <cstdio>

namespace fhir::fhirpath::internal {
namespace {

bool ReadDigits(std::string_view text, std::size_t& pos, std::size_t n, int& out) {
  if (pos + n > text.size()) return false;
  int value = 0;
  for (std::size_t i = 0; i < n; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  out = value;
  pos += n;
  return true;
}

// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
std::int64_t DaysFromCivil(std::int64_t y, int m, int d) {
  y -= m <= 2;
  std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  std::int64_t yoe = y - era * 400;
  std::int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void CivilFromDays(std::int64_t z, int& y, int& m, int& d) {
  z += 719468;
  std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  std::int64_t doe = z - era * 146097;
  std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  std::int64_t mp = (5 * doy + 2) / 153;
  d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  y = static_cast<int>(yoe + era * 400 + (m <= 2));
}

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
  return kDays[m - 1];
}

bool ParseTimePart(std::string_view text, std::size_t& pos, Temporal& t) {
  if (!ReadDigits(text, pos, 2, t.hour) || t.hour > 23) return false;
  t.precision = Temporal::kHour;
  if (pos < text.size() && text[pos] == ':') {
    ++pos;
    if (!ReadDigits(text, pos, 2, t.minute) || t.minute > 59) return false;
    t.precision = Temporal::kMinute;
    if (pos < text.size() && text[pos] == ':') {
      ++pos;
      if (!ReadDigits(text, pos, 2, t.second) || t.second > 60) return false;
      t.precision = Temporal::kSecond;
      if (pos < text.size() && text[pos] == '.') {
        ++pos;
        std::size_t start = pos;
        int ms = 0;
        int digits = 0;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
          if (digits < 3) ms = ms * 10 + (text[pos] - '0');
          ++digits;
          ++pos;
        }
        if (pos == start) return false;
        for (int i = digits; i < 3; ++i) ms *= 10;
        t.millisecond = ms;
        t.fraction_digits = digits;
        t.precision = Temporal::kMillisecond;
      }
    }
  }
  return true;
}

bool ParseZone(std::string_view text, std::size_t& pos, Temporal& t) {
  if (pos >= text.size()) return true;
  if (text[pos] == 'Z') {
    ++pos;
    t.has_zone = true;
    return true;
  }
  if (text[pos] != '+' && text[pos] != '-') return false;
  int sign = text[pos] == '-' ? -1 : 1;
  ++pos;
  int h = 0, m = 0;
  if (!ReadDigits(text, pos, 2, h) || pos >= text.size() || text[pos] != ':') return false;
  ++pos;
  if (!ReadDigits(text, pos, 2, m)) return false;
  t.has_zone = true;
  t.zone_minutes = sign * (h * 60 + m);
  return true;
}

bool ParseDatePart(std::string_view text, std::size_t& pos, Temporal& t) {
  if (!ReadDigits(text, pos, 4, t.year)) return false;
  t.precision = Temporal::kYear;
  if (pos < text.size() && text[pos] == '-') {
    ++pos;
    if (!ReadDigits(text, pos, 2, t.month) || t.month < 1 || t.month > 12) return false;
    t.precision = Temporal::kMonth;
    if (pos < text.size() && text[pos] == '-') {
      ++pos;
      if (!ReadDigits(text, pos, 2, t.day) || t.day < 1 || t.day > DaysInMonth(t.year, t.month)) {
        return false;
      }
      t.precision = Temporal::kDay;
    }
  }
  return true;
}

// Minutes since the epoch of a value known at least to the hour, for time-zone normalisation.
std::int64_t TotalMinutes(const Temporal& t) {
  std::int64_t days = t.kind == Temporal::Kind::kTime ? 0 : DaysFromCivil(t.year, t.month, t.day);
  return days * 1440 + t.hour * 60 + t.minute;
}

Temporal ToUtc(const Temporal& t) {
  if (!t.has_zone || t.zone_minutes == 0 || t.precision < Temporal::kHour) return t;
  Temporal out = t;
  std::int64_t total = TotalMinutes(t) - t.zone_minutes;
  std::int64_t days = total >= 0 ? total / 1440 : (total - 1439) / 1440;
  std::int64_t rem = total - days * 1440;
  out.hour = static_cast<int>(rem / 60);
  out.minute = static_cast<int>(rem % 60);
  if (t.kind != Temporal::Kind::kTime) CivilFromDays(days, out.year, out.month, out.day);
  out.zone_minutes = 0;
  return out;
}

}  // namespace

std::string Temporal::ToString() const {
  char buffer[64];
  std::string out;
  if (kind != Kind::kTime) {
    std::snprintf(buffer, sizeof buffer, "%04d", year);
    out += buffer;
    if (precision >= kMonth) {
      std::snprintf(buffer, sizeof buffer, "-%02d", month);
      out += buffer;
    }
    if (precision >= kDay) {
      std::snprintf(buffer, sizeof buffer, "-%02d", day);
      out += buffer;
    }
    if (kind == Kind::kDate || precision <= kDay) return out;
    out += 'T';
  }
  std::snprintf(buffer, sizeof buffer, "%02d", hour);
  out += buffer;
  if (precision >= kMinute) {
    std::snprintf(buffer, sizeof buffer, ":%02d", minute);
    out += buffer;
  }
  if (precision >= kSecond) {
    std::snprintf(buffer, sizeof buffer, ":%02d", second);
    out += buffer;
  }
  if (precision >= kMillisecond) {
    std::snprintf(buffer, sizeof buffer, ".%03d", millisecond);
    out += buffer;
  }
  if (kind == Kind::kDateTime && has_zone) {
    if (zone_minutes == 0) {
      out += 'Z';
    } else {
      int z = zone_minutes < 0 ? -zone_minutes : zone_minutes;
      std::snprintf(buffer, sizeof buffer, "%c%02d:%02d", zone_minutes < 0 ? '-' : '+', z / 60,
                    z % 60);
      out += buffer;
    }
  }
  return out;
}

std::optional<Temporal> ParseDate(std::string_view text) {
  Temporal t;
  t.kind = Temporal::Kind::kDate;
  std::size_t pos = 0;
  if (!ParseDatePart(text, pos, t) || pos != text.size()) return std::nullopt;
  return t;
}

std::optional<Temporal> ParseDateTime(std::string_view text) {
  Temporal t;
  t.kind = Temporal::Kind::kDateTime;
  std::size_t pos = 0;
  if (!ParseDatePart(text, pos, t)) return std::nullopt;
  if (pos < text.size() && text[pos] == 'T') {
    ++pos;
    if (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (t.precision != Temporal::kDay || !ParseTimePart(text, pos, t)) return std::nullopt;
    }
    if (!ParseZone(text, pos, t)) return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  return t;
}

std::optional<Temporal> ParseTime(std::string_view text) {
  Temporal t;
  t.kind = Temporal::Kind::kTime;
  std::size_t pos = 0;
  if (!text.empty() && text[0] == 'T') ++pos;
  if (!ParseTimePart(text, pos, t) || pos != text.size()) return std::nullopt;
  return t;
}

std::optional<int> CompareTemporal(const Temporal& a_in, const Temporal& b_in) {
  Temporal a = a_in, b = b_in;
  // One value with a time zone and one without: the offset between them is unknown.
  if (a.kind == Temporal::Kind::kDateTime && b.kind == Temporal::Kind::kDateTime &&
      a.has_zone != b.has_zone && a.precision >= Temporal::kHour &&
      b.precision >= Temporal::kHour) {
    return std::nullopt;
  }
  if (a.has_zone && b.has_zone) {
    a = ToUtc(a);
    b = ToUtc(b);
  }
  // Seconds and milliseconds are one precision for comparison.
  auto effective = [](Temporal::Precision p) {
    return p == Temporal::kMillisecond ? Temporal::kSecond : p;
  };
  Temporal::Precision pa = effective(a.precision), pb = effective(b.precision);
  Temporal::Precision common = pa < pb ? pa : pb;
  int first = a.kind == Temporal::Kind::kTime ? Temporal::kHour : Temporal::kYear;
  for (int p = first; p <= common; ++p) {
    int x = 0, y = 0;
    switch (p) {
      case Temporal::kYear:
        x = a.year, y = b.year;
        break;
      case Temporal::kMonth:
        x = a.month, y = b.month;
        break;
      case Temporal::kDay:
        x = a.day, y = b.day;
        break;
      case Temporal::kHour:
        x = a.hour, y = b.hour;
        break;
      case Temporal::kMinute:
        x = a.minute, y = b.minute;
        break;
      default:
        x = a.second * 1000 + a.millisecond;
        y = b.second * 1000 + b.millisecond;
        break;
    }
    if (x != y) return x < y ? -1 : 1;
  }
  if (pa != pb) return std::nullopt;
  return 0;
}

std::optional<Temporal> AddDuration(const Temporal& value, std::int64_t amount,
                                    std::string_view unit) {
  if (!unit.empty() && unit.back() == 's' && unit != "s" && unit != "ms") unit.remove_suffix(1);
  Temporal t = value;
  bool is_time = t.kind == Temporal::Kind::kTime;
  if (unit == "year" || unit == "month") {
    if (is_time) return std::nullopt;
    std::int64_t months = unit == "year" ? amount * 12 : amount;
    if (t.precision < Temporal::kMonth) {
      if (unit == "month") months = (months / 12) * 12;
    }
    std::int64_t total = static_cast<std::int64_t>(t.year) * 12 + (t.month - 1) + months;
    if (total < 12 || total >= 10000 * 12) return std::nullopt;  // years 0001-9999
    t.year = static_cast<int>(total / 12);
    t.month = static_cast<int>(total % 12) + 1;
    if (t.day > DaysInMonth(t.year, t.month)) t.day = DaysInMonth(t.year, t.month);
    return t;
  }
  std::int64_t ms = 0;
  if (unit == "week" || unit == "wk")
    ms = amount * 7 * 86400000LL;
  else if (unit == "day" || unit == "d")
    ms = amount * 86400000LL;
  else if (unit == "hour" || unit == "h")
    ms = amount * 3600000LL;
  else if (unit == "minute" || unit == "min")
    ms = amount * 60000LL;
  else if (unit == "second" || unit == "s")
    ms = amount * 1000LL;
  else if (unit == "millisecond" || unit == "ms")
    ms = amount;
  else
    return std::nullopt;
  if (t.kind == Temporal::Kind::kDate || (!is_time && t.precision <= Temporal::kDay)) {
    // Whole days only at day precision; below it (year, month) nothing to add.
    if (t.precision < Temporal::kDay) return t;
    std::int64_t days = ms / 86400000LL;
    CivilFromDays(DaysFromCivil(t.year, t.month, t.day) + days, t.year, t.month, t.day);
    if (t.year < 1 || t.year > 9999) return std::nullopt;
    return t;
  }
  std::int64_t days = is_time ? 0 : DaysFromCivil(t.year, t.month, t.day);
  std::int64_t total =
      ((days * 24 + t.hour) * 60 + t.minute) * 60000LL + t.second * 1000LL + t.millisecond + ms;
  std::int64_t day_ms = 86400000LL;
  std::int64_t new_days = total >= 0 ? total / day_ms : (total - day_ms + 1) / day_ms;
  std::int64_t rem = total - new_days * day_ms;
  t.hour = static_cast<int>(rem / 3600000);
  t.minute = static_cast<int>(rem / 60000 % 60);
  t.second = static_cast<int>(rem / 1000 % 60);
  t.millisecond = static_cast<int>(rem % 1000);
  if (!is_time) CivilFromDays(new_days, t.year, t.month, t.day);
  if (t.year < 1 || t.year > 9999) return std::nullopt;
  return t;
}

Temporal Boundary(const Temporal& t, Temporal::Precision precision, bool high) {
  Temporal out = t;
  if (t.precision < Temporal::kMonth) out.month = high ? 12 : 1;
  if (t.precision < Temporal::kDay) out.day = high ? DaysInMonth(out.year, out.month) : 1;
  if (t.precision < Temporal::kHour) out.hour = high ? 23 : 0;
  if (t.precision < Temporal::kMinute) out.minute = high ? 59 : 0;
  if (t.precision < Temporal::kSecond) out.second = high ? 59 : 0;
  if (t.precision < Temporal::kMillisecond) out.millisecond = high ? 999 : 0;
  out.precision = precision;
  if (out.kind == Temporal::Kind::kDateTime && !out.has_zone && precision >= Temporal::kHour) {
    out.has_zone = true;
    out.zone_minutes = high ? -12 * 60 : 14 * 60;
  }
  return out;
}

Temporal Now() {
  auto now = std::chrono::system_clock::now();
  std::int64_t ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  Temporal t;
  t.kind = Temporal::Kind::kDateTime;
  std::int64_t days = ms / 86400000LL;
  std::int64_t rem = ms % 86400000LL;
  CivilFromDays(days, t.year, t.month, t.day);
  t.hour = static_cast<int>(rem / 3600000);
  t.minute = static_cast<int>(rem / 60000 % 60);
  t.second = static_cast<int>(rem / 1000 % 60);
  t.millisecond = static_cast<int>(rem % 1000);
  t.precision = Temporal::kMillisecond;
  t.fraction_digits = 3;
  t.has_zone = true;
  return t;
}

}  // namespace fhir::fhirpath::internal
