"""`make install PREFIX=DIR` installs the binary, libmemline and their man pages, and the heap
library (PREFIX/lib/memline/libmemline-heap.so), and the installed binary runs."""

import re
import subprocess

from conftest import REPO


def documented_functions():
    """The functions libmemline(3) documents: its NAME line, up to the \\- ."""
    text = (REPO / "man" / "libmemline.3").read_text()
    name = text.split(".SH NAME\n", 1)[1].split("\\-", 1)[0]
    return [n for n in re.split(r"[\s,]+", name) if n.startswith("memline_")]


def test_make_install_prefix(tmp_path):
    prefix = tmp_path / "prefix"
    p = subprocess.run(["make", "-s", "-C", str(REPO), "install", f"PREFIX={prefix}"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"expected make install to succeed: {p.stderr}"
    binary = prefix / "bin" / "memline"
    man = prefix / "share" / "man" / "man1" / "memline.1"
    assert binary.is_file(), f"expected {binary}"
    assert man.is_file() and ".TH MEMLINE 1" in man.read_text().upper(), f"expected a man page at {man}"
    v = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30)
    assert v.returncode == 0 and v.stdout.startswith("memline "), f"expected a version: {v}"
    man3 = prefix / "share" / "man" / "man3"
    assert ".TH LIBMEMLINE 3" in (man3 / "libmemline.3").read_text().upper()
    names = documented_functions()
    assert {"memline_event", "memline_start", "memline_stop", "memline_last_error",
            "memline_channel"} <= set(names), names
    for name in names:
        page = man3 / f"{name}.3"
        assert page.is_file(), f"expected `man {name}` to work: no {page}"
        assert page.read_text().strip() == ".so man3/libmemline.3", f"{page}: {page.read_text()!r}"
    heap = prefix / "lib" / "memline" / "libmemline-heap.so"
    assert heap.is_file() and heap.read_bytes()[:4] == b"\x7fELF", f"expected the heap library at {heap}"
    d = tmp_path / "heap"
    d.mkdir()
    t = subprocess.run(["/bin/sh", "-c", "echo preloaded"], capture_output=True, text=True, timeout=30,
                       env={"PATH": "/usr/bin:/bin", "LD_PRELOAD": str(heap), "MEMLINE_HEAP_DIR": str(d)})
    assert t.returncode == 0 and t.stdout == "preloaded\n" and t.stderr == "", t
    assert list(d.glob("heap.*")), "expected the installed heap library to make its counters file"


def test_make_install_installs_the_python_package(tmp_path):
    """make install puts the Python package in PREFIX's site-packages directory for the
    Python it uses (no pip, no index), where that Python imports it from."""
    import sys
    prefix = tmp_path / "prefix"
    p = subprocess.run(["make", "-s", "-C", str(REPO), "install", f"PREFIX={prefix}",
                        f"PYTHON={sys.executable}"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"expected make install to succeed: {p.stderr}"
    site = subprocess.run([sys.executable, str(REPO / "python" / "_build" / "memline_build.py"),
                           "site-dir", str(prefix)], capture_output=True, text=True,
                          timeout=60).stdout.strip()
    assert site.startswith(str(prefix)) and f"installed the memline Python package in {site}" \
        in p.stdout, p.stdout
    out = subprocess.run([sys.executable, "-c", "import memline; print(memline.__file__)"],
                         env={"PYTHONPATH": site, "PATH": "/usr/bin:/bin"}, cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == f"{site}/memline/__init__.py", out
    # make install-python alone, staged under DESTDIR
    dest = tmp_path / "dest"
    p = subprocess.run(["make", "-s", "-C", str(REPO), "install-python", "PREFIX=/opt/m",
                        f"DESTDIR={dest}", f"PYTHON={sys.executable}"], capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert list(dest.glob("opt/m/lib/python*/*-packages/memline/__init__.py")), p.stdout
