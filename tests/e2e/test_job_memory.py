"""The job's memory shown first: `memline status` on hand-written format 2 logs (a cgroup log
whose job peak differs from the RSS sum, a PSS log, processes seen only at exit, processes
that may have been missed), and the closing summary line of `memline run` on a real process,
against the log's own numbers. (The text and JSON reports are unit-tested in
tests/unit/test_run.c; format 1 logs render as before: test_golden.py.)"""

import re
import subprocess
from pathlib import Path

from conftest import MEMLINE, MEMWORK, TIMEOUT, end_of, read_log

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "logs"


def status(name):
    p = subprocess.run([str(MEMLINE), "status", str(FIXTURES / name)], capture_output=True,
                       text=True, timeout=TIMEOUT)
    return p.returncode, p.stdout


def test_status_leads_with_the_cgroup_peak():
    code, out = status("cgroup.jsonl")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "completed"
    assert "peak memory: 511.0 MiB at 3.2 s (cgroup); RSS sum 2.5 GiB" in lines, out
    assert "processes: 5" in lines, out


def test_status_pss_and_rss_methods():
    code, out = status("pss.jsonl")
    assert "peak memory: 200.2 MiB at 500 ms (PSS sum); RSS sum 600.0 MiB" in out.splitlines()
    code, out = status("atexit.jsonl")
    assert code == 1, out
    # method rss: the job's memory is the RSS sum, said once
    assert "peak memory: 52.9 MiB at 500 ms (RSS sum)" in out.splitlines(), out


def test_status_says_how_many_may_have_been_missed():
    code, out = status("missed.jsonl")
    assert code == 0
    assert ("processes: 2; 7 more may have been missed (run as root or with --trace to see "
            "them)") in out.splitlines(), out


def test_status_of_a_format1_log_says_nothing_new():
    code, out = status("complete.jsonl")
    assert "peak memory" not in out and "processes:" not in out, out


def test_summary_line_names_the_method(tmp_path):
    log = tmp_path / "run.jsonl"
    p = subprocess.run([str(MEMLINE), "run", "-o", str(log), "--", str(MEMWORK), "alloc", "30M",
                        "sleep", "200"], capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    records = read_log(log)
    header, end = records[0], end_of(records)
    method = header["memory"]["method"]
    words = {"rss": "RSS sum", "pss": "PSS sum", "cgroup": "cgroup"}[method]
    line = [x for x in p.stderr.splitlines() if x.startswith("memline: completed after")]
    assert line, p.stderr
    m = re.search(r"; peak memory ([0-9.]+) MiB \(([^)]*)\)(, RSS sum [0-9.]+ [KMG]iB)?; "
                  r"1 process; log: ", line[0])
    assert m, f"expected the job's peak memory and its method in the summary: {line[0]!r}"
    assert m.group(2) == words, line[0]
    # the number is the log's own job peak, as report shows it (one decimal of a MiB)
    assert abs(float(m.group(1)) - end["job_peak"] / 1024) <= 0.05, (line[0], end)
    assert end["job_peak"] >= 30 * 1024, f"expected the 30 MiB the workload holds: {end}"
