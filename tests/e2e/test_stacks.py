"""Stacks at the moments that matter (`memline run --stacks`), on real processes.

The ground truth is callchain (tests/workload/callchain.c): a program whose call chain the test
reads from its source (main -> chain_outer -> chain_middle -> chain_grow, which allocates), with
worker threads blocked in thread_outer -> thread_inner -> read. Built with -g, and stripped.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import (BUILD, MEMLINE, REPO, TIMEOUT, end_of, header_of, of_type, read_log,
                      wait_ready)

CALLCHAIN = BUILD / "callchain"
STRIPPED = BUILD / "callchain-stripped"
SOURCE = REPO / "tests" / "workload" / "callchain.c"
NOBODY = 65534


def line_of(text):
    """The line number of the line of callchain.c that holds text (exactly one)."""
    lines = [n for n, l in enumerate(SOURCE.read_text().splitlines(), 1) if text in l]
    assert len(lines) == 1, f"expected one line of {SOURCE} with {text!r}, got {lines}"
    return lines[0]


def frames_table(records):
    table = []
    for r in of_type(records, "frames"):
        assert r["first"] == len(table), f"expected frames numbered on from {len(table)}: {r}"
        table.extend(r["frames"])
    return table


def stacks(records):
    """Every stack record with its frames resolved, innermost first."""
    table = frames_table(records)
    out = []
    for s in of_type(records, "stack"):
        out.append(dict(s, frames=[table[i] for i in s.get("frames", [])]))
    return out


def fns(stack):
    return [f.get("fn") for f in stack["frames"]]


def record(tmp_path, argv, opts=("--stacks",), pass_fds=()):
    log = tmp_path / "s.jsonl"
    p = subprocess.run([str(MEMLINE), "run", "-q", "-o", str(log), *opts, "--", *map(str, argv)],
                       capture_output=True, timeout=TIMEOUT, pass_fds=pass_fds)
    assert p.returncode == 0, f"memline run failed ({p.returncode}): {p.stderr.decode()[-2000:]}"
    return read_log(log, allow_cut_last=False)


def main_stacks(records, pid):
    return [s for s in stacks(records) if s["tid"] == pid]


def test_peak_stack_names_the_chain_with_lines(tmp_path):
    # peaks 0.2 s apart at least: several captures during the growth, however slow memline is
    records = record(tmp_path, [CALLCHAIN, 160, 25, 300], opts=["--stacks", "--stacks-gap", "0.2"])
    pid = header_of(records)["pid"]
    # the last capture during the growth (the first may be of the dynamic loader)
    peak = [s for s in main_stacks(records, pid) if s["why"] == "peak" and "chain_grow" in fns(s)]
    assert peak, f"expected a peak capture in chain_grow: {[fns(s) for s in stacks(records)]}"
    last = peak[-1]
    names = fns(last)
    chain = ["chain_grow", "chain_middle", "chain_outer", "main"]
    assert all(n in names for n in chain), f"expected the chain {chain} in {names}"
    pos = [names.index(n) for n in chain]
    assert pos == sorted(pos), f"expected {chain} innermost first, got {names}"
    by = {f["fn"]: f for f in last["frames"] if f.get("fn") in chain}
    want = {"chain_middle": line_of("chain_grow(mib, step_ms);"),
            "chain_outer": line_of("chain_middle(mib, step_ms);"),
            "main": line_of("chain_outer(mib, step);")}
    for fn, line in want.items():
        f = by[fn]
        assert f["file"].endswith("callchain.c") and f["line"] == line, (
            f"expected {fn} at callchain.c:{line}, got {f.get('file')}:{f.get('line')}")
        assert f["mod"] == str(CALLCHAIN) and f["off"] > 0, f"expected {fn}'s module: {f}"
    assert last["stall_us"] >= 0 and not last.get("error"), f"expected a clean capture: {last}"
    e = end_of(records)
    assert e["stacks"]["captures"] >= 1 and e["stacks"]["failed"] == 0, e["stacks"]
    assert header_of(records)["stacks"]["when"] == ["peaks"], header_of(records)["stacks"]
    assert header_of(records)["stacks"]["gap"] == 0.2, header_of(records)["stacks"]


def test_stripped_binary_gives_module_and_offset(tmp_path):
    records = record(tmp_path, [STRIPPED, 160, 25, 300], opts=["--stacks", "--stacks-gap", "0.2"])
    pid = header_of(records)["pid"]
    # a capture of the growth (others may be of the dynamic loader, or of main's last wait)
    caps = [s for s in main_stacks(records, pid) if s["why"] == "peak"]
    last = max(caps, key=lambda s: sum(f.get("mod") == str(STRIPPED) for f in s["frames"]))
    own = [f for f in last["frames"] if f.get("mod") == str(STRIPPED)]
    # chain_grow, chain_middle, chain_outer, main and pause_ms: no symbols, but each its offset
    assert len(own) >= 4, f"expected the stripped binary's frames by module: {last['frames']}"
    assert all(f.get("fn") is None and f["off"] > 0 and not f.get("file") for f in own), own
    assert len({f["off"] for f in own}) == len(own), f"expected distinct offsets: {own}"
    assert "__libc_start_call_main" in fns(last), f"expected libc's frames named: {fns(last)}"


def test_every_thread_with_its_name(tmp_path):
    records = record(tmp_path, [CALLCHAIN, 40, 10, 1000, 3], opts=["--stacks=every=0.3"])
    pid = header_of(records)["pid"]
    # the last capture: the workers are in their read by then
    last = max(s["capture"] for s in stacks(records))
    cap = [s for s in stacks(records) if s["capture"] == last]
    assert len(cap) == 4, f"expected 4 threads in a capture, got {[s['tid'] for s in cap]}"
    workers = sorted(s["thread"] for s in cap if s["tid"] != pid)
    assert workers == ["worker-0", "worker-1", "worker-2"], workers
    for s in cap:
        names = fns(s)
        if s["tid"] == pid:
            assert "main" in names, names
        else:
            assert names.index("thread_inner") < names.index("thread_outer"), names
    # the frames of the three workers' identical stacks are in the table once
    table = frames_table(records)
    keys = [(f.get("fn"), f.get("mod"), f.get("off")) for f in table]
    assert len(keys) == len(set(keys)), "expected every frame once in the frame table"


def test_signal_asks_for_stacks_now(tmp_path):
    log = tmp_path / "s.jsonl"
    r, w = os.pipe()
    p = subprocess.Popen([str(MEMLINE), "run", "-q", "-o", str(log), "--stacks=signal", "--",
                          str(CALLCHAIN), "8", "1", "20000", "0", str(w)], pass_fds=(w,),
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(w)
    try:
        wait_ready(r, "callchain")
        time.sleep(0.2)  # in its last wait
        before = len(stacks(read_log(log))) if log.exists() else 0
        p.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 20
        got = []
        while time.monotonic() < deadline and not got:
            time.sleep(0.05)
            got = [s for s in stacks(read_log(log)) if s["why"] == "signal"]
        assert before == 0 and got, "expected a capture after SIGUSR1 (and none before it)"
        assert "pause_ms" in fns(got[0]) and "main" in fns(got[0]), fns(got[0])
        assert p.poll() is None, "expected memline to go on recording after SIGUSR1"
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=TIMEOUT)
        os.close(r)


def test_events_from_python_get_their_stacks(tmp_path):
    script = tmp_path / "ev.py"
    script.write_text("import memline, time\n"
                      "memline.event('loaded')\n"
                      "time.sleep(0.5)\n")
    env = dict(os.environ, PYTHONPATH=str(REPO / "python"))
    log = tmp_path / "s.jsonl"
    p = subprocess.run([str(MEMLINE), "run", "-q", "-o", str(log), "--stacks=events", "--",
                        "/usr/bin/python3", str(script)], capture_output=True, timeout=TIMEOUT,
                       env=env)
    assert p.returncode == 0, p.stderr.decode()
    records = read_log(log, allow_cut_last=False)
    ev = [s for s in stacks(records) if s["why"] == "event"]
    assert ev and ev[0]["label"] == "loaded", f"expected a capture at the event: {ev}"
    assert ev[0]["pid"] == header_of(records)["pid"], "expected the sender's stack"
    assert any(f.get("mod", "").endswith("python3.11") for f in ev[0]["frames"]), ev[0]


def test_processes_that_exit_during_captures(tmp_path):
    """Captures every 10 ms of a tree of short-lived processes: the job runs as it would,
    its exit code is kept, no process is left stopped or traced."""
    log = tmp_path / "s.jsonl"
    p = subprocess.run([str(MEMLINE), "run", "-q", "-o", str(log), "-i", "0.01",
                        "--stacks=every=0.01", "--stacks-budget", "100", "--", "/bin/sh", "-c",
                        "for i in $(seq 40); do /bin/true & /bin/true & sleep 0.02; done; wait; exit 7"],
                       capture_output=True, timeout=TIMEOUT)
    assert p.returncode == 7, f"expected the job's exit code 7, got {p.returncode}: {p.stderr}"
    records = read_log(log, allow_cut_last=False)
    e = end_of(records)
    assert e["status"] == "failed" and e["exit_code"] == 7, e
    st = stacks(records)
    assert e["stacks"]["captures"] >= 3 and len(st) >= 3, e["stacks"]
    for s in st:
        assert s.get("frames") or s.get("error"), f"expected frames or a reason: {s}"


def test_denied_capture_says_why(tmp_path):
    """nobody attaching to root's process: no stack, one clear line, the recording goes on."""
    sleeper = subprocess.Popen(["sleep", "30"])
    # a directory nobody can use, with a copy of memline (the build may be where it cannot)
    d = Path(tempfile.mkdtemp(prefix="memline-stacks-", dir="/tmp"))
    os.chmod(d, 0o1777)
    ml = d / "memline"
    shutil.copy(MEMLINE, ml)
    os.chmod(ml, 0o755)
    log = d / "a.jsonl"

    def as_nobody():
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    try:
        p = subprocess.Popen([str(ml), "attach", "-q", "-o", str(log), "-i", "0.05",
                              "--stacks=every=0.2", str(sleeper.pid)], preexec_fn=as_nobody,
                             stderr=subprocess.PIPE)
        time.sleep(1.0)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=TIMEOUT)
        assert p.returncode == 0, f"expected attach to end cleanly, got {p.returncode}: {err}"
    finally:
        sleeper.kill()
        sleeper.wait()
    records = read_log(log, allow_cut_last=False)
    shutil.rmtree(d, ignore_errors=True)
    st = stacks(records)
    assert st and all(not s["frames"] and "ptrace" in s["error"] for s in st), st
    warn = [w for w in of_type(records, "warning") if w.get("code") == "stacks"]
    assert len(warn) == 1 and "ptrace" in warn[0]["text"], warn
    assert end_of(records)["stacks"]["failed"] == end_of(records)["stacks"]["captures"]


