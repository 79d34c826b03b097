#pragma once

#include <string_view>

namespace fhir {

// Format checks for the lexical space of each R4 primitive type as JSON carries it
// (http://hl7.org/fhir/R4/datatypes.html#primitive). Each returns true when `text` is a valid
// value of the type. The checks are stricter than the spec's regexes where the prose is: dates
// must exist in the calendar (no 2019-02-30), integer ranges are those of the spec.
// None allocates; none throws.

// string, markdown: non-empty, at most 1 MiB, valid after JSON decoding (no control characters
// below U+0020 other than tab, CR and LF).
bool IsValidString(std::string_view text);
// code: a valid string with no leading or trailing whitespace and no whitespace other than
// single spaces (so no tabs or line breaks).
bool IsValidCode(std::string_view text);
// id: 1-64 characters of [A-Za-z0-9\-.].
bool IsValidId(std::string_view text);
// uri, url, canonical: non-empty, no whitespace, no control characters.
bool IsValidUri(std::string_view text);
// oid: urn:oid:[0-2](\.(0|[1-9][0-9]*))+
bool IsValidOid(std::string_view text);
// uuid: urn:uuid: followed by a lower-case RFC 4122 textual UUID.
bool IsValidUuid(std::string_view text);
// base64Binary: non-empty RFC 4648 base64, alphabet [A-Za-z0-9+/]; whitespace allowed anywhere,
// at most two '=' and only at the end, length without whitespace a multiple of 4.
bool IsValidBase64(std::string_view text);
// date: YYYY, YYYY-MM or YYYY-MM-DD (year 0001-9999; a real calendar day).
bool IsValidDate(std::string_view text);
// dateTime: a date, or YYYY-MM-DDThh:mm:ss[.fff...](Z|+hh:mm|-hh:mm); seconds 60 allowed as a
// leap second only at 23:59:60 (checked in the written zone, not in UTC); offsets
// -14:00..+14:00.
bool IsValidDateTime(std::string_view text);
// instant: a dateTime with full precision to the second and a time zone.
bool IsValidInstant(std::string_view text);
// time: hh:mm:ss[.fff...] without time zone; seconds 60 only at 23:59:60.
bool IsValidTime(std::string_view text);
// The JSON number text of an integer (-2147483648..2147483647), unsignedInt (0..2147483647),
// positiveInt (1..2147483647): no fraction, no exponent, no leading zeros, no '+'. "-0" is an
// integer (the spec's regex allows it) but not an unsignedInt.
bool IsValidInteger(std::string_view text);
bool IsValidUnsignedInt(std::string_view text);
bool IsValidPositiveInt(std::string_view text);
// decimal: a JSON number text (-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?).
bool IsValidDecimal(std::string_view text);

}  // namespace fhir
