"""The demo of `make demo`: recorded, it shows its four phases as spans and its events, with
the tree's memory, in `memline report`. (Built by the plain pass of `make check` only.)"""

import json
import subprocess

import pytest

from conftest import MEMLINE, REPO


def test_demo_phases_and_events(tmp_path):
    demo = REPO / "build" / "demo"  # the plain build's, also in the sanitizer pass
    if not demo.exists():
        pytest.skip(f"{demo} is built by the plain pass of make check")
    log = tmp_path / "demo.jsonl"
    p = subprocess.run([str(MEMLINE), "run", "-q", "-o", str(log), "--", str(demo)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p
    rep = json.loads(subprocess.run([str(MEMLINE), "report", "--json", str(log)],
                                    capture_output=True, text=True, timeout=60).stdout)
    assert [s["name"] for s in rep["spans"]] == ["load", "work", "merge", "cleanup"], rep["spans"]
    merge = next(s for s in rep["spans"] if s["name"] == "merge")
    cleanup = next(s for s in rep["spans"] if s["name"] == "cleanup")
    assert merge["peak_rss"] >= 150 * 1024 * 1024, f"expected the merge phase's 150 MB peak: {merge}"
    assert cleanup["peak_rss"] < merge["peak_rss"], f"expected cleanup without merge's peak: {cleanup}"
    assert [e["label"] for e in rep["events"]] == ["input read: 80 MB", "all workers done"]
    assert len([pr for pr in rep["processes"]]) == 5, "expected the demo, 3 workers and a helper"
    text = subprocess.run([str(MEMLINE), "report", str(log)], capture_output=True, text=True,
                          timeout=60).stdout
    assert "phases" in text and "events" in text, text
