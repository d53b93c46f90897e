"""The interactive HTML report (lib/render/plot-html.c, web/): a real recording and a log with a hostile
event label are turned into HTML, and each page is loaded in Debian's headless Chromium driven
by playwright-core (tests/e2e/browser/check-report.js): no console error, no request but the
file itself, the chart drawn, hovering an event shows its label, and a label made of markup
stays text (window.x stays undefined, no <img> appears).

The HTML comes from `memline plot LOG -o FILE.html` when that command exists, else from
build/tests/plot_html_driver (mk/html.mk), which calls plot_html() the same way. `make e2e`
installs playwright-core into build/browser (npm ci from tests/e2e/browser/package-lock.json).
The browser tests skip, saying why, only when Chromium is not installed or cannot start.
"""

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from conftest import (BUILD, HOSTILE_THREAD, MEMLINE, MEMWORK, REPO, TIMEOUT, of_type, read_log,
                      threads_log)

CHROMIUM = Path(os.environ.get("MEMLINE_CHROMIUM", "/usr/bin/chromium"))
BROWSER_MODULES = BUILD / "browser" / "node_modules"
CHECK = REPO / "tests" / "e2e" / "browser" / "check-report.js"
CHECK_STACKS = REPO / "tests" / "e2e" / "browser" / "check-stacks.js"
CHECK_THREADS = REPO / "tests" / "e2e" / "browser" / "check-threads.js"
DRIVER = BUILD / "tests" / "plot_html_driver"
NODE = "/usr/bin/node"

# Until the Makefile includes mk/html.mk, the build has no HTML assets and nothing to test.
pytestmark = pytest.mark.skipif(not (BUILD / "gen" / "html-assets.c").exists(),
                                reason="mk/html.mk is not part of this build (no "
                                f"{BUILD}/gen/html-assets.c)")

HOSTILE = '</script><script>window.x=1</script><img src=x onerror="window.x=2">'


def has_plot_command():
    r = subprocess.run([MEMLINE, "plot", "--help"], capture_output=True, text=True,
                       timeout=TIMEOUT)
    return "is not a memline command" not in r.stderr


def make_html(logs, out, *opts):
    if has_plot_command():
        cmd = [MEMLINE, "plot", *opts, *logs, "-o", out]
    else:
        assert DRIVER.exists(), f"expected the plot_html test driver at {DRIVER} (make html-test)"
        cmd = [DRIVER, *opts, "-o", out, *logs]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, f"{shlex.join(map(str, cmd))} failed ({r.returncode}): {r.stderr}"
    html = Path(out).read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>"), f"expected an HTML page in {out}: {html[:200]!r}"
    return html


def page_data(html):
    """The JSON the page carries, as the browser will parse it."""
    start = html.index('<script type="application/json" id="memline-data">')
    start = html.index(">", start) + 1
    end = html.index("</script>", start)
    return json.loads(html[start:end])


def load_in_chromium(html_path, tmp_path, check=CHECK, *args):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (Debian package chromium; "
                    "scripts/install-deps test installs it)")
    assert (BROWSER_MODULES / "playwright-core").is_dir(), (
        f"expected playwright-core in {BROWSER_MODULES}: run make html-test (npm ci)")
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    env = {**os.environ, "NODE_PATH": str(BROWSER_MODULES)}
    r = subprocess.run([NODE, check, html_path, profile, *args], capture_output=True,
                       text=True, env=env, timeout=180)
    if r.returncode == 2:
        pytest.skip(f"Chromium cannot be started: {r.stderr.strip()}")
    assert r.returncode == 0, f"{check.name} failed ({r.returncode}): {r.stderr}"
    return json.loads(r.stdout)


def check_page(res, html_path):
    assert res["pageErrors"] == [], f"expected no script errors, got {res['pageErrors']}"
    assert res["console"] == [], f"expected no console errors or warnings, got {res['console']}"
    own = Path(html_path).resolve().as_uri()
    others = [u for u in res["requests"] if u != own]
    assert others == [], f"expected no request but the file itself ({own}), got {others}"
    assert res["canvasDrawn"], "expected the chart's canvas to have drawn pixels"
    assert res["theme"] == "dark", f"expected the theme switch to turn the page dark: {res}"
    assert res["zoomed"] > 0, f"expected a positive x range after a wheel zoom: {res['zoomed']}"


