#pragma once

#include <cstddef>
#include <memory>

#include "fhir/base/status.h"
#include "fhir/r4/parameters.h"
#include "fhir/r4/resource.h"

namespace fhir::patch {

// Applies a FHIRPath Patch (http://hl7.org/fhir/R4/fhirpatch.html) to a copy of `resource` and
// returns the patched resource. `patch` is a Parameters resource whose parameters are each an
// `operation` with the parts type (add | insert | delete | replace | move), path (FHIRPath),
// name, value (value[x], a resource, or parts for an anonymous BackboneElement), index, source
// and destination. Operations apply in order, each to the result of the previous one; all or
// nothing. Works through the reflection metadata for every resource type.
//
//   add      path selects one element; the value becomes its child `name` (appended to a list;
//            a single element must not exist yet). A choice element is named without [x]
//            ("value"), the value's type picks the alternative; or with the type
//            ("valueQuantity"), which the value must then have.
//   insert   path selects a list (possibly empty); the value goes in at `index` (0..size).
//   delete   path selects at most one element, which is removed; none selected is no change.
//   replace  path selects one element, which the value replaces in place.
//   move     path selects a non-empty list; the item at `source` moves to `destination`.
//
// The path must select elements of the resource being patched (resolve() may only reach its
// contained resources). Values must have the type of the place they go (for primitives: the
// same kind of value, e.g. a string for a code or xhtml; formats are then checked as in JSON).
//
// Fails with:
//   kInvalid / kRequired  the Parameters is not a FHIRPath Patch: a parameter not named
//                `operation`, an unknown operation type or part, a part missing for the type, a
//                path that is not FHIRPath. The expression names the parameter or part
//                (`Parameters.parameter[1].part[2]`).
//   kProcessing  an operation cannot be applied to this resource: nothing or more than one
//                element selected, a target outside the resource, an index out of range, a value
//                of the wrong type, an element that `add` finds already present, or a result
//                that is not a valid resource (the JSON parser's issues follow the first one).
//                Diagnostics name the operation type and path; the expression the parameter.
//   kTooCostly   more than kMaxOperations operations.
// Each operation re-reads the whole resource, so the number of operations is bounded.
inline constexpr std::size_t kMaxOperations = 1000;

Result<std::unique_ptr<Resource>> ApplyFhirPathPatch(const Resource& resource,
                                                     const Parameters& patch);

}  // namespace fhir::patch
