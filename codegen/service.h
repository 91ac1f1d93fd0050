// The library code that protoc-gen-drpc-cpp's generated services stand on: typed stream objects
// for the three streaming shapes, on both sides, and the typed registration of server methods on a
// Router. Generated code only depends on ClientConn, RpcStream, Handler and Router, so a client
// stub works over any ClientConn (Conn, a pool, an interceptor) and a registered service serves on
// any server that takes a Handler.
//
// Client side (what a generated stub returns), for `rpc Watch(Req) returns (stream Resp)`:
//
//   absl::StatusOr<ServerStreamCall<Resp>> call = client.Watch(ctx, request);
//   for (;;) {
//     absl::StatusOr<Resp> m = call->Recv();
//     if (IsEof(m.status())) break;          // the server finished
//     if (!m.ok()) return m.status();        // error classes of impl/errors.h, unchanged
//   }
//
// Server side (what a generated server interface method receives):
//
//   absl::Status Watch(CallContext& ctx, const Req& in, ServerStreamWriter<Resp>& out) override {
//     return out.Send(Resp());
//   }
//
// | RPC shape          | client object                          | server method gets / returns          |
// |--------------------|----------------------------------------|---------------------------------------|
// | unary              | StatusOr<Resp> from the stub           | (ctx, const Req&) -> StatusOr<Resp>    |
// | server streaming   | ServerStreamCall<Resp>: Recv, Close    | (ctx, const Req&, ServerStreamWriter<Resp>&) -> Status |
// | client streaming   | ClientStreamCall<Req, Resp>: Send, CloseAndRecv, CloseSend, Close | (ctx, ClientStreamReader<Req>&) -> StatusOr<Resp> |
// | bidi streaming     | BidiStreamCall<Req, Resp>: Send, Recv, CloseSend, Close | (ctx, BidiStreamServer<Req, Resp>&) -> Status |
//
// Errors are those of RpcStream (impl/rpc_stream.h, impl/errors.h): Recv gives EOF (IsEof) once
// the peer finished sending, a remote error keeps its code (RemoteErrorCode), a cancelled call
// gives ctx.err(). A message that cannot be marshalled fails Send with kInvalidArgument and sends
// nothing; bytes that do not parse fail Recv with kInvalidArgument.
// Client stream objects close their stream when destroyed (Close is a no-op on a finished stream),
// so an abandoned call never holds its connection. Like RpcStream, every object here belongs to
// one Scheduler (impl/env.h): at most one fiber sends and one receives at a time.
#ifndef DRPC_CODEGEN_SERVICE_H_
#define DRPC_CODEGEN_SERVICE_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "codegen/protobuf_encoding.h"
#include "impl/client_conn.h"
#include "impl/context.h"
#include "impl/encoding.h"
#include "impl/errors.h"
#include "impl/router.h"
#include "impl/rpc_stream.h"

namespace drpc {

namespace codegen_internal {

// A TypedStream over a client's stream that closes it when destroyed.
template <typename Out, typename In>
class OwnedTypedStream {
 public:
  OwnedTypedStream(std::shared_ptr<RpcStream> stream, const Encoding<Out>& out,
                   const Encoding<In>& in)
      : stream_(stream), typed_(std::move(stream), out, in) {}
  OwnedTypedStream(OwnedTypedStream&&) = default;
  OwnedTypedStream& operator=(OwnedTypedStream&& other) {
    if (this != &other) {
      CloseQuietly();
      stream_ = std::move(other.stream_);
      typed_ = std::move(other.typed_);
    }
    return *this;
  }
  ~OwnedTypedStream() { CloseQuietly(); }

  TypedStream<Out, In>& typed() { return typed_; }
  RpcStream& raw() { return *stream_; }

 private:
  void CloseQuietly() {
    if (stream_ != nullptr) stream_->Close().IgnoreError();
  }
  std::shared_ptr<RpcStream> stream_;  // null once moved from
  TypedStream<Out, In> typed_;
};

// A stream the server owns, seen through a TypedStream (which wants a shared_ptr): the aliasing
// constructor gives a non-owning pointer.
inline std::shared_ptr<RpcStream> Borrow(RpcStream& stream) {
  return std::shared_ptr<RpcStream>(std::shared_ptr<void>(), &stream);
}

// The encoding of a direction a stream shape never uses (a server stream's requests after the
// first, ...): TypedStream wants one for each direction.
inline const Encoding<std::string>& Unused() {
  static const BytesEncoding* const kBytes = new BytesEncoding();
  return *kBytes;
}

}  // namespace codegen_internal

// --- Client side -------------------------------------------------------------------------------

// A server-streaming call: the request was sent (with the half-close) when the stub returned.
template <typename Resp>
class ServerStreamCall {
 public:
  explicit ServerStreamCall(std::shared_ptr<RpcStream> stream)
      : s_(std::move(stream), codegen_internal::Unused(), ProtobufEncoding<Resp>::Get()) {}
  // The next reply; EOF once the server finished.
  absl::StatusOr<Resp> Recv() { return s_.typed().Recv(); }
  // Ends the call early (tells the server); no-op once it ended.
  absl::Status Close() { return s_.raw().Close(); }
  RpcStream& raw() { return s_.raw(); }

