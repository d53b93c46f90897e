"""Recording under a launcher (docs/clusters.md): -o patterns expanded from the launcher's
environment (the variables set here as Open MPI, Slurm and PBS set them), the header's place
and clock (format 4), clock records pairing the wall clock with the log's time; and a real
Open MPI run of 4 ranks, each recording its own log.

The clock's ground truth is the kernel's, read here with adjtimex(2) through ctypes, and
Python's time.time(). MEMLINE_CLOCK_PERIOD shortens the clock records' period (300 s) for the
tests."""

import ctypes
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import (MEMWORK, MIB, TIMEOUT, end_of, header_of, of_type, read_log, read_pidfile,
                      wait_for_records)

# Every variable place_from_vars reads (lib/log/place.c's place_vars): the header's "job" keeps
# them all, so that a reader can derive the place of a log again.
PLACE_VARS = ["OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_SIZE",
              "PMIX_RANK", "PMI_RANK", "MPI_LOCALRANKID", "PMI_SIZE", "SLURM_PROCID",
              "SLURM_LOCALID", "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS", "SLURM_NODEID",
              "PBS_VNODENUM", "PBS_NP", "PBS_NODENUM", "SLURM_ARRAY_JOB_ID",
              "SLURM_ARRAY_TASK_ID", "SLURM_JOB_ID", "SLURM_JOBID", "PBS_JOBID", "PMIX_NAMESPACE",
              "OMPI_MCA_ess_base_jobid", "SLURMD_NODENAME"]
LAUNCHER_PREFIXES = ("OMPI_", "PMIX_", "PMI_", "SLURM_", "PBS_", "MPI_LOCAL", "MV2_", "SLURMD_")

NOWHERE = {"job": None, "rank": None, "local_rank": None, "size": None, "node_index": None,
           "launcher": None, "node_wide": False}

SHORT_HOST = socket.gethostname().split(".")[0]


def env_with(**vars):
    """This process's environment without any launcher's variables (the tests may run under
    one), with vars added."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(LAUNCHER_PREFIXES) and k != "MEMLINE_CLOCK_PERIOD"}
    env.update({k: str(v) for k, v in vars.items()})
    return env


def files(d):
    return sorted(p.name for p in Path(d).iterdir())


# ---- the kernel's clock, independently of memline ----

class Timex(ctypes.Structure):
    """glibc's struct timex (sys/timex.h)."""
    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long),
                ("status", ctypes.c_int), ("constant", ctypes.c_long),
                ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
                ("time_sec", ctypes.c_long), ("time_usec", ctypes.c_long),
                ("tick", ctypes.c_long), ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long),
                ("shift", ctypes.c_int), ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long),
                ("calcnt", ctypes.c_long), ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long),
                ("tai", ctypes.c_int), ("pad", ctypes.c_int * 11)]


TIME_ERROR, STA_UNSYNC = 5, 0x0040


def kernel_clock():
    """(synced, maxerror_us, esterror_us) as adjtimex says, or None where it is refused."""
    libc = ctypes.CDLL(None, use_errno=True)
    tx = Timex()
    state = libc.adjtimex(ctypes.byref(tx))
    if state < 0:
        return None
    return state != TIME_ERROR and not tx.status & STA_UNSYNC, tx.maxerror, tx.esterror


# ---- patterns ----


