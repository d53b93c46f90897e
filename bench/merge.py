#!/usr/bin/python3
"""Part m of `make bench`: merging the logs of a large job (bench/README.md, "m) Merging").

    bench/merge.py [--quick] [--ranks N] BUILD_DIR

Generates the logs of a job of 1000 ranks (--ranks N; --quick: 100), 8 to a node, each an hour
of samples at 1 Hz of a rank's process, in the shape memline writes them (format 3: a header
with Slurm's variables, a proc record, 3600 samples, an exit and an end record; one rank
heavier than the others, one OOM-killed), then measures, side by side in one run:

  - reading them all (cat > /dev/null; from the page cache, as memline reads them), the floor;
  - `memline report DIR`, `memline report --json DIR`, `memline plot DIR -o job.png` and
    `-o job.html` (the page with every rank for the rank picker, and its size):
    their wall time and memline's peak memory (ru_maxrss from wait4).

The report must name the heavy rank and the OOM-killed one, and the JSON's numbers must match
what was generated; a row that does not is marked. Prints one markdown table.

Run by bench/run (letter m) with its process keeper; run alone, it borrows that keeper.
"""
import importlib.machinery
import importlib.util
import json
import os
import random
import shutil
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RANKS = 1000
PER_NODE = 8
SECONDS = 3600
HEAVY = [617]  # the rank that peaks highest (for N ranks: the same fraction of N)
OOM = [42]  # the rank the OOM killer killed, near the end
LIMIT = 600
TARGET_S = 30  # "in seconds, not minutes"


