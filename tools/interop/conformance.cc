#include "tools/interop/conformance.h"

#include <cstdlib>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "impl/context.h"
#include "impl/errors.h"
#include "impl/stream.h"
#include "impl/sync.h"
#include "impl/testing/raw_peer.h"
#include "proto/base/check.h"
#include "proto/frame.h"
#include "proto/limits.h"
#include "proto/metadata.h"

namespace drpc::interop {
namespace {

absl::Status Expect(bool condition, absl::string_view what) {
  return condition ? absl::OkStatus() : absl::InternalError(absl::StrCat("script: ", what));
}

// A unary call whose outcome is not checked here (the bytes are).
absl::Status Unary(Env& env, Conn& conn, const std::string& rpc, const std::string& req,
                   CallContext* call = nullptr) {
  CallContext own(env);
  conn.Invoke(call ? *call : own, rpc, req).IgnoreError();
  return absl::OkStatus();
}

// The Message bytes the Go client sent in a capture (for payloads the README does not spell out).
std::string ClientMessage(const std::string& name) {
  absl::StatusOr<Capture> c = LoadCapture(CaptureRoot(), name, 1);
  std::string out;
  if (!c.ok()) return out;
  absl::StatusOr<std::vector<testing::RawFrame>> frames = testing::Decode(c->c2s);
  if (!frames.ok()) return out;
  for (const testing::RawFrame& f : *frames) {
    if (f.kind == Kind::kMessage) out += f.data;
  }
  return out;
}

Script ServerStream(const std::string& n) {
  return [n](Env& env, Conn& conn) -> absl::Status {
    CallContext call(env);
    absl::StatusOr<std::shared_ptr<RpcStream>> st = conn.NewStream(call, "/interop.Echo/ServerStream");
    if (!st.ok()) return st.status();
    if (absl::Status s = (*st)->SendLast(n); !s.ok()) return s;
    while ((*st)->Recv().ok()) {
    }
    return absl::OkStatus();
  };
}

absl::Status ClientStream(Env& env, Conn& conn) {
  CallContext call(env);
  absl::StatusOr<std::shared_ptr<RpcStream>> st = conn.NewStream(call, "/interop.Echo/ClientStream");
  if (!st.ok()) return st.status();
  for (const char* m : {"abc", "de", "f"}) {
    if (absl::Status s = (*st)->Send(m); !s.ok()) return s;
  }
  if (absl::Status s = (*st)->CloseSend(); !s.ok()) return s;
  return Expect((*st)->Recv().value_or("?") == "6", "client stream reply");
}

absl::Status Bidi(Env& env, Conn& conn) {
  CallContext call(env);
  absl::StatusOr<std::shared_ptr<RpcStream>> st = conn.NewStream(call, "/interop.Echo/Bidi");
  if (!st.ok()) return st.status();
  for (const char* m : {"one", "two", "three"}) {
    if (absl::Status s = (*st)->Send(m); !s.ok()) return s;
    if (absl::Status s = Expect((*st)->Recv().value_or("?") == m, "echo"); !s.ok()) return s;
  }
  if (absl::Status s = (*st)->CloseSend(); !s.ok()) return s;
  return Expect(IsEof((*st)->Recv().status()), "EOF after CloseSend");
}

// Complete frames in `bytes`, not counting Close frames.
size_t CountFramesIgnoringClose(absl::string_view bytes) {
  size_t count = 0;
  while (!bytes.empty()) {
    size_t used = 0;
    absl::StatusOr<std::optional<Frame>> f = ParseFrame(bytes, limits::kPacketLimitMaxBytes, &used);
    if (!f.ok() || !f->has_value()) break;
    if ((*f)->kind != Kind::kClose) ++count;
    bytes.remove_prefix(used);
  }
  return count;
}

}  // namespace

std::string CaptureRoot() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  return absl::StrCat(srcdir ? srcdir : ".", "/", ws ? ws : "drpc_cpp", "/corpus/conformance");
}