def test_patterns_expand_from_the_launchers_variables(ml, tmp_path):
    """%r %j under Open MPI's variables, %j %n %r %h under Slurm's, %r %n under PBS's (the rank
    is PBS_VNODENUM, never PBS_TASKNUM), %p memline's own pid, %% a percent sign; the header
    says the place the variables give."""
    ompi = dict(OMPI_COMM_WORLD_RANK=2, OMPI_COMM_WORLD_SIZE=4, OMPI_COMM_WORLD_LOCAL_RANK=2,
                OMPI_MCA_ess_base_jobid=599130113, PMIX_RANK=2, PMIX_NAMESPACE=599130113)
    p = ml.cmd("run", "-o", "solver.%r.%j.jsonl", "--", ml.memwork, "exit", 0, env=env_with(**ompi))
    assert p.returncode == 0, p.stderr
    assert p.stderr.count("warning") == 0, f"expected no warning with %r: {p.stderr}"
    h = header_of(read_log(tmp_path / "solver.2.599130113.jsonl"))
    assert h["place"] == {"job": "599130113", "rank": 2, "local_rank": 2, "size": 4,
                          "node_index": None, "launcher": "openmpi", "node_wide": False}, h["place"]

    slurm = dict(SLURM_JOB_ID=881, SLURM_JOBID=881, SLURM_PROCID=5, SLURM_LOCALID=1,
                 SLURM_NODEID=1, SLURM_NTASKS=8, SLURM_STEP_NUM_TASKS=8, SLURM_STEP_ID=0)
    p = ml.cmd("run", "-o", "%j.%n.%r.%h.jsonl", "--", ml.memwork, "exit", 0,
               env=env_with(**slurm))
    assert p.returncode == 0, p.stderr
    h = header_of(read_log(tmp_path / f"881.1.5.{SHORT_HOST}.jsonl"))
    assert h["place"] == {"job": "881", "rank": 5, "local_rank": 1, "size": 8, "node_index": 1,
                          "launcher": "slurm", "node_wide": False}, h["place"]

    # several slurmd on one host: %h is Slurm's name of the node
    p = ml.cmd("run", "-o", "job.%h.jsonl", "--", ml.memwork, "exit", 0,
               env=env_with(SLURMD_NODENAME="n2", **slurm))
    assert p.returncode == 0, p.stderr
    assert header_of(read_log(tmp_path / "job.n2.jsonl"))["job"]["SLURMD_NODENAME"] == "n2"

    pbs = dict(PBS_JOBID="4711.pbs01", PBS_VNODENUM=6, PBS_NODENUM=1, PBS_TASKNUM=3, PBS_NP=8)
    p = ml.cmd("run", "-o", "pbs-%r-%n-%j-100%%.jsonl", "--", ml.memwork, "exit", 0,
               env=env_with(**pbs))
    assert p.returncode == 0, p.stderr
    h = header_of(read_log(tmp_path / "pbs-6-1-4711.pbs01-100%.jsonl"))
    assert h["place"] == {"job": "4711.pbs01", "rank": 6, "local_rank": None, "size": 8,
                          "node_index": 1, "launcher": "pbs", "node_wide": False}, h["place"]
    assert h["job"]["PBS_TASKNUM"] == "3", f"expected PBS_TASKNUM kept in the job: {h['job']}"

    # %p: memline's own pid, which tells apart recordings nothing else does
    p = ml.popen("run", "-q", "-o", "self.%p.jsonl", "--", ml.memwork, "exit", 0, env=env_with())
    ml.finish(p)
    assert p.returncode == 0
    h = header_of(read_log(tmp_path / f"self.{p.pid}.jsonl"))
    assert h["place"] == NOWHERE, f"expected no place outside a launcher: {h['place']}"

    # a value never adds a directory
    p = ml.cmd("run", "-o", "%j.jsonl", "--", ml.memwork, "exit", 0,
               env=env_with(PBS_JOBID="7/../x"))
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "7_.._x.jsonl").exists(), files(tmp_path)


def test_the_header_keeps_every_variable_the_place_comes_from(ml, tmp_path):
    env = env_with(**{v: i + 1 for i, v in enumerate(PLACE_VARS)})
    p = ml.cmd("run", "-o", "all.jsonl", "--", ml.memwork, "exit", 0, env=env)
    assert p.returncode == 0, p.stderr
    h = header_of(read_log(tmp_path / "all.jsonl"))
    missing = [v for v in PLACE_VARS if v not in h["job"]]
    assert not missing, f"expected the header's job to keep {missing}: {h['job']}"
    assert h["place"]["launcher"] == "openmpi" and h["place"]["rank"] == 1, h["place"]


