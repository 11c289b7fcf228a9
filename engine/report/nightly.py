"""The day's report: one self-contained HTML file (opens offline, no scripts), the same
tables as CSV, and one XLSX workbook."""

from __future__ import annotations

import html
import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from engine.actions.ledger import Ledger
from engine.nightly.analysis import (
    Alert,
    Sample,
    agent_metrics,
    blacklist_pending,
    callbacks_due,
    night_as_of,
    note_reported,
    rule_precision,
    totals,
    weekly_trend,
)
from engine.nightly.config import NightlyConfig
from engine.nightly.versions import (
    NightVersions,
    PackVersion,
    ReauditRecord,
    current_packs,
    night_reaudits,
    night_versions,
)
from engine.outputs import atomic_writer, neutralise_cell, write_text, write_xlsx
from engine.privacy import mask_numbers_in_text, mask_phone
from engine.report.text import clock
from engine.rules.problems import RulePackError

if TYPE_CHECKING:
    import pandas

STYLE = """
body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:2em;color:#222}
h1{font-size:1.6em} h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #ddd;padding:.3em .6em;
text-align:left;vertical-align:top} th{background:#f4f4f4} .num{text-align:right}
.kpi{display:inline-block;margin:0 2em 1em 0} .kpi b{display:block;font-size:1.8em}
mark{background:#ffd54f} .critical{color:#b71c1c;font-weight:bold} .warning{color:#e65100}
.notice{color:#1565c0} .muted{color:#777}
"""


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _table(headers: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{c}</td>'
            if isinstance(c, (int, float)) and not isinstance(c, bool)
            else f"<td>{c if isinstance(c, _Raw) else html.escape(str(c))}</td>"
            for c in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body or '<tr><td colspan=99>none</td></tr>'}</table>"


class _Raw(str):
    """HTML that is already escaped."""


