// Hand-made frames for the wire oracle's tests: a frame with the control flag its kind implies,
// and the wire bytes of a list of frames.
//
//   std::string bytes = Wire({F(Kind::kInvoke, 1, 1, "/svc/M"), F(Kind::kCloseSend, 1, 2)});
#ifndef DRPC_SIM_DRPC_TEST_FRAMES_H_
#define DRPC_SIM_DRPC_TEST_FRAMES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "proto/frame.h"

namespace drpc::sim::test_frames {

// A frame of `kind` on packet (stream, message); Cancel and WindowUpdate carry the control flag.
inline Frame F(Kind kind, uint64_t stream, uint64_t message, absl::string_view data = "",
               bool done = true) {
  return Frame{.id = {stream, message},
               .kind = kind,
               .done = done,
               .control = kind == Kind::kCancel || kind == Kind::kWindowUpdate,
               .data = data};
}

// The frames encoded one after another.
inline std::string Wire(const std::vector<Frame>& frames) {
  std::string out;
  for (const Frame& f : frames) AppendFrame(out, f);
  return out;
}

}  // namespace drpc::sim::test_frames

#endif  // DRPC_SIM_DRPC_TEST_FRAMES_H_
