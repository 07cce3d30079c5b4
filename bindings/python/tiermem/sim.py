"""tiermem.sim: choose policies before running anything.

Replays an access trace against eviction and prefetch policies and tier capacities, on
simulated devices and a virtual clock, next to Belady's optimum; generates traces of the
workloads tiermem serves; sweeps parameters. Results are dicts (the fields `tiermem sim --json`
prints), so a policy can be tuned from a notebook::

    from tiermem import sim
    trace = sim.layer_streaming(model="opt-13b", tokens=4)
    rows = sim.sweep(trace, eviction=["lru", "s3fifo"], prefetch=["none", "sequential:depth=4"],
                     dram=["25%", "50%"])
    best = min(rows, key=lambda r: r["stall_ns"])

Every function here releases the GIL while it computes.
"""

import concurrent.futures as _futures
import itertools as _itertools
import os as _os

from tiermem._tiermem import _sim as _native

Trace = _native.Trace


def read_trace(path, csv_page_size="2MiB"):
    """Reads a trace file: tiermem's binary format, or CSV with pages of csv_page_size."""
    return _native.read_trace(path, csv_page_size)


def parse_csv(text, page_size="2MiB"):
    """A trace from CSV text (columns tensor,page,op and optional count,tier,time_ns,compute_ns)."""
    return _native.parse_csv(text, page_size)


def layer_streaming(**options):
    """ZeRO-Inference-style layer streaming. Options: model ("opt-13b"; see models(), or the path
    of a shape file FILE.json), tokens, prompt, batch, page_size, tflops, hbm_gbps, weight_tier,
    kv_tier; for a mixture of experts the routing's seed, skew and drift, and hints_ahead N to
    announce each layer's routed experts as prefetch records N layers ahead (0: as the router
    decides)."""
    return _native.layer_streaming(**options)


def layer_streaming_schedule(**options):
    """The order an application would register (Pool.set_schedule) for layer_streaming."""
    return _native.layer_streaming_schedule(**options)


def optimizer_swapping(**options):
    """ZeRO-Infinity-style optimizer-state swapping. Options: model, iterations,
    subgroup_params, page_size, forward_backward_ms, adam_ns_per_param, tier."""
    return _native.optimizer_swapping(**options)


def random_accesses(**options):
    """Uniform (alpha 0) or zipf single-page accesses. Options: pages, tensors, events, alpha,
    write_fraction, compute_ns, seed, page_size, tier."""
    return _native.random_accesses(**options)


def eviction_policies():
    """The eviction policies: dicts of name, params and doc."""
    return _native.eviction_policies()


def prefetch_policies():
    """The prefetch policies: dicts of name, params and doc."""
    return _native.prefetch_policies()


def models():
    """The model shapes the generators know."""
    return _native.models()


def _capacity(value, footprint, what):
    """Bytes from an int, a size ("1GiB"), "N%" of the footprint, or None (half of it)."""
    if value is None:
        return max(footprint // 2, 1)
    if isinstance(value, str) and value.endswith("%"):
        try:
            share = float(value[:-1])
        except ValueError:
            share = -1.0
        if not 0 < share <= 1000:
            raise ValueError(f"{what} {value!r} is not a share of the footprint such as '50%'")
        return max(int(footprint * share / 100), 1)
    return value


def _resolve(trace, csv_page_size, dram, gpu):
    """The trace as the simulator takes it, and the capacities in bytes."""
    needs_footprint = any(v is None or (isinstance(v, str) and v.endswith("%"))
                          for v in (dram, gpu))
    if needs_footprint and not isinstance(trace, Trace):
        trace = read_trace(trace, csv_page_size)
    footprint = trace.footprint_bytes if isinstance(trace, Trace) else 0
    return trace, _capacity(dram, footprint, "dram"), _capacity(gpu, footprint, "gpu")


def simulate(trace, *, eviction="lru", prefetch="none", dram=None, gpu=0, nvme=None, pcie=None,
             prefetch_budget=None, baseline=True, schedule=None, future="trace",
             trace_prefetches=True, csv_page_size="2MiB"):
    """Replays trace (a Trace, or a trace file's path) and returns the result as a dict.

    eviction, prefetch: registry specs ("lru", "s3fifo:small=0.1", "sequential:depth=4"; see
    eviction_policies() and prefetch_policies()). dram, gpu: capacities as bytes, sizes
    ("1GiB") or shares of the trace's footprint ("50%"); dram None: half the footprint; gpu 0:
    no gpu tier. nvme, pcie: link specs "gbps=2,write_gbps=1.5,lat_us=100,qd=32".
    prefetch_budget: bytes in flight at most. baseline: also replay Belady's MIN, for the
    gap_* figures. schedule: a Trace of one iteration of the application's order (the
    "schedule" prefetch policy follows it); future: "trace" (Belady sees the trace's own
    future) or "schedule". trace_prefetches: replay the trace's prefetch records (the
    application's Tensor.prefetch calls, recorded); False ignores them. Raises ConfigError for an unknown policy, InvalidArgumentError for a
    bad value or trace.
    """
    trace, dram, gpu = _resolve(trace, csv_page_size, dram, gpu)
    config = {
        "eviction": eviction, "prefetch": prefetch, "dram": dram, "gpu": gpu, "nvme": nvme,
        "pcie": pcie, "prefetch_budget": prefetch_budget, "baseline": baseline,
        "schedule": schedule, "future": future, "trace_prefetches": trace_prefetches,
    }
    result = _native.simulate(trace, config, csv_page_size)
    result["dram_bytes"] = dram
    result["gpu_bytes"] = gpu
    return result


def sweep(trace, *, eviction=("lru",), prefetch=("none",), dram=(None,), gpu=(0,), threads=None,
          **common):
    """simulate() over every combination of the listed evictions, prefetches, dram and gpu
    capacities (each a value or a list), with the other options of simulate() in common.

    Runs threads simulations at once (default: one per CPU). Returns one dict per
    combination, in the order of itertools.product(eviction, prefetch, dram, gpu), each with
    dram_bytes and gpu_bytes added.
    """
    def listed(value):
        return [value] if isinstance(value, (str, int)) or value is None else list(value)

    csv_page_size = common.get("csv_page_size", "2MiB")
    if not isinstance(trace, Trace):
        trace = read_trace(trace, csv_page_size)
    points = list(_itertools.product(listed(eviction), listed(prefetch), listed(dram), listed(gpu)))
    workers = threads or _os.cpu_count() or 1
    with _futures.ThreadPoolExecutor(max_workers=workers) as pool:
        jobs = [pool.submit(simulate, trace, eviction=e, prefetch=p, dram=d, gpu=g, **common)
                for e, p, d, g in points]
        return [job.result() for job in jobs]
