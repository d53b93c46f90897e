"""`memline export` on a real recording: the CSV read back with Python's csv module, the Chrome
trace JSON loaded and checked, the gnuplot files written (and drawn by gnuplot when it is
installed); -o writes a file whole; errors have their own exit codes."""

import collections
import csv
import io
import json
import shutil
import subprocess

import pytest

from conftest import MEMLINE, MEMWORK, of_type

MIB = 1024


def _export_available():
    try:
        p = subprocess.run([str(MEMLINE), "export", "--help"], capture_output=True, timeout=30)
    except OSError as e:
        return False, f"cannot run {MEMLINE}: {e}"
    if p.returncode != 0:
        return False, ("`memline export --help` fails: the export command is not in "
                       "src/memline.c's command table yet")
    return True, ""


_ok, _why = _export_available() if MEMLINE.exists() else (False, f"no {MEMLINE}")
pytestmark = pytest.mark.skipif(not _ok, reason=_why)

HOSTILE = "cmd, with \"quotes\"\nand a newline `id` 'x'"


@pytest.fixture
def recording(ml):
    """A run of sh with two memwork children, an event, a span and a hostile event label."""
    m, w = f'"{MEMLINE}"', f'"{MEMWORK}"'
    script = (f'{m} event --begin "load phase"; {w} alloc 30M sleep 300; {m} event "loaded"; '
              f'{w} child "alloc 20M sleep 300" sleep 100 wait; {m} event "$1"; '
              f'{m} event --end "load phase"')
    run = ml.record(["sh", "-c", script, "sh", HOSTILE], opts=["-i", "0.05"])
    assert run.code == 0, run.describe()
    return run


def test_csv_reads_back(ml, recording):
    p = ml.cmd("export", "--csv", recording.log)
    assert p.returncode == 0, p.stderr
    rows = list(csv.reader(io.StringIO(p.stdout, newline="")))
    header = rows[0]
    assert header[:4] == ["t", "pid", "ppid", "cmd"] and header[-1] == "state", header
    assert "rss" in header and "pid" not in header[2:], header
    samples = of_type(recording.records, "sample")
    assert len(rows) - 1 == sum(len(s["p"]) for s in samples), \
        "expected one row per process per sample"
    assert all(len(r) == len(header) for r in rows), "expected every row to have every column"
    rss = header.index("rss")
    by_pid = collections.defaultdict(list)
    for r in rows[1:]:
        by_pid[int(r[1])].append(r)
    # the memwork that allocated 30 MiB shows it in its rows
    memwork = [pid for pid, rs in by_pid.items() if "memwork alloc 30M" in rs[0][3]]
    assert memwork, f"expected a row for 'memwork alloc 30M': {[rs[0][3] for rs in by_pid.values()]}"
    assert max(int(r[rss]) for r in by_pid[memwork[0]] if r[rss]) >= 30 * MIB
    # the shell's command line holds the hostile argument, read back whole
    sh = [rs[0][3] for rs in by_pid.values() if rs[0][3].startswith("sh -c")]
    assert sh and "'cmd, with \"quotes\"\nand a newline `id` '\\''x'\\'''" in sh[0], sh
    # a format 2 log: the job's memory of each row's sample, by the log's method
    job, job_peak = header.index("job"), header.index("job_peak")
    tree = {n: i for i, n in enumerate(recording.records[0]["tree_fields"])}
    # rows come sample by sample, one per process; two samples can share a millisecond
    want = [s["tree"] for s in samples for _ in s["p"]]
    for r, w in zip(rows[1:], want):
        assert (r[job], r[job_peak]) == (str(w[tree["job"]]), str(w[tree["job_peak"]])), r


