"""memline.track(): self-recording through `memline attach --events`, end to end with the built
memline, and its start/stop logic with stand-in binaries. The end-to-end tests run their
Python in a child process (a script in tmp_path), so that each log holds one small program."""

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from pyhelpers import memline_bin  # noqa: F401 (a fixture)
from pyhelpers import TIMEOUT, memline, memline_help, python_env
from memline import _track

MIB = 1024  # KiB in a MiB: the log's memory unit


def attach_has_events():
    return "--events" in memline_help("attach")


needs_events = pytest.mark.skipif(
    not attach_has_events(),
    reason="this memline has no 'attach --events' (the event channel of attach): "
           "track() needs it")


def run_script(tmp_path, body, name="job.py", expect_rc=0):
    """Runs body as the script tmp_path/name with the built memline; returns (stdout, stderr)."""
    script = tmp_path / name
    script.write_text("import memline, os, sys\n" + textwrap.dedent(body))
    env = python_env(MEMLINE_BIN=os.environ["MEMLINE_BIN"])
    res = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                         text=True, timeout=TIMEOUT, env=env)
    assert res.returncode == expect_rc, (
        f"expected exit status {expect_rc}, got {res.returncode}\n"
        f"stdout: {res.stdout}\nstderr: {res.stderr}")
    return res.stdout, res.stderr


def end_of(records):
    assert records[-1]["type"] == "end", f"expected the end record last: {records[-1]}"
    return records[-1]


# ---- end to end ----


ALLOC_SCRIPT = """
    import time
    with memline.track(path="job.jsonl") as rec:
        memline.event("start")
        with memline.span("alloc"):
            b = bytearray(200 * 2**20)
            b[::4096] = b"\\x01" * (len(b) // 4096)
        memline.event("allocated")
        if WAIT:
            # Until the log holds the event and a sample after it (memline samples right
            # after reading messages), so that the end does not come in the same read.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                recs = memline.read_records(rec.path)
                ev = [r for r in recs if r.get("label") == "allocated"]
                if ev and any(r["type"] == "sample" and r["t"] >= ev[0]["t"] for r in recs):
                    break
                time.sleep(0.01)
    print(os.getpid(), rec.path, rec.returncode)
"""


def check_alloc_log(tmp_path, out):
    """Checks the log of ALLOC_SCRIPT; returns (records, the 'allocated' event, pid)."""
    pid, path, rc = out.split()
    pid = int(pid)
    assert path == str(tmp_path / "job.jsonl")
    recs = memline.read_records(path)
    header = recs[0]
    assert header["mode"] == "attach" and header["pid"] == pid and header["pids"] == [pid]
    end = end_of(recs)
    assert end["status"] == "completed" and "error" not in end
    assert memline.has_completed_successfully(path)
    events = [r for r in recs if r["type"] == "event"]
    assert [e["label"] for e in events] == ["start", "allocated"]
    assert all(e["pid"] == pid and e["tid"] == pid for e in events)
    spans = [(r["phase"], r["name"]) for r in recs if r["type"] == "span"]
    assert spans == [("begin", "alloc"), ("end", "alloc")]
    return recs, events[1], pid


def assert_sample_after_holds_200_mb(recs, event, pid):
    # memline samples right after reading a message: the first sample at or after the event
    # holds the memory of that moment.
    after = [r for r in recs if r["type"] == "sample" and r["t"] >= event["t"]]
    assert after, "expected a sample at or after the 'allocated' event"
    fields = recs[0]["fields"]
    rows = {p[fields.index("pid")]: p for p in after[0]["p"]}
    assert rows[pid][fields.index("rss")] >= 200 * MIB, f"expected 200 MiB or more: {rows[pid]}"


@needs_events
def test_track_records_a_block_with_an_event_after_200_mb(memline_bin, tmp_path):
    out, _ = run_script(tmp_path, "WAIT = True\n" + textwrap.dedent(ALLOC_SCRIPT))
    recs, event, pid = check_alloc_log(tmp_path, out)
    assert_sample_after_holds_200_mb(recs, event, pid)


