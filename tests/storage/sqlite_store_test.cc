#include "storage/sqlite/sqlite_store.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <doctest/doctest.h>
#include <sqlite3.h>

#include "fhir/base/status.h"
#include "fhir/search/normalize.h"
#include "storage/store.h"
#include "tests/storage/temp_path.h"

namespace storage::sqlite {
namespace {

using fhir::IssueType;

using testing::TempPath;

std::unique_ptr<Store> Open(const SqliteOptions& options) {
  auto store = OpenSqliteStore(options);
  REQUIRE_MESSAGE(store.ok(), store.status().ToString());
  return std::move(store).value();
}

std::unique_ptr<Store> Open(const std::string& path, int readers = 4,
                            SqliteOptions::Sync sync = SqliteOptions::Sync::kNormal) {
  SqliteOptions options;
  options.path = path;
  options.readers = readers;
  options.sync = sync;
  return Open(options);
}

// 2024-01-01T00:00:0s.000Z; instants of one test differ by whole seconds.
std::string Instant(int second) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "2024-01-01T00:%02d:%02d.000Z", second / 60, second % 60);
  return buffer;
}

std::string Json(const std::string& type, const std::string& id, std::int64_t version) {
  return R"({"resourceType":")" + type + R"(","id":")" + id + R"(","meta":{"versionId":")" +
         std::to_string(version) + R"("}})";
}

StoredVersion Version(const std::string& type, const std::string& id, std::int64_t version,
                      int second, bool deleted = false) {
  StoredVersion v;
  v.type = type;
  v.id = id;
  v.version = version;
  v.last_updated = Instant(second);
  v.deleted = deleted;
  v.json = deleted ? "" : Json(type, id, version);
  return v;
}

fhir::search::TokenEntry Tok(const std::string& param, const std::string& system,
                            const std::string& value) {
  return fhir::search::TokenEntry{param, system, value, "", "", ""};
}

fhir::search::TokenEntry Identifier(const std::string& system, const std::string& value) {
  return Tok("identifier", system, value);
}

fhir::search::IndexEntries Ix(std::vector<fhir::search::TokenEntry> tokens) {
  fhir::search::IndexEntries index;
  index.tokens = std::move(tokens);
  return index;
}

// Builders for the queries (designated initializers would leave members uninitialized in the
// eyes of -Wmissing-field-initializers).
struct Q : SearchQuery {
  explicit Q(std::string resource_type) { type = std::move(resource_type); }
  Q& AnyId(const std::vector<std::string>& values) {
    Criterion c;
    c.param = "_id";
    for (const std::string& value : values) {
      Match m;
      m.kind = Match::Kind::kId;
      m.value = value;
      c.any.push_back(std::move(m));
    }
    criteria.push_back(std::move(c));
    return *this;
  }
  // Each token a criterion of its own (AND); an empty system matches any system.
  Q& Tokens(const std::vector<fhir::search::TokenEntry>& values) {
    for (const auto& token : values) {
      Criterion c;
      c.table = IndexTable::kToken;
      c.param = token.param;
      Match m;
      m.kind = Match::Kind::kToken;
      if (!token.system.empty()) m.system = token.system;
      m.value = token.code;
      c.any.push_back(std::move(m));
      criteria.push_back(std::move(c));
    }
    return *this;
  }
  Q& LastUpdated(Prefix prefix, const std::string& instant) {
    Criterion c;
    c.table = IndexTable::kDate;
    c.param = "_lastUpdated";
    Match m;
    m.kind = Match::Kind::kRange;
    m.prefix = prefix;
    m.is_time = true;
    auto range = fhir::search::DateRange(instant);
    REQUIRE(range.has_value());
    m.time_low = range->low;
    m.time_high = range->high;
    c.any.push_back(std::move(m));
    criteria.push_back(std::move(c));
    return *this;
  }
  Q& Ge(const std::string& instant) { return LastUpdated(Prefix::kGe, instant); }
  Q& Lt(const std::string& instant) { return LastUpdated(Prefix::kLt, instant); }
  Q& Limit(int n) {
    limit = n;
    return *this;
  }
};

struct H : HistoryQuery {
  H& Type(std::string resource_type) {
    type = std::move(resource_type);
    return *this;
  }
  H& Id(std::string resource_id) {
    id = std::move(resource_id);
    return *this;
  }
  H& Since(std::string instant) {
    since = std::move(instant);
    return *this;
  }
  H& At(std::string instant) {
    at = std::move(instant);
    return *this;
  }
  H& Before(std::int64_t sequence) {
    before_sequence = sequence;
    return *this;
  }
  H& Count(int n) {
    count = n;
    return *this;
  }
};

SqliteOptions OptionsFor(const std::string& path) {
  SqliteOptions options;
  options.path = path;
  return options;
}

// Puts `v` in a transaction of its own; returns its sequence.
std::int64_t PutOne(Store& store, StoredVersion v,
                    std::vector<fhir::search::TokenEntry> tokens = {}) {
  auto transaction = store.BeginWrite();
  REQUIRE_MESSAGE(transaction.ok(), transaction.status().ToString());
  fhir::Status put = (*transaction)->Put(v, Ix(std::move(tokens)));
  REQUIRE_MESSAGE(put.ok(), put.ToString());
  fhir::Status commit = (*transaction)->Commit();
  REQUIRE_MESSAGE(commit.ok(), commit.ToString());
  return v.sequence;
}

std::vector<std::int64_t> Sequences(const HistoryPage& page) {
  std::vector<std::int64_t> out;
  for (const StoredVersion& v : page.versions) out.push_back(v.sequence);
  return out;
}

HistoryPage History(Store& store, HistoryQuery query) {
  auto page = store.History(query);
  REQUIRE_MESSAGE(page.ok(), page.status().ToString());
  return std::move(page).value();
}

std::vector<std::string> IdsOf(const fhir::Result<SearchPage>& page) {
  REQUIRE_MESSAGE(page.ok(), page.status().ToString());
  std::vector<std::string> ids;
  for (const StoredVersion& v : page->versions) ids.push_back(v.id);
  return ids;
}

std::vector<std::string> Find(Store& store, const SearchQuery& query) {
  return IdsOf(store.Search(query, false));
}

using Ids = std::vector<std::string>;
using Seqs = std::vector<std::int64_t>;

TEST_CASE("SqliteStore creates the file, then creates, reads and updates versions") {
  TempPath path;
  auto store = Open(path.str());
  CHECK(std::filesystem::exists(path.str()));

  auto missing = store->ReadCurrent("Patient", "a");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().type() == IssueType::kNotFound);
  CHECK(missing.status().diagnostics() == "Patient/a is not known");

  StoredVersion v1 = Version("Patient", "a", 1, 1);
  v1.json = "{\"resourceType\":\"Patient\",\"id\":\"a\",\"name\":[{\"family\":\"Müller\"}]}";
  CHECK(PutOne(*store, v1) == 1);

  auto current = store->ReadCurrent("Patient", "a");
  REQUIRE(current.ok());
  CHECK(current->type == "Patient");
  CHECK(current->id == "a");
  CHECK(current->version == 1);
  CHECK(current->last_updated == "2024-01-01T00:00:01.000Z");
  CHECK_FALSE(current->deleted);
  CHECK(current->json == v1.json);
  CHECK(current->sequence == 1);

  CHECK(PutOne(*store, Version("Patient", "a", 2, 2)) == 2);
  current = store->ReadCurrent("Patient", "a");
  REQUIRE(current.ok());
  CHECK(current->version == 2);
  CHECK(current->last_updated == "2024-01-01T00:00:02.000Z");
  CHECK(current->json == Json("Patient", "a", 2));
  CHECK(current->sequence == 2);

  auto first = store->ReadVersion("Patient", "a", 1);
  REQUIRE(first.ok());
  CHECK(first->version == 1);
  CHECK(first->json == v1.json);
  CHECK(first->sequence == 1);
  CHECK(first->last_updated == "2024-01-01T00:00:01.000Z");
  auto second = store->ReadVersion("Patient", "a", 2);
  REQUIRE(second.ok());
  CHECK(second->version == 2);
  CHECK(second->json == Json("Patient", "a", 2));
  CHECK(second->sequence == 2);

  auto third = store->ReadVersion("Patient", "a", 3);
  REQUIRE_FALSE(third.ok());
  CHECK(third.status().type() == IssueType::kNotFound);
  CHECK(third.status().diagnostics() == "Patient/a/_history/3 is not known");
  auto other_type = store->ReadVersion("Observation", "a", 1);
  REQUIRE_FALSE(other_type.ok());
  CHECK(other_type.status().type() == IssueType::kNotFound);
}

