"""Recorded text reaches the terminal escaped: command lines, comm, labels, span names, host,
the end's error and paths, in `report`, `status`, the closing summary line and memline's own
messages, for a recorded run and for a crafted log. A right-to-left override (U+202E), a C1
control (U+009B, CSI), ESC [ and a newline show as \\u202e, \\u009b, \\x1b and \\n."""

import json
import os
import signal
import subprocess

from conftest import MEMLINE, read_pidfile

HOSTILE = "x\u202e\u009b\x1b[31mred\nnl"
SHOWN = r"x\u202e\u009b\x1b[31mred\nnl"
RAW = [b"\x1b", "\u202e".encode(), "\u009b".encode()]


def assert_clean(text, what):
    """No raw escape, bidi override or C1 control in text (bytes)."""
    for raw in RAW:
        assert raw not in text, f"expected no raw {raw!r} in {what}: {text!r}"


def assert_lines(text, what):
    """The hostile newline did not make a line of its own: no line starts with "nl"."""
    lines = text.split(b"\n")
    assert not any(line.startswith(b"nl") for line in lines), f"a newline got through in {what}: {text!r}"


def run(*args, **kw):
    return subprocess.run([str(MEMLINE), *map(str, args)], capture_output=True, timeout=60, **kw)


def kill_tree(pid):
    """SIGKILLs pid and its children (a test's own leftovers, found by pid)."""
    try:
        kids = open(f"/proc/{pid}/task/{pid}/children").read().split()
    except OSError:
        kids = []
    for p in [pid, *map(int, kids)]:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass


def test_recorded_run(ml, tmp_path):
    # The command is a shell named HOSTILE (a symlink), so its command line starts with it;
    # its child, the same shell, outlives it: status names it among those still alive.
    (tmp_path / HOSTILE).symlink_to("/bin/sh")
    log = tmp_path / f"log{HOSTILE}.jsonl"
    pf = tmp_path / "child.pid"
    script = '"$0" -c "sleep 60; :" </dev/null >/dev/null 2>&1 & echo $! > child.pid'
    r = run("run", "-i", "0.05", "-o", log, "--", f"./{HOSTILE}", "-c", script, cwd=tmp_path)
    child = read_pidfile(pf)
    try:
        assert r.returncode == 0, r
        assert_clean(r.stderr, "the summary line")
        assert r.stderr.startswith(b"memline: completed") and r.stderr.count(b"\n") == 1, r.stderr
        assert SHOWN.encode() in r.stderr, f"expected the log's path escaped: {r.stderr!r}"

        rep = run("report", log)
        assert rep.returncode == 0, rep
        for out in (rep.stdout, rep.stderr):
            assert_clean(out, "report")
            assert_lines(out, "report")
        text = rep.stdout.decode()
        assert text.count(SHOWN) >= 3, f"expected the path, the command and its processes escaped: {text}"
        assert f"command   './{SHOWN}' -c" in text, text

        st = run("status", log)
        assert st.returncode == 0, st
        assert_clean(st.stdout, "status")
        assert_lines(st.stdout, "status")
        alive = [ln for ln in st.stdout.decode().splitlines() if ln.startswith("still alive: ")]
        assert len(alive) == 1 and f"{child} ('./{SHOWN}'" in alive[0], st.stdout.decode()
    finally:
        kill_tree(child)


def test_command_name_in_an_error(ml, tmp_path):
    r = run("run", "-o", tmp_path / "x.jsonl", "--", f"no{HOSTILE}")
    assert r.returncode == 127, r
    assert r.stderr == f"memline: cannot run 'no{SHOWN}': command not found; check the name and PATH\n".encode()


def test_crafted_log(ml, tmp_path):
    header = {"type": "header", "format": 1, "memline": "0.1.0", "mode": "run", "host": HOSTILE,
              "start": HOSTILE, "command": ["sh", HOSTILE], "pid": 10, "pids": [10],
              "cwd": HOSTILE, "kernel": HOSTILE, "mem_total": 1000,
              "fields": ["pid", "rss"], "tree_fields": ["nproc", "rss"]}
    recs = [header,
            {"type": "proc", "t": 0, "pid": 10, "ppid": 1, "start": 0, "comm": HOSTILE[:15],
             "argv": ["sh", HOSTILE]},
            {"type": "proc", "t": 0, "pid": 11, "ppid": 10, "start": 0, "comm": HOSTILE[:15],
             "argv": []},
            {"type": "proc", "t": 0, "pid": 12, "ppid": 10, "start": 0, "comm": "w",
             "argv": [HOSTILE]},
            {"type": "sample", "t": 0.1, "avail": 1, "tree": [3, 300],
             "p": [[10, 100], [11, 100], [12, 100]]},
            {"type": "event", "t": 0.2, "label": HOSTILE},
            {"type": "span", "t": 0.2, "phase": "begin", "name": HOSTILE},
            {"type": "span", "t": 0.3, "phase": "end", "name": HOSTILE},
            {"type": "exit", "t": 0.4, "pid": 12, "how": "killed", "signal": 9, "oom": True},
            {"type": "end", "t": 0.5, "status": "oom-killed", "signal": 9, "oom_killed": [12],
             "alive": [11], "error": HOSTILE}]
    log = tmp_path / f"crafted{HOSTILE}.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in recs) + "not json\n")

    rep = run("report", log)
    assert rep.returncode == 0, rep
    for out in (rep.stdout, rep.stderr):
        assert_clean(out, "report")
        assert_lines(out, "report")
    text = rep.stdout.decode()
    assert text.count(SHOWN) >= 8, f"expected every hostile text escaped: {text}"
    for line in ("host      " + SHOWN, "started   " + SHOWN, "Linux " + SHOWN,
                 "[" + SHOWN[:len(r"x\u202e\u009b\x1b[31mred\nn")]):
        assert line in text, f"expected {line!r} in the report: {text}"
    assert b"warning: " + str(log).encode() not in rep.stderr  # the path is escaped too
    assert SHOWN.encode() in rep.stderr, rep.stderr

    st = run("status", log)
    assert st.returncode == 2, st
    assert_clean(st.stdout + st.stderr, "status")
    assert_lines(st.stdout, "status")
    out = st.stdout.decode()
    for line in (f"error: {SHOWN}\n", f"oom-killed: 12 ('{SHOWN}')\n", f"still alive: 11 ([{SHOWN}])\n"):
        assert line in out, f"expected {line!r} in the status: {out}"
