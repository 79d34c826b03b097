#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "fhir/base/status.h"
#include "storage/search_query.h"

struct sqlite3;

namespace storage::sqlite {

// Declares on connection `db` the temporary view `param_codes(pid, type, code)` that every query
// here reads parameter ids from: a parameter's own id, and the ids of the parameters whose rows
// it shares (fhir/search/index_sharing.h: Patient `phonetic` reads the rows of `name`, `family`
// and `given`). Per connection, from the registry of this build, so that a file never holds a
// mapping that an older or newer server disagrees with. Contained resources' types
// ("#Patient", "#Patient#2") share as their resource type does. Every connection of a store
// runs it once, after the schema exists.
fhir::Status DeclareParamCodes(sqlite3* db);

// A SearchQuery compiled to SQL over the schema of sqlite_store.cc: `where` is a condition on
// `current c` (alias c) that the total counts, `cursor` the keyset paging condition the page
// adds to it, `order_by` the ORDER BY list; each with the values of its `?`s in order.
struct CompiledSearch {
  using BindValue = std::variant<std::string, std::int64_t, double>;
  std::string where;
  std::vector<BindValue> binds;
  std::string cursor;
  std::vector<BindValue> cursor_binds;
  std::string order_by;
  std::vector<BindValue> order_binds;
  // The statement giving the total (one row, one integer), with its values. With a single
  // criterion on an index table and nothing else to check, it counts that index's rows alone:
  // index rows exist only for current, non-deleted resources (sqlite_store.cc's write path
  // drops a resource's rows on every update and delete and writes none for a delete marker).
  std::string count_sql;
  std::vector<BindValue> count_binds;
  // For a single criterion as above: the statement counting its index rows up to a limit, a
  // `?` after `estimate_binds` (an estimate of the matches, for WalkIsCheaper, when the total
  // is not wanted). Empty otherwise.
  std::string estimate_sql;
  std::vector<BindValue> estimate_binds;
  // Whether `CompileSearch(query, true)` gives a page that walks the type's resources in
  // (type, id) order, probing every criterion, instead of collecting the most selective
  // criterion's matches and sorting them (see WalkIsCheaper).
  bool can_walk = false;
};

// Fails (kNotSupported/kValue) for a query the compiler cannot express; never for a query the
// server's parser produces from valid search syntax.
// `walk`: no criterion drives the page (see CompiledSearch::can_walk).
fhir::Result<CompiledSearch> CompileSearch(const SearchQuery& query, bool walk = false);

// Whether a page that needs the first `rows` matches (offset + limit) in the default order is
// cheaper walked than driven, when the query has `matches` matches among at most `resources`
// resources of its type: walking visits about rows * resources / matches resources (matches are
// spread evenly over the random ids), driving visits and sorts every match, which costs a few
// times more per match.
bool WalkIsCheaper(std::int64_t matches, std::int64_t resources, std::int64_t rows);

// The fewest matches with which walking is cheaper: counting further tells nothing more.
std::int64_t MatchesToWalk(std::int64_t resources, std::int64_t rows);

}  // namespace storage::sqlite
