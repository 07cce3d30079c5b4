"""Checkpoints from Python: saved while the caller goes on, read back with json and numpy only,
checked, opened in place and pinned (read pins only), damaged; a file written by numpy opened
in place; option errors."""

import gc
import json
import struct

import numpy
import pytest

import tiermem
from conftest import small_config

SAFETENSORS_DTYPES = {"F32": numpy.float32, "I16": numpy.int16, "U32": numpy.uint32,
                      "I64": numpy.int64, "U16": numpy.uint16}


def read_safetensors(path):
    """(header, {name: array}) of a .safetensors file, by json and numpy alone."""
    blob = open(path, "rb").read()
    length = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + length])
    data = blob[8 + length:]
    arrays = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        array = numpy.frombuffer(data[begin:end], dtype=SAFETENSORS_DTYPES[entry["dtype"]])
        arrays[name] = array.reshape(entry["shape"])
    return header, arrays


def write_safetensors(path, arrays):
    """A .safetensors file written by numpy: a JSON header (not padded) and the bytes."""
    names = {numpy.dtype(dtype): name for name, dtype in SAFETENSORS_DTYPES.items()}
    header, data, at = {}, b"", 0
    for name, array in arrays.items():
        raw = numpy.ascontiguousarray(array).tobytes()
        header[name] = {"dtype": names[array.dtype], "shape": list(array.shape),
                        "data_offsets": [at, at + len(raw)]}
        data += raw
        at += len(raw)
    text = json.dumps(header).encode()
    with open(path, "wb") as file:
        file.write(struct.pack("<Q", len(text)) + text + data)


def read_pin(tensor):
    with tensor.pin("dram", "read") as pin:
        return numpy.from_dlpack(pin).copy()


@pytest.fixture
def model():
    rng = numpy.random.default_rng(0)
    return {"a": rng.standard_normal((256, 128)).astype(numpy.float32),  # 2 pages
            "b": rng.integers(-1000, 1000, 1000).astype(numpy.int16),
            "c": rng.integers(0, 2**32, (64, 64), dtype=numpy.uint64).astype(numpy.uint32)}


def allocate_model(pool, model):
    tensors = []
    for name, values in model.items():
        tensor = pool.allocate(values.shape, values.dtype, name)
        with tensor.pin("dram", "write") as pin:
            pin.numpy()[...] = values
        tensors.append(tensor)
    return tensors


def test_save_read_back_check_and_open_in_place(tmp_path, model):
    path = tmp_path / "model.safetensors"
    with tiermem.Pool(small_config(tmp_path)) as pool:
        tensors = allocate_model(pool, model)
        future = tiermem.save_checkpoint(tensors, path, metadata={"by": "pytest"},
                                         staging_bytes="1MiB", io={"engine": "psync"})
        # Until its outcome is taken, the save holds its tensors and their pool.
        with pytest.raises(tiermem.BusyError):
            tensors[0].release()
        with pytest.raises(tiermem.BusyError):
            pool.close()
        result = future.result(timeout=60)
        assert future.done()
        assert result["tensors"] == 3
        assert result["files"] == [str(path)]
        assert result["bytes_written"] == path.stat().st_size
        assert future.result() == result
        tensors[0].release()  # free again

    header, arrays = read_safetensors(path)
    assert header["__metadata__"]["by"] == "pytest"
    assert list(arrays) == ["a", "b", "c"]
    for name, values in model.items():
        assert numpy.array_equal(arrays[name], values)

    report = tiermem.check_checkpoint(path)
    assert report["tensors"] == 3
    assert report["checksums_verified"] == 3
    assert report["bytes"] == sum(v.nbytes for v in model.values())
    assert report["files"] == [str(path)]

    # Opened in place in a pool whose dram tier is smaller than the checkpoint.
    with tiermem.Pool(small_config(tmp_path, dram_pages=4)) as pool:
        opened = tiermem.open_checkpoint(pool, path)
        assert [t.name for t in opened] == ["a", "b", "c"]
        for tensor in opened:
            assert tensor.shape == model[tensor.name].shape
            assert numpy.array_equal(read_pin(tensor), model[tensor.name])
        found = pool.find("b")
        assert found is not None and numpy.array_equal(read_pin(found), model["b"])
        for access in ("write", "read_write"):
            with pytest.raises(tiermem.InvalidArgumentError, match="model.safetensors"):
                opened[0].pin("dram", access)
        opened[0].evict("dram")  # dropped, not written: the file is the nvme copy
        opened[0].prefetch("dram")
        assert numpy.array_equal(read_pin(opened[0]), model["a"])
    gc.collect()


