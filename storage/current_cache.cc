#include "storage/current_cache.h"

namespace storage {

std::string CurrentCache::Key(std::string_view type, std::string_view id) {
  std::string key(type);
  key += '/';
  key += id;
  return key;
}

std::optional<StoredVersion> CurrentCache::Find(std::string_view type, std::string_view id) {
  const std::string key = Key(type, id);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = map_.find(key);
  if (it == map_.end()) return std::nullopt;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

std::uint64_t CurrentCache::Generation() {
  std::lock_guard<std::mutex> lock(mu_);
  return generation_;
}

void CurrentCache::Offer(const StoredVersion& v, std::uint64_t generation) {
  if (v.json.size() > max_bytes_) return;
  std::string key = Key(v.type, v.id);
  std::lock_guard<std::mutex> lock(mu_);
  if (generation != generation_) return;  // a commit ended since the read: `v` may be stale
  if (committing_.contains(key)) return;  // its commit may be visible already, or not yet
  if (auto it = map_.find(key); it != map_.end()) {
    if (it->second->second.version >= v.version) return;  // versions only grow
    DropLocked(it->second);
  }
  lru_.emplace_front(key, v);
  map_.emplace(std::move(key), lru_.begin());
  bytes_ += v.json.size();
  while (bytes_ > max_bytes_ && !lru_.empty()) DropLocked(std::prev(lru_.end()));
}

void CurrentCache::Committing(const std::vector<std::string>& keys) {
  Report(keys, /*committing=*/true);
}

void CurrentCache::Committed(const std::vector<std::string>& keys) {
  Report(keys, /*committing=*/false);
}

void CurrentCache::Report(const std::vector<std::string>& keys, bool committing) {
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  for (const std::string& key : keys) {
    if (auto it = map_.find(key); it != map_.end()) DropLocked(it->second);
    if (committing) {
      committing_.insert(key);
    } else {
      committing_.erase(key);
    }
  }
}

void CurrentCache::DropLocked(std::list<Entry>::iterator it) {
  bytes_ -= it->second.json.size();
  map_.erase(it->first);
  lru_.erase(it);
}

}  // namespace storage
