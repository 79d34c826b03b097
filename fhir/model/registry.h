#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "fhir/model/reflection.h"

namespace fhir {

// Every R4 type the generator made (primitives, complex types, abstract and concrete
// resources), sorted by name.
std::span<const TypeInfo* const> AllTypes();
// The 146 concrete R4 resource types of the 4.0.1 definitions, sorted by name.
std::span<const TypeInfo* const> ResourceTypes();
std::vector<std::string_view> ResourceTypeNames();

// The concrete resource type named `name`, or nullptr.
const TypeInfo* FindResourceType(std::string_view name);
// Any type named `name` ("date", "HumanName", "DomainResource", "Patient"), or nullptr.
const TypeInfo* FindType(std::string_view name);

}  // namespace fhir
