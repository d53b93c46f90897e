"""Slurm: `memline attach --slurm-job ID` (lib/record/slurm.c) and memline under srun, on a real
Slurm cluster this test starts on this one machine.

The cluster (a module-scoped fixture): munged with a key and a socket of its own, slurmctld, and
two slurmd, n1 and n2, each with its own port, spool directory and pid file (Debian's Slurm is
built for several slurmd per host), all configured in a temporary directory and stopped at the
end whatever happens. It tries proctrack/cgroup with task/cgroup first (the job's memory cgroup:
attach records it), then proctrack/linuxproc (attach finds the job's processes by their
SLURM_JOB_ID). Both nodes are this host: their processes share one machine, and what tells them
apart is the node's name (SLURMD_NODENAME, and the cgroup's slurm_n1 / n1_slurmstepd.scope).
The tests skip, with the daemons' log tails, only when the cluster cannot start.
MEMLINE_TEST_SLURM_PROCTRACK=linuxproc tries only proctrack/linuxproc (a comma list: the order).

Ground truth: the workloads' own pid files and what they allocate; the environment Slurm gives a
task. The tests before the cluster's need no Slurm: processes given a made-up SLURM_JOB_ID are a
job without a cgroup, as under proctrack/linuxproc.
"""

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import (MEMLINE, MEMWORK, MIB, end_of, header_of, of_type, read_log, read_pidfile,
                      wait_for_records, wait_until)

SLURM_PROGRAMS = ("munged", "slurmctld", "slurmd", "srun", "sbatch", "sinfo", "squeue", "scancel")
NODES = ("n1", "n2")
# Every process of the test's cluster has it in its environment: how teardown finds them all.
MARK = "MEMLINE_TEST_SLURM"


def procs_of(records):
    return {r["pid"]: r for r in of_type(records, "proc")}


def fake_job():
    """A job id no Slurm on this machine uses (they count from 1)."""
    return str(random.randint(3_000_000_000, 4_000_000_000))


def job_env(job, node=None, **more):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM", "SBATCH", "SRUN"))}
    env["SLURM_JOB_ID"] = job
    if node:
        env["SLURMD_NODENAME"] = node
    env.update(more)
    return env


