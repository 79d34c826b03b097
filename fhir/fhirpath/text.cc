// String helpers of the FHIRPath string functions: hex digits, regexes (base64 is fhir/base).

#include "fhir/fhirpath/text.h"

#include <algorithm>

namespace fhir::fhirpath::internal {

// RE2 spells a named group (?P<name>...); FHIRPath patterns (and the spec's examples) use the
// .NET/ECMAScript (?<name>...), which RE2 2022 does not know.
std::unique_ptr<re2::RE2> MakeRegex(const std::string& pattern) {
  std::string translated;
  bool in_class = false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      // A back-reference, which RE2 would read as an octal escape: refused.
      if (!in_class && pattern[i + 1] >= '1' && pattern[i + 1] <= '9') return nullptr;
      translated += c;
      translated += pattern[++i];
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
    } else if (c == '[') {
      in_class = true;
    } else if (c == '(' && pattern.compare(i, 3, "(?<") == 0 && i + 3 < pattern.size() &&
               pattern[i + 3] != '=' && pattern[i + 3] != '!') {
      translated += "(?P<";
      i += 2;
      continue;
    }
    translated += c;
  }
  re2::RE2::Options options;
  options.set_dot_nl(true);         // single-line mode: '.' matches a newline too
  options.set_log_errors(false);    // an invalid pattern is the caller's error, not a log line
  options.set_max_mem(8 << 20);     // compiled program and DFA cache
  auto re = std::make_unique<re2::RE2>(translated, options);
  if (!re->ok()) return nullptr;
  return re;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool RegexMatch(const std::string& text, const re2::RE2& re, bool full) {
  return full ? re2::RE2::FullMatch(text, re) : re2::RE2::PartialMatch(text, re);
}

// The FHIRPath substitution refers to groups as $1 or ${name}; RE2's rewrite string as \1,
// with its own backslashes doubled.
std::optional<std::string> RegexReplace(const std::string& text, const re2::RE2& re,
                                        const std::string& replacement, std::size_t max_bytes) {
  std::string rewrite;
  for (std::size_t i = 0; i < replacement.size(); ++i) {
    const char c = replacement[i];
    if (c == '\\') {
      rewrite += "\\\\";
    } else if (c == '$' && i + 1 < replacement.size() && replacement[i + 1] >= '0' &&
               replacement[i + 1] <= '9') {
      rewrite += '\\';
      rewrite += replacement[++i];
    } else if (c == '$' && i + 1 < replacement.size() && replacement[i + 1] == '{') {
      const std::size_t close = replacement.find('}', i + 2);
      if (close == std::string::npos) return std::nullopt;
      const auto& groups = re.NamedCapturingGroups();
      auto group = groups.find(replacement.substr(i + 2, close - i - 2));
      if (group == groups.end() || group->second > 9) return std::nullopt;
      rewrite += '\\';
      rewrite += static_cast<char>('0' + group->second);
      i = close;
    } else {
      rewrite += c;
    }
  }
  std::string error;
  if (!re.CheckRewriteString(rewrite, &error)) return std::nullopt;
  // Match by match, so that a result past max_bytes stops early instead of filling memory.
  const int groups = 1 + std::min(re.NumberOfCapturingGroups(), 9);
  re2::StringPiece found[10];
  std::string out;
  std::size_t pos = 0;
  while (pos <= text.size() &&
         re.Match(text, pos, text.size(), re2::RE2::UNANCHORED, found, groups)) {
    const auto start = static_cast<std::size_t>(found[0].data() - text.data());
    const std::size_t end = start + found[0].size();
    out.append(text, pos, start - pos);
    if (!re.Rewrite(&out, rewrite, found, groups)) return std::nullopt;
    pos = end;
    if (found[0].empty()) {  // an empty match: keep the next character (all of its UTF-8 bytes)
      if (end == text.size()) {
        pos = end + 1;
        break;
      }
      std::size_t next = end + 1;
      while (next < text.size() && (static_cast<unsigned char>(text[next]) & 0xC0) == 0x80) {
        ++next;
      }
      out.append(text, end, next - end);
      pos = next;
    }
    if (out.size() > max_bytes) return out;  // cut short: the caller refuses it
  }
  if (pos < text.size()) out.append(text, pos, std::string::npos);
  return out;
}

}  // namespace fhir::fhirpath::internal
