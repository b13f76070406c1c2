"""The run report: one self-contained HTML page for the data team, charts embedded as PNG.

It is drawn from the run's manifest only (counts, histograms and rates the pipeline has
already aggregated), so it cannot carry a name, address, date of birth or NHS number.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

log = logging.getLogger("dalink")


@cache
def _pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (no display on a batch server), imported on
    first use: a night's own process need not import it (see ``ReportRenderer``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1d2329;
max-width:1100px}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;
border-bottom:1px solid #ccd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccd;padding:.25rem .6rem;
text-align:right}th{background:#eef1f5}td:first-child,th:first-child{text-align:left}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:1rem}.muted{color:#667}
.up{color:#a40000}.down{color:#006400}img{max-width:100%}
"""


_WIDTH_IN, _HEIGHT_IN = 5.2, 3.0


def _chart(draw: Any, *, title: str, label_chars: int = 0, first_chars: int = 0) -> str:
    """One chart as an ``<img>``.  Margins are set from the longest x label (``label_chars``)
    and the first one (``first_chars``, reaching left of the axes), drawn at 45 degrees; 0
    for numeric ticks.  (tight_layout would draw every chart twice to find them.)"""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(_WIDTH_IN, _HEIGHT_IN), dpi=110)
    draw(axes)
    axes.set_title(title, fontsize=10)
    axes.tick_params(labelsize=8)
    # an 8-point character is about 0.06 in wide; at 45 degrees it drops 0.043 in
    label_in = 0.043 * label_chars + 0.25 if label_chars else 0.42
    left = max(0.13, min(0.35, (0.043 * first_chars) / _WIDTH_IN))
    figure.subplots_adjust(
        left=left, right=0.98, top=0.9, bottom=min(0.6, label_in / _HEIGHT_IN + 0.02)
    )
    buffer = io.BytesIO()
    # Fixed metadata keeps the PNG bytes identical for identical inputs.
    figure.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return f'<img alt="{html.escape(title)}" src="data:image/png;base64,{encoded}">'


def _bar(labels: Sequence[str], values: Sequence[float], *, title: str, ylabel: str) -> str:
    def draw(axes: Any) -> None:
        axes.bar(range(len(values)), values, color="#3b6ea5")
        axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
        axes.set_ylabel(ylabel, fontsize=8)

    return _chart(
        draw,
        title=title,
        label_chars=max((len(str(x)) for x in labels), default=1),
        first_chars=len(str(labels[0])) if len(labels) else 0,
    )


class _Html(str):
    """A cell that is already markup we made (not data): not escaped again."""


def _cell(value: Any) -> str:
    return value if isinstance(value, _Html) else html.escape(str(value))


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _change(now: float, before: float | None) -> _Html:
    if before is None:
        return _Html('<span class="muted">–</span>')
    delta = now - before
    if delta == 0:
        return _Html("0")
    css = "up" if delta > 0 else "down"
    return _Html(f'<span class="{css}">{delta:+g}</span>')


