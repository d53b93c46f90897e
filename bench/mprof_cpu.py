"""Runs mprof (python3-memory-profiler) in this interpreter and measures its own CPU time.

    python3 mprof_cpu.py OUT.json run --include-children -T 0.01 -o DAT COMMAND...

Loads mprof the way /usr/bin/python3-mprof does, notes getrusage(RUSAGE_SELF) once mprof and
its imports (memory_profiler, psutil) are loaded, runs mprof's main(), and writes to OUT.json
the CPU seconds mprof spent from there until it returned ("cpu_s": the sampling loop and its
bookkeeping) and before it ("startup_cpu_s": the interpreter starting and importing).
RUSAGE_SELF counts this process only, not the recorded command, which is mprof's child.
"""
import json
import resource
import sys


def cpu(ru):
    return ru.ru_utime + ru.ru_stime


def main():
    out = sys.argv[1]
    import mprof  # noqa: E402 (on purpose after the start, to time the imports apart)

    r0 = resource.getrusage(resource.RUSAGE_SELF)
    sys.argv = ["mprof"] + sys.argv[2:]
    try:
        mprof.main()
    finally:
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        with open(out, "w") as f:
            json.dump({"cpu_s": cpu(r1) - cpu(r0), "startup_cpu_s": cpu(r0)}, f)


if __name__ == "__main__":
    main()
