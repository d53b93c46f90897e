"""`memline export --csv` of a job: real ranks' logs (memline run -o 'DIR/r.%r.jsonl' with
OMPI_COMM_WORLD_RANK set, rank N holding (N + 1) * 20 MiB) in a directory, the CSV read back
with Python's csv module and set beside `memline report --json` of the same directory: the
columns (t, wall, job, the band across ranks, a node's, a log's), the bins of report's width,
each column's highest the peak report gives (the job's, the node's, each rank's); the same with
logs named one by one, a pattern and -o; the formats that read one log refuse a job (64); a
single log's CSV is the process table it always was; names from the logs (a host with a comma,
quotes, a newline and control characters) are CSV fields that read back as they were."""

import csv
import io
import json
import os
import subprocess
import sys

import pytest

from conftest import MEMLINE

PY = sys.executable if os.path.isabs(sys.executable) else "/usr/bin/python3"
RANK = r"""
import sys, time
n = int(sys.argv[1])
b = bytearray((n + 1) * 20 << 20)
for i in range(0, len(b), 4096):
    b[i] = 1
time.sleep(0.3)
"""
HOSTILE = "n1, \"q\"\nx\u202e\x1b[31m"


def run(*args, **kw):
    return subprocess.run([str(MEMLINE), *map(str, args)], capture_output=True, text=True,
                          timeout=120, **kw)


@pytest.fixture(scope="module")
def job_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("job")
    ps = []
    for n in range(4):
        env = dict(os.environ, OMPI_COMM_WORLD_RANK=str(n), OMPI_COMM_WORLD_SIZE="4")
        env.pop("MEMLINE_CHANNEL", None)
        ps.append(subprocess.Popen([str(MEMLINE), "run", "-q", "-o", str(d / "r.%r.jsonl"),
                                    "--", PY, "-c", RANK, str(n)], env=env,
                                   stdin=subprocess.DEVNULL, stderr=subprocess.PIPE))
    for p in ps:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    return d


def table(text):
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1:]


def column(head, rows, name):
    i = head.index(name)
    return [int(r[i]) if r[i] else None for r in rows]


def highest(values):
    return max(v for v in values if v is not None)


def log_columns(rep):
    """The logs' column names as export names them: the name, with the file where two share it."""
    names = [r["name"] for r in rep["ranks"]]
    return [n if names.count(n) == 1 else f"{n} ({os.path.basename(r['log'])})"
            for n, r in zip(names, rep["ranks"])]


def check_against_report(text, rep):
    head, rows = table(text)
    nodes = [f"node:{n['host']}" for n in rep["nodes"]]
    logs = log_columns(rep)
    assert head == ["t", "wall", "job", "rank_min", "rank_median", "rank_max"] + nodes + logs
    assert all(len(r) == len(head) for r in rows)
    # the grid: bins of report's width from the job's start
    ts = [float(r[0]) for r in rows]
    bin_ = rep["job"]["bin"]
    assert ts[0] == 0 and all(abs(b - a - bin_) < 1e-3 for a, b in zip(ts, ts[1:])), ts[:5]
    assert ts[-1] <= rep["job"]["duration"] + bin_
    offsets = [float(r[1]) - float(r[0]) for r in rows]  # wall = start + t, to the ms
    assert max(offsets) - min(offsets) <= 0.002, (min(offsets), max(offsets))
    # each column's highest is report's peak, in KiB (report's bytes / 1024)
    assert highest(column(head, rows, "job")) * 1024 == rep["job"]["peak"]
    for name, node in zip(nodes, rep["nodes"]):
        assert highest(column(head, rows, name)) * 1024 == node["peak"], name
    for name, rank in zip(logs, rep["ranks"]):
        assert highest(column(head, rows, name)) * 1024 == rank["peak"], name
    # the band: lowest <= median <= highest, within the ranks' columns
    lo, med, hi = (column(head, rows, c) for c in ("rank_min", "rank_median", "rank_max"))
    for a, m, b in zip(lo, med, hi):
        assert (a is None) == (b is None) and (a is None or a <= m <= b)
    assert highest(hi) * 1024 == max(r["peak"] for r in rep["ranks"])
    return head, rows


def test_csv_of_a_job(job_dir, tmp_path):
    rep = json.loads(run("report", "--json", job_dir).stdout)
    assert rep["job"]["logs"] == 4
    p = run("export", "--csv", job_dir)
    assert p.returncode == 0 and not p.stderr, p
    head, rows = check_against_report(p.stdout, rep)
    # what the ranks held: rank N at least (N + 1) * 20 MiB
    for k, (name, rank) in enumerate(zip(log_columns(rep), rep["ranks"])):
        n = int(os.path.basename(rank["log"]).split(".")[1])
        assert highest(column(head, rows, name)) >= (n + 1) * 20 * 1024, name

    # the same job named log by log, as a pattern, into a file
    logs = sorted(job_dir.glob("r.*.jsonl"))
    p2 = run("export", "--csv", *logs)
    assert p2.returncode == 0
    rep2 = json.loads(run("report", "--json", *logs).stdout)
    check_against_report(p2.stdout, rep2)
    p3 = run("export", "--csv", f"{job_dir}/r.*.jsonl")
    assert p3.returncode == 0 and p3.stdout == p.stdout
    out = tmp_path / "job.csv"
    p4 = run("export", "--csv", "-o", out, job_dir)
    assert p4.returncode == 0 and p4.stdout == "" and out.read_text() == p.stdout

    # one log: the process table, as before
    one = run("export", "--csv", logs[0])
    assert one.returncode == 0 and one.stdout.startswith("t,pid,ppid,cmd,"), one


def test_formats_of_one_log_refuse_a_job(job_dir, tmp_path):
    for args in (["--perfetto"], ["--folded"], ["--gnuplot", tmp_path / "gp"],
                 ["--csv", "--threads"]):
        p = run("export", *args, job_dir)
        assert p.returncode == 64, (args, p)
        assert p.stderr.startswith("memline: export: ") and p.stderr.count("\n") == 1, p.stderr
        assert "one log" in p.stderr and p.stdout == "", p
    assert not (tmp_path / "gp").exists()
    p = run("export", "--csv", tmp_path / "nothing-*.jsonl")
    assert p.returncode == 66 and "matches no file" in p.stderr, p


def test_names_are_csv_fields(job_dir, tmp_path):
    """Hosts with a comma, quotes, a newline and control characters: the node and log columns
    read back as report --json names them."""
    d = tmp_path / "hostile"
    d.mkdir()
    for k, log in enumerate(sorted(job_dir.glob("r.*.jsonl"))[:2]):
        lines = log.read_text().splitlines(keepends=True)
        header = json.loads(lines[0])
        header["host"] = f"{HOSTILE}{k}"
        (d / log.name).write_text(json.dumps(header) + "\n" + "".join(lines[1:]))
    rep = json.loads(run("report", "--json", d).stdout)
    assert {n["host"] for n in rep["nodes"]} == {f"{HOSTILE}0", f"{HOSTILE}1"}
    p = run("export", "--csv", d)
    assert p.returncode == 0, p
    head, rows = check_against_report(p.stdout, rep)
    assert f"node:{HOSTILE}0" in head and f"node:{HOSTILE}1" in head
