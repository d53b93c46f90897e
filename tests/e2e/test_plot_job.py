"""`memline plot` of a job (lib/render/plot-job.c, the job's HTML page in plot-html.c and
web/job.js): the logs of one job, given as a directory or a quoted pattern, merged on the job's
clock and drawn as PNG, SVG, PDF and HTML.

Real logs: four `memline run` recordings started together, rank N (OMPI_COMM_WORLD_RANK=N of 4)
allocating (N + 1) * 20 MiB and holding it 0.3 s. Generated logs: written here line by line in
the shape of a real log (its header, its proc, sample and end records, the fields named by its
header), for a job of 12 ranks on 2 nodes (the band, the median and exactly --top N rank lines),
200 ranks (a page that stays small), and logs whose names and hosts are markup and escape
sequences (text in the picture, in the page, and in Chromium, never markup).

A log is named by its rank ("rank 3") when the reader knows it (the header's place, format 4, or
its launcher's variables), else by its file ("r.3"): the tests take each log's name from
`memline report --json`, check it is one of those two, and say which they saw.

Overlay stays for logs that are no job (two logs without ranks), --job forces the job's plot,
--overlay the overlay; --label, --threads and --metric go with overlaid logs only.
"""

import copy
import json
import os
import re
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import BUILD, MEMLINE, REPO, TIMEOUT, read_log

MIB = 1024 * 1024
CHROMIUM = Path(os.environ.get("MEMLINE_CHROMIUM", "/usr/bin/chromium"))
BROWSER_MODULES = BUILD / "browser" / "node_modules"
CHECK_JOB = REPO / "tests" / "e2e" / "browser" / "check-job.js"
NODE = "/usr/bin/node"
ESC = "\x1b"
HOSTILE_FILE = f"r.<img src=x onerror=window.x=1>{ESC}[31m"  # a file name: no '/'
HOSTILE_HOST = "n<b>1</b>" + ESC + "]0;pwned\a"
HOSTILE_COMM = "<script>window.x=3</script>"

ALLOC = """
import time
b = bytearray({mib} * 1024 * 1024)
for i in range(0, len(b), 4096):
    b[i] = 1
time.sleep(0.3)
"""


def run_memline(*args, check=True):
    r = subprocess.run([str(MEMLINE), *map(str, args)], capture_output=True, timeout=TIMEOUT)
    if check:
        assert r.returncode == 0, (
            f"memline {' '.join(map(str, args))} failed ({r.returncode}): {r.stderr!r}")
    return r


def plot(*args, check=True):
    return run_memline("plot", *args, check=check)


def report_json(*logs):
    return json.loads(run_memline("report", "--json", *logs).stdout)


def names_by_log(report):
    """Each log's name in the job's report, checked to be its rank's or its file's."""
    names = {}
    for r in report["ranks"]:
        stem = Path(r["log"]).name.removesuffix(".jsonl")
        want = {stem} | ({f"rank {r['rank']}"} if r["rank"] is not None else set())
        assert r["name"] in want, f"expected {r['log']} named {want}, got {r['name']!r}"
        names[Path(r["log"]).name] = r["name"]
    return names


# ---- real logs ----


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """Four real recordings started together, as mpirun would: rank N holds (N + 1) * 20 MiB."""
    d = tmp_path_factory.mktemp("ranks")
    procs = []
    for n in range(4):
        env = {**os.environ, "OMPI_COMM_WORLD_RANK": str(n), "OMPI_COMM_WORLD_SIZE": "4"}
        procs.append(subprocess.Popen(
            [str(MEMLINE), "run", "-q", "-o", str(d / f"r.{n}.jsonl"), "--", sys.executable,
             "-c", ALLOC.format(mib=(n + 1) * 20)], env=env, stderr=subprocess.PIPE))
    for n, p in enumerate(procs):
        _, err = p.communicate(timeout=TIMEOUT)
        assert p.returncode == 0, f"memline run of rank {n} failed ({p.returncode}): {err!r}"
    return d


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"expected a PNG, got {data[:16]!r}"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def svg_texts(path):
    root = ET.parse(path).getroot()
    ns = {"s": "http://www.w3.org/2000/svg"}
    layer = root.find(".//s:g[@id='memline-text']", ns)
    assert layer is not None, "expected the SVG's text layer"
    return [t.text or "" for t in layer.findall("s:text", ns)]


