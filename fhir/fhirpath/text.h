#pragma once

#include <optional>
#include <regex>
#include <string>
#include <string_view>

namespace fhir::fhirpath::internal {

// encode()/decode(): base64 (`url`: the URL-safe alphabet), hex digits.
std::string Base64Encode(std::string_view in, bool url);
std::optional<std::string> Base64Decode(std::string_view in);
int HexDigit(char c);  // -1 if `c` is not a hex digit

// FHIRPath regexes: ECMAScript syntax in single-line mode ('.' matches a newline too).
// nullopt for an invalid pattern.
std::optional<std::regex> MakeRegex(const std::string& pattern);
// Match (whole text if `full`) / replace; nullopt when the regex engine gives up.
std::optional<bool> RegexMatch(const std::string& text, const std::regex& re, bool full);
std::optional<std::string> RegexReplace(const std::string& text, const std::regex& re,
                                        const std::string& replacement);

}  // namespace fhir::fhirpath::internal
