"""The HTTP server (lib/render/http.c): `memline run --serve 0 -- CMD` serving a recording while it runs.

The server prints `memline: serving URL` on stderr, which gives the port.

Covered: /metrics parses as Prometheus text (promtool and a parse of every line), /events
delivers records as the job runs and resumes from a byte offset, 50 parallel clients,
malformed and oversized requests, path traversal, the page's headers, and (headless Chromium,
tests/e2e/browser/check-live.js) that the live page's chart grows while the job runs.
Jobs emit events every 0.2 s until the test creates their stop file: nothing waits on time.
"""

import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import BUILD, MEMLINE, POLL_TIMEOUT, REPO, TIMEOUT, read_log, wait_until

CHROMIUM = Path(os.environ.get("MEMLINE_CHROMIUM", "/usr/bin/chromium"))
BROWSER_MODULES = BUILD / "browser" / "node_modules"
CHECK_LIVE = REPO / "tests" / "e2e" / "browser" / "check-live.js"
NODE = "/usr/bin/node"
PROMTOOL = shutil.which("promtool")


def read_url(proc, what):
    """The URL from 'memline: serving URL' on proc's stderr."""
    deadline = time.monotonic() + POLL_TIMEOUT
    seen = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.2)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        line = proc.stderr.readline()
        if not line:
            break
        seen += line
        m = re.match(rb"memline: serving (http://\S+)", line)
        if m:
            return m.group(1).decode()
    raise AssertionError(f"expected '{what}' to print 'memline: serving URL', got {seen!r}")


def parse_url(url):
    """host, port and token of 'http://127.0.0.1:PORT/?token=TOKEN'."""
    m = re.match(r"http://([0-9.]+):(\d+)/\?token=([0-9a-f]{48})$", url)
    assert m, f"expected http://127.0.0.1:PORT/?token= and 48 hex digits, got {url}"
    return m.group(1), int(m.group(2)), m.group(3)


class Served:
    """A job recorded and served; stop() lets the job end and waits for everything."""

    def __init__(self, tmp_path, script, env=None, args=()):
        self.log = tmp_path / "served.jsonl"
        self.stop_file = tmp_path / "stop"
        env = {**os.environ, "ML": str(MEMLINE), "STOP": str(self.stop_file), **(env or {})}
        run = [MEMLINE, "run", "-q", "-i", "0.05", "-o", self.log, *args]
        self.job = subprocess.Popen([*run, "--serve", "0", "--", "sh", "-c", script],
                                    env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.server = self.job
        self.url = read_url(self.server, "the server")
        self.host, self.port, self.token = parse_url(self.url)
        self.base = f"http://{self.host}:{self.port}/"
        self.auth = {"Authorization": f"Bearer {self.token}"}

    def end_job(self):
        self.stop_file.touch()
        assert self.job.wait(timeout=TIMEOUT) == 0, "expected the job to complete"

    def stop(self):
        self.stop_file.touch()
        self.job.wait(timeout=TIMEOUT)

    def get(self, path, method="GET", headers=None, auth=True):
        """status, headers (lower-case names), body; with the token as a Bearer header."""
        c = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
        try:
            c.request(method, path, headers={**(self.auth if auth else {}), **(headers or {})})
            r = c.getresponse()
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
        finally:
            c.close()


# A job that marks an event every 0.2 s until the test creates its stop file (or 2 minutes).
TICKS = ('i=0; while [ ! -e "$STOP" ] && [ $i -lt 600 ]; do "$ML" event "tick $i"; '
         'i=$((i+1)); sleep 0.2; done')


@pytest.fixture
def served(tmp_path, request):
    s = Served(tmp_path, getattr(request, "param", TICKS))
    yield s
    s.stop()


def wait_events(s, n):
    wait_until(lambda: sum(1 for r in read_log(s.log) if r["type"] == "event") >= n,
               f"{n} events in the log")


# ---- /metrics ----

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')


def parse_metrics(text):
    """Families by name: type, help and samples (labels dict, value), checking each line."""
    fams = {}
    for n, line in enumerate(text.split("\n"), 1):
        if not line:
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            _, kind, name, rest = line.split(" ", 3)
            assert name.startswith("memline_"), f"line {n}: expected memline_ names: {line}"
            f = fams.setdefault(name, {"samples": []})
            assert not f["samples"], f"line {n}: {kind} after the family's samples: {line}"
            f[kind.lower()] = rest
            continue
        assert not line.startswith("#"), f"line {n}: unexpected comment {line!r}"
        m = SAMPLE.match(line)
        assert m, f"line {n}: not a Prometheus sample line: {line!r}"
        name, labels, value = m.group(1), m.group(3), m.group(4)
        float(value)
        got = {}
        pos = 0
        while labels and pos < len(labels):
            lm = LABEL.match(labels, pos)
            assert lm, f"line {n}: bad label at {labels[pos:pos + 40]!r}"
            got[lm.group(1)] = lm.group(2)
            pos = lm.end()
        assert name in fams and "type" in fams[name], f"line {n}: {name} has no TYPE before it"
        if fams[name]["type"] == "counter":
            assert name.endswith("_total"), f"line {n}: a counter must end in _total: {name}"
        fams[name]["samples"].append((got, float(value)))
    return fams


@pytest.mark.parametrize("served", [
    'i=0; while [ ! -e "$STOP" ] && [ $i -lt 600 ]; do "$ML" event "tick $i"; i=$((i+1)); '
    'sleep 0.2; done # a "quoted" \\ back\\slash\n# and a second line'], indirect=True)
def test_metrics_parse_as_prometheus_text(served):
    # the server's model follows the log 20 times a second: wait until it has two events
    wait_until(lambda: re.search(rb"^memline_events_total [2-9]", served.get("/metrics")[2],
                                 re.M), "two events in /metrics")
    status, headers, body = served.get("/metrics")
    assert status == 200, f"expected 200 for /metrics, got {status}"
    assert headers["content-type"].startswith("text/plain; version=0.0.4"), headers
    text = body.decode("utf-8")
    fams = parse_metrics(text)
    for name in ["memline_run_info", "memline_elapsed_seconds", "memline_samples_total",
                 "memline_events_total", "memline_tree_rss_bytes", "memline_tree_peak_bytes",
                 "memline_process_rss_bytes", "memline_process_peak_bytes",
                 "memline_process_cpu_seconds_total"]:
        assert name in fams, f"expected {name} in /metrics:\n{text}"
        assert fams[name].get("help") and fams[name].get("type"), f"{name}: HELP and TYPE"
    info = fams["memline_run_info"]["samples"]
    assert len(info) == 1 and info[0][0]["status"] == "running", info
    assert '\\"quoted\\" \\\\ back\\\\slash\\n# and a second line' in info[0][0]["command"], (
        f"expected the command label escaped per the format: {info[0][0]['command']!r}")
    assert fams["memline_events_total"]["samples"][0][1] >= 2
    procs = fams["memline_process_rss_bytes"]["samples"]
    assert procs, "expected per-process RSS samples"
    for fam in ["memline_process_rss_bytes", "memline_process_peak_bytes",
                "memline_process_cpu_seconds_total"]:
        for labels, v in fams[fam]["samples"]:
            assert set(labels) == {"pid", "command"}, f"{fam}: label set {labels}"
            assert v >= 0
    # the job's memory, by the log's method
    method = read_log(served.log)[0]["memory"]["method"]
    for fam in ["memline_job_memory_bytes", "memline_job_peak_bytes"]:
        samples = fams[fam]["samples"]
        assert len(samples) == 1 and samples[0][0] == {"method": method}, (fam, samples)
        assert samples[0][1] > 0, (fam, samples)
    assert (fams["memline_job_peak_bytes"]["samples"][0][1]
            >= fams["memline_job_memory_bytes"]["samples"][0][1])
    if PROMTOOL:
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True,
                           timeout=TIMEOUT)
        assert r.returncode == 0, f"promtool check metrics failed: {r.stdout!r} {r.stderr!r}"