@needs_events
def test_an_event_just_before_the_end_has_a_sample_after_it(memline_bin, tmp_path):
    out, _ = run_script(tmp_path, "WAIT = False\n" + textwrap.dedent(ALLOC_SCRIPT))
    recs, event, pid = check_alloc_log(tmp_path, out)
    assert_sample_after_holds_200_mb(recs, event, pid)


@needs_events
def test_an_exception_in_track_ends_the_log_failed_with_its_message(memline_bin, tmp_path):
    _, err = run_script(tmp_path, """
        with memline.track(path="job.jsonl"):
            memline.event("about to fail")
            raise ValueError("bad input")
    """, expect_rc=1)
    assert "ValueError: bad input" in err, "expected the exception to propagate"
    path = tmp_path / "job.jsonl"
    end = end_of(memline.read_records(path))
    assert end["status"] == "failed"
    assert end["error"] == "ValueError: bad input"
    assert memline.status(path) == "failed"
    assert memline.has_crashed_gracefully(path)
    assert not memline.has_crashed_ungracefully(path)


@needs_events
def test_a_custom_exception_is_named_with_its_module(memline_bin, tmp_path):
    (tmp_path / "errors.py").write_text("class DataError(Exception):\n    pass\n")
    run_script(tmp_path, """
        import errors
        with memline.track(path="job.jsonl"):
            raise errors.DataError("line 3:\\ncolumn 'x' missing")
    """, expect_rc=1)
    end = end_of(memline.read_records(tmp_path / "job.jsonl"))
    assert end["status"] == "failed"
    assert end["error"] == "errors.DataError: line 3:\ncolumn 'x' missing"


@needs_events
@pytest.mark.parametrize("code, status", [("sys.exit(0)", "completed"),
                                          ("sys.exit()", "completed"),
                                          ("sys.exit(3)", "failed")])
def test_sys_exit_in_track(memline_bin, tmp_path, code, status):
    run_script(tmp_path, f"""
        with memline.track(path="job.jsonl"):
            {code}
    """, expect_rc=3 if status == "failed" else 0)
    end = end_of(memline.read_records(tmp_path / "job.jsonl"))
    assert end["status"] == status
    if status == "failed":
        assert end["error"] == "SystemExit: 3"


@needs_events
def test_track_default_log_name_and_private_channel(memline_bin, tmp_path):
    out, _ = run_script(tmp_path, """
        import stat
        before = os.environ.get("MEMLINE_EVENTS")
        with memline.track(interval=0.05) as rec:
            chan = os.environ["MEMLINE_EVENTS"]
            d = os.path.dirname(chan)
            print(oct(stat.S_IMODE(os.stat(d).st_mode)), oct(stat.S_IMODE(os.stat(chan).st_mode)))
            print(os.environ["MEMLINE_PID"])
        print(before, os.environ.get("MEMLINE_EVENTS"), os.path.exists(d))
        print(rec.path)
    """, name="train-model.py")
    modes, mpid, after, path = out.splitlines()
    assert modes == "0o700 0o600"
    assert after == "None None False", "expected the environment restored and the channel gone"
    name = os.path.basename(path)
    assert os.path.dirname(path) == str(tmp_path)
    assert name.startswith("memline-train-model.py-") and name.endswith(".jsonl"), name
    stamp = name[len("memline-train-model.py-"):-len(".jsonl")]
    assert len(stamp) == 15 and stamp[8] == "-" and stamp.replace("-", "").isdigit(), stamp
    recs = memline.read_records(path)
    assert recs[0]["interval"]["fixed"] == 0.05
    assert end_of(recs)["status"] == "completed"


@needs_events
def test_children_send_events_into_the_tracked_log(memline_bin, tmp_path):
    out, _ = run_script(tmp_path, """
        import subprocess
        with memline.track(path="job.jsonl"):
            code = "import memline, os; memline.event('from child'); print(os.getpid())"
            child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                   check=True)
            subprocess.run(["sh", "-c", 'echo "plain from sh" >> "$MEMLINE_EVENTS"'], check=True)
        print(child.stdout.strip())
    """)
    child_pid = int(out)
    recs = memline.read_records(tmp_path / "job.jsonl")
    events = {r["label"]: r for r in recs if r["type"] == "event"}
    assert events["from child"]["pid"] == child_pid
    assert events["plain from sh"]["pid"] is None
    assert child_pid in {r["pid"] for r in recs if r["type"] == "proc"}


