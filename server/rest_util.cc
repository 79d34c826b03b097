#include "server/rest_util.h"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "fhir/base/primitive_format.h"

namespace server {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool Unreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '.' || c == '_' || c == '~' || c == ':' || c == ',' || c == '/';
}

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    if (Unreserved(c)) {
      out += c;
    } else {
      auto u = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

void Write(rapidjson::Writer<rapidjson::StringBuffer>& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

}  // namespace

std::string NewResourceId(std::string_view type) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uint64_t hi = rng();
  const std::uint64_t lo = rng();
  unsigned version = 4;
  if (type != "Patient") {
    // The 48-bit Unix time in milliseconds in place of the first 48 random bits.
    const auto ms = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch())
            .count());
    hi = (ms << 16) | (hi & 0xffff);
    version = 7;
  }
  char out[40];
  std::snprintf(out, sizeof out, "%08x-%04x-%x%03x-%04x-%012llx",
                static_cast<unsigned>(hi >> 32), static_cast<unsigned>((hi >> 16) & 0xffff),
                version, static_cast<unsigned>(hi & 0x0fff),
                static_cast<unsigned>(0x8000 | ((lo >> 48) & 0x3fff)),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return out;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::string PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 && HexValue(text[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

Params ParseQuery(std::string_view query) {
  if (std::size_t q = query.find('?'); q != std::string_view::npos) query.remove_prefix(q + 1);
  Params out;
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    std::size_t eq = pair.find('=');
    std::string key = PercentDecode(pair.substr(0, eq));
    std::string value =
        eq == std::string_view::npos ? std::string() : PercentDecode(pair.substr(eq + 1));
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

std::string QueryString(const Params& params, const Params& extra) {
  std::string out;
  for (const Params* list : {&params, &extra}) {
    for (const auto& [key, value] : *list) {
      out += out.empty() ? '?' : '&';
      out += PercentEncode(key);
      out += '=';
      out += PercentEncode(value);
    }
  }
  return out;
}

Params WithParam(Params params, const std::string& key, const std::string& value) {
  std::erase_if(params, [&](const auto& p) { return p.first == key; });
  params.emplace_back(key, value);
  return params;
}

bool ParseInt(std::string_view text, std::int64_t& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool ParseCount(std::string_view text, int& out) {
  std::int64_t n = 0;
  if (!ParseInt(text, n) || n < 0 || n > 1000) return false;
  out = static_cast<int>(n);
  return true;
}

bool ParseVersion(std::string_view text, std::int64_t& out) {
  return ParseInt(text, out) && out > 0;
}

std::optional<std::string> NormalizeInstant(std::string_view t) {
  if (!fhir::IsValidDateTime(t)) return std::nullopt;
  std::tm tm{};
  tm.tm_mon = 0;
  tm.tm_mday = 1;
  auto num = [&](std::size_t pos, std::size_t len) {
    int v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) v = v * 10 + (t[i] - '0');
    return v;
  };
  tm.tm_year = num(0, 4) - 1900;
  if (t.size() >= 7) tm.tm_mon = num(5, 2) - 1;
  if (t.size() >= 10) tm.tm_mday = num(8, 2);
  int millis = 0;
  long offset = 0;
  if (t.size() > 10) {
    tm.tm_hour = num(11, 2);
    tm.tm_min = num(14, 2);
    tm.tm_sec = num(17, 2);
    std::size_t i = 19;
    if (i < t.size() && t[i] == '.') {
      int digits = 0;
      for (++i; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i, ++digits) {
        if (digits < 3) millis = millis * 10 + (t[i] - '0');
      }
      for (; digits < 3; ++digits) millis *= 10;
    }
    if (i < t.size() && t[i] != 'Z') {
      long sign = t[i] == '-' ? -1 : 1;
      offset = sign * (num(i + 1, 2) * 3600L + num(i + 4, 2) * 60L);
    }
  }
  std::time_t utc = timegm(&tm) - offset;
  std::tm out{};
  gmtime_r(&utc, &out);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", out.tm_year + 1900,
                out.tm_mon + 1, out.tm_mday, out.tm_hour, out.tm_min, out.tm_sec, millis);
  return std::string(buf);
}

std::optional<std::string> InstantFromHttpDate(std::string_view http_date) {
  std::tm tm{};
  std::string text(http_date);
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.000Z", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return std::string(buf);
}

std::string HttpDateFromInstant(std::string_view instant) {
  auto normalized = NormalizeInstant(instant);
  if (!normalized) return {};
  std::tm tm{};
  std::string text = normalized->substr(0, 19);
  strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  std::time_t t = timegm(&tm);
  std::tm out{};
  gmtime_r(&t, &out);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &out);
  return buf;
}

BundleWriter::BundleWriter(std::string_view type) : type_(type) {}

void BundleWriter::Total(std::int64_t total) { total_ = total; }

void BundleWriter::Link(std::string_view relation, std::string_view url) {
  links_.emplace_back(relation, url);
}

void BundleWriter::HistoryEntry(std::string_view base_url, const storage::StoredVersion& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  std::string ref = v.type + "/" + v.id;
  w.StartObject();
  w.Key("fullUrl");
  Write(w, std::string(base_url) + "/" + ref);
  if (!v.deleted) {
    w.Key("resource");
    w.RawValue(v.json.data(), v.json.size(), rapidjson::kObjectType);
  }
  w.Key("request");
  w.StartObject();
  w.Key("method");
  Write(w, v.deleted ? "DELETE" : v.version == 1 ? "POST" : "PUT");
  w.Key("url");
  Write(w, v.version == 1 && !v.deleted ? v.type : ref);
  w.EndObject();
  w.Key("response");
  w.StartObject();
  w.Key("status");
  Write(w, v.deleted ? "204" : v.version == 1 ? "201" : "200");
  w.Key("etag");
  Write(w, "W/\"" + std::to_string(v.version) + "\"");
  w.Key("lastModified");
  Write(w, v.last_updated);
  w.EndObject();
  w.EndObject();
  entries_.emplace_back(buffer.GetString(), buffer.GetSize());
}

void BundleWriter::SearchEntry(std::string_view base_url, const storage::StoredVersion& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("fullUrl");
  Write(w, std::string(base_url) + "/" + v.type + "/" + v.id);
  w.Key("resource");
  w.RawValue(v.json.data(), v.json.size(), rapidjson::kObjectType);
  w.Key("search");
  w.StartObject();
  w.Key("mode");
  w.String("match");
  w.EndObject();
  w.EndObject();
  entries_.emplace_back(buffer.GetString(), buffer.GetSize());
}

void BundleWriter::RawEntry(std::string entry_json) { entries_.push_back(std::move(entry_json)); }

std::string BundleWriter::Finish() {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("resourceType");
  w.String("Bundle");
  w.Key("type");
  Write(w, type_);
  if (total_) {
    w.Key("total");
    w.Int64(*total_);
  }
  if (!links_.empty()) {
    w.Key("link");
    w.StartArray();
    for (const auto& [relation, url] : links_) {
      w.StartObject();
      w.Key("relation");
      Write(w, relation);
      w.Key("url");
      Write(w, url);
      w.EndObject();
    }
    w.EndArray();
  }
  if (!entries_.empty()) {
    w.Key("entry");
    w.StartArray();
    for (const std::string& e : entries_) {
      w.RawValue(e.data(), e.size(), rapidjson::kObjectType);
    }
    w.EndArray();
  }
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace server
