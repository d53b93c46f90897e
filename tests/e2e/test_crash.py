"""memline killed mid-run: the log it leaves reads as incomplete, line by line, and reports."""

import json
import os
import signal

from conftest import read_pidfile, wait_for_records, wait_until, pid_alive


def test_memline_sigkilled_leaves_incomplete_log(ml, tmp_path, killer):
    log, pidfile = tmp_path / "crash.jsonl", tmp_path / "work.pid"
    p = ml.popen("run", "-o", log, "-i", "0.05", "--", ml.memwork, "pidfile", pidfile, "alloc", "50M", "hang")
    work = read_pidfile(pidfile)
    killer.append(work)
    wait_for_records(log, "sample", 3)

    rc, first, out, err = ml.status(log)
    assert (rc, first) == (4, "running"), (
        f"expected `memline status` to say 'running' (exit 4) while memline records, got {rc} {out!r} {err!r}")

    # A killed memline cannot remove its event channel: this test does, to leave nothing behind.
    environ = dict(kv.split("=", 1) for kv in
                   open(f"/proc/{work}/environ").read().split("\0") if "=" in kv)
    channel = environ.get("MEMLINE_EVENTS")
    p.kill()
    p.wait(timeout=20)
    if channel:
        os.unlink(channel)
        os.rmdir(os.path.dirname(channel))
    # The lock dies with memline even though the command it started (which must not have
    # inherited the log's descriptor) is still running.
    assert pid_alive(work), "expected the workload to outlive memline"
    rc, first, out, err = ml.status(log)
    assert (rc, first) == (3, "incomplete"), (
        f"expected 'incomplete' (exit 3) once memline is gone, workload still running; got {rc} {out!r} {err!r}")

    os.kill(work, signal.SIGKILL)
    wait_until(lambda: not pid_alive(work), f"workload {work} to die")
    rc, first, out, err = ml.status(log)
    assert (rc, first) == (3, "incomplete"), f"expected 'incomplete' (exit 3), got {rc} {out!r} {err!r}"

    lines = log.read_bytes().split(b"\n")
    body = lines[:-1]  # after the last newline: empty, or a line cut off mid-write
    for n, line in enumerate(body, 1):
        try:
            json.loads(line)
        except ValueError:
            raise AssertionError(f"{log}:{n}: expected every line but the last to be JSON: {line[:200]!r}")
    assert b'"type":"end"' not in log.read_bytes(), "expected no end record in a log whose writer was killed"

    r = ml.cmd("report", log)
    assert r.returncode == 0 and r.stdout.strip(), f"expected `memline report` to work, got {r.returncode}: {r.stderr!r}"
    assert "incomplete" in r.stdout, f"expected the report to say the run is incomplete: {r.stdout[:1000]!r}"
    ml.report_json(log)
