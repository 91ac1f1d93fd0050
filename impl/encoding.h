// The typed layer: messages as C++ types, marshalled by an Encoding (protobuf, JSON, ...). The
// protocol core itself only moves bytes (docs/protocol.md §9.3).
//
//   struct Point { int x, y; };
//   class PointEncoding final : public Encoding<Point> { ... };
//   PointEncoding enc;
//   absl::StatusOr<Point> r = InvokeTyped(conn, ctx, "/geo.Geo/Mirror", enc, Point{1, 2}, enc);
//   TypedStream<Point, Point> s(stream, enc, enc);  s.Send(p); s.Recv();
//
// A request is marshalled before any stream exists, so a marshalling failure sends nothing
// (never a bare Close for a stream the server never saw; docs/protocol.md §9.1).
#ifndef DRPC_IMPL_ENCODING_H_
#define DRPC_IMPL_ENCODING_H_

#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "impl/client_conn.h"
#include "impl/context.h"
#include "impl/rpc_stream.h"

namespace drpc {

template <typename T>
class Encoding {
 public:
  virtual ~Encoding() = default;
  virtual absl::Status Marshal(const T& message, std::string& out) const = 0;
  virtual absl::Status Unmarshal(absl::string_view bytes, T& message) const = 0;
};

// Bytes as they are.
class BytesEncoding final : public Encoding<std::string> {
 public:
  absl::Status Marshal(const std::string& m, std::string& out) const override {
    out = m;
    return absl::OkStatus();
  }
  absl::Status Unmarshal(absl::string_view b, std::string& m) const override {
    m.assign(b.data(), b.size());
    return absl::OkStatus();
  }
};

template <typename Req, typename Resp>
absl::StatusOr<Resp> InvokeTyped(ClientConn& conn, CallContext& ctx, absl::string_view rpc,
                                 const Encoding<Req>& req_encoding, const Req& request,
                                 const Encoding<Resp>& resp_encoding) {
  std::string wire;
  if (absl::Status s = req_encoding.Marshal(request, wire); !s.ok()) return s;
  absl::StatusOr<std::string> reply = conn.Invoke(ctx, rpc, wire);
  if (!reply.ok()) return reply.status();
  Resp out;
  if (absl::Status s = resp_encoding.Unmarshal(*reply, out); !s.ok()) return s;
  return out;
}

// An RpcStream sending Out and receiving In.
template <typename Out, typename In>
class TypedStream {
 public:
  TypedStream(std::shared_ptr<RpcStream> stream, const Encoding<Out>& out, const Encoding<In>& in)
      : stream_(std::move(stream)), out_(&out), in_(&in) {}

  absl::Status Send(const Out& message) {
    if (absl::Status s = out_->Marshal(message, buffer_); !s.ok()) return s;
    return stream_->Send(buffer_);
  }
  absl::StatusOr<In> Recv() {
    if (absl::Status s = stream_->RecvInto(&buffer_); !s.ok()) return s;
    In message;
    if (absl::Status s = in_->Unmarshal(buffer_, message); !s.ok()) return s;
    return message;
  }
  RpcStream& raw() { return *stream_; }

 private:
  std::shared_ptr<RpcStream> stream_;
  const Encoding<Out>* out_;
  const Encoding<In>* in_;
  std::string buffer_;  // reused between messages
};

}  // namespace drpc

#endif  // DRPC_IMPL_ENCODING_H_
