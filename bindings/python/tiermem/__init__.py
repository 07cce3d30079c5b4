"""tiermem: a tiered memory pager for large tensors, from Python.

Tensors allocated from a Pool live in pages that move among three tiers (gpu staging memory,
pinned DRAM, NVMe files) under eviction and prefetch policies. Pin a byte range to get one
contiguous pointer, and hand it to NumPy or PyTorch without a copy through DLPack::

    import numpy, torch, tiermem

    with tiermem.Pool({"dram": {"capacity": "1GiB"}, "nvme": {"dirs": ["/mnt/nvme0"]}}) as pool:
        w = pool.allocate((4096, 4096), "float32", "layer0.w")
        with w.pin("dram", "write") as pin:
            torch.from_dlpack(pin).normal_()     # writes the pinned pages in place
        w.prefetch("dram")                       # bring it back ahead of need
        with w.pin("dram", "read") as pin:
            y = x @ torch.from_dlpack(pin)

Pins end when the Pin's `with` block (or release()) and every array exported from it are
done; see tiermem.Pin. Errors are tiermem.Error subclasses carrying the library's code and
message. Blocking calls release the GIL, so threads overlap their I/O.

Checkpoints: save_checkpoint(tensors, path) writes safetensors files while the caller
computes (a CheckpointFuture), check_checkpoint(path) verifies one, and open_checkpoint(pool,
path) opens one in place as read-only tensors streamed from the file. A pool configured with
{"nvme": {"persistent": True, "dirs": [...]}} outlives its process: Pool.find(name) finds its
tensors again after a reopen, and Pool.verify() checks every durable page.

Also here: LockedBuffer, locked_array and locked_tensor (page-locked host memory for I/O
staging, as DeepNVMe's new_cpu_locked_tensor), FileIo (asynchronous reads and writes at file
offsets; tiermem.aio has DeepNVMe's aio_handle names) and tiermem.sim (the policy simulator,
trace generators and sweeps).
"""

import contextlib as _contextlib
import math as _math

from tiermem._tiermem import (
    DTYPES,
    BusyError,
    CheckpointFuture,
    ConfigError,
    CorruptError,
    Error,
    FileIo,
    InvalidArgumentError,
    IoError,
    IoFile,
    IoRequest,
    LockedBuffer,
    OutOfSpaceError,
    Pin,
    PinBytes,
    PinFuture,
    Pool,
    ReleasedError,
    SystemCallError,
    Tensor,
    TierFullError,
    UnsupportedError,
    check_checkpoint,
    open_checkpoint,
    save_checkpoint,
)
from tiermem import sim

__version__ = "0.1.0"

__all__ = [
    "DTYPES", "BusyError", "CheckpointFuture", "ConfigError", "CorruptError", "Error", "FileIo",
    "InvalidArgumentError", "IoError", "IoFile", "IoRequest", "LockedBuffer", "OutOfSpaceError",
    "Pin", "PinBytes", "PinFuture", "Pool", "ReleasedError", "SystemCallError", "Tensor",
    "TierFullError", "UnsupportedError", "check_checkpoint", "locked_array", "locked_tensor",
    "open_checkpoint", "save_checkpoint", "sim",
]


@_contextlib.contextmanager
def _trace(self, path):
    """Records every access inside the block to path (see Pool.start_trace)."""
    self.start_trace(path)
    try:
        yield self
    finally:
        self.stop_trace()


@_contextlib.contextmanager
def _compute(self):
    """Marks the block as the application's compute in a trace being recorded."""
    self.compute_begin()
    try:
        yield self
    finally:
        self.compute_end()


Pool.trace = _trace
Pool.compute = _compute


def _shape(shape):
    return (shape,) if isinstance(shape, int) else tuple(shape)


def locked_array(shape, dtype="float32"):
    """A NumPy array of page-locked host memory (a LockedBuffer it keeps alive), zeroed.

    For staging file I/O (FileIo) and GPU copies. Raises InvalidArgumentError for an empty
    array, SystemCallError when the memory cannot be mapped.
    """
    import numpy

    shape = _shape(shape)
    dtype = numpy.dtype(dtype)
    count = _math.prod(shape)
    buffer = LockedBuffer(count * dtype.itemsize)
    return numpy.frombuffer(buffer, dtype=dtype, count=count).reshape(shape)


def locked_tensor(shape, dtype=None):
    """A torch tensor of page-locked host memory (a LockedBuffer it keeps alive), zeroed.

    DeepNVMe's new_cpu_locked_tensor; dtype defaults to torch.float32. Raises as locked_array.
    """
    import torch

    shape = _shape(shape)
    dtype = torch.float32 if dtype is None else dtype
    count = _math.prod(shape)
    itemsize = torch.empty((), dtype=dtype).element_size()
    buffer = LockedBuffer(count * itemsize)
    return torch.frombuffer(buffer, dtype=dtype, count=count).view(shape)
