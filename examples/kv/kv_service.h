// KvService: the kv.KeyValue service (examples/kv/kv.proto) over a Store, on the generated
// kv::KeyValue::Server interface.
//
//   kv::Store store(reactor.env());
//   kv::KvService service(store);
//   drpc::Router router;
//   kv::KeyValue::Register(router, service);   // then serve `router` on a server of that reactor
//
// The service uses the store from the fibers of the server's calls, so both must belong to the
// same Scheduler: serve it on one reactor (examples/kv/server.cc runs a one-reactor runtime) or
// on the simulator. Store errors reach the client with their absl code as the DRPC code
// (kInvalidArgument: 3, kOutOfRange: 11, kResourceExhausted: 8).
#ifndef DRPC_EXAMPLES_KV_KV_SERVICE_H_
#define DRPC_EXAMPLES_KV_KV_SERVICE_H_

#include "examples/kv/kv.drpc.h"
#include "examples/kv/store.h"

namespace kv {

class KvService final : public KeyValue::Server {
 public:
  explicit KvService(Store& store) : store_(&store) {}

  absl::StatusOr<GetResponse> Get(drpc::CallContext& ctx, const GetRequest& request) override;
  absl::StatusOr<PutResponse> Put(drpc::CallContext& ctx, const PutRequest& request) override;
  absl::StatusOr<DeleteResponse> Delete(drpc::CallContext& ctx,
                                        const DeleteRequest& request) override;
  // Sends the changes from the requested revision on, then each new one as it happens, until
  // the call ends (client cancel, connection loss, server shutdown).
  absl::Status Watch(drpc::CallContext& ctx, const WatchRequest& request,
                     drpc::ServerStreamWriter<Event>& stream) override;

 private:
  Store* store_;
};

}  // namespace kv

#endif  // DRPC_EXAMPLES_KV_KV_SERVICE_H_
