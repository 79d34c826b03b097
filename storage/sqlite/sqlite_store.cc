#include "storage/sqlite/sqlite_store.h"

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <sqlite3.h>

#include "fhir/base/status.h"
#include "storage/current_cache.h"
#include "storage/sqlite/sqlite_search.h"
#include "storage/sqlite/wal_batch_vfs.h"
#include "storage/store.h"
#include "storage/suspension.h"

namespace storage::sqlite {
namespace {

using fhir::IssueType;
using fhir::Result;
using fhir::Status;

// PRAGMA user_version of the schema below. A file with a higher number was written by a newer
// server and is refused rather than misread; a future schema change migrates from the lower
// numbers inside EnsureSchema's transaction.
constexpr int kSchemaVersion = 3;

// Every version is a row of `versions`; `current` points at the newest version of each resource
// (a delete marker included) so that a read is one primary-key lookup. The search index tables
// (one per parameter type, DESIGN.md) hold the entries of the current, non-deleted version only,
// so a search never has to filter out superseded versions; they refer to `current` by its rowid
// `rid` and to a parameter by its id in `params` (type, code), which keeps the rows small.
// AUTOINCREMENT keeps `seq` strictly increasing even if rows are ever removed, which the history
// paging cursor relies on. A version finds its resource's other versions by the resource's
// `rid` in `current` (schema 3): a new resource's rid is the highest yet, so its entry goes to
// the end of `versions_by_rid`, where (type, id, version) put it on a random page of the index
// (Patient ids are random on purpose), one page more per create in each commit.
constexpr const char* kVersionsSql = R"sql(
CREATE TABLE versions(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  version INTEGER NOT NULL,
  last_updated TEXT NOT NULL,
  deleted INTEGER NOT NULL,
  json BLOB NOT NULL,
  rid INTEGER NOT NULL);
CREATE INDEX versions_by_type ON versions(type, seq);
CREATE UNIQUE INDEX versions_by_rid ON versions(rid, version);
)sql";

// Schema 2 to 3: the versions learn their resource's rid (every version's resource has a row in
// `current`). The old UNIQUE(type, id, version) stays with the table (SQLite drops a table
// constraint only by copying the table); it still holds, it only costs its index updates.
constexpr const char* kMigrateFrom2Sql = R"sql(
ALTER TABLE versions ADD COLUMN rid INTEGER NOT NULL DEFAULT 0;
UPDATE versions SET rid = (SELECT c.rid FROM current c WHERE c.type = versions.type
                                                       AND c.id = versions.id);
CREATE UNIQUE INDEX versions_by_rid ON versions(rid, version);
)sql";

constexpr const char* kCurrentAndIndexSql = R"sql(
CREATE TABLE current(
  rid INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  version INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  last_updated TEXT NOT NULL,
  deleted INTEGER NOT NULL,
  UNIQUE(type, id));
CREATE INDEX current_by_updated ON current(type, last_updated);
CREATE TABLE params(
  pid INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  code TEXT NOT NULL,
  UNIQUE(type, code));
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE idx_string(rid INTEGER NOT NULL, pid INTEGER NOT NULL, normalized TEXT NOT NULL,
  exact TEXT NOT NULL);
CREATE INDEX idx_string_value ON idx_string(pid, normalized);
CREATE INDEX idx_string_rid ON idx_string(rid);
CREATE TABLE idx_token(rid INTEGER NOT NULL, pid INTEGER NOT NULL, system TEXT NOT NULL,
  code TEXT NOT NULL, text TEXT NOT NULL, type_system TEXT NOT NULL, type_code TEXT NOT NULL);
CREATE INDEX idx_token_code ON idx_token(pid, code, rid, system);
CREATE INDEX idx_token_rid ON idx_token(rid);
CREATE TABLE idx_date(rid INTEGER NOT NULL, pid INTEGER NOT NULL, low INTEGER NOT NULL,
  high INTEGER NOT NULL);
CREATE INDEX idx_date_value ON idx_date(pid, low, high);
CREATE INDEX idx_date_rid ON idx_date(rid);
CREATE TABLE idx_number(rid INTEGER NOT NULL, pid INTEGER NOT NULL, low REAL NOT NULL,
  high REAL NOT NULL);
CREATE INDEX idx_number_value ON idx_number(pid, low);
CREATE INDEX idx_number_rid ON idx_number(rid);
CREATE TABLE idx_quantity(rid INTEGER NOT NULL, pid INTEGER NOT NULL, system TEXT NOT NULL,
  code TEXT NOT NULL, low REAL NOT NULL, high REAL NOT NULL);
CREATE INDEX idx_quantity_value ON idx_quantity(pid, code, low);
CREATE INDEX idx_quantity_rid ON idx_quantity(rid);
CREATE TABLE idx_reference(rid INTEGER NOT NULL, pid INTEGER NOT NULL, target_type TEXT NOT NULL,
  target_id TEXT NOT NULL, version TEXT NOT NULL, url TEXT NOT NULL,
  identifier_system TEXT NOT NULL, identifier_value TEXT NOT NULL);
CREATE INDEX idx_reference_to ON idx_reference(target_id, target_type, pid, rid);
CREATE INDEX idx_reference_rid ON idx_reference(rid);
CREATE TABLE idx_uri(rid INTEGER NOT NULL, pid INTEGER NOT NULL, value TEXT NOT NULL);
CREATE INDEX idx_uri_value ON idx_uri(pid, value);
CREATE INDEX idx_uri_rid ON idx_uri(rid);
)sql";

// The token and reference value indexes hold the rid: a search reads its matches (and counts
// them, in rid order) from the index alone, and probes a resource for a code or target with one
// index seek. A reference's url (an absolute or canonical one) and identifier are indexed only
// where present: of Synthea's 478,000 references 11% have a url and 0.2% an identifier, and
// every empty one cost two B-tree inserts, 1.2 us a reference (searches say `<> ''` so that
// SQLite may use the partial indexes). Files made before get them at open (IF NOT EXISTS; the
// old indexes go).
constexpr const char* kCoveringIndexSql = R"sql(
CREATE INDEX IF NOT EXISTS idx_token_code ON idx_token(pid, code, rid, system);
DROP INDEX IF EXISTS idx_token_value;
CREATE INDEX IF NOT EXISTS idx_reference_to ON idx_reference(target_id, target_type, pid, rid);
DROP INDEX IF EXISTS idx_reference_target;
CREATE INDEX IF NOT EXISTS idx_reference_url_set ON idx_reference(pid, url) WHERE url <> '';
DROP INDEX IF EXISTS idx_reference_url;
CREATE INDEX IF NOT EXISTS idx_reference_identifier_set ON idx_reference(pid, identifier_value)
  WHERE identifier_value <> '';
DROP INDEX IF EXISTS idx_reference_identifier;
)sql";

// Schema 1 (before the search index): `current` without rid and an identifier-only `tokens`
// table. The migration keeps every version and resource; the index is rebuilt by Reindex, which
// the server runs because the migrated store has no index version.
constexpr const char* kMigrateFrom1Sql = R"sql(
ALTER TABLE current RENAME TO current_v1;
DROP TABLE tokens;
)sql";
constexpr const char* kMigrateFrom1CopySql = R"sql(
INSERT INTO current(type, id, version, seq, last_updated, deleted)
  SELECT type, id, version, seq, last_updated, deleted FROM current_v1;
DROP TABLE current_v1;
)sql";

// Composite parameters (fhir/search/index_entries.h CompositeEntry): one row per element and
// combination of component values, the components in s/c/x (system, code, exact text) and
// l/h (range) columns 1..3; IF NOT EXISTS, so that schema 2 files made before it get it at
// open (their index is rebuilt by Reindex: the index version changed with it).
constexpr const char* kCompositeIndexSql = R"sql(
CREATE TABLE IF NOT EXISTS idx_composite(rid INTEGER NOT NULL, pid INTEGER NOT NULL,
  s1 TEXT NOT NULL, c1 TEXT NOT NULL, x1 TEXT NOT NULL, l1 NOT NULL, h1 NOT NULL,
  s2 TEXT NOT NULL, c2 TEXT NOT NULL, x2 TEXT NOT NULL, l2 NOT NULL, h2 NOT NULL,
  s3 TEXT NOT NULL, c3 TEXT NOT NULL, x3 TEXT NOT NULL, l3 NOT NULL, h3 NOT NULL);
CREATE INDEX IF NOT EXISTS idx_composite_value ON idx_composite(pid, c1, s1);
CREATE INDEX IF NOT EXISTS idx_composite_rid ON idx_composite(rid);
)sql";

// The journal (Store's WriteTransaction::AppendJournal); IF NOT EXISTS: files made before it get
// it at open.
constexpr const char* kJournalSql = R"sql(
CREATE TABLE IF NOT EXISTS journal(seq INTEGER PRIMARY KEY, data BLOB NOT NULL);
)sql";

constexpr const char* kIndexTables[] = {"idx_string", "idx_token",     "idx_date", "idx_number",
                                        "idx_quantity", "idx_reference", "idx_uri",
                                        "idx_composite"};

// Long enough to ride out another process's checkpoint or write transaction, short enough that a
// stuck lock surfaces as an error instead of a hung request.
constexpr int kBusyTimeoutMs = 5000;

// Dynamic queries (Find with n ids, History with optional filters) come in many shapes; the cache
// keeps the most recent ones without growing without bound.
constexpr std::size_t kMaxCachedStatements = 64;

// Bound values are only read during sqlite3_step, and every Statement is stepped and reset while
// the strings it was bound to are alive, so SQLite need not copy them. This is SQLITE_STATIC,
// spelled without the macro's C-style cast.
const sqlite3_destructor_type kStatic = nullptr;

std::string Reference(std::string_view type, std::string_view id) {
  std::string out(type);
  out += '/';
  out += id;
  return out;
}

Status SqliteError(sqlite3* db, int rc, std::string_view what) {
  std::string message = "SQLite error while ";
  message += what;
  message += ": ";
  // sqlite3_errmsg describes the most recent failure on the connection; when that is not the
  // failure at hand (rc came from elsewhere), the generic text of the code is the better message.
  if (db != nullptr && (sqlite3_errcode(db) & 0xff) == (rc & 0xff)) {
    message += sqlite3_errmsg(db);
  } else {
    message += sqlite3_errstr(rc);
  }
  message += " (code " + std::to_string(rc) + ")";
  return Status(IssueType::kException, std::move(message));
}

