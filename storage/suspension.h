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

// Fibers waiting for a condition guarded by a mutex, beside the condition variable its threads
// wait on. The code that changes the condition calls ResumeAll() with the mutex held, and
// notifies the condition variable.
class SuspendedFibers {
 public:
  // Waits until `ready()`: suspends the calling fiber, or blocks the thread on `cv`.
  // REQUIRES: `lock` holds the mutex guarding the condition.
  template <class Ready>
  void Wait(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, Ready ready) {
    while (!ready()) {
      Suspendable* fiber = CurrentSuspendable();
      if (fiber == nullptr) {
        cv.wait(lock);
        continue;
      }
      waiting_.push_back(fiber->shared_from_this());
      lock.unlock();
      fiber->Suspend();
      lock.lock();
    }
  }

  // Resumes the waiting fibers. REQUIRES: the mutex held.
  void ResumeAll() {
    for (const std::shared_ptr<Suspendable>& fiber : waiting_) fiber->Resume();
    waiting_.clear();
  }

 private:
  std::vector<std::shared_ptr<Suspendable>> waiting_;
};

}  // namespace storage
