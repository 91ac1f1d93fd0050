// Adversarial peer scenarios: a peer that speaks the wire but mutates what a real client sends —
// stream and message IDs, kinds, lengths, flags, message-ID order — floods control frames, bursts
// calls over the stream limit, stalls mid-frame, dribbles bytes, never reads, opens streams it
// never feeds and sends metadata it never completes, or half-closes right after a call; every
// choice is on the decision tape, so a seed replays exactly and the tape fuzzer searches it.
//
// The hostile connections are served by the same Server as well-behaved clients that keep making
// calls, with the server's buffer budgets and timeouts small enough for the attacks to reach them.
// Oracles on every run:
//   * no crash (a DRPC_CHECK would abort the run) and no hang (the simulator's deadlock check);
//   * budgets held: sampled every 5 ms, the bytes the connections hold stay within their budget
//     plus one read each, and the server-wide count within server_buffered_max_bytes plus one
//     read per connection;
//   * other connections unaffected: every call of the well-behaved clients returns its own
//     request within kGoodCallMax;
//   * the half-close attack's complete call is answered before the connection closes;
//   * liveness after the peer leaves: its connection ends within kLeaveBound of the peer's close,
//     the server lets go of every connection, a fresh connection is served and shutdown completes.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "impl/conn.h"
#include "impl/context.h"
#include "impl/router.h"
#include "impl/server.h"
#include "impl/situations.h"
#include "impl/sync.h"
#include "impl/testing/echo_service.h"
#include "impl/testing/raw_peer.h"
#include "impl/tunables.h"
#include "proto/base/check.h"
#include "proto/limits.h"
#include "sim/scenario.h"

