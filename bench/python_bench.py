#!/usr/bin/env python3
"""bench/python_bench.py: tiermem driven from Python against the same work driven from C++,
measured in one run, alternating C++ and Python in every round; medians over the rounds.

    PYTHONPATH=build/release/python /usr/bin/python3 bench/python_bench.py \
        [--build build/release] [--rounds 5] [--dir DIR] [--json]

1. Pin: the C++ reference is Tensor::pin + unpin of one resident 2 MiB page of an 8 MiB tensor
   in a 256 MiB dram tier (what bench_pool's PinResident/1 does), timed in this process by
   the module's _time_cpp_pins helper (the GIL released once around its loop). The Python
   side is, on the same tensor, per iteration::

       with t.pin("dram", "read", (0, 2 << 20)) as p:
           p.__dlpack__()        # the DLPack export; the capsule is dropped unconsumed,
                                 # which runs its deleter as a consumer's free would

   Batches of 20 000 iterations of each side alternate (--pairs per round), so each Python
   batch has a C++ batch beside it in time on this shared machine; a round's ratio is the
   median of the neighbouring batches' ratios. bench_pool's own PinResident/1 (median of 5
   repetitions) runs once per round as a check on the helper. Also reported, with no target
   (5 000 iterations a batch): the same without `with` (p = t.pin(...); p.__dlpack__();
   p.release()), and the loop with numpy.from_dlpack(p) or torch.from_dlpack(p) consuming
   the export (the consumers' own cost).
2. Stream: build/release/bin/stream_bench against the same loop in Python (prefetch the next
   layer, pin this one for reading, torch.from_dlpack it, unpin), with one pool configuration
   file for both and the NVMe files in the same directory; GB/s pinned.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy
import torch

import tiermem
from tiermem._tiermem import _time_cpp_pins

PAGE = 2 << 20


def cpp_pin_ns(build):
    result = subprocess.run(
        [os.path.join(build, "bin", "bench_pool"),
         "--benchmark_filter=PinResident/1/real_time/threads:1$",
         "--benchmark_repetitions=5", "--benchmark_format=json"],
        capture_output=True, text=True, check=True)
    runs = [b for b in json.loads(result.stdout)["benchmarks"] if b["run_type"] == "iteration"]
    return statistics.median(b["real_time"] for b in runs)


def pin_pairs(directory, pairs, iterations):
    """Batches of C++ and Python pins on one tensor, alternating, so that each Python batch has
    a C++ batch next to it in time; returns the ns per iteration of each batch."""
    config = {"dram.capacity": "256MiB", "nvme.dirs": [directory], "nvme.capacity": "1GiB"}
    with tiermem.Pool(config) as pool:
        t = pool.allocate(8 << 20, "u8", "t")
        with t.pin("dram", "write"):
            pass
        pages = (0, PAGE)

        def cpp(n):
            return _time_cpp_pins(t, 0, PAGE, n)

        def timed(loop):
            """(wall, thread CPU) ns per iteration of loop(n)."""
            def run(n):
                wall, cpu = time.perf_counter_ns(), time.thread_time_ns()
                loop(n)
                return ((time.perf_counter_ns() - wall) / n, (time.thread_time_ns() - cpu) / n)
            return run

        @timed
        def export(n):
            for _ in range(n):
                with t.pin("dram", "read", pages) as p:
                    p.__dlpack__()

        @timed
        def explicit(n):
            for _ in range(n):
                p = t.pin("dram", "read", pages)
                p.__dlpack__()
                p.release()

        def consumed(consume):
            @timed
            def run(n):
                for _ in range(n):
                    with t.pin("dram", "read", pages) as p:
                        consume(p)
            return run

        sides = {"cpp": cpp, "pin+dlpack+unpin": export, "pin+dlpack+release": explicit,
                 "pin+numpy.from_dlpack+unpin": consumed(numpy.from_dlpack),
                 "pin+torch.from_dlpack+unpin": consumed(torch.from_dlpack)}
        for run in sides.values():  # warm up
            run(iterations // 10)
        batches = {name: [] for name in sides}
        for k in range(pairs):
            order = list(sides) if k % 2 == 0 else list(reversed(sides))
            for name in order:
                # C++ pins are ~4x cheaper: 4x the iterations keeps the batches about as long.
                n = {"cpp": 4 * iterations, "pin+dlpack+unpin": iterations}.get(name,
                                                                               iterations // 4)
                batches[name].append(sides[name](n))
        return batches


def cpp_stream(build, config_path, layers, layer_bytes, tokens):
    result = subprocess.run(
        [os.path.join(build, "bin", "stream_bench"), config_path, str(layers), str(layer_bytes),
         str(tokens)], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def python_stream(config_path, layers, layer_bytes, tokens):
    with tiermem.Pool(config_path) as pool:
        weights = [pool.allocate(layer_bytes, "u8", f"layer{i}") for i in range(layers)]
        for i, w in enumerate(weights):
            with w.pin("dram", "write") as pin:
                pin.numpy().fill(i)
        for w in weights:
            w.evict("dram")
        start = time.perf_counter()
        pinned = 0
        for _ in range(tokens):
            for i in range(layers):
                if i + 1 < layers:
                    weights[i + 1].prefetch("dram")
                with weights[i].pin("dram", "read") as pin:
                    layer = torch.from_dlpack(pin)
                    pinned += layer.numel()
                    del layer
        seconds = time.perf_counter() - start
        return {"seconds": seconds, "bytes": pinned,
                "nvme_to_dram_pages": pool.stats()["moves.nvme_to_dram.pages"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default="build/release")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pairs", type=int, default=15,
                        help="alternating C++ / Python pin batches per round")
    parser.add_argument("--dir", default=None, help="where the NVMe files go (default: $TMPDIR)")
    parser.add_argument("--layers", type=int, default=16)
    parser.add_argument("--layer", default="32MiB")
    parser.add_argument("--dram", default="128MiB")
    parser.add_argument("--tokens", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args()

    layer_bytes = _size(args.layer)
    variants = ["pin+dlpack+unpin", "pin+dlpack+release", "pin+numpy.from_dlpack+unpin",
                "pin+torch.from_dlpack+unpin"]
    rows = {"bench_pool_ns": [], "cpp_cpu_ns": [], "cpp_wall_ns": [], "ratio_cpu": [],
            "ratio_wall": [], "cpp_stream_gbps": [], "python_stream_gbps": []}
    for name in variants:
        rows[name + "_cpu_ns"] = []
        rows[name + "_wall_ns"] = []
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="tiermem-pybench.") as directory:
        config_path = os.path.join(directory, "pool.json")
        with open(config_path, "w") as f:
            json.dump({"dram.capacity": args.dram, "nvme.dirs": [directory],
                       "nvme.capacity": args.layers * layer_bytes + (64 << 20)}, f)
        for round_ in range(args.rounds):
            rows["bench_pool_ns"].append(cpp_pin_ns(args.build))
            batches = pin_pairs(directory, args.pairs, 20_000)
            for clock, index in (("wall", 0), ("cpu", 1)):
                rows[f"cpp_{clock}_ns"].append(statistics.median(b[index] for b in batches["cpp"]))
                for name in variants:
                    rows[f"{name}_{clock}_ns"].append(
                        statistics.median(b[index] for b in batches[name]))
                rows[f"ratio_{clock}"].append(statistics.median(
                    p[index] / c[index]
                    for p, c in zip(batches["pin+dlpack+unpin"], batches["cpp"])))

            stream = (config_path, args.layers, layer_bytes, args.tokens)
            if round_ % 2 == 0:  # alternate which stream goes first
                cpp = cpp_stream(args.build, *stream)
                python = python_stream(*stream)
            else:
                python = python_stream(*stream)
                cpp = cpp_stream(args.build, *stream)
            rows["cpp_stream_gbps"].append(cpp["bytes"] / cpp["seconds"] / 1e9)
            rows["python_stream_gbps"].append(python["bytes"] / python["seconds"] / 1e9)
            print(f"round {round_ + 1}: pins (thread CPU ns): C++ {rows['cpp_cpu_ns'][-1]:.0f}, "
                  + ", ".join(f"{n} {rows[n + '_cpu_ns'][-1]:.0f}" for n in variants)
                  + f"; ratio CPU {rows['ratio_cpu'][-1]:.2f}, wall {rows['ratio_wall'][-1]:.2f}"
                  f" (bench_pool {rows['bench_pool_ns'][-1]:.0f} ns wall); stream C++ "
                  f"{rows['cpp_stream_gbps'][-1]:.2f} GB/s ({cpp['nvme_to_dram_pages']} pages "
                  f"from nvme), Python {rows['python_stream_gbps'][-1]:.2f} GB/s "
                  f"({python['nvme_to_dram_pages']} pages)", flush=True)

    medians = {name: statistics.median(values) for name, values in rows.items()}
    stream_rounds = [p / c for p, c in zip(rows["python_stream_gbps"], rows["cpp_stream_gbps"])]
    result = {
        "pin_ratio_cpu": medians["ratio_cpu"],
        "pin_ratio_wall": medians["ratio_wall"],
        "stream_ratio": medians["python_stream_gbps"] / medians["cpp_stream_gbps"],
        "stream_ratio_rounds": stream_rounds,
    }
    print(f"medians over {args.rounds} rounds: " + ", ".join(
        f"{name} {value:.3g}" for name, value in medians.items()))
    print(f"Python pin + DLPack export + unpin / C++ pin + unpin (target <= 5x), median over "
          f"rounds of the median ratio of neighbouring batches: thread CPU time "
          f"{result['pin_ratio_cpu']:.2f}x (per round: "
          + ", ".join(f"{r:.2f}" for r in rows["ratio_cpu"]) + f"), wall time "
          f"{result['pin_ratio_wall']:.2f}x (per round: "
          + ", ".join(f"{r:.2f}" for r in rows["ratio_wall"]) + ")")
    print(f"Python stream / C++ stream: {result['stream_ratio']:.3f} (target >= 0.95; per round: "
          + ", ".join(f"{r:.3f}" for r in stream_rounds) + ")")
    if args.json:
        print(json.dumps({"rounds": rows, "medians": medians, **result}))
    return 0


def _size(text):
    units = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
    for unit, factor in units.items():
        if text.endswith(unit):
            return int(text[: -len(unit)]) * factor
    return int(text)


if __name__ == "__main__":
    sys.exit(main())
