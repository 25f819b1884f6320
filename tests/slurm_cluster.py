"""A real Slurm cluster in a folder, for the tests and by hand (Debian's slurmctld, slurmd, munge).

    python tests/slurm_cluster.py start DIR [NODES]   # prints the `export SLURM_CONF=...` line to use it
    python tests/slurm_cluster.py stop DIR            # stops what `start` started (by what it recorded)

One node: slurmd beside slurmctld, on localhost. Two or more: each slurmd is a "node" of its own, in a network
namespace made for this cluster (a veth into a bridge with private 10.x.y.0/24 addresses), with its own hostname
(a UTS namespace) and an /etc/hosts of its own (a private mount namespace with a bind mount), so MPI and hydra see
separate hosts that reach each other over the bridge; slurmctld and the submitting commands stay in this one's
namespace and reach it at the bridge's address. `stop` removes the namespaces and the bridge.

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

PACKAGES = "slurmctld slurmd slurm-client munge"


def missing(nodes: int = 1) -> str | None:
    """Why a cluster of `nodes` nodes cannot start here (None when it can)."""
    tools = ("munged", "slurmctld", "slurmd", "sbatch", "sinfo") + (("ip", "unshare", "nsenter") if nodes > 1 else ())
    absent = [d for d in tools if not shutil.which(d, path=_path())]
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


def write_config(folder: Path, network: dict | None = None) -> Path:
    """slurm.conf (and munge's key) for one node on localhost, or for the nodes of `network` (see _network)."""
    ctld_port, slurmd_port = _free_ports(2)
    for sub in ("state", "spool", "munge"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "munge").chmod(0o755)  # munged refuses a socket folder others can write to
    key = folder / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    if network is None:
        daemon = ["SlurmctldHost=localhost", f"SlurmdSpoolDir={folder / 'spool'}",
                  f"SlurmdPidFile={folder / 'slurmd.pid'}", f"SlurmdLogFile={folder / 'slurmd.log'}"]
        nodes = {"localhost": "127.0.0.1"}
    else:  # %n: each node's own spool, PID and log
        daemon = ["SlurmctldHost=localhost", f"SlurmctldAddr={network['controller']}",
                  f"SlurmdSpoolDir={folder / 'spool' / '%n'}", f"SlurmdPidFile={folder / 'slurmd-%n.pid'}",
                  f"SlurmdLogFile={folder / 'slurmd-%n.log'}"]
        nodes = network["nodes"]
    cpus, memory = os.cpu_count(), _memory_mb() // len(nodes)
    conf = folder / "slurm.conf"
    conf.write_text("\n".join([
        "ClusterName=mdrive-test", *daemon, f"SlurmctldPort={ctld_port}",
        f"SlurmdPort={slurmd_port}", "SlurmUser=root", "AuthType=auth/munge", "CredType=cred/munge",
        f"AuthInfo=socket={folder / 'munge' / 'munge.socket'}",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none", "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core", "SchedulerParameters=batch_sched_delay=0", "MpiDefault=pmi2",
        "ReturnToService=2", "MinJobAge=300", "SlurmdParameters=config_overrides", "SchedulerType=sched/backfill",
        f"StateSaveLocation={folder / 'state'}", f"SlurmctldPidFile={folder / 'slurmctld.pid'}",
        f"SlurmctldLogFile={folder / 'slurmctld.log'}",
        "SlurmctldDebug=info", "SlurmdDebug=info", "KillWait=5", "InactiveLimit=0",
        *(f"NodeName={name} NodeAddr={addr} CPUs={cpus} RealMemory={memory} State=UNKNOWN"
          for name, addr in nodes.items()),
        f"PartitionName=debug Nodes={','.join(nodes)} Default=YES MaxTime=INFINITE State=UP", ""]))
    return conf


def environment(folder: Path) -> dict:
    return {**os.environ, "SLURM_CONF": str(Path(folder) / "slurm.conf"), "PATH": _path()}


def _network(folder: Path, count: int) -> dict:
    """Names and private addresses for a cluster of `count` nodes: unused here, and unique to this folder."""
    used = subprocess.run(["ip", "-br", "addr"], capture_output=True, text=True).stdout
    tag = os.urandom(2).hex()
    subnet = next(f"10.{a}.{b}" for a, b in ((int(tag[:2], 16), int(tag[2:], 16) + k) for k in range(256))
                  if b < 256 and f"10.{a}.{b}." not in used)
    nodes = {f"n{k}": f"{subnet}.{10 + k}" for k in range(1, count + 1)}
    (folder / "hosts").write_text("127.0.0.1 localhost\n" + "".join(f"{a} {n}\n" for n, a in nodes.items()))
    return {"bridge": f"mdbr{tag}", "tag": tag, "controller": f"{subnet}.1", "nodes": nodes}


def _network_up(network: dict) -> None:
    """The bridge (in this namespace, holding the controller's address) and one namespace per node on it."""
    bridge, tag = network["bridge"], network["tag"]
    steps = [["link", "add", bridge, "type", "bridge"], ["addr", "add", f"{network['controller']}/24", "dev", bridge],
             ["link", "set", bridge, "up"]]
    for name, addr in network["nodes"].items():
        ns, outer, inner = f"md{tag}-{name}", f"md{tag}{name}", f"md{tag}{name}p"
        steps += [["netns", "add", ns], ["link", "add", outer, "type", "veth", "peer", "name", inner],
                  ["link", "set", inner, "netns", ns], ["link", "set", outer, "master", bridge],
                  ["link", "set", outer, "up"], ["-n", ns, "addr", "add", f"{addr}/24", "dev", inner],
                  ["-n", ns, "link", "set", inner, "up"], ["-n", ns, "link", "set", "lo", "up"]]
    for step in steps:
        subprocess.run(["ip", *step], check=True, capture_output=True, text=True)


def _network_down(network: dict) -> None:
    tag = network["tag"]
    for name in network["nodes"]:
        subprocess.run(["ip", "netns", "del", f"md{tag}-{name}"], capture_output=True)
        subprocess.run(["ip", "link", "del", f"md{tag}{name}"], capture_output=True)
    subprocess.run(["ip", "link", "del", network["bridge"]], capture_output=True)


def _on_node(folder: Path, network: dict, name: str, command: list[str]) -> list[str]:
    """`command` run as node `name`: in its network namespace, with its hostname and the cluster's /etc/hosts."""
    inner = f"mount --bind {folder / 'hosts'} /etc/hosts && hostname {name} && exec \"$@\""
    # nsenter, not `ip netns exec`: that one remounts /sys, hiding the cgroup tree slurmd needs
    return ["nsenter", f"--net=/run/netns/md{network['tag']}-{name}", "unshare", "--uts", "--mount",
            "--propagation", "private", "sh", "-c", inner, "node", *command]


def start(folder: Path, nodes: int = 1, timeout: float = 60.0) -> dict:
    """Start a cluster of `nodes` nodes in `folder` and wait until they take jobs; the environment to use it."""
    folder = Path(folder).resolve()
    why = missing(nodes)
    if why:
        raise RuntimeError(f"cannot start Slurm: {why}")
    folder.mkdir(parents=True, exist_ok=True)
    network = _network(folder, nodes) if nodes > 1 else None
    write_config(folder, network)
    env = environment(folder)
    munge = folder / "munge"
    commands = {
        "munged": ["munged", "--foreground", "--force", f"--key-file={munge / 'munge.key'}",
                   f"--socket={munge / 'munge.socket'}", f"--pid-file={munge / 'munged.pid'}",
                   f"--log-file={folder / 'munged.log'}", f"--seed-file={munge / 'munge.seed'}"],
        "slurmctld": ["slurmctld", "-D", "-i"],  # -i: no state from an earlier cluster in this folder
    }
    if network is None:
        commands["slurmd"] = ["slurmd", "-D", "-N", "localhost"]
    else:
        commands.update({f"slurmd-{name}": _on_node(folder, network, name, ["slurmd", "-D", "-N", name])
                         for name in network["nodes"]})
    record = {"pids": {}, "network": network}
    try:
        if network is not None:
            (folder / "pids.json").write_text(json.dumps(record))  # the network first: `stop` removes it
            _network_up(network)
        for name, command in commands.items():
            with open(folder / f"{name}.stdout", "w") as out:
                proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                        start_new_session=True, cwd=folder)
            record["pids"][name] = proc.pid
            (folder / "pids.json").write_text(json.dumps(record))
            if name == "munged":
                _wait(lambda: (munge / "munge.socket").exists(), timeout, "munged's socket", folder)
        _wait(lambda: _node_state(env) == ["idle"] * nodes, timeout, "every node idle", folder)
    except BaseException:
        stop(folder)
        raise
    return env


