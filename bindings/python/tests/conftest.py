"""Fixtures of the tiermem pytest suite: small pools whose NVMe files go to a scratch dir."""

import gc

import pytest

import tiermem

PAGE = 64 << 10


def small_config(directory, dram_pages=16, gpu_pages=0, **extra):
    """A pool of 64 KiB pages: dram_pages in dram, 32 MiB of NVMe in directory."""
    config = {
        "page_size": "64KiB",
        "dram": {"capacity": dram_pages * PAGE},
        "nvme": {"dirs": [str(directory)], "capacity": "32MiB"},
    }
    if gpu_pages:
        config["gpu"] = {"capacity": gpu_pages * PAGE, "backend": "emulated"}
    config.update(extra)
    return config


@pytest.fixture
def pool(tmp_path):
    """A small pool, closed at the end of the test (after collecting its exports)."""
    with tiermem.Pool(small_config(tmp_path)) as opened:
        yield opened
    gc.collect()


@pytest.fixture
def make_pool(tmp_path):
    """Opens pools with small_config(tmp_path, ...); every one is closed at the end."""
    opened = []

    def make(**kwargs):
        opened.append(tiermem.Pool(small_config(tmp_path, **kwargs)))
        return opened[-1]

    yield make
    gc.collect()
    for p in opened:
        p.close()
