"""Persistent pools from Python: reopened after a close, found by name, verified, refused to a
second pool, and a damaged page raising CorruptError."""

import gc

import numpy
import pytest

import tiermem
from conftest import PAGE, small_config


def persistent_config(directory):
    config = small_config(directory)
    config["nvme"]["persistent"] = True
    return config


def flip_byte(path, offset):
    with open(path, "r+b") as file:
        file.seek(offset)
        byte = file.read(1)[0]
        file.seek(offset)
        file.write(bytes([byte ^ 0xFF]))


def read_all(tensor):
    with tensor.pin("dram", "read") as pin:
        return numpy.from_dlpack(pin).copy()


def test_a_reopened_pool_finds_what_the_last_flush_left(tmp_path):
    values = numpy.arange(4 * PAGE // 4, dtype=numpy.int32)
    with tiermem.Pool(persistent_config(tmp_path)) as pool:
        weights = pool.allocate(values.shape, "int32", "weights")
        with weights.pin("dram", "write") as pin:
            pin.numpy()[:] = values
        pool.flush()
        assert pool.find("weights").name == "weights"
        assert pool.find("absent") is None
        assert pool.verify() == 4
    gc.collect()

    pool = tiermem.Pool(persistent_config(tmp_path))
    found = pool.find("weights")
    assert found is not None
    assert (found.shape, found.dtype) == (values.shape, "i32")
    assert numpy.array_equal(read_all(found), values)
    assert pool.verify() == 4
    with pytest.raises(tiermem.BusyError, match="in use by another pool"):
        tiermem.Pool(persistent_config(tmp_path))  # the directories are this pool's
    with pytest.raises(tiermem.InvalidArgumentError, match="weights"):
        pool.allocate(16, "u8", "weights")  # names are unique in a persistent pool
    pool.close()

    # Page 0's first write went to the first slot, at the start of the first file.
    flip_byte(tmp_path / "tiermem.0.data", 100)
    with tiermem.Pool(persistent_config(tmp_path)) as pool:
        damaged = pool.find("weights")
        with pytest.raises(tiermem.CorruptError, match="tensor 'weights'") as caught:
            damaged.pin("dram", "read")
        assert caught.value.code == "corrupt"
        with pytest.raises(tiermem.CorruptError, match="page 0 of tensor 'weights'"):
            pool.verify()
        with damaged.pin("dram", "read", (PAGE, PAGE)) as pin:  # the other pages are whole
            assert numpy.array_equal(numpy.from_dlpack(pin), values[PAGE // 4:2 * PAGE // 4])
    gc.collect()


def test_verify_needs_a_persistent_pool(pool):
    with pytest.raises(tiermem.UnsupportedError):
        pool.verify()


def test_persistent_needs_directories():
    with pytest.raises(tiermem.InvalidArgumentError, match="nvme.dirs"):
        tiermem.Pool({"nvme": {"persistent": True}})