def _node_state(env: dict) -> list[str]:
    p = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], env=env, capture_output=True, text=True)
    return p.stdout.split()


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
    recorded = json.loads(record.read_text())
    pids = recorded["pids"]
    if "slurmctld" in pids:
        subprocess.run(["scancel", "--full", "-u", "root"], env=environment(folder), capture_output=True, timeout=30)
    for pid in reversed(pids.values()):  # the nodes first, munged last
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        end = time.monotonic() + timeout
        while time.monotonic() < end and _alive(pid):
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    if recorded.get("network"):
        _network_down(recorded["network"])
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


def logs_on_failure(env: dict) -> str:
    """The daemons' logs of the cluster `env` uses."""
    return logs(Path(env["SLURM_CONF"]).parent)


def wait_for(condition, timeout: float, what: str, env: dict):
    """condition()'s first true value, polled; else fail saying `what`, with the cluster's logs."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what} within {timeout:g} s\n{logs_on_failure(env)}")


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4) or sys.argv[1] not in ("start", "stop"):
        sys.exit(__doc__)
    where = Path(sys.argv[2]).resolve()
    if sys.argv[1] == "start":
        t = time.perf_counter()
        start(where, int(sys.argv[3]) if len(sys.argv) == 4 else 1)
        print(f"# Slurm is up in {time.perf_counter() - t:.1f} s; to use it:\nexport SLURM_CONF={where / 'slurm.conf'}")
    else:
        stop(where)