// A statement SQLite refuses to prepare for its size (a search with about 1,000 repeated
// parameters, a chain of seven hops: the parser's stack, the depth of an expression, the number
// of variables): the client's request is too costly (HTTP 400), not a failure of the server.
// Nothing else.
std::optional<Status> PastSqlLimit(sqlite3* db, int rc) {
  if ((rc & 0xff) != SQLITE_ERROR && (rc & 0xff) != SQLITE_TOOBIG) return std::nullopt;
  const std::string_view message = sqlite3_errmsg(db);
  for (std::string_view limit : {"parser stack overflow", "Expression tree is too large",
                                 "too many SQL variables", "too many terms in compound SELECT",
                                 "tables in a join", "string or blob too big"}) {
    if (message.find(limit) == std::string_view::npos) continue;
    return Status(IssueType::kTooCostly,
                  "The search is too complex for the store (SQLite: " + std::string(message) +
                      "); use fewer values or repeated parameters, or fewer chained hops");
  }
  return std::nullopt;
}

// A prepared statement checked out of a Connection's cache (or, when the cached one is in use, a
// private copy). Values are bound in the order of the `?` placeholders. The destructor resets the
// statement, so no statement keeps a read snapshot or a bound pointer alive between calls.
class Statement {
 public:
  Statement(sqlite3_stmt* stmt, bool* in_use) : stmt_(stmt), in_use_(in_use) {}
  Statement(Statement&& other) noexcept
      : stmt_(std::exchange(other.stmt_, nullptr)),
        in_use_(std::exchange(other.in_use_, nullptr)),
        next_(other.next_),
        bind_rc_(other.bind_rc_) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& operator=(Statement&&) = delete;
  ~Statement() {
    if (stmt_ == nullptr) return;
    if (in_use_ == nullptr) {
      sqlite3_finalize(stmt_);
      return;
    }
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    *in_use_ = false;
  }

  void Bind(std::string_view text) {
    // A null pointer would bind SQL NULL, which no `=` matches; an empty string_view may have one.
    const char* data = text.data() != nullptr ? text.data() : "";
    Check(sqlite3_bind_text64(stmt_, ++next_, data, text.size(), kStatic, SQLITE_UTF8));
  }
  void Bind(std::int64_t value) { Check(sqlite3_bind_int64(stmt_, ++next_, value)); }
  void Bind(double value) { Check(sqlite3_bind_double(stmt_, ++next_, value)); }
  void BindBlob(std::string_view bytes) {
    const char* data = bytes.data() != nullptr ? bytes.data() : "";
    Check(sqlite3_bind_blob64(stmt_, ++next_, data, bytes.size(), kStatic));
  }

  // True: a row is available; false: the statement is done.
  Result<bool> Step() {
    if (bind_rc_ != SQLITE_OK) return Error(bind_rc_);
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return Error(rc);
  }

  // Steps to the end, ignoring rows.
  Status Run() {
    while (true) {
      FHIR_ASSIGN_OR_RETURN(bool row, Step());
      if (!row) return Status::Ok();
    }
  }

  std::int64_t Int(int column) { return sqlite3_column_int64(stmt_, column); }
  std::string Text(int column) {
    const unsigned char* text = sqlite3_column_text(stmt_, column);
    int size = sqlite3_column_bytes(stmt_, column);
    if (text == nullptr) return {};
    return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
  }
  std::string Blob(int column) {
    const void* blob = sqlite3_column_blob(stmt_, column);
    int size = sqlite3_column_bytes(stmt_, column);
    if (blob == nullptr) return {};  // also a zero-length blob
    return std::string(static_cast<const char*>(blob), static_cast<std::size_t>(size));
  }

 private:
  void Check(int rc) {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  }
  Status Error(int rc) {
    return SqliteError(sqlite3_db_handle(stmt_), rc,
                       std::string("running `") + sqlite3_sql(stmt_) + "`");
  }

  sqlite3_stmt* stmt_;
  bool* in_use_;  // the cache entry's flag; null for a private copy, finalized by the destructor
  int next_ = 0;
  int bind_rc_ = SQLITE_OK;  // the first bind failure, reported by Step
};

// One sqlite3 connection and its statement cache. Not thread-safe: the store hands each
// connection to one thread at a time (the writer under the write gate, readers via the pool).
class Connection {
 public:
  // `vfs`: the name of a registered VFS, nullptr for the default one.
  static Result<std::unique_ptr<Connection>> Open(const std::string& path, int flags,
                                                  const char* vfs = nullptr) {
    sqlite3* db = nullptr;
    // NOMUTEX: SQLite's own per-connection mutex is redundant with the store's hand-over.
    int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, vfs);
    // sqlite3_open_v2 allocates a handle even when it fails (to carry the message); the
    // Connection closes it either way.
    std::unique_ptr<Connection> connection(new Connection(db));
    if (db == nullptr) {
      return Status(IssueType::kException, "SQLite could not allocate a connection");
    }
    if (rc != SQLITE_OK) return SqliteError(db, rc, "opening '" + path + "'");
    rc = sqlite3_busy_timeout(db, kBusyTimeoutMs);
    if (rc != SQLITE_OK) return SqliteError(db, rc, "setting busy_timeout");
    return connection;
  }

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    for (auto& [sql, entry] : cache_) sqlite3_finalize(entry.stmt);
    sqlite3_close_v2(db_);
  }

  sqlite3* db() const { return db_; }

  Result<Statement> Prepare(const std::string& sql) {
    auto it = cache_.find(sql);
    if (it != cache_.end() && !it->second.in_use) {
      it->second.in_use = true;
      return Statement(it->second.stmt, &it->second.in_use);
    }
    if (sql.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
      return Status(IssueType::kTooCostly, "query too long for SQLite");
    }
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      if (std::optional<Status> limit = PastSqlLimit(db_, rc)) return *limit;
      return SqliteError(db_, rc, "preparing `" + sql + "`");
    }
    if (it != cache_.end()) return Statement(stmt, nullptr);  // the cached one is busy
    if (cache_.size() >= kMaxCachedStatements) EvictIdle();
    Cached& entry = cache_.emplace(sql, Cached{stmt, true}).first->second;
    return Statement(stmt, &entry.in_use);
  }

  // Runs one or more statements without caching them (schema, pragmas).
  Status Exec(const char* sql) {
    char* error = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &error);
    if (rc == SQLITE_OK) return Status::Ok();
    std::string message = "SQLite error while running `";
    message += sql;
    message += "`: ";
    message += error != nullptr ? error : sqlite3_errstr(rc);
    message += " (code " + std::to_string(rc) + ")";
    sqlite3_free(error);
    return Status(IssueType::kException, std::move(message));
  }

  // Runs a cached statement without parameters (BEGIN, COMMIT, SAVEPOINT ...).
  Status Run(const std::string& sql) {
    FHIR_ASSIGN_OR_RETURN(Statement statement, Prepare(sql));
    return statement.Run();
  }

  bool InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

 private:
  struct Cached {
    sqlite3_stmt* stmt;
    bool in_use;
  };

  explicit Connection(sqlite3* db) : db_(db) {}

  // Finalizes every cached statement that no Statement holds. (References into an
  // unordered_map stay valid while other elements are erased, so held entries are safe.)
  void EvictIdle() {
    for (auto it = cache_.begin(); it != cache_.end();) {
      if (it->second.in_use) {
        ++it;
      } else {
        sqlite3_finalize(it->second.stmt);
        it = cache_.erase(it);
      }
    }
  }

  sqlite3* db_;
  std::unordered_map<std::string, Cached> cache_;
};

// --- Queries shared by the reader connections and the write transaction -----------------------

// The columns ReadVersionRow expects, from `versions v`.
constexpr const char* kVersionColumns =
    "v.seq, v.type, v.id, v.version, v.last_updated, v.deleted, v.json";

StoredVersion ReadVersionRow(Statement& statement) {
  StoredVersion v;
  v.sequence = statement.Int(0);
  v.type = statement.Text(1);
  v.id = statement.Text(2);
  v.version = statement.Int(3);
  v.last_updated = statement.Text(4);
  v.deleted = statement.Int(5) != 0;
  v.json = statement.Blob(6);
  return v;
}

Result<StoredVersion> ReadCurrentOn(Connection& connection, std::string_view type,
                                    std::string_view id) {
  FHIR_ASSIGN_OR_RETURN(Statement statement,
                        connection.Prepare(std::string("SELECT ") + kVersionColumns +
                                           " FROM current c JOIN versions v ON v.seq = c.seq"
                                           " WHERE c.type = ? AND c.id = ?"));
  statement.Bind(type);
  statement.Bind(id);
  FHIR_ASSIGN_OR_RETURN(bool row, statement.Step());
  if (!row) return Status(IssueType::kNotFound, Reference(type, id) + " is not known");
  return ReadVersionRow(statement);
}

Result<StoredVersion> ReadVersionOn(Connection& connection, std::string_view type,
                                    std::string_view id, std::int64_t version) {
  FHIR_ASSIGN_OR_RETURN(Statement statement,
                        connection.Prepare(std::string("SELECT ") + kVersionColumns +
                                           " FROM versions v WHERE v.rid = (SELECT rid FROM"
                                           " current WHERE type = ? AND id = ?) AND v.version = ?"));
  statement.Bind(type);
  statement.Bind(id);
  statement.Bind(version);
  FHIR_ASSIGN_OR_RETURN(bool row, statement.Step());
  if (!row) {
    return Status(IssueType::kNotFound,
                  Reference(type, id) + "/_history/" + std::to_string(version) + " is not known");
  }
  return ReadVersionRow(statement);
}

// Where a resource stands: its row in `current` and its current version number.
struct CurrentRow {
  std::int64_t rid = 0;      // 0: the resource never existed
  std::int64_t version = 0;  // 0: the resource never existed
};

Result<CurrentRow> CurrentRowOn(Connection& connection, std::string_view type,
                                std::string_view id) {
  FHIR_ASSIGN_OR_RETURN(
      Statement statement,
      connection.Prepare("SELECT rid, version FROM current WHERE type = ? AND id = ?"));
  statement.Bind(type);
  statement.Bind(id);
  FHIR_ASSIGN_OR_RETURN(bool row, statement.Step());
  if (!row) return CurrentRow{};
  return CurrentRow{statement.Int(0), statement.Int(1)};
}