 private:
  codegen_internal::OwnedTypedStream<std::string, Resp> s_;
};

// A client-streaming call: Send any number of requests, then CloseAndRecv for the one reply.
template <typename Req, typename Resp>
class ClientStreamCall {
 public:
  explicit ClientStreamCall(std::shared_ptr<RpcStream> stream)
      : s_(std::move(stream), ProtobufEncoding<Req>::Get(), ProtobufEncoding<Resp>::Get()) {}
  absl::Status Send(const Req& request) { return s_.typed().Send(request); }
  // Half-closes, waits for the reply, and ends the call.
  absl::StatusOr<Resp> CloseAndRecv() {
    if (absl::Status st = s_.raw().CloseSend(); !st.ok()) return st;
    absl::StatusOr<Resp> reply = s_.typed().Recv();
    s_.raw().Close().IgnoreError();  // no-op once the server's CloseSend arrived
    return reply;
  }
  absl::Status CloseSend() { return s_.raw().CloseSend(); }
  absl::Status Close() { return s_.raw().Close(); }
  RpcStream& raw() { return s_.raw(); }

 private:
  codegen_internal::OwnedTypedStream<Req, Resp> s_;
};

// A bidi call: Send and Recv freely (one sending and one receiving fiber at most), CloseSend when
// done sending, Recv until EOF.
template <typename Req, typename Resp>
class BidiStreamCall {
 public:
  explicit BidiStreamCall(std::shared_ptr<RpcStream> stream)
      : s_(std::move(stream), ProtobufEncoding<Req>::Get(), ProtobufEncoding<Resp>::Get()) {}
  absl::Status Send(const Req& request) { return s_.typed().Send(request); }
  absl::StatusOr<Resp> Recv() { return s_.typed().Recv(); }
  absl::Status CloseSend() { return s_.raw().CloseSend(); }
  absl::Status Close() { return s_.raw().Close(); }
  RpcStream& raw() { return s_.raw(); }

 private:
  codegen_internal::OwnedTypedStream<Req, Resp> s_;
};

// --- Server side -------------------------------------------------------------------------------

// What a server-streaming method sends its replies with. Returning from the method ends the call
// (OK: CloseSend; an error: an Error packet for the client).
template <typename Resp>
class ServerStreamWriter {
 public:
  explicit ServerStreamWriter(RpcStream& stream)
      : typed_(codegen_internal::Borrow(stream), ProtobufEncoding<Resp>::Get(),
               codegen_internal::Unused()) {}
  absl::Status Send(const Resp& reply) { return typed_.Send(reply); }
  RpcStream& raw() { return typed_.raw(); }

 private:
  TypedStream<Resp, std::string> typed_;
};

// What a client-streaming method reads its requests from, until EOF.
template <typename Req>
class ClientStreamReader {
 public:
  explicit ClientStreamReader(RpcStream& stream)
      : typed_(codegen_internal::Borrow(stream), codegen_internal::Unused(),
               ProtobufEncoding<Req>::Get()) {}
  absl::StatusOr<Req> Recv() { return typed_.Recv(); }
  RpcStream& raw() { return typed_.raw(); }

 private:
  TypedStream<std::string, Req> typed_;
};

// A bidi method's stream: Recv requests until EOF, Send replies.
template <typename Req, typename Resp>
class BidiStreamServer {
 public:
  explicit BidiStreamServer(RpcStream& stream)
      : typed_(codegen_internal::Borrow(stream), ProtobufEncoding<Resp>::Get(),
               ProtobufEncoding<Req>::Get()) {}
  absl::StatusOr<Req> Recv() { return typed_.Recv(); }
  absl::Status Send(const Resp& reply) { return typed_.Send(reply); }
  RpcStream& raw() { return typed_.raw(); }

