// Shared parts of the whole-connection fuzzers (server_conn_fuzzer.cc, client_conn_fuzzer.cc):
// the connection Options an input picks, the handlers a fuzzed server serves, feeding hostile
// bytes into a simulated transport in fuzzer-chosen pieces, and the memory budget a connection
// must stay within after every piece.
//
//   ConnFuzzInput in = ConnFuzzInput::Parse(data, size);   // options, seed, the peer's bytes
//   RunOnSimulator([&](sim::SimContext& ctx) { ... FeedBytes(ctx, *peer_end, in) ... });
//
// Both run on the simulator's Env (FIFO scheduling, a fixed seed): one input is one deterministic
// run, and every simulator oracle that applies (deadlock, liveness, leaks) is active. A violated
// budget or oracle aborts, so libFuzzer keeps the input.
#ifndef DRPC_FUZZ_CONN_FUZZ_H_
#define DRPC_FUZZ_CONN_FUZZ_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "impl/env.h"
#include "impl/manager.h"
#include "impl/options.h"
#include "impl/router.h"
#include "sim/simulation.h"

namespace drpc::fuzz {

// Input layout: byte 0 picks the Options (bit 0: mux; bits 1-2: a limits profile; bit 3: mux flow
// control off; bit 4: soft cancel), byte 1 seeds the sizes of the pieces the peer's bytes are
// written in, the rest is what the peer sends.
struct ConnFuzzInput {
  Options options;
  uint32_t piece_seed = 0;
  absl::string_view peer_bytes;
  // False for inputs too short to mean anything (run nothing).
  static bool Parse(const uint8_t* data, size_t size, ConnFuzzInput* out);
};

// Names the fuzzed server serves (and the fuzzed client calls): short, so a fuzzer finds them.
inline constexpr char kUnaryRpc[] = "/f/U";         // echoes
inline constexpr char kServerStreamRpc[] = "/f/S";  // request byte n: n % 8 messages
inline constexpr char kClientStreamRpc[] = "/f/C";  // replies with the byte count, after EOF
inline constexpr char kBidiRpc[] = "/f/B";          // echoes each message until EOF
inline constexpr char kSlowRpc[] = "/f/W";          // waits for its context
inline constexpr char kFailRpc[] = "/f/F";          // fails with code 42

Router FuzzRouter();

// Writes `bytes` to `t` in pieces of 1..64 bytes drawn from `seed`, yielding after each so the
// connection under test runs, and calling `after_piece` after each. Stops at the first write error.
void FeedBytes(Env& env, Transport& t, absl::string_view bytes, uint32_t seed,
               absl::FunctionRef<void()> after_piece);

// Reads `t` until it fails, discarding the bytes (the peer never stops reading).
void Drain(Transport& t);

// Aborts (a fuzzer finding) unless `usage` is within what `options` allow a connection with at
// most `calls_max` calls to hold. `what` names the connection in the message.
void CheckBudget(const Manager::Usage& usage, const Options& options, size_t calls_max,
                 absl::string_view what);

// Runs `body` as one simulator run (FIFO, seed 1, no chaos) and aborts if an oracle failed.
void RunOnSimulator(absl::FunctionRef<void(sim::SimContext&)> body, absl::string_view harness);

}  // namespace drpc::fuzz

#endif  // DRPC_FUZZ_CONN_FUZZ_H_
