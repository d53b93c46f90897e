"""memline attach: recording processes it did not start, and their descendants."""

import json
import os
import signal
import subprocess

from conftest import (end_of, exits_by_pid, header_of, of_type, procs_by_pid, read_log, read_pidfile,
                      wait_for_records, wait_until)


def _records(log):
    try:
        return read_log(log)
    except (FileNotFoundError, AssertionError):
        return []


def test_attach_then_sigint_detaches(ml, tmp_path, killer):
    pf, cpf = tmp_path / "work.pid", tmp_path / "child.pid"
    work = ml.work("pidfile", pf, "alloc", "20M", "child", f"pidfile {cpf} alloc 10M hang", "hang")
    killer.append(work.pid)
    pid, child = read_pidfile(pf), read_pidfile(cpf)
    killer.append(child)
    log = tmp_path / "attach.jsonl"
    p = ml.popen("attach", "-o", log, "-i", "0.05", pid)
    wait_until(lambda: child in procs_by_pid(_records(log)) and len(of_type(_records(log), "sample")) >= 2,
               f"the child {child} and two samples in {log}")
    p.send_signal(signal.SIGINT)
    _, err = ml.finish(p)
    assert p.returncode == 0, f"expected memline attach to exit 0 when stopped with SIGINT, got {p.returncode}: {err!r}"
    records = read_log(log)
    h, end = header_of(records), end_of(records)
    assert h["mode"] == "attach" and h["pid"] == pid and h["pids"] == [pid], (
        f"expected an attach header naming pid {pid}: {h}")
    assert end["status"] == "detached", f"expected status 'detached', end record: {end}"
    assert pid in end["alive"] and child in end["alive"], f"expected both processes alive at the end: {end}"
    procs = procs_by_pid(records)
    assert procs[pid][0]["start"] < 0, f"expected a negative start for a process running before attach: {procs[pid]}"
    assert procs[child][0]["ppid"] == pid, f"expected the child's ppid {pid}: {procs[child]}"
    rc, first, out, _ = ml.status(log)
    assert (rc, first) == (5, "detached"), f"expected `memline status` 'detached', exit 5; got {rc} {out!r}"
    assert work.poll() is None, "expected the attached process to keep running after memline detached"


def test_attach_until_exit(ml, tmp_path, killer):
    pf = tmp_path / "work.pid"
    work = ml.work("pidfile", pf, "alloc", "5M", "waitsig", "exit", 0)
    pid = read_pidfile(pf)
    killer.append(pid)
    log = tmp_path / "attach.jsonl"
    p = ml.popen("attach", "-o", log, "-i", "0.05", pid)
    wait_until(lambda: len(of_type(_records(log), "sample")) >= 1, f"a sample in {log}")
    os.kill(pid, signal.SIGUSR1)
    work.wait(timeout=30)
    _, err = ml.finish(p)
    assert p.returncode == 0, f"expected memline attach to exit 0 when the process exits, got {p.returncode}: {err!r}"
    records = read_log(log, allow_cut_last=False)
    end = end_of(records)
    assert end["status"] in ("exited", "completed"), f"expected status 'exited' (or the real status): {end}"
    assert end["alive"] == [], f"expected nothing alive: {end}"
    assert pid in exits_by_pid(records), f"expected an exit record for {pid}"
    rc, first, out, _ = ml.status(log)
    assert first == end["status"] and rc in (0, 5), f"expected `memline status` to read the complete log: {rc} {out!r}"


def test_attach_bad_pid(ml, tmp_path):
    p = subprocess.Popen(["true"])
    p.wait()
    log = tmp_path / "bad.jsonl"
    r = ml.cmd("attach", "-o", log, p.pid)
    assert r.returncode == 66, f"expected exit 66 for a process that does not exist, got {r.returncode}: {r.stderr!r}"
    assert r.stderr.strip() and str(p.pid) in r.stderr, f"expected a message naming pid {p.pid}, got {r.stderr!r}"
    r = ml.cmd("attach", "-o", log, "notapid")
    assert r.returncode == 64, f"expected exit 64 for 'notapid', got {r.returncode}: {r.stderr!r}"


