#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "server/auth/access_control.h"
#include "server/rest_types.h"
#include "server/search/search_parser.h"
#include "storage/store.h"

namespace server::search {

// Where a search runs: the store, or a transaction Bundle's write transaction (then _include
// reads the store's committed state).
struct SearchTarget {
  storage::Store& store;
  storage::WriteTransaction* txn = nullptr;
  std::string base_url;  // absolute, without a trailing '/'
  // Access control (issue 5), when the request has a principal: the search, its chains, _has
  // and includes see only what it allows; a Bundle that omitted something says REDACTED in
  // Bundle.meta.security, and resources seen by the emergency rule are tagged ETREAT.
  auth::AccessControl* access = nullptr;
};

// The search interaction: GET [type]?..., POST [type]/_search, GET [base]?_type=... (type
// empty). Answers a searchset Bundle with `total` (unless _total=none), self/next/previous
// links, matches, _include/_revinclude (search.mode include, :iterate up to 4 rounds), and an
// OperationOutcome entry (search.mode outcome) naming parameters ignored in lenient mode;
// _summary and _elements trim the resources and tag them SUBSETTED. `path` is the request path
// below the base ("Patient", "Patient/_search", "") for the links.
// `compartment`, when set, restricts the search to a compartment (GET Patient/123/Immunization).
RestResponse RunSearch(const SearchTarget& target, std::string_view type, const Params& params,
                       bool strict, std::string_view path,
                       const storage::CompartmentFilter* compartment = nullptr);

// The ids of the current resources of `type` matching `params`, for conditional interactions
// (create If-None-Exist, conditional update/delete, conditional references in transactions):
// parsed strictly (an unknown parameter would match too much) and without result parameters.
// With `access`, only the resources it allows can match.
fhir::Result<std::vector<std::string>> FindMatches(storage::WriteTransaction& txn,
                                                   std::string_view type, const Params& params,
                                                   auth::AccessControl* access = nullptr);

}  // namespace server::search
