"""Pins exported to NumPy and PyTorch without a copy: zero-copy proof, every dtype, ranges,
nested and overlapping pins, claims held by exports, misuse, and the emulated gpu tier."""

import gc
import io

import numpy
import pytest
import torch

import tiermem
from conftest import PAGE

KDLCPU = 1

# tiermem dtype -> (NumPy dtype or None, torch dtype or None) that read it through pin.numpy()
# and pin.torch(); None: the consumer lacks the type, and the pin says so clearly.
DTYPES = {
    "f64": (numpy.float64, torch.float64),
    "f32": (numpy.float32, torch.float32),
    "f16": (numpy.float16, torch.float16),
    "bf16": (None, torch.bfloat16),
    "fp8_e4m3": (None, None),
    "fp8_e5m2": (None, None),
    "i64": (numpy.int64, torch.int64),
    "i32": (numpy.int32, torch.int32),
    "i16": (numpy.int16, torch.int16),
    "i8": (numpy.int8, torch.int8),
    "u8": (numpy.uint8, torch.uint8),
    "bool": (numpy.bool_, torch.bool),
    # PyTorch has the wider unsigned types only from 2.3 on.
    "u16": (numpy.uint16, getattr(torch, "uint16", None)),
    "u32": (numpy.uint32, getattr(torch, "uint32", None)),
    "u64": (numpy.uint64, getattr(torch, "uint64", None)),
}


def test_every_tiermem_dtype_is_covered():
    assert set(DTYPES) == set(tiermem.DTYPES)


def test_zero_copy_torch_writes_are_seen_through_numpy_at_the_same_address(pool):
    t = pool.allocate((32, 64), "f32", "w")
    with t.pin("dram", "read_write") as pin:
        through_torch = torch.from_dlpack(pin)
        through_numpy = numpy.from_dlpack(pin)
        writable_numpy = pin.numpy()
        assert through_torch.data_ptr() == pin.data_ptr
        assert through_numpy.ctypes.data == pin.data_ptr
        assert writable_numpy.ctypes.data == pin.data_ptr
        assert through_torch.shape == (32, 64) and through_numpy.shape == (32, 64)
        through_torch[3, 5] = 42.0
        through_torch[31] = torch.arange(64, dtype=torch.float32)
        assert through_numpy[3, 5] == 42.0
        assert (through_numpy[31] == numpy.arange(64)).all()
        writable_numpy[0, 0] = -1.0
        assert through_torch[0, 0].item() == -1.0
        assert pin.exports == 3
    del through_torch, through_numpy, writable_numpy
    gc.collect()
    t.evict("dram")  # through nvme and back: the bytes written above are the tensor's
    with t.pin() as pin:
        back = pin.numpy()
        assert back[3, 5] == 42.0 and back[0, 0] == -1.0 and back[31, 63] == 63.0


@pytest.mark.parametrize("name", sorted(DTYPES))
def test_every_dtype_through_numpy_and_torch(pool, name):
    numpy_type, torch_type = DTYPES[name]
    t = pool.allocate((4, 6), name, f"t_{name}")
    itemsize = t.itemsize
    pattern = numpy.arange(24 * itemsize, dtype=numpy.uint8) % 2  # valid bytes for every dtype
    with t.pin("dram", "write") as pin:
        numpy.from_dlpack(pin.bytes())  # the byte view works for every dtype
        raw = torch.from_dlpack(pin.bytes())
        assert raw.dtype == torch.uint8 and raw.shape == (24 * itemsize,)
        raw.copy_(torch.from_numpy(pattern))
        del raw
        if torch_type is None:
            with pytest.raises(tiermem.UnsupportedError, match=name):
                pin.torch()
            if name.startswith("fp8"):  # DLPack has no fp8; the wider unsigned types it has
                with pytest.raises(tiermem.UnsupportedError, match="pin.bytes()"):
                    torch.from_dlpack(pin)
        else:
            exported = pin.torch()
            assert exported.dtype == torch_type and exported.shape == (4, 6)
            assert exported.data_ptr() == pin.data_ptr
            del exported
        if numpy_type is None:
            missing = "bfloat16" if name == "bf16" else name
            with pytest.raises(tiermem.UnsupportedError, match=missing):
                pin.numpy()
        else:
            array = pin.numpy()
            assert array.dtype == numpy_type and array.shape == (4, 6)
            assert array.tobytes() == pattern.tobytes()
            del array
    gc.collect()
    t.release()


