"""Many logs as one job: `memline report`, `report --json` and `status` of several logs, a
directory or a quoted pattern (lib/model/job.c, docs/clusters.md).

The ranks are real recordings: memline run of memwork with a rank's variables in its
environment (as mpirun or srun set them), each allocating a known amount; the merged report
must name each rank's peak, the heaviest, and the rank the OOM killer killed in a small memory
cgroup. Fixture jobs (tests/fixtures/jobs) cover the clocks and broken logs in the unit test;
here their command-line faces: a pattern matching nothing, a directory with no log, a missing
rank, a cut-off log, a file that is not a log.
"""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import MEMWORK, REPO, read_log
from test_cgroup import cgroups  # noqa: F401 (the fixture)

FIXTURES = REPO / "tests" / "fixtures" / "jobs"
MIB = 1024 * 1024


def rank_env(rank, size, node="n1"):
    env = dict(os.environ)
    env.update(OMPI_COMM_WORLD_RANK=str(rank), OMPI_COMM_WORLD_SIZE=str(size),
               OMPI_COMM_WORLD_LOCAL_RANK=str(rank))
    return env


def record_ranks(ml, d, sizes_mib, extra=()):
    """Records one memwork per rank, in parallel as a launcher starts them: rank r allocates
    and touches sizes_mib[r] MiB, holds it, exits. Returns the logs."""
    d.mkdir(exist_ok=True)
    procs, logs = [], []
    for r, size in enumerate(sizes_mib):
        log = d / f"solver.{r}.jsonl"
        logs.append(log)
        procs.append(ml.popen("run", "-q", "-i", "0.02", "-o", log, *extra, "--", MEMWORK,
                              "alloc", f"{size}M", "sleep", "300",
                              env=rank_env(r, len(sizes_mib))))
    for p in procs:
        ml.finish(p, timeout=60)
        assert p.returncode == 0, p.err_path.read_text()
    return logs


def merged(ml, *args):
    p = ml.cmd("report", "--json", *args)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def by_rank(report):
    return {r["rank"]: r for r in report["ranks"]}


def test_ranks_merge(ml, tmp_path):
    sizes = [40, 90, 60, 20]
    d = tmp_path / "job"
    logs = record_ranks(ml, d, sizes)
    # each rank's own log, read alone, is the ground truth of its peak
    own = {r: ml.report_json(log)["job_peak"] for r, log in enumerate(logs)}
    for how in ([d], [str(d / "solver.*.jsonl")], logs):
        rep = merged(ml, *how)
        job = rep["job"]
        assert job["logs"] == 4 and job["ranks"] == 4 and job["nodes"] == 1, job
        assert job["launcher"] == "openmpi" and job["size"] == 4, job
        assert job["status"] == "completed" and job["missing_ranks"] == [], job
        assert job["worst"] is None, job  # none ended it: every rank completed
        ranks = by_rank(rep)
        assert sorted(ranks) == [0, 1, 2, 3]
        for r, size in enumerate(sizes):
            # the merged peak is the rank's own, and the workload's size is in it
            assert ranks[r]["peak"] == own[r], (r, ranks[r], own[r])
            assert size * MIB <= ranks[r]["peak"] <= size * MIB * 1.03 + 8 * MIB, ranks[r]
        assert job["heaviest"]["rank"] == 1, job
        median = sorted(own.values())[1:3]
        assert abs(job["median_peak"] - sum(median) / 2) <= 1024, job
        # the job's total is at least its heaviest rank, at most all of them at once
        assert own[1] <= job["peak"] <= sum(own.values()) + 1024, job
    text = ml.cmd("report", d)
    assert text.returncode == 0, text.stderr
    assert "4 ranks of 4 on 1 node" in text.stdout, text.stdout
    assert "heaviest: rank 1 peaked at" in text.stdout, text.stdout
    code, first, out, _ = ml.status(d)
    assert (code, first) == (0, "completed"), out


