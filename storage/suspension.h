#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

namespace storage {

// A request running on a fiber of its thread (server/write_fibers.h) instead of on a thread of
// its own. Code that makes a request wait for another one (a write for its group commit, for
// room in the audit queue) suspends the fiber rather than blocking the thread, which runs other
// requests meanwhile: a blocked thread costs two context switches per wait, a fiber switch a
// few hundred nanoseconds. A fiber thread must never block on what another fiber of the same
// thread has to do first.
class Suspendable : public std::enable_shared_from_this<Suspendable> {
 public:
  virtual ~Suspendable() = default;
  // Suspends the calling fiber until Resume() runs it again. Called with no mutex held: other
  // fibers of the thread run meanwhile.
  virtual void Suspend() = 0;
  // Lets the suspended fiber run again on its own thread (never on the caller's), after what
  // that thread has queued already. Callable from any thread, and more than once (the caller
  // keeps the fiber alive with shared_from_this(); a Resume() after the fiber ended does
  // nothing): a fiber may thus resume when it has suspended again for the same reason, so a
  // waiter checks its condition again after every Suspend().
  virtual void Resume() = 0;
};

// The fiber running on the calling thread, or null on a plain thread.
Suspendable* CurrentSuspendable();
// Set by the fiber scheduler around running a fiber (null when it returns to the thread).
void SetCurrentSuspendable(Suspendable* fiber);

// A condition variable whose waiters may be fibers: a thread blocks, a fiber is suspended.
// The mutex guarding the condition is held by Wait's lock and around NotifyAll.
class Condition {
 public:
  // Waits until `ready()`. REQUIRES: `lock` holds the mutex guarding the condition.
  template <class Ready>
  void Wait(std::unique_lock<std::mutex>& lock, Ready ready) {
    while (!ready()) {
      Suspendable* fiber = CurrentSuspendable();
      if (fiber == nullptr) {
        cv_.wait(lock);
        continue;
      }
      fibers_.push_back(fiber->shared_from_this());
      lock.unlock();
      fiber->Suspend();
      lock.lock();
    }
  }

  // Wakes every waiter. REQUIRES: the mutex held.
  void NotifyAll() {
    for (const std::shared_ptr<Suspendable>& fiber : fibers_) fiber->Resume();
    fibers_.clear();
    cv_.notify_all();
  }

 private:
  std::condition_variable cv_;
  std::vector<std::shared_ptr<Suspendable>> fibers_;  // guarded by the condition's mutex
};

// The one waiter of an event: the fiber, or else the thread, that made it. Wake() needs no
// mutex held, so that a waker can wake after releasing it.
class Waiter {
 public:
  Waiter() {
    if (Suspendable* fiber = CurrentSuspendable()) fiber_ = fiber->shared_from_this();
  }

  // Waits until `ready()`. REQUIRES: `lock` holds the mutex guarding the condition; called by
  // the waiter.
  template <class Ready>
  void Wait(std::unique_lock<std::mutex>& lock, Ready ready) {
    if (fiber_ == nullptr) {
      cv_.wait(lock, ready);
      return;
    }
    while (!ready()) {
      lock.unlock();
      fiber_->Suspend();
      lock.lock();
    }
  }

  void Wake() {
    if (fiber_ != nullptr) {
      fiber_->Resume();
    } else {
      cv_.notify_one();
    }
  }

 private:
  std::shared_ptr<Suspendable> fiber_;
  std::condition_variable cv_;
};

}  // namespace storage
