"""Bad command lines and bad logs: the right exit code, a clear message, nothing clobbered."""

import os
import re
import signal
import time

import pytest

from conftest import header_of, read_log, read_pidfile, wait_for_records


@pytest.mark.parametrize("args", [["run", "--bogus", "--", "true"], ["run", "-i", "abc", "--", "true"],
                                  ["run"], ["status", "--bogus"], ["report", "--bogus"]])
def test_usage_errors(ml, tmp_path, args):
    r = ml.cmd(*args)
    assert r.returncode == 64, f"expected exit 64 (usage) for `memline {' '.join(args)}`, got {r.returncode}: {r.stderr!r}"
    assert r.stderr.strip(), f"expected a message on stderr for `memline {' '.join(args)}`"
    assert not list(tmp_path.glob("*.jsonl")), "expected no log created by a usage error"


def test_log_in_missing_directory(ml, tmp_path):
    pf = tmp_path / "started.pid"
    r = ml.cmd("run", "-o", tmp_path / "no" / "such" / "dir" / "x.jsonl", "--", ml.memwork, "pidfile", pf)
    assert r.returncode == 73, f"expected exit 73 (cannot create log), got {r.returncode}: {r.stderr!r}"
    assert "x.jsonl" in r.stderr, f"expected the message to name the log, got {r.stderr!r}"
    assert not pf.exists(), "expected the command NOT to be started when the log cannot be created"


def test_second_writer_refused(ml, tmp_path, killer):
    log, pf = tmp_path / "shared.jsonl", tmp_path / "first.pid"
    first = ml.popen("run", "-o", log, "-i", "0.05", "--", ml.memwork, "pidfile", pf, "waitsig")
    work = read_pidfile(pf)
    killer.append(work)
    wait_for_records(log, "sample", 1)
    pf2 = tmp_path / "second.pid"
    r = ml.cmd("run", "-o", log, "--", ml.memwork, "pidfile", pf2)
    assert r.returncode != 0, f"expected a second memline writing the same log to fail, got 0: {r.stderr!r}"
    assert "shared.jsonl" in r.stderr, f"expected the error to name the log being written, got {r.stderr!r}"
    assert not pf2.exists(), "expected the second memline NOT to start its command"
    os.kill(work, signal.SIGUSR1)  # the first run ends
    _, err = ml.finish(first)
    assert first.returncode == 0, f"expected the first memline to complete, got {first.returncode}: {err!r}"
    records = read_log(log, allow_cut_last=False)
    assert records[0]["type"] == "header" and records[0]["pid"] == work, (
        f"expected the first run's header intact: {records[0]}")
    assert [r["type"] for r in records].count("header") == 1, "expected exactly one header"
    assert records[-1]["type"] == "end" and records[-1]["status"] == "completed", (
        f"expected the first run's end record intact: {records[-1]}")


@pytest.mark.parametrize("cmd", ["status", "report"])
def test_missing_log(ml, tmp_path, cmd):
    r = ml.cmd(cmd, tmp_path / "nope.jsonl")
    assert r.returncode == 66, f"expected exit 66 for `memline {cmd}` on a missing log, got {r.returncode}: {r.stderr!r}"
    assert "nope.jsonl" in r.stderr, f"expected the message to name the log, got {r.stderr!r}"
    r = ml.cmd(cmd)  # no argument, no memline-*.jsonl in the cwd
    assert r.returncode == 66, f"expected exit 66 for `memline {cmd}` with no log in the cwd, got {r.returncode}"


@pytest.mark.parametrize("cmd", ["status", "report"])
@pytest.mark.parametrize("content", ["hello, world\n", '{"type":"sample","t":1}\n'])
def test_not_a_log(ml, tmp_path, cmd, content):
    f = tmp_path / "notalog.jsonl"
    f.write_text(content)
    r = ml.cmd(cmd, f)
    assert r.returncode == 65, f"expected exit 65 for `memline {cmd}` on {content!r}, got {r.returncode}: {r.stderr!r}"
    assert r.stderr.strip(), "expected a message on stderr"


@pytest.fixture
def good_log(ml):
    run = ml.run_memwork("alloc", "2M", "child", "alloc 1M sleep 100", "sleep", 200, "wait",
                         opts=["-i", "0.02"], report=False)
    assert run.code == 0, run.describe()
    assert len(run.records) >= 6, f"expected a log of several records, got {len(run.records)}"
    return run.log


