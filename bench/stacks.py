#!/usr/bin/python3
"""Part j of `make bench`: what a stack capture costs (docs/stacks.md).

    bench/stacks.py [--quick] BUILD_DIR

For a 4-thread C process (bench/stall.c) and a 4-thread CPython process (bench/stall.py): the
stall the target sees per capture (the longest gap its own spinning ticker thread saw between
two reads of the clock, the same measure for every tool) and the capturing tool's CPU time,
for memline (`attach --stacks=signal`, a capture per SIGUSR1: memline's CPU from
/proc/PID/schedstat), `eu-stack -p` and `gdb -batch -ex 'thread apply all bt'` (their CPU from
getrusage of children), first capture and repeated (median), side by side in one run. Then
the wall time of a job (build/callchain growing to 400 MiB) under `memline run` with and
without `--stacks` at its defaults, alternating runs. Prints a markdown table.
"""
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def schedstat_ns(pid):
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0])


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class Target:
    def __init__(self, argv):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  start_new_session=True)
        time.sleep(0.5)  # its threads started and waiting

    def ask(self, cmd):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def reset(self):
        assert self.ask("r") == "ok"

    def gap_us(self):
        return int(self.ask("p"))

    def close(self):
        self.p.kill()
        self.p.wait()


def stack_captures(log):
    n = 0
    try:
        with open(log) as f:
            for line in f:
                if '"type":"stack"' in line:
                    n = max(n, int(line.split('"capture":', 1)[1].split(",", 1)[0]))
    except OSError:
        pass
    return n


def memline_rounds(build, target, n, tmp):
    log = os.path.join(tmp, "stall.jsonl")
    if os.path.exists(log):
        os.unlink(log)
    m = subprocess.Popen([os.path.join(build, "memline"), "attach", "-q", "-i", "60",
                          "--stacks=signal", "-o", log,
                          str(target.p.pid)], stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 10
        while not os.path.exists(log) and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        out = []
        for k in range(n):
            target.reset()
            c0 = schedstat_ns(m.pid)
            m.send_signal(signal.SIGUSR1)
            deadline = time.time() + 10
            while stack_captures(log) < k + 1 and time.time() < deadline:
                time.sleep(0.02)
            c1 = schedstat_ns(m.pid)
            out.append((target.gap_us(), (c1 - c0) / 1e3))
        return out
    finally:
        m.send_signal(signal.SIGINT)
        m.wait(timeout=30)


def tool_rounds(argv_of, target, n):
    out = []
    for _ in range(n):
        target.reset()
        c0 = children_cpu()
        subprocess.run(argv_of(target.p.pid), stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=120)
        out.append((target.gap_us(), (children_cpu() - c0) * 1e6))
    return out


def summary(rounds):
    first, rest = rounds[0], rounds[1:] or rounds
    return (first[0], first[1], statistics.median(r[0] for r in rest),
            statistics.median(r[1] for r in rest))


def overhead(build, rounds):
    ml = os.path.join(build, "memline")
    job = [os.path.join(build, "callchain"), "400", "10", "0"]
    times = {"plain": [], "stacks": []}
    for _ in range(rounds):
        for name, opts in (("plain", []), ("stacks", ["--stacks"])):
            t0 = time.monotonic()
            subprocess.run([ml, "run", "-q", "-o",
                            os.path.join("/tmp", f"bench-stacks-{name}.jsonl"), *opts, "--",
                            *job], check=True, stderr=subprocess.DEVNULL)
            times[name].append(time.monotonic() - t0)
    return statistics.median(times["plain"]), statistics.median(times["stacks"])


def main(argv):
    quick = "--quick" in argv
    args = [a for a in argv[1:] if a != "--quick"]
    build = os.path.abspath(args[0])
    tmp = os.path.join(build, "bench", "tmp")
    os.makedirs(tmp, exist_ok=True)
    stall_c = os.path.join(build, "bench", "stall")
    subprocess.run(["cc", "-O2", "-o", stall_c, os.path.join(REPO, "bench", "stall.c"),
                    "-pthread"], check=True)
    n = 4 if quick else 12
    ng = 2 if quick else 4
    rows = []
    for name, argv_t in (("C, 4 threads", [stall_c]),
                         ("Python 3.11, 4 threads", ["/usr/bin/python3",
                                                     os.path.join(REPO, "bench", "stall.py")])):
        t = Target(argv_t)
        try:
            base = []
            for _ in range(5):
                t.reset()
                time.sleep(0.1)
                base.append(t.gap_us())
            rows.append((name, "none (the ticker's own gaps)", None, None,
                         statistics.median(base), None))
            rows.append((name, "memline --stacks",
                         *summary(memline_rounds(build, t, n, tmp))))
            if shutil.which("eu-stack"):
                rows.append((name, "eu-stack -p",
                             *summary(tool_rounds(lambda p: ["eu-stack", "-p", str(p)], t, n))))
            if shutil.which("gdb"):
                rows.append((name, "gdb thread apply all bt", *summary(tool_rounds(
                    lambda p: ["gdb", "-nx", "-batch", "-p", str(p), "-ex",
                               "thread apply all bt"], t, ng))))
        finally:
            t.close()
    plain, stacks = overhead(build, 3 if quick else 7)
    print("| target | tool | stall, first (µs) | CPU, first (µs) | stall, repeated (µs) | "
          "CPU, repeated (µs) |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for r in rows:
        cells = ["" if v is None else f"{v:.0f}" for v in r[2:]]
        print(f"| {r[0]} | {r[1]} | " + " | ".join(cells) + " |")
    print()
    print(f"job wall time (callchain to 400 MiB, median of alternating runs): memline run "
          f"{plain:.3f} s, with --stacks {stacks:.3f} s: ratio {stacks / plain:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
