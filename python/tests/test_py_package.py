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


def copy_source(tmp_path):
    """python/ without its tests, in a fresh directory: what a user builds from."""
    src = tmp_path / "src"
    shutil.copytree(PYDIR, src, ignore=shutil.ignore_patterns("tests", "__pycache__", "build",
                                                              "*.egg-info"))
    return src


def has_pip():
    return subprocess.run([sys.executable, "-m", "pip", "--version"],
                          capture_output=True).returncode == 0


def check_installed(site, tmp_path):
    check = ("import memline, sys; "
             "assert memline.__file__.startswith(sys.argv[1]), memline.__file__; "
             "print(' '.join(sorted(memline.__all__)))")
    out = subprocess.run([sys.executable, "-c", check, str(site)], cwd=tmp_path,
                         env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, timeout=TIMEOUT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == sorted(API)


@pytest.mark.parametrize("isolation", [True, False])
def test_pip_install_offline_into_a_target_dir(tmp_path, isolation):
    """The README's `pip install ./python`, with no index at all: the package builds with its
    own backend (python/_build), so the isolated build environment needs nothing."""
    if not has_pip():
        pytest.skip("pip is not installed (Debian: python3-pip)")
    src = copy_source(tmp_path)
    site = tmp_path / "site"
    res = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index",
                          "--disable-pip-version-check", "--target", str(site), str(src)]
                         + ([] if isolation else ["--no-build-isolation"]),
                         capture_output=True, text=True, timeout=TIMEOUT)
    assert res.returncode == 0, f"pip install failed:\n{res.stdout}\n{res.stderr}"
    check_installed(site, tmp_path)
    info = site / f"memline-{memline.__version__}.dist-info"
    assert (info / "METADATA").read_text().startswith("Metadata-Version: 2.1\nName: memline\n")
    assert sorted(p.name for p in src.iterdir() if p.name != "__pycache__") == [
        "README.md", "_build", "memline", "pyproject.toml"], "expected no build litter"


def backend(src, hook, *args):
    code = ("import sys; sys.path.insert(0, '_build'); import memline_build as b; "
            f"print(b.{hook}(*sys.argv[1:]))")
    res = subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=src,
                         capture_output=True, text=True, timeout=TIMEOUT)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def test_the_wheel_and_the_sdist(tmp_path):
    import base64
    import hashlib
    import tarfile
    import zipfile
    src = copy_source(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    v = memline.__version__
    assert backend(src, "get_requires_for_build_wheel") == "[]"
    name = backend(src, "build_wheel", out)
    assert name == f"memline-{v}-py3-none-any.whl"
    with zipfile.ZipFile(out / name) as z:
        names = z.namelist()
        modules = sorted(n for n in names if n.startswith("memline/"))
        assert modules == sorted(f"memline/{p.name}" for p in (PYDIR / "memline").glob("*.py"))
        record = z.read(f"memline-{v}.dist-info/RECORD").decode().splitlines()
        for line in record:
            path, digest, size = line.rsplit(",", 2)
            if path.endswith("RECORD"):
                continue
            data = z.read(path)
            want = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            assert digest == "sha256=" + want.decode() and int(size) == len(data), line
        assert "Root-Is-Purelib: true" in z.read(f"memline-{v}.dist-info/WHEEL").decode()
        meta = z.read(f"memline-{v}.dist-info/METADATA").decode()
        assert f"Version: {v}\n" in meta and "Requires-Python: >=3.8" in meta
        assert 'Requires-Dist: pandas; extra == "pandas"' in meta
    again = tmp_path / "again"
    again.mkdir()
    backend(src, "build_wheel", again)
    assert (again / name).read_bytes() == (out / name).read_bytes(), "expected the same bytes"
    sdist = backend(src, "build_sdist", out)
    with tarfile.open(out / sdist) as t:
        members = sorted(m.name for m in t.getmembers())
    base = f"memline-{v}/"
    assert {base + "PKG-INFO", base + "pyproject.toml", base + "README.md",
            base + "_build/memline_build.py", base + "memline/__init__.py"} <= set(members)
    assert not [m for m in members if "/tests/" in m]


def test_editable_install_in_a_venv(tmp_path):
    """`pip install -e ./python` (PEP 660) in a fresh venv, offline: imports from the tree."""
    venv = tmp_path / "venv"
    res = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True,
                         text=True, timeout=TIMEOUT)
    if res.returncode != 0 or not (venv / "bin" / "pip").exists():
        pytest.skip(f"no venv with pip here (Debian: python3-venv): {res.stderr.strip()}")
    src = copy_source(tmp_path)
    res = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--no-index",
                          "--disable-pip-version-check", "-e", str(src)],
                         capture_output=True, text=True, timeout=TIMEOUT)
    assert res.returncode == 0, res.stderr
    out = subprocess.run([str(venv / "bin" / "python"), "-c",
                          "import memline; print(memline.__file__)"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=TIMEOUT)
    assert out.stdout.strip() == str(src / "memline" / "__init__.py"), out
