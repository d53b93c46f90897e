"""The process tree: children, grandchildren and double-forked orphans all join the recording,
each with its parent and its samples, and no two live processes ever share a pid."""

import resource

from conftest import (check_identity, exits_by_pid, of_type, procs_by_pid, proc_samples,
                      read_pidfile)


def test_children_grandchildren_and_orphan(ml, tmp_path):
    pf = {k: tmp_path / f"{k}.pid" for k in ("root", "child", "grandchild", "orphan")}
    grandchild = f"pidfile {pf['grandchild']} alloc 5M sleep 400"
    child = f"pidfile {pf['child']} sleep 100 child '{grandchild}' alloc 10M sleep 500 wait"
    orphan = f"pidfile {pf['orphan']} alloc 8M sleep 400"
    run = ml.run_memwork("pidfile", pf["root"], "sleep", 50, "child", child, "sleep", 100,
                         "orphan", orphan, "wait", "sleep", 600, opts=["--wait", "-i", "0.02"])
    assert run.code == 0, f"expected exit 0; {run.describe()}"
    pid = {k: read_pidfile(v, timeout=1) for k, v in pf.items()}
    assert run.pid == pid["root"], f"expected the header pid to be the command's {pid['root']}: {run.header}"

    procs = procs_by_pid(run.records)
    for k, p in pid.items():
        assert p in procs, f"expected a proc record for the {k} (pid {p}); procs: {sorted(procs)}"
        assert proc_samples(run.records, p), f"expected samples that include the {k} (pid {p})"
    assert procs[pid["child"]][0]["ppid"] == pid["root"], (
        f"expected the child's ppid to be the root {pid['root']}: {procs[pid['child']]}")
    assert procs[pid["grandchild"]][0]["ppid"] == pid["child"], (
        f"expected the grandchild's ppid to be the child {pid['child']}: {procs[pid['grandchild']]}")
    # The orphan is seen either while its short-lived parent (a child of the root) still lives,
    # or after the kernel moved it to memline (the subreaper).
    oppid = procs[pid["orphan"]][0]["ppid"]
    intermediates = [q for q, rs in procs.items() if rs[0]["ppid"] == pid["root"] and q != pid["child"]]
    assert oppid in intermediates or oppid not in procs, (
        f"expected the orphan's ppid to be its exited parent {intermediates} or memline itself, "
        f"got {oppid}")
    start = {k: procs[p][0]["start"] for k, p in pid.items()}
    assert start["root"] <= start["child"] <= start["grandchild"] and start["child"] <= start["orphan"], (
        f"expected start times in the order the processes were forked: {start}")
    live = [(p["pid"], p["start"]) for p in run.report["processes"] if p.get("alive")]
    assert len({q for q, _ in live}) == len(live), f"expected no two live processes with one pid in the report: {live}"
    exits = exits_by_pid(run.records)
    for k, p in pid.items():
        assert p in exits, f"expected an exit record for the {k} (pid {p}) with --wait"
    assert run.end["alive"] == [], f"expected nothing alive at the end with --wait: {run.end}"
    check_identity(run.records)


def test_proc_records_precede_samples_and_exit(ml):
    run = ml.run_memwork("child", "alloc 2M sleep 100", "child", "sleep 100", "wait", "sleep", 50,
                         opts=["-i", "0.01"])
    assert run.code == 0, f"expected exit 0; {run.describe()}"
    live = check_identity(run.records)
    assert set(live) <= set(run.end["alive"]), (
        f"expected every process without an exit record to be listed alive in the end record: "
        f"{sorted(live)} vs {run.end}")
    assert len(procs_by_pid(run.records)) >= 3, "expected the root and two children as processes"
    assert all(s["t"] >= 0 for s in of_type(run.records, "sample")), "expected sample times >= 0"
    ts = [r["t"] for r in run.records if "t" in r]
    assert ts == sorted(ts), "expected records in time order"


def test_many_short_lived_processes_run_clean(ml):
    """Processes that exit while memline reads them are not errors."""
    for opts in ([], ["-i", "0.001"]):
        run = ml.record(["sh", "-c", "for i in $(seq 200); do /bin/true; done"], opts=opts)
        assert run.code == 0, f"expected exit 0 with {opts}; {run.describe()}"
        assert run.end["status"] == "completed", f"expected completed: {run.end}"
        bad = [ln for ln in run.stderr.splitlines() if not ln.startswith("memline: completed")]
        assert not bad, f"expected no warnings or errors on stderr with {opts}, got {bad[:10]}"
        check_identity(run.records)


def test_low_open_file_limit_loses_no_process(ml):
    """memline keeps a few /proc files open per process; under a low open-file limit it keeps
    what the limit allows and reads the other processes by path: none is dropped."""
    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    run = ml.record(["sh", "-c", "for i in $(seq 200); do sleep 3 & done; wait"],
                    opts=["-i", "0.05"], preexec_fn=low_limit)
    assert run.code == 0, f"expected exit 0; {run.describe()}"
    # A process's command is its newest: a child may be seen before it execs sleep.
    argv = {}
    for r in run.records:
        if r["type"] in ("proc", "exec"):
            argv[r["pid"]] = r["argv"]
    sleeps = [pid for pid, a in argv.items() if a == ["sleep", "3"]]
    assert len(sleeps) == 200, f"expected 200 sleep processes recorded, got {len(sleeps)}"
    widest = max(len(s["p"]) for s in of_type(run.records, "sample"))
    assert widest >= 201, f"expected a sample with the shell and its 200 sleeps, the widest has {widest}"
    check_identity(run.records)
