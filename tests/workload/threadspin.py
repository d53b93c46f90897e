"""threadspin: a Python program with two threads the tests know, for the thread tests of
`memline report --threads` and `report --json` (docs/reading.md): "spinner" spins until it has
used --cpu seconds of CPU time (its own, time.thread_time(), whatever the machine's load) and
"idler" waits from the start; both name themselves (the kernel's comm of the thread, through
/proc/thread-self/comm) before anything else. Once the spinner has spun, the main thread writes
"SPINNER_TID IDLER_TID\n" to --ready FD and waits for one byte on --go FD; then both threads
stop and it exits 0. Nothing here sleeps for a time: the test decides when it ends.

Usage: threadspin.py --ready FD --go FD [--cpu SECONDS]
"""
import argparse
import os
import threading
import time


def name_me(name):
    with open("/proc/thread-self/comm", "w") as f:
        f.write(name)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ready", type=int, required=True)
    p.add_argument("--go", type=int, required=True)
    p.add_argument("--cpu", type=float, default=0.6)
    args = p.parse_args()

    stop = threading.Event()
    spun = threading.Event()
    named = threading.Event()
    tids = {}

    def spinner():
        name_me("spinner")
        tids["spinner"] = threading.get_native_id()
        x = 0
        while time.thread_time() < args.cpu:
            x += 1
        spun.set()
        stop.wait()

    def idler():
        name_me("idler")
        tids["idler"] = threading.get_native_id()
        named.set()
        stop.wait()

    idle = threading.Thread(target=idler)
    idle.start()
    spin = threading.Thread(target=spinner)
    spin.start()
    spun.wait()
    named.wait()
    os.write(args.ready, b"%d %d\n" % (tids["spinner"], tids["idler"]))
    os.read(args.go, 1)
    stop.set()
    spin.join()
    idle.join()


if __name__ == "__main__":
    main()
