#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace fhir {

// Base64 (RFC 4648): FHIRPath's encode()/decode() and base64Binary values (a Bundle's JSON
// Patch entry). `url`: the URL-safe alphabet ('-' and '_' for '+' and '/').
std::string Base64Encode(std::string_view in, bool url);
// Either alphabet; stops at the first '='; nullopt for any other character (whitespace too).
std::optional<std::string> Base64Decode(std::string_view in);

}  // namespace fhir
