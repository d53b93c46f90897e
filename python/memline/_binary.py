"""Finding and running the memline binary, and the error every part of the package raises.

The binary is $MEMLINE_BIN when that is set, else the first `memline` on $PATH.
"""

import os
import shutil
import subprocess

__all__ = ["MemlineError", "find_binary", "plot"]


class MemlineError(Exception):
    """A memline operation failed: no binary, a log that cannot be read, a recording that did
    not start. Event and span sending never raise it: they are silent no-ops instead."""


def find_binary():
    """The path of the memline binary: $MEMLINE_BIN, else `memline` on $PATH.

    Raises MemlineError when there is none (or $MEMLINE_BIN names no executable file)."""
    env = os.environ.get("MEMLINE_BIN")
    if env:
        if os.path.isfile(env) and os.access(env, os.X_OK):
            return env
        raise MemlineError(f"MEMLINE_BIN is '{env}', which is not an executable file")
    found = shutil.which("memline")
    if found:
        return found
    raise MemlineError("memline binary not found: install memline or set MEMLINE_BIN")


def _has_command(binary, command):
    """Whether `memline --help` lists command."""
    try:
        out = subprocess.run([binary, "--help"], stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, errors="replace", timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    for line in (out.stdout + out.stderr).splitlines():
        words = line.split()
        if words and words[0] == command:
            return True
    return False


def plot(paths, output):
    """Draws one or more logs into output (its extension picks the format) by running
    `memline plot PATHS... -o OUTPUT`. paths is a path or a list of paths. Returns output.

    Raises MemlineError when the binary is missing, has no plot command, or fails."""
    if isinstance(paths, (str, bytes, os.PathLike)):
        paths = [paths]
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise MemlineError("plot needs at least one log")
    binary = find_binary()
    if not _has_command(binary, "plot"):
        raise MemlineError(f"{binary} has no plot command: upgrade memline to draw plots")
    try:
        res = subprocess.run([binary, "plot", *paths, "-o", os.fspath(output)],
                             stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             errors="replace")
    except OSError as e:
        raise MemlineError(f"cannot run {binary}: {e}") from e
    if res.returncode != 0:
        msg = res.stderr.strip() or f"exit status {res.returncode}"
        raise MemlineError(f"memline plot failed: {msg}")
    return output
