#!/usr/bin/env python3
"""Summarises a Bazel build-event JSON file: prints the logs of failing tests and a final line
"N passed, N failed" (--logs-only: the logs without the line; --summary-line-only: the line
without the logs). A test target that was configured but produced no test summary (it failed to
build, or the build stopped first) counts as failed. Exit status 1 if anything failed."""
import json
import os
import sys
from urllib.parse import unquote, urlparse

LOG_TAIL_LINES = 200


def read_events(path):
    events = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                events.append(json.loads(line))
    return events


def main():
    if len(sys.argv) < 2:
        print("usage: summarize_bep.py BEP_JSON [--summary-line-only | --logs-only]",
              file=sys.stderr)
        return 2
    only_line = "--summary-line-only" in sys.argv[2:]
    only_logs = "--logs-only" in sys.argv[2:]
    try:
        events = read_events(sys.argv[1])
    except (OSError, ValueError) as e:
        print(f"ci: cannot read build events: {e}")
        print("0 passed, 0 failed")
        return 1

    tests = []  # labels of configured test targets, in order
    summaries = {}  # label -> (status, [failed log paths])
    for ev in events:
        ident = ev.get("id", {})
        if "targetConfigured" in ident:
            kind = ev.get("configured", {}).get("targetKind", "")
            if kind.endswith("_test rule") or kind == "test_suite rule":
                if kind != "test_suite rule":
                    tests.append(ident["targetConfigured"]["label"])
        elif "testSummary" in ident:
            label = ident["testSummary"]["label"]
            summary = ev.get("testSummary", {})
            logs = []
            for f in summary.get("failed", []):
                uri = f.get("uri", "")
                if uri.startswith("file://"):
                    logs.append(unquote(urlparse(uri).path))
            summaries[label] = (summary.get("overallStatus", "NO_STATUS"), logs)

    passed, failed = [], []
    for label in tests:
        status, logs = summaries.get(label, ("NOT_RUN (build failed or interrupted)", []))
        if status in ("PASSED", "FLAKY"):
            passed.append(label)
        else:
            failed.append((label, status, logs))

    if not only_line:
        for label, status, logs in failed:
            print(f"\n== FAILED {label}: {status}")
            for log in logs:
                print(f"-- {log} (last {LOG_TAIL_LINES} lines)")
                try:
                    with open(log, encoding="utf-8", errors="replace") as f:
                        lines = f.readlines()
                    sys.stdout.write("".join(lines[-LOG_TAIL_LINES:]))
                except OSError as e:
                    print(f"(cannot read log: {e})")
        if failed:
            print()
    if not only_logs:
        print(f"{len(passed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
