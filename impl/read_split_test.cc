// The reader's straight reads (impl/manager.cc): once a frame's header is in and enough of its data
// is still to come, the rest goes from the transport into the message's buffer and, in the same
// Transport::ReadV, what follows into the frame buffer. These tests cut the peer's bytes at every
// kind of boundary around such frames (a header alone, a header split across reads, a frame's
// data ending exactly at, just before or just after a read's end, the next header across the two
// spans) and check that every message arrives intact, in both modes, and that hostile input (a
// peer that lies about a frame's length, EOF in the middle of its data, a stream that ends while
// its frame is being read) ends as it would through the frame buffer, with nothing left held.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/errors.h"
#include "impl/manager.h"
#include "impl/sync.h"
#include "impl/tunables.h"
#include "proto/base/check.h"
#include "sim/testing/expect.h"
#include "sim/testing/wire_harness.h"

namespace drpc {
namespace {

using testing::ExpectOk;
using testing::F;
using testing::ManagerSide;
using testing::RawFrame;

// Frames large enough to be read straight even after a read took a little of their data.
constexpr size_t kFrameDataBytes = tunables::kReadDirectMinBytes + 32 * 1024;
static_assert(kFrameDataBytes - tunables::kReadAfterDirectBytes >= tunables::kReadDirectMinBytes,
              "the frames of these tests are read straight");

Options ModeOptions(bool mux) {
  Options o;
  o.mux = mux;
  return o;
}

// A distinct byte at every offset, so a byte read into the wrong place shows.
std::string Pattern(size_t bytes, uint64_t salt) {
  std::string s(bytes, '\0');
  for (size_t i = 0; i < bytes; ++i) s[i] = static_cast<char>((i * 131 + salt * 7 + i / 251) % 256);
  return s;
}

RawFrame Part(uint64_t stream, uint64_t message, std::string data, bool done) {
  RawFrame f = F(Kind::kMessage, stream, message, std::move(data));
  f.done = done;
  return f;
}

// The bytes of stream 1: Invoke, a message of three large frames, then a small message; and
// where each message frame's header and data end.
struct Wire {
  std::string bytes;
  std::string large;
  std::vector<size_t> header_ends;
  std::vector<size_t> data_ends;
};

Wire StreamOneBytes() {
  Wire w;
  w.large = Pattern(3 * kFrameDataBytes, 1);
  w.bytes = testing::Encode({F(Kind::kInvoke, 1, 1, "/t.T/M")});
  for (size_t i = 0; i < 3; ++i) {
    const std::string frame = testing::Encode(
        {Part(1, 2, w.large.substr(i * kFrameDataBytes, kFrameDataBytes), i == 2)});
    w.header_ends.push_back(w.bytes.size() + frame.size() - kFrameDataBytes);
    w.bytes += frame;
    w.data_ends.push_back(w.bytes.size());
  }
  w.bytes += testing::Encode({F(Kind::kMessage, 1, 3, "tail")});
  return w;
}

// Writes `bytes` cut at `cuts` (sorted offsets), pausing after each piece so the manager's reads
// end exactly there (the link delivers each write whole and at once).
void WriteCut(ManagerSide& m, absl::string_view bytes, std::vector<size_t> cuts) {
  cuts.push_back(bytes.size());
  size_t at = 0;
  for (size_t cut : cuts) {
    if (cut <= at || cut > bytes.size()) continue;
    m.sim.Check(m.peer.WriteBytes(bytes.substr(at, cut - at)).ok(), "peer write");
    at = cut;
    SleepFor(m.sim.env(), Duration::Millis(1));
  }
}

sim::NetworkOptions WholeWrites() {
  sim::NetworkOptions net;
  net.link.buffer_bytes = 4 * 1024 * 1024;  // a write never waits for the reader
  return net;
}

// Every message of stream 1 arrives intact however the reads are cut around its frames' headers
// (`header_delta` from each header's end) and data (`data_delta` from each frame's end: before
// it, exactly at it, inside the next header, past the bytes the straight read takes after it).
TEST(ReadSplitTest, MessagesArriveIntactWhereverReadsEndAroundStraightFrames) {
  const Wire w = StreamOneBytes();
  const size_t header_bytes = w.header_ends[1] - w.data_ends[0];
  const std::vector<long> header_deltas = {-2, 0, 50};
  const std::vector<long> data_deltas = {-1,
                                         0,
                                         2,
                                         static_cast<long>(header_bytes),
                                         static_cast<long>(header_bytes) + 10,
                                         static_cast<long>(tunables::kReadAfterDirectBytes) + 50};
  for (bool mux : {false, true}) {
    for (long hd : header_deltas) {
      for (long dd : data_deltas) {
        std::vector<size_t> cuts;
        for (size_t i = 0; i < 3; ++i) {
          cuts.push_back(static_cast<size_t>(static_cast<long>(w.header_ends[i]) + hd));
          cuts.push_back(static_cast<size_t>(static_cast<long>(w.data_ends[i]) + dd));
        }
        std::sort(cuts.begin(), cuts.end());
        SCOPED_TRACE(absl::StrCat(mux ? "mux" : "upstream", " header ", hd, " data ", dd));
        ExpectOk(testing::RunManager(ModeOptions(mux), Manager::Role::kServer,
                                     [&](ManagerSide& m) {
          WriteCut(m, w.bytes, cuts);
          absl::StatusOr<IncomingStream> in = m.manager.AcceptStream(m.sim.now() + Duration::Millis(5));
          m.sim.Check(in.ok(), in.status().ToString());
          absl::StatusOr<std::string> large = in->stream->Recv();
          m.sim.Check(large.ok() && *large == w.large,
                      absl::StrCat("large message: ", large.status().ToString()));
          absl::StatusOr<std::string> tail = in->stream->Recv();
          m.sim.Check(tail.ok() && *tail == "tail", "tail message");
          // A read that ends just short of a header is followed by a full-size read (the reader
          // cannot know a frame starts there), which may bring most of the frame: that frame
          // goes through the frame buffer. Reads that end at or after a header go straight.
          m.sim.Check(hd < 0 || m.manager.frames_read_direct() == 3,
                      absl::StrCat(m.manager.frames_read_direct(), " frames read straight"));
          m.sim.Check(m.manager.usage().buffered_bytes == 0, "bytes still held");
          in->stream->Cancel(CanceledError());
        }, 1, WholeWrites()));
      }
    }
  }
}

// A frame whose header claims more data than the peer sends before it stops: EOF in the middle
// of the data ends the connection (the reader's EOF), the stream fails, the loan is ended.
TEST(ReadSplitTest, EofInTheMiddleOfAStraightFrameEndsTheConnectionWithNothingHeld) {
  for (bool mux : {false, true}) {
    for (size_t sent : {size_t{1}, size_t{40000}, kFrameDataBytes - 1}) {
      SCOPED_TRACE(absl::StrCat(mux ? "mux" : "upstream", " sent ", sent));
      ExpectOk(testing::RunManager(ModeOptions(mux), Manager::Role::kServer, [&](ManagerSide& m) {
        const std::string frame =
            testing::Encode({Part(1, 2, Pattern(kFrameDataBytes, 2), /*done=*/true)});
        const std::string wire = testing::Encode({F(Kind::kInvoke, 1, 1, "/t.T/M")}) +
                                 frame.substr(0, frame.size() - kFrameDataBytes + sent);
        WriteCut(m, wire, {wire.size() - sent});  // the header, then the data sent
        absl::StatusOr<IncomingStream> in = m.manager.AcceptStream(m.sim.now() + Duration::Millis(5));
        m.sim.Check(in.ok(), in.status().ToString());
        m.sim.Check(m.peer.CloseWrite().ok(), "close write");
        absl::StatusOr<std::string> got = in->stream->Recv();
        m.sim.Check(!got.ok(), "a message from a truncated frame");
        SleepFor(m.sim.env(), Duration::Millis(1));
        m.sim.Check(m.manager.frames_read_direct() == 1,
                    absl::StrCat(m.manager.frames_read_direct(), " frames read straight"));
        m.sim.Check(m.manager.usage().buffered_bytes == 0, "bytes still held after EOF");
      }, 1, WholeWrites()));
    }
  }
}

// A peer that claims a frame longer than what it means to send: the next frames' bytes are read
// as that frame's data (as Go's reader would), then the reader waits for the rest and the frame
// timeout ends the connection.
TEST(ReadSplitTest, APeerLyingAboutAFrameLengthTimesOutWithNothingHeld) {
  for (bool mux : {false, true}) {
    SCOPED_TRACE(mux ? "mux" : "upstream");
    Options o = ModeOptions(mux);
    o.frame_timeout = Duration::Millis(20);
    ExpectOk(testing::RunManager(o, Manager::Role::kServer, [&](ManagerSide& m) {
      // Claims a large frame; sends 1 KiB, then an honest small frame and 40 KiB more.
      const std::string claimed =
          testing::Encode({Part(1, 2, Pattern(kFrameDataBytes, 3), /*done=*/true)});
      const size_t header_bytes = claimed.size() - kFrameDataBytes;
      const std::string wire = testing::Encode({F(Kind::kInvoke, 1, 1, "/t.T/M")}) +
                               claimed.substr(0, header_bytes + 1024) +
                               testing::Encode({F(Kind::kMessage, 1, 3, "honest")}) +
                               std::string(40000, 'x');
      WriteCut(m, wire, {wire.size() - 40000});
      absl::StatusOr<IncomingStream> in = m.manager.AcceptStream(m.sim.now() + Duration::Millis(5));
      m.sim.Check(in.ok(), in.status().ToString());
      m.sim.Check(m.manager.frames_read_direct() == 1, "the lying frame is not read straight");
      absl::StatusOr<std::string> got = in->stream->Recv();
      m.sim.Check(!got.ok(), absl::StrCat("got a message of ", got.ok() ? got->size() : 0));
      SleepFor(m.sim.env(), Duration::Millis(30));
      const absl::Status& end = m.manager.closed().status();
      m.sim.Check(absl::IsDeadlineExceeded(end) && absl::StrContains(end.message(), "frame timeout"),
                  absl::StrCat("the connection ended with ", end.ToString()));
    }, 1, WholeWrites()));
  }
}

// Mux: a stream cancelled while its frame's data is being read straight into its message ends
// the loan: the rest of the data is dropped, nothing stays held, and the next stream works.
TEST(ReadSplitTest, AMuxStreamEndingDuringAStraightReadEndsTheLoan) {
  ExpectOk(testing::RunManager(ModeOptions(true), Manager::Role::kServer, [](ManagerSide& m) {
    const std::string frame =
        testing::Encode({Part(1, 2, Pattern(kFrameDataBytes, 4), /*done=*/true)});
    const size_t first = frame.size() - kFrameDataBytes + 1000;
    m.sim.Check(m.peer.WriteBytes(testing::Encode({F(Kind::kInvoke, 1, 1, "/t.T/M")}) +
                                  frame.substr(0, first))
                    .ok(),
                "peer write");
    absl::StatusOr<IncomingStream> in = m.manager.AcceptStream(m.sim.now() + Duration::Millis(5));
    m.sim.Check(in.ok(), in.status().ToString());
    SleepFor(m.sim.env(), Duration::Millis(1));
    m.sim.Check(m.manager.frames_read_direct() == 1, "the frame is not being read straight");
    in->stream->Cancel(CanceledError());
    SleepFor(m.sim.env(), Duration::Millis(1));
    m.sim.Check(m.peer.WriteBytes(frame.substr(first) +
                                  testing::Encode({F(Kind::kInvoke, 3, 1, "/t.T/M"),
                                                   F(Kind::kMessage, 3, 2, "next")}))
                    .ok(),
                "peer write");
    absl::StatusOr<IncomingStream> next =
        m.manager.AcceptStream(m.sim.now() + Duration::Millis(5));
    m.sim.Check(next.ok() && next->stream->id() == 3, next.status().ToString());
    absl::StatusOr<std::string> got = next->stream->Recv();
    m.sim.Check(got.ok() && *got == "next", got.status().ToString());
    m.sim.Check(m.manager.usage().buffered_bytes == 0,
                absl::StrCat(m.manager.usage().buffered_bytes, " bytes still held"));
    next->stream->Cancel(CanceledError());
  }, 1, WholeWrites()));
}

}  // namespace
}  // namespace drpc
