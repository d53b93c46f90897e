"""`memline report --stacks`, `report --json`'s stacks and `export --folded` on the hand-written
log tests/fixtures/logs/stacks.jsonl (captures at a peak, at an event with a hostile label, at
a signal that failed; frames of each kind, hostile frame text) and on a log without stacks.

The text of `report --stacks` is compared with tests/fixtures/golden/stacks.report-stacks.txt;
MEMLINE_GOLDEN_WRITE=1 writes it from the memline under test instead (say why in the commit).
"""

import json
import os
import subprocess

from conftest import MEMLINE, REPO, TIMEOUT

GOLDEN = REPO / "tests" / "fixtures" / "golden" / "stacks.report-stacks.txt"
LOG = "tests/fixtures/logs/stacks.jsonl"
NO_STACKS = "tests/fixtures/logs/complete.jsonl"


def memline(*args):
    p = subprocess.run([str(MEMLINE), *map(str, args)], cwd=REPO, capture_output=True,
                       timeout=TIMEOUT)
    return p.returncode, p.stdout.decode("utf-8", "surrogateescape"), p.stderr.decode()


def test_report_stacks_golden():
    code, text, _ = memline("report", "--stacks", LOG)
    got = f"exit {code}\n{text}"
    if os.environ.get("MEMLINE_GOLDEN_WRITE") == "1":
        GOLDEN.write_text(got, encoding="utf-8")
        return
    assert got == GOLDEN.read_text(encoding="utf-8")


def test_report_stacks_peak_first_and_grouped():
    code, text, _ = memline("report", "--stacks", LOG)
    assert code == 0
    peak = text.index("at the job's peak")
    listing = text.index("captures in time order")
    assert peak < listing
    # the peak's capture (3, at 2.0 s) is the one shown first, its frames in full
    assert "capture 3 at 2.000 s, peak" in text[peak:listing]
    assert "grow (solver.c:41)" in text[peak:listing]
    assert "stack #2, 2 threads: 301 (loader), 302 (loader, truncated)" in text[peak:listing]
    # each distinct stack's frames once: grow's frame is printed once in all
    assert text.count("grow (solver.c:41)") == 1
    assert "thread 300: the process exited during the capture" in text
    assert "4 captures, 1 skipped (budget spent), 1 failed" in text


def test_report_stacks_escapes_recorded_text():
    _, text, _ = memline("report", "--stacks", LOG)
    assert "\x1b" not in text and "\x07" not in text and "\x00" not in text
    assert "evil\\x1b]0;pwned\\x07" in text
    assert 'event "epoch \\x1b[31m1\\x00"' in text


def test_report_without_stacks_says_so():
    code, text, err = memline("report", "--stacks", NO_STACKS)
    assert code == 0, err
    assert text.splitlines()[1] == "no stacks: the log was recorded without --stacks"
    assert len(text.splitlines()) == 2
    code, text, _ = memline("report", NO_STACKS)
    assert code == 0 and "\nstacks " not in text


def test_report_mentions_stacks():
    code, text, _ = memline("report", LOG)
    assert code == 0
    assert "stacks    4 captures, 1 skipped (budget spent), 1 failed" in text


def test_json_stacks():
    code, text, _ = memline("report", "--json", LOG)
    assert code == 0
    st = json.loads(text)["stacks"]
    assert (st["captures"], st["skipped"], st["failed"], st["cpu"]) == (4, 1, 1, 0.004)
    assert st["in_log"] == 4 and st["distinct"] == 4
    peak = st["peak"]
    assert (peak["capture"], peak["why"], peak["pid"], peak["t"]) == (3, "peak", 300, 2.0)
    assert [t["tid"] for t in peak["threads"]] == [300, 301, 302]
    assert peak["threads"][0]["frames"] == ["grow (solver.c:41)", "libfoo.so.1+0x11e00",
                                            "load_batch (train.py:88)",
                                            "<module> (train.py:120)"]
    assert peak["threads"][2]["truncated"] is True
    code, text, _ = memline("report", "--json", NO_STACKS)
    assert json.loads(text)["stacks"] is None


def test_json_and_stacks_refused_together():
    code, _, err = memline("report", "--json", "--stacks", LOG)
    assert code == 64 and "--json and --stacks" in err


def test_export_folded(tmp_path):
    code, text, _ = memline("export", "--folded", LOG)
    assert code == 0
    lines = text.splitlines()
    assert len(lines) == 3
    counts = {line.rsplit(" ", 1)[0]: int(line.rsplit(" ", 1)[1]) for line in lines}
    assert counts["<module> (train.py:120);libfoo.so.1+0x11e00"] == 4
    assert sum(counts.values()) == 7  # the thread stacks with frames: 2 + 2 + 3
    out = tmp_path / "out.folded"
    code, _, _ = memline("export", "--folded", "-o", out, LOG)
    assert code == 0 and out.read_text() == text
    code, text, err = memline("export", "--folded", NO_STACKS)
    assert code == 0 and text == "" and "no stacks" in err
