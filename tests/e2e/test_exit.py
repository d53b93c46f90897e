"""How a run ends: memline passes the command's exit status through, records it in the end
record, and `memline status` reports it (its exit code too)."""

import os
import stat

import pytest

from conftest import of_type

STATUS_EXIT = {"completed": 0, "failed": 1, "killed": 2, "oom-killed": 2, "incomplete": 3,
               "running": 4, "detached": 5, "exited": 5}


@pytest.mark.parametrize("code,status", [(0, "completed"), (3, "failed")])
def test_exit_code_passes_through(ml, code, status):
    run = ml.run_memwork("alloc", "1M", "exit", code)
    assert run.code == code, f"expected memline to exit {code} like its command; {run.describe()}"
    end = run.end
    assert end["status"] == status, f"expected status '{status}' for exit {code}, end record: {end}"
    assert end["exit_code"] == code, f"expected exit_code {code} in the end record: {end}"
    assert end["signal"] is None, f"expected no signal in the end record: {end}"
    rc, first, out, err = ml.status(run.log)
    assert first == status, f"expected `memline status` to print '{status}' first, got {out!r} {err!r}"
    assert rc == STATUS_EXIT[status], f"expected `memline status` to exit {STATUS_EXIT[status]}, got {rc}"
    exits = [e for e in of_type(run.records, "exit") if e["pid"] == run.pid]
    assert exits and exits[-1]["how"] == "exited" and exits[-1]["code"] == code, (
        f"expected the command's exit record to say exited with code {code}: {exits}")


def test_stderr_summary_line(ml):
    run = ml.run_memwork("exit", 0)
    lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("memline: completed") and str(run.log) in lines[0], (
        f"expected one line 'memline: completed ... log: {run.log}' on stderr, got {run.stderr!r}")
    quiet = ml.run_memwork("exit", 0, opts=["-q"])
    assert quiet.code == 0 and quiet.stderr == "", f"expected -q to print nothing on stderr, got {quiet.stderr!r}"


@pytest.mark.parametrize("sig,name", [(11, "SEGV"), (9, "KILL")])
def test_killed_by_signal(ml, sig, name):
    run = ml.run_memwork("alloc", "1M", "kill", name)
    assert run.code == 128 + sig, f"expected memline to exit {128 + sig} (128+SIG{name}); {run.describe()}"
    end = run.end
    assert end["status"] == "killed", f"expected status 'killed', end record: {end}"
    assert end["signal"] == sig, f"expected signal {sig} in the end record: {end}"
    assert end["exit_code"] is None, f"expected exit_code null for a killed command: {end}"
    assert end["oom_killed"] == [], f"expected no OOM kill: {end}"
    exits = [e for e in of_type(run.records, "exit") if e["pid"] == run.pid]
    assert exits and exits[-1]["how"] == "killed" and exits[-1]["signal"] == sig, (
        f"expected the command's exit record to say killed by {sig}: {exits}")
    rc, first, out, _ = ml.status(run.log)
    assert (rc, first) == (2, "killed"), f"expected `memline status` 'killed', exit 2; got {rc}, {out!r}"


def _no_logs_left(tmp):
    return [p.name for p in tmp.iterdir() if p.suffix == ".jsonl"]


def test_missing_command(ml, tmp_path):
    log = tmp_path / "missing.jsonl"
    p = ml.cmd("run", "-o", log, "--", "no-such-command-memline-test")
    assert p.returncode == 127, f"expected 127 for a command not found, got {p.returncode}: {p.stderr!r}"
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "no-such-command-memline-test" in lines[0], (
        f"expected a one-line message naming the command, got {p.stderr!r}")
    assert not log.exists(), "expected no log left behind for a command that could not start"
    p = ml.cmd("run", "--", str(tmp_path / "no" / "such" / "file"))
    assert p.returncode == 127, f"expected 127 for a missing path, got {p.returncode}: {p.stderr!r}"
    assert _no_logs_left(tmp_path) == [], f"expected no default log left, found {_no_logs_left(tmp_path)}"


def test_not_executable(ml, tmp_path):
    f = tmp_path / "script.sh"
    f.write_text("#!/bin/sh\nexit 0\n")
    os.chmod(f, stat.S_IRUSR | stat.S_IWUSR)
    log = tmp_path / "noexec.jsonl"
    p = ml.cmd("run", "-o", log, "--", str(f))
    assert p.returncode == 126, f"expected 126 for a file that is not executable, got {p.returncode}: {p.stderr!r}"
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected a one-line message, got {p.stderr!r}"
    assert not log.exists(), "expected no log left behind for a command that could not start"