TEST_CASE("SqliteStore: a Put with a stale or skipped version is a conflict and stores nothing") {
  TempPath path;
  auto store = Open(path.str());
  PutOne(*store, Version("Patient", "a", 1, 1));

  auto transaction = store->BeginWrite();
  REQUIRE(transaction.ok());
  StoredVersion stale = Version("Patient", "a", 1, 2);
  fhir::Status status = (*transaction)->Put(stale, {});
  CHECK(status.type() == IssueType::kConflict);
  CHECK(status.diagnostics() ==
        "Patient/a: version 1 is not the next version (the current version is 1)");
  CHECK(stale.sequence == 0);
  StoredVersion skipped = Version("Patient", "a", 3, 2);
  CHECK((*transaction)->Put(skipped, {}).type() == IssueType::kConflict);
  StoredVersion new_at_two = Version("Patient", "b", 2, 2);
  status = (*transaction)->Put(new_at_two, {});
  CHECK(status.type() == IssueType::kConflict);
  CHECK(status.diagnostics() ==
        "Patient/b: version 2 is not the next version (the current version is 0)");
  StoredVersion new_at_zero = Version("Patient", "b", 0, 2);
  CHECK((*transaction)->Put(new_at_zero, {}).type() == IssueType::kConflict);
  // The conflicts leave the transaction usable.
  CHECK((*transaction)->Commit().ok());

  auto current = store->ReadCurrent("Patient", "a");
  REQUIRE(current.ok());
  CHECK(current->version == 1);
  CHECK(current->json == Json("Patient", "a", 1));
  CHECK(store->ReadVersion("Patient", "a", 3).status().type() == IssueType::kNotFound);
  CHECK(store->ReadCurrent("Patient", "b").status().type() == IssueType::kNotFound);
  HistoryPage all = History(*store, {});
  CHECK(all.total == 1);
  CHECK(Sequences(all) == Seqs{1});

  // No sequence was used up by the conflicts.
  CHECK(PutOne(*store, Version("Patient", "a", 2, 3)) == 2);
}

TEST_CASE("SqliteStore: a Put needs a type and an id") {
  TempPath path;
  auto store = Open(path.str());
  auto transaction = store->BeginWrite();
  REQUIRE(transaction.ok());
  StoredVersion no_id = Version("Patient", "", 1, 1);
  CHECK((*transaction)->Put(no_id, {}).type() == IssueType::kValue);
  StoredVersion no_type = Version("", "a", 1, 1);
  CHECK((*transaction)->Put(no_type, {}).type() == IssueType::kValue);
}

TEST_CASE("SqliteStore: a delete is a version without content; a later Put recreates") {
  TempPath path;
  auto store = Open(path.str());
  PutOne(*store, Version("Patient", "a", 1, 1), {Identifier("sysA", "1")});
  CHECK(PutOne(*store, Version("Patient", "a", 2, 2, /*deleted=*/true),
               {Identifier("sysA", "1")}) == 2);

  auto current = store->ReadCurrent("Patient", "a");
  REQUIRE(current.ok());
  CHECK(current->version == 2);
  CHECK(current->deleted);
  CHECK(current->json == "");
  CHECK(current->sequence == 2);
  CHECK(current->last_updated == "2024-01-01T00:00:02.000Z");
  auto first = store->ReadVersion("Patient", "a", 1);
  REQUIRE(first.ok());
  CHECK_FALSE(first->deleted);
  CHECK(first->json == Json("Patient", "a", 1));
  auto marker = store->ReadVersion("Patient", "a", 2);
  REQUIRE(marker.ok());
  CHECK(marker->deleted);
  CHECK(marker->json == "");

  // Deleted resources are not found, and the delete dropped the tokens.
  CHECK(Find(*store, Q("Patient")).empty());
  CHECK(Find(*store, Q("Patient").AnyId({"a"})).empty());
  CHECK(Find(*store, Q("Patient").Tokens({Identifier("sysA", "1")})).empty());

  CHECK(PutOne(*store, Version("Patient", "a", 3, 3), {Identifier("sysA", "3")}) == 3);
  current = store->ReadCurrent("Patient", "a");
  REQUIRE(current.ok());
  CHECK(current->version == 3);
  CHECK_FALSE(current->deleted);
  CHECK(Find(*store, Q("Patient").Tokens({Identifier("sysA", "3")})) == Ids{"a"});
  CHECK(Find(*store, Q("Patient").Tokens({Identifier("sysA", "1")})).empty());
}

TEST_CASE("SqliteStore: a WriteTransaction destroyed without Commit rolls back") {
  TempPath path;
  auto store = Open(path.str());
  {
    auto transaction = store->BeginWrite();
    REQUIRE(transaction.ok());
    StoredVersion v = Version("Patient", "a", 1, 1);
    REQUIRE((*transaction)->Put(v, Ix({Identifier("sysA", "1")})).ok());
    CHECK(v.sequence == 1);
    auto inside = (*transaction)->ReadCurrent("Patient", "a");
    REQUIRE(inside.ok());
    CHECK(inside->version == 1);
  }
  CHECK(store->ReadCurrent("Patient", "a").status().type() == IssueType::kNotFound);
  CHECK(store->ReadVersion("Patient", "a", 1).status().type() == IssueType::kNotFound);
  CHECK(Find(*store, Q("Patient").Tokens({Identifier("sysA", "1")})).empty());
  HistoryPage all = History(*store, {});
  CHECK(all.total == 0);
  CHECK(all.versions.empty());

  // The write gate was released, and the rolled-back insert used up no sequence.
  CHECK(PutOne(*store, Version("Patient", "a", 1, 2)) == 1);
  CHECK(store->ReadCurrent("Patient", "a")->last_updated == "2024-01-01T00:00:02.000Z");
}

TEST_CASE("SqliteStore: the Puts of one transaction become visible together at Commit") {
  TempPath path;
  auto store = Open(path.str());
  auto transaction = store->BeginWrite();
  REQUIRE(transaction.ok());
  StoredVersion a = Version("Patient", "a", 1, 1);
  StoredVersion b = Version("Patient", "b", 1, 1);
  StoredVersion c = Version("Observation", "c", 1, 1);
  REQUIRE((*transaction)->Put(a, Ix({Identifier("sysA", "1")})).ok());
  REQUIRE((*transaction)->Put(b, {}).ok());
  REQUIRE((*transaction)->Put(c, {}).ok());
  CHECK(a.sequence == 1);
  CHECK(b.sequence == 2);
  CHECK(c.sequence == 3);

  CHECK(store->ReadCurrent("Patient", "a").status().type() == IssueType::kNotFound);
  CHECK(store->ReadCurrent("Patient", "b").status().type() == IssueType::kNotFound);
  CHECK(store->ReadCurrent("Observation", "c").status().type() == IssueType::kNotFound);
  CHECK(History(*store, {}).total == 0);
  CHECK(Find(*store, Q("Patient")).empty());
  CHECK(IdsOf((*transaction)->Search(Q("Patient"), false)) == Ids{"a", "b"});

  REQUIRE((*transaction)->Commit().ok());
  CHECK(store->ReadCurrent("Patient", "a")->sequence == 1);
  CHECK(store->ReadCurrent("Patient", "b")->sequence == 2);
  CHECK(store->ReadCurrent("Observation", "c")->sequence == 3);
  CHECK(Find(*store, Q("Patient")) == Ids{"a", "b"});
  HistoryPage all = History(*store, {});
  CHECK(all.total == 3);
  CHECK(Sequences(all) == Seqs{3, 2, 1});

  // The transaction is spent.
  fhir::Status again = (*transaction)->Commit();
  CHECK(again.type() == IssueType::kException);
  CHECK(again.diagnostics() == "the write transaction has already ended");
  StoredVersion late = Version("Patient", "a", 2, 2);
  CHECK((*transaction)->Put(late, {}).type() == IssueType::kException);
  CHECK((*transaction)->ReadCurrent("Patient", "a").status().type() == IssueType::kException);
  CHECK(store->ReadCurrent("Patient", "a")->version == 1);
}

