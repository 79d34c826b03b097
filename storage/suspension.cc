#include "storage/suspension.h"

namespace storage {
namespace {
thread_local Suspendable* t_current = nullptr;
}  // namespace

Suspendable* CurrentSuspendable() { return t_current; }

void SetCurrentSuspendable(Suspendable* fiber) { t_current = fiber; }

}  // namespace storage
