#!/usr/bin/python3
"""Part l of `make bench`: what `memline view --follow` costs following the logs of a job as
they grow (bench/README.md, "l) Following a job").

    bench/follow.py [--quick] BUILD_DIR

A generator appends sample lines to 64 logs at 1 Hz each (its writes spread over the second,
as 64 ranks' recorders' would be), each log a copy of a real recording's header, processes and
sample (a rank's Python process recorded once by `memline run -i 1`), locked as memline's writer
locks its log. `memline view --follow DIR` runs in a 120x40 tmux pane; its CPU time (every
thread's, /proc/PID/task/*/schedstat) over a window of following, per second, beside the same for one such
log, followed by the single log's dashboard (`view --follow LOG`) and by the job's (`view
--follow DIR` of a directory holding it), all in one run. Then the 64 logs again, each holding
an hour of samples at 1 Hz already (the job is built from every sample of every log). Prints
one markdown table.

Run by bench/run (letter l) with its process keeper; run alone, it borrows that keeper.
"""
import fcntl
import importlib.machinery
import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = "/usr/bin/python3"
LOGS = 64
WINDOW = 20  # seconds of following measured
WARMUP = 3  # seconds to read what the logs hold and draw, before the window
HOUR = 3600
TARGET = 0.03  # of one core, as the single log's dashboard (part f)
LIMIT = 120

# The rank the template is recorded from: 50 MiB held, a second of work, then asleep.
RANK = """
import time
b = bytearray(50 << 20)
for i in range(0, len(b), 4096):
    b[i] = 1
t = time.time()
while time.time() - t < 1:
    pass
time.sleep(3)
"""


def note(msg):
    print("bench: follow: " + msg, file=sys.stderr, flush=True)


class BenchError(RuntimeError):
    pass


def template(procs, memline, tmp):
    """A real rank's log: its header, its proc records and its last sample (as dicts)."""
    log = os.path.join(tmp, "follow-template.jsonl")
    if os.path.exists(log):
        os.unlink(log)
    code, _ = procs.run([memline, "run", "-q", "-i", "1", "-o", log, "--", PYTHON, "-c", RANK],
                        limit=LIMIT)
    if code != 0:
        raise BenchError("recording the template rank failed (exit %d)" % code)
    with open(log) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    header = recs[0]
    procs_ = [r for r in recs if r.get("type") in ("proc", "exec")]
    samples = [r for r in recs if r.get("type") == "sample" and r.get("p")]
    if header.get("type") != "header" or not samples:
        raise BenchError("the template log has no header or no sample")
    return header, procs_, samples[-1]


class Logs:
    """n logs in d growing at 1 Hz each, copies of the template; history samples first."""

    def __init__(self, d, n, tmpl, history):
        header, self.procs, self.sample = tmpl
        self.tree_fields = header.get("tree_fields", [])
        self.d, self.n = d, n
        os.makedirs(d, exist_ok=True)
        now = time.time()
        self.start = now - history
        self.fds, self.level = [], []
        rnd = random.Random(n * 7919 + history)
        for i in range(n):
            h = dict(header, start_unix=self.start,
                     start=time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(self.start)),
                     job=dict(header.get("job") or {}, OMPI_COMM_WORLD_RANK=str(i),
                              OMPI_COMM_WORLD_SIZE=str(n)))
            if "clock" in h:
                h["clock"] = dict(h["clock"], wall_us=int(self.start * 1e6))
            fd = os.open(os.path.join(d, "rank.%d.jsonl" % i),
                         os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)  # as memline's writer: the log is being written
            lines = [json.dumps(h)] + [json.dumps(p) for p in self.procs]
            self.fds.append(fd)
            self.level.append(0.8 + 0.4 * rnd.random())
            for t in range(1, int(history) + 1):
                lines.append(self.line(i, float(t)))
                if len(lines) >= 4096:
                    os.write(fd, ("\n".join(lines) + "\n").encode())
                    lines = []
            if lines:
                os.write(fd, ("\n".join(lines) + "\n").encode())
        self.rnd = rnd

    def line(self, i, t):
        """The template's sample at time t, its memory moved a little (a random walk)."""
        self.level[i] *= 1 + (random.random() - 0.5) * 0.02
        s = dict(self.sample, t=round(t, 3))
        tree = list(s.get("tree") or [])
        for name in ("rss", "anon", "peak", "job", "job_peak", "pss"):
            if name in self.tree_fields:
                k = self.tree_fields.index(name)
                if k < len(tree) and isinstance(tree[k], int) and tree[k] > 0:
                    tree[k] = int(tree[k] * self.level[i])
        s["tree"] = tree
        return json.dumps(s, separators=(",", ":"))

    def grow(self, stop):
        """Until stop: a sample a second in each log, the logs' writes spread over it."""
        k = 0
        while not stop.is_set():
            i = k % self.n
            t = time.time() - self.start
            os.write(self.fds[i], (self.line(i, t) + "\n").encode())
            k += 1
            stop.wait(1.0 / self.n)

    def close(self):
        for fd in self.fds:
            os.close(fd)