TEST_CASE("SqliteStore: readers see the last committed state while a write is open") {
  TempPath path;
  auto store = Open(path.str());
  PutOne(*store, Version("Patient", "a", 1, 1), {Identifier("sysA", "1")});

  auto transaction = store->BeginWrite();
  REQUIRE(transaction.ok());
  StoredVersion v2 = Version("Patient", "a", 2, 2);
  REQUIRE((*transaction)->Put(v2, Ix({Identifier("sysA", "2")})).ok());

  auto outside = store->ReadCurrent("Patient", "a");
  REQUIRE(outside.ok());
  CHECK(outside->version == 1);
  CHECK(outside->json == Json("Patient", "a", 1));
  CHECK(Find(*store, Q("Patient").Tokens({Identifier("sysA", "1")})) == Ids{"a"});
  CHECK(Find(*store, Q("Patient").Tokens({Identifier("sysA", "2")})).empty());
  CHECK(History(*store, H().Type("Patient").Id("a")).total == 1);

  auto inside = (*transaction)->ReadCurrent("Patient", "a");
  REQUIRE(inside.ok());
  CHECK(inside->version == 2);
  CHECK(IdsOf((*transaction)->Search(Q("Patient").Tokens({Identifier("sysA", "2")}), false)) ==
        Ids{"a"});

  REQUIRE((*transaction)->Commit().ok());
  auto after = store->ReadCurrent("Patient", "a");
  REQUIRE(after.ok());
  CHECK(after->version == 2);
  CHECK(after->json == Json("Patient", "a", 2));
  CHECK(Find(*store, Q("Patient").Tokens({Identifier("sysA", "1")})).empty());
  CHECK(Find(*store, Q("Patient").Tokens({Identifier("sysA", "2")})) == Ids{"a"});
}

