"""A log is never lost to an error, and a log that could not be written in full says why.

- An existing log survives every `memline run -o LOG` that does not start: a command not found
  (127), one that is not executable (126), a bad --event-regex (64), a log another memline is
  writing (73); nothing is left behind beside it.
- The default name never takes a name that exists, a dangling symbolic link included.
- The log's directory removed mid-run: memline says so, and its summary does not name a log
  that is gone.
- A full file system (a small tmpfs mounted here): the job goes on, and the log ends with a
  "stopped" record that `memline status` and `memline report` read as "file system full".
"""

import errno
import json
import os
import re
import shutil
import signal
import stat
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from conftest import end_of, header_of, of_type, read_log, read_pidfile, wait_for_records, wait_until


def hidden(directory):
    """What memline may have left beside a log: its temporary files are hidden."""
    return sorted(p.name for p in Path(directory).iterdir() if p.name.startswith("."))


@pytest.fixture
def kept(ml, tmp_path):
    """An existing, complete log, and its bytes."""
    log = tmp_path / "keep.jsonl"
    run = ml.run_memwork("alloc", "1M", "exit", 0, log=log, report=False)
    assert run.code == 0, run.describe()
    return log, log.read_bytes()


def one_line(stderr):
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected a one-line message, got {stderr!r}"
    return lines[0]


@pytest.mark.parametrize("case", ["not-found", "not-executable", "bad-regex"])
def test_existing_log_survives_a_run_that_never_starts(ml, tmp_path, kept, case):
    log, before = kept
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    os.chmod(script, stat.S_IRUSR | stat.S_IWUSR)
    args, code = {
        "not-found": (["--", "no-such-command-memline-test"], 127),
        "not-executable": (["--", script], 126),
        "bad-regex": (["--event-regex", "(", "--", ml.memwork, "exit", 0], 64),
    }[case]
    r = ml.cmd("run", "-o", log, *args)
    assert r.returncode == code, f"expected exit {code}, got {r.returncode}: {r.stderr!r}"
    one_line(r.stderr)
    assert log.read_bytes() == before, f"expected {log} untouched by a run that never started"
    assert hidden(tmp_path) == [], f"expected nothing left beside the log, found {hidden(tmp_path)}"
    rc, first, out, _ = ml.status(log)
    assert (rc, first) == (0, "completed"), f"expected the old log to read as before: {out!r}"


def test_log_being_written_is_refused_and_untouched(ml, tmp_path, kept, killer):
    log, _ = kept
    pf = tmp_path / "first.pid"
    first = ml.popen("run", "-o", log, "-i", "0.05", "--", ml.memwork, "pidfile", pf, "waitsig")
    work = read_pidfile(pf)
    killer.append(work)

    def first_in_place():
        # The kept log is there from the start: wait for the first recording's own log, whose
        # header names its command, to have replaced it.
        try:
            records = read_log(log)
        except (FileNotFoundError, AssertionError):
            return False
        return bool(records) and records[0].get("pid") == work and bool(of_type(records, "sample"))
    wait_until(first_in_place, f"the first recording's log (pid {work}) in place at {log}")
    assert hidden(tmp_path) == [], f"expected the first recording's log in place: {hidden(tmp_path)}"
    pf2 = tmp_path / "second.pid"
    r = ml.cmd("run", "-o", log, "--", ml.memwork, "pidfile", pf2)
    assert r.returncode == 73, f"expected exit 73 for a log another memline writes, got {r.returncode}: {r.stderr!r}"
    assert "being written by another memline" in one_line(r.stderr), r.stderr
    assert not pf2.exists(), "expected the second command NOT to start"
    assert hidden(tmp_path) == [], f"expected nothing left by the second memline: {hidden(tmp_path)}"
    os.kill(work, signal.SIGUSR1)
    _, err = ml.finish(first)
    assert first.returncode == 0, err
    records = read_log(log, allow_cut_last=False)
    assert header_of(records)["pid"] == work and end_of(records)["status"] == "completed", (
        f"expected the first recording's log whole: {records[0]} ... {records[-1]}")


def test_replaced_log_is_the_new_one_whole(ml, tmp_path, kept):
    """A run that starts replaces the old log at once and whole: never a mix of the two."""
    log, before = kept
    r = ml.cmd("run", "-o", log, "--", ml.memwork, "exit", 3)
    assert r.returncode == 3, r.stderr
    records = read_log(log, allow_cut_last=False)
    assert [x["type"] for x in records].count("header") == 1
    assert end_of(records)["exit_code"] == 3, f"expected the new run's end: {records[-1]}"
    assert hidden(tmp_path) == []


def stamps(seconds):
    """The default name's timestamps for now and the next seconds (it has one a second)."""
    now = datetime.now()
    return [(now + timedelta(seconds=s)).strftime("%Y%m%d-%H%M%S") for s in range(-1, seconds)]


