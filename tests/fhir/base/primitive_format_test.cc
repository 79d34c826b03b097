#include "fhir/base/primitive_format.h"

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include <doctest/doctest.h>

namespace fhir {
namespace {

using namespace std::string_view_literals;

struct Case {
  std::string_view text;
  bool valid;
};

// `text` with control bytes escaped and long inputs shortened, for failure messages.
std::string Printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  static constexpr std::size_t kMaxShown = 80;
  std::string out;
  for (char c : text.substr(0, kMaxShown)) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  if (text.size() > kMaxShown) out += "... (" + std::to_string(text.size()) + " bytes)";
  return '"' + out + '"';
}

// Checks every case of a table. Tables keep one case per line, hence the clang-format off.
void CheckCases(bool (*is_valid)(std::string_view), std::span<const Case> cases) {
  for (const Case& c : cases) {
    const std::string input = Printable(c.text);
    CAPTURE(input);
    CHECK(is_valid(c.text) == c.valid);
  }
}

constexpr std::string_view kId64 =
    "abcdefghij"
    "ABCDEFGHIJ"
    "0123456789"
    "klmnopqrst"
    "KLMNOPQRST"
    "0123456789"
    "-.xy";
constexpr std::string_view kId65 =
    "abcdefghij"
    "ABCDEFGHIJ"
    "0123456789"
    "klmnopqrst"
    "KLMNOPQRST"
    "0123456789"
    "-.xyz";
static_assert(kId64.size() == 64 && kId65.size() == 65);

constexpr std::size_t kOneMiB = 1024 * 1024;

TEST_CASE("IsValidString") {
  // clang-format off
  static constexpr Case kCases[] = {
      {"a", true},
      {" ", true},  // Whitespace-only is a value (R4 regex [ \r\n\t\S]+).
      {" leading and trailing ", true},
      {"tab\there", true},
      {"line\nbreak", true},
      {"cr\rlf\r\n", true},
      {"\303\274n\303\257c\303\266de", true},  // UTF-8 bytes >= 0x80 pass.
      {"del\x7f", true},                       // Only bytes below 0x20 are controls.
      {"", false},
      {"\x01", false},
      {"a\001b", false},
      {"\0"sv, false},
      {"a\0b"sv, false},
      {"\x1f", false},
      {"\x1b[0m", false},
      {"vertical\vtab", false},
      {"form\ffeed", false},
      {"bell\a", false},
  };
  // clang-format on
  CheckCases(IsValidString, kCases);

  const std::string max(kOneMiB, 'a');
  const std::string too_long(kOneMiB + 1, 'a');
  const Case kSizes[] = {{max, true}, {too_long, false}};
  CheckCases(IsValidString, kSizes);
}

TEST_CASE("IsValidCode") {
  // clang-format off
  static constexpr Case kCases[] = {
      {"a", true},
      {"a b", true},
      {"x y z", true},
      {"final", true},
      {"http://loinc.org", true},
      {"a-b_c.d/e", true},
      {"\xc3\xbc", true},
      {"", false},
      {" ", false},
      {" a", false},
      {"a ", false},
      {"a  b", false},
      {"a\tb", false},  // The prose allows single spaces only, stricter than the regex's \s.
      {"\ta", false},
      {"a\n", false},
      {"a\rb", false},
      {"a\fb", false},
      {"a\vb", false},
      {"a \tb", false},
      {"\x01", false},
      {"a\001b", false},
      {"a\0b"sv, false},
  };
  // clang-format on
  CheckCases(IsValidCode, kCases);

  const std::string max(kOneMiB, 'a');
  const std::string too_long(kOneMiB + 1, 'a');
  const Case kSizes[] = {{max, true}, {too_long, false}};
  CheckCases(IsValidCode, kSizes);
}

TEST_CASE("IsValidId") {
  // clang-format off
  static constexpr Case kCases[] = {
      {"a", true},
      {"Z", true},
      {"0", true},
      {"123", true},
      {"-", true},
      {".", true},
      {"a-b.c", true},
      {"example-Patient.01", true},
      {kId64, true},
      {"", false},
      {kId65, false},
      {"a_b", false},
      {"a b", false},
      {" a", false},
      {"a/b", false},
      {"a:b", false},
      {"a+b", false},
      {"\xc3\xbc", false},
      {"a\0"sv, false},
      {"a\n", false},
  };
  // clang-format on
  CheckCases(IsValidId, kCases);
}

TEST_CASE("IsValidUri") {
  // clang-format off
  static constexpr Case kCases[] = {
      {"a", true},
      {"http://hl7.org/fhir", true},
      {"http://example.org/a?b=c&d=%20#e", true},
      {"urn:oid:1.2.3", true},
      {"urn:uuid:c757873d-ec9a-4326-a141-556f43239520", true},
      {"#local", true},
      {"Patient/123", true},
      {"http://example.org/\xc3\xbc", true},
      {"", false},
      {" ", false},
      {" a", false},
      {"a ", false},
      {"http://exa mple.org", false},
      {"a\tb", false},
      {"a\n", false},
      {"a\rb", false},
      {"a\fb", false},
      {"a\vb", false},
      {"a\x01", false},
      {"a\0b"sv, false},
  };
  // clang-format on
  CheckCases(IsValidUri, kCases);
}

TEST_CASE("IsValidOid") {
  // clang-format off
  static constexpr Case kCases[] = {
      {"urn:oid:1.2", true},
      {"urn:oid:0.0", true},
      {"urn:oid:2.16.840.1.113883.6.96", true},
      {"urn:oid:1.0.10", true},
      {"urn:oid:2.999999999999999999999", true},
      {"", false},
      {"urn:oid:", false},
      {"urn:oid:1", false},
      {"urn:oid:3.1", false},
      {"urn:oid:10.1", false},
      {"urn:oid:01.2", false},
      {"urn:oid:1.02", false},
      {"urn:oid:1.00", false},
      {"urn:oid:1.", false},
      {"urn:oid:1..2", false},
      {"urn:oid:1.2.", false},
      {"urn:oid:.1", false},
      {"urn:oid:-1.2", false},
      {"urn:oid:1.2a", false},
      {"urn:oid:1.2 ", false},
      {" urn:oid:1.2", false},
      {"URN:OID:1.2", false},
      {"urn:oid1.2", false},
      {"1.2.3", false},
  };
  // clang-format on
  CheckCases(IsValidOid, kCases);
}

TEST_CASE("IsValidUuid") {
  // clang-format off
  static constexpr Case kCases[] = {
      {"urn:uuid:c757873d-ec9a-4326-a141-556f43239520", true},
      {"urn:uuid:00000000-0000-0000-0000-000000000000", true},
      {"urn:uuid:ffffffff-ffff-ffff-ffff-ffffffffffff", true},
      {"", false},
      {"urn:uuid:", false},
      {"urn:uuid:C757873D-EC9A-4326-A141-556F43239520", false},
      {"urn:uuid:c757873d-ec9a-4326-a141-556F43239520", false},
      {"URN:UUID:c757873d-ec9a-4326-a141-556f43239520", false},
      {"c757873d-ec9a-4326-a141-556f43239520", false},
      {"urn:uuid:c757873d-ec9a-4326-a141-556f4323952", false},
      {"urn:uuid:c757873d-ec9a-4326-a141-556f432395200", false},
      {"urn:uuid:c757873dec9a4326a141556f43239520", false},
      {"urn:uuid:c757873-dec9a-4326-a141-556f43239520", false},
      {"urn:uuid:c757873d-ec9a-4326-a141556f-43239520", false},
      {"urn:uuid:{c757873d-ec9a-4326-a141-556f43239520}", false},
      {"urn:uuid:g757873d-ec9a-4326-a141-556f43239520", false},
      {"urn:uuid:c757873d-ec9a-4326-a141-556f43239520 ", false},
      {"urn:uuid:c757873d_ec9a_4326_a141_556f43239520", false},
  };
  // clang-format on
  CheckCases(IsValidUuid, kCases);
}

TEST_CASE("IsValidBase64") {
  // clang-format off
  static constexpr Case kCases[] = {
      {"YWJj", true},
      {"YW==", true},
      {"YWI=", true},
      {"AAAA", true},
      {"YWJjZGVm", true},
      {"YWJjZA==", true},
      {"+/+/", true},  // R4's regex omits '/'; RFC 4648 has it.
      {"ab+/", true},
      {"YWJj\nZGVm", true},
      {"YWJj\r\nZGVm\r\n", true},
      {" YWJj ", true},
      {"\tYWJj\fZGVm\v", true},
      {"Y W J j", true},  // Whitespace anywhere between characters, not only between groups.
      {"YW = =", true},
      {"", false},
      {" ", false},
      {"\r\n", false},
      {"YWJ", false},
      {"YWJjZ", false},
      {"Y===", false},
      {"====", false},
      {"==", false},
      {"=YWJ", false},
      {"YW=j", false},
      {"YW==YWJj", false},
      {"YW==\nYWJj", false},
      {"YWJj=", false},
      {"YWJj====", false},
      {"YW-_", false},  // base64url alphabet.
      {"YW*j", false},
      {"YWJ.", false},
      {"YWJj\x01", false},
      {"YWJ\0"sv, false},
  };
  // clang-format on
  CheckCases(IsValidBase64, kCases);
}

TEST_CASE("IsValidDate") {
  // clang-format off
  static constexpr Case kCases[] = {
      {"2019", true},
      {"2019-01", true},
      {"2019-01-01", true},
      {"0001", true},
      {"0010", true},
      {"0100", true},
      {"1000", true},
      {"9999-12-31", true},
      {"2020-02-29", true},
      {"2000-02-29", true},
      {"2019-02-28", true},
      {"1900-02-28", true},
      {"2019-01-31", true},
      {"2019-04-30", true},
      {"2019-12-31", true},
      {"", false},
      {"0000", false},
      {"0000-01-01", false},
      {"2019-13", false},
      {"2019-00", false},
      {"2019-1-01", false},
      {"2019-01-1", false},
      {"2019-02-29", false},
      {"1900-02-29", false},
      {"2100-02-29", false},
      {"2019-02-30", false},
      {"2019-04-31", false},
      {"2019-01-32", false},
      {"2019-01-00", false},
      {"19", false},
      {"201", false},
      {"20190", false},
      {"2019-", false},
      {"2019-01-", false},
      {"2019-01-011", false},
      {"2019/01/01", false},
      {"20190101", false},
      {"2019-01-01T00:00:00Z", false},
      {"2019-01-01Z", false},
      {"2019-01-01 ", false},
      {" 2019", false},
      {"+2019", false},
      {"-2019", false},
      {"abcd", false},
  };
  // clang-format on
  CheckCases(IsValidDate, kCases);
}

TEST_CASE("IsValidDateTime") {
  // clang-format off
  static constexpr Case kCases[] = {
      {"2019", true},
      {"2019-01", true},
      {"2019-01-01", true},
      {"2020-02-29", true},
      {"2019-01-01T00:00:00Z", true},
      {"2019-01-01T23:59:59Z", true},
      {"2019-01-01T12:00:00+14:00", true},
      {"2019-01-01T12:00:00-14:00", true},
      {"2019-01-01T12:00:00+13:59", true},
      {"2019-01-01T12:00:00-13:59", true},
      {"2019-01-01T12:00:00+00:00", true},
      {"2019-01-01T12:00:00-00:00", true},
      {"2019-01-01T12:00:00+05:30", true},
      {"2019-01-01T12:30:45.1Z", true},
      {"2019-01-01T12:30:45.123456789+05:30", true},
      {"2016-12-31T23:59:60Z", true},
      {"2016-12-31T23:59:60.5+01:00", true},  // Leap second checked in the written zone.
      {"2020-02-29T10:00:00Z", true},
      {"", false},
      {"0000", false},
      {"2019-13", false},
      {"2019-1-01", false},
      {"2019-02-29", false},
      {"2019-02-29T00:00:00Z", false},
      {"0000-01-01T00:00:00Z", false},
      {"2019-01-01T00:00:00", false},  // A time needs a zone.
      {"2019-01-01T00:00:00.123", false},
      {"2019-01-01T00:00Z", false},  // Seconds are required.
      {"2019-01-01T00:00", false},
      {"2019-01-01T00Z", false},
      {"2019-01-01T", false},
      {"2019-01T00:00:00Z", false},
      {"2019T00:00:00Z", false},
      {"2019-01-01T24:00:00Z", false},
      {"2019-01-01T23:60:00Z", false},
      {"2019-01-01T23:59:61Z", false},
      {"2019-01-01T12:00:60Z", false},
      {"2019-01-01T23:58:60Z", false},
      {"2019-01-01T22:59:60Z", false},
      {"2019-01-01T0:00:00Z", false},
      {"2019-01-01T00:0:00Z", false},
      {"2019-01-01T00:00:0Z", false},
      {"2019-01-01T00:00:00.Z", false},
      {"2019-01-01T00:00:00+14:01", false},
      {"2019-01-01T00:00:00-14:01", false},
      {"2019-01-01T00:00:00+14:30", false},
      {"2019-01-01T00:00:00+15:00", false},
      {"2019-01-01T00:00:00+05:60", false},
      {"2019-01-01T00:00:00+1400", false},
      {"2019-01-01T00:00:00+14", false},
      {"2019-01-01T00:00:00+14:0", false},
      {"2019-01-01T00:00:00+5:00", false},
      {"2019-01-01T00:00:00 +05:00", false},
      {"2019-01-01T00:00:00z", false},
      {"2019-01-01t00:00:00Z", false},
      {"2019-01-01 00:00:00Z", false},
      {"2019-01-01T00:00:00ZZ", false},
      {"2019-01-01T00:00:00Z ", false},
      {"2019-01-01T00:00:00Z+01:00", false},
  };
  // clang-format on
  CheckCases(IsValidDateTime, kCases);
}

TEST_CASE("IsValidInstant") {
  // clang-format off
  static constexpr Case kCases[] = {
      {"2019-01-01T00:00:00Z", true},
      {"2019-01-01T00:00:00.000Z", true},
      {"2019-01-01T00:00:00+14:00", true},
      {"2019-01-01T00:00:00-14:00", true},
      {"2019-01-01T00:00:00+13:59", true},
      {"2016-12-31T23:59:60Z", true},
      {"2000-02-29T12:00:00.123456-05:00", true},
      {"9999-12-31T23:59:59.999Z", true},
      {"", false},
      {"2019", false},
      {"2019-01", false},
      {"2019-01-01", false},
      {"2019-01-01T", false},
      {"2019-01-01T00:00Z", false},  // Seconds are required.
      {"2019-01-01T00:00:00", false},
      {"2019-01-01T00:00:00.1", false},
      {"2019-01-01T00:00:00.Z", false},
      {"2019-01-01T00:00:00+14:01", false},
      {"2019-01-01T00:00:00+15:00", false},
      {"2019-02-29T00:00:00Z", false},
      {"1900-02-29T00:00:00Z", false},
      {"0000-01-01T00:00:00Z", false},
      {"2019-01-01T24:00:00Z", false},
      {"2019-01-01T12:00:60Z", false},
      {"2019-01-01T00:00:00Z ", false},
      {"2019-01-01 00:00:00Z", false},
  };
  // clang-format on
  CheckCases(IsValidInstant, kCases);
}

TEST_CASE("IsValidTime") {
  // clang-format off
  static constexpr Case kCases[] = {
      {"00:00:00", true},
      {"23:59:59", true},
      {"09:05:03", true},
      {"12:30:00.5", true},
      {"12:30:00.123456789", true},
      {"23:59:60", true},
      {"23:59:60.999", true},
      {"", false},
      {"24:00:00", false},
      {"23:60:00", false},
      {"23:59:61", false},
      {"12:00:60", false},
      {"23:58:60", false},
      {"12:00", false},
      {"12", false},
      {"12:00:00Z", false},  // time has no zone.
      {"12:00:00+01:00", false},
      {"1:00:00", false},
      {"12:0:00", false},
      {"12:00:0", false},
      {"12:00:00.", false},
      {"12:00:00.a", false},
      {"12-00-00", false},
      {"120000", false},
      {"T12:00:00", false},
      {"12:00:00 ", false},
      {" 12:00:00", false},
      {".5", false},
  };
  // clang-format on
  CheckCases(IsValidTime, kCases);
}

TEST_CASE("IsValidInteger") {
  // clang-format off
  static constexpr Case kCases[] = {
      {"0", true},
      {"1", true},
      {"-1", true},
      {"42", true},
      {"-0", true},  // Allowed by the spec's regex -?([0]|([1-9][0-9]*)).
      {"1000000000", true},
      {"-1000000000", true},
      {"2147483647", true},
      {"-2147483648", true},
      {"", false},
      {"-", false},
      {"+1", false},
      {"01", false},
      {"00", false},
      {"-01", false},
      {"2147483648", false},
      {"-2147483649", false},
      {"4294967296", false},
      {"9999999999", false},
      {"10000000000", false},
      {"99999999999999999999", false},
      {"1e2", false},
      {"1.0", false},
      {"1.", false},
      {"0x10", false},
      {" 1", false},
      {"1 ", false},
      {"1-", false},
      {"--1", false},
      {"abc", false},
  };
  // clang-format on
  CheckCases(IsValidInteger, kCases);
}

TEST_CASE("IsValidUnsignedInt") {
  // clang-format off
  static constexpr Case kCases[] = {
      {"0", true},
      {"1", true},
      {"10", true},
      {"2147483647", true},
      {"", false},
      {"-0", false},  // The unsignedInt regex has no sign.
      {"-1", false},
      {"+1", false},
      {"01", false},
      {"00", false},
      {"2147483648", false},
      {"4294967295", false},
      {"1e2", false},
      {"1.0", false},
      {" 0", false},
      {"0 ", false},
  };
  // clang-format on
  CheckCases(IsValidUnsignedInt, kCases);
}

TEST_CASE("IsValidPositiveInt") {
  // clang-format off
  static constexpr Case kCases[] = {
      {"1", true},
      {"2", true},
      {"100", true},
      {"2147483647", true},
      {"", false},
      {"0", false},
      {"-0", false},
      {"-1", false},
      {"+1", false},
      {"01", false},
      {"2147483648", false},
      {"1.0", false},
      {"1e0", false},
      {" 1", false},
  };
  // clang-format on
  CheckCases(IsValidPositiveInt, kCases);
}

TEST_CASE("IsValidDecimal") {
  // clang-format off
  static constexpr Case kCases[] = {
      {"0", true},
      {"-0", true},
      {"1", true},
      {"-1", true},
      {"10", true},
      {"0.0", true},
      {"1.5", true},
      {"-1.5", true},
      {"0.001", true},
      {"3.14159", true},
      {"1e2", true},
      {"1E2", true},
      {"1e+2", true},
      {"1e-2", true},
      {"1e02", true},  // JSON allows leading zeros in the exponent.
      {"1.5e10", true},
      {"-0.0e-0", true},
      {"2147483648", true},
      {"123456789012345678901234567890.123456789012345678901234567890", true},
      {"", false},
      {"-", false},
      {"+1", false},
      {"1.", false},
      {".5", false},
      {"-.5", false},
      {"1.e2", false},
      {"01", false},
      {"00.5", false},
      {"-01", false},
      {"1e", false},
      {"1e+", false},
      {"e2", false},
      {"1ee2", false},
      {"1E+-2", false},
      {"1e2.5", false},
      {"1.5.2", false},
      {"1,5", false},
      {"--1", false},
      {" 1", false},
      {"1 ", false},
      {"NaN", false},
      {"Infinity", false},
      {"0x1", false},
  };
  // clang-format on
  CheckCases(IsValidDecimal, kCases);
}

}  // namespace
}  // namespace fhir