@needs_events
def test_track_in_this_process_restores_the_environment(memline_bin, tmp_path, monkeypatch):
    monkeypatch.setenv("MEMLINE_EVENTS", "/nonexistent/outer-channel")
    monkeypatch.delenv("MEMLINE_PID", raising=False)
    with memline.track(path=tmp_path / "self.jsonl") as rec:
        assert os.environ["MEMLINE_EVENTS"] != "/nonexistent/outer-channel"
        assert memline.event("inside pytest") is True
    assert os.environ["MEMLINE_EVENTS"] == "/nonexistent/outer-channel"
    assert "MEMLINE_PID" not in os.environ
    assert rec.returncode is not None
    recs = memline.read_records(rec.path)
    assert [r["label"] for r in recs if r["type"] == "event"] == ["inside pytest"]
    assert end_of(recs)["status"] == "completed"


@needs_events
def test_track_does_not_record_memline_itself(memline_bin, tmp_path):
    out, _ = run_script(tmp_path, """
        with memline.track(path="job.jsonl"):
            print(os.environ["MEMLINE_PID"])
    """)
    memline_pid = int(out)
    recs = memline.read_records(tmp_path / "job.jsonl")
    assert memline_pid not in {r["pid"] for r in recs if r["type"] == "proc"}
    assert memline_pid not in end_of(recs)["alive"]


@needs_events
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSEGV])
def test_a_tracked_process_killed_by_a_signal_ends_killed(memline_bin, tmp_path, sig):
    """memline attach is not the tracked process's parent, so wait4 cannot tell it how the
    process ended; its pidfd can (Linux 6.15 and later). At -i 5 memline notices the death at
    its next sample, seconds later: status() right after the process died waits for the end."""
    if not pidfd_exit_info():
        pytest.skip("this kernel keeps no exit status in pidfds (PIDFD_INFO_EXIT, Linux 6.15)")
    run_script(tmp_path, f"""
        import resource
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        with memline.track(path="job.jsonl", interval=5):
            os.kill(os.getpid(), {int(sig)})
    """, expect_rc=-sig)
    path = tmp_path / "job.jsonl"
    assert memline.status(path) == "killed"
    assert memline.has_crashed_ungracefully(path)
    assert not memline.has_crashed_gracefully(path)
    assert not memline.has_completed_successfully(path)
    recs = memline.read_records(path)
    end = end_of(recs)
    assert (end["status"], end["signal"], end["exit_code"]) == ("killed", int(sig), None), end
    pid = recs[0]["pid"]
    (exit_rec,) = [r for r in recs if r["type"] == "exit" and r["pid"] == pid]
    assert exit_rec.get("signal") == int(sig), exit_rec


def pidfd_exit_info():
    """Whether the kernel's pidfds keep a reaped process's exit status (Linux 6.15)."""
    release = os.uname().release.split("-")[0].split(".")
    try:
        return (int(release[0]), int(release[1])) >= (6, 15)
    except (ValueError, IndexError):
        return False


@needs_events
def test_track_removes_the_channel_dirs_of_killed_recordings(memline_bin, tmp_path):
    """A memline killed with SIGKILL leaves its channel's directory behind; the next track()
    removes it, and keeps a live recording's."""
    def recording(name):
        chan = tmp_path / f"{name}.chan"
        p = subprocess.Popen([str(memline_bin), "run", "-q", "-o", str(tmp_path / f"{name}.jsonl"),
                              "--", "sh", "-c", f'echo "$MEMLINE_EVENTS" > "{chan}.tmp"; '
                              f'mv "{chan}.tmp" "{chan}"; exec sleep 3600'],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             env=python_env())
        deadline = time.monotonic() + TIMEOUT
        while not chan.exists():
            assert time.monotonic() < deadline and p.poll() is None, f"no channel from {name}"
            time.sleep(0.01)
        children = open(f"/proc/{p.pid}/task/{p.pid}/children").read().split()
        return p, [int(c) for c in children], os.path.dirname(chan.read_text().strip())

    live, live_kids, live_dir = recording("live")
    dead, dead_kids, dead_dir = recording("dead")
    try:
        dead.kill()
        dead.wait(TIMEOUT)
        assert os.path.isdir(dead_dir), "expected the killed memline's directory left behind"
        run_script(tmp_path, """
            with memline.track(path="job.jsonl"):
                pass
        """)
        assert not os.path.exists(dead_dir), f"expected track() to remove the stale {dead_dir}"
        assert os.path.isdir(live_dir), f"expected the live recording's {live_dir} kept"
    finally:
        for pid in live_kids + dead_kids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        live.wait(TIMEOUT)


