// The SQLite store's search plans (storage/sqlite/sqlite_search.cc): the total read from one
// index alone, pages walked in (type, id) order instead of driven by a criterion, date ranges
// that drive, and _include/_revinclude by key. Each plan must give exactly what the general one
// gives; the tests check the plan taken as well as the result.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <doctest/doctest.h>
#include <sqlite3.h>

#include "fhir/search/normalize.h"
#include "storage/sqlite/sqlite_search.h"
#include "storage/sqlite/sqlite_store.h"
#include "storage/store.h"
#include "tests/storage/temp_path.h"

namespace storage::sqlite {
namespace {

using TempDb = testing::TempPath;

std::unique_ptr<Store> Open(const std::string& path) {
  SqliteOptions options;
  options.path = path;
  auto store = OpenSqliteStore(options);
  REQUIRE_MESSAGE(store.ok(), store.status().ToString());
  return std::move(store).value();
}

fhir::search::TokenEntry Tok(const std::string& param, const std::string& system,
                            const std::string& code) {
  return fhir::search::TokenEntry{param, system, code, "", "", ""};
}

fhir::search::ReferenceEntry Ref(const std::string& param, const std::string& type,
                                 const std::string& id) {
  return fhir::search::ReferenceEntry{param, type, id, "", "", "", ""};
}

// Puts version `version` of type/id (a delete marker when `deleted`) with `index`.
void Put(Store& store, const std::string& type, const std::string& id, std::int64_t version,
         fhir::search::IndexEntries index = {}, bool deleted = false) {
  StoredVersion v;
  v.type = type;
  v.id = id;
  v.version = version;
  v.last_updated = "2024-01-01T00:00:00.000Z";
  v.deleted = deleted;
  v.json = deleted ? "" : R"({"resourceType":")" + type + R"(","id":")" + id + R"("})";
  auto transaction = store.BeginWrite();
  REQUIRE_MESSAGE(transaction.ok(), transaction.status().ToString());
  fhir::Status put = (*transaction)->Put(v, index);
  REQUIRE_MESSAGE(put.ok(), put.ToString());
  fhir::Status commit = (*transaction)->Commit();
  REQUIRE_MESSAGE(commit.ok(), commit.ToString());
}

fhir::search::IndexEntries Tokens(std::vector<fhir::search::TokenEntry> tokens) {
  fhir::search::IndexEntries index;
  index.tokens = std::move(tokens);
  return index;
}

// type?param= with the one match `m`, on the index table `table`.
SearchQuery OneMatchQuery(const std::string& type, const std::string& param, IndexTable table,
                          Match m) {
  SearchQuery query;
  query.type = type;
  Criterion criterion;
  criterion.table = table;
  criterion.param = param;
  criterion.any.push_back(std::move(m));
  query.criteria.push_back(std::move(criterion));
  return query;
}

// type?param=[system|]code
SearchQuery TokenQuery(const std::string& type, const std::string& param,
                       const std::string& system, const std::string& code) {
  Match m;
  m.kind = Match::Kind::kToken;
  if (!system.empty()) m.system = system;
  m.value = code;
  return OneMatchQuery(type, param, IndexTable::kToken, std::move(m));
}

// `query` AND _lastUpdated ge 2000: the same matches, but two criteria (no index-only total).
SearchQuery WithLastUpdated(SearchQuery query) {
  Criterion criterion;
  criterion.table = IndexTable::kDate;
  criterion.param = "_lastUpdated";
  Match m;
  m.kind = Match::Kind::kRange;
  m.prefix = Prefix::kGe;
  m.is_time = true;
  auto range = fhir::search::DateRange("2000");
  REQUIRE(range.has_value());
  m.time_low = range->low;
  m.time_high = range->high;
  criterion.any.push_back(std::move(m));
  query.criteria.push_back(std::move(criterion));
  return query;
}

SearchPage Search(Store& store, const SearchQuery& query, bool count_total) {
  auto page = store.Search(query, count_total);
  REQUIRE_MESSAGE(page.ok(), page.status().ToString());
  return std::move(page).value();
}

std::vector<std::string> Ids(const SearchPage& page) {
  std::vector<std::string> ids;
  for (const StoredVersion& v : page.versions) ids.push_back(v.type + "/" + v.id);
  return ids;
}

CompiledSearch Compile(const SearchQuery& query, bool walk = false) {
  auto compiled = CompileSearch(query, walk);
  REQUIRE_MESSAGE(compiled.ok(), compiled.status().ToString());
  return std::move(compiled).value();
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

using Strings = std::vector<std::string>;

TEST_CASE("SqliteStore: a single criterion's total counts its index rows, current versions only") {
  TempDb db;
  auto store = Open(db.str());
  const std::string cat = "http://terminology.hl7.org/CodeSystem/observation-category";
  Put(*store, "Observation", "o1", 1, Tokens({Tok("category", cat, "laboratory")}));
  // Updated away from the code: its old row must be gone.
  Put(*store, "Observation", "o2", 1, Tokens({Tok("category", cat, "laboratory")}));
  Put(*store, "Observation", "o2", 2, Tokens({Tok("category", cat, "vital-signs")}));
  // Deleted: no rows.
  Put(*store, "Observation", "o3", 1, Tokens({Tok("category", cat, "laboratory")}));
  Put(*store, "Observation", "o3", 2, {}, /*deleted=*/true);
  // Deleted, then created again with the code: counted once.
  Put(*store, "Observation", "o4", 1, Tokens({Tok("category", cat, "laboratory")}));
  Put(*store, "Observation", "o4", 2, {}, /*deleted=*/true);
  Put(*store, "Observation", "o4", 3, Tokens({Tok("category", cat, "laboratory")}));
  // Three matching rows (two systems, one coding twice): one resource.
  Put(*store, "Observation", "o5", 1,
      Tokens({Tok("category", cat, "laboratory"), Tok("category", "urn:local", "laboratory"),
              Tok("category", cat, "laboratory")}));
  // Updated twice, keeping the code.
  Put(*store, "Observation", "o6", 1, Tokens({Tok("category", cat, "laboratory")}));
  Put(*store, "Observation", "o6", 2, Tokens({Tok("category", cat, "laboratory")}));
  Put(*store, "Observation", "o6", 3, Tokens({Tok("category", cat, "laboratory")}));
  // The same parameter code and value on another type.
  Put(*store, "Condition", "c1", 1, Tokens({Tok("category", cat, "laboratory")}));

  const SearchQuery any_system = TokenQuery("Observation", "category", "", "laboratory");
  const SearchQuery one_system = TokenQuery("Observation", "category", cat, "laboratory");
  for (const SearchQuery& query : {any_system, one_system}) {
    // The plan: the total reads the token index alone; with a second criterion it joins.
    CompiledSearch compiled = Compile(query);
    CHECK(Contains(compiled.count_sql, "count(DISTINCT"));
    CHECK_FALSE(Contains(compiled.count_sql, "current"));
    CHECK(Contains(Compile(WithLastUpdated(query)).count_sql, "FROM current c"));

    SearchPage page = Search(*store, query, true);
    CHECK(page.total == 4);
    CHECK(Ids(page) ==
          Strings{"Observation/o1", "Observation/o4", "Observation/o5", "Observation/o6"});
    SearchPage joined = Search(*store, WithLastUpdated(query), true);
    CHECK(joined.total == 4);
    CHECK(Ids(joined) == Ids(page));
  }
  CHECK(Search(*store, TokenQuery("Observation", "category", "", "vital-signs"), true).total == 1);
  CHECK(Search(*store, TokenQuery("Condition", "category", "", "laboratory"), true).total == 1);
  CHECK(Search(*store, TokenQuery("Patient", "category", "", "laboratory"), true).total == 0);
  CHECK(Search(*store, TokenQuery("Observation", "nothing", "", "laboratory"), true).total == 0);

  // Any other condition (compartment, access filter, _contained) needs the resource row.
  SearchQuery in_compartment = any_system;
  CompartmentFilter compartment;
  compartment.owner_type = "Patient";
  compartment.owner_ids = {"p1"};
  compartment.params = {"subject"};
  in_compartment.compartment = compartment;
  CHECK(Contains(Compile(in_compartment).count_sql, "FROM current c"));
  CHECK(Search(*store, in_compartment, true).total == 0);
  SearchQuery restricted = any_system;
  restricted.access = std::vector<CompartmentFilter>{compartment};
  CHECK(Contains(Compile(restricted).count_sql, "FROM current c"));
  SearchQuery containing = any_system;
  containing.contained = std::make_shared<SearchQuery>(
      TokenQuery("Observation", "category", "", "laboratory"));
  CHECK(Contains(Compile(containing).count_sql, "FROM current c"));

  // :not and :missing need the resources without rows: never counted from the index.
  SearchQuery negated = any_system;
  negated.criteria[0].negate = true;
  CHECK(Contains(Compile(negated).count_sql, "FROM current c"));
  SearchPage others = Search(*store, negated, true);
  CHECK(others.total == 1);
  CHECK(Ids(others) == Strings{"Observation/o2"});
}

TEST_CASE("SqliteStore: a page walked in id order equals the page driven by the criterion") {
  CHECK(MatchesToWalk(1200000, 1000) == 17321);  // sqrt(1000 * 1200000 / 4) + 1
  CHECK(WalkIsCheaper(17321, 1200000, 1000));
  CHECK_FALSE(WalkIsCheaper(17320, 1200000, 1000));
  CHECK(WalkIsCheaper(50000, 1200000, 1000));  // code=8302-2, page 10 of 100
  CHECK(WalkIsCheaper(183456, 1200000, 1));    // _summary=count's page of one
  CHECK_FALSE(WalkIsCheaper(3, 1200000, 21));  // Condition?subject
  CHECK_FALSE(WalkIsCheaper(0, 100, 10));
  CHECK_FALSE(WalkIsCheaper(100, 100, 0));  // no limit: every match anyway

  TempDb db;
  auto store = Open(db.str());
  // 40 Observations o00..o39: even ones have code A (o10 updated away from it, o12 deleted),
  // odd ones code B; o07 has A too after an update.
  Strings expected;
  for (int i = 0; i < 40; ++i) {
    std::string id = (i < 10 ? "o0" : "o") + std::to_string(i);
    Put(*store, "Observation", id, 1, Tokens({Tok("code", "s", i % 2 == 0 ? "A" : "B")}));
  }
  Put(*store, "Observation", "o10", 2, Tokens({Tok("code", "s", "B")}));
  Put(*store, "Observation", "o12", 2, {}, /*deleted=*/true);
  Put(*store, "Observation", "o07", 2, Tokens({Tok("code", "s", "A"), Tok("code", "s", "B")}));
  for (int i = 0; i < 40; ++i) {
    if ((i % 2 == 0 && i != 10 && i != 12) || i == 7) {
      expected.push_back(std::string("Observation/") + (i < 10 ? "o0" : "o") + std::to_string(i));
    }
  }
  REQUIRE(expected.size() == 19);

  const SearchQuery query = TokenQuery("Observation", "code", "s", "A");
  // Two plans indeed: the driven page collects the criterion's rows, the walked one probes.
  CHECK(Contains(Compile(query).where, "c.rid IN (SELECT"));
  CHECK_FALSE(Contains(Compile(query, /*walk=*/true).where, "c.rid IN (SELECT"));
  CHECK(Compile(query).can_walk);
  CHECK(Contains(Compile(query).estimate_sql, "LIMIT ?"));
  CHECK(Compile(WithLastUpdated(query)).estimate_sql.empty());
  SearchQuery sorted = query;
  sorted.sort.push_back(SortKey{IndexTable::kToken, "code", false});
  CHECK_FALSE(Compile(sorted).can_walk);

  for (int offset : {0, 3, 17, 19}) {
    for (int limit : {1, 5, 30}) {
      SearchQuery q = query;
      q.offset = offset;
      q.limit = limit;
      Strings want;
      for (int i = offset; i < offset + limit && i < static_cast<int>(expected.size()); ++i) {
        want.push_back(expected[static_cast<std::size_t>(i)]);
      }
      // The store walks when the total (19 matches of 40 resources) or the estimate says so;
      // with a second criterion and no total it drives.
      SearchPage walked = Search(*store, q, true);
      CHECK(walked.total == 19);
      CHECK(Ids(walked) == want);
      CHECK(Ids(Search(*store, q, false)) == want);
      CHECK(Ids(Search(*store, WithLastUpdated(q), false)) == want);
      CHECK(Ids(Search(*store, WithLastUpdated(q), true)) == want);
    }
  }
  // Keyset pages after and before a resource.
  SearchQuery after = query;
  after.limit = 4;
  after.after = std::make_pair(std::string("Observation"), std::string("o07"));
  Strings want_after = {"Observation/o08", "Observation/o14", "Observation/o16", "Observation/o18"};
  CHECK(Ids(Search(*store, after, true)) == want_after);
  CHECK(Ids(Search(*store, after, false)) == want_after);
  CHECK(Ids(Search(*store, WithLastUpdated(after), false)) == want_after);
  SearchQuery before = query;
  before.limit = 3;
  before.before = std::make_pair(std::string("Observation"), std::string("o14"));
  Strings want_before = {"Observation/o08", "Observation/o07", "Observation/o06"};
  CHECK(Ids(Search(*store, before, true)) == want_before);
  CHECK(Ids(Search(*store, before, false)) == want_before);
  CHECK(Ids(Search(*store, WithLastUpdated(before), false)) == want_before);
}

TEST_CASE("SqliteStore: a date eq of a day drives the search and keeps its matches") {
  TempDb db;
  auto store = Open(db.str());
  auto day = [](const std::string& text) {
    auto range = fhir::search::DateRange(text);
    REQUIRE(range.has_value());
    return *range;
  };
  auto patient = [&](const std::string& id, const std::string& family, const std::string& date) {
    fhir::search::IndexEntries index;
    index.strings.push_back({"family", fhir::search::NormalizeString(family), family});
    fhir::search::TimeRange range = day(date);
    index.dates.push_back({"birthdate", range.low, range.high});
    Put(*store, "Patient", id, 1, index);
  };
  patient("p1", "Muller", "1970-01-01");
  patient("p2", "Muller", "1970-01-02");
  patient("p3", "Muller", "1969-12-31");
  patient("p4", "Meyer", "1970-01-01");
  patient("p5", "Muller", "1970-01-01T10:00:00Z");
  patient("p6", "Muller", "1970");  // a year: not within the day

  SearchQuery query;
  query.type = "Patient";
  Criterion family;
  family.table = IndexTable::kString;
  family.param = "family";
  Match starts;
  starts.kind = Match::Kind::kStringStarts;
  starts.value = "mul";
  family.any.push_back(starts);
  query.criteria.push_back(family);
  Criterion birthdate;
  birthdate.table = IndexTable::kDate;
  birthdate.param = "birthdate";
  Match eq;
  eq.kind = Match::Kind::kRange;
  eq.is_time = true;
  eq.time_low = day("1970-01-01").low;
  eq.time_high = day("1970-01-01").high;
  birthdate.any.push_back(eq);
  query.criteria.push_back(birthdate);

  // The date criterion drives (its rows: a day of the date index), the family is probed.
  const std::string where = Compile(query).where;
  CHECK(Contains(where, "c.rid IN (SELECT t2.rid FROM idx_date"));
  CHECK(Contains(where, "EXISTS (SELECT 1 FROM idx_string"));
  SearchPage page = Search(*store, query, true);
  CHECK(page.total == 2);
  CHECK(Ids(page) == Strings{"Patient/p1", "Patient/p5"});

  // A year is a long range: the string drives.
  query.criteria[1].any[0].time_low = day("1970").low;
  query.criteria[1].any[0].time_high = day("1970").high;
  CHECK(Contains(Compile(query).where, "c.rid IN (SELECT t1.rid FROM idx_string"));
  CHECK(Ids(Search(*store, query, true)) ==
        Strings{"Patient/p1", "Patient/p2", "Patient/p5", "Patient/p6"});
}

TEST_CASE("SqliteStore: _include and _revinclude follow the given keys only") {
  TempDb db;
  auto store = Open(db.str());
  auto refs = [](std::vector<fhir::search::ReferenceEntry> entries) {
    fhir::search::IndexEntries index;
    index.references = std::move(entries);
    return index;
  };
  Put(*store, "Patient", "x", 1);
  Put(*store, "Patient", "y", 1);
  Put(*store, "Group", "x", 1);
  Put(*store, "Patient", "gone", 1);
  Put(*store, "Patient", "gone", 2, {}, /*deleted=*/true);
  // Observation/a and Condition/a share an id; so do Patient/x and Group/x.
  Put(*store, "Observation", "a", 1, refs({Ref("subject", "Patient", "x")}));
  Put(*store, "Condition", "a", 1, refs({Ref("subject", "Patient", "y")}));
  Put(*store, "Observation", "b", 1, refs({Ref("subject", "Group", "x")}));
  Put(*store, "Observation", "c", 1, refs({Ref("subject", "Patient", "gone")}));

  auto include = [&](const std::vector<ResourceKey>& from, const IncludeQuery& q) {
    auto found = store->Include(from, q);
    REQUIRE_MESSAGE(found.ok(), found.status().ToString());
    Strings ids;
    for (const StoredVersion& v : *found) ids.push_back(v.type + "/" + v.id);
    return ids;
  };
  IncludeQuery forward;
  forward.source_type = "Observation";
  forward.param = "subject";
  CHECK(include({{"Observation", "a"}}, forward) == Strings{"Patient/x"});
  CHECK(include({{"Condition", "a"}}, forward).empty());
  CHECK(include({{"Observation", "a"}, {"Observation", "b"}, {"Observation", "c"}}, forward) ==
        Strings{"Group/x", "Patient/x"});
  forward.target_type = "Patient";
  CHECK(include({{"Observation", "a"}, {"Observation", "b"}}, forward) == Strings{"Patient/x"});

  IncludeQuery reverse;
  reverse.reverse = true;
  reverse.source_type = "Observation";
  reverse.param = "subject";
  CHECK(include({{"Patient", "x"}}, reverse) == Strings{"Observation/a"});
  CHECK(include({{"Group", "x"}}, reverse) == Strings{"Observation/b"});
  CHECK(include({{"Patient", "y"}}, reverse).empty());
  reverse.source_type = "Condition";
  CHECK(include({{"Patient", "y"}, {"Patient", "x"}}, reverse) == Strings{"Condition/a"});
}

// The query plan SQLite chooses for `sql` (EXPLAIN QUERY PLAN, its steps joined by "; "), read on
// a connection of its own with the store's param_codes view; parameters stay unbound.
std::string QueryPlan(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  REQUIRE(DeclareParamCodes(db).ok());
  sqlite3_stmt* statement = nullptr;
  const std::string explain = "EXPLAIN QUERY PLAN " + sql;
  int rc = sqlite3_prepare_v2(db, explain.c_str(), -1, &statement, nullptr);
  CHECK_MESSAGE(rc == SQLITE_OK, sqlite3_errmsg(db));
  std::string plan;
  while (rc == SQLITE_OK && sqlite3_step(statement) == SQLITE_ROW) {
    plan += reinterpret_cast<const char*>(sqlite3_column_text(statement, 3));
    plan += "; ";
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return plan;
}

// The names of the indexes on idx_reference, sorted.
Strings ReferenceIndexes(const std::string& path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  REQUIRE(DeclareParamCodes(db).ok());
  sqlite3_stmt* statement = nullptr;
  REQUIRE(sqlite3_prepare_v2(db,
                             "SELECT name FROM sqlite_master WHERE type = 'index' AND"
                             " tbl_name = 'idx_reference' ORDER BY name",
                             -1, &statement, nullptr) == SQLITE_OK);
  Strings names;
  while (sqlite3_step(statement) == SQLITE_ROW) {
    names.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(statement, 0)));
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return names;
}

// type?param=value as a reference url (`identifier` false) or :identifier search.
SearchQuery ReferenceQuery(const std::string& type, const std::string& param, bool identifier,
                           const std::string& value, const std::string& system = "") {
  Match m;
  m.kind = identifier ? Match::Kind::kReferenceIdentifier : Match::Kind::kReferenceUrl;
  m.value = value;
  if (!system.empty()) m.system = system;
  return OneMatchQuery(type, param, IndexTable::kReference, std::move(m));
}

TEST_CASE("SqliteStore: reference urls and identifiers are indexed where present, and found") {
  TempDb db;
  const std::string url = "http://other.example/fhir/Patient/9";
  {
    auto store = Open(db.str());
    auto refs = [](std::vector<fhir::search::ReferenceEntry> entries) {
      fhir::search::IndexEntries index;
      index.references = std::move(entries);
      return index;
    };
    Put(*store, "Observation", "by-url", 1, refs({{"subject", "", "", "", url, "", ""}}));
    Put(*store, "Observation", "by-id", 1, refs({Ref("subject", "Patient", "p1")}));
    Put(*store, "Observation", "by-identifier", 1,
        refs({{"subject", "", "", "", "", "urn:ssn", "123-45"}}));
    // Updated away from the url: its row (and its entry in the partial index) goes.
    Put(*store, "Observation", "moved", 1, refs({{"subject", "", "", "", url, "", ""}}));
    Put(*store, "Observation", "moved", 2, refs({Ref("subject", "Patient", "p1")}));
  }
  // A file whose url and identifier indexes cover every row (made before the partial ones)
  // gets the partial indexes at open.
  {
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(db.str().c_str(), &raw) == SQLITE_OK);
    char* error = nullptr;
    int rc = sqlite3_exec(raw,
                          "DROP INDEX idx_reference_url_set;"
                          "DROP INDEX idx_reference_identifier_set;"
                          "CREATE INDEX idx_reference_url ON idx_reference(pid, url);"
                          "CREATE INDEX idx_reference_identifier ON"
                          " idx_reference(pid, identifier_value);",
                          nullptr, nullptr, &error);
    CHECK_MESSAGE(rc == SQLITE_OK, (error != nullptr ? error : ""));
    sqlite3_free(error);
    sqlite3_close(raw);
  }
  CHECK(ReferenceIndexes(db.str()) ==
        Strings{"idx_reference_identifier", "idx_reference_rid", "idx_reference_to",
                "idx_reference_url"});
  auto store = Open(db.str());
  CHECK(ReferenceIndexes(db.str()) ==
        Strings{"idx_reference_identifier_set", "idx_reference_rid", "idx_reference_to",
                "idx_reference_url_set"});

  const SearchQuery by_url = ReferenceQuery("Observation", "subject", false, url);
  CHECK(Ids(Search(*store, by_url, true)) == Strings{"Observation/by-url"});
  CHECK(Search(*store, by_url, true).total == 1);
  const SearchQuery by_identifier =
      ReferenceQuery("Observation", "subject", true, "123-45", "urn:ssn");
  CHECK(Ids(Search(*store, by_identifier, true)) == Strings{"Observation/by-identifier"});
  CHECK(Search(*store, ReferenceQuery("Observation", "subject", true, "123-45", "urn:other"), true)
            .total == 0);
  // An empty value names no url or identifier (every row without one used to match).
  CHECK(Search(*store, ReferenceQuery("Observation", "subject", false, ""), true).total == 0);
  CHECK(Search(*store, ReferenceQuery("Observation", "subject", true, ""), true).total == 0);

  // Both the matches and the total read the partial indexes.
  for (const auto& [query, index] :
       {std::pair{by_url, std::string("idx_reference_url_set")},
        std::pair{by_identifier, std::string("idx_reference_identifier_set")}}) {
    CompiledSearch compiled = Compile(query);
    CHECK(Contains(QueryPlan(db.str(), compiled.count_sql), "USING INDEX " + index));
    CHECK(Contains(QueryPlan(db.str(), "SELECT c.rid FROM current c WHERE " + compiled.where),
                   "USING INDEX " + index));
  }
}

}  // namespace
}  // namespace storage::sqlite