def _trend_svg(trend: list[tuple[str, object]]) -> str:
    """Validity rate per week as bars, invalid calls as numbers: plain inline SVG."""
    width, height, bar = 60 * len(trend) + 40, 180, 36
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'role="img" aria-label="validity rate by week">'
    ]
    for i, (week, t) in enumerate(trend):
        rate = t.validity_rate or 0.0
        h = int(rate * 120)
        x = 30 + i * 60
        parts.append(
            f'<rect x="{x}" y="{140 - h}" width="{bar}" height="{h}" fill="#4caf50">'
            f"<title>{week}: {_pct(t.validity_rate)} valid, {t.invalid} invalid</title>"
            "</rect>"
        )
        parts.append(
            f'<text x="{x + bar / 2}" y="{135 - h}" font-size="11" text-anchor="middle">'
            f"{_pct(t.validity_rate)}</text>"
        )
        parts.append(
            f'<text x="{x + bar / 2}" y="158" font-size="10" text-anchor="middle">{week[5:]}</text>'
        )
        parts.append(
            f'<text x="{x + bar / 2}" y="172" font-size="10" text-anchor="middle" '
            f'fill="#b71c1c">{t.invalid} inv.</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _quoted(evidence: dict, mask: bool) -> str:
    text = evidence.get("text", "")
    text = mask_numbers_in_text(text) if mask else text
    start, end = evidence.get("char_start", 0), evidence.get("char_end", 0)
    return (
        f"[{clock(evidence.get('start'))}] {html.escape(evidence.get('speaker', ''))}: "
        f"{html.escape(text[:start])}<mark>{html.escape(text[start:end])}</mark>"
        f"{html.escape(text[end:])}"
    )


def write_day_report(
    ledger: Ledger,
    config: NightlyConfig,
    day: date,
    folder: Path,
    sample: Sample,
    weekly: Sample | None,
    alerts: list[Alert],
) -> Path:
    """reports/<date>/report.html, tables/*.csv and report.xlsx, from the ledger."""
    import pandas  # here: importing it costs ~0.3 s, which every other command would pay

    mask = config.mask
    phone = mask_phone if mask else (lambda p: p)
    # The night as it was: its calls and those before it, as of its first report.
    as_of = night_as_of(ledger, day)
    day_totals = totals(ledger, day, day)
    trend = weekly_trend(ledger, day, config.trend_weeks)
    agents = agent_metrics(ledger, day, day)
    callbacks = callbacks_due(ledger, day, as_of)
    pending = blacklist_pending(ledger, day, as_of)
    precision = rule_precision(ledger, as_of)
    invalid = ledger.db.execute(
        "SELECT * FROM calls WHERE valid = 0 AND substr(started_at, 1, 10) = ? ORDER BY call_id",
        (day.isoformat(),),
    ).fetchall()
    # The rules the night's verdicts were made under, against the rules as they are now
    # (not compared when a pack the night did not use cannot even be read).
    try:
        current: tuple[PackVersion, ...] | None = current_packs(config.rules)
    except RulePackError:
        current = None
    versions = (night_versions(ledger, day, day, current) or [NightVersions(day, ())])[0]
    reaudits = night_reaudits(ledger, day)

    tables: dict[str, pandas.DataFrame] = {
        "totals": pandas.DataFrame(
            [
                {
                    "date": day.isoformat(),
                    "calls": day_totals.calls,
                    "sales": day_totals.sales,
                    "valid": day_totals.valid,
                    "invalid": day_totals.invalid,
                    "no_sale": day_totals.no_sale,
                    "validity_rate": day_totals.validity_rate,
                }
            ]
        ),
        "by_standard": pandas.DataFrame(
            [{"standard": k, "calls": v} for k, v in day_totals.by_standard.items()]
            + [{"standard": k, "calls": v} for k, v in day_totals.signals.items()],
            columns=["standard", "calls"],
        ),
        "by_rule": pandas.DataFrame(
            [{"rule": k, "calls": v} for k, v in day_totals.by_rule.items()],
            columns=["rule", "calls"],
        ),
        "agents": pandas.DataFrame(
            [
                {
                    "agent": m.agent_id,
                    "calls": m.calls,
                    "sales": m.sales,
                    "valid": m.valid,
                    "invalid": m.invalid,
                    "validity_rate": m.validity_rate,
                    "invalid_rate": m.invalid_rate,
                    "complaint_rate": m.complaint_rate,
                }
                for m in agents
            ],
            columns=[
                "agent",
                "calls",
                "sales",
                "valid",
                "invalid",
                "validity_rate",
                "invalid_rate",
                "complaint_rate",
            ],
        ),
        "trend": pandas.DataFrame(
            [
                {
                    "week": w,
                    "calls": t.calls,
                    "sales": t.sales,
                    "valid": t.valid,
                    "invalid": t.invalid,
                    "validity_rate": t.validity_rate,
                }
                for w, t in trend
            ]
        ),
        "callbacks_due": pandas.DataFrame(
            [
                {
                    "callback_id": r["id"],
                    "call_id": r["call_id"],
                    "phone": phone(r["phone"]),
                    "agent": r["agent_id"],
                    "severity": r["severity"],
                    "due": r["due_date"],
                    "reasons": ", ".join(json.loads(r["reasons"])),
                }
                for r in callbacks
            ],
            columns=["callback_id", "call_id", "phone", "agent", "severity", "due", "reasons"],
        ),
        "blacklist_pending": pandas.DataFrame(
            [
                {
                    "entry": r["id"],
                    "phone": phone(r["phone"]),
                    "call_id": r["call_id"],
                    "agent": r["agent_id"],
                    "proposed": r["proposed_at"],
                }
                for r in pending
            ],
            columns=["entry", "phone", "call_id", "agent", "proposed"],
        ),
        "alerts": pandas.DataFrame(
            [a.__dict__ for a in alerts],
            columns=[
                "warning_id",
                "level",
                "count",
                "threshold",
                "category",
                "window_days",
                "responsible",
            ],
        ),
        "sample": pandas.DataFrame(
            [{"kind": "daily", "call_id": c} for c in sample.calls]
            + [{"kind": "weekly", "call_id": c} for c in (weekly.calls if weekly else ())],
            columns=["kind", "call_id"],
        ),
        "rule_packs": pandas.DataFrame(
            [
                {"pack": u.version.label, "hash": u.version.hash, "calls": u.calls,
                 "current": u.current}
                for u in versions.uses
            ],
            columns=["pack", "hash", "calls", "current"],
        ),
        "rule_precision": pandas.DataFrame(
            [
                {"rule": r, "upheld": u, "overturned": o, "precision": p}
                for r, u, o, p in precision
            ],
            columns=["rule", "upheld", "overturned", "precision"],
        ),
    }
    _write_tables(tables, folder)

    body = [
        f"<h1>callaudit — {day.isoformat()}</h1>",
        f'<p class="muted">{sample.drawn_at} · numbers {"masked" if mask else "NOT masked"}</p>',
    ]
    kpis = [
        ("calls", day_totals.calls),
        ("sales", day_totals.sales),
        ("valid", day_totals.valid),
        ("invalid", day_totals.invalid),
        ("validity rate", _pct(day_totals.validity_rate)),
        ("callbacks due", len(callbacks)),
        ("blacklist pending", len(pending)),
        ("alerts", len(alerts)),
    ]
    if reaudits:
        body.append(f'<p class="muted">{html.escape(reaudits[-1].headline())}</p>')
    body.append("".join(f'<div class="kpi"><b>{v}</b>{k}</div>' for k, v in kpis))
    body.append(_packs_section(versions, reaudits))
    body.append("<h2>Early warnings</h2>")
    body.append(
        _table(
            ["level", "warning", "count", "threshold", "window", "responsible"],
            [
                [
                    _Raw(f'<span class="{a.level}">{a.level}</span>'),
                    f"{a.warning_id} ({a.category})",
                    a.count,
                    a.threshold,
                    f"{a.window_days} day(s)",
                    a.responsible,
                ]
                for a in alerts
            ],
        )
    )
    body.append("<h2>Violations</h2>")
    body.append(
        _table(
            ["standard / signal", "calls"],
            [[k, v] for k, v in {**day_totals.by_standard, **day_totals.signals}.items()],
        )
    )
    body.append(_table(["rule", "calls"], [[k, v] for k, v in day_totals.by_rule.items()]))
    body.append(f"<h2>Trend, last {len(trend)} weeks</h2>" + _trend_svg(trend))
    body.append("<h2>Agents, by invalid rate</h2>")
    body.append(
        _table(
            [
                "agent",
                "calls",
                "sales",
                "valid",
                "invalid",
                "validity",
                "invalid rate",
                "complaint rate",
            ],
            [
                [
                    m.agent_id,
                    m.calls,
                    m.sales,
                    m.valid,
                    m.invalid,
                    _pct(m.validity_rate),
                    _pct(m.invalid_rate),
                    _pct(m.complaint_rate),
                ]
                for m in agents
            ],
        )
    )
    body.append("<h2>Callbacks due</h2>")
    body.append(
        _table(
            ["#", "call", "phone", "agent", "severity", "due", "reasons"],
            tables["callbacks_due"].values.tolist(),
        )
    )
    body.append("<h2>Blacklist proposals awaiting a manager</h2>")
    body.append(
        _table(
            ["#", "phone", "call", "agent", "proposed"], tables["blacklist_pending"].values.tolist()
        )
    )
    body.append(
        f"<h2>Review sample ({len(sample.calls)} valid sales, rate "
        f"{sample.rates.get('base')}, seed {sample.seed})</h2>"
    )
    body.append("<p>" + (", ".join(html.escape(c) for c in sample.calls) or "none") + "</p>")
    if weekly:
        body.append(
            f"<p>Weekly supervisors' sample {weekly.period}: "
            + (", ".join(html.escape(c) for c in weekly.calls) or "none")
            + "</p>"
        )
    body.append("<h2>Rule precision from human reviews and disputes</h2>")
    body.append(_table(["rule", "upheld", "overturned", "precision"],
                       [[r, u, o, _pct(p)] for r, u, o, p in precision]))
    body.append(f"<h2>Invalid calls ({len(invalid)}): all go to callback</h2>")
    for call in invalid:
        rows = ledger.db.execute(
            "SELECT * FROM findings WHERE call_id = ? AND active = 1 AND "
            "waiver IS NULL ORDER BY rule_id",
            (call["call_id"],),
        ).fetchall()
        body.append(
            f"<h3>{html.escape(call['call_id'])} · agent "
            f"{html.escape(call['agent_id'] or '?')} · {phone(call['phone']) or ''} · "
            f"{', '.join(json.loads(call['violations']))}</h3>"
        )
        items = []
        for f in rows:
            quotes = "<br>".join(_quoted(e, mask) for e in json.loads(f["evidence"]))
            items.append([f["severity"], f["standard"], f["rule_id"], f["message"], _Raw(quotes)])
        body.append(_table(["severity", "standard", "rule", "message", "evidence"], items))
    page = (
        '<!doctype html><html lang="zh"><head><meta charset="utf-8">'
        f"<title>callaudit {day.isoformat()}</title><style>{STYLE}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
    path = folder / "report.html"
    write_text(path, page)
    note_reported(ledger, day, as_of)
    return path


def _packs_section(versions: NightVersions, reaudits: list[ReauditRecord]) -> str:
    """The rule packs the night's current verdicts were made under, a warning when they
    were more than one version of a pack or not the current rules, and the night's
    re-audits."""
    parts = ["<h2>Rule packs</h2>"]
    if versions.uses:
        parts.append(f"<p>This night's {versions.calls} call(s) were audited under:</p><ul>"
                     + "".join(f"<li>{html.escape(u.describe())}"
                               + (" — current rules" if u.current else
                                  ' — <span class="warning">not the current rules</span>'
                                  if u.current is False else "") + "</li>"
                               for u in versions.uses) + "</ul>")
    else:
        parts.append("<p>No calls of this night in the ledger.</p>")
    parts.extend(f'<p class="warning">⚠ {html.escape(w)}</p>' for w in versions.warnings())
    parts.extend(f"<p>{html.escape(r.line())}</p>" for r in reaudits)
    return "\n".join(parts)


def _write_tables(tables: dict[str, pandas.DataFrame], folder: Path) -> None:
    """tables/<name>.csv and report.xlsx, each written atomically. Text cells are
    neutralised (a call id '=HYPERLINK(...)' is never a live formula) and an XLSX cell
    shows control characters escaped (openpyxl refuses them, which stopped the night)."""
    import pandas

    csv_folder = folder / "tables"
    csv_folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        safe = frame.apply(
            lambda column: column
            if pandas.api.types.is_numeric_dtype(column)
            else column.map(neutralise_cell)
        ) if len(frame) else frame
        write_text(csv_folder / f"{name}.csv", safe.to_csv(index=False), encoding="utf-8-sig")
    with atomic_writer(folder / "report.xlsx") as out:
        write_xlsx(out, {name: (list(frame.columns), frame.itertuples(index=False, name=None))
                         for name, frame in tables.items()})
