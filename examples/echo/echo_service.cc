#include "examples/echo/echo_service.h"

#include "absl/strings/str_cat.h"
#include "impl/errors.h"

namespace interop {

absl::StatusOr<EchoMessage> EchoService::Unary(drpc::CallContext&, const EchoMessage& request) {
  return request;
}

absl::Status EchoService::ServerStream(drpc::CallContext&, const CountRequest& request,
                                       drpc::ServerStreamWriter<EchoMessage>& stream) {
  if (request.count() < 0 || request.count() > kServerStreamCountMax) {
    return drpc::WithRemoteErrorCode(
        absl::InvalidArgumentError(absl::StrCat("count ", request.count(), " is not in [0, ",
                                                kServerStreamCountMax, "]")),
        3);
  }
  EchoMessage reply;
  for (int i = 0; i < request.count(); ++i) {
    reply.set_text(absl::StrCat("msg-", i));
    reply.set_sequence(i);
    if (absl::Status st = stream.Send(reply); !st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::StatusOr<CountReply> EchoService::ClientStream(
    drpc::CallContext&, drpc::ClientStreamReader<EchoMessage>& stream) {
  CountReply reply;
  for (;;) {
    absl::StatusOr<EchoMessage> m = stream.Recv();
    if (drpc::IsEof(m.status())) return reply;
    if (!m.ok()) return m.status();
    reply.set_text_bytes(reply.text_bytes() + static_cast<int64_t>(m->text().size()));
    reply.set_messages(reply.messages() + 1);
  }
}

absl::Status EchoService::Bidi(drpc::CallContext&,
                               drpc::BidiStreamServer<EchoMessage, EchoMessage>& stream) {
  for (;;) {
    absl::StatusOr<EchoMessage> m = stream.Recv();
    if (drpc::IsEof(m.status())) return absl::OkStatus();
    if (!m.ok()) return m.status();
    if (absl::Status st = stream.Send(*m); !st.ok()) return st;
  }
}

absl::StatusOr<EchoMessage> EchoService::Fail(drpc::CallContext&, const EchoMessage&) {
  return drpc::WithRemoteErrorCode(absl::UnknownError("boom"), 42);
}

absl::StatusOr<MetaReply> EchoService::Meta(drpc::CallContext& ctx,
                                            const google::protobuf::Empty&) {
  MetaReply reply;
  for (const auto& [key, value] : ctx.incoming_metadata()) {  // a std::map: sorted by key
    MetaReply::Entry* entry = reply.add_entries();
    entry->set_key(key);
    entry->set_value(value);
  }
  return reply;
}

absl::StatusOr<google::protobuf::Empty> EchoService::Slow(drpc::CallContext& ctx,
                                                          const google::protobuf::Empty&) {
  ctx.done_signal().Wait("interop.Echo/Slow: waiting for the call to end");
  return ctx.err();
}

}  // namespace interop