TEST_CASE("SqliteStore: BeginWrite waits until the open transaction ends") {
  TempPath path;
  auto store = Open(path.str());
  auto first = store->BeginWrite();
  REQUIRE(first.ok());
  std::atomic<bool> second_began{false};
  std::thread other([&] {
    auto second = store->BeginWrite();
    second_began = true;
    if (second.ok()) {
      StoredVersion v = Version("Patient", "a", 2, 2);
      (void)(*second)->Put(v, {});
      (void)(*second)->Commit();
    }
  });
  StoredVersion v1 = Version("Patient", "a", 1, 1);
  REQUIRE((*first)->Put(v1, {}).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK_FALSE(second_began.load());
  REQUIRE((*first)->Commit().ok());
  other.join();
  CHECK(second_began.load());
  CHECK(store->ReadCurrent("Patient", "a")->version == 2);
}

// seq 1 Patient/a v1 @1; 2 Patient/b v1 @2; 3 Observation/o v1 @3; 4 Patient/a v2 @4;
// 5 Patient/b v2 deleted @5; 6 Patient/a v3 @6.
void WriteHistory(Store& store) {
  REQUIRE(PutOne(store, Version("Patient", "a", 1, 1)) == 1);
  REQUIRE(PutOne(store, Version("Patient", "b", 1, 2)) == 2);
  REQUIRE(PutOne(store, Version("Observation", "o", 1, 3)) == 3);
  REQUIRE(PutOne(store, Version("Patient", "a", 2, 4)) == 4);
  REQUIRE(PutOne(store, Version("Patient", "b", 2, 5, /*deleted=*/true)) == 5);
  REQUIRE(PutOne(store, Version("Patient", "a", 3, 6)) == 6);
}

TEST_CASE("SqliteStore: instance, type and system history, newest first") {
  TempPath path;
  auto store = Open(path.str());
  WriteHistory(*store);

  HistoryPage instance = History(*store, H().Type("Patient").Id("a"));
  CHECK(Sequences(instance) == Seqs{6, 4, 1});
  CHECK(instance.total == 3);
  CHECK_FALSE(instance.more);
  REQUIRE(instance.versions.size() == 3);
  CHECK(instance.versions[0].version == 3);
  CHECK(instance.versions[1].version == 2);
  CHECK(instance.versions[2].version == 1);
  CHECK(instance.versions[2].json == Json("Patient", "a", 1));
  CHECK(instance.versions[2].last_updated == "2024-01-01T00:00:01.000Z");

  HistoryPage type = History(*store, H().Type("Patient"));
  CHECK(Sequences(type) == Seqs{6, 5, 4, 2, 1});
  CHECK(type.total == 5);
  CHECK_FALSE(type.more);
  REQUIRE(type.versions.size() == 5);
  CHECK(type.versions[1].deleted);
  CHECK(type.versions[1].id == "b");
  CHECK(type.versions[1].json == "");

  HistoryPage observations = History(*store, H().Type("Observation"));
  CHECK(Sequences(observations) == Seqs{3});
  CHECK(observations.total == 1);

  HistoryPage system = History(*store, {});
  CHECK(Sequences(system) == Seqs{6, 5, 4, 3, 2, 1});
  CHECK(system.total == 6);
  CHECK_FALSE(system.more);

  HistoryPage unknown = History(*store, H().Type("Patient").Id("zz"));
  CHECK(unknown.versions.empty());
  CHECK(unknown.total == 0);
  CHECK_FALSE(unknown.more);

  auto id_without_type = store->History(H().Id("a"));
  REQUIRE_FALSE(id_without_type.ok());
  CHECK(id_without_type.status().type() == IssueType::kValue);
}

TEST_CASE("SqliteStore: history since an instant") {
  TempPath path;
  auto store = Open(path.str());
  WriteHistory(*store);

  HistoryPage type = History(*store, H().Type("Patient").Since(Instant(4)));
  CHECK(Sequences(type) == Seqs{6, 5, 4});
  CHECK(type.total == 3);
  HistoryPage system = History(*store, H().Since(Instant(3)));
  CHECK(Sequences(system) == Seqs{6, 5, 4, 3});
  CHECK(system.total == 4);
  HistoryPage instance =
      History(*store, H().Type("Patient").Id("a").Since("2024-01-01T00:00:03.999Z"));
  CHECK(Sequences(instance) == Seqs{6, 4});
  CHECK(instance.total == 2);
  HistoryPage none = History(*store, H().Since(Instant(7)));
  CHECK(none.versions.empty());
  CHECK(none.total == 0);
  CHECK_FALSE(none.more);
}

TEST_CASE("SqliteStore: history at an instant gives each resource's version of that time") {
  TempPath path;
  auto store = Open(path.str());
  WriteHistory(*store);

  HistoryPage system = History(*store, H().At(Instant(4)));
  CHECK(Sequences(system) == Seqs{4, 3, 2});  // a v2, o v1, b v1
  CHECK(system.total == 3);
  CHECK_FALSE(system.more);

  // The delete marker is the version current at @5.
  HistoryPage type = History(*store, H().Type("Patient").At(Instant(5)));
  CHECK(Sequences(type) == Seqs{5, 4});
  CHECK(type.total == 2);
  REQUIRE(type.versions.size() == 2);
  CHECK(type.versions[0].deleted);

  CHECK(Sequences(History(*store, H().At(Instant(1)))) == Seqs{1});
  CHECK(Sequences(History(*store, H().At(Instant(6)))) == Seqs{6, 5, 3});
  CHECK(Sequences(History(*store, H().Type("Patient").Id("a").At("2024-01-01T00:00:04.500Z"))) ==
        Seqs{4});
  CHECK(Sequences(History(*store, H().Type("Patient").Id("a").At(Instant(99)))) == Seqs{6});
  HistoryPage before_all = History(*store, H().At(Instant(0)));
  CHECK(before_all.versions.empty());
  CHECK(before_all.total == 0);
  CHECK_FALSE(before_all.more);

  HistoryPage paged = History(*store, H().At(Instant(4)).Count(2));
  CHECK(Sequences(paged) == Seqs{4, 3});
  CHECK(paged.total == 3);
  CHECK(paged.more);
  paged = History(*store, H().At(Instant(4)).Before(3).Count(2));
  CHECK(Sequences(paged) == Seqs{2});
  CHECK(paged.total == 3);
  CHECK_FALSE(paged.more);
}

TEST_CASE("SqliteStore: history pages with the before_sequence cursor") {
  TempPath path;
  auto store = Open(path.str());
  WriteHistory(*store);

  HistoryPage page = History(*store, H().Count(2));
  CHECK(Sequences(page) == Seqs{6, 5});
  CHECK(page.total == 6);
  CHECK(page.more);
  page = History(*store, H().Before(5).Count(2));
  CHECK(Sequences(page) == Seqs{4, 3});
  CHECK(page.total == 6);
  CHECK(page.more);
  page = History(*store, H().Before(3).Count(2));
  CHECK(Sequences(page) == Seqs{2, 1});
  CHECK(page.total == 6);
  CHECK_FALSE(page.more);
  page = History(*store, H().Before(1).Count(2));
  CHECK(page.versions.empty());
  CHECK(page.total == 6);
  CHECK_FALSE(page.more);

  page = History(*store, H().Type("Patient").Count(3));
  CHECK(Sequences(page) == Seqs{6, 5, 4});
  CHECK(page.total == 5);
  CHECK(page.more);
  page = History(*store, H().Type("Patient").Before(4).Count(3));
  CHECK(Sequences(page) == Seqs{2, 1});
  CHECK(page.total == 5);
  CHECK_FALSE(page.more);

  // A page that exactly fits has no successor.
  page = History(*store, H().Type("Patient").Id("a").Count(3));
  CHECK(Sequences(page) == Seqs{6, 4, 1});
  CHECK_FALSE(page.more);

  page = History(*store, H().Type("Patient").Id("a").Since(Instant(2)).Before(6).Count(1));
  CHECK(Sequences(page) == Seqs{4});
  CHECK(page.total == 2);
  CHECK_FALSE(page.more);

  // count 0: only the total.
  page = History(*store, H().Count(0));
  CHECK(page.versions.empty());
  CHECK(page.total == 6);
  CHECK(page.more);
}

// Patient/a @1 identifier sysA|1, sysB|x; Patient/b @2 sysA|2; Patient/c @3 |1 (no system);
// Patient/d @4 sysA|1, deleted @5; Observation/e @6 sysA|1; Patient/f @7 code sysA|1.
void WriteSearchable(Store& store) {
  PutOne(store, Version("Patient", "a", 1, 1), {Identifier("sysA", "1"), Identifier("sysB", "x")});
  PutOne(store, Version("Patient", "b", 1, 2), {Identifier("sysA", "2")});
  PutOne(store, Version("Patient", "c", 1, 3), {Identifier("", "1")});
  PutOne(store, Version("Patient", "d", 1, 4), {Identifier("sysA", "1")});
  PutOne(store, Version("Patient", "d", 2, 5, /*deleted=*/true));
  PutOne(store, Version("Observation", "e", 1, 6), {Identifier("sysA", "1")});
  PutOne(store, Version("Patient", "f", 1, 7), {Tok("code", "sysA", "1")});
}

void CheckSearchable(Store& store) {
  CHECK(Find(store, Q("Patient")) == Ids{"a", "b", "c", "f"});
  CHECK(Find(store, Q("Observation")) == Ids{"e"});
  CHECK(Find(store, Q("Encounter")).empty());

  // _id
  CHECK(Find(store, Q("Patient").AnyId({"c", "a", "zz"})) == Ids{"a", "c"});
  CHECK(Find(store, Q("Patient").AnyId({"d"})).empty());  // deleted
  CHECK(Find(store, Q("Patient").AnyId({"e"})).empty());  // another type

  // system|value
  CHECK(Find(store, Q("Patient").Tokens({Identifier("sysA", "1")})) == Ids{"a"});
  CHECK(Find(store, Q("Patient").Tokens({Identifier("sysB", "x")})) == Ids{"a"});
  CHECK(Find(store, Q("Patient").Tokens({Identifier("sysB", "1")})).empty());
  // value with an empty system: any system, or none
  CHECK(Find(store, Q("Patient").Tokens({Identifier("", "1")})) == Ids{"a", "c"});
  CHECK(Find(store, Q("Observation").Tokens({Identifier("", "1")})) == Ids{"e"});
  // system|: any value of that system
  CHECK(Find(store, Q("Patient").Tokens({Identifier("sysA", "")})) == Ids{"a", "b"});
  CHECK(Find(store, Q("Patient").Tokens({Identifier("sysB", "")})) == Ids{"a"});
  CHECK(Find(store, Q("Patient").Tokens({Identifier("sysC", "")})).empty());
  // the param must match
  CHECK(Find(store, Q("Patient").Tokens({Tok("code", "sysA", "1")})) == Ids{"f"});
  CHECK(Find(store, Q("Patient").Tokens({Tok("code", "sysA", "2")})).empty());
  // AND across tokens
  CHECK(Find(store, Q("Patient").Tokens({Identifier("sysA", "1"), Identifier("sysB", "x")})) ==
        Ids{"a"});
  CHECK(
      Find(store, Q("Patient").Tokens({Identifier("sysA", "2"), Identifier("sysB", "x")})).empty());
  // ids AND tokens
  CHECK(Find(store, Q("Patient").AnyId({"a", "b"}).Tokens({Identifier("sysA", "")})) ==
        Ids{"a", "b"});
  CHECK(Find(store, Q("Patient").AnyId({"b", "c"}).Tokens({Identifier("sysA", "")})) == Ids{"b"});

  // _lastUpdated on the current version
  CHECK(Find(store, Q("Patient").Ge(Instant(2)).Lt(Instant(4))) == Ids{"b", "c"});
  CHECK(Find(store, Q("Patient").Ge(Instant(3))) == Ids{"c", "f"});
  CHECK(Find(store, Q("Patient").Lt(Instant(2))) == Ids{"a"});
  CHECK(Find(store, Q("Patient").Ge(Instant(8))).empty());

  // limit, in id order
  CHECK(Find(store, Q("Patient").Limit(2)) == Ids{"a", "b"});
  CHECK(Find(store, Q("Patient").Limit(10)) == Ids{"a", "b", "c", "f"});
  CHECK(Find(store, Q("Patient").Tokens({Identifier("", "1")}).Limit(1)) == Ids{"a"});
}

TEST_CASE("SqliteStore: Find by ids, tokens and _lastUpdated over current resources") {
  TempPath path;
  auto store = Open(path.str());
  WriteSearchable(*store);
  CheckSearchable(*store);

  // An update replaces the resource's tokens.
  PutOne(*store, Version("Patient", "b", 2, 8), {Identifier("sysA", "3")});
  CHECK(Find(*store, Q("Patient").Tokens({Identifier("sysA", "2")})).empty());
  CHECK(Find(*store, Q("Patient").Tokens({Identifier("sysA", "3")})) == Ids{"b"});
  CHECK(Find(*store, Q("Patient").Ge(Instant(8))) == Ids{"b"});
}

TEST_CASE("SqliteStore: Find with many query shapes (statement cache eviction)") {
  TempPath path;
  auto store = Open(path.str(), /*readers=*/1);
  WriteSearchable(*store);
  for (int n = 1; n <= 150; ++n) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) ids.push_back("x" + std::to_string(i));
    ids.push_back("b");
    REQUIRE(Find(*store, Q("Patient").AnyId(ids)) == Ids{"b"});
  }
  CheckSearchable(*store);
}

TEST_CASE("SqliteStore: everything is found again after reopening the file") {
  TempPath path;
  {
    auto store = Open(path.str());
    WriteSearchable(*store);
  }
  CHECK_FALSE(std::filesystem::exists(path.str() + "-wal"));  // checkpointed on close
  {
    auto store = Open(path.str(), 2, SqliteOptions::Sync::kFull);
    auto a = store->ReadCurrent("Patient", "a");
    REQUIRE(a.ok());
    CHECK(a->version == 1);
    CHECK(a->json == Json("Patient", "a", 1));
    CHECK(a->sequence == 1);
    auto d = store->ReadVersion("Patient", "d", 2);
    REQUIRE(d.ok());
    CHECK(d->deleted);
    CHECK(d->sequence == 5);
    HistoryPage system = History(*store, {});
    CHECK(Sequences(system) == Seqs{7, 6, 5, 4, 3, 2, 1});
    CHECK(system.total == 7);
    CheckSearchable(*store);
    // Sequences continue after the stored ones.
    CHECK(PutOne(*store, Version("Patient", "a", 2, 9), {Identifier("sysA", "9")}) == 8);
  }
  {
    auto store = Open(path.str());
    CHECK(store->ReadCurrent("Patient", "a")->sequence == 8);
    CHECK(Find(*store, Q("Patient").Tokens({Identifier("sysA", "9")})) == Ids{"a"});
    CHECK(History(*store, {}).total == 8);
  }
}

