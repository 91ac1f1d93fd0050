// The golden features.proto's generated code compiled and run on the simulator: renamed methods
// (a keyword, the generated classes' own names) keep their RPC names on the wire, the
// UnimplementedServer answers code 12, Register is all or nothing, proto2 required fields are
// enforced on both sides, nested message types stream in every shape.
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "codegen/testdata/features.drpc.h"
#include "gtest/gtest.h"
#include "impl/errors.h"
#include "impl/router.h"
#include "sim/testing/harness.h"

namespace drpc {
namespace {

using golden::deps::Record;
using golden::features::Names;
using golden::features::Reply;
using golden::features::Reply_Part;
using golden::features::Request;
using golden::features::Streams;
using google::protobuf::Empty;
using testing::Pair;

// Implements two of Names' methods; the others stay Unimplemented.
class SomeNames final : public Names::UnimplementedServer {
 public:
  absl::StatusOr<Empty> delete_(CallContext&, const Empty& request) override { return request; }
  absl::StatusOr<Record> Register_(CallContext&, const Record& request) override {
    Record reply = request;
    reply.set_note(absl::StrCat("seen ", request.id()));
    return reply;
  }
};

class StreamsImpl final : public Streams::Server {
 public:
  absl::StatusOr<Reply> Unary(CallContext&, const Request& request) override {
    Reply reply;
    reply.add_parts()->set_text(request.has_maybe() ? absl::StrCat(request.maybe()) : "unset");
    return reply;
  }
  absl::Status Download(CallContext&, const Request& request,
                        ServerStreamWriter<Reply_Part>& stream) override {
    for (char c : request.text()) {
      Reply_Part part;
      part.set_text(std::string(1, c));
      if (absl::Status st = stream.Send(part); !st.ok()) return st;
    }
    return absl::OkStatus();
  }
  absl::StatusOr<Reply> Upload(CallContext&, ClientStreamReader<Reply_Part>& stream) override {
    Reply reply;
    for (;;) {
      absl::StatusOr<Reply_Part> part = stream.Recv();
      if (IsEof(part.status())) return reply;
      if (!part.ok()) return part.status();
      *reply.add_parts() = *part;
    }
  }
  absl::Status Chat(CallContext&, BidiStreamServer<Request, Reply>& stream) override {
    for (;;) {
      absl::StatusOr<Request> request = stream.Recv();
      if (IsEof(request.status())) return absl::OkStatus();
      if (!request.ok()) return request.status();
      Reply reply;
      reply.add_parts()->set_text(request->text());
      if (absl::Status st = stream.Send(reply); !st.ok()) return st;
    }
  }
};

void RunBothModes(const Handler& handler, std::function<void(Pair&, sim::SimContext&)> body) {
  for (bool mux : {false, true}) {
    for (uint64_t seed = 1; seed <= 4; ++seed) {
      const Options o = mux ? testing::MuxOptions() : testing::UpstreamOptions();
      sim::RunResult r = testing::RunPair(o, o, body, seed, &handler);
      ASSERT_TRUE(r.ok()) << (mux ? "mux" : "upstream") << " seed " << seed << ": " << r.message
                          << "\n" << r.trace_tail;
    }
  }
}

TEST(FeaturesSimTest, RenamedMethodsKeepTheirWireNamesAndUnimplementedAnswersCode12) {
  EXPECT_STREQ(Names::kdeleteRpc, "/golden.features.Names/delete");
  EXPECT_STREQ(Names::kClientRpc, "/golden.features.Names/Client");
  SomeNames names;
  Router router;
  ASSERT_TRUE(Names::Register(router, names).ok());
  EXPECT_TRUE(router.Has("/golden.features.Names/delete"));
  RunBothModes(router, [](Pair& p, sim::SimContext& sim) {
    const Names::Client client(p.conn());
    sim.Check(client.delete_(p.ctx(), Empty()).ok(), "delete_");
    absl::StatusOr<Empty> unimplemented = client.Client_(p.ctx(), Empty());
    sim.Check(RemoteErrorCode(unimplemented.status()) == 12u &&
                  unimplemented.status().message() == "Unimplemented",
              unimplemented.status().ToString());
    absl::StatusOr<BidiStreamCall<Empty, Empty>> lower = client.lower_case(p.ctx());
    sim.Check(lower.ok(), lower.status().ToString());
    sim.Check(RemoteErrorCode(lower->Recv().status()) == 12u, "bidi: Unimplemented");
  });
}

TEST(FeaturesSimTest, RequiredFieldsAreEnforcedBeforeSendingAndOnReceipt) {
  SomeNames names;
  Router router;
  ASSERT_TRUE(Names::Register(router, names).ok());
  RunBothModes(router, [](Pair& p, sim::SimContext& sim) {
    const Names::Client client(p.conn());
    absl::StatusOr<Record> missing = client.Register_(p.ctx(), Record());
    sim.Check(absl::IsInvalidArgument(missing.status()) &&
                  absl::StrContains(missing.status().message(), "missing required fields: id"),
              missing.status().ToString());
    // A peer that sends a Record without its id (an empty message) gets code 3.
    absl::StatusOr<std::string> raw = p.conn().Invoke(p.ctx(), Names::kRegisterRpc, "");
    sim.Check(RemoteErrorCode(raw.status()) == 3u, raw.status().ToString());
    Record record;
    record.set_id(7);
    absl::StatusOr<Record> seen = client.Register_(p.ctx(), record);
    sim.Check(seen.ok() && seen->note() == "seen 7", seen.status().ToString());
  });
}

TEST(FeaturesSimTest, RegisterIsAllOrNothing) {
  SomeNames names;
  Router router;
  ASSERT_TRUE(router
                  .Unary(Names::kRegisterRpc,
                         [](CallContext&, absl::string_view) -> absl::StatusOr<std::string> {
                           return std::string();
                         })
                  .ok());
  const absl::Status st = Names::Register(router, names);
  EXPECT_TRUE(absl::IsAlreadyExists(st)) << st;
  EXPECT_FALSE(router.Has(Names::kdeleteRpc));
  Router twice;
  ASSERT_TRUE(Names::Register(twice, names).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(Names::Register(twice, names)));
}

TEST(FeaturesSimTest, NestedTypesStreamInEveryShape) {
  StreamsImpl impl;
  Router router;
  ASSERT_TRUE(Streams::Register(router, impl).ok());
  RunBothModes(router, [](Pair& p, sim::SimContext& sim) {
    const Streams::Client client(p.conn());
    Request request;
    request.set_maybe(0);  // proto3 optional: set to its default, still present
    absl::StatusOr<Reply> unary = client.Unary(p.ctx(), request);
    sim.Check(unary.ok() && unary->parts(0).text() == "0", unary.status().ToString());
    request.clear_maybe();
    unary = client.Unary(p.ctx(), request);
    sim.Check(unary.ok() && unary->parts(0).text() == "unset", unary.status().ToString());

    request.set_text("xyz");
    absl::StatusOr<ServerStreamCall<Reply_Part>> down = client.Download(p.ctx(), request);
    std::string got;
    for (absl::StatusOr<Reply_Part> part = down->Recv(); part.ok(); part = down->Recv()) {
      got += part->text();
    }
    sim.Check(got == "xyz", absl::StrCat("download: ", got));

    absl::StatusOr<ClientStreamCall<Reply_Part, Reply>> up = client.Upload(p.ctx());
    Reply_Part part;
    part.set_text("p");
    sim.Check(up->Send(part).ok() && up->Send(part).ok(), "upload send");
    absl::StatusOr<Reply> uploaded = up->CloseAndRecv();
    sim.Check(uploaded.ok() && uploaded->parts_size() == 2, uploaded.status().ToString());

    absl::StatusOr<BidiStreamCall<Request, Reply>> chat = client.Chat(p.ctx());
    sim.Check(chat->Send(request).ok(), "chat send");
    absl::StatusOr<Reply> echoed = chat->Recv();
    sim.Check(echoed.ok() && echoed->parts(0).text() == "xyz", echoed.status().ToString());
    sim.Check(chat->CloseSend().ok() && IsEof(chat->Recv().status()), "chat ends with EOF");
  });
}

}  // namespace
}  // namespace drpc
