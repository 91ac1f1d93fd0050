"""Command-line build settings (Starlark build settings, Bazel >= 4).

    load("//tools:build_settings.bzl", "bool_flag")
    bool_flag(name = "buggy", build_setting_default = False)
    config_setting(name = "buggy_build", flag_values = {":buggy": "True"})

    bazel test //pkg:target --//pkg:buggy      # on; --no//pkg:buggy or --//pkg:buggy=false: off

Read it with select() on the config_setting (defines, srcs, deps).
"""

def _bool_flag_impl(ctx):
    return []

bool_flag = rule(
    implementation = _bool_flag_impl,
    build_setting = config.bool(flag = True),
    doc = "A boolean build setting settable on the command line (--//pkg:name).",
)