@pytest.fixture
def recording(tmp_path):
    """A real recording: a phase, two events, a process holding 40 MiB, captured output."""
    log = tmp_path / "real.jsonl"
    script = (f'"$ML" event --begin "load phase"; "$MW" alloc 40M say "loaded 40 MiB" sleep 300;'
              f' "$ML" event "checkpoint <one>"; "$ML" event --end "load phase";'
              f' "$MW" child "alloc 20M sleep 300" sleep 100 wait; "$ML" event "all done"')
    r = subprocess.run([MEMLINE, "run", "-q", "--capture-output", "-o", log, "-i", "0.05",
                        "--", "sh", "-c", script],
                       env={**os.environ, "ML": str(MEMLINE), "MW": str(MEMWORK)},
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, f"memline run failed ({r.returncode}): {r.stderr}"
    return log


def hostile_log(tmp_path):
    """A small log written by hand whose event label, span name and output line are markup."""
    log = tmp_path / "hostile.jsonl"
    records = [
        {"type": "header", "format": 1, "memline_version": "0.1.0", "mode": "run",
         "host": "h<b>x</b>", "start": "2026-01-01T00:00:00Z", "start_unix": 1767225600.0,
         "command": ["sh", "-c", HOSTILE], "pid": 100, "page_size": 4096, "clk_tck": 100,
         "mem_total": 8000000, "interval": {"min": 0.1, "max": 1.0},
         "proc_fields": ["pid", "rss", "utime", "stime"], "tree_fields": ["nproc", "rss"]},
        {"type": "proc", "t": 0.0, "pid": 100, "ppid": 1, "start": 0.0, "comm": "<script>",
         "cmdline": ["sh", "-c", HOSTILE]},
    ]
    for i in range(20):
        rss = 1000 + 500 * i
        records.append({"type": "sample", "t": 0.1 * i, "tree": [1, rss],
                        "procs": [[100, rss, i, 0]]})
        if i == 8:
            records.append({"type": "event", "t": 0.8, "label": HOSTILE, "pid": 100,
                            "tid": 100})
            records.append({"type": "output", "t": 0.8, "stream": "stdout",
                            "text": HOSTILE + "\u2028<!--"})
        if i == 4:
            records.append({"type": "span", "t": 0.4, "phase": "begin", "name": HOSTILE,
                            "pid": 100, "tid": 100})
    records.append({"type": "exit", "t": 2.0, "pid": 100, "how": "exited", "code": 0})
    records.append({"type": "end", "t": 2.0, "status": "completed", "exit_code": 0,
                    "signal": None, "oom_killed": [], "alive": [], "samples": 20})
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    return log


def test_html_of_a_real_recording(recording, tmp_path):
    records = read_log(recording)
    labels = [r["label"] for r in of_type(records, "event")]
    assert labels == ["checkpoint <one>", "all done"], f"expected the two events: {labels}"
    out = tmp_path / "real.html"
    html = make_html([recording], out)
    data = page_data(html)
    run = data["runs"][0]
    assert [e["label"] for e in run["events"]] == labels
    # a format 2 log: the job's memory leads, by the method its header names
    method = records[0]["memory"]["method"]
    lead = run["series"][0]
    assert lead["kind"] == "job" and lead["method"] == method and any(v for v in lead["v"]), (
        f"expected the job's line with values: {lead}")
    assert max(v or 0 for v in run["series"][0]["v"]) >= 40 * 1024 * 1024, (
        "expected the tree's 40 MiB in the plotted total")
    assert any(o["text"] == "loaded 40 MiB" for o in run["output"]), (
        f"expected the captured output line in the page: {run['output']}")
    assert [s["name"] for s in run["spans"]] == ["load phase"]
    assert "<script src" not in html and "http://" not in html.replace(
        "http://www.w3.org", ""), "expected no external script or URL"

    res = load_in_chromium(out, tmp_path)
    check_page(res, out)
    assert len(res["events"]) == 2, f"expected both events hovered: {res['events']}"
    for ev, label in zip(res["events"], labels):
        assert not ev["hidden"], f"expected the tooltip shown on event {label!r}: {ev}"
        assert label in ev["text"], f"expected the tooltip to say {label!r}, got {ev['text']!r}"
    assert res["tableLabels"] == labels


def test_hostile_label_stays_text(tmp_path):
    log = hostile_log(tmp_path)
    out = tmp_path / "hostile.html"
    html = make_html([log], out)
    # Nothing from the log can end the data's <script> element or start another one.
    # the data, uPlot, web/common.js and web/report.js
    assert html.count("</script>") == 4, "expected only the page's own four </script> tags"
    assert "<img" not in html and "\u2028" not in html, "expected markup from the log escaped"
    data = page_data(html)
    run = data["runs"][0]
    assert run["events"][0]["label"] == HOSTILE
    assert run["output"][0]["text"] == HOSTILE + "\u2028<!--"

    res = load_in_chromium(out, tmp_path)
    check_page(res, out)
    assert res["windowX"] is None, f"expected window.x undefined, got {res['windowX']}"
    assert res["images"] == 0, f"expected no <img> in the page, got {res['images']}"
    assert res["scripts"] == 4, f"expected the page's four scripts only, got {res['scripts']}"
    ev = res["events"][0]
    assert not ev["hidden"] and HOSTILE in ev["text"], (
        f"expected the tooltip to show the label as text: {ev}")
    assert res["tableLabels"] == [HOSTILE]


def spans_log(tmp_path):
    """A log of one process whose two threads each have a phase, overlapping in time."""
    log = tmp_path / "threads.jsonl"
    records = [json.loads(x) for x in hostile_log(tmp_path).read_text().splitlines()]
    records = [r for r in records if r["type"] not in ("event", "span", "output")]
    end = records.pop()
    exit_ = records.pop()
    names = [("loader thread phase", 101, 0.2, 1.5), ("trainer thread phase", 102, 0.3, 1.6)]
    for name, tid, t0, t1 in names:
        records.append({"type": "span", "t": t0, "phase": "begin", "name": name, "pid": 100,
                        "tid": tid})
        records.append({"type": "span", "t": t1, "phase": "end", "name": name, "pid": 100,
                        "tid": tid})
    records += [exit_, end]
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    return log, [n[0] for n in names]


def test_overlapping_spans_and_the_phases_table(tmp_path):
    """Spans of two threads that overlap: their names are drawn in rows of their own (no two
    boxes intersect), and the phases table says whose thread each is and that its memory is
    the whole tree's."""
    log, names = spans_log(tmp_path)
    out = tmp_path / "threads.html"
    make_html([log], out)
    res = load_in_chromium(out, tmp_path)
    check_page(res, out)
    drawn = res["spanLabels"]["labels"]
    assert sorted(l["text"] for l in drawn) == sorted(names), res["spanLabels"]
    a, b = drawn
    assert (a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"]
            or a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"]), \
        f"expected the span names apart, they overlap: {drawn}"
    assert res["phaseHead"][0] == "PID/TID", res["phaseHead"]
    assert "Tree RSS change" in res["phaseHead"] and "Tree peak" in res["phaseHead"], res
    assert sorted(r[0] for r in res["phaseRows"]) == ["100/101", "100/102"], res["phaseRows"]


def test_time_axis_and_a_single_process(tmp_path):
    """The time axis's labels, read in Chromium over ranges whose steps are 0.25 s, 20 ms, 20 s,
    10 min...: each says its tick's time exactly (0.25 s, not 0.3 s) and no two are alike. A
    run of one process draws the total as a wide band under the process's line, which it
    would hide, and says so in the legend. (Without the job's cgroup and PSS, neither of which
    is the process's RSS, so that the tree's line leads.)"""
    log = tmp_path / "one.jsonl"
    r = subprocess.run([MEMLINE, "run", "-q", "--no-cgroup", "--pss-budget", "0", "-o", log,
                        "--", MEMWORK, "alloc", "20M", "sleep",
                        "300"], capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "axis.html"
    data = page_data(make_html([log], out))
    assert data["runs"][0]["tree_is_proc"], "expected the one process to be the whole tree"
    res = load_in_chromium(out, tmp_path)
    check_page(res, out)
    units = {"ms": 0.001, "s": 1, "min": 60, "h": 3600, "d": 86400}
    quarter = False
    for ticks in res["ticks"]:
        labels, splits = ticks["labels"], ticks["splits"]
        assert labels and len(set(labels)) == len(labels), f"expected distinct labels: {ticks}"
        for label, split in zip(labels, splits):
            num, unit = label.split(" ")
            assert abs(float(num) * units[unit] - split) <= 1e-9 * max(1, abs(split)), \
                f"the tick at {split} s reads {label!r} (range {ticks['min']}..{ticks['max']})"
            quarter |= num.endswith(".25")
    assert quarter, f"expected a range with steps of 0.25: {res['ticks']}"
    total, proc = res["series"][1], res["series"][2]
    assert "the same as its only process" in total["label"], res["series"]
    assert total["width"] > proc["width"], res["series"]


def test_event_labels_toggle(tmp_path):
    """The "Event labels" toggle draws the events' labels on the chart as text (a hostile one
    stays text), in rows where none overlaps another, counts those left out, and takes them
    away again. A real recording marks 31 events in a burst, more than fit."""
    log = tmp_path / "burst.jsonl"
    script = ('"$ML" event \'<img src=x onerror="window.x=3">\'; '
              'for i in $(seq 1 30); do "$ML" event "step $i of the burst"; done; '
              '"$MW" alloc 10M sleep 300')
    r = subprocess.run([MEMLINE, "run", "-q", "-o", log, "--", "sh", "-c", script],
                       env={**os.environ, "ML": str(MEMLINE), "MW": str(MEMWORK)},
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    labels = [e["label"] for e in of_type(read_log(log), "event")]
    assert len(labels) == 31, labels
    out = tmp_path / "burst.html"
    make_html([log], out)
    res = load_in_chromium(out, tmp_path)
    check_page(res, out)
    assert res["windowX"] is None and res["images"] == 0, res
    shown, more = res["eventLabels"]["on"]["shown"], res["eventLabels"]["on"]["more"]
    assert shown, "expected event labels on the chart once the toggle is on"
    for s in shown:
        assert s["elements"] == 0, f"expected a label to be text only: {s}"
        assert s["text"] in labels or (s["text"].endswith("…") and
                                       any(l.startswith(s["text"][:-1]) for l in labels)), s
    assert any(s["text"].startswith("<img") for s in shown), "expected the hostile label as text"
    for i, a in enumerate(shown):
        for b in shown[i + 1:]:
            apart = (a["right"] <= b["left"] or b["right"] <= a["left"] or
                     a["bottom"] <= b["top"] or b["bottom"] <= a["top"])
            assert apart, f"the labels {a} and {b} overlap"
    left_out = len(labels) - len(shown)
    assert left_out > 0 and more == [f"+{left_out} events not labelled"], (len(shown), more)
    assert res["eventLabels"]["off"] == {"shown": [], "more": []}


def test_overlay_and_decimation(recording, tmp_path):
    """Two logs overlay, each from its start; a long run is cut to at most ~4000 points while
    keeping every series' peak."""
    long = tmp_path / "long.jsonl"
    records = [json.loads(x) for x in hostile_log(tmp_path).read_text().splitlines()]
    head, tail = records[:2], records[-2:]
    samples = []
    for i in range(30000):
        rss = 1000 + (i % 97) * 10 + (5_000_000 if i == 12345 else 0)
        samples.append({"type": "sample", "t": 0.01 * i, "tree": [1, rss],
                        "procs": [[100, rss, i, 0]]})
    long.write_text("".join(json.dumps(r) + "\n" for r in head + samples + tail))
    out = tmp_path / "overlay.html"
    data = page_data(make_html([recording, long], out))
    assert len(data["runs"]) == 2
    lr = data["runs"][1]
    assert len(lr["t"]) <= 4000, f"expected at most 4000 points, got {len(lr['t'])}"
    assert all(len(s["v"]) == len(lr["t"]) for s in lr["series"])
    peak = max(r["tree"][1] for r in samples) * 1024
    assert max(v or 0 for v in lr["series"][0]["v"]) == peak, "expected the one-sample peak kept"
    res = load_in_chromium(out, tmp_path)
    check_page(res, out)


FIXTURES = REPO / "tests" / "fixtures" / "logs"


def test_page_leads_with_the_job_memory(tmp_path):
    """A cgroup log whose job peak (511 MiB) is a fifth of its RSS sum (2.5 GiB): the page's
    data carries the job's series first, with its method, and the RSS sum second; in
    Chromium the chart's first line is the job's (thickest), named by its method, the RSS sum
    lighter, and the summary leads with the job's peak memory, the RSS sum after it."""
    out = tmp_path / "cgroup.html"
    data = page_data(make_html([FIXTURES / "cgroup.jsonl"], out))
    run = data["runs"][0]
    assert run["memory"]["method"] == "cgroup", run["memory"]
    assert run["job_peak"] == 523264 * 1024 and run["peak"] == 2621440 * 1024, run
    kinds = [s["kind"] for s in run["series"]]
    assert kinds[:2] == ["job", "total"], kinds
    job, total = run["series"][0], run["series"][1]
    assert job["method"] == "cgroup" and job["name"] == "the job's memory: cgroup", job
    assert total["name"] == "RSS sum", total
    # the job's line is the cgroup's charge at each sample, not the RSS sum
    known = [v for v in job["v"] if v is not None]
    assert max(known) == 523000 * 1024, known
    assert max(v for v in total["v"] if v is not None) == 5 * 512000 * 1024
    res = load_in_chromium(out, tmp_path)
    check_page(res, out)
    lines = res["series"][1:]
    assert lines[0]["label"] == "the job's memory: cgroup", res["series"]
    assert lines[1]["label"] == "RSS sum", res["series"]
    assert lines[0]["width"] > lines[1]["width"], res["series"]
    assert all(lines[0]["width"] > s["width"] for s in lines[1:]), res["series"]
    terms = [t for t, _ in res["summary"]]
    said = dict(res["summary"])
    assert "Peak RSS" not in terms, res["summary"]
    assert terms.index("Peak memory") < terms.index("RSS sum"), res["summary"]
    assert said["Peak memory"].startswith("511.0 MiB at 3.2 s (the job's cgroup"), said
    assert said["RSS sum"].startswith("2.5 GiB at 3.1 s"), said


def test_page_of_a_format1_log_says_peak_rss(tmp_path):
    out = tmp_path / "f1.html"
    data = page_data(make_html([FIXTURES / "complete.jsonl"], out))
    run = data["runs"][0]
    assert run["memory"] is None and run["series"][0]["kind"] == "total", run
    res = load_in_chromium(out, tmp_path)
    check_page(res, out)
    assert dict(res["summary"])["Peak RSS"] == "51.0 MiB at 1.0 s", res["summary"]


def stacks_log(tmp_path):
    """stacks.jsonl with one more capture whose label, thread name and frame are markup."""
    lines = (FIXTURES / "stacks.jsonl").read_text(encoding="utf-8").splitlines()
    end = lines.pop()
    lines.append(json.dumps({"type": "frames", "t": 2.8, "first": 6, "frames": [
        {"kind": "python", "fn": HOSTILE, "file": "/x/" + HOSTILE, "line": 7}]}))
    lines.append(json.dumps({"type": "stack", "t": 2.8, "capture": 5, "why": "event",
                             "label": HOSTILE, "pid": 300, "tid": 300, "thread": "<b>t</b>",
                             "frames": [6, 3]}))
    lines.append(end)
    log = tmp_path / "stacks.jsonl"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return log


def test_stack_markers_show_stacks(tmp_path):
    """Each capture has a marker; clicking it shows its threads' stacks beside the chart."""
    out = tmp_path / "stacks.html"
    data = page_data(make_html([stacks_log(tmp_path)], out))
    caps = data["runs"][0]["stacks"]
    assert [c["capture"] for c in caps] == [1, 2, 3, 4, 5], caps
    assert caps[2]["threads"][0]["frames"][0] == "grow (solver.c:41)", caps[2]
    res = load_in_chromium(out, tmp_path, CHECK_STACKS)
    assert res["pageErrors"] == [] and res["console"] == [], res
    own = Path(out).resolve().as_uri()
    assert [u for u in res["requests"] if u != own] == [], res["requests"]
    assert res["before"]["hidden"], res["before"]
    got = res["captures"]
    assert [c["open"] for c in got] == [[0, i] for i in range(5)], got
    assert all(not c["hidden"] for c in got), got
    peak = got[2]
    assert peak["title"] == "Capture 3 at 2.0 s", peak
    assert peak["headings"] == ["thread 300 python3",
                                "2 threads: 301 loader, 302 loader (truncated)"], peak
    assert peak["frames"][0] == ["grow (solver.c:41)", "libfoo.so.1+0x11e00",
                                 "load_batch (train.py:88)", "<module> (train.py:120)"], peak
    assert got[3]["errors"] == ["the process exited during the capture"], got[3]
    assert got[3]["frames"] == [], got[3]
    # recorded markup stays text
    hostile = got[4]
    assert hostile["frames"][0][0].startswith(HOSTILE + " ("), hostile
    assert hostile["headings"] == ["thread 300 <b>t</b>"], hostile
    assert any(HOSTILE in w for w in hostile["what"]), hostile
    assert hostile["markup"] == 0 and res["x"] is None, res
    assert res["after"]["hidden"] and res["after"]["open"] is None, res["after"]


def test_thread_view(tmp_path):
    """A log with two processes of threads: the thread view opens on the one with the largest
    heap (200), its threads' heap with the process's heap and RSS, a dot at each thread's peak
    (the loader's 42 MiB above its line's 40 MiB at 2.0 s: between samples), the tooltip and
    legend naming the line under the mouse with its value and time; the picker shows the other
    (201, CPU: its heap was not counted), whose hostile thread name stays text, escaped."""
    log = threads_log(tmp_path / "threads.jsonl")
    out = tmp_path / "threads.html"
    html = make_html([log], out)
    assert "\u202e" not in html, "expected every right-to-left override escaped for the page"
    data = page_data(html)
    th = data["runs"][0]["threads"]
    assert th["pid"] == 200 and th["dropped"] == 0, th
    assert [(p["pid"], p["heap"], p["threads"]) for p in th["procs"]] == [(200, True, 3),
                                                                          (201, False, 2)]
    loader = th["procs"][0]["series"][2]
    assert (loader["name"], loader["tid"], loader["peak"], loader["peak_t"]) == \
        ("210 loader", 210, 42 << 20, 2.0), loader
    hostile = HOSTILE_THREAD.replace("\u202e", "\\u202e")
    hover = [[200, "210 loader", 2.0], [201, "220 " + hostile, 2.5]]
    res = load_in_chromium(out, tmp_path, CHECK_THREADS, json.dumps(hover))
    assert res["pageErrors"] == [] and res["console"] == [], res
    own = Path(out).resolve().as_uri()
    assert [u for u in res["requests"] if u != own] == [], res["requests"]
    first = res["first"]
    assert first["shown"] and first["picker"] and first["choice"] == [0, 200], first
    assert first["options"] == ["200 server (3 threads, heap)",
                                "201 static-tool (2 threads, CPU)"], first
    heap, cpu = res["procs"]
    v = heap["view"]
    assert v["title"] == "Threads of 200 server", v
    assert v["series"] == ["RSS of the process", "live heap (all threads)", "210 loader",
                           "211 worker\\u202e1", "200 server (main)"], v
    assert [p["text"] for p in v["peaks"]] == ["peak 42.0 MiB", "peak 8.0 MiB",
                                               "peak 2.0 MiB"], v["peaks"]
    assert all(d >= 5 for d in heap["dots"]), f"expected a dot drawn at each peak: {heap}"
    for p, line in zip(v["peaks"], heap["lines"]):
        assert p["label"], f"expected each peak labelled: {p}"
        assert abs(p["x"] - line["x"]) < 2, (p, line)
    assert v["peaks"][0]["y"] < heap["lines"][0]["y"] - 5, "expected the loader's peak above its line"
    assert abs(v["peaks"][1]["y"] - heap["lines"][1]["y"]) < 2, "the worker's peak is on its line"
    boxes = [p["label"] for p in v["peaks"]]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not overlaps_box(a, b), f"peak labels collide: {boxes}"
    hv = heap["hover"]
    assert not hv["hidden"] and hv["label"] == ["210 loader"], hv
    assert hv["where"] == ["40.0 MiB at 2.0 s"], hv
    assert ["Time", "2.0 s"] in hv["legend"] and ["210 loader", "40.0 MiB"] in hv["legend"], hv

    v = cpu["view"]
    assert v["choice"] == [0, 201] and v["title"] == "Threads of 201 static-tool", v
    assert "CPU" in v["what"], v
    assert v["series"] == ["220 " + hostile, "201 tool-main (main)"], v
    hv = cpu["hover"]
    assert hv["label"] == ["220 " + hostile] and hv["where"] == ["60.0 % at 2.5 s"], hv
    assert res["markup"] == 0 and res["x"] is None, res
    assert res["afterTheme"]["series"] == v["series"], res["afterTheme"]

    # plot --threads --pid: the page opens on that process
    out2 = tmp_path / "pid.html"
    data = page_data(make_html([log], out2, "--threads", "--pid", "201"))
    assert data["runs"][0]["threads"]["pid"] == 201


def overlaps_box(a, b):
    return (a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"]
            and b["y"] < a["y"] + a["h"])


def test_page_without_threads_has_no_thread_view(tmp_path):
    """A format 2 log (no threads): no thread view, no member to draw it from."""
    html = make_html([hostile_log(tmp_path)], tmp_path / "no.html")
    assert page_data(html)["runs"][0]["threads"] is None
