// A client of the interop.Echo server (examples/echo/server.cc): one call of each RPC shape
// through the generated interop::Echo::Client, printing what comes back.
//
//   bazel run //examples/echo:client                        # calls 127.0.0.1:7777
//   bazel run //examples/echo:client -- --addr=127.0.0.1:40123 --mux --text=hi
//
// Exit code 0 when every call gave the expected answer, 1 otherwise (the reason on stderr).
#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "examples/echo/echo.drpc.h"
#include "impl/conn.h"
#include "impl/errors.h"
#include "impl/runtime/runtime.h"
#include "impl/runtime/tcp.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:7777", "server address");
ABSL_FLAG(bool, mux, false, "multiplexed mode (the server must use --mux too)");
ABSL_FLAG(std::string, text, "hello drpc", "the text to echo");

namespace {

using interop::EchoMessage;

absl::Status Expect(bool ok, absl::string_view what) {
  return ok ? absl::OkStatus() : absl::InternalError(absl::StrCat("unexpected answer: ", what));
}

absl::Status CallStreams(const interop::Echo::Client& echo, drpc::CallContext& ctx) {
  interop::CountRequest count;
  count.set_count(3);
  absl::StatusOr<drpc::ServerStreamCall<EchoMessage>> replies = echo.ServerStream(ctx, count);
  if (!replies.ok()) return replies.status();
  for (;;) {
    absl::StatusOr<EchoMessage> m = replies->Recv();
    if (drpc::IsEof(m.status())) break;
    if (!m.ok()) return m.status();
    std::printf("ServerStream: %s (sequence %lld)\n", m->text().c_str(),
                static_cast<long long>(m->sequence()));
  }

  absl::StatusOr<drpc::ClientStreamCall<EchoMessage, interop::CountReply>> upload =
      echo.ClientStream(ctx);
  if (!upload.ok()) return upload.status();
  EchoMessage part;
  for (const char* text : {"abc", "de", "f"}) {
    part.set_text(text);
    if (absl::Status st = upload->Send(part); !st.ok()) return st;
  }
  absl::StatusOr<interop::CountReply> total = upload->CloseAndRecv();
  if (!total.ok()) return total.status();
  std::printf("ClientStream: %d messages, %lld text bytes\n", total->messages(),
              static_cast<long long>(total->text_bytes()));
  if (absl::Status st = Expect(total->messages() == 3 && total->text_bytes() == 6, "count");
      !st.ok()) {
    return st;
  }

  absl::StatusOr<drpc::BidiStreamCall<EchoMessage, EchoMessage>> bidi = echo.Bidi(ctx);
  if (!bidi.ok()) return bidi.status();
  for (const char* text : {"one", "two", "three"}) {
    part.set_text(text);
    if (absl::Status st = bidi->Send(part); !st.ok()) return st;
    absl::StatusOr<EchoMessage> back = bidi->Recv();
    if (!back.ok()) return back.status();
    std::printf("Bidi: %s\n", back->text().c_str());
  }
  if (absl::Status st = bidi->CloseSend(); !st.ok()) return st;
  return Expect(drpc::IsEof(bidi->Recv().status()), "bidi: EOF after CloseSend");
}

absl::Status CallEverything(drpc::runtime::Reactor& r) {
  drpc::runtime::DialOptions dial;
  dial.timeout = drpc::Duration::Seconds(5);
  auto transport = drpc::runtime::Dial(r, absl::GetFlag(FLAGS_addr), dial);
  if (!transport.ok()) return transport.status();
  drpc::Options options;
  options.mux = absl::GetFlag(FLAGS_mux);
  auto conn = drpc::Conn::Create(r.env(), *std::move(transport), options);
  if (!conn.ok()) return conn.status();
  drpc::CallContext ctx(r.env());
  ctx.SetTimeout(drpc::Duration::Seconds(10));
  const interop::Echo::Client echo(**conn);

  absl::Status result = [&]() -> absl::Status {
    EchoMessage request;
    request.set_text(absl::GetFlag(FLAGS_text));
    request.set_sequence(1);
    absl::StatusOr<EchoMessage> reply = echo.Unary(ctx, request);
    if (!reply.ok()) return reply.status();
    std::printf("Unary: %s\n", reply->text().c_str());
    if (absl::Status st = CallStreams(echo, ctx); !st.ok()) return st;

    absl::StatusOr<EchoMessage> failed = echo.Fail(ctx, request);
    std::printf("Fail: code=%llu %s\n",
                static_cast<unsigned long long>(drpc::RemoteErrorCode(failed.status()).value_or(0)),
                std::string(failed.status().message()).c_str());
    if (absl::Status st = Expect(drpc::RemoteErrorCode(failed.status()) == 42u, "Fail: code 42");
        !st.ok()) {
      return st;
    }
    ctx.metadata()["user"] = "example";
    absl::StatusOr<interop::MetaReply> meta = echo.Meta(ctx, google::protobuf::Empty());
    if (!meta.ok()) return meta.status();
    for (const interop::MetaReply::Entry& e : meta->entries()) {
      std::printf("Meta: %s=%s\n", e.key().c_str(), e.value().c_str());
    }
    return Expect(meta->entries_size() == 1, "Meta: one entry");
  }();
  (*conn)->Close();
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  auto rt = drpc::runtime::Runtime::Start({.reactor_count = 1});
  if (!rt.ok()) {
    std::fprintf(stderr, "echo client: %s\n", rt.status().ToString().c_str());
    return 1;
  }
  const absl::Status st = (*rt)->Run(0, CallEverything);
  (*rt)->Stop();
  if (!st.ok()) {
    std::fprintf(stderr, "echo client: %s\n", st.ToString().c_str());
    return 1;
  }
  return 0;
}
