// Running a function on one reactor of a Runtime and getting its result, from any thread — the
// hop that lets drpc::Client be used everywhere:
//   * on that reactor's own thread (a fiber there): fn runs right away, on the calling fiber;
//   * on a fiber of another reactor: fn is posted, and the calling fiber parks (its reactor keeps
//     running other fibers) until the result is posted back. It need not park at all: when fn
//     finished before the post returned (the calling thread was descheduled), the result is
//     already there, so other fibers of the caller's reactor have not necessarily run yet;
//   * on any other thread: fn is posted and the thread blocks until it returns.
//
//   absl::StatusOr<int> n = hop::RunOn<absl::StatusOr<int>>(rt, 0, [&] { return Count(); });
//
// R must be constructible from absl::Status: if the runtime stops before fn runs, the result is
// kCancelled "runtime stopped before the call ran". fn may block (it runs on a fiber).
#ifndef DRPC_DRPC_HOP_H_
#define DRPC_DRPC_HOP_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "impl/runtime/reactor.h"
#include "impl/runtime/runtime.h"
#include "proto/base/check.h"

namespace drpc::hop {

// Posts fn to reactor `index` from any thread, never failing for a full inbox: a reactor's fiber
// yields and retries, another thread waits for room. kFailedPrecondition once the runtime stopped
// (fn is then destroyed unrun).
absl::Status Post(runtime::Runtime& rt, size_t index, absl::AnyInvocable<void()> fn);

namespace hop_internal {
// Parks the calling fiber of `here` until *done (set on `here`'s thread).
void ParkUntil(runtime::Reactor& here, const bool& done);
// Wakes `fiber` on `here` after setting *done; posted from the reactor that ran fn.
void PostWake(runtime::Reactor& here, std::shared_ptr<bool> done, Fiber* fiber);
}  // namespace hop_internal

template <typename R>
R RunOn(runtime::Runtime& rt, size_t index, absl::AnyInvocable<R()> fn) {
  runtime::Reactor* here = runtime::Reactor::ForThisThread();
  runtime::Reactor& target = rt.reactor(index);
  if (here == &target) return fn();
  if (here == nullptr) {
    return rt.Run(index, [fn = std::move(fn)](runtime::Reactor&) mutable -> R { return fn(); });
  }
  Fiber* self = here->Current();
  DRPC_CHECK(self != nullptr) << "drpc: a hop from a reactor thread must come from a fiber";
  struct State {
    std::optional<R> result;
    std::shared_ptr<bool> done = std::make_shared<bool>(false);
  };
  auto state = std::make_shared<State>();
  // Runs fn, or (destroyed unrun because the runtime stopped) reports that; either way wakes us.
  struct Task {
    std::shared_ptr<State> state;
    runtime::Reactor* here;
    Fiber* fiber;
    absl::AnyInvocable<R()> fn;
    bool ran = false;
    void operator()() {
      state->result.emplace(fn());
      ran = true;
    }
    Task(Task&&) = default;
    Task(std::shared_ptr<State> s, runtime::Reactor* h, Fiber* f, absl::AnyInvocable<R()> g)
        : state(std::move(s)), here(h), fiber(f), fn(std::move(g)) {}
    ~Task() {
      if (state == nullptr) return;  // moved from
      if (!ran) state->result.emplace(R(absl::CancelledError("runtime stopped before the call ran")));
      hop_internal::PostWake(*here, state->done, fiber);
    }
  };
  absl::Status posted = Post(rt, index, [task = Task(state, here, self, std::move(fn))]() mutable {
    task();
  });
  // Even when the post failed: the unrun task has already set `done` (on this thread).
  hop_internal::ParkUntil(*here, *state->done);
  if (!posted.ok()) return R(posted);
  return std::move(*state->result);
}

}  // namespace drpc::hop

#endif  // DRPC_DRPC_HOP_H_
