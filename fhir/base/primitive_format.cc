#include "fhir/base/primitive_format.h"

#include <cstddef>
#include <cstdint>
#include <iterator>

// Every check is a hand-written scan over the bytes: std::regex allocates, can throw and is slow,
// and several rules (calendar days, integer ranges, leap seconds) are not regular anyway.
// Grammar: http://hl7.org/fhir/R4/datatypes.html#primitive

namespace fhir {
namespace {

// http://hl7.org/fhir/R4/datatypes.html#string: "a sequence of Unicode characters" of at most
// 1 MiB ("Note that strings SHALL NOT exceed 1MB in size").
constexpr std::size_t kMaxStringBytes = 1024 * 1024;
constexpr std::int64_t kMaxInt32 = 2147483647;
constexpr std::int64_t kMinInt32 = -kMaxInt32 - 1;
constexpr std::size_t kMaxIdLength = 64;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsLowerHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f'); }
bool IsControl(char c) { return static_cast<unsigned char>(c) < 0x20; }

// The ASCII characters of the regex class \s.
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

bool IsLeapYear(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

// A read position in a text. Each method either consumes what it names and returns true, or
// returns false; the position is then unspecified, callers give up on the whole text.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}

  bool AtEnd() const { return pos_ == text_.size(); }

  bool Consume(char c) {
    if (AtEnd() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }

  // Consumes one character if it is any of `chars`.
  bool ConsumeOneOf(std::string_view chars) {
    if (AtEnd() || chars.find(text_[pos_]) == std::string_view::npos) return false;
    ++pos_;
    return true;
  }

  bool ConsumePrefix(std::string_view prefix) {
    if (!text_.substr(pos_).starts_with(prefix)) return false;
    pos_ += prefix.size();
    return true;
  }

  // Consumes exactly `count` digits whose value lies in [min, max].
  bool Number(std::size_t count, int min, int max, int* value) {
    *value = 0;
    for (std::size_t i = 0; i < count; ++i, ++pos_) {
      if (AtEnd() || !IsDigit(text_[pos_])) return false;
      *value = *value * 10 + (text_[pos_] - '0');
    }
    return *value >= min && *value <= max;
  }

  // Consumes [0-9]+.
  bool Digits() {
    const std::size_t start = pos_;
    while (!AtEnd() && IsDigit(text_[pos_])) ++pos_;
    return pos_ > start;
  }

  // Consumes 0|[1-9][0-9]*: a natural number without leading zeros. When the text goes on with
  // a digit after a '0', the caller's next expectation fails on it.
  bool Natural() { return Consume('0') || Digits(); }

  // Consumes exactly `count` characters of [0-9a-f].
  bool LowerHex(std::size_t count) {
    for (std::size_t i = 0; i < count; ++i, ++pos_) {
      if (AtEnd() || !IsLowerHex(text_[pos_])) return false;
    }
    return true;
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

enum class DatePrecision { kYear, kMonth, kDay };

// Consumes YYYY[-MM[-DD]] naming a real day (proleptic Gregorian calendar, year 0001-9999).
bool ReadDate(Cursor& in, DatePrecision* precision) {
  int year = 0;
  int month = 0;
  int day = 0;
  if (!in.Number(4, 1, 9999, &year)) return false;
  *precision = DatePrecision::kYear;
  if (!in.Consume('-')) return true;
  if (!in.Number(2, 1, 12, &month)) return false;
  *precision = DatePrecision::kMonth;
  if (!in.Consume('-')) return true;
  *precision = DatePrecision::kDay;
  return in.Number(2, 1, DaysInMonth(year, month), &day);
}

// Consumes hh:mm:ss[.f+]. The spec's regex allows second 60 in any minute, but a leap second is
// only ever the last second of a UTC day, so we require 23:59:60. For simplicity this is checked
// in the written zone, not in UTC: a real leap second written with a non-zero offset (for
// example 00:59:60+01:00) is rejected.
bool ReadTime(Cursor& in) {
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (!in.Number(2, 0, 23, &hour) || !in.Consume(':') || !in.Number(2, 0, 59, &minute) ||
      !in.Consume(':') || !in.Number(2, 0, 60, &second)) {
    return false;
  }
  if (second == 60 && (hour != 23 || minute != 59)) return false;
  return !in.Consume('.') || in.Digits();
}

// Consumes Z or (+|-)hh:mm within -14:00..+14:00.
bool ReadZone(Cursor& in) {
  if (in.Consume('Z')) return true;
  int hour = 0;
  int minute = 0;
  if (!in.ConsumeOneOf("+-") || !in.Number(2, 0, 14, &hour) || !in.Consume(':') ||
      !in.Number(2, 0, 59, &minute)) {
    return false;
  }
  return hour < 14 || minute == 0;
}

// Parses JSON integer text -?(0|[1-9][0-9]*) of at most 10 digits (enough for any 32-bit value,
// few enough that int64 cannot overflow). "-0" is accepted, as the spec's regex does.
bool ParseInteger(std::string_view text, std::int64_t* value) {
  const bool negative = !text.empty() && text.front() == '-';
  if (negative) text.remove_prefix(1);
  if (text.empty() || text.size() > 10 || (text.front() == '0' && text.size() > 1)) return false;
  std::int64_t magnitude = 0;
  for (char c : text) {
    if (!IsDigit(c)) return false;
    magnitude = magnitude * 10 + (c - '0');
  }
  *value = negative ? -magnitude : magnitude;
  return true;
}

// 0..2147483647 without a sign: unsignedInt's regex has no '-', so "-0" is not one.
bool ParseNonNegativeInt(std::string_view text, std::int64_t* value) {
  return !text.empty() && text.front() != '-' && ParseInteger(text, value) && *value <= kMaxInt32;
}

}  // namespace

bool IsValidString(std::string_view text) {
  if (text.empty() || text.size() > kMaxStringBytes) return false;
  for (char c : text) {
    if (IsControl(c) && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

// The prose (http://hl7.org/fhir/R4/datatypes.html#code) is stricter than the regex
// [^\s]+(\s[^\s]+)*: "no whitespace other than single spaces", so a tab inside is rejected.
// A code is a string, so the string rules apply as well.
bool IsValidCode(std::string_view text) {
  if (!IsValidString(text)) return false;
  char previous = ' ';  // Rejects a leading space.
  for (char c : text) {
    if (IsSpace(c) && (c != ' ' || previous == ' ')) return false;
    previous = c;
  }
  return previous != ' ';
}

bool IsValidId(std::string_view text) {
  if (text.empty() || text.size() > kMaxIdLength) return false;
  for (char c : text) {
    if (!IsAlpha(c) && !IsDigit(c) && c != '-' && c != '.') return false;
  }
  return true;
}

// The regex is \S*; RFC 3986 has no control characters either, so those are rejected too.
bool IsValidUri(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (IsSpace(c) || IsControl(c)) return false;
  }
  return true;
}

bool IsValidOid(std::string_view text) {
  Cursor in(text);
  if (!in.ConsumePrefix("urn:oid:") || !in.ConsumeOneOf("012")) return false;
  bool has_arc = false;
  while (in.Consume('.')) {
    if (!in.Natural()) return false;
    has_arc = true;
  }
  return has_arc && in.AtEnd();
}

// The version and variant nibbles are not checked: the spec's regex does not, and nil or
// non-RFC-4122 UUIDs occur in real data.
bool IsValidUuid(std::string_view text) {
  static constexpr std::size_t kGroupLengths[] = {8, 4, 4, 4, 12};
  Cursor in(text);
  if (!in.ConsumePrefix("urn:uuid:")) return false;
  for (std::size_t i = 0; i < std::size(kGroupLengths); ++i) {
    if (i > 0 && !in.Consume('-')) return false;
    if (!in.LowerHex(kGroupLengths[i])) return false;
  }
  return in.AtEnd();
}

// RFC 4648 section 4. R4's regex omits '/', which is a spec error. Whitespace may appear
// anywhere (the regex allows it around 4-character groups; encoders wrap lines at any multiple
// of 4 and some mid-group). The unused bits before padding are not required to be zero.
bool IsValidBase64(std::string_view text) {
  std::size_t length = 0;
  std::size_t padding = 0;
  for (char c : text) {
    if (IsSpace(c)) continue;
    if (c == '=') {
      ++padding;
    } else if (padding > 0 || !(IsAlpha(c) || IsDigit(c) || c == '+' || c == '/')) {
      return false;
    }
    ++length;
  }
  return length > 0 && length % 4 == 0 && padding <= 2;
}

bool IsValidDate(std::string_view text) {
  Cursor in(text);
  DatePrecision precision = DatePrecision::kYear;
  return ReadDate(in, &precision) && in.AtEnd();
}

// http://hl7.org/fhir/R4/datatypes.html#dateTime: "If hours and minutes are specified, a time
// zone SHALL be populated", and the regex requires seconds.
bool IsValidDateTime(std::string_view text) {
  Cursor in(text);
  DatePrecision precision = DatePrecision::kYear;
  if (!ReadDate(in, &precision)) return false;
  if (precision == DatePrecision::kDay && in.Consume('T')) {
    if (!ReadTime(in) || !ReadZone(in)) return false;
  }
  return in.AtEnd();
}

bool IsValidInstant(std::string_view text) {
  Cursor in(text);
  DatePrecision precision = DatePrecision::kYear;
  return ReadDate(in, &precision) && precision == DatePrecision::kDay && in.Consume('T') &&
         ReadTime(in) && ReadZone(in) && in.AtEnd();
}

bool IsValidTime(std::string_view text) {
  Cursor in(text);
  return ReadTime(in) && in.AtEnd();
}

bool IsValidInteger(std::string_view text) {
  std::int64_t value = 0;
  return ParseInteger(text, &value) && value >= kMinInt32 && value <= kMaxInt32;
}

bool IsValidUnsignedInt(std::string_view text) {
  std::int64_t value = 0;
  return ParseNonNegativeInt(text, &value);
}

bool IsValidPositiveInt(std::string_view text) {
  std::int64_t value = 0;
  return ParseNonNegativeInt(text, &value) && value >= 1;
}

// No limit on digits: decimal keeps its source text, and the spec puts no bound on precision.
bool IsValidDecimal(std::string_view text) {
  Cursor in(text);
  in.Consume('-');
  if (!in.Natural()) return false;
  if (in.Consume('.') && !in.Digits()) return false;
  if (in.ConsumeOneOf("eE")) {
    in.ConsumeOneOf("+-");
    if (!in.Digits()) return false;
  }
  return in.AtEnd();
}

}  // namespace fhir
