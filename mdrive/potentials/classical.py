"""Adapters for the styles the PyPI wheel runs: EAM, SNAP, ML-IAP, POD, UF3, Tersoff, SW, ZBL, LJ.

Each adapter reads the elements a potential file covers from the file itself, so a structure with other
elements is refused before LAMMPS starts.
"""
from __future__ import annotations

import re
from pathlib import Path

from ase.data import atomic_numbers, chemical_symbols

from mdrive.errors import InputError
from mdrive.potentials.base import Kokkos, Potential
from mdrive.potentials.files import find_file, numbers_after, words


def _pair_lines(style_args: str, coeff_args: str = "", zbl: tuple[float, float] | None = None):
    """`pair_style ARGS` + `pair_coeff * * COEFF El1 El2 ...`, optionally overlaid on a ZBL core."""
    sub = style_args.split()[0]

    def lines(els):
        coeff = f"{coeff_args} {' '.join(els)}".strip()
        if not zbl:
            return [f"pair_style {style_args}", f"pair_coeff * * {coeff}"]
        inner, outer = zbl
        return ([f"pair_style hybrid/overlay zbl {inner} {outer} {style_args}"]
                + _zbl_pairs(els, "zbl ") + [f"pair_coeff * * {sub} {coeff}"])
    return lines


def eam(spec: str, arg: str) -> Potential:
    """eam (funcfl: one element per file, `pair_coeff i i FILE`)."""
    path = find_file(arg)
    element = _funcfl_element(path)
    cutoff = float(words(path, line=2)[4])

    def lines(els):
        return ["pair_style eam"] + [f"pair_coeff {i} {i} {path}" for i, _ in enumerate(els, 1)]
    return Potential(spec, "eam", ("eam",), lines, (element,), (path,), kokkos=Kokkos(), cutoff=cutoff)


def eam_setfl(spec: str, arg: str, style: str) -> Potential:
    """eam/alloy and eam/fs (setfl: line 4 lists the elements)."""
    path = find_file(arg)
    elements = _setfl_elements(path, style)
    return Potential(spec, style, (style,), _pair_lines(style, str(path)), elements, (path,),
                     kokkos=Kokkos(), cutoff=float(words(path, line=4)[4]))


def _funcfl_element(path: Path) -> str:
    """The element of a funcfl file, after checking its tables are complete (line 3: Nrho drho Nr dr cut)."""
    try:
        z = int(float(words(path, line=1)[0]))
        nrho, _, nr = (int(float(w)) for w in words(path, line=2)[:3])
        ok = 0 < z < len(chemical_symbols)
    except (ValueError, IndexError):
        ok = False
    if not ok:
        head = words(path, line=3)
        hint = " (it looks like an eam/alloy or eam/fs file: use that family)" if head and head[0].isdigit() else ""
        raise InputError(f"{path}: not an eam funcfl file{hint}")
    _check_count(path, 3, nrho + 2 * nr, "eam")
    return chemical_symbols[z]


def _setfl_elements(path: Path, style: str) -> tuple[str, ...]:
    """The elements of a setfl file, after checking its tables are complete for `style`: per element a
    header (Z mass a lattice), F(rho) and one (eam/alloy) or one per element (eam/fs) density table, then
    the pair tables."""
    try:
        head = words(path, line=3)
        n = int(head[0])
        elements = tuple(head[1:1 + n])
        nrho, _, nr = (int(float(w)) for w in words(path, line=4)[:3])
    except (ValueError, IndexError):
        raise InputError(f"{path}: not a setfl ({style}) file: line 4 should list the elements, line 5 "
                         f"'Nrho drho Nr dr cutoff'") from None
    if len(elements) != n or not all(e in atomic_numbers for e in elements):
        raise InputError(f"{path}: line 4 should give the number of elements, then their symbols")
    pairs = n * (n + 1) // 2 * nr
    # element headers hold 2 to 4 words (Z mass [a lattice]): the size is known within 2n words
    size = {k: n * (2 + nrho + k * nr) + pairs for k in (1, n)}
    found = len(numbers_after(path, 5))
    fs = style == "eam/fs"
    if n > 1 and size[1 if fs else n] <= found <= size[1 if fs else n] + 2 * n:
        other = "eam/alloy" if fs else "eam/fs"
        kind = "one density table per element" + ("" if fs else " pair")
        raise InputError(f"{path} is an {other} file ({kind}), not {style}: use --potential {other}:{path.name}")
    _check_count(path, 5, size[n if fs else 1], style, found)
    return elements


