"""`python -m bench.accuracy`: every labelled set scored in one table, sealed only on request."""

from __future__ import annotations

import json

from bench.accuracy import main, parts


def test_the_board_scores_every_set_but_the_sealed_one(capsys, tmp_path):
    out = tmp_path / "board.json"
    main(["--rounds", "0", "--standards", "--json", str(out)])
    printed = capsys.readouterr().out
    board = json.loads(out.read_text(encoding="utf-8"))
    assert {"labelled zh", "blind en", "dev, all zh", "dev, all en", "realtext zh",
            "realtext en"} <= set(board)
    assert not any(name.startswith("SEALED") for name in board)
    assert board["dev, all zh"]["calls"] >= 300 and board["dev, all en"]["calls"] >= 150
    # Real text sells nothing: the open Chinese conversations (CrossWOZ) are all "service";
    # the fetched corpora count only where they were converted (not in a fresh clone).
    assert board["realtext zh"]["service_calls"] >= 20
    assert "service read as sale" in printed


def test_the_sealed_set_is_a_row_only_when_asked_for():
    assert not [p for p in parts(sealed=False) if p.name == "SEALED"]
    sealed = [p for p in parts(sealed=True) if p.name == "SEALED"]
    assert sealed and len(sealed[0].files) == 6