def test_corrupt_middle_line(ml, good_log):
    lines = good_log.read_text().splitlines(keepends=True)
    n = len(lines) // 2
    lines[n - 1] = '{"type":"sample","t":0.5,"p":[[1,2,\n'
    good_log.write_text("".join(lines))
    for args in (["report"], ["report", "--json"], ["status"]):
        r = ml.cmd(*args, good_log)
        assert r.returncode in (0, 1), f"expected `memline {' '.join(args)}` to read past a corrupt line, got {r.returncode}: {r.stderr!r}"
        assert re.search(rf"(:{n}\b|line {n}\b)", r.stderr), (
            f"expected a warning naming line {n} from `memline {' '.join(args)}`, got {r.stderr!r}")
        assert r.stdout.strip(), f"expected output from `memline {' '.join(args)}` despite the corrupt line"
    rc, first, out, _ = ml.status(good_log)
    assert first == "completed", f"expected the status still read from the end record, got {out!r}"


def test_truncated_last_line(ml, good_log):
    data = good_log.read_text()
    body, last = data[:-1].rsplit("\n", 1)
    good_log.write_text(body + "\n" + last[: len(last) // 2])
    r = ml.cmd("report", good_log)
    assert r.returncode == 0 and r.stdout.strip(), f"expected report to read a cut-off last line: {r.returncode} {r.stderr!r}"
    rc, first, out, err = ml.status(good_log)
    assert (rc, first) == (3, "incomplete"), f"expected 'incomplete' (exit 3) with the end record cut off, got {rc} {out!r} {err!r}"
    ml.report_json(good_log)


def test_default_log_name_and_newest(ml, tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    r = ml.cmd("run", "--", ml.memwork, "exit", 3, cwd=cwd)
    assert r.returncode == 3, f"expected exit 3, got {r.returncode}: {r.stderr!r}"
    logs = list(cwd.glob("memline-*.jsonl"))
    assert len(logs) == 1 and re.fullmatch(r"memline-memwork-\d{8}-\d{6}\.jsonl", logs[0].name), (
        f"expected one ./memline-memwork-YYYYMMDD-HHMMSS.jsonl, found {[p.name for p in logs]}")
    assert logs[0].name in r.stderr, f"expected the summary line to name the log: {r.stderr!r}"
    # Make it clearly older, by name and by time, then record another run.
    old = cwd / "memline-memwork-20000101-000000.jsonl"
    logs[0].rename(old)
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    r = ml.cmd("run", "--", ml.memwork, "exit", 0, cwd=cwd)
    assert r.returncode == 0, f"expected exit 0, got {r.returncode}: {r.stderr!r}"
    rc, first, out, err = ml.status(cwd=cwd)
    assert (rc, first) == (0, "completed"), (
        f"expected `memline status` with no argument to read the newest log (completed), got {rc} {out!r} {err!r}")
    rc, first, _, _ = ml.status(old, cwd=cwd)
    assert (rc, first) == (1, "failed"), f"expected the older log to read 'failed', got {rc} {first!r}"


# ---- what is not a log file, and lines too long to read ----

READERS = [["report"], ["report", "--json"], ["status"], ["plot", "-o", "x.png"],
           ["export", "--csv"], ["export", "--perfetto"], ["view"], ["view", "--follow"]]
# the readers that take a directory of logs (the logs of a job)
DIR_READERS = {"report", "status", "plot", "export", "view"}


@pytest.fixture
def not_regular(tmp_path):
    """Paths that are not regular files: a FIFO (no writer: opening it blocking would wait
    forever), /dev/zero (reading it never ends), a directory and a socket."""
    import socket
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    sock_path = tmp_path / "sock.jsonl"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    d = tmp_path / "dir.jsonl"
    d.mkdir()
    yield {"FIFO": fifo, "character device": "/dev/zero", "directory": d, "socket": sock_path}
    sock.close()


@pytest.mark.parametrize("args", READERS, ids=" ".join)
def test_not_a_regular_file_is_refused_at_once(ml, tmp_path, not_regular, args):
    for kind, path in not_regular.items():
        # A reader that blocked on the FIFO or read /dev/zero would run into the timeout.
        r = ml.cmd(*args, path, timeout=30)
        if args == ["view", "--follow"] and kind == "directory":
            # a job's directory with no log yet is waited for: on a terminal (64 without one)
            assert r.returncode == 64 and "terminal" in r.stderr and r.stderr.count("\n") == 1, r
            continue
        assert r.returncode == 66, (
            f"expected exit 66 for `memline {' '.join(args)} {path}` ({kind}), got {r.returncode}: {r.stderr!r}")
        if kind == "directory" and args[0] in DIR_READERS:
            # a directory is a job's logs (src/cli.h, cli_resolve_logs): this one has none
            want = (f"memline: no log (*.jsonl) in the directory '{path}'; give the logs' "
                    "directory or the logs themselves\n")
        else:
            want = f"memline: '{path}' is a {kind}, not a log file; give a memline log\n"
        assert r.stderr == want, f"expected one line saying it is a {kind}, got {r.stderr!r}"
        assert not r.stdout, f"expected no output, got {r.stdout[:200]!r}"


def child_maxrss_kib(argv, cwd):
    """Runs argv; returns (exit code, stderr, its peak RSS in KiB from wait4's ru_maxrss).
    Under AddressSanitizer, freed memory is kept back (its quarantine) and would count as held:
    the quarantine is turned off for this measure (a plain build ignores ASAN_OPTIONS)."""
    import subprocess
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "quarantine_size_mb=0"]))
    with open(cwd / "child.err", "w+") as err:
        p = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return p.returncode, err.read(), ru.ru_maxrss