def cpu_ns(pid):
    """CPU time of every thread of pid so far, ns (schedstat's sum_exec_runtime: finer than the
    clock ticks of /proc/PID/stat, which a dashboard that wakes rarely stays under)."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def cpu_share(pid, seconds):
    """The share of one core pid's threads use over the next seconds."""
    c0, t0 = cpu_ns(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_ns(pid) - c0) / 1e9 / (time.monotonic() - t0)


def follow_cpu(memline, target, window, env):
    """memline view --follow TARGET in a 120x40 tmux pane: its CPU share of one core over the
    window, and its peak RSS (VmHWM, KiB)."""
    sock = "memline-bench-follow-%d" % os.getpid()
    subprocess.run(["tmux", "-L", sock, "new-session", "-d", "-x", "120", "-y", "40",
                    "exec %s view --follow %s" % (memline, target)], check=True, env=env)
    try:
        time.sleep(WARMUP)
        pid = int(subprocess.run(["tmux", "-L", sock, "display-message", "-p", "#{pane_pid}"],
                                 capture_output=True, text=True, check=True).stdout)
        share = cpu_share(pid, window)
        hwm = None
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
        return share, hwm
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)


def measure(memline, tmp, tmpl, what, n, history, single, window, env):
    d = os.path.join(tmp, "follow-%d-%d" % (n, history))
    shutil.rmtree(d, ignore_errors=True)
    t0 = time.monotonic()
    logs = Logs(d, n, tmpl, history)
    made = time.monotonic() - t0
    stop = threading.Event()
    writer = threading.Thread(target=logs.grow, args=(stop,), daemon=True)
    writer.start()
    try:
        target = os.path.join(d, "rank.0.jsonl") if single else d
        share, hwm = follow_cpu(memline, target, window, env)
    finally:
        stop.set()
        writer.join(10)
        logs.close()
    size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    shutil.rmtree(d, ignore_errors=True)
    return {"what": what, "logs": n, "history": history, "share": share, "rss_kib": hwm,
            "bytes": size, "made_s": made}


def bench_follow(procs, build, tmp, quick):
    memline = os.path.join(build, "memline")
    if not shutil.which("tmux"):
        return "failed: tmux is missing\n", {"error": "tmux is missing"}
    window = 4 if quick else WINDOW
    hour = 300 if quick else HOUR
    env = dict(os.environ, LANG="C.UTF-8")
    tmpl = template(procs, memline, tmp)
    cases = [("1 log, the single log's dashboard (view --follow LOG)", 1, 0, True),
             ("1 log, the job's dashboard (view --follow DIR)", 1, 0, False),
             ("%d logs, the job's dashboard (view --follow DIR)" % LOGS, LOGS, 0, False),
             ("%d logs, each already holding %s of samples" % (
                 LOGS, "an hour" if hour == HOUR else "%d s" % hour), LOGS, hour, False)]
    rows = [measure(memline, tmp, tmpl, what, n, h, single, window, env)
            for what, n, h, single in cases]
    base = rows[1]["share"]
    out = ["| following (1 Hz a log, 120x40 pane) | logs | memline CPU, % of a core | "
           "per log | ÷ 1 log (job's dashboard) | memline peak RSS | target | met |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        ratio = "%.1f" % (r["share"] / base) if base > 0 else "n/a"
        target = "< %d%%" % round(TARGET * 100) if r["logs"] > 1 else "—"
        met = ("met" if r["share"] < TARGET else "NOT met") if r["logs"] > 1 else "—"
        out.append("| %s | %d | %.2f%% | %.3f%% | %s | %.1f MiB | %s | %s |" % (
            r["what"], r["logs"], r["share"] * 100, r["share"] * 100 / r["logs"], ratio,
            (r["rss_kib"] or 0) / 1024, target, met))
    sample = len(json.dumps(tmpl[2], separators=(",", ":")))
    out += ["", "Each share is memline's CPU time (every thread's, from /proc/PID/task/*/schedstat) over "
            "%d s of following, after %d s to read what the logs held and draw. The logs: "
            "copies of a real rank's log (%d bytes a sample line, %d processes), %d MB in all "
            "with the history." % (window, WARMUP, sample, len(tmpl[2]["p"]),
                                   rows[-1]["bytes"] // 1000000)]
    return "\n".join(out) + "\n", {"rows": rows, "window": window}


def main(argv):
    quick = "--quick" in argv
    args = [a for a in argv[1:] if a != "--quick"]
    if len(args) != 1:
        print("usage: bench/follow.py [--quick] BUILD_DIR", file=sys.stderr)
        return 64
    # bench/run's process keeper: sessions of their own, killed at their limit or on the way out.
    loader = importlib.machinery.SourceFileLoader("bench_run", os.path.join(REPO, "bench", "run"))
    run = importlib.util.module_from_spec(importlib.util.spec_from_loader("bench_run", loader))
    loader.exec_module(run)
    return run.standalone(bench_follow, os.path.abspath(args[0]), quick)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
