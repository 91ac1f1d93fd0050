#include "impl/testing/echo_service.h"

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "impl/errors.h"
#include "proto/base/check.h"

namespace drpc::testing {

Router EchoRouter() {
  Router r;
  DRPC_CHECK_OK(r.Unary("/interop.Echo/Unary",
                        [](CallContext&, absl::string_view req) -> absl::StatusOr<std::string> {
                          return std::string(req);
                        }));
  DRPC_CHECK_OK(
      r.ServerStream("/interop.Echo/ServerStream",
                     [](CallContext&, absl::string_view req, RpcStream& s) -> absl::Status {
                       int n = 0;
                       if (!absl::SimpleAtoi(req, &n) || n < 0) {
                         return WithRemoteErrorCode(
                             absl::InvalidArgumentError(absl::StrCat("bad count: ", req)), 3);
                       }
                       for (int i = 0; i < n; ++i) {
                         if (absl::Status st = s.Send(absl::StrCat("msg-", i)); !st.ok()) return st;
                       }
                       return absl::OkStatus();
                     }));
  DRPC_CHECK_OK(r.ClientStream("/interop.Echo/ClientStream",
                               [](CallContext&, RpcStream& s) -> absl::StatusOr<std::string> {
                                 size_t total = 0;
                                 std::string m;
                                 for (;;) {
                                   absl::Status st = s.RecvInto(&m);
                                   if (IsEof(st)) return absl::StrCat(total);
                                   if (!st.ok()) return st;
                                   total += m.size();
                                 }
                               }));
  DRPC_CHECK_OK(r.Bidi("/interop.Echo/Bidi", [](CallContext&, RpcStream& s) -> absl::Status {
    std::string m;
    for (;;) {
      absl::Status st = s.RecvInto(&m);
      if (IsEof(st)) return absl::OkStatus();
      if (!st.ok()) return st;
      if (st = s.Send(m); !st.ok()) return st;
    }
  }));
  DRPC_CHECK_OK(r.Unary("/interop.Echo/Fail",
                        [](CallContext&, absl::string_view) -> absl::StatusOr<std::string> {
                          return WithRemoteErrorCode(absl::UnknownError("boom"), 42);
                        }));
  DRPC_CHECK_OK(r.Unary("/interop.Echo/Meta",
                        [](CallContext& ctx, absl::string_view) -> absl::StatusOr<std::string> {
                          std::vector<std::string> pairs;
                          for (const auto& [k, v] : ctx.incoming_metadata())
                            pairs.push_back(absl::StrCat(k, "=", v));
                          return absl::StrJoin(pairs, ";");
                        }));
  DRPC_CHECK_OK(r.Unary("/interop.Echo/Slow",
                        [](CallContext& ctx, absl::string_view) -> absl::StatusOr<std::string> {
                          ctx.done_signal().Wait("interop Slow: waiting for cancellation");
                          return ctx.err();
                        }));
  return r;
}

}  // namespace drpc::testing
