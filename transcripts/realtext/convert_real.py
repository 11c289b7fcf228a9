#!/usr/bin/env python3
"""Convert public dialogue corpora of customer language into the call-audit
interchange format (JSON Lines, one conversation per line):

    {"call_id": "RT-<SRC>-<n>", "call_type": "sale", "language": "zh"|"en",
     "turns": [{"speaker": "agent"|"customer", "text": "..."}],
     "source": "<corpus name>"}

Python 3.11, standard library only.  Every conversation gets call_type "sale"
(an outbound platform tags every call so); whether anything is sold is for the
audit tool to find out.  "customer" is the person being served, "agent" the
company side.

Usage:
    python3 convert_real.py SRC INPUT [--out FILE] [--labels LABELS.jsonl]
                                      [--ids FILE] [--limit N]
    python3 convert_real.py --list

SRC and the INPUT each expects (see SOURCES.md for where to fetch them):

  stc3_zh       data.zip of SB233/stc3-dataset (or a folder holding
                train_data_cn.json and test_data_cn.json)
  stc3_en       the same data.zip / folder (train_data_en.json, test_data_en.json)
  crosswoz      folder holding CrossWOZ data/crosswoz/val.json.zip and
                test.json.zip (train.json.zip is used too when present)
  mobilecs      SereTOD2022 data/example.json
  complaints_tw complaints-data.csv of danielpreotiuc/complaints-social-media
  twcs_sample   sample.csv of naman-tiwari/Customer-Support-on-Twitter
  twcs_spotify  support_requests.csv of stepanaromanov/
                python_for_marketing_research_and_analytics
                (_legacy/2_analyzing_social_media_data_in_python/)
  p4g           data/FullData/full_dialog.csv of ohyj1002/persuasionforgood
  abcd          data/abcd_sample.json of asappresearch/abcd
                (or the full abcd_v1.1.json[.gz] when you have it)

Numbering: n is stable for a given input file -- it is the 1-based position
of the conversation in the source's own file order (documented per loader),
so the same INPUT always gives the same call_id.  For STC-3 the English
dialogues are translations of Chinese ones and share the Chinese n, so
RT-STC3EN-17 is the translation of RT-STC3ZH-17.

--labels FILE keeps only the call_ids listed in a labels JSONL file (this is
how the labelled samples <src>.jsonl were made); --ids FILE does the same from
a plain list of call_ids, one per line.
"""
from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import re
import sys
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

CALL_TYPE = "sale"


def conv(code: str, n: int, lang: str, turns: list[dict], source: str) -> dict:
    return {
        "call_id": f"RT-{code}-{n}",
        "call_type": CALL_TYPE,
        "language": lang,
        "turns": turns,
        "source": source,
    }


def clean(text: str) -> str:
    return re.sub(r"\s+", " ", (text or "")).strip()


def add_turn(turns: list[dict], speaker: str, text: str, merge: bool = True) -> None:
    """Append a turn; consecutive texts of one speaker are merged into one turn."""
    text = clean(text)
    if not text:
        return
    if merge and turns and turns[-1]["speaker"] == speaker:
        turns[-1]["text"] = turns[-1]["text"] + " " + text
    else:
        turns.append({"speaker": speaker, "text": text})


# --------------------------------------------------------------------- STC-3
STC3_SOURCE = "NTCIR-14 STC-3 DQ/ND customer-helpdesk dialogues (Weibo)"


def _stc3_read(path: str, name: str) -> list:
    if os.path.isdir(path):
        for cand in (os.path.join(path, name), os.path.join(path, "data", name)):
            if os.path.exists(cand):
                with open(cand, encoding="utf-8") as f:
                    return json.load(f)
        raise FileNotFoundError(name)
    with zipfile.ZipFile(path) as z:
        for member in z.namelist():
            if member.endswith("/" + name) or member == name:
                if "__MACOSX" in member:
                    continue
                return json.loads(z.read(member).decode("utf-8"))
    raise FileNotFoundError(name)


def _stc3_order(path: str) -> dict:
    """n for each dialogue id: position in train_data_cn.json + test_data_cn.json."""
    order = {}
    for name in ("train_data_cn.json", "test_data_cn.json"):
        for d in _stc3_read(path, name):
            order.setdefault(d["id"], len(order) + 1)
    return order


def _stc3(path: str, lang: str) -> Iterator[dict]:
    order = _stc3_order(path)
    suffix = "cn" if lang == "zh" else "en"
    code = "STC3ZH" if lang == "zh" else "STC3EN"
    extra = len(order)
    for name in (f"train_data_{suffix}.json", f"test_data_{suffix}.json"):
        for d in _stc3_read(path, name):
            n = order.get(d["id"])
            if n is None:  # an English dialogue without a Chinese original
                extra += 1
                n = extra
            turns: list[dict] = []
            for t in d["turns"]:
                speaker = "customer" if t["sender"] == "customer" else "agent"
                text = " ".join(u for u in t["utterances"] if u and u.strip())
                add_turn(turns, speaker, text)
            if turns:
                source = STC3_SOURCE + (" [English translation]" if lang == "en" else "")
                yield conv(code, n, lang, turns, source)


