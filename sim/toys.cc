#include "sim/toys.h"

#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "impl/sync.h"
#include "proto/base/check.h"
#include "sim/scenario.h"

namespace drpc::sim {
namespace {

constexpr size_t kMessageMaxBytes = 16 << 20;

absl::Status ReadExactly(Transport& t, char* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    absl::StatusOr<size_t> r = t.Read(buf + got, n - got);
    if (!r.ok()) return r.status();
    got += *r;
  }
  return absl::OkStatus();
}

// Echoes every message back with a "pong:" prefix until the connection ends.
void ServeEcho(std::unique_ptr<Transport> t) {
  for (;;) {
    absl::StatusOr<std::string> m = ReadMessage(*t);
    if (!m.ok()) break;
    if (!WriteMessage(*t, absl::StrCat("pong:", *m)).ok()) break;
  }
  t->Close();
}

// Sends `rounds` pings and checks each pong. Returns the first transport error.
absl::Status Exchange(SimContext& ctx, Transport& t, int rounds, size_t size, int* rounds_ok) {
  for (int i = 0; i < rounds; ++i) {
    std::string ping = absl::StrCat("ping ", i, " ");
    ping.resize(std::max(ping.size(), size), static_cast<char>('a' + i % 26));
    if (absl::Status s = WriteMessage(t, ping); !s.ok()) return s;
    absl::StatusOr<std::string> pong = ReadMessage(t);
    if (!pong.ok()) return pong.status();
    ctx.Check(*pong == absl::StrCat("pong:", ping),
              absl::StrCat("round ", i, ": pong does not echo the ping (", pong->size(), " bytes)"));
    ++*rounds_ok;
  }
  return absl::OkStatus();
}

// The ping-pong toy's situations: a fault was reported, and every round completed.
constexpr Situation kFaultReported{"pp.fault_reported"};
constexpr Situation kAllRounds{"pp.all_rounds"};

void PingPongScenario(SimContext& ctx) {
  NetworkOptions net;
  net.draw_link_per_connection = true;
  net.fault_per_mille = ctx.Chance("pp.faulty", 500) ? 1000 : 0;
  net.heal_at = ctx.now() + Duration::Millis(100);
  ctx.network().set_options(net);
  static constexpr size_t kSizes[] = {0, 1, 7, 200, 5000, 70000};
  const int rounds = 1 + static_cast<int>(ctx.Choose("pp.rounds", 6));
  const size_t size = kSizes[ctx.Choose("pp.size", std::size(kSizes))];
  PingPongReport report = RunPingPong(ctx, rounds, size, std::nullopt);
  if (report.first_error.has_value()) ctx.Reach(kFaultReported);
  if (report.rounds_ok == rounds) ctx.Reach(kAllRounds);
}

}  // namespace

absl::Status WriteMessage(Transport& t, absl::string_view body) {
  std::string wire;
  wire.reserve(4 + body.size());
  const uint32_t n = static_cast<uint32_t>(body.size());
  for (int shift = 24; shift >= 0; shift -= 8) wire.push_back(static_cast<char>((n >> shift) & 0xff));
  wire.append(body.data(), body.size());
  return t.Write(wire);
}

absl::StatusOr<std::string> ReadMessage(Transport& t) {
  char header[4];
  if (absl::Status s = ReadExactly(t, header, 4); !s.ok()) return s;
  uint32_t n = 0;
  for (char c : header) n = (n << 8) | static_cast<unsigned char>(c);
  if (n > kMessageMaxBytes) {
    return absl::InvalidArgumentError(absl::StrCat("message of ", n, " bytes is too large"));
  }
  std::string body(n, '\0');
  if (absl::Status s = ReadExactly(t, body.data(), n); !s.ok()) return s;
  return body;
}

