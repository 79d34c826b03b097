#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <thread>
#include <utility>  // before any Asio header (STYLE.md)
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace server {

// Runs single-resource writes as fibers on a few threads. A write spends most of its life
// waiting for its group commit (storage/sqlite/sqlite_store.cc): on a thread of its own, every
// wait parks the thread and wakes it again (two context switches, a quarter of a create's CPU
// on 2 cores with 32 writers). A fiber waiting there is suspended instead
// (storage/suspension.h), and its thread runs the next request. A fiber never moves: it is
// resumed on the thread that started it, so thread-local state stays valid.
//
// Work run here must not block its thread on anything that another fiber of the same thread
// has to do first: the waits of a single-resource write that depend on other writers (the
// write gate, the group commit, room in the audit queue) suspend. Nor should it run long
// without waiting: the other fibers of its thread wait meanwhile, and so does the write gate
// when it is handed to one of them. Bundles (which hold the write gate for a whole
// transaction) and large bodies stay on threads of their own (server/http_server.cc). Should
// a fiber's stack find no memory, its work runs on a new thread.
class WriteFibers {
 public:
  explicit WriteFibers(int threads);
  WriteFibers(const WriteFibers&) = delete;
  WriteFibers& operator=(const WriteFibers&) = delete;
  ~WriteFibers();

  // Runs `work` on a new fiber of one of the threads (in turn).
  void Spawn(std::function<void()> work);

  // Lets the threads finish the fibers they run and waits for them.
  void Join();

 private:
  struct Worker;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<std::size_t> next_{0};
};

}  // namespace server
