// Single-resource writes on fibers (server/write_fibers.h): a write that waits for the writer
// suspends its fiber, and its thread runs other fibers meanwhile.

#include "server/write_fibers.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "tests/server/rest_fixture.h"

namespace server {
namespace {

// True once `flag` is set, false after 10 s.
bool Eventually(const std::atomic<bool>& flag) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!flag) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TEST_CASE("write fibers: a write waiting for the writer leaves its thread to other fibers") {
  testing::Fixture fixture;
  storage::Store& store = fixture.store();
  auto held = store.BeginWrite();  // this thread holds the writer: the fiber's write must wait
  REQUIRE(held.ok());
  WriteFibers fibers(1);
  std::atomic<bool> written{false};
  std::atomic<bool> other_ran{false};
  std::thread::id before;
  std::thread::id after;
  fhir::Status status(fhir::IssueType::kException, "not run");
  fibers.Spawn([&] {
    before = std::this_thread::get_id();
    status = store.WriteShared([](storage::WriteTransaction& txn) {
      return txn.AppendJournal("from a fiber").ok();
    });
    after = std::this_thread::get_id();
    written = true;
  });
  fibers.Spawn([&] { other_ran = true; });
  // The second fiber runs while the first waits (a blocked thread would run it only after).
  CHECK(Eventually(other_ran));
  CHECK_FALSE(written);
  held->reset();  // rolls back, frees the writer
  REQUIRE(Eventually(written));
  fibers.Join();
  CHECK(status.ok());
  CHECK(before == after);  // resumed on the thread that started it
  auto txn = store.BeginWrite();
  REQUIRE(txn.ok());
  auto oldest = (*txn)->OldestJournal();
  REQUIRE(oldest.ok());
  REQUIRE(oldest->has_value());
  CHECK((*oldest)->data == "from a fiber");
}

TEST_CASE("write fibers: writes of many fibers on two threads commit together") {
  testing::Fixture fixture;
  storage::Store& store = fixture.store();
  auto held = store.BeginWrite();
  REQUIRE(held.ok());
  constexpr int kWrites = 40;
  std::atomic<int> done{0};
  std::atomic<int> failed{0};
  {
    WriteFibers fibers(2);
    for (int i = 0; i < kWrites; ++i) {
      fibers.Spawn([&store, &done, &failed, i] {
        fhir::Status s = store.WriteShared([i](storage::WriteTransaction& txn) {
          return txn.AppendJournal("write " + std::to_string(i)).ok();
        });
        if (!s.ok()) ++failed;
        ++done;
      });
    }
    // All 40 are queued behind the held writer, none on a thread of its own.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(done == 0);
    held->reset();
    fibers.Join();  // returns once every fiber ended
  }
  CHECK(done == kWrites);
  CHECK(failed == 0);
  int records = 0;
  while (true) {
    auto txn = store.BeginWrite();
    REQUIRE(txn.ok());
    auto oldest = (*txn)->OldestJournal();
    REQUIRE(oldest.ok());
    if (!oldest->has_value()) break;
    ++records;
    REQUIRE((*txn)->RemoveJournal((*oldest)->seq).ok());
    REQUIRE((*txn)->Commit().ok());
  }
  CHECK(records == kWrites);
}

}  // namespace
}  // namespace server