def svg_paths(path):
    """The SVG's drawn paths: (style, the number of points) each."""
    root = ET.parse(path).getroot()
    out = []
    for el in root.iter("{http://www.w3.org/2000/svg}path"):
        d = el.get("d") or ""
        out.append((el.get("style") or "", len(re.findall(r"[ML] ", d))))
    return out


def page_data(html):
    start = html.index('<script type="application/json" id="memline-data">')
    start = html.index(">", start) + 1
    return json.loads(html[start:html.index("</script>", start)])


def check_page(html, want_names):
    data = page_data(html)
    assert data["kind"] == "job", f"expected the page of a job: {data.get('kind')}"
    got = [r["name"] for r in data["ranks"]]
    assert sorted(got) == sorted(want_names), f"expected the ranks {want_names}, got {got}"
    for r in data["ranks"]:
        assert any(v for v in r["v"]), f"expected {r['name']}'s line embedded: {r['v'][:20]}"
        assert len(r["v"]) <= 400, f"expected at most 400 points a rank, got {len(r['v'])}"
    return data


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf", "html"])
@pytest.mark.parametrize("given", ["directory", "pattern"])
def test_plot_of_real_ranks(ranks, tmp_path, fmt, given):
    src = ranks if given == "directory" else ranks / "r.*.jsonl"
    out = tmp_path / f"job.{fmt}"
    r = plot(src, "-o", out)
    assert r.stderr == b"", f"expected no warning: {r.stderr!r}"
    rep = report_json(src)
    names = names_by_log(rep)
    if fmt == "png":
        assert png_size(out.read_bytes()) == (1200, 700)
        assert out.stat().st_size > 10000, "expected a picture with something drawn"
    elif fmt == "pdf":
        data = out.read_bytes()
        assert data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:], data[:20]
    elif fmt == "svg":
        texts = svg_texts(out)
        assert any(t.startswith("job") and "4 " in t for t in texts), texts[:3]
        for name in names.values():
            assert any(t.startswith(name + ", peak ") for t in texts), (name, texts)
        assert "the job" in texts and any("ranks" in t or "logs" in t for t in texts), texts
        assert any(t.startswith("peak ") for t in texts), "expected the job's peak marked"
    else:
        data = check_page(out.read_text(encoding="utf-8"), list(names.values()))
        # each rank's peak: what it allocated and the interpreter, and rank 3 the heaviest
        by_name = {r["name"]: r for r in data["ranks"]}
        for log, name in names.items():
            n = int(log.split(".")[1])
            peak = by_name[name]["peak"]
            assert (n + 1) * 20 * MIB <= peak <= ((n + 1) * 20 + 40) * MIB, (name, peak)
        assert max(data["ranks"], key=lambda r: r["peak"])["name"] == names["r.3.jsonl"]
        assert sorted(data["picked"]) == [0, 1, 2, 3], "expected every rank of 4 ticked"
        assert data["job"]["status"] == "completed" and data["job"]["worst"] is None
    print(f"rank names: {sorted(names.values())}")


def test_overlay_and_job_choices(ranks, tmp_path):
    """A directory is a job; --overlay overlays its logs; two logs that name no rank overlay;
    --job draws them as a job."""
    out = tmp_path / "o.svg"
    plot("--overlay", ranks, "-o", out)
    assert any("4 runs, each from its start" in t for t in svg_texts(out)), svg_texts(out)[:3]
    # two unrelated logs: no rank, no job id, no node-wide recording
    plain = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    for i, p in enumerate(plain):
        run_memline("run", "-q", "-o", p, "--", sys.executable, "-c",
                        f"x = bytearray({i + 1} * 1024 * 1024)")
    env_free = [read_log(p)[0]["job"] for p in plain]
    if any(env_free):
        pytest.skip(f"the test's environment names a job: {env_free}")
    plot(*plain, "-o", out)
    texts = svg_texts(out)
    assert any("2 runs, each from its start" in t for t in texts), texts[:3]
    assert not any(t.startswith("job") for t in texts[:2]), texts[:2]
    plot("--job", *plain, "-o", out)
    texts = svg_texts(out)
    assert texts[0] == "job: 2 logs on 1 node", texts[:2]


def test_logs_naming_a_rank_are_a_job(ranks, tmp_path):
    """Two logs given one by one that name their rank are drawn as the job they are."""
    logs = [ranks / "r.0.jsonl", ranks / "r.1.jsonl"]
    if all(r["rank"] is None for r in report_json(*logs)["ranks"]):
        pytest.skip("the reader does not tell a log's rank yet (the header's place, format 4, "
                    "or its launcher's variables): such logs are no job by themselves")
    out = tmp_path / "two.svg"
    plot(*logs, "-o", out)
    assert svg_texts(out)[0].startswith("job"), svg_texts(out)[:2]


