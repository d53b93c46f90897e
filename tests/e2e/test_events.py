"""The event channel (docs/events.md) from the shell: `memline event` and plain lines appended
to $MEMLINE_EVENTS, recorded with the memory of their moment; many senders at once; hostile
labels; nothing to do outside a recording; `attach --events` ended by an S line."""

import os
import signal
import subprocess

from conftest import (MEMLINE, MEMWORK, end_of, header_of, of_type, read_log, read_pidfile,
                      wait_until)

MIB = 1024


def marks(records, type_="event"):
    return [r for r in records if r["type"] == type_]


def tree_rss_at(records, t):
    """The tree RSS (KiB) of the first sample at or after t."""
    rss = header_of(records)["tree_fields"].index("rss")
    for s in of_type(records, "sample"):
        if s["t"] >= t:
            return s["tree"][rss]
    raise AssertionError(f"expected a sample at or after t={t}")


def test_event_carries_the_memory_of_its_moment(ml, tmp_path, killer):
    """An event sent right after 200 MiB were allocated and touched shows 200 MiB more than one
    sent before, even at -i 3600: memline samples right after reading a message. With an hour
    between scheduled samples, the sample after each event can only be the event's own."""
    ready, allocated = tmp_path / "ready.pid", tmp_path / "allocated.pid"
    log = tmp_path / "ev.jsonl"
    p = ml.popen("run", "-o", log, "-i", "3600", "--", MEMWORK, "pidfile", ready, "waitsig",
                 "alloc", "200M", "pidfile", allocated, "hang")
    pid = read_pidfile(ready)
    killer.append(pid)
    environ = dict(kv.split("=", 1) for kv in
                   open(f"/proc/{pid}/environ").read().split("\0") if "=" in kv)
    env = {**os.environ, "MEMLINE_EVENTS": environ["MEMLINE_EVENTS"]}

    def send_and_wait(label):
        subprocess.run([str(MEMLINE), "event", label], env=env, check=True, timeout=30)

        def sampled():
            records = read_log(log) if log.exists() else []
            ev = [r for r in records if r["type"] == "event" and r["label"] == label]
            return ev and any(s["t"] >= ev[0]["t"] for s in of_type(records, "sample"))
        wait_until(sampled, f"a sample after the event {label!r} in {log}")

    send_and_wait("before")
    os.kill(pid, signal.SIGUSR1)
    read_pidfile(allocated)
    send_and_wait("allocated")
    os.kill(pid, signal.SIGKILL)
    ml.finish(p)
    records = read_log(log, allow_cut_last=False)
    ev = {e["label"]: e for e in marks(records)}
    before, after = tree_rss_at(records, ev["before"]["t"]), tree_rss_at(records, ev["allocated"]["t"])
    # 200 MB, as the issue says (200 MiB were allocated): stat's RSS is read from per-CPU
    # counters that can lag by a few pages.
    assert (after - before) * 1024 >= 200e6, (
        f"expected the event after allocating 200 MiB to show 200 MB more: {before} -> {after} KiB")


def test_spans_from_the_shell_pair_up(ml):
    m = f'"{MEMLINE}"'
    run = ml.record(["sh", "-c", f"{m} event --begin load; {m} event --begin parse; "
                     f"{m} event --end parse; {m} event --end load"])
    spans = marks(run.records, "span")
    assert [(s["phase"], s["name"]) for s in spans] == [
        ("begin", "load"), ("begin", "parse"), ("end", "parse"), ("end", "load")], spans
    assert len({(s["pid"], s["tid"]) for s in spans}) == 1, f"expected one sender, the shell: {spans}"
    assert end_of(run.records)["events"] == 4


def test_eight_senders_lose_nothing(ml):
    senders = " ".join(
        f'(i=0; while [ $i -lt 500 ]; do i=$((i+1)); echo "p{k} e$i" >> "$MEMLINE_EVENTS"; done) &'
        for k in range(8))
    run = ml.record(["sh", "-c", senders + " wait"])
    assert run.code == 0, run.describe()
    labels = [e["label"] for e in marks(run.records)]
    assert len(labels) == 4000, f"expected 4000 events, got {len(labels)}"
    assert len(set(labels)) == 4000, "expected every event exactly once"
    assert end_of(run.records)["events"] == 4000