TEST_CASE("SqliteStore: a committed transaction survives kill -9 of the process") {
  TempPath path;
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The child commits one version, leaves a second transaction open and dies without closing
    // anything. No doctest assertions here: exit codes tell the parent what went wrong.
    auto store = OpenSqliteStore(OptionsFor(path.str()));
    if (!store.ok()) _exit(10);
    auto committed = (*store)->BeginWrite();
    if (!committed.ok()) _exit(11);
    StoredVersion v1 = Version("Patient", "a", 1, 1);
    if (!(*committed)->Put(v1, Ix({Identifier("sysA", "1")})).ok()) _exit(12);
    if (!(*committed)->Commit().ok()) _exit(13);
    auto open = (*store)->BeginWrite();
    if (!open.ok()) _exit(14);
    StoredVersion v2 = Version("Patient", "a", 2, 2);
    if (!(*open)->Put(v2, {}).ok()) _exit(15);
    std::raise(SIGKILL);
    _exit(16);
  }
  int wait_status = 0;
  REQUIRE(waitpid(child, &wait_status, 0) == child);
  INFO("child exit code " << (WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1));
  REQUIRE(WIFSIGNALED(wait_status));
  CHECK(WTERMSIG(wait_status) == SIGKILL);
  // Nothing was checkpointed: the commit lives only in the WAL.
  CHECK(std::filesystem::exists(path.str() + "-wal"));

  auto store = Open(path.str());
  auto current = store->ReadCurrent("Patient", "a");
  REQUIRE(current.ok());
  CHECK(current->version == 1);
  CHECK(current->json == Json("Patient", "a", 1));
  CHECK(store->ReadVersion("Patient", "a", 2).status().type() == IssueType::kNotFound);
  CHECK(Find(*store, Q("Patient").Tokens({Identifier("sysA", "1")})) == Ids{"a"});
  CHECK(PutOne(*store, Version("Patient", "a", 2, 3)) == 2);
}

TEST_CASE("SqliteStore: concurrent read-modify-write cycles serialize without lost updates") {
  TempPath path;
  auto store = Open(path.str(), /*readers=*/2);
  PutOne(*store, Version("Patient", "p", 1, 0));

  constexpr int kThreads = 8;
  constexpr int kCycles = 50;
  std::atomic<int> failures{0};
  std::atomic<int> conflicts{0};
  std::atomic<bool> writing{true};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int done = 0; done < kCycles;) {
        auto current = store->ReadCurrent("Patient", "p");
        if (!current.ok()) {
          ++failures;
          return;
        }
        auto transaction = store->BeginWrite();
        if (!transaction.ok()) {
          ++failures;
          return;
        }
        StoredVersion next = Version("Patient", "p", current->version + 1, 1);
        next.json = "{\"thread\":" + std::to_string(t) + ",\"cycle\":" + std::to_string(done) + "}";
        fhir::Status put = (*transaction)->Put(next, Ix({Identifier("sysP", std::to_string(t))}));
        if (!put.ok()) {
          if (put.type() != IssueType::kConflict) {
            ++failures;
            return;
          }
          ++conflicts;
          continue;  // rolled back by the destructor; read again
        }
        if (!(*transaction)->Commit().ok()) {
          ++failures;
          return;
        }
        ++done;
      }
    });
  }
  // Readers alongside: the version they see never goes back.
  std::atomic<int> reader_failures{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      std::int64_t last = 0;
      while (writing) {
        auto current = store->ReadCurrent("Patient", "p");
        auto page = store->History(H().Type("Patient").Id("p").Count(1));
        if (!current.ok() || !page.ok() || current->version < last ||
            page->total < current->version) {
          ++reader_failures;
          return;
        }
        last = current->version;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  writing = false;
  for (std::thread& reader : readers) reader.join();
  MESSAGE("conflicts retried: " << conflicts.load());
  CHECK(failures.load() == 0);
  CHECK(reader_failures.load() == 0);

  auto current = store->ReadCurrent("Patient", "p");
  REQUIRE(current.ok());
  CHECK(current->version == 1 + kThreads * kCycles);
  CHECK(current->version == 401);
  CHECK(current->sequence == 401);
  for (std::int64_t version = 1; version <= 401; ++version) {
    auto v = store->ReadVersion("Patient", "p", version);
    REQUIRE(v.ok());
    CHECK(v->version == version);
  }
  CHECK(store->ReadVersion("Patient", "p", 402).status().type() == IssueType::kNotFound);
  HistoryPage all = History(*store, H().Type("Patient").Id("p").Count(1000));
  CHECK(all.total == 401);
  CHECK_FALSE(all.more);
  REQUIRE(all.versions.size() == 401);
  for (std::size_t i = 0; i < all.versions.size(); ++i) {
    CHECK(all.versions[i].version == static_cast<std::int64_t>(401 - i));
    CHECK(all.versions[i].sequence == static_cast<std::int64_t>(401 - i));
  }
  // The last writer's token is the only one left.
  std::vector<std::string> matches;
  for (int t = 0; t < kThreads; ++t) {
    auto ids = Find(*store, Q("Patient").Tokens({Identifier("sysP", std::to_string(t))}));
    matches.insert(matches.end(), ids.begin(), ids.end());
  }
  CHECK(matches == Ids{"p"});
}

// Group commit: transactions that queue up while one runs share one SQLite transaction; one that
// does not share the group's rollback commits the members before it at its first write. A member
// that rolls back or fails takes only its own rows; every Commit returns after its group's
// COMMIT. 16 threads, each with a mix of committed, rolled back and failed
// transactions, then a reopen: exactly the committed ones are there, with their index rows.
TEST_CASE("SqliteStore: concurrent transactions commit in groups; a member's rollback is its own") {
  TempPath path;
  constexpr int kThreads = 16;
  constexpr int kRounds = 30;
  std::atomic<int> failures{0};
  {
    auto store = Open(path.str(), /*readers=*/2);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kRounds; ++i) {
          const std::string id = "g" + std::to_string(t) + "-" + std::to_string(i);
          auto transaction = store->BeginWrite();
          if (!transaction.ok()) {
            ++failures;
            return;
          }
          StoredVersion v = Version("Patient", id, 1, 1);
          if (!(*transaction)->Put(v, Ix({Identifier("sysG", id)})).ok()) {
            ++failures;
            return;
          }
          if (i % 3 == 1) continue;  // dropped without Commit: rolled back
          if (i % 3 == 2) {
            // A conflicting second Put fails and leaves the first one in place.
            StoredVersion stale = Version("Patient", id, 1, 2);
            if ((*transaction)->Put(stale, Ix({})).type() != IssueType::kConflict) ++failures;
          }
          if (!(*transaction)->Commit().ok()) ++failures;
          // Committed means visible to every reader now.
          auto read = store->ReadCurrent("Patient", id);
          if (!read.ok() || read->version != 1) ++failures;
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
  }
  CHECK(failures.load() == 0);
  auto store = Open(path.str());
  int present = 0;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kRounds; ++i) {
      const std::string id = "g" + std::to_string(t) + "-" + std::to_string(i);
      auto read = store->ReadCurrent("Patient", id);
      const bool committed = i % 3 != 1;
      CAPTURE(id);
      if (committed) {
        REQUIRE(read.ok());
        CHECK(read->version == 1);
        CHECK(Find(*store, Q("Patient").Tokens({Identifier("sysG", id)})) == Ids{id});
        ++present;
      } else {
        CHECK(read.status().type() == IssueType::kNotFound);
        CHECK(Find(*store, Q("Patient").Tokens({Identifier("sysG", id)})).empty());
      }
    }
  }
  CHECK(present == kThreads * 20);
  HistoryPage all = History(*store, H().Type("Patient").Count(1000));
  CHECK(all.total == kThreads * 20);
}