def test_oom_killed_rank(ml, tmp_path, cgroups):  # noqa: F811
    """Rank 2 outgrows the 64 MiB memory cgroup its memline runs in: the job is oom-killed,
    and rank 2 is named."""
    d = tmp_path / "job"
    record_ranks(ml, d, [30, 30])
    cg = cgroups(limit=64 * MIB)
    log = d / "solver.2.jsonl"
    p = ml.popen("run", "-q", "-i", "0.05", "-o", log, "--", MEMWORK, "alloc", "300M",
                 "sleep", "1000", preexec_fn=cg.enter(), env=rank_env(2, 3))
    ml.finish(p, timeout=60)
    assert p.returncode == 137, p.err_path.read_text()
    rep = merged(ml, d)
    job = rep["job"]
    assert job["status"] == "oom-killed", job
    assert job["worst"]["rank"] == 2 and job["worst"]["node"], job
    assert job["worst"]["pid"] > 0 and job["worst"]["comm"] == "memwork", job
    assert by_rank(rep)[2]["oom_killed"]["comm"] == "memwork", rep
    code, first, out, _ = ml.status(d)
    assert (code, first) == (2, "oom-killed"), out
    assert "worst: rank 2 oom-killed (pid" in out, out


def test_broken_job(ml, tmp_path):
    """Logs of formats 2, 3 and 4, rank 2 missing, rank 1 cut off, a file that is not a log:
    reported, the rest merged."""
    p = ml.cmd("report", FIXTURES / "broken")
    assert p.returncode == 0, p.stderr
    assert "garbage.jsonl: cannot be read" in p.stderr, p.stderr
    assert "missing:  1 rank with no log: 2" in p.stdout, p.stdout
    assert "cut off:" in p.stdout and "rank1.jsonl" in p.stdout, p.stdout
    assert "status:   incomplete: rank 1" in p.stdout, p.stdout
    code, first, out, _ = ml.status(FIXTURES / "broken")
    assert (code, first) == (3, "incomplete"), out


def test_no_logs(ml, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    p = ml.cmd("report", empty)
    assert p.returncode == 66 and "no log (*.jsonl) in the directory" in p.stderr, p.stderr
    p = ml.cmd("report", str(tmp_path / "nothing.*.jsonl"))
    assert p.returncode == 66 and "matches no file" in p.stderr, p.stderr
    p = ml.cmd("status", str(tmp_path / "nothing.*.jsonl"))
    assert p.returncode == 66, p.stderr
    (tmp_path / "a.jsonl").write_text("not a log\n")
    (tmp_path / "b.jsonl").write_text("not a log either\n")
    p = ml.cmd("report", tmp_path / "a.jsonl", tmp_path / "b.jsonl")
    assert p.returncode == 65 and "none of the 2 logs could be read" in p.stderr, p.stderr
    # one log stays the single-log report, as before
    p = ml.cmd("report", FIXTURES / "broken" / "rank0.jsonl")
    assert p.returncode == 0 and "job:" not in p.stdout.splitlines()[0], p.stdout
    p = ml.cmd("report", "--stacks", FIXTURES / "broken")
    assert p.returncode == 64, p.stderr


def test_hostile_names(ml, tmp_path):
    """A host and a command with an escape sequence and a right-to-left override reach the
    terminal escaped."""
    d = tmp_path / "job"
    d.mkdir()
    src = (FIXTURES / "clocks" / "rank0.jsonl").read_text()
    hostile = src.replace('"host":"n1"', '"host":"n\\u001b[31m\\u202e1"', 1)
    assert hostile != src
    (d / "a.jsonl").write_text(hostile)
    shutil.copy(FIXTURES / "clocks" / "rank1.jsonl", d / "b.jsonl")
    p = ml.cmd("report", d)
    assert p.returncode == 0, p.stderr
    assert "\x1b" not in p.stdout and "\u202e" not in p.stdout, p.stdout
    assert "\\x1b" in p.stdout and "\\u202e" in p.stdout, p.stdout


def test_a_log_named_twice_counts_once(ml, tmp_path):
    """A directory and a pattern over it, and a log named again: each log is merged once."""
    d = FIXTURES / "clocks"
    once = merged(ml, d)
    twice = merged(ml, d, str(d / "rank*.jsonl"), d / "rank1.jsonl")
    assert twice["job"]["logs"] == 3 and twice["job"]["peak"] == once["job"]["peak"], twice["job"]
    assert [r["log"] for r in twice["ranks"]] == [r["log"] for r in once["ranks"]]
    # one log named twice is one log: the one-log report
    p = ml.cmd("report", "--json", d / "rank0.jsonl", d / "rank0.jsonl")
    assert p.returncode == 0 and "job" not in json.loads(p.stdout), p.stdout[:200]
