"""The terminal dashboard: `memline view --follow LOG` in a tmux pane (a private server, a fixed
size) while `memline run --capture-output` records a process with a distinctive name that marks
an event and writes a line. The pane is read with capture-pane and polled until what is
expected shows, with a generous deadline; nothing waits a fixed time or asserts on timing.
Also: the command's errors, one line each with cli.h's exit codes, a `run --live` whose
terminal goes away (its CPU use over a window is bounded, read from /proc/PID/stat), and the
thread table (`t`, `n`) of a real Python program's named threads and of a --heap log."""

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import (MEMLINE, POLL_TIMEOUT, REPO, contains, read_log, read_pidfile,
                      threads_log, wait_for_records, wait_until)

PROC = "zzviewproc"  # the recorded program's name: a copy of sleep
LABEL = "view-event-label"
OUTPUT = "view-output-line"


def sane(lines, cols, rows):
    """The frame drawn at cols x rows once: one title bar ending in the status at the right
    edge, one table header, no line wider than the pane, the key line or the ending last."""
    text = "\n".join(lines)
    if len(lines) < rows or any(len(line) > cols for line in lines):
        return False
    title = lines[0].rstrip()
    return (title.startswith(" memline") and len(title) == cols - 1
            and text.count("elapsed") == 1 and text.count("PID COMMAND") == 1
            and text.count("EVENTS (") == 1 and "q quit" in lines[rows - 1])


def test_view_follows_a_recording(ml, tmp_path, tmux):
    log = tmp_path / "live.jsonl"
    prog = tmp_path / PROC
    shutil.copy("/bin/sleep", prog)
    pidfile = tmp_path / "pid"
    script = (f'echo {OUTPUT}; echo {LABEL} >> "$MEMLINE_EVENTS"; echo $$ > {pidfile}; '
              f'exec {prog} 600')
    rec = ml.popen("run", "-q", "-o", log, "--capture-output", "--", "sh", "-c", script)
    wait_for_records(log, "header")
    pid = read_pidfile(pidfile)
    tmux.start(f"env LANG=C.UTF-8 {MEMLINE} view --follow {log}; echo VIEW-EXITED $?; sleep 600")

    tmux.wait_for("the process, the event and the output line",
                  contains(PROC, LABEL, OUTPUT, "running"))
    tmux.wait_for("a sane 80x24 frame", lambda lines: sane(lines, 80, 24))

    tmux("resize-window", "-t", "t", "-x", "100", "-y", "30")
    assert tmux.size() == (100, 30)
    tmux.wait_for("the frame redrawn at 100x30", lambda lines: sane(lines, 100, 30))
    tmux("resize-window", "-t", "t", "-x", "60", "-y", "20")
    tmux.wait_for("the frame redrawn at 60x20", lambda lines: sane(lines, 60, 20) and
                  contains(PROC)(lines))

    tmux.keys("?")
    tmux.wait_for("the help overlay", contains("dashboard keys", "quit the view"))
    tmux.keys("x")
    tmux.wait_for("the help closed", lambda lines: not contains("dashboard keys")(lines))

    tmux.keys("-")
    tmux.wait_for("a 10 s window (the run is shorter than 1 min)", contains("window 10.0 s"))
    tmux.keys("p")
    tmux.wait_for("the picture paused", contains("PAUSED"))
    tmux.keys("p")
    tmux.wait_for("the picture running again", lambda lines: not contains("PAUSED")(lines))

    # The run ends: the dashboard says how, in the bottom line, and stays until q.
    os.kill(pid, signal.SIGKILL)
    ml.finish(rec)
    tmux.wait_for("how the run ended", contains("killed: by SIGKILL"))
    tmux.keys("q")
    lines = tmux.wait_for("the view to quit", contains("VIEW-EXITED 0"))
    assert not contains("PID COMMAND")(lines), "expected the terminal restored after q"


def test_view_browses_a_finished_log(ml, tmp_path, tmux):
    log = tmp_path / "done.jsonl"
    r = ml.record(["sh", "-c", f'echo {LABEL} >> "$MEMLINE_EVENTS"; exit 3'], report=False)
    log = r.log
    tmux.start(f"env LANG=C.UTF-8 {MEMLINE} view {log}; echo VIEW-EXITED $?; sleep 600")
    tmux.wait_for("the failed run", contains(LABEL, "failed: exit code 3"))
    # a run shorter than every window: '-' gives the shortest, '+' the whole run again
    tmux.keys("-")
    tmux.wait_for("the window stepped down", contains("window 10.0 s"))
    tmux.keys("+")
    tmux.wait_for("the window stepped up", contains("window whole run"))
    tmux.keys("q")
    tmux.wait_for("the view to quit", contains("VIEW-EXITED 0"))


