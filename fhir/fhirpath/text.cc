// String helpers of the FHIRPath string functions: base64/hex, regexes.

#include "fhir/fhirpath/text.h"

namespace fhir::fhirpath::internal {

std::string Base64Encode(std::string_view in, bool url) {
  const char* alphabet = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                             : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  while (i + 2 < in.size()) {
    unsigned n = (static_cast<unsigned>(static_cast<unsigned char>(in[i])) << 16) |
                 (static_cast<unsigned>(static_cast<unsigned char>(in[i + 1])) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += alphabet[n & 63];
    i += 3;
  }
  if (i < in.size()) {
    unsigned n = static_cast<unsigned>(static_cast<unsigned char>(in[i]) << 16);
    if (i + 1 < in.size()) n |= static_cast<unsigned>(static_cast<unsigned char>(in[i + 1]) << 8);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view in) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+' || c == '-')
      v = 62;
    else if (c == '/' || c == '_')
      v = 63;
    else if (c == '=')
      break;
    else
      return std::nullopt;
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  return out;
}

// FHIRPath regexes run in single-line mode ('.' matches a newline too), which ECMAScript
// regexes lack: an unescaped '.' outside a character class becomes [\s\S].
std::optional<std::regex> MakeRegex(const std::string& pattern) {
  std::string translated;
  bool in_class = false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      translated += c;
      translated += pattern[++i];
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
    } else if (c == '[') {
      in_class = true;
    } else if (c == '.') {
      translated += "[\\s\\S]";
      continue;
    }
    translated += c;
  }
  try {
    return std::regex(translated, std::regex::ECMAScript);
  } catch (const std::regex_error&) {
    return std::nullopt;
  }
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// std::regex reports patterns too costly to run by throwing; the engine never throws.
std::optional<bool> RegexMatch(const std::string& text, const std::regex& re, bool full) {
  try {
    return full ? std::regex_match(text, re) : std::regex_search(text, re);
  } catch (const std::regex_error&) {
    return std::nullopt;
  }
}

std::optional<std::string> RegexReplace(const std::string& text, const std::regex& re,
                                        const std::string& replacement) {
  try {
    return std::regex_replace(text, re, replacement);
  } catch (const std::regex_error&) {
    return std::nullopt;
  }
}

}  // namespace fhir::fhirpath::internal
