#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fhir/fhirpath/fhirpath.h"
#include "fhir/search/search_parameter.h"

namespace fhir::search {

// A search parameter as it applies to one resource type: the R4 definition and the part of its
// expression that can select anything in that type. Shared parameters ("clinical-patient" spans
// 30 types in one union) are split at their top-level `|`, so indexing a Condition evaluates
// only the Condition branches; Resource/DomainResource branches are rewritten for the type.
// A component of a composite parameter: the parameter that gives its type and its expression,
// evaluated on each element the composite's expression selects.
struct BoundComponent {
  const SearchParameterDef* def = nullptr;
  std::shared_ptr<const fhirpath::Expression> parsed;  // null when unparsable
};

struct BoundParam {
  const SearchParameterDef* def = nullptr;
  std::string type;        // the resource type it is bound to
  std::string expression;  // empty: not indexable from the resource (e.g. _id, special)
  // `expression` parsed once when the registry is built; null when empty or unparsable.
  std::shared_ptr<const fhirpath::Expression> parsed;
  // Composite parameters: the components in the definition's order; empty when one of them
  // cannot be resolved or parsed (the parameter is then neither indexed nor searchable).
  std::vector<BoundComponent> components;
  // Index rows shared with other parameters of the type (fhir/search/index_sharing.h).
  // own_rows false: no rows are written under this code; its values are all in the rows of
  // rows_also_in. skipped_parts: HumanName/Address parts ("family") left to another parameter.
  // rows_also_in: every other parameter whose rows a search of this one reads too.
  // subsets: parameters whose values are a filtered part of this one's (`X.subject` and
  // `X.subject.where(resolve() is Patient)`): the values they index are left out of this one's.
  bool own_rows = true;
  std::vector<std::string_view> skipped_parts;
  std::vector<std::string_view> subsets;
  std::vector<std::string_view> rows_also_in;
};

// A parameter whose search also reads the rows of another (BoundParam::rows_also_in).
struct SharedRows {
  std::string_view type;
  std::string_view code;
  std::string_view rows_of;
};

class SearchRegistry {
 public:
  // The R4 parameters of every concrete resource type, and the server's own (AuditEvent
  // `purpose`: purposeOfEvent | agent.purposeOfUse); built once, immutable, thread-safe.
  static const SearchRegistry& Get();

  // The parameter `code` on `type` (including the Resource-level _id, _lastUpdated, _tag,
  // _profile, _security, _source), or nullptr.
  const BoundParam* Find(std::string_view type, std::string_view code) const;
  // Every parameter of `type`, sorted by code; empty for an unknown type.
  std::span<const BoundParam> ForType(std::string_view type) const;
  const SearchParameterDef* FindByUrl(std::string_view url) const;
  // Every (type, parameter, other parameter) of rows_also_in, for the store's queries.
  std::vector<SharedRows> AllSharedRows() const;

 private:
  SearchRegistry();
  // Fills param.components from the composite definition (param.def).
  void BindComponents(BoundParam& param) const;
  struct TypeParams {
    std::string type;
    std::vector<BoundParam> params;  // sorted by code
  };
  std::vector<TypeParams> types_;  // sorted by type
};

// The parameters that put resources of `type` in compartment `compartment` ("Patient"), or
// nullptr when no resource of that type is ever in it.
const CompartmentMember* FindCompartmentMember(std::string_view compartment, std::string_view type);

// Every (type, parameter) that puts a resource in compartment `compartment` ("Patient"), by
// type; empty when `compartment` is not one of the R4 compartments.
std::vector<std::pair<std::string, std::string>> CompartmentTypeParams(
    std::string_view compartment);

// The top-level union branches of a FHIRPath expression ("A.x | B.y.where(a | b)" -> "A.x",
// "B.y.where(a | b)"), split outside parentheses, brackets and string literals.
std::vector<std::string> SplitUnion(std::string_view expression);

// Whether `expression` is `whole.where(...)`: one where() call on all of `whole`, a single
// branch ("Observation.subject.where(resolve() is Patient)" of "Observation.subject").
bool IsWhereOf(std::string_view expression, std::string_view whole);

// The part of `expression` that applies to resources of `type`: its branches rooted at `type`,
// at a base type (Resource, DomainResource: rewritten to `type`) or at no type name, joined with
// " | ". Empty if none applies.
std::string ExpressionForType(std::string_view expression, std::string_view type);

}  // namespace fhir::search