def test_stacks_under_trace_use_its_tracer(tmp_path):
    """--trace traces every thread already: captures stop them through memline's tracer, which
    goes on seeing every fork, exec and exit meanwhile."""
    script = (f"{CALLCHAIN} 40 10 700 3 & "
              "for i in $(seq 30); do /bin/true; sleep 0.01; done; wait; exit 5")
    log = tmp_path / "s.jsonl"
    p = subprocess.run([str(MEMLINE), "run", "-q", "-o", str(log), "--trace", "-i", "0.02",
                        "--stacks=every=0.05", "--stacks-budget", "100", "--", "/bin/sh", "-c",
                        script], capture_output=True, timeout=TIMEOUT)
    assert p.returncode == 5, f"expected the job's exit code 5, got {p.returncode}: {p.stderr}"
    records = read_log(log, allow_cut_last=False)
    assert "ptrace" in header_of(records)["events"], header_of(records)["events"]
    chain = [s for s in stacks(records) if "chain_outer" in fns(s) or "main" in fns(s)]
    assert chain, "expected callchain's stacks under --trace"
    workers = [s for s in stacks(records) if s.get("thread", "").startswith("worker-")]
    assert any("thread_inner" in fns(s) for s in workers), "expected the workers' stacks"
    procs = of_type(records, "proc")
    # each /bin/true joins as a fork of sh, then execs
    trues = [r for r in of_type(records, "exec") + procs if r.get("comm") == "true"]
    assert len(trues) == 30, f"expected every /bin/true of the 30 recorded, got {len(trues)}"
    exits = {r["pid"] for r in of_type(records, "exit")}
    assert all(r["pid"] in exits for r in procs), "expected every process's exit"


