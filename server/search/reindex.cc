#include "server/search/reindex.h"

#include <memory>
#include <string>

#include "fhir/json/parser.h"
#include "fhir/search/index_extractor.h"

namespace server::search {

fhir::Status EnsureSearchIndex(storage::Store& store, bool force) {
  FHIR_ASSIGN_OR_RETURN(std::string version, store.IndexVersion());
  if (!force && version == kIndexVersion) return fhir::Status::Ok();
  return store.Reindex(
      [](const storage::StoredVersion& v) {
        // Stored JSON was validated when written; a resource that no longer parses (a stricter
        // parser) keeps no index entries rather than blocking the reindex.
        auto resource = fhir::json::ParseResource(v.json, fhir::json::kStoredJson);
        if (!resource.ok()) return fhir::search::IndexEntries{};
        return fhir::search::ExtractIndexEntries(**resource);
      },
      kIndexVersion);
}

}  // namespace server::search