// WriteShared work writes without a rollback point of its own: when it rolls back after writing,
// the group it joined rolls back with it (the first member's Commit fails and nothing of either
// is stored); when it rolls back without having written, the group is untouched. The work joins
// the first transaction's group when it is queued while the first commits; a 50-ms head start
// makes that all but certain, and the attempt is repeated until it happened (each attempt must
// end in one of the two consistent outcomes).
TEST_CASE("SqliteStore: WriteShared work that rolls back after writing takes the group with it") {
  TempPath path;
  auto store = Open(path.str());
  for (const bool second_writes : {true, false}) {
    CAPTURE(second_writes);
    bool shown = false;  // the case this pass is about was seen
    for (int attempt = 0; attempt < 20 && !shown; ++attempt) {
      CAPTURE(attempt);
      const std::string first_id = "first-" + std::to_string(second_writes) + "-" +
                                   std::to_string(attempt);
      const std::string second_id = "second-" + std::to_string(second_writes) + "-" +
                                    std::to_string(attempt);
      auto first = store->BeginWrite();
      REQUIRE(first.ok());
      StoredVersion a = Version("Patient", first_id, 1, 1);
      REQUIRE((*first)->Put(a, Ix({Identifier("sysS", first_id)})).ok());
      std::atomic<bool> second_ran{false};
      fhir::Status second_status;
      std::thread second([&] {
        second_status = store->WriteShared([&](WriteTransaction& transaction) {
          second_ran = true;
          if (second_writes) {
            StoredVersion b = Version("Patient", second_id, 1, 1);
            if (!transaction.Put(b, Ix({Identifier("sysS", second_id)})).ok()) return true;
          }
          return false;  // rolled back
        });
      });
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      fhir::Status committed = (*first)->Commit();
      second.join();
      CHECK(second_ran.load());
      CHECK(second_status.ok());  // it asked for the rollback: nothing failed for it
      CHECK(store->ReadCurrent("Patient", second_id).status().type() == IssueType::kNotFound);
      if (second_writes && !committed.ok()) {
        // One group: the second's rollback took the first's Put with it.
        shown = true;
        CHECK(committed.type() == IssueType::kException);
        CHECK(committed.diagnostics() ==
              "rolled back: a transaction committing with it failed after writing");
        CHECK(store->ReadCurrent("Patient", first_id).status().type() == IssueType::kNotFound);
        CHECK(Find(*store, Q("Patient").Tokens({Identifier("sysS", first_id)})).empty());
      } else {
        // Either no group formed, or the second wrote nothing: the first is stored.
        REQUIRE(committed.ok());
        shown = !second_writes;
        auto read = store->ReadCurrent("Patient", first_id);
        REQUIRE(read.ok());
        CHECK(read->version == 1);
        CHECK(Find(*store, Q("Patient").Tokens({Identifier("sysS", first_id)})) == Ids{first_id});
      }
    }
    CHECK(shown);
  }
  // The store goes on: a write after a failed group commits.
  auto after = store->BeginWrite();
  REQUIRE(after.ok());
  StoredVersion c = Version("Patient", "after", 1, 1);
  REQUIRE((*after)->Put(c, Ix({})).ok());
  REQUIRE((*after)->Commit().ok());
  CHECK(store->ReadCurrent("Patient", "after").ok());
}

// A first version of a resource that exists is found out by the insert of its `current` row,
// which then writes nothing: WriteShared work that rolls back on that conflict leaves the group
// it joined alone (a 50-ms head start puts it in the first transaction's group, as above).
TEST_CASE("SqliteStore: a conflicting first version in WriteShared work does not fail the group") {
  TempPath path;
  auto store = Open(path.str());
  PutOne(*store, Version("Patient", "taken", 1, 1));
  for (int attempt = 0; attempt < 3; ++attempt) {
    CAPTURE(attempt);
    const std::string first_id = "first-" + std::to_string(attempt);
    auto first = store->BeginWrite();
    REQUIRE(first.ok());
    StoredVersion a = Version("Patient", first_id, 1, 2);
    REQUIRE((*first)->Put(a, Ix({})).ok());
    fhir::Status conflict;
    fhir::Status second_status;
    std::thread second([&] {
      second_status = store->WriteShared([&](WriteTransaction& transaction) {
        StoredVersion again = Version("Patient", "taken", 1, 2);
        conflict = transaction.Put(again, Ix({}));
        return conflict.ok();
      });
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    fhir::Status committed = (*first)->Commit();
    second.join();
    CHECK(conflict.type() == IssueType::kConflict);
    CHECK(conflict.diagnostics() ==
          "Patient/taken: version 1 is not the next version (the current version is 1)");
    CHECK(second_status.ok());
    CHECK_MESSAGE(committed.ok(), committed.ToString());
    CHECK(store->ReadCurrent("Patient", first_id).ok());
  }
  auto taken = store->ReadCurrent("Patient", "taken");
  REQUIRE(taken.ok());
  CHECK(taken->json == Json("Patient", "taken", 1));
  CHECK(History(*store, H().Type("Patient").Id("taken")).total == 1);
}

// WriteShared calls from many threads run one after the other on whichever thread holds the
// writer, beside BeginWrite transactions: each call's outcome is its own group's, work that
// returns false without writing leaves the others alone, an exception reaches its caller (and
// its writes, like a rollback, fail its group), Commit inside the work is refused. After a
// reopen exactly the writes whose call returned Ok are there, with their index rows.
TEST_CASE("SqliteStore: WriteShared calls from many threads commit together, each as told") {
  TempPath path;
  constexpr int kThreads = 12;
  constexpr int kRounds = 40;
  std::atomic<int> failures{0};
  std::mutex mu;
  std::set<std::string> stored;  // ids whose call (or Commit) returned Ok after a Put
  {
    auto store = Open(path.str(), /*readers=*/2);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kRounds; ++i) {
          const std::string id = "s" + std::to_string(t) + "-" + std::to_string(i);
          StoredVersion v = Version("Patient", id, 1, 1);
          if (t == 0 && i % 4 == 0) {  // a BeginWrite transaction among them
            auto transaction = store->BeginWrite();
            if (!transaction.ok() || !(*transaction)->Put(v, Ix({Identifier("sysW", id)})).ok()) {
              ++failures;
              continue;
            }
            fhir::Status committed = (*transaction)->Commit();
            std::lock_guard<std::mutex> lock(mu);
            if (committed.ok()) stored.insert(id);
            continue;
          }
          // 0: commits; 3: rolls back before writing; 4: throws after writing (3 calls).
          const int kind = i == kRounds - 1 && t % 4 == 1 ? 4 : i % 5 == 3 ? 3 : 0;
          bool threw = false;
          fhir::Status status;
          try {
            status = store->WriteShared([&](WriteTransaction& transaction) {
              if (kind == 3) return false;
              if (!transaction.Put(v, Ix({Identifier("sysW", id)})).ok()) ++failures;
              if (kind == 4) throw std::runtime_error("work failed: " + id);
              if (transaction.Commit().ok()) ++failures;  // WriteShared commits, not the work
              return true;
            });
          } catch (const std::runtime_error& e) {
            threw = std::string(e.what()) == "work failed: " + id;
            if (!threw) ++failures;
          }
          std::lock_guard<std::mutex> lock(mu);
          if (kind == 4) {
            if (!threw) ++failures;
          } else if (kind == 3) {
            if (!status.ok()) ++failures;
          } else {
            if (status.ok()) stored.insert(id);
            // Committed means visible to every reader now.
            if (status.ok() && !store->ReadCurrent("Patient", id).ok()) ++failures;
          }
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
  }
  CHECK(failures.load() == 0);
  // A throwing call fails its group: the calls committing with it fail, the others do not.
  CHECK(stored.size() >= kThreads * kRounds / 2);
  auto store = Open(path.str());
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kRounds; ++i) {
      const std::string id = "s" + std::to_string(t) + "-" + std::to_string(i);
      CAPTURE(id);
      const bool committed = stored.count(id) > 0;
      CHECK(store->ReadCurrent("Patient", id).ok() == committed);
      CHECK(Find(*store, Q("Patient").Tokens({Identifier("sysW", id)})) ==
            (committed ? Ids{id} : Ids{}));
    }
  }
  HistoryPage all = History(*store, H().Type("Patient").Count(1000));
  CHECK(all.total == static_cast<std::int64_t>(stored.size()));
}

