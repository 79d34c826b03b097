#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "storage/store.h"

namespace storage {

// The current versions of recently read resources, by (type, id), least recently used first out
// past `max_bytes` of JSON. For a store whose writes all pass through this process: a read by id
// is then a map lookup instead of a database read (whose read transaction alone took 40% of it).
//
// Staleness is ruled out by a commit generation. A reader takes Generation() before its database
// read and offers the version it read with it; the offer is taken only if no commit began or
// ended in between. A writer reports the keys a commit changes with Committing() before the
// COMMIT and Committed() after it, before anyone hears of it; each bumps the generation and drops
// the keys, and between the two no version of them is taken (SQLite shows a commit to readers a
// moment before COMMIT returns: a reader that saw the new version must not find the old one
// afterwards). A version never replaces a newer one.
class CurrentCache {
 public:
  explicit CurrentCache(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  static std::string Key(std::string_view type, std::string_view id);

  std::optional<StoredVersion> Find(std::string_view type, std::string_view id);
  std::uint64_t Generation();
  // Keeps `v`, read from the database after Generation() returned `generation`.
  void Offer(const StoredVersion& v, std::uint64_t generation);
  // A commit will change, and has changed, the current versions of `keys` (Key()). Committed()
  // also after a COMMIT that failed.
  void Committing(const std::vector<std::string>& keys);
  void Committed(const std::vector<std::string>& keys);

 private:
  using Entry = std::pair<std::string, StoredVersion>;  // key, version
  // Committing (`committing`) or Committed: a new generation, `keys` dropped and marked.
  void Report(const std::vector<std::string>& keys, bool committing);
  void DropLocked(std::list<Entry>::iterator it);

  const std::size_t max_bytes_;
  std::mutex mu_;
  std::uint64_t generation_ = 0;                                      // guarded by mu_
  std::list<Entry> lru_;                                              // most recent first
  std::unordered_map<std::string, std::list<Entry>::iterator> map_;  // guarded by mu_
  std::size_t bytes_ = 0;                                             // guarded by mu_
  std::unordered_set<std::string> committing_;  // keys between Committing and Committed
};

}  // namespace storage