def test_partial_ranges_export_rows_flat_elements_or_bytes(pool):
    t = pool.allocate((64, 256), "f32", "w")  # 1 KiB rows, 64 KiB: one page
    with t.pin("dram", "write") as pin:
        torch.from_dlpack(pin).copy_(torch.arange(64 * 256, dtype=torch.float32).view(64, 256))
    with t.pin("dram", "read", (2048, 4096)) as rows:  # rows 2..5
        assert rows.shape == (4, 256)
        assert torch.from_dlpack(rows)[0, 0].item() == 512.0
    with t.pin("dram", "read", slice(8, 20)) as flat:  # elements 2..4
        assert flat.shape == (3,)
        assert numpy.from_dlpack(flat).tolist() == [2.0, 3.0, 4.0]
    with t.pin("dram", "read", (1, 6)) as odd:
        with pytest.raises(tiermem.InvalidArgumentError, match="pin.bytes()"):
            odd.__dlpack__()
        assert numpy.from_dlpack(odd.bytes()).shape == (6,)
    with t.pin("dram", "read", (60 * 1024, None)) as tail:  # to the end: the last 4 rows
        assert tail.shape == (4, 256) and tail.nbytes == 4096


def test_misused_ranges_and_tiers_raise_clear_errors(pool):
    t = pool.allocate(PAGE, "u8", "t")
    cases = [
        (dict(range=(0, PAGE + 1)), tiermem.InvalidArgumentError, ""),
        (dict(range=(PAGE, 1)), tiermem.InvalidArgumentError, ""),
        (dict(range=(-1, 4)), tiermem.InvalidArgumentError, "negative"),
        (dict(range=(0, -4)), tiermem.InvalidArgumentError, "negative"),
        (dict(range=slice(0, 8, 2)), tiermem.InvalidArgumentError, "step"),
        (dict(range=slice(8, 4)), tiermem.InvalidArgumentError, "before it starts"),
        (dict(range=(1.5, 2)), tiermem.InvalidArgumentError, "not an int"),
        (dict(range="all"), tiermem.InvalidArgumentError, "slice"),
        (dict(tier="nvme"), tiermem.InvalidArgumentError, "nvme"),
        (dict(tier="ssd"), tiermem.InvalidArgumentError, "ssd"),
        (dict(tier=1), tiermem.InvalidArgumentError, "int"),
        (dict(access="append"), tiermem.InvalidArgumentError, "append"),
        (dict(tier="gpu"), tiermem.Error, ""),  # this pool has no gpu tier
    ]
    for kwargs, error, text in cases:
        with pytest.raises(error, match=text):
            t.pin(**kwargs)
        with pytest.raises(error, match=text):
            t.pin_async(**kwargs).result()
    with pytest.raises(TypeError):
        t.pin("dram", "read", None, "extra")
    with pytest.raises(TypeError):
        t.pin(tiers="dram")
    with pytest.raises(TypeError):
        t.pin("dram", tier="dram")
    assert t.residency(0)["pins_dram"] == 0  # nothing was left pinned


def test_nested_and_overlapping_pins_see_the_same_bytes(pool):
    t = pool.allocate(4 * PAGE, "u8", "t")
    with t.pin("dram", "write") as outer:
        outer.numpy()[:] = numpy.arange(4 * PAGE, dtype=numpy.uint64).astype(numpy.uint8)
        with t.pin("dram", "read", (PAGE, 2 * PAGE)) as a, \
                t.pin("dram", "read", (2 * PAGE, 2 * PAGE)) as b:
            assert a.data_ptr == outer.data_ptr + PAGE
            assert b.data_ptr == outer.data_ptr + 2 * PAGE
            overlap_a = numpy.from_dlpack(a)[PAGE:]
            overlap_b = numpy.from_dlpack(b)[:PAGE]
            assert overlap_a.ctypes.data == overlap_b.ctypes.data
            outer.numpy()[2 * PAGE] = 200
            assert overlap_a[0] == 200 and overlap_b[0] == 200
            assert t.residency(2)["pins_dram"] == 3
        del overlap_a, overlap_b  # the arrays hold their pins' pages until they go
    assert all(page["pins_dram"] == 0 for page in t.residency())


