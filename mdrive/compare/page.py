"""The comparison as one self-contained HTML file: inline CSS, inline SVG figures, a few lines of inline script
to sort the table; nothing is fetched when it is viewed, and it prints."""
from __future__ import annotations

import html
import json

import pandas as pd

from mdrive.compare import data
from mdrive.compare.data import Folder, cell


def columns() -> dict[str, str]:
    """The leaderboard's columns in order, column -> heading: rank and potential, then every kind's metrics."""
    return {"rank": "rank", "potential": "potential", **{m.column: m.header for m, _ in data.metrics()}}


STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1400px}
table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f3f3f3;cursor:pointer;white-space:nowrap}td:nth-child(2),th:nth-child(2){text-align:left}
td.missing{color:#999;font-style:italic}.warn{background:#fff4d6;border-left:4px solid #e0a800;padding:6px 10px}
figure{margin:1.5em 0;break-inside:avoid}figure svg{max-width:100%;height:auto}
.wide{overflow-x:auto}small{color:#666}
pre{background:#f7f7f7;padding:8px;font-size:12px;white-space:pre-wrap}
@media print{th{cursor:default}body{margin:0}.wide{overflow:visible}table{font-size:9px}}
"""

SORT = """
document.querySelectorAll('th').forEach(function(th){th.addEventListener('click',function(){
var t=th.closest('table'),b=t.tBodies[0],k=Array.prototype.indexOf.call(th.parentNode.children,th),
d=th.dataset.dir==='asc'?'desc':'asc';th.dataset.dir=d;
var rows=Array.prototype.slice.call(b.rows);rows.sort(function(x,y){
var a=x.cells[k].dataset.v,c=y.cells[k].dataset.v,na=parseFloat(a),nc=parseFloat(c);
if(a===''&&c!=='')return 1;if(c===''&&a!=='')return -1;
var r=(!isNaN(na)&&!isNaN(nc))?na-nc:a.localeCompare(c);return d==='asc'?r:-r;});
rows.forEach(function(r){b.appendChild(r);});});});
"""


def table_html(table: pd.DataFrame) -> str:
    headings = columns()
    riders = {}  # in the page, a run count rides in its AUC's cell (the Markdown table keeps it as a column)
    for m, _ in data.metrics():
        if m.rides_in:
            riders.setdefault(m.rides_in, []).append(m.column)
    shown = [c for c in headings if c in table and c not in {x for group in riders.values() for x in group}]
    head = "".join(f"<th>{html.escape(headings[c])}</th>" for c in shown)
    rows = []
    for _, row in table.iterrows():
        cells = []
        for c in shown:
            text = cell(row.get(c))
            value = "" if text == "missing" else str(row.get(c))
            css = ' class="missing"' if text == "missing" else ""
            note = ""
            if c in riders and text != "missing":  # "(2 scored, 0 censored)": each rider's heading's last word
                said = ", ".join(f"{cell(row.get(x))} {headings[x].split()[-1]}" for x in riders[c])
                note = f" <small>({html.escape(said)})</small>"
            cells.append(f'<td data-v="{html.escape(value)}"{css}>{html.escape(text)}{note}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<div class='wide'><table id='leaderboard'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}"
            f"</tbody></table></div>")


def provenance_html(folders: list[Folder]) -> str:
    parts = []
    for label in dict.fromkeys(f.label for f in folders):
        mine = [f for f in folders if f.label == label]
        m = mine[0].manifest
        about = {"potential": m.get("potential"), "versions": m.get("versions"),
                 "lammps": (m.get("lammps_build") or {}).get("version") if isinstance(m.get("lammps_build"), dict)
                 else m.get("lammps_build")}
        runs = {str(f.path): {"command": f.kind.name, "parameters": f.parameters, "started": f.manifest.get("started")}
                for f in mine}
        parts.append(f"<h3>{html.escape(label)}</h3><pre>{html.escape(json.dumps(about, indent=1, default=str))}"
                     f"</pre><pre>{html.escape(json.dumps(runs, indent=1, default=str))}</pre>")
    return "".join(parts)


def page(table: pd.DataFrame, figures: list[tuple[str, str]], folders: list[Folder], warnings: list[str],
         created: str) -> str:
    warned = "".join(f"<p class='warn'>⚠ {html.escape(w)} — not ranked together.</p>" for w in warnings)
    figs = "".join(f"<figure><figcaption><b>{html.escape(title)}</b></figcaption>{image}</figure>"
                   for title, image in figures)
    listed = "".join(f"<li>{html.escape(str(f.path))}: {html.escape(f.kind.name)}, {html.escape(f.label)}</li>"
                     for f in folders)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="generator" content="mdrive compare">
<title>mdrive compare</title><style>{STYLE}</style></head>
<body><h1>Potentials compared</h1>
<p>{len(table)} potentials from {len(folders)} folders, made {html.escape(created)} by mdrive compare. Click a
column to sort. Rank: the mean of the ranks in NVT AUC, NPT AUC, EV-scan failure % and the speed exponent n
(the metrics a potential has; missing protocols are shown as missing, never as zero).</p>
{warned}{table_html(table)}
<h2>Figures</h2>{figs}
<h2>Provenance</h2><ul>{listed}</ul>{provenance_html(folders)}
<script>{SORT}</script></body></html>
"""
