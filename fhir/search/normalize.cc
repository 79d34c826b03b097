#include "fhir/search/normalize.h"

#include <array>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace fhir::search {
namespace {

// Base letters of U+00C0..U+017F ('\0': no single-letter folding; handled or kept as is).
using std::string_view_literals::operator""sv;
constexpr std::string_view kLatin1 =
    "aaaaaaaceeeeiiii"   // C0-CF (C6 Æ handled below)
    "dnooooo\0ouuuuy\0s"  // D0-DF (D7 ×, DE Þ kept; DF ß -> ss)
    "aaaaaaaceeeeiiii"   // E0-EF
    "dnooooo\0ouuuuy\0y"  // F0-FF
    "aaaaaaccccccccdd"   // 100-10F
    "ddeeeeeeeeeegggg"   // 110-11F
    "gggghhhhiiiiiiii"   // 120-12F
    "ii\0\0jjkkklllllll"  // 130-13F
    "lllnnnnnnnnnoooo"   // 140-14F
    "oo\0\0rrrrrrssssss"  // 150-15F
    "ssttttttuuuuuuuu"   // 160-16F
    "uuuuwwyyyzzzzzzs"sv;  // 170-17F

std::uint32_t Decode(std::string_view text, std::size_t& i) {
  unsigned char c = static_cast<unsigned char>(text[i]);
  int extra = c < 0x80 ? 0 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;
  std::uint32_t cp = extra == 0 ? c : extra == 1 ? (c & 0x1Fu) : extra == 2 ? (c & 0x0Fu) : (c & 0x07u);
  for (int k = 0; k < extra && i + 1 < text.size(); ++k) {
    ++i;
    cp = (cp << 6) | (static_cast<unsigned char>(text[i]) & 0x3Fu);
  }
  ++i;
  return cp;
}

void Encode(std::uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool Digits(std::string_view s, std::size_t pos, std::size_t n, int& value) {
  if (pos + n > s.size()) return false;
  value = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    value = value * 10 + (s[i] - '0');
  }
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

int DaysInMonth(int y, int m) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[static_cast<std::size_t>(m - 1)];
}

constexpr std::int64_t kDayMs = 86400000;

}  // namespace

std::string NormalizeString(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      out += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
      ++i;
      continue;
    }
    std::uint32_t cp = Decode(text, i);
    if (cp == 0xC6 || cp == 0xE6) {
      out += "ae";
    } else if (cp == 0xDF) {
      out += "ss";
    } else if (cp == 0x152 || cp == 0x153) {
      out += "oe";
    } else if (cp >= 0xC0 && cp <= 0x17F && kLatin1[cp - 0xC0] != '\0') {
      out += kLatin1[cp - 0xC0];
    } else if (cp >= 0x391 && cp <= 0x3A9) {
      Encode(cp + 32, out);  // Greek capitals
    } else if (cp >= 0x410 && cp <= 0x42F) {
      Encode(cp + 32, out);  // Cyrillic capitals
    } else {
      Encode(cp, out);
    }
  }
  return out;
}

std::optional<TimeRange> DateRange(std::string_view s) {
  int year = 0;
  int month = 1;
  int day = 1;
  if (!Digits(s, 0, 4, year)) return std::nullopt;
  if (s.size() == 4) {
    std::int64_t low = DaysFromCivil(year, 1, 1) * kDayMs;
    return TimeRange{low, DaysFromCivil(year + 1, 1, 1) * kDayMs - 1};
  }
  if (s.size() < 7 || s[4] != '-' || !Digits(s, 5, 2, month) || month < 1 || month > 12) {
    return std::nullopt;
  }
  if (s.size() == 7) {
    std::int64_t low = DaysFromCivil(year, static_cast<unsigned>(month), 1) * kDayMs;
    return TimeRange{low, low + DaysInMonth(year, month) * kDayMs - 1};
  }
  if (s.size() < 10 || s[7] != '-' || !Digits(s, 8, 2, day) || day < 1 ||
      day > DaysInMonth(year, month)) {
    return std::nullopt;
  }
  const std::int64_t day_start =
      DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * kDayMs;
  if (s.size() == 10) return TimeRange{day_start, day_start + kDayMs - 1};
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (s[10] != 'T' || !Digits(s, 11, 2, hour) || s.size() < 16 || s[13] != ':' ||
      !Digits(s, 14, 2, minute) || hour > 23 || minute > 59) {
    return std::nullopt;
  }
  std::size_t pos = 16;
  std::int64_t precision_ms = 60000;
  std::int64_t fraction_ms = 0;
  if (pos < s.size() && s[pos] == ':') {
    if (!Digits(s, pos + 1, 2, second) || second > 60) return std::nullopt;
    pos += 3;
    precision_ms = 1000;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      std::size_t digits = 0;
      std::int64_t scale = 100;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        if (digits < 3) fraction_ms += (s[pos] - '0') * scale;
        scale /= 10;
        ++digits;
        ++pos;
      }
      if (digits == 0) return std::nullopt;
      precision_ms = digits >= 3 ? 1 : (digits == 2 ? 10 : 100);
    }
  }
  std::int64_t offset_ms = 0;
  if (pos < s.size()) {
    if (s[pos] == 'Z' && pos + 1 == s.size()) {
      // UTC
    } else if ((s[pos] == '+' || s[pos] == '-') && pos + 6 == s.size() && s[pos + 3] == ':') {
      int oh = 0;
      int om = 0;
      if (!Digits(s, pos + 1, 2, oh) || !Digits(s, pos + 4, 2, om) || oh > 14 || om > 59) {
        return std::nullopt;
      }
      offset_ms = (oh * 60 + om) * 60000LL * (s[pos] == '+' ? 1 : -1);
    } else {
      return std::nullopt;
    }
  }
  const std::int64_t low =
      day_start + ((hour * 60 + minute) * 60 + second) * 1000LL + fraction_ms - offset_ms;
  return TimeRange{low, low + precision_ms - 1};
}

std::string FormatInstant(std::int64_t ms) {
  std::int64_t days = ms >= 0 ? ms / kDayMs : -((-ms + kDayMs - 1) / kDayMs);
  std::int64_t rest = ms - days * kDayMs;
  // civil_from_days
  std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y0 = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = y0 + (m <= 2 ? 1 : 0);
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(y), m, d, static_cast<long long>(rest / 3600000),
                static_cast<long long>(rest / 60000 % 60), static_cast<long long>(rest / 1000 % 60),
                static_cast<long long>(rest % 1000));
  return buffer;
}

}  // namespace fhir::search
