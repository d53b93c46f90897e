"""OOM kills: a command that outgrows its memory cgroup is reported as oom-killed."""

import os
import shlex
import signal

from conftest import MEMWORK, end_of, of_type, read_log, read_pidfile, wait_until


def test_oom_kill_in_memory_cgroup(ml, memory_cgroup, tmp_path):
    """The command moves itself into a 64 MiB cgroup (as cgexec does) and execs a program that
    outgrows it. memline notes the cgroup a process runs in when it joins the tree and again at
    its exec; the program allocates only once the log shows its exec, so the cgroup memline
    knows it by is the one it dies in, whose counter rises (on cgroup v1 a dying process shows
    no cgroup; see test_cgroup.py for the kills memline's own cgroup for the job counts)."""
    procs = memory_cgroup / "cgroup.procs"
    pf = tmp_path / "work.pid"
    script = (f"echo $$ > {shlex.quote(str(procs))} && exec {shlex.quote(str(MEMWORK))} "
              f"pidfile {shlex.quote(str(pf))} waitsig alloc 300M sleep 1000")
    log = ml.logpath()
    p = ml.popen("run", "-o", log, "-i", "0.05", "--", "sh", "-c", script)
    pid = read_pidfile(pf)

    def seen_running_memwork():
        # the proc record (first seen after the exec) or an exec record names memwork
        return log.exists() and any(r["pid"] == pid and r["argv"][:1] == [str(MEMWORK)]
                                    for r in read_log(log) if r["type"] in ("proc", "exec"))
    wait_until(seen_running_memwork, "memwork's exec in the log")
    os.kill(pid, signal.SIGUSR1)
    ml.finish(p)
    assert p.returncode == 137, f"expected memline to exit 137 (SIGKILL by the OOM killer): {p.err_path.read_text()}"
    records = read_log(log)
    end = end_of(records)
    assert end["status"] == "oom-killed", f"expected status 'oom-killed', end record: {end}"
    assert end["signal"] == 9, f"expected signal 9 in the end record: {end}"
    assert pid in end["oom_killed"], f"expected the command's pid {pid} in oom_killed: {end}"
    exits = [e for e in of_type(records, "exit") if e["pid"] == pid]
    assert exits and exits[-1]["oom"] is True, f"expected the command's exit record to say oom: {exits}"
    rc, first, out, _ = ml.status(log)
    assert (rc, first) == (2, "oom-killed"), f"expected `memline status` 'oom-killed', exit 2; got {rc}, {out!r}"