// REQUIRES: the caller holds a read transaction on `connection`, so that the count and the page
// see the same snapshot.
Result<HistoryPage> HistoryOn(Connection& connection, const HistoryQuery& query) {
  if (!query.id.empty() && query.type.empty()) {
    return Status(IssueType::kValue, "an instance history needs the resource type");
  }
  // The filters shared by the count and the page, and their values in placeholder order. The
  // bound string_views point into `query`, which outlives both statements.
  std::string where = " WHERE 1 = 1";
  std::vector<std::string_view> values;
  if (!query.id.empty()) {
    where += " AND v.rid = (SELECT rid FROM current WHERE type = ? AND id = ?)";
    values.push_back(query.type);
    values.push_back(query.id);
  } else if (!query.type.empty()) {
    where += " AND v.type = ?";
    values.push_back(query.type);
  }
  if (query.since) {
    // Instants are written as UTC `YYYY-MM-DDThh:mm:ss.sssZ`, so text order is time order.
    where += " AND v.last_updated >= ?";
    values.push_back(*query.since);
  }
  if (query.at) {
    // Per resource, the highest version that existed at `at` (a delete marker included: the
    // resource was deleted at that time).
    where +=
        " AND v.last_updated <= ? AND v.version = (SELECT max(w.version) FROM versions w"
        " WHERE w.rid = v.rid AND w.last_updated <= ?)";
    values.push_back(*query.at);
    values.push_back(*query.at);
  }

  HistoryPage page;
  {
    FHIR_ASSIGN_OR_RETURN(Statement count,
                          connection.Prepare("SELECT count(*) FROM versions v" + where));
    for (std::string_view value : values) count.Bind(value);
    FHIR_ASSIGN_OR_RETURN(bool row, count.Step());
    page.total = row ? count.Int(0) : 0;
  }

  std::string sql = std::string("SELECT ") + kVersionColumns + " FROM versions v" + where;
  if (query.before_sequence > 0) sql += " AND v.seq < ?";
  sql += " ORDER BY v.seq DESC LIMIT ?";
  FHIR_ASSIGN_OR_RETURN(Statement select, connection.Prepare(sql));
  for (std::string_view value : values) select.Bind(value);
  if (query.before_sequence > 0) select.Bind(query.before_sequence);
  // One row more than the page tells whether another page exists.
  const std::int64_t count = query.count > 0 ? query.count : 0;
  select.Bind(count + 1);
  while (true) {
    FHIR_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    if (static_cast<std::int64_t>(page.versions.size()) == count) {
      page.more = true;
      break;
    }
    page.versions.push_back(ReadVersionRow(select));
  }
  return page;
}

void BindAll(Statement& statement, const std::vector<CompiledSearch::BindValue>& values) {
  for (const CompiledSearch::BindValue& value : values) {
    if (const auto* text = std::get_if<std::string>(&value)) {
      statement.Bind(*text);
    } else if (const auto* integer = std::get_if<std::int64_t>(&value)) {
      statement.Bind(*integer);
    } else {
      statement.Bind(std::get<double>(value));
    }
  }
}

// REQUIRES: a read transaction on `connection` when `count_total`, so that the count and the
// page see one snapshot.
Result<SearchPage> SearchOn(Connection& connection, const SearchQuery& query, bool count_total) {
  FHIR_ASSIGN_OR_RETURN(CompiledSearch compiled, CompileSearch(query));
  SearchPage page;
  if (count_total) {
    FHIR_ASSIGN_OR_RETURN(Statement count, connection.Prepare(compiled.count_sql));
    BindAll(count, compiled.count_binds);
    FHIR_ASSIGN_OR_RETURN(bool row, count.Step());
    page.total = row ? count.Int(0) : 0;
  }
  if (compiled.can_walk && query.limit > 0 && (count_total || !compiled.estimate_sql.empty())) {
    // With many matches the page walks the type in order instead (max(rid) bounds the number
    // of resources of the type); without the total, the matches are counted as far as needed.
    FHIR_ASSIGN_OR_RETURN(Statement rows, connection.Prepare("SELECT max(rid) FROM current"));
    FHIR_ASSIGN_OR_RETURN(bool any, rows.Step());
    const std::int64_t resources = any ? rows.Int(0) : 0;
    const std::int64_t needed = std::int64_t{query.offset} + query.limit;
    std::int64_t matches = page.total;
    if (!count_total) {
      FHIR_ASSIGN_OR_RETURN(Statement estimate, connection.Prepare(compiled.estimate_sql));
      BindAll(estimate, compiled.estimate_binds);
      estimate.Bind(MatchesToWalk(resources, needed));
      FHIR_ASSIGN_OR_RETURN(bool row, estimate.Step());
      matches = row ? estimate.Int(0) : 0;
    }  // (the estimate, which bound values of `compiled`, ends before it is replaced)
    if (WalkIsCheaper(matches, resources, needed)) {
      FHIR_ASSIGN_OR_RETURN(compiled, CompileSearch(query, /*walk=*/true));
    }
  }
  // The page's `current` rows first, then their versions: the versions of the rows skipped by
  // the offset or left out by the limit are never read (the outer ORDER BY keeps the order).
  std::string sql = std::string("SELECT ") + kVersionColumns +
                    " FROM (SELECT c.* FROM current c WHERE " + compiled.where + compiled.cursor +
                    " ORDER BY " + compiled.order_by + " LIMIT ? OFFSET ?) c" +
                    " JOIN versions v ON v.seq = c.seq ORDER BY " + compiled.order_by;
  FHIR_ASSIGN_OR_RETURN(Statement select, connection.Prepare(sql));
  BindAll(select, compiled.binds);
  BindAll(select, compiled.cursor_binds);
  BindAll(select, compiled.order_binds);
  select.Bind(std::int64_t{query.limit > 0 ? query.limit : -1});
  select.Bind(std::int64_t{query.offset > 0 ? query.offset : 0});
  BindAll(select, compiled.order_binds);
  while (true) {
    FHIR_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    page.versions.push_back(ReadVersionRow(select));
  }
  return page;
}

// A JSON array of strings, for `IN (SELECT value FROM json_each(?))`.
std::string JsonArray(const std::vector<std::string>& items) {
  std::string out = "[";
  for (const std::string& item : items) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (char ch : item) {
      if (ch == '"' || ch == '\\') {
        out += '\\';
        out += ch;
      } else if (static_cast<unsigned char>(ch) < 0x20) {
        char buffer[8];
        std::snprintf(buffer, sizeof buffer, "\\u%04x", static_cast<unsigned>(ch));
        out += buffer;
      } else {
        out += ch;
      }
    }
    out += '"';
  }
  return out + "]";
}

Result<std::vector<StoredVersion>> IncludeOn(Connection& connection,
                                             const std::vector<ResourceKey>& from,
                                             const IncludeQuery& include) {
  std::vector<StoredVersion> out;
  if (from.empty()) return out;
  std::vector<std::string> keys, ids;
  keys.reserve(from.size());
  ids.reserve(from.size());
  for (const ResourceKey& key : from) {
    keys.push_back(key.type + "/" + key.id);
    ids.push_back(key.id);
  }
  const std::string key_list = JsonArray(keys);
  // `id IN ids` first, so that SQLite looks the keys up by index instead of scanning the type.
  const std::string id_list = JsonArray(ids);
  std::string sql = std::string("SELECT DISTINCT ") + kVersionColumns;
  std::vector<std::string> values;
  if (!include.reverse) {
    // The targets of the references of `from` (of type source_type) by `param`.
    sql +=
        " FROM current src JOIN idx_reference r ON r.rid = src.rid"
        " JOIN current c ON c.type = r.target_type AND c.id = r.target_id"
        " JOIN versions v ON v.seq = c.seq"
        " WHERE src.id IN (SELECT value FROM json_each(?))"
        " AND src.type || '/' || src.id IN (SELECT value FROM json_each(?))"
        " AND src.type = ? AND c.deleted = 0";
    values = {id_list, key_list, include.source_type};
    if (include.param != "*") {
      sql += " AND r.pid IN (SELECT pid FROM param_codes WHERE type = ? AND code = ?)";
      values.push_back(include.source_type);
      values.push_back(include.param);
    }
  } else {
    // Resources of source_type (any type for "*") whose `param` references one of `from`.
    sql +=
        " FROM idx_reference r JOIN current c ON c.rid = r.rid"
        " JOIN versions v ON v.seq = c.seq"
        " WHERE r.target_id IN (SELECT value FROM json_each(?))"
        " AND r.target_type || '/' || r.target_id IN (SELECT value FROM json_each(?))"
        " AND c.deleted = 0";
    values = {id_list, key_list};
    if (include.source_type != "*") {
      sql += " AND +c.type = ?";
      values.push_back(include.source_type);
    }
    if (include.param != "*") {
      sql += " AND r.pid IN (SELECT pid FROM param_codes WHERE type = ? AND code = ?)";
      values.push_back(include.source_type);
      values.push_back(include.param);
    }
  }
  if (!include.target_type.empty()) {
    sql += " AND r.target_type = ?";
    values.push_back(include.target_type);
  }
  sql += " ORDER BY c.type, c.id";
  FHIR_ASSIGN_OR_RETURN(Statement select, connection.Prepare(sql));
  for (const std::string& value : values) select.Bind(value);
  while (true) {
    FHIR_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    out.push_back(ReadVersionRow(select));
  }
  return out;
}

Result<std::string> IndexVersionOn(Connection& connection) {
  FHIR_ASSIGN_OR_RETURN(Statement select,
                        connection.Prepare("SELECT value FROM meta WHERE key = 'index_version'"));
  FHIR_ASSIGN_OR_RETURN(bool row, select.Step());
  return row ? select.Text(0) : std::string();
}

// --- Checkpoints -------------------------------------------------------------------------------

