#pragma once

// Prepares the resources a transaction creates (PrepareVersion: meta, canonical JSON and index
// entries, a sixth of a Synthea Bundle's time in the store's write gate) on a thread of its own,
// in the order the entries will be applied, while the gate's holder writes the ones already
// prepared: the gate is held for the longer of the two instead of their sum (bundle_processor).
// An entry the thread has not started when the holder needs it is prepared by the holder (Get):
// a new thread takes a while to get a core on a busy machine, and waiting for it cost 2 ms of
// gate time per Synthea Bundle. Each entry is claimed by one of the two (an atomic state per
// entry), so none is prepared twice.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "fhir/r4/resource.h"
#include "server/rest_service.h"

namespace server {

class VersionPreparer {
 public:
  // Below this many resources a thread is not worth it: Get returns null for every entry.
  static constexpr std::size_t kMinEntries = 16;

  // Starts preparing `resources` (ids set, references final) as version 1. Every resource
  // must stay untouched by others until Get returns it. `before_start` (tests) runs on the
  // thread before it prepares anything.
  explicit VersionPreparer(std::vector<fhir::Resource*> resources,
                           std::function<void()> before_start = {});
  VersionPreparer(const VersionPreparer&) = delete;
  VersionPreparer& operator=(const VersionPreparer&) = delete;
  ~VersionPreparer();  // stops the thread after the entry it is on

  // The i-th resource prepared as version 1, or null when it is not prepared here (few
  // entries, no thread, or its preparation failed on the thread): the caller prepares it
  // itself. Called by one thread, for each i at most once.
  PreparedVersion* Get(std::size_t i);

  // For tests: whether the thread has prepared entry i, and how many the caller prepared.
  bool PreparedByThread(std::size_t i) const;
  std::size_t prepared_by_caller() const { return by_caller_; }

 private:
  // kFree -> kClaimed -> kReady (by the caller) | kThreadReady | kFailed (on the thread).
  enum : std::uint8_t { kFree, kClaimed, kReady, kThreadReady, kFailed };

  // Whether the caller gets to prepare entry i (nobody has started it).
  bool Claim(std::size_t i);
  void Run(const std::function<void()>& before_start);

  std::vector<fhir::Resource*> resources_;
  std::vector<PreparedVersion> prepared_;  // [i] written by the one that claimed it
  std::vector<std::atomic<std::uint8_t>> state_;
  std::mutex mu_;
  std::condition_variable ready_cv_;
  std::atomic<bool> stop_{false};
  std::size_t by_caller_ = 0;
  std::thread thread_;
};

}  // namespace server
