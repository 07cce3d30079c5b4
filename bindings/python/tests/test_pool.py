"""tiermem.Pool and tiermem.Tensor: configuration, allocation, residency, counters, traces,
errors, and the rules for closing a pool."""

import gc
import json
import pathlib

import numpy
import pytest
import torch

import tiermem
from conftest import PAGE, small_config


def test_config_from_a_dict_json_text_a_file_or_a_path(tmp_path):
    config = small_config(tmp_path)
    text = json.dumps(config)
    file = tmp_path / "pool.json"
    file.write_text(text)
    for form in (config, text, str(file), pathlib.Path(file)):
        with tiermem.Pool(form) as pool:
            assert pool.config["dram.capacity"] == "1MiB"
            assert pool.config["page_size"] == "64KiB"


def test_bad_configs_raise_errors_naming_the_value(tmp_path):
    with pytest.raises(tiermem.InvalidArgumentError, match="page_size 3MiB") as caught:
        tiermem.Pool({"page_size": "3MiB", "nvme.dirs": [str(tmp_path)]})
    assert caught.value.code == "invalid_argument"
    assert isinstance(caught.value, ValueError)
    with pytest.raises(tiermem.ConfigError, match="no_such_key"):
        tiermem.Pool({"no_such_key": 1})
    with pytest.raises(tiermem.ConfigError):
        tiermem.Pool("{\"dram\": ")
    with pytest.raises(tiermem.ConfigError, match="missing.json") as caught:
        tiermem.Pool(str(tmp_path / "missing.json"))
    assert caught.value.code == "config"
    with pytest.raises(TypeError):
        tiermem.Pool(42)


def test_allocate_takes_dtype_names_numpy_and_torch_dtypes(pool):
    for dtype, name in [("float32", "f32"), ("bf16", "bf16"), (numpy.float16, "f16"),
                        (numpy.dtype("int64"), "i64"), (torch.bfloat16, "bf16"),
                        (torch.bool, "bool"), ("fp8_e4m3", "fp8_e4m3"), (torch.uint8, "u8")]:
        t = pool.allocate((4, 8), dtype, f"t_{name}_{id(dtype)}")
        assert t.dtype == name
        t.release()
    with pytest.raises(tiermem.InvalidArgumentError, match="'f24'"):
        pool.allocate(4, "f24", "bad")
    with pytest.raises(tiermem.InvalidArgumentError):
        pool.allocate(4, numpy.complex64, "complex")
    with pytest.raises(tiermem.InvalidArgumentError, match="negative"):
        pool.allocate((4, -1), "f32", "negative")
    with pytest.raises(tiermem.InvalidArgumentError):
        pool.allocate((4, 0), "f32", "zero")
    with pytest.raises(tiermem.InvalidArgumentError):
        pool.allocate(4, "f32", "")


def test_shapes_from_ints_numpy_ints_and_torch_sizes(pool):
    assert pool.allocate(numpy.int64(7), "u8", "a").shape == (7,)
    assert pool.allocate(torch.Size([2, 3]), "u8", "b").shape == (2, 3)
    assert pool.allocate([numpy.int32(4), 5], "u8", "c").shape == (4, 5)
    with pytest.raises(TypeError):
        pool.allocate("4", "u8", "d")


def test_tensor_properties(pool):
    t = pool.allocate((3, 1000), "bf16", "weights")
    assert (t.name, t.shape, t.dtype, t.itemsize) == ("weights", (3, 1000), "bf16", 2)
    assert t.nbytes == t.size == 6000
    assert t.numel == 3000
    assert t.page_count == 1
    assert t.pool is pool
    assert "weights" in repr(t)
    with pytest.raises(TypeError):
        tiermem.Tensor()


def test_prefetch_evict_flush_residency_release(pool):
    t = pool.allocate(4 * PAGE, "u8", "t")
    with t.pin("dram", "write") as pin:
        pin.numpy()[:] = 7
    pages = t.residency()
    assert len(pages) == 4 and all(p["dram"] and p["dirty"] for p in pages)
    t.flush()
    assert all(p["nvme"] and not p["dirty"] for p in t.residency())
    assert t.evict("dram") == 4
    assert not t.residency(0)["dram"]
    t.prefetch("dram", (0, 2 * PAGE))
    with t.pin("dram", "read") as pin:
        assert (pin.numpy() == 7).all()
    stats = pool.stats()
    assert stats["tensors"] == 1 and stats["moves.nvme_to_dram.pages"] >= 4
    pool.flush()
    t.release()
    assert t.released
    with pytest.raises(tiermem.ReleasedError, match="released"):
        t.pin()
    with pytest.raises(tiermem.ReleasedError):
        t.release()


