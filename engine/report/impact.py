"""`rules impact` as a person or a script reads it: text for a terminal, JSON, an HTML page.

Quotes come from transcripts: control characters are escaped in text, everything is
escaped in HTML, and numbers are masked unless the report was built unmasked."""

from __future__ import annotations

import html
import json
from dataclasses import asdict
from typing import Any

from engine.impact import ACTION_KINDS, IMPACT_SCHEMA, Example, ImpactReport, RuleImpact
from engine.outputs import escape_controls as shown
from engine.report.text import clock

ACTION_NAMES = {
    "callback": "callbacks", "blacklist": "blacklist proposals", "dnc": "do-not-call entries",
    "agent_recheck": "agent re-checks", "trial_open": "trial obligations opened",
    "trial_confirmation": "trial confirmations", "callback_result": "callback results",
}


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def to_json(report: ImpactReport, seconds: float | None = None) -> dict[str, Any]:
    return {
        "schema": IMPACT_SCHEMA,
        "before": report.before,
        "after": report.after,
        "calls": report.calls,
        "compared": report.compared,
        "not_in_ledger": report.not_in_ledger,
        "rejected": report.rejected,
        "packs": report.packs,
        "flips": dict(report.flips),
        "flip_examples": dict(report.flip_examples),
        "standards": {s: {"violated_now": c["+"], "no_longer_violated": c["-"]}
                      for s, c in sorted(report.standards.items())},
        "rules": {
            rule_id: {
                "added": r.added, "removed": r.removed, "restated": r.restated,
                "added_examples": [asdict(e) for e in r.added_examples],
                "removed_examples": [asdict(e) for e in r.removed_examples],
                "reviewed_before": {"upheld": r.reviewed_before[0],
                                    "overturned": r.reviewed_before[1],
                                    "precision": RuleImpact.precision(r.reviewed_before)},
                "reviewed_after": {"upheld": r.reviewed_after[0],
                                   "overturned": r.reviewed_after[1],
                                   "precision": RuleImpact.precision(r.reviewed_after)},
            }
            for rule_id, r in sorted(report.rules.items()) if _changed(r)
        },
        "actions": {k: {"created": c["created"], "withdrawn": c["withdrawn"]}
                    for k, c in sorted(report.actions.items())},
        "action_examples": dict(report.action_examples),
        "upheld_lost": [asdict(f) for f in report.upheld_lost],
        "overturned_raised": [asdict(f) for f in report.overturned_raised],
        "missed_now_caught": [{"call_id": c, "standard": s} for c, s in report.missed_caught],
        "versions": report.versions,
        "reuse": {"rule_runs": report.rule_runs, "reused": report.reused_rules},
        "metrics": report.metrics(),
        "seconds": None if seconds is None else round(seconds, 2),
    }


def _changed(rule: RuleImpact) -> bool:
    return bool(rule.added or rule.removed or rule.restated)


def _example(e: Example) -> str:
    return f"{shown(e.call_id)} [{clock(e.at)}] “{shown(e.quote)}”"


def to_text(report: ImpactReport, seconds: float | None = None) -> str:
    lines = [f"rules impact: {shown(report.before)} → {shown(report.after)}"]
    for language, pack in sorted(report.packs.items()):
        lines.append(f"  {language}: {shown(pack['before']['pack'])} "
                     f"({pack['before']['hash'][7:19]}) → {shown(pack['after']['pack'])} "
                     f"({pack['after']['hash'][7:19]})")
        if pack["identical"]:
            lines.append("    no change")
            continue
        if pack["settings_changed"]:
            lines.append("    pack settings changed (pack.yaml, catalogue): every rule re-run")
        for rule in pack["rules"]:
            lines.append(f"    {rule['change']:<20} {shown(rule['id'])}  ({shown(rule['source'])})")
    counted = f"{report.compared} call(s) compared"
    if report.not_in_ledger:
        counted += f"; {report.not_in_ledger} not in the ledger (skipped)"
    if report.rejected:
        counted += f"; {len(report.rejected)} record(s) rejected"
    lines += ["", counted]
    lines.append("")
    lines.append("Verdicts")
    if not report.flips:
        lines.append("  no verdict changes")
    for flip, n in sorted(report.flips.items()):
        examples = ", ".join(shown(c) for c in report.flip_examples.get(flip, []))
        lines.append(f"  {flip:<20} {n:>5}   e.g. {examples}")
    for standard, counts in sorted(report.standards.items()):
        lines.append(f"  {standard:<20} +{counts['+']} call(s) now violate it, "
                     f"-{counts['-']} no longer")
    lines += ["", "Findings by rule"]
    changed = [(rule_id, r) for rule_id, r in sorted(report.rules.items()) if _changed(r)]
    if not changed:
        lines.append("  no finding appears or disappears")
    for rule_id, r in changed:
        head = f"  {shown(rule_id)}: +{r.added} -{r.removed}"
        if r.restated:
            head += f", {r.restated} restated (severity or waiver)"
        before, after = RuleImpact.precision(r.reviewed_before), \
            RuleImpact.precision(r.reviewed_after)
        if before is not None or after is not None:
            head += (f"; reviewed precision {_share(before)} "
                     f"({r.reviewed_before[0]}/{sum(r.reviewed_before)}) → {_share(after)} "
                     f"({r.reviewed_after[0]}/{sum(r.reviewed_after)})")
        lines.append(head)
        lines += [f"      + {_example(e)}" for e in r.added_examples]
        lines += [f"      - {_example(e)}" for e in r.removed_examples]
    lines += ["", "Follow-up actions"]
    if not report.actions:
        lines.append("  none would be created or withdrawn")
    for kind in sorted(report.actions, key=lambda k: ACTION_KINDS.index(k)
                       if k in ACTION_KINDS else 99):
        counts = report.actions[kind]
        lines.append(f"  {ACTION_NAMES.get(kind, kind)}: {counts['created']} created, "
                     f"{counts['withdrawn']} withdrawn")
    lines += ["", "Human reviews"]
    if not (report.upheld_lost or report.overturned_raised or report.missed_caught):
        lines.append("  no reviewed finding is affected")
    for f in report.upheld_lost:
        lines.append(f"  LOST upheld finding   {shown(f.rule_id)} on {shown(f.call_id)} "
                     f"“{shown(f.quote)}”")
    for f in report.overturned_raised:
        lines.append(f"  still raises overturned {shown(f.rule_id)} on {shown(f.call_id)} "
                     f"“{shown(f.quote)}”")
    for call_id, standard in report.missed_caught:
        lines.append(f"  now catches a missed {standard} violation on {shown(call_id)}")
    if report.versions:
        lines += ["", "Nights in the ledger, by the rules that audited them"]
        for night in report.versions:
            packs = ", ".join(f"{shown(p['pack'])} {p['hash'][7:19]} ({p['calls']} calls)"
                              for p in night["packs"])
            lines.append(f"  {night['night']}: {packs}")
            lines += [f"    {shown(w)}" for w in night["warnings"]]
    if report.rejected:
        lines += ["", "Rejected records"] + [f"  {shown(r)}" for r in report.rejected[:20]]
        if len(report.rejected) > 20:
            lines.append(f"  … and {len(report.rejected) - 20} more (--format json lists all)")
    tail = ""
    if report.rule_runs:
        tail = (f"; {report.reused_rules} of {report.rule_runs} rule runs reused from the "
                "first audit")
    if seconds is not None:
        lines += ["", f"took {seconds:.1f} s{tail}"]
    return "\n".join(lines) + "\n"


