#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fhir::search {

// Search string normalisation: lower case, accents removed (Latin letters of U+00C0..U+017F fold
// to their base letter, "ß" to "ss"), Greek and Cyrillic capitals lowered; everything else kept as written. The
// same function normalises index values and query values, so `name=muller` finds "Müller".
std::string NormalizeString(std::string_view text);

// The instant interval a FHIR date, dateTime or instant covers, in ms since the epoch, both ends
// inclusive: "2020" -> [2020-01-01T00:00:00.000Z, 2020-12-31T23:59:59.999Z]. A time without a
// zone is taken as UTC. nullopt for text that is not a date/dateTime/instant.
struct TimeRange {
  std::int64_t low;
  std::int64_t high;
};
std::optional<TimeRange> DateRange(std::string_view text);

// "2020-01-01T00:00:00.000Z" for a ms value (UTC, for messages and tests).
std::string FormatInstant(std::int64_t ms);

}  // namespace fhir::search
