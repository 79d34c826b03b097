#pragma once

#include <string>

#include "fhir/json/dom.h"

namespace fhir::json::testing {

// Compares two JSON trees: objects as sets of members (order-insensitive), arrays in order,
// numbers by their source text. Returns "" when equal, else the path of the first difference.
inline std::string Diff(const JsonValue& a, const JsonValue& b, const std::string& path = "$") {
  if (a.kind != b.kind) return path + ": kinds differ";
  switch (a.kind) {
    case JsonValue::Kind::kNumber:
    case JsonValue::Kind::kString:
      return a.str() == b.str()
                 ? ""
                 : path + ": '" + std::string(a.str()) + "' != '" + std::string(b.str()) + "'";
    case JsonValue::Kind::kArray:
      if (a.size != b.size) return path + ": array sizes differ";
      for (std::size_t i = 0; i < a.size; ++i) {
        std::string d = Diff(a.items[i], b.items[i], path + "[" + std::to_string(i) + "]");
        if (!d.empty()) return d;
      }
      return "";
    case JsonValue::Kind::kObject:
      if (a.size != b.size) {
        for (const JsonMember& m : a.object()) {
          if (b.Find(m.name) == nullptr) return path + "." + std::string(m.name) + ": missing";
        }
        for (const JsonMember& m : b.object()) {
          if (a.Find(m.name) == nullptr) return path + "." + std::string(m.name) + ": added";
        }
        return path + ": member counts differ";
      }
      for (const JsonMember& m : a.object()) {
        const JsonValue* other = b.Find(m.name);
        if (other == nullptr) return path + "." + std::string(m.name) + ": missing";
        std::string d = Diff(m.value, *other, path + "." + std::string(m.name));
        if (!d.empty()) return d;
      }
      return "";
    default:
      return "";
  }
}

}  // namespace fhir::json::testing
