#!/usr/bin/env python3
"""bench/policy_workbench.py: issue 13's tables in one run, from `tiermem sim` on generated traces.

  bench/policy_workbench.py QWEN.json DEEPSEEK.json [--tiermem build/release/bin/tiermem]

The two mixture-of-experts shape files are arguments (the project reads no shape outside
itself). Prints three tables as Markdown (see bench/RESULTS.md, "Policy workbench"):
  1. dense layer streaming, bytes fetched against Belady's, no schedule given;
  2. mixture-of-experts streaming, the same;
  3. every prefetcher against its eviction policy alone, DRAM at 25%: bytes added.
Tools run from argument lists; no text reaches a shell.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

EVICTIONS = ["lru", "s3fifo", "sieve", "arc", "lirs", "wtinylfu", "moe"]
PREFETCH_EVICTIONS = ["lru", "lirs", "moe", "wtinylfu", "s3fifo", "arc"]
PREFETCHERS = ["sequential", "stride", "markov", "schedule"]


def run(tiermem, *args):
    out = subprocess.run([tiermem, *args], check=True, capture_output=True, text=True).stdout
    return out


def sim(tiermem, trace, dram, eviction, prefetch="none", belady=True):
    args = ["sim", trace, "--dram", dram, "--eviction", eviction, "--prefetch", prefetch, "--json"]
    if not belady:
        args.append("--no-belady")
    return json.loads(run(tiermem, *args).strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("qwen", help="qwen1.5-moe-a2.7b shape file")
    parser.add_argument("deepseek", help="deepseek-v3 shape file")
    parser.add_argument("--tiermem", default="build/release/bin/tiermem")
    args = parser.parse_args()
    tiermem = os.path.abspath(args.tiermem)
    with tempfile.TemporaryDirectory() as scratch:
        traces = {}

        def gen(name, *options):
            path = os.path.join(scratch, name + ".bin")
            run(tiermem, "trace", "gen", "layers", *options, "-o", path)
            traces[name] = path

        gen("opt-13b", "--model", "opt-13b", "--tokens", "16")
        gen("phi-3-mini", "--model", "phi-3-mini", "--tokens", "16")
        gen("llama-3-70b", "--model", "llama-3-70b", "--tokens", "16")
        gen("qwen", "--model", args.qwen, "--tokens", "256", "--prompt", "64")
        gen("ds", "--model", args.deepseek, "--tokens", "64", "--prompt", "16")
        zipf = os.path.join(scratch, "zipf.bin")
        run(tiermem, "trace", "gen", "zipf", "--pages", "65536", "--tensors", "16", "--events",
            "1000000", "--writes", "0.2", "--compute-ns", "20000", "--page-size", "64KiB",
            "-o", zipf)
        traces["zipf"] = zipf

        for title, rows in [
            ("Dense layer streaming", [(m, d) for m in ["opt-13b", "phi-3-mini", "llama-3-70b"]
                                       for d in ["25%", "50%", "75%"]]),
            ("Mixture-of-experts streaming", [(m, d) for m in ["qwen", "ds"]
                                              for d in ["25%", "50%"]]),
        ]:
            print(f"### {title}: bytes fetched / Belady's\n")
            print("| trace | DRAM | " + " | ".join(EVICTIONS) + " |")
            print("|---|---|" + "---|" * len(EVICTIONS))
            for trace, dram in rows:
                cells = []
                for eviction in EVICTIONS:
                    r = sim(tiermem, traces[trace], dram, eviction)
                    cells.append(f"{r['bytes_fetched'] / r['belady.bytes_fetched']:.3f}")
                print(f"| {trace} | {dram} | " + " | ".join(cells) + " |", flush=True)
            print()

        print("### Prefetchers against their eviction policy alone, DRAM 25%\n")
        print("| trace | eviction | prefetch | bytes added | issued | used | unused |")
        print("|---|---|---|---|---|---|---|")
        worst = (0.0, "")
        for trace in ["opt-13b", "phi-3-mini", "qwen", "ds", "zipf"]:
            for eviction in PREFETCH_EVICTIONS:
                alone = sim(tiermem, traces[trace], "25%", eviction, belady=False)
                for prefetch in PREFETCHERS:
                    r = sim(tiermem, traces[trace], "25%", eviction, prefetch, belady=False)
                    added = r["bytes_fetched"] / alone["bytes_fetched"] - 1
                    used = r["prefetch.useful"] + r["prefetch.late"]
                    print(f"| {trace} | {eviction} | {prefetch} | {added:+.1%} | "
                          f"{r['prefetch.issued']} | {used} | {r['prefetch.useless']} |",
                          flush=True)
                    if added > worst[0]:
                        worst = (added, f"{trace} {eviction} {prefetch}")
        print(f"\nMost added: {worst[0]:+.1%} ({worst[1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
