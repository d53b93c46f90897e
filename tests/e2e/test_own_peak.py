"""A process's peak is its own: never the image it had before its exec.

wait4's ru_maxrss of a child is the larger of its own program's high-water mark and that of the
image it ran before its exec: memline's own copy, for the command memline forks; its parent's,
for an orphan memline reaps. So the command's peak takes ru_maxrss only above what memline's
child measured of that image just before its exec (the exit record's maxrss_base), and an
orphan's only when memline knows it never exec'd. The raw value stays in the exit record's
maxrss, and the highest of them that is no image's is a floor for the largest process's peak
(report --json's largest_peak_floor), even when the process that peaked went unseen.

Ground truth: the workload's own VmHWM (memwork's `hwm` step prints it: the high-water mark of
its own memory map, which its exec started afresh), measured in a run without memline.
"""

import re
import subprocess

from conftest import MEMWORK, MIB, exits_by_pid, of_type, recorded_peak

KIB = 1024


def own_hwm(*steps):
    """VmHWM of memwork STEPS run without memline (KiB): its own program's, nothing before."""
    p = subprocess.run([str(MEMWORK), *map(str, steps), "hwm"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, f"expected memwork to run: {p.stderr}"
    return hwm_of(p.stdout)


def hwm_of(stdout):
    found = re.findall(r"^hwm (\d+)$", stdout, re.M)
    assert found, f"expected an 'hwm KIB' line from memwork, got {stdout!r}"
    return int(found[-1])


def the_exit(run, pid):
    exits = exits_by_pid(run.records).get(pid)
    assert exits, f"expected an exit record for {pid}"
    return exits[-1]


def test_small_command_peak_is_its_own(ml):
    """A command smaller than memline (as gzip is): its peak is its own high-water mark, not
    memline's image, which its wait4 ru_maxrss reports."""
    steps = ["alloc", "128K", "sleep", 300]
    own = own_hwm(*steps)
    run = ml.run_memwork(*steps, "hwm", opts=["-i", "0.02"])
    assert run.code == 0, f"expected exit 0; {run.describe()}"
    assert abs(hwm_of(run.stdout) - own) <= 256, (
        f"expected memwork's own high-water mark under memline ({hwm_of(run.stdout)} KiB) to be "
        f"its own without ({own} KiB)")
    e = the_exit(run, run.pid)
    peak = recorded_peak(run.records, run.pid)
    slack = max(0.03 * own, 256)
    assert peak is not None and abs(peak - own) <= slack, (
        f"expected the command's recorded peak within {slack:.0f} KiB of its own high-water mark "
        f"{own} KiB (memwork without memline), got {peak} KiB (exit: {e})")
    assert e["source"] == "wait4" and e["maxrss"] is not None and e.get("maxrss_base") is not None, e
    assert e["maxrss"] <= e["maxrss_base"] or e["maxrss"] > own + 256, (
        f"expected wait4's maxrss to be memline's image (at most maxrss_base) for a command "
        f"smaller than memline: {e}")
    assert run.report["largest_peak_floor"] is None, (
        f"expected no floor from a maxrss that is memline's image: {run.report['largest_peak_floor']}")


def test_large_command_keeps_its_wait4_peak(ml):
    """A command larger than memline's image: wait4's ru_maxrss is its own, and its last
    interval's peak (a spike between the last sample and its exit) comes from it."""
    run = ml.run_memwork("sleep", 100, "spike", "150M", 5, opts=["-i", "1"])
    assert run.code == 0, f"expected exit 0; {run.describe()}"
    e = the_exit(run, run.pid)
    assert e["maxrss"] > e["maxrss_base"] and e["peak"] == e["maxrss"], (
        f"expected the exit's peak to be wait4's maxrss, above memline's image: {e}")
    assert e["peak"] >= 150 * MIB, f"expected the spike in the exit's peak: {e}"


def test_waited_for_child_floor_is_kept(ml):
    """A command that waited for a 300 MiB child: its ru_maxrss covers the child, so it is not
    the command's own peak, but it bounds the largest process's peak from below, even at -i 1,
    where the child may come and go unseen."""
    run = ml.run_memwork("child", "spike 300M 5", "wait", "sleep", 50, opts=["-i", "1"])
    assert run.code == 0, f"expected exit 0; {run.describe()}"
    e = the_exit(run, run.pid)
    assert e["maxrss"] >= 300 * MIB, f"expected wait4's maxrss to cover the child: {e}"
    assert e["peak"] is None or e["peak"] < 300 * MIB, (
        f"expected the command's own peak not to be its child's: {e}")
    floor = run.report.get("largest_peak_floor")
    assert floor is not None and floor >= 300 * MIB * KIB, (
        f"expected report --json's largest_peak_floor to keep the 300 MiB (bytes), got {floor}")


def test_reaped_orphan_peak_is_not_its_parent_s(ml, tmp_path):
    """An orphan memline reaps, spawned (vfork-style) by a 100 MiB parent that then exited: its
    ru_maxrss is its parent's memory, which is not its peak."""
    run = ml.run_memwork("alloc", "100M", "spawn", "-", "sleep 300", opts=["--wait", "-i", "0.02"])
    assert run.code == 0, f"expected exit 0; {run.describe()}"
    orphans = [r["pid"] for r in of_type(run.records, "proc") if r["pid"] != run.pid]
    assert orphans, "expected the spawned process in the log"
    e = the_exit(run, orphans[0])
    assert e["source"] == "wait4", f"expected memline (the subreaper) to reap the orphan: {e}"
    assert e["maxrss"] >= 100 * MIB, f"expected its wait4 maxrss to include its parent's memory: {e}"
    assert e["peak"] is None or e["peak"] < 10 * MIB, (
        f"expected the orphan's peak not to be its parent's 100 MiB: {e}")
    peak = recorded_peak(run.records, orphans[0])
    assert peak is None or peak < 10 * MIB, f"expected no 100 MiB peak for the orphan, got {peak}"