@pytest.mark.parametrize("pattern, env, code, says", [
    ("log.%x.jsonl", {}, 64, "'%x' is not a pattern"),
    ("log.%", {}, 64, "write %% for a percent sign"),
    ("solver.%r.jsonl", {}, 64,
     "%r is the rank, and no launcher set one (OMPI_COMM_WORLD_RANK, PMIX_RANK, PMI_RANK, "
     "SLURM_PROCID or PBS_VNODENUM)"),
    ("job.%j.jsonl", {"SLURM_PROCID": "0"}, 64, "SLURM_JOB_ID"),
    ("node.%n.jsonl", {"OMPI_COMM_WORLD_RANK": "1"}, 64,
     "%n is the node's index, which the launcher (openmpi) does not give"),
])
def test_a_bad_pattern_is_a_usage_error_that_touches_nothing(ml, tmp_path, pattern, env, code,
                                                              says):
    before = files(tmp_path)
    p = ml.cmd("run", "-o", pattern, "--", ml.memwork, "exit", 0, env=env_with(**env))
    assert p.returncode == code, f"expected exit {code} for -o {pattern!r}: {p.stderr}"
    assert f"memline: -o '{pattern}': " in p.stderr and says in p.stderr, p.stderr
    assert p.stderr.count("\n") == 1, f"expected a one-line message: {p.stderr!r}"
    assert files(tmp_path) == before, "expected a bad pattern to touch nothing"
    p = ml.cmd("attach", "-o", pattern, os.getpid(), env=env_with(**env))
    assert p.returncode == code and says in p.stderr, p.stderr
    assert files(tmp_path) == before


def test_an_existing_log_is_never_lost(ml, tmp_path):
    """A log at the path a pattern expands to, or at the pattern's own name, is kept when the
    recording does not start: a command that cannot run, a pattern that cannot expand."""
    old = b'{"type":"header","format":4}\n{"type":"end","t":1.0,"status":"completed"}\n'
    for name in ("solver.3.jsonl", "solver.%r.jsonl"):
        (tmp_path / name).write_bytes(old)
    p = ml.cmd("run", "-o", "solver.%r.jsonl", "--", "/no/such/command",
               env=env_with(SLURM_PROCID=3))
    assert p.returncode == 127, p.stderr
    p = ml.cmd("run", "-o", "solver.%r.jsonl", "--", ml.memwork, "exit", 0, env=env_with())
    assert p.returncode == 64, p.stderr
    for name in ("solver.3.jsonl", "solver.%r.jsonl"):
        assert (tmp_path / name).read_bytes() == old, f"expected {name} as it was"
    assert files(tmp_path) == ["solver.%r.jsonl", "solver.3.jsonl"], files(tmp_path)
    # and the one that does start replaces it whole, as any recording does
    p = ml.cmd("run", "-o", "solver.%r.jsonl", "--", ml.memwork, "exit", 0,
               env=env_with(SLURM_PROCID=3))
    assert p.returncode == 0, p.stderr
    assert header_of(read_log(tmp_path / "solver.3.jsonl"))["place"]["rank"] == 3


def test_one_log_for_every_rank_is_warned_of(ml, tmp_path):
    env = env_with(OMPI_COMM_WORLD_RANK=1, OMPI_COMM_WORLD_SIZE=4)
    p = ml.cmd("run", "-o", "solver.jsonl", "--", ml.memwork, "exit", 0, env=env)
    assert p.returncode == 0, p.stderr
    assert ("memline: warning: -o 'solver.jsonl' names no %r or %p, but the launcher (openmpi) "
            "started this memline as rank 1 of 4") in p.stderr, p.stderr
    # a job of one rank, %p, or no launcher: nothing to warn of
    for pattern, vars in (("one.jsonl", dict(SLURM_PROCID=0, SLURM_STEP_NUM_TASKS=1)),
                          ("pid.%p.jsonl", dict(OMPI_COMM_WORLD_RANK=1, OMPI_COMM_WORLD_SIZE=4)),
                          ("plain.jsonl", {})):
        p = ml.cmd("run", "-o", pattern, "--", ml.memwork, "exit", 0, env=env_with(**vars))
        assert p.returncode == 0 and "warning" not in p.stderr, (pattern, p.stderr)