def test_metrics_of_a_cgroup_log_lead_with_the_job():
    """`memline view --serve` on a hand-written cgroup log: the job's memory of the newest
    sample and its peak (511 MiB, where the RSS sum peaked at 2.5 GiB), labelled cgroup, beside
    the tree's metrics as they were; promtool accepts it all."""
    log = Path(__file__).resolve().parents[1] / "fixtures" / "logs" / "cgroup.jsonl"
    view = subprocess.Popen([MEMLINE, "view", "--serve", "0", log], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        host, port, token = parse_url(read_url(view, "memline view --serve"))
        c = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
        c.request("GET", "/metrics", headers={"Authorization": f"Bearer {token}"})
        r = c.getresponse()
        body = r.read()
        assert r.status == 200, body
    finally:
        view.send_signal(signal.SIGINT)
        view.wait(timeout=TIMEOUT)
    fams = parse_metrics(body.decode("utf-8"))
    records = read_log(log)
    last = [x for x in records if x["type"] == "sample"][-1]
    job = records[0]["tree_fields"].index("job")
    assert fams["memline_job_memory_bytes"]["samples"] == [({"method": "cgroup"},
                                                            last["tree"][job] * 1024)]
    assert fams["memline_job_peak_bytes"]["samples"] == [({"method": "cgroup"}, 523264 * 1024)]
    assert fams["memline_tree_peak_bytes"]["samples"] == [({}, 2621440 * 1024)]
    assert fams["memline_job_memory_bytes"]["type"] == "gauge"
    if PROMTOOL:
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True,
                           timeout=TIMEOUT)
        assert r.returncode == 0, f"promtool check metrics failed: {r.stdout!r} {r.stderr!r}"


# ---- /events ----


class EventStream:
    """An SSE client on a raw socket: messages as (id, data) while the server sends them."""

    def __init__(self, s, path="/events", headers=""):
        self.sock = socket.create_connection((s.host, s.port), timeout=TIMEOUT)
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {s.host}:{s.port}\r\n{headers}"
                          f"Authorization: Bearer {s.token}\r\n"
                          "Accept: text/event-stream\r\n\r\n".encode())
        self.buf = b""
        self.closed = False
        self.eof = False
        self.events = []
        head = self._until(b"\r\n\r\n")
        self.status = int(head.split(b" ", 2)[1])
        self.chunked = b"transfer-encoding: chunked" in head.lower()
        self.body = b""

    def _more(self):
        data = self.sock.recv(65536)
        if not data:
            self.closed = True
        self.buf += data
        return bool(data)

    def _until(self, sep):
        while sep not in self.buf:
            if not self._more():
                raise AssertionError(f"connection closed before {sep!r}: {self.buf[:200]!r}")
        out, self.buf = self.buf.split(sep, 1)
        return out

    def _dechunk(self):
        """Moves complete chunks from buf to body; False at the last chunk."""
        while True:
            if b"\r\n" not in self.buf:
                return True
            size_line, rest = self.buf.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                return False
            if len(rest) < size + 2:
                return True
            self.body += rest[:size]
            self.buf = rest[size + 2:]

    def _pop(self):
        """The first complete message with data in body, or None. A named event ("end",
        "stop") goes to self.events as (event, data), its data lines joined by newlines."""
        while b"\n\n" in self.body:
            msg, self.body = self.body.split(b"\n\n", 1)
            fields = {}
            for line in msg.split(b"\n"):
                if line.startswith(b":"):
                    continue
                k, _, v = line.partition(b":")
                v = v[1:] if v.startswith(b" ") else v
                k = k.decode()
                fields[k] = fields[k] + b"\n" + v if k == "data" and k in fields else v
            if "data" in fields and "event" in fields:
                self.events.append((fields["event"].decode(), fields["data"]))
            elif "data" in fields:
                return int(fields["id"]), fields["data"]
        return None

    def next(self):
        """The next message (id, data), or None at the end of the stream."""
        while True:
            msg = self._pop()
            if msg is not None:
                return msg
            if self.eof:
                return None
            if self.chunked:
                if not self._dechunk():
                    self.eof = True
                    continue
            else:
                self.body += self.buf
                self.buf = b""
            if not self._more():
                if not self.chunked:
                    self.body += self.buf
                    self.buf = b""
                self.eof = True

    def close(self):
        self.sock.close()