def clean_env(**more):
    """The test's environment without any Slurm job's variables (the test may run in a job)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLURM", "SBATCH", "SRUN", "SALLOC"))}
    env.update(more)
    return env


# ---- without Slurm: a job with no cgroup, found by its processes' environment ----


def test_slurm_job_usage_errors(ml):
    for args, words in [(["--slurm-job", "12x"], "takes a job's number"),
                        (["--slurm-job", "0"], "takes a job's number"),
                        (["--slurm-job", "1_2"], "takes a job's number"),
                        (["--slurm-job", "5", "123"], "give no PID"),
                        (["--slurm-job", "5", "--cgroup", "/sys/fs/cgroup/x"], "no --cgroup")]:
        p = ml.cmd("attach", *args, env=clean_env())
        assert p.returncode == 64 and words in p.stderr, (args, p.returncode, p.stderr)
        assert p.stderr.count("\n") == 1 and p.stderr.startswith("memline: "), p.stderr
    p = ml.cmd("run", "--slurm-job", "5", "--", "true")
    assert p.returncode == 64 and "is for 'memline attach'" in p.stderr, p.stderr
    p = ml.cmd("attach", "--help")
    assert p.returncode == 0 and "--slurm-job ID" in p.stdout, p.stdout


def test_no_process_of_the_job(ml):
    """A job with no process here and no cgroup: 66, saying what was looked for and what to do."""
    job = fake_job()
    p = ml.cmd("attach", "--slurm-job", job, env=clean_env(SLURMD_NODENAME="n7"))
    assert p.returncode == 66, (p.returncode, p.stderr)
    msg = p.stderr
    assert msg.count("\n") == 1, msg
    for words in (f"no process of Slurm job {job} on this node (n7)", f"job_{job}",
                  "slurm[_n7]/uid_*", "[n7_]slurmstepd.scope", f"SLURM_JOB_ID={job}",
                  "srun --overlap --ntasks-per-node=1 memline attach --slurm-job"):
        assert words in msg, (words, msg)
    assert not list(ml.tmp.glob("*.jsonl")), "expected no log for a job that is not here"


def test_job_found_by_environment(ml, tmp_path, killer):
    """The job's processes on this node (its SLURMD_NODENAME, or none), with their descendants
    whatever their environment, and a process that starts later and descends from none of them
    (a new job step); not the same job's processes of another node of this host, nor another
    job's. The recording ends by itself once they are all gone."""
    job, other = fake_job(), fake_job()
    pf = {k: tmp_path / f"{k}.pid" for k in ("a", "child", "b", "c", "late", "nameless")}
    # a: the node's, with a child that dropped the job's variables (found as a's child)
    a = subprocess.Popen(["sh", "-c", f"env -u SLURM_JOB_ID -u SLURMD_NODENAME {MEMWORK} "
                          f"pidfile {pf['child']} alloc 8M waitsig & "
                          f"exec {MEMWORK} pidfile {pf['a']} alloc 20M waitsig"],
                         env=job_env(job, "nA"))
    ml.spawned.append(a)
    ml.work("pidfile", pf["b"], "alloc", "30M", "waitsig", env=job_env(job, "nB"))
    ml.work("pidfile", pf["c"], "waitsig", env=job_env(other, "nA"))
    pids = {k: read_pidfile(pf[k]) for k in ("a", "child", "b", "c")}
    killer.extend(pids.values())
    log = tmp_path / "job.jsonl"
    p = ml.popen("attach", "--slurm-job", job, "-i", "0.05", "-o", log,
                 env=clean_env(SLURMD_NODENAME="nA"))
    wait_for_records(log, "proc", 2)
    ml.work("pidfile", pf["late"], "alloc", "12M", "waitsig", env=job_env(job, "nA"))
    ml.work("pidfile", pf["nameless"], "waitsig", env=job_env(job))
    for k in ("late", "nameless"):
        pids[k] = read_pidfile(pf[k])
        killer.append(pids[k])
    wait_until(lambda: {pids["late"], pids["nameless"]} <= set(procs_of(read_log(log))),
               "the later processes of the job to be recorded")
    for k in ("a", "child", "late", "nameless"):
        os.kill(pids[k], signal.SIGUSR1)
    out, err = ml.finish(p)
    assert p.returncode == 0, err
    records = read_log(log)
    seen = set(procs_of(records))
    mine = {pids[k] for k in ("a", "child", "late", "nameless")}
    assert mine <= seen, f"expected the job's processes of node nA {mine} recorded: {seen}"
    assert pids["b"] not in seen, "expected the job's process of node nB left out"
    assert pids["c"] not in seen, "expected another job's process left out"
    assert p.pid not in seen, "expected memline itself left out"
    h = header_of(records)
    assert h["mode"] == "attach", h
    assert h["memory"]["method"] in ("pss", "rss"), h["memory"]
    warns = [w for w in of_type(records, "warning") if w["code"] == "cgroup"]
    assert warns and f"SLURM_JOB_ID={job}" in warns[0]["text"], warns
    end = end_of(records)
    assert end["status"] == "exited" and end["alive"] == [], end
    assert end["job_peak"] >= 0.95 * (20 + 8) * MIB, end


def test_two_nodes_on_this_host_need_a_name(ml, tmp_path, killer):
    """Without SLURMD_NODENAME, processes of the job that name two nodes are ambiguous: 64."""
    job = fake_job()
    for node in ("nA", "nB"):
        pf = tmp_path / f"{node}.pid"
        ml.work("pidfile", pf, "waitsig", env=job_env(job, node))
        killer.append(read_pidfile(pf))
    p = ml.cmd("attach", "--slurm-job", job, env=clean_env())
    assert p.returncode == 64 and "set SLURMD_NODENAME" in p.stderr, (p.returncode, p.stderr)


