#include "impl/runtime/runtime.h"

#include <pthread.h>
#include <sched.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "proto/base/check.h"

namespace drpc::runtime {
namespace {

// The CPUs this process may run on, in ascending order.
std::vector<int> AllowedCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
    }
  }
  if (cpus.empty()) cpus.push_back(0);
  return cpus;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Runtime>> Runtime::Start(RuntimeOptions options) {
  const std::vector<int> cpus = AllowedCpus();
  const size_t count = options.reactor_count == 0 ? cpus.size() : options.reactor_count;
  if (count > 1024) {
    return absl::InvalidArgumentError(absl::StrCat("runtime: ", count, " reactors is too many"));
  }
  std::unique_ptr<Runtime> rt(new Runtime());
  for (size_t i = 0; i < count; ++i) {
    absl::StatusOr<std::unique_ptr<Reactor>> r = Reactor::Create(i, options.reactor);
    if (!r.ok()) return r.status();
    rt->reactors_.push_back(*std::move(r));
  }
  for (size_t i = 0; i < count; ++i) {
    Reactor* r = rt->reactors_[i].get();
    rt->threads_.emplace_back([r] { r->Loop(); });
    pthread_t handle = rt->threads_.back().native_handle();
    // Thread names are limited to 15 characters.
    pthread_setname_np(handle, absl::StrCat("drpc-reactor-", i % 100).c_str());
    if (options.pin_threads) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(cpus[i % cpus.size()], &set);
      // Pinning is an optimisation: a failure (e.g. a restricted cgroup) is not an error.
      pthread_setaffinity_np(handle, sizeof(set), &set);
    }
  }
  return rt;
}

Runtime::~Runtime() { Stop(); }

absl::Status Runtime::Post(size_t index, absl::AnyInvocable<void(Reactor&)> fn) {
  DRPC_CHECK_LT(index, reactors_.size());
  Reactor* r = reactors_[index].get();
  return r->Post([r, fn = std::move(fn)]() mutable { fn(*r); }, Reactor::PostMode::kFailIfFull);
}

absl::Status Runtime::PostWaiting(size_t index, absl::AnyInvocable<void(Reactor&)> fn) {
  DRPC_CHECK_LT(index, reactors_.size());
  DRPC_CHECK(Reactor::ForThisThread() == nullptr)
      << "Runtime::Run/PostWaiting on a reactor thread would wait for itself; spawn a fiber "
         "or use Post";
  Reactor* r = reactors_[index].get();
  return r->Post([r, fn = std::move(fn)]() mutable { fn(*r); }, Reactor::PostMode::kWaitIfFull,
                 "Runtime::Run");
}

void Runtime::Stop() {
  std::lock_guard<std::mutex> lock(stop_mu_);
  if (stopped_) return;
  DRPC_CHECK(Reactor::ForThisThread() == nullptr) << "Runtime::Stop on a reactor thread";
  stopped_ = true;
  for (auto& r : reactors_) r->RequestStop();
  for (std::thread& t : threads_) t.join();
}

}  // namespace drpc::runtime
