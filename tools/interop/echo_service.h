// The `interop.Echo` test service of the Go conformance captures (corpus/conformance/README.md),
// implemented on drpc-cpp's Router, so a drpc-cpp server answers exactly as the Go server did.
//
//   Router router = interop::EchoRouter();
//
// | rpc                          | behaviour                                                        |
// |------------------------------|------------------------------------------------------------------|
// | /interop.Echo/Unary          | echoes the request                                               |
// | /interop.Echo/ServerStream   | request = decimal N: sends msg-0 .. msg-(N-1); a bad N: code 3   |
// | /interop.Echo/ClientStream   | reads until EOF; replies with the total byte count in decimal     |
// | /interop.Echo/Bidi           | echoes each message until the client's CloseSend                  |
// | /interop.Echo/Fail           | error code 42, text "boom"                                       |
// | /interop.Echo/Meta           | the incoming metadata as k=v;k=v with sorted keys ("" if none)   |
// | /interop.Echo/Slow           | blocks until the call is cancelled, then ends with that error     |
#ifndef DRPC_TOOLS_INTEROP_ECHO_SERVICE_H_
#define DRPC_TOOLS_INTEROP_ECHO_SERVICE_H_

#include "impl/router.h"

namespace drpc::interop {

Router EchoRouter();

}  // namespace drpc::interop

#endif  // DRPC_TOOLS_INTEROP_ECHO_SERVICE_H_
