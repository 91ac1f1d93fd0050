#!/usr/bin/env python3
"""Writes the hand-made seed inputs of every harness into corpus/<harness>/seed-*.

Run from the workspace root after changing a harness's input format:  python3 fuzz/make_seeds.py
Crashers found by fuzzing are committed next to the seeds as crash-<sha1> and are not touched.
"""
import os

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CONF = os.path.join(ROOT, "corpus", "conformance")


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def frame(stream, message, kind, done=True, data=b"", control=False):
    header = (kind << 1) | (1 if done else 0) | (0x80 if control else 0)
    return bytes([header]) + varint(stream) + varint(message) + varint(len(data)) + data


def entry(key, value):
    inner = b"\x0a" + varint(len(key)) + key + b"\x12" + varint(len(value)) + value
    return b"\x0a" + varint(len(inner)) + inner


def captures(max_bytes=4096):
    for case in sorted(os.listdir(CONF)):
        d = os.path.join(CONF, case)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            path = os.path.join(d, name)
            if name.endswith(".bin") and 0 < os.path.getsize(path) <= max_bytes:
                with open(path, "rb") as f:
                    yield f"{case}-{name[:-4]}", f.read()


def write(harness, name, data):
    d = os.path.join(ROOT, "corpus", harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"seed-{name}"), "wb") as f:
        f.write(data)


def main():
    go_fuzz_seeds = {  # drpcwire FuzzParseFrame seeds (docs/protocol.md §12.1)
        "empty-frame": frame(0, 0, 0),
        "max-ids": frame(2**64 - 1, 2**64 - 1, 7, True, b"foo", control=True),
    }
    wire = {
        **go_fuzz_seeds,
        "split-70000": frame(1, 2, 2, False, b"a" * 65536) + frame(1, 2, 2, True, b"b" * 4464),
        "cancel": frame(1, 3, 4, control=True),
        "varint-too-long": b"\x05" + b"\xff" * 10,
        "non-minimal": b"\x05\x81\x00\x81\x00\x01x",
        "huge-length": b"\x05\x01\x01\xff\xff\xff\xff\x0f",
        "window-update": frame(3, 0, 8, True, varint(65536), control=True),
        "kind-change": frame(1, 1, 2, False, b"a") + frame(1, 1, 3, True, b"b"),
        "id-regression": frame(1, 2, 5) + frame(1, 1, 2, True, b"x"),
        "partial-then-close": frame(1, 1, 2, False, b"hello") + frame(1, 2, 5),
        "zero-ids": frame(0, 1, 1, True, b"/a/b") + frame(1, 0, 1, True, b"/a/b"),
    }
    for name, data in list(wire.items()):
        if len(data) > 8192:
            wire[name] = data[:8192]
    for name, data in captures():
        wire[name] = data
    for name, data in wire.items():
        write("frame_parser", name, bytes([22, 7]) + data)
        write("frame_parser", name + "-small-limit", bytes([4, 200]) + data)
        write("upstream_assembler", name, bytes([6]) + data)
        write("upstream_assembler", name + "-small-limit", bytes([0]) + data)
    interleaved = b"".join(
        frame(s, m, 2, m % 2 == 0, bytes([s]) * 10) for m in (1, 2, 3, 4) for s in (1, 2, 3))
    mux = {
        "interleaved-3-streams": interleaved,
        "metadata-interleaved": frame(1, 1, 7, True, entry(b"a", b"1")) +
        frame(2, 1, 7, True, entry(b"b", b"2")) + frame(1, 2, 1, True, b"/s/m") +
        frame(2, 2, 1, True, b"/s/m"),
        "overflow-then-next": frame(1, 1, 2, False, b"x" * 60) + frame(1, 1, 2, True, b"y" * 60) +
        frame(1, 2, 2, True, b"ok"),
        "lower-message": frame(1, 5, 2) + frame(1, 4, 2),
        "close-forgets": frame(1, 1, 2) + frame(1, 2, 5) + frame(1, 1, 2),
        "zero-stream": frame(0, 1, 2),
        **{k: v for k, v in wire.items() if k in ("kind-change", "split-70000", "cancel")},
    }
    for name, data in mux.items():
        write("mux_assembler", name, bytes([6, 15]) + data)
        write("mux_assembler", name + "-small-limits", bytes([0, 1]) + data)
    md = {
        "key-value": entry(b"key", b"value"),
        "test-a": bytes.fromhex("0a090a0474657374120161"),
        "alpha-beta": bytes.fromhex("0a0a0a05616c7068611201310a0b0a0462657461120374776f"),
        "empty-pair": entry(b"", b""),
        "five-entries": b"".join(entry(b"key%d" % i, b"value%d" % i) for i in (5, 1, 2, 3, 4)),
        "duplicate-key": entry(b"k", b"1") + entry(b"k", b"2"),
        "junk": b"\x0a\x05junk",
        "value-before-key": b"\x0a\x04\x12\x00\x0a\x00",
        "trailing-field": b"\x0a\x06\x0a\x00\x12\x00\x1a\x00",
        "empty": b"",
    }
    for name, data in md.items():
        write("metadata_decoder", name, data)
    errors = {
        "boom-42": (42).to_bytes(8, "big") + b"boom",
        "unimplemented-12": (12).to_bytes(8, "big") + b"Unimplemented",
        "unknown-rpc": (0).to_bytes(8, "big") +
        b'protocol error: unknown rpc: "/interop.Echo/DoesNotExist"',
        "short-abc": b"abc",
        "empty": b"",
        "max-code": b"\xff" * 8 + "caf\u00e9 \u20ac".encode(),
    }
    for name, data in errors.items():
        write("error_decoder", name, data)


