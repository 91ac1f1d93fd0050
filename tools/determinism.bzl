"""drpc_determinism_test: the determinism guard over your own code.

    load("@drpc_cpp//tools:determinism.bzl", "drpc_determinism_test")   # "//tools:..." in drpc-cpp

    drpc_determinism_test(
        name = "determinism_test",
        srcs = glob(["*.h", "*.cc"], exclude = ["server.cc"]),   # the code that runs on the Env seam
    )

A test that fails on any use of real clocks, threads, locks, sleeps, global randomness, sockets,
getenv, ... and of hash containers in `srcs` (every rule of //tools:determinism_guard; the list is
in tools/determinism_guard.h), printing each as file:line. Code that runs in sim/world's
simulation must reach time, scheduling and I/O only through drpc's Env, and must iterate in a
deterministic order, or its runs stop replaying from their seeds. Leave out what is meant to run
only in production (a main() with signal handling, a TLS set-up).

Arguments:
  name: the test.
  srcs: the files to scan (C++ sources and headers; other files are ignored).
  **kwargs: passed to the cc_test (tags, size, visibility, ...).
"""

def drpc_determinism_test(name, srcs, **kwargs):
    native.filegroup(
        name = name + "_sources",
        srcs = srcs,
        testonly = True,
    )
    kwargs.setdefault("size", "small")
    native.cc_test(
        name = name,
        data = [":" + name + "_sources"],
        args = ["$(rootpaths :%s_sources)" % name],
        deps = [Label("//tools:determinism_check_main")],
        **kwargs
    )