def synthetic_log(path, rss_kib, busy="zzbusyproc"):
    """A finished 12.1 s run of one process: RSS rss_kib, busy on one thread (its CPU time in
    10 ms ticks), sampled every 0.5 s and then every 2 ms over its last 0.1 s, as after events;
    its last two samples one tick apart."""
    fields = ["pid", "rss", "anon", "file", "shmem", "peak", "vms", "swap", "pss", "utime",
              "stime", "minflt", "majflt", "threads", "rchar", "wchar", "read_bytes",
              "write_bytes", "state"]
    recs = [{"type": "header", "format": 1, "memline": "0.1.0", "mode": "run", "host": "h",
             "start": "2026-01-01T00:00:00.000Z", "start_unix": 1767225600.0,
             "command": [busy], "pid": 100, "pids": [100], "cwd": "/", "job": {},
             "page_size": 4096, "clk_tck": 100, "mem_total": 16000000, "kernel": "6.1",
             "interval": {"fixed": None, "min": 0.01, "max": 5}, "peak_reset": True,
             "pss": False, "fields": fields,
             "tree_fields": ["nproc", "rss", "anon", "file", "shmem", "peak", "vms", "swap",
                             "pss", "utime", "stime"]},
            {"type": "proc", "t": 0.0, "pid": 100, "ppid": 1, "start": 0.0, "comm": busy,
             "argv": [busy]}]
    times = [k * 0.5 for k in range(1, 24)] + [12.0 + k * 0.002 for k in range(1, 51)]
    for t in times:
        cpu = int(t * 100 + 1e-9) * 10
        p = [100, rss_kib, rss_kib, 0, 0, rss_kib, rss_kib, 0, None, cpu, 0, 0, 0, 1, 0, 0, 0,
             0, "R"]
        recs.append({"type": "sample", "t": round(t, 3), "avail": 1000000,
                     "tree": [1, rss_kib, 0, 0, 0, None, 0, 0, None, 0, 0], "p": [p]})
    recs.append({"type": "end", "t": 12.1, "status": "completed", "exit_code": 0,
                 "signal": None, "core": False, "oom_killed": [], "alive": [],
                 "samples": len(times), "self_utime": 1, "self_stime": 1, "events": 0})
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


def test_view_window_scale_and_cpu(tmp_path, tmux):
    """A 12 s run: '-' from the whole run goes to the 10 s window (not 1 h); a scale of
    1000 MiB is labelled so that it fits its column; and the CPU% of a busy single-threaded
    process whose last two samples are 2 ms and one 10 ms tick apart reads 100 %, not 500 %."""
    log = synthetic_log(tmp_path / "synth.jsonl", 880 * 1024)
    tmux.start(f"env LANG=C.UTF-8 {MEMLINE} view {log}; echo VIEW-EXITED $?; sleep 600")
    lines = tmux.wait_for("the run", contains("zzbusyproc", "completed"))
    text = "\n".join(lines)
    assert "1000 MiB" in text and "1000.0 Mi" not in text, text
    assert "500 MiB" in text, text
    row = [line for line in lines if "zzbusyproc" in line and "R" in line.split()]
    assert row, text
    cpu = float(row[0].split()[-2])
    assert cpu == 100.0, f"expected 100.0 CPU% for one busy thread, got {cpu}: {row[0]!r}"
    tmux.keys("-")
    tmux.wait_for("the 10 s window", contains("window 10.0 s"))
    tmux.keys("+")
    tmux.wait_for("the whole run again", contains("window whole run"))
    tmux.keys("q")
    tmux.wait_for("the view to quit", contains("VIEW-EXITED 0"))


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "logs"


def test_view_leads_with_the_job_memory(tmux):
    """A cgroup log whose job peaks at 511 MiB while its RSS sum reached 2.5 GiB: the summary
    row says the job's peak and its method, the RSS sum after it; the chart's first line is
    the job's."""
    tmux.start(f"env LANG=C.UTF-8 {MEMLINE} view {FIXTURES / 'cgroup.jsonl'}; "
               "echo VIEW-EXITED $?; sleep 600", cols=100, rows=30)
    lines = tmux.wait_for("the run", contains("completed: exit code 0"))
    summary = lines[1]
    assert summary.startswith("memory 0 B  peak 511.0 MiB at 3.2 s (cgroup)  0/5 procs"), lines
    assert "RSS sum 2.5 GiB" in summary, summary
    legend = [line for line in lines if "━━" in line]
    assert legend and legend[0].split("━━")[1].strip() == "job (cgroup)", legend
    tmux.keys("q")
    tmux.wait_for("the view to quit", contains("VIEW-EXITED 0"))


