"""memline.event() and memline.span(): the lines they write on the event channel, parsed back
as docs/events.md says, from threads and processes; silence when there is no channel."""

import errno
import multiprocessing
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest

from pyhelpers import channel  # noqa: F401 (a fixture)
from pyhelpers import REPO, TIMEOUT, memline, parse_channel, python_env


def test_event_writes_one_structured_line(channel):
    before = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
    assert memline.event("epoch 3") is True
    after = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
    msgs = channel()
    assert len(msgs) == 1, f"expected one message, got {msgs}"
    m = msgs[0]
    assert m["kind"] == "E"
    assert m["text"] == b"epoch 3"
    assert m["pid"] == os.getpid()
    assert m["tid"] == threading.get_native_id()
    assert before <= m["ns"] <= after, f"expected a CLOCK_BOOTTIME stamp in [{before}, {after}]"


def test_events_keep_their_order(channel):
    for i in range(100):
        memline.event(f"e{i}")
    assert [m["text"] for m in channel()] == [f"e{i}".encode() for i in range(100)]


@pytest.mark.parametrize("label", [
    "line one\nline two\r\nthree",
    "back\\slash \\n not a newline \\",
    '{"type":"end","status":"completed"}\n{"x":1}',
    "<script>alert('x')</script> &amp; \" ' `",
    "\x1eE 1 2 3 forged",
    "tab\there, nul\x00there, bell\x07, del\x7f, esc\x1b[31m",
    "ünïcödé — 日本語 🎉",
    "",
    " leading and trailing spaces ",
])
def test_hostile_labels_come_back_whole(channel, label):
    memline.event(label)
    msgs = channel()
    assert len(msgs) == 1, f"expected one line for {label!r}, got {msgs}"
    assert msgs[0]["text"] == label.encode("utf-8")


def test_binary_label_is_sent_as_its_bytes(channel):
    label = bytes(range(256)) * 2
    memline.event(label)
    (m,) = channel()
    assert m["text"] == label[:1024]


def test_undecodable_str_keeps_its_bytes(channel):
    # A str from os.fsdecode() of invalid UTF-8 (surrogateescape) and a lone surrogate.
    memline.event(os.fsdecode(b"file-\xff\xfe.bin"))
    memline.event("lone \ud800 surrogate")
    a, b = channel()
    assert a["text"] == b"file-\xff\xfe.bin"
    assert b["text"] == "lone ? surrogate".encode()


def test_non_str_label_is_its_str(channel):
    memline.event(42)
    memline.event(3.5)
    assert [m["text"] for m in channel()] == [b"42", b"3.5"]


def test_long_label_is_cut_to_1024_bytes(channel):
    memline.event("x" * 5000)
    memline.event("\n" * 3000)  # escaped: 2048 bytes of text, still one line under 4096
    a, b = channel()
    assert a["text"] == b"x" * 1024
    assert b["text"] == b"\n" * 1024


@pytest.mark.parametrize("prefix", ["", "a", "ab", "abc"])
def test_long_label_is_cut_at_a_utf8_boundary(channel, prefix):
    label = prefix + "é€🎉" * 400  # 2, 3 and 4 byte characters at every offset
    memline.event(label)
    (m,) = channel()
    assert len(m["text"]) <= 1024
    assert len(m["text"]) > 1024 - 4
    text = m["text"].decode("utf-8")  # fails if a character was cut
    assert label.startswith(text)


def test_no_channel_is_a_silent_no_op(monkeypatch, tmp_path):
    monkeypatch.delenv("MEMLINE_EVENTS", raising=False)
    monkeypatch.chdir(tmp_path)
    assert memline.event("nobody listens") is False
    with memline.span("nobody"):
        pass
    monkeypatch.setenv("MEMLINE_EVENTS", "")
    assert memline.event("still nobody") is False
    assert list(tmp_path.iterdir()) == [], "expected no file written"


def test_channel_in_a_missing_directory_is_a_silent_no_op(monkeypatch, tmp_path):
    missing = tmp_path / "gone" / "events"
    monkeypatch.setenv("MEMLINE_EVENTS", str(missing))
    assert memline.event("lost") is False
    with memline.span("lost"):
        memline.event("lost too")
    assert not (tmp_path / "gone").exists()


def test_unwritable_channel_is_a_silent_no_op(monkeypatch, tmp_path):
    # A directory cannot be opened for writing: open() fails with EISDIR even for root.
    monkeypatch.setenv("MEMLINE_EVENTS", str(tmp_path))
    assert memline.event("x") is False