def header(rank, nodes, start):
    node = rank // PER_NODE
    return {
        "type": "header", "format": 3, "memline": "0.1.0", "mode": "run",
        "host": "node%03d" % node, "start": time.strftime(
            "%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(start)),
        "start_unix": start, "command": ["./solver", "--rank", str(rank)],
        "pid": 1000 + rank, "pids": [1000 + rank], "cwd": "/scratch/job",
        "job": {"SLURM_JOB_ID": "4242", "SLURM_PROCID": str(rank),
                "SLURM_LOCALID": str(rank % PER_NODE), "SLURM_NODEID": str(node),
                "SLURM_NTASKS": str(RANKS_N[0]), "SLURMD_NODENAME": "node%03d" % node},
        "page_size": 4096, "clk_tck": 100, "mem_total": 263000000, "kernel": "6.1.0",
        "interval": {"fixed": 1.0, "min": 1.0, "max": 1.0}, "peak_reset": True, "pss": False,
        "memory": {"method": "rss", "cgroup": None}, "events": ["poll", "wait4"],
        "fields": ["pid", "rss", "anon", "file", "shmem", "peak", "vms", "swap", "pss",
                   "utime", "stime", "minflt", "majflt", "threads", "rchar", "wchar",
                   "read_bytes", "write_bytes", "vm_of", "heap", "state"],
        "tree_fields": ["nproc", "rss", "anon", "file", "shmem", "peak", "vms", "swap", "pss",
                        "utime", "stime", "job", "job_peak", "cg_anon", "cg_file", "cg_shmem",
                        "cg_kernel", "cg_sock", "cg_swap", "heap"],
        "thread_fields": ["pid", "tid", "utime", "stime", "heap", "heap_peak", "alloc", "freed",
                          "nalloc", "nfree", "mmap"],
    }


RANKS_N = [RANKS]


def rank_peak_kib(rank):
    """The generated peak of a rank, KiB: 1.0 to 1.5 GiB, the heavy one 3 GiB."""
    if rank == HEAVY[0]:
        return 3 << 20
    return (1 << 20) + (rank * 7919 % 500) * 1024


def write_log(path, rank, start, seconds):
    pid = 1000 + rank
    peak = rank_peak_kib(rank)
    rnd = random.Random(rank)
    lines = [json.dumps(header(rank, 0, start), separators=(",", ":"))]
    lines.append('{"type":"proc","t":0.001,"pid":%d,"ppid":%d,"start":-0.001,"comm":"solver",'
                 '"argv":["./solver","--rank","%d"]}' % (pid, pid - 1, rank))
    end = seconds if rank != OOM[0] else seconds - 60
    at_peak = int(end * (0.3 + 0.6 * rnd.random()))
    cpu = 0
    for s in range(1, end + 1):
        # a ramp to 80%, the peak at one second, then back to 80%
        rss = peak if s == at_peak else int(peak * 0.8 * min(1.0, s / 300.0)) + rnd.randrange(512)
        cpu += 99
        u, st = cpu, cpu // 50
        lines.append(
            '{"type":"sample","t":%d.000,"avail":200000000,"tree":[1,%d,%d,%d,0,%d,%d,0,null,'
            '%d,%d,%d,%d,null,null,null,null,null,null,null],"p":[[%d,%d,%d,%d,0,%d,%d,0,null,'
            '%d,%d,%d,0,4,1000,2000,0,0,null,null,"R"]]}'
            % (s, rss, rss - 8000, 8000, rss, rss + 90000, u, st, rss, rss, pid, rss,
               rss - 8000, 8000, rss, rss + 90000, u, st, s * 10))
    if rank == OOM[0]:
        lines.append('{"type":"exit","pid":%d,"t":%d.100,"how":"killed","code":null,'
                     '"signal":9,"core":false,"oom":true,"peak":%d,"hwm":%d,"maxrss":%d,'
                     '"utime":%d,"stime":%d,"source":"wait4"}'
                     % (pid, end, peak, peak, peak, cpu, cpu // 50))
        lines.append('{"type":"end","t":%d.200,"status":"oom-killed","exit_code":null,'
                     '"signal":9,"core":false,"oom_killed":[%d],"alive":[],"samples":%d,'
                     '"self_utime":900,"self_stime":300}' % (end, pid, end))
    else:
        lines.append('{"type":"exit","pid":%d,"t":%d.100,"how":"exited","code":0,'
                     '"signal":null,"core":false,"oom":false,"peak":%d,"hwm":%d,"maxrss":%d,'
                     '"utime":%d,"stime":%d,"source":"wait4"}'
                     % (pid, end, peak, peak, peak, cpu, cpu // 50))
        lines.append('{"type":"end","t":%d.200,"status":"completed","exit_code":0,'
                     '"signal":null,"core":false,"oom_killed":[],"alive":[],"samples":%d,'
                     '"self_utime":900,"self_stime":300}' % (end, end))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def generate(d, ranks, seconds):
    RANKS_N[0] = ranks
    HEAVY[0], OOM[0] = ranks * 617 // 1000, max(1, ranks * 42 // 1000)
    os.makedirs(d, exist_ok=True)
    start = 1796000000.0
    for r in range(ranks):
        # the ranks started within a second of each other, as a launcher starts them
        write_log(os.path.join(d, "solver.%d.jsonl" % r), r, start + (r % 97) / 100.0, seconds)


def timed(procs, argv, out=None):
    t0 = time.monotonic()
    with open(out or os.devnull, "w") as o:
        status, ru = procs.run(argv, limit=LIMIT, stdout=o)
    return time.monotonic() - t0, ru.ru_maxrss / 1024.0, status


def bench_merge(procs, build, tmp, quick, ranks=None):
    """Runs part m; returns (markdown text, raw numbers)."""
    ml = os.path.join(build, "memline")
    ranks = ranks or (100 if quick else RANKS)
    seconds = 600 if quick else SECONDS
    d = os.path.join(tmp, "merge-logs")
    shutil.rmtree(d, ignore_errors=True)
    t0 = time.monotonic()
    generate(d, ranks, seconds)
    gen = time.monotonic() - t0
    size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    raw = {"ranks": ranks, "seconds": seconds, "bytes": size, "generate_s": gen}
    raw["cat_s"] = None
    files = sorted(os.path.join(d, f) for f in os.listdir(d))
    # the logs were just written: they are in the page cache, as they are for memline below
    cat, _, _ = timed(procs, ["/bin/sh", "-c", 'cat "$@" > /dev/null', "cat"] + files)
    raw["cat_s"] = cat
    rows = []
    out_json = os.path.join(tmp, "merge.json")
    png = os.path.join(tmp, "merge.png")
    html = os.path.join(tmp, "merge.html")
    runs = [("report", [ml, "report", d], None), ("report --json", [ml, "report", "--json", d],
                                                  out_json),
            ("plot PNG", [ml, "plot", d, "-o", png], None),
            ("plot HTML", [ml, "plot", d, "-o", html], None)]
    for name, argv, out in runs:
        wall, rss, status = timed(procs, argv, out)
        raw[name] = {"wall_s": wall, "maxrss_mib": rss, "status": status}
        check = "exit %d" % status if status else ""
        if name == "report --json" and not status:
            with open(out_json) as f:
                j = json.load(f)
            heavy = j["job"]["heaviest"] or {}
            worst = j["job"]["worst"] or {}
            want_peak = rank_peak_kib(HEAVY[0]) * 1024
            problems = []
            if heavy.get("rank") != HEAVY[0] or heavy.get("peak") != want_peak:
                problems.append("heaviest %s %s, not rank %d %d" % (
                    heavy.get("rank"), heavy.get("peak"), HEAVY[0], want_peak))
            if j["job"]["status"] != "oom-killed" or worst.get("rank") != OOM[0]:
                problems.append("status %s rank %s, not oom-killed rank %d" % (
                    j["job"]["status"], worst.get("rank"), OOM[0]))
            if j["job"]["ranks"] != ranks:
                problems.append("%s ranks, not %d" % (j["job"]["ranks"], ranks))
            check = "; ".join(problems)
        if name == "plot HTML" and not status:
            raw[name]["bytes"] = os.path.getsize(html)
            name += " (%.1f MB page)" % (os.path.getsize(html) / 1e6)
        met = not check and wall <= TARGET_S
        rows.append("| %s of %d logs (%.0f MB) | %.1f s | %.0f MiB | %.2f s | %s |"
                    % (name, ranks, size / 1e6, wall, rss, cat,
                       ("met" if met else "NOT met") + (": " + check if check else "")))
    shutil.rmtree(d, ignore_errors=True)
    text = ("| measurement | wall | memline's peak RSS | floor: cat of the logs | target "
            "(≤ %d s, right answer) |\n| --- | --- | --- | --- | --- |\n" % TARGET_S
            + "\n".join(rows) + "\n\n%d logs of %d samples at 1 Hz, %d ranks a node, "
            "generated in %.0f s.\n" % (ranks, seconds, PER_NODE, gen))
    return text, raw


def main(argv):
    quick = "--quick" in argv
    args = [a for a in argv[1:] if a != "--quick"]
    ranks = None
    if "--ranks" in args:
        i = args.index("--ranks")
        ranks = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 1:
        print("usage: bench/merge.py [--quick] [--ranks N] BUILD_DIR", file=sys.stderr)
        return 64
    # bench/run's keeper: sessions of their own, killed at their limit or on the way out
    loader = importlib.machinery.SourceFileLoader("bench_run", os.path.join(REPO, "bench", "run"))
    spec = importlib.util.spec_from_loader("bench_run", loader)
    run = importlib.util.module_from_spec(spec)
    loader.exec_module(run)
    return run.standalone(bench_merge, os.path.abspath(args[0]), quick, ranks)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