def _check_count(path: Path, skip: int, expected: int, style: str, found: int | None = None) -> None:
    found = len(numbers_after(path, skip)) if found is None else found
    if found < expected:
        raise InputError(f"{path}: its {style} tables hold {found} of the {expected} values the header announces: "
                         f"the file is truncated or damaged")


def tersoff_sw(spec: str, arg: str, style: str) -> Potential:
    """tersoff and sw: every entry starts with three element names."""
    path = find_file(arg)
    elements = set()
    for line in path.read_text().splitlines():
        fields = line.split("#")[0].split()
        if len(fields) >= 3 and all(f in atomic_numbers for f in fields[:3]):
            elements.update(fields[:3])
    return Potential(spec, style, (style,), _pair_lines(style, str(path)), tuple(sorted(elements)), (path,),
                     kokkos=Kokkos())


def snap(spec: str, arg: str) -> Potential:
    """snap:NAME uses NAME.snapcoeff/.snapparam, with the ZBL core of NAME.snap when it has one."""
    coeff, param = find_file(f"{arg}.snapcoeff"), find_file(f"{arg}.snapparam")
    elements = _snapcoeff_elements(coeff)
    zbl = _shipped_zbl(arg + ".snap")
    return Potential(spec, "snap", ("snap",) + (("zbl",) if zbl else ()),
                     _pair_lines("snap", f"{coeff} {param}", zbl), elements, (coeff, param),
                     kokkos=Kokkos())


def mliap(spec: str, arg: str) -> Potential:
    """mliap:NAME (the shipped include NAME.mliap, or NAME.mliap.model + NAME.mliap.descriptor) or
    mliap:MODEL,DESCRIPTOR. Linear and nn models with sna or so3 descriptors run in the wheel."""
    if "," in arg:
        model, desc = (find_file(n) for n in arg.split(",", 1))
        kind, dkind, zbl = _mliap_kind(model), _descriptor_kind(desc), None
    else:
        try:
            include = find_file(arg if arg.endswith(".mliap") else f"{arg}.mliap")
        except InputError:
            return mliap(spec, f"{arg}.mliap.model,{arg}.mliap.descriptor")
        m = re.search(r"mliap\s+model\s+(\S+)\s+(\S+)\s+descriptor\s+(\S+)\s+(\S+)",
                      _joined_pair_style(include))
        if not m:
            raise InputError(f"{include}: no 'pair_style ... mliap model ... descriptor ...' line; "
                             f"give an ML-IAP include file as shipped with LAMMPS")
        kind, model, dkind, desc = m.group(1), find_file(m.group(2)), m.group(3), find_file(m.group(4))
        zbl = _shipped_zbl(include.name)
    if kind not in ("linear", "quadratic", "nn"):
        raise InputError(f"potential {spec}: mliap model '{kind}' needs LAMMPS with ML-IAP Python "
                         f"support; this build runs linear, quadratic and nn models")
    style = f"mliap model {kind} {model} descriptor {dkind} {desc}"
    return Potential(spec, "mliap", ("mliap",) + (("zbl",) if zbl else ()),
                     _pair_lines(style, "", zbl), tuple(_keyword(desc, "elems")), (model, desc),
                     kokkos=Kokkos())


def _mliap_kind(model: Path) -> str:
    head = model.read_text(errors="replace")[:2000].lower()
    return "nn" if "neural network" in head or ".nn." in model.name else "linear"


def _descriptor_kind(desc: Path) -> str:
    # SO(3) descriptors are defined by nmax/lmax, SNAP (sna) ones by twojmax
    return "so3" if re.search(r"^\s*nmax\s", desc.read_text(), re.M) else "sna"


def pod(spec: str, arg: str) -> Potential:
    """pod:NAME uses NAME_param.pod and NAME_coeff.pod (or pod:PARAM,COEFF)."""
    param_name, coeff_name = arg.split(",") if "," in arg else (f"{arg}_param.pod", f"{arg}_coeff.pod")
    param, coeff = find_file(param_name), find_file(coeff_name)
    elements = tuple(_keyword(param, "species"))
    return Potential(spec, "pod", ("pod",), _pair_lines("pod", f"{param} {coeff}"), elements,
                     (param, coeff), newton="on")