PingPongReport RunPingPong(SimContext& ctx, int rounds, size_t size, std::optional<FaultPlan> plan) {
  Env& env = ctx.env();
  absl::StatusOr<std::unique_ptr<Listener>> listener = ctx.network().Listen("echo");
  ctx.Check(listener.ok(), "listen failed");
  WaitGroup servers(env);
  servers.Add();
  DRPC_CHECK_OK(env.scheduler().Spawn("echo accept", [&] {
    for (;;) {
      absl::StatusOr<std::unique_ptr<Transport>> t = (*listener)->Accept();
      if (!t.ok()) break;
      servers.Add();
      DRPC_CHECK_OK(env.scheduler().Spawn("echo conn", [&servers, t = std::move(*t)]() mutable {
        ServeEcho(std::move(t));
        servers.Done();
      }));
    }
    servers.Done();
  }));

  PingPongReport report;
  const uint64_t faults_before = ctx.network().stats().faults_struck;
  {
    absl::StatusOr<std::unique_ptr<Transport>> t = ctx.network().Dial("echo", plan);
    ctx.Check(t.ok(), "dial failed");
    absl::Status s = Exchange(ctx, **t, rounds, size, &report.rounds_ok);
    if (!s.ok()) {
      report.first_error = s;
      ctx.Check(GetTransportErrorKind(s).has_value(),
                absl::StrCat("not a transport error: ", s.ToString()));
      ctx.Check(ctx.network().stats().faults_struck > faults_before,
                absl::StrCat("transport error without a fault: ", s.ToString()));
    }
    (*t)->Close();
  }
  // Liveness after healing: a fresh connection must complete every round.
  ctx.network().Heal();
  {
    absl::StatusOr<std::unique_ptr<Transport>> t = ctx.network().Dial("echo", FaultPlan::None());
    ctx.Check(t.ok(), "dial after healing failed");
    int ok_after = 0;
    absl::Status s = Exchange(ctx, **t, rounds, size, &ok_after);
    ctx.Check(s.ok(), absl::StrCat("exchange failed after healing: ", s.ToString()));
    (*t)->Close();
  }
  (*listener)->Close();
  servers.Wait("waiting for echo servers");
  return report;
}

namespace {

void InterleaveScenario(SimContext& ctx) {
  Env& env = ctx.env();
  std::vector<int> log;
  WaitGroup wg(env);
  for (int id = 0; id < 4; ++id) {
    wg.Add();
    DRPC_CHECK_OK(env.scheduler().Spawn(absl::StrCat("appender ", id), [&, id] {
      for (int step = 0; step < 3; ++step) {
        log.push_back(id);
        env.scheduler().Yield();
      }
      wg.Done();
    }));
  }
  wg.Wait();
  ctx.Check(log.size() == 12, "lost log entries");
}

void RacyCounterScenario(SimContext& ctx) {
  Env& env = ctx.env();
  int counter = 0;
  WaitGroup wg(env);
  for (int id = 0; id < 2; ++id) {
    wg.Add();
    DRPC_CHECK_OK(env.scheduler().Spawn(absl::StrCat("incrementer ", id), [&] {
      for (int i = 0; i < 3; ++i) {
        const int seen = counter;      // check ...
        env.scheduler().Yield();       // ... across a yield ...
        counter = seen + 1;            // ... then act: a lost update if the other fiber ran
      }
      wg.Done();
    }));
  }
  wg.Wait();
  ctx.Check(counter == 6, absl::StrCat("lost update: counter is ", counter, ", expected 6"));
}

void LockOrderScenario(SimContext& ctx) {
  Env& env = ctx.env();
  Mutex first(env, "lock A"), second(env, "lock B");
  WaitGroup wg(env);
  auto worker = [&](Mutex& a, Mutex& b) {
    MutexLock la(a);
    env.scheduler().Yield();
    MutexLock lb(b);
    wg.Done();
  };
  wg.Add(2);
  DRPC_CHECK_OK(env.scheduler().Spawn("takes A then B", [&] { worker(first, second); }));
  DRPC_CHECK_OK(env.scheduler().Spawn("takes B then A", [&] { worker(second, first); }));
  wg.Wait("waiting for both lock takers");
}

}  // namespace

DRPC_SIM_SCENARIO(toy_ping_pong,
                  {.name = "toy.ping_pong",
                   .description = "length-prefixed echo over a faulty, segmenting network; "
                                  "a fresh connection after healing must succeed",
                   .body = PingPongScenario,
                   .situations = {kFaultReported, kAllRounds},
                   .default_seeds = 300});

DRPC_SIM_SCENARIO(toy_interleave, {.name = "toy.interleave",
                                   .description = "four fibers appending to one log with yields",
                                   .body = InterleaveScenario,
                                   .default_seeds = 100});

DRPC_SIM_SCENARIO(toy_racy_counter,
                  {.name = "toy.racy_counter",
                   .description = "check-then-act across a yield: a lost update the sweep must find",
                   .body = RacyCounterScenario,
                   .default_seeds = 100,
                   .expect_failure = true});

DRPC_SIM_SCENARIO(toy_lock_order,
                  {.name = "toy.lock_order",
                   .description = "two locks taken in opposite orders: a deadlock the sweep must find",
                   .body = LockOrderScenario,
                   .default_seeds = 100,
                   .expect_failure = true});

}  // namespace drpc::sim
