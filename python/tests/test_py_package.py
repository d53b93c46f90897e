"""The package as users get it: `pip install` of python/ works offline, and what it installs
imports and has the public API."""

import shutil
import subprocess
import sys

import pytest

from pyhelpers import PYDIR, TIMEOUT, memline

API = ["MemlineError", "event", "find_binary", "has_completed_successfully",
       "has_crashed_gracefully", "has_crashed_ungracefully", "load", "plot", "read_records",
       "span", "status", "track"]


def test_the_public_api():
    assert sorted(memline.__all__) == sorted(API)
    for name in API:
        assert getattr(memline, name).__doc__, f"expected a docstring on memline.{name}"
    assert memline.__version__


def test_pip_install_offline_into_a_target_dir(tmp_path):
    if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode:
        pytest.skip("pip is not installed (Debian: python3-pip)")
    # Build from a copy: pip builds in the source tree and would leave build/ and egg-info.
    src = tmp_path / "src"
    shutil.copytree(PYDIR, src, ignore=shutil.ignore_patterns("tests", "__pycache__", "build",
                                                              "*.egg-info"))
    site = tmp_path / "site"
    res = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index",
                          "--no-build-isolation", "--no-deps", "--disable-pip-version-check",
                          "--target", str(site), str(src)],
                         capture_output=True, text=True, timeout=TIMEOUT)
    assert res.returncode == 0, f"pip install failed:\n{res.stdout}\n{res.stderr}"
    check = ("import memline, sys; "
             "assert memline.__file__.startswith(sys.argv[1]), memline.__file__; "
             "print(' '.join(sorted(memline.__all__)))")
    out = subprocess.run([sys.executable, "-c", check, str(site)], cwd=tmp_path,
                         env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, timeout=TIMEOUT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == sorted(API)