def test_view_shows_processes_seen_only_at_exit(tmux):
    """Processes the kernel told of only at their exit have rows: their peak and exit status;
    no chart line (no sample has them)."""
    tmux.start(f"env LANG=C.UTF-8 {MEMLINE} view {FIXTURES / 'atexit.jsonl'}; "
               "echo VIEW-EXITED $?; sleep 600")
    lines = tmux.wait_for("the run", contains("failed: exit code 2"))
    assert lines[1].startswith("memory 2.0 MiB  peak 52.9 MiB at 500 ms (RSS sum)"), lines
    assert "RSS sum" not in lines[1].split("(RSS sum)", 1)[1], lines[1]
    rows = {line.split()[0]: line for line in lines if line[:7].strip().isdigit()}
    assert "[cc1] (seen only at its exit)" in rows["402"], rows
    assert rows["402"].rstrip().endswith("exit 0") and "40.0 MiB" in rows["402"], rows["402"]
    assert rows["403"].rstrip().endswith("exit 1") and "8.0 MiB" in rows["403"], rows["403"]
    legend = [line for line in lines if "━━" in line][0]
    assert "cc1" not in legend and "job (RSS sum)" in legend, legend
    tmux.keys("q")
    tmux.wait_for("the view to quit", contains("VIEW-EXITED 0"))


def test_view_errors(ml, tmp_path):
    p = ml.cmd("view", tmp_path / "missing.jsonl")
    assert p.returncode == 66 and "missing.jsonl" in p.stderr and p.stderr.count("\n") == 1, p
    bad = tmp_path / "bad.jsonl"
    bad.write_text("this is not a memline log\n")
    p = ml.cmd("view", bad)
    assert p.returncode == 65 and p.stderr.count("\n") == 1, p
    p = ml.cmd("view", "a", "b")  # several logs are a job (test_view_job.py): each must exist
    assert p.returncode == 66 and "'a'" in p.stderr and p.stderr.count("\n") == 1, p
    p = ml.cmd("view", "--bogus")
    assert p.returncode == 64 and "--bogus" in p.stderr, p
    r = ml.record(["true"], report=False)
    p = ml.cmd("view", r.log, stdin=subprocess.DEVNULL)
    assert p.returncode == 64 and "terminal" in p.stderr and p.stderr.count("\n") == 1, p
    p = ml.cmd("view", "--help")
    assert p.returncode == 0 and "--follow" in p.stdout, p


def test_run_live(tmp_path, tmux):
    """`memline run --live`: the dashboard while the command runs, its output in the pane (not
    on the screen), q leaves the dashboard while the recording goes on to the command's end,
    whose exit status memline keeps."""
    log = tmp_path / "run-live.jsonl"
    prog = tmp_path / PROC
    shutil.copy("/bin/sleep", prog)
    go = tmp_path / "go"
    script = (f'echo {OUTPUT}; echo {LABEL} >> "$MEMLINE_EVENTS"; '
              f'while [ ! -e {go} ]; do {prog} 0.1; done; read x; echo "stdin=[$x]"; exit 5')
    out = tmp_path / "after"
    tmux.start(f"env LANG=C.UTF-8 {MEMLINE} run --live -o {log} -- sh -c '{script}' "
               f"2>{out}; echo RUN-EXITED $?; sleep 600")
    lines = tmux.wait_for("the process, the event and the output line in the dashboard",
                          contains(PROC, LABEL, OUTPUT, "running"))
    assert not any(line.startswith(OUTPUT) for line in lines), \
        "expected the command's output in the pane, not written over the dashboard"
    tmux.wait_for("a sane 80x24 frame", lambda lines: sane(lines, 80, 24))
    tmux("resize-window", "-t", "t", "-x", "100", "-y", "30")
    tmux.wait_for("the frame redrawn at 100x30", lambda lines: sane(lines, 100, 30))

    # q leaves the dashboard; the recording goes on until the command ends.
    tmux.keys("q")
    tmux.wait_for("the dashboard closed", lambda lines: not contains("PID COMMAND")(lines))
    wait_until(lambda: "dashboard closed; still recording" in out.read_text(),
               "memline to say it still records")
    go.touch()
    tmux.wait_for("memline to exit with the command's status", contains("RUN-EXITED 5"))
    records = [json.loads(line) for line in log.read_text().splitlines()]
    end = records[-1]
    assert end["type"] == "end" and end["status"] == "failed" and end["exit_code"] == 5, end
    texts = [r["text"] for r in records if r["type"] == "output"]
    assert OUTPUT in texts and "stdin=[]" in texts, \
        f"expected the output lines in the log, and /dev/null as the input: {texts}"
    assert any(r["type"] == "event" and r["label"] == LABEL for r in records)


