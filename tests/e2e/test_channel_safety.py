"""The event channel cannot be turned against its senders (docs/events.md, "Safety"): once a
recording ended and removed its directory, another user may create one of that name with an
`events` link to a file of the sender's; `memline event`, libmemline and the Python package
must then write nothing. Also: where memline puts the channel, and the stale directories of
killed recordings, removed at the next start without touching a live one or another user's.

These tests run as root (as memline's users' jobs may) and play the other user as nobody."""

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from conftest import MEMLINE, REPO, TIMEOUT, read_pidfile, wait_until
from test_c_library import compile_sender, need_lib, san_flags

NOBODY = 65534
PYDIR = REPO / "python"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to play another user")


def as_nobody():
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


@pytest.fixture(scope="module")
def sender(tmp_path_factory):
    """tests/e2e/c/sender.c linked with the built shared library: exit 1 when a call failed."""
    so = need_lib("libmemline.so")
    d = tmp_path_factory.mktemp("sender")
    return compile_sender(d / "sender", f"-I{REPO / 'include'}", f"-L{so.parent}",
                          f"-Wl,-rpath,{so.parent}", "-lmemline", *san_flags(so))


def env_with(channel):
    env = {k: v for k, v in os.environ.items() if k not in ("MEMLINE_EVENTS", "MEMLINE_PID")}
    env["PYTHONPATH"] = str(PYDIR)
    if channel is not None:
        env["MEMLINE_EVENTS"] = str(channel)
    return env


PY_SEND = ("import memline, sys\n"
           "sys.exit(0 if memline.event('hijacked') is False else 1)\n")


def send_all(channel, sender):
    """Sends an event through each sender to channel; returns their CompletedProcesses."""
    env = env_with(channel)
    run = dict(capture_output=True, text=True, timeout=TIMEOUT, env=env)
    return {"event": subprocess.run([str(MEMLINE), "event", "hijacked"], **run),
            "c": subprocess.run([str(sender)], **run),
            "python": subprocess.run([sys.executable, "-c", PY_SEND], **run)}


@pytest.fixture
def victim(tmp_path):
    """A file of root's that no sender may write to, and its content."""
    v = tmp_path / "victim"
    v.write_bytes(b"root's own data\n")
    return v


