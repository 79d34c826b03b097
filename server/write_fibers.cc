#include "server/write_fibers.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <new>
#include <system_error>
#include <utility>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/context/fiber.hpp>
#include <boost/context/stack_context.hpp>

#include "storage/suspension.h"

// AddressSanitizer must be told when the stack changes (its fake stacks and stack bounds).
#if defined(__SANITIZE_ADDRESS__)
#define FHIR_FIBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FHIR_FIBER_ASAN 1
#endif
#endif
#ifdef FHIR_FIBER_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

namespace server {
namespace {

namespace ctx = boost::context;
namespace net = boost::asio;

// A fiber's stack. Requests nest at most JsonDocument::kMaxDepth levels deep, which the
// deepest recursion (the JSON model conversion, FHIRPath) needs far less than this for; a guard
// page below turns an overflow into a crash rather than a silent overwrite. Only the pages a
// fiber touches take memory.
#ifdef FHIR_FIBER_ASAN
constexpr std::size_t kStackBytes = std::size_t{8} << 20;  // ASan's frames are larger
#else
constexpr std::size_t kStackBytes = std::size_t{2} << 20;
#endif
// Stacks kept for reuse by a thread: mapping a new one (and faulting its pages in) per request
// would cost more than the switches saved.
constexpr std::size_t kKeptStacks = 64;

// The stack switches, as AddressSanitizer needs to hear of them (no-ops without it).
// `save` keeps the fake stack of the stack left (null: it ends); `bottom`/`size`: the stack
// entered, and on return the stack left.
void StartSwitch([[maybe_unused]] void** save, [[maybe_unused]] const void* bottom,
                 [[maybe_unused]] std::size_t size) {
#ifdef FHIR_FIBER_ASAN
  __sanitizer_start_switch_fiber(save, bottom, size);
#endif
}
void FinishSwitch([[maybe_unused]] void* save, [[maybe_unused]] const void** bottom,
                  [[maybe_unused]] std::size_t* size) {
#ifdef FHIR_FIBER_ASAN
  __sanitizer_finish_switch_fiber(save, bottom, size);
#endif
}

// Stacks of one thread's fibers, reused. Only its thread touches it.
class StackPool {
 public:
  StackPool() = default;
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;
  ~StackPool() {
    for (const ctx::stack_context& stack : free_) Unmap(stack);
  }

  ctx::stack_context Allocate() {
    if (!free_.empty()) {
      ctx::stack_context stack = free_.back();
      free_.pop_back();
      return stack;
    }
    const std::size_t bytes = kStackBytes + Page();
    void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (base == MAP_FAILED) throw std::bad_alloc();
    ::mprotect(base, Page(), PROT_NONE);  // the guard page (stacks grow down)
    ctx::stack_context stack;
    stack.size = bytes;
    stack.sp = static_cast<char*>(base) + bytes;
    return stack;
  }

  void Deallocate(const ctx::stack_context& stack) {
    if (free_.size() < kKeptStacks) {
      free_.push_back(stack);
    } else {
      Unmap(stack);
    }
  }

  // The usable part of `stack` (above its guard page).
  static const void* Bottom(const ctx::stack_context& stack) {
    return static_cast<const char*>(stack.sp) - stack.size + Page();
  }
  static std::size_t Usable(const ctx::stack_context& stack) { return stack.size - Page(); }

 private:
  static std::size_t Page() {
    static const std::size_t kPage = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return kPage;
  }
  static void Unmap(const ctx::stack_context& stack) {
    ::munmap(static_cast<char*>(stack.sp) - stack.size, stack.size);
  }

  std::vector<ctx::stack_context> free_;
};

// Boost.Context's StackAllocator concept over a StackPool; tells `used` which stack it gave.
struct PooledStack {
  StackPool* pool;
  ctx::stack_context* used;
  ctx::stack_context allocate() {
    *used = pool->Allocate();
    return *used;
  }
  void deallocate(ctx::stack_context& stack) noexcept { pool->Deallocate(stack); }
};

}  // namespace

struct WriteFibers::Worker {
  net::io_context io{1};
  net::executor_work_guard<net::io_context::executor_type> guard = net::make_work_guard(io);
  StackPool stacks;
  std::thread thread;
};

namespace {

// One request's fiber. Owned by shared_ptrs: the handlers that run it, and the waits that will
// resume it (storage::Suspendable).
class FiberTask final : public storage::Suspendable {
 public:
  FiberTask(net::io_context& home, StackPool& stacks, std::function<void()> work)
      : home_(home), stacks_(stacks), work_(std::move(work)), running_(home.get_executor()) {}

