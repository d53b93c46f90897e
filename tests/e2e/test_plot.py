"""`memline plot`: PNG, SVG and PDF drawn from logs written here, checked for what a person would
see: the PNG's size (from its IHDR) and lines in the plot area (pixels decoded with zlib, no
PIL), the SVG's text layer holding the event labels (parsed with xml.etree), a PDF with pages;
overlaid logs, the dark theme, every metric, damaged logs (a warning, still a plot) and the
errors for bad input, each with its exit code and no half-written output left behind.
`plot --threads` on the threads fixture: one process's RSS, heap and threads' heap with each
thread's peak, overlaid and stacked; its threads' CPU without heap numbers; its errors.

MEMLINE_PLOT_BENCH=1 also times a plot of one million process-samples (printed, not asserted).
"""

import json
import os
import struct
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import pytest

from conftest import (HOSTILE_THREAD, MEMLINE, MEMWORK, THREADS_FIXTURE, TIMEOUT, of_type,
                      read_log, threads_log)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "logs"


def _plot_is_wired():
    try:
        r = subprocess.run([str(MEMLINE), "plot", "--help"], capture_output=True, timeout=30)
    except OSError:
        return False
    return r.returncode == 0


pytestmark = pytest.mark.skipif(
    not _plot_is_wired(), reason="'memline plot' is not in src/memline.c's command table yet"
)

HOSTILE = '</text><script>x</script>&"\x1b'


def header(command=("python3", "train.py")):
    return {
        "type": "header", "format": 1, "memline": "0.1.0", "mode": "run", "host": "h",
        "start": "2026-01-01T00:00:00.000Z", "start_unix": 1767225600.0,
        "command": list(command), "pid": 100, "pids": [100], "cwd": "/", "job": {},
        "page_size": 4096, "clk_tck": 100, "mem_total": 16000000, "kernel": "6.1",
        "interval": {"fixed": None, "min": 0.01, "max": 5}, "peak_reset": True, "pss": True,
        "fields": ["pid", "rss", "anon", "file", "shmem", "peak", "vms", "swap", "pss", "utime",
                   "stime", "minflt", "majflt", "threads", "rchar", "wchar", "read_bytes",
                   "write_bytes", "state"],
        "tree_fields": ["nproc", "rss", "anon", "file", "shmem", "peak", "vms", "swap", "pss",
                        "utime", "stime"],
    }


def write_log(path, n_procs=8, n_samples=200, dt=0.05, events=(), spans=(), status="completed",
              command=("python3", "train.py"), end=True):
    """A synthetic log: n_procs processes whose RSS ramps up and down (process 0 the biggest),
    sampled n_samples times every dt seconds; events as (t, label), spans as (t0, t1, name) or
    (t0, t1, name, tid) of pid 100."""
    out = [json.dumps(header(command))]
    pids = [100 + i for i in range(n_procs)]
    for i, pid in enumerate(pids):
        out.append(json.dumps({"type": "proc", "t": 0.0, "pid": pid, "ppid": 100 if i else 1,
                               "start": 0.0, "comm": f"w{i}", "argv": ["worker", str(i)]}))
    marks = [(t, {"type": "event", "t": t, "label": label, "pid": 100, "tid": 100})
             for t, label in events]
    for span in spans:
        t0, t1, name = span[:3]
        tid = span[3] if len(span) > 3 else 100
        marks.append((t0, {"type": "span", "t": t0, "phase": "begin", "name": name, "pid": 100,
                           "tid": tid}))
        marks.append((t1, {"type": "span", "t": t1, "phase": "end", "name": name, "pid": 100,
                           "tid": tid}))
    marks.sort(key=lambda m: m[0])
    mi = 0
    for k in range(n_samples):
        t = round((k + 1) * dt, 3)
        while mi < len(marks) and marks[mi][0] <= t:
            out.append(json.dumps(marks[mi][1]))
            mi += 1
        ramp = min(k, n_samples - k) + 1
        p = []
        for i, pid in enumerate(pids):
            rss = (ramp * 1024) // (i + 1) + 1000
            cpu = k * 10 * (i % 3)
            p.append([pid, rss, rss - 500, 500, 0, rss, rss * 3, i * 10, rss // 2, cpu, cpu // 2,
                      0, 0, 1, 0, 0, 0, 0, "R"])
        tree = [n_procs, sum(x[1] for x in p), 0, 0, 0, None, sum(x[6] for x in p),
                sum(x[7] for x in p), sum(x[8] for x in p), 0, 0]
        out.append(json.dumps({"type": "sample", "t": t, "avail": 1000000, "tree": tree,
                               "p": p}, separators=(",", ":")))
    for _, m in marks[mi:]:
        out.append(json.dumps(m))
    if end:
        t_end = round(n_samples * dt + dt, 3)
        out.append(json.dumps({"type": "end", "t": t_end, "status": status,
                               "exit_code": 0 if status == "completed" else 1, "signal": None,
                               "core": False, "oom_killed": [], "alive": [],
                               "samples": n_samples, "self_utime": 1, "self_stime": 1,
                               "events": len(events) + 2 * len(spans)}))
    Path(path).write_text("\n".join(out) + "\n")
    return path


