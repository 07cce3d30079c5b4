"""Asynchronous pins (PinFuture): result, await, async with, many Python threads at once,
futures dropped unread, and the GIL released while a call blocks."""

import asyncio
import concurrent.futures
import gc
import threading
import time

import numpy
import pytest
import torch

import tiermem
from conftest import PAGE, small_config


def fill(tensor, value):
    with tensor.pin("dram", "write") as pin:
        pin.numpy()[...] = value


def test_result_gives_the_same_pin_and_raises_the_pins_error(pool):
    t = pool.allocate(2 * PAGE, "u8", "t")
    fill(t, 9)
    t.evict("dram")
    future = t.pin_async("dram", "read")
    pin = future.result(timeout=30)
    assert future.done() and future.result() is pin
    assert (pin.numpy() == 9).all()
    pin.release()
    hog = pool.allocate(16 * PAGE, "u8", "hog")
    with hog.pin("dram", "write"):  # every dram frame pinned
        failing = t.pin_async("dram", "read")
        with pytest.raises(tiermem.TierFullError):
            failing.result(timeout=30)
        with pytest.raises(tiermem.TierFullError):  # the same error again
            failing.result()


def test_await_and_async_with(pool):
    t = pool.allocate((8, 1024), "f32", "t")
    fill(t, 1.5)
    t.evict("dram")

    async def main():
        pin = await t.pin_async("dram", "read")
        total = float(torch.from_dlpack(pin).sum())
        pin.release()
        async with t.pin_async("dram", "read", (0, 4096)) as first_row:
            row = numpy.from_dlpack(first_row)
            assert first_row.shape == (1, 1024)
            first = float(row.sum())
            del row
        assert first_row.released
        return total, first

    assert asyncio.run(main()) == (1.5 * 8192, 1.5 * 1024)


def test_async_pins_from_several_python_threads(pool):
    tensors = [pool.allocate((4, 4096), "i32", f"t{i}") for i in range(6)]  # 64 KiB each
    for i, t in enumerate(tensors):
        fill(t, i)
        t.evict("dram")
    errors = []

    def worker(k):
        for round_ in range(20):
            t = tensors[(k + round_) % len(tensors)]
            pin = t.pin_async("dram", "read").result(timeout=60)
            with pin:
                values = numpy.from_dlpack(pin)
                if not (values == (k + round_) % len(tensors)).all():
                    errors.append((k, round_))
                del values
            if round_ % 3 == 0:
                t.evict("dram")

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as executor:
        list(executor.map(worker, range(4)))
    assert errors == []
    assert all(page["pins_dram"] == 0 for t in tensors for page in t.residency())


def test_futures_dropped_unread_end_their_pins(pool):
    t = pool.allocate(4 * PAGE, "u8", "t")
    fill(t, 3)
    t.evict("dram")
    for _ in range(5):
        t.pin_async("dram", "read")  # dropped at once
    gc.collect()
    assert all(page["pins_dram"] == 0 for page in t.residency())
    future = t.pin_async("dram", "read")
    with pytest.raises(tiermem.BusyError, match="pending"):
        t.release()
    future.result().release()
    del future
    t.release()


def test_the_gil_is_released_while_a_pin_waits_for_slow_io(tmp_path):
    # Every I/O completion arrives 300 ms late: a pin of an evicted tensor blocks that long,
    # and another Python thread must run meanwhile.
    config = small_config(tmp_path, io={"faults": "latency=300ms"})
    with tiermem.Pool(config) as pool:
        t = pool.allocate(PAGE, "u8", "t")
        fill(t, 1)
        t.evict("dram")
        ticks = 0
        stop = threading.Event()

        def ticker():
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                time.sleep(0.001)

        thread = threading.Thread(target=ticker)
        thread.start()
        started = time.monotonic()
        with t.pin("dram", "read"):
            pass
        elapsed = time.monotonic() - started
        stop.set()
        thread.join()
        assert elapsed >= 0.25
        assert ticks >= 50, f"only {ticks} ticks in {elapsed:.2f} s: the GIL was held"


def test_timeout(tmp_path):
    config = small_config(tmp_path, io={"faults": "latency=500ms"})
    with tiermem.Pool(config) as pool:
        t = pool.allocate(PAGE, "u8", "t")
        fill(t, 1)
        t.evict("dram")
        future = t.pin_async("dram", "read")
        with pytest.raises(TimeoutError):
            future.result(timeout=0.01)
        assert not future.done()
        future.result(timeout=30).release()
