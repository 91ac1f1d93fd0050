// Go conformance captures (corpus/conformance/): loading them, and replaying the client side of
// one against a server over any Transport, paced like the recording.
//
//   absl::StatusOr<Capture> c = LoadCapture(dir, "unary", 1);
//   ReplayResult r = ReplayClient(env, transport, *c);   // on a fiber
//   r.server_bytes == c->s2c (for a server that answers exactly like Go's)
#ifndef DRPC_TOOLS_INTEROP_CAPTURE_H_
#define DRPC_TOOLS_INTEROP_CAPTURE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "impl/env.h"
#include "impl/time.h"

namespace drpc::interop {

struct TimelineEvent {
  enum class Type { kClientBytes, kServerBytes, kClientEnd, kServerEnd };
  Type type;
  Duration at;        // since the connection opened
  size_t offset = 0;  // for bytes: the stream offset of the chunk
  size_t size = 0;
};

struct Capture {
  std::string name;  // "unary/conn001"
  std::string c2s;   // client -> server bytes
  std::string s2c;   // server -> client bytes
  std::vector<TimelineEvent> timeline;
};

// The case directories under `root` (sorted), e.g. {"bidi", "cancel_hard_closes", ...}.
std::vector<std::string> ListCases(const std::string& root);
// Connection numbers (1, 2, ...) recorded for a case.
std::vector<int> ListConnections(const std::string& root, const std::string& name);
absl::StatusOr<Capture> LoadCapture(const std::string& root, const std::string& name, int conn);

struct ReplayResult {
  std::string server_bytes;        // everything the server sent
  bool server_closed = false;      // the server ended the connection (EOF or reset)
  absl::Status error;              // a replay problem (timeout waiting for the server, ...)
};

// Plays the client side of `capture` over `transport`: each client chunk at its recorded time
// (virtual or real, whatever the Env's clock is), waiting for the server's recorded bytes before
// the chunks that came after them. Waits at most `patience` for any expected server bytes.
ReplayResult ReplayClient(Env& env, Transport& transport, const Capture& capture,
                          Duration patience = Duration::Seconds(2));

}  // namespace drpc::interop

#endif  // DRPC_TOOLS_INTEROP_CAPTURE_H_
