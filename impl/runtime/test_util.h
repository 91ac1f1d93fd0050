// Helpers for the runtime's tests (testonly).
//
//   std::unique_ptr<Runtime> rt = StartRuntime(2);
//   rt->Run(0, [&](Reactor& r) -> absl::Status {
//     absl::StatusOr<TcpPair> p = ConnectedPair(r);      // both ends on r, over loopback
//     ...
//   });
#ifndef DRPC_IMPL_RUNTIME_TEST_UTIL_H_
#define DRPC_IMPL_RUNTIME_TEST_UTIL_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "impl/runtime/reactor.h"
#include "impl/runtime/runtime.h"
#include "impl/runtime/tcp.h"
#include "impl/sync.h"

namespace drpc::runtime::testing {

// Fails the calling test if the runtime cannot start.
std::unique_ptr<Runtime> StartRuntime(size_t reactors, ReactorOptions reactor = ReactorOptions{});

struct TcpPair {
  std::unique_ptr<TcpTransport> client;  // the dialing end
  std::unique_ptr<Transport> server;     // the accepted end
};
// A loopback connection with both ends on `reactor` (call from one of its fibers).
absl::StatusOr<TcpPair> ConnectedPair(Reactor& reactor, const DialOptions& dial = DialOptions{});

// Yields until a fiber of `reactor` is parked with exactly `reason`; kDeadlineExceeded after a
// generous bound (a failure, never a synchronisation).
absl::Status WaitUntilParked(Reactor& reactor, absl::string_view reason);

// Waits for `signal` with a generous failure bound.
absl::Status WaitSet(Signal& signal, Env& env, absl::string_view what);

// Reads until EOF; any other error is returned.
absl::StatusOr<std::string> ReadToEof(Transport& t);
// Reads exactly `n` bytes.
absl::StatusOr<std::string> ReadExactly(Transport& t, size_t n);

// Open descriptors of this process (entries of /proc/self/fd, minus the one used to list them).
int CountOpenFds();

}  // namespace drpc::runtime::testing

#endif  // DRPC_IMPL_RUNTIME_TEST_UTIL_H_