def test_a_whole_node_is_no_rank(ml, tmp_path, memory_cgroup, killer):
    """attach --cgroup, started once per node by srun: its place names the job and the node,
    node_wide, and no rank (the step's task number is none of the job's); %h tells the nodes'
    logs apart, so no warning."""
    pf = tmp_path / "w.pid"
    ml.work("pidfile", pf, "sleep", 600)
    pid = read_pidfile(pf)
    killer.append(pid)
    (memory_cgroup / "cgroup.procs").write_text(str(pid))
    env = env_with(SLURM_JOB_ID=77, SLURM_PROCID=1, SLURM_NODEID=1, SLURM_LOCALID=0,
                   SLURM_STEP_NUM_TASKS=2)
    p = ml.cmd("attach", "--cgroup", memory_cgroup, "-o", "job.%h.jsonl", env=env)
    assert p.returncode == 0, p.stderr
    assert "warning" not in p.stderr, p.stderr
    h = header_of(read_log(tmp_path / f"job.{SHORT_HOST}.jsonl"))
    assert h["place"] == {"job": "77", "rank": None, "local_rank": None, "size": None,
                          "node_index": 1, "launcher": "slurm", "node_wide": True}, h["place"]


# ---- the clock ----


def test_the_header_says_the_wall_clock_at_the_start(ml, tmp_path):
    truth = kernel_clock()
    before = time.time()
    run = ml.run_memwork("exit", 0, env=env_with())
    after = time.time()
    assert run.code == 0, run.describe()
    clock = run.header["clock"]
    assert set(clock) == {"wall_us", "synced", "maxerror_us", "esterror_us"}, clock
    start = clock["wall_us"] / 1e6
    assert before <= start <= after, f"expected wall_us within the run ({before}..{after}): {clock}"
    assert start - before < 1.0, f"expected wall_us within a second of the start: {start - before}"
    assert abs(run.header["start_unix"] - start) <= 0.001, (run.header["start_unix"], clock)
    if truth is None:
        assert clock["synced"] is None and clock["maxerror_us"] is None, clock
        return
    synced, maxerror, esterror = truth
    again = kernel_clock()
    assert clock["synced"] is synced, f"expected synced {synced} as adjtimex says: {clock}"
    # the maximum error grows with time until the clock is disciplined again: between the two
    lo, hi = min(maxerror, again[1]), max(maxerror, again[1])
    assert lo - 1000 <= clock["maxerror_us"] <= hi + 1000, (clock, maxerror, again[1])
    lo, hi = min(esterror, again[2]), max(esterror, again[2])
    assert lo <= clock["esterror_us"] <= hi, (clock, esterror, again[2])


def clock_pairs(records):
    """(t, wall_us) of the header and every clock record, in log order."""
    h = header_of(records)
    return [(0.0, h["clock"]["wall_us"])] + [(c["t"], c["wall_us"]) for c in of_type(records, "clock")]


def check_pairs(records, period):
    """Clock records every period (at least), the last one just before the end, and the pairs
    on one line: wall_us - t constant within a few ms for an undisturbed clock."""
    assert records[-2]["type"] == "clock", f"expected a clock record just before the end: {records[-2]}"
    assert records[-2]["t"] <= end_of(records)["t"], (records[-2], end_of(records))
    # every record in time order, the clock records among them (each to the millisecond the
    # others are written to, so none rounds to before the one it follows)
    ts = [r["t"] for r in records if "t" in r]
    assert ts == sorted(ts), f"expected the records in time order: {ts}"
    for c in of_type(records, "clock"):
        assert round(c["t"] * 1000) == c["t"] * 1000, f"expected t to the millisecond: {c}"
    pairs = clock_pairs(records)
    assert len(pairs) >= 2, pairs
    offset = pairs[0][1]
    for t, wall in pairs:
        assert abs(wall - t * 1e6 - offset) < 5000, f"expected wall_us - t constant: {pairs}"
    ts = [t for t, _ in pairs]
    gaps = [b - a for a, b in zip(ts, ts[1:-1])]  # the last one comes at the end, not on time
    assert all(g >= period - 0.002 for g in gaps), f"expected clock records {period} s apart: {ts}"
    for c in of_type(records, "clock"):
        assert set(c) == {"type", "t", "wall_us", "synced", "maxerror_us", "esterror_us"}, c
    return pairs


