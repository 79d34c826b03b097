#pragma once

#include <string>

#include "fhir/r4/resource.h"

namespace fhir::json {

struct WriteOptions {
  bool pretty = false;  // two-space indentation (`_pretty=true`)
};

// Serialises `resource` to R4 JSON in the canonical form: elements in the order of the
// StructureDefinition, `resourceType` first, each `_name` right after `name`, decimals as
// their source text. Parse -> Write -> Parse is stable.
std::string Write(const Resource& resource, const WriteOptions& options = {});

}  // namespace fhir::json
