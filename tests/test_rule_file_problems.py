"""Rule-file errors, exactly as a compliance officer reads them (snapshots)."""

from __future__ import annotations

import signal
import textwrap
from contextlib import contextmanager

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.rules.pack import load_pack
from engine.rules.problems import RulePackError
from tests.conftest import write_pack

GOOD_RULE = """
  - id: ok-rule
    kind: forbidden
    standard: forbidden_phrase
    severity: major
    matcher: promise
    message: m
    rationale: r
    examples:
      violating: [[{agent: 我保证}]]
      compliant: [[{agent: 你好}]]
"""
MATCHERS = "matchers:\n  promise:\n    speaker: agent\n    phrases: [保证]\n"


def errors_of(tmp_path, files: dict[str, str], header: str = "") -> str:
    folder = write_pack(tmp_path / "pack", files, header=header)
    with pytest.raises(RulePackError) as caught:
        load_pack(folder)
    return caught.value.render().replace(str(tmp_path) + "/", "")


def test_unknown_kind_shows_line_caret_and_nearest_kind(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = errors_of(
        tmp_path,
        {"a.yaml": MATCHERS + "rules:" + GOOD_RULE.replace("kind: forbidden", "kind: forbiden")},
    )
    assert (
        text
        == textwrap.dedent("""\
        pack/a.yaml:7:11: error: kind 'forbiden' is not one of the allowed values
          |
        7 |     kind: forbiden
          |           ^^^^^^^^
        help: did you mean 'forbidden'? allowed values: condition, fee_check, forbidden, precedence, required, trial_end_check""")
    )


def test_unknown_key_and_wrong_value_and_missing_field_all_reported_at_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    broken = (
        GOOD_RULE.replace("severity: major", "severity: huge")
        .replace("message: m", "mesage: m")
        .replace("matcher: promise", "matcher: promis")
    )
    text = errors_of(tmp_path, {"a.yaml": MATCHERS + "rules:" + broken})
    assert (
        text
        == textwrap.dedent("""\
        pack/a.yaml:6:5: error: a rule is missing 'message'
          |
        6 |   - id: ok-rule
          |     ^
        help: add a 'message:' line

        pack/a.yaml:9:15: error: severity 'huge' is not one of the allowed values
          |
        9 |     severity: huge
          |               ^^^^
        help: allowed values: critical, info, major, minor

        pack/a.yaml:10:14: error: no matcher is named 'promis'
           |
        10 |     matcher: promis
           |              ^^^^^^
        help: did you mean 'promise'? matchers defined in this pack: promise

        pack/a.yaml:11:5: error: unknown key 'mesage' in a rule
           |
        11 |     mesage: m
           |     ^^^^^^
        help: did you mean 'message'? allowed keys: by, description, examples, id, kind, matcher, message, rationale, severity, since, standard, status, when""")
    )


def test_yaml_syntax_error_names_the_place(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = errors_of(tmp_path, {"a.yaml": "rules:\n  - id: x\n   kind: [forbidden\n"})
    assert text.startswith("pack/a.yaml:3:")
    assert "YAML syntax" in text


def test_bad_regex_is_reported_with_help(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = errors_of(tmp_path, {"a.yaml": "matchers:\n  m:\n    regex: ['(a)\\1']\n"})
    assert (
        text.splitlines()[0] == "pack/a.yaml:3:13: error: the regex cannot be used: "
        "invalid escape sequence: \\1"
    )
    assert "RE2 syntax" in text


def test_rule_without_examples_is_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    no_examples = GOOD_RULE.split("    examples:")[0]
    text = errors_of(tmp_path, {"a.yaml": MATCHERS + "rules:" + no_examples})
    assert "a rule is missing 'examples'" in text


def test_examples_need_both_groups(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    one_group = GOOD_RULE.replace("      compliant: [[{agent: 你好}]]\n", "")
    text = errors_of(tmp_path, {"a.yaml": MATCHERS + "rules:" + one_group})
    assert "examples is missing 'compliant'" in text


def test_duplicate_rule_ids_name_the_first(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = errors_of(tmp_path, {"a.yaml": MATCHERS + "rules:" + GOOD_RULE + GOOD_RULE})
    assert "rule id 'ok-rule' is already used at pack/a.yaml:6:9" in text


def test_pack_header_language_checked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "pack.yaml").write_text("name: x\nversion: '1'\nlanguage: fr\n", encoding="utf-8")
    with pytest.raises(RulePackError) as caught:
        load_pack(folder)
    assert caught.value.problems[0].message == "language 'fr' is not one of the allowed values"


def test_matchers_replying_to_each_other_in_a_circle(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = errors_of(
        tmp_path,
        {
            "a.yaml": (
                "matchers:\n  a:\n    phrases: [x]\n    replies_to: b\n"
                "  b:\n    phrases: [y]\n    replies_to: a\n"
            )
        },
    )
    assert "matchers reply to each other in a circle: a → b → a" in text


def test_a_syntax_error_is_not_buried_under_missing_matcher_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    broken = MATCHERS.replace("phrases: [保证]", "phrases: [保证")
    text = errors_of(tmp_path, {"a.yaml": broken, "b.yaml": "rules:" + GOOD_RULE})
    assert "YAML syntax" in text
    assert "no matcher is named" not in text


def test_phrases_that_match_nearly_everything_are_warned_about(tmp_path):
    folder = write_pack(
        tmp_path / "p",
        {
            "a.yaml": (
                "matchers:\n"
                "  wants: {speaker: customer, phrases: [需要], negation: false}\n"
                "  rude: {speaker: agent, phrases: [笨]}\n"
                "  fine: {speaker: agent, phrases: [需要办理]}\n"
            )
        },
    )
    pack = load_pack(folder)
    messages = [w.message for w in pack.warnings]
    assert sorted(messages) == sorted(
        [
            "matcher 'wants': phrase '需要' may match far more than meant: it is inside everyday "
            "words (不需要, 需要吗)",
            "matcher 'rude': phrase '笨' may match far more than meant: it is inside everyday "
            "words (笨重)",
        ]
    )
    assert all(w.level == "warning" for w in pack.warnings)


def test_a_backtracking_regex_cannot_hang_a_run(tmp_path):
    import time

    from engine.audit import audit_call
    from tests.conftest import make_call

    folder = write_pack(
        tmp_path / "p",
        {
            "a.yaml": (
                "matchers:\n  evil: {regex: ['(a+)+$', '(x|xx)+y']}\n"
                "rules:\n  - id: r\n    kind: forbidden\n    standard: forbidden_phrase\n"
                "    severity: minor\n    matcher: evil\n    message: m\n    rationale: r\n"
                "    examples: {violating: [[{agent: a}]], compliant: [[{agent: b}]]}\n"
            )
        },
    )
    pack = load_pack(folder)
    started = time.perf_counter()
    audit_call(pack, make_call([("agent", "a" * 5000 + "!"), ("agent", "x" * 5000)]))
    assert time.perf_counter() - started < 2  # RE2: linear time, whatever the pattern


_TOKENS = [
    "rules:",
    "matchers:",
    "- id: r",
    "kind: forbidden",
    "kind: condition",
    "when:",
    "matcher: m",
    "m:",
    "phrases: [a, b]",
    "regex: ['(a']",
    "said: m",
    "all:",
    "not:",
    "  ",
    "    ",
    "\n",
    "- ",
    "[",
    "]",
    "{",
    "}",
    ":",
    "examples:",
    "violating:",
    "standard: consent",
    "severity: major",
    "&a",
    "*a",
    "!!python/object:os.system",
    "'",
    '"',
    "…",
    "同意",
    "999999999999",
    "~",
    "true",
]


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(st.sampled_from(_TOKENS), max_size=40))
def test_no_rule_file_crashes_the_compiler(tmp_path_factory, tokens):
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "pack.yaml").write_text("name: f\nversion: '1'\nlanguage: zh\n", encoding="utf-8")
    (folder / "a.yaml").write_text(" ".join(tokens), encoding="utf-8")
    try:
        load_pack(folder)
    except RulePackError as exc:
        assert exc.problems and all(p.message for p in exc.problems)


def test_yaml_is_loaded_safely_with_size_and_depth_limits(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = errors_of(tmp_path, {"a.yaml": "matchers:\n  m: !!python/object/apply:os.system ['x']\n"})
    assert "a.yaml:2:6: error: the YAML tag 'tag:yaml.org,2002:python/object/apply:os.system'" \
        " is not allowed in rule files" in text
    for levels in (60, 20000, 200_000):  # both of PyYAML's parsers recurse: must not crash
        deep = "rules: " + "[" * levels + "]" * levels + "\n"
        assert "nesting deeper than 40 levels" in errors_of(tmp_path, {"b.yaml": deep})
    block = "rules:\n" + "".join("  " * n + "- \n" for n in range(1, 300)) + "  " * 300 + "x\n"
    assert "nesting deeper than 40 levels" in errors_of(tmp_path, {"b.yaml": block})
    huge = "# " + "x" * (3 * 1024 * 1024) + "\n"
    assert "the file is larger than 2048 KiB" in errors_of(tmp_path, {"c.yaml": huge})


def _tree(node):
    """A node tree as plain data: kind, tag, value and both ends' positions."""
    ends = (node.start_mark.line, node.start_mark.column, node.end_mark.line,
            node.end_mark.column)
    if isinstance(node, yaml.ScalarNode):
        return ("scalar", node.tag, node.value, ends)
    if isinstance(node, yaml.MappingNode):
        return ("map", node.tag, [(_tree(k), _tree(v)) for k, v in node.value], ends)
    return ("seq", node.tag, [_tree(child) for child in node.value], ends)


@pytest.mark.skipif(not getattr(yaml, "__with_libyaml__", False), reason="PyYAML without libyaml")
def test_libyaml_and_python_parsers_read_every_rule_file_alike():
    """Rule files are read by libyaml for speed; every position a problem is reported at
    must be the one PyYAML's Python parser gives."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    files = sorted((root / "rules").rglob("*.yaml")) + sorted((root / "tests").rglob("*.yaml"))
    assert len(files) > 20
    for path in files:
        text = path.read_text(encoding="utf-8-sig")
        fast = yaml.compose(text, Loader=yaml.CSafeLoader)
        assert _tree(fast) == _tree(yaml.compose(text, Loader=yaml.SafeLoader)), path


def _billion_laughs(key: str) -> str:
    """Nine levels of nine aliases each: about 500 bytes that stand for 9**9 values."""
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, 9)]
    return "\n".join(lines) + f"\n{key}: *l8\n"


@contextmanager
def _deadline(seconds: float):
    """Fail (TimeoutError) instead of hanging when the work takes longer than `seconds`."""

    def expired(*_):
        raise TimeoutError(f"still busy after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_a_billion_laughs_rule_file_is_refused_at_once(tmp_path, monkeypatch):
    import time

    monkeypatch.chdir(tmp_path)
    text = _billion_laughs("rules")
    assert len(text) < 600
    started = time.perf_counter()
    with _deadline(10):
        errors = errors_of(tmp_path, {"a.yaml": text})
    assert time.perf_counter() - started < 2  # well under a second on a quiet machine
    assert errors == textwrap.dedent("""\
        pack/a.yaml:6:10: error: aliases (*name) in this file expand to more than 100,000 values
          |
        6 | l5: &l5 [*l4, *l4, *l4, *l4, *l4, *l4, *l4, *l4, *l4]
          |          ^
        help: repeat the values where needed, or name a matcher once and refer to it by name""")


def test_a_billion_laughs_config_is_refused_at_once(tmp_path):
    import time

    from click.testing import CliRunner

    from cli import main

    config = tmp_path / "callaudit.yaml"
    config.write_text(_billion_laughs("transcripts"), encoding="utf-8")
    started = time.perf_counter()
    with _deadline(10):
        result = CliRunner().invoke(main, ["nightly", "--date", "2026-11-23", "--config",
                                           str(config)])
    assert time.perf_counter() - started < 2
    assert result.exit_code == 2, result.output
    assert "callaudit.yaml:6:10: error: aliases" in result.output
    assert "expand to more than 100,000 values" in result.output


def test_the_alias_budget_is_counted_the_same_by_both_parsers(monkeypatch):
    from engine.rules import yamlsource
    from engine.rules.yamlsource import SourceFile, parse

    monkeypatch.setattr(yamlsource, "_LIBYAML", None)  # PyYAML's Python parser only
    source = SourceFile("a.yaml", _billion_laughs("rules"))
    with _deadline(10):
        assert parse(source) is None
    assert "expand to more than 100,000 values" in source.problems[0].message


def test_a_few_legitimate_anchors_and_aliases_still_load(tmp_path):
    folder = write_pack(tmp_path / "p", {"a.yaml": (
        "matchers:\n"
        "  promise:\n    speaker: &who agent\n    phrases: &words [保证, 一定]\n"
        "  promise_again:\n    speaker: *who\n    phrases: *words\n"
        "rules:\n" + GOOD_RULE.replace("matcher: promise", "matcher: promise_again")
    )})
    pack = load_pack(folder)
    assert [r.info.id for r in pack.rules] == ["ok-rule"]


def _words(count: int, seed: int) -> list[str]:
    import random
    import string

    chance = random.Random(seed)
    return ["".join(chance.choice(string.ascii_lowercase) for _ in range(12))
            for _ in range(count)]


def _regex_rule(patterns: list[str]) -> str:
    """A rule file with one matcher of these regexes (one per line) and a rule using it."""
    regexes = "".join(f"      - '{p}'\n" for p in patterns)
    return ("matchers:\n  brands:\n    speaker: agent\n    regex:\n" + regexes
            + "rules:" + GOOD_RULE.replace("matcher: promise", "matcher: brands")
            .replace("{agent: 我保证}", "{agent: " + patterns[-1].split("|")[-1] + "}"))


def test_a_regex_too_large_for_the_regex_engine_is_a_rule_file_error(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from cli import main

    monkeypatch.chdir(tmp_path)
    huge = "|".join(_words(60_000, seed=1))  # compiles alone, but fits no RE2 set
    write_pack(tmp_path / "pack", {"a.yaml": _regex_rule(["fine|good", huge])})
    result = CliRunner().invoke(main, ["rules", "check", "pack"])
    assert result.exit_code == 2, result.output
    first, *_ = result.output.splitlines()
    assert first == ("pack/a.yaml:6:9: error: pattern too large for the regex engine: "
                     "60,000 alternatives")
    assert "help: split the rule or use phrases (a 'phrases:' list has no size limit)" \
        in result.output
    huger = "|".join(_words(60_000, seed=2))  # a rule of that one regex alone
    write_pack(tmp_path / "pack", {"a.yaml": _regex_rule([huger])})
    result = CliRunner().invoke(main, ["rules", "check", "pack"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("pack/a.yaml:5:9: error: pattern too large for the regex "
                                    "engine: 60,000 alternatives")
    write_pack(tmp_path / "pack", {"a.yaml": _regex_rule(["[\\pL\\pN]{1000}", "fine"])})
    result = CliRunner().invoke(main, ["rules", "check", "pack"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("pack/a.yaml:5:9: error: pattern too large for the regex "
                                    "engine\n")


def test_regexes_too_many_for_one_regex_set_are_searched_in_several(tmp_path):
    from engine.audit import audit_call
    from tests.conftest import make_call

    patterns = ["|".join(_words(5_000, seed=n)) for n in range(4)]  # each fits, not all
    pack = load_pack(write_pack(tmp_path / "p", {"a.yaml": _regex_rule(patterns)}))
    for pattern in patterns:
        said = pattern.split("|")[-1]
        result = audit_call(pack, make_call([("agent", f"嗯 {said}")]))
        assert [f.rule_id for f in result.findings] == ["ok-rule"], said
    assert not audit_call(pack, make_call([("agent", "你好")])).findings