@pytest.mark.parametrize("setup", ["link", "their-file", "open-file"])
def test_senders_refuse_a_channel_another_user_made(tmp_path, sender, victim, setup):
    """nobody makes /tmp/memline-.../events as it would after a recording of root's ended:
    a link to root's file, or a file of its own. Every sender refuses it, with EPERM."""
    d = Path("/tmp") / f"memline-hijack-{uuid.uuid4().hex[:8]}"
    make = {"link": f'ln -s "{victim}" "{d}/events"',
            "their-file": f'touch "{d}/events" && chmod 600 "{d}/events"',
            "open-file": f'touch "{d}/events" && chmod 666 "{d}/events"'}[setup]
    try:
        r = subprocess.run(["sh", "-c", f'mkdir -m 700 "{d}" && {make}'], preexec_fn=as_nobody,
                           capture_output=True, text=True, timeout=TIMEOUT)
        assert r.returncode == 0, f"expected nobody to make {d}: {r.stderr}"
        before = victim.read_bytes()
        res = send_all(d / "events", sender)
        ev = res["event"]
        assert ev.returncode == 77, f"expected memline event to refuse with exit 77: {ev}"
        assert "refusing the event channel" in ev.stderr and len(ev.stderr.splitlines()) == 1, ev
        c = res["c"]
        assert c.returncode == 1 and "Operation not permitted" in c.stderr, (
            f"expected every libmemline call to fail with EPERM: {c}")
        assert res["python"].returncode == 0, f"expected memline.event() False: {res['python']}"
        assert "refusing the event channel" in res["python"].stderr, res["python"]
        assert victim.read_bytes() == before, "expected root's file untouched"
        if setup != "link":
            assert (d / "events").read_bytes() == b"", "expected nothing in nobody's file"
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_a_child_that_outlives_memline_cannot_be_made_to_write_elsewhere(ml, tmp_path, sender,
                                                                         victim):
    """The issue's attack, end to end: a background child of the recorded tree outlives
    memline; once memline removed the channel's directory, nobody tries to make it again with
    an `events` link to root's file; then the child sends with every sender. Root's channel is
    in /run/memline, where nobody cannot make anything; and if it could, the senders would
    refuse (the test above)."""
    go = tmp_path / "go"
    os.mkfifo(go)
    out = tmp_path / "results"
    survivor = tmp_path / "survivor.sh"
    survivor.write_text(
        f'read x < "{go}"\n'
        f'"{MEMLINE}" event late 2>> "{out}.err"; echo "event $?" >> "{out}"\n'
        f'"{sender}" 2>> "{out}.err"; echo "c $?" >> "{out}"\n'
        f'"{sys.executable}" -c "$PY_SEND" 2>> "{out}.err"; echo "python $?" >> "{out}"\n'
        f'echo plain >> "$MEMLINE_EVENTS" 2>> "{out}.err"; echo "echo $?" >> "{out}"\n'
        f'echo done >> "{out}"\n')
    chan = tmp_path / "channel"
    env = dict(env_with(None), PY_SEND=PY_SEND)
    log = tmp_path / "run.jsonl"
    r = ml.cmd("run", "-q", "-o", log, "--", "sh", "-c",
               f'echo "$MEMLINE_EVENTS" > "{chan}"; '
               f'sh "{survivor}" < /dev/null > /dev/null 2>&1 & exit 0', env=env)
    assert r.returncode == 0, r.stderr
    path = Path(chan.read_text().strip())
    assert not path.parent.exists(), f"expected memline to remove {path.parent} at its end"
    attack = subprocess.run(["sh", "-c", f'mkdir -m 700 "{path.parent}" && '
                             f'ln -s "{victim}" "{path}"'], preexec_fn=as_nobody,
                            capture_output=True, text=True, timeout=TIMEOUT)
    try:
        before = victim.read_bytes()
        with open(go, "w"):
            pass  # the survivor goes on
        wait_until(lambda: out.exists() and "done" in out.read_text(), f"the survivor's {out}")
        results = dict(line.split() for line in out.read_text().splitlines()[:-1])
        assert victim.read_bytes() == before, (
            f"expected root's file untouched by the survivor ({results}; the attacker's "
            f"mkdir {'succeeded' if attack.returncode == 0 else 'failed'})")
        if attack.returncode == 0:
            assert results["event"] == "77", results
        else:
            assert results["event"] == "0", f"expected a silent no-op, the channel gone: {results}"
            assert results["echo"] != "0", "expected the plain redirect to fail: no directory"
        assert results["python"] == "0" and results["c"] == "1", results
    finally:
        if attack.returncode == 0:
            shutil.rmtree(path.parent, ignore_errors=True)


def test_roots_channel_is_where_nobody_else_can_create_it(ml, tmp_path):
    out = tmp_path / "where"
    env = env_with(None)
    env.pop("XDG_RUNTIME_DIR", None)
    r = ml.cmd("run", "-q", "-o", tmp_path / "a.jsonl", "--", "sh", "-c",
               f'echo "$MEMLINE_EVENTS" > "{out}"', env=env)
    assert r.returncode == 0, r.stderr
    base = Path(out.read_text().strip()).parent.parent
    st = base.lstat()
    if str(base) != "/run/memline":
        pytest.skip(f"no usable /run here: the channel went to {base}")
    assert st.st_uid == 0 and not st.st_mode & 0o022, f"expected {base} root's alone"


# ---- stale directories ----


def channel_of(pid):
    """$MEMLINE_EVENTS of a running process."""
    env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return Path(next(v[len(b"MEMLINE_EVENTS="):].decode() for v in env
                     if v.startswith(b"MEMLINE_EVENTS=")))


