#!/usr/bin/env python3
"""examples/python/stream_checkpoint.py: a model's layers streamed straight out of a safetensors
checkpoint, through a DRAM tier 4x smaller than the model, with PyTorch computing on each
pinned layer in place.

    PYTHONPATH=build/release/python /usr/bin/python3 examples/python/stream_checkpoint.py [DIR]

(DIR: where the checkpoint and the NVMe tier's files go; default $TMPDIR or /tmp.) First the
model is saved as a checkpoint (tiermem.save_checkpoint, as a training job would). Then a fresh
pool opens the file in place (tiermem.open_checkpoint): nothing is copied, each layer's pages
are read from the file when pinned or prefetched, and dropped again when the tier needs room.
While one layer is multiplied, the next is already on its way in. The result is checked against
the same model computed from memory.
"""

import os
import sys
import tempfile

import torch

import tiermem

LAYERS = 16
HIDDEN = 1024  # 16 layers of 1024 x 1024 float32: 4 MiB each, 64 MiB in all
BATCH = 8
TOKENS = 2


def forward(x, layers):
    for w in layers:
        x = torch.tanh(x @ w)
    return x


def save(model, path, config):
    """Writes the model as a checkpoint, from the tensors of a pool of its own."""
    with tiermem.Pool(config) as pool:
        tensors = []
        for i, w in enumerate(model):
            tensor = pool.allocate(w.shape, w.dtype, f"layer{i}")
            with tensor.pin("dram", "write") as pin:
                torch.from_dlpack(pin).copy_(w)
            tensors.append(tensor)
        result = tiermem.save_checkpoint(tensors, path).result()
    print(f"saved {result['tensors']} layers, {result['bytes_written'] >> 20} MiB, in "
          f"{result['seconds']:.3f} s ({'O_DIRECT' if result['direct'] else 'buffered'})")


def main():
    torch.manual_seed(0)
    model = [torch.randn(HIDDEN, HIDDEN) / HIDDEN**0.5 for _ in range(LAYERS)]
    with tempfile.TemporaryDirectory(dir=sys.argv[1] if len(sys.argv) > 1 else None) as scratch:
        path = os.path.join(scratch, "model.safetensors")
        save(model, path, {"dram": {"capacity": "128MiB"}, "nvme": {"capacity": "128MiB",
                                                                    "dirs": [scratch]}})

        # The pool that streams: a quarter of the model fits in its dram tier, and its own
        # NVMe space is for tensors of its own (the checkpoint's pages come from the file).
        config = {"dram": {"capacity": "16MiB"}, "nvme": {"capacity": "16MiB", "dirs": [scratch]}}
        with tiermem.Pool(config) as pool:
            weights = tiermem.open_checkpoint(pool, path)
            assert [w.name for w in weights] == [f"layer{i}" for i in range(LAYERS)]
            for token in range(TOKENS):
                x = torch.randn(BATCH, HIDDEN)
                expected = forward(x, model)
                for i, tensor in enumerate(weights):
                    if i + 1 < LAYERS:
                        weights[i + 1].prefetch("dram")  # read from the file during the matmul
                    with tensor.pin("dram", "read") as pin:
                        w = torch.from_dlpack(pin)  # the pinned pages themselves
                        x = torch.tanh(x @ w)
                        del w  # the pages are unpinned when the block ends, not when w goes
                if not torch.equal(x, expected):
                    print(f"token {token}: the streamed result differs from the in-memory one "
                          f"(max difference {(x - expected).abs().max().item()})",
                          file=sys.stderr)
                    return 1
            stats = pool.stats()
            print(f"{TOKENS} tokens through {LAYERS} layers streamed from the checkpoint match "
                  f"the in-memory model; {stats['moves.nvme_to_dram.pages']} pages read from "
                  f"the file, {stats['prefetch.issued']} prefetched "
                  f"({stats['prefetch.useful']} in time, {stats['prefetch.late']} late)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
