"""Importing memline gives threads their threading names in the kernel (memline._threads), so
that memline's thread records name them as the program does."""

import subprocess
import sys
import textwrap

from pyhelpers import TIMEOUT, python_env

SCRIPT = textwrap.dedent("""
    import threading, time, sys
    import memline
    go = threading.Event()
    def work():
        go.wait(10)
    early = threading.Thread(target=work, name="early")
    ts = [threading.Thread(target=work, name=n) for n in
          ("loader", "a-name-longer-than-fifteen", "réseau€€€€€€€€€")]
    for t in ts:
        t.start()
    time.sleep(0.05)
    def comm(t):
        with open(f"/proc/self/task/{t.native_id}/comm", encoding="utf-8") as f:
            return f.read().rstrip("\\n")
    print("|".join(comm(t) for t in ts))
    ts[0].name = "renamed"
    print(comm(ts[0]))
    with open("/proc/self/comm") as f:
        print(f.read().strip())
    go.set()
    for t in ts:
        t.join()
""")


def run(env_extra=None):
    env = python_env(**(env_extra or {}))
    res = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         timeout=TIMEOUT, env=env)
    assert res.returncode == 0, res.stderr
    return res.stdout.splitlines()


def test_threads_get_their_names_cut_at_a_character():
    names, renamed, main = run()
    # 15 bytes at most, never half a character: "réseau€€" is 6 + 2 * 3 = 14 bytes (15 would
    # cut the third euro sign)
    assert names.split("|") == ["loader", "a-name-longer-t", "réseau€€"], names
    assert renamed == "renamed"
    assert main == "python3", "expected the main thread to keep the process's name"


def test_turned_off_by_the_environment():
    names, renamed, _ = run({"MEMLINE_THREAD_NAMES": "0"})
    assert names.split("|") == ["python3"] * 3, names
    assert renamed == "python3"
