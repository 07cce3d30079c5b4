#!/usr/bin/env python3
"""bench/python_bench.py: tiermem driven from Python against the same work driven from C++,
measured in one run, alternating C++ and Python in every round; medians over the rounds.

    PYTHONPATH=build/release/python /usr/bin/python3 bench/python_bench.py \
        [--build build/release] [--rounds 5] [--dir DIR] [--json]

1. Pin: C++ is bench_pool's PinResident/1 (pin + unpin of one resident 2 MiB page of an
   8 MiB tensor in a 256 MiB dram tier, one thread, wall time per iteration, median of 3
   repetitions). Python is, on a pool of the same configuration, per iteration::

       with t.pin("dram", "read", (0, 2 << 20)) as p:
           p.__dlpack__()        # the DLPack export; the capsule is dropped unconsumed,
                                 # which runs its deleter as a consumer's free would

   (wall time of batches of 200 000 iterations, median of 3). Also reported, with no target:
   the same loop with numpy.from_dlpack(p) and torch.from_dlpack(p) consuming the export
   (the consumers' own cost).
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

PAGE = 2 << 20


def cpp_pin_ns(build):
    result = subprocess.run(
        [os.path.join(build, "bin", "bench_pool"),
         "--benchmark_filter=PinResident/1/real_time/threads:1$",
         "--benchmark_repetitions=3", "--benchmark_format=json"],
        capture_output=True, text=True, check=True)
    runs = [b for b in json.loads(result.stdout)["benchmarks"] if b["run_type"] == "iteration"]
    return statistics.median(b["real_time"] for b in runs)


def python_pin_ns(directory, consume, iterations):
    config = {"dram.capacity": "256MiB", "nvme.dirs": [directory], "nvme.capacity": "1GiB"}
    with tiermem.Pool(config) as pool:
        t = pool.allocate(8 << 20, "u8", "t")
        with t.pin("dram", "write"):
            pass
        pages = (0, PAGE)

        def batch(n):
            start = time.perf_counter_ns()
            if consume is None:
                for _ in range(n):
                    with t.pin("dram", "read", pages) as p:
                        p.__dlpack__()
            else:
                for _ in range(n):
                    with t.pin("dram", "read", pages) as p:
                        consume(p)
            return (time.perf_counter_ns() - start) / n

        batch(iterations // 10)  # warm up
        return statistics.median(batch(iterations) for _ in range(3))


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
    parser.add_argument("--dir", default=None, help="where the NVMe files go (default: $TMPDIR)")
    parser.add_argument("--layers", type=int, default=16)
    parser.add_argument("--layer", default="32MiB")
    parser.add_argument("--dram", default="128MiB")
    parser.add_argument("--tokens", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args()

    layer_bytes = _size(args.layer)
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="tiermem-pybench.") as directory:
        config_path = os.path.join(directory, "pool.json")
        with open(config_path, "w") as f:
            json.dump({"dram.capacity": args.dram, "nvme.dirs": [directory],
                       "nvme.capacity": args.layers * layer_bytes + (64 << 20)}, f)
        variants = {"pin+dlpack+unpin": None,
                    "pin+numpy.from_dlpack+unpin": numpy.from_dlpack,
                    "pin+torch.from_dlpack+unpin": torch.from_dlpack}
        rows = {"cpp_pin_ns": [], "cpp_stream_gbps": [], "python_stream_gbps": []}
        rows.update({name: [] for name in variants})
        for round_ in range(args.rounds):
            rows["cpp_pin_ns"].append(cpp_pin_ns(args.build))
            for name, consume in variants.items():
                rows[name].append(python_pin_ns(directory, consume,
                                                200_000 if consume is None else 50_000))
            stream = (config_path, args.layers, layer_bytes, args.tokens)
            if round_ % 2 == 0:  # alternate which stream goes first
                cpp = cpp_stream(args.build, *stream)
                python = python_stream(*stream)
            else:
                python = python_stream(*stream)
                cpp = cpp_stream(args.build, *stream)
            rows["cpp_stream_gbps"].append(cpp["bytes"] / cpp["seconds"] / 1e9)
            rows["python_stream_gbps"].append(python["bytes"] / python["seconds"] / 1e9)
            print(f"round {round_ + 1}: C++ pin {rows['cpp_pin_ns'][-1]:.0f} ns, Python "
                  + ", ".join(f"{n} {rows[n][-1]:.0f} ns" for n in variants)
                  + f"; stream C++ {rows['cpp_stream_gbps'][-1]:.2f} GB/s "
                  f"({cpp['nvme_to_dram_pages']} pages from nvme), Python "
                  f"{rows['python_stream_gbps'][-1]:.2f} GB/s "
                  f"({python['nvme_to_dram_pages']} pages)", flush=True)

    medians = {name: statistics.median(values) for name, values in rows.items()}
    ratios = {
        "pin_ratio": medians["pin+dlpack+unpin"] / medians["cpp_pin_ns"],
        "pin_ratio_rounds": [p / c for p, c in zip(rows["pin+dlpack+unpin"], rows["cpp_pin_ns"])],
        "stream_ratio": medians["python_stream_gbps"] / medians["cpp_stream_gbps"],
        "stream_ratio_rounds": [p / c for p, c in zip(rows["python_stream_gbps"],
                                                      rows["cpp_stream_gbps"])],
    }
    print(f"medians over {args.rounds} rounds: " + ", ".join(
        f"{name} {value:.3g}" for name, value in medians.items()))
    print(f"Python pin + DLPack export + unpin / C++ pin + unpin: {ratios['pin_ratio']:.2f}x "
          f"(target <= 5x; per round: "
          + ", ".join(f"{r:.2f}" for r in ratios["pin_ratio_rounds"]) + ")")
    print(f"Python stream / C++ stream: {ratios['stream_ratio']:.3f} (target >= 0.95; per round: "
          + ", ".join(f"{r:.3f}" for r in ratios["stream_ratio_rounds"]) + ")")
    if args.json:
        print(json.dumps({"rounds": rows, "medians": medians, **ratios}))
    return 0


def _size(text):
    units = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
    for unit, factor in units.items():
        if text.endswith(unit):
            return int(text[: -len(unit)]) * factor
    return int(text)


if __name__ == "__main__":
    sys.exit(main())