// Checkpoints the WAL into the database file on its own thread and connection. SQLite's
// automatic checkpoint runs inside the COMMIT that crosses the threshold, with the write gate
// held, and with synchronous=NORMAL a checkpoint syncs the WAL and the database file: two
// fsyncs (about 5 ms each on a VM disk) every few hundred small commits stalled every writer.
// Here commits only append to the WAL; a PASSIVE checkpoint never blocks them (nor readers).
// It runs each time checkpoint_pages frames have been added since the last one copied (it used
// to run after every commit once the WAL held that many: 2,000 checkpoints a second, each with
// its two fsyncs, 14% of the CPU of a create load), and the writer restarts the WAL from its
// beginning past restart_pages once a checkpoint has nearly caught up (a restart copies the
// rest and syncs with the write gate held).
class Checkpointer {
 public:
  // Takes over `writer`'s WAL hook, which replaces SQLite's automatic checkpoint on it.
  static Result<std::unique_ptr<Checkpointer>> Start(const std::string& path, sqlite3* writer,
                                                     int checkpoint_pages, int restart_pages) {
    FHIR_ASSIGN_OR_RETURN(std::unique_ptr<Connection> connection,
                          Connection::Open(path, SQLITE_OPEN_READWRITE));
    // A connection that has not read the database yet does not know it is in WAL mode, and
    // sqlite3_wal_checkpoint_v2 on it is a silent no-op (SQLITE_OK, log -1): the WAL would grow
    // without bound. One read opens the WAL index.
    FHIR_RETURN_IF_ERROR(connection->Exec("SELECT count(*) FROM sqlite_master"));
    std::unique_ptr<Checkpointer> checkpointer(
        new Checkpointer(std::move(connection), writer, checkpoint_pages, restart_pages));
    sqlite3_wal_hook(writer, &Checkpointer::OnCommit, checkpointer.get());
    checkpointer->thread_ = std::thread([c = checkpointer.get()] { c->Run(); });
    return checkpointer;
  }

  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;
  ~Checkpointer() {
    sqlite3_wal_hook(writer_, nullptr, nullptr);
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

 private:
  Checkpointer(std::unique_ptr<Connection> connection, sqlite3* writer, int checkpoint_pages,
               int restart_pages)
      : connection_(std::move(connection)),
        writer_(writer),
        checkpoint_pages_(checkpoint_pages),
        restart_pages_(restart_pages) {}

  // SQLite's WAL hook: runs on the writer after each commit, `pages` = frames in the WAL.
  static int OnCommit(void* self, sqlite3* db, const char* /*schema*/, int pages) {
    auto* checkpointer = static_cast<Checkpointer*>(self);
    if (pages >= checkpointer->restart_pages_ && checkpointer->CaughtUp(pages)) {
      // On the writer, after its commit: no write runs now. Without waiting for readers (a
      // busy timeout of 0 for the call): one in the way makes it stop early with SQLITE_BUSY,
      // and the next commit tries again.
      sqlite3_busy_timeout(db, 0);
      int rc = sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_RESTART, nullptr, nullptr);
      sqlite3_busy_timeout(db, kBusyTimeoutMs);
      if (rc == SQLITE_OK) pages = 0;  // the next commit writes from the WAL's beginning
      if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
        std::fprintf(stderr, "fhir-server: WAL restart failed: %s\n", sqlite3_errstr(rc));
      }
    }
    bool due;
    {
      std::lock_guard<std::mutex> lock(checkpointer->mu_);
      checkpointer->pages_ = pages;
      due = checkpointer->UpdateDueLocked();
    }
    if (due) checkpointer->cv_.notify_one();
    return SQLITE_OK;
  }

  // Whether the background checkpoints have copied nearly all of the WAL's `pages`: the
  // writer's restart then has little left to copy while it holds the write gate.
  bool CaughtUp(int pages) {
    std::lock_guard<std::mutex> lock(mu_);
    return pages - copied_ <= checkpoint_pages_ / 4;
  }

  // Whether the frames not yet copied reach checkpoint_pages_. REQUIRES: mu_ held.
  bool UpdateDueLocked() {
    if (pages_ < copied_) copied_ = 0;  // the WAL started over
    // Past the restart size, it catches up for the writer's restart (CaughtUp).
    const int behind = pages_ - copied_;
    if (behind >= checkpoint_pages_ ||
        (pages_ >= restart_pages_ && behind > checkpoint_pages_ / 4)) {
      due_ = true;
    }
    return due_;
  }

  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return due_ || stop_; });
      if (stop_) return;
      due_ = false;
      lock.unlock();
      int frames = -1;
      int copied = -1;
      int rc = sqlite3_wal_checkpoint_v2(connection_->db(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                         &frames, &copied);
      if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
        std::fprintf(stderr, "fhir-server: WAL checkpoint failed: %s\n", sqlite3_errstr(rc));
      }
      lock.lock();
      // Counted in frames of the WAL as this checkpoint saw it; should the WAL have started
      // over since, the next commit's count is below it and resets it.
      if (copied > copied_) copied_ = copied;
      UpdateDueLocked();
    }
  }

  std::unique_ptr<Connection> connection_;
  sqlite3* writer_;
  const int checkpoint_pages_;
  const int restart_pages_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool due_ = false;   // guarded by mu_
  int pages_ = 0;      // guarded by mu_: frames in the WAL after the last commit
  int copied_ = 0;     // guarded by mu_: of them, copied into the database by a checkpoint
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

// --- The store -------------------------------------------------------------------------------

class SqliteStore;

// Group commit. Write transactions that queue up while one runs share one SQLite transaction,
// and the last one of the group, the one that finds nobody waiting (or the group full), COMMITs
// for all. Every member's Commit() returns only after that COMMIT, with its outcome: what a
// client was told is stored is as durable as with a COMMIT of its own, but the WAL is written
// once per group, not once per request (45% of a single create's time was that write).
// A member must be able to roll back alone. Work handed to Store::WriteShared (a single REST
// interaction, an audit batch) writes straight into the group's transaction; should it roll back
// after writing after all, the whole group does. It is run by the thread that holds the write
// gate, one after the other without a hand-over between threads (flat combining: the thread
// that finds the gate free runs the queue, its own work first, and commits): waking the next
// writer thread for each member left the gate idle a quarter of the time and cost a fifth of the
// CPU in futex calls. A BeginWrite transaction commits the group so far at its first write and
// starts a new one, so that its rollback is the SQLite transaction's. (Savepoints per member
// cost more than they saved: every page a member changed was first copied to the savepoint's
// journal, 50 pages per create, and SQLite's in-memory journal walks its chunk list from the
// start to seek, 17% of the CPU of Synthea bundles posted 4 at a time.)
struct Submission;
struct CommitGroup {
  int members = 0;  // transactions released into the group (guarded by the store's write_mu_)
  // The WriteShared members, told at the end (write_mu_). Shared: the holder wakes them after
  // releasing write_mu_, when a member woken otherwise may already have returned.
  std::vector<std::shared_ptr<Submission>> shared;
  int puts = 0;     // Puts in it so far (changed by the write gate's holder only)
  std::vector<std::string> keys;  // CurrentCache keys of the Puts (changed by the gate's holder)
  bool done = false;
  Status status;  // the COMMIT's outcome, for every member
};

// One Store::WriteShared call: queued until the gate's holder runs it. Guarded by the store's
// write_mu_; `waiter` (its caller's thread or fiber) is woken when it is done or the gate is
// handed to it.
struct Submission {
  const std::function<bool(WriteTransaction&)>* work = nullptr;
  Waiter waiter;
  bool holder = false;  // the gate was handed to the caller's thread: it runs the queue
  bool done = false;
  Status status;               // the commit's outcome (Ok when `work` returned false)
  std::exception_ptr thrown;   // what `work` threw, rethrown on the caller's thread
};

// Members after which a group commits even though writers wait: bounds a member's wait.
constexpr int kMaxGroupMembers = 64;
// Puts after which a group commits even though writers wait: groups are for small writes. Big
// ones (a Synthea transaction has about 770 Puts) gain nothing from sharing a commit, and
// several in one SQLite transaction outgrew the writer's page cache, which then spilled to the
// WAL mid-transaction.
constexpr int kMaxGroupPuts = 500;
// How long a group with nobody waiting waits for a writer on its way (Store::ExpectWrite)
// before it commits: on a busy 2-core machine a create spends most of its time parsing and
// validating before it reaches the gate, so without this the groups stayed at 2 members.
constexpr auto kCommitDelay = std::chrono::milliseconds(1);

class SqliteWriteTransaction final : public WriteTransaction {
 public:
  // `shared`: run by WriteShared's queue (the gate stays with the thread running the queue,
  // and a write after others' shares their rollback).
  SqliteWriteTransaction(SqliteStore& store, Connection& connection, bool shared = false)
      : store_(store), connection_(connection), share_rollback_(shared) {}
  SqliteWriteTransaction(const SqliteWriteTransaction&) = delete;
  SqliteWriteTransaction& operator=(const SqliteWriteTransaction&) = delete;
  ~SqliteWriteTransaction() override {
    if (!done_) Finish();
  }

  // Joins the open commit group (BEGIN IMMEDIATE when there is none). On failure the caller
  // drops the transaction, whose destructor lets the next writer in.
  Status Begin();

  Result<StoredVersion> ReadCurrent(std::string_view type, std::string_view id) override {
    FHIR_RETURN_IF_ERROR(CheckActive());
    return ReadCurrentOn(connection_, type, id);
  }

  Result<SearchPage> Search(const SearchQuery& query, bool count_total) override {
    FHIR_RETURN_IF_ERROR(CheckActive());
    return SearchOn(connection_, query, count_total);
  }