def test_release_refuses_while_pins_or_exports_live(pool):
    t = pool.allocate(PAGE, "f32", "t")
    pin = t.pin("dram", "write")
    with pytest.raises(tiermem.BusyError, match="1 pin"):
        t.release()
    exported = torch.from_dlpack(pin)
    pin.release()
    with pytest.raises(tiermem.BusyError, match="1 pin"):
        t.release()
    del exported
    gc.collect()
    t.release()


def test_close_refuses_while_exports_live_and_never_crashes(tmp_path):
    pool = tiermem.Pool(small_config(tmp_path))
    t = pool.allocate((16, 16), "f32", "t")
    with t.pin("dram", "write") as pin:
        array = numpy.from_dlpack(pin)
        tensor = torch.from_dlpack(pin)
        tensor.fill_(3)
    with pytest.raises(tiermem.BusyError, match="1 pin"):
        pool.close()
    assert not pool.closed
    assert float(array.sum()) == 3 * 256  # still valid: the pool stayed open
    del array, tensor
    gc.collect()
    pool.close()
    assert pool.closed
    pool.close()  # a second close does nothing
    with pytest.raises(tiermem.ReleasedError, match="pool is closed"):
        t.pin()
    with pytest.raises(tiermem.ReleasedError):
        pool.allocate(4, "f32", "late")
    with pytest.raises(tiermem.ReleasedError):
        pool.stats()
    assert "closed" in repr(pool)


def test_leaving_the_with_block_closes_when_the_last_export_goes(tmp_path):
    with tiermem.Pool(small_config(tmp_path)) as pool:
        t = pool.allocate(PAGE, "u8", "t")
        with t.pin("dram", "write") as pin:
            kept = pin.numpy()
            kept[:] = 5
    # The block is over but `kept` lives: the pool refuses new calls, the memory stays valid.
    assert pool.closed
    with pytest.raises(tiermem.ReleasedError):
        t.pin()
    assert int(kept.sum()) == 5 * PAGE
    del kept, pin
    gc.collect()
    assert "closed" in repr(pool)


def test_a_collected_pool_is_closed_and_its_objects_keep_it_alive(tmp_path):
    pool = tiermem.Pool(small_config(tmp_path))
    t = pool.allocate(PAGE, "u8", "t")
    pin = t.pin("dram", "write")
    del pool
    gc.collect()
    pin.numpy()[:] = 1  # the Tensor keeps its Pool (and so the memory) alive
    pin.release()
    del pin, t
    gc.collect()


def test_schedule_and_trace_recording_replay_in_the_simulator(pool, tmp_path):
    a = pool.allocate(2 * PAGE, "u8", "a")
    b = pool.allocate(2 * PAGE, "u8", "b")
    pool.set_schedule([a, (b, None, "dram"), (a, (0, PAGE))])
    path = tmp_path / "run.trace"
    with pool.trace(path):
        for _ in range(3):
            for t in (a, b):
                with t.pin("dram", "read"), pool.compute():
                    pass
    with pytest.raises(tiermem.InvalidArgumentError):
        pool.set_schedule([(a, (0, 1), "ssd")])
    trace = tiermem.sim.read_trace(path)
    assert trace.page_size == PAGE and len(trace) == 6
    result = tiermem.sim.simulate(path, dram="50%")
    assert result["accesses"] == 12
    pool.set_schedule([])


def test_errors_carry_code_message_and_errno(pool):
    t = pool.allocate(PAGE, "u8", "t")
    with pytest.raises(tiermem.Error) as caught:
        t.pin("dram", "read", (0, 2 * PAGE))
    error = caught.value
    assert error.code == "invalid_argument" and error.errno == 0
    assert str(PAGE) in str(error)
    assert tiermem.TierFullError.code == "tier_full"
