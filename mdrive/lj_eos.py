"""Johnson–Zollweg–Gubbins equation of state of the full Lennard-Jones fluid (Mol. Phys. 78, 591 (1993)),
reduced units (ε = σ = k_B = m = 1): the reference Widom insertion is checked against.

A modified Benedict–Webb–Rubin form: residual Helmholtz energy per particle
a_res = Σ_{i=1..8} a_i ρ^i / i + Σ_{i=1..6} b_i G_i, pressure P = ρT + Σ a_i ρ^{i+1} + F Σ b_i ρ^{2i+1},
F = exp(-γρ²), and μ_ex = a_res + P/ρ - T. Written by hand: no maintained Python package on PyPI
ships this EOS, and it is 33 constants and a dozen lines.
"""
from __future__ import annotations

import math

GAMMA = 3.0
# x1..x32 of JZG Table 10 (fit to simulation data, 0.7 <= T <= 6)
X = (0.8623085097507421, 2.976218765822098, -8.402230115796038, 0.1054136629203555, -0.8564583828174598,
     1.582759470107601, 0.7639421948305453, 1.753173414312048, 2798.291772190376, -0.048394220260857657,
     0.9963265197721935, -36.98000291272493, 20.84012299434647, 83.05402124717285, -957.4799715203068,
     -147.7746229234994, 63.98607852471505, 16.03993673294834, 68.05916615864377, -2791.293578795945,
     -6.245128304568454, -8116.836104958410, 14.88735559561229, -10593.46754655084, -113.1607632802822,
     -8867.771540418822, -39.86982844450543, -4689.270299917261, 259.3535277438717, -2694.523589434903,
     -721.8487631550215, 172.1802063863269)


def _a(t: float) -> list[float]:
    x = (None,) + X  # 1-based, as in the paper
    return [x[1] * t + x[2] * math.sqrt(t) + x[3] + x[4] / t + x[5] / t ** 2,
            x[6] * t + x[7] + x[8] / t + x[9] / t ** 2,
            x[10] * t + x[11] + x[12] / t,
            x[13],
            x[14] / t + x[15] / t ** 2,
            x[16] / t,
            x[17] / t + x[18] / t ** 2,
            x[19] / t ** 2]


def _b(t: float) -> list[float]:
    x = (None,) + X
    return [x[20] / t ** 2 + x[21] / t ** 3,
            x[22] / t ** 2 + x[23] / t ** 4,
            x[24] / t ** 2 + x[25] / t ** 3,
            x[26] / t ** 2 + x[27] / t ** 4,
            x[28] / t ** 2 + x[29] / t ** 3,
            x[30] / t ** 2 + x[31] / t ** 3 + x[32] / t ** 4]


def _g(rho: float) -> list[float]:
    f = math.exp(-GAMMA * rho ** 2)
    g = [(1 - f) / (2 * GAMMA)]
    for n in range(2, 7):
        g.append(-(f * rho ** (2 * (n - 1)) - 2 * (n - 1) * g[-1]) / (2 * GAMMA))
    return g


def helmholtz_residual(t: float, rho: float) -> float:
    """a_res(T, ρ) per particle, in ε."""
    return (sum(a * rho ** i / i for i, a in enumerate(_a(t), 1))
            + sum(b * g for b, g in zip(_b(t), _g(rho))))


def pressure(t: float, rho: float) -> float:
    f = math.exp(-GAMMA * rho ** 2)
    return (rho * t + sum(a * rho ** (i + 1) for i, a in enumerate(_a(t), 1))
            + f * sum(b * rho ** (2 * i + 1) for i, b in enumerate(_b(t), 1)))


def mu_excess(t: float, rho: float) -> float:
    """Excess chemical potential μ_ex(T, ρ) in ε: a_res + Z·T - T, Z = P/(ρT)."""
    return helmholtz_residual(t, rho) + pressure(t, rho) / rho - t


def mu_tail(rho: float, cutoff: float) -> float:
    """What cutting the potential at r_c leaves out of μ (Frenkel & Smit): (16/3)πρ[(1/3)r_c⁻⁹ - r_c⁻³]."""
    return 16.0 / 3.0 * math.pi * rho * (cutoff ** -9 / 3.0 - cutoff ** -3)


def pressure_tail(rho: float, cutoff: float) -> float:
    """What cutting the potential at r_c leaves out of P: (16/3)πρ²[(2/3)r_c⁻⁹ - r_c⁻³]."""
    return 16.0 / 3.0 * math.pi * rho ** 2 * (2.0 / 3.0 * cutoff ** -9 - cutoff ** -3)
