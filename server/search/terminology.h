#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "fhir/base/status.h"

namespace server::search {

// The terminology the token modifiers :in, :not-in, :above and :below use: ValueSet and
// CodeSystem resources stored on this server; no external terminology service.

// Reads a stored resource of `type` ("ValueSet", "CodeSystem") by canonical URL (`url` or
// `url|version`) or as "Type/id": its current JSON, nullopt when there is none.
using TerminologyLookup = std::function<fhir::Result<std::optional<std::string>>(
    std::string_view type, std::string_view reference)>;

// A set of codes: (system, code) pairs, and whole code systems (any code of the system but
// the excluded ones).
struct CodeSet {
  std::set<std::pair<std::string, std::string>> codes;
  std::map<std::string, std::set<std::string>> systems;  // system -> codes excluded
};

// More codes than this in one expansion are refused (each is a bound SQL value).
constexpr std::size_t kMaxExpansion = 10000;

// The codes of the ValueSet `reference` (canonical URL, `url|version` or "ValueSet/id"):
// its expansion.contains (nested) when it has one, else its compose: include.concept lists,
// whole systems (include.system alone), include.valueSet (one, recursively), filters
// `is-a`/`descendent-of`/`=concept` on a stored CodeSystem (below), and the same excluded.
// Errors (kValue, naming the ValueSet): none stored, a partial expansion, a filter or a
// combination that needs a terminology service, more than kMaxExpansion codes.
fhir::Result<CodeSet> ExpandValueSet(const TerminologyLookup& lookup, std::string_view reference);

// Subsumption in the stored CodeSystem `system` (url), whose `concept` tree is an is-a
// hierarchy (hierarchyMeaning "is-a"): `code` and its descendants (below) or `code` and its
// ancestors (above). Errors (kValue): no such CodeSystem, another hierarchy meaning, `code`
// not in it.
fhir::Result<std::set<std::string>> Subsumption(const TerminologyLookup& lookup,
                                                std::string_view system, std::string_view code,
                                                bool below);

}  // namespace server::search