def uf3(spec: str, arg: str) -> Potential:
    """uf3:FILE; the body order (2 or 3) is read from the file's 2B/3B sections."""
    path = find_file(arg)
    text = path.read_text()
    elements = tuple(sorted(set(re.findall(r"^[23]B\s+(\w+)\s+(\w+)", text, re.M)[0])))
    order = 3 if re.search(r"^3B\s", text, re.M) else 2
    return Potential(spec, "uf3", ("uf3",), _pair_lines(f"uf3 {order}", str(path)), elements, (path,),
                     newton="on", kokkos=Kokkos())


def zbl(spec: str, arg: str) -> Potential:
    """zbl[:INNER,OUTER] (Å): screened nuclear repulsion for any elements; used to relax random packings."""
    inner, outer = _floats(arg, (3.0, 4.0), spec)
    if inner >= outer:
        raise InputError(f"potential {spec}: the inner cutoff must be below the outer one (zbl:INNER,OUTER in Å, "
                         f"e.g. zbl:3.0,4.0)")

    def lines(els):
        return [f"pair_style zbl {inner} {outer}"] + _zbl_pairs(els, "")
    return Potential(spec, "zbl", ("zbl",), lines, None, (), kokkos=Kokkos(), cutoff=outer)


def lj(spec: str, arg: str) -> Potential:
    """lj[:EPSILON,SIGMA,CUTOFF] in metal units (eV, Å), the same for every pair of types."""
    eps, sigma, cut = _floats(arg, (0.0104, 3.4, 8.5), spec)
    return Potential(spec, "lj/cut", ("lj/cut",),
                     lambda els: [f"pair_style lj/cut {cut}", f"pair_coeff * * {eps} {sigma}"],
                     None, (), kokkos=Kokkos(), cutoff=cut)


def _zbl_pairs(els: list[str], sub: str) -> list[str]:
    z = [atomic_numbers[e] for e in els]
    return [f"pair_coeff {i} {j} {sub}{z[i - 1]} {z[j - 1]}"
            for i in range(1, len(els) + 1) for j in range(i, len(els) + 1)]


def _snapcoeff_elements(path: Path) -> tuple[str, ...]:
    # after comments: "nelements ncoeff", then per element "El radius weight" followed by ncoeff numbers
    rows = [ln.split() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    nelem, ncoeff = int(rows[0][0]), int(rows[0][1])
    return tuple(rows[1 + k * (ncoeff + 1)][0] for k in range(nelem))


def _joined_pair_style(path: Path) -> str:
    text = path.read_text().replace("&\n", " ")
    variables = dict(re.findall(r"^variable\s+(\w+)\s+equal\s+(\S+)", text, re.M))
    line = next((ln for ln in text.splitlines() if ln.startswith("pair_style")), "")
    return re.sub(r"\$\{(\w+)\}", lambda m: variables.get(m.group(1), m.group(0)), line)


def _shipped_zbl(include_name: str) -> tuple[float, float] | None:
    """(inner, outer) of the ZBL core in a shipped include file, if the potential was fitted with one."""
    try:
        line = _joined_pair_style(find_file(include_name))
    except InputError:
        return None
    m = re.search(r"\bzbl\s+([\d.]+)\s+([\d.]+)", line)
    return (float(m.group(1)), float(m.group(2))) if m else None


def _keyword(path: Path, key: str) -> list[str]:
    for line in path.read_text().splitlines():
        fields = line.split("#")[0].split()
        if fields and fields[0] == key:
            return fields[1:]
    raise InputError(f"{path}: no '{key}' line; is this the right file?")


def _floats(arg: str, defaults: tuple, spec: str) -> tuple:
    if not arg:
        return defaults
    try:
        values = tuple(float(v) for v in arg.split(","))
    except ValueError:
        values = ()
    if len(values) != len(defaults) or min(values) <= 0:
        raise InputError(f"potential {spec}: expected {len(defaults)} positive numbers separated by commas")
    return values
