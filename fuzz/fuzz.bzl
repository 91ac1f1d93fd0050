"""drpc_fuzz_harness: one libFuzzer harness as a corpus-replay test and a fuzzer binary.

For a harness NAME with source NAME_fuzzer.cc (defining LLVMFuzzerTestOneInput) this creates:
  :NAME_replay_test  a cc_test that runs the harness once on every file of corpus/NAME/ with the
                     plain replay main (replay_main.cc); no libFuzzer needed.
  :NAME_fuzzer       with --config=fuzz (--define=drpc_fuzzing_engine=libfuzzer) a libFuzzer
                     binary (-fsanitize=fuzzer); otherwise the same replay main, so
                     `bazel build //...` always works and `bazel run :NAME_fuzzer -- DIR` replays.
The dictionary fuzz/NAME.dict and options fuzz/NAME.options are exported for tools/fuzz.sh and
oss_fuzz_build.sh.
"""

def drpc_fuzz_harness(name, deps = []):
    native.cc_library(
        name = name + "_harness",
        testonly = True,
        srcs = [name + "_fuzzer.cc"],
        deps = deps + [
            ":no_coverage",
            "//proto/base:check",
            "@system//:absl",
        ],
        alwayslink = True,
    )
    native.cc_test(
        name = name + "_replay_test",
        size = "small",
        args = ["corpus/" + name],
        data = ["//corpus:" + name],
        deps = [
            ":" + name + "_harness",
            ":replay_main",
        ],
    )
    native.cc_binary(
        name = name + "_fuzzer",
        testonly = True,
        data = ["//corpus:" + name, name + ".dict", name + ".options"],
        linkopts = select({
            ":libfuzzer": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        deps = [":" + name + "_harness"] + select({
            ":libfuzzer": [],
            "//conditions:default": [":replay_main"],
        }),
    )
