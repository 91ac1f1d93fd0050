#include "fuzz/conn_fuzz.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "impl/errors.h"
#include "impl/sync.h"
#include "impl/tunables.h"
#include "proto/base/check.h"
#include "proto/limits.h"

namespace drpc::fuzz {
namespace {

// Small limits let short inputs reach every bound: refusals, overflows, stalls, windows.
void ApplyProfile(uint8_t profile, Options& o) {
  switch (profile) {
    case 0:  // the defaults
      break;
    case 1:
      o.packet_max_bytes = limits::kPacketLimitMinBytes * 4;
      o.split_bytes = 16;
      o.concurrent_streams_max_count = 4;
      o.pending_invokes_max_count = 2;
      o.recv_queue_max_count = 2;
      o.recv_queue_max_bytes = 512;
      o.flow.stream_window_bytes = 256;
      o.flow.grant_threshold_bytes = 64;
      o.flow.message_max_bytes = limits::kPacketLimitMinBytes * 4;
      o.recv_stall_timeout = Duration::Millis(10);
      o.server_calls_max_count = 3;
      break;
    case 2:
      o.packet_max_bytes = 4096;
      o.split_bytes = 1;
      o.concurrent_streams_max_count = 16;
      o.pending_invokes_max_count = 4;
      o.recv_queue_max_count = 8;
      o.recv_queue_max_bytes = 8192;
      o.recv_stall_timeout = Duration::Millis(50);
      break;
    default:
      o.flow.stream_window_bytes = 1024;
      o.flow.grant_threshold_bytes = 64;
      o.flow.message_max_bytes = 512;
      o.write_buffer_bytes = 1;
      o.write_batch_max_bytes = 64;
      o.recv_stall_timeout = Duration::Millis(1);
      break;
  }
}

}  // namespace

bool ConnFuzzInput::Parse(const uint8_t* data, size_t size, ConnFuzzInput* out) {
  if (size < 2) return false;
  const uint8_t sel = data[0];
  out->options = Options{};
  out->options.mux = (sel & 1) != 0;
  ApplyProfile((sel >> 1) & 3, out->options);
  out->options.flow.enabled = out->options.mux && (sel & 8) == 0;
  out->options.soft_cancel = (sel & 16) != 0;
  DRPC_CHECK_OK(out->options.Validate());
  out->piece_seed = data[1];
  out->peer_bytes = absl::string_view(reinterpret_cast<const char*>(data) + 2, size - 2);
  return true;
}

Router FuzzRouter() {
  Router r;
  r.Unary(kUnaryRpc, [](CallContext&, absl::string_view req) -> absl::StatusOr<std::string> {
     return std::string(req);
   }).IgnoreError();
  r.ServerStream(kServerStreamRpc,
                 [](CallContext&, absl::string_view req, RpcStream& s) -> absl::Status {
                   const int n = req.empty() ? 1 : static_cast<unsigned char>(req[0]) % 8;
                   for (int i = 0; i < n; ++i) {
                     if (absl::Status st = s.Send(absl::StrCat("m", i)); !st.ok()) return st;
                   }
                   return absl::OkStatus();
                 })
      .IgnoreError();
  r.ClientStream(kClientStreamRpc, [](CallContext&, RpcStream& s) -> absl::StatusOr<std::string> {
     size_t total = 0;
     for (;;) {
       absl::StatusOr<std::string> m = s.Recv();
       if (IsEof(m.status())) return absl::StrCat(total);
       if (!m.ok()) return m.status();
       total += m->size();
     }
   }).IgnoreError();
  r.Bidi(kBidiRpc, [](CallContext&, RpcStream& s) -> absl::Status {
     for (;;) {
       absl::StatusOr<std::string> m = s.Recv();
       if (IsEof(m.status())) return absl::OkStatus();
       if (!m.ok()) return m.status();
       if (absl::Status st = s.Send(*m); !st.ok()) return st;
     }
   }).IgnoreError();
  r.Unary(kSlowRpc, [](CallContext& ctx, absl::string_view) -> absl::StatusOr<std::string> {
     ctx.done_signal().Wait("fuzz: slow handler");
     return ctx.err();
   }).IgnoreError();
  r.Unary(kFailRpc, [](CallContext&, absl::string_view) -> absl::StatusOr<std::string> {
     return WithRemoteErrorCode(absl::UnknownError("boom"), 42);
   }).IgnoreError();
  return r;
}

void FeedBytes(Env& env, Transport& t, absl::string_view bytes, uint32_t seed,
               absl::FunctionRef<void()> after_piece) {
  while (!bytes.empty()) {
    seed = seed * 1103515245u + 12345u;
    const size_t n = std::min<size_t>(1 + ((seed >> 16) % 64), bytes.size());
    if (!t.Write(bytes.substr(0, n)).ok()) return;
    bytes.remove_prefix(n);
    env.scheduler().Yield();
    after_piece();
  }
}

void Drain(Transport& t) {
  char buf[4096];
  while (t.Read(buf, sizeof(buf)).ok()) {
  }
}

void CheckBudget(const Manager::Usage& u, const Options& o, size_t calls_max,
                 absl::string_view what) {
  // Streams being invoked, and as many refused ones whose later frames are still dropped.
  const size_t pending_max = o.mux ? 2 * o.pending_invokes_max_count : 1;
  // A queue admits one message beyond its bound when it is empty; a flow-controlled stream holds
  // at most its window plus one message.
  const size_t message_max = o.mux ? o.MuxMessageMaxBytes() : o.packet_max_bytes;
  const size_t per_stream = std::max<size_t>(
      o.recv_queue_max_bytes + message_max,
      o.mux && o.flow.enabled ? o.flow.stream_window_bytes + o.flow.message_max_bytes : 0);
  DRPC_CHECK_LE(u.streams, calls_max) << what << ": streams";
  DRPC_CHECK_LE(u.pending_invokes, pending_max) << what << ": streams waiting for their Invoke";
  DRPC_CHECK_LE(u.queued_writes, calls_max) << what << ": streams with queued writes";
  // Upstream keeps its current stream until the next one starts, also once it finished: messages
  // the peer sent before ending it may still wait there to be read.
  const size_t holders = o.mux ? u.streams : std::max<size_t>(u.streams, 1);
  DRPC_CHECK_LE(u.queued_bytes, holders * per_stream) << what << ": received bytes queued";
  DRPC_CHECK_LE(u.pooled_bytes, tunables::kBufferPoolMaxBytes) << what << ": pooled buffer bytes";
}

void RunOnSimulator(absl::FunctionRef<void(sim::SimContext&)> body, absl::string_view harness) {
  sim::RunOptions options;
  options.fifo_policy = true;
  options.exit_on_crash = false;  // a failed DRPC_CHECK aborts, which libFuzzer records
  options.time_limit = Duration::Seconds(3600);
  options.step_limit = 5'000'000;
  options.scheduler.stack_bytes = 64 * 1024;
  sim::SeededDecisions decisions(1);
  const sim::RunResult r = sim::RunSimulation(body, decisions, options);
  if (!r.ok()) {
    std::fprintf(stderr, "%s: %s: %s\n", std::string(harness).c_str(),
                 std::string(sim::FailureClassName(r.failure)).c_str(), r.message.c_str());
    std::abort();
  }
}

}  // namespace drpc::fuzz