def test_a_new_channel_path_is_followed(monkeypatch, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.touch(mode=0o600)
    b.touch(mode=0o600)
    monkeypatch.setenv("MEMLINE_EVENTS", str(a))
    memline.event("to a")
    monkeypatch.setenv("MEMLINE_EVENTS", str(b))
    memline.event("to b")
    monkeypatch.delenv("MEMLINE_EVENTS")
    memline.event("to nobody")
    monkeypatch.setenv("MEMLINE_EVENTS", str(a))
    memline.event("to a again")
    assert [m["text"] for m in parse_channel(a.read_bytes())] == [b"to a", b"to a again"]
    assert [m["text"] for m in parse_channel(b.read_bytes())] == [b"to b"]


def test_channel_reappearing_after_a_failed_open_is_used_on_a_new_path(monkeypatch, tmp_path):
    path = tmp_path / "later"
    monkeypatch.setenv("MEMLINE_EVENTS", str(path))
    assert memline.event("before") is False
    path.touch(mode=0o600)
    other = tmp_path / "other"
    other.touch(mode=0o600)
    monkeypatch.setenv("MEMLINE_EVENTS", str(other))
    assert memline.event("after") is True
    assert [m["text"] for m in parse_channel(other.read_bytes())] == [b"after"]


# ---- spans ----


def test_span_as_context_manager(channel):
    with memline.span("outer") as s:
        assert isinstance(s, memline.span)
        with memline.span("inner"):
            memline.event("inside")
    assert [(m["kind"], m["text"]) for m in channel()] == [
        ("B", b"outer"), ("B", b"inner"), ("E", b"inside"), ("X", b"inner"), ("X", b"outer")]


def test_span_ends_when_an_exception_leaves_it(channel):
    with pytest.raises(KeyError, match="boom"):
        with memline.span("load"):
            raise KeyError("boom")
    assert [(m["kind"], m["text"]) for m in channel()] == [("B", b"load"), ("X", b"load")]


def test_span_as_decorator(channel):
    @memline.span("step")
    def step(x, y=1):
        """doc"""
        return x + y

    assert step(1, y=2) == 3
    assert step.__name__ == "step" and step.__doc__ == "doc"
    assert [(m["kind"], m["text"]) for m in channel()] == [("B", b"step"), ("X", b"step")]


def test_span_as_decorator_with_an_exception(channel):
    @memline.span("fails")
    def fails():
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        fails()
    with pytest.raises(ValueError):
        fails()
    assert [(m["kind"], m["text"]) for m in channel()] == [
        ("B", b"fails"), ("X", b"fails"), ("B", b"fails"), ("X", b"fails")]


def test_bare_span_decorator_names_the_span_after_the_function(channel):
    class Model:
        @memline.span
        def fit(self):
            return "fitted"

        @memline.span()
        def predict(self):
            return "predicted"

    assert Model().fit() == "fitted"
    assert Model().predict() == "predicted"
    assert [(m["kind"], m["text"]) for m in channel()] == [
        ("B", b"test_bare_span_decorator_names_the_span_after_the_function.<locals>.Model.fit"),
        ("X", b"test_bare_span_decorator_names_the_span_after_the_function.<locals>.Model.fit"),
        ("B", b"test_bare_span_decorator_names_the_span_after_the_function.<locals>.Model.predict"),
        ("X", b"test_bare_span_decorator_names_the_span_after_the_function.<locals>.Model.predict"),
    ]


def test_span_on_a_coroutine_function(channel):
    import asyncio

    @memline.span("fetch")
    async def fetch():
        memline.event("fetching")
        return 7

    assert asyncio.run(fetch()) == 7
    assert [(m["kind"], m["text"]) for m in channel()] == [
        ("B", b"fetch"), ("E", b"fetching"), ("X", b"fetch")]


def test_one_span_object_shared_by_threads_is_per_thread(channel):
    shared = memline.span("work")
    barrier = threading.Barrier(4)
    tids = []

    def worker():
        tids.append(threading.get_native_id())
        with shared:
            barrier.wait(TIMEOUT)
            memline.event("working")

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    msgs = channel()
    assert len(msgs) == 12
    for tid in tids:
        mine = [(m["kind"], m["text"]) for m in msgs if m["tid"] == tid]
        assert mine == [("B", b"work"), ("E", b"working"), ("X", b"work")], f"thread {tid}: {mine}"


# ---- threads and processes ----


def test_threads_write_whole_lines(channel):
    n_threads, n_events = 8, 500

    def worker(k):
        for i in range(n_events):
            memline.event(f"t{k} e{i} " + "x" * (i % 300))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    msgs = channel()
    assert len(msgs) == n_threads * n_events
    assert len({m["tid"] for m in msgs}) == n_threads
    for k in range(n_threads):
        mine = [m["text"].split(b" ")[1] for m in msgs if m["text"].startswith(b"t%d " % k)]
        assert mine == [b"e%d" % i for i in range(n_events)], f"thread {k} lost or reordered"


SENDER = """
import sys, memline
k = sys.argv[1]
sys.stdin.read()  # start together: every sender waits until the test closes its stdin
for i in range(500):
    memline.event(f"p{k} e{i} " + "y" * (i % 700))
"""


def test_8_processes_500_events_each_give_4000_lines(channel):
    procs = [subprocess.Popen([sys.executable, "-c", SENDER, str(k)], stdin=subprocess.PIPE,
                              env=python_env()) for k in range(8)]
    for p in procs:
        p.stdin.close()
    for p in procs:
        assert p.wait(TIMEOUT) == 0
    msgs = channel()
    assert len(msgs) == 4000, f"expected 4000 lines, got {len(msgs)}"
    by_pid = {}
    for m in msgs:
        by_pid.setdefault(m["pid"], []).append(m["text"])
    assert sorted(by_pid) == sorted(p.pid for p in procs)
    for p in procs:
        texts = by_pid[p.pid]
        k = texts[0].split(b" ")[0]
        assert [t.split(b" ")[1] for t in texts] == [b"e%d" % i for i in range(500)]
        assert all(t.startswith(k + b" ") for t in texts)


def _forked_sender(n):
    for i in range(n):
        memline.event(f"child {i}")


def test_a_forked_child_sends_with_its_own_pid(channel):
    memline.event("parent before")  # the parent's descriptor is open when it forks
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_forked_sender, args=(50,)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(TIMEOUT)
        assert p.exitcode == 0
    memline.event("parent after")
    msgs = channel()
    assert len(msgs) == 2 + 3 * 50
    assert msgs[0]["pid"] == msgs[-1]["pid"] == os.getpid()
    for p in procs:
        mine = [m for m in msgs if m["pid"] == p.pid]
        assert [m["text"] for m in mine] == [f"child {i}".encode() for i in range(50)]
        assert all(m["tid"] == p.pid for m in mine)


def test_os_fork_child_sends_with_its_own_pid(channel):
    memline.event("parent")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            ok = memline.event("child")
            os.write(w, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        assert f.read() == b"1"
    os.waitpid(pid, 0)
    msgs = channel()
    assert [(m["pid"], m["text"]) for m in msgs] == [(os.getpid(), b"parent"), (pid, b"child")]


def test_a_child_forked_from_a_thread_sends_with_its_own_ids(channel):
    result = {}

    def worker():
        memline.event("thread")  # the thread's id is remembered
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                memline.event("child of a thread")
            finally:
                os._exit(0)
        os.close(w)
        os.close(r)
        os.waitpid(pid, 0)
        result["child"] = pid
        result["tid"] = threading.get_native_id()

    t = threading.Thread(target=worker)
    t.start()
    t.join(TIMEOUT)
    msgs = channel()
    assert [(m["pid"], m["tid"], m["text"]) for m in msgs] == [
        (os.getpid(), result["tid"], b"thread"),
        (result["child"], result["child"], b"child of a thread")]


def test_the_channel_keeps_one_descriptor_number(monkeypatch, tmp_path):
    from memline import _channel

    fds = []
    for name in "abcd":
        (tmp_path / name).touch(mode=0o600)
        monkeypatch.setenv("MEMLINE_EVENTS", str(tmp_path / name))
        assert memline.event(name)
        fds.append(_channel._state[2])
    assert len(set(fds)) == 1, f"expected one descriptor, reused: {fds}"
    for name in "abcd":
        assert [m["text"] for m in parse_channel((tmp_path / name).read_bytes())] == [name.encode()]


def test_the_channel_descriptor_is_not_inherited_by_exec(channel):
    assert memline.event("open it")
    lister = ("import os\n"
              "for fd in os.listdir('/proc/self/fd'):\n"
              "    try: print(os.readlink('/proc/self/fd/' + fd))\n"
              "    except OSError: pass\n")
    out = subprocess.run([sys.executable, "-c", lister], capture_output=True, text=True,
                         close_fds=False, timeout=TIMEOUT)
    assert out.returncode == 0, out.stderr
    assert str(channel.path) not in out.stdout.splitlines(), f"channel inherited: {out.stdout}"


# ---- the C parser agrees ----


PARSER_C = r"""
#include <stdio.h>
#include <string.h>
#include "record/channel.h"
/* Prints each message of the channel file argv[1]: KIND PID TID LEN, then the text's bytes. */
static void print(void *data, const struct channel_msg *m)
{
	(void)data;
	printf("%c %d %d %zu ", (char)m->kind, (int)m->pid, (int)m->tid, m->len);
	fwrite(m->text, 1, m->len, stdout);
	printf("\n");
}
int main(int argc, char **argv)
{
	struct channel_reader r;
	struct strbuf err = STRBUF_INIT;
	if (argc < 2 || channel_reader_open(&r, argv[1], &err) < 0)
		return 1;
	channel_reader_poll(&r, print, NULL);
	channel_reader_close(&r);
	return 0;
}
"""


def test_memlines_own_parser_reads_what_python_writes(channel, tmp_path):
    cc = shutil.which("cc")
    if not cc:
        pytest.skip("no C compiler to build memline's own parser with")
    sources = [REPO / "lib" / "record" / "channel.c", REPO / "lib" / "util" / "strbuf.c",
               REPO / "lib" / "util" / "text.c"]
    for f in sources:
        assert f.exists(), f"expected memline's channel parser and what it needs at {f}"
    src = tmp_path / "parse.c"
    src.write_text(PARSER_C)
    exe = tmp_path / "parse"
    subprocess.run([cc, "-std=gnu17", "-D_GNU_SOURCE", f"-I{REPO / 'lib'}", "-o", str(exe),
                    str(src), *map(str, sources)],
                   check=True, timeout=TIMEOUT)
    labels = ["plain", "new\nline", "back\\slash\\n", "cr\r", "ü€🎉" * 300, "", "x" * 2000,
              "\x00x", "a\x00\x00b\x00"]
    for label in labels:
        memline.event(label)
    with memline.span("phase"):
        pass
    out = subprocess.run([str(exe), str(channel.path)], capture_output=True, check=True,
                         timeout=TIMEOUT).stdout
    got = []
    while out:
        kind, pid, tid, n, rest = out.split(b" ", 4)
        n = int(n)
        got.append((kind.decode(), int(pid), int(tid), rest[:n]))
        assert rest[n:n + 1] == b"\n"
        out = rest[n + 1:]
    me = (os.getpid(), threading.get_native_id())
    want = [("E",) + me + (label.encode()[:1024] if len(label.encode()) <= 1024 else None,)
            for label in labels]
    for i, w in enumerate(want):
        assert got[i][:3] == w[:3]
        if w[3] is not None:
            assert got[i][3] == w[3]
        else:
            assert labels[i].encode().startswith(got[i][3]) and len(got[i][3]) <= 1024
            got[i][3].decode("utf-8")
    assert got[len(labels):] == [("B",) + me + (b"phase",), ("X",) + me + (b"phase",)]


# ---- channels that are not the recording's own file ----


def _refused_case(tmp_path, case):
    """Makes a channel path that senders must refuse; returns (path, the file it would reach)."""
    d = tmp_path / "chan"
    d.mkdir(mode=0o700)
    ours = d / "events"
    ours.touch(mode=0o600)
    if case.startswith("mode"):
        p = d / "other"
        p.touch(mode=0o600)
        os.chmod(p, int(case[4:], 8))
        return p, p
    if case == "symlink":
        p = d / "link"
        p.symlink_to(ours)
        return p, ours
    if case == "hardlink":
        p = d / "hard"
        os.link(ours, p)
        return p, ours
    if case == "dir-mode":
        os.chmod(d, 0o755)
        return ours, ours
    if case == "dir-symlink":
        link = tmp_path / "dirlink"
        link.symlink_to(d)
        return link / "events", ours
    if case == "their-file":
        os.chown(ours, 65534, 65534)
        return ours, ours
    if case == "their-dir":
        os.chown(d, 65534, 65534)
        return ours, ours
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["mode644", "mode640", "mode400", "mode700", "symlink",
                                  "hardlink", "dir-mode", "dir-symlink", "their-file",
                                  "their-dir"])
def test_a_channel_that_is_not_the_recordings_own_is_refused(monkeypatch, tmp_path, caplog,
                                                             case):
    if case.startswith("their") and os.geteuid() != 0:
        pytest.skip("needs root to give a file to another user")
    path, target = _refused_case(tmp_path, case)
    monkeypatch.setenv("MEMLINE_EVENTS", str(path))
    with caplog.at_level("WARNING", logger="memline"):
        assert memline.event("hijacked") is False
        with memline.span("hijacked"):
            pass
    assert target.read_bytes() == b"", f"expected nothing written through {path}"
    assert any("refusing the event channel" in r.getMessage() for r in caplog.records), (
        f"expected a warning on the memline logger: {caplog.records}")
    from memline import _channel
    with pytest.raises(OSError) as e:
        _channel.open_checked(path)
    assert e.value.errno == errno.EPERM
    assert _channel.send_to(path, b"S", "completed") is False
    assert target.read_bytes() == b""
