"""Validate one interchange-format record (a JSON object) into a Call.

Every loader ends here, so a call from JSON Lines, a dialogue text file or a CSV export is
checked by the same rules and rejected with the same words.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from engine.model import (
    CALL_TYPES,
    LANGUAGES,
    NOT_IN_IDS,
    Call,
    Product,
    SourceRef,
    Turn,
)

# The call-level fields that are plain values (product and turns are structured).
CALL_FIELDS: tuple[str, ...] = (
    "call_id",
    "call_type",
    "agent_id",
    "customer_phone",
    "started_at",
    "language",
    "related_call_id",
)
KNOWN_FIELDS = frozenset((*CALL_FIELDS, "product", "turns"))
MAX_TRIAL_DAYS = 3660
PRODUCT_FIELDS = frozenset({"code", "name", "monthly_fee", "currency", "trial_days"})

# Speaker labels seen in call-platform exports, mapped to the interchange names.
SPEAKER_ALIASES: dict[str, str] = {
    "agent": "agent",
    "customer": "customer",
    "unknown": "unknown",
    "坐席": "agent",
    "客服": "agent",
    "座席": "agent",
    "话务员": "agent",
    "营销员": "agent",
    "客户": "customer",
    "用户": "customer",
    "顾客": "customer",
    "rep": "agent",
    "representative": "agent",
    "caller": "agent",
    "client": "customer",
}


class RecordError(ValueError):
    """A record that cannot be a call: what is wrong and what to do."""

    def __init__(self, reason: str, hint: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


def speaker_name(label: object) -> str | None:
    """The interchange speaker for a label ('坐席', 'Agent', 'customer'...), or None."""
    if not isinstance(label, str):
        return None
    return SPEAKER_ALIASES.get(label.strip().lower())


# In spoken text and display names a stray control becomes one space: one character for
# one, so evidence spans still index the text as the loaders read it. Tabs and line
# breaks are kept; NUL means a corrupt export and rejects the call (_turn).
_CONTROL = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
ID_HINT = ("identifiers must be printable text: correct the field in the export, "
           "or re-export the call")


def _identifier(key: str, value: str) -> str:
    """An id as given; RecordError when it holds a control character."""
    bad = NOT_IN_IDS.search(value)
    if bad is not None:
        raise RecordError(f"'{key}' holds a control character (U+{ord(bad[0]):04X})", ID_HINT)
    return value


def _text(obj: Mapping[str, Any], key: str, *, required: bool) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        if required:
            raise RecordError(f"missing '{key}'", f"give every call a non-empty '{key}' string")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise RecordError(
            f"'{key}' must be a string, not {_kind(value)}", f"write '{key}' as a quoted string"
        )
    return _identifier(key, str(value))


def _kind(value: object) -> str:
    return {
        dict: "an object",
        list: "a list",
        bool: "true/false",
        int: "a number",
        float: "a number",
        str: "a string",
    }.get(type(value), type(value).__name__)


def _seconds(value: object, turn: int, field: str) -> float | None:
    """A turn's `field` ("start", "end") as seconds ≥ 0. A plain number returns at once;
    the text naming the field is made only for an error."""
    if value is None:
        return None
    kind = type(value)
    if (kind is float or kind is int) and value >= 0 and value != math.inf:  # type: ignore[operator]
        return float(value)  # type: ignore[arg-type]
    where = f"turn {turn} {field}"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise RecordError(
            f"{where} must be a number of seconds, not {_kind(value)}",
            "write times as seconds from the start of the call, e.g. 12.5",
        )
    try:
        seconds = float(value)
    except ValueError:
        raise RecordError(
            f"{where} is not a number: {str(value)[:30]!r}",
            "write times as seconds from the start of the call, e.g. 12.5",
        ) from None
    if not math.isfinite(seconds) or seconds < 0:
        raise RecordError(
            f"{where} must be a finite number of seconds ≥ 0, not {value!r}",
            "write times as seconds from the start of the call, e.g. 12.5",
        )
    return seconds


def _turn(raw: object, index: int) -> Turn:
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise RecordError(
            f"turn {index} must be an object, not {_kind(raw)}",
            'write each turn as {"speaker": "agent", "text": "...", "start": 0, "end": 2}',
        )
    speaker = speaker_name(raw.get("speaker"))
    if speaker is None:
        raise RecordError(
            f"turn {index} has unknown speaker {raw.get('speaker')!r}",
            "speaker must be 'agent' or 'customer' ('unknown' for unattributed speech)",
        )
    text = raw.get("text")
    if not isinstance(text, str):
        raise RecordError(
            f"turn {index} has no text" if text is None else f"turn {index} text must be a string",
            "give every turn a 'text' string (empty string for silence)",
        )
    if "\x00" in text:
        raise RecordError(f"turn {index} text contains NUL characters: the export is corrupt",
                          "re-export the call from the platform")
    if _CONTROL.search(text):
        text = _CONTROL.sub(" ", text)  # stray control characters: one space each, spans kept
    start = _seconds(raw.get("start"), index, "start")
    end = _seconds(raw.get("end"), index, "end")
    if start is not None and end is not None and end < start:
        raise RecordError(
            f"turn {index} ends ({end}) before it starts ({start})",
            "check the turn's start and end seconds",
        )
    confidence = raw.get("confidence")
    if confidence is not None and (
        isinstance(confidence, bool)
        or not isinstance(confidence, (int, float))
        or not 0 <= confidence <= 1
    ):
        raise RecordError(
            f"turn {index} confidence must be a number from 0 to 1, not {confidence!r}",
            "write confidence as a number from 0 to 1",
        )
    return Turn(
        speaker=speaker,  # type: ignore[arg-type]
        text=text,
        start=start,
        end=end,
        confidence=None if confidence is None else float(confidence),
    )


def _check_order(turns: tuple[Turn, ...]) -> None:
    """Turns must be in the order they were spoken (overlaps are fine: people interrupt)."""
    previous: tuple[int, float] | None = None
    for index, turn in enumerate(turns):
        if turn.start is None:
            continue
        if previous is not None and turn.start < previous[1]:
            raise RecordError(
                f"turn {index} starts at {turn.start:g}s, before turn {previous[0]} "
                f"({previous[1]:g}s): the turns are out of order",
                "sort the turns by start time (overlapping turns are fine)",
            )
        previous = (index, turn.start)


def _product(raw: object) -> Product | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise RecordError(
            f"'product' must be an object, not {_kind(raw)}",
            'write product as {"code": "...", "monthly_fee": 5, "trial_days": 30}',
        )
    fee = raw.get("monthly_fee")
    if fee is not None:
        if isinstance(fee, bool) or not isinstance(fee, (int, float, str)):
            raise RecordError("'product.monthly_fee' must be a number", "write the fee as 5 or 5.5")
        try:
            fee = float(fee)
        except ValueError:
            raise RecordError(
                f"'product.monthly_fee' is not a number: {fee!r}",
                "write the fee as a plain number, e.g. 5 or 5.5 (no currency sign)",
            ) from None
        if not math.isfinite(fee) or fee < 0:
            raise RecordError("'product.monthly_fee' must be ≥ 0", "write the fee as 5 or 5.5")
    trial = raw.get("trial_days")
    if trial is None or trial == "":
        trial = 0
    if isinstance(trial, str) and trial.strip().isdigit():
        trial = int(trial.strip())
    if isinstance(trial, bool) or not isinstance(trial, (int, float)) or trial < 0 or trial % 1:
        raise RecordError(
            f"'product.trial_days' must be a whole number of days ≥ 0, not {trial!r}",
            "write trial_days as 0 (no trial) or e.g. 30",
        )
    if trial > MAX_TRIAL_DAYS:  # a typo; its end date would not fit a date or the ledger
        raise RecordError(
            f"'product.trial_days' must be at most {MAX_TRIAL_DAYS} (ten years), not {trial!r}",
            "write trial_days as the trial's length in days, e.g. 30",
        )
    return Product(
        code=_product_text(raw, "code", identifier=True),
        name=_product_text(raw, "name", identifier=False),
        monthly_fee=fee,
        currency=_product_text(raw, "currency", identifier=True),
        trial_days=int(trial),
        given=frozenset(k for k in PRODUCT_FIELDS if raw.get(k) not in (None, "")),
    )


def _product_text(raw: Mapping[str, Any], key: str, *, identifier: bool) -> str | None:
    """A product field as text: an id (code, currency) with a control character rejects
    the call; the display name has its control characters made spaces."""
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        raise RecordError(f"'product.{key}' must be text, not {_kind(value)}",
                          f"write '{key}' as a quoted string")
    text = str(value)
    if identifier:
        return _identifier(f"product.{key}", text)
    return _CONTROL.sub(" ", text.replace("\x00", " "))


def parse_started_at(value: object) -> datetime:
    """An ISO 8601 timestamp with a UTC offset, or RecordError."""
    if not isinstance(value, str):
        raise RecordError(
            f"'started_at' must be an ISO 8601 string, not {_kind(value)}",
            "write it like 2026-11-23T09:30:00+08:00",
        )
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise RecordError(
            f"'started_at' is not an ISO 8601 time: {value[:40]!r}",
            "write it like 2026-11-23T09:30:00+08:00",
        ) from None
    if when.tzinfo is None:
        raise RecordError(
            f"'started_at' has no UTC offset: {value!r}",
            "add the offset the call centre runs in, e.g. 2026-11-23T09:30:00+08:00",
        )
    return when


def _extra_fields(obj: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """Fields the format does not define, product ones as 'product.<name>': kept, not used."""
    extra = [(k, v) for k, v in obj.items() if k not in KNOWN_FIELDS]
    product = obj.get("product")
    if isinstance(product, Mapping):
        extra += [(f"product.{k}", v) for k, v in product.items() if k not in PRODUCT_FIELDS]
    return tuple(extra)


def call_from_record(obj: object, source: SourceRef | None = None) -> Call:
    """Validate one interchange record; raise RecordError saying what is wrong and what to do."""
    if not isinstance(obj, Mapping):
        raise RecordError(
            f"a call must be a JSON object, not {_kind(obj)}",
            "write one call per line as a JSON object",
        )
    call_id = _text(obj, "call_id", required=True)
    assert call_id is not None
    call_type = obj.get("call_type")
    if call_type in (None, ""):
        raise RecordError(
            "missing 'call_type'", f"call_type must be one of: {', '.join(CALL_TYPES)}"
        )
    if call_type not in CALL_TYPES:
        raise RecordError(
            f"unknown call_type {call_type!r}", f"call_type must be one of: {', '.join(CALL_TYPES)}"
        )
    language = obj.get("language")
    if language in (None, ""):
        raise RecordError("missing 'language'", f"language must be one of: {', '.join(LANGUAGES)}")
    if isinstance(language, str):
        language = {"zh-cn": "zh", "zh_cn": "zh", "en-us": "en", "en_us": "en"}.get(
            language.lower(), language.lower()
        )
    if language not in LANGUAGES:
        raise RecordError(
            f"unknown language {obj.get('language')!r}",
            f"language must be one of: {', '.join(LANGUAGES)}",
        )
    if "turns" not in obj:
        raise RecordError("missing 'turns'", "give the call a 'turns' list of speaker turns")
    raw_turns = obj["turns"]
    if not isinstance(raw_turns, list):
        raise RecordError(
            f"'turns' must be a list, not {_kind(raw_turns)}", "give 'turns' as a JSON list"
        )
    if not raw_turns:
        raise RecordError("'turns' is empty", "a call needs at least one turn to be audited")
    turns = tuple(_turn(t, i) for i, t in enumerate(raw_turns))
    _check_order(turns)
    started = obj.get("started_at")
    return Call(
        call_id=call_id,
        turns=turns,
        call_type=call_type,
        agent_id=_text(obj, "agent_id", required=False),
        customer_phone=_text(obj, "customer_phone", required=False),
        started_at=None if started in (None, "") else parse_started_at(started),
        language=language,
        product=_product(obj.get("product")),
        related_call_id=_text(obj, "related_call_id", required=False),
        source=source,
        extra=_extra_fields(obj),
    )
