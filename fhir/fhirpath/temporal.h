#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fhir::fhirpath::internal {

// A System.Date, System.DateTime or System.Time value broken into fields, with its precision
// (http://hl7.org/fhirpath/N1/#datetime): comparisons only go as far as both values are known.
struct Temporal {
  enum Precision : std::uint8_t {
    kYear = 1,
    kMonth,
    kDay,
    kHour,
    kMinute,
    kSecond,
    kMillisecond,
  };
  enum class Kind : std::uint8_t { kDate, kDateTime, kTime };
  Kind kind = Kind::kDate;
  int year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0, millisecond = 0;
  int fraction_digits = 0;  // digits written after the seconds' '.'
  Precision precision = kYear;
  bool has_zone = false;
  int zone_minutes = 0;  // offset from UTC

  // Text in FHIR syntax: "2012-05-01", "2012-05-01T10:00:00.000+10:00", "10:00:00".
  std::string ToString() const;
};

// Parses FHIR date / dateTime / instant / time text ("T10:00" is accepted for times too).
std::optional<Temporal> ParseDate(std::string_view text);
std::optional<Temporal> ParseDateTime(std::string_view text);
std::optional<Temporal> ParseTime(std::string_view text);

// <0, 0, >0; nullopt when the precisions differ so that the answer is unknown.
std::optional<int> CompareTemporal(const Temporal& a, const Temporal& b);

// `value` + `amount` `unit` (a calendar keyword or UCUM unit); nullopt when the unit does not
// apply (e.g. 'mo' or 'a': not calendar durations, a Date plus hours).
std::optional<Temporal> AddDuration(const Temporal& value, std::int64_t amount,
                                    std::string_view unit);

// The lowest (or highest) value `t` may stand for, at `precision`: missing fields take their
// least (greatest) value, and a dateTime without a time zone the earliest (+14:00) or latest
// (-12:00) zone (lowBoundary() / highBoundary()).
Temporal Boundary(const Temporal& t, Temporal::Precision precision, bool high);

// The civil date of the current time in UTC and its fields (for now(), today(), timeOfDay()).
Temporal Now();

}  // namespace fhir::fhirpath::internal
