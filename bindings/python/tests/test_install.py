"""`cmake --install` puts a working package in the prefix's site-packages, next to
libtiermem.so, found without LD_LIBRARY_PATH."""

import os
import subprocess
import sys

import pytest

BUILD = os.environ.get("TIERMEM_BUILD_DIR")
CMAKE = os.environ.get("TIERMEM_CMAKE")
SITE = os.environ.get("TIERMEM_PYTHON_INSTALL_DIR")


@pytest.mark.skipif(None in (BUILD, CMAKE, SITE), reason="run through CTest, which names the build")
def test_the_installed_package_imports_and_pins(tmp_path):
    prefix = tmp_path / "prefix"
    subprocess.run([CMAKE, "--install", BUILD, "--prefix", str(prefix)], check=True,
                   capture_output=True, timeout=300)
    code = (
        "import tiermem, numpy\n"
        f"assert tiermem.__file__.startswith({str(prefix)!r}), tiermem.__file__\n"
        f"config = {{'dram.capacity': '8MiB', 'nvme.capacity': '64MiB', "
        f"'nvme.dirs': [{str(tmp_path)!r}]}}\n"
        "with tiermem.Pool(config) as pool:\n"
        "    t = pool.allocate(1000, 'f32', 't')\n"
        "    with t.pin('dram', 'write') as pin:\n"
        "        pin.numpy()[:] = 2\n"
        "    with t.pin() as pin:\n"
        "        assert numpy.from_dlpack(pin).sum() == 2000\n"
        "print('ok')\n")
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    env["PYTHONPATH"] = str(prefix / SITE)
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, cwd=tmp_path, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
