#include "fhir/model/reflection.h"

#include <algorithm>

namespace fhir {

bool CodeList::Contains(std::string_view code) const {
  return std::binary_search(codes.begin(), codes.end(), code);
}

const JsonName* TypeInfo::FindJsonName(std::string_view json_name) const {
  auto it = std::lower_bound(json_names.begin(), json_names.end(), json_name,
                             [](const JsonName& n, std::string_view s) { return n.name < s; });
  if (it == json_names.end() || it->name != json_name) return nullptr;
  return &*it;
}

const FieldInfo* TypeInfo::FindField(std::string_view field_name) const {
  for (const FieldInfo& field : fields) {
    if (field.name == field_name) return &field;
  }
  return nullptr;
}

}  // namespace fhir
