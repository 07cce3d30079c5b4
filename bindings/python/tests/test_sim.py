"""tiermem.sim: generated traces, simulate and sweep returning dicts, policy listings."""

import pytest

import tiermem
from tiermem import sim


def test_generators_and_simulate():
    trace = sim.layer_streaming(model="phi-3-mini", tokens=2, prompt=16)
    assert len(trace) > 0 and trace.page_size == 2 << 20
    result = sim.simulate(trace, eviction="lru", prefetch="none", dram="50%")
    assert result["accesses"] == trace.page_accesses
    assert result["eviction"] == "lru" and result["dram_bytes"] == trace.footprint_bytes // 2
    assert 0 <= result["overlap_efficiency"] <= 1
    assert sim.simulate(trace, dram="50%") == result  # deterministic
    schedule = sim.layer_streaming_schedule(model="phi-3-mini", tokens=2, prompt=16)
    scheduled = sim.simulate(trace, prefetch="schedule", schedule=schedule, dram="1GiB",
                             future="schedule")
    assert scheduled["prefetch.issued"] > 0
    swaps = sim.optimizer_swapping(model="phi-3-mini", iterations=1)
    assert sim.simulate(swaps, dram="25%", baseline=False)["accesses"] == swaps.page_accesses
    random = sim.random_accesses(pages=256, tensors=4, events=2000, alpha=0.8, page_size="64KiB")
    assert sim.simulate(random, dram=64 << 10)["accesses"] == 2000


def test_mixture_of_experts_from_a_shape_file(tmp_path):
    shape = tmp_path / "tiny-moe.json"
    shape.write_text('{"layers": 2, "hidden": 256, "ffn": 512, "heads": 4, "kv_heads": 4, '
                     '"vocab": 100, "mlp": "gated", "dtype": "bf16", "experts": 8, '
                     '"experts_per_token": 2, "expert_ffn": 64}')
    options = dict(model=str(shape), tokens=8, prompt=0, page_size="4KiB", skew=1.2, drift=0.1)

    def text(seed):
        path = tmp_path / f"seed{seed}.csv"
        sim.layer_streaming(seed=seed, **options).write(path, "csv")
        return path.read_text()

    assert text(5) == text(5)
    assert text(5) != text(6)
    shape.write_text('{"layers": 2}')
    with pytest.raises(tiermem.InvalidArgumentError, match="the field 'hidden' is missing"):
        sim.layer_streaming(model=str(shape))


def test_router_hints_are_replayed_as_prefetches_unless_ignored(tmp_path):
    shape = tmp_path / "tiny-moe.json"
    shape.write_text('{"layers": 2, "hidden": 256, "ffn": 512, "heads": 4, "kv_heads": 4, '
                     '"vocab": 100, "mlp": "gated", "dtype": "bf16", "experts": 8, '
                     '"experts_per_token": 2, "expert_ffn": 64}')
    options = dict(model=str(shape), tokens=8, prompt=0, page_size="4KiB")
    plain = sim.layer_streaming(**options)
    hinted = sim.layer_streaming(hints_ahead=1, **options)
    assert hinted.page_accesses == plain.page_accesses and len(hinted) > len(plain)
    replayed = sim.simulate(hinted, dram="50%")
    assert replayed["prefetch.issued"] > 0
    ignored = sim.simulate(hinted, dram="50%", trace_prefetches=False)
    assert ignored["prefetch.issued"] == 0
    assert ignored["misses"] == sim.simulate(plain, dram="50%")["misses"]


def test_sweep_returns_one_dict_per_combination_in_order():
    trace = sim.random_accesses(pages=512, tensors=4, events=5000, alpha=1.0, seed=3)
    rows = sim.sweep(trace, eviction=["lru", "fifo"], prefetch="none", dram=["10%", "50%"],
                     threads=2)
    assert [(r["eviction"], r["dram_bytes"]) for r in rows] == [
        ("lru", trace.footprint_bytes // 10), ("lru", trace.footprint_bytes // 2),
        ("fifo", trace.footprint_bytes // 10), ("fifo", trace.footprint_bytes // 2)]
    assert rows[1]["misses"] <= rows[0]["misses"]
    assert all(r["belady.misses"] <= r["misses"] for r in rows)


def test_traces_round_trip_through_files(tmp_path):
    trace = sim.parse_csv("tensor,page,op\n0,0,r\n0,1,w\n1,0,rw\n", "64KiB")
    assert len(trace) == 3 and trace.tensor_pages == [2, 1]
    for form in ("binary", "csv"):
        path = tmp_path / f"t.{form}"
        trace.write(path, form)
        again = sim.read_trace(path, "64KiB")
        assert len(again) == 3 and again.tensor_pages == [2, 1]
    trace.write(tmp_path / "t.oracle", "oracle_general")


def test_listings_and_errors():
    assert {"lru", "belady"} <= {p["name"] for p in sim.eviction_policies()}
    assert "sequential" in {p["name"] for p in sim.prefetch_policies()}
    assert "opt-13b" in {m["name"] for m in sim.models()}
    trace = sim.random_accesses(pages=64, events=100)
    with pytest.raises(tiermem.ConfigError):
        sim.simulate(trace, eviction="mru")
    with pytest.raises(tiermem.InvalidArgumentError, match="unknown option 'token'"):
        sim.layer_streaming(token=3)
    with pytest.raises(tiermem.InvalidArgumentError):
        sim.layer_streaming(model="gpt-5")
    with pytest.raises(ValueError, match="share"):
        sim.simulate(trace, dram="lots%")
    with pytest.raises(tiermem.InvalidArgumentError):
        sim.simulate(trace, nvme="speed=9")
    with pytest.raises(tiermem.SystemCallError):
        sim.read_trace("/nonexistent/trace")
