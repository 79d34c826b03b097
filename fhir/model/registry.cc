#include "fhir/model/registry.h"

#include <algorithm>

namespace fhir {
namespace {

const TypeInfo* Find(std::span<const TypeInfo* const> types, std::string_view name) {
  auto it = std::lower_bound(types.begin(), types.end(), name,
                             [](const TypeInfo* t, std::string_view n) { return t->name < n; });
  return it != types.end() && (*it)->name == name ? *it : nullptr;
}

}  // namespace

std::vector<std::string_view> ResourceTypeNames() {
  std::vector<std::string_view> names;
  for (const TypeInfo* t : ResourceTypes()) names.push_back(t->name);
  return names;
}

const TypeInfo* FindResourceType(std::string_view name) { return Find(ResourceTypes(), name); }

const TypeInfo* FindType(std::string_view name) { return Find(AllTypes(), name); }

}  // namespace fhir