READ_ARGS = [["report"], ["report", "--json"], ["status"], ["plot", "-o", "x.png"],
             ["export", "--csv", "-o", "x.csv"], ["export", "--perfetto", "-o", "x.json"]]


def test_a_line_of_200_mb_is_skipped_without_being_held(ml, good_log):
    # What each reader takes on the log as it is, to compare with (a sanitized build or cairo's
    # fonts take some tens of MiB of their own).
    base = {}
    for args in READ_ARGS:
        code, err, base[" ".join(args)] = child_maxrss_kib([ml.bin, *args, str(good_log)], ml.tmp)
        assert code == 0, err
    lines = good_log.read_bytes().splitlines(keepends=True)
    n = len(lines) // 2  # the long line becomes line n + 1
    big = 200 << 20
    with open(good_log, "wb") as f:
        f.writelines(lines[:n])
        f.write(b'{"type":"event","t":0.1,"label":"')
        chunk = b"a" * (1 << 20)
        for _ in range(big >> 20):
            f.write(chunk)
        f.write(b'"}\n')
        f.writelines(lines[n:])
    # At most 64 MiB held for the line (and the last step of its buffer's growth), far below
    # the 200 MB of the line: before, report held it whole several times (622 MB).
    bound = 100 << 10
    for args in READ_ARGS:
        code, err, rss = child_maxrss_kib([ml.bin, *args, str(good_log)], ml.tmp)
        assert code in (0, 1), f"expected `memline {' '.join(args)}` to read past the long line, got {code}: {err!r}"
        assert f"{good_log}:{n + 1}: corrupt record skipped (longer than 64 MiB)" in err, (
            f"expected a warning naming line {n + 1}, got {err!r}")
        extra = rss - base[" ".join(args)]
        assert extra < bound, (
            f"expected `memline {' '.join(args)}` to take under {bound >> 10} MiB more than on the "
            f"log without the long line; it took {extra >> 10} MiB more ({rss >> 10} MiB)")
    report = ml.report_json(good_log)
    assert report["corrupt_lines"] == 1 and report["status"] == "completed", report
def one_line(stderr):
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected a one-line message, got {stderr!r}"
    return lines[0]


# ---- intervals: at most a day ----

@pytest.mark.parametrize("opt", ["-i", "-I", "--min-interval"])
@pytest.mark.parametrize("value", ["1e19", "1e9", "86401"])
def test_intervals_are_bounded(ml, tmp_path, opt, value):
    for cmd in (["run", opt, value, "--", "true"], ["attach", opt, value, str(os.getpid())]):
        r = ml.cmd(*cmd, timeout=30)
        assert r.returncode == 64, f"expected exit 64 for `memline {' '.join(cmd)}`, got {r.returncode}: {r.stderr!r}"
        assert "at most 86400 seconds" in one_line(r.stderr), r.stderr
    assert not list(tmp_path.glob("*.jsonl"))


def test_a_day_is_accepted(ml, tmp_path):
    run = ml.run_memwork("exit", 0, opts=["-i", "86400"])
    assert run.code == 0, run.describe()
    assert header_of(run.records)["interval"]["fixed"] == 86400


# ---- an option without its value ----