PY_CHAIN = '''\
import time
def load_batch():
    held = [bytearray(1 << 20) for _ in range(80)]
    time.sleep(1.2)
    return held
def train_step():
    return load_batch()
def train():
    return train_step()
train()
'''


def test_python_frames_at_the_peak(tmp_path):
    """Debian's CPython 3.11: the stack at the peak holds the script's functions and lines,
    in place of the interpreter's _PyEval_EvalFrameDefault."""
    script = tmp_path / "train.py"
    script.write_text(PY_CHAIN)
    lines = {fn: n for n, l in enumerate(PY_CHAIN.splitlines(), 1)
             for fn in ("time.sleep(1.2)", "return load_batch()", "return train_step()",
                        "train()") if l.strip() == fn}
    records = record(tmp_path, ["/usr/bin/python3", script],
                     opts=["--stacks", "--stacks-gap", "0.3"])
    pid = header_of(records)["pid"]
    peak = [s for s in main_stacks(records, pid) if s["why"] == "peak"
            and any(f.get("fn") == "load_batch" for f in s["frames"])]
    assert peak, f"expected a peak capture in load_batch: {[fns(s) for s in stacks(records)]}"
    last = peak[-1]
    py = [(f["fn"], f["line"]) for f in last["frames"] if f["kind"] == "python"]
    assert py == [("load_batch", lines["time.sleep(1.2)"]),
                  ("train_step", lines["return load_batch()"]),
                  ("train", lines["return train_step()"]),
                  ("<module>", lines["train()"])], f"expected the script's frames: {py}"
    assert all(f["file"] == str(script) for f in last["frames"] if f["kind"] == "python")
    assert "_PyEval_EvalFrameDefault" not in fns(last), "expected the eval frames replaced"
    assert "Py_BytesMain" in fns(last), "expected the native frames around them"