namespace drpc::sim {
namespace {

using testing::Encode;
using testing::F;
using testing::RawFrame;
using testing::RawPeer;

constexpr char kUnary[] = "/interop.Echo/Unary";
constexpr char kServerStream[] = "/interop.Echo/ServerStream";
constexpr char kIgnore[] = "/hostile.H/Ignore";  // a handler that never reads its stream
constexpr Duration kGoodCallMax = Duration::Seconds(1);
constexpr Duration kGoodThinkMin = Duration::Millis(5);
// How long an attack may push bytes the server does not take before the peer gives up.
constexpr Duration kAttackMax = Duration::Seconds(20);
// After the peer closes, its connection must end within this (half_close_grace and a handler's
// reaction to its cancelled context included).
constexpr Duration kLeaveBound = Duration::Seconds(5);
constexpr size_t kPacketMaxBytes = 64 * limits::kKiB;
// What one attack writes at most: past the connection budget (6 MiB below), not much further.
constexpr size_t kAttackMaxBytes = 8 * limits::kMiB;

enum class Attack {
  kMutatedCalls,   // legit calls with IDs, kinds, lengths, flags and message order mutated
  kControlFlood,   // Cancel/Close/CloseSend/WindowUpdate/Error floods, sequential or stepped IDs
  kBurst,          // calls pipelined beyond the stream limit in one write
  kStall,          // a frame cut short, or dribbled a byte at a time
  kNeverRead,      // the peer stops reading while the server has replies to write
  kUnreadStreams,  // messages for handlers that never read them
  kMetadataBomb,   // InvokeMetadata that never completes, or whose Invoke never comes
  kHalfClose,      // a complete call, then shutdown(SHUT_WR)
};
constexpr uint64_t kAttackCount = 8;

Router HostileRouter() {
  Router router = testing::EchoRouter();
  DRPC_CHECK_OK(router.Bidi(kIgnore, [](CallContext& ctx, RpcStream&) -> absl::Status {
    ctx.done_signal().Wait("handler: never reading its stream");
    return ctx.err();
  }));
  return router;
}

Options ServerOptions(SimContext& ctx, bool mux) {
  Options o;
  o.mux = mux;
  o.packet_max_bytes = kPacketMaxBytes;
  o.concurrent_streams_max_count = 64;
  o.connection_buffered_max_bytes = 6 * limits::kMiB;
  o.connection_buffered_reserved_bytes = 256 * limits::kKiB;
  o.server_buffered_max_bytes =
      ctx.Chance("hostile.small_server_budget", 500) ? 2 * limits::kMiB : 64 * limits::kMiB;
  o.recv_stall_timeout = Duration::Seconds(2);
  o.first_frame_timeout = Duration::Seconds(2);
  o.frame_timeout = Duration::Seconds(3);
  o.inactivity_timeout = Duration::Seconds(8);
  return o;
}

// Writes `bytes` in tape-drawn pieces with short pauses, so the server reads them in many ways.
// False once a write fails (the server closed, or the watchdog did).
bool Send(SimContext& ctx, RawPeer& peer, absl::string_view bytes) {
  static constexpr size_t kPieces[] = {1, 7, 512, 16 * 1024, 256 * 1024};
  // At most ~1,000 pieces: tiny pieces only for small writes.
  const size_t piece = std::max(kPieces[ctx.Choose("hostile.piece", std::size(kPieces))],
                                bytes.size() / 1000);
  for (size_t at = 0; at < bytes.size(); at += piece) {
    if (!peer.WriteBytes(bytes.substr(at, piece)).ok()) return false;
    if (ctx.Chance("hostile.pause", 50)) {
      SleepFor(ctx.env(), Duration::Micros(static_cast<int64_t>(ctx.Choose("hostile.pause_us", 2000))),
               "hostile: pausing between writes");
    }
  }
  return true;
}

std::vector<RawFrame> Call(uint64_t id, absl::string_view rpc, std::string request) {
  return {F(Kind::kInvoke, id, 1, std::string(rpc)), F(Kind::kMessage, id, 2, std::move(request)),
          F(Kind::kCloseSend, id, 3)};
}

// One frame changed the way a buggy or hostile client would change it.
void Mutate(SimContext& ctx, RawFrame& f, uint64_t previous_id) {
  switch (ctx.Choose("hostile.mutation", 9)) {
    case 0: f.id.stream = 0; break;
    case 1: f.id.stream += 1024 * (1 + ctx.Choose("hostile.id_step", 64)); break;
    case 2: f.id.stream = uint64_t{1} << 60; break;
    case 3: f.id.stream = previous_id; break;
    case 4: f.kind = static_cast<Kind>(ctx.Choose("hostile.kind", kKindMaxValue + 1)); break;
    case 5: f.id.message = ctx.Choose("hostile.message_id", 4); break;  // 0, repeated, backwards
    case 6: f.done = false; break;
    case 7: f.control = true; break;
    default: f.data.resize(ctx.Choose("hostile.data_size", 3) * 40'000, 'm'); break;
  }
}

void MutatedCalls(SimContext& ctx, RawPeer& peer, uint64_t& next_id) {
  std::vector<RawFrame> frames;
  const uint64_t calls = 1 + ctx.Choose("hostile.calls", 20);
  for (uint64_t c = 0; c < calls; ++c) {
    const uint64_t previous = next_id;
    for (RawFrame& f : Call(++next_id, kUnary, absl::StrCat("mutated ", c))) {
      if (ctx.Chance("hostile.mutate", 300)) Mutate(ctx, f, previous);
      frames.push_back(std::move(f));
    }
  }
  std::string bytes = Encode(frames);
  // Byte-level damage: a flipped bit (a lying length, kind or flag byte), or a cut.
  if (ctx.Chance("hostile.flip", 300)) {
    const size_t at = ctx.Choose("hostile.flip_at", bytes.size());
    bytes[at] = static_cast<char>(bytes[at] ^ (1 << ctx.Choose("hostile.flip_bit", 8)));
  }
  if (ctx.Chance("hostile.cut", 200)) bytes.resize(ctx.Choose("hostile.cut_at", bytes.size()));
  Send(ctx, peer, bytes);
}

void ControlFlood(SimContext& ctx, RawPeer& peer, uint64_t& next_id) {
  static constexpr Kind kKinds[] = {Kind::kCancel, Kind::kClose, Kind::kCloseSend,
                                    Kind::kWindowUpdate, Kind::kError};
  const Kind kind = kKinds[ctx.Choose("hostile.flood_kind", std::size(kKinds))];
  const uint64_t step = ctx.Chance("hostile.flood_stepped", 500) ? 1024 : 1;
  const uint64_t count = 100 + ctx.Choose("hostile.flood_count", 3000);
  const bool control = ctx.Chance("hostile.flood_control", 300);
  std::vector<RawFrame> frames;
  frames.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    RawFrame f = F(kind, next_id + 1 + i * step, 1, kind == Kind::kWindowUpdate ? "\x80\x01" : "");
    f.control = control;
    frames.push_back(std::move(f));
  }
  next_id += count * step;
  Send(ctx, peer, Encode(frames));
}

void Burst(SimContext& ctx, RawPeer& peer, uint64_t& next_id) {
  static constexpr uint64_t kCounts[] = {10, 65, 129, 200};
  const uint64_t calls = kCounts[ctx.Choose("hostile.burst", std::size(kCounts))];
  std::vector<RawFrame> frames;
  for (uint64_t c = 0; c < calls; ++c) {
    for (RawFrame& f : Call(++next_id, kUnary, absl::StrCat("burst ", c))) frames.push_back(f);
  }
  Send(ctx, peer, Encode(frames));
}

void Stall(SimContext& ctx, RawPeer& peer, uint64_t& next_id) {
  const std::string call = Encode(Call(++next_id, kUnary, std::string(300, 's')));
  const size_t cut = ctx.Choose("hostile.stall_at", call.size());
  if (!Send(ctx, peer, call.substr(0, cut))) return;
  if (ctx.Chance("hostile.dribble", 500)) {
    const Duration gap = Duration::Millis(100 + static_cast<int64_t>(ctx.Choose("hostile.gap_ms", 1500)));
    for (size_t at = cut; at < call.size(); ++at) {
      SleepFor(ctx.env(), gap, "hostile: dribbling");
      if (!peer.WriteBytes(call.substr(at, 1)).ok()) return;
    }
    return;
  }
  static constexpr int64_t kStallsMs[] = {500, 2'900, 3'500, 10'000};
  SleepFor(ctx.env(), Duration::Millis(kStallsMs[ctx.Choose("hostile.stall", std::size(kStallsMs))]),
           "hostile: stalling mid-frame");
  if (ctx.Chance("hostile.finish", 500)) peer.WriteBytes(call.substr(cut)).IgnoreError();
}

void NeverRead(SimContext& ctx, RawPeer& peer, uint64_t& next_id) {
  peer.PauseReading();
  std::vector<RawFrame> frames;
  const uint64_t calls = 1 + ctx.Choose("hostile.unread_calls", 8);
  for (uint64_t c = 0; c < calls; ++c) {
    const bool stream = ctx.Chance("hostile.unread_stream", 500);
    for (RawFrame& f : Call(++next_id, stream ? kServerStream : kUnary,
                            stream ? std::string("5000") : std::string(60'000, 'r'))) {
      frames.push_back(std::move(f));
    }
  }
  if (!Send(ctx, peer, Encode(frames))) return;
  SleepFor(ctx.env(), Duration::Millis(static_cast<int64_t>(ctx.Choose("hostile.unread_ms", 6000))),
           "hostile: not reading");
  if (ctx.Chance("hostile.resume", 500)) peer.ResumeReading();
}

void UnreadStreams(SimContext& ctx, RawPeer& peer, uint64_t& next_id) {
  static constexpr size_t kSizes[] = {1024, 16 * 1024, 60 * 1024};
  const uint64_t streams = 1 + ctx.Choose("hostile.ignored_streams", 80);
  const size_t size = kSizes[ctx.Choose("hostile.ignored_size", std::size(kSizes))];
  // Up to ~8 MiB in all: past the connection budget, not much further (a simulated run).
  const uint64_t messages = std::min<uint64_t>(1 + ctx.Choose("hostile.ignored_messages", 32),
                                               1 + kAttackMaxBytes / (streams * size));
  std::vector<RawFrame> frames;
  for (uint64_t s = 0; s < streams; ++s) {
    const uint64_t id = ++next_id;
    frames.push_back(F(Kind::kInvoke, id, 1, kIgnore));
    for (uint64_t m = 0; m < messages; ++m) {
      frames.push_back(F(Kind::kMessage, id, 2 + m, std::string(size, 'u')));
    }
  }
  Send(ctx, peer, Encode(frames));
}

void MetadataBomb(SimContext& ctx, RawPeer& peer, uint64_t& next_id) {
  const uint64_t streams = 1 + ctx.Choose("hostile.bomb_streams", 64);
  const bool complete = ctx.Chance("hostile.bomb_complete", 300);  // then the Invoke never comes
  const uint64_t frames_per_stream =
      complete ? 1
               : std::min<uint64_t>(1 + ctx.Choose("hostile.bomb_frames", 40),
                                    1 + kAttackMaxBytes / (streams * 32 * limits::kKiB));
  std::vector<RawFrame> frames;
  for (uint64_t s = 0; s < streams; ++s) {
    const uint64_t id = ++next_id;
    for (uint64_t i = 0; i < frames_per_stream; ++i) {
      RawFrame f = F(Kind::kInvokeMetadata, id, 1, std::string(32 * 1024, 'b'));
      f.done = complete;
      frames.push_back(std::move(f));
    }
  }
  Send(ctx, peer, Encode(frames));
}

void HalfClose(SimContext& ctx, RawPeer& peer, uint64_t& next_id) {
  const std::string request = absl::StrCat("half-closed ", next_id + 1);
  if (!Send(ctx, peer, Encode(Call(++next_id, kUnary, request)))) return;
  ctx.Check(peer.CloseWrite().ok(), "hostile: half close");
  absl::StatusOr<std::vector<RawFrame>> frames = peer.ReadUntilClosed(kLeaveBound);
  bool answered = false;
  if (frames.ok()) {
    for (const RawFrame& f : *frames) answered = answered || f.data == request;
  }
  ctx.Check(answered, absl::StrCat("a complete call followed by a half close was not answered "
                                   "before the connection closed: ",
                                   frames.ok() ? "no reply" : frames.status().ToString()));
}

void RunAttack(SimContext& ctx, RawPeer& peer, Attack attack) {
  uint64_t next_id = 0;
  switch (attack) {
    case Attack::kMutatedCalls: MutatedCalls(ctx, peer, next_id); break;
    case Attack::kControlFlood: ControlFlood(ctx, peer, next_id); break;
    case Attack::kBurst: Burst(ctx, peer, next_id); break;
    case Attack::kStall: Stall(ctx, peer, next_id); break;
    case Attack::kNeverRead: NeverRead(ctx, peer, next_id); break;
    case Attack::kUnreadStreams: UnreadStreams(ctx, peer, next_id); break;
    case Attack::kMetadataBomb: MetadataBomb(ctx, peer, next_id); break;
    case Attack::kHalfClose: HalfClose(ctx, peer, next_id); return;
  }
  // Then the peer leaves at once, or lingers (the server's timeouts may end it first).
  if (ctx.Chance("hostile.linger", 500)) {
    SleepFor(ctx.env(), Duration::Millis(static_cast<int64_t>(ctx.Choose("hostile.linger_ms", 10'000))),
             "hostile: lingering");
  }
}

// Serves `transport` on a fiber of its own; `served` is set with ServeConn's status.
void Serve(SimContext& ctx, Server& server, std::unique_ptr<Transport> transport, Signal& served,
           absl::string_view name) {
  DRPC_CHECK_OK(ctx.env().scheduler().Spawn(
      std::string(name), [&server, &served, t = std::move(transport)]() mutable {
        served.Set(server.ServeConn(std::move(t)));
      }));
}

// One hostile connection to `server`, from connect to the end of its serving fiber.
void HostileConnection(SimContext& ctx, Server& server, Attack attack) {
  Env& env = ctx.env();
  auto [theirs, ours] = ctx.network().Pipe("hostile");
  Signal served(env);
  Serve(ctx, server, std::move(ours), served, "hostile conn");
  {
    RawPeer peer(env, std::move(theirs));
    Signal attack_done(env);
    Signal watchdog_done(env);
    // A write the server never takes (its reader stopped at the budget) must not hold the peer
    // for ever: after kAttackMax the watchdog closes the peer's transport.
    DRPC_CHECK_OK(env.scheduler().Spawn("hostile watchdog", [&] {
      if (!attack_done.Wait("hostile: watchdog", env.clock().Now() + kAttackMax)) peer.Close();
      watchdog_done.Set();
    }));
    RunAttack(ctx, peer, attack);
    attack_done.Set();
    watchdog_done.Wait("hostile: waiting for the watchdog");
  }
  ctx.Check(served.Wait("hostile: waiting for the server to end the connection",
                        env.clock().Now() + kLeaveBound),
            absl::StrCat("the server still served a hostile connection ", kLeaveBound.ToString(),
                         " after its peer closed"));
}

// Well-behaved clients that keep calling while the attacks go on; each reply must be the
// call's own request, within kGoodCallMax.
class GoodClients {
 public:
  GoodClients(SimContext& ctx, Server& server, bool mux)
      : ctx_(ctx), stop_(ctx.env()), calling_(ctx.env()), done_(ctx.env()) {
    Options client;
    client.mux = mux;
    const uint64_t connections = 1 + ctx.Choose("hostile.good_connections", 2);
    for (uint64_t c = 0; c < connections; ++c) {
      auto [theirs, ours] = ctx.network().Pipe(absl::StrCat("good ", c));
      served_.push_back(std::make_unique<Signal>(ctx.env()));
      Serve(ctx, server, std::move(ours), *served_.back(), absl::StrCat("good conn ", c));
      absl::StatusOr<std::unique_ptr<Conn>> conn = Conn::Create(ctx.env(), std::move(theirs), client);
      DRPC_CHECK_OK(conn.status());
      conns_.push_back(*std::move(conn));
    }
    for (size_t c = 0; c < conns_.size(); ++c) {
      const uint64_t callers = mux ? 1 + ctx.Choose("hostile.good_callers", 2) : 1;
      for (uint64_t k = 0; k < callers; ++k) {
        done_.Add();
        calling_.Add();
        DRPC_CHECK_OK(ctx.env().scheduler().Spawn(absl::StrCat("good caller ", c, ".", k),
                                                  [this, c, k] { CallUntilStopped(c, k); }));
      }
    }
  }

  uint64_t calls() const { return calls_; }

  // Returns once every caller has begun its first call. A scheduling policy may pass the callers
  // over until the attacks are done (PCT does), so the attacks wait for them to be calling.
  void WaitUntilCalling() { calling_.Wait(); }

  // Stops the callers, closes the connections and waits for the server to end them.
  void Finish(Instant deadline) {
    stop_.Set();
    done_.Wait("hostile: waiting for the good callers");
    for (auto& conn : conns_) conn->Close();
    for (auto& served : served_) {
      ctx_.Check(served->Wait("hostile: waiting for a good connection to end", deadline),
                 "the server still served a closed well-behaved connection");
    }
  }

 private:
  void CallUntilStopped(size_t c, uint64_t k) {
    static constexpr size_t kPads[] = {0, 100, 3000};
    Env& env = ctx_.env();
    for (uint64_t i = 0; !stop_.IsSet(); ++i) {
      std::string request = absl::StrCat("good ", c, ".", k, " #", i, " ");
      request.append(kPads[ctx_.Choose("hostile.good_pad", std::size(kPads))], 'g');
      CallContext call(env);
      call.SetTimeout(kGoodCallMax);
      if (i == 0) calling_.Done();
      const Instant start = env.clock().Now();
      absl::StatusOr<std::string> reply = conns_[c]->Invoke(call, kUnary, request);
      ++calls_;
      if (!reply.ok() || *reply != request) {
        ctx_.Fail(FailureClass::kCorrectness,
                  absl::StrCat("a well-behaved call was disturbed by the hostile peer after ",
                               (env.clock().Now() - start).ToString(), ": ",
                               reply.ok() ? "another reply" : reply.status().ToString()));
        break;
      }
      // At least 5 ms: calls on a link without latency take no virtual time, and a caller that
      // never waited would keep the clock still (an exhausted fuzzer tape draws zeros).
      SleepFor(env, kGoodThinkMin + Duration::Micros(static_cast<int64_t>(
                                        ctx_.Choose("hostile.good_think_us", 10'000))),
               "good caller: thinking");
    }
    done_.Done();
  }

  SimContext& ctx_;
  Signal stop_;
  WaitGroup calling_;
  WaitGroup done_;
  std::vector<std::unique_ptr<Signal>> served_;
  std::vector<std::unique_ptr<Conn>> conns_;
  uint64_t calls_ = 0;
};

// The budget oracle: samples what the server's connections hold until `stop` is set.
void SampleBudgets(SimContext& ctx, const Server& server, const Options& o, Signal& stop,
                   Signal& done) {
  // Beyond its budget, a connection may hold what one read brought in (checked before each read)
  // and a reply its handler is writing.
  const size_t slack = tunables::kReadMaxBytes + 2 * o.packet_max_bytes;
  while (!stop.IsSet()) {
    const size_t connections = server.active_connections();
    const size_t held = server.usage().buffered_bytes;
    const size_t server_held = server.server_buffers().used_bytes();
    if (held > connections * (o.connection_buffered_max_bytes + slack) ||
        server_held > o.server_buffered_max_bytes + connections * slack) {
      ctx.Fail(FailureClass::kCorrectness,
               absl::StrCat("buffer budget exceeded: ", connections, " connections hold ", held,
                            " bytes (", o.connection_buffered_max_bytes,
                            " each allowed), the server budget counts ", server_held, " of ",
                            o.server_buffered_max_bytes));
      break;
    }
    stop.Wait("hostile: sampling the budgets", ctx.env().clock().Now() + Duration::Millis(5));
  }
  done.Set();
}

void Hostile(SimContext& ctx, bool mux) {
  Env& env = ctx.env();
  const Router router = HostileRouter();
  const Options options = ServerOptions(ctx, mux);
  Server server(env, router, options);
  Signal stop_sampling(env), sampled(env);
  DRPC_CHECK_OK(env.scheduler().Spawn("budget sampler", [&] {
    SampleBudgets(ctx, server, options, stop_sampling, sampled);
  }));
  GoodClients good(ctx, server, mux);
  good.WaitUntilCalling();
  const uint64_t rounds = 1 + ctx.Choose("hostile.rounds", 3);
  for (uint64_t r = 0; r < rounds; ++r) {
    HostileConnection(ctx, server, static_cast<Attack>(ctx.Choose("hostile.attack", kAttackCount)));
  }
  good.Finish(env.clock().Now() + kLeaveBound);
  ctx.Check(good.calls() > 0, "the well-behaved clients made no call");
  stop_sampling.Set();
  sampled.Wait("hostile: waiting for the sampler");
  ctx.Check(server.active_connections() == 0, "the server still serves connections");

  // Liveness after the peers left: a fresh connection is served.
  auto [theirs, ours] = ctx.network().Pipe("probe");
  Signal served(env);
  Serve(ctx, server, std::move(ours), served, "probe conn");
  Options client;
  client.mux = mux;
  absl::StatusOr<std::unique_ptr<Conn>> probe = Conn::Create(env, std::move(theirs), client);
  DRPC_CHECK_OK(probe.status());
  CallContext call(env);
  call.SetTimeout(kGoodCallMax);
  absl::StatusOr<std::string> reply = (*probe)->Invoke(call, kUnary, "probe");
  ctx.Check(reply.ok() && *reply == "probe",
            absl::StrCat("after the attacks a fresh connection is not served: ",
                         reply.ok() ? *reply : reply.status().ToString()));
  (*probe)->Close();
  server.Shutdown(env.clock().Now() + Duration::Seconds(1));
  ctx.Check(served.Wait("hostile: waiting for the probe connection", env.clock().Now() + kLeaveBound),
            "the probe connection outlived the server's shutdown");
}

}  // namespace

DRPC_SIM_SCENARIO(hostile_upstream, {
    .name = "hostile.upstream",
    .description = "an adversarial peer (mutated frames, floods, bursts, stalls, never reading, "
                   "metadata bombs, half-close) beside well-behaved clients, upstream mode",
    .body = [](SimContext& ctx) { Hostile(ctx, false); },
    .situations = {situations::kManagerReadTimedOut,
                   situations::kManagerHalfClosedWithCallsInFlight},
    .default_seeds = 60,
});

DRPC_SIM_SCENARIO(hostile_mux, {
    .name = "hostile.mux",
    .description = "an adversarial peer (mutated frames, floods, bursts, stalls, never reading, "
                   "metadata bombs, half-close) beside well-behaved clients, mux mode",
    .body = [](SimContext& ctx) { Hostile(ctx, true); },
    .situations = {situations::kManagerReadTimedOut,
                   situations::kManagerReaderStoppedAtTheBufferBudget,
                   situations::kManagerHalfClosedWithCallsInFlight},
    .default_seeds = 60,
});

}  // namespace drpc::sim
