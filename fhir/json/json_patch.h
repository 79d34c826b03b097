#pragma once

#include <string>
#include <string_view>

#include "fhir/base/status.h"

namespace fhir::json {

// Applies `patch`, the JSON text of a JSON Patch document (RFC 6902: an array of add, remove,
// replace, move, copy and test operations), to the JSON text `document` and returns the patched
// JSON text, compact. This is FHIR PATCH with `Content-Type: application/json-patch+json`
// (http://hl7.org/fhir/R4/http.html#patch). All or nothing: on failure nothing is returned.
//
// Numbers keep their exact source text, in `document` and in the patch's `value`s (decimal 1.50
// stays 1.50, 1e3 stays 1e3), because the caller re-parses the result as a FHIR resource. Member
// order is kept; an added member goes last. `test` compares numbers by numeric value (1 equals
// 1.0) and objects regardless of member order.
//
// Fails with:
//   kStructure   `patch` is not JSON, not an array, an operation is not an object, its `op` is
//                unknown, `path`/`from`/`value` is missing, a pointer is malformed (RFC 6901), or
//                `move` would move a value into its own child. The expression names the
//                operation, `Patch[2].path` (0-based); `Patch` for the whole document. Also when
//                `document` is not JSON (expression empty).
//   kProcessing  an operation cannot be applied to this document: a `test` failed, a target that
//                must exist does not (remove/replace/test/`from`), the parent of an `add` target
//                does not exist (objects are not created recursively) or an array index is out of
//                range. Diagnostics name the op and path; the expression names the member.
//   kTooCostly   an input or the result nests deeper than JsonDocument::kMaxDepth, or `copy`
//                operations would grow the document beyond max(1 MiB, document + patch bytes).
Result<std::string> ApplyJsonPatch(std::string_view document, std::string_view patch);

}  // namespace fhir::json
