"""stall.py: the Python target of the stack-capture benchmark (bench/stacks.py), as bench/stall.c:
a ticker thread keeps the longest gap between two reads of the clock, two threads wait on a
pipe; on stdin "r" resets the longest gap, "p" prints it in microseconds."""
import os
import sys
import threading
import time

longest = 0
reset = False
never_r, _never_w = os.pipe()


def tick():
    global longest, reset
    last = time.monotonic_ns()
    while True:
        t = time.monotonic_ns()
        if reset:
            longest, reset = 0, False
        elif t - last > longest:
            longest = t - last
        last = t


def wait():
    os.read(never_r, 1)


def main():
    global reset
    threading.Thread(target=tick, daemon=True).start()
    for _ in range(2):
        threading.Thread(target=wait, daemon=True).start()
    for line in sys.stdin:
        if line.startswith("r"):
            reset = True
            while reset:
                time.sleep(0.0001)
            print("ok", flush=True)
        elif line.startswith("p"):
            print(longest // 1000, flush=True)


main()