def test_unprivileged_attach_to_a_process_it_cannot_fully_read(ml, tmp_path, killer):
    """memline as 'nobody' attached to root's process: its io cannot be read and its peak not
    reset. Recorded as null / lifetime peaks, and said once: one warning on the terminal, one
    warning record in the log, which status and report show."""
    import shutil
    import tempfile
    shared = tempfile.mkdtemp(prefix="memline-nobody-", dir="/tmp")
    os.chmod(shared, 0o1777)
    try:
        pf = tmp_path / "work.pid"
        work = ml.work("pidfile", pf, "alloc", "20M", "sleep", "1500", "exit", 0)
        pid = read_pidfile(pf)
        killer.append(pid)
        log = os.path.join(shared, "nobody.jsonl")

        def as_nobody():
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)

        # A clone may live where nobody cannot reach: run a copy of the binary.
        binary = os.path.join(shared, "memline")
        shutil.copy(ml.bin, binary)
        os.chmod(binary, 0o755)
        out_path, err_path = os.path.join(shared, "out"), os.path.join(shared, "err")
        with open(out_path, "w") as fo, open(err_path, "w") as fe:
            p = subprocess.Popen([binary, "attach", "-o", log, "-i", "0.05", str(pid)], cwd=shared,
                                 stdout=fo, stderr=fe, preexec_fn=as_nobody)
        work.wait(timeout=30)
        p.wait(timeout=30)
        err = open(err_path).read()
        assert p.returncode == 0, f"expected exit 0 as an unprivileged user; got {p.returncode}: {err!r}"
        lines = err.splitlines()
        warned = [ln for ln in lines if ln.startswith("memline: warning: ")]
        assert len(warned) == 1 and f"process {pid} " in warned[0], f"expected one warning naming {pid}: {err!r}"
        assert "I/O counters" in warned[0] and "reset the peak" in warned[0], warned
        assert all(ln.startswith("memline: ") for ln in lines), f"expected only memline's lines: {err!r}"
        records = read_log(log, allow_cut_last=False)
        notes = of_type(records, "warning")
        assert len(notes) == 1 and notes[0]["code"] == "access" and notes[0]["pid"] == pid, (
            f"expected one warning record about {pid}: {notes}")
        assert notes[0]["text"] == warned[0][len("memline: warning: "):], (notes, warned)
        _, _, out, _ = ml.status(log)
        assert f"warning: {notes[0]['text']}" in out, f"expected status to show the warning: {out!r}"
        rep = ml.cmd("report", log)
        assert f"process {pid} " in rep.stdout and "I/O counters" in rep.stdout, rep.stdout[:2000]
        assert json.loads(ml.cmd("report", "--json", log).stdout)["warnings"] == [notes[0]["text"]]
        assert end_of(records)["status"] in ("exited", "completed"), f"end: {end_of(records)}"
        samples = [s for s in of_type(records, "sample") if s["p"]]
        assert samples, "expected samples of the attached process"
        fields = header_of(records)["fields"]
        rss, rchar = fields.index("rss"), fields.index("rchar")
        # (the last sample may find it exiting, its memory already taken down: rss 0)
        entries = [s["p"][0] for s in samples]
        assert max(e[rss] or 0 for e in entries) >= 20 * 1024, (
            f"expected its 20 MiB in rss: {entries[-3:]}")
        assert all(e[rchar] is None for e in entries), (
            f"expected io (not ours to read) as null: {entries[-3:]}")
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def test_attach_default_log_name_is_the_process_comm(ml, tmp_path, killer):
    """Without -o the log is named after the first process's short name (procfs_comm)."""
    import re
    pf = tmp_path / "work.pid"
    ml.work("pidfile", pf, "waitsig", "exit", 0)
    pid = read_pidfile(pf)
    killer.append(pid)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    p = ml.popen("attach", "-i", "0.05", pid, cwd=cwd)
    wait_until(lambda: any(of_type(_records(log), "sample") for log in cwd.glob("*.jsonl")),
               f"a sample in a log in {cwd}")
    os.kill(pid, signal.SIGUSR1)
    _, err = ml.finish(p)
    assert p.returncode == 0, err
    logs = [f.name for f in cwd.glob("*.jsonl")]
    assert len(logs) == 1 and re.fullmatch(r"memline-memwork-\d{8}-\d{6}\.jsonl", logs[0]), logs
def test_attach_to_itself_is_refused(ml, tmp_path):
    r = subprocess.run(["sh", "-c", f'exec "{ml.bin}" attach -o "{tmp_path}/self.jsonl" $$'],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 64, f"expected exit 64 for attaching to memline's own pid, got {r.returncode}: {r.stderr!r}"
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "memline itself" in lines[0], f"expected one line: {r.stderr!r}"
    assert not (tmp_path / "self.jsonl").exists()


def test_attach_summary_offers_nothing_it_refuses(ml, tmp_path, killer):
    pf = tmp_path / "work.pid"
    ml.work("pidfile", pf, "hang")
    pid = read_pidfile(pf)
    killer.append(pid)
    log = tmp_path / "a.jsonl"
    p = ml.popen("attach", "-o", log, "-i", "0.05", pid)
    wait_for_records(log, "sample", 1)
    p.send_signal(signal.SIGINT)
    _, err = ml.finish(p)
    assert p.returncode == 0, err
    summary = err.strip().splitlines()[-1]
    assert "--wait" not in summary, f"expected attach's summary not to suggest --wait: {summary!r}"
    assert "1 still running" in summary and f"log: {log}" in summary, summary
