"""`eval golden --html FILE`: one self-contained page (plots as embedded PNG, no external
files or scripts) with the cost-vs-safety curves, reliability diagrams, confusion matrices,
and the per-source and per-label-kind tables.

matplotlib is used through its object API on the Agg canvas, never pyplot, so rendering
touches no global backend state and needs no display.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from router_py.runtime import RuntimeSetupError
from router_tools.eval.curve import Curve, sweep
from router_tools.eval.golden import Figures

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
ROUTER = "router"
RELIABILITY_BINS = 10
MIN_BIN_ITEMS = 5  # bins with fewer items are noise, not calibration


@dataclass(frozen=True)
class RouterView:
    """One router as the page shows it."""

    figures: Figures
    curve: Curve
    scores: F64  # (n, 3)
    by_source: Mapping[str, Figures]
    labels: Mapping[str, Any]  # kind -> LabelReport | None


@dataclass(frozen=True)
class PageInputs:
    title: str
    ideal: I64
    costs: F64  # (n, 3)
    routers: Mapping[str, RouterView]  # the router first, then the baselines


def _figure(width: float, height: float) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise RuntimeSetupError("--html needs matplotlib: pip install 'llm-router-tools[eval]'") from None
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="plot" src="data:image/png;base64,{data}">'


def curves_plot(page: PageInputs) -> str:
    return _png(curves_figure(page))


def write_curves_png(page: PageInputs, path: Path) -> None:
    """The cost-vs-safety curves alone, as a PNG file (the README shows one)."""
    curves_figure(page).savefig(path, format="png", dpi=110)


def curves_figure(page: PageInputs) -> Any:
    fig = _figure(11, 4.4)
    full, zoom = fig.subplots(1, 2)
    budgets = [p.budget for p in next(iter(page.routers.values())).curve.points]
    # Interval bars of different routers at one budget are spread sideways so none hides another.
    gaps = np.diff(sorted({0.0, *budgets}))
    dodge = 0.12 * float(gaps.min()) / len(page.routers) if len(gaps) else 0.0
    for i, (name, view) in enumerate(page.routers.items()):
        s = sweep(view.scores, page.ideal, page.costs)
        under, cost = s.frontier()
        for ax in (full, zoom):
            line = ax.step(under, cost, where="post", label=name, lw=2.2 if name == ROUTER else 1.3)[0]
        pts = [p for p in view.curve.points if p.cost_ratio is not None and p.ci95 is not None]
        if pts:
            y = np.asarray([p.cost_ratio for p in pts])
            lo = np.asarray([p.ci95[0] for p in pts if p.ci95])
            hi = np.asarray([p.ci95[1] for p in pts if p.ci95])
            x = np.asarray([p.budget for p in pts]) + (i - (len(page.routers) - 1) / 2) * dodge
            zoom.errorbar(x, y, yerr=[y - lo, hi - y], fmt="o", ms=3.5, capsize=2, color=line.get_color())
    for ax in (full, zoom):
        for b in budgets:
            ax.axvline(b, color="0.8", lw=0.8, ls=":")
        ax.set_xlabel("under-routed share (routed below the ideal tier)")
        ax.set_ylabel("cost ratio (vs always tier 3)")
        ax.grid(alpha=0.3)
    full.set_title("whole sweep of the risk threshold")
    zoom.set_title("within the budgets: pick and 95 % bootstrap interval")
    zoom.set_xlim(0, max(budgets, default=0.1) * 1.2)
    full.legend(fontsize=8)
    return fig


def _reliability(prob: F64, hit: NDArray[np.bool_]) -> tuple[F64, F64, float]:
    """Mean predicted and observed frequency per probability bin, and the expected calibration error."""
    bins = np.minimum((prob * RELIABILITY_BINS).astype(int), RELIABILITY_BINS - 1)
    xs, ys, ece = [], [], 0.0
    for b in range(RELIABILITY_BINS):
        m = bins == b
        if m.sum() == 0:
            continue
        ece += m.sum() / len(prob) * abs(prob[m].mean() - hit[m].mean())
        if m.sum() >= MIN_BIN_ITEMS:
            xs.append(prob[m].mean())
            ys.append(hit[m].mean())
    return np.asarray(xs), np.asarray(ys), float(ece)


def reliability_plot(page: PageInputs) -> str:
    """The two probabilities the policy thresholds: P(ideal > 1) = p2 + p3 and P(ideal > 2) = p3."""
    fig = _figure(11, 4.4)
    axes = fig.subplots(1, 2)
    for ax, (title, above) in zip(axes, (("P(ideal tier > 1) = p2 + p3", 1), ("P(ideal tier > 2) = p3", 2))):
        ax.plot([0, 1], [0, 1], color="0.6", ls="--", lw=1)
        for name, view in page.routers.items():
            prob = view.scores[:, above:].sum(axis=1)
            if len(np.unique(prob)) < 2:
                continue  # a constant router has nothing to calibrate
            xs, ys, ece = _reliability(prob, page.ideal > above)
            ax.plot(xs, ys, marker="o", ms=3, lw=2.2 if name == ROUTER else 1.2, label=f"{name} (ECE {ece:.3f})")
        ax.set_title(title)
        ax.set_xlabel("predicted probability")
        ax.set_ylabel("observed frequency")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _png(fig)


def confusion_plot(page: PageInputs) -> str:
    names = list(page.routers)
    cols = min(3, len(names))
    rows = (len(names) + cols - 1) // cols
    fig = _figure(3.6 * cols, 3.2 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax, name in zip(axes, names):
        m = np.asarray(page.routers[name].figures.confusion)
        ax.imshow(m, cmap="Blues")
        for i in range(3):
            for j in range(3):
                ax.text(j, i, str(m[i, j]), ha="center", va="center",
                        color="white" if m[i, j] > m.max() / 2 else "black", fontsize=9)
        ax.set_xticks(range(3), ["1", "2", "3"])
        ax.set_yticks(range(3), ["1", "2", "3"])
        ax.set_xlabel("routed tier")
        ax.set_ylabel("ideal tier")
        ax.set_title(name)
    for ax in axes[len(names):]:
        ax.set_axis_off()
    return _png(fig)


def _cell(f: Figures | None) -> str:
    if f is None:
        return "<td>-</td>"
    return f"<td>{f.accuracy:.3f} / {f.under_routed:.3f} / {f.cost_ratio:.3f}</td>"


def _curve_cell(curve: Curve, budget: float) -> str:
    for p in curve.points:
        if p.budget == budget:
            if p.cost_ratio is None:
                return "<td>unreachable</td>"
            ci = f" [{p.ci95[0]:.3f}, {p.ci95[1]:.3f}]" if p.ci95 else ""
            return f"<td>{p.cost_ratio:.3f}{ci}</td>"
    return "<td>-</td>"


def _header(first: Sequence[str], names: Sequence[str]) -> str:
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in (*first, *names))
    return f"<tr>{cells}</tr>"


def tables(page: PageInputs) -> str:
    names = list(page.routers)
    views = list(page.routers.values())
    out = ["<h2>Cost ratio within each under-routing budget</h2>",
           "<p>The lowest cost ratio reached by sweeping the risk threshold on each router's tier "
           "probabilities, with its 95 % bootstrap interval.</p><table>", _header(["budget"], names)]
    for p in views[0].curve.points:
        out.append(f"<tr><td>{p.budget:.0%}</td>" + "".join(_curve_cell(v.curve, p.budget) for v in views) + "</tr>")
    out.append("</table>")
    sources = sorted({s for v in views for s in v.by_source})
    out += ["<h2>Per source</h2><p>accuracy / under-routed / cost ratio at each router's own operating point "
            "(against <code>ideal_tier</code>).</p><table>", _header(["source", "n"], names),
            "<tr><td>all</td>" + f"<td>{views[0].figures.n}</td>" + "".join(_cell(v.figures) for v in views)
            + "</tr>"]
    for s in sources:
        n = next((v.by_source[s].n for v in views if s in v.by_source), 0)
        out.append(f"<tr><td>{html.escape(s)}</td><td>{n}</td>"
                   + "".join(_cell(v.by_source.get(s)) for v in views) + "</tr>")
    out.append("</table>")
    for kind in ("spec", "outcome"):
        reports = [v.labels.get(kind) for v in views]
        first = next((r for r in reports if r is not None), None)
        out.append(f"<h2>Against <code>{kind}_tier</code> only</h2>")
        if first is None:
            out.append(f"<p>No item of this file carries a <code>{kind}_tier</code> label.</p>")
            continue
        out += ["<table>", _header(["source", "n"], names),
                f"<tr><td>all</td><td>{first.n}</td>" + "".join(_cell(r) for r in reports) + "</tr>"]
        for s in sorted(first.by_source):
            out.append(f"<tr><td>{html.escape(s)}</td><td>{first.by_source[s].n}</td>"
                       + "".join(_cell(r.by_source.get(s) if r else None) for r in reports) + "</tr>")
        out.append("</table><p>cost ratio within each budget:</p><table>" + _header(["budget"], names))
        for p in first.curve.points:
            out.append(f"<tr><td>{p.budget:.0%}</td>"
                       + "".join(_curve_cell(r.curve, p.budget) if r else "<td>-</td>" for r in reports) + "</tr>")
        out.append("</table>")
    return "\n".join(out)


STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1250px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;
font-size:13px;text-align:right}th{background:#f2f2f2}td:first-child{text-align:left}img{max-width:100%}"""


def render_page(page: PageInputs) -> str:
    title = html.escape(page.title)
    return "\n".join([
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{title}</title>",
        f"<style>{STYLE}</style></head><body>", f"<h1>{title}</h1>",
        "<h2>Cost vs safety</h2>", curves_plot(page),
        "<h2>Calibration (reliability diagrams)</h2>", reliability_plot(page),
        "<h2>Confusion matrices (rows: ideal tier, columns: routed tier)</h2>", confusion_plot(page),
        tables(page), "</body></html>",
    ])