 private:
  TypedStream<Resp, Req> typed_;
};

// --- What generated stubs call ---------------------------------------------------------------

// A unary call. The request is marshalled before anything is sent.
template <typename Req, typename Resp>
absl::StatusOr<Resp> CallUnary(ClientConn& conn, CallContext& ctx, absl::string_view rpc,
                               const Req& request) {
  return InvokeTyped(conn, ctx, rpc, ProtobufEncoding<Req>::Get(), request,
                     ProtobufEncoding<Resp>::Get());
}

// Opens a server-streaming call and sends its one request with the half-close (as Go's generated
// client does: MsgSend, CloseSend). The request is marshalled before the stream opens.
template <typename Req, typename Resp>
absl::StatusOr<ServerStreamCall<Resp>> CallServerStream(ClientConn& conn, CallContext& ctx,
                                                        absl::string_view rpc, const Req& request) {
  std::string wire;
  if (absl::Status st = ProtobufEncoding<Req>::Get().Marshal(request, wire); !st.ok()) return st;
  absl::StatusOr<std::shared_ptr<RpcStream>> stream = conn.NewStream(ctx, rpc);
  if (!stream.ok()) return stream.status();
  ServerStreamCall<Resp> call(*std::move(stream));
  if (absl::Status st = call.raw().SendLast(wire); !st.ok()) return st;  // `call` closes it
  return call;
}

template <typename Req, typename Resp>
absl::StatusOr<ClientStreamCall<Req, Resp>> CallClientStream(ClientConn& conn, CallContext& ctx,
                                                             absl::string_view rpc) {
  absl::StatusOr<std::shared_ptr<RpcStream>> stream = conn.NewStream(ctx, rpc);
  if (!stream.ok()) return stream.status();
  return ClientStreamCall<Req, Resp>(*std::move(stream));
}

template <typename Req, typename Resp>
absl::StatusOr<BidiStreamCall<Req, Resp>> CallBidi(ClientConn& conn, CallContext& ctx,
                                                   absl::string_view rpc) {
  absl::StatusOr<std::shared_ptr<RpcStream>> stream = conn.NewStream(ctx, rpc);
  if (!stream.ok()) return stream.status();
  return BidiStreamCall<Req, Resp>(*std::move(stream));
}

// --- What generated Register functions call ------------------------------------------------------
// Each registers one typed method on `router` under `rpc` (kAlreadyExists if the name is taken).
// A request that does not parse ends the call with kInvalidArgument (an Error with code 3 for the
// client) before the method runs.

template <typename Req, typename Resp>
absl::Status RegisterUnary(Router& router, std::string rpc,
                           std::function<absl::StatusOr<Resp>(CallContext&, const Req&)> method) {
  return router.Unary(
      std::move(rpc),
      [method = std::move(method)](CallContext& ctx,
                                   absl::string_view bytes) -> absl::StatusOr<std::string> {
        Req request;
        if (absl::Status st = ProtobufEncoding<Req>::Get().Unmarshal(bytes, request); !st.ok()) {
          return st;
        }
        absl::StatusOr<Resp> reply = method(ctx, request);
        if (!reply.ok()) return reply.status();
        std::string wire;
        if (absl::Status st = ProtobufEncoding<Resp>::Get().Marshal(*reply, wire); !st.ok()) {
          return st;
        }
        return wire;
      });
}

template <typename Req, typename Resp>
absl::Status RegisterServerStream(
    Router& router, std::string rpc,
    std::function<absl::Status(CallContext&, const Req&, ServerStreamWriter<Resp>&)> method) {
  return router.ServerStream(
      std::move(rpc), [method = std::move(method)](CallContext& ctx, absl::string_view bytes,
                                                   RpcStream& stream) -> absl::Status {
        Req request;
        if (absl::Status st = ProtobufEncoding<Req>::Get().Unmarshal(bytes, request); !st.ok()) {
          return st;
        }
        ServerStreamWriter<Resp> writer(stream);
        return method(ctx, request, writer);
      });
}

template <typename Req, typename Resp>
absl::Status RegisterClientStream(
    Router& router, std::string rpc,
    std::function<absl::StatusOr<Resp>(CallContext&, ClientStreamReader<Req>&)> method) {
  return router.ClientStream(
      std::move(rpc), [method = std::move(method)](
                          CallContext& ctx, RpcStream& stream) -> absl::StatusOr<std::string> {
        ClientStreamReader<Req> reader(stream);
        absl::StatusOr<Resp> reply = method(ctx, reader);
        if (!reply.ok()) return reply.status();
        std::string wire;
        if (absl::Status st = ProtobufEncoding<Resp>::Get().Marshal(*reply, wire); !st.ok()) {
          return st;
        }
        return wire;
      });
}

template <typename Req, typename Resp>
absl::Status RegisterBidi(
    Router& router, std::string rpc,
    std::function<absl::Status(CallContext&, BidiStreamServer<Req, Resp>&)> method) {
  return router.Bidi(std::move(rpc),
                     [method = std::move(method)](CallContext& ctx, RpcStream& stream) {
                       BidiStreamServer<Req, Resp> bidi(stream);
                       return method(ctx, bidi);
                     });
}

// The status of a server method the implementation does not provide: code 12 "Unimplemented",
// what Go's generated DRPC<Service>UnimplementedServer returns.
inline absl::Status UnimplementedMethod() {
  return WithRemoteErrorCode(absl::UnimplementedError("Unimplemented"), 12);
}

}  // namespace drpc

#endif  // DRPC_CODEGEN_SERVICE_H_