# Whole-connection harnesses (fuzz/conn_fuzz.h): byte 0 picks the mode and limits (bit 0 mux,
# bits 1-2 a limits profile, bit 3 flow control off, bit 4 soft cancel), byte 1 the write pieces.
UPSTREAM, MUX, MUX_SMALL, MUX_MEDIUM, UPSTREAM_SMALL = 0x00, 0x01, 0x03, 0x05, 0x02
INVOKE, MESSAGE, ERROR, CANCEL, CLOSE, CLOSE_SEND, INVOKE_METADATA, WINDOW_UPDATE = range(1, 9)


def call(stream, rpc, messages=(b"hi",), metadata=None, close_send=True):
    out, m = b"", 1
    if metadata is not None:
        out += frame(stream, m, INVOKE_METADATA, True, b"".join(entry(k, v) for k, v in metadata))
        m += 1
    out += frame(stream, m, INVOKE, True, rpc)
    m += 1
    for msg in messages:
        out += frame(stream, m, MESSAGE, True, msg)
        m += 1
    if close_send:
        out += frame(stream, m, CLOSE_SEND)
    return out


def conn_seeds():
    flow = [(b"drpc-flow-window", b"256")]
    server = {
        "upstream-unary": (UPSTREAM, call(1, b"/f/U")),
        "upstream-sequence": (UPSTREAM, call(1, b"/f/U") + call(2, b"/f/S", [b"\x05"]) +
                              call(3, b"/f/C", [b"a", b"bc"]) + call(4, b"/f/B", [b"x", b"y"]) +
                              call(5, b"/f/F") + call(6, b"/f/W", close_send=False) +
                              frame(6, 3, CANCEL, control=True) + call(7, b"/nope")),
        "upstream-small-unread": (UPSTREAM_SMALL, call(1, b"/f/W", [b"m" * 100] * 6)),
        "mux-interleaved": (MUX, call(1, b"/f/B", [b"a"], close_send=False) +
                            call(2, b"/f/U", metadata=[(b"k", b"v")]) +
                            frame(1, 3, MESSAGE, True, b"b") + frame(1, 4, CLOSE_SEND)),
        "mux-flow": (MUX_SMALL, call(1, b"/f/B", [b"z" * 200, b"z" * 200], metadata=flow) +
                     frame(1, 0, WINDOW_UPDATE, True, varint(4096), control=True)),
        "mux-burst": (MUX_SMALL, b"".join(call(s, b"/f/W", (), close_send=False)
                                          for s in range(1, 12))),
        "mux-cancel-before-invoke": (MUX, frame(1, 1, INVOKE_METADATA, True, entry(b"a", b"1")) +
                                     frame(1, 5, CANCEL, control=True) + call(1, b"/f/U") +
                                     frame(9, 1, CANCEL, control=True) + call(9, b"/f/U")),
        "mux-too-large": (MUX_SMALL, call(1, b"/f/C", [b"L" * 300]) + call(2, b"/f/U")),
        "mux-medium-split": (MUX_MEDIUM, call(1, b"/f/S", [b"\x07"]) + call(3, b"/f/U")),
    }
    for name, data in captures():
        if name.endswith("c2s"):
            server["go-" + name] = (UPSTREAM, data)
    for name, (sel, data) in server.items():
        write("server_conn", name, bytes([sel, 7]) + data)
        write("server_conn", name + "-pieces", bytes([sel, 200]) + data)
    reply = lambda s, msgs: b"".join(frame(s, i + 1, MESSAGE, True, m) for i, m in enumerate(msgs)) \
        + frame(s, len(msgs) + 1, CLOSE_SEND)
    client = {
        "upstream-replies": (UPSTREAM, reply(1, [b"hello"]) + reply(2, [b"m0", b"m1", b"m2"]) +
                             reply(3, [b"4"]) + reply(4, [b"c0", b"c1"])),
        "upstream-error": (UPSTREAM, frame(1, 1, ERROR, True, (42).to_bytes(8, "big") + b"boom")),
        "upstream-invoke-from-server": (UPSTREAM, call(1, b"/f/U")),
        "mux-replies": (MUX, reply(2, [b"m0"]) + reply(1, [b"hello"]) + reply(4, [b"c0"]) +
                        reply(3, [b"4"])),
        "mux-window": (MUX_SMALL, frame(4, 0, WINDOW_UPDATE, True, varint(1 << 20), control=True) +
                       frame(2, 1, MESSAGE, True, b"w" * 300) + frame(3, 1, CANCEL, control=True)),
        "mux-unknown-stream": (MUX, reply(9, [b"x"]) + frame(1, 1, CLOSE) + reply(2, [b"y"])),
    }
    for name, data in captures():
        if name.endswith("s2c"):
            client["go-" + name] = (UPSTREAM, data)
    for name, (sel, data) in client.items():
        write("client_conn", name, bytes([sel, 7]) + data)
        write("client_conn", name + "-pieces", bytes([sel, 200]) + data)


if __name__ == "__main__":
    main()
    conn_seeds()
