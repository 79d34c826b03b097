#include "server/version_preparer.h"

#include <system_error>
#include <utility>

namespace server {

VersionPreparer::VersionPreparer(std::vector<fhir::Resource*> resources,
                                 std::function<void()> before_start)
    : resources_(std::move(resources)),
      prepared_(resources_.size()),
      state_(resources_.size()) {
  if (resources_.size() < kMinEntries) return;
  try {
    thread_ = std::thread([this, start = std::move(before_start)] { Run(start); });
  } catch (const std::system_error&) {
    // No thread to be had: the interactions prepare their resources themselves.
  }
}

VersionPreparer::~VersionPreparer() {
  stop_.store(true, std::memory_order_relaxed);
  if (thread_.joinable()) thread_.join();
}

PreparedVersion* VersionPreparer::Get(std::size_t i) {
  if (!thread_.joinable()) return nullptr;
  if (Claim(i)) {
    ++by_caller_;
    prepared_[i] = PrepareVersion(*resources_[i], 1);
    state_[i].store(kReady, std::memory_order_release);
    return &prepared_[i];
  }
  if (state_[i].load(std::memory_order_acquire) == kClaimed) {
    std::unique_lock<std::mutex> lock(mu_);
    ready_cv_.wait(lock, [&] { return state_[i].load(std::memory_order_acquire) != kClaimed; });
  }
  return state_[i].load(std::memory_order_acquire) == kThreadReady ? &prepared_[i] : nullptr;
}

bool VersionPreparer::PreparedByThread(std::size_t i) const {
  return state_[i].load(std::memory_order_acquire) == kThreadReady;
}

bool VersionPreparer::Claim(std::size_t i) {
  std::uint8_t free = kFree;
  return state_[i].compare_exchange_strong(free, kClaimed, std::memory_order_acquire);
}

void VersionPreparer::Run(const std::function<void()>& before_start) {
  if (before_start) before_start();
  for (std::size_t i = 0; i < resources_.size(); ++i) {
    if (stop_.load(std::memory_order_relaxed)) return;
    if (!Claim(i)) continue;  // the caller got there first
    std::uint8_t outcome = kThreadReady;
    try {
      prepared_[i] = PrepareVersion(*resources_[i], 1);
    } catch (...) {
      outcome = kFailed;  // Get returns null: the interaction prepares (and fails) on its own
    }
    {
      std::lock_guard<std::mutex> lock(mu_);  // a waiter checks the state under mu_
      state_[i].store(outcome, std::memory_order_release);
    }
    ready_cv_.notify_one();
  }
}

}  // namespace server
