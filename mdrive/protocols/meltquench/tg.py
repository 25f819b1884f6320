"""The glass-transition temperature of the cooling stages: the kink of density (NPT) or energy (NVT) against T."""
from __future__ import annotations

import pandas as pd

from mdrive import metrics

TG_MAX_SSE_RATIO = 0.5


def glass_transition(trace: pd.DataFrame, info: dict) -> dict:
    """Tg from the cooling ramps: the kink of density against T under NPT, of energy under NVT."""
    empty = {"tg_k": None, "tg_from": None}
    if trace.empty:
        return empty
    cooling = [k + 1 for k, s in enumerate(info["stages"]) if is_cooling(s)]
    rows = trace[trace["stage"].isin(cooling)]
    if rows.empty:
        return empty
    npt = all(info["stages"][k - 1].startswith("npt") for k in cooling)
    column = "density_g_cm3" if npt else "pe_per_atom"
    fit = metrics.glass_transition(rows["temp"], rows[column])
    if fit is None:
        return empty
    # a kink counts only when two lines leave at most half the squared residual of one [I]
    return {"tg_k": round(fit["tg"], 1) if fit["sse_ratio"] <= TG_MAX_SSE_RATIO else None,
            "tg_from": "density" if npt else "energy", "tg_fit_sse_ratio": round(fit["sse_ratio"], 4)}


def is_cooling(stage_text: str) -> bool:
    from mdrive.protocols.schedule import parse_stage

    st = parse_stage(stage_text, 0)
    return st.t_start is not None and st.t_stop < st.t_start
