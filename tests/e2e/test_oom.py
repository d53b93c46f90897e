"""OOM kills: a command that outgrows its memory cgroup is reported as oom-killed."""

import shlex

from conftest import MEMWORK, of_type


def test_oom_kill_in_memory_cgroup(ml, memory_cgroup):
    procs = memory_cgroup / "cgroup.procs"
    script = f"echo $$ > {shlex.quote(str(procs))} && exec {shlex.quote(str(MEMWORK))} alloc 300M sleep 1000"
    run = ml.record(["sh", "-c", script], opts=["-i", "0.05"])
    assert run.code == 137, f"expected memline to exit 137 (SIGKILL by the OOM killer); {run.describe()}"
    end = run.end
    assert end["status"] == "oom-killed", f"expected status 'oom-killed', end record: {end}"
    assert end["signal"] == 9, f"expected signal 9 in the end record: {end}"
    assert run.pid in end["oom_killed"], f"expected the command's pid {run.pid} in oom_killed: {end}"
    exits = [e for e in of_type(run.records, "exit") if e["pid"] == run.pid]
    assert exits and exits[-1]["oom"] is True, f"expected the command's exit record to say oom: {exits}"
    rc, first, out, _ = ml.status(run.log)
    assert (rc, first) == (2, "oom-killed"), f"expected `memline status` 'oom-killed', exit 2; got {rc}, {out!r}"
