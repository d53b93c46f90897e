"""The log's records as docs/log-format.md describes them, and how soon they reach the file."""

import os
import signal
import socket
import time

from conftest import MEMWORK, of_type, read_log, read_pidfile, wait_until

HEADER_MEMBERS = ["type", "format", "memline", "mode", "host", "start", "start_unix", "command", "pid",
                  "pids", "cwd", "job", "place", "clock", "page_size", "clk_tck", "mem_total", "kernel", "interval",
                  "peak_reset", "pss", "memory", "events", "fields", "tree_fields"]
FIELDS = ["pid", "rss", "anon", "file", "shmem", "peak", "vms", "swap", "pss", "utime", "stime",
          "minflt", "majflt", "threads", "rchar", "wchar", "read_bytes", "write_bytes", "vm_of",
          "heap", "state"]
TREE_FIELDS = ["nproc", "rss", "anon", "file", "shmem", "peak", "vms", "swap", "pss", "utime", "stime",
               "job", "job_peak", "cg_anon", "cg_file", "cg_shmem", "cg_kernel", "cg_sock", "cg_swap",
               "heap"]
THREAD_FIELDS = ["pid", "tid", "utime", "stime", "heap", "heap_peak", "alloc", "freed", "nalloc",
                 "nfree", "mmap"]


def test_header(ml, tmp_path):
    run = ml.run_memwork("alloc", "1M", "sleep", 50, opts=["-i", "0.02"])
    assert run.code == 0, run.describe()
    h = run.header
    missing = [m for m in HEADER_MEMBERS if m not in h]
    assert not missing, f"expected the header to have {missing}: {h}"
    assert h["format"] == 4 and h["mode"] == "run", f"expected format 4, mode run: {h}"
    assert h["memory"]["method"] in ("rss", "pss", "cgroup"), f"expected a memory method: {h['memory']}"
    assert "poll" in h["events"] and "wait4" in h["events"], f"expected poll and wait4: {h['events']}"
    assert h["command"] == [str(MEMWORK), "alloc", "1M", "sleep", "50"], f"expected the command's argv: {h['command']}"
    assert h["pids"] == [h["pid"]], f"expected pids == [pid] for run: {h}"
    assert h["cwd"] == str(tmp_path), f"expected cwd {tmp_path}: {h['cwd']}"
    assert h["host"] == socket.gethostname(), f"expected host {socket.gethostname()}: {h['host']}"
    assert h["kernel"] == os.uname().release, f"expected kernel {os.uname().release}: {h['kernel']}"
    assert h["page_size"] == os.sysconf("SC_PAGE_SIZE") and h["clk_tck"] == os.sysconf("SC_CLK_TCK"), (
        f"expected page_size and clk_tck of this machine: {h}")
    assert isinstance(h["job"], dict), f"expected job to be an object: {h['job']}"
    assert h["mem_total"] > 0 and isinstance(h["start_unix"], (int, float)), f"expected mem_total, start_unix: {h}"
    assert abs(h["start_unix"] - time.time()) < 3600, f"expected start_unix to be about now: {h['start_unix']}"
    assert h["interval"] == {"fixed": 0.02, "min": h["interval"]["min"], "max": h["interval"]["max"]}, (
        f"expected interval.fixed 0.02 with -i 0.02: {h['interval']}")
    assert h["peak_reset"] is True and h["pss"] is False, f"expected peak_reset true, pss false: {h}"
    assert h["fields"][: len(FIELDS)] == FIELDS, f"expected fields to start {FIELDS}: {h['fields']}"
    assert h["tree_fields"][: len(TREE_FIELDS)] == TREE_FIELDS, f"expected tree_fields {TREE_FIELDS}: {h['tree_fields']}"
    assert h["thread_fields"][: len(THREAD_FIELDS)] == THREAD_FIELDS, h["thread_fields"]
    assert "heap" not in h, f"expected no heap member without --heap: {h}"

    adaptive = ml.run_memwork("exit", 0)
    iv = adaptive.header["interval"]
    assert iv["fixed"] is None and iv["min"] == 0.01 and iv["max"] == 5, (
        f"expected the adaptive schedule (fixed null, min 0.01, max 5) by default: {iv}")


def test_sample_arrays(ml):
    run = ml.run_memwork("alloc", "4M", "child", "alloc 2M sleep 200", "sleep", 300, "wait",
                         opts=["-i", "0.02", "--pss"])
    assert run.code == 0, run.describe()
    h = run.header
    assert h["pss"] is True, f"expected pss true with --pss: {h}"
    samples = of_type(run.records, "sample")
    assert len(samples) >= 3, f"expected several samples, got {len(samples)}"
    nf, nt = len(h["fields"]), len(h["tree_fields"])
    pss, state, pid = h["fields"].index("pss"), h["fields"].index("state"), h["fields"].index("pid")
    for s in samples:
        assert isinstance(s["avail"], int) and s["avail"] > 0, f"expected avail KiB in {s}"
        assert len(s["tree"]) == nt, f"expected tree arrays of {nt} entries (tree_fields): {s['tree']}"
        assert s["tree"][0] == len(s["p"]), f"expected tree nproc == number of processes in {s}"
        for p in s["p"]:
            assert len(p) == nf, f"expected process arrays of {nf} entries, one per name in fields: {p}"
            assert isinstance(p[state], str) and len(p[state]) == 1, f"expected a state letter: {p}"
    with_pss = [p for s in samples for p in s["p"] if p[pid] == run.pid and p[pss] is not None]
    assert with_pss, "expected PSS values for the command with --pss"


def test_records_reach_file_while_the_command_runs(ml, tmp_path, killer):
    """Records are written out while the command runs, not only when it ends: the command waits
    for a signal that is sent only once the file shows several samples of it. (How soon they
    are written, 0.5 s at most, is the writer's flush deadline: tests/unit/test_log_writer.c.)"""
    log, pf = tmp_path / "live.jsonl", tmp_path / "w.pid"
    p = ml.popen("run", "-o", log, "-i", "0.05", "--", ml.memwork, "pidfile", pf, "alloc", "10M",
                 "waitsig")
    pid = read_pidfile(pf)
    killer.append(pid)

    def samples_of_pid():
        try:
            records = read_log(log)
        except (FileNotFoundError, AssertionError):
            return 0
        if not records or records[0].get("type") != "header":
            return 0
        pos = records[0]["fields"].index("pid")
        return sum(1 for r in records if r["type"] == "sample" and any(q[pos] == pid for q in r["p"]))
    wait_until(lambda: samples_of_pid() >= 3, f"three samples of pid {pid} in {log} while it runs")
    assert p.poll() is None, "expected memline to be still recording"
    os.kill(pid, signal.SIGUSR1)
    ml.finish(p)
    assert p.returncode == 0, f"expected exit 0, got {p.returncode}"
