#pragma once

// A VFS over SQLite's default one that writes a transaction's WAL frames with one call.
//
// SQLite writes each WAL frame as two writes, its 24-byte header and its page, at commit: a
// create's ~12 frames were ~24 pwrite calls, each crossing two file pages of the page cache (a
// frame is 4,120 bytes), 11% of the CPU of a create load, all of it inside the write gate. Here
// the frames a connection writes one after the other are gathered in memory and written with
// one call when the commit frame's page arrives (its header carries the database size, which
// only a commit frame has), before SQLite makes the commit visible to readers in the WAL index:
// a commit is in the file (the page cache: durable across kill -9 of the process, as before)
// when COMMIT returns. Any other operation on the WAL file (read, sync, size, truncate, close)
// writes what is gathered first, as does a write that does not continue it. Every other file
// and method goes straight to the default VFS.
//
// The frame layout is that of SQLite's wal.c as of 3.40 (Debian 12); with a SQLite outside the
// versions checked, WalBatchVfs() returns nullptr and connections use the default VFS.

namespace storage::sqlite {

// The registered VFS's name (registered on the first call; thread-safe), or nullptr.
const char* WalBatchVfs();

}  // namespace storage::sqlite
