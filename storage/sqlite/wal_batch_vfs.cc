#include "storage/sqlite/wal_batch_vfs.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <new>
#include <string>

#include <sqlite3.h>

namespace storage::sqlite {
namespace {

// Gathered bytes are written once they reach this size even without a commit (a large
// transaction's frames).
constexpr std::size_t kMaxGathered = 4 << 20;
// WAL frame header: page number, then the database size in pages (nonzero: a commit frame).
constexpr int kFrameHeaderBytes = 24;

sqlite3_vfs* g_base = nullptr;  // the default VFS, set once by WalBatchVfs()

// SQLite allocates szOsFile bytes per open file: this struct, then the default VFS's file.
struct File {
  sqlite3_file base;
  sqlite3_file* real;
  std::string* gathered;  // WAL files only: bytes not yet written, from `offset`
  sqlite3_int64 offset;
  bool commit_page_next;  // the last write was a commit frame's header
};
constexpr std::size_t kFileBytes = (sizeof(File) + 15) & ~std::size_t{15};

File* Of(sqlite3_file* f) { return reinterpret_cast<File*>(f); }
sqlite3_file* Real(sqlite3_file* f) { return Of(f)->real; }

// The default (unix) VFS writes at most 128 KiB - 1 per call (it masks the size to 17 bits,
// built for pages of up to 64 KiB): what is gathered goes in pieces of 64 KiB.
constexpr std::size_t kMaxWriteBytes = 64 << 10;

// Writes what is gathered (nothing to do for other files).
int Flush(File* file) {
  if (file->gathered == nullptr || file->gathered->empty()) return SQLITE_OK;
  const std::string& gathered = *file->gathered;
  int rc = SQLITE_OK;
  for (std::size_t done = 0; done < gathered.size() && rc == SQLITE_OK; done += kMaxWriteBytes) {
    const std::size_t piece = std::min(kMaxWriteBytes, gathered.size() - done);
    rc = file->real->pMethods->xWrite(file->real, gathered.data() + done, static_cast<int>(piece),
                                      file->offset + static_cast<sqlite3_int64>(done));
  }
  file->gathered->clear();
  return rc;
}

int Close(sqlite3_file* f) {
  File* file = Of(f);
  int flushed = Flush(file);
  delete file->gathered;
  file->gathered = nullptr;
  int rc = file->real->pMethods->xClose(file->real);
  return flushed != SQLITE_OK ? flushed : rc;
}

int Read(sqlite3_file* f, void* out, int amount, sqlite3_int64 offset) {
  if (int rc = Flush(Of(f)); rc != SQLITE_OK) return rc;
  return Real(f)->pMethods->xRead(Real(f), out, amount, offset);
}

int Write(sqlite3_file* f, const void* data, int amount, sqlite3_int64 offset) {
  File* file = Of(f);
  if (file->gathered == nullptr) {
    return file->real->pMethods->xWrite(file->real, data, amount, offset);
  }
  std::string& gathered = *file->gathered;
  if (!gathered.empty() &&
      offset != file->offset + static_cast<sqlite3_int64>(gathered.size())) {
    file->commit_page_next = false;
    if (int rc = Flush(file); rc != SQLITE_OK) return rc;
  }
  if (gathered.empty()) file->offset = offset;
  gathered.append(static_cast<const char*>(data), static_cast<std::size_t>(amount));
  if (file->commit_page_next) {  // the commit frame is complete: into the file before COMMIT ends
    file->commit_page_next = false;
    return Flush(file);
  }
  if (amount == kFrameHeaderBytes) {
    const auto* header = static_cast<const unsigned char*>(data);
    file->commit_page_next = (header[4] | header[5] | header[6] | header[7]) != 0;
  }
  return gathered.size() >= kMaxGathered ? Flush(file) : SQLITE_OK;
}

int Truncate(sqlite3_file* f, sqlite3_int64 size) {
  if (int rc = Flush(Of(f)); rc != SQLITE_OK) return rc;
  return Real(f)->pMethods->xTruncate(Real(f), size);
}

int Sync(sqlite3_file* f, int flags) {
  if (int rc = Flush(Of(f)); rc != SQLITE_OK) return rc;
  return Real(f)->pMethods->xSync(Real(f), flags);
}

int FileSize(sqlite3_file* f, sqlite3_int64* size) {
  if (int rc = Flush(Of(f)); rc != SQLITE_OK) return rc;
  return Real(f)->pMethods->xFileSize(Real(f), size);
}

int Lock(sqlite3_file* f, int level) { return Real(f)->pMethods->xLock(Real(f), level); }
int Unlock(sqlite3_file* f, int level) { return Real(f)->pMethods->xUnlock(Real(f), level); }
int CheckReservedLock(sqlite3_file* f, int* out) {
  return Real(f)->pMethods->xCheckReservedLock(Real(f), out);
}

int FileControl(sqlite3_file* f, int op, void* arg) {
  if (int rc = Flush(Of(f)); rc != SQLITE_OK) return rc;
  return Real(f)->pMethods->xFileControl(Real(f), op, arg);
}

int SectorSize(sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); }
int DeviceCharacteristics(sqlite3_file* f) {
  return Real(f)->pMethods->xDeviceCharacteristics(Real(f));
}

int ShmMap(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  if (Real(f)->pMethods->iVersion < 2) return SQLITE_IOERR_SHMMAP;
  return Real(f)->pMethods->xShmMap(Real(f), region, size, extend, out);
}
int ShmLock(sqlite3_file* f, int offset, int n, int flags) {
  if (Real(f)->pMethods->iVersion < 2) return SQLITE_IOERR_SHMLOCK;
  return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
}
void ShmBarrier(sqlite3_file* f) {
  if (Real(f)->pMethods->iVersion >= 2) Real(f)->pMethods->xShmBarrier(Real(f));
}
int ShmUnmap(sqlite3_file* f, int delete_flag) {
  if (Real(f)->pMethods->iVersion < 2) return SQLITE_OK;
  return Real(f)->pMethods->xShmUnmap(Real(f), delete_flag);
}

int Fetch(sqlite3_file* f, sqlite3_int64 offset, int amount, void** out) {
  *out = nullptr;
  if (Real(f)->pMethods->iVersion < 3) return SQLITE_OK;  // no memory map: SQLite reads instead
  if (int rc = Flush(Of(f)); rc != SQLITE_OK) return rc;
  return Real(f)->pMethods->xFetch(Real(f), offset, amount, out);
}
int Unfetch(sqlite3_file* f, sqlite3_int64 offset, void* page) {
  if (Real(f)->pMethods->iVersion < 3) return SQLITE_OK;
  return Real(f)->pMethods->xUnfetch(Real(f), offset, page);
}

const sqlite3_io_methods kMethods = {
    .iVersion = 3,
    .xClose = Close,
    .xRead = Read,
    .xWrite = Write,
    .xTruncate = Truncate,
    .xSync = Sync,
    .xFileSize = FileSize,
    .xLock = Lock,
    .xUnlock = Unlock,
    .xCheckReservedLock = CheckReservedLock,
    .xFileControl = FileControl,
    .xSectorSize = SectorSize,
    .xDeviceCharacteristics = DeviceCharacteristics,
    .xShmMap = ShmMap,
    .xShmLock = ShmLock,
    .xShmBarrier = ShmBarrier,
    .xShmUnmap = ShmUnmap,
    .xFetch = Fetch,
    .xUnfetch = Unfetch,
};

int Open(sqlite3_vfs* /*vfs*/, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  File* file = Of(f);
  file->base.pMethods = nullptr;  // until the default VFS opened it: SQLite then skips xClose
  file->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + kFileBytes);
  file->gathered = nullptr;
  file->offset = 0;
  file->commit_page_next = false;
  int rc = g_base->xOpen(g_base, name, file->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (file->real->pMethods != nullptr) file->real->pMethods->xClose(file->real);
    return rc;
  }
  if ((flags & SQLITE_OPEN_WAL) != 0) file->gathered = new (std::nothrow) std::string();
  file->base.pMethods = &kMethods;
  return SQLITE_OK;
}

sqlite3_vfs g_vfs;

const char* Register() {
  // Checked against wal.c of 3.40; the frame header has not changed since WAL came (3.7).
  const int version = sqlite3_libversion_number();
  if (version < 3'007'000 || version >= 3'047'000) return nullptr;
  g_base = sqlite3_vfs_find(nullptr);
  if (g_base == nullptr) return nullptr;
  g_vfs = *g_base;  // the default VFS's other methods, which take it (or this copy) as first
  g_vfs.pNext = nullptr;
  g_vfs.zName = "fhir-wal-batch";
  g_vfs.szOsFile = static_cast<int>(kFileBytes) + g_base->szOsFile;
  g_vfs.xOpen = Open;
  if (sqlite3_vfs_register(&g_vfs, /*makeDflt=*/0) != SQLITE_OK) return nullptr;
  return g_vfs.zName;
}

}  // namespace

const char* WalBatchVfs() {
  static const char* const name = Register();
  return name;
}

}  // namespace storage::sqlite
