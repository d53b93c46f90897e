"""Format 1 logs render as they did: every reader's output on the format 1 fixture logs is
compared with the golden files under tests/fixtures/golden/, written by the memline of the
log format 2 foundation (before the renderers learned of the job's memory). The text report,
`status`, the CSV, Perfetto and gnuplot exports and the SVG plot's text layer must be byte for
byte the same; `report --json` may only have gained members (a stable interface: members are
only ever added), every golden member keeping its value.

MEMLINE_GOLDEN_WRITE=1 writes the golden files from the memline under test instead of
comparing (for a deliberate change of output: say why in the commit).
"""

import json
import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import MEMLINE, REPO, TIMEOUT

GOLDEN = REPO / "tests" / "fixtures" / "golden"
LOGS = ["complete", "corrupt", "events", "export-hostile", "hostile", "oom", "pidreuse",
        "reordered", "stopped", "truncated"]
WRITE = os.environ.get("MEMLINE_GOLDEN_WRITE") == "1"


def memline(*args, cwd=REPO):
    p = subprocess.run([str(MEMLINE), *map(str, args)], cwd=cwd, capture_output=True,
                       timeout=TIMEOUT)
    return p.returncode, p.stdout.decode("utf-8", "surrogateescape")


def log_arg(name):
    # relative to the repository, so the log's path in the output is the same everywhere
    return f"tests/fixtures/logs/{name}.jsonl"


def outputs(name, tmp_path):
    """Every golden output of one log, as {file name: text}."""
    out = {}
    code, text = memline("report", log_arg(name))
    out["report.txt"] = f"exit {code}\n{text}"
    code, text = memline("status", log_arg(name))
    out["status.txt"] = f"exit {code}\n{text}"
    code, text = memline("export", "--csv", log_arg(name))
    out["csv"] = f"exit {code}\n{text}"
    code, text = memline("export", "--perfetto", log_arg(name))
    out["perfetto.json"] = f"exit {code}\n{text}"
    gp = tmp_path / f"gp-{name}"
    code, _ = memline("export", "--gnuplot", gp, log_arg(name))
    for part in ("dat", "plt"):
        f = gp / f"memline.{part}"
        out[f"gnuplot.{part}"] = f"exit {code}\n" + (
            f.read_bytes().decode("utf-8", "surrogateescape") if code == 0 else "")
    svg = tmp_path / f"{name}.svg"
    code, _ = memline("plot", "-o", svg, log_arg(name))
    texts = []
    if code == 0:
        root = ET.parse(svg).getroot()
        texts = [el.text or "" for el in root.iter() if el.tag.endswith("text")]
    out["svg-text.txt"] = f"exit {code}\n" + "".join(t + "\n" for t in texts)
    return out


def golden_path(name, kind):
    return GOLDEN / f"{name}.{kind}"


@pytest.mark.parametrize("name", LOGS)
def test_format1_outputs_unchanged(name, tmp_path):
    for kind, text in outputs(name, tmp_path).items():
        path = golden_path(name, kind)
        if WRITE:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text.encode("utf-8", "surrogateescape"))
            continue
        want = path.read_bytes().decode("utf-8", "surrogateescape")
        assert text == want, (f"expected `{kind}` of {name}.jsonl (format 1) to be what it was "
                              f"({path}); got:\n{text}")


def contains(got, want, where):
    """Every member of want is in got with the same value (objects may have gained members)."""
    if isinstance(want, dict):
        assert isinstance(got, dict), f"{where}: expected an object, got {got!r}"
        for k, v in want.items():
            assert k in got, f"{where}: the member {k!r} is gone"
            contains(got[k], v, f"{where}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), (
            f"{where}: expected {len(want)} elements, got {got!r}")
        for i, (g, w) in enumerate(zip(got, want)):
            contains(g, w, f"{where}[{i}]")
    else:
        assert got == want, f"{where}: expected {want!r} (as before), got {got!r}"


@pytest.mark.parametrize("name", LOGS)
def test_format1_json_report_only_gains_members(name):
    code, text = memline("report", "--json", log_arg(name))
    path = golden_path(name, "report.json")
    if WRITE:
        path.write_text(f"exit {code}\n{text}", encoding="utf-8")
        return
    want_code, want_text = path.read_text(encoding="utf-8").split("\n", 1)
    assert f"exit {code}" == want_code
    contains(json.loads(text), json.loads(want_text), name)