@pytest.mark.parametrize("args,words", [
    (["-l", "a"], "--label"),
    (["--threads"], "--threads"),
    (["--metric", "cpu"], "--metric"),
    (["--job", "--overlay"], "--job and --overlay"),
])
def test_usage_errors_of_a_job(ranks, tmp_path, args, words):
    r = plot(*args, ranks, "-o", tmp_path / "x.png", check=False)
    assert r.returncode == 64, f"expected a usage error, got {r.returncode}: {r.stderr!r}"
    lines = r.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("memline: plot: ") and words in lines[0], (
        lines)
    assert not (tmp_path / "x.png").exists()


# ---- generated logs ----


@pytest.fixture(scope="module")
def shape(ranks):
    """A real log's records, to write others in their shape."""
    recs = read_log(ranks / "r.0.jsonl")
    header = next(r for r in recs if r["type"] == "header")
    proc = next(r for r in recs if r["type"] == "proc")
    sample = next(r for r in recs if r["type"] == "sample" and r["p"])
    end = next(r for r in recs if r["type"] == "end")
    return header, proc, sample, end


def write_log(path, shape, *, pid, host, start, peak_mib, peak_at, secs=20.0, rank=None,
              size=None, comm="solver", status="completed"):
    """A log in the shape of a real one: a sample a second (and its job memory), ramping to
    peak_mib at peak_at seconds and back to a third of it; rank sets the launcher's variables."""
    header, proc, sample, end = (copy.deepcopy(r) for r in shape)
    header.update(host=host, start_unix=start, pid=pid, pids=[pid],
                  command=["solver", "--rank", str(rank)] if rank is not None else ["solver"])
    header["job"] = ({"OMPI_COMM_WORLD_RANK": str(rank), "OMPI_COMM_WORLD_SIZE": str(size)}
                     if rank is not None else {})
    header.pop("place", None)
    tf, pf = header["tree_fields"], header["fields"]
    lines = [header, {**proc, "t": 0.0, "pid": pid, "ppid": 1, "start": 0.0, "comm": comm,
                      "argv": header["command"]}]
    peak = 0
    for k in range(int(secs) + 1):
        t = float(k)
        frac = t / peak_at if t <= peak_at else max(1 / 3, 1 - (t - peak_at) / secs)
        kib = int(peak_mib * 1024 * frac) + 2048
        peak = max(peak, kib)
        tree = [None] * len(tf)
        for name, v in (("nproc", 1), ("rss", kib), ("anon", kib), ("peak", peak),
                        ("job", kib), ("job_peak", kib)):
            if name in tf:
                tree[tf.index(name)] = v
        row = [None] * len(pf)
        for name, v in (("pid", pid), ("rss", kib), ("anon", kib), ("peak", peak),
                        ("threads", 1), ("state", "R")):
            if name in pf:
                row[pf.index(name)] = v
        lines.append({**sample, "t": t, "tree": tree, "p": [row]})
    end.update(t=secs, status=status, samples=int(secs) + 1, job_peak=peak,
               job_peak_t=float(peak_at))
    if status == "oom-killed":
        end.update(exit_code=None, signal=9, oom_killed=[pid], alive=[])
        lines.append({"type": "exit", "t": secs, "pid": pid, "how": "killed", "code": None,
                      "signal": 9, "core": False, "oom": True, "peak": peak})
    lines.append(end)
    Path(path).write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")


def write_job(d, shape, n, hosts=2, ranked=True, **kw):
    d.mkdir(parents=True, exist_ok=True)
    for r in range(n):
        write_log(d / f"r.{r}.jsonl", shape, pid=1000 + r, host=f"n{r % hosts}",
                  start=1767225600.0 + r * 0.05, peak_mib=10 * (r + 1), peak_at=2 + r % 15,
                  rank=r if ranked else None, size=n if ranked else None, **kw)
    return d


@pytest.fixture(scope="module")
def job12(tmp_path_factory, shape):
    return write_job(tmp_path_factory.mktemp("job12"), shape, 12)


def legend_rank_lines(texts, names):
    return [t for t in texts if any(t.startswith(n + ", peak ") for n in names)]


