#pragma once

#include <string_view>

#include "fhir/base/status.h"
#include "storage/store.h"

namespace server::search {

// The label of the index extraction this server does (fhir/search/index_extractor.cc and the
// R4 SearchParameters). Bump it whenever what gets indexed changes: stores indexed under
// another label are reindexed at start-up, so no manual migration is ever needed.
inline constexpr std::string_view kIndexVersion = "r4-index-7";

// Rebuilds the search index of every current resource when the store's index version is not
// kIndexVersion (or always, with `force`).
fhir::Status EnsureSearchIndex(storage::Store& store, bool force);

}  // namespace server::search
