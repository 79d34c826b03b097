#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <re2/re2.h>

namespace fhir::fhirpath::internal {

// encode()/decode(): hex digits (base64: fhir/base/base64.h).
int HexDigit(char c);  // -1 if `c` is not a hex digit

// FHIRPath regexes (matches(), replaceMatches()) run on RE2, in time linear in the text whatever
// the pattern: patterns come from clients (a FHIRPath Patch), and std::regex backtracked
// exponentially on some and overflowed on others (found by the fuzzer). Single-line mode ('.'
// matches a newline too); named groups as (?<name>...) or (?P<name>...); no back-references or
// look-around (RE2 has none: such a pattern is invalid). Null for an invalid pattern.
std::unique_ptr<re2::RE2> MakeRegex(const std::string& pattern);
// Match (the whole text if `full`).
bool RegexMatch(const std::string& text, const re2::RE2& re, bool full);
// Every match replaced by `replacement`, in which $1..$9 and ${name} stand for groups; nullopt
// when it names a group the pattern lacks. A result longer than `max_bytes` is cut short (its
// size is then above `max_bytes`).
std::optional<std::string> RegexReplace(const std::string& text, const re2::RE2& re,
                                        const std::string& replacement, std::size_t max_bytes);

}  // namespace fhir::fhirpath::internal
