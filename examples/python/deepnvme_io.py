#!/usr/bin/env python3
"""examples/python/deepnvme_io.py: writing tensors to files and reading them back, first as a
DeepNVMe user does (tiermem.aio.aio_handle, page-locked tensors, one wait()), then with
tiermem's own per-request API (FileIo: one IoRequest per read or write, awaitable).

    PYTHONPATH=build/release/python /usr/bin/python3 examples/python/deepnvme_io.py [DIR]

(DIR: where the files go; default $TMPDIR or /tmp.) Every byte read back is checked.
"""

import asyncio
import os
import sys
import tempfile
import time

import torch

import tiermem
from tiermem import aio


def state_dict():
    torch.manual_seed(1)
    return {
        "embed": torch.randn(8192, 1024, dtype=torch.float16),
        "attn.qkv": torch.randn(1024, 3 * 1024, dtype=torch.bfloat16),
        "mlp.up": torch.randn(1024, 4096),
        "norm": torch.randn(1000),  # an odd size: O_DIRECT tails are written whole
    }


def deepnvme_style(directory, tensors):
    """DeepNVMe's calls, unchanged but for where the handle comes from."""
    handle = aio.aio_handle(block_size=1 << 20, queue_depth=32, single_submit=False,
                            overlap_events=True, intra_op_parallelism=2)
    start = time.perf_counter()
    staged = {}
    for name, tensor in tensors.items():
        buffer = handle.new_cpu_locked_tensor(tensor.numel(), tensor)
        buffer.copy_(tensor.flatten())
        staged[name] = buffer
        handle.async_pwrite(buffer, os.path.join(directory, name + ".pt"))
    assert handle.wait() == len(tensors)  # raises tiermem.IoError if any write failed
    back = {}
    for name, tensor in tensors.items():
        back[name] = handle.new_cpu_locked_tensor(tensor.numel(), tensor)
        handle.async_pread(back[name], os.path.join(directory, name + ".pt"))
    assert handle.wait() == len(tensors)
    seconds = time.perf_counter() - start
    for name, tensor in tensors.items():
        assert torch.equal(back[name].view(tensor.shape), tensor), name
    return seconds


async def per_request(directory, tensors):
    """One file holding every tensor at its own offset; one request, and one error, each."""
    io = tiermem.FileIo({"queue_depth": 32})
    offsets, end = {}, 0
    for name, tensor in tensors.items():
        offsets[name] = end
        end += tensor.numel() * tensor.element_size()
    start = time.perf_counter()
    with io.open(os.path.join(directory, "checkpoint.bin"), "w") as file:
        writes = [file.pwrite_async(tensor, offsets[name]) for name, tensor in tensors.items()]
        await asyncio.gather(*writes)
        file.sync()
    back = {name: tiermem.locked_tensor(tensor.shape, tensor.dtype)
            for name, tensor in tensors.items()}
    with io.open(os.path.join(directory, "checkpoint.bin"), "r") as file:
        reads = {name: file.pread_async(back[name], offsets[name]) for name in tensors}
        for name, request in reads.items():
            await request  # this request's own completion, or its own IoError
    seconds = time.perf_counter() - start
    for name, tensor in tensors.items():
        assert torch.equal(back[name], tensor), name
    return seconds


def main():
    base = sys.argv[1] if len(sys.argv) > 1 else None
    tensors = state_dict()
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    with tempfile.TemporaryDirectory(dir=base, prefix="tiermem-deepnvme.") as directory:
        first = deepnvme_style(directory, tensors)
        second = asyncio.run(per_request(directory, tensors))
    print(f"{len(tensors)} tensors, {total / 2**20:.1f} MiB written and read back intact: "
          f"aio_handle {2 * total / first / 1e9:.2f} GB/s, FileIo requests "
          f"{2 * total / second / 1e9:.2f} GB/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