def test_inside_the_job_no_process_yet_is_no_end(ml, tmp_path, killer):
    """memline in a step of the job (its own SLURM_JOB_ID is the job's) starts on a node with
    none of the job's processes yet, records those that come, goes on once they are gone, and
    ends at SIGTERM, as at the job's end, with status exited: none was left."""
    job = fake_job()
    log = tmp_path / "node.jsonl"
    p = ml.popen("attach", "--slurm-job", job, "-i", "0.05", "-o", log,
                 env=job_env(job, "nA"))
    wait_for_records(log, "sample", 3)
    pf = tmp_path / "w.pid"
    ml.work("pidfile", pf, "alloc", "10M", "waitsig", env=job_env(job, "nA"))
    w = read_pidfile(pf)
    killer.append(w)
    wait_until(lambda: w in procs_of(read_log(log)), "the job's new process to be recorded")
    os.kill(w, signal.SIGUSR1)
    wait_for_records(log, "exit", 1)
    time.sleep(0.3)
    assert p.poll() is None, "expected memline to go on with none of the job's processes left"
    p.send_signal(signal.SIGTERM)
    out, err = ml.finish(p)
    assert p.returncode == 0, err
    records = read_log(log)
    h = header_of(records)
    assert h["pids"] == [] and h["job"].get("SLURM_JOB_ID") == job, h
    assert end_of(records)["status"] == "exited", end_of(records)


# ---- the cluster ----


def free_ports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


SLURM_CONF = """\
ClusterName=memline
SlurmctldHost=localhost
SlurmctldPort={ctld_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={dir}/munge/socket
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool/%n
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.%n.pid
SlurmctldLogFile={dir}/log/slurmctld.log
SlurmdLogFile={dir}/log/slurmd.%n.log
PlugStackConfig={dir}/plugstack.conf
ProctrackType=proctrack/{proctrack}
TaskPlugin=task/{task}
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
MpiDefault=none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
KillWait=2
InactiveLimit=0
MinJobAge=2
SlurmdTimeout=30
NodeName=n1 NodeHostname=localhost NodeAddr=127.0.0.1 Port={n1_port} CPUs=2 RealMemory=500 State=UNKNOWN
NodeName=n2 NodeHostname=localhost NodeAddr=127.0.0.1 Port={n2_port} CPUs=2 RealMemory=500 State=UNKNOWN
PartitionName=both Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
"""

# cgroup v1 here; on a cgroup v2 machine without systemd's dbus, 22.05 goes on without it
CGROUP_CONF = """\
CgroupPlugin=autodetect
CgroupAutomount=no
ConstrainRAMSpace=yes
ConstrainCores=no
ConstrainDevices=no
IgnoreSystemdOnFailure=yes
"""


