"""libtiermem.so and the module load into an already-running interpreter (dlopen), with
nothing set in the environment: the issue 12 blocker was jemalloc's initial-exec TLS."""

import os
import subprocess
import sys

import pytest

BUILD = os.environ.get("TIERMEM_BUILD_DIR")


def run_python(code):
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "GLIBC_TUNABLES")}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.mark.skipif(BUILD is None, reason="TIERMEM_BUILD_DIR names the build directory")
def test_ctypes_loads_the_library_and_calls_the_c_api():
    library = os.path.join(BUILD, "lib", "libtiermem.so")
    code = (
        "import ctypes\n"
        f"lib = ctypes.CDLL({library!r})\n"
        "lib.tiermem_last_error.restype = ctypes.c_char_p\n"
        "pool = ctypes.c_void_p()\n"
        "status = lib.tiermem_pool_open(b'{\"page_size\": \"3MiB\"}', ctypes.byref(pool))\n"
        "assert status == -1, status\n"
        "assert b'page_size 3MiB' in lib.tiermem_last_error(), lib.tiermem_last_error()\n"
        "print('ok')\n")
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_the_module_loads_after_torch_and_numpy():
    # torch and numpy take static TLS of their own first; the module must still load.
    result = run_python("import torch, numpy, tiermem; print(tiermem.Pool.__name__)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Pool"


def test_the_interpreter_is_debians():
    # The build chose /usr/bin/python3 (the one that sees python3-numpy and python3-torch).
    import numpy
    import torch

    assert numpy.__version__.startswith("1.")
    assert torch.__version__.startswith("1.13")