std::map<std::string, Script> ClientScripts() {
  std::map<std::string, Script> s;
  s["unary"] = [](Env& env, Conn& conn) {
    return Unary(env, conn, "/interop.Echo/Unary", "hello drpc");
  };
  s["unary_empty"] = [](Env& env, Conn& conn) { return Unary(env, conn, "/interop.Echo/Unary", ""); };
  s["unary_large"] = [](Env& env, Conn& conn) -> absl::Status {
    const std::string big = ClientMessage("unary_large");
    if (absl::Status st = Expect(big.size() == 200000, "unary_large payload"); !st.ok()) return st;
    return Unary(env, conn, "/interop.Echo/Unary", big);
  };
  s["unary_sequential"] = [](Env& env, Conn& conn) -> absl::Status {
    for (int i = 0; i < 3; ++i) Unary(env, conn, "/interop.Echo/Unary", absl::StrCat("call-", i)).IgnoreError();
    return absl::OkStatus();
  };
  s["server_stream"] = ServerStream("5");
  s["server_stream_zero"] = ServerStream("0");
  s["client_stream"] = ClientStream;
  s["bidi"] = Bidi;
  s["fail"] = [](Env& env, Conn& conn) -> absl::Status {
    Unary(env, conn, "/interop.Echo/Fail", "x").IgnoreError();
    return Unary(env, conn, "/interop.Echo/Unary", "after-fail");
  };
  s["meta"] = [](Env& env, Conn& conn) -> absl::Status {
    CallContext call(env);
    call.metadata() = {{"alpha", "1"}, {"beta", "two"}};
    Unary(env, conn, "/interop.Echo/Meta", "", &call).IgnoreError();
    return Unary(env, conn, "/interop.Echo/Meta", "");
  };
  s["unknown_rpc"] = [](Env& env, Conn& conn) -> absl::Status {
    Unary(env, conn, "/interop.Echo/DoesNotExist", "x").IgnoreError();
    return Unary(env, conn, "/interop.Echo/Unary", "after-unknown");
  };
  return s;
}

std::vector<std::string> NormaliseClientBytes(absl::string_view bytes) {
  absl::StatusOr<std::vector<testing::RawFrame>> frames = testing::Decode(bytes);
  std::vector<std::string> out;
  if (!frames.ok()) return {frames.status().ToString()};
  for (testing::RawFrame& f : *frames) {
    if (f.kind == Kind::kClose) continue;
    if (f.kind == Kind::kInvokeMetadata) {
      absl::StatusOr<Metadata> md = DecodeMetadata(f.data);
      f.data = md.ok() ? EncodeMetadata(*md) : "undecodable";
    }
    out.push_back(f.ToString() + (f.data.size() > 40 ? absl::StrCat(" len=", f.data.size(), " crc=",
                                                                      std::hash<std::string>{}(f.data))
                                                      : ""));
  }
  return out;
}

ServerReplayResult ReplayServer(Env& env, Transport& transport, const Capture& capture,
                                Duration patience) {
  ServerReplayResult result;
  WaitList arrived(env);
  Signal reader_done(env);
  DRPC_CHECK_OK(env.scheduler().Spawn("replay server reader", [&] {
    char buf[65536];
    for (;;) {
      absl::StatusOr<size_t> n = transport.Read(buf, sizeof(buf));
      if (!n.ok()) break;
      result.client_bytes.append(buf, *n);
      arrived.WakeAll();
    }
    result.client_closed = true;
    arrived.WakeAll();
    reader_done.Set();
  }));
  size_t recorded_client_bytes = 0;
  for (const TimelineEvent& e : capture.timeline) {
    if (!result.error.ok()) break;
    if (e.type == TimelineEvent::Type::kClientBytes) {
      recorded_client_bytes = std::max(recorded_client_bytes, e.offset + e.size);
      continue;
    }
    if (e.type != TimelineEvent::Type::kServerBytes) continue;
    const size_t want = CountFramesIgnoringClose(capture.c2s.substr(0, recorded_client_bytes));
    const Instant deadline = env.clock().Now() + patience;
    while (CountFramesIgnoringClose(result.client_bytes) < want && !result.client_closed) {
      if (!arrived.Wait("replay server: waiting for client frames", deadline)) break;
    }
    if (CountFramesIgnoringClose(result.client_bytes) < want) {
      result.error = absl::DeadlineExceededError(absl::StrCat(
          capture.name, ": the client sent ", CountFramesIgnoringClose(result.client_bytes),
          " frames, the Go client had sent ", want, " by this point"));
      break;
    }
    if (absl::Status s = transport.Write(absl::string_view(capture.s2c).substr(e.offset, e.size));
        !s.ok()) {
      result.error = s;
    }
  }
  const Instant deadline = env.clock().Now() + patience;
  while (result.error.ok() && !result.client_closed) {
    if (!arrived.Wait("replay server: waiting for the client to close", deadline)) {
      result.error = absl::DeadlineExceededError(
          absl::StrCat(capture.name, ": the client did not close the connection"));
    }
  }
  transport.Close();
  reader_done.Wait("replay server: joining the reader");
  return result;
}

}  // namespace drpc::interop
