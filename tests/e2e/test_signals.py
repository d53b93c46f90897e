"""Signals sent to memline reach the command; --wait keeps recording orphans to their end."""

import os
import signal

import pytest

from conftest import exits_by_pid, of_type, read_log, read_pidfile, wait_ready, wait_until


@pytest.mark.parametrize("sig", ["TERM", "INT", "HUP", "QUIT"])
def test_signal_forwarded_to_command(ml, tmp_path, pipe, killer, sig):
    r, w = pipe
    pf = tmp_path / "work.pid"
    p = ml.popen("run", "-o", ml.logpath(), "--", ml.memwork, "onsig", sig, 42, "pidfile", pf,
                 "ready", w, "hang", pass_fds=(w,))
    os.close(w)
    wait_ready(r, "memwork under memline")
    killer.append(read_pidfile(pf))
    p.send_signal(getattr(signal, "SIG" + sig))
    out, err = ml.finish(p)
    assert p.returncode == 42, (
        f"expected SIG{sig} sent to memline to reach the command, which exits 42, and memline to "
        f"exit 42 too; got {p.returncode}: {err!r}")


def test_sigterm_kills_command_with_default_action(ml, tmp_path, pipe, killer):
    r, w = pipe
    log, pf = ml.logpath(), tmp_path / "work.pid"
    p = ml.popen("run", "-o", log, "--", ml.memwork, "pidfile", pf, "ready", w, "hang", pass_fds=(w,))
    os.close(w)
    wait_ready(r, "memwork under memline")
    killer.append(read_pidfile(pf))
    p.send_signal(signal.SIGTERM)
    _, err = ml.finish(p)
    assert p.returncode == 128 + signal.SIGTERM, (
        f"expected memline to exit 143 when the forwarded SIGTERM kills the command, got {p.returncode}: {err!r}")
    end = read_log(log)[-1]
    assert end["type"] == "end" and end["status"] == "killed" and end["signal"] == signal.SIGTERM, (
        f"expected an end record 'killed' by 15, got {end}")


def _orphan_run(ml, tmp_path, opts):
    """memwork leaves an orphan waiting for SIGUSR1; returns (Popen, log, root pid, orphan pid)."""
    log = tmp_path / "orphan.jsonl"
    root_pf, orphan_pf = tmp_path / "root.pid", tmp_path / "orphan.pid"
    p = ml.popen("run", "-o", log, *opts, "--", ml.memwork, "orphan", f"pidfile {orphan_pf} waitsig",
                 "pidfile", root_pf, "waitsig")
    root, orphan = read_pidfile(root_pf), read_pidfile(orphan_pf)
    wait_until(lambda: any(r["pid"] == orphan for r in of_type(_records(log), "proc")),
               f"a proc record for the orphan {orphan} in {log}")
    return p, log, root, orphan


def _records(log):
    try:
        return read_log(log)
    except (FileNotFoundError, AssertionError):
        return []


def test_without_wait_orphan_is_alive_at_end(ml, tmp_path, killer):
    p, log, root, orphan = _orphan_run(ml, tmp_path, ["-i", "0.02"])
    killer.append(orphan)
    os.kill(root, signal.SIGUSR1)
    _, err = ml.finish(p)
    assert p.returncode == 0, f"expected memline to exit 0 when the command does; got {p.returncode}: {err!r}"
    records = read_log(log)
    end = records[-1]
    assert end["type"] == "end" and end["status"] == "completed", f"expected a completed end record: {end}"
    assert orphan in end["alive"], f"expected the still-running orphan {orphan} in the end record's alive: {end}"
    assert orphan not in exits_by_pid(records), "expected no exit record for the orphan, still running"
    os.kill(orphan, signal.SIGUSR1)


def test_with_wait_orphan_exit_is_recorded(ml, tmp_path, killer):
    p, log, root, orphan = _orphan_run(ml, tmp_path, ["-i", "0.02", "--wait"])
    killer.append(orphan)
    os.kill(root, signal.SIGUSR1)
    wait_until(lambda: root in exits_by_pid(_records(log)), f"the exit record of the command {root}")
    assert p.poll() is None, "expected memline --wait to keep recording while the orphan runs"
    os.kill(orphan, signal.SIGUSR1)
    _, err = ml.finish(p)
    assert p.returncode == 0, f"expected memline to exit 0 like the command; got {p.returncode}: {err!r}"
    records = read_log(log)
    end = records[-1]
    assert end["type"] == "end" and end["status"] == "completed", f"expected a completed end record: {end}"
    assert end["alive"] == [], f"expected nothing alive at the end with --wait: {end}"
    ex = exits_by_pid(records).get(orphan)
    assert ex and ex[-1]["how"] == "exited" and ex[-1]["code"] == 0, (
        f"expected the orphan's exit (exited, code 0) recorded before the end: {ex}")