def test_dangling_symlink_does_not_stop_the_job(ml, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    # What another user of a shared directory can do: take the next names with dangling links.
    links = [shared / f"memline-touch-{s}.jsonl" for s in stamps(30)]
    for link in links:
        os.symlink("/nonexistent/memline-test", link)
    r = ml.cmd("run", "--", "touch", "ran", cwd=shared)
    assert r.returncode == 0, f"expected the job to run despite the links, got {r.returncode}: {r.stderr!r}"
    assert (shared / "ran").exists(), "expected touch to have run"
    logs = [p for p in shared.glob("memline-touch-*.jsonl") if not p.is_symlink()]
    assert len(logs) == 1 and re.fullmatch(r"memline-touch-\d{8}-\d{6}-2\.jsonl", logs[0].name), (
        f"expected the log at the next free name (-2), found {[p.name for p in logs]}")
    assert logs[0].name in r.stderr, f"expected the summary to name the log it wrote: {r.stderr!r}"
    assert all(p.is_symlink() and os.readlink(p) == "/nonexistent/memline-test" for p in links), (
        "expected every link left as it was")
    assert end_of(read_log(logs[0]))["status"] == "completed"


def test_directory_removed_mid_run(ml, tmp_path, killer):
    d = tmp_path / "logs"
    d.mkdir()
    log, pf = d / "run.jsonl", tmp_path / "work.pid"
    p = ml.popen("run", "-o", log, "-i", "0.02", "--", ml.memwork, "pidfile", pf, "waitsig", "exit", 4)
    work = read_pidfile(pf)
    killer.append(work)
    wait_for_records(log, "sample", 2)
    shutil.rmtree(d)
    os.kill(work, signal.SIGUSR1)
    _, err = ml.finish(p)
    assert p.returncode == 4, f"expected the command's exit code (4) whatever became of the log: {err!r}"
    warn = [ln for ln in err.splitlines() if "warning" in ln]
    assert warn and "was removed while memline was writing it" in warn[0] and str(log) in warn[0], (
        f"expected a warning that {log} was removed, got {err!r}")
    summary = err.strip().splitlines()[-1]
    assert f"log: {log}" not in summary, f"expected the summary not to name the log as if it were there: {summary!r}"
    assert f"the log {log} was removed" in summary, f"expected the summary to say the log was removed: {summary!r}"


@pytest.fixture
def small_fs(tmp_path):
    """A 1 MiB tmpfs of the test's own (root mounts it), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True,
                       text=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(directory):
    """Writes a file until the file system is full; returns its path."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"x" * 4096)
        except OSError as e:
            assert e.errno in (errno.ENOSPC, errno.EDQUOT), f"expected the disk to fill up, got {e}"
    return filler


def records_of(log):
    try:
        return read_log(log)
    except (FileNotFoundError, AssertionError):
        return []


@pytest.mark.parametrize("ending", ["job-ends", "memline-killed"])
def test_full_file_system(ml, tmp_path, small_fs, killer, ending):
    log, pf = small_fs / "run.jsonl", tmp_path / "work.pid"
    p = ml.popen("run", "-o", log, "-i", "0.01", "--", ml.memwork, "pidfile", pf, "waitsig", "exit", 0)
    work = read_pidfile(pf)
    killer.append(work)
    wait_for_records(log, "sample", 2)
    fill(small_fs)
    # The job goes on; within half a second the writer finds no room and says so in the log.
    stopped = wait_until(lambda: of_type(records_of(log), "stopped"), f"a stopped record in {log}")
    assert stopped[0]["errno"] == "ENOSPC", f"expected ENOSPC: {stopped[0]}"
    assert p.poll() is None, "expected memline to keep recording the job"
    if ending == "memline-killed":
        p.kill()
        ml.finish(p)
    os.kill(work, signal.SIGUSR1)
    records = read_log(log)
    if ending == "job-ends":
        _, err = ml.finish(p)
        assert p.returncode == 0, f"expected the job's exit code, got {p.returncode}: {err!r}"
        assert "No space left on device" in err, f"expected a warning about the full disk: {err!r}"
        records = read_log(log, allow_cut_last=False)
        # The end record fits in the space kept: how the job ended is known after all.
        assert records[-1]["type"] == "end" and records[-1]["status"] == "completed", records[-1]
    t = stopped[0]["t"]
    after = [r for r in records if r["type"] not in ("stopped", "end")
             and records.index(r) > records.index(stopped[0])]
    assert not after, f"expected nothing but the end after the stopped record: {after[:3]}"
    rc, first, out, err = ml.status(log)
    line = [ln for ln in out.splitlines() if "the log stopped at" in ln]
    assert line and "file system full (ENOSPC)" in line[0], f"expected the stop and why in status: {out!r}"
    assert "memline or the machine died" not in out, f"expected no guess at a crash: {out!r}"
    if ending == "memline-killed":
        assert (rc, first) == (3, "incomplete"), f"expected incomplete (3): {rc} {out!r}"
    else:
        assert (rc, first) == (0, "completed"), f"expected completed (0): {rc} {out!r}"
    rep = ml.cmd("report", log)
    assert rep.returncode == 0 and "file system full (ENOSPC)" in rep.stdout, rep.stdout
    assert "memline or the machine died" not in rep.stdout
    js = json.loads(ml.cmd("report", "--json", log).stdout)
    assert js["stopped"]["errno"] == "ENOSPC" and abs(js["stopped"]["t"] - t) < 0.01, js["stopped"]


def test_full_file_system_before_the_start(ml, tmp_path, small_fs):
    """No room for a log at all: refused before the command starts, as for any log it cannot create."""
    fill(small_fs)
    pf = tmp_path / "started.pid"
    r = ml.cmd("run", "-o", small_fs / "run.jsonl", "--", ml.memwork, "pidfile", pf)
    assert r.returncode == 73, f"expected 73 (cannot create the log), got {r.returncode}: {r.stderr!r}"
    assert "No space left on device" in one_line(r.stderr)
    assert not pf.exists(), "expected the command NOT to start"
    assert hidden(small_fs) == [] and not (small_fs / "run.jsonl").exists()
