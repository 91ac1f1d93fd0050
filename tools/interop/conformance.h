// Shared logic of the conformance tests against the Go captures (corpus/conformance/), used on
// the simulator (sim_conformance_test) and over real TCP (tcp_conformance_test) (testonly).
//
//   for (const auto& [name, script] : ClientScripts()) {
//     ... run script(env, conn) with our client; record what it wrote ...
//     EXPECT_EQ(NormaliseClientBytes(sent), NormaliseClientBytes(capture.c2s));
//   }
//   ServerReplayResult r = ReplayServer(env, transport, capture);   // the Go server's side
#ifndef DRPC_TOOLS_INTEROP_CONFORMANCE_H_
#define DRPC_TOOLS_INTEROP_CONFORMANCE_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "impl/conn.h"
#include "impl/env.h"
#include "impl/time.h"
#include "tools/interop/capture.h"

namespace drpc::interop {

// corpus/conformance inside the test's runfiles.
std::string CaptureRoot();

// What the Go client did in a case (corpus/conformance/README.md), done with our client on
// `conn`. Calls the Go client expected to fail (Fail, an unknown rpc) are made and their errors
// ignored: the bytes on the wire are what the tests compare. An error means the script could not
// do what the case does (a stream would not open, an echo was wrong, ...).
using Script = std::function<absl::Status(Env& env, Conn& conn)>;
// By case name; the cases whose client is the upstream Go client and whose calls need no timing.
std::map<std::string, Script> ClientScripts();

// Client bytes as frames with the nondeterministic parts normalised (README "Bytes that are not
// deterministic"): Close frames dropped, metadata decoded and re-encoded in sorted order, long
// payloads summarised by length and hash. Undecodable bytes give one line with the error.
std::vector<std::string> NormaliseClientBytes(absl::string_view bytes);

struct ServerReplayResult {
  std::string client_bytes;    // everything the client sent
  bool client_closed = false;  // the client ended its side (EOF or reset)
  absl::Status error;          // a replay problem (the client never sent what Go's client did)
};

// Plays the Go server's side of `capture` over `transport`: sends each recorded server chunk once
// the client has sent as many frames (Close frames not counted, see NormaliseClientBytes) as the
// Go client had sent before it; then waits for the client to close. Waits at most `patience` for
// any expected client frames.
ServerReplayResult ReplayServer(Env& env, Transport& transport, const Capture& capture,
                                Duration patience = Duration::Seconds(2));

}  // namespace drpc::interop

#endif  // DRPC_TOOLS_INTEROP_CONFORMANCE_H_
