"""Recorded peaks against what was allocated and against the kernel's own ru_maxrss.

memline resets each process's high-water mark (VmHWM, which is also what ru_maxrss reports)
after every sample, so a peak between two samples is still caught. The same reset means that
ru_maxrss measured INSIDE a recorded run covers only the time since memline's last sample. So
the reference peak comes from the same memwork steps run WITHOUT memline, or from a run under
`memline run --no-peak-reset`, where ru_maxrss is the lifetime peak again.
"""

import os
import re
import signal
import subprocess

from conftest import (MEMWORK, MIB, field_pos, of_type, read_log, read_pidfile, recorded_peak,
                      report_peak, wait_until)


def maxrss_of(stdout):
    found = re.findall(r"^maxrss (\d+)$", stdout, re.M)
    assert found, f"expected a 'maxrss KIB' line from memwork, got {stdout!r}"
    return int(found[-1])


def standalone_maxrss(*steps):
    """ru_maxrss of memwork STEPS maxrss run without memline (KiB)."""
    p = subprocess.run([str(MEMWORK), *map(str, steps), "maxrss"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, f"expected memwork to run: {p.stderr}"
    return maxrss_of(p.stdout)


def test_alloc_peak_matches_allocation(ml):
    baseline = standalone_maxrss()
    size = 200 * MIB
    run = ml.run_memwork("alloc", "200M", "sleep", 300, opts=["-i", "0.05"])
    assert run.code == 0, f"expected exit 0; {run.describe()}"
    upper = (size + baseline) * 1.10
    peak = recorded_peak(run.records, run.pid)
    assert peak is not None and size <= peak <= upper, (
        f"expected the log's peak for pid {run.pid} in [{size}, {upper:.0f}] KiB "
        f"(200 MiB + {baseline} KiB baseline + 10%), got {peak}")
    rpeak = report_peak(run.report, run.pid)
    assert size <= rpeak <= upper, (
        f"expected report --json peak_rss of pid {run.pid} in [{size}, {upper:.0f}] KiB, got {rpeak}")


def test_short_spike_is_caught_between_samples(ml):
    """A 300 MiB spike held 5 ms with a 1 s interval: caught by the next sample's VmHWM."""
    steps = ["sleep", 100, "spike", "300M", 5]
    ref = standalone_maxrss(*steps)
    assert ref >= 300 * MIB, f"expected memwork's own ru_maxrss to show the spike, got {ref}"
    run = ml.run_memwork(*steps, "sleep", 1500, opts=["-i", "1"])
    assert run.code == 0, f"expected exit 0; {run.describe()}"
    assert run.header["peak_reset"] is True, f"expected peak_reset true by default: {run.header}"
    peak = recorded_peak(run.records, run.pid, samples_only=True)
    assert peak is not None and abs(peak - ref) <= 0.03 * ref, (
        f"expected a sample peak within 3% of the kernel's ru_maxrss {ref} KiB (memwork without "
        f"memline), got {peak}")
    rpeak = report_peak(run.report, run.pid)
    assert abs(rpeak - ref) <= 0.03 * ref, f"expected report --json peak_rss within 3% of {ref}, got {rpeak}"


def test_second_lower_spike_is_seen_in_its_own_interval(ml, tmp_path, killer):
    """The reset itself: a 300 MiB spike, then (after memline has sampled it and reset the
    high-water mark) a 150 MiB spike. The later interval's peak is the 150 MiB one. Without
    the reset, VmHWM would still say 300 MiB there and the 150 MiB spike could not be told
    (under --no-peak-reset this test fails: the second spike is not seen at all)."""
    ref_low = standalone_maxrss("spike", "150M", 5)
    assert ref_low >= 150 * MIB, f"expected memwork's own ru_maxrss to show the spike, got {ref_low}"
    log, ready = tmp_path / "reset.jsonl", tmp_path / "ready.pid"
    p = ml.popen("run", "-o", log, "-i", "0.2", "--", MEMWORK, "spike", "300M", 5,
                 "pidfile", ready, "waitsig", "spike", "150M", 5, "sleep", 1000)
    pid = read_pidfile(ready)
    killer.append(pid)

    def peaks():
        try:
            records = read_log(log)
        except (FileNotFoundError, AssertionError):
            return []
        if not records or records[0].get("type") != "header":
            return []
        pos, peak = field_pos(records, "pid"), field_pos(records, "peak")
        return [q[peak] for s in of_type(records, "sample") for q in s["p"]
                if q[pos] == pid and q[peak] is not None]

    def high_then_low():
        v = peaks()
        hi = [i for i, x in enumerate(v) if x >= 300 * MIB]
        return hi and any(x < 100 * MIB for x in v[hi[0] + 1:])
    # The first spike was read, then a later interval showed the mark back at its baseline.
    wait_until(high_then_low, f"a sample of pid {pid} at the 300 MiB spike, then a lower one")
    os.kill(pid, signal.SIGUSR1)
    ml.finish(p)
    assert p.returncode == 0, f"expected exit 0, got {p.returncode}: {p.err_path.read_text()}"
    v = peaks()
    hi = [i for i, x in enumerate(v) if x >= 300 * MIB][0]
    low = next(i for i in range(hi + 1, len(v)) if v[i] < 100 * MIB)
    later = max(v[low:])
    assert abs(later - ref_low) <= 0.03 * ref_low, (
        f"expected the peak after the reset to be the second spike's, within 3% of {ref_low} KiB "
        f"(memwork's own ru_maxrss for it), got {later} KiB (peaks: {v})")


def test_spike_with_no_peak_reset_matches_own_maxrss(ml):
    run = ml.run_memwork("sleep", 100, "spike", "300M", 5, "sleep", 1500, "maxrss",
                         opts=["-i", "1", "--no-peak-reset"])
    assert run.code == 0, f"expected exit 0; {run.describe()}"
    own = maxrss_of(run.stdout)
    peak = recorded_peak(run.records, run.pid)
    assert abs(peak - own) <= 0.03 * own, (
        f"expected the recorded peak within 3% of memwork's ru_maxrss {own} KiB under "
        f"--no-peak-reset, got {peak}")


def test_no_peak_reset_keeps_lifetime_maxrss(ml):
    steps = ["alloc", "100M", "free", "sleep", 300, "maxrss"]
    run = ml.run_memwork(*steps, opts=["-i", "0.05", "--no-peak-reset"])
    assert run.code == 0, f"expected exit 0; {run.describe()}"
    assert run.header["peak_reset"] is False, f"expected peak_reset false in the header: {run.header}"
    own = maxrss_of(run.stdout)
    assert own >= 100 * MIB, (
        f"expected memwork's ru_maxrss under --no-peak-reset to be its lifetime peak (>= 100 MiB), "
        f"got {own} KiB")
    peak = recorded_peak(run.records, run.pid)
    assert abs(peak - own) <= 0.03 * own, f"expected the recorded peak within 3% of {own}, got {peak}"

    # The contrast: with the reset, ru_maxrss read after later samples no longer shows the alloc,
    # but the log still does.
    reset = ml.run_memwork(*steps, opts=["-i", "0.05"])
    assert reset.code == 0, f"expected exit 0; {reset.describe()}"
    own_reset = maxrss_of(reset.stdout)
    assert own_reset < 50 * MIB, (
        f"expected memline's peak reset to lower memwork's ru_maxrss after the free "
        f"(< 50 MiB), got {own_reset} KiB")
    peak_reset = recorded_peak(reset.records, reset.pid)
    assert peak_reset >= 100 * MIB, f"expected the log to keep the 100 MiB peak, got {peak_reset}"