// The gate goes back and forth between the WriteShared queue and BeginWrite transactions (the
// audit log's materializer is one, beside REST writes): a queued call handed the gate while a
// BeginWrite waits leaves it to that transaction before running its own work, and must take the
// gate again when it is handed back (it once waited for its own outcome instead, and every
// writer hung). A watchdog turns a hang into a failure.
TEST_CASE("SqliteStore: WriteShared calls and BeginWrite transactions take turns without a hang") {
  std::atomic<long> progress{0};  // calls and transactions done
  std::atomic<bool> finished{false};
  std::thread watchdog([&] {
    long seen = -1;
    int still = 0;  // 50-ms ticks without progress
    while (!finished) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const long now = progress.load();
      still = now == seen ? still + 1 : 0;
      seen = now;
      if (still == 400 && !finished) {
        std::fprintf(stderr, "WriteShared/BeginWrite: no write done for 20 s: hung\n");
        std::abort();
      }
    }
  });
  constexpr int kShared = 6;
  constexpr int kCalls = 400;
  constexpr int kBegin = 2;
  constexpr int kTransactions = 300;
  // The hang needed a BeginWrite to arrive in the instant between a hand-over and the handed
  // thread's waking: one round in four showed it; eight rounds.
  for (int round = 0; round < 8; ++round) {
    CAPTURE(round);
    TempPath path;
    auto store = Open(path.str(), /*readers=*/2);
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kShared; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kCalls; ++i) {
          StoredVersion v =
              Version("Patient", "ws" + std::to_string(t) + "-" + std::to_string(i), 1, 1);
          fhir::Status status = store->WriteShared(
              [&](WriteTransaction& transaction) { return transaction.Put(v, Ix({})).ok(); });
          if (!status.ok()) ++failures;
          ++progress;
        }
      });
    }
    for (int t = 0; t < kBegin; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kTransactions; ++i) {
          auto transaction = store->BeginWrite();
          ++progress;
          if (!transaction.ok()) {
            ++failures;
            continue;
          }
          if (i % 2 == 0) continue;  // nothing written, rolled back
          StoredVersion v =
              Version("Patient", "bw" + std::to_string(t) + "-" + std::to_string(i), 1, 1);
          if (!(*transaction)->Put(v, Ix({})).ok() || !(*transaction)->Commit().ok()) ++failures;
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    CHECK(failures.load() == 0);
    HistoryPage all = History(*store, H().Type("Patient").Count(10));
    CHECK(all.total == kShared * kCalls + kBegin * kTransactions / 2);
  }
  finished = true;
  watchdog.join();
}

// Reads by id go through the store's cache of current versions: a writer reads its own
// committed version back at once, and readers running beside it never see a version older than
// one they saw before or one whose commit had returned when they asked.
TEST_CASE("SqliteStore: reads by id through the cache see every commit at once") {
  TempPath path;
  auto store = Open(path.str());
  constexpr int kVersions = 300;
  std::atomic<std::int64_t> committed{1};
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  {
    auto first = store->BeginWrite();
    REQUIRE(first.ok());
    StoredVersion v = Version("Patient", "c", 1, 1);
    REQUIRE((*first)->Put(v, Ix({})).ok());
    REQUIRE((*first)->Commit().ok());
  }
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      std::int64_t last = 0;
      while (!done) {
        const std::int64_t floor = std::max(last, committed.load());
        auto read = store->ReadCurrent("Patient", "c");
        if (!read.ok() || read->version < floor ||
            read->json != Json("Patient", "c", read->version)) {
          ++failures;
          return;
        }
        last = read->version;
      }
    });
  }
  for (std::int64_t version = 2; version <= kVersions; ++version) {
    auto transaction = store->BeginWrite();
    REQUIRE(transaction.ok());
    StoredVersion v = Version("Patient", "c", version, 1);
    REQUIRE((*transaction)->Put(v, Ix({})).ok());
    REQUIRE((*transaction)->Commit().ok());
    committed = version;
    auto read = store->ReadCurrent("Patient", "c");
    REQUIRE(read.ok());
    CHECK(read->version == version);
  }
  done = true;
  for (std::thread& reader : readers) reader.join();
  CHECK(failures.load() == 0);
  // A rolled-back write leaves the cached version as it was.
  {
    auto transaction = store->BeginWrite();
    REQUIRE(transaction.ok());
    StoredVersion v = Version("Patient", "c", kVersions + 1, 1);
    REQUIRE((*transaction)->Put(v, Ix({})).ok());
  }
  auto read = store->ReadCurrent("Patient", "c");
  REQUIRE(read.ok());
  CHECK(read->version == kVersions);
}

TEST_CASE("SqliteStore: the journal keeps records in order, across a rollback and a reopen") {
  TempPath path;
  {
    auto store = Open(path.str());
    {
      auto txn = store->BeginWrite();
      REQUIRE(txn.ok());
      auto none = (*txn)->OldestJournal();
      REQUIRE(none.ok());
      CHECK_FALSE(none->has_value());
      REQUIRE((*txn)->AppendJournal("first\nline").ok());
      REQUIRE((*txn)->AppendJournal(std::string("second\0binary", 13)).ok());
      REQUIRE((*txn)->Commit().ok());
    }
    {
      auto txn = store->BeginWrite();
      REQUIRE(txn.ok());
      REQUIRE((*txn)->AppendJournal("rolled back").ok());
      auto oldest = (*txn)->OldestJournal();
      REQUIRE(oldest.ok());
      REQUIRE(oldest->has_value());
      CHECK((*oldest)->data == "first\nline");
      REQUIRE((*txn)->RemoveJournal((*oldest)->seq).ok());
      // dropped without Commit: the removal and the append are undone
    }
  }
  auto store = Open(path.str());
  std::vector<std::string> seen;
  while (true) {
    auto txn = store->BeginWrite();
    REQUIRE(txn.ok());
    auto oldest = (*txn)->OldestJournal();
    REQUIRE(oldest.ok());
    if (!oldest->has_value()) break;
    seen.push_back((*oldest)->data);
    REQUIRE((*txn)->RemoveJournal((*oldest)->seq).ok());
    REQUIRE((*txn)->Commit().ok());
  }
  CHECK(seen == std::vector<std::string>{"first\nline", std::string("second\0binary", 13)});
}

TEST_CASE("OpenSqliteStore reports unusable paths and options as a Status") {
  TempPath path;
  SqliteOptions options;

  options.path =
      (std::filesystem::temp_directory_path() / "fhir-no-such-directory-4f1c" / "store.db")
          .string();
  auto missing_directory = OpenSqliteStore(options);
  REQUIRE_FALSE(missing_directory.ok());
  CHECK(missing_directory.status().type() == IssueType::kException);
  CHECK(missing_directory.status().diagnostics() ==
        "SQLite error while opening '" + options.path +
            "': unable to open database file (code 14)");

  options.path = std::filesystem::temp_directory_path().string();
  auto directory = OpenSqliteStore(options);
  REQUIRE_FALSE(directory.ok());
  CHECK(directory.status().type() == IssueType::kException);

  options.path = "";
  CHECK(OpenSqliteStore(options).status().type() == IssueType::kValue);
  options.path = ":memory:";
  CHECK(OpenSqliteStore(options).status().type() == IssueType::kValue);

  options.path = path.str();
  options.readers = 0;
  auto no_readers = OpenSqliteStore(options);
  REQUIRE_FALSE(no_readers.ok());
  CHECK(no_readers.status().type() == IssueType::kValue);
  CHECK(no_readers.status().diagnostics() == "SqliteOptions.readers must be at least 1");
  CHECK_FALSE(std::filesystem::exists(path.str()));
}

TEST_CASE("OpenSqliteStore refuses a file that is not a database") {
  TempPath path;
  {
    std::ofstream out(path.str(), std::ios::binary);
    for (int i = 0; i < 64; ++i) out << "this is not an SQLite database, just some text\n";
  }
  auto store = OpenSqliteStore(OptionsFor(path.str()));
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().type() == IssueType::kException);
  CHECK(store.status().diagnostics().find("file is not a database") != std::string::npos);
}

TEST_CASE("OpenSqliteStore refuses a database of a newer schema version") {
  TempPath path;
  {
    auto store = Open(path.str());
    PutOne(*store, Version("Patient", "a", 1, 1));
  }
  REQUIRE_FALSE(std::filesystem::exists(path.str() + "-wal"));
  {
    // PRAGMA user_version is the big-endian 32-bit integer at offset 60 of the file header.
    std::fstream file(path.str(), std::ios::binary | std::ios::in | std::ios::out);
    file.seekp(60);
    const char version[4] = {0, 0, 0, 99};
    file.write(version, 4);
  }
  auto store = OpenSqliteStore(OptionsFor(path.str()));
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().type() == IssueType::kException);
  CHECK(store.status().diagnostics() == "the database has schema version 99; this server knows 3");
}