def test_run_live_waits_at_the_end(tmp_path, tmux):
    """The run ends while the dashboard shows: it says how and waits for q; memline then exits
    with the command's status."""
    log = tmp_path / "end.jsonl"
    tmux.start(f"env LANG=C.UTF-8 {MEMLINE} run --live -o {log} -- sh -c 'exit 3'; "
               f"echo RUN-EXITED $?; sleep 600")
    tmux.wait_for("how the run ended", contains("failed: exit code 3"))
    tmux.keys("q")
    tmux.wait_for("memline to exit with the command's status", contains("RUN-EXITED 3"))


def cpu_ticks(pid):
    """utime + stime of a process, in clock ticks (/proc/PID/stat fields 14 and 15)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def gone(pid):
    """The process has exited (a zombie nobody reaped yet counts as exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat[stat.rindex(")") + 2] in "ZX"


def test_run_live_on_a_lost_terminal(tmp_path, tmux):
    """The terminal of `run --live` goes away (the tmux server killed, as when an ssh
    connection drops): the dashboard stops without spinning (memline uses fewer than 20 clock
    ticks of CPU in 2 s: a busy loop uses 200), the job (which ignores SIGHUP, like one under
    nohup) goes on, and memline exits when it ends, with the log complete."""
    log = tmp_path / "lost.jsonl"
    prog = tmp_path / PROC
    shutil.copy("/bin/sleep", prog)
    go, mlpid, err = tmp_path / "go", tmp_path / "memline.pid", tmp_path / "err"
    script = (f'trap "" HUP; echo $PPID > {mlpid}; echo {OUTPUT}; '
              f'while [ ! -e {go} ]; do {prog} 0.1; done; exit 4')
    tmux.start(f"env LANG=C.UTF-8 {MEMLINE} run --live -o {log} -- sh -c '{script}' "
               f"2>{err}; echo RUN-EXITED $?; sleep 600")
    tmux.wait_for("the dashboard", contains(PROC, OUTPUT, "running"))
    pid = read_pidfile(mlpid)
    try:
        tmux.kill()
        before = cpu_ticks(pid)
        time.sleep(2)  # the window CPU use is measured over, not a wait for something
        used = cpu_ticks(pid) - before
        assert used < 20, f"expected memline idle without its terminal, it used {used} ticks in 2 s"
        wait_until(lambda: "the terminal went away; still recording" in err.read_text(),
                   "memline to say the terminal went away")
        assert not gone(pid), "expected memline to go on recording while the job runs"
        go.touch()
        wait_until(lambda: gone(pid), "memline to exit once the job ended")
    finally:
        go.touch()
        if not gone(pid):  # a failed test leaves no memline behind
            os.kill(pid, signal.SIGKILL)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    end = records[-1]
    assert end["type"] == "end" and end["exit_code"] == 4, end
    assert any(r["type"] == "output" and r["text"] == OUTPUT for r in records)


def test_run_live_needs_a_terminal(ml):
    p = ml.cmd("run", "--live", "--", "true", stdin=subprocess.DEVNULL)
    assert p.returncode == 64 and "--live draws on a terminal" in p.stderr, p
    assert p.stderr.count("\n") == 1, p


def test_view_shows_the_latest_stack(tmux):
    """A log with stack captures: the pane shows the latest capture (its error here), and the
    s key says that a view of a log cannot ask for stacks."""
    log = REPO / "tests" / "fixtures" / "logs" / "stacks.jsonl"
    tmux.start(f"env LANG=C.UTF-8 {MEMLINE} view {log}; echo VIEW-EXITED $?; sleep 600",
               cols=100, rows=30)
    tmux.wait_for("the latest capture and its error",
                  contains("STACK #4 at 2.6 s (signal), pid 300",
                           "the process exited during the capture"))
    tmux.keys("s")
    tmux.wait_for("the s key saying why it cannot",
                  contains("s: this view follows a log; only memline run --live asks"))
    tmux.keys("q")
    tmux.wait_for("the view to quit", contains("VIEW-EXITED 0"))


def test_view_shows_frames_escaped(tmp_path, tmux):
    """The latest capture's frames, innermost first, recorded text escaped."""
    lines = (REPO / "tests" / "fixtures" / "logs" / "stacks.jsonl").read_text().splitlines()
    end = lines.pop()
    lines.append(json.dumps({"type": "stack", "t": 2.9, "capture": 5, "why": "event",
                             "label": "x", "pid": 300, "tid": 300, "frames": [5, 4, 2, 3]}))
    log = tmp_path / "stacks.jsonl"
    log.write_text("\n".join(lines + [end]) + "\n")
    tmux.start(f"env LANG=C.UTF-8 {MEMLINE} view {log}; echo VIEW-EXITED $?; sleep 600",
               cols=100, rows=30)
    screen = tmux.wait_for("the frames", contains("STACK #5 at 2.9 s (event), pid 300",
                                                  "evil\\x1b]0;pwned\\x07 (b>.so)",
                                                  "load_batch (train.py:88)"))
    at = [i for i, line in enumerate(screen) if "evil" in line][0]
    assert "_PyEval_EvalFrameDefault" in screen[at + 1], screen
    tmux.keys("q")
    tmux.wait_for("the view to quit", contains("VIEW-EXITED 0"))


def test_run_live_s_without_stacks(tmp_path, tmux):
    """In a recording's dashboard (run --live) without --stacks, s says there are none to take
    (and sends no signal: memline records on and exits with the command's status)."""
    log = tmp_path / "s.jsonl"
    go = tmp_path / "go"
    tmux.start(f"env LANG=C.UTF-8 {MEMLINE} run --live -o {log} -- sh -c "
               f"'while [ ! -e {go} ]; do sleep 0.1; done; exit 4'; echo RUN-EXITED $?; "
               "sleep 600")
    tmux.wait_for("the dashboard", contains("PID COMMAND", "running"))
    tmux.keys("s")
    tmux.wait_for("s saying the recording takes no stacks",
                  contains("s: this recording takes no stacks (record with --stacks)"))
    go.touch()
    tmux.wait_for("how the run ended", contains("failed: exit code 4"))
    tmux.keys("q")
    tmux.wait_for("memline to exit with the command's status", contains("RUN-EXITED 4"))


def test_run_live_s_takes_stacks_now(tmp_path, tmux):
    """run --live --stacks (peaks only): s asks memline for stacks of every process now; the
    capture is in the log (why signal) and the pane shows it."""
    log = tmp_path / "s.jsonl"
    go = tmp_path / "go"
    tmux.start(f"env LANG=C.UTF-8 {MEMLINE} run --live --stacks -o {log} -- sh -c "
               f"'while [ ! -e {go} ]; do sleep 0.1; done; exit 4'; echo RUN-EXITED $?; "
               "sleep 600", cols=100, rows=30)
    tmux.wait_for("the dashboard", contains("PID COMMAND", "running"))
    tmux.keys("s")
    tmux.wait_for("s saying the stacks were asked for", contains("s: stacks asked for"))
    tmux.wait_for("the pane with the capture", contains("(signal), pid"))
    go.touch()
    tmux.wait_for("how the run ended", contains("failed: exit code 4"))
    tmux.keys("q")
    tmux.wait_for("memline to exit with the command's status", contains("RUN-EXITED 4"))
    records = [json.loads(line) for line in log.read_text().splitlines()]
    sig = [r for r in records if r["type"] == "stack" and r["why"] == "signal"]
    assert sig and any(r["frames"] for r in sig), f"expected a signal capture with frames: {sig}"


THREADS_PROGRAM = r'''
import os, sys, threading, time
stop, pidfile = sys.argv[1], sys.argv[2]

def named(name):
    # the kernel's name of this thread (comm), as memline reads it
    with open(f"/proc/self/task/{threading.get_native_id()}/comm", "w") as f:
        f.write(name)

def busy():
    named("zzthread-a")
    while not os.path.exists(stop):
        sum(range(10000))
    time.sleep(600)

def idle(name):
    named(name)
    time.sleep(600)

threads = [threading.Thread(target=busy, daemon=True)]
threads += [threading.Thread(target=idle, args=(n,), daemon=True)
            for n in ("zzthread-b", "zzesc\x1b[7m")]
for t in threads:
    t.start()
with open(pidfile, "w") as f:
    f.write(str(os.getpid()))
time.sleep(600)
'''


def test_run_live_thread_table(tmp_path, tmux):
    """`t` shows the threads of the process the table leads with: a real Python program's three
    threads, named through /proc (one name with an escape sequence, shown escaped), each with its
    tid; the busy one's CPU% a number; `t` again brings the processes back."""
    if not shutil.which("python3"):
        pytest.skip("python3 is not installed")
    log = tmp_path / "threads.jsonl"
    prog = tmp_path / "threads.py"
    prog.write_text(THREADS_PROGRAM)
    stop, pidfile = tmp_path / "stop", tmp_path / "pid"
    tmux.start(f"env LANG=C.UTF-8 {MEMLINE} run --live -o {log} -- python3 {prog} {stop} "
               f"{pidfile}; echo RUN-EXITED $?; sleep 600", cols=100, rows=30)
    pid = read_pidfile(pidfile)
    tmux.wait_for("the program in the process table", contains("python3", "PID COMMAND"))
    tmux.keys("t")
    lines = tmux.wait_for("its threads' names", contains(
        f"THREADS OF {pid} python3", "zzthread-a", "zzthread-b", "zzesc\\x1b[7m"))
    text = "\n".join(lines)
    assert "\x1b" not in text and "PID COMMAND" not in text, text
    tids = {int(line.split()[0]) for line in lines
            if any(n in line for n in ("zzthread-a", "zzthread-b", "zzesc"))}
    task = {int(t) for t in os.listdir(f"/proc/{pid}/task")}
    assert len(tids) == 3 and tids <= task, f"expected the threads' tids {task}: {tids}"

    def busy_cpu(lines):
        row = [line for line in lines if "zzthread-a" in line]
        return row and row[0].split()[2] != "-" and float(row[0].split()[2]) > 5
    tmux.wait_for("the busy thread's CPU%", busy_cpu)
    stop.touch()
    assert "t threads" in lines[29], lines[29]  # the key line: the 30th of 30
    tmux.keys("t")
    tmux.wait_for("the process table again", contains("PID COMMAND", "python3"))
    tmux.keys("q")
    tmux.wait_for("the dashboard closed", lambda lines: not contains("PID COMMAND")(lines))
    os.kill(pid, signal.SIGTERM)
    tmux.wait_for("memline to exit", contains("RUN-EXITED"))
    names = {r.get("name") for r in read_log(log) if r["type"] == "thread"}
    assert {"zzthread-a", "zzthread-b", "zzesc\x1b[7m"} <= names, names


def test_view_thread_table_of_a_heap_log(tmp_path, tmux):
    """A --heap log: the thread table's live heap and its peak per thread (the loader's 42 MiB
    between samples), the ended one marked; `n` goes to the next process with threads (201, its
    heap not counted), whose hostile name is escaped; `n` again comes back."""
    log = threads_log(tmp_path / "threads.jsonl")
    tmux.start(f"env LANG=C.UTF-8 {MEMLINE} view {log}; echo VIEW-EXITED $?; sleep 600",
               cols=100, rows=30)
    tmux.wait_for("the run", contains("completed: exit code 0"))
    tmux.keys("t")
    lines = tmux.wait_for("process 200's threads", contains("THREADS OF 200 server (3)"))
    rows = {line.split()[0]: line.split()[1:] for line in lines
            if line.strip()[:3] in ("200", "210", "211")}
    assert rows["210"] == ["loader", "20.0", "30.0", "MiB", "42.0", "MiB"], rows
    assert rows["200"] == ["server", "0.2", "2.0", "MiB", "2.0", "MiB"], rows
    assert rows["211"] == ["worker\\u202e1", "-", "0", "B", "8.0", "MiB", "ended"], rows
    tmux.keys("n")
    lines = tmux.wait_for("process 201's threads", contains("THREADS OF 201 static-tool (2)"))
    text = "\n".join(lines)
    assert "tool<b>io</b>\\u202e<img" in text and "\u202e" not in text, text
    tmux.keys("n")
    tmux.wait_for("process 200's again", contains("THREADS OF 200 server (3)"))
    tmux.keys("q")
    tmux.wait_for("the view to quit", contains("VIEW-EXITED 0"))