def start_time(pid):
    data = Path(f"/proc/{pid}/stat").read_bytes()
    return int(data[data.rindex(b")") + 2:].split()[19])


def test_stale_channel_dirs_are_removed_at_the_next_start(ml, tmp_path, killer):
    """memline killed with SIGKILL cannot remove its channel's directory: the next memline
    run does. It keeps a live recording's, a directory whose maker is alive, one that is
    locked (a child of the dead maker may still use it), another user's, and one not named
    like ours."""
    live_pf, dead_pf = tmp_path / "live.pid", tmp_path / "dead.pid"
    live = ml.popen("run", "-q", "-o", tmp_path / "live.jsonl", "--", ml.memwork, "pidfile",
                    live_pf, "hang")
    dead = ml.popen("run", "-q", "-o", tmp_path / "dead.jsonl", "--", ml.memwork, "pidfile",
                    dead_pf, "hang")
    live_work, dead_work = read_pidfile(live_pf), read_pidfile(dead_pf)
    killer += [live_work, dead_work]
    live_dir, dead_dir = channel_of(live_work).parent, channel_of(dead_work).parent
    base = dead_dir.parent
    dead.send_signal(signal.SIGKILL)
    dead.wait(timeout=TIMEOUT)
    os.kill(dead_work, signal.SIGKILL)
    assert dead_dir.exists(), f"expected the killed memline's {dead_dir} left behind"

    # Made by hand: a gone pid, and ours with our start time (alive).
    gone = subprocess.Popen(["true"])
    gone.wait()
    tag = uuid.uuid4().hex[:6]
    kept = {
        "alive": base / f"memline-{os.getpid()}-{start_time(os.getpid())}-{tag}",
        "locked": base / f"memline-{gone.pid}-1-L{tag[:5]}",
        "theirs": base / f"memline-{gone.pid}-1-T{tag[:5]}",
        "other name": base / f"memline-{gone.pid}-1-{tag}x",
    }
    for d in kept.values():
        d.mkdir(mode=0o700)
        (d / "events").touch(mode=0o600)
    os.chown(kept["theirs"], NOBODY, NOBODY)
    lock = os.open(kept["locked"], os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        r = ml.cmd("run", "-q", "-o", tmp_path / "next.jsonl", "--", "true")
        assert r.returncode == 0, r.stderr
        assert not dead_dir.exists(), f"expected the stale {dead_dir} removed by the next run"
        assert live_dir.exists(), f"expected the live recording's {live_dir} kept"
        for what, d in kept.items():
            assert d.exists() and (d / "events").exists(), f"expected {what} {d} kept"
    finally:
        os.close(lock)
        for d in kept.values():
            shutil.rmtree(d, ignore_errors=True)
    os.kill(live_work, signal.SIGKILL)
    ml.finish(live)
    assert not live_dir.exists(), "expected the live recording to remove its own at its end"


TRACKED = """
import os, sys, memline
with memline.track(path=sys.argv[1]):
    print(os.environ["MEMLINE_EVENTS"], flush=True)
    os.kill(os.getpid(), 9)
"""


def test_a_killed_tracked_python_leaves_nothing_after_the_next_start(ml, tmp_path):
    env = dict(env_with(None), MEMLINE_BIN=str(MEMLINE))
    p = subprocess.run([sys.executable, "-c", TRACKED, str(tmp_path / "py.jsonl")],
                       capture_output=True, text=True, timeout=TIMEOUT, env=env, cwd=tmp_path)
    assert p.returncode == -signal.SIGKILL, p
    d = Path(p.stdout.strip()).parent
    assert d.exists(), f"expected the killed process's {d} left behind"
    r = ml.cmd("run", "-q", "-o", tmp_path / "next.jsonl", "--", "true")
    assert r.returncode == 0, r.stderr
    assert not d.exists(), f"expected memline run to remove the stale {d}"
