#!/usr/bin/env python3
"""tests/checkpoint_interop.py TIERMEM: safetensors files between tiermem and an independent
reader and writer (json and numpy only, no safetensors package).

1. `tiermem ckpt demo` writes a file; this script parses its header with json and reads each
   tensor with numpy.frombuffer, checking the layout rules and the values the demo wrote.
2. This script writes a file of every dtype numpy has (zero-size and scalar tensors, offsets
   off the 4 KiB grid, no padding), which `tiermem ckpt check` must accept, and `tiermem ckpt
   copy` (which opens it in place in a pool and saves it again) must carry byte for byte.
Exits 77 (skipped) when numpy is missing."""
import json
import os
import struct
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    print("numpy is missing: skipped")
    sys.exit(77)

TIERMEM = sys.argv[1]


def read(path):
    with open(path, "rb") as f:
        blob = f.read()
    (length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + length].decode("utf-8"))
    data = blob[8 + length :]
    return header, data


def check_tiermem_file(directory):
    subprocess.run([TIERMEM, "ckpt", "demo", directory, "--size", "3MiB", "--tensors", "3"],
                   check=True, stdout=subprocess.DEVNULL)
    header, data = read(os.path.join(directory, "model.safetensors"))
    metadata = header.pop("__metadata__")
    assert metadata["format"] == "pt", metadata
    assert (8 + len(json.dumps(header)) > 0)
    spans = sorted(tuple(entry["data_offsets"]) for entry in header.values())
    assert spans[0][0] == 0 and spans[-1][1] == len(data), spans
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:])), spans
    for i in range(3):
        entry = header[f"layer{i}.weight"]
        assert entry["dtype"] == "BF16", entry
        begin, end = entry["data_offsets"]
        words = np.frombuffer(data[begin:end], dtype="<u8")
        expected = (np.arange(len(words), dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
                    + np.uint64(i))
        assert np.array_equal(words, expected), f"layer{i}.weight differs"
        assert np.prod(entry["shape"]) * 2 == end - begin


DTYPES = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": np.int16, "U16": np.uint16,
          "F16": np.float16, "I32": np.int32, "U32": np.uint32, "F32": np.float32,
          "F64": np.float64, "I64": np.int64, "U64": np.uint64}


def write_independent_file(path):
    rng = np.random.default_rng(3)
    arrays = {}
    for name, dtype in DTYPES.items():
        shape = (3, 7) if name != "F64" else ()
        values = rng.integers(0, 100, size=shape)
        arrays[f"x_{name.lower()}"] = np.asarray(values % 2 if name == "BOOL" else values,
                                                 dtype=dtype)
    arrays["empty"] = np.zeros((0, 4), dtype=np.float32)
    header, blobs, offset = {"__metadata__": {"source": "numpy"}}, [], 0
    for name, array in arrays.items():
        raw = array.astype(array.dtype.newbyteorder("<")).tobytes()
        dtype = next(k for k, v in DTYPES.items() if np.dtype(v) == array.dtype)
        header[name] = {"dtype": dtype, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode("utf-8")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    return arrays


def check_independent_file(directory):
    path = os.path.join(directory, "numpy.safetensors")
    arrays = write_independent_file(path)
    subprocess.run([TIERMEM, "ckpt", "check", path], check=True, stdout=subprocess.DEVNULL)
    # Opened in place in a pool (open_checkpoint) and saved again: the same values and shapes,
    # the scalars' and the empty tensor's included.
    copied = os.path.join(directory, "copied.safetensors")
    subprocess.run([TIERMEM, "ckpt", "copy", path, copied, "--dram", "64MiB"], check=True,
                   stdout=subprocess.DEVNULL)
    header, data = read(copied)
    for name, array in arrays.items():
        entry = header[name]
        begin, end = entry["data_offsets"]
        back = np.frombuffer(data[begin:end], dtype=array.dtype)
        assert np.array_equal(back, array.reshape(-1)), name
        assert entry["shape"] == list(array.shape), (name, entry["shape"])


with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as directory:
    check_tiermem_file(directory)
    check_independent_file(directory)
print("checkpoint_interop: ok")
