"""The job's dashboard: `memline view DIR` (and several logs, a pattern) of the logs of a job's
ranks, and `memline view --follow DIR` while they are recorded, in a tmux pane.

The ranks are real recordings: `memline run -o 'DIR/r.%r.jsonl' -- python3 -c ...` with the
launcher's variables OMPI_COMM_WORLD_RANK=N and OMPI_COMM_WORLD_SIZE in the environment, rank N
holding (N + 1) * 20 MiB. Their peaks on the screen are compared with `memline report --json`
of the same logs (the job model both read), and with what the ranks allocated. The recordings
that are followed wait on their standard input: a line makes them allocate, its end makes
them exit, so the test moves them on when it has seen what it waits for, never after a sleep.
A rank whose log appears in the followed directory later is picked up by the directory's
rescan. Hostile host and directory names reach the screen escaped."""

import json
import os
import re
import subprocess
import sys

import pytest

from conftest import MEMLINE, contains, wait_for_records, wait_until

PY = sys.executable if os.path.isabs(sys.executable) else "/usr/bin/python3"
MIB = 1024 * 1024

# Allocates 10 MiB, and on a line of input (N + 1) * 20 MiB more; exits at the input's end.
# Without WAIT in argv, allocates both at once and exits.
RANK = r"""
import sys
n = int(sys.argv[1])
def touch(size):
    b = bytearray(size)
    for i in range(0, size, 4096):
        b[i] = 1
    return b
held = [touch(10 << 20)]
wait = "WAIT" in sys.argv
if wait:
    sys.stdin.readline()
held.append(touch((n + 1) * 20 << 20))
if wait:
    sys.stdin.read()
"""

HOSTILE = "x\u202e\u009b\x1b[31mred"
SHOWN = r"x\u202e\u009b\x1b[31mred"


def rank_env(n, size):
    env = dict(os.environ, OMPI_COMM_WORLD_RANK=str(n), OMPI_COMM_WORLD_SIZE=str(size))
    env.pop("MEMLINE_CHANNEL", None)
    return env