@pytest.mark.parametrize("args", [["run", "--serve"], ["run", "--min-interval"], ["run", "-o"],
                                  ["run", "--event-regex"], ["attach", "--events"], ["attach", "-i"],
                                  ["view", "--serve"], ["view", "--window"]])
def test_option_without_its_value(ml, args):
    r = ml.cmd(*args)
    assert r.returncode == 64, f"expected exit 64 for `memline {' '.join(args)}`, got {r.returncode}: {r.stderr!r}"
    msg = one_line(r.stderr)
    assert "needs a value" in msg and args[-1] in msg and "unknown option" not in msg, msg


# ---- every error path: its exit code and one line, and under ASan no leak ----

@pytest.fixture
def notalog(tmp_path):
    f = tmp_path / "notalog.jsonl"
    f.write_text("hello\n")
    return f


@pytest.mark.parametrize("args,code", [
    (["status", "{notalog}"], 65), (["report", "{notalog}"], 65), (["report", "--json", "{notalog}"], 65),
    (["export", "--csv", "{notalog}"], 65), (["export", "--csv", "-o", "{tmp}/out.csv", "{notalog}"], 65),
    (["plot", "-o", "{tmp}/p.png", "{notalog}"], 65), (["plot", "-o", "{tmp}/p.png", "{good}", "{notalog}"], 65),
    (["view", "{notalog}"], 65), (["status", "{tmp}/none.jsonl"], 66), (["view", "{tmp}/none.jsonl"], 66),
    (["plot", "-o", "{tmp}/p.png", "{tmp}/none.jsonl"], 66),
    # a directory is a job: good.jsonl merged, notalog.jsonl left out, so incomplete
    (["status", "{tmp}"], 3), (["status", "{tmp}/none.*.jsonl"], 66),
    (["export", "--csv", "-o", "{tmp}/no/dir/out.csv", "{good}"], 73),
    (["export", "--gnuplot", "{notalog}", "{good}"], 73),
    (["plot", "-o", "{tmp}/no/dir/p.png", "{good}"], 73),
    (["run", "-o", "{tmp}/x.jsonl", "-i", "abc", "--", "true"], 64),
    (["run", "-o", "{tmp}/x.jsonl", "--serve", "99999999", "--", "true"], 64),
    (["run", "--event-regex", "a", "--event-regex", "(", "--", "true"], 64),
    (["run", "-o", "{notalog}", "--", "true"], 73), (["run", "-o", "{tmp}", "--", "true"], 73),
    (["attach", "-o", "{tmp}/x.jsonl", "--wait", "1"], 64), (["attach", "0"], 64),
])
def test_error_paths(ml, tmp_path, notalog, args, code):
    good = tmp_path / "good.jsonl"
    run = ml.run_memwork("exit", 0, log=good, report=False)
    assert run.code == 0, run.describe()
    argv = [a.format(notalog=notalog, tmp=tmp_path, good=good) for a in args]
    r = ml.cmd(*argv)
    assert r.returncode == code, f"expected exit {code} for `memline {' '.join(argv)}`, got {r.returncode}: {r.stderr!r}"
    one_line(r.stderr)
    left = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert not left, f"expected no temporary file left: {left}"


def _option_help(text):
    """--help's options as {'--name': the lines of its help}."""
    import re
    opts, cur = {}, None
    for line in text.splitlines():
        m = re.match(r"^  (?:-\w, )?    ?(--[\w-]+)", line) or re.match(r"^  -\w, (--[\w-]+)", line)
        if m:
            cur = m.group(1)
            opts[cur] = [line.split(cur, 1)[1].strip()]
        elif cur and line.startswith(" " * 27):
            opts[cur].append(line.strip())
        else:
            cur = None
    return opts


def test_run_and_attach_help_say_the_same_of_the_options_they_share(ml):
    run, attach = (ml.cmd(c, "--help") for c in ("run", "attach"))
    assert run.returncode == 0 and attach.returncode == 0, (run.stderr, attach.stderr)
    r, a = _option_help(run.stdout), _option_help(attach.stdout)
    shared = set(r) & set(a)
    assert {"--output", "--interval", "--pss", "--live", "--serve", "--quiet"} <= shared, shared
    for name in sorted(shared):
        assert r[name] == a[name], f"{name}: run says {r[name]}, attach says {a[name]}"
    assert "--wait" in r and "--wait" not in a and "--events" in a and "--events" not in r
