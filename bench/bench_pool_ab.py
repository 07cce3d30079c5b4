#!/usr/bin/env python3
"""bench/bench_pool_ab.py: two builds' bench_pool run alternately on one machine, and the
median of the per-round ratios new/old for each benchmark (time per operation; <1: the new
build is faster), so that a change to the pool's fast paths is judged against the build
before it in the same minutes, not against a figure from another day.

usage: bench/bench_pool_ab.py OLD_BENCH_POOL NEW_BENCH_POOL [--rounds N] [--filter REGEX]
Defaults: 6 rounds; the filter PinResident|AllocateRelease|DramFootprint. Each run is one
bench_pool process with --benchmark_repetitions=5 and its medians; the footprint benchmark's
counter footprint_ratio is compared as a value, not a time.
"""
import argparse
import json
import statistics
import subprocess
import sys


def run(binary, pattern):
    """The medians of one bench_pool run: {name: (real time ns, footprint ratio or None)}."""
    out = subprocess.run(
        [binary, f"--benchmark_filter={pattern}", "--benchmark_repetitions=5",
         "--benchmark_report_aggregates_only=true", "--benchmark_format=json"],
        check=True, capture_output=True, text=True).stdout
    medians = {}
    for row in json.loads(out)["benchmarks"]:
        if row.get("aggregate_name") != "median":
            continue
        scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[row["time_unit"]]
        medians[row["run_name"]] = (row["real_time"] * scale, row.get("footprint_ratio"))
    return medians


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--filter", default="PinResident|AllocateRelease|DramFootprint")
    args = parser.parse_args()
    if args.rounds < 1:
        sys.exit(f"bench_pool_ab.py: --rounds {args.rounds}: at least 1")
    old_runs, new_runs = [], []
    for round_ in range(1, args.rounds + 1):
        old_runs.append(run(args.old, args.filter))
        new_runs.append(run(args.new, args.filter))
        print(f"round {round_} done", file=sys.stderr)
    print(f"{'benchmark':<55} {'old':>10} {'new':>10} {'new/old':>8}  per round")
    for name in old_runs[0]:
        if old_runs[0][name][1] is not None:  # a footprint: compare the counter
            old = [r[name][1] for r in old_runs]
            new = [r[name][1] for r in new_runs]
            unit = ""
        else:
            old = [r[name][0] for r in old_runs]
            new = [r[name][0] for r in new_runs]
            unit = " ns"
        ratios = [n / o for o, n in zip(old, new)]
        print(f"{name:<55} {statistics.median(old):>8.4g}{unit:<3}{statistics.median(new):>8.4g}"
              f"{unit:<3}{statistics.median(ratios):>7.3f}  "
              + " ".join(f"{r:.3f}" for r in ratios))


if __name__ == "__main__":
    main()