@needs_events
def test_a_forked_child_leaving_the_block_does_not_end_the_recording(memline_bin, tmp_path):
    run_script(tmp_path, """
        import time
        with memline.track(path="job.jsonl") as rec:
            pid = os.fork()
            if pid == 0:
                pass  # the child leaves the parent's block: it must not end the recording
            else:
                os.waitpid(pid, 0)
                memline.event("after the child")
        if pid == 0:
            os._exit(0)
    """)
    recs = memline.read_records(tmp_path / "job.jsonl")
    assert end_of(recs)["status"] == "completed"
    assert [r["label"] for r in recs if r["type"] == "event"] == ["after the child"]


# ---- starting and stopping, with stand-ins for the binary ----


def stand_in(tmp_path, body):
    """An executable Python script standing in for memline; body sees argv and log (the -o
    path)."""
    exe = tmp_path / "fake-memline"
    exe.write_text(f"#!{sys.executable}\nimport os, signal, sys, time\n"
                   "argv = sys.argv\nlog = argv[argv.index('-o') + 1]\n" + textwrap.dedent(body))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


def test_track_without_a_binary_raises(monkeypatch, tmp_path):
    monkeypatch.delenv("MEMLINE_BIN", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(memline.MemlineError,
                       match="memline binary not found: install memline or set MEMLINE_BIN"):
        with memline.track(path=tmp_path / "x.jsonl"):
            pytest.fail("the block must not run")


def test_memline_bin_naming_nothing_raises(monkeypatch, tmp_path):
    monkeypatch.setenv("MEMLINE_BIN", str(tmp_path / "nothing"))
    with pytest.raises(memline.MemlineError, match="MEMLINE_BIN"):
        memline.find_binary()


def test_a_memline_that_fails_to_start_raises_with_its_message(monkeypatch, tmp_path):
    exe = stand_in(tmp_path, """
        sys.stderr.write("memline: unknown option '--events'\\n")
        sys.exit(64)
    """)
    monkeypatch.setenv("MEMLINE_BIN", str(exe))
    monkeypatch.delenv("MEMLINE_EVENTS", raising=False)
    before = set(os.listdir(tmp_path))
    with pytest.raises(memline.MemlineError, match=r"exit status 64.*unknown option '--events'"):
        with memline.track(path=tmp_path / "x.jsonl"):
            pytest.fail("the block must not run")
    assert "MEMLINE_EVENTS" not in os.environ
    assert set(os.listdir(tmp_path)) == before


def test_a_memline_that_writes_no_header_is_stopped(monkeypatch, tmp_path):
    exe = stand_in(tmp_path, """
        time.sleep(3600)  # until killed
    """)
    monkeypatch.setenv("MEMLINE_BIN", str(exe))
    monkeypatch.setattr(_track, "START_TIMEOUT", 0.5)
    with pytest.raises(memline.MemlineError, match="wrote no log header"):
        with memline.track(path=tmp_path / "x.jsonl"):
            pytest.fail("the block must not run")


def test_the_stand_in_gets_the_documented_command_line(monkeypatch, tmp_path):
    exe = stand_in(tmp_path, """
        with open(log, "w") as f:
            f.write('{"type":"header","format":1}\\n')
        chan = argv[argv.index("--events") + 1]
        with open(log + ".argv", "w") as f:
            f.write("\\n".join(argv[1:]))
        # Wait for the S line, then end the log with it, as memline does.
        while True:
            with open(chan, "rb") as f:
                data = f.read()
            if b"\\x1eS " in data:
                break
            time.sleep(0.01)
        text = data.split(b"\\x1eS ", 1)[1].split(b" ", 3)[3].rstrip(b"\\n").decode()
        with open(log, "a") as f:
            f.write('{"type":"end","status":"%s"}\\n' % text.split()[0])
    """)
    monkeypatch.setenv("MEMLINE_BIN", str(exe))
    log = tmp_path / "x.jsonl"
    with memline.track(path=log, interval=0.25) as rec:
        chan = os.environ["MEMLINE_EVENTS"]
    assert rec.path == str(log) and rec.returncode == 0
    argv = (tmp_path / "x.jsonl.argv").read_text().split("\n")
    assert argv == ["attach", "--events", chan, "-o", str(log), "-i", "0.25", "-q",
                    str(os.getpid())]
    assert memline.status(log) == "completed"
    assert not os.path.exists(os.path.dirname(chan))


def test_a_memline_that_does_not_stop_is_terminated_then_killed(monkeypatch, tmp_path):
    exe = stand_in(tmp_path, """
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        with open(log, "w") as f:
            f.write('{"type":"header","format":1}\\n')
        time.sleep(3600)  # until killed
    """)
    monkeypatch.setenv("MEMLINE_BIN", str(exe))
    monkeypatch.setattr(_track, "STOP_TIMEOUT", 0.2)
    monkeypatch.setattr(_track, "TERM_TIMEOUT", 0.2)
    with pytest.warns(RuntimeWarning) as caught:
        with memline.track(path=tmp_path / "x.jsonl") as rec:
            chan_dir = os.path.dirname(os.environ["MEMLINE_EVENTS"])
    messages = " | ".join(str(w.message) for w in caught)
    assert "SIGTERM" in messages and "SIGKILL" in messages and "no end record" in messages
    assert rec.returncode == -9
    assert not os.path.exists(chan_dir)


def test_the_exception_of_the_block_propagates_even_when_memline_misbehaves(monkeypatch, tmp_path):
    exe = stand_in(tmp_path, """
        with open(log, "w") as f:
            f.write('{"type":"header","format":1}\\n')
        time.sleep(3600)
    """)
    monkeypatch.setenv("MEMLINE_BIN", str(exe))
    monkeypatch.setattr(_track, "STOP_TIMEOUT", 0.2)
    with pytest.warns(RuntimeWarning):
        with pytest.raises(ZeroDivisionError):
            with memline.track(path=tmp_path / "x.jsonl"):
                1 / 0


def test_bad_interval_is_refused():
    with pytest.raises(ValueError):
        memline.track(interval=0)


def test_plot_without_a_plot_command_raises(monkeypatch, tmp_path):
    exe = tmp_path / "noplot"
    exe.write_text("#!/bin/sh\necho 'commands:'; echo '  run      run a command'\n")
    exe.chmod(0o755)
    monkeypatch.setenv("MEMLINE_BIN", str(exe))
    with pytest.raises(memline.MemlineError, match="no plot command"):
        memline.plot(["a.jsonl"], tmp_path / "out.svg")


def test_plot_runs_memline_plot(monkeypatch, tmp_path):
    exe = tmp_path / "withplot"
    exe.write_text("#!/bin/sh\n"
                   "if [ \"$1\" = --help ]; then echo '  plot     draw logs'; exit 0; fi\n"
                   f"printf '%s\\n' \"$@\" > {tmp_path}/plot-argv\n")
    exe.chmod(0o755)
    monkeypatch.setenv("MEMLINE_BIN", str(exe))
    out = tmp_path / "out.svg"
    assert memline.plot(["a.jsonl", tmp_path / "b.jsonl"], out) == out
    assert (tmp_path / "plot-argv").read_text().split("\n")[:-1] == [
        "plot", "a.jsonl", str(tmp_path / "b.jsonl"), "-o", str(out)]


def test_plot_with_the_real_memline(memline_bin, tmp_path):
    """memline.plot() draws a real recording with the built memline's plot command."""
    log = tmp_path / "run.jsonl"
    subprocess.run([str(memline_bin), "run", "-q", "-o", str(log), "--", "sh", "-c",
                    '"$0" event hello', str(memline_bin)], check=True, timeout=60)
    out = tmp_path / "run.svg"
    memline.plot([log], out)
    svg = out.read_text()
    assert svg.startswith("<?xml") and "hello" in svg, "expected an SVG with the event's label"
