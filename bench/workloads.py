"""The workloads of the accuracy benchmark (bench/run, part h), one per kind of job that
memline's whole-job numbers have been wrong on. Each touches known sizes, so the truth is
known; the benchmark measures each beside a memory cgroup's peak.

    python3 workloads.py fork MIB N        a parent holding MIB MiB forks N idle children
                                           (copy-on-write: they share its pages) that live
                                           0.5 s; the parent waits
    python3 workloads.py system MIB        a parent holding MIB MiB calls os.system("sleep
                                           0.3"): glibc starts the shell with a vfork-style
                                           clone that shares the parent's memory until exec
    python3 workloads.py shared MIB N      MAP_SHARED anonymous memory of MIB MiB, touched by
                                           the parent, then read page by page by N children
                                           (each maps all of it), who hold it 0.5 s
    python3 workloads.py children MIB N MS N children one after another, each touching MIB
                                           MiB of its own and holding it MS ms

Memory is touched a page at a time (written), so it is resident. Nothing is printed.
"""
import mmap
import os
import sys
import time

PAGE = mmap.PAGESIZE
MIB = 1 << 20


def touch(buf):
    """Writes one byte of every page of buf, so all of it is resident."""
    for off in range(0, len(buf), PAGE):
        buf[off] = 1


def read_all(buf):
    """Reads one byte of every page of buf (a MAP_SHARED mapping: maps every page)."""
    s = 0
    for off in range(0, len(buf), PAGE):
        s += buf[off]
    return s


def wait_all(pids):
    for pid in pids:
        os.waitpid(pid, 0)


def fork(mib, n):
    held = bytearray(mib * MIB)
    touch(held)
    pids = []
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            time.sleep(0.5)  # idle: its pages stay shared with the parent's
            os._exit(0)
        pids.append(pid)
    wait_all(pids)
    return held


def system(mib):
    held = bytearray(mib * MIB)
    touch(held)
    os.system("sleep 0.3")
    return held


def shared(mib, n):
    m = mmap.mmap(-1, mib * MIB, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
    touch(m)
    pids = []
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            read_all(m)
            time.sleep(0.5)
            os._exit(0)
        pids.append(pid)
    wait_all(pids)
    return m


def children(mib, n, ms):
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            # its own memory, not the parent's (which is a small interpreter anyway)
            m = mmap.mmap(-1, mib * MIB, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
            touch(m)
            time.sleep(ms / 1000.0)
            os._exit(0)
        os.waitpid(pid, 0)


def main(argv):
    kinds = {"fork": (fork, 2), "system": (system, 1), "shared": (shared, 2),
             "children": (children, 3)}
    if not argv or argv[0] not in kinds or len(argv) - 1 != kinds[argv[0]][1]:
        print("usage: workloads.py fork MIB N | system MIB | shared MIB N | children MIB N MS",
              file=sys.stderr)
        return 64
    fn, _ = kinds[argv[0]]
    fn(*(int(a) for a in argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
