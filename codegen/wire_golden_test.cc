// Wire interop of generated code on protobuf bytes, against the hand-written expected bytes of a
// Go peer in corpus/protobuf_wire/ (see its README), on the simulator in upstream mode:
//   * the generated server (EchoService), fed each case's client bytes, replies with the server
//     bytes exactly;
//   * the generated client, making the case's calls against a peer that answers with the server
//     bytes, sends the client bytes (Close frames and metadata order aside) and decodes the
//     expected values.
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "examples/echo/echo.drpc.h"
#include "examples/echo/echo_service.h"
#include "gtest/gtest.h"
#include "impl/conn.h"
#include "impl/errors.h"
#include "impl/router.h"
#include "impl/server.h"
#include "impl/sync.h"
#include "impl/testing/raw_peer.h"
#include "sim/simulation.h"
#include "tools/interop/capture.h"
#include "tools/interop/conformance.h"
#include "proto/base/check.h"

namespace drpc {
namespace {

using interop::Capture;
using ::interop::Echo;
using ::interop::EchoMessage;
using interop::TimelineEvent;

std::string CaseDir() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  return absl::StrCat(srcdir ? srcdir : ".", "/", ws ? ws : "drpc_cpp", "/corpus/protobuf_wire");
}

// The bytes of one line's tokens: hex pairs and "quoted ASCII", up to a '#' comment.
absl::StatusOr<std::string> ParseBytes(absl::string_view line) {
  std::string out;
  size_t i = 0;
  while (i < line.size()) {
    const char c = line[i];
    if (c == '#') break;
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '"') {
      const size_t end = line.find('"', i + 1);
      if (end == absl::string_view::npos) return absl::InvalidArgumentError("unclosed quote");
      out.append(line.data() + i + 1, end - i - 1);
      i = end + 1;
    } else {
      if (i + 1 >= line.size() || !std::isxdigit(static_cast<unsigned char>(line[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(c))) {
        return absl::InvalidArgumentError(absl::StrCat("bad token at: ", line.substr(i)));
      }
      out += absl::HexStringToBytes(line.substr(i, 2));
      i += 2;
    }
  }
  return out;
}

// A case file as a Capture: each run of lines of one direction is one write in the timeline.
absl::StatusOr<Capture> LoadCase(const std::string& name) {
  std::ifstream in(absl::StrCat(CaseDir(), "/", name, ".txt"));
  if (!in) return absl::NotFoundError(absl::StrCat("no case ", name, " under ", CaseDir()));
  Capture capture;
  capture.name = name;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const bool c2s = absl::StartsWith(line, "c2s ");
    if (!c2s && !absl::StartsWith(line, "s2c ")) continue;
    absl::StatusOr<std::string> bytes = ParseBytes(absl::string_view(line).substr(4));
    if (!bytes.ok()) return absl::InvalidArgumentError(absl::StrCat(name, ":", number, ": ", bytes.status().message()));
    std::string& stream = c2s ? capture.c2s : capture.s2c;
    const auto type = c2s ? TimelineEvent::Type::kClientBytes : TimelineEvent::Type::kServerBytes;
    if (!capture.timeline.empty() && capture.timeline.back().type == type) {
      capture.timeline.back().size += bytes->size();
    } else {
      capture.timeline.push_back({.type = type, .offset = stream.size(), .size = bytes->size()});
    }
    stream += *bytes;
  }
  capture.timeline.push_back({.type = TimelineEvent::Type::kClientEnd});
  return capture;
}

absl::Status Want(bool ok, absl::string_view what) {
  return ok ? absl::OkStatus() : absl::InternalError(absl::StrCat("unexpected: ", what));
}

// The calls of each case, made with the generated client; each checks the decoded replies.
using Script = std::function<absl::Status(const Echo::Client&, CallContext&)>;

absl::Status UnaryRich(const Echo::Client& echo, CallContext& ctx) {
  EchoMessage m;
  m.set_text("hi");
  m.set_sequence(300);
  m.set_blob(std::string("\x00\xff", 2));
  m.add_numbers(1);
  m.add_numbers(-1);
  m.set_kind(EchoMessage::KIND_BINARY);
  m.mutable_tag()->set_name("t");
  m.set_ratio(0.5);
  m.set_delta(-2);
  m.set_flag(true);
  absl::StatusOr<EchoMessage> r = echo.Unary(ctx, m);
  if (!r.ok()) return r.status();
  return Want(r->text() == "hi" && r->sequence() == 300 && r->blob() == m.blob() &&
                  r->numbers_size() == 2 && r->numbers(1) == -1 &&
                  r->kind() == EchoMessage::KIND_BINARY && r->tag().name() == "t" &&
                  r->ratio() == 0.5 && r->delta() == -2 && r->flag(),
              r->ShortDebugString());
}

std::map<std::string, Script> Scripts() {
  std::map<std::string, Script> s;
  s["unary"] = UnaryRich;
  s["unary_empty"] = [](const Echo::Client& echo, CallContext& ctx) {
    absl::StatusOr<EchoMessage> r = echo.Unary(ctx, EchoMessage());
    return r.ok() ? Want(r->ByteSizeLong() == 0, "an empty reply") : r.status();
  };
  s["server_stream"] = [](const Echo::Client& echo, CallContext& ctx) {
    ::interop::CountRequest count;
    count.set_count(2);
    absl::StatusOr<ServerStreamCall<EchoMessage>> call = echo.ServerStream(ctx, count);
    if (!call.ok()) return call.status();
    absl::StatusOr<EchoMessage> a = call->Recv();
    absl::StatusOr<EchoMessage> b = call->Recv();
    return Want(a.ok() && a->text() == "msg-0" && b.ok() && b->text() == "msg-1" &&
                    b->sequence() == 1 && IsEof(call->Recv().status()),
                "msg-0, msg-1, EOF");
  };
  s["client_stream"] = [](const Echo::Client& echo, CallContext& ctx) {
    absl::StatusOr<ClientStreamCall<EchoMessage, ::interop::CountReply>> call = echo.ClientStream(ctx);
    if (!call.ok()) return call.status();
    EchoMessage m;
    for (const char* text : {"abc", "de", ""}) {
      m.set_text(text);
      if (absl::Status st = call->Send(m); !st.ok()) return st;
    }
    absl::StatusOr<::interop::CountReply> r = call->CloseAndRecv();
    return r.ok() ? Want(r->text_bytes() == 5 && r->messages() == 3, r->ShortDebugString())
                  : r.status();
  };
  s["bidi"] = [](const Echo::Client& echo, CallContext& ctx) {
    absl::StatusOr<BidiStreamCall<EchoMessage, EchoMessage>> call = echo.Bidi(ctx);
    if (!call.ok()) return call.status();
    EchoMessage m;
    m.set_text("one");
    if (absl::Status st = call->Send(m); !st.ok()) return st;
    absl::StatusOr<EchoMessage> one = call->Recv();
    m.set_text("two");
    m.set_sequence(2);
    if (absl::Status st = call->Send(m); !st.ok()) return st;
    absl::StatusOr<EchoMessage> two = call->Recv();
    if (absl::Status st = call->CloseSend(); !st.ok()) return st;
    return Want(one.ok() && one->text() == "one" && two.ok() && two->sequence() == 2 &&
                    IsEof(call->Recv().status()),
                "one, two, EOF");
  };
  s["fail"] = [](const Echo::Client& echo, CallContext& ctx) {
    EchoMessage m;
    m.set_text("x");
    absl::StatusOr<EchoMessage> r = echo.Fail(ctx, m);
    return Want(RemoteErrorCode(r.status()) == 42u && r.status().message() == "boom",
                r.status().ToString());
  };
  s["meta"] = [](const Echo::Client& echo, CallContext& ctx) {
    ctx.metadata()["alpha"] = "1";
    ctx.metadata()["beta"] = "two";
    absl::StatusOr<::interop::MetaReply> r = echo.Meta(ctx, google::protobuf::Empty());
    if (!r.ok()) return r.status();
    return Want(r->entries_size() == 2 && r->entries(0).key() == "alpha" &&
                    r->entries(1).value() == "two",
                r->ShortDebugString());
  };
  return s;
}

TEST(WireGoldenTest, GeneratedServerRepliesWithTheExpectedBytes) {
  ::interop::EchoService service;
  Router router;
  ASSERT_TRUE(Echo::Register(router, service).ok());
  for (const auto& entry : Scripts()) {
    absl::StatusOr<Capture> capture = LoadCase(entry.first);
    ASSERT_TRUE(capture.ok()) << capture.status();
    interop::ReplayResult result;
    sim::RunResult run = sim::RunSeed(
        [&](sim::SimContext& ctx) {
          auto [client_end, server_end] = ctx.network().Pipe(capture->name);
          Server server(ctx.env(), router, Options{});
          Signal served(ctx.env());
          DRPC_CHECK_OK(ctx.env().scheduler().Spawn("server", [&, t = std::move(server_end)]() mutable {
            server.ServeConn(std::move(t)).IgnoreError();
            served.Set();
          }));
          result = interop::ReplayClient(ctx.env(), *client_end, *capture);
          server.Shutdown(ctx.now() + Duration::Seconds(1));
          served.Wait("server");
        },
        1, sim::RunOptions{});
    ASSERT_TRUE(run.ok()) << capture->name << ": " << run.message;
    EXPECT_TRUE(result.error.ok()) << capture->name << ": " << result.error;
    EXPECT_EQ(absl::BytesToHexString(result.server_bytes), absl::BytesToHexString(capture->s2c))
        << capture->name << ": our generated server's bytes differ from the expected ones";
  }
}

TEST(WireGoldenTest, GeneratedClientSendsTheExpectedBytesAndDecodesTheReplies) {
  for (const auto& entry : Scripts()) {
    const std::string& name = entry.first;
    const Script& script = entry.second;
    absl::StatusOr<Capture> capture = LoadCase(name);
    ASSERT_TRUE(capture.ok()) << capture.status();
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      interop::ServerReplayResult peer;
      sim::RunResult run = sim::RunSeed(
          [&](sim::SimContext& ctx) {
            auto [client_end, server_end] = ctx.network().Pipe(name);
            Signal replayed(ctx.env());
            DRPC_CHECK_OK(ctx.env().scheduler().Spawn("expected server", [&, t = std::move(server_end)] {
              peer = interop::ReplayServer(ctx.env(), *t, *capture);
              replayed.Set();
            }));
            absl::StatusOr<std::unique_ptr<Conn>> conn =
                Conn::Create(ctx.env(), std::move(client_end));
            ctx.Check(conn.ok(), conn.status().ToString());
            {
              CallContext call(ctx.env());
              const absl::Status scripted = script(Echo::Client(**conn), call);
              ctx.Check(scripted.ok(), absl::StrCat(name, ": ", scripted.ToString()));
            }
            (*conn)->Close();
            replayed.Wait("expected server");
          },
          seed, sim::RunOptions{});
      ASSERT_TRUE(run.ok()) << name << " seed " << seed << ": " << run.message;
      EXPECT_TRUE(peer.error.ok()) << name << ": " << peer.error;
      EXPECT_EQ(interop::NormaliseClientBytes(peer.client_bytes),
                interop::NormaliseClientBytes(capture->c2s))
          << name << " seed " << seed << ": our generated client's bytes differ";
    }
  }
}

}  // namespace
}  // namespace drpc