def start_rank(log, n, size, wait):
    """memline run of rank n, its log DIR/r.N.jsonl named by the pattern -o DIR/r.%r.jsonl."""
    assert log.name == f"r.{n}.jsonl"
    return subprocess.Popen(
        [str(MEMLINE), "run", "-q", "-o", str(log.parent / "r.%r.jsonl"), "--", PY, "-c", RANK,
         str(n)]
        + (["WAIT"] if wait else []),
        env=rank_env(n, size), stdin=subprocess.PIPE if wait else subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def record_ranks(d, size):
    """Records size ranks into d, all at once, to their end."""
    ps = [start_rank(d / f"r.{n}.jsonl", n, size, wait=False) for n in range(size)]
    for p in ps:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    return [d / f"r.{n}.jsonl" for n in range(size)]


def report(*args):
    p = subprocess.run([str(MEMLINE), "report", "--json", *map(str, args)], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def text_bytes(b):
    """lib/util/text.c's text_bytes: how the dashboard writes a size."""
    if b < 1024:
        return f"{b} B"
    v, units = b / 1024, ["KiB", "MiB", "GiB", "TiB", "PiB"]
    u = 0
    while v >= 1023.95 and u + 1 < len(units):
        v /= 1024
        u += 1
    return f"{v:.1f} {units[u]}"


SIZE = re.compile(r"\d+\.\d [KMGTP]iB|\b\d+ B\b")


def rank_rows(lines):
    """The ranks' table: the rows under its heading (RANK or LOG ... PEAK NOW CPU ... STATUS),
    each as (line, its sizes: peak, then now when it has one)."""
    for i, line in enumerate(lines):
        if re.match(r"(RANK|LOG)\s+NODE\s+PEAK\s+NOW\s+CPU", line):
            rows = []
            for row in lines[i + 1:]:
                if not row.strip() or row.startswith(("q quit", "the job ended")):
                    break
                rows.append((row, SIZE.findall(row)))
            return rows
    return []


def summary_peak(lines):
    m = re.search(r"peak (\S+ \S+) at", lines[1]) if len(lines) > 1 else None
    return m.group(1) if m else None


def parse_size(s):
    num, unit = s.split()
    return float(num) * {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[unit]


def names_distinct(rep):
    return len({r["name"] for r in rep["ranks"]}) == len(rep["ranks"])


def test_view_job_of_finished_ranks(tmp_path, tmux):
    """A directory of four ranks' logs: the header, the ranks with the peaks report --json
    gives (rank N above (N + 1) * 20 MiB), the keys that sort them, q."""
    d = tmp_path / "job"
    d.mkdir()
    record_ranks(d, 4)
    rep = report(d)
    assert rep["job"]["logs"] == 4
    peaks = sorted((r["peak"] for r in rep["ranks"]), reverse=True)
    tmux.start(f"cd {tmp_path} && env LANG=C.UTF-8 {MEMLINE} view job; echo VIEW-EXITED $?; "
               "sleep 600", cols=100, rows=30)
    lines = tmux.wait_for("the job's dashboard", contains("4 ranks", "the job ended: completed"))
    assert lines[0].startswith(" memline job "), lines[0]
    assert lines[0].rstrip().endswith("completed"), lines[0]
    assert summary_peak(lines) == text_bytes(rep["job"]["peak"]), lines[1]
    assert "status completed" in lines[2], lines[2]
    rows = rank_rows(lines)
    assert len(rows) == 4, "\n".join(lines)
    assert [r[1][0] for r in rows] == [text_bytes(p) for p in peaks], "\n".join(lines)
    for row, sizes in rows:
        assert row.rstrip().endswith("completed") and len(sizes) == 1, row  # no NOW: ended
    # what the ranks held: rank N at least (N + 1) * 20 MiB, the heaviest first
    for k, (row, sizes) in enumerate(rows):
        assert parse_size(sizes[0]) >= (4 - k) * 20 * MIB, row
    if names_distinct(rep):  # the header's place names the ranks (the recorder's part 8)
        assert [r[0].split()[1] for r in rows] == ["3", "2", "1", "0"], rows
        tmux.keys("r")
        lines = tmux.wait_for("the ranks in rank order", contains("by name"))
        assert [r[0].split()[1] for r in rank_rows(lines)] == ["0", "1", "2", "3"]
    tmux.keys("c")
    tmux.wait_for("the ranks by CPU", contains("by CPU"))
    tmux.keys("m")
    tmux.wait_for("the ranks by peak", contains("by peak"))
    tmux.keys("?")
    tmux.wait_for("the help", contains("job dashboard keys", "ranks by CPU time"))
    tmux.keys("x")
    tmux.wait_for("the help closed", lambda ls: not contains("job dashboard keys")(ls))
    tmux.keys("q")
    tmux.wait_for("the view to quit", contains("VIEW-EXITED 0"))

    # the same logs named one by one, and as a pattern; one of them alone: its own dashboard
    logs = " ".join(str(d / f"r.{n}.jsonl") for n in range(4))
    for args, what, shows, leave in (
            (logs, "the job of four logs", ("4 ranks", "the job ended"), "C-c"),
            (f"'{d}/r.*.jsonl'", "the job of a pattern", ("4 ranks", "the job ended"), "q"),
            (d / "r.0.jsonl", "one log's own dashboard", ("PID COMMAND", "completed: exit code 0"),
             "q")):
        tmux.kill()
        tmux.start(f"env LANG=C.UTF-8 {MEMLINE} view {args}; echo VIEW-EXITED $?; sleep 600",
                   cols=100, rows=30)
        lines = tmux.wait_for(what, contains(*shows))
        if "4 ranks" in shows:
            assert [r[1][0] for r in rank_rows(lines)] == [text_bytes(p) for p in peaks]
        tmux.keys(leave)  # C-c: a stopping signal leaves it as q does
        tmux.wait_for(f"the view to quit on {leave}", contains("VIEW-EXITED 0"))


def test_view_follow_job(tmp_path, tmux):
    """view --follow of a directory while three ranks record: they show running, then growing
    when told to allocate; a rank that starts after the view joins it; once every recording
    has ended, the final status, until q."""
    d = tmp_path / "live"
    d.mkdir()
    ranks = {}
    try:
        for n in (0, 1):
            ranks[n] = start_rank(d / f"r.{n}.jsonl", n, 3, wait=True)
            wait_for_records(d / f"r.{n}.jsonl", "sample")
        tmux.start(f"env LANG=C.UTF-8 {MEMLINE} view --follow {d}; echo VIEW-EXITED $?; "
                   "sleep 600", cols=100, rows=30)
        lines = tmux.wait_for("two ranks running", contains("2 ranks", "2 of 2 running"))
        assert lines[0].rstrip().endswith("running"), lines[0]
        assert "CPU%" in "\n".join(lines)

        # a rank that starts later: the directory's next scan finds its log
        ranks[2] = start_rank(d / "r.2.jsonl", 2, 3, wait=True)
        lines = tmux.wait_for("the third rank joining", contains("3 ranks", "3 of 3 running"))
        before = parse_size(summary_peak(lines))
        for row, sizes in rank_rows(lines):
            assert "running" in row and len(sizes) == 2, row  # PEAK and NOW

        # told to allocate: each grows by (N + 1) * 20 MiB, 120 MiB in all; the job's peak must
        # grow by 100 MiB at least (a margin for what the interpreters give back meanwhile)
        for p in ranks.values():
            p.stdin.write(b"go\n")
            p.stdin.flush()

        def grown(ls):
            rows = rank_rows(ls)
            return len(rows) == 3 and summary_peak(ls) and \
                parse_size(summary_peak(ls)) >= before + 100 * MIB and \
                all(len(s) == 2 for _, s in rows) and \
                [parse_size(s[1]) >= (3 - k) * 20 * MIB for k, (_, s) in enumerate(rows)] \
                == [True] * 3
        lines = tmux.wait_for("the ranks grown", grown)
        assert not contains("the job ended")(lines)

        for p in ranks.values():
            p.stdin.close()
        for p in ranks.values():
            assert p.wait(60) == 0, p.stderr.read()
        lines = tmux.wait_for("the job's end", contains("the job ended: completed"))
        assert lines[0].rstrip().endswith("completed"), lines[0]
        rep = report(d)
        peaks = sorted((r["peak"] for r in rep["ranks"]), reverse=True)
        rows = rank_rows(lines)
        assert [r[1][0] for r in rows] == [text_bytes(p) for p in peaks], "\n".join(lines)
        assert all(len(s) == 1 for _, s in rows), rows  # ended: no NOW
        assert summary_peak(lines) == text_bytes(rep["job"]["peak"]), lines[1]
        assert "CPU%" not in "\n".join(lines)
        tmux.keys("q")
        tmux.wait_for("the view to quit", contains("VIEW-EXITED 0"))
    finally:
        for p in ranks.values():
            if p.poll() is None:
                p.kill()
                p.wait(10)


def test_view_follow_waits_for_logs(tmp_path, tmux):
    """view --follow of a directory with no log yet waits for them, and a pattern too."""
    d = tmp_path / "empty"
    d.mkdir()
    tmux.start(f"env LANG=C.UTF-8 {MEMLINE} view --follow '{d}/r.*.jsonl'; echo VIEW-EXITED $?;"
               " sleep 600", cols=100, rows=30)
    tmux.wait_for("the dashboard waiting", contains("waiting for the job's logs"))
    record_ranks(d, 2)
    tmux.wait_for("the ranks found and ended", contains("2 ranks", "the job ended: completed"))
    tmux.keys("q")
    tmux.wait_for("the view to quit", contains("VIEW-EXITED 0"))


def test_view_job_escapes(tmp_path, tmux):
    """Hosts and a directory named with an ESC sequence, a C1 control and a right-to-left
    override: shown escaped in the title, the ranks' and the nodes' tables."""
    src = tmp_path / "src"
    src.mkdir()
    logs = record_ranks(src, 2)
    d = tmp_path / f"job{HOSTILE}"
    d.mkdir()
    for k, log in enumerate(logs):
        lines = log.read_text().splitlines(keepends=True)
        header = json.loads(lines[0])
        header["host"] = f"{HOSTILE}{k}"
        (d / log.name).write_text(json.dumps(header) + "\n" + "".join(lines[1:]))
    tmux.start(f"cd {tmp_path} && env LANG=C.UTF-8 {MEMLINE} view '{d.name}'; "
               "echo VIEW-EXITED $?; sleep 600", cols=120, rows=30)
    lines = tmux.wait_for("the job of two nodes", contains("2 nodes", "the job ended"))
    text = "\n".join(lines)
    for raw in ("\u202e", "\u009b", "\x1b"):
        assert raw not in text, f"a raw {raw!r} reached the screen:\n{text}"
    assert SHOWN in lines[0], lines[0]  # the title: the directory
    assert text.count(SHOWN + "0") >= 2 and text.count(SHOWN + "1") >= 2, text  # both tables
    assert re.search(r"^NODE\s+PEAK\s+NOW", text, re.M), text
    tmux.keys("q")
    tmux.wait_for("the view to quit", contains("VIEW-EXITED 0"))


def test_view_job_errors(ml, tmp_path):
    """One line each, cli.h's codes: a job's logs go to a terminal (64, once they are read);
    --serve takes one log (64); an empty directory or a pattern that matches nothing, without
    --follow (66); a directory with a log that is not memline's among them is read without it."""
    d = tmp_path / "job"
    d.mkdir()
    logs = record_ranks(d, 2)
    p = ml.cmd("view", d, stdin=subprocess.DEVNULL)
    assert p.returncode == 64 and "terminal" in p.stderr and p.stderr.count("\n") == 1, p
    p = ml.cmd("view", "--follow", d, stdin=subprocess.DEVNULL)
    assert p.returncode == 64 and "terminal" in p.stderr and p.stderr.count("\n") == 1, p
    p = ml.cmd("view", "--serve", "127.0.0.1:0", *logs, stdin=subprocess.DEVNULL)
    assert p.returncode == 64 and "--serve" in p.stderr and p.stderr.count("\n") == 1, p
    empty = tmp_path / "empty"
    empty.mkdir()
    p = ml.cmd("view", empty, stdin=subprocess.DEVNULL)
    assert p.returncode == 66 and "no log" in p.stderr and p.stderr.count("\n") == 1, p
    p = ml.cmd("view", f"{empty}/r.*.jsonl", stdin=subprocess.DEVNULL)
    assert p.returncode == 66 and "matches no file" in p.stderr, p
    p = ml.cmd("view", "--follow", tmp_path / "missing" / "r.0.jsonl", stdin=subprocess.DEVNULL)
    assert p.returncode == 66 and p.stderr.count("\n") == 1, p
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.jsonl").write_text("not a memline log\n")
    p = ml.cmd("view", bad, stdin=subprocess.DEVNULL)
    assert p.returncode == 65 and p.stderr.count("\n") >= 1, p