TEST_CASE("SqliteStore: the WAL is checkpointed into the database file while the server runs") {
  TempPath path;
  SqliteOptions options;
  options.path = path.str();
  options.checkpoint_pages = 1000;
  std::unique_ptr<Store> store = Open(options);
  // About 2,000 WAL pages (4 KiB each) of resources: past the 1,000-page checkpoint threshold.
  const std::string padding(8000, 'x');
  for (int i = 0; i < 1000; ++i) {
    StoredVersion v = Version("Patient", "p" + std::to_string(i), 1, 1);
    v.json = R"({"resourceType":"Patient","id":"p)" + std::to_string(i) + R"(","text":")" +
             padding + R"("})";
    PutOne(*store, v);
  }
  // The database file grows as the background checkpointer copies pages into it.
  std::uintmax_t size = 0;
  for (int i = 0; i < 100 && size < 4'000'000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    size = std::filesystem::file_size(path.str());
  }
  CHECK(size >= 4'000'000);
}

// Writes without a pause: the background checkpointer never reaches the WAL's end, so the
// writer restarts the WAL itself past wal_restart_pages, and the file is cut back to that size.
TEST_CASE("SqliteStore: a steady stream of commits keeps the WAL bounded") {
  TempPath path;
  SqliteOptions options;
  options.path = path.str();
  options.wal_restart_pages = 300;
  std::unique_ptr<Store> store = Open(options);
  const std::string padding(8000, 'x');  // 2 to 3 WAL pages a commit
  std::uintmax_t largest = 0;
  for (int i = 0; i < 2000; ++i) {
    StoredVersion v = Version("Patient", "w" + std::to_string(i), 1, 1);
    v.json = R"({"resourceType":"Patient","id":"w)" + std::to_string(i) + R"(","text":")" +
             padding + R"("})";
    PutOne(*store, v);
    largest = std::max(largest, std::filesystem::file_size(path.str() + "-wal"));
  }
  // About 5,000 pages went through the WAL; it never held much more than 300 (4,120 bytes each
  // with its frame header), and everything is there.
  CHECK(largest < 400 * 4120);
  CHECK(largest > 100 * 4120);
  CHECK(std::filesystem::file_size(path.str()) > 16'000'000);
  for (int i = 0; i < 2000; i += 199) {
    auto v = store->ReadCurrent("Patient", "w" + std::to_string(i));
    REQUIRE(v.ok());
    CHECK(v->json.size() > 8000);
  }
  options.wal_restart_pages = 99;
  CHECK(OpenSqliteStore(options).status().type() == IssueType::kValue);
  options.wal_restart_pages = 300;
  options.checkpoint_pages = 0;
  CHECK(OpenSqliteStore(options).status().type() == IssueType::kValue);
}

TEST_CASE("OpenSqliteStore migrates a schema 1 file; Reindex rebuilds the search index") {
  TempPath path;
  {
    // The schema of the first release, with one resource.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.str().c_str(), &db) == SQLITE_OK);
    const char* v1 = R"sql(
      PRAGMA journal_mode = WAL;
      CREATE TABLE versions(seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL,
        id TEXT NOT NULL, version INTEGER NOT NULL, last_updated TEXT NOT NULL,
        deleted INTEGER NOT NULL, json BLOB NOT NULL, UNIQUE(type, id, version));
      CREATE INDEX versions_by_type ON versions(type, seq);
      CREATE TABLE current(type TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL,
        seq INTEGER NOT NULL, last_updated TEXT NOT NULL, deleted INTEGER NOT NULL,
        PRIMARY KEY(type, id)) WITHOUT ROWID;
      CREATE TABLE tokens(type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL,
        system TEXT NOT NULL, value TEXT NOT NULL);
      INSERT INTO versions(type, id, version, last_updated, deleted, json)
        VALUES('Patient', 'a', 1, '2020-01-01T00:00:00.000Z', 0, '{"resourceType":"Patient"}');
      INSERT INTO current VALUES('Patient', 'a', 1, 1, '2020-01-01T00:00:00.000Z', 0);
      INSERT INTO tokens VALUES('Patient', 'a', 'identifier', 'sysA', '1');
      PRAGMA user_version = 1;)sql";
    char* error = nullptr;
    int rc = sqlite3_exec(db, v1, nullptr, nullptr, &error);
    CHECK_MESSAGE(rc == SQLITE_OK, (error != nullptr ? error : ""));
    sqlite3_free(error);
    sqlite3_close(db);
  }
  auto store = Open(path.str());
  auto current = store->ReadCurrent("Patient", "a");
  REQUIRE(current.ok());
  CHECK(current->json == R"({"resourceType":"Patient"})");
  CHECK(current->sequence == 1);
  auto label = store->IndexVersion();
  REQUIRE(label.ok());
  CHECK(*label == "");  // the migration leaves the index to Reindex
  CHECK(Find(*store, Q("Patient").Tokens({Identifier("sysA", "1")})).empty());

  int extracted = 0;
  fhir::Status reindexed = store->Reindex(
      [&](const StoredVersion& v) {
        ++extracted;
        CHECK(v.id == "a");
        return Ix({Identifier("sysA", "1")});
      },
      "test-index-2");
  REQUIRE_MESSAGE(reindexed.ok(), reindexed.ToString());
  CHECK(extracted == 1);
  CHECK(*store->IndexVersion() == "test-index-2");
  CHECK(Find(*store, Q("Patient").Tokens({Identifier("sysA", "1")})) == Ids{"a"});
  // New writes keep working on the migrated file (the next sequence follows the old ones).
  CHECK(PutOne(*store, Version("Patient", "b", 1, 2), {Identifier("sysA", "2")}) == 2);
  CHECK(Find(*store, Q("Patient").Tokens({Identifier("sysA", "")})) == (Ids{"a", "b"}));
}

TEST_CASE("OpenSqliteStore migrates a schema 2 file: versions find their resource by rid") {
  TempPath path;
  {
    auto store = Open(path.str());
    PutOne(*store, Version("Patient", "a", 1, 1));
    PutOne(*store, Version("Patient", "b", 1, 2), {Identifier("sysB", "1")});
    PutOne(*store, Version("Patient", "a", 2, 3));
    PutOne(*store, Version("Patient", "b", 2, 4, /*deleted=*/true));
  }
  {
    // Back to schema 2: versions without their rid.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.str().c_str(), &db) == SQLITE_OK);
    char* error = nullptr;
    int rc = sqlite3_exec(db,
                          "DROP INDEX versions_by_rid; ALTER TABLE versions DROP COLUMN rid;"
                          " PRAGMA user_version = 2;",
                          nullptr, nullptr, &error);
    CHECK_MESSAGE(rc == SQLITE_OK, (error != nullptr ? error : ""));
    sqlite3_free(error);
    sqlite3_close(db);
  }
  auto store = Open(path.str());
  auto a1 = store->ReadVersion("Patient", "a", 1);
  REQUIRE(a1.ok());
  CHECK(a1->json == Json("Patient", "a", 1));
  auto b2 = store->ReadVersion("Patient", "b", 2);
  REQUIRE(b2.ok());
  CHECK(b2->deleted);
  CHECK(store->ReadVersion("Patient", "a", 3).status().type() == IssueType::kNotFound);
  CHECK(Sequences(History(*store, H().Type("Patient").Id("a"))) == std::vector<std::int64_t>{3, 1});
  CHECK(Sequences(History(*store, H().Type("Patient").Id("b"))) == std::vector<std::int64_t>{4, 2});
  // As of second 2, a was at version 1 and b at version 1.
  CHECK(Sequences(History(*store, H().Type("Patient").At(Instant(2)))) ==
        std::vector<std::int64_t>{2, 1});
  // Writes go on: the next version of a, and b again after its deletion.
  CHECK(PutOne(*store, Version("Patient", "a", 3, 5)) == 5);
  CHECK(PutOne(*store, Version("Patient", "b", 3, 6), {Identifier("sysB", "2")}) == 6);
  CHECK(Sequences(History(*store, H().Type("Patient").Id("a"))) ==
        std::vector<std::int64_t>{5, 3, 1});
  auto a3 = store->ReadVersion("Patient", "a", 3);
  REQUIRE(a3.ok());
  CHECK(a3->json == Json("Patient", "a", 3));
  CHECK(Find(*store, Q("Patient").Tokens({Identifier("sysB", "2")})) == Ids{"b"});
}

}  // namespace
}  // namespace storage::sqlite
