#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fhir/base/status.h"

namespace storage {

// One version of one resource as stored: the canonical JSON (meta.versionId and
// meta.lastUpdated already inside) is served as is, without re-serialising.
struct StoredVersion {
  std::string type;
  std::string id;
  std::int64_t version = 0;          // meta.versionId: 1, 2, 3, ...
  std::string last_updated;          // meta.lastUpdated, an instant with milliseconds, UTC
  bool deleted = false;              // a delete is a version without content
  std::string json;                  // empty for deletes
  std::int64_t sequence = 0;         // store-wide write order (for history paging)
};

// A search index value of the current version of a resource. For now the REST layer indexes
// identifiers (param "identifier", system, value) for conditional interactions; the search
// issue adds every search parameter.
struct TokenIndex {
  std::string param;
  std::string system;
  std::string value;
};

struct HistoryQuery {
  std::string type;  // empty: system history
  std::string id;    // empty: type (or system) history; needs type
  std::optional<std::string> since;  // instant: versions with last_updated >= since
  std::optional<std::string> at;     // instant: the version current at that time, per resource
  std::int64_t before_sequence = 0;  // paging cursor: only sequence < this (0 = no limit)
  int count = 50;
};

struct HistoryPage {
  std::vector<StoredVersion> versions;  // newest first
  std::int64_t total = 0;               // versions matching the query (ignoring paging)
  bool more = false;                    // further pages exist (next cursor: last sequence)
};

// A minimal search over current, non-deleted resources of one type, AND of the given criteria.
// The search issue replaces it with full query plans.
struct SimpleQuery {
  std::string type;
  std::vector<std::string> ids;                       // _id (OR of values); empty: any
  std::vector<TokenIndex> tokens;                     // each: param with system|value (OR list
                                                      // not supported; empty system = any)
  std::optional<std::string> last_updated_ge, last_updated_lt;  // _lastUpdated range
  int limit = 0;                                      // 0 = no limit
};

class WriteTransaction {
 public:
  virtual ~WriteTransaction() = default;  // rolls back unless committed

  // The current version (possibly a delete marker), or kNotFound if the resource never existed.
  virtual fhir::Result<StoredVersion> ReadCurrent(std::string_view type, std::string_view id) = 0;
  // Ids matching `query`, seen from inside this transaction.
  virtual fhir::Result<std::vector<std::string>> Find(const SimpleQuery& query) = 0;
  // Stores `v` as the new current version of (v.type, v.id). REQUIRES: v.version is the current
  // version + 1 (1 for a new resource); fails with kConflict otherwise. `tokens` replace the
  // resource's index entries (ignored for deletes, which drop them).
  virtual fhir::Status Put(StoredVersion& v, const std::vector<TokenIndex>& tokens) = 0;
  // Makes every Put durable and visible atomically. After Commit the transaction is spent.
  virtual fhir::Status Commit() = 0;
};

// The transactional store of DESIGN.md. Thread-safe: readers run concurrently; one write
// transaction at a time (BeginWrite blocks until the previous one ends).
class Store {
 public:
  virtual ~Store() = default;

  virtual fhir::Result<std::unique_ptr<WriteTransaction>> BeginWrite() = 0;

  // The current version (possibly a delete marker), or kNotFound.
  virtual fhir::Result<StoredVersion> ReadCurrent(std::string_view type, std::string_view id) = 0;
  // One version, or kNotFound.
  virtual fhir::Result<StoredVersion> ReadVersion(std::string_view type, std::string_view id,
                                                  std::int64_t version) = 0;
  virtual fhir::Result<HistoryPage> History(const HistoryQuery& query) = 0;
  virtual fhir::Result<std::vector<std::string>> Find(const SimpleQuery& query) = 0;
};

}  // namespace storage
