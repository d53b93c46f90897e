"""How an attached process ended, though memline is not its parent: its pidfd keeps the exit
status after the parent reaped it (Linux 6.15 and later, PIDFD_INFO_EXIT; lib/record/pidfd.c)."""

import os
import signal

import pytest

from conftest import end_of, exits_by_pid, of_type, read_log, read_pidfile, wait_until


def kernel_keeps_exit_status():
    release = os.uname().release.split("-")[0].split(".")
    try:
        return (int(release[0]), int(release[1])) >= (6, 15)
    except (ValueError, IndexError):
        return False


pytestmark = pytest.mark.skipif(not kernel_keeps_exit_status(),
                                reason="pidfds keep no exit status before Linux 6.15")


@pytest.mark.parametrize("how, status, code, sig", [
    ("kill", "killed", None, signal.SIGKILL),
    ("exit", "failed", 3, None),
])
def test_attached_process_reaped_by_its_parent_ends_as_it_did(ml, tmp_path, killer, how, status,
                                                               code, sig):
    pf = tmp_path / "work.pid"
    work = ml.work("pidfile", pf, "alloc", "5M", "waitsig", "exit", 3)
    pid = read_pidfile(pf)
    killer.append(pid)
    log = tmp_path / "attach.jsonl"
    # -i 5: memline's next sample comes long after the parent (this test) reaped the process,
    # so it never sees a zombie.
    p = ml.popen("attach", "-o", log, "-i", "5", pid)
    wait_until(lambda: log.exists() and of_type(read_log(log), "sample"), f"a sample in {log}")
    os.kill(pid, signal.SIGKILL if how == "kill" else signal.SIGUSR1)
    work.wait(timeout=30)  # reaped at once
    _, err = ml.finish(p, timeout=60)
    records = read_log(log, allow_cut_last=False)
    end = end_of(records)
    assert (end["status"], end["exit_code"], end["signal"]) == (status, code, sig), end
    (ex,) = exits_by_pid(records)[pid]
    assert ex.get("signal") == sig and ex.get("code") == code, ex
