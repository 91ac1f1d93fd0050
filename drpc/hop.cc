#include "drpc/hop.h"

#include <utility>

namespace drpc::hop {

absl::Status Post(runtime::Runtime& rt, size_t index, absl::AnyInvocable<void()> fn) {
  runtime::Reactor* here = runtime::Reactor::ForThisThread();
  if (here == nullptr) {
    return rt.PostWaiting(index, [fn = std::move(fn)](runtime::Reactor&) mutable { fn(); });
  }
  // On a reactor: never block its thread. A fiber yields until there is room; elsewhere (a timer
  // callback) one attempt is all there is.
  auto shared = std::make_shared<absl::AnyInvocable<void()>>(std::move(fn));
  for (;;) {
    absl::Status s = rt.Post(index, [shared](runtime::Reactor&) { (*shared)(); });
    if (!absl::IsResourceExhausted(s) || here->Current() == nullptr) return s;
    here->Yield();
  }
}

namespace hop_internal {

void ParkUntil(runtime::Reactor& here, const bool& done) {
  while (!done) here.Park("drpc hop: waiting for another reactor");
}

void PostWake(runtime::Reactor& here, std::shared_ptr<bool> done, Fiber* fiber) {
  if (runtime::Reactor::ForThisThread() == &here) {
    *done = true;
    here.Unpark(fiber);
    return;
  }
  auto wake = [&here, done, fiber] {
    *done = true;
    here.Unpark(fiber);
  };
  runtime::Reactor* current = runtime::Reactor::ForThisThread();
  for (;;) {
    absl::Status s = here.Post(wake, runtime::Reactor::PostMode::kFailIfFull, "drpc hop: wake");
    if (!absl::IsResourceExhausted(s)) return;
    if (current == nullptr) {
      here.Post(wake, runtime::Reactor::PostMode::kWaitIfFull, "drpc hop: wake").IgnoreError();
      return;
    }
    if (current->Current() == nullptr) return;  // teardown of a stopping reactor
    current->Yield();
  }
}

}  // namespace hop_internal
}  // namespace drpc::hop
