#pragma once

// A unique database path under the temp directory for the storage tests; the database and its
// -wal/-shm/-journal files are removed when the TempPath goes (declare it before the store, so
// the store closes first).

#include <atomic>
#include <filesystem>
#include <random>
#include <string>
#include <system_error>

namespace storage::sqlite::testing {

class TempPath {
 public:
  TempPath() {
    static std::atomic<int> counter{0};
    std::random_device random;
    path_ = (std::filesystem::temp_directory_path() /
             ("fhir-storage-test-" + std::to_string(random()) + "-" +
              std::to_string(counter++) + ".db"))
                .string();
  }
  TempPath(const TempPath&) = delete;
  TempPath& operator=(const TempPath&) = delete;
  ~TempPath() {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      std::error_code ignored;
      std::filesystem::remove(path_ + suffix, ignored);
    }
  }
  const std::string& str() const { return path_; }

 private:
  std::string path_;
};

}  // namespace storage::sqlite::testing
