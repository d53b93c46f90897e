#!/usr/bin/python3
"""event_cost.py: what one call of the Python package's memline.event() (and a span) costs the
program that makes it. The Python twin of bench/event_cost.c.

    python3 bench/event_cost.py [-n CALLS] [-b BATCHES] [DIR]

It times BATCHES batches of CALLS calls each and prints, per call, the median over the
batches (and the fastest batch), in nanoseconds, one key=value a line:

    noop_*   nothing is recording (no MEMLINE_EVENTS): the cost in a program not recorded
    file_*   MEMLINE_EVENTS names a channel file in DIR (default /dev/shm, a tmpfs, else /tmp):
             one formatted line and one os.write() per call, no memline reading it

The timed calls are event("step"), event(f"step {i}"), event() of a 1000-byte label that
needs escaping, and a `with span("step")` block (a begin and an end, counted as one call).
The channel file is emptied between batches (untimed), so it stays small. Nothing is
asserted: this measures, it does not test.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "python"))
import memline  # noqa: E402

LONG = ("line\n" + "x" * 95) * 10  # 1000 bytes, ten newlines to escape


def bench_event(n):
    event = memline.event
    t0 = time.perf_counter_ns()
    for _ in range(n):
        event("step")
    return time.perf_counter_ns() - t0


def bench_eventf(n):
    event = memline.event
    t0 = time.perf_counter_ns()
    for i in range(n):
        event(f"step {i}")
    return time.perf_counter_ns() - t0


def bench_event_long(n):
    event = memline.event
    t0 = time.perf_counter_ns()
    for _ in range(n):
        event(LONG)
    return time.perf_counter_ns() - t0


def bench_span(n):
    span = memline.span
    t0 = time.perf_counter_ns()
    for _ in range(n):
        with span("step"):
            pass
    return time.perf_counter_ns() - t0


def bench_loop(n):
    """The empty loop, for reference: what the numbers above include anyway."""
    t0 = time.perf_counter_ns()
    for _ in range(n):
        pass
    return time.perf_counter_ns() - t0


CASES = [("event", bench_event), ("eventf", bench_eventf), ("event_long", bench_event_long),
         ("span", bench_span)]


def measure(prefix, fn, calls, batches, channel=None):
    per_call = []
    for _ in range(batches):
        if channel:
            os.truncate(channel, 0)
        per_call.append(fn(calls) / calls)
    print(f"{prefix}_ns={statistics.median(per_call):.0f}")
    print(f"{prefix}_min_ns={min(per_call):.0f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=20000, help="calls per batch (default 20000)")
    ap.add_argument("-b", type=int, default=15, help="batches (default 15)")
    ap.add_argument("dir", nargs="?", help="directory of the channel file")
    args = ap.parse_args()
    d = args.dir or ("/dev/shm" if os.access("/dev/shm", os.W_OK) else tempfile.gettempdir())

    print(f"python={sys.version.split()[0]}")
    print(f"calls={args.n}")
    print(f"batches={args.b}")
    measure("loop", bench_loop, args.n, args.b)

    os.environ.pop("MEMLINE_EVENTS", None)
    for name, fn in CASES:
        measure(f"noop_{name}", fn, args.n, args.b)

    chan_dir = tempfile.mkdtemp(prefix="memline-bench-", dir=d)
    channel = os.path.join(chan_dir, "events")
    try:
        os.close(os.open(channel, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.environ["MEMLINE_EVENTS"] = channel
        if not memline.event("warm up"):
            sys.exit(f"event_cost: cannot write to the channel {channel}")
        print(f"channel_dir={d}")
        for name, fn in CASES:
            measure(f"file_{name}", fn, args.n, args.b, channel)
    finally:
        os.environ.pop("MEMLINE_EVENTS", None)
        try:
            os.unlink(channel)
        except OSError:
            pass
        os.rmdir(chan_dir)


if __name__ == "__main__":
    main()