def test_python_frames_after_an_exec(tmp_path):
    """A process first captured as a shell, then exec'ing python: its new program's frames
    (the session of its old image is not kept: not its maps, not its symbols)."""
    script = tmp_path / "train.py"
    script.write_text(PY_CHAIN)
    records = record(tmp_path, ["/bin/sh", "-c", f"sleep 0.3; exec /usr/bin/python3 {script}"],
                     opts=["--stacks=every=0.25"])
    pid = header_of(records)["pid"]
    mine = main_stacks(records, pid)
    assert any(s["frames"] and "python3" not in str(fns(s)) for s in mine[:1]), (
        "expected a capture of the shell first")
    assert any(f.get("fn") == "load_batch" and f["kind"] == "python"
               for s in mine for f in s["frames"]), (
        f"expected load_batch's frame after the exec: {[fns(s) for s in mine]}")


def test_a_process_that_cannot_stop_keeps_its_exit_code(tmp_path):
    """A vfork parent waits in the kernel until its child exits (200 ms here): it cannot stop
    for a capture, stays seized until it can, and its stop is never taken for its end (which
    lost the exit code: memline exited 0); later captures do not call it ptrace-refused."""
    log = tmp_path / "s.jsonl"
    p = subprocess.run([str(MEMLINE), "run", "-q", "-o", str(log), "-i", "0.02",
                        "--stacks=every=0.05", "--stacks-budget", "100", "--", str(CALLCHAIN),
                        "vfork", "5", "200"], capture_output=True, timeout=TIMEOUT)
    assert p.returncode == 3, f"expected the job's exit code 3, got {p.returncode}: {p.stderr}"
    records = read_log(log, allow_cut_last=False)
    assert end_of(records)["exit_code"] == 3, end_of(records)
    pid = header_of(records)["pid"]
    errors = [s.get("error") or "" for s in stacks(records) if s["pid"] == pid]
    assert any("did not stop" in e for e in errors), f"expected a capture it slept through: {errors}"
    assert not any("ptrace" in e for e in errors), errors
    assert not [w for w in of_type(records, "warning") if w.get("code") == "stacks"]


def test_the_budget_skips_and_counts(tmp_path):
    """Captures every 10 ms within 100 % of a CPU are all taken; within 0.1 % (10 ms of credit
    saved up, 1 ms more a second) the first is (a first capture is let through while there is
    credit), and most of the others are skipped and counted."""
    def run(budget):
        records = record(tmp_path, [CALLCHAIN, 20, 10, 1500, 3],
                         opts=["--stacks=every=0.01", "--stacks-budget", str(budget)])
        return end_of(records)
    full, small = run(100), run(0.1)
    assert full["stacks"]["skipped"] == 0 and full["stacks"]["captures"] >= 20, full["stacks"]
    assert small["stacks"]["skipped"] > 0, small["stacks"]
    assert 1 <= small["stacks"]["captures"] and \
        small["stacks"]["captures"] * 2 < full["stacks"]["captures"], (full, small)


