"""The validation report: ``metrics.csv``, ``summary.json`` and a self-contained ``report.html``.

Everything but the timings is a function of the per-case records (``cases/<id>.json``)
and case files (``cases/<id>.vtu``), taken in case-id order, so a resumed validation
writes the same ``summary.json`` as one that ran straight through.

``report.html`` needs no network and no other file: inline CSS, charts and pictures
embedded as base64 PNGs. Its sections: verdict of the thresholds, settings, summary
table (per output: RRMSE, Q2, largest error and where, coverage of the 95 % interval),
timings and speed-up, parity plots, error histograms, learning curve (when the run
folder has one), the worst cases rendered (reference | prediction | error | std),
every case, and the comparison with other runs.
"""
from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mesh.problem import ProblemDefinition

from . import html as H
from .metrics import combine_field, combine_scalar

log = logging.getLogger(__name__)

SUMMARY = "summary.json"
METRICS = "metrics.csv"
REPORT = "report.html"
PICTURES = "pictures"
FORMAT = "mesh-surrogates-validation"
CSV_COLUMNS = ["output", "kind", "unit", "rrmse", "q2", "max_abs_error", "max_abs_error_case",
               "max_abs_error_node", "max_abs_error_x", "max_abs_error_y", "max_abs_error_z",
               "coverage95", "n_cases", "max_rrmse", "passed"]
#: at most this many (node, case) values per field in a parity plot
PARITY_POINTS = 40_000


# ---------------------------------------------------------------------- summary
def _clean(v: Any) -> Any:
    """NaN -> None, numpy -> Python, recursively (summary.json is strict JSON)."""
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _stats(values: Sequence[float]) -> dict[str, float] | None:
    v = np.asarray([x for x in values if x is not None], float)
    if not v.size:
        return None
    return {"median": float(np.median(v)), "mean": float(v.mean()), "min": float(v.min()),
            "max": float(v.max()), "total": float(v.sum())}


def summarize(records: list[dict[str, Any]], problem: ProblemDefinition, settings: dict[str, Any], *,
              thresholds: dict[str, float] | None = None, failures: list[dict[str, Any]] | None = None,
              n_worst: int = 3) -> dict[str, Any]:
    """Set metrics, thresholds, worst cases and timings from the per-case records.

    Parameters
    ----------
    records : the case records (``cases/<id>.json``), sorted by id.
    problem : the model's problem definition (which outputs, their units).
    settings : what was validated (run, dataset, cases), copied into the summary.
    thresholds : output name -> largest acceptable RRMSE.
    failures : cases that failed: reference solves (``{id, error, message}``) and
        predictions (``{id, stage: "prediction", error, message}``); a failed prediction
        fails the validation.
    n_worst : how many worst cases to list.

    Returns
    -------
    The content of ``summary.json`` (NaN written as null). Everything but ``timings``
    depends on the records' metrics only.
    """
    ids = [r["id"] for r in records]
    outputs: dict[str, Any] = {}
    for name, feat in problem.outputs.items():
        stats = [r["fields"][name] for r in records if name in r["fields"]]
        if stats:
            outputs[name] = {"kind": "field", "unit": feat.unit, "location": feat.location,
                             **combine_field(stats, [r["id"] for r in records if name in r["fields"]])}
    for name, feat in problem.output_scalars.items():
        stats = [r["scalars"][name] for r in records if name in r["scalars"]]
        if stats:
            outputs[name] = {"kind": "scalar", "unit": feat.unit,
                             **combine_scalar(stats, [r["id"] for r in records if name in r["scalars"]])}
    checks = {}
    for name, limit in (thresholds or {}).items():
        value = outputs.get(name, {}).get("rrmse", math.nan)
        checks[name] = {"max_rrmse": float(limit), "rrmse": value,
                        "passed": bool(value is not None and math.isfinite(value) and value <= limit)}
    order = sorted(range(len(records)), key=lambda i: (-_nan_low(records[i]["score"]), ids[i]))
    worst = []
    for i in order[:n_worst]:
        r = records[i]
        per = {k: s["rrmse"] for k, s in r["fields"].items()}
        field = max(per, key=lambda k: _nan_low(per[k])) if per else None
        worst.append({"id": r["id"], "score": r["score"], "field": field,
                      "field_rrmse": per.get(field) if field else None})
    cases = [{"id": r["id"], "source": r["source"], "n_points": r["n_points"], "inputs": r["inputs"],
              "score": r["score"],
              "rrmse": {**{k: s["rrmse"] for k, s in r["fields"].items()},
                        **{k: s["rel_error"] for k, s in r["scalars"].items()}},
              "warnings": r.get("warnings", [])} for r in records]
    uncertainty = sorted({r.get("uncertainty", "none") for r in records})
    failures = [{"id": f["id"], "stage": f.get("stage", "reference solve"), "error": f["error"],
                 "message": f["message"]} for f in failures or []]
    predicted_all = not any(f["stage"] == "prediction" for f in failures)
    summary = {
        "format": FORMAT, "version": 1,
        "validation": {**settings, "n_cases": len(records), "uncertainty": "; ".join(uncertainty)},
        "outputs": outputs,
        "thresholds": checks,
        "passed": all(c["passed"] for c in checks.values()) and predicted_all,
        "worst_cases": worst,
        "cases": cases,
        "failures": failures,
        "timings": timings_summary(records),
    }
    return _clean(summary)


