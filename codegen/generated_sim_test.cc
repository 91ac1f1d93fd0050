// Generated code compiled and run on the simulator: the interop.Echo example service and the
// golden features.proto, a generated client against a generated server over a simulated
// connection, in upstream and mux mode, over several seeds (schedules and segmentations).
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "codegen/testdata/features.drpc.h"
#include "examples/echo/echo.drpc.h"
#include "examples/echo/echo_service.h"
#include "gtest/gtest.h"
#include "impl/errors.h"
#include "impl/router.h"
#include "sim/testing/harness.h"

namespace drpc {
namespace {

using interop::Echo;
using interop::EchoMessage;
using testing::Pair;

class GeneratedSimTest : public ::testing::TestWithParam<bool> {
 protected:
  // Upstream with soft cancel, so that a call cancelled by its deadline leaves the connection
  // usable (the default hard cancel closes it, as in Go).
  Options Mode() const {
    Options o = GetParam() ? testing::MuxOptions() : testing::UpstreamOptions();
    o.soft_cancel = true;
    return o;
  }
  void Run(const Handler& handler, std::function<void(Pair&, sim::SimContext&)> body) {
    for (uint64_t seed = 1; seed <= 8; ++seed) {
      sim::RunResult r = testing::RunPair(Mode(), Mode(), body, seed, &handler);
      ASSERT_TRUE(r.ok()) << "seed " << seed << " " << sim::FailureClassName(r.failure) << ": "
                          << r.message << "\n" << r.trace_tail;
    }
  }
};

EchoMessage RichMessage() {
  EchoMessage m;
  m.set_text("hello drpc");
  m.set_sequence(-7);
  m.set_blob(std::string("\0\1\2", 3));
  m.add_numbers(1);
  m.add_numbers(-300);
  m.set_kind(EchoMessage::KIND_BINARY);
  m.mutable_tag()->set_name("t");
  m.set_ratio(0.5);
  m.set_delta(-2);
  m.set_flag(true);
  return m;
}

TEST_P(GeneratedSimTest, EveryShapeRoundTripsTypedMessages) {
  interop::EchoService service;
  Router router;
  ASSERT_TRUE(Echo::Register(router, service).ok());
  Run(router, [](Pair& p, sim::SimContext& sim) {
    const Echo::Client echo(p.conn());
    const EchoMessage rich = RichMessage();
    absl::StatusOr<EchoMessage> unary = echo.Unary(p.ctx(), rich);
    sim.Check(unary.ok() && unary->SerializeAsString() == rich.SerializeAsString(),
              absl::StrCat("unary: ", unary.status().ToString()));

    interop::CountRequest count;
    count.set_count(4);
    absl::StatusOr<ServerStreamCall<EchoMessage>> down = echo.ServerStream(p.ctx(), count);
    sim.Check(down.ok(), down.status().ToString());
    for (int i = 0; i < 4; ++i) {
      absl::StatusOr<EchoMessage> m = down->Recv();
      sim.Check(m.ok() && m->text() == absl::StrCat("msg-", i) && m->sequence() == i,
                absl::StrCat("server stream ", i, ": ", m.status().ToString()));
    }
    sim.Check(IsEof(down->Recv().status()), "server stream ends with EOF");

    absl::StatusOr<ClientStreamCall<EchoMessage, interop::CountReply>> up = echo.ClientStream(p.ctx());
    sim.Check(up.ok(), up.status().ToString());
    for (const char* text : {"abc", "de", "f"}) {
      EchoMessage m;
      m.set_text(text);
      sim.Check(up->Send(m).ok(), "client stream send");
    }
    absl::StatusOr<interop::CountReply> total = up->CloseAndRecv();
    sim.Check(total.ok() && total->messages() == 3 && total->text_bytes() == 6,
              absl::StrCat("client stream: ", total.status().ToString()));

    absl::StatusOr<BidiStreamCall<EchoMessage, EchoMessage>> bidi = echo.Bidi(p.ctx());
    sim.Check(bidi.ok(), bidi.status().ToString());
    for (int i = 0; i < 3; ++i) {
      EchoMessage m;
      m.set_sequence(i);
      sim.Check(bidi->Send(m).ok(), "bidi send");
      absl::StatusOr<EchoMessage> back = bidi->Recv();
      sim.Check(back.ok() && back->sequence() == i, back.status().ToString());
    }
    sim.Check(bidi->CloseSend().ok(), "bidi close send");
    sim.Check(IsEof(bidi->Recv().status()), "bidi ends with EOF");
  });
}

TEST_P(GeneratedSimTest, ErrorsMetadataAndCancellationKeepTheirClasses) {
  interop::EchoService service;
  Router router;
  ASSERT_TRUE(Echo::Register(router, service).ok());
  Run(router, [](Pair& p, sim::SimContext& sim) {
    const Echo::Client echo(p.conn());
    absl::StatusOr<EchoMessage> failed = echo.Fail(p.ctx(), EchoMessage());
    sim.Check(RemoteErrorCode(failed.status()) == 42u && failed.status().message() == "boom",
              failed.status().ToString());

    p.ctx().metadata()["b"] = "2";
    p.ctx().metadata()["a"] = "1";
    absl::StatusOr<interop::MetaReply> meta = echo.Meta(p.ctx(), google::protobuf::Empty());
    sim.Check(meta.ok() && meta->entries_size() == 2 && meta->entries(0).key() == "a" &&
                  meta->entries(1).value() == "2",
              absl::StrCat("meta: ", meta.status().ToString()));

    CallContext slow_ctx(p.env(), p.ctx());
    slow_ctx.SetTimeout(Duration::Millis(50));
    absl::StatusOr<google::protobuf::Empty> slow = echo.Slow(slow_ctx, google::protobuf::Empty());
    sim.Check(absl::IsDeadlineExceeded(slow.status()), slow.status().ToString());

    interop::CountRequest too_many;
    too_many.set_count(-1);
    absl::StatusOr<ServerStreamCall<EchoMessage>> refused = echo.ServerStream(p.ctx(), too_many);
    sim.Check(refused.ok(), refused.status().ToString());
    absl::StatusOr<EchoMessage> first = refused->Recv();
    sim.Check(RemoteErrorCode(first.status()) == 3u, first.status().ToString());

    // The connection is still usable after all of that.
    absl::StatusOr<EchoMessage> after = echo.Unary(p.ctx(), RichMessage());
    sim.Check(after.ok(), after.status().ToString());
  });
}

// A server whose handler for /interop.Echo/Unary replies with bytes that are not an EchoMessage.
TEST_P(GeneratedSimTest, UnparsableBytesFailWithInvalidArgumentOnBothSides) {
  interop::EchoService service;
  Router router;
  ASSERT_TRUE(Echo::Register(router, service).ok());
  ASSERT_TRUE(router
                  .Unary("/interop.Echo/Garbage",
                         [](CallContext&, absl::string_view) -> absl::StatusOr<std::string> {
                           return std::string("\xff\xff\xff", 3);
                         })
                  .ok());
  Run(router, [](Pair& p, sim::SimContext& sim) {
    // Our server, fed a request that does not parse: code 3, the type named.
    absl::StatusOr<std::string> raw = p.conn().Invoke(p.ctx(), Echo::kUnaryRpc, "\xff\xff");
    sim.Check(RemoteErrorCode(raw.status()) == 3u &&
                  absl::StrContains(raw.status().message(), "cannot unmarshal interop.EchoMessage"),
              raw.status().ToString());
    // Our client, fed a reply that does not parse.
    absl::StatusOr<EchoMessage> reply = CallUnary<EchoMessage, EchoMessage>(
        p.conn(), p.ctx(), "/interop.Echo/Garbage", EchoMessage());
    sim.Check(absl::IsInvalidArgument(reply.status()) &&
                  absl::StrContains(reply.status().message(), "invalid protobuf wire format"),
              reply.status().ToString());
  });
}

// An abandoned stream object closes its stream: the next call on an upstream connection (one
// stream at a time) is not held up by it.
TEST_P(GeneratedSimTest, DroppedStreamObjectsCloseTheirStreams) {
  interop::EchoService service;
  Router router;
  ASSERT_TRUE(Echo::Register(router, service).ok());
  Run(router, [](Pair& p, sim::SimContext& sim) {
    const Echo::Client echo(p.conn());
    {
      absl::StatusOr<BidiStreamCall<EchoMessage, EchoMessage>> bidi = echo.Bidi(p.ctx());
      sim.Check(bidi.ok() && bidi->Send(EchoMessage()).ok(), "bidi send");
    }
    {
      interop::CountRequest count;
      count.set_count(100);
      absl::StatusOr<ServerStreamCall<EchoMessage>> down = echo.ServerStream(p.ctx(), count);
      sim.Check(down.ok() && down->Recv().ok(), "server stream: first reply");
    }
    absl::StatusOr<EchoMessage> unary = echo.Unary(p.ctx(), RichMessage());
    sim.Check(unary.ok(), absl::StrCat("unary after dropped streams: ", unary.status().ToString()));
  });
}

INSTANTIATE_TEST_SUITE_P(Modes, GeneratedSimTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Mux" : "Upstream";
                         });

}  // namespace
}  // namespace drpc
