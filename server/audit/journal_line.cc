#include "server/audit/journal_line.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <utility>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "server/auth/principal.h"

namespace server::audit {
namespace {

// The layout's version, first in the array: a journal outlives the server that wrote it.
constexpr int kFormat = 1;

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Str(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

bool Text(const rapidjson::Value& v, std::string& out) {
  if (!v.IsString()) return false;
  out.assign(v.GetString(), v.GetStringLength());
  return true;
}

bool Texts(const rapidjson::Value& v, std::vector<std::string>& out) {
  if (!v.IsArray()) return false;
  for (const rapidjson::Value& item : v.GetArray()) {
    if (!Text(item, out.emplace_back())) return false;
  }
  return true;
}

}  // namespace

std::string EncodeJournalLine(const Event& e, const std::vector<std::string>& patients,
                              std::string_view id, std::string_view last_updated) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartArray();
  w.Int(kFormat);
  Str(w, id);
  Str(w, last_updated);
  w.Int64(std::chrono::duration_cast<std::chrono::microseconds>(e.recorded.time_since_epoch())
              .count());
  Str(w, e.method);
  w.StartArray();
  for (const std::string& segment : e.segments) Str(w, segment);
  w.EndArray();
  w.StartArray();
  for (const auto& [key, value] : e.params) {
    Str(w, key);
    Str(w, value);
  }
  w.EndArray();
  w.Bool(e.capabilities);
  Str(w, e.bundle_type);
  w.Int(e.status);
  if (e.principal) {
    w.StartArray();
    Str(w, e.principal->fhir_user);
    Str(w, e.principal->issuer);
    Str(w, e.principal->subject);
    Str(w, e.principal->purpose_of_use);
    w.EndArray();
  } else {
    w.Null();
  }
  w.Bool(e.auth_failed);
  Str(w, e.status >= 400 ? std::string_view(e.body) : std::string_view());
  Str(w, e.location);
  w.StartArray();
  for (const std::string& patient : patients) Str(w, patient);
  w.EndArray();
  w.Bool(e.basis.emergency);
  Str(w, e.basis.reason);
  Str(w, e.basis.consent);
  w.EndArray();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::optional<JournaledEvent> DecodeJournalLine(std::string_view line) {
  rapidjson::Document doc;
  doc.Parse(line.data(), line.size());
  if (doc.HasParseError() || !doc.IsArray() || doc.Size() != 18) return std::nullopt;
  const auto& a = doc.GetArray();
  if (!a[0].IsInt() || a[0].GetInt() != kFormat) return std::nullopt;
  JournaledEvent out;
  Event& e = out.event;
  if (!Text(a[1], out.id) || !Text(a[2], out.last_updated) || !a[3].IsInt64() ||
      !Text(a[4], e.method) || !Texts(a[5], e.segments) || !a[6].IsArray() ||
      a[6].Size() % 2 != 0 || !a[7].IsBool() || !Text(a[8], e.bundle_type) || !a[9].IsInt() ||
      !a[11].IsBool() || !Text(a[12], e.body) || !Text(a[13], e.location) ||
      !Texts(a[14], out.patients) || !a[15].IsBool() || !Text(a[16], e.basis.reason) ||
      !Text(a[17], e.basis.consent)) {
    return std::nullopt;
  }
  e.recorded = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::microseconds(a[3].GetInt64())));
  for (rapidjson::SizeType i = 0; i < a[6].Size(); i += 2) {
    std::pair<std::string, std::string>& param = e.params.emplace_back();
    if (!Text(a[6][i], param.first) || !Text(a[6][i + 1], param.second)) return std::nullopt;
  }
  e.capabilities = a[7].GetBool();
  e.status = a[9].GetInt();
  if (a[10].IsArray()) {
    if (a[10].Size() != 4) return std::nullopt;
    auto principal = std::make_shared<auth::Principal>();
    if (!Text(a[10][0], principal->fhir_user) || !Text(a[10][1], principal->issuer) ||
        !Text(a[10][2], principal->subject) || !Text(a[10][3], principal->purpose_of_use)) {
      return std::nullopt;
    }
    e.principal = std::move(principal);
  } else if (!a[10].IsNull()) {
    return std::nullopt;
  }
  e.auth_failed = a[11].GetBool();
  e.basis.emergency = a[15].GetBool();
  return out;
}

}  // namespace server::audit
