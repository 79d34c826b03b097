#pragma once

#include <string>
#include <string_view>

namespace server {

// Returns a compact R4 OperationOutcome with one issue
// (http://hl7.org/fhir/R4/operationoutcome.html):
//   {"resourceType":"OperationOutcome","issue":[{"severity":..,"code":..,
//    "diagnostics":..,"expression":[..]}]}
// `severity` is an issue-severity code ("error"), `code` an issue-type code ("not-found");
// "diagnostics" is omitted when empty, "expression" when `expression` is empty.
// Inputs may come from request bytes: invalid UTF-8 is replaced as by SanitizeUtf8().
std::string OperationOutcomeJson(std::string_view severity, std::string_view code,
                                 std::string_view diagnostics, std::string_view expression = {});

// Returns `text` with every byte sequence that is not well-formed UTF-8 (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF) replaced by U+FFFD, so that request-derived
// text (paths, header values) can be written into JSON.
std::string SanitizeUtf8(std::string_view text);

}  // namespace server