def test_a_damaged_checkpoint_raises_corrupt_error_naming_the_tensor(tmp_path, model):
    path = tmp_path / "model.safetensors"
    with tiermem.Pool(small_config(tmp_path)) as pool:
        tiermem.save_checkpoint(allocate_model(pool, model), path).result()
    size = path.stat().st_size
    with open(path, "r+b") as file:  # the last byte of "c"
        file.seek(size - 1)
        last = file.read(1)[0]
        file.seek(size - 1)
        file.write(bytes([last ^ 0xFF]))
    with pytest.raises(tiermem.CorruptError, match="'c'") as caught:
        tiermem.check_checkpoint(path)
    assert caught.value.code == "corrupt"
    with open(path, "r+b") as file:  # a header that ends inside the data
        file.write(struct.pack("<Q", size))
    with pytest.raises(tiermem.CorruptError, match="model.safetensors"):
        tiermem.check_checkpoint(path)
    with tiermem.Pool(small_config(tmp_path)) as pool:
        with pytest.raises(tiermem.CorruptError, match="model.safetensors"):
            tiermem.open_checkpoint(pool, path)
        assert pool.stats()["tensors"] == 0
    with pytest.raises(tiermem.SystemCallError, match="missing.safetensors"):
        tiermem.check_checkpoint(tmp_path / "missing.safetensors")


def test_a_file_written_by_numpy_opens_in_place(tmp_path):
    arrays = {"weight": numpy.arange(3 * 5, dtype=numpy.float32).reshape(3, 5),
              "step": numpy.array(7, dtype=numpy.int64),  # a scalar
              "nothing": numpy.zeros((0, 4), dtype=numpy.uint16),  # empty
              "ids": numpy.arange(100000, dtype=numpy.uint32)}  # 2 pages, off 4 KiB bounds
    path = tmp_path / "numpy.safetensors"
    write_safetensors(path, arrays)
    assert tiermem.check_checkpoint(path)["tensors"] == 4
    with tiermem.Pool(small_config(tmp_path)) as pool:
        opened = {t.name: t for t in tiermem.open_checkpoint(pool, path)}
        assert list(opened) == list(arrays)
        assert opened["step"].shape == ()
        assert opened["nothing"].shape == (0, 4) and opened["nothing"].nbytes == 0
        for name in ("weight", "step", "ids"):
            got = read_pin(opened[name])
            assert got.shape == arrays[name].shape
            assert numpy.array_equal(got, arrays[name])
        with pytest.raises(tiermem.InvalidArgumentError, match="numpy.safetensors"):
            opened["weight"].pin("dram", "write")
    gc.collect()


def test_bad_options_raise_at_once(tmp_path, pool):
    tensor = pool.allocate(16, "f32", "t")
    path = tmp_path / "x.safetensors"
    with pytest.raises(tiermem.InvalidArgumentError):
        tiermem.save_checkpoint([tensor], path, world_size=0)
    with pytest.raises(tiermem.InvalidArgumentError, match="'t'"):
        tiermem.save_checkpoint([tensor, tensor], path)
    with pytest.raises(tiermem.InvalidArgumentError, match="warp"):
        tiermem.save_checkpoint([tensor], path, io={"engine": "warp"})
    with pytest.raises(tiermem.ConfigError, match="lots"):
        tiermem.save_checkpoint([tensor], path, staging_bytes="lots")
    with pytest.raises(TypeError):
        tiermem.save_checkpoint([42], path)
    tensor.release()
    with pytest.raises(tiermem.ReleasedError):
        tiermem.save_checkpoint([tensor], path)
    assert not path.exists()


def test_a_future_dropped_unread_waits_for_its_save(tmp_path, model):
    path = tmp_path / "dropped.safetensors"
    with tiermem.Pool(small_config(tmp_path)) as pool:
        tiermem.save_checkpoint(allocate_model(pool, model), path)
        gc.collect()
    assert tiermem.check_checkpoint(path)["tensors"] == 3


def test_a_failed_save_raises_from_result(tmp_path, model):
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with tiermem.Pool(small_config(tmp_path)) as pool:
        future = tiermem.save_checkpoint(allocate_model(pool, model),
                                         blocker / "model.safetensors")
        for _ in range(2):
            with pytest.raises(tiermem.SystemCallError):
                future.result()