PYSTACK = REPO / "tests" / "workload" / "pystack.py"


def marker_line(marker):
    lines = [n for n, l in enumerate(PYSTACK.read_text().splitlines(), 1)
             if l.rstrip().endswith(f"# L:{marker}")]
    assert len(lines) == 1, f"expected one line marked {marker} in {PYSTACK}: {lines}"
    return lines[0]


def test_python_threads_on_demand(tmp_path):
    """A CPython with two threads of its own, each holding its memory in a known chain, captured
    on SIGUSR1 while all three wait where the test knows: every thread's Python frames and
    lines, found by its native thread id."""
    log = tmp_path / "s.jsonl"
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    p = subprocess.Popen([str(MEMLINE), "run", "-q", "-o", str(log), "--stacks=signal", "--",
                          "/usr/bin/python3", str(PYSTACK), "--mib", "16", "--threads", "2",
                          "--ready", str(ready_w), "--go", str(go_r)],
                         pass_fds=(ready_w, go_r), stderr=subprocess.PIPE)
    os.close(ready_w)
    os.close(go_r)
    try:
        tids, buf = set(), b""
        deadline = time.monotonic() + 30
        while len(tids) < 3 and time.monotonic() < deadline:
            chunk = os.read(ready_r, 64)
            assert chunk, "expected pystack to tell where its threads are"
            buf += chunk
            *done, buf = buf.split(b"\n")
            tids |= {int(x) for x in done if x}
        assert len(tids) == 3, tids
        pid = header_of(read_log(log))["pid"]

        def in_read(tid):  # blocked in read(2) on the go pipe: syscall 0 on x86-64
            try:
                return Path(f"/proc/{pid}/task/{tid}/syscall").read_text().split()[0] == "0"
            except OSError:
                return False
        while not all(in_read(t) for t in tids) and time.monotonic() < deadline:
            time.sleep(0.01)
        p.send_signal(signal.SIGUSR1)
        got = []
        while time.monotonic() < deadline and len(got) < 3:
            time.sleep(0.05)
            got = [s for s in stacks(read_log(log)) if s["why"] == "signal"]
    finally:
        os.write(go_w, b"xxx")
        os.close(go_w)
        os.close(ready_r)
        p.wait(timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr.read()
    by_tid = {s["tid"]: [(f["fn"], f["line"]) for f in s["frames"] if f["kind"] == "python"]
              for s in got}
    assert set(by_tid) == tids, f"expected the three threads' stacks: {by_tid.keys()} {tids}"
    main = header_of(read_log(log))["pid"]
    wait = [n for n, l in enumerate(PYSTACK.read_text().splitlines(), 1)
            if "os.read(ARGS.go, 1)" in l]
    assert len(wait) == 1, wait
    assert by_tid[main] == [("wait_here", wait[0]), ("inner", marker_line("inner")),
                            ("middle", marker_line("middle")), ("outer", marker_line("outer")),
                            ("main", marker_line("main")), ("<module>", by_tid[main][-1][1])], (
        by_tid[main])
    for tid in tids - {main}:
        assert by_tid[tid][:3] == [("wait_here", wait[0]),
                                   ("thread_inner", marker_line("thread_inner")),
                                   ("thread_outer", marker_line("thread_outer"))], by_tid[tid]


@pytest.mark.parametrize("opts,says", [
    (["--stacks=peaks,sometimes"], "--stacks takes a comma list of peaks, events, every=SECONDS"),
    (["--stacks=every=soon"], "--stacks=every"),
    (["--stacks", "--stacks-budget", "250"], "--stacks-budget takes a percentage from 0 to 100"),
    (["--stacks", "--stacks-threshold", "x"], "--stacks-threshold takes a percentage"),
    (["--stacks", "--stacks-gap", "-1"], "--stacks-gap"),
])
def test_bad_stacks_options(tmp_path, opts, says):
    """A bad --stacks value: exit 64, one line naming the option, nothing written."""
    log = tmp_path / "x.jsonl"
    p = subprocess.run([str(MEMLINE), "run", "-o", str(log), *opts, "--", "true"],
                       capture_output=True, timeout=TIMEOUT)
    err = p.stderr.decode()
    assert p.returncode == 64 and says in err and err.count("\n") == 1, (p.returncode, err)
    assert not log.exists() and not list(tmp_path.iterdir())