  Status Put(StoredVersion& v, const fhir::search::IndexEntries& index) override {
    FHIR_RETURN_IF_ERROR(CheckActive());
    if (v.type.empty() || v.id.empty()) {
      return Status(IssueType::kValue, "a stored version needs a type and an id");
    }
    // A first version is checked by the insert of its `current` row (a create's id is new: a
    // lookup first cost a search of the id index per create, in the write gate).
    CurrentRow current;
    if (v.version != 1) {
      FHIR_ASSIGN_OR_RETURN(current, CurrentRowOn(connection_, v.type, v.id));
      if (v.version != current.version + 1) return NotNextVersion(v, current.version);
    }
    // A failure half-way (an SQLite error: the checks above come first) leaves rows of this Put
    // behind: the transaction can then only be rolled back. No savepoint per Put: a savepoint's
    // release walks its whole journal (300 us of CPU per AuditEvent in a batch of 500).
    const bool wrote_before = wrote_;
    FHIR_RETURN_IF_ERROR(BeforeWrite());
    if (v.version == 1) {
      Result<std::int64_t> rid = InsertCurrent(v);
      if (!rid.ok()) {
        broken_ = true;
        return rid.status();
      }
      if (*rid == 0) {  // the resource exists; nothing was written
        wrote_ = wrote_before;
        FHIR_ASSIGN_OR_RETURN(current, CurrentRowOn(connection_, v.type, v.id));
        return NotNextVersion(v, current.version);
      }
      current.rid = *rid;
    }
    Result<std::int64_t> sequence = Write(v, current.rid, /*is_new=*/v.version == 1, index);
    if (!sequence.ok()) {
      broken_ = true;
      return sequence.status();
    }
    ++group_->puts;
    group_->keys.push_back(CurrentCache::Key(v.type, v.id));
    v.sequence = *sequence;
    return Status::Ok();
  }

  Status AppendJournal(std::string_view data) override {
    FHIR_RETURN_IF_ERROR(CheckActive());
    FHIR_RETURN_IF_ERROR(BeforeWrite());
    FHIR_ASSIGN_OR_RETURN(Statement insert,
                          connection_.Prepare("INSERT INTO journal(data) VALUES(?)"));
    insert.BindBlob(data);
    Status status = insert.Run();
    if (!status.ok()) broken_ = true;  // as a Put's: the transaction can only roll back
    return status;
  }