  // Runs the fiber until it first suspends or ends; false when no fiber could be made (no
  // memory for its stack), `work` then untouched. REQUIRES: on the home thread.
  bool Start() {
    try {
      fiber_ = ctx::fiber(std::allocator_arg, PooledStack{&stacks_, &stack_},
                          [this](ctx::fiber&& back) {
                            FinishSwitch(nullptr, &thread_bottom_, &thread_size_);
                            back_ = std::move(back);
                            try {
                              work_();
                            } catch (...) {  // `work` must catch everything
                              std::fprintf(stderr, "fhir-server: a write fiber threw\n");
                            }
                            work_ = nullptr;
                            StartSwitch(nullptr, thread_bottom_, thread_size_);  // it ends
                            return std::move(back_);
                          });
    } catch (const std::bad_alloc&) {
      return false;
    }
    Run();
    return true;
  }

  // The work of a fiber that could not start (which then keeps its thread no longer).
  std::function<void()> TakeWork() {
    running_.reset();
    return std::move(work_);
  }

  void Suspend() override {
    storage::SetCurrentSuspendable(nullptr);
    StartSwitch(&fiber_fake_stack_, thread_bottom_, thread_size_);
    back_ = std::move(back_).resume();
    FinishSwitch(fiber_fake_stack_, &thread_bottom_, &thread_size_);
    storage::SetCurrentSuspendable(this);
  }

  void Resume() override {
    auto self = std::static_pointer_cast<FiberTask>(shared_from_this());
    net::post(home_, [self = std::move(self)] {
      if (self->fiber_) self->Run();  // else it ended (a late Resume)
    });
  }

 private:
  // Runs the fiber until it suspends or ends. REQUIRES: on the home thread.
  void Run() {
    storage::SetCurrentSuspendable(this);
    StartSwitch(&thread_fake_stack_, StackPool::Bottom(stack_), StackPool::Usable(stack_));
    fiber_ = std::move(fiber_).resume();
    FinishSwitch(thread_fake_stack_, nullptr, nullptr);
    storage::SetCurrentSuspendable(nullptr);
    if (!fiber_) running_.reset();
  }

  net::io_context& home_;
  StackPool& stacks_;
  std::function<void()> work_;
  ctx::fiber fiber_;  // the suspended fiber, seen from its thread (empty while it runs or after)
  ctx::fiber back_;   // the thread, seen from inside the fiber
  // Keeps the home thread running (WriteFibers::Join) until the fiber ends, also while it is
  // suspended with no handler queued.
  net::executor_work_guard<net::io_context::executor_type> running_;
  ctx::stack_context stack_;  // the fiber's stack
  // For AddressSanitizer: the thread's stack as the fiber found it, and the fake stacks.
  const void* thread_bottom_ = nullptr;
  std::size_t thread_size_ = 0;
  void* thread_fake_stack_ = nullptr;
  void* fiber_fake_stack_ = nullptr;
};

}  // namespace

WriteFibers::WriteFibers(int threads) {
  for (int i = 0; i < std::max(1, threads); ++i) {
    auto worker = std::make_unique<Worker>();
    Worker* w = worker.get();
    w->thread = std::thread([w] {
      while (true) {
        try {
          w->io.run();
          return;
        } catch (const std::exception& e) {
          std::fprintf(stderr, "fhir-server: write fiber thread caught: %s\n", e.what());
        }
      }
    });
    workers_.push_back(std::move(worker));
  }
}

WriteFibers::~WriteFibers() { Join(); }

void WriteFibers::Spawn(std::function<void()> work) {
  Worker& worker = *workers_[next_.fetch_add(1, std::memory_order_relaxed) % workers_.size()];
  net::post(worker.io, [&worker, work = std::move(work)]() mutable {
    auto task = std::make_shared<FiberTask>(worker.io, worker.stacks, std::move(work));
    if (task->Start()) return;
    // Out of memory for a stack: the request still gets its answer, from a plain thread (its
    // waits block that thread, which no fiber depends on); never from this one.
    std::fprintf(stderr, "fhir-server: no memory for a write fiber; using a thread\n");
    try {
      std::thread(task->TakeWork()).detach();
    } catch (const std::system_error& e) {
      std::fprintf(stderr, "fhir-server: a write was dropped: %s\n", e.what());
    }
  });
}

void WriteFibers::Join() {
  for (const std::unique_ptr<Worker>& worker : workers_) worker->guard.reset();
  for (const std::unique_ptr<Worker>& worker : workers_) {
    if (worker->thread.joinable()) worker->thread.join();
  }
}

}  // namespace server
