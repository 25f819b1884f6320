"""A real one-node Slurm cluster in a folder, for the tests and by hand (Debian's slurmctld, slurmd, munge).

    python tests/slurm_cluster.py start DIR   # prints the `export SLURM_CONF=...` line to use it
    python tests/slurm_cluster.py stop DIR    # stops what `start` started (by the PIDs it recorded)

munged, slurmctld and slurmd run in the foreground of their own sessions, their state, spool, logs and PIDs all
in DIR; nothing system-wide is touched (own ports, own munge socket). Needs root (slurmd launches the jobs).
The settings are the ones that run here without cgroups or systemd; MpiDefault=pmi2 so a bare `srun` starts
MPICH ranks as one MPI world (with `none` they start as independent 1-rank programs).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
PACKAGES = "slurmctld slurmd slurm-client munge"


def missing() -> str | None:
    """Why a cluster cannot start here (None when it can)."""
    absent = [d for d in ("munged", "slurmctld", "slurmd", "sbatch", "sinfo") if not shutil.which(d, path=_path())]
    if absent:
        return f"{', '.join(absent)} not installed (apt-get install {PACKAGES}; make test does it)"
    if os.geteuid() != 0:
        return "slurmd must run as root to launch jobs, and this user is not root"
    return None


def _path() -> str:
    return os.environ.get("PATH", "") + ":/usr/sbin:/sbin"


def _free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _memory_mb() -> int:
    line = next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal"))
    return int(line.split()[1]) // 1024 * 9 // 10


def write_config(folder: Path) -> Path:
    ctld_port, slurmd_port = _free_ports(2)
    for sub in ("state", "spool", "munge"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "munge").chmod(0o755)  # munged refuses a socket folder others can write to
    key = folder / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    conf = folder / "slurm.conf"
    conf.write_text("\n".join([
        "ClusterName=mdrive-test", "SlurmctldHost=localhost", f"SlurmctldPort={ctld_port}",
        f"SlurmdPort={slurmd_port}", "SlurmUser=root", "AuthType=auth/munge", "CredType=cred/munge",
        f"AuthInfo=socket={folder / 'munge' / 'munge.socket'}",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none", "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core", "SchedulerParameters=batch_sched_delay=0", "MpiDefault=pmi2",
        "ReturnToService=2", "MinJobAge=300", "SlurmdParameters=config_overrides", "SchedulerType=sched/backfill",
        f"StateSaveLocation={folder / 'state'}", f"SlurmdSpoolDir={folder / 'spool'}",
        f"SlurmctldPidFile={folder / 'slurmctld.pid'}", f"SlurmdPidFile={folder / 'slurmd.pid'}",
        f"SlurmctldLogFile={folder / 'slurmctld.log'}", f"SlurmdLogFile={folder / 'slurmd.log'}",
        "SlurmctldDebug=info", "SlurmdDebug=info", "KillWait=5", "InactiveLimit=0",
        f"NodeName=localhost NodeAddr=127.0.0.1 CPUs={os.cpu_count()} RealMemory={_memory_mb()} State=UNKNOWN",
        "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP", ""]))
    return conf


def environment(folder: Path) -> dict:
    return {**os.environ, "SLURM_CONF": str(Path(folder) / "slurm.conf"), "PATH": _path()}


def start(folder: Path, timeout: float = 60.0) -> dict:
    """Start the cluster in `folder` and wait until its node takes jobs; returns the environment to use it."""
    folder = Path(folder).resolve()
    why = missing()
    if why:
        raise RuntimeError(f"cannot start Slurm: {why}")
    folder.mkdir(parents=True, exist_ok=True)
    write_config(folder)
    env = environment(folder)
    munge = folder / "munge"
    commands = {
        "munged": ["munged", "--foreground", "--force", f"--key-file={munge / 'munge.key'}",
                   f"--socket={munge / 'munge.socket'}", f"--pid-file={munge / 'munged.pid'}",
                   f"--log-file={folder / 'munged.log'}", f"--seed-file={munge / 'munge.seed'}"],
        "slurmctld": ["slurmctld", "-D", "-i"],  # -i: no state from an earlier cluster in this folder
        "slurmd": ["slurmd", "-D", "-N", "localhost"],
    }
    pids = {}
    try:
        for name in DAEMONS:
            with open(folder / f"{name}.stdout", "w") as out:
                proc = subprocess.Popen(commands[name], env=env, stdout=out, stderr=subprocess.STDOUT,
                                        start_new_session=True, cwd=folder)
            pids[name] = proc.pid
            (folder / "pids.json").write_text(json.dumps(pids))
            if name == "munged":
                _wait(lambda: (munge / "munge.socket").exists(), timeout, "munged's socket", folder)
        _wait(lambda: _node_state(env) == "idle", timeout, "the node to be idle", folder)
    except BaseException:
        stop(folder)
        raise
    return env


def _node_state(env: dict) -> str:
    p = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], env=env, capture_output=True, text=True)
    return p.stdout.strip()


def _wait(ready, timeout: float, what: str, folder: Path) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if ready():
            return
        time.sleep(0.2)
    raise RuntimeError(f"Slurm did not come up: no {what} within {timeout:g} s\n{logs(folder)}")


def logs(folder: Path, tail: int = 40) -> str:
    """The daemons' logs (last lines of each), for a failing test's report."""
    parts = []
    for path in sorted(Path(folder).glob("*.log")) + sorted(Path(folder).glob("*.stdout")):
        lines = path.read_text(errors="replace").splitlines()[-tail:]
        parts.append(f"--- {path.name}\n" + "\n".join(lines))
    return "\n".join(parts)


def stop(folder: Path, timeout: float = 15.0) -> None:
    """Cancel every job, then stop the daemons this folder's `start` recorded (by PID, nothing else)."""
    folder = Path(folder).resolve()
    record = folder / "pids.json"
    if not record.exists():
        return
    pids = json.loads(record.read_text())
    if "slurmctld" in pids:
        subprocess.run(["scancel", "--full", "-u", "root"], env=environment(folder), capture_output=True, timeout=30)
    for name in reversed(DAEMONS):
        pid = pids.get(name)
        if pid is None:
            continue
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        end = time.monotonic() + timeout
        while time.monotonic() < end and _alive(pid):
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    record.unlink()


def _alive(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)  # our own child (the tests): reap it
        if done:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split()[2] == "Z")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("start", "stop"):
        sys.exit(__doc__)
    where = Path(sys.argv[2]).resolve()
    if sys.argv[1] == "start":
        t = time.perf_counter()
        start(where)
        print(f"# Slurm is up in {time.perf_counter() - t:.1f} s; to use it:\nexport SLURM_CONF={where / 'slurm.conf'}")
    else:
        stop(where)
