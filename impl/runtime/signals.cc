#include "impl/runtime/signals.h"

#include <poll.h>
#include <pthread.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

namespace drpc::runtime {

absl::StatusOr<std::unique_ptr<TerminationSignals>> TerminationSignals::Install() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigset_t previous;
  if (const int rc = pthread_sigmask(SIG_BLOCK, &set, &previous); rc != 0) {
    return ErrnoStatus(rc, "pthread_sigmask");
  }
  UniqueFd fd(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!fd.valid()) {
    const int error = errno;
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    return ErrnoStatus(error, "signalfd");
  }
  return std::unique_ptr<TerminationSignals>(new TerminationSignals(std::move(fd), previous));
}

TerminationSignals::~TerminationSignals() {
  fd_.Reset();
  pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
}

int TerminationSignals::Wait(Duration timeout) {
  pollfd p{fd_.get(), POLLIN, 0};
  int timeout_ms = -1;
  if (!timeout.is_infinite()) {
    const int64_t ms = (timeout.nanos() + 999'999) / 1'000'000;
    timeout_ms = ms > INT_MAX ? INT_MAX : static_cast<int>(ms < 0 ? 0 : ms);
  }
  for (;;) {
    const int rc = poll(&p, 1, timeout_ms);
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) return 0;
    signalfd_siginfo info{};
    const ssize_t n = read(fd_.get(), &info, sizeof(info));
    if (n == static_cast<ssize_t>(sizeof(info))) return static_cast<int>(info.ssi_signo);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    return 0;
  }
}

}  // namespace drpc::runtime
