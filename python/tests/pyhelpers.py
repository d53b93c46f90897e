"""Helpers and fixtures of the memline Python package's tests (run: /usr/bin/python3 -m pytest
python/tests). Test modules import the fixtures they use from here: there is no conftest.py, and
the test files' names start with test_py_, so that pytest can collect python/tests together with
tests/e2e (whose modules import their helpers `from conftest`).

The package is imported from python/ (this directory's parent), not from an installed copy.
Tests that run the memline binary use $MEMLINE_BUILD/memline (default <repo>/build/memline)
and skip when it is not built. Synchronisation is by waiting on processes and polling files
with generous bounds; nothing asserts on how long something took.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PYDIR = Path(__file__).resolve().parents[1]
REPO = PYDIR.parent
BUILD = Path(os.environ.get("MEMLINE_BUILD") or REPO / "build")
MEMLINE = BUILD / "memline"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

if str(PYDIR) not in sys.path:
    sys.path.insert(0, str(PYDIR))

import memline  # noqa: E402,F401 (the package under test, for the tests to import from here)

# Generous bound for anything a test waits for: reached only when something is broken.
TIMEOUT = 60


# ---- the event channel, parsed as docs/events.md says ----

STRUCTURED = re.compile(rb"\x1e([EBXS]) (-?[0-9]+) (-?[0-9]+) (-?[0-9]+) (.*)", re.S)


def unescape(text):
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c == 0x5C and i + 1 < len(text):  # backslash
            e = text[i + 1]
            out.append(0x0A if e == ord("n") else 0x0D if e == ord("r") else e)
            i += 2
        else:
            out.append(c)
            i += 1
    return bytes(out)


def parse_channel(data):
    """The messages in a channel file's bytes: dicts with kind, ns, pid, tid, text (bytes).
    Fails on a plain line or a line without its newline: our senders write neither."""
    assert data.endswith(b"\n") or not data, f"expected whole lines, the file ends {data[-80:]!r}"
    msgs = []
    for line in data.split(b"\n")[:-1]:
        assert len(line) + 1 <= 4096, f"expected a line of at most 4096 bytes, got {len(line) + 1}"
        assert b"\r" not in line, f"expected carriage returns escaped: {line[:200]!r}"
        m = STRUCTURED.fullmatch(line)
        assert m, f"expected a structured line, got {line[:200]!r}"
        msgs.append({"kind": m[1].decode(), "ns": int(m[2]), "pid": int(m[3]), "tid": int(m[4]),
                     "text": unescape(m[5])})
    return msgs


@pytest.fixture
def channel(tmp_path, monkeypatch):
    """A channel file named by $MEMLINE_EVENTS for the test; returns a function that parses
    what it holds."""
    d = tmp_path / "chan"
    d.mkdir(mode=0o700)
    path = d / "events"
    path.touch(mode=0o600)
    monkeypatch.setenv("MEMLINE_EVENTS", str(path))

    def read():
        return parse_channel(path.read_bytes())

    read.path = path
    return read


# ---- the binary ----


def memline_help(*args):
    if not MEMLINE.exists():
        return ""
    res = subprocess.run([str(MEMLINE), *args, "--help"], capture_output=True, text=True,
                         timeout=TIMEOUT)
    return res.stdout + res.stderr


@pytest.fixture
def memline_bin(monkeypatch):
    """$MEMLINE_BIN set to the built memline; skips when it is not built."""
    if not MEMLINE.exists():
        pytest.skip(f"memline is not built: no {MEMLINE} (make, or set MEMLINE_BUILD)")
    monkeypatch.setenv("MEMLINE_BIN", str(MEMLINE))
    return MEMLINE


def python_env(**extra):
    """An environment for a child python3 that imports memline from python/."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PYDIR)] + [p for p in [env.get("PYTHONPATH")] if p])
    env.update(extra)
    return env
