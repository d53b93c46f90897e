"""pystack: a Python program whose memory peak is in a known call chain, for the tests of
`memline run --stacks` (docs/python-frames.md): outer() -> middle() -> inner(), which holds
MIB MiB (written, so resident) on the line marked "# L:inner"; with --threads N, N threads do
the same in thread_outer() -> thread_inner() at the same time. Each chain, at its peak, writes
its native thread id and a newline to --ready FD (if given) and, on the same line, blocks
reading one byte from --go FD (or sleeps --hold seconds), so a test knows where every thread
is when it looks, without sleeping. The lines of the markers are for the test to find in this
file's text, never to be hard-coded.

Usage: pystack.py [--mib N] [--threads N] [--ready FD] [--go FD] [--hold SECONDS]
"""
import argparse
import os
import threading
import time

ARGS = None


def wait_here():
    if ARGS.go is not None:
        os.read(ARGS.go, 1)
    else:
        time.sleep(ARGS.hold)


def tell():
    if ARGS.ready is not None:
        os.write(ARGS.ready, b"%d\n" % threading.get_native_id())


def inner():
    block = b"\x01" * (ARGS.mib << 20); tell(); wait_here()  # L:inner
    return len(block)


def middle():
    return inner()  # L:middle


def outer():
    return middle()  # L:outer


def thread_inner():
    block = b"\x02" * (ARGS.mib << 20); tell(); wait_here()  # L:thread_inner
    return len(block)


def thread_outer():
    return thread_inner()  # L:thread_outer


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--mib", type=int, default=64)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--ready", type=int)
    p.add_argument("--go", type=int)
    p.add_argument("--hold", type=float, default=1.0)
    ARGS = p.parse_args()
    ts = [threading.Thread(target=thread_outer) for _ in range(ARGS.threads)]
    for t in ts:
        t.start()
    outer()  # L:main
    for t in ts:
        t.join()


if __name__ == "__main__":
    main()
