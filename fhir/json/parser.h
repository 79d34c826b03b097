#pragma once

#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "fhir/base/status.h"
#include "fhir/json/dom.h"
#include "fhir/r4/resource.h"

namespace fhir::json {

struct ParseOptions {
  // Unknown elements become warnings and are dropped instead of failing the parse
  // (`Prefer: handling=lenient`). Every other rule stays strict.
  bool lenient = false;
  // Narratives (`Narrative.div`) are checked against txt-1 and txt-2
  // (fhir/xhtml/narrative_check.h). Off only for JSON the server stored earlier: it was
  // validated when written, perhaps by rules older than today's, and must stay readable.
  bool check_narratives = true;
};

// For re-parsing stored versions (access decisions, reindexing, patching the stored version):
// the rules of incoming bodies that can tighten between releases are not applied again.
inline constexpr ParseOptions kStoredJson{.lenient = false, .check_narratives = false};

// Parses a resource from its R4 JSON form (http://hl7.org/fhir/R4/json.html), strictly:
// unknown or missing resourceType, unknown elements, wrong JSON types, array vs single value,
// empty objects/arrays/strings, misplaced nulls, duplicate keys, two types of one choice
// element, primitive formats, codes outside a required ValueSet, missing required elements,
// nested contained resources. On failure the Status lists every error of the document, each
// with its issue type and location (`Patient.contact[0].telecom[1].value`).
// Warnings (lenient mode) are appended to `warnings` when given.
Result<std::unique_ptr<Resource>> ParseResource(std::string_view json,
                                                const ParseOptions& options = {},
                                                std::vector<Issue>* warnings = nullptr);

// The same from an already parsed JSON value (e.g. a Bundle entry); `path` names it in issues
// (the resource type when empty).
Result<std::unique_ptr<Resource>> ParseResourceValue(const JsonValue& value,
                                                     const ParseOptions& options = {},
                                                     std::vector<Issue>* warnings = nullptr,
                                                     std::string_view path = {});

// Parses a resource that must be of type T.
template <class T>
Result<T> Parse(std::string_view json, const ParseOptions& options = {}) {
  auto parsed = ParseResource(json, options);
  if (!parsed.ok()) return parsed.status();
  if (parsed.value()->type_info().name != T::kTypeName) {
    return Status(IssueType::kInvalid, "Expected a " + std::string(T::kTypeName) + ", found a " +
                                           std::string(parsed.value()->type_info().name),
                  "resourceType");
  }
  return std::move(static_cast<T&>(*parsed.value()));
}

}  // namespace fhir::json