def test_events_stream_records_while_the_job_runs(served):
    wait_events(served, 1)
    st = EventStream(served)
    assert st.status == 200
    live_ticks = 0
    while live_ticks < 3:
        msg = st.next()
        assert msg is not None, "expected the stream to stay open while the job runs"
        off, data = msg
        rec = json.loads(data)
        log = served.log.read_bytes()
        assert log[:off].endswith(data + b"\n"), (
            f"expected id {off} to be the byte offset after the line {data[:80]!r}")
        if rec["type"] == "event":
            assert not any(r["type"] == "end" for r in read_log(served.log)), \
                "expected the event while the job runs"
            live_ticks += 1
    served.end_job()
    types = []
    while True:
        msg = st.next()
        if msg is None:
            break
        types.append(json.loads(msg[1])["type"])
    st.close()
    assert types and types[-1] == "end", f"expected the stream to end after the end record: {types}"
    assert st.events == [("end", b"{}")], f"expected an 'end' event last: {st.events}"


def test_events_end_with_the_final_data(served):
    """/events?final=1 (what the page asks for): the stream's last message, event "end",
    holds the page's data as the run ended (status, last sample), so that the page shows it
    without asking a server that is about to go."""
    wait_events(served, 1)
    st = EventStream(served, "/events?final=1")
    assert st.next() is not None
    served.end_job()
    while st.next() is not None:
        pass
    st.close()
    assert len(st.events) == 1 and st.events[0][0] == "end", st.events
    final = json.loads(st.events[0][1])
    records = read_log(served.log)
    last_t = [r for r in records if r["type"] == "sample"][-1]["t"]
    run = final["runs"][0]
    assert run["status"] == "completed" and abs(run["t"][-1] - last_t) < 1e-3, (
        run["status"], run["t"][-3:], last_t)