def load_stc3_zh(path: str) -> Iterator[dict]:
    """STC-3 Chinese: train_data_cn.json then test_data_cn.json, file order."""
    return _stc3(path, "zh")


def load_stc3_en(path: str) -> Iterator[dict]:
    """STC-3 English (manual translations): n = n of the Chinese original."""
    return _stc3(path, "en")


# ------------------------------------------------------------------ CrossWOZ
def load_crosswoz(path: str) -> Iterator[dict]:
    """CrossWOZ: val, test (then train if present) in file order; usr=customer, sys=agent."""
    n = 0
    for split in ("val", "test", "train"):
        fn = os.path.join(path, f"{split}.json.zip")
        plain = os.path.join(path, f"{split}.json")
        if os.path.exists(fn):
            with zipfile.ZipFile(fn) as z:
                raw = z.read(z.namelist()[0]).decode("utf-8")
                data = json.loads(raw, object_pairs_hook=OrderedDict)
        elif os.path.exists(plain):
            with open(plain, encoding="utf-8") as f:
                data = json.load(f, object_pairs_hook=OrderedDict)
        else:
            continue
        for _key, d in data.items():
            n += 1
            turns: list[dict] = []
            for m in d["messages"]:
                add_turn(turns, "customer" if m["role"] == "usr" else "agent", m["content"])
            yield conv("CROSSWOZ", n, "zh", turns, "CrossWOZ (thu-coai)")


# ------------------------------------------------------------------ MobileCS
_AGENT_OPENERS = ("很高兴为您服务", "请问有什么可以帮您", "为您服务", "请问有什么可以")


def load_mobilecs(path: str) -> Iterator[dict]:
    """MobileCS example.json (10 China Mobile call transcripts), file order.

    Each record holds "[SPEAKER 1]"/"[SPEAKER 2]" keys.  The staff speaker is
    the one whose lines carry the service greeting; it is [SPEAKER 1] in every
    published example.
    """
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    for n, d in enumerate(data, 1):
        lines = []
        for turn in d["content"]:
            for key in ("[SPEAKER 1]", "[SPEAKER 2]"):
                if key in turn:
                    lines.append((key, turn[key]))
        staff = "[SPEAKER 1]"
        for key, text in lines:
            if any(o in (text or "") for o in _AGENT_OPENERS):
                staff = key
                break
        turns: list[dict] = []
        for key, text in lines:
            add_turn(turns, "agent" if key == staff else "customer", text)
        yield conv("MOBILECS", n, "zh", turns,
                   "MobileCS example dialogues (SereTOD 2022, China Mobile)")


# ------------------------------------------------------- complaints on Twitter
_COMPANY_DOMAINS = {"apparel", "cars", "electronics", "food", "other", "retail", "services",
                    "software", "transport"}


def load_complaints_tw(path: str) -> Iterator[dict]:
    """Preotiuc-Pietro et al. 2019: one tweet a conversation; n = 1-based row.

    Rows in the random_tweet / random_reply domains are not addressed to a
    company and are skipped (their n is simply not used).
    """
    with open(path, encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.reader(f), 1):
            if len(row) < 4 or row[3] not in _COMPANY_DOMAINS:
                continue
            turns: list[dict] = []
            add_turn(turns, "customer", row[1])
            if turns:
                yield conv("CMPLTW", n, "en", turns,
                           "Complaints on Twitter (Preotiuc-Pietro et al. 2019)")


# ----------------------------------------------------------------------- TWCS
def _read_twcs(path: str) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _twcs_time(r: dict) -> float:
    try:
        return datetime.strptime(r["created_at"], "%a %b %d %H:%M:%S %z %Y").timestamp()
    except (KeyError, ValueError):
        return 0.0


def load_twcs_sample(path: str) -> Iterator[dict]:
    """TWCS excerpt: tweets joined into threads through in_response_to_tweet_id /
    response_tweet_id; inbound=True is the customer.  Threads ordered by the
    file position of their first row, tweets within a thread by created_at;
    n = 1-based thread index."""
    rows = _read_twcs(path)
    by_id = {r["tweet_id"]: r for r in rows}
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra

    for r in rows:
        parent.setdefault(r["tweet_id"], r["tweet_id"])
    for r in rows:
        replies = (r.get("response_tweet_id") or "").split(",")
        for link in [r.get("in_response_to_tweet_id") or "", *replies]:
            link = link.strip().split(".")[0]
            if link and link in by_id:
                union(r["tweet_id"], link)
    groups: dict[str, list[dict]] = OrderedDict()
    for r in rows:
        groups.setdefault(find(r["tweet_id"]), []).append(r)
    for n, (_root, members) in enumerate(groups.items(), 1):
        members.sort(key=lambda r: (_twcs_time(r), int(r["tweet_id"])))
        turns: list[dict] = []
        for r in members:
            add_turn(turns, "customer" if r["inbound"] == "True" else "agent", r["text"])
        if turns:
            yield conv("TWCS", n, "en", turns, "Customer Support on Twitter (TWCS, excerpt)")