  Result<std::optional<JournalRecord>> OldestJournal() override {
    FHIR_RETURN_IF_ERROR(CheckActive());
    FHIR_ASSIGN_OR_RETURN(
        Statement select,
        connection_.Prepare("SELECT seq, data FROM journal ORDER BY seq LIMIT 1"));
    FHIR_ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) return std::optional<JournalRecord>();
    return std::optional<JournalRecord>(JournalRecord{select.Int(0), select.Blob(1)});
  }

  Status RemoveJournal(std::int64_t seq) override {
    FHIR_RETURN_IF_ERROR(CheckActive());
    FHIR_RETURN_IF_ERROR(BeforeWrite());
    FHIR_ASSIGN_OR_RETURN(Statement remove,
                          connection_.Prepare("DELETE FROM journal WHERE seq = ?"));
    remove.Bind(seq);
    Status status = remove.Run();
    if (!status.ok()) broken_ = true;
    return status;
  }

  // Releases this transaction into its commit group and waits until the group is committed
  // (see CommitGroup): returns the group's outcome.
  Status Commit() override {
    if (share_rollback_) {
      return Status(IssueType::kException, "WriteShared commits the transaction it runs");
    }
    FHIR_RETURN_IF_ERROR(Release());
    return EndWrite(/*released=*/true);
  }

  // Ends a successful transaction: it commits with its group. On failure (an earlier write
  // failed) it is rolled back instead.
  Status Release() {
    if (done_) return Status(IssueType::kException, "the write transaction has already ended");
    Status status;
    if (broken_) {
      status = Status(IssueType::kException,
                      "not committed: an earlier Put failed and could not be undone");
    } else if (!connection_.InTransaction()) {
      status = Status(IssueType::kException,
                      "not committed: SQLite rolled the transaction back after an earlier error");
    }
    if (!status.ok()) {
      Finish();  // rolls this transaction back
      return status;
    }
    done_ = true;
    created_params_.clear();  // a failed group commit forgets the whole cache instead
    return Status::Ok();
  }

 private:
  // Every write starts here. The first one of a transaction that does not share the group's
  // rollback commits what the group's members wrote before it (see CommitGroup).
  Status BeforeWrite();

  Status CheckActive() {
    if (done_) return Status(IssueType::kException, "the write transaction has already ended");
    if (broken_) {
      return Status(IssueType::kException,
                    "an earlier Put failed and could not be undone; the transaction can only be "
                    "rolled back");
    }
    // Some errors (disk full, I/O error) make SQLite roll the whole transaction back; statements
    // run now would each commit on their own.
    if (!connection_.InTransaction()) {
      return Status(IssueType::kException,
                    "SQLite rolled the write transaction back after an earlier error");
    }
    return Status::Ok();
  }

  static Status NotNextVersion(const StoredVersion& v, std::int64_t current) {
    return Status(IssueType::kConflict, Reference(v.type, v.id) + ": version " +
                                            std::to_string(v.version) +
                                            " is not the next version (the current version is " +
                                            std::to_string(current) + ")");
  }

  // Binds the columns `current` and `versions` share: type, id, version, last_updated, deleted.
  static void BindVersionHead(Statement& statement, const StoredVersion& v) {
    statement.Bind(v.type);
    statement.Bind(v.id);
    statement.Bind(v.version);
    statement.Bind(v.last_updated);
    statement.Bind(std::int64_t{v.deleted ? 1 : 0});
  }

  // The `current` row of a new resource (its `seq` follows in Write, once the version has one);
  // returns its rid, or 0 when the resource has a row already (nothing is written then).
  Result<std::int64_t> InsertCurrent(const StoredVersion& v) {
    FHIR_ASSIGN_OR_RETURN(
        Statement insert,
        connection_.Prepare("INSERT OR IGNORE INTO current(type, id, version, last_updated,"
                            " deleted, seq) VALUES(?, ?, ?, ?, ?, 0)"));
    BindVersionHead(insert, v);
    FHIR_RETURN_IF_ERROR(insert.Run());
    if (sqlite3_changes(connection_.db()) == 0) return std::int64_t{0};
    return sqlite3_last_insert_rowid(connection_.db());
  }

  // The rows of one Put but a new resource's `current` row (InsertCurrent); returns the new
  // version's sequence. `rid`: the resource's row in `current`.
  Result<std::int64_t> Write(const StoredVersion& v, std::int64_t rid, bool is_new,
                             const fhir::search::IndexEntries& index) {
    {
      FHIR_ASSIGN_OR_RETURN(
          Statement insert,
          connection_.Prepare("INSERT INTO versions(type, id, version, last_updated, deleted, json,"
                              " rid) VALUES(?, ?, ?, ?, ?, ?, ?)"));
      BindVersionHead(insert, v);
      insert.BindBlob(v.json);
      insert.Bind(rid);
      FHIR_RETURN_IF_ERROR(insert.Run());
    }
    const std::int64_t sequence = sqlite3_last_insert_rowid(connection_.db());
    if (is_new) {
      FHIR_ASSIGN_OR_RETURN(Statement update,
                            connection_.Prepare("UPDATE current SET seq = ? WHERE rid = ?"));
      update.Bind(sequence);
      update.Bind(rid);
      FHIR_RETURN_IF_ERROR(update.Run());
    } else {
      FHIR_ASSIGN_OR_RETURN(
          Statement update,
          connection_.Prepare("UPDATE current SET version = ?, seq = ?, last_updated = ?,"
                              " deleted = ? WHERE rid = ?"));
      update.Bind(v.version);
      update.Bind(sequence);
      update.Bind(v.last_updated);
      update.Bind(std::int64_t{v.deleted ? 1 : 0});
      update.Bind(rid);
      FHIR_RETURN_IF_ERROR(update.Run());
      FHIR_RETURN_IF_ERROR(DropIndex(rid));
    }
    if (!v.deleted) FHIR_RETURN_IF_ERROR(WriteIndex(v.type, rid, index));
    return sequence;
  }

  Status DropIndex(std::int64_t rid) {
    for (const char* table : kIndexTables) {
      FHIR_ASSIGN_OR_RETURN(Statement drop, connection_.Prepare(std::string("DELETE FROM ") +
                                                               table + " WHERE rid = ?"));
      drop.Bind(rid);
      FHIR_RETURN_IF_ERROR(drop.Run());
    }
    return Status::Ok();
  }

  // The id of parameter `code` on `type`, created on first use.
  Result<std::int64_t> ParamId(const std::string& type, const std::string& code) {
    std::string key = type + '\n' + code;
    std::unordered_map<std::string, std::int64_t>& cache = ParamCache();
    if (auto it = cache.find(key); it != cache.end()) return it->second;
    FHIR_ASSIGN_OR_RETURN(Statement select,
                          connection_.Prepare("SELECT pid FROM params WHERE type = ? AND code = ?"));
    select.Bind(type);
    select.Bind(code);
    FHIR_ASSIGN_OR_RETURN(bool row, select.Step());
    std::int64_t pid = 0;
    if (row) {
      pid = select.Int(0);
    } else {
      FHIR_ASSIGN_OR_RETURN(Statement insert,
                            connection_.Prepare("INSERT INTO params(type, code) VALUES(?, ?)"));
      insert.Bind(type);
      insert.Bind(code);
      FHIR_RETURN_IF_ERROR(insert.Run());
      pid = sqlite3_last_insert_rowid(connection_.db());
      // A rollback forgets the row: Finish drops the ids this transaction created.
      created_params_.push_back(key);
    }
    cache.emplace(std::move(key), pid);
    return pid;
  }

  // One index row: (rid, the id of `param` on `type`, values...) by `insert`.
  template <class... Values>
  Status InsertIndexRow(const char* insert, const std::string& type, std::int64_t rid,
                        const std::string& param, const Values&... values) {
    FHIR_ASSIGN_OR_RETURN(std::int64_t pid, ParamId(type, param));
    FHIR_ASSIGN_OR_RETURN(Statement add, connection_.Prepare(insert));
    add.Bind(rid);
    add.Bind(pid);
    (add.Bind(values), ...);
    return add.Run();
  }

  Status WriteIndex(const std::string& type, std::int64_t rid,
                    const fhir::search::IndexEntries& index) {
    for (const auto& e : index.strings) {
      FHIR_RETURN_IF_ERROR(InsertIndexRow("INSERT INTO idx_string VALUES(?, ?, ?, ?)", type, rid,
                                          e.param, e.normalized, e.exact));
    }
    for (const auto& e : index.tokens) {
      FHIR_RETURN_IF_ERROR(InsertIndexRow("INSERT INTO idx_token VALUES(?, ?, ?, ?, ?, ?, ?)", type,
                                          rid, e.param, e.system, e.code, e.text, e.type_system,
                                          e.type_code));
    }
    for (const auto& e : index.dates) {
      FHIR_RETURN_IF_ERROR(InsertIndexRow("INSERT INTO idx_date VALUES(?, ?, ?, ?)", type, rid,
                                          e.param, e.low, e.high));
    }
    for (const auto& e : index.numbers) {
      FHIR_RETURN_IF_ERROR(InsertIndexRow("INSERT INTO idx_number VALUES(?, ?, ?, ?)", type, rid,
                                          e.param, e.low, e.high));
    }
    for (const auto& e : index.quantities) {
      FHIR_RETURN_IF_ERROR(InsertIndexRow("INSERT INTO idx_quantity VALUES(?, ?, ?, ?, ?, ?)", type,
                                          rid, e.param, e.system, e.code, e.low, e.high));
    }
    for (const auto& e : index.references) {
      FHIR_RETURN_IF_ERROR(InsertIndexRow(
          "INSERT INTO idx_reference VALUES(?, ?, ?, ?, ?, ?, ?, ?)", type, rid, e.param,
          e.target_type, e.target_id, e.version, e.url, e.identifier_system, e.identifier_value));
    }
    for (const auto& e : index.uris) {
      FHIR_RETURN_IF_ERROR(
          InsertIndexRow("INSERT INTO idx_uri VALUES(?, ?, ?)", type, rid, e.param, e.value));
    }
    for (const auto& e : index.composites) FHIR_RETURN_IF_ERROR(InsertComposite(type, rid, e));
    // Contained resources: on the container's rid, under the parameters of "#" + their type.
    for (const auto& c : index.contained) FHIR_RETURN_IF_ERROR(WriteIndex(c.type, rid, c.entries));
    return Status::Ok();
  }

  // A composite row: up to three components, the unused ones empty.
  Status InsertComposite(const std::string& type, std::int64_t rid,
                         const fhir::search::CompositeEntry& e) {
    FHIR_ASSIGN_OR_RETURN(std::int64_t pid, ParamId(type, e.param));
    FHIR_ASSIGN_OR_RETURN(Statement add, connection_.Prepare(
                                             "INSERT INTO idx_composite VALUES(?, ?, ?, ?, ?, ?, "
                                             "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    add.Bind(rid);
    add.Bind(pid);
    const fhir::search::CompositePart empty;  // bound without a copy: must outlive Run()
    for (std::size_t i = 0; i < 3; ++i) {
      const fhir::search::CompositePart& part = i < e.parts.size() ? e.parts[i] : empty;
      add.Bind(part.system);
      add.Bind(part.code);
      add.Bind(part.exact);
      if (part.is_time) {
        add.Bind(part.time_low);
        add.Bind(part.time_high);
      } else {
        add.Bind(part.low);
        add.Bind(part.high);
      }
    }
    return add.Run();
  }

 public:
  // Reindex support: replaces the index rows of (type, id)'s current version.
  Status ReplaceIndex(std::int64_t rid, const std::string& type,
                      const fhir::search::IndexEntries& index) {
    FHIR_RETURN_IF_ERROR(CheckActive());
    FHIR_RETURN_IF_ERROR(DropIndex(rid));
    return WriteIndex(type, rid, index);
  }
  Connection& connection() { return connection_; }

 private:
  // Rolls this transaction back and lets the next writer in.
  void Finish();
  // Leaves the write gate (SqliteStore::EndWrite); with `released`, waits for the group commit.
  Status EndWrite(bool released);

  SqliteStore& store_;
  Connection& connection_;
  std::shared_ptr<CommitGroup> group_;  // the commit group joined by Begin()
  const bool share_rollback_;  // its rollback after writing fails the group (WriteShared)
  bool wrote_ = false;           // a write (Put, journal) has started
  bool done_ = false;
  bool broken_ = false;  // a failed Put could not be undone: only a rollback is safe
  // The store's (type, code) -> pid cache, used only by the writer; the keys this transaction
  // added rows to `params` for, which a rollback must forget.
  std::unordered_map<std::string, std::int64_t>& ParamCache();
  std::vector<std::string> created_params_;

  friend class SqliteStore;
};

// One ExpectWrite() announcement; `pending` until its thread reaches BeginWrite or the handle
// goes (guarded by the store's write_mu_).
struct Expected {
  SqliteStore* store = nullptr;
  bool pending = true;
};
// The calling thread's announcement, if any.
thread_local Expected* t_expected = nullptr;

class SqliteStore final : public Store {
 public:
  SqliteStore(std::unique_ptr<Connection> writer, std::size_t cache_bytes)
      : writer_(std::move(writer)), cache_bytes_(cache_bytes), cache_(cache_bytes) {}

  void AddReader(std::unique_ptr<Connection> reader) {
    std::lock_guard<std::mutex> lock(readers_mu_);
    free_readers_.push_back(reader.get());
    readers_.push_back(std::move(reader));
  }

  std::shared_ptr<void> ExpectWrite() override {
    // Once per thread: a batch's entries announce again inside the Bundle's announcement.
    if (t_expected != nullptr) return nullptr;
    {
      std::lock_guard<std::mutex> lock(write_mu_);
      ++on_the_way_;
    }
    auto expected = std::make_shared<Expected>();
    expected->store = this;
    t_expected = expected.get();
    return std::shared_ptr<void>(expected.get(), [expected](void*) mutable {
      if (t_expected == expected.get()) t_expected = nullptr;
      expected->store->Arrived(*expected);
    });
  }

  Result<std::unique_ptr<WriteTransaction>> BeginWrite() override {
    if (t_expected != nullptr && t_expected->store == this) {
      Arrived(*t_expected);
      t_expected = nullptr;  // another fiber of this thread may announce its write
    }
    // A flag and a condition variable rather than a mutex held by the transaction: the
    // transaction may end on another thread than the one that began it (a coroutine resumed
    // elsewhere), which std::mutex does not allow.
    {
      std::unique_lock<std::mutex> lock(write_mu_);
      ++waiting_;
      arrival_cv_.notify_one();
      write_cv_.wait(lock, [this] { return !writing_; });
      --waiting_;
      writing_ = true;
    }
    auto transaction = std::make_unique<SqliteWriteTransaction>(*this, *writer_);
    FHIR_RETURN_IF_ERROR(transaction->Begin());
    std::unique_ptr<WriteTransaction> result = std::move(transaction);
    return result;
  }

  Status WriteShared(const std::function<bool(WriteTransaction&)>& work) override {
    if (t_expected != nullptr && t_expected->store == this) {
      Arrived(*t_expected);
      t_expected = nullptr;  // another fiber of this thread may announce its write
    }
    auto shared = std::make_shared<Submission>();
    Submission& submission = *shared;
    submission.work = &work;
    std::unique_lock<std::mutex> lock(write_mu_);
    queue_.push_back(shared);  // `shared` keeps it alive until this call returns
    if (!writing_ && waiting_ == 0) {  // a BeginWrite woken for the gate goes first
      writing_ = true;
      submission.holder = true;
    } else {
      arrival_cv_.notify_one();  // a holder about to commit may wait for it (kCommitDelay)
    }
    const auto ready = [&] { return submission.done || submission.holder; };
    while (true) {
      submission.waiter.Wait(lock, ready);
      if (submission.done) break;
      // Handed the gate (or found it free): run the queue. A holder may leave it to a BeginWrite
      // before running its own call, and be handed the gate again later.
      submission.holder = false;
      RunQueue(lock, submission);
    }
    lock.unlock();
    if (submission.thrown) std::rethrow_exception(submission.thrown);
    return submission.status;
  }

  Result<StoredVersion> ReadCurrent(std::string_view type, std::string_view id) override {
    if (cache_bytes_ == 0) {
      Lease reader(*this);
      return ReadCurrentOn(reader.connection(), type, id);
    }
    if (std::optional<StoredVersion> cached = cache_.Find(type, id)) return *std::move(cached);
    const std::uint64_t generation = cache_.Generation();  // before the read's snapshot
    Result<StoredVersion> read = [&] {
      Lease reader(*this);
      return ReadCurrentOn(reader.connection(), type, id);
    }();
    if (read.ok()) cache_.Offer(*read, generation);
    return read;
  }

  Result<StoredVersion> ReadVersion(std::string_view type, std::string_view id,
                                    std::int64_t version) override {
    Lease reader(*this);
    return ReadVersionOn(reader.connection(), type, id, version);
  }

  Result<HistoryPage> History(const HistoryQuery& query) override {
    Lease reader(*this);
    Connection& connection = reader.connection();
    // The count and the page must see one snapshot. A deferred BEGIN on a reader takes no lock
    // and blocks no writer.
    FHIR_RETURN_IF_ERROR(connection.Run("BEGIN"));
    Result<HistoryPage> page = HistoryOn(connection, query);
    (void)connection.Run("ROLLBACK");  // read-only: ending the snapshot cannot lose anything
    return page;
  }

  Result<SearchPage> Search(const SearchQuery& query, bool count_total) override {
    Lease reader(*this);
    Connection& connection = reader.connection();
    FHIR_RETURN_IF_ERROR(connection.Run("BEGIN"));
    Result<SearchPage> page = SearchOn(connection, query, count_total);
    (void)connection.Run("ROLLBACK");
    return page;
  }

  Result<std::vector<StoredVersion>> Include(const std::vector<ResourceKey>& from,
                                             const IncludeQuery& include) override {
    Lease reader(*this);
    return IncludeOn(reader.connection(), from, include);
  }

  Result<std::string> IndexVersion() override {
    Lease reader(*this);
    return IndexVersionOn(reader.connection());
  }

  // Rebuilds the index of every current resource, in batches of write transactions so that
  // other writers get in between; the version label is written last, so an interrupted reindex
  // runs again at the next start.
  Status Reindex(const std::function<fhir::search::IndexEntries(const StoredVersion&)>& extract,
                 std::string_view version) override {
    constexpr std::int64_t kBatch = 500;
    std::int64_t after = 0;
    while (true) {
      FHIR_ASSIGN_OR_RETURN(std::unique_ptr<WriteTransaction> base, BeginWrite());
      auto& transaction = static_cast<SqliteWriteTransaction&>(*base);
      std::vector<std::pair<std::int64_t, StoredVersion>> batch;
      {
        FHIR_ASSIGN_OR_RETURN(
            Statement select,
            transaction.connection().Prepare(
                std::string("SELECT c.rid, ") + kVersionColumns +
                " FROM current c JOIN versions v ON v.seq = c.seq"
                " WHERE c.rid > ? AND c.deleted = 0 ORDER BY c.rid LIMIT ?"));
        select.Bind(after);
        select.Bind(kBatch);
        while (true) {
          FHIR_ASSIGN_OR_RETURN(bool row, select.Step());
          if (!row) break;
          std::int64_t rid = select.Int(0);
          StoredVersion v;
          v.sequence = select.Int(1);
          v.type = select.Text(2);
          v.id = select.Text(3);
          v.version = select.Int(4);
          v.last_updated = select.Text(5);
          v.deleted = select.Int(6) != 0;
          v.json = select.Blob(7);
          batch.emplace_back(rid, std::move(v));
        }
      }
      for (const auto& [rid, v] : batch) {
        FHIR_RETURN_IF_ERROR(transaction.ReplaceIndex(rid, v.type, extract(v)));
        after = rid;
      }
      if (batch.empty()) {
        FHIR_ASSIGN_OR_RETURN(Statement label,
                              transaction.connection().Prepare(
                                  "INSERT INTO meta(key, value) VALUES('index_version', ?)"
                                  " ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
        label.Bind(version);
        FHIR_RETURN_IF_ERROR(label.Run());
      }
      FHIR_RETURN_IF_ERROR(transaction.Commit());
      if (batch.empty()) return Status::Ok();
    }
  }

  // The open commit group (BEGIN IMMEDIATE for a new one). Only the gate's holder calls it.
  Result<std::shared_ptr<CommitGroup>> JoinGroup() {
    if (group_ != nullptr && !writer_->InTransaction()) {
      // SQLite rolled the shared transaction back (an I/O error, a full disk): its members'
      // work is gone, and each of them must hear so.
      std::lock_guard<std::mutex> lock(write_mu_);
      FinishGroupLocked(Status(IssueType::kException,
                               "not committed: SQLite rolled the transaction back after an error"));
    }
    if (group_ == nullptr) {
      // A transaction left open by a failed ROLLBACK must not swallow this one.
      if (writer_->InTransaction()) (void)writer_->Run("ROLLBACK");
      FHIR_RETURN_IF_ERROR(writer_->Run("BEGIN IMMEDIATE"));
      group_ = std::make_shared<CommitGroup>();
    }
    return group_;
  }

  // Commits the members released into the open group so far and opens a new group for the
  // gate's holder (see CommitGroup); returns the new group.
  Result<std::shared_ptr<CommitGroup>> CommitMembersSoFar() {
    {
      std::unique_lock<std::mutex> lock(write_mu_);
      std::shared_ptr<CommitGroup> group = group_;
      CommitOpenGroup(lock);
      // What the holder read before may have come from the members' writes: it cannot go on.
      FHIR_RETURN_IF_ERROR(group->status);
    }
    return JoinGroup();
  }

  // Rolls the whole shared transaction back.
  void FailGroup(const Status& reason) {
    if (writer_->InTransaction()) (void)writer_->Run("ROLLBACK");
    std::lock_guard<std::mutex> lock(write_mu_);
    if (group_ != nullptr) FinishGroupLocked(reason);
  }

  // Leaves the write gate. The group is handed to a waiting writer while there is one and room,
  // and committed otherwise (rolled back when nobody released anything into it). A `released`
  // member then waits for the group's outcome.
  Status EndWrite(const std::shared_ptr<CommitGroup>& joined, bool released) {
    std::unique_lock<std::mutex> lock(write_mu_);
    if (released) ++joined->members;
    EndGroupUnlessJoined(lock);
    LeaveGateLocked();
    if (!released) return Status::Ok();
    group_cv_.wait(lock, [&] { return joined->done; });
    return joined->status;
  }

 private:
  // A reader connection checked out of the pool for one call; waits until one is free.
  class Lease {
   public:
    explicit Lease(SqliteStore& store) : store_(store) {
      std::unique_lock<std::mutex> lock(store_.readers_mu_);
      store_.readers_cv_.wait(lock, [this] { return !store_.free_readers_.empty(); });
      connection_ = store_.free_readers_.back();
      store_.free_readers_.pop_back();
      lock.unlock();
      // A snapshot left open (a failed ROLLBACK after History) would pin this reader to old data.
      if (connection_->InTransaction()) (void)connection_->Run("ROLLBACK");
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() {
      {
        std::lock_guard<std::mutex> lock(store_.readers_mu_);
        store_.free_readers_.push_back(connection_);
      }
      store_.readers_cv_.notify_one();
    }
    Connection& connection() { return *connection_; }

   private:
    SqliteStore& store_;
    Connection* connection_ = nullptr;
  };

  // Declared first, destroyed last: the last connection to close checkpoints the WAL into the
  // database file and removes it.
  std::unique_ptr<Connection> writer_;
  // An ExpectWrite() ends: its thread reached BeginWrite, or the handle went first.
  void Arrived(Expected& expected) {
    std::lock_guard<std::mutex> lock(write_mu_);
    if (!expected.pending) return;
    expected.pending = false;
    if (--on_the_way_ == 0) arrival_cv_.notify_one();
  }

  // Ends the open group with `status` for its members. With `wake`, its WriteShared members are
  // left there for the caller to wake after releasing write_mu_ (woken while it is held, each
  // blocked again at once on the mutex: two context switches instead of one). REQUIRES:
  // write_mu_ held.
  void FinishGroupLocked(Status status, std::vector<std::shared_ptr<Submission>>* wake = nullptr) {
    group_->status = std::move(status);
    group_->done = true;
    // Parameter ids created by members of a group that did not commit are not in the file.
    if (!group_->status.ok() && group_->members > 0) param_cache_.clear();
    for (const std::shared_ptr<Submission>& member : group_->shared) {
      member->status = group_->status;
      member->done = true;
      if (wake == nullptr) member->waiter.Wake();
    }
    if (wake != nullptr) *wake = std::move(group_->shared);
    group_.reset();
    group_cv_.notify_all();
  }

  // Commits the open group (rolls it back when nobody was released into it), with write_mu_
  // released meanwhile so that writers can queue. REQUIRES: the gate held; `lock` on write_mu_.
  void CommitOpenGroup(std::unique_lock<std::mutex>& lock) {
    const bool members = group_->members > 0;
    std::shared_ptr<CommitGroup> group = group_;
    lock.unlock();
    if (members) cache_.Committing(group->keys);
    Status status = members ? writer_->Run("COMMIT") : writer_->Run("ROLLBACK");
    if (writer_->InTransaction()) (void)writer_->Run("ROLLBACK");  // a COMMIT that failed
    // Before any member hears of the commit (and its client reads again).
    if (members) cache_.Committed(group->keys);
    std::vector<std::shared_ptr<Submission>> wake;
    lock.lock();
    FinishGroupLocked(std::move(status), &wake);
    if (wake.empty()) return;
    lock.unlock();
    for (const std::shared_ptr<Submission>& member : wake) member->waiter.Wake();
    lock.lock();
  }

  // The gate's holder is done: commits the open group unless a writer is there to join it (and
  // it is not full), after waiting briefly for one on its way (kCommitDelay). REQUIRES: the gate
  // held; `lock` on write_mu_.
  void EndGroupUnlessJoined(std::unique_lock<std::mutex>& lock) {
    if (group_ == nullptr) return;
    auto joiner = [this] { return waiting_ > 0 || !queue_.empty(); };
    Suspendable* fiber = CurrentSuspendable();
    if (fiber != nullptr && !GroupFullLocked() && !joiner() && on_the_way_ > 0) {
      // A writer on its way may be a request queued on this fiber's thread: let the thread run
      // what it has queued (the gate stays held), then wait for the others.
      lock.unlock();
      fiber->Resume();
      fiber->Suspend();
      lock.lock();
    }
    if (!GroupFullLocked() && !joiner() && on_the_way_ > 0) {
      arrival_cv_.wait_for(lock, kCommitDelay, [&] { return joiner() || on_the_way_ == 0; });
    }
    if (!joiner() || GroupFullLocked()) CommitOpenGroup(lock);
  }

  // The open group commits even though writers wait (kMaxGroupMembers, kMaxGroupPuts).
  // REQUIRES: write_mu_ held, an open group.
  bool GroupFullLocked() const {
    return group_->members >= kMaxGroupMembers || group_->puts >= kMaxGroupPuts;
  }

  // Hands the gate to the oldest WriteShared call, unless a BeginWrite waits (those are rare:
  // Bundles, audit materialization, reindex); frees it otherwise. REQUIRES: write_mu_ held.
  void LeaveGateLocked() {
    if (!queue_.empty() && waiting_ == 0) {
      queue_.front()->holder = true;
      queue_.front()->waiter.Wake();
      return;
    }
    writing_ = false;
    write_cv_.notify_one();
  }

  // Runs the WriteShared queue on the gate's holder, its calls one after the other, committing
  // groups as they fill and at the end; then leaves the gate. Between groups, a BeginWrite that
  // waits goes first, and once the holder's `own` call is done (committed) it hands the gate on:
  // its own client is not kept waiting while it serves others. REQUIRES: the gate held; `lock`
  // on write_mu_.
  void RunQueue(std::unique_lock<std::mutex>& lock, const Submission& own) {
    while (true) {
      while (!queue_.empty() && !((waiting_ > 0 || own.done) && group_ == nullptr)) {
        std::shared_ptr<Submission> next = std::move(queue_.front());
        queue_.pop_front();
        lock.unlock();
        const bool released = RunShared(*next);
        lock.lock();
        if (released) {
          ++group_->members;
          group_->shared.push_back(std::move(next));
          if (GroupFullLocked()) CommitOpenGroup(lock);
        } else {
          next->done = true;
          next->waiter.Wake();
        }
      }
      EndGroupUnlessJoined(lock);
      // A call queued during the commit delay or the COMMIT: run it, unless a BeginWrite waits
      // or the holder's own call is done.
      if (queue_.empty() || waiting_ > 0 || own.done) break;
    }
    LeaveGateLocked();
  }

  // Runs one WriteShared call in the open group (BEGIN when there is none); true when it
  // was released into the group. Its failures and exceptions are left in `submission`.
  bool RunShared(Submission& submission) {
    SqliteWriteTransaction transaction(*this, *writer_, /*shared=*/true);
    submission.status = transaction.Begin();
    if (!submission.status.ok()) return false;
    bool keep = false;
    try {
      keep = (*submission.work)(transaction);
    } catch (...) {
      submission.thrown = std::current_exception();
      return false;  // the transaction's destructor rolls it back
    }
    if (!keep) return false;
    submission.status = transaction.Release();
    return submission.status.ok();
  }

  std::mutex write_mu_;
  std::condition_variable write_cv_;  // the gate is free
  std::condition_variable group_cv_;  // a group ended
  std::condition_variable arrival_cv_;  // a writer reached BeginWrite, or none is on the way
  int on_the_way_ = 0;  // guarded by write_mu_: threads between ExpectWrite and BeginWrite
  bool writing_ = false;  // guarded by write_mu_: a WriteTransaction holds the writer
  int waiting_ = 0;       // guarded by write_mu_: threads waiting in BeginWrite
  std::deque<std::shared_ptr<Submission>> queue_;  // guarded by write_mu_: WriteShared calls not yet run
  // The group the writer's open SQLite transaction belongs to; null between groups. Changed only
  // by the gate's holder, under write_mu_.
  std::shared_ptr<CommitGroup> group_;

  const std::size_t cache_bytes_;
  CurrentCache cache_;  // current versions read by id

  // (type + '\n' + code) -> params.pid; only the writer (holding writing_) touches it.
  std::unordered_map<std::string, std::int64_t> param_cache_;
  friend class SqliteWriteTransaction;

  std::mutex readers_mu_;
  std::condition_variable readers_cv_;
  std::vector<std::unique_ptr<Connection>> readers_;
  std::vector<Connection*> free_readers_;  // guarded by readers_mu_

 public:
  // Declared last, destroyed first: stops before the connections close.
  std::unique_ptr<Checkpointer> checkpointer_;
};

std::unordered_map<std::string, std::int64_t>& SqliteWriteTransaction::ParamCache() {
  return store_.param_cache_;
}

Status SqliteWriteTransaction::Begin() {
  FHIR_ASSIGN_OR_RETURN(group_, store_.JoinGroup());
  return Status::Ok();
}

Status SqliteWriteTransaction::BeforeWrite() {
  if (wrote_) return Status::Ok();
  bool members;
  {
    std::lock_guard<std::mutex> lock(store_.write_mu_);
    members = group_->members > 0;
  }
  if (members && !share_rollback_) {
    Result<std::shared_ptr<CommitGroup>> fresh = store_.CommitMembersSoFar();
    if (!fresh.ok()) {
      group_ = nullptr;  // the old group is done; EndWrite only leaves the gate
      broken_ = true;
      return fresh.status();
    }
    group_ = std::move(fresh).value();
  }
  wrote_ = true;
  return Status::Ok();
}

void SqliteWriteTransaction::Finish() {
  done_ = true;
  for (const std::string& key : created_params_) store_.param_cache_.erase(key);
  created_params_.clear();
  if (group_ != nullptr && wrote_) {
    // The first writer of its group (nothing of others is lost), or one that shared the
    // group's rollback (WriteShared): the whole SQLite transaction goes.
    store_.FailGroup(Status(IssueType::kException,
                            "rolled back: a transaction committing with it failed after writing"));
  }
  if (!share_rollback_) (void)EndWrite(/*released=*/false);
}

Status SqliteWriteTransaction::EndWrite(bool released) {
  std::shared_ptr<CommitGroup> group = std::move(group_);
  if (group == nullptr) {  // Begin() failed before joining: only the gate to leave
    std::lock_guard<std::mutex> lock(store_.write_mu_);
    store_.LeaveGateLocked();
    return Status::Ok();
  }
  return store_.EndWrite(group, released);
}

// --- Opening ---------------------------------------------------------------------------------


Status UseWal(Connection& connection) {
  FHIR_ASSIGN_OR_RETURN(Statement statement, connection.Prepare("PRAGMA journal_mode = WAL"));
  FHIR_ASSIGN_OR_RETURN(bool row, statement.Step());
  std::string mode = row ? statement.Text(0) : "";
  if (mode != "wal") {
    return Status(IssueType::kException,
                  "SQLite could not switch the database to WAL mode (journal_mode is '" + mode +
                      "'); the path must name a file on a local file system");
  }
  return Status::Ok();
}

Result<std::int64_t> UserVersion(Connection& connection) {
  FHIR_ASSIGN_OR_RETURN(Statement statement, connection.Prepare("PRAGMA user_version"));
  FHIR_ASSIGN_OR_RETURN(bool row, statement.Step());
  return row ? statement.Int(0) : 0;
}

Status CreateSchema(Connection& connection) {
  // Another process may be creating the same file: decide under the write lock.
  FHIR_ASSIGN_OR_RETURN(std::int64_t version, UserVersion(connection));
  if (version == kSchemaVersion) return Status::Ok();
  if (version == 0) {
    FHIR_RETURN_IF_ERROR(connection.Exec(kVersionsSql));
    FHIR_RETURN_IF_ERROR(connection.Exec(kCurrentAndIndexSql));
  } else if (version == 1 || version == 2) {
    if (version == 1) {
      FHIR_RETURN_IF_ERROR(connection.Exec(kMigrateFrom1Sql));
      FHIR_RETURN_IF_ERROR(connection.Exec(kCurrentAndIndexSql));
      FHIR_RETURN_IF_ERROR(connection.Exec(kMigrateFrom1CopySql));
    }
    FHIR_RETURN_IF_ERROR(connection.Exec(kMigrateFrom2Sql));
  } else {
    return Status(IssueType::kException, "the database has schema version " +
                                             std::to_string(version) + "; this server knows " +
                                             std::to_string(kSchemaVersion));
  }
  return connection.Exec("PRAGMA user_version = 3");
}

Status EnsureSchema(Connection& connection) {
  FHIR_ASSIGN_OR_RETURN(std::int64_t version, UserVersion(connection));
  if (version == kSchemaVersion) return Status::Ok();
  if (version > kSchemaVersion) {
    return Status(IssueType::kException, "the database has schema version " +
                                             std::to_string(version) + "; this server knows " +
                                             std::to_string(kSchemaVersion));
  }
  FHIR_RETURN_IF_ERROR(connection.Exec("BEGIN IMMEDIATE"));
  Status status = CreateSchema(connection);
  if (status.ok()) status = connection.Exec("COMMIT");
  if (connection.InTransaction()) (void)connection.Exec("ROLLBACK");
  return status;
}

}  // namespace

fhir::Result<std::unique_ptr<storage::Store>> OpenSqliteStore(const SqliteOptions& options) {
  if (options.path.empty() || options.path == ":memory:") {
    return Status(IssueType::kValue, "SqliteOptions.path must name a database file");
  }
  if (options.wal_restart_pages < 100) {
    return Status(IssueType::kValue, "SqliteOptions.wal_restart_pages must be at least 100");
  }
  if (options.checkpoint_pages < 1) {
    return Status(IssueType::kValue, "SqliteOptions.checkpoint_pages must be at least 1");
  }
  if (options.readers < 1) {
    return Status(IssueType::kValue, "SqliteOptions.readers must be at least 1");
  }
  // SQLite counts every allocation under a global mutex unless told not to; the counts are
  // never read here, and the mutex cost 5% of a create's CPU. Effective only before SQLite's
  // first use in the process (later the call fails harmlessly).
  static const int kNoMemoryStatistics = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  (void)kNoMemoryStatistics;
  // The writer's WAL frames of a commit go to the file in one write (wal_batch_vfs.h).
  FHIR_ASSIGN_OR_RETURN(std::unique_ptr<Connection> writer,
                        Connection::Open(options.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                         WalBatchVfs()));
  FHIR_RETURN_IF_ERROR(UseWal(*writer));
  // synchronous is a per-connection setting; only the writer's commits need it.
  FHIR_RETURN_IF_ERROR(writer->Exec(options.sync == SqliteOptions::Sync::kFull
                                        ? "PRAGMA synchronous = FULL"
                                        : "PRAGMA synchronous = NORMAL"));
  // Statement journals (SQLite's undo of a statement that fails half-way) in memory: on disk,
  // each was a temporary file created and deleted in the transaction.
  FHIR_RETURN_IF_ERROR(writer->Exec("PRAGMA temp_store = MEMORY"));
  // A 64 MiB page cache for the writer (SQLite's default is 2 MiB): a transaction Bundle
  // touches thousands of index pages, and with the small cache SQLite spilled dirty pages to the
  // WAL mid-transaction and read them back.
  FHIR_RETURN_IF_ERROR(writer->Exec("PRAGMA cache_size = -65536"));
  // After a WAL restart the file is cut back to the restart size (SqliteOptions).
  const std::string size_limit = "PRAGMA journal_size_limit = " +
                                 std::to_string(std::int64_t{options.wal_restart_pages} * 4096);
  FHIR_RETURN_IF_ERROR(writer->Exec(size_limit.c_str()));
  FHIR_RETURN_IF_ERROR(EnsureSchema(*writer));
  FHIR_RETURN_IF_ERROR(writer->Exec(kCoveringIndexSql));
  FHIR_RETURN_IF_ERROR(writer->Exec(kCompositeIndexSql));
  FHIR_RETURN_IF_ERROR(writer->Exec(kJournalSql));
  FHIR_RETURN_IF_ERROR(DeclareParamCodes(writer->db()));

  sqlite3* writer_db = writer->db();
  auto store = std::make_unique<SqliteStore>(std::move(writer), options.cache_bytes);
  FHIR_ASSIGN_OR_RETURN(store->checkpointer_,
                        Checkpointer::Start(options.path, writer_db, options.checkpoint_pages,
                                            options.wal_restart_pages));
  for (int i = 0; i < options.readers; ++i) {
    // Read-only connections: a bug in a read path cannot write.
    FHIR_ASSIGN_OR_RETURN(std::unique_ptr<Connection> reader,
                          Connection::Open(options.path, SQLITE_OPEN_READONLY));
    FHIR_RETURN_IF_ERROR(DeclareParamCodes(reader->db()));
    store->AddReader(std::move(reader));
  }
  std::unique_ptr<Store> result = std::move(store);
  return result;
}

}  // namespace storage::sqlite
