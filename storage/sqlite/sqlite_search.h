#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "fhir/base/status.h"
#include "storage/search_query.h"

namespace storage::sqlite {

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
};

// Fails (kNotSupported/kValue) for a query the compiler cannot express; never for a query the
// server's parser produces from valid search syntax.
fhir::Result<CompiledSearch> CompileSearch(const SearchQuery& query);

}  // namespace storage::sqlite
