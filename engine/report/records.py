"""The machine-readable outputs (docs/output.md): one JSON object per line, versioned."""

from __future__ import annotations

from typing import Any

from engine.findings import FINDING_SCHEMA, REJECT_SCHEMA, VERDICT_SCHEMA, Finding, Verdict
from engine.model import Call, Rejected
from engine.privacy import mask_numbers_in_text, mask_phone


def verdict_record(verdict: Verdict, call: Call, *, mask: bool = True) -> dict[str, Any]:
    phone = call.customer_phone
    return {
        "schema": VERDICT_SCHEMA,
        "call_id": verdict.call_id,
        "valid": verdict.valid,
        "violations": list(verdict.violations),
        "signals": list(verdict.signals),
        "rule_pack": verdict.rule_pack,
        "rule_pack_hash": verdict.rule_pack_hash,
        "call_type": call.call_type,
        "agent_id": call.agent_id,
        "customer_phone": mask_phone(phone) if mask else phone,
        "started_at": call.started_at.isoformat() if call.started_at else None,
        "sale_made": verdict.sale_made,
        "sale_uncertain": verdict.sale_uncertain,
        "outcomes": list(verdict.outcomes),
        "notes": list(verdict.notes),
        "findings": verdict.findings,
        "source": str(call.source) if call.source else None,
    }


def finding_record(finding: Finding, *, mask: bool = True) -> dict[str, Any]:
    # Masking keeps lengths, so the quote is cut from the masked text at the same span.
    texts = [mask_numbers_in_text(e.text) if mask else e.text for e in finding.evidence]
    return {
        "schema": FINDING_SCHEMA,
        "call_id": finding.call_id,
        "rule_id": finding.rule_id,
        "standard": finding.standard,
        "severity": finding.severity,
        "message": finding.message,
        "detail": finding.detail or None,
        "evidence": [
            {
                "turn": e.turn,
                "speaker": e.speaker,
                "text": text,
                "quote": text[e.char_start : e.char_end],
                "char_start": e.char_start,
                "char_end": e.char_end,
                "start": e.start,
                "end": e.end,
            }
            for e, text in zip(finding.evidence, texts, strict=True)
        ],
        "rule_source": finding.rule_source,
        "fingerprint": finding.fingerprint,
        "waiver": finding.waiver,
    }


def reject_record(rejected: Rejected, *, mask: bool = True) -> dict[str, Any]:
    excerpt = rejected.excerpt.rstrip("\r\n")
    return {
        "schema": REJECT_SCHEMA,
        "file": rejected.source.path,
        "line": rejected.source.line,
        "call_id": rejected.call_id,
        "reason": rejected.reason,
        "hint": rejected.hint,
        "excerpt": (mask_numbers_in_text(excerpt) if mask else excerpt),
    }
