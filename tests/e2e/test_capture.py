"""--capture-output and --event-regex: the command's output passes through unchanged, each
line is recorded with its stream, matching lines become events; a pseudo-terminal keeps the
program's output a terminal's when memline's own is one; a closed reader still stops it."""

import json
import os
import pty
import select
import subprocess

from conftest import MEMLINE, MEMWORK, end_of, of_type, read_log


def test_output_passes_through_and_is_recorded(ml, tmp_path):
    log = tmp_path / "cap.jsonl"
    script = (r'printf "one\ntwo\n"; printf "err \001\377\n" >&2; printf "\000bin\r\n"; '
              r'printf "no newline at the end"; exit 3')
    p = subprocess.run([str(MEMLINE), "run", "-q", "-o", str(log), "--capture-output", "--",
                        "sh", "-c", script], capture_output=True, timeout=60)
    assert p.returncode == 3, p
    assert p.stdout == b"one\ntwo\n\x00bin\r\nno newline at the end", f"expected stdout unchanged: {p.stdout!r}"
    assert p.stderr == b"err \x01\xff\n", f"expected stderr unchanged: {p.stderr!r}"
    out = of_type(read_log(log), "output")
    # Each stream in its order; which stream's line comes first when both arrive is a race.
    stdout = [r["text"] for r in out if r["stream"] == "stdout"]
    stderr = [r["text"] for r in out if r["stream"] == "stderr"]
    assert stdout == ["one", "two", "\x00bin\r", "no newline at the end"], stdout
    assert stderr == ["err \x01\ufffd"], stderr


def test_event_regex_turns_lines_into_events(ml, tmp_path):
    log = tmp_path / "re.jsonl"
    p = subprocess.run([str(MEMLINE), "run", "-q", "-o", str(log), "--event-regex", "^Epoch [0-9]+",
                        "--event-regex", "done$", "--", "sh", "-c",
                        'for i in 1 2 3; do echo "Epoch $i of 3"; echo "loss $i"; done; echo all done'],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p
    records = read_log(log)
    assert [e["label"] for e in of_type(records, "event")] == [
        "Epoch 1 of 3", "Epoch 2 of 3", "Epoch 3 of 3", "all done"]
    assert len(of_type(records, "output")) == 7, "expected every line recorded as output"
    assert end_of(records)["events"] == 4
    bad = subprocess.run([str(MEMLINE), "run", "-o", str(tmp_path / "x.jsonl"), "--event-regex", "(",
                          "--", "true"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 64 and "--event-regex '('" in bad.stderr, bad
    assert not (tmp_path / "x.jsonl").exists(), "expected no log when the command never started"


def test_terminal_output_stays_a_terminal(ml, tmp_path):
    """With memline's stdout a terminal, the command's is one too (so it line-buffers), and
    what it writes reaches the terminal."""
    log = tmp_path / "tty.jsonl"
    master, slave = pty.openpty()
    p = subprocess.Popen([str(MEMLINE), "run", "-q", "-o", str(log), "--capture-output", "--", "sh", "-c",
                          '[ -t 1 ] && echo "stdout is a tty" || echo "stdout is not a tty"'],
                         stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    seen = b""
    while True:
        r, _, _ = select.select([master], [], [], 30)
        assert r, f"expected output on the terminal, got {seen!r}"
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    assert p.wait(timeout=30) == 0
    os.close(master)
    assert b"stdout is a tty" in seen, f"expected the command to see a terminal: {seen!r}"
    texts = [r["text"] for r in of_type(read_log(log), "output")]
    assert texts == ["stdout is a tty"], f"expected the line recorded without a carriage return: {texts}"


def test_closed_reader_still_stops_the_command(ml, tmp_path):
    """`memline run --capture-output -- yes | head -2` ends: yes gets SIGPIPE as without memline."""
    log = tmp_path / "yes.jsonl"
    p = subprocess.run(f'"{MEMLINE}" run -q -o "{log}" --capture-output -- yes | head -2; '
                       'exit ${PIPESTATUS[0]}', shell=True, executable="/bin/bash",
                       capture_output=True, text=True, timeout=60)
    assert p.stdout == "y\ny\n", p
    assert p.returncode == 128 + 13, f"expected memline to exit as yes did (SIGPIPE): {p}"
    assert end_of(read_log(log))["signal"] == 13


def test_capture_is_for_run_only(ml, tmp_path):
    p = ml.cmd("attach", "--capture-output", "1")
    assert p.returncode == 64 and "--capture-output is for 'memline run'" in p.stderr, p


def test_nul_bytes_round_trip_and_no_record_is_lost(ml, tmp_path):
    """Output with NULs (find -print0) and labels and names with NULs are written as \\u0000;
    every reader takes them back, shows them escaped and loses no record to them."""
    from conftest import REPO
    log = tmp_path / "nul.jsonl"
    py = ('import memline\nmemline.event("\\x00x")\nwith memline.span("s\\x00n"):\n'
          '    memline.event("in")\n')
    script = r'printf "a\000b\n"; /usr/bin/python3 -c "$1"'
    env = dict(os.environ, PYTHONPATH=str(REPO / "python"))
    p = subprocess.run([str(MEMLINE), "run", "-q", "-o", str(log), "--capture-output",
                        "--event-regex", "^a", "--", "sh", "-c", script, "sh", py],
                       capture_output=True, timeout=60, env=env)
    assert p.returncode == 0, p
    records = read_log(log)
    assert [r["text"] for r in of_type(records, "output")] == ["a\x00b"]
    assert [e["label"] for e in of_type(records, "event")] == ["a\x00b", "\x00x", "in"]
    assert {s["name"] for s in of_type(records, "span")} == {"s\x00n"}

    r = subprocess.run([str(MEMLINE), "report", str(log)], capture_output=True, timeout=60)
    assert r.returncode == 0 and not r.stderr, f"expected nothing skipped: {r.stderr!r}"
    assert b"corrupt" not in r.stdout and b"\x00" not in r.stdout, r.stdout
    for shown in (rb"a\x00b", rb"\x00x", rb"s\x00n"):
        assert shown in r.stdout, f"expected {shown!r} in the report: {r.stdout!r}"
    rep = ml.report_json(log)
    assert rep["corrupt_lines"] == 0
    assert [e["label"] for e in rep["events"]] == ["a\x00b", "\x00x", "in"]
    assert [s["name"] for s in rep["spans"]] == ["s\x00n"]
    code, first, out, err = ml.status(log)
    assert (code, first) == (0, "completed") and "corrupt" not in out + err, (code, out, err)

    html = tmp_path / "nul.html"
    r = ml.cmd("plot", "-o", html, log)
    assert r.returncode == 0 and not r.stderr, r.stderr
    assert r'"text":"a\u0000b"' in html.read_text(), "expected the output line in the page"
    trace = tmp_path / "nul.trace.json"
    r = ml.cmd("export", "--perfetto", "-o", trace, log)
    assert r.returncode == 0 and not r.stderr, r.stderr
    names = {e.get("name") for e in json.loads(trace.read_text())["traceEvents"]}
    assert {"a\x00b", "\x00x", "s\x00n"} <= names, names