def test_events_stop_when_the_server_stops_first(served):
    """memline view --follow --serve on a log still being written, stopped by SIGTERM: its
    streams end with event "stop" (the page stops reconnecting), not "end"."""
    wait_events(served, 1)
    view = subprocess.Popen([MEMLINE, "view", "--follow", "--serve", "0", served.log],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        host, port, token = parse_url(read_url(view, "memline view --serve"))
        other = Served.__new__(Served)
        other.host, other.port, other.token = host, port, token
        st = EventStream(other, "/events?final=1")
        assert st.status == 200
        n = sum(1 for r in read_log(served.log) if r["type"] == "event")
        wait_events(served, n + 1)
        assert st.next() is not None
        view.terminate()
        while st.next() is not None:
            pass
        st.close()
        assert st.events == [("stop", b"{}")], st.events
        assert view.wait(timeout=TIMEOUT) == 0, "expected view --serve to stop on SIGTERM"
    finally:
        if view.poll() is None:
            view.kill()
            view.wait(timeout=TIMEOUT)
    served.end_job()


def test_events_resume_from_an_offset(served):
    wait_events(served, 2)
    log = served.log.read_bytes()
    first = log.index(b"\n") + 1
    st = EventStream(served, "/events?from=0")
    off, data = st.next()
    assert off == first and json.loads(data)["type"] == "header", (off, data[:80])
    off2, data2 = st.next()
    st.close()
    # Last-Event-ID wins over ?from=, and an offset inside a line moves to the next line
    st = EventStream(served, "/events?from=0", f"Last-Event-ID: {first}\r\n")
    assert st.next() == (off2, data2)
    st.close()
    st = EventStream(served, f"/events?from={first + 3}")
    off3, _ = st.next()
    assert off3 == log.index(b"\n", off2) + 1, "expected the stream to start at a line's start"
    st.close()
    served.end_job()


def test_view_serves_a_finished_log(served):
    """`memline view --serve` on a finished log: the whole of it, and 204 for /events from its
    end (an EventSource stops reconnecting)."""
    served.end_job()
    view = subprocess.Popen([MEMLINE, "view", "--serve", "0", served.log],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        url = read_url(view, "memline view --serve")
        host, port, token = parse_url(url)
        auth = {"Authorization": f"Bearer {token}"}
        c = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
        c.request("GET", "/metrics", headers=auth)
        r = c.getresponse()
        assert r.status == 200 and b'status="completed"' in r.read()
        end = len(served.log.read_bytes())
        c = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
        c.request("GET", f"/events?from={end}", headers=auth)
        r = c.getresponse()
        r.read()
        assert r.status == 204, f"expected 204 for a finished log, got {r.status}"
        c = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
        c.request("GET", "/log", headers=auth)
        r = c.getresponse()
        assert r.status == 200 and r.read() == served.log.read_bytes()
        c.close()
    finally:
        view.terminate()
        assert view.wait(timeout=TIMEOUT) == 0, "expected view --serve to stop on SIGTERM"


# ---- many clients ----


def test_fifty_clients(served):
    wait_events(served, 1)
    errors = []
    hold = threading.Event()
    got = threading.Semaphore(0)

    def streamer():
        try:
            st = EventStream(served)
            assert st.status == 200
            assert st.next() is not None
            got.release()
            hold.wait(TIMEOUT)
            st.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(f"stream: {e!r}")
            got.release()

    def fetcher():
        try:
            for _ in range(4):
                for path in ("/metrics", "/"):
                    status, _, body = served.get(path)
                    assert status == 200 and body, f"{path}: {status}"
        except Exception as e:  # noqa: BLE001
            errors.append(f"fetch: {e!r}")

    streams = [threading.Thread(target=streamer) for _ in range(25)]
    fetchers = [threading.Thread(target=fetcher) for _ in range(25)]
    for t in streams + fetchers:
        t.start()
    for _ in streams:
        assert got.acquire(timeout=TIMEOUT), "expected every stream to deliver a message"
    for t in fetchers:
        t.join(TIMEOUT)
    hold.set()
    for t in streams:
        t.join(TIMEOUT)
    assert errors == [], f"expected all 50 clients to succeed: {errors[:5]}"
    assert served.get("/metrics")[0] == 200



class Slowloris(threading.Thread):
    """n connections that each send a byte of a request every `every` seconds, never ending
    its headers, and connect again whenever the server answers or closes one, until stop().
    Half start with a request line and a header, half with empty lines (which a server skips
    before a request line: they end no headers)."""

    def __init__(self, s, n, every=1.0):
        super().__init__(daemon=True)
        self.addr, self.n, self.every = (s.host, s.port), n, every
        self.heads = [f"GET /metrics HTTP/1.1\r\nHost: {s.host}\r\nX-Slow: ".encode(),
                      b"\r\n\r\n\r\n"]
        self.halt = threading.Event()
        self.ready = threading.Event()
        self.opened = 0

    def _open(self):
        sock = socket.create_connection(self.addr, timeout=TIMEOUT)
        sock.setblocking(False)
        sock.send(self.heads[self.opened % 2])
        self.opened += 1
        return [sock, time.monotonic()]

    def run(self):
        conns = [self._open() for _ in range(self.n)]
        self.ready.set()
        while not self.halt.wait(self.every / 10):
            for c in conns:
                sock, last = c
                try:
                    sock.recv(4096)  # the server only ever answers to close: open again
                    ended = True
                except BlockingIOError:
                    ended = False
                except OSError:
                    ended = True
                if not ended and time.monotonic() - last >= self.every:
                    try:
                        sock.send(b"a")
                        c[1] = time.monotonic()
                    except OSError:
                        ended = True
                if ended and not self.halt.is_set():
                    sock.close()
                    c[:] = self._open()
        for sock, _ in conns:
            sock.close()

    def stop(self):
        self.halt.set()
        self.join(TIMEOUT)


def test_slow_clients_do_not_lock_others_out(served):
    """More slow connections than the server takes at once (256), each sending a header byte
    a second (below any idle timeout) and connecting again when closed: a client that sends
    its request at once still gets /metrics, and an event stream opened before goes on."""
    wait_events(served, 1)
    st = EventStream(served)
    assert st.next() is not None
    slow = Slowloris(served, 300)
    slow.start()
    try:
        assert slow.ready.wait(TIMEOUT), "expected the slow connections to open"

        def fetch():
            try:
                c = http.client.HTTPConnection(served.host, served.port, timeout=5)
                c.request("GET", "/metrics", headers=served.auth)
                r = c.getresponse()
                return r.status == 200 and b"memline_samples_total" in r.read()
            except OSError:
                return False

        wait_until(fetch, "/metrics while 300 connections trickle", timeout=TIMEOUT,
                   interval=0.2)
        # the stream outlives the gate's deadline for headers: 30 more ticks (0.2 s each)
        n = sum(1 for r in read_log(served.log) if r["type"] == "event")
        wait_events(served, n + 30)
        seen = 0
        while seen < 30:
            msg = st.next()
            assert msg is not None, "expected the event stream to stay open"
            if json.loads(msg[1])["type"] == "event":
                seen += 1
        assert slow.opened > 300, "expected the server to have closed slow connections"
    finally:
        slow.stop()
        st.close()


# ---- bad requests ----


def raw(s, data, read_timeout=10):
    """Sends data, returns what comes back until the server closes or goes quiet."""
    sock = socket.create_connection((s.host, s.port), timeout=TIMEOUT)
    out = b""
    try:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.settimeout(read_timeout)
        while True:
            try:
                d = sock.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not d:
                break
            out += d
            if b"\r\n\r\n" in out and b"Content-Length: 0" in out:
                break
    finally:
        sock.close()
    return out


def status_of(resp):
    if not resp:
        return None
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", resp)
    assert m, f"expected an HTTP/1.x status line or nothing, got {resp[:100]!r}"
    return int(m.group(1))


def test_malformed_and_oversized_requests(served):
    h = f"Host: {served.host}\r\nAuthorization: Bearer {served.token}\r\n".encode()
    cases = {
        "garbage": b"\x00\x01\x02 garbage \xff\xfe\r\n\r\n",
        "no version": b"GET\r\n\r\n",
        "http/0.9": b"GET /\r\n\r\n",
        "huge header": b"GET / HTTP/1.1\r\n" + h + b"X-Big: " + b"a" * 200000 + b"\r\n\r\n",
        "many headers": b"GET / HTTP/1.1\r\n" + h + b"".join(
            b"X-H%d: %s\r\n" % (i, b"v" * 50) for i in range(3000)) + b"\r\n",
        "huge url": b"GET /" + b"a" * 200000 + b" HTTP/1.1\r\n" + h + b"\r\n",
        "bad version": b"GET / HTTP/9.9\r\n" + h + b"\r\n",
        "bad method": b"BREW / HTTP/1.1\r\n" + h + b"\r\n",
        "post": b"POST /metrics HTTP/1.1\r\n" + h + b"Content-Length: 5\r\n\r\nhello",
        "delete": b"DELETE /log HTTP/1.1\r\n" + h + b"\r\n",
        "foreign host": b"GET /metrics HTTP/1.1\r\nHost: evil.example:80\r\n\r\n",
    }
    # a well-formed request with a broken body: answered or not, the server must survive it
    raw(served, b"GET / HTTP/1.1\r\n" + h + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n")
    for name, data in cases.items():
        resp = raw(served, data)
        status = status_of(resp)
        ok = status is None or 400 <= status < 500 or (name == "bad version" and status == 505)
        assert ok, f"{name}: expected a 4xx or a close: " \
            f"{resp[:200]!r}"
        if name in ("bad method", "post", "delete"):
            assert status == 405 and b"Allow: GET, HEAD" in resp, f"{name}: {resp[:300]!r}"
        if name == "foreign host":
            assert status == 403, f"expected 403 for a foreign Host (DNS rebinding): {resp[:200]!r}"
        assert served.get("/metrics")[0] == 200, f"expected the server to answer after {name}"


def test_path_traversal_never_reaches_files(served):
    for path in ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/%2E%2E/etc/passwd",
                 "/log/../x", "/log/../../etc/passwd", "//etc/passwd", "/log%00", "/log%00.txt",
                 "/./log", "/log/", "/LOG", "/events/../metrics", "/..%2fetc%2fpasswd",
                 "/etc/passwd", "/proc/self/environ", "/index.html/../../etc/passwd"]:
        resp = raw(served, f"GET {path} HTTP/1.1\r\nHost: {served.host}\r\n"
                   f"Authorization: Bearer {served.token}\r\n"
                   "Connection: close\r\n\r\n".encode())
        assert status_of(resp) == 404, f"{path}: expected 404, got {resp[:200]!r}"
        assert b"root:" not in resp and b"PATH=" not in resp, f"{path}: file content leaked"


# ---- the page, its data and the log ----


def test_page_data_and_log(served):
    wait_events(served, 2)
    status, headers, body = served.get("/")
    assert status == 200 and headers["content-type"].startswith("text/html"), headers
    assert headers.get("x-content-type-options") == "nosniff"
    assert headers.get("cache-control") == "no-store"
    page = body.decode()
    assert "connect-src 'self'" in page, "expected the live page's CSP to allow its server"
    status, headers, body = served.get("/data.json")
    assert status == 200 and headers["content-type"].startswith("application/json")
    data = json.loads(body)
    assert data["live"] is True and data["runs"][0]["status"] == "running", data.get("live")
    status, headers, body = served.get("/", method="HEAD")
    assert status == 200 and body == b""
    status, headers, body = served.get("/log")
    assert status == 200 and body.endswith(b"\n")
    assert served.log.read_bytes().startswith(body), "expected /log to be the log's bytes"
    assert json.loads(body.split(b"\n")[0])["type"] == "header"
    assert served.get("/nothing")[0] == 404


def test_bad_spec_and_port_in_use(tmp_path, served):
    cmd = lambda spec: [MEMLINE, "run", "-q", "-o", tmp_path / "x.jsonl", "--serve", spec,
                        "--", "true"]
    for spec, want in [("notaport", "bad port"), ("1.2.3:80", "bad address"),
                       ("::1:80", "brackets"), ("70000", "bad port"),
                       (f"127.0.0.1:{served.port}", "in use")]:
        r = subprocess.run(cmd(spec), capture_output=True, text=True, timeout=TIMEOUT)
        assert want in r.stderr, f"{spec}: expected '{want}' on stderr: {r.stderr}"
        # a bad spec is a usage error (64), a busy port 69, both before anything runs
        want_rc = 69 if want == "in use" else 64
        assert r.returncode == want_rc, f"{spec}: expected exit {want_rc}: {r.stderr}"
        assert r.stderr.count("\n") == 1, f"{spec}: expected one line: {r.stderr}"
        assert not (tmp_path / "x.jsonl").exists(), f"{spec}: expected no recording"
    # memline view has nothing to go on with: a busy port is its error (69), one line
    r = subprocess.run([MEMLINE, "view", "--serve", f"127.0.0.1:{served.port}", served.log],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 69 and "in use" in r.stderr and r.stderr.count("\n") == 1, r


def test_getsockname_failing_is_an_error(tmp_path):
    """When the port memline took cannot be read back (getsockname fails), memline says so and
    exits 69 before the command runs, instead of serving on a port nobody knows."""
    shim = tmp_path / "no_getsockname.so"
    cc = os.environ.get("CC", "cc")
    src = REPO / "tests" / "e2e" / "c" / "no_getsockname.c"
    p = subprocess.run([cc, "-shared", "-fPIC", "-o", shim, src], capture_output=True,
                       text=True, timeout=TIMEOUT)
    assert p.returncode == 0, f"expected the shim to build: {p.stderr}"
    # a sanitized memline wants its runtime first; the shim only replaces one libc call
    env = {**os.environ, "LD_PRELOAD": str(shim),
           "ASAN_OPTIONS": "verify_asan_link_order=0"}
    log = tmp_path / "x.jsonl"
    r = subprocess.run([MEMLINE, "run", "-q", "-o", log, "--serve", "0", "--", "true"],
                       env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 69, f"expected exit 69: {r.returncode} {r.stderr!r}"
    assert "cannot read the port" in r.stderr and "No buffer space" in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1, f"expected one line: {r.stderr!r}"
    assert not log.exists(), "expected nothing recorded"



# ---- who may read it: the token ----

SECRET = "s3cr3t-label"


def as_nobody():
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)


# Run as another user: each request (path, headers) and what came back, as JSON on stdout.
CLIENT = r"""
import http.client, json, sys
host, port, requests = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
out = []
for path, headers in requests:
    c = http.client.HTTPConnection(host, port, timeout=60)
    c.request("GET", path, headers=headers)
    r = c.getresponse()
    # an event stream does not end: its first line is enough
    body = r.fp.readline() if path.startswith("/events") and r.status == 200 else r.read()
    out.append([path, headers, r.status, {k.lower(): v for k, v in r.getheaders()},
                body.decode("latin-1")])
    c.close()
print(json.dumps(out))
"""


def requests_as_nobody(s, requests):
    p = subprocess.run([sys.executable, "-c", CLIENT, s.host, str(s.port), json.dumps(requests)],
                       preexec_fn=as_nobody, capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, f"the client as nobody failed: {p.stderr}"
    return json.loads(p.stdout)


@pytest.mark.parametrize("served", [f'"$ML" event "{SECRET} one"; ' + TICKS], indirect=True)
def test_another_user_without_the_token_gets_nothing(served):
    """On 127.0.0.1 every user of the machine is a client: without the token, uid 65534 gets
    401 and no byte of the log on every path, whatever it tries; with it, it is served (the
    token is what guards the server, not the address)."""
    wait_events(served, 2)
    assert SECRET.encode() in served.log.read_bytes()
    cookie = f"memline-token-{served.port}"
    wrong = "0" * 48
    tries = [{}, {"Authorization": f"Bearer {wrong}"},
             {"Authorization": f"Bearer {served.token[:-1]}"},
             {"Authorization": f"Bearer {served.token}x"},
             {"Authorization": f"Basic {served.token}"},
             {"Cookie": f"{cookie}={wrong}"}, {"Cookie": f"memline-token-1={served.token}"},
             {"Cookie": f"x{cookie}={served.token}"}]
    paths = ["/", "/index.html", "/data.json", "/events", "/metrics", "/log", "/nothing",
             f"/log?token={wrong}", f"/log?token={served.token[:-1]}",
             f"/log?tokens={served.token}"]
    got = requests_as_nobody(served, [[p, h] for p in paths for h in tries])
    for path, headers, status, hdrs, body in got:
        assert status == 401, f"{path} {headers}: expected 401, got {status}: {body[:200]!r}"
        assert SECRET not in body and "memline_" not in body and '"type"' not in body, (
            f"{path} {headers}: expected nothing of the log, got {body[:200]!r}")
        assert hdrs.get("www-authenticate", "").startswith("Bearer"), hdrs
        assert "set-cookie" not in hdrs, f"{path} {headers}: a cookie without the token"

    # with the token, the same user is served: as a Bearer header, as the cookie, and in the
    # query, which sets the cookie and sends the browser to the URL without it
    bearer = {"Authorization": f"Bearer {served.token}"}
    got = requests_as_nobody(served, [
        ["/log", bearer], ["/log", {"Authorization": f"bearer  {served.token} "}],
        ["/log", {"Cookie": f"a=b; {cookie}={served.token}; c=d"}],
        ["/metrics", bearer], ["/data.json", bearer], ["/", bearer], ["/events", bearer],
        [f"/?token={served.token}", {}],
        [f"/events?from=0&token={served.token}&x=%20y", {}]])
    for path, headers, status, hdrs, body in got[:7]:
        assert status == 200, f"{path} {headers}: expected 200, got {status}: {body[:200]!r}"
    assert SECRET in got[0][4] and SECRET in got[1][4] and SECRET in got[2][4]
    assert "memline_samples_total" in got[3][4]
    for (path, _, status, hdrs, body), where in zip(got[7:], ["/", "/events?from=0&x=%20y"]):
        assert status == 303 and hdrs["location"] == where, (path, status, hdrs)
        assert SECRET not in body and served.token not in hdrs["location"]
        attrs = [a.strip() for a in hdrs["set-cookie"].split(";")]
        assert attrs[0] == f"{cookie}={served.token}", attrs
        assert {"HttpOnly", "SameSite=Strict", "Path=/"} <= set(attrs[1:]), attrs
    served.end_job()


def test_token_file_is_private_and_kept_across_runs(tmp_path):
    """--serve-token-file FILE: made with mode 0600 holding the token the URL has, then read
    again by the next run (the same token, for Prometheus); refused when it cannot be trusted."""
    tf = tmp_path / "token"
    log = tmp_path / "x.jsonl"

    def run(*args, view=False):
        log.unlink(missing_ok=True)
        cmd = ([MEMLINE, "view", *args, "--serve", "0", log_done] if view else
               [MEMLINE, "run", "-q", "-o", log, "--serve", "0", *args, "--", "true"])
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=TIMEOUT)

    r = run("--serve-token-file", tf)
    assert r.returncode == 0, r.stderr
    token = parse_url(re.search(r"memline: serving (\S+)", r.stderr).group(1))[2]
    assert tf.read_text() == token + "\n"
    assert os.stat(tf).st_mode & 0o777 == 0o600, oct(os.stat(tf).st_mode)
    r = run("--serve-token-file", tf)
    assert r.returncode == 0 and f"?token={token}\n" in r.stderr, r.stderr
    # a token of the user's own (group reading allowed, for a prometheus group)
    own = "my-own_token.of~at-least-32-chars"
    tf.write_text(own + "\r\n")
    os.chmod(tf, 0o640)
    r = run("--serve-token-file", tf)
    assert r.returncode == 0 and f"?token={own}\n" in r.stderr, r.stderr
    log_done = tmp_path / "done.jsonl"
    log.rename(log_done)

    link = tmp_path / "link"
    link.symlink_to(tf)
    bad_content = tmp_path / "bad"
    bad_content.write_text("short\n")
    os.chmod(bad_content, 0o600)
    bad_chars = tmp_path / "bad-chars"
    bad_chars.write_text("a" * 40 + "/+=\n")
    os.chmod(bad_chars, 0o600)
    cases = [(0o644, tf, 65, "can be read by other users"),
             (0o620, tf, 65, "can be written by other users"),
             (0o600, link, 65, "symbolic link"), (0o600, tmp_path, 65, "not a regular file"),
             (0o600, bad_content, 65, "does not hold a token"),
             (0o600, bad_chars, 65, "does not hold a token"),
             (0o600, tmp_path / "no" / "such", 73, "cannot create token file")]
    for mode, path, want, what in cases:
        os.chmod(tf, mode)
        for view in (False, True):
            r = run("--serve-token-file", path, view=view)
            assert r.returncode == want and what in r.stderr, (path, oct(mode), view, r)
            assert r.stderr.count("\n") == 1, f"expected one line: {r.stderr!r}"
            assert not log.exists(), "expected nothing recorded"
    os.chmod(tf, 0o600)
    assert tf.read_bytes() == (own + "\r\n").encode(), "expected a refused file left as it was"
    r = subprocess.run([MEMLINE, "run", "-q", "-o", log, "--serve-token-file", tf, "--", "true"],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 64 and "goes with --serve" in r.stderr, r


def prometheus_example():
    """The scrape_config example of docs/live.md (the first yaml block after 'Prometheus')."""
    doc = (REPO / "docs" / "live.md").read_text()
    m = re.search(r"```yaml\n(scrape_configs:.*?)```", doc, re.S)
    assert m, "expected a yaml scrape_configs example in docs/live.md"
    return m.group(1)


@pytest.mark.skipif(not shutil.which("prometheus"), reason="prometheus is not installed")
def test_prometheus_scrapes_with_the_token_file(tmp_path):
    """The documented scrape_config, pointed at a served run with --serve-token-file: promtool
    accepts it and a real Prometheus scrapes /metrics (target up, samples stored)."""
    tf = tmp_path / "token"
    s = Served(tmp_path, TICKS, args=["--serve-token-file", tf])
    prom = None
    try:
        conf = prometheus_example()
        assert "credentials_file: /home/me/.config/memline/token" in conf, conf
        assert '"127.0.0.1:9100"' in conf, conf
        conf = (conf.replace("/home/me/.config/memline/token", str(tf))
                .replace('"127.0.0.1:9100"', f'"127.0.0.1:{s.port}"'))
        conf = re.sub(r"scrape_interval: \S+", "scrape_interval: 1s", conf)
        cfg = tmp_path / "prometheus.yml"
        cfg.write_text("global:\n  scrape_interval: 1s\n" + conf)
        r = subprocess.run([PROMTOOL or "promtool", "check", "config", cfg],
                           capture_output=True, text=True, timeout=TIMEOUT)
        assert r.returncode == 0, f"promtool check config: {r.stdout} {r.stderr}"
        with socket.socket() as probe:  # a free port for Prometheus's own web server
            probe.bind(("127.0.0.1", 0))
            web = probe.getsockname()[1]
        with open(tmp_path / "prometheus.out", "w") as out:
            prom = subprocess.Popen(["prometheus", f"--config.file={cfg}",
                                     f"--storage.tsdb.path={tmp_path / 'data'}",
                                     f"--web.listen-address=127.0.0.1:{web}"],
                                    stdout=out, stderr=subprocess.STDOUT)

        def api(path):
            try:
                c = http.client.HTTPConnection("127.0.0.1", web, timeout=5)
                c.request("GET", path)
                return json.loads(c.getresponse().read())["data"]
            except (OSError, ValueError, KeyError, http.client.HTTPException):
                return None

        def up():
            d = api("/api/v1/targets")
            t = d and d["activeTargets"]
            return t and t[0]["health"] == "up" and t[0]

        target = wait_until(up, "Prometheus to scrape the target", timeout=TIMEOUT)
        assert target["lastError"] == "", target
        res = wait_until(lambda: (api("/api/v1/query?query=memline_samples_total") or
                                  {}).get("result"), "memline_samples_total in Prometheus",
                         timeout=TIMEOUT)
        assert float(res[0]["value"][1]) > 0, res
    finally:
        if prom:
            prom.terminate()
            prom.wait(timeout=TIMEOUT)
        s.stop()



# ---- a unix socket ----


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=TIMEOUT)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(str(self.path))


# Run as another user: connect to the socket argv[1], print the errno name (or "connected").
UNIX_CLIENT = r"""
import errno, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
    print("connected")
except OSError as e:
    print(errno.errorcode[e.errno])
"""


def test_unix_socket_is_the_users_own(tmp_path):
    """--serve unix:PATH: a socket of mode 0600 even under umask 0, answered without a token
    (curl --unix-socket works), that another user cannot connect to even in a directory open
    to all; removed at the end; a file that is not a socket is never replaced."""
    shared = tempfile.mkdtemp(prefix="memline-sock-", dir="/tmp")
    os.chmod(shared, 0o1777)
    try:
        sock = Path(shared) / "memline.sock"
        stop = tmp_path / "stop"
        log = tmp_path / "x.jsonl"
        env = {**os.environ, "ML": str(MEMLINE), "STOP": str(stop)}
        job = subprocess.Popen([MEMLINE, "run", "-q", "-i", "0.05", "-o", log, "--serve",
                                f"unix:{sock}", "--", "sh", "-c", TICKS], env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, preexec_fn=lambda: os.umask(0))
        try:
            line = job.stderr.readline().decode()
            assert line == f"memline: serving unix:{sock}\n", line
            st = os.lstat(sock)
            assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
            wait_until(lambda: log_has_event(log), "an event in the log")
            c = UnixHTTPConnection(sock)
            c.request("GET", "/metrics", headers={"Host": "anything"})
            r = c.getresponse()
            assert r.status == 200 and b"memline_samples_total" in r.read()
            c.close()
            if shutil.which("curl"):
                out = subprocess.run(["curl", "-sf", "--unix-socket", sock, "http://x/log"],
                                     capture_output=True, timeout=TIMEOUT)
                assert out.returncode == 0 and b'"type":"header"' in out.stdout, out
            p = subprocess.run([sys.executable, "-c", UNIX_CLIENT, sock], preexec_fn=as_nobody,
                               capture_output=True, text=True, timeout=TIMEOUT)
            assert p.stdout.strip() == "EACCES", f"expected nobody refused: {p.stdout} {p.stderr}"
            # a second server on the same socket: in use, 69, the first one untouched
            r2 = subprocess.run([MEMLINE, "run", "-q", "-o", tmp_path / "y.jsonl", "--serve",
                                 f"unix:{sock}", "--", "true"], capture_output=True,
                                text=True, timeout=TIMEOUT)
            assert r2.returncode == 69 and "in use" in r2.stderr, r2
            assert os.lstat(sock).st_ino == st.st_ino
        finally:
            stop.touch()
            assert job.wait(timeout=TIMEOUT) == 0
        assert not sock.exists(), "expected the socket removed at the end"

        # a stale socket of ours (nobody listens) is replaced; a file or a link never is
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(str(sock))
        stale.close()
        r = subprocess.run([MEMLINE, "run", "-q", "-o", tmp_path / "z.jsonl", "--serve",
                            f"unix:{sock}", "--", "true"], capture_output=True, text=True,
                           timeout=TIMEOUT)
        assert r.returncode == 0 and not sock.exists(), r
        sock.write_text("precious")
        link = Path(shared) / "link.sock"
        link.symlink_to(sock)
        for path in (sock, link):
            r = subprocess.run([MEMLINE, "run", "-q", "-o", tmp_path / "w.jsonl", "--serve",
                                f"unix:{path}", "--", "true"], capture_output=True, text=True,
                               timeout=TIMEOUT)
            assert r.returncode == 69 and "is not a socket" in r.stderr, r
            assert r.stderr.count("\n") == 1 and not (tmp_path / "w.jsonl").exists()
        assert sock.read_text() == "precious" and link.is_symlink()
        for spec, what in [("unix:", "expected unix:PATH"), ("unix:" + "x" * 200, "too long")]:
            r = subprocess.run([MEMLINE, "run", "-q", "-o", tmp_path / "w.jsonl", "--serve",
                                spec, "--", "true"], capture_output=True, text=True,
                               timeout=TIMEOUT)
            assert r.returncode == 64 and what in r.stderr, r
        r = subprocess.run([MEMLINE, "run", "-q", "-o", tmp_path / "w.jsonl", "--serve",
                            f"unix:{tmp_path}/s", "--serve-token-file", tmp_path / "t", "--",
                            "true"], capture_output=True, text=True, timeout=TIMEOUT)
        assert r.returncode == 64 and "needs no token" in r.stderr, r
    finally:
        shutil.rmtree(shared)


def log_has_event(log):
    try:
        return any(r["type"] == "event" for r in read_log(log))
    except FileNotFoundError:
        return False


# ---- the live page in a browser ----


def test_live_page_grows_in_chromium(served, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (Debian package chromium)")
    assert (BROWSER_MODULES / "playwright-core").is_dir(), (
        f"expected playwright-core in {BROWSER_MODULES}: run make html-test (npm ci)")
    wait_events(served, 1)
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    env = {**os.environ, "NODE_PATH": str(BROWSER_MODULES)}
    node = subprocess.Popen([NODE, CHECK_LIVE, served.url, profile], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    # Once the page has loaded, let the job run 5 more ticks, then end: the page says "ended".
    first = node.stdout.readline()
    if first.strip() == "loaded":
        n = sum(1 for r in read_log(served.log) if r["type"] == "event")
        wait_events(served, n + 5)
    served.stop_file.touch()
    served.job.wait(timeout=TIMEOUT)  # memline, its server too, is gone: tell the page's driver
    out, err = node.communicate(input="exited\n", timeout=180)
    if node.returncode == 2:
        pytest.skip(f"Chromium cannot be started: {err.strip()}")
    assert node.returncode == 0, f"check-live.js failed ({node.returncode}): {err}"
    res = json.loads(out)
    assert res["pageErrors"] == [], f"expected no script errors: {res['pageErrors']}"
    assert res["first"]["state"] == "live", res
    assert "growError" not in res, f"expected the chart to grow: {res}"
    assert res["grown"]["n"] > res["first"]["n"] and res["grown"]["xmax"] > res["first"]["xmax"]
    assert res["grown"]["updates"] > 0, res
    assert "endError" not in res and res["indicator"] == "ended", res
    # once ended, the page shows the run's end: the last sample, the status, no more requests
    records = read_log(served.log)
    last_t = [r for r in records if r["type"] == "sample"][-1]["t"]
    assert abs(res["final"]["lastT"] - last_t) < 1e-3, (
        f"expected the chart to end at the last sample, {last_t}: {res['final']}")
    ended = res["final"]["ended"]
    assert ended and "running" not in ended and "completed" in ended, (
        f"expected the summary to say how the run ended: {ended!r}")
    assert res["following"] is False, "expected the page to stop listening and fetching"
    assert res["consoleErrors"] == [], f"expected no console errors: {res['consoleErrors']}"
    # the page closing its own event stream on "end" aborts it: that one is no failure
    failed = [f for f in res["failedRequests"]
              if not (f.split("?")[0].endswith("/events") and "ERR_ABORTED" in f)]
    assert failed == [], f"expected no failed requests: {res['failedRequests']}"
    assert res["pageUrl"] == served.base, (
        f"expected the redirect to drop the token from the page's URL: {res['pageUrl']}")
    others = [u for u in res["requests"] if not u.startswith(served.base)]
    assert others == [], f"expected requests to the server only: {others}"
