// Mux mode against raw peers speaking the cockroachdb/drpc fork's wire (docs/protocol.md §14–§19):
// golden bytes of its Error bodies (§16.3, the §15.1 capture), its MaxStreams refusal (§18), its
// stream-scoped oversize handling whatever the framing (§15.4, §16.3) and its per-stream
// compression (§19).
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/conn.h"
#include "impl/error_body.h"
#include "impl/errors.h"
#include "impl/sync.h"
#include "impl/testing/echo_service.h"
#include "proto/base/check.h"
#include "proto/compression.h"
#include "proto/error_codec.h"
#include "proto/metadata.h"
#include "proto/snappy_block.h"
#include "sim/testing/expect.h"
#include "sim/testing/harness.h"
#include "sim/testing/wire_harness.h"

namespace drpc {
namespace {

using testing::ExpectOk;
using testing::Describe;
using testing::ClientSide;
using testing::F;
using testing::MuxOptions;
using testing::Pair;
using testing::RawFrame;
using testing::RunClient;
using testing::RunPair;
using testing::RunServer;
using testing::ServerSide;

std::string Wire(const RawFrame& f) { return testing::Encode({f}); }

std::string Hex(absl::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) absl::StrAppend(&out, out.empty() ? "" : " ", absl::Hex(c, absl::kZeroPad2));
  return out;
}

Router ForkRouter() {
  Router router = testing::EchoRouter();
  // A plain error without a DRPC code: what a fork handler's error is (§16.2).
  DRPC_CHECK_OK(router.Unary("/t.T/Boom", [](CallContext&, absl::string_view) -> absl::StatusOr<std::string> {
    return WithRemoteErrorCode(absl::UnknownError("boom"), 0);
  }));
  return router;
}

// §15.1, §16.3: a handler error "boom" on stream 1 is 07 01 01 09 01 08 02 12 04 "boom", byte for
// byte what the fork's server sends.
TEST(MuxForkWireTest, AHandlerErrorIsTheForksErrorBody) {
  const Router router = ForkRouter();
  ExpectOk(RunServer(MuxOptions(), [](ServerSide& s) {
    s.sim.Check(s.client.Write({F(Kind::kInvoke, 1, 1, "/t.T/Boom"), F(Kind::kMessage, 1, 2, "x"),
                                F(Kind::kCloseSend, 1, 3)})
                    .ok(),
                "call");
    absl::StatusOr<RawFrame> error = s.client.ReadFrame();
    s.sim.Check(error.ok() && Hex(Wire(*error)) == "07 01 01 09 01 08 02 12 04 62 6f 6f 6d",
                Describe(error));
  }, 1, &router));
}

// The fork's body read by our client: kUnknown "boom", no DRPC code (0). An upstream body under
// the fork's format is never taken for the other format: that stream fails with the fork's words
// ("unsupported error version: 0"), and the connection goes on.
TEST(MuxForkWireTest, ForkErrorBodiesAreReadAndTheOtherFormatIsRefusedClearly) {
  ExpectOk(RunClient(MuxOptions(), [](ClientSide& c) {
    CallContext ctx(c.sim.env());
    absl::StatusOr<std::string> boom, upstream;
    Signal done(c.sim.env());
    DRPC_CHECK_OK(c.sim.env().scheduler().Spawn("caller", [&] {
      boom = c.conn.Invoke(ctx, "/interop.Echo/Fail", "x");
      upstream = c.conn.Invoke(ctx, "/interop.Echo/Fail", "x");
      done.Set();
    }));
    for (int i = 0; i < 3; ++i) c.server.ReadFrame().IgnoreError();
    std::string fork_body("\x01\x08\x02\x12\x04" "boom", 9);
    c.sim.Check(c.server.Write({F(Kind::kError, 1, 1, fork_body)}).ok(), "fork error");
    for (int i = 0; i < 3; ++i) c.server.ReadFrame().IgnoreError();
    c.sim.Check(c.server.Write({F(Kind::kError, 2, 1, EncodeError(42, "boom"))}).ok(), "upstream");
    done.Wait("caller");
    c.sim.Check(absl::IsUnknown(boom.status()) && boom.status().message() == "boom" &&
                    RemoteErrorCode(boom.status()) == 0,
                boom.status().ToString());
    c.sim.Check(IsProtocolError(upstream.status()) &&
                    absl::StrContains(upstream.status().message(), "unsupported error version: 0"),
                upstream.status().ToString());
    c.sim.Check(!c.conn.closed().IsSet(), "the connection ended");
  }));
}

// §16.3, §18: the refusal of stream 5 over a limit of 1 is 07 05 01 47 | 01 08 02 12 42 + the
// fork's 66-byte text (75 bytes); the connection stays, and the refused caller of ours reads it
// as kResourceExhausted.
TEST(MuxForkWireTest, AMaxStreamsRefusalIsTheForksBytes) {
  Options o = MuxOptions();
  o.concurrent_streams_max_count = 1;
  ExpectOk(RunServer(o, [](ServerSide& s) {
    s.sim.Check(s.client.Write({F(Kind::kInvoke, 1, 1, "/interop.Echo/Bidi"),
                                F(Kind::kInvoke, 5, 1, "/interop.Echo/Unary")})
                    .ok(),
                "w");
    absl::StatusOr<RawFrame> refusal = s.client.ReadFrame();
    const std::string text = "too many concurrent streams: refused: at most 1 concurrent streams";
    s.sim.Check(refusal.ok() && Wire(*refusal) == std::string("\x07\x05\x01\x47\x01\x08\x02\x12\x42", 9) + text &&
                    Wire(*refusal).size() == 75,
                Describe(refusal));
    const absl::Status seen = StatusFromErrorBody(ErrorFormat::kGrpcStatus, refusal->data);
    s.sim.Check(absl::IsResourceExhausted(seen) && seen.message() == text, seen.ToString());
    s.sim.Check(s.client.Write({F(Kind::kMessage, 1, 2, "still here")}).ok(), "w");
    absl::StatusOr<RawFrame> echo = s.client.ReadFrame();
    s.sim.Check(echo.ok() && *echo == F(Kind::kMessage, 1, 1, "still here"), Describe(echo));
  }));
}

// §15.4: a message over the limit fails only its stream whatever its framing — one frame of 4 MiB
// + 1 (its data skipped, never buffered) or 65 frames — with an abortive Error (87) carrying
// ResourceExhausted and the fork's text; the next stream on the connection works.
TEST(MuxForkWireTest, AnOversizeMessageFailsOnlyItsStreamWhateverItsFraming) {
  for (bool one_frame : {true, false}) {
    ExpectOk(RunServer(MuxOptions(), [one_frame](ServerSide& s) {
      const std::string big(4 * 1024 * 1024 + 1, 'o');
      std::vector<RawFrame> frames = {F(Kind::kInvoke, 1, 1, "/interop.Echo/Unary")};
      if (one_frame) {
        frames.push_back(F(Kind::kMessage, 1, 2, big));
      } else {
        for (size_t at = 0; at < big.size(); at += 64 * 1024) {
          RawFrame f = F(Kind::kMessage, 1, 2, big.substr(at, 64 * 1024));
          f.done = at + 64 * 1024 >= big.size();
          frames.push_back(std::move(f));
        }
        s.sim.Check(frames.size() == 66, absl::StrCat(frames.size()));
      }
      frames.push_back(F(Kind::kCloseSend, 1, 3));
      s.sim.Check(s.client.WriteBytes(testing::Encode(frames)).ok(), "write");
      absl::StatusOr<RawFrame> error = s.client.ReadFrame();
      const std::string text = "message too large: message size exceeds maximum of 4194304 bytes";
      s.sim.Check(error.ok() &&
                      Wire(*error) == std::string("\x87\x01\x01\x45\x01\x08\x08\x12\x40", 9) + text,
                  Describe(error));
      s.sim.Check(s.client.Write({F(Kind::kInvoke, 3, 1, "/interop.Echo/Unary"),
                                  F(Kind::kMessage, 3, 2, "next"), F(Kind::kCloseSend, 3, 3)})
                      .ok(),
                  "w");
      absl::StatusOr<RawFrame> reply = s.client.ReadFrame();
      s.sim.Check(reply.ok() && *reply == F(Kind::kMessage, 3, 1, "next"), Describe(reply));
    }));
  }
}

// §16.3: with the fork's defaults (64 MiB), on the peer's stream 1 after we sent three packets
// on it, the abortive Error is 87 01 04 46 | 01 08 08 12 41 + 65 bytes — decided as soon as the
// frame's header arrives.
TEST(MuxForkWireTest, AnOversizeFrameWithTheForksDefaultsIsTheCapturedBytes) {
  ExpectOk(RunServer(Options::ForkDefaults(), [](ServerSide& s) {
    s.sim.Check(s.client.Write({F(Kind::kInvoke, 1, 1, "/interop.Echo/Bidi"),
                                F(Kind::kMessage, 1, 2, "a"), F(Kind::kMessage, 1, 3, "b"),
                                F(Kind::kMessage, 1, 4, "c")})
                    .ok(),
                "w");
    for (int i = 0; i < 3; ++i) s.client.ReadFrame().IgnoreError();  // echoes 1..3
    // Only the header of a 64 MiB + 1 frame: the verdict does not wait for its data.
    std::string header;
    header.push_back(static_cast<char>(EncodeHeader(Kind::kMessage, true, false)));
    header += std::string("\x01\x05\x81\x80\x80\x20", 6);  // stream 1, message 5, 64 MiB + 1
    s.sim.Check(s.client.WriteBytes(header).ok(), "w");
    absl::StatusOr<RawFrame> error = s.client.ReadFrame();
    const std::string text = "message too large: message size exceeds maximum of 67108864 bytes";
    s.sim.Check(error.ok() &&
                    Wire(*error) == std::string("\x87\x01\x04\x46\x01\x08\x08\x12\x41", 9) + text,
                Describe(error));
  }));
}

// §19: a client asking for snappy says so in its metadata and sends Snappy blocks; the server
// honours it both ways (the handler sees neither the key nor a compressed byte).
TEST(MuxForkWireTest, SnappyIsAskedForInMetadataAndUsedBothWays) {
  Options o = MuxOptions();
  o.compression = Compression::kSnappy;
  ExpectOk(RunClient(o, [](ClientSide& c) {
    CallContext ctx(c.sim.env());
    ctx.metadata()["k"] = "v";
    absl::StatusOr<std::string> reply;
    Signal done(c.sim.env());
    const std::string request(3000, 'z');
    DRPC_CHECK_OK(c.sim.env().scheduler().Spawn("caller", [&] {
      reply = c.conn.Invoke(ctx, "/pkg.Svc/Echo", request);
      done.Set();
    }));
    absl::StatusOr<RawFrame> md = c.server.ReadFrame();
    absl::StatusOr<Metadata> decoded = DecodeMetadata(md->data);
    c.sim.Check(decoded.ok() && decoded->at("drpc-compression") == "snappy" && decoded->at("k") == "v",
                Describe(md));
    c.server.ReadFrame().IgnoreError();  // Invoke
    absl::StatusOr<RawFrame> m = c.server.ReadFrame();
    c.sim.Check(m.ok() && m->data == SnappyEncodeBlock(request), Describe(m));
    c.server.ReadFrame().IgnoreError();  // CloseSend
    c.sim.Check(c.server.Write({F(Kind::kMessage, 1, 1, SnappyEncodeBlock("pong")),
                                F(Kind::kCloseSend, 1, 2)})
                    .ok(),
                "reply");
    done.Wait("caller");
    c.sim.Check(reply.ok() && *reply == "pong", reply.status().ToString());
  }));
  ExpectOk(RunServer(MuxOptions(), [](ServerSide& s) {
    s.sim.Check(s.client.Write({F(Kind::kInvokeMetadata, 1, 1,
                                  EncodeMetadata({{"drpc-compression", "snappy"}, {"k", "v"}})),
                                F(Kind::kInvoke, 1, 2, "/interop.Echo/Meta"),
                                F(Kind::kMessage, 1, 3, SnappyEncodeBlock("")),
                                F(Kind::kCloseSend, 1, 4)})
                    .ok(),
                "w");
    absl::StatusOr<RawFrame> m = s.client.ReadFrame();
    s.sim.Check(m.ok() && m->data == SnappyEncodeBlock("k=v"), Describe(m));
  }));
}

// §19: an unknown compression name refuses that stream (the fork ends the connection over it);
// a decompression bomb fails the receive that meets it with kResourceExhausted, before anything is
// allocated for it; the connection goes on.
TEST(MuxForkWireTest, AnUnknownCompressionOrABombFailsOnlyItsStream) {
  ExpectOk(RunServer(MuxOptions(), [](ServerSide& s) {
    s.sim.Check(s.client.Write({F(Kind::kInvokeMetadata, 1, 1,
                                  EncodeMetadata({{"drpc-compression", "gzip"}})),
                                F(Kind::kInvoke, 1, 2, "/interop.Echo/Unary")})
                    .ok(),
                "w");
    absl::StatusOr<RawFrame> refusal = s.client.ReadFrame();
    s.sim.Check(refusal.ok() && refusal->kind == Kind::kError && refusal->id == PacketId{1, 1} &&
                    absl::StrContains(StatusFromErrorBody(ErrorFormat::kGrpcStatus, refusal->data)
                                          .message(),
                                      "unsupported compression: \"gzip\""),
                Describe(refusal));
    const std::string bomb("\xff\xff\xff\xff\x0f\x00", 6);  // states 4 GiB - 1 bytes
    s.sim.Check(s.client.Write({F(Kind::kInvokeMetadata, 3, 1,
                                  EncodeMetadata({{"drpc-compression", "snappy"}})),
                                F(Kind::kInvoke, 3, 2, "/interop.Echo/Unary"),
                                F(Kind::kMessage, 3, 3, bomb), F(Kind::kCloseSend, 3, 4)})
                    .ok(),
                "w");
    absl::StatusOr<RawFrame> error = s.client.ReadFrame();
    s.sim.Check(error.ok() && error->kind == Kind::kError && error->id.stream == 3, Describe(error));
    const absl::Status failed = StatusFromErrorBody(ErrorFormat::kGrpcStatus, error->data);
    s.sim.Check(absl::IsResourceExhausted(failed), failed.ToString());
    s.sim.Check(s.client.Write({F(Kind::kInvoke, 5, 1, "/interop.Echo/Unary"),
                                F(Kind::kMessage, 5, 2, "fine"), F(Kind::kCloseSend, 5, 3)})
                    .ok(),
                "w");
    absl::StatusOr<RawFrame> reply = s.client.ReadFrame();
    s.sim.Check(reply.ok() && *reply == F(Kind::kMessage, 5, 1, "fine"), Describe(reply));
  }));
}

// Both compressions between our own ends, sizes on both sides of minlz-fastest's Snappy rule
// (4 KiB) and through a flow-controlled window (credit counts compressed bytes).
TEST(MuxForkWireTest, CompressedStreamsRoundTripEverySize) {
  for (Compression c : {Compression::kSnappy, Compression::kMinLzFastest}) {
    Options client = Options::ForkDefaults();
    client.compression = c;
    ExpectOk(RunPair(client, Options::ForkDefaults(), [](Pair& p, sim::SimContext& ctx) {
      absl::StatusOr<std::shared_ptr<RpcStream>> s = p.conn().NewStream(p.ctx(), "/interop.Echo/Bidi");
      for (size_t size : {0, 1, 4096, 4097, 300'000, 3 << 20}) {
        std::string m(size, 'c');
        for (size_t i = 0; i < size; i += 7) m[i] = static_cast<char>('a' + i % 13);
        ctx.Check((*s)->Send(m).ok(), absl::StrCat("send ", size));
        absl::StatusOr<std::string> r = (*s)->Recv();
        ctx.Check(r.ok() && *r == m, absl::StrCat("echo of ", size, ": ", r.status().ToString()));
      }
      ctx.Check((*s)->CloseSend().ok() && IsEof((*s)->Recv().status()), "end");
    }));
  }
}

// A client without compression strips a caller's drpc-compression key, so the server never
// compresses what the client cannot read (the fork's TestCompression_UnsupportedCompression).
TEST(MuxForkWireTest, AStrayCompressionKeyIsStrippedByAClientWithoutCompression) {
  ExpectOk(RunClient(MuxOptions(), [](ClientSide& c) {
    CallContext ctx(c.sim.env());
    ctx.metadata()["drpc-compression"] = "snappy";
    ctx.metadata()["k"] = "v";
    absl::StatusOr<std::shared_ptr<RpcStream>> s = c.conn.NewStream(ctx, "/pkg.Svc/Bidi");
    absl::StatusOr<RawFrame> md = c.server.ReadFrame();
    absl::StatusOr<Metadata> decoded = DecodeMetadata(md->data);
    c.sim.Check(decoded.ok() && decoded->size() == 1 && decoded->contains("k"), Describe(md));
    (*s)->Close().IgnoreError();
  }));
}

// An Invoke the server will not serve is answered, never ignored: stream 0, which our assembler
// reserves, gets an Error too.
TEST(MuxForkWireTest, AnInvokeOnStreamZeroIsAnsweredWithAnError) {
  ExpectOk(RunServer(MuxOptions(), [](ServerSide& s) {
    s.sim.Check(s.client.Write({F(Kind::kInvoke, 0, 1, "/interop.Echo/Unary")}).ok(), "w");
    absl::StatusOr<RawFrame> error = s.client.ReadFrame();
    s.sim.Check(error.ok() && error->kind == Kind::kError && error->id == PacketId{0, 1},
                Describe(error));
    s.sim.Check(!s.served.IsSet(), "the connection ended");
  }));
}

}  // namespace
}  // namespace drpc