class Cluster:
    """A Slurm cluster of two nodes on this host, in directory dir."""

    def __init__(self, dir, proctrack):
        self.dir = Path(dir)
        self.proctrack = proctrack
        self.daemons = []
        self.env = clean_env(SLURM_CONF=str(self.dir / "slurm.conf"), **{MARK: str(self.dir)})

    def run(self, *args, timeout=30, **kw):
        return subprocess.run([str(a) for a in args], env=self.env, capture_output=True,
                              text=True, timeout=timeout, **kw)

    def _daemon(self, name, *args):
        out = open(self.dir / "log" / f"{name}.out", "w")
        p = subprocess.Popen([str(a) for a in args], env=self.env, stdout=out,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        out.close()
        p.name = name
        self.daemons.append(p)
        return p

    def start(self):
        """Starts munged and the Slurm daemons; returns None, or why they did not start."""
        d = self.dir
        for sub in ("munge", "state", "spool", "log"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(d, 0o755)
        os.chmod(d / "munge", 0o700)
        key = d / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o400)
        ctld_port, n1_port, n2_port = free_ports(3)
        task = "cgroup" if self.proctrack == "cgroup" else "none"
        (d / "slurm.conf").write_text(SLURM_CONF.format(
            dir=d, ctld_port=ctld_port, n1_port=n1_port, n2_port=n2_port,
            proctrack=self.proctrack, task=task))
        (d / "cgroup.conf").write_text(CGROUP_CONF)
        (d / "plugstack.conf").write_text("")
        m = d / "munge"
        munged = self._daemon("munged", "munged", "-F", "-f", f"--socket={m}/socket",
                              f"--key-file={key}", f"--log-file={m}/munged.log",
                              f"--pid-file={m}/munged.pid", f"--seed-file={m}/munged.seed")
        if not self._until(lambda: (m / "socket").exists() or munged.poll() is not None, 10) \
                or munged.poll() is not None:
            return "munged did not start"
        conf = d / "slurm.conf"
        self._daemon("slurmctld", "slurmctld", "-D", "-f", conf)
        for node in NODES:
            self._daemon(f"slurmd.{node}", "slurmd", "-D", "-N", node, "-f", conf)

        def idle():
            if any(p.poll() is not None for p in self.daemons):
                return True
            p = self.run("sinfo", "-h", "-N", "-o", "%N %t", timeout=10)
            return p.returncode == 0 and sorted(p.stdout.split()) == ["idle", "idle", "n1", "n2"]
        if not self._until(idle, 20):
            return "the nodes did not become idle within 20 s"
        dead = [p.name for p in self.daemons if p.poll() is not None]
        if dead:
            return f"{', '.join(dead)} exited"
        # a job on both nodes, which is where proctrack/cgroup fails when it cannot work here
        p = self.run("srun", "-N", "2", "-n", "2", "true", timeout=20)
        if p.returncode != 0:
            return f"a first job failed: srun exited {p.returncode}: {p.stderr.strip()[-500:]}"
        return None

    @staticmethod
    def _until(cond, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if cond():
                return True
            time.sleep(0.1)
        return False

    def tails(self):
        """The last lines of every daemon's log, for a reader of a skip or a failure."""
        out = []
        for f in sorted((self.dir / "log").glob("*")) + [self.dir / "munge" / "munged.log"]:
            try:
                lines = f.read_text(errors="replace").splitlines()[-8:]
            except OSError:
                continue
            out.append(f"--- {f.name}:\n" + "\n".join(lines))
        return "\n".join(out)

    def stop(self):
        """Cancels the jobs, stops the daemons, kills every process the cluster started (tasks
        and slurmstepd too) and removes the cgroups Slurm made for its nodes, once empty."""
        try:
            self.run("scancel", "--full", "-u", "root", timeout=10)
        except (OSError, subprocess.SubprocessError):
            pass
        for p in reversed(self.daemons):
            if p.poll() is None:
                p.terminate()
        for p in self.daemons:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for _ in range(3):
            if not self._kill_marked():
                break
            time.sleep(0.2)
        for ctl in Path("/sys/fs/cgroup").glob("*"):
            for node in NODES:
                for top in (ctl / f"slurm_{node}", ctl / "system.slice" / f"{node}_slurmstepd.scope"):
                    if top.is_dir():
                        for sub in sorted(top.rglob("*"), key=lambda x: -len(x.parts)) + [top]:
                            try:
                                if sub.is_dir():
                                    sub.rmdir()
                            except OSError:
                                pass

    def _kill_marked(self):
        """SIGKILLs the processes whose environment has MARK=dir; how many there were."""
        want = f"{MARK}={self.dir}".encode()
        n = 0
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or int(proc.name) == os.getpid():
                continue
            try:
                if want in (proc / "environ").read_bytes().split(b"\0"):
                    os.kill(int(proc.name), signal.SIGKILL)
                    n += 1
            except OSError:
                pass
        return n


@pytest.fixture(scope="module")
def cluster():
    missing = [p for p in SLURM_PROGRAMS if not shutil.which(p)]
    if missing:
        pytest.skip(f"Slurm is not installed ({', '.join(missing)} not found): "
                    "scripts/install-deps test installs slurm-wlm and munge")
    if os.geteuid() != 0:
        pytest.skip("the test's Slurm runs as root (SlurmUser=root): run the tests as root")
    base = Path(tempfile.mkdtemp(prefix="memline-slurm-"))
    why = []
    c = None
    try:
        tries = os.environ.get("MEMLINE_TEST_SLURM_PROCTRACK") or "cgroup,linuxproc"
        for proctrack in tries.split(","):
            c = Cluster(base / proctrack, proctrack)
            failed = c.start()
            if not failed:
                break
            why.append(f"proctrack/{proctrack}: {failed}\n{c.tails()}")
            c.stop()
            c = None
        if c is None:
            pytest.skip("the Slurm daemons could not start here:\n" + "\n".join(why))
        yield c
    finally:
        if c is not None:
            c.stop()
        shutil.rmtree(base, ignore_errors=True)


def describe(c, p):
    return f"exit {p.returncode}\nstdout: {p.stdout[-1500:]}\nstderr: {p.stderr[-1500:]}\n{c.tails()}"


def test_srun_ranks_each_record_their_own(cluster, tmp_path):
    """srun -N 2 -n 4 memline run: four logs, ranks 0 to 3 by SLURM_PROCID, two on each node;
    the nodes told apart by SLURM_NODEID and SLURMD_NODENAME, not by the host name (one host)."""
    # memline names each log by its rank (-o %r); the shell only picks each rank's size
    script = (f"exec {MEMLINE} run -q -i 0.05 -o '{tmp_path}/r.%r.jsonl' -- "
              f"{MEMWORK} alloc $((8 * (SLURM_PROCID + 1)))M sleep 300")
    p = cluster.run("srun", "-N", "2", "-n", "4", "sh", "-c", script, timeout=40)
    assert p.returncode == 0, describe(cluster, p)
    logs = {int(f.name.split(".")[1]): read_log(f) for f in tmp_path.glob("r.*.jsonl")}
    assert sorted(logs) == [0, 1, 2, 3], f"expected the logs of ranks 0 to 3: {sorted(logs)}"
    nodes, hosts = {}, set()
    for rank, records in logs.items():
        h = header_of(records)
        job = h["job"]
        assert job.get("SLURM_PROCID") == str(rank), job
        assert job.get("SLURM_JOB_ID"), job
        nodes.setdefault((job.get("SLURM_NODEID"), job.get("SLURMD_NODENAME")), []).append(rank)
        hosts.add(h["host"])
        end = end_of(records)
        assert end["status"] == "completed", end
        assert end["job_peak"] >= 0.95 * 8 * (rank + 1) * MIB, (rank, end)
    assert sorted(nodes) == [("0", "n1"), ("1", "n2")], nodes
    assert all(len(r) == 2 for r in nodes.values()), nodes
    # both "nodes" are this machine: the header's host cannot tell them apart
    assert len(hosts) == 1, hosts
    # merged, they are four ranks on two nodes (by SLURMD_NODENAME), the place from srun's
    # variables
    m = subprocess.run([str(MEMLINE), "report", "--json", str(tmp_path)], capture_output=True,
                       text=True, timeout=30)
    assert m.returncode == 0, m.stderr
    rep = json.loads(m.stdout)
    assert rep["job"]["ranks"] == 4 and rep["job"]["launcher"] == "slurm", rep["job"]
    assert rep["job"]["size"] == 4 and rep["job"]["status"] == "completed", rep["job"]
    assert sorted((n["host"], n["ranks"]) for n in rep["nodes"]) == [("n1", 2), ("n2", 2)], \
        rep["nodes"]
    assert rep["job"]["heaviest"]["rank"] == 3, rep["job"]


BATCH = """\
#!/bin/sh
# One memline per node records the job's processes there, beside the job's own steps.
# -o %h: the node's name (SLURMD_NODENAME: both nodes are this host)
srun --overlap --ntasks-per-node=1 {memline} attach --slurm-job "$SLURM_JOB_ID" -q -i 0.05 -o '{dir}/job.%h.jsonl' &
i=0
while [ ! -s {dir}/job.n1.jsonl ] || [ ! -s {dir}/job.n2.jsonl ]; do
    i=$((i + 1))
    if [ $i -gt 300 ]; then echo "memline attach did not start" >&2; exit 3; fi
    sleep 0.05
done
# the job's work: a step of one task a node, n1's allocating 16 MiB, n2's 96 MiB
srun --ntasks-per-node=1 sh -c 'exec {memwork} pidfile {dir}/w.$SLURMD_NODENAME.pid alloc $((16 + 80 * SLURM_NODEID))M sleep 2000'
# memline's step is the job's first: it ends its recording at SIGTERM (as at the job's end)
scancel --signal=TERM "$SLURM_JOB_ID.0"
wait
"""

ALLOC = {"n1": 16, "n2": 96}


@pytest.fixture(scope="module")
def per_node(cluster, tmp_path_factory):
    """The per-node pattern in a batch job: its nodes' logs (node -> records) and workload pids."""
    d = tmp_path_factory.mktemp("per-node")
    script = d / "job.sh"
    script.write_text(BATCH.format(dir=d, memline=MEMLINE, memwork=MEMWORK))
    p = cluster.run("sbatch", "--wait", "-N", "2", "-o", d / "batch.out", script, timeout=50)
    out = (d / "batch.out").read_text() if (d / "batch.out").exists() else ""
    assert p.returncode == 0, f"{describe(cluster, p)}\nthe job's output: {out[-2000:]}"
    logs = {n: read_log(d / f"job.{n}.jsonl") for n in NODES}
    pids = {n: read_pidfile(d / f"w.{n}.pid") for n in NODES}
    return d, logs, pids


def test_attach_slurm_job_records_each_node(cluster, per_node):
    """Each node's log has its own workload process, with the memory it allocated, and not the
    other node's; its job memory is its node's (the node's memory cgroup under proctrack/cgroup:
    slurm_n1 or slurm_n2); memline itself is not one of the job's processes it records."""
    d, logs, pids = per_node
    for node, other in (("n1", "n2"), ("n2", "n1")):
        records = logs[node]
        h = header_of(records)
        assert h["mode"] == "attach" and h["job"].get("SLURMD_NODENAME") == node, h
        procs = procs_of(records)
        assert pids[node] in procs, f"{node}: expected its workload {pids[node]}: {sorted(procs)}"
        assert pids[other] not in procs, f"{node}: expected no process of {other}'s"
        assert not any(p["comm"] == "memline" for p in procs.values()), procs
        rss = h["fields"].index("rss")
        peak = max((row[rss] for s in of_type(records, "sample") for row in s["p"]
                    if row[0] == pids[node] and row[rss] is not None), default=0)
        assert peak >= 0.95 * ALLOC[node] * MIB, (node, peak)
        mem = h["memory"]
        if cluster.proctrack == "cgroup":
            assert mem["method"] == "cgroup", mem
            path = mem["cgroup"]["path"]
            assert f"slurm_{node}/" in path or f"{node}_slurmstepd.scope/" in path, path
            assert mem["cgroup"]["own"] is False, mem
        else:
            assert mem["method"] in ("pss", "rss"), mem
        end = end_of(records)
        assert end["status"] in ("detached", "exited"), end
        assert end["job_peak"] >= 0.95 * ALLOC[node] * MIB, (node, end)
    # n1 did not count n2's 96 MiB
    assert end_of(logs["n1"])["job_peak"] < 80 * MIB, end_of(logs["n1"])


def test_attach_slurm_job_header_place(per_node):
    """The header's place (format 4) says the log records a whole node of the job."""
    d, logs, pids = per_node
    for node in NODES:
        h = header_of(logs[node])
        place = h["place"]
        assert place.get("node_wide") is True, place
        assert place.get("job") == h["job"]["SLURM_JOB_ID"], place
        assert place.get("rank") is None, place


def test_merged_report_shows_two_nodes(per_node):
    """memline report --json job.*.jsonl: the two nodes' logs merged, one node each."""
    d, logs, pids = per_node
    p = subprocess.run([str(MEMLINE), "report", "--json", str(d / "job.*.jsonl")],
                       capture_output=True, text=True, timeout=30)
    one = subprocess.run([str(MEMLINE), "report", "--json", *(str(d / f"job.{n}.jsonl")
                                                               for n in NODES)],
                         capture_output=True, text=True, timeout=30)
    assert one.returncode == 0, one.stderr
    assert json.loads(one.stdout)["nodes"] == json.loads(p.stdout)["nodes"]
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    nodes = report.get("nodes")
    assert isinstance(nodes, list) and len(nodes) == 2, \
        f"expected two nodes (both on this host: told apart by SLURMD_NODENAME): {nodes}"
    by_host = {n["host"]: n for n in nodes}
    assert sorted(by_host) == ["n1", "n2"], nodes
    for host, n in by_host.items():
        # each node's memory is its node-wide log's, its cgroup's under proctrack/cgroup
        assert n["node_wide"] is True and n["ranks"] == 0 and n["logs"] == 1, n
        assert n["peak"] >= 0.95 * ALLOC[host] * MIB * 1024, n  # bytes
    assert by_host["n1"]["peak"] < 80 * MIB * 1024, by_host
    job = report["job"]
    assert job["id"] == header_of(logs["n1"])["job"]["SLURM_JOB_ID"], job
    # no rank: the nodes are compared with each other
    assert job["heaviest"]["node"] == "n2", job