def _nan_low(v: float | None) -> float:
    return -math.inf if v is None or math.isnan(v) else v


def timings_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Prediction and FEM times (median, mean, min, max, total) and per-case speed-ups."""
    t = [r["timings"] for r in records]
    stages = sorted({k for x in t for k in x.get("predict_stages", {})})
    speed = [x["fem_solve_s"] / x["predict_s"] if x.get("fem_solve_s") and x["predict_s"] > 0 else None
             for x in t]
    return {
        "predict_s": _stats([x["predict_s"] for x in t]),
        "predict_stages_s": {s: float(np.median([x["predict_stages"][s] for x in t
                                                 if s in x.get("predict_stages", {})])) for s in stages},
        "fem_solve_s": _stats([x.get("fem_solve_s") for x in t]),
        "fem_mesh_s": _stats([x.get("fem_mesh_s") for x in t]),
        "speedup": _stats(speed),
        "cases": {r["id"]: {"predict_s": x["predict_s"], "fem_solve_s": x.get("fem_solve_s"),
                            "speedup": s} for r, x, s in zip(records, t, speed)},
    }


# ------------------------------------------------------------------------ files
def write_metrics_csv(path: Path, summary: dict[str, Any]) -> Path:
    """One row per output with the numbers of ``summary.json`` (full precision; empty = n/a)."""
    def cell(v: Any) -> str:
        if v is None:
            return ""
        return repr(float(v)) if isinstance(v, float) else str(v)

    rows = []
    for name, o in summary["outputs"].items():
        xyz = list(o.get("max_abs_error_coords") or []) + [None] * 3
        th = summary["thresholds"].get(name, {})
        rows.append([name, o["kind"], o["unit"] or "", o["rrmse"], o["q2"], o["max_abs_error"],
                     o["max_abs_error_case"], o["max_abs_error_node"], *xyz[:3], o["coverage95"],
                     o["n_cases"], th.get("max_rrmse"), th.get("passed")])
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        for row in rows:
            w.writerow([cell(v) for v in row])
    return path


def write_summary_json(path: Path, summary: dict[str, Any]) -> Path:
    """``summary.json`` (strict JSON: NaN written as null)."""
    path.write_text(json.dumps(summary, indent=1, allow_nan=False))
    return path


# --------------------------------------------------------------- data for charts
def _case_arrays(cases_dir: Path, ids: list[str], fields: list[str]) -> dict[str, dict[str, list]]:
    """field -> {"ref": [...], "pred": [...], "scale": [...]} read back from the case VTUs."""
    from mesh.io import read

    out: dict[str, dict[str, list]] = {f: {"ref": [], "pred": []} for f in fields}
    for cid in ids:
        m = read(cases_dir / f"{cid}.vtu")
        for f in fields:
            for key, dest in ((f"{f}_ref", "ref"), (f, "pred")):
                if key in m.point_data:
                    v = np.asarray(m.point_data[key], float)
                elif key in m.cell_data:
                    v = np.concatenate([np.asarray(a, float) for a in m.cell_data[key]])
                else:
                    break
                out[f][dest].append(v)
    return out


def _parity_sample(refs: list[np.ndarray], preds: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Pooled values of every component, a fixed random subset when there are too many."""
    rng = np.random.default_rng(0)
    per_case = max(1, PARITY_POINTS // max(1, len(refs)))
    rs, ps = [], []
    for r, p in zip(refs, preds):
        r, p = r.reshape(len(r), -1).ravel(), p.reshape(len(p), -1).ravel()
        if len(r) > per_case:
            k = rng.choice(len(r), per_case, replace=False)
            r, p = r[k], p[k]
        rs.append(r)
        ps.append(p)
    return np.concatenate(rs), np.concatenate(ps)


def _relative_errors(refs: list[np.ndarray], preds: list[np.ndarray]) -> tuple[np.ndarray, str]:
    out = []
    vector = refs[0].ndim > 1 and refs[0].shape[1] > 1
    for r, p in zip(refs, preds):
        r2, p2 = r.reshape(len(r), -1), p.reshape(len(p), -1)
        scale = float(np.max(np.linalg.norm(r2, axis=1))) or 1.0
        e = np.linalg.norm(p2 - r2, axis=1) if vector else (p2 - r2)[:, 0]
        out.append(e / scale)
    what = ("|pred - ref| / ||ref||_inf per node" if vector else "(pred - ref) / ||ref||_inf per node")
    return np.concatenate(out), what


# ------------------------------------------------------------------- learning curve
def find_learning_curve(run_dir: Path | None, metrics: dict[str, Any] | None
                        ) -> tuple[str, list[float], dict[str, list[float]]] | None:
    """The learning curve of a run, if it has one: (x name, x, name -> y values).

    Looked for in ``learning_curve.csv`` (header; first column x, the others series),
    then in the model's metrics: ``learning_curve`` (mapping of equal-length lists, x
    first, or a list of row mappings), then lists named ``*history*`` / ``*curve*``
    (against their index).
    """
    if run_dir is not None and (Path(run_dir) / "learning_curve.csv").exists():
        with open(Path(run_dir) / "learning_curve.csv", newline="") as f:
            rows = [r for r in csv.reader(f) if r]
        if len(rows) >= 2:
            head, body = rows[0], rows[1:]
            cols = {h: [_float(r[i]) if i < len(r) else math.nan for r in body] for i, h in enumerate(head)}
            x_name = head[0]
            return x_name, cols[x_name], {h: cols[h] for h in head[1:]}
    metrics = metrics or {}
    lc = metrics.get("learning_curve")
    if isinstance(lc, list) and lc and all(isinstance(r, dict) for r in lc):
        keys = list(lc[0])
        lc = {k: [r.get(k, math.nan) for r in lc] for k in keys}
    if isinstance(lc, dict) and lc:
        cols = {k: v for k, v in lc.items() if isinstance(v, list) and v}
        if len(cols) >= 2:
            x_name = next(iter(cols))
            return x_name, [_float(a) for a in cols[x_name]], {
                k: [_float(a) for a in v] for k, v in cols.items() if k != x_name}
    series = {k: [_float(a) for a in v] for k, v in metrics.items()
              if ("history" in k or "curve" in k) and isinstance(v, list) and len(v) > 1
              and all(isinstance(a, (int, float)) for a in v)}
    if series:
        n = max(len(v) for v in series.values())
        return "step", list(range(1, n + 1)), series
    return None


def _float(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


# -------------------------------------------------------------------------- HTML
def write_report(out: Path, summary: dict[str, Any], records: list[dict[str, Any]], cases_dir: Path,
                 problem: ProblemDefinition, *, run_dir: Path | None = None,
                 model_metrics: dict[str, Any] | None = None, pictures: bool = True,
                 extra_html: str = "") -> Path:
    """Write ``metrics.csv``, ``summary.json`` and ``report.html`` into ``out``; return the HTML path.

    Parameters
    ----------
    out : the report folder.
    summary : from :func:`summarize`.
    records : the case records, sorted by id (as given to :func:`summarize`).
    cases_dir : the folder of the case files (``<id>.vtu``) the charts read back.
    problem : the model's problem definition.
    run_dir, model_metrics : where to look for a learning curve.
    pictures : render the worst cases (pyvista, off-screen); when rendering fails the
        report says why and goes on.
    extra_html : a section appended to the page (the comparison with other runs).
    """
    out.mkdir(parents=True, exist_ok=True)
    write_metrics_csv(out / METRICS, summary)
    write_summary_json(out / SUMMARY, summary)
    ids = [r["id"] for r in records]
    body = [_header(summary), _verdict(summary), _summary_table(summary), _timings(summary)]
    fields = [n for n, o in summary["outputs"].items() if o["kind"] == "field"]
    arrays = _case_arrays(cases_dir, ids, fields) if ids else {}
    body.append(_parity_section(summary, records, arrays))
    body.append(_histogram_section(summary, records, arrays))
    body.append(_rollout_section(records))
    body.append(_learning_section(run_dir, model_metrics))
    body.append(_worst_section(summary, cases_dir, out / PICTURES, pictures))
    body.append(_cases_section(summary))
    body.append(extra_html)
    body.append(_problems_section(summary))
    v = summary["validation"]
    path = out / REPORT
    path.write_text(H.page(f"Validation of {v.get('run_name', 'a model')}", "\n".join(body)))
    return path


def _header(s: dict[str, Any]) -> str:
    v = s["validation"]
    rows = [("model", f"{H.esc(v.get('family', '?'))} &mdash; <code>{H.esc(v.get('run', '?'))}</code>"),
            ("dataset", (f"{H.esc(v.get('dataset_name', ''))} &mdash; "
                         f"<code>{H.esc(v.get('dataset', '?'))}</code>")),
            ("cases", f"{v['n_cases']} &mdash; {H.esc(v.get('cases', ''))}"),
            ("references", H.esc(v.get("references", ""))),
            ("uncertainty", H.esc(v.get("uncertainty", "none")))]
    return (f"<h1>Validation of {H.esc(v.get('run_name', 'a model'))}</h1>"
            f"<p class='sub'>{H.esc(v.get('family', ''))} surrogate against "
            f"{H.esc(v.get('references', 'reference solutions'))}</p>"
            + H.table(["", ""], [(f"<b>{k}</b>", x) for k, x in rows], left=2))


def _verdict(s: dict[str, Any]) -> str:
    checks = s["thresholds"]
    failed = [f"{H.esc(k)}: RRMSE {H.num(c['rrmse'])} &gt; {H.num(c['max_rrmse'])}"
              for k, c in checks.items() if not c["passed"]]
    crashed = [f["id"] for f in s["failures"] if f["stage"] == "prediction"]
    if crashed:
        failed.append(f"the model failed to predict {len(crashed)} case(s): {H.esc(', '.join(crashed[:10]))}")
    if not checks and not failed:
        return ""
    if failed:
        return f"<div class='banner bad'>FAILED &mdash; {'; '.join(failed)}</div>"
    ok = ", ".join(f"{H.esc(k)} &le; {H.num(c['max_rrmse'])}" for k, c in checks.items())
    return f"<div class='banner ok'>PASSED &mdash; RRMSE {ok}</div>"


def _summary_table(s: dict[str, Any]) -> str:
    rows, classes = [], []
    for name, o in s["outputs"].items():
        where = ""
        if o["max_abs_error_case"] is not None:
            where = H.esc(o["max_abs_error_case"])
            if o["max_abs_error_node"] is not None:
                xyz = ", ".join(f"{c:.3g}" for c in o["max_abs_error_coords"] or [])
                kind = "cell" if o.get("location") == "cell" else "node"
                where += f", {kind} {o['max_abs_error_node']} ({xyz})"
        th = s["thresholds"].get(name)
        limit = "" if th is None else f"&le; {H.num(th['max_rrmse'])} {'pass' if th['passed'] else 'FAIL'}"
        rows.append([f"<b>{H.esc(name)}</b>", o["kind"], H.esc(o["unit"] or ""), H.num(o["rrmse"]),
                     H.num(o["q2"], ".4f"), H.num(o["max_abs_error"]), where, H.pct(o["coverage95"]),
                     str(o["n_cases"]), limit])
        classes.append("" if th is None else ("pass" if th["passed"] else "fail"))
    note = ("<p class='note'>RRMSE of a field: sqrt(mean over cases of (1/N) ||u_ref - u_pred||&sup2; / "
            "||u_ref||&sup2;<sub>&infin;</sub>); of a scalar: "
            "sqrt(mean of ((w_ref - w_pred) / w_ref)&sup2;). "
            "Q2 = 1 - SSE/SST over every node of every case. Coverage: share of reference values inside "
            "the predicted 95 % interval (2.5&ndash;97.5 % quantiles, or mean &plusmn; 1.96 std). "
            "Largest error: at which case and node (coordinates).</p>")
    return ("<h2>Summary</h2>" + H.table(
        ["output", "kind", "unit", "RRMSE", "Q2", "max abs error", "where", "coverage 95 %", "cases",
         "threshold"], rows, left=3, row_classes=classes) + note)


def _timings(s: dict[str, Any]) -> str:
    t = s["timings"]
    rows = []

    def row(label: str, st: dict | None, unit: str = "s", scale: float = 1.0) -> None:
        if st:
            rows.append([label, *(H.num(scale * st[k]) + f" {unit}"
                                  for k in ("median", "mean", "min", "max"))])

    row("surrogate prediction", t["predict_s"], "ms", 1e3)
    for stage, v in t["predict_stages_s"].items():
        rows.append([f"&nbsp;&nbsp;stage '{H.esc(stage)}'", H.num(1e3 * v) + " ms", "", "", ""])
    row("FEM solve", t["fem_solve_s"])
    row("FEM meshing", t["fem_mesh_s"])
    row("speed-up (FEM solve / prediction)", t["speedup"], "&times;")
    note = ("<p class='note'>Wall-clock times per case. The surrogate time is one call of "
            "<code>predict</code> on the case's mesh (morphing/transfer included), in this process; "
            "the FEM time is the solve recorded when the reference was computed.</p>")
    if not t["fem_solve_s"]:
        note += "<p class='note'>No FEM timings are known for these references: no speed-up.</p>"
    return "<h2>Timings</h2>" + H.table(["", "median", "mean", "min", "max"], rows) + note


def _parity_section(s: dict[str, Any], records: list[dict[str, Any]], arrays: dict) -> str:
    from . import plots

    figs = []
    for name, o in s["outputs"].items():
        if o["kind"] == "field":
            a = arrays.get(name)
            if not a or not a["ref"]:
                continue
            r, p = _parity_sample(a["ref"], a["pred"])
            png = plots.parity_field(name, o["unit"], r, p, o["rrmse"], o["q2"])
        else:
            st = [rec["scalars"][name] for rec in records if name in rec["scalars"]]
            std = [x["std"] for x in st]
            png = plots.parity_scalar(name, o["unit"], np.array([x["ref"] for x in st]),
                                      np.array([x["pred"] for x in st]),
                                      None if any(v is None for v in std) else np.array(std),
                                      o["rrmse"], o["q2"])
        figs.append(H.img(png, f"parity plot of {name}"))
    return ("<h2>Parity plots</h2><p class='note'>Predicted against reference values: fields pooled "
            f"over nodes and cases (at most {PARITY_POINTS:,} values drawn at random); scalars one point "
            "per case with the predicted 95 % interval.</p><div class='grid'>" + "".join(figs) + "</div>")


def _histogram_section(s: dict[str, Any], records: list[dict[str, Any]], arrays: dict) -> str:
    from . import plots

    figs = []
    for name, o in s["outputs"].items():
        if o["kind"] == "field":
            a = arrays.get(name)
            if not a or not a["ref"]:
                continue
            e, what = _relative_errors(a["ref"], a["pred"])
        else:
            st = [rec["scalars"][name] for rec in records if name in rec["scalars"]]
            e = np.array([(x["pred"] - x["ref"]) / x["ref"] if x["ref"] else math.nan for x in st])
            what = "(pred - ref) / |ref| per case"
        figs.append(H.img(plots.error_histogram(name, e, what), f"error histogram of {name}"))
    return "<h2>Error histograms</h2><div class='grid'>" + "".join(figs) + "</div>"


def rollout_curves(records: list[dict[str, Any]]) -> tuple[list[float], dict[str, tuple[np.ndarray, np.ndarray]]] | None:
    """Mean and worst relative error curves of the rollout cases, per field, on the steps all
    cases share; None when no case is a rollout."""
    roll = [r["rollout"] for r in records if "rollout" in r]
    if not roll:
        return None
    n = min(len(r["times"]) for r in roll)
    curves = {}
    for name in roll[0]["rmse"]:
        rel = np.array([np.asarray(r["rmse"][name][:n], float) / r["ref_inf"][name]
                        for r in roll if r["ref_inf"].get(name)])
        if len(rel):
            curves[name] = (rel.mean(axis=0), rel.max(axis=0))
    return roll[0]["times"][:n], curves


def _rollout_section(records: list[dict[str, Any]]) -> str:
    from . import plots

    rc = rollout_curves(records)
    if rc is None:
        return ""
    times, curves = rc
    return ("<h2>Error along the rollouts</h2><p class='note'>Each case is rolled out from its "
            "reference initial state over all its steps; the metrics above pool every predicted "
            "step, while the parity plots, histograms and pictures show the final state. Every "
            "state of a case is in <code>cases/&lt;id&gt;_series.xdmf</code> (open it with "
            "<code>surrogate view</code> for a time slider).</p>"
            + H.img(plots.error_over_time(times, curves), "rollout error against time"))


def _learning_section(run_dir: Path | None, metrics: dict[str, Any] | None) -> str:
    from . import plots

    lc = find_learning_curve(run_dir, metrics)
    if lc is None:
        return ("<h2>Learning curve</h2><p class='note'>The run folder has no learning curve "
                "(<code>learning_curve.csv</code> or <code>learning_curve</code> in the model's "
                "metrics).</p>")
    x_name, x, series = lc
    return "<h2>Learning curve</h2>" + H.img(plots.learning_curve(x_name, x, series), "learning curve")


def _worst_section(s: dict[str, Any], cases_dir: Path, pic_dir: Path, pictures: bool) -> str:
    worst = s["worst_cases"]
    if not worst:
        return ""
    parts = [("<h2>Worst cases</h2><p class='note'>The cases with the largest mean RRMSE over the "
              "fields, each shown on its worst field: reference | prediction | error | predictive std. "
              "Reference and prediction share one colour scale.</p>")]
    if not pictures:
        parts.append("<p class='note'>Pictures were not requested.</p>")
    units = {k: o["unit"] for k, o in s["outputs"].items()}
    todo = [w for w in worst if pictures and w["field"] is not None]
    from .pictures import render_cases

    errors = dict(zip([w["id"] for w in todo], render_cases(
        [(cases_dir / f"{w['id']}.vtu", w["field"], pic_dir / f"{w['id']}-{w['field']}.png",
          units.get(w["field"])) for w in todo])))
    for w in worst:
        caption = (f"case <b>{H.esc(w['id'])}</b>: mean field RRMSE {H.num(w['score'])}; "
                   f"{H.esc(w['field'])}: RRMSE {H.num(w['field_rrmse'])}")
        if w["id"] not in errors:
            parts.append(f"<p>{caption}</p>")
        elif errors[w["id"]] is None:
            png = pic_dir / f"{w['id']}-{w['field']}.png"
            parts.append(H.img(png.read_bytes(), f"case {w['id']}", caption))
        else:
            log.warning("cannot render case %s: %s", w["id"], errors[w["id"]])
            parts.append(f"<p>{caption}</p><p class='note'>picture unavailable: {H.esc(errors[w['id']])}</p>")
    return "".join(parts)


def _cases_section(s: dict[str, Any]) -> str:
    cases = s["cases"]
    if not cases:
        return ""
    names = list(dict.fromkeys(k for c in cases for k in c["rrmse"]))
    inputs = list(dict.fromkeys(k for c in cases for k in c["inputs"]))
    tc = s["timings"]["cases"]
    rows = []
    for c in sorted(cases, key=lambda c: -_nan_low(c["score"])):
        t = tc.get(c["id"], {})
        rows.append([H.esc(c["id"]), str(c["n_points"]), *(H.num(c["inputs"].get(k)) for k in inputs),
                     H.num(c["score"]), *(H.num(c["rrmse"].get(k)) for k in names),
                     H.num(1e3 * t["predict_s"]) if t.get("predict_s") else "n/a",
                     H.num(t.get("fem_solve_s")), H.num(t.get("speedup")),
                     "&#9888;" if c["warnings"] else ""])
    header = ["case", "nodes", *map(H.esc, inputs), "mean RRMSE", *map(H.esc, names), "predict ms",
              "FEM s", "speed-up", "warn"]
    return ("<h2>Every case</h2><details><summary>" + f"{len(cases)} cases, worst first "
            "(per-case RRMSE of each field; relative error of each scalar)</summary>"
            + H.table(header, rows) + "</details>")


def _problems_section(s: dict[str, Any]) -> str:
    parts = []
    if s["failures"]:
        parts.append("<h2>Failures</h2><p class='note'>Cases left out of the metrics: the reference "
                     "could not be solved, or the model raised while predicting (which fails the "
                     "validation).</p>" + H.table(
                         ["case", "stage", "error", "message"],
                         [[H.esc(f["id"]), H.esc(f["stage"]), H.esc(f["error"]), H.esc(f["message"])]
                          for f in s["failures"]], left=4))
    warned = [c for c in s["cases"] if c["warnings"]]
    if warned:
        parts.append("<h2>Warnings</h2><p class='note'>Raised by the model while predicting "
                     "(e.g. inputs outside the training range: an extrapolation).</p>" + H.table(
                         ["case", "warning"], [[H.esc(c["id"]), "<br>".join(map(H.esc, c["warnings"]))]
                                               for c in warned], left=2))
    return "".join(parts)
