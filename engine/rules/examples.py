"""Examples kept with each rule: short calls that must (or must not) violate it.

examples:
  violating:
    - - agent: 已经给您开通了
  compliant:
    - call_type: sale
      product: {monthly_fee: 5, trial_days: 30}
      started_at: 2026-11-23T10:00:00+08:00
      turns:
        - agent: 您同意开通吗？
        - customer: 同意
"""

from __future__ import annotations

from engine.model import Call
from engine.rules.base import Example
from engine.rules.yamlsource import Node
from engine.transcripts.record import RecordError, call_from_record, speaker_name

EXAMPLE_KEYS = frozenset({"turns", "call_type", "product", "started_at", "language", "note"})
GROUPS = frozenset({"violating", "compliant"})


def compile_examples(node: Node, rule_id: str, language: str) -> tuple[Example, ...]:
    """Every example of a rule; a rule needs at least one of each group."""
    groups = node.mapping("examples", GROUPS, GROUPS)
    if groups is None:
        return ()
    examples: list[Example] = []
    for group in sorted(groups):
        entries = list(groups[group].items(f"examples.{group}"))
        if groups[group].is_sequence() and not entries:
            groups[group].error(
                f"examples.{group} is empty", f"add at least one {group} example call"
            )
        for number, entry in enumerate(entries, start=1):
            call = _example_call(entry, f"{rule_id}/{group}/{number}", language)
            if call is not None:
                examples.append(Example(call, group == "violating", entry.location))
    return tuple(examples)


def _example_call(node: Node, call_id: str, language: str) -> Call | None:
    if node.is_sequence():
        turns_node, fields = node, {}
    else:
        fields = node.mapping("an example", EXAMPLE_KEYS, frozenset({"turns"})) or {}
        if "turns" not in fields:
            return None
        turns_node = fields["turns"]
    turns = []
    for position, item in enumerate(turns_node.items("turns")):
        turn = _turn(item)
        if turn is None:
            return None
        speaker, text = turn
        turns.append(
            {"speaker": speaker, "text": text, "start": position * 5.0, "end": position * 5.0 + 4.0}
        )
    record: dict[str, object] = {
        "call_id": call_id,
        "call_type": "sale",
        "language": language,
        "agent_id": "EXAMPLE",
        "started_at": "2026-01-05T10:00:00+08:00",
        "turns": turns,
    }
    for key in ("call_type", "product", "started_at", "language"):
        if key in fields:
            value = fields[key].scalar_value() if fields[key].is_scalar() else _plain(fields[key])
            record[key] = value.isoformat() if hasattr(value, "isoformat") else value
    try:
        return call_from_record(record)
    except RecordError as exc:
        node.error(f"this example is not a valid call: {exc.reason}", exc.hint)
        return None


def _turn(node: Node) -> tuple[str, str] | None:
    """A turn written `agent: text` or `customer: text` (坐席/客户 also work)."""
    if not node.is_mapping() or len(node.node.value) != 1:
        node.error(
            "each example turn must be one 'speaker: text' line",
            "write turns like '- agent: 您好' or '- customer: 好的'",
        )
        return None
    ((key_node, value_node),) = node.node.value
    key = Node(key_node, node.source)
    speaker = speaker_name(key.scalar_value())
    if speaker is None:
        key.error(f"unknown speaker '{key.node.value}'", "speakers: agent, customer")
        return None
    text = Node(value_node, node.source).text("the turn's text")
    return (speaker, text) if text is not None else None


def _plain(node: Node) -> object:
    """A small YAML mapping (an example's product) as plain data for call_from_record."""
    import yaml

    return yaml.safe_load(yaml.serialize(node.node))
