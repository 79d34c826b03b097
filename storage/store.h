#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fhir/base/status.h"
#include "fhir/search/index_entries.h"
#include "storage/search_query.h"

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

struct SearchPage {
  std::vector<StoredVersion> versions;  // the page, in the query's order
  std::int64_t total = -1;              // matches ignoring limit/offset; -1 when not counted
};

// _include (forward: the targets of `param` references of the given resources) and
// _revinclude (reverse: resources of `source_type` whose `param` references them).
struct IncludeQuery {
  bool reverse = false;
  std::string source_type;  // the type that has the reference parameter
  std::string param;        // a reference parameter code; "*": every reference parameter
  std::string target_type;  // optional: only targets of this type
};

// One record of the store's journal (see WriteTransaction::AppendJournal).
struct JournalRecord {
  std::int64_t seq = 0;  // increasing in append order
  std::string data;
};

// A resource to include from, as (type, id).
struct ResourceKey {
  std::string type;
  std::string id;
};

class WriteTransaction {
 public:
  virtual ~WriteTransaction() = default;  // rolls back unless committed

  // The current version (possibly a delete marker), or kNotFound if the resource never existed.
  virtual fhir::Result<StoredVersion> ReadCurrent(std::string_view type, std::string_view id) = 0;
  // Resources matching `query`, seen from inside this transaction.
  virtual fhir::Result<SearchPage> Search(const SearchQuery& query, bool count_total) = 0;
  // Stores `v` as the new current version of (v.type, v.id). REQUIRES: v.version is the current
  // version + 1 (1 for a new resource); fails with kConflict otherwise. `index` replaces the
  // resource's search index entries (ignored for deletes, which drop them).
  virtual fhir::Status Put(StoredVersion& v, const fhir::search::IndexEntries& index) = 0;
  // The journal: a durable first-in, first-out queue of opaque records beside the resources,
  // written and consumed in write transactions like them. The audit log (server/audit) appends
  // a batch of AuditEvents as one record on its hot path, and turns records into resources later
  // in the transaction that removes them, so that each becomes a resource exactly once.
  virtual fhir::Status AppendJournal(std::string_view data) = 0;
  // The oldest record, or nullopt when the journal is empty.
  virtual fhir::Result<std::optional<JournalRecord>> OldestJournal() = 0;
  virtual fhir::Status RemoveJournal(std::int64_t seq) = 0;

  // Makes every Put durable and visible atomically. After Commit the transaction is spent.
  virtual fhir::Status Commit() = 0;
};

// The transactional store of DESIGN.md. Thread-safe: readers run concurrently; one write
// transaction at a time (BeginWrite blocks until the previous one ends).
class Store {
 public:
  virtual ~Store() = default;

  virtual fhir::Result<std::unique_ptr<WriteTransaction>> BeginWrite() = 0;
  // Runs `work` in a write transaction and commits it when `work` returns true (false: rolls it
  // back), for a transaction that commits once its writes succeed (one REST interaction, an
  // audit append). A store that commits several transactions together may run `work` on
  // another thread, the one that holds its writer, and keep no rollback point for it alone:
  // should `work` fail or return false after writing, every transaction committing with it
  // fails too (their WriteShared returns the error; nothing of theirs is stored). Blocks until
  // the commit; returns its outcome (Ok when `work` returned false). What `work` throws is
  // rethrown here. `work` must not call Commit, nor start another write transaction.
  virtual fhir::Status WriteShared(const std::function<bool(WriteTransaction&)>& work) = 0;
  // A hint for group commit: the calling thread is preparing a write transaction (a REST
  // write parses and validates its body first) and will call BeginWrite or WriteShared soon.
  // Until it does, or the returned handle goes, a transaction about to commit alone may wait
  // briefly for it to commit together. Stores without group commit ignore it.
  virtual std::shared_ptr<void> ExpectWrite() { return nullptr; }

  // The current version (possibly a delete marker), or kNotFound.
  virtual fhir::Result<StoredVersion> ReadCurrent(std::string_view type, std::string_view id) = 0;
  // One version, or kNotFound.
  virtual fhir::Result<StoredVersion> ReadVersion(std::string_view type, std::string_view id,
                                                  std::int64_t version) = 0;
  virtual fhir::Result<HistoryPage> History(const HistoryQuery& query) = 0;
  // One page of the current, non-deleted resources matching `query` (one snapshot for the page
  // and the total).
  virtual fhir::Result<SearchPage> Search(const SearchQuery& query, bool count_total) = 0;
  // The current, non-deleted resources `include` reaches from `from` (no duplicates).
  virtual fhir::Result<std::vector<StoredVersion>> Include(const std::vector<ResourceKey>& from,
                                                          const IncludeQuery& include) = 0;

  // The search index is derived data: when the extraction changes (a new server version), the
  // server calls Reindex with the new extractor and its version label. IndexVersion() is the
  // label of the last complete reindex ("" for a store that never had one).
  virtual fhir::Result<std::string> IndexVersion() = 0;
  virtual fhir::Status Reindex(
      const std::function<fhir::search::IndexEntries(const StoredVersion&)>& extract,
      std::string_view version) = 0;
};

}  // namespace storage
