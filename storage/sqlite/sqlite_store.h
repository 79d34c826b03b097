#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "fhir/base/status.h"
#include "storage/store.h"

namespace storage::sqlite {

struct SqliteOptions {
  // The database file; created (with its schema) if missing. Must name a file on a local file
  // system: WAL mode needs shared memory between the connections, so ":memory:", an empty path
  // and network file systems are not supported. The `-wal` and `-shm` files live beside it.
  std::string path;

  // What a committed transaction survives (https://www.sqlite.org/pragma.html#pragma_synchronous,
  // https://www.sqlite.org/wal.html):
  //   kNormal  synchronous=NORMAL: the WAL is synced only at checkpoints. A committed transaction
  //            survives a crash or kill -9 of the process, but the last transactions before an
  //            OS crash or power loss may be lost (the database itself stays consistent).
  //   kFull    synchronous=FULL: the WAL is synced at every commit, so a committed transaction
  //            also survives an OS crash or power loss. Slower commits.
  enum class Sync { kNormal, kFull };
  Sync sync = Sync::kNormal;

  // Reader connections, used by Store::ReadCurrent/ReadVersion/History/Find; a call blocks until
  // one is free. Must be >= 1.
  int readers = 4;

  // WAL pages (4 KiB) past which the writer, after a commit, copies the rest of the WAL into the
  // database and starts the WAL over (a RESTART checkpoint that does not wait for readers; it
  // tries again after the next commit if one is in the way). The background checkpointer alone
  // never reaches the end of a WAL that writes keep extending, and the WAL grew without bound
  // under a steady load (18 GB in a reindex of 1M resources). After a restart the file is cut
  // back to this size (journal_size_limit). Must be >= 100.
  int wal_restart_pages = 40'000;

  // WAL pages written since the last checkpoint after which a commit wakes the background
  // checkpointer, which copies the WAL into the database file without blocking anyone. A page
  // changed by many commits in between is copied once, so a larger value writes less (1,000,
  // SQLite's default, cost 4% of create throughput against 8,000; 8,000 with restarts at 20,000
  // about 5% against 16,000 and 40,000). Must be >= 1.
  int checkpoint_pages = 16'000;

  // Bytes of JSON of current versions kept in memory for reads by id (storage/current_cache.h);
  // 0 turns the cache off. The store must be the only writer of its file (as the server is).
  std::size_t cache_bytes = 64 << 20;
};

// Opens (creating the file and schema if missing) the SQLite store at `options.path`.
//
// The database runs in WAL mode: readers never block the writer and see the state of the last
// commit before their statement started. One writer connection serves the write transactions,
// one at a time (Store::BeginWrite blocks until the previous transaction ends; each runs as
// BEGIN IMMEDIATE ... COMMIT, so another process writing the same file waits too, up to a busy
// timeout of a few seconds). The schema is versioned with PRAGMA user_version; a file written by
// a newer schema, or that is not a database, is refused.
//
// Every failure is a Status: kValue for unusable options, kException (with SQLite's message) for
// a file that cannot be opened or any other SQLite error, kConflict for a Put whose version is not
// the current version + 1, kNotFound for a read of something that does not exist.
//
// The returned Store is thread-safe. REQUIRES: every WriteTransaction is destroyed before the
// Store; a thread that holds a WriteTransaction must not call BeginWrite again (it would wait for
// itself).
fhir::Result<std::unique_ptr<storage::Store>> OpenSqliteStore(const SqliteOptions& options);

}  // namespace storage::sqlite
