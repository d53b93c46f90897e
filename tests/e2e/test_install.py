"""`make install PREFIX=DIR` installs the binary and its man page, and the installed binary runs."""

import subprocess

from conftest import REPO


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