def test_perfetto_loads(ml, recording, tmp_path):
    out = tmp_path / "trace.json"
    p = ml.cmd("export", "--perfetto", "-o", out, recording.log)
    assert p.returncode == 0 and p.stdout == "", p.stderr
    trace = json.loads(out.read_text())
    assert trace["displayTimeUnit"] == "ms"
    events = trace["traceEvents"]
    kinds = collections.Counter(e["ph"] for e in events)
    records = recording.records
    n_rss = sum(1 for s in of_type(records, "sample") for v in s["p"] if v[1] is not None)
    assert kinds["C"] >= n_rss + len(of_type(records, "sample")), kinds
    labels = [e["name"] for e in events if e["ph"] == "i"]
    assert labels == ["loaded", HOSTILE], labels
    spans = [e for e in events if e["ph"] == "X"]
    assert [s["name"] for s in spans] == ["load phase"], spans
    assert spans[0]["dur"] > 300_000, f"expected the span to last over 300 ms: {spans[0]}"
    names = {e["pid"]: e["args"]["name"] for e in events if e["name"] == "process_name"}
    assert any("memwork alloc 30M" in n for n in names.values()), names
    peak = max(e["args"]["bytes"] for e in events if e["ph"] == "C" and "memwork alloc 30M" in
               names.get(e["pid"], ""))
    assert peak >= 30 * 1024 * 1024
    for e in events:
        if e["ph"] != "M":
            assert isinstance(e["ts"], int) and e["ts"] >= 0, e


def test_gnuplot_files(ml, recording, tmp_path):
    out = tmp_path / "plots" / "run1"
    p = ml.cmd("export", "--gnuplot", out, recording.log)
    assert p.returncode == 0, p.stderr
    dat, plt = out / "memline.dat", out / "memline.plt"
    lines = [l for l in dat.read_text().splitlines() if not l.startswith("#")]
    assert len(lines) == len(of_type(recording.records, "sample"))
    assert max(float(l.split()[1]) for l in lines) >= 30 * MIB  # the tree held 30 MiB
    script = plt.read_text()
    assert "set terminal pngcairo" in script and "`" not in script
    if not shutil.which("gnuplot"):
        pytest.skip("gnuplot is not installed (Debian: gnuplot-nox); the files are written")
    g = subprocess.run(["gnuplot", str(plt)], cwd=tmp_path, capture_output=True, text=True,
                       timeout=120)
    assert g.returncode == 0, f"gnuplot failed: {g.stderr}"
    png = out / "memline.png"
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "expected a PNG"
    assert len(data) > 10_000, f"expected a PNG with something drawn, got {len(data)} bytes"


def test_output_file_replaced_whole(ml, recording, tmp_path):
    out = tmp_path / "table.csv"
    out.write_text("old")
    p = ml.cmd("export", "--csv", "-o", out, recording.log)
    assert p.returncode == 0, p.stderr
    assert out.read_text().startswith("t,pid,ppid,cmd,")
    assert sorted(x.name for x in tmp_path.iterdir() if x.name.startswith(".table")) == [], \
        "expected no temporary file left behind"


def test_errors(ml, recording, tmp_path):
    def code(*args):
        p = ml.cmd("export", *args)
        assert p.stdout == "" and len(p.stderr.strip().splitlines()) == 1, (p.stdout, p.stderr)
        return p.returncode

    assert code(recording.log) == 64  # no format
    assert code("--csv", "--perfetto", recording.log) == 64
    assert code("--gnuplot", tmp_path / "d", "-o", tmp_path / "x", recording.log) == 64
    assert code("--bogus", recording.log) == 64
    assert code("--csv", tmp_path / "missing.jsonl") == 66
    notalog = tmp_path / "notalog.jsonl"
    notalog.write_text("hello\n")
    assert code("--csv", notalog) == 65
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert code("--gnuplot", afile, recording.log) == 73
    assert code("--csv", "-o", tmp_path / "nodir" / "x.csv", recording.log) == 73
    assert not (tmp_path / "nodir").exists()


def test_default_log_is_the_newest(ml, recording, tmp_path):
    shutil.copy(recording.log, tmp_path / "memline-sh-20260101-000000.jsonl")
    p = ml.cmd("export", "--csv", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("t,pid,ppid,cmd,")