def test_hostile_labels_are_stored_safely(ml):
    long = "é" * 3000  # 6000 bytes: cut to 1024 at a character boundary
    labels = ["two\nlines", 'quote " back\\slash', "</script><script>window.x=1</script>",
              "tab\there", long]
    script = "; ".join(f'"{MEMLINE}" event "${i + 1}"' for i in range(len(labels)))
    run = ml.record(["sh", "-c", script + r'; printf "bad \377\376 utf8\n" >> "$MEMLINE_EVENTS"',
                     "sh", *labels])
    got = [e["label"] for e in marks(run.records)]
    assert got[:4] == labels[:4], f"expected the labels back as sent: {got[:4]}"
    assert got[4] == "é" * 512, f"expected the long label cut to 1024 bytes: {len(got[4].encode())} bytes"
    assert got[5] == "bad \ufffd\ufffd utf8", f"expected invalid UTF-8 as U+FFFD: {got[5]!r}"
    raw = [ln for ln in open(run.log, "rb").read().split(b"\n") if b'"event"' in ln]
    assert not any(bytes([c]) in ln for ln in raw for c in range(0x20)), "expected no raw control byte"


def test_outside_a_recording_nothing_happens(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MEMLINE_EVENTS"}
    for extra, verbose in (({}, False), ({"MEMLINE_EVENTS": str(tmp_path / "gone" / "events")}, False),
                           ({}, True)):
        p = subprocess.run([str(MEMLINE), "event", *(["-v"] if verbose else []), "hello"],
                           env={**env, **extra}, capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, f"expected exit 0 outside a recording: {p}"
        assert p.stdout == "", p
        if verbose:
            assert "not recording" in p.stderr, f"expected -v to say why nothing was sent: {p.stderr!r}"
        else:
            assert p.stderr == "", f"expected silence without -v: {p.stderr!r}"
    assert not (tmp_path / "gone").exists()
    p = subprocess.run([str(MEMLINE), "event"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 64 and "no label" in p.stderr, p


def test_channel_is_private_and_cleaned_up(ml, tmp_path):
    out = tmp_path / "channel.txt"
    run = ml.record(["sh", "-c", f'stat -c "%a %U" "$MEMLINE_EVENTS" "$(dirname "$MEMLINE_EVENTS")" > "{out}"; '
                     f'echo "$MEMLINE_EVENTS" >> "{out}"; echo "$MEMLINE_PID" >> "{out}"'])
    assert run.code == 0, run.describe()
    file_mode, dir_mode, path, pid = out.read_text().split("\n")[:4]
    assert file_mode.split()[0] == "600" and dir_mode.split()[0] == "700", (file_mode, dir_mode)
    assert not os.path.exists(path) and not os.path.exists(os.path.dirname(path)), (
        f"expected the channel removed after the run: {path}")
    assert pid.isdigit()


def test_attach_events_ended_by_status_line(ml, tmp_path, killer):
    channel = tmp_path / "events"
    channel.write_bytes(b"")
    pidfile = tmp_path / "work.pid"
    work = ml.work("pidfile", pidfile, "alloc", "10M", "hang")
    killer.append(work.pid)
    pid = read_pidfile(pidfile)
    log = tmp_path / "attach.jsonl"
    p = ml.popen("attach", "--events", channel, "-o", log, "-i", "0.05", pid)
    wait_until(lambda: log.exists() and b'"sample"' in log.read_bytes(), f"a sample in {log}")
    with open(channel, "ab") as f:
        f.write(b"block started\n")
        f.write(b"\x1eS 0 %d %d failed ValueError: bad input\n" % (pid, pid))
    _, err = ml.finish(p)
    assert p.returncode == 0, err
    records = read_log(log, allow_cut_last=False)
    end = end_of(records)
    assert (end["status"], end.get("error")) == ("failed", "ValueError: bad input"), end
    assert [e["label"] for e in marks(records)] == ["block started"]
    assert work.poll() is None, "expected the process to go on running"
    missing = ml.cmd("attach", "--events", tmp_path / "nope", "-o", tmp_path / "x.jsonl", pid)
    assert missing.returncode == 66 and "event channel" in missing.stderr, missing