def test_clock_records_pair_the_wall_clock_with_the_logs_time(ml, tmp_path):
    env = env_with(MEMLINE_CLOCK_PERIOD="0.1")
    run = ml.run_memwork("alloc", "1M", "sleep", 800, opts=["-i", "0.05"], env=env)
    assert run.code == 0, run.describe()
    pairs = check_pairs(run.records, 0.1)
    assert len(pairs) >= 6, f"expected a clock record each 0.1 s of 0.8 s: {pairs}"

    # by default one every 300 s: a short run has the header's and the last one
    run = ml.run_memwork("sleep", 100, env=env_with())
    assert run.code == 0, run.describe()
    assert len(of_type(run.records, "clock")) == 1, of_type(run.records, "clock")
    check_pairs(run.records, 300)


def test_attach_pairs_the_clocks_too(ml, tmp_path, killer):
    pf = tmp_path / "w.pid"
    ml.work("pidfile", pf, "sleep", 700)
    pid = read_pidfile(pf)
    killer.append(pid)
    log = tmp_path / "attach.jsonl"
    p = ml.cmd("attach", "-i", "0.05", "-o", log, pid, env=env_with(MEMLINE_CLOCK_PERIOD="0.1"))
    assert p.returncode == 0, p.stderr
    records = read_log(log)
    assert header_of(records)["mode"] == "attach"
    assert len(check_pairs(records, 0.1)) >= 3


def test_a_self_recording_pairs_the_clocks_and_says_its_place(tmp_path):
    """libmemline's memline_start: the header's place from the host's own environment, and the
    clock records of its recording thread."""
    from test_c_library import build_against_shared, env_without_channel, need_lib, run
    so = need_lib("libmemline.so")
    exe = build_against_shared(tmp_path, "selfrec", so)
    log = tmp_path / "self.jsonl"
    env = env_without_channel(MEMLINE_CLOCK_PERIOD="0.05", PMI_RANK="3", PMI_SIZE="8",
                              MPI_LOCALRANKID="1")
    for k in [k for k in env if k.startswith(LAUNCHER_PREFIXES) and k not in
              ("PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID")]:
        del env[k]
    p = run([str(exe), str(log)], env)
    assert p.returncode == 0, p.stderr
    records = read_log(log)
    h = header_of(records)
    assert h["mode"] == "self"
    assert h["place"] == {"job": None, "rank": 3, "local_rank": 1, "size": 8, "node_index": None,
                          "launcher": "pmi", "node_wide": False}, h["place"]
    check_pairs(records, 0.05)


# ---- a real Open MPI run ----

MPIRUN = shutil.which("mpirun")
MPI_STEP = 40  # MiB: rank r allocates and touches (r + 1) * MPI_STEP


def mpirun(*args, **kw):
    return subprocess.run([MPIRUN, "--allow-run-as-root", "--oversubscribe", *map(str, args)],
                          capture_output=True, text=True, timeout=TIMEOUT, **kw)


def rank_workload():
    """A command that allocates (rank + 1) * MPI_STEP MiB by OMPI_COMM_WORLD_RANK, holds it half
    a second and exits: memwork, exec'd by sh (one process)."""
    return ["sh", "-c", f'exec "$0" alloc $(( (OMPI_COMM_WORLD_RANK + 1) * {MPI_STEP} ))M '
            "sleep 500", str(MEMWORK)]