def render_report(manifest: Mapping[str, Any], previous: Mapping[str, Any] | None = None) -> str:
    """The HTML page for one run; ``previous`` is the night before's manifest, if any."""
    stats: Mapping[str, Any] = manifest.get("report", {})
    prev_stats: Mapping[str, Any] = (previous or {}).get("report", {})
    parts = [
        "<!doctype html><html lang=en><meta charset=utf-8>",
        f"<title>dalink run {html.escape(str(manifest['run_id']))}</title><style>{_CSS}</style>",
        f"<h1>dalink run for the night of {html.escape(str(manifest['as_of']))}</h1>",
        f'<p class="muted">run {html.escape(str(manifest["run_id"]))}; started '
        f"{html.escape(str(manifest.get('started_at', '')))}; no identifying data on this page</p>",
    ]

    headline = [
        ("rows read", manifest["rows_read"]),
        ("rows quarantined", manifest["rows_quarantined"]),
        ("persons", manifest["persons"]),
        ("households", manifest["households"]),
        ("communal households", manifest["communal_households"]),
        ("automatic links", manifest["links"]["auto"]),
        ("links to review", manifest["links"]["review_pending"]),
        ("flags", sum(manifest["flags"].values())),
        ("warnings", sum(manifest["warnings"].values())),
    ]
    before = dict(
        [
            ("rows read", (previous or {}).get("rows_read")),
            ("rows quarantined", (previous or {}).get("rows_quarantined")),
            ("persons", (previous or {}).get("persons")),
            ("households", (previous or {}).get("households")),
            ("communal households", (previous or {}).get("communal_households")),
            ("automatic links", ((previous or {}).get("links") or {}).get("auto")),
            ("links to review", ((previous or {}).get("links") or {}).get("review_pending")),
            ("flags", sum(((previous or {}).get("flags") or {}).values()) if previous else None),
            (
                "warnings",
                sum(((previous or {}).get("warnings") or {}).values()) if previous else None,
            ),
        ]
    )
    parts.append("<h2>The night at a glance, and the change since the previous night</h2>")
    parts.append(
        _table(
            ("measure", "tonight", "change"),
            [(name, value, _change(value, before.get(name))) for name, value in headline],
        )
    )

    parts.append("<h2>Inputs and quarantine</h2>")
    parts.append(
        _table(
            ("file", "supplied", "rows read", "loaded", "quarantined"),
            [
                (
                    f["file"],
                    "yes" if f["supplied"] else "no",
                    f["rows_read"],
                    f["rows_loaded"],
                    f["rows_quarantined"],
                )
                for f in manifest["input_files"]
            ],
        )
    )

    charts: list[str] = []
    weights = stats.get("match_weight_histogram")
    if weights:
        edges, counts = weights["edges"], weights["counts"]

        def draw_weights(axes: Any) -> None:
            axes.bar(
                edges[:-1],
                counts,
                width=[b - a for a, b in itertools.pairwise(edges)],
                align="edge",
                color="#3b6ea5",
                edgecolor="white",
            )
            for threshold, colour in (
                (stats.get("review_weight"), "#d08c00"),
                (stats.get("auto_weight"), "#a40000"),
            ):
                if threshold is not None:
                    axes.axvline(threshold, color=colour, linestyle="--", linewidth=1)
            axes.set_xlabel("match weight (log2 Bayes factor)", fontsize=8)
            axes.set_yscale("log")

        charts.append(_chart(draw_weights, title="Match weights of scored pairs"))
    sizes = stats.get("cluster_sizes")
    if sizes:  # 1, 2, ... 10+ (a stored manifest has its keys sorted as text)
        sizes = dict(sorted(sizes.items(), key=lambda kv: int(kv[0].rstrip("+"))))
        charts.append(
            _bar(list(sizes), list(sizes.values()), title="Records per person", ylabel="persons")
        )
    if manifest["flags"]:
        charts.append(
            _bar(
                list(manifest["flags"]),
                list(manifest["flags"].values()),
                title="Flags by rule / status",
                ylabel="flags",
            )
        )
    by_recipient = stats.get("flags_by_recipient_type")
    if by_recipient:
        charts.append(
            _bar(
                list(by_recipient),
                list(by_recipient.values()),
                title="Flags by recipient type",
                ylabel="flags",
            )
        )
    rates = stats.get("link_rate_by_age_sex")
    if rates:
        labels = [f"{r['age_band']} {r['sex']}" for r in rates]
        charts.append(
            _bar(
                labels,
                [round(100 * r["rate"], 1) for r in rates],
                title="Hospital/MH/police records linked to a GP record (%)",
                ylabel="% linked",
            )
        )
    timings = manifest.get("stage_seconds") or stats.get("stage_seconds")
    if timings:
        charts.append(
            _bar(list(timings), list(timings.values()), title="Stage wall time", ylabel="seconds")
        )
    parts.append("<h2>Charts</h2><div class=grid>" + "".join(charts) + "</div>")

    parts.append("<h2>Links</h2>")
    parts.append(_table(("band", "pairs"), list(manifest["links"].items())))
    if rates:
        parts.append(
            "<p>Link rate by age band and sex: under-linkage of some groups is a known bias "
            "in national linkage; a group well below the others needs looking at.</p>"
        )
        parts.append(
            _table(
                ("age band", "sex", "records", "linked to GP", "rate"),
                [
                    (r["age_band"], r["sex"], r["records"], r["linked"], f"{100 * r['rate']:.1f}%")
                    for r in rates
                ],
            )
        )

    parts.append("<h2>Warnings by provider (holiday period split)</h2>")
    providers = stats.get("warnings_by_provider") or []
    parts.append(
        _table(
            ("recipient", "rule", "holiday period", "not holiday"),
            [(w["recipient"], w["rule"], w["holiday"], w["other"]) for w in providers],
        )
        if providers
        else "<p>No warnings tonight.</p>"
    )
    if prev_stats:
        parts.append(
            '<p class="muted">Compared with the previous run '
            f"{html.escape(str((previous or {}).get('run_id', '')))}.</p>"
        )

    parts.append("<h2>Stage timings and memory</h2>")
    parts.append(_table(("stage", "seconds"), list((timings or {}).items())))
    parts.append(f"<p>Peak memory: {manifest.get('peak_rss_mb', 0):.0f} MB</p>")
    parts.append("</html>\n")
    return "\n".join(parts)


