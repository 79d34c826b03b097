#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "fhir/r4/resource.h"
#include "fhir/search/index_entries.h"
#include "server/rest_types.h"
#include "storage/store.h"

namespace server {
namespace audit {
class AuditLog;
}

// A version of a resource ready to Put: meta set, written as JSON, index entries extracted.
// None of it needs a store transaction, so it can be made before (or beside) the write gate.
struct PreparedVersion {
  storage::StoredVersion v;
  fhir::search::IndexEntries index;
};
// Prepares `resource` (its id set) as `version`, now; sets its meta.
PreparedVersion PrepareVersion(fhir::Resource& resource, std::int64_t version);

// The RESTful interactions of http://hl7.org/fhir/R4/http.html for every resource type of the
// registry, on a storage::Store: read, vread, create, update (incl. update-as-create),
// delete, conditional create/update/delete, JSON Patch, history (instance, type, system),
// a minimal search (_id, identifier, _lastUpdated) and batch/transaction Bundles.
// Thread-safe: each call runs its own store transactions.
class RestService {
 public:
  struct Options {
    std::string base_url;  // public base URL, for fullUrl and links ("http://h:8080/fhir")
    // Where every interaction's AuditEvent goes (server/audit); null = audit off.
    audit::AuditLog* audit = nullptr;
  };

  RestService(storage::Store& store, Options options);

  // Answers one interaction. `request.segments` is the path below the base. Never throws for
  // bad input; storage failures become 500 OperationOutcomes.
  RestResponse Handle(const RestRequest& request);

  // The same inside a caller's write transaction (for transaction Bundles): nothing is
  // committed; a failure leaves `txn` for the caller to roll back.
  RestResponse HandleIn(const RestRequest& request, storage::WriteTransaction& txn);
  // The same for a transaction entry whose resource is already parsed: `resource` stands for
  // the body of a create or update (so it is not written to JSON and parsed again).
  // `prepared`, when given, is `resource` prepared as version 1: used if the entry creates it.
  // `spent`, when given, receives the resource once written, so that the caller frees it after
  // its commit, outside the write gate.
  RestResponse HandleIn(const RestRequest& request, storage::WriteTransaction& txn,
                        std::unique_ptr<fhir::Resource> resource,
                        PreparedVersion* prepared = nullptr,
                        std::vector<std::unique_ptr<fhir::Resource>>* spent = nullptr);

  const Options& options() const { return options_; }
  storage::Store& store() { return store_; }

  // Where an interaction reads and writes (defined in the .cc).
  struct Context;

 private:
  RestResponse Dispatch(const RestRequest& request, Context& context);

  storage::Store& store_;
  Options options_;
};

}  // namespace server