@pytest.fixture(scope="module")
def mpi_logs(tmp_path_factory):
    """4 ranks under mpirun, each recorded by its own memline into DIR/solver.%r.jsonl; and the
    workload's baseline (memwork holding nothing), recorded alike. -> (DIR, baseline KiB)."""
    if MPIRUN is None:
        pytest.skip("mpirun is not installed (Debian's openmpi-bin): no real MPI run")
    d = tmp_path_factory.mktemp("mpi")
    logs = d / "logs"
    logs.mkdir()
    from conftest import MEMLINE
    p = mpirun("-n", 4, MEMLINE, "run", "-q", "-o", logs / "solver.%r.jsonl", "--",
               *rank_workload(), cwd=d, env=env_with())
    assert p.returncode == 0, f"expected mpirun -n 4 memline run to succeed: {p.stderr[-3000:]}"
    base = d / "base.jsonl"
    b = subprocess.run([str(MEMLINE), "run", "-q", "-o", base, "--", "sh", "-c",
                        'exec "$0" sleep 500', str(MEMWORK)], capture_output=True, text=True,
                       timeout=TIMEOUT, env=env_with())
    assert b.returncode == 0, b.stderr
    return logs, end_of(read_log(base))["job_peak"]


def truth_kib(rank, baseline):
    return (rank + 1) * MPI_STEP * MIB + baseline


def test_each_rank_of_a_real_mpi_run_records_its_own_log(ml, mpi_logs):
    logs, baseline = mpi_logs
    assert files(logs) == [f"solver.{r}.jsonl" for r in range(4)], files(logs)
    jobs = set()
    for r in range(4):
        log = logs / f"solver.{r}.jsonl"
        records = read_log(log)
        h = header_of(records)
        place = h["place"]
        assert place["rank"] == r and place["size"] == 4 and place["launcher"] == "openmpi", place
        assert place["local_rank"] == r and place["node_wide"] is False, place
        jobs.add(place["job"])
        assert h["job"]["OMPI_COMM_WORLD_RANK"] == str(r), h["job"]
        assert end_of(records)["status"] == "completed", end_of(records)
        assert len(clock_pairs(records)) >= 2
        report = ml.report_json(log)
        truth = truth_kib(r, baseline) * 1024
        assert abs(report["job_peak"] - truth) <= 0.03 * truth, (
            f"rank {r}: expected job_peak within 3% of {truth} bytes ({r + 1} x {MPI_STEP} MiB "
            f"+ the baseline {baseline} KiB): {report['job_peak']}")
    assert len(jobs) == 1 and None not in jobs, f"expected one job id for all ranks: {jobs}"


def test_the_merged_report_of_a_real_mpi_run(ml, mpi_logs):
    """`memline report --json DIR` of the 4 ranks' logs: the job model's contract."""
    logs, baseline = mpi_logs
    p = ml.cmd("report", "--json", logs)
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    job = rep["job"]
    assert job["logs"] == 4 and job["ranks"] == 4 and job["nodes"] == 1, job
    assert job["launcher"] == "openmpi" and job["size"] == 4 and job["missing_ranks"] == [], job
    assert job["status"] == "completed", job
    assert job["unreadable"] == [], job
    truth3 = truth_kib(3, baseline) * 1024
    heaviest = job["heaviest"]
    assert heaviest["rank"] == 3, f"expected rank 3 the heaviest: {heaviest}"
    assert abs(heaviest["peak"] - truth3) <= 0.03 * truth3, (heaviest, truth3)
    assert job["peak"] >= heaviest["peak"], job
    assert job["imbalance"] is not None and job["median_peak"] is not None, job
    (node,) = rep["nodes"]
    assert node["ranks"] == 4 and node["logs"] == 4 and node["node_wide"] is False, node
    assert node["host"] in (socket.gethostname(), SHORT_HOST), node
    ranks = sorted(rep["ranks"], key=lambda x: x["rank"])
    assert [x["rank"] for x in ranks] == [0, 1, 2, 3], ranks
    for x in ranks:
        truth = truth_kib(x["rank"], baseline) * 1024
        assert abs(x["peak"] - truth) <= 0.03 * truth, (x, truth)
        assert x["status"] == "completed" and x["format"] == 4 and x["oom_killed"] is None, x
        assert Path(x["log"]).name == f"solver.{x['rank']}.jsonl", x