@pytest.mark.parametrize("top", [None, 2, 5])
def test_band_and_the_top_ranks(job12, tmp_path, top):
    out = tmp_path / "band.svg"
    plot(*(["--top", str(top)] if top else []), job12, "-o", out)
    names = names_by_log(report_json(job12))
    texts = svg_texts(out)
    want = top or 3
    heaviest = [names[f"r.{r}.jsonl"] for r in range(11, 11 - want, -1)]
    drawn = legend_rank_lines(texts, names.values())
    assert [t.split(",")[0] for t in drawn] == heaviest, (
        f"expected exactly the top {want} ranks in the legend, heaviest first: {drawn}")
    assert any(re.fullmatch(r"(ranks|logs): lowest to highest \(12\)", t) for t in texts), texts
    assert any(re.fullmatch(r"(ranks|logs): median", t) for t in texts), texts
    assert "its 2 nodes" in texts and any(t.startswith("node n1, peak") for t in texts), texts
    paths = svg_paths(out)
    bands = [n for style, n in paths if "fill-opacity:0.2;" in style]
    assert len(bands) == 1 and bands[0] > 40, f"expected the ranks' band, one filled path: {bands}"
    # a rank's line: stroke width 1.5, a point a bin (its legend swatch has 2)
    lines = [n for style, n in paths if "stroke-width:1.5;" in style and n > 10]
    assert len(lines) == want, f"expected {want} rank lines drawn, got {len(lines)}"


def test_page_of_12_ranks(job12, tmp_path):
    out = tmp_path / "band.html"
    plot(job12, "-o", out)
    names = names_by_log(report_json(job12))
    data = check_page(out.read_text(encoding="utf-8"), list(names.values()))
    assert data["band"] and len(data["band"]["hi"]) == len(data["t"]), "expected the band"
    assert len(data["nodes"]) == 2, "expected each of the 2 nodes' lines"
    picked = sorted(data["ranks"][i]["name"] for i in data["picked"])
    assert picked == sorted(names[f"r.{r}.jsonl"] for r in (9, 10, 11)), picked


def test_worst_rank_marked(tmp_path, shape):
    d = write_job(tmp_path / "oom", shape, 10)
    write_log(d / "r.2.jsonl", shape, pid=1002, host="n0", start=1767225600.1, peak_mib=30,
              peak_at=5, secs=8, rank=2, size=10, status="oom-killed")
    name = names_by_log(report_json(d))["r.2.jsonl"]
    out = tmp_path / "oom.svg"
    plot(d, "-o", out)
    texts = svg_texts(out)
    assert f"{name} oom-killed" in texts, f"expected the worst rank's end marked: {texts}"
    assert "job: oom-killed" in texts
    html = tmp_path / "oom.html"
    plot(d, "-o", html)
    data = page_data(html.read_text(encoding="utf-8"))
    assert data["job"]["status"] == "oom-killed" and name in data["job"]["worst"], data["job"]
    picked = [data["ranks"][i]["name"] for i in data["picked"]]
    assert name in picked and len(picked) == 4, f"expected the top 3 and the worst: {picked}"


def test_many_ranks_page_stays_small(tmp_path, shape):
    """200 ranks of 10 minutes: the band, 3 lines, a page of at most ~3.5 KB a rank."""
    d = write_job(tmp_path / "many", shape, 200, hosts=20, secs=600.0)
    out = tmp_path / "many.html"
    plot(d, "-o", out)
    size = out.stat().st_size
    assert size < 200 * 3500 + 400000, f"expected a small page for 200 ranks, got {size} bytes"
    data = page_data(out.read_text(encoding="utf-8"))
    assert len(data["ranks"]) == 200 and "node_band" in data and not data["nodes"]
    png = tmp_path / "many.png"
    plot(d, "-o", png, "-W", "800", "-H", "500")
    assert png_size(png.read_bytes()) == (800, 500)


# ---- hostile names ----


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, shape):
    """Logs that name no rank: one whose file name is markup and an escape sequence, one on a
    host so named, one OOM-killed whose process is named <script>."""
    d = write_job(tmp_path_factory.mktemp("hostile"), shape, 10, ranked=False)
    write_log(d / f"{HOSTILE_FILE}.jsonl", shape, pid=2000, host="n0", start=1767225600.2,
              peak_mib=200, peak_at=4)
    write_log(d / "r.1.jsonl", shape, pid=1001, host=HOSTILE_HOST, start=1767225600.0,
              peak_mib=150, peak_at=6)
    write_log(d / "r.2.jsonl", shape, pid=1002, host="n0", start=1767225600.0, peak_mib=30,
              peak_at=3, secs=9, comm=HOSTILE_COMM, status="oom-killed")
    return d


