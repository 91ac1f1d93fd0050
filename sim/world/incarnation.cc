#include "sim/world/incarnation.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "proto/base/check.h"

namespace drpc::sim {

Incarnation::Incarnation(SimScheduler& scheduler, Chaos& chaos, std::string node, int boot,
                         std::function<void()> on_park)
    : scheduler_(&scheduler),
      env_(*this, *this, chaos),
      node_(std::move(node)),
      boot_(boot),
      on_park_(std::move(on_park)),
      links_changed_(env_),
      fiber_exits_(env_) {}

Incarnation::~Incarnation() {
  DRPC_CHECK(!dead_) << "a crashed life of " << node_ << " is never destroyed";
  DRPC_CHECK(fibers_.empty()) << node_ << " destroyed with " << fibers_.size() << " fibers running";
  DRPC_CHECK(closers_.empty()) << node_ << " destroyed with " << closers_.size()
                               << " transports or listeners open";
  // A clean stop may leave timers that nothing owned by this life cancels (the Env's deferred
  // memory trim): they must not fire into a destroyed life.
  for (const auto& [id, unused] : timers_) scheduler_->Cancel(id);
}

TimerId Incarnation::ScheduleAt(Instant deadline, absl::AnyInvocable<void()> callback) {
  if (dead_) return scheduler_->ScheduleAt(Now(), [] {});
  auto id = std::make_shared<TimerId>(0);
  *id = scheduler_->ScheduleAt(deadline, [this, id, callback = std::move(callback)]() mutable {
    timers_.erase(*id);
    if (!dead_) callback();
  });
  timers_.emplace(*id, true);
  return *id;
}

bool Incarnation::Cancel(TimerId id) {
  timers_.erase(id);
  return scheduler_->Cancel(id);
}

absl::Status Incarnation::Spawn(std::string name, absl::AnyInvocable<void()> body) {
  if (dead_) {
    return absl::UnavailableError(absl::StrCat("node ", node_, " has crashed: no fiber for ", name));
  }
  const uint64_t key = next_fiber_++;
  // Counted from now, so a clean stop also waits for fibers that have not started yet.
  fibers_.emplace(key, nullptr);
  absl::Status spawned = scheduler_->Spawn(
      absl::StrCat(node_, "/", name), [this, key, body = std::move(body)]() mutable {
        if (dead_) return;  // spawned before the crash, never started
        fibers_[key] = scheduler_->Current();
        {
          absl::AnyInvocable<void()> run = std::move(body);
          run();
        }  // the body's captures are destroyed while the fiber still counts as this life's
        fibers_.erase(key);
        fiber_exits_.WakeAll();
      });
  if (!spawned.ok()) fibers_.erase(key);
  return spawned;
}

void Incarnation::Park(absl::string_view reason) {
  if (on_park_) on_park_();
  scheduler_->Park(reason);
}

uint64_t Incarnation::Register(std::string what, std::function<void()> close) {
  const uint64_t key = next_key_++;
  closers_.emplace(key, Closer{std::move(what), std::move(close)});
  return key;
}

std::vector<std::string> Incarnation::Registered() const {
  std::vector<std::string> out;
  for (const auto& [key, closer] : closers_) out.push_back(closer.what);
  return out;
}

void Incarnation::Unregister(uint64_t key) { closers_.erase(key); }

void Incarnation::DestroyOwned() {
  DRPC_CHECK(!dead_);
  while (!owned_.empty()) owned_.pop_back();
}

void Incarnation::RunStopHooks() {
  while (!stop_hooks_.empty()) {
    absl::AnyInvocable<void()> hook = std::move(stop_hooks_.back());
    stop_hooks_.pop_back();
    hook();
  }
}

void Incarnation::Crash() {
  if (dead_) return;
  dead_ = true;
  Fiber* self = scheduler_->Current();
  bool self_is_ours = false;
  for (const auto& [key, fiber] : fibers_) {
    if (fiber == nullptr) continue;  // not started: returns at once when it does
    if (fiber == self) {
      self_is_ours = true;
    } else {
      scheduler_->Kill(fiber);
    }
  }
  fibers_.clear();
  for (const auto& [id, unused] : timers_) scheduler_->Cancel(id);
  timers_.clear();
  // Closing wakes the peers' readers (they see EOF or a reset); our own killed fibers ignore it.
  std::map<uint64_t, Closer> closers;
  closers.swap(closers_);
  for (auto& [key, closer] : closers) closer.close();
  if (self_is_ours) scheduler_->Kill(self);
}

}  // namespace drpc::sim
