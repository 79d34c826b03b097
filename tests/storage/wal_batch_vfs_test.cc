#include "storage/sqlite/wal_batch_vfs.h"

#include <cstdint>
#include <filesystem>
#include <string>

#include <doctest/doctest.h>
#include <sqlite3.h>

#include "tests/storage/temp_path.h"

namespace storage::sqlite {
namespace {

using testing::TempPath;

// A connection on `path` through `vfs` (nullptr: the default VFS), in WAL mode with
// `synchronous` (NORMAL, the server's default, or FULL: an fsync of the WAL per commit).
sqlite3* OpenWal(const std::string& path, const char* vfs, const char* synchronous = "NORMAL") {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs) ==
          SQLITE_OK);
  const std::string pragmas =
      std::string("PRAGMA journal_mode = WAL; PRAGMA synchronous = ") + synchronous;
  REQUIRE(sqlite3_exec(db, pragmas.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  return db;
}

std::int64_t Count(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  const std::int64_t n = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  return n;
}

std::string Text(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  std::string text(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
  sqlite3_finalize(stmt);
  return text;
}

// Commits of every size through `vfs` (one frame; 700 KiB, past the default VFS's 128 KiB per
// write; 6 MiB, past the 4 MiB written mid-transaction and past the 2 MiB page cache, which
// spills frames to the WAL and reads them back), a rolled back one after each, each seen at once
// by a reader on the default VFS, which checks the file's integrity while the writer still holds
// it open (nothing checkpointed: everything is read from the WAL).
void CheckCommitsOfEverySize(const char* vfs, const char* synchronous) {
  TempPath path;
  sqlite3* writer = OpenWal(path.str(), vfs, synchronous);
  REQUIRE(sqlite3_exec(writer, "PRAGMA wal_autocheckpoint = 0; CREATE TABLE t(n, pad)", nullptr,
                       nullptr, nullptr) == SQLITE_OK);
  sqlite3* reader = OpenWal(path.str(), nullptr);
  std::int64_t rows = 0;
  for (const int size : {1, 700, 1, 6000}) {  // KiB per transaction, in 1 KiB rows
    CAPTURE(size);
    REQUIRE(sqlite3_exec(writer, "BEGIN", nullptr, nullptr, nullptr) == SQLITE_OK);
    const std::string insert =
        "WITH RECURSIVE s(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM s WHERE v < " +
        std::to_string(size) + ") INSERT INTO t SELECT v, randomblob(1000) FROM s";
    REQUIRE(sqlite3_exec(writer, insert.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_exec(writer, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
    rows += size;
    CHECK(Count(reader, "SELECT count(*) FROM t") == rows);
    // A rolled back transaction leaves nothing a reader could see.
    REQUIRE(sqlite3_exec(writer, "BEGIN; INSERT INTO t VALUES(-1, randomblob(5000)); ROLLBACK",
                         nullptr, nullptr, nullptr) == SQLITE_OK);
    CHECK(Count(reader, "SELECT count(*) FROM t WHERE n = -1") == 0);
  }
  CHECK(Text(reader, "PRAGMA integrity_check") == "ok");
  CHECK(std::filesystem::file_size(path.str() + "-wal") > 6'000'000);
  // Reopened by the default VFS after the writer is gone, everything is there.
  sqlite3_close(writer);
  sqlite3_close(reader);
  sqlite3* again = OpenWal(path.str(), nullptr);
  CHECK(Count(again, "SELECT count(*) FROM t") == rows);
  CHECK(Text(again, "PRAGMA integrity_check") == "ok");
  sqlite3_close(again);
}

TEST_CASE("WalBatchVfs: a commit's frames are in the WAL when COMMIT returns, at any size") {
  const char* vfs = WalBatchVfs();
  REQUIRE(vfs != nullptr);  // Debian 12's SQLite 3.40 is among the versions it knows
  CHECK(std::string(vfs) == "fhir-wal-batch");
  CHECK(WalBatchVfs() == vfs);  // registered once
  SUBCASE("synchronous=NORMAL, the server's default") { CheckCommitsOfEverySize(vfs, "NORMAL"); }
  SUBCASE("synchronous=FULL (--sync full): an fsync of the WAL per commit") {
    CheckCommitsOfEverySize(vfs, "FULL");
  }
}

}  // namespace
}  // namespace storage::sqlite