def test_hostile_names_in_the_picture(hostile, tmp_path):
    out = tmp_path / "hostile.svg"
    r = plot(hostile, "-o", out)
    raw = out.read_bytes()
    assert ESC.encode() not in raw and b"<img" not in raw and b"<script" not in raw, (
        "expected the names escaped in the SVG")
    texts = svg_texts(out)
    # in the legend, cut to its width: the markup and the escape shown as text
    shown = HOSTILE_FILE.split(ESC)[0] + "\\x1b"
    assert any(t.startswith(shown) for t in texts), (shown, texts)
    assert any("n<b>1</b>\\x1b]0;pwned\\x07" in t for t in texts), texts
    pdf = tmp_path / "hostile.pdf"
    plot(hostile, "-o", pdf)
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert ESC.encode() not in r.stderr


def test_hostile_names_in_the_page(hostile, tmp_path):
    out = tmp_path / "hostile.html"
    plot(hostile, "-o", out)
    html = out.read_text(encoding="utf-8")
    assert html.count("</script>") == 4, "expected only the page's own four </script> tags"
    assert "<img" not in html and ESC not in html, "expected the names escaped in the page"
    data = page_data(html)
    shown = HOSTILE_FILE.replace(ESC, "\\x1b")
    assert shown in [r["name"] for r in data["ranks"]], [r["name"] for r in data["ranks"]]
    assert HOSTILE_COMM in data["job"]["worst"], data["job"]["worst"]
    res = load_in_chromium(out, tmp_path, "r.3", "n<b>1")
    assert res["windowX"] is None and res["injected"] == 0, res
    assert shown in res["hostileText"] and "n<b>1</b>" in res["hostileText"], res["hostileText"]
    assert HOSTILE_COMM in res["hostileText"], "expected the OOM-killed process named as text"
    assert [row[1] for row in res["filtered"]["rows"]] == [HOSTILE_HOST.replace(
        ESC, "\\x1b").replace("\a", "\\x07")], res["filtered"]["rows"]


# ---- the page in a browser ----


def load_in_chromium(page, tmp_path, tick, filter_):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (Debian package chromium)")
    assert (BROWSER_MODULES / "playwright-core").is_dir(), (
        f"expected playwright-core in {BROWSER_MODULES}: run make html-test (npm ci)")
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    env = {**os.environ, "NODE_PATH": str(BROWSER_MODULES)}
    r = subprocess.run([NODE, CHECK_JOB, page, profile, tick, filter_], capture_output=True,
                       text=True, env=env, timeout=180)
    if r.returncode == 2:
        pytest.skip(f"Chromium cannot be started: {r.stderr.strip()}")
    assert r.returncode == 0, f"check-job.js failed ({r.returncode}): {r.stderr}"
    res = json.loads(r.stdout)
    assert res["pageErrors"] == [] and res["console"] == [], res
    own = Path(page).resolve().as_uri()
    assert [u for u in res["requests"] if u != own] == [], res["requests"]
    assert all(n > 500 for n in res["canvasDrawn"]), f"expected the charts drawn: {res}"
    return res


def test_picker_ticks_a_rank(job12, tmp_path):
    out = tmp_path / "pick.html"
    plot(job12, "-o", out)
    names = names_by_log(report_json(job12))
    target = names["r.4.jsonl"]
    res = load_in_chromium(out, tmp_path, target, "n1")
    opened = res["opened"]
    assert sorted(row[0] for row in opened["rows"]) == sorted(names.values()), opened["rows"]
    assert [row[0] for row in opened["rows"]][:3] == [names[f"r.{r}.jsonl"] for r in (11, 10, 9)]
    assert re.fullmatch(r"12 (ranks|logs), 3 ticked", opened["count"]), opened["count"]
    # the band's two edges and the median, then the three ticked ranks
    assert opened["seriesCount"] == 1 + 3 + 3, opened
    assert res["tickFound"], f"expected {target} in the list"
    ticked = res["ticked"]
    assert ticked["seriesCount"] == opened["seriesCount"] + 1, ticked
    assert target in ticked["series"], ticked
    assert re.fullmatch(r"12 (ranks|logs), 4 ticked", ticked["count"]), ticked["count"]
    filtered = res["filtered"]
    assert filtered["rows"] and all(row[1] == "n1" for row in filtered["rows"]), filtered
    assert re.fullmatch(r"6 of 12 (ranks|logs), 4 ticked", filtered["count"]), filtered["count"]
    asc = [row[0] for row in res["ascending"]["rows"]]
    assert asc[0] == names["r.0.jsonl"] and asc[-1] == names["r.11.jsonl"], asc
