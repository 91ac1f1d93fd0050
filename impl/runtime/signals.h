// Termination signals (SIGINT, SIGTERM) delivered as a readable descriptor, for servers that shut
// down gracefully:
//
//   int main() {
//     absl::StatusOr<std::unique_ptr<TerminationSignals>> sig = TerminationSignals::Install();
//     auto runtime = Runtime::Start();        // after Install: reactor threads inherit the mask
//     ... start serving ...
//     (*sig)->Wait();                          // blocks until SIGINT or SIGTERM
//     server->Shutdown(Duration::Seconds(5));
//   }
//
// Install blocks both signals in the calling thread; threads created afterwards inherit the mask,
// so a signal sent to the process stays pending until Wait takes it from the signalfd (no signal
// handler runs, nothing async-signal-unsafe can happen). Install before creating any thread that
// must not receive the signals (a thread created earlier would take the default action: exit).
#ifndef DRPC_IMPL_RUNTIME_SIGNALS_H_
#define DRPC_IMPL_RUNTIME_SIGNALS_H_

#include <signal.h>

#include <memory>

#include "absl/status/statusor.h"
#include "impl/runtime/net.h"
#include "impl/time.h"

namespace drpc::runtime {

class TerminationSignals {
 public:
  static absl::StatusOr<std::unique_ptr<TerminationSignals>> Install();
  // Closes the signalfd and restores the calling thread's previous signal mask (call on the
  // installing thread).
  ~TerminationSignals();
  TerminationSignals(const TerminationSignals&) = delete;
  TerminationSignals& operator=(const TerminationSignals&) = delete;

  // Blocks until SIGINT or SIGTERM is pending, consumes it and returns its number; returns 0 if
  // `timeout` passed first.
  int Wait(Duration timeout = Duration::Infinite());

 private:
  TerminationSignals(UniqueFd fd, sigset_t previous) : fd_(std::move(fd)), previous_(previous) {}
  UniqueFd fd_;
  sigset_t previous_;
};

}  // namespace drpc::runtime

#endif  // DRPC_IMPL_RUNTIME_SIGNALS_H_