class ReportRenderer:
    """Renders a night's report in a process of its own, started when the night starts.

    Importing matplotlib and drawing the charts take about a second and need nothing but
    the manifest (no identifying data), so on a machine with a second core they overlap the
    night's own work instead of adding to it: :meth:`start` hands the manifest over as soon
    as it is known, :meth:`result` collects the page once the other outputs are written.
    The process is ``python -m adapters.report``, reading JSON on stdin and writing the page
    to stdout (it imports nothing of the caller's).  Should it fail, the report is rendered
    in the run, from the same JSON, so the page is the same either way.
    """

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._feeder: threading.Thread | None = None
        self._request = ""
        root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "adapters.report"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
            )
        except OSError as exc:
            log.warning("report: no rendering process (%s); rendering in the run", exc)

    def start(self, manifest: Mapping[str, Any], previous: Mapping[str, Any] | None) -> None:
        """Hand the night's manifest (and the previous night's) to the rendering process."""
        self._request = json.dumps({"manifest": manifest, "previous": previous}, default=str)
        process = self._process
        if process is not None and process.stdin is not None:
            stdin = process.stdin

            def feed() -> None:
                try:
                    stdin.write(self._request.encode())
                    stdin.close()
                except OSError:
                    pass  # the process died: result() notices and renders here

            self._feeder = threading.Thread(target=feed, daemon=True)
            self._feeder.start()

    def result(self) -> str:
        """The page (after :meth:`start`)."""
        process, self._process = self._process, None
        if process is not None and self._feeder is not None and process.stdout is not None:
            self._feeder.join()
            page = process.stdout.read()
            process.stdout.close()
            if process.wait() == 0 and page:
                return page.decode("utf-8")
            log.warning(
                "report: the rendering process failed (exit %s); rendering in the run",
                process.returncode,
            )
        request = json.loads(self._request)
        return render_report(request["manifest"], request["previous"])

    def close(self) -> None:
        """Stop the process if the night ended without collecting a report (a failure)."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._process = None


def _serve() -> None:
    _pyplot()  # while the night works
    request = json.loads(sys.stdin.buffer.read())
    page = render_report(request["manifest"], request["previous"])
    sys.stdout.buffer.write(page.encode("utf-8"))


if __name__ == "__main__":
    _serve()
