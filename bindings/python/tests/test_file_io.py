"""Page-locked buffers as NumPy arrays and torch tensors, and file I/O at offsets into them,
synchronous and asynchronous, including DeepNVMe's aio_handle names (tiermem.aio)."""

import asyncio
import errno
import gc

import numpy
import pytest
import torch

import tiermem
from tiermem import aio


def test_locked_buffers_as_numpy_and_torch():
    buffer = tiermem.LockedBuffer(10000)
    assert buffer.nbytes == len(buffer) == 10000
    assert buffer.data_ptr % 4096 == 0
    view = numpy.frombuffer(buffer, dtype=numpy.uint8)
    view[:] = 7
    through_dlpack = torch.from_dlpack(buffer)
    assert through_dlpack.shape == (10000,) and int(through_dlpack[9999]) == 7
    assert through_dlpack.data_ptr() == buffer.data_ptr
    array = tiermem.locked_array((3, 5), "float64")
    assert array.shape == (3, 5) and array.dtype == numpy.float64 and array.flags.writeable
    array[:] = 1
    tensor = tiermem.locked_tensor((2, 8), torch.bfloat16)
    assert tensor.dtype == torch.bfloat16 and tensor.shape == (2, 8)
    tensor.fill_(2)
    with pytest.raises(tiermem.InvalidArgumentError, match="0 bytes"):
        tiermem.LockedBuffer(0)


def test_sync_and_async_reads_and_writes_at_offsets(tmp_path):
    io = tiermem.FileIo({"queue_depth": 16, "block_size": "256KiB"})
    assert io.engine in ("uring", "psync")
    path = tmp_path / "data.bin"
    source = tiermem.locked_tensor(1 << 20, torch.float32)  # 4 MiB
    source.copy_(torch.arange(1 << 20, dtype=torch.float32))
    with io.open(path, "w") as file:
        assert file.pwrite(source, 0) == 4 << 20
        # Unaligned pieces at odd offsets, from a NumPy array and a bytearray.
        file.pwrite(numpy.arange(1000, dtype=numpy.uint8), (4 << 20) + 3)
        request = file.pwrite_async(bytearray(b"tail"), (4 << 20) + 2000)
        assert request.result(timeout=30) == 4
        file.sync()
        assert file.size() == (4 << 20) + 2004
    with io.open(path, "r") as file:
        target = tiermem.locked_array(1 << 20, numpy.float32)
        assert file.pread(target, 0) == 4 << 20
        assert (target == numpy.arange(1 << 20, dtype=numpy.float32)).all()
        pieces = [tiermem.locked_tensor(1 << 18, torch.float32) for _ in range(4)]
        requests = [file.pread_async(piece, i * (1 << 20)) for i, piece in enumerate(pieces)]
        for i, (piece, request) in enumerate(zip(pieces, requests)):
            assert request.result(timeout=30) == 1 << 20
            assert int(piece[0]) == i * (1 << 18)
        odd = bytearray(1000)
        file.pread(odd, (4 << 20) + 3)
        assert list(odd[:4]) == [0, 1, 2, 3]
        with pytest.raises(tiermem.IoError) as caught:
            file.pread(bytearray(100), (4 << 20) + 1990)  # past the end of the file
        assert caught.value.errno == errno.ENODATA

        async def read_in_asyncio():
            buffer = numpy.zeros(16, dtype=numpy.float32)
            await file.pread_async(buffer, 64)
            return buffer

        assert asyncio.run(read_in_asyncio())[0] == 16.0
    assert file.closed
    with pytest.raises(tiermem.InvalidArgumentError, match="closed"):
        file.pread(bytearray(4), 0)


def test_io_into_pins_and_misused_buffers(tmp_path, pool):
    io = tiermem.FileIo()
    path = tmp_path / "pin.bin"
    t = pool.allocate((16, 1024), "f32", "t")
    with t.pin("dram", "write") as pin:
        torch.from_dlpack(pin).fill_(4.0)
        with io.open(path, "w") as file:
            file.pwrite(pin, 0)  # straight from the pinned pages
    with t.pin("dram", "write") as pin, io.open(path, "r") as file:
        file.pread(pin.numpy(), 0)
        assert float(pin.numpy().sum()) == 4.0 * 16 * 1024
    with io.open(path, "rw") as file:
        with pytest.raises(TypeError, match="buffer"):
            file.pwrite("text", 0)
        with pytest.raises(tiermem.InvalidArgumentError, match="contiguous"):
            file.pread(numpy.zeros((4, 4))[:, 0], 0)
        with pytest.raises(tiermem.InvalidArgumentError, match="writable"):
            file.pread(b"read-only", 0)
        with pytest.raises(tiermem.InvalidArgumentError, match="contiguous"):
            file.pread(torch.zeros(4, 4).t(), 0)
    with pytest.raises(tiermem.SystemCallError):
        io.open(tmp_path / "missing", "r")
    with pytest.raises(tiermem.InvalidArgumentError, match="mode 'x'"):
        io.open(path, "x")
    with pytest.raises(tiermem.ConfigError):
        tiermem.FileIo({"no_such_key": 1})


def test_an_unfinished_request_keeps_its_memory_until_it_ends(tmp_path):
    io = tiermem.FileIo()
    path = tmp_path / "keep.bin"
    with io.open(path, "w") as file:
        file.pwrite(numpy.full(1 << 20, 5, dtype=numpy.uint8), 0)
    file = io.open(path, "r")
    buffer = tiermem.locked_array(1 << 20, numpy.uint8)
    file.pread_async(buffer, 0)  # dropped at once: waits for its end
    gc.collect()
    assert (buffer == 5).all()
    file.close()


def test_deepnvme_aio_handle(tmp_path):
    handle = aio.aio_handle(block_size=1 << 20, queue_depth=32, single_submit=False,
                            overlap_events=True, intra_op_parallelism=2)
    assert handle.get_block_size() == 1 << 20 and handle.get_intra_op_parallelism() == 2
    example = torch.empty(0, dtype=torch.float16)
    data = handle.new_cpu_locked_tensor(1 << 20, example)
    assert data.dtype == torch.float16 and data.numel() == 1 << 20
    data.copy_(torch.arange(1 << 20) % 1000)
    files = [str(tmp_path / f"shard{i}.bin") for i in range(3)]
    assert handle.sync_pwrite(data, files[0]) == 1
    for f in files[1:]:
        assert handle.async_pwrite(data, f) == 0
    assert handle.wait() == 2
    back = [handle.new_cpu_locked_tensor(1 << 20, example) for _ in files]
    for buffer, f in zip(back, files):
        handle.async_pread(buffer, f)
    assert handle.wait() == 3
    assert all(torch.equal(b, data) for b in back)
    half = handle.new_cpu_locked_tensor(1 << 19, example)
    assert handle.sync_pread(half, files[0], file_offset=1 << 20) == 1
    assert torch.equal(half, data[1 << 19:])
    handle.async_pread(back[0], str(tmp_path / "missing.bin") if False else files[0], 1)
    with pytest.raises(tiermem.IoError):
        handle.wait()  # the read past the end of the file fails, and says so
    assert handle.free_cpu_locked_tensor(back[0])
