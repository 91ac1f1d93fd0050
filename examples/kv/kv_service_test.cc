// The kv.KeyValue service through its generated client and server on the simulator, in upstream
// and mux mode: reads and writes, a watcher that sees other callers' changes in revision order,
// a watcher that fell behind the history, and cancelling a watch.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "examples/kv/kv.drpc.h"
#include "examples/kv/kv_service.h"
#include "examples/kv/store.h"
#include "gtest/gtest.h"
#include "impl/conn.h"
#include "impl/errors.h"
#include "impl/router.h"
#include "impl/sync.h"
#include "sim/testing/harness.h"
#include "proto/base/check.h"

namespace kv {
namespace {

using drpc::testing::Pair;

// Runs `body` against a KvService over a fresh Store, in both modes over a few seeds. The store
// is made on the run's Env inside the server's handler chain, so it lives for one run.
class StoreRouter final : public drpc::Handler {
 public:
  absl::Status HandleRpc(drpc::CallContext& ctx, absl::string_view rpc,
                         drpc::RpcStream& stream) const override {
    if (store_ == nullptr) {
      store_ = std::make_unique<Store>(ctx.env(), Store::Limits{.history_max_count = 4});
      service_ = std::make_unique<KvService>(*store_);
      router_ = std::make_unique<drpc::Router>();
      if (absl::Status s = KeyValue::Register(*router_, *service_); !s.ok()) return s;
    }
    return router_->HandleRpc(ctx, rpc, stream);
  }
  void Reset() {
    router_.reset();
    service_.reset();
    store_.reset();
  }

 private:
  mutable std::unique_ptr<Store> store_;
  mutable std::unique_ptr<KvService> service_;
  mutable std::unique_ptr<drpc::Router> router_;
};

void RunBothModes(std::function<void(Pair&, drpc::sim::SimContext&)> body) {
  for (bool mux : {false, true}) {
    for (uint64_t seed = 1; seed <= 4; ++seed) {
      StoreRouter handler;
      drpc::Options o = mux ? drpc::testing::MuxOptions() : drpc::testing::UpstreamOptions();
      o.soft_cancel = true;  // a cancelled watch leaves an upstream connection usable
      drpc::sim::RunResult r = drpc::testing::RunPair(
          o, o,
          [&](Pair& p, drpc::sim::SimContext& sim) {
            body(p, sim);
            handler.Reset();
          },
          seed, &handler);
      ASSERT_TRUE(r.ok()) << (mux ? "mux" : "upstream") << " seed " << seed << ": " << r.message
                          << "\n" << r.trace_tail;
    }
  }
}

PutRequest PutOf(const std::string& key, const std::string& value) {
  PutRequest put;
  put.set_key(key);
  put.set_value(value);
  return put;
}

TEST(KvServiceTest, PutGetDeleteThroughTheGeneratedClient) {
  RunBothModes([](Pair& p, drpc::sim::SimContext& sim) {
    const KeyValue::Client kv(p.conn());
    absl::StatusOr<PutResponse> put = kv.Put(p.ctx(), PutOf("greeting", "hello"));
    sim.Check(put.ok() && put->revision() == 1, put.status().ToString());
    GetRequest get;
    get.set_key("greeting");
    absl::StatusOr<GetResponse> got = kv.Get(p.ctx(), get);
    sim.Check(got.ok() && got->found() && got->entry().value() == "hello", "get");
    DeleteRequest del;
    del.set_key("greeting");
    absl::StatusOr<DeleteResponse> deleted = kv.Delete(p.ctx(), del);
    sim.Check(deleted.ok() && deleted->deleted() && deleted->revision() == 2, "delete");
    got = kv.Get(p.ctx(), get);
    sim.Check(got.ok() && !got->found() && got->revision() == 2, "get after delete");
    absl::StatusOr<PutResponse> empty = kv.Put(p.ctx(), PutOf("", "x"));
    sim.Check(drpc::RemoteErrorCode(empty.status()) == 3u, empty.status().ToString());
  });
}

TEST(KvServiceTest, WatchSeesChangesUnderItsPrefixInRevisionOrder) {
  RunBothModes([](Pair& p, drpc::sim::SimContext& sim) {
    const KeyValue::Client kv(p.conn());
    sim.Check(kv.Put(p.ctx(), PutOf("a/0", "old")).ok(), "put before the watch");
    WatchRequest request;
    request.set_prefix("a/");
    request.set_start_revision(1);  // replays the put above, then follows
    absl::StatusOr<drpc::ServerStreamCall<Event>> watch = kv.Watch(p.ctx(), request);
    sim.Check(watch.ok(), watch.status().ToString());
    absl::StatusOr<Event> first = watch->Recv();
    sim.Check(first.ok() && first->entry().key() == "a/0", "the replayed change");
    // A writer on another fiber and its own connection (an upstream connection carries one
    // call at a time, and the watch holds this one).
    auto [client_end, server_end] = sim.network().Pipe("writer conn");
    drpc::Signal served(p.env());
    DRPC_CHECK_OK(p.env().scheduler().Spawn("writer conn", [&, t = std::move(server_end)]() mutable {
      p.server().ServeConn(std::move(t)).IgnoreError();
      served.Set();
    }));
    absl::StatusOr<std::unique_ptr<drpc::Conn>> writer_conn =
        drpc::Conn::Create(p.env(), std::move(client_end), p.conn().manager().options());
    sim.Check(writer_conn.ok(), writer_conn.status().ToString());
    drpc::Signal written(p.env());
    DRPC_CHECK_OK(p.env().scheduler().Spawn("writer", [&] {
      const KeyValue::Client writer(**writer_conn);
      drpc::CallContext ctx(p.env());
      writer.Put(ctx, PutOf("b/1", "ignored")).IgnoreError();
      writer.Put(ctx, PutOf("a/1", "x")).IgnoreError();
      DeleteRequest del;
      del.set_key("a/0");
      writer.Delete(ctx, del).IgnoreError();
      written.Set();
    }));
    absl::StatusOr<Event> put = watch->Recv();
    absl::StatusOr<Event> del = watch->Recv();
    sim.Check(put.ok() && put->type() == Event::PUT && put->entry().key() == "a/1" &&
                  put->entry().revision() == 3,
              absl::StrCat("put event: ", put.ok() ? put->ShortDebugString() : put.status().ToString()));
    sim.Check(del.ok() && del->type() == Event::DELETE && del->entry().revision() == 4,
              "delete event");
    sim.Check(watch->Close().ok(), "close the watch");
    written.Wait("writer");
    (*writer_conn)->Close();
    served.Wait("writer conn");
  });
}

TEST(KvServiceTest, AWatchFromACompactedRevisionFailsWithOutOfRange) {
  RunBothModes([](Pair& p, drpc::sim::SimContext& sim) {
    const KeyValue::Client kv(p.conn());
    for (int i = 0; i < 6; ++i) kv.Put(p.ctx(), PutOf(absl::StrCat("k", i), "v")).IgnoreError();
    WatchRequest request;
    request.set_start_revision(1);  // the test store keeps 4 changes
    absl::StatusOr<drpc::ServerStreamCall<Event>> watch = kv.Watch(p.ctx(), request);
    absl::StatusOr<Event> event = watch->Recv();
    sim.Check(drpc::RemoteErrorCode(event.status()) == 11u, event.status().ToString());
  });
}

}  // namespace
}  // namespace kv