def to_html(report: ImpactReport, seconds: float | None = None) -> str:
    e = html.escape
    data = to_json(report, seconds)

    def table(head: list[str], rows: list[list[str]]) -> str:
        if not rows:
            return "<p class=none>none</p>"
        th = "".join(f"<th>{e(h)}</th>" for h in head)
        body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
        return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"

    packs = [[e(lang), e(p["before"]["pack"]), e(p["after"]["pack"]),
              e("; ".join(f"{r['change']} {r['id']}" for r in p["rules"]) or
                ("no change" if p["identical"] else "settings only"))]
             for lang, p in sorted(data["packs"].items())]
    flips = [[e(k), str(n), e(", ".join(report.flip_examples.get(k, [])))]
             for k, n in sorted(report.flips.items())]
    standards = [[e(s), str(v["violated_now"]), str(v["no_longer_violated"])]
                 for s, v in data["standards"].items()]
    rules = []
    for rule_id, r in data["rules"].items():
        examples = "<br>".join(
            [f"+ {e(x['call_id'])} “{e(x['quote'])}”" for x in r["added_examples"]]
            + [f"− {e(x['call_id'])} “{e(x['quote'])}”" for x in r["removed_examples"]])
        rules.append([e(rule_id), str(r["added"]), str(r["removed"]),
                      f"{_share(r['reviewed_before']['precision'])} → "
                      f"{_share(r['reviewed_after']['precision'])}", examples])
    actions = [[e(ACTION_NAMES.get(k, k)), str(v["created"]), str(v["withdrawn"])]
               for k, v in data["actions"].items()]
    reviews = ([["lost upheld", e(f.rule_id), e(f.call_id), e(f.quote)]
                for f in report.upheld_lost]
               + [["still raises overturned", e(f.rule_id), e(f.call_id), e(f.quote)]
                  for f in report.overturned_raised])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Rule change impact: {e(report.before)} → {e(report.after)}</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 2rem; color: #1d2733; }}
table {{ border-collapse: collapse; margin: .5rem 0 1.5rem; }}
th, td {{ border: 1px solid #c9d1db; padding: .3rem .6rem; text-align: left;
         vertical-align: top; }}
th {{ background: #eef2f6; }} .none {{ color: #667; }}
</style></head><body>
<h1>Rule change impact</h1>
<p>{e(report.before)} → {e(report.after)}: {report.compared} call(s) compared
{f"({len(report.rejected)} record(s) rejected)" if report.rejected else ""}.</p>
<h2>Packs</h2>{table(["language", "before", "after", "rules changed"], packs)}
<h2>Verdicts that flip</h2>{table(["change", "calls", "examples"], flips)}
<h2>Standards</h2>{table(["standard", "calls now violating", "no longer"], standards)}
<h2>Findings by rule</h2>{table(["rule", "added", "removed",
                                 "reviewed precision", "examples"], rules)}
<h2>Follow-up actions</h2>{table(["action", "created", "withdrawn"], actions)}
<h2>Human reviews</h2>{table(["what", "rule", "call", "quote"], reviews)}
<script type="application/json" id="impact">{e(json.dumps(data, ensure_ascii=False))}</script>
</body></html>
"""