# fontconfig's caches are not reported by LeakSanitizer: tests/lsan.supp, set by `make e2e`.
_ENV = dict(os.environ)


def plot(*args, check=True):
    r = subprocess.run([str(MEMLINE), "plot", *map(str, args)], capture_output=True,
                       text=True, timeout=120, env=_ENV)
    if check:
        assert r.returncode == 0, f"memline plot {args} failed ({r.returncode}): {r.stderr}"
    return r


# ---- reading a PNG with zlib ----


def read_png(path):
    """(width, height, rows of (r, g, b) tuples) of an 8-bit RGB or RGBA PNG."""
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG: {data[:8]!r}"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    assert ihdr, "no IHDR chunk"
    w, h, depth, ctype, _, _, interlace = ihdr
    assert depth == 8 and ctype in (2, 6) and interlace == 0, f"unexpected PNG kind {ihdr}"
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pr) & 255
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(w)])
        prev = line
    return w, h, rows


def plot_area_ink(rows, w, h):
    """Pixels inside the plot area (well inside the axes, left of the legend) that differ
    clearly from the background, taken from the area's own corner."""
    x0, x1, y0, y1 = 120, w - 380, 140, h - 70
    bg = rows[y1 - 5][w - 330 - 60]
    ink = 0
    for y in range(y0, y1):
        row = rows[y]
        for x in range(x0, x1):
            if sum(abs(p - q) for p, q in zip(row[x], bg)) > 120:
                ink += 1
    return ink, bg


# ---- tests ----


@pytest.fixture
def log(tmp_path):
    return write_log(tmp_path / "run.jsonl",
                     events=[(2.0, "model loaded"), (5.0, "epoch 1"), (7.5, HOSTILE)],
                     spans=[(1.0, 4.0, "load"), (4.5, 9.0, "train")])


def test_png_size_and_lines(tmp_path, log):
    out = tmp_path / "p.png"
    plot(log, "-o", out)
    w, h, rows = read_png(out)
    assert (w, h) == (1200, 700)
    ink, bg = plot_area_ink(rows, w, h)
    assert sum(bg) > 600, f"expected a light background, got {bg}"
    assert ink > 2000, f"expected lines drawn in the plot area, found {ink} non-background pixels"
    plot(log, "-o", tmp_path / "small.png", "--width", "640", "--height", "400")
    w, h, _ = read_png(tmp_path / "small.png")
    assert (w, h) == (640, 400)


def test_png_blank_log_has_no_lines(tmp_path):
    """The ink count can fail: a log without samples leaves the plot area empty."""
    empty = write_log(tmp_path / "empty.jsonl", n_samples=0)
    out = tmp_path / "e.png"
    plot(empty, "-o", out)
    w, h, rows = read_png(out)
    ink, _ = plot_area_ink(rows, w, h)
    assert ink < 1500, f"expected an almost empty plot area, found {ink} pixels"


def svg_texts(path):
    root = ET.parse(path).getroot()
    return [el.text or "" for el in root.iter() if el.tag.endswith("text")]


def test_svg_has_event_labels_as_text(tmp_path, log):
    out = tmp_path / "p.svg"
    plot(log, "-o", out)
    texts = svg_texts(out)
    assert "model loaded" in texts and "epoch 1" in texts, texts
    assert "load" in texts and "train" in texts, "expected the span names"
    assert any(t.startswith("peak ") for t in texts), "expected the peak's label"
    assert any(t.startswith("completed in") for t in texts), "expected how the run ended"
    # the hostile label is text, its control character escaped; no element came from it
    assert '</text><script>x</script>&"\\x1b' in texts, texts
    root = ET.parse(out).getroot()
    assert not [el for el in root.iter() if el.tag.endswith("script")]


def svg_boxes(path, texts):
    """The boxes (x0, y0, x1, y1) of the text layer's elements whose text is in texts."""
    root = ET.parse(path).getroot()
    out = []
    for el in root.iter():
        if el.tag.endswith("text") and el.text in texts:
            x, y = float(el.get("x")), float(el.get("y"))
            size, w = float(el.get("font-size")), float(el.get("textLength"))
            out.append((el.text, (x, y - size, x + w, y)))
    return out