def test_exports_hold_the_pages_until_collected(pool):
    t = pool.allocate(2 * PAGE, "u8", "t")
    with t.pin("dram", "write") as pin:
        array = numpy.from_dlpack(pin)
        tensor = torch.from_dlpack(pin)
        view = memoryview(pin)
    assert pin.released and pin.active and pin.exports == 3
    assert t.evict("dram") == 0  # still pinned by the exports
    with pytest.raises(tiermem.ReleasedError, match="has ended"):
        pin.__dlpack__()
    with pytest.raises(tiermem.ReleasedError):
        pin.numpy()
    with pytest.raises(tiermem.ReleasedError):
        with pin:
            pass
    del array
    view.release()
    assert pin.active and pin.exports == 1
    del tensor
    gc.collect()
    assert not pin.active and pin.exports == 0
    assert t.evict("dram") == 2
    pin.release()  # releasing twice does nothing


def test_an_unconsumed_capsule_and_a_collected_pin_end_their_claims(pool):
    t = pool.allocate(PAGE, "u8", "t")
    pin = t.pin("dram", "read")
    capsule = pin.__dlpack__()
    pin.release()
    assert pin.active
    del capsule
    assert not pin.active
    for _ in range(100):  # pins never released by hand end when collected
        t.pin("dram", "read").__dlpack__()
    gc.collect()
    assert t.residency(0)["pins_dram"] == 0


def test_read_pins_refuse_writable_buffers(pool):
    t = pool.allocate(PAGE, "u8", "t")
    with t.pin("dram", "read") as pin:
        array = pin.numpy()
        assert not array.flags.writeable
        with pytest.raises(TypeError, match="read-write"):
            io.BytesIO(b"abc").readinto(pin)  # asks for a writable buffer: our BufferError
        view = memoryview(pin)
        assert view.readonly
        with pytest.raises(TypeError):
            view[0] = 1
        view.release()
        del array


def test_dlpack_protocol_arguments(pool):
    t = pool.allocate(PAGE, "u8", "t")
    with t.pin() as pin:
        assert pin.__dlpack_device__() == (KDLCPU, 0)
        pin.__dlpack__(stream=None, max_version=(1, 0), copy=False, dl_device=(KDLCPU, 0))
        with pytest.raises(BufferError, match="copy=True"):
            pin.__dlpack__(copy=True)
        with pytest.raises(BufferError, match="dl_device"):
            pin.__dlpack__(dl_device=(2, 0))
        with pytest.raises(BufferError, match="stream"):
            pin.__dlpack__(stream=1)
        with pytest.raises(TypeError):
            pin.__dlpack__(1)
        with pytest.raises(TypeError, match="colour"):
            pin.__dlpack__(colour="red")
    with pytest.raises(TypeError):
        tiermem.Pin()


def test_the_emulated_gpu_tier_exports_host_memory(make_pool):
    pool = make_pool(gpu_pages=8)
    assert pool.stats()["gpu.backend"] == "emulated"
    t = pool.allocate((4, 1024), "f32", "t")
    with t.pin("gpu", "write") as pin:
        assert pin.tier == "gpu"
        assert pin.__dlpack_device__() == (KDLCPU, 0)  # kDLCUDA only for the CUDA backend
        torch.from_dlpack(pin).fill_(2.5)
    with t.pin("dram", "read") as pin:
        assert float(pin.numpy().sum()) == 2.5 * 4096
    with t.pin("gpu", "read") as gpu, t.pin("gpu", "read") as again:
        assert numpy.from_dlpack(gpu).ctypes.data == numpy.from_dlpack(again).ctypes.data
    with t.pin("gpu", "read"):
        with pytest.raises(tiermem.BusyError):
            t.pin("dram", "write")
