#include "impl/manager.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "impl/errors.h"
#include "impl/mux_manager.h"
#include "impl/read_sizer.h"
#include "impl/upstream_manager.h"
#include "proto/base/check.h"
#include "proto/frame.h"
#include "proto/limits.h"

namespace drpc {

absl::StatusOr<std::unique_ptr<Manager>> Manager::Create(Env& env,
                                                        std::unique_ptr<Transport> transport,
                                                        Role role, const Options& options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  DRPC_CHECK(transport != nullptr);
  std::unique_ptr<Manager> m;
  if (options.mux) {
    m = std::make_unique<MuxManager>(env, std::move(transport), role, options);
  } else {
    m = std::make_unique<UpstreamManager>(env, std::move(transport), role, options);
  }
  if (absl::Status started = m->Start(); !started.ok()) {
    // No fiber for the reader or the writer (out of stacks): the connection never starts.
    m->Terminate(started);
    m->Close();
    return started;
  }
  return m;
}

Manager::Manager(Env& env, std::unique_ptr<Transport> transport, Role role, const Options& options)
    : env_(&env),
      options_(options),
      transport_(std::move(transport)),
      role_(role),
      closed_(env),
      fibers_(env) {}

Manager::~Manager() {
  DRPC_CHECK(closed_.IsSet()) << "Manager destroyed without Close()";
  DRPC_CHECK_EQ(fibers_.count(), 0) << "Manager destroyed while its fibers run";
}

absl::Status Manager::SpawnFiber(std::string name, absl::AnyInvocable<void()> body) {
  fibers_.Add();
  absl::Status spawned =
      env_->scheduler().Spawn(std::move(name), [this, body = std::move(body)]() mutable {
        body();
        fibers_.Done();
      });
  if (!spawned.ok()) fibers_.Done();
  return spawned;
}

absl::Status Manager::Start() {
  return SpawnFiber(role_ == Role::kClient ? "client conn reader" : "server conn reader",
                    [this] { ReadLoop(); });
}

void Manager::ReadLoop() {
  // Upstream: a frame over the packet limit is Go's connection-fatal "data overflow". Mux: the
  // packet limit is per stream and enforced by assembly (a stream-scoped error), so frames are
  // only bounded by what a default Go peer may send in one frame.
  const size_t frame_max = options_.mux ? std::max(options_.packet_max_bytes,
                                                   limits::kPacketDefaultMaxBytes)
                                        : options_.packet_max_bytes;
  FrameParser parser(FrameParser::Options{.frame_data_max_bytes = frame_max});
  ReadSizer sizer(limits::kReadMinBytes, limits::kReadMaxBytes);
  while (!terminated()) {
    const size_t want = sizer.next();
    char* buf = parser.PrepareAppend(want);
    absl::StatusOr<size_t> n = transport_->Read(buf, want);
    if (!n.ok()) {
      parser.CommitAppend(0);
      Terminate(n.status());
      return;
    }
    parser.CommitAppend(*n);
    sizer.OnRead(*n);
    for (size_t frames = 1;; ++frames) {
      // One large read of tiny frames is a lot of work without a wait on the socket: the other
      // fibers get a turn (limits::kTurnFramesMaxCount).
      if (frames % limits::kTurnFramesMaxCount == 0) {
        env_->scheduler().Yield();
        if (terminated()) return;
      }
      absl::StatusOr<std::optional<Frame>> frame = parser.Next();
      if (!frame.ok()) {
        Terminate(ProtocolError(frame.status().message()));
        return;
      }
      if (!frame->has_value()) break;
      if (absl::Status s = OnFrame(**frame); !s.ok()) {
        Terminate(s);
        return;
      }
      if (terminated()) return;
    }
  }
}

void Manager::Terminate(const absl::Status& reason) {
  if (closed_.IsSet()) return;
  DRPC_CHECK(!reason.ok());
  // Order (spec §11.4): stop the writer so nothing more is queued, close the transport so a
  // blocked write or read returns, then end every stream with the real cause.
  StopWriter(reason);
  transport_->Close();
  closed_.Set(reason);
  for (TimerId id : late_runs_) env_->clock().Cancel(id);
  late_runs_.clear();
  TerminateStreams(reason);
}

void Manager::RunNowOrLate(absl::string_view site, absl::AnyInvocable<void()> fn) {
  if (terminated() || !env_->chaos().Buggify(site)) {
    fn();
    return;
  }
  const Duration delay = Duration::Micros(1 + static_cast<int64_t>(env_->chaos().ChooseRare(site, 500)));
  auto id = std::make_shared<TimerId>(0);
  *id = env_->clock().ScheduleAt(env_->clock().Now() + delay,
                                 [this, id, fn = std::move(fn)]() mutable {
                                   late_runs_.erase(*id);
                                   fn();
                                 });
  late_runs_.insert(*id);
}

void Manager::StopAccepting(const absl::Status& reason) {
  DRPC_CHECK(!reason.ok());
  if (!accepting_.ok()) return;
  accepting_ = reason;
  RefuseQueued();
}

void Manager::Close() {
  Terminate(ClosedError("manager closed: Close called"));
  fibers_.Wait("manager close: waiting for the connection's fibers");
}

absl::Status Manager::StreamErrorFor(Stream::Role role, const absl::Status& reason) {
  if (role == Stream::Role::kServer) {
    if (GetTransportErrorKind(reason) == TransportErrorKind::kEof) return CanceledError();
    return reason;
  }
  if (IsClosed(reason)) return reason;
  return ClosedError("connection closed", reason);
}

}  // namespace drpc