def overlaps(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_overlapping_spans_of_two_threads_have_apart_labels(tmp_path):
    """Spans of two threads that overlap in time: their names go into rows of their own, so no
    two names' boxes in the SVG's text layer intersect; the ones there is no room for are
    counted."""
    names = ["loader thread phase", "trainer thread phase", "loader second phase",
             "trainer eval"]
    spans = [(1.0, 6.0, names[0], 101), (1.2, 6.5, names[1], 102), (6.2, 9.0, names[2], 101),
             (6.6, 9.5, names[3], 102)]
    log = write_log(tmp_path / "threads.jsonl", spans=spans)
    out = tmp_path / "threads.svg"
    plot(log, "-o", out)
    boxes = svg_boxes(out, names)
    assert sorted(t for t, _ in boxes) == sorted(names), boxes
    for i, (ta, a) in enumerate(boxes):
        for tb, b in boxes[i + 1:]:
            assert not overlaps(a, b), f"the labels {ta!r} {a} and {tb!r} {b} collide"

    # more overlapping spans than rows: some are counted instead of drawn over each other
    many = [(1.0 + i * 0.01, 8.0, f"phase of thread {i}", 101 + i) for i in range(6)]
    log = write_log(tmp_path / "many.jsonl", spans=many)
    out = tmp_path / "many.svg"
    plot(log, "-o", out)
    boxes = svg_boxes(out, [m[2] for m in many])
    for i, (ta, a) in enumerate(boxes):
        for tb, b in boxes[i + 1:]:
            assert not overlaps(a, b), f"the labels {ta!r} {a} and {tb!r} {b} collide"
    assert f"+{6 - len(boxes)} spans not labelled" in svg_texts(out), svg_texts(out)


def test_pdf(tmp_path, log):
    out = tmp_path / "p.pdf"
    plot(log, "-o", out, "--metric", "cpu")
    data = out.read_bytes()
    assert data.startswith(b"%PDF-"), data[:20]
    assert b"/Type /Page" in data and b"%%EOF" in data[-64:]


def test_overlay_two_logs(tmp_path, log):
    other = write_log(tmp_path / "second.jsonl", n_procs=3, n_samples=80, dt=0.2,
                      command=("sh", "-c", "make -j8"), status="failed")
    out = tmp_path / "two.svg"
    plot(log, other, "-o", out)
    texts = " | ".join(svg_texts(out))
    assert "run.jsonl" in texts and "second.jsonl" in texts, texts
    assert "python3 train.py" in texts and "make -j8" in texts
    assert "failed" in texts
    png = tmp_path / "two.png"
    plot(log, other, "-o", png)
    w, h, rows = read_png(png)
    assert plot_area_ink(rows, w, h)[0] > 2000


def test_overlay_labels_tell_runs_apart(tmp_path):
    """Two runs of one command with different arguments, and two identical commands: each log's
    legend entry is whole (its own text element in the SVG's text layer, not cut) and differs
    from the other's, in the SVG and in the HTML page's data."""
    lr = tmp_path / "lr"
    lr.mkdir()
    a = write_log(lr / "a.jsonl", command=("python3", "train.py", "--lr", "0.1", "--seed", "7"))
    b = write_log(lr / "b.jsonl", command=("python3", "train.py", "--lr", "0.01", "--seed", "7"))
    out = tmp_path / "lr.svg"
    plot(a, b, "-o", out)
    texts = svg_texts(out)
    assert "--lr 0.1" in texts and "--lr 0.01" in texts, texts
    data = html_data(plot_html(tmp_path, a, b))
    assert [r["label"] for r in data["runs"]] == ["--lr 0.1", "--lr 0.01"]

    # the same command twice: the logs' names (the directories too, when the names are alike)
    for d in ("x", "y"):
        (tmp_path / d).mkdir()
    same = [write_log(tmp_path / d / "run.jsonl") for d in ("x", "y")]
    out = tmp_path / "same.svg"
    plot(*same, "-o", out)
    texts = svg_texts(out)
    assert "x/run" in texts and "y/run" in texts, texts
    data = html_data(plot_html(tmp_path, *same))
    assert [r["label"] for r in data["runs"]] == ["x/run", "y/run"]

    # labels given: used as they are, wrapped over lines rather than cut
    long_a = "baseline run with the default learning rate and all of the augmentations on"
    out = tmp_path / "given.svg"
    plot(a, "--label", long_a, b, "--label", "tuned", "-o", out)
    texts = svg_texts(out)
    assert "tuned" in texts, texts
    lines = [t for t in texts if t and t in long_a]
    assert len(lines) > 1 and " ".join(lines) == long_a, \
        f"expected the long label whole, over several lines: {lines}"
    r = plot(a, b, "--label", "only one", "-o", tmp_path / "x.svg", check=False)
    assert r.returncode == 64 and "--label" in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert not (tmp_path / "x.svg").exists()


def plot_html(tmp_path, *logs):
    out = tmp_path / "page.html"
    plot(*logs, "-o", out)
    return out


ORANGE = (255, 128, 13)  # the first process's line (palette[0] in lib/render/plot-cairo.c)


def colour_pixels(rows, w, h, colour, tol=40):
    """Pixels of the plot area within tol of colour."""
    n = 0
    for y in range(60, h - 50):
        for x in range(80, w - 300):
            if sum(abs(p - q) for p, q in zip(rows[y][x], colour)) <= tol:
                n += 1
    return n


def test_single_process_line_is_not_hidden(tmp_path):
    """A run of one process: the tree's line is that process's, and drawn over it would hide
    it; the process's line shows (on a pale band for the tree) and the legend says the tree is
    the same line. A process that is most of a two-process tree (a shell and its child) shows
    on the tree's line too: the tree goes under the processes."""
    one = write_log(tmp_path / "one.jsonl", n_procs=1)
    png = tmp_path / "one.png"
    plot(one, "-o", png)
    w, h, rows = read_png(png)
    seen = colour_pixels(rows, w, h, ORANGE)
    assert seen > 300, f"expected the process's orange line visible, {seen} orange pixels"
    svg = tmp_path / "one.svg"
    plot(one, "-o", svg)
    assert "whole tree: the same as its only process" in svg_texts(svg)

    # a shell of 100 KiB and its child: the tree is the child's line but for a pixel
    records = [json.loads(x) for x in
               write_log(tmp_path / "two.jsonl", n_procs=2).read_text().splitlines()]
    for r in records:
        if r["type"] == "sample":
            r["p"][1][1] = 100
            r["tree"][1] = r["p"][0][1] + 100
    two = tmp_path / "two.jsonl"
    two.write_text("".join(json.dumps(r) + "\n" for r in records))
    png = tmp_path / "two.png"
    plot(two, "-o", png)
    w, h, rows = read_png(png)
    seen = colour_pixels(rows, w, h, ORANGE)
    assert seen > 300, f"expected the big child's orange line visible, {seen} orange pixels"


def test_dark(tmp_path, log):
    out = tmp_path / "d.png"
    plot(log, "-o", out, "--dark")
    w, h, rows = read_png(out)
    ink, bg = plot_area_ink(rows, w, h)
    assert sum(bg) < 200, f"expected a dark background, got {bg}"
    assert ink > 2000


@pytest.mark.parametrize("metric", ["rss", "pss", "vms", "swap", "cpu"])
def test_each_metric(tmp_path, log, metric):
    out = tmp_path / f"{metric}.png"
    plot(log, "-o", out, "--metric", metric, "--top", "3")
    w, h, rows = read_png(out)
    assert plot_area_ink(rows, w, h)[0] > 1000, f"expected lines for --metric {metric}"


def test_many_events_are_not_all_labelled(tmp_path):
    events = [(0.1 + i * 0.02, f"step {i}") for i in range(300)]
    busy = write_log(tmp_path / "busy.jsonl", events=events)
    out = tmp_path / "busy.svg"
    plot(busy, "-o", out)
    texts = svg_texts(out)
    labelled = [t for t in texts if t.startswith("step ")]
    assert 0 < len(labelled) < 300
    assert f"+{300 - len(labelled)} events not labelled" in texts


@pytest.mark.parametrize("name", ["truncated.jsonl", "corrupt.jsonl"])
def test_damaged_fixture_still_plots(tmp_path, name):
    out = tmp_path / "d.png"
    r = plot(FIXTURES / name, "-o", out)
    assert "warning" in r.stderr, f"expected a warning about {name}: {r.stderr!r}"
    read_png(out)


def test_cut_log_plots_what_is_readable(tmp_path):
    full = write_log(tmp_path / "full.jsonl", end=False)
    data = full.read_bytes()
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(data[: len(data) * 2 // 3])  # mid-line, no end record
    middle = data.split(b"\n")
    middle[50] = b'{"type":"sample","t":'  # a corrupt line in the middle
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"\n".join(middle))
    for log_ in (cut, bad):
        out = tmp_path / (log_.stem + ".png")
        r = plot(log_, "-o", out)
        assert "warning" in r.stderr, r.stderr
        w, h, rows = read_png(out)
        assert plot_area_ink(rows, w, h)[0] > 2000
    svg = tmp_path / "cut.svg"
    plot(cut, "-o", svg)
    assert any(t.startswith("incomplete") for t in svg_texts(svg))


def html_data(path):
    """The JSON an HTML report carries (lib/render/plot-html.c)."""
    html = Path(path).read_text(encoding="utf-8")
    start = html.index('<script type="application/json" id="memline-data">')
    start = html.index(">", start) + 1
    return json.loads(html[start:html.index("</script>", start)])


SENDER = """import os, time
with open(os.environ["MEMLINE_EVENTS"], "a") as f:
    for i in range(1000):
        f.write("tick %d\\n" % i)
        f.flush()
        time.sleep(0.002)
"""


def test_cpu_percent_of_a_busy_process_with_fast_samples(tmp_path):
    """A busy single-threaded process (memwork churn) while another sends an event every 2 ms,
    so memline samples every few ms (the extra sample 2 ms after a mark). CPU times move in
    10 ms ticks: between samples 2 ms apart, one tick read as 500 %. Its CPU% line never goes
    above 100 % (one thread); with the thread count taken out of the log, the 20-tick window
    alone keeps it within 110 % (each of utime and stime is cut to a tick: 2 ticks in 20) plus
    1 % for the sample times' own jitter; and the points add up to the CPU time the kernel
    reported for the process at its exit, within 10 % and 60 ms (the CPU after its last sample
    and the cap's clipping)."""
    log = tmp_path / "cpu.jsonl"
    sender = tmp_path / "sender.py"
    sender.write_text(SENDER)
    r = subprocess.run([str(MEMLINE), "run", "-q", "-o", str(log), "--", "sh", "-c",
                        f"{sys.executable} {sender} & exec {MEMWORK} churn 3s"],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    records = read_log(log)
    busy = records[0]["pid"]
    ts = [s["t"] for s in of_type(records, "sample")]
    fast = sum(1 for a, b in zip(ts, ts[1:]) if b - a < 0.006 and a > 1.0)
    assert fast >= 50, f"expected many samples a few ms apart after events, found {fast}"
    exit_ = [e for e in of_type(records, "exit") if e["pid"] == busy][0]
    truth_ms = exit_["utime"] + exit_["stime"]
    assert truth_ms > 500, f"expected the churn to use CPU: {exit_}"

    def busy_line(log_):
        out = tmp_path / (log_.stem + ".html")
        plot(log_, "-m", "cpu", "-o", out)
        run = html_data(out)["runs"][0]
        line = [s for s in run["series"] if s.get("pid") == busy]
        assert line, f"expected a CPU line for the busy process {busy}"
        return [(t, v) for t, v in zip(run["t"], line[0]["v"]) if v is not None]

    points = busy_line(log)
    assert len(points) >= 5, points
    top = max(v for _, v in points)
    assert top <= 100.0, f"expected no CPU% above 100 % for one thread, got {top}"
    used = sum(v * 10 * (t - (points[i - 1][0] if i else 0)) for i, (t, v) in enumerate(points))
    assert abs(used - truth_ms) <= 0.1 * truth_ms + 60, \
        f"expected the CPU% points to add up to {truth_ms} ms, they make {used:.0f} ms"

    # no thread count: the window alone bounds the error
    h = records[0]
    pos = h["fields"].index("threads")
    uncapped = tmp_path / "nothreads.jsonl"
    with open(uncapped, "w") as f:
        for rec in records:
            if rec["type"] == "sample":
                for p in rec["p"]:
                    p[pos] = None
            f.write(json.dumps(rec) + "\n")
    top = max(v for _, v in busy_line(uncapped))
    assert top <= 111.0, f"expected the 20-tick window to keep CPU% within 111 %, got {top}"


def no_leftovers(d):
    return [p.name for p in Path(d).iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("args,code,words", [
    (["{log}"], 64, "no output"),
    (["{log}", "-o", "{tmp}/x.gif"], 64, "format"),
    (["{log}", "-o", "{tmp}/x.png", "--metric", "heap"], 64, "--metric"),
    (["{log}", "-o", "{tmp}/x.png", "--top", "-1"], 64, "--top"),
    (["{log}", "-o", "{tmp}/x.png", "--width", "abc"], 64, "--width"),
    (["{tmp}/missing.jsonl", "-o", "{tmp}/x.png"], 66, "missing.jsonl"),
    (["{notalog}", "-o", "{tmp}/x.png"], 65, "notalog"),
    (["{log}", "-o", "{tmp}/no/such/dir/x.png"], 73, "cannot create"),
])
def test_errors(tmp_path, log, args, code, words):
    subst = {"log": log, "tmp": tmp_path, "notalog": FIXTURES / "notalog.jsonl"}
    argv = [a.format(**subst) for a in args]
    r = plot(*argv, check=False)
    assert r.returncode == code, f"expected exit {code}, got {r.returncode}: {r.stderr}"
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], r.stderr
    assert not (tmp_path / "x.png").exists()
    assert not no_leftovers(tmp_path), no_leftovers(tmp_path)


def test_failed_write_keeps_old_output(tmp_path, log):
    out = tmp_path / "keep.png"
    out.write_bytes(b"old")
    r = plot(FIXTURES / "notalog.jsonl", "-o", out, check=False)
    assert r.returncode == 65
    assert out.read_bytes() == b"old"


@pytest.mark.skipif(not os.environ.get("MEMLINE_PLOT_BENCH"),
                    reason="the million-sample timing runs with MEMLINE_PLOT_BENCH=1")
def test_million_process_samples(tmp_path):
    big = write_log(tmp_path / "big.jsonl", n_procs=20, n_samples=50000, dt=0.01)
    out = tmp_path / "big.png"
    start = time.monotonic()
    plot(big, "-o", out)
    took = time.monotonic() - start
    print(f"\nmemline plot: 1,000,000 process-samples ({big.stat().st_size >> 20} MiB log) "
          f"to PNG in {took:.2f} s")
    w, h, rows = read_png(out)
    assert plot_area_ink(rows, w, h)[0] > 2000


def _file_size_limit(limit):
    """preexec_fn: files may grow to limit bytes; past it a write fails with EFBIG (the signal
    that would kill the writer, SIGXFSZ, is ignored, as a full disk would fail it)."""
    import resource
    import signal

    def set_limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return set_limit


@pytest.mark.parametrize("cmd", [["plot", "-o", "{out}.png"], ["plot", "-o", "{out}.svg"],
                                 ["plot", "-o", "{out}.html"], ["export", "--csv", "-o", "{out}.csv"],
                                 ["export", "--perfetto", "-o", "{out}.json"]],
                         ids=lambda c: " ".join(c[:2]) + c[-1][5:])
def test_a_write_that_fails_names_the_file_asked_for(tmp_path, log, cmd):
    """plot and export fail the same way when the file cannot be written: exit 74, one line
    naming the file the user gave (not the hidden temporary one), nothing left behind, and
    what was at the path kept."""
    argv = [a.format(out=tmp_path / "out") for a in cmd]
    target = Path(argv[-1])
    target.write_bytes(b"old")
    r = subprocess.run([str(MEMLINE), *argv, str(log)], capture_output=True, text=True,
                       timeout=120, env=_ENV, preexec_fn=_file_size_limit(512))
    assert r.returncode == 74, f"expected exit 74 for `memline {' '.join(argv)}`, got {r.returncode}: {r.stderr}"
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"memline: cannot write '{target}': "), r.stderr
    assert target.read_bytes() == b"old"
    assert not no_leftovers(tmp_path), no_leftovers(tmp_path)


# ---- the job's memory leads ----

def svg_labels(path):
    """The SVG text layer's labels as (text, x, y, width)."""
    root = ET.parse(path).getroot()
    return [(el.text or "", float(el.get("x")), float(el.get("y")), float(el.get("textLength")))
            for el in root.iter() if el.tag.endswith("text") and el.get("textLength")]


def axis_scales(labels):
    """From the SVG's axis labels, the functions from a value in GiB and a time in seconds to
    the picture's y and x: cairo's SVG has the PNG's coordinates at the same size."""
    ys = [(float(t.split()[0]), y - 3.5) for t, x, y, w in labels
          if t.endswith(" GiB") and t.split()[0].replace(".", "").isdigit()]
    bottom = max(y for t, x, y, w in labels if t.replace(".", "").isdigit())
    xs = [(float(t), x + w / 2) for t, x, y, w in labels
          if t.replace(".", "").isdigit() and y == bottom]
    (v0, y0), (v1, y1) = ys[0], ys[-1]
    (t0, x0), (t1, x1) = xs[0], xs[-1]
    return (lambda v: y0 + (v - v0) * (y1 - y0) / (v1 - v0),
            lambda t: x0 + (t - t0) * (x1 - x0) / (t1 - t0))


def test_plot_leads_with_the_job_memory(tmp_path):
    """A cgroup log whose job's memory (511 MiB) is a fifth of its RSS sum (2.5 GiB): the SVG's
    text layer names the method and the RSS sum, and marks the job's peak; in the PNG the
    leading line (the thick one in the tree's colour) runs at the job's memory, the RSS sum's
    lighter line far above it."""
    log = FIXTURES / "cgroup.jsonl"
    svg = tmp_path / "p.svg"
    plot(log, "-o", svg)
    texts = svg_texts(svg)
    assert "the job's memory: cgroup" in texts, texts
    assert "RSS sum: shared pages once per process" in texts, texts
    assert texts.index("the job's memory: cgroup") < texts.index(
        "RSS sum: shared pages once per process"), "expected the job's line first in the legend"
    assert "peak 511.0 MiB at 3.2 s" in texts, texts
    assert not any(t.startswith("peak 2.5 GiB") for t in texts), texts
    assert any("the job's memory (cgroup)" in t for t in texts), texts
    assert "whole tree" not in texts

    png = tmp_path / "p.png"
    plot(log, "-o", png)
    w, h, rows = read_png(png)
    y_of, x_of = axis_scales(svg_labels(svg))
    x = round(x_of(2.5))
    lead = (31, 120, 181)  # the tree's colour of the light theme, at full strength
    near = [y for y in range(h) if sum(abs(a - b) for a, b in zip(rows[y][x], lead)) < 40]
    job_y, sum_y = y_of(522500 / 1024 / 1024), y_of(5 * 512000 / 1024 / 1024)
    assert near, f"expected the leading line's colour in column {x}"
    assert all(abs(y - job_y) <= 4 for y in near), (
        f"expected the leading line at the job's memory (y {job_y:.0f}), found it at {near}")
    # the RSS sum: lighter (half strength), where the RSS sum is
    light = [y for y in range(h) if rows[y][x] != (255, 255, 255) and abs(y - sum_y) <= 3]
    assert light, f"expected the RSS sum's line near y {sum_y:.0f} in column {x}"
    assert all(sum(rows[y][x]) > sum(lead) + 150 for y in light), [rows[y][x] for y in light]


def test_plot_of_a_job_that_is_its_rss_sum(tmp_path):
    """Method rss: the job's memory is the RSS sum, drawn once and named so."""
    svg = tmp_path / "p.svg"
    plot(FIXTURES / "atexit.jsonl", "-o", svg)
    texts = svg_texts(svg)
    assert "the job's memory: RSS sum" in texts, texts
    assert not any(t.startswith("RSS sum:") for t in texts), texts
    svg = tmp_path / "pss.svg"
    plot(FIXTURES / "pss.jsonl", "-o", svg)
    texts = svg_texts(svg)
    assert "the job's memory: PSS sum" in texts and "peak 200.2 MiB at 500 ms" in texts, texts


def test_overlay_by_each_log_job_line(tmp_path):
    """Overlaid logs: each log's leading line, and peak, is its job's memory."""
    svg = tmp_path / "o.svg"
    plot(FIXTURES / "cgroup.jsonl", FIXTURES / "pss.jsonl", "-o", svg)
    texts = svg_texts(svg)
    assert "peak 511.0 MiB at 3.2 s" in texts and "peak 200.2 MiB at 500 ms" in texts, texts
    assert not any(t.startswith("peak 2.5 GiB") or t.startswith("peak 600.0 MiB")
                   for t in texts), texts


# ---- plot --threads ----


def text_layer(path):
    """The SVG's text layer: (text, (x0, y0, x1, y1)) of each element, in order."""
    root = ET.parse(path).getroot()
    out = []
    for el in root.iter():
        if el.tag.endswith("text") and el.get("textLength"):
            x, y = float(el.get("x")), float(el.get("y"))
            size, w = float(el.get("font-size")), float(el.get("textLength"))
            out.append((el.text or "", (x, y - size, x + w, y)))
    return out


def test_threads_heap_of_the_fixture(tmp_path):
    """The process with the largest heap (200): its RSS and heap, its threads by heap peak,
    each peak labelled (the loader's 42 MiB at 2.0 s, between samples: above its line's 40),
    labels apart, the hostile name escaped."""
    out = tmp_path / "t.svg"
    plot("--threads", THREADS_FIXTURE, "-o", out)
    layer = text_layer(out)
    texts = [t for t, _ in layer]
    assert texts[0] == "200 server: the live heap of its threads", texts
    assert texts[1].startswith("3 threads, with its heap and RSS · ./server --threads 3"), texts
    legend = texts[texts.index("RSS of the process"):]
    assert legend[:5] == ["RSS of the process", "its live heap (all threads)",
                          "210 loader, peak 42.0 MiB", "211 worker\\u202e1, peak 8.0 MiB",
                          "200 server (main), peak 2.0 MiB"], legend
    assert legend[5] == "completed in 3.6 s", legend
    peaks = {t: box for t, box in layer if ": peak " in t}
    assert set(peaks) == {"210 loader: peak 42.0 MiB at 2.0 s",
                          "211 worker\\u202e1: peak 8.0 MiB at 2.5 s",
                          "200 server (main): peak 2.0 MiB at 1.0 s"}, peaks
    boxes = list(peaks.values())
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not overlaps(a, b), f"peak labels collide: {peaks}"
    server, loader, worker = (peaks[k] for k in sorted(peaks, key=lambda k: k[:3]))
    assert server[0] < loader[0] < worker[0], "expected the labels in time order: 1, 2, 2.5 s"
    assert loader[3] < worker[3] < server[3], "expected the highest peak's label highest"
    raw = out.read_text(encoding="utf-8")
    assert "\u202e" not in raw, "expected the right-to-left override escaped"
    assert "MiB" in " ".join(texts) and "(s)" in " ".join(texts)


def colour_count(rows, w, h, rgb, tol=40):
    x0, x1, y0, y1 = 80, w - 290, 60, h - 48
    return sum(1 for y in range(y0, y1) for x in range(x0, x1)
               if sum(abs(p - q) for p, q in zip(rows[y][x], rgb)) < tol)


def test_threads_stacked_fills_bands(tmp_path):
    """--stacked: the threads' bands are filled (the loader's, the biggest, lowest), so its
    colour covers far more of the picture than its line does; the stack's top is the heap."""
    lines, stacked = tmp_path / "lines.png", tmp_path / "stacked.png"
    plot("--threads", THREADS_FIXTURE, "-o", lines)
    plot("--threads", "--stacked", THREADS_FIXTURE, "-o", stacked)
    w, h, a = read_png(lines)
    _, _, b = read_png(stacked)
    orange, band = (255, 128, 13), (255, 186, 129)  # the loader's line, and its band
    line_px, band_px = colour_count(a, w, h, orange), colour_count(b, w, h, band, tol=30)
    assert line_px > 300, f"expected the loader's line drawn: {line_px} pixels"
    assert band_px > 30 * line_px, f"expected a filled band: {band_px} vs {line_px} pixels"
    # the band is low in the plot: the loader is at the bottom of the stack
    ys = [y for y in range(60, h - 48) for x in range(80, w - 290, 7)
          if sum(abs(p - q) for p, q in zip(b[y][x], band)) < 30]
    assert min(ys) > 200 and max(ys) > h - 60, (min(ys), max(ys))
    svg = tmp_path / "stacked.svg"
    plot("--threads", "--stacked", THREADS_FIXTURE, "-o", svg)
    assert "3 threads, stacked, with its heap and RSS" in svg_texts(svg)[1]


def test_threads_cpu_without_heap(tmp_path):
    """A log without heap numbers: each thread's CPU in % of one core, the title says so;
    --pid picks another process; --metric cpu gives CPU for a --heap log too."""
    log = threads_log(tmp_path / "noheap.jsonl", without_heap=True)
    out = tmp_path / "cpu.svg"
    plot("--threads", log, "-o", out)
    texts = svg_texts(out)
    assert texts[0] == ("200 server: CPU of its threads (% of one core): no heap data, record "
                        "with --heap for each thread's heap"), texts
    legend = texts[texts.index("211 worker\\u202e1, peak 61%"):]
    assert legend[:3] == ["211 worker\\u202e1, peak 61%", "210 loader, peak 20%",
                          "200 server (main), peak 0.2%"], legend
    assert any(t.endswith(" %") for t in texts), "expected a percent axis"

    other = tmp_path / "201.svg"
    plot("--threads", "--pid", "201", threads_log(tmp_path / "two.jsonl"), "-o", other)
    texts = svg_texts(other)
    assert texts[0].startswith("201 static-tool: CPU of its threads (% of one core): its heap "
                               "was not counted (a static binary"), texts
    assert any(t.startswith("220 tool<b>io</b>\\u202e<img") for t in texts), texts
    assert "\u202e" not in other.read_text(encoding="utf-8")

    cpu = tmp_path / "cpu-of-heap.svg"
    plot("--threads", "--metric", "cpu", THREADS_FIXTURE, "-o", cpu)
    assert svg_texts(cpu)[0] == "200 server: CPU of its threads (% of one core)"
    png = tmp_path / "cpu.png"
    plot("--threads", "--top", "1", log, "-o", png)
    w, h, rows = read_png(png)
    assert plot_area_ink(rows, w, h)[0] > 500


@pytest.mark.parametrize("args,code,words", [
    (["--stacked", "{fixture}", "-o", "{tmp}/x.png"], 64, "--stacked is for --threads"),
    (["--pid", "200", "{fixture}", "-o", "{tmp}/x.png"], 64, "--pid is for --threads"),
    (["--threads", "{fixture}", "{copy}", "-o", "{tmp}/x.png"], 64, "one log"),
    (["--threads", "--metric", "pss", "{fixture}", "-o", "{tmp}/x.png"], 64, "not pss"),
    (["--threads", "--pid", "x", "{fixture}", "-o", "{tmp}/x.png"], 64, "process id"),
    (["--threads", "--pid", "202", "{fixture}", "-o", "{tmp}/x.png"], 65,
     "one thread all its life"),
    (["--threads", "--pid", "999", "{fixture}", "-o", "{tmp}/x.png"], 65, "no process 999"),
    (["--threads", "{format2}", "-o", "{tmp}/x.png"], 65, "more than one thread"),
])
def test_threads_errors(tmp_path, args, code, words):
    # two logs (a log named twice is one: copy it)
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(Path(THREADS_FIXTURE).read_bytes())
    subst = {"fixture": THREADS_FIXTURE, "tmp": tmp_path, "copy": copy,
             "format2": write_log(tmp_path / "f.jsonl", n_procs=2, n_samples=5)}
    r = plot(*[a.format(**subst) for a in args], check=False)
    assert r.returncode == code, f"expected exit {code}, got {r.returncode}: {r.stderr}"
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], r.stderr
    assert not (tmp_path / "x.png").exists()
    assert not no_leftovers(tmp_path), no_leftovers(tmp_path)
