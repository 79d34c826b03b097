#pragma once

#include <functional>

#include "fhir/model/reflection.h"

namespace fhir {

// Calls `visit(type, object)` for `object` and then every complex, backbone and resource value
// inside it (depth first, in element order, through choices and contained resources).
// Primitive values are not visited; reach them through the FieldInfo of their owner.
// `type` must be the object's concrete TypeInfo (for a resource: resource.type_info()).
void VisitObjects(const TypeInfo& type, void* object,
                  const std::function<void(const TypeInfo&, void*)>& visit);

}  // namespace fhir