def load_twcs_spotify(path: str) -> Iterator[dict]:
    """Customer tweets to @SpotifyCares (TWCS subset; company replies are not in
    the file): one tweet a conversation, n = 1-based data row."""
    for n, r in enumerate(_read_twcs(path), 1):
        turns: list[dict] = []
        add_turn(turns, "customer", r.get("text") or "")
        if turns:
            yield conv("TWCSSPOT", n, "en", turns,
                       "Customer Support on Twitter (TWCS, @SpotifyCares inbound subset)")


# ---------------------------------------------------------- PersuasionForGood
def load_p4g(path: str) -> Iterator[dict]:
    """PersuasionForGood full_dialog.csv: dialogues (B2) in order of first row;
    B4=0 persuader (agent side, soliciting a donation), B4=1 persuadee (customer)."""
    dialogs: dict[str, list] = OrderedDict()
    with open(path, encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            dialogs.setdefault(r["B2"], []).append(r)
    for n, (_id, rows) in enumerate(dialogs.items(), 1):
        turns: list[dict] = []
        for r in rows:
            add_turn(turns, "agent" if r["B4"].strip() == "0" else "customer", r["Unit"])
        yield conv("P4G", n, "en", turns, "PersuasionForGood (Wang et al. 2019)")


# ----------------------------------------------------------------------- ABCD
def load_abcd(path: str) -> Iterator[dict]:
    """ABCD: sample file (a list) or full file (dict of splits); n = convo_id.
    'action' entries (agent-side system actions) are dropped."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        data = json.load(f)
    convos = data if isinstance(data, list) else [c for split in data.values() for c in split]
    for c in convos:
        turns: list[dict] = []
        for speaker, text in c["original"]:
            if speaker in ("agent", "customer"):
                add_turn(turns, speaker, text)
        yield conv("ABCD", int(c["convo_id"]), "en", turns,
                   "Action-Based Conversations Dataset (ABCD, ASAPP)")


LOADERS: dict[str, Callable[[str], Iterable[dict]]] = {
    "stc3_zh": load_stc3_zh,
    "stc3_en": load_stc3_en,
    "crosswoz": load_crosswoz,
    "mobilecs": load_mobilecs,
    "complaints_tw": load_complaints_tw,
    "twcs_sample": load_twcs_sample,
    "twcs_spotify": load_twcs_spotify,
    "p4g": load_p4g,
    "abcd": load_abcd,
}


def read_ids(labels: str | None, ids: str | None) -> set[str] | None:
    wanted: set[str] | None = None
    if labels:
        wanted = set()
        with open(labels, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    wanted.add(json.loads(line)["call_id"])
    if ids:
        wanted = wanted or set()
        with open(ids, encoding="utf-8") as f:
            wanted.update(line.strip() for line in f if line.strip())
    return wanted


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", nargs="?", choices=sorted(LOADERS))
    ap.add_argument("input", nargs="?")
    ap.add_argument("--out", help="output JSONL (default: stdout)")
    ap.add_argument("--labels", help="keep only call_ids listed in this labels JSONL")
    ap.add_argument("--ids", help="keep only call_ids listed (one a line) in this file")
    ap.add_argument("--limit", type=int, default=0, help="stop after N conversations")
    ap.add_argument("--list", action="store_true", help="list the sources and exit")
    a = ap.parse_args(argv)
    if a.list or not a.src:
        for k, fn in LOADERS.items():
            print(f"{k:14s} {(fn.__doc__ or '').strip().splitlines()[0]}")
        return 0
    if not a.input:
        ap.error("INPUT is required")
    wanted = read_ids(a.labels, a.ids)
    lines = []
    for c in LOADERS[a.src](a.input):
        if wanted is not None and c["call_id"] not in wanted:
            continue
        lines.append(json.dumps(c, ensure_ascii=False) + "\n")
        if a.limit and len(lines) >= a.limit:
            break
    count = len(lines)
    if a.out:
        with open(a.out, "w", encoding="utf-8") as out:
            out.writelines(lines)
    else:
        sys.stdout.writelines(lines)
    print(f"{a.src}: {count} conversations", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
