#!/usr/bin/env python3
"""examples/python/stream_layers.py: a model's layers streamed through a DRAM tier 4x smaller
than the model, ZeRO-Inference style, with PyTorch computing on each pinned layer in place.

    PYTHONPATH=build/release/python /usr/bin/python3 examples/python/stream_layers.py [DIR]

(DIR: where the NVMe tier's files go; default $TMPDIR or /tmp.) While one layer is multiplied,
the next is already on its way in (prefetch). torch.from_dlpack(pin) aliases the pinned pages,
so no byte is copied between tiermem and PyTorch. The result is checked against the same model
computed from memory.
"""

import sys

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


def main():
    torch.manual_seed(0)
    model = [torch.randn(HIDDEN, HIDDEN) / HIDDEN**0.5 for _ in range(LAYERS)]
    config = {"dram": {"capacity": "16MiB"}, "nvme": {"capacity": "128MiB"}}
    if len(sys.argv) > 1:
        config["nvme"]["dirs"] = [sys.argv[1]]

    with tiermem.Pool(config) as pool:
        weights = []
        for i, w in enumerate(model):  # "load the checkpoint" into tiermem
            tensor = pool.allocate(w.shape, w.dtype, f"layer{i}")
            with tensor.pin("dram", "write") as pin:
                torch.from_dlpack(pin).copy_(w)
            weights.append(tensor)

        for token in range(TOKENS):
            x = torch.randn(BATCH, HIDDEN)
            expected = forward(x, model)
            for i, tensor in enumerate(weights):
                if i + 1 < LAYERS:
                    weights[i + 1].prefetch("dram")  # its I/O overlaps this layer's matmul
                with tensor.pin("dram", "read") as pin:
                    w = torch.from_dlpack(pin)  # the pinned pages themselves
                    x = torch.tanh(x @ w)
                    del w  # the pages are unpinned when the block ends, not when w goes
            if not torch.equal(x, expected):
                print(f"token {token}: the streamed result differs from the in-memory one "
                      f"(max difference {(x - expected).abs().max().item()})", file=sys.stderr)
                return 1

        stats = pool.stats()
        print(f"{TOKENS} tokens through {LAYERS} layers match the in-memory model; "
              f"{stats['moves.nvme_to_dram.pages']} pages read from nvme, "
              f"{stats['prefetch.issued']} prefetched ({stats['prefetch.useful']} in time, "
              f"{stats['prefetch.late']} late)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
