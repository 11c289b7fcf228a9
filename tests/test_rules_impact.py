"""`callaudit rules impact`: what a rule change does to a night of past calls, checked
against two full audits of the same night, one under each version of the rules."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli import main
from tests.conftest import isolate

REPO = Path(__file__).resolve().parent.parent
DAY = date.today() - timedelta(days=3)
NIGHT_SOURCE = REPO / "transcripts" / "labelled" / "zh-sales.jsonl"
MATCHERS = Path("rules") / "zh-CN" / "matchers.yaml"
# One phrase list of one matcher: the customer's "我同意"-style acceptances. Without them,
# sales accepted only in those words lose their consent.
ORIGINAL = "phrases: [同意办理, 同意开通, 我同意, 同意的, 那就办,"
EDITED = "phrases: [同意的, 那就办,"


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The workspace's own ledger, not the one conftest points CALLAUDIT_DB at."""
    isolate(monkeypatch, tmp_path / "home")


def invoke(args: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch) -> Result:
    monkeypatch.chdir(cwd)
    return CliRunner().invoke(main, args)


def write_night(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for line in NIGHT_SOURCE.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        record["started_at"] = DAY.isoformat() + record["started_at"][10:]
        lines.append(json.dumps(record, ensure_ascii=False))
    (folder / "calls.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def edit_phrase(rules: Path, old: str, new: str) -> None:
    path = rules.parent / MATCHERS if rules.name == "rules" else rules / MATCHERS
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, "the bundled matcher changed: update this test's phrase"
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture(scope="module")
def centre(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace whose ledger holds one night audited under the bundled rules; a copy of
    those rules in rules-before/; then one phrase list of one matcher edited in rules/."""
    root = tmp_path_factory.mktemp("impact")
    with pytest.MonkeyPatch.context() as monkeypatch:
        isolate(monkeypatch, root / "home")
        workspace = root / "qa"
        assert invoke(["init", str(workspace), "--no-git"] if _init_has_git() else
                      ["init", str(workspace)], root, monkeypatch).exit_code == 0
        write_night(workspace / "transcripts" / DAY.isoformat())
        night = invoke(["nightly", "--date", DAY.isoformat()], workspace, monkeypatch)
        assert night.exit_code == 0, night.output
        shutil.copytree(workspace / "rules", root / "rules-before")
        edit_phrase(workspace / "rules", ORIGINAL, EDITED)
    return workspace


def _init_has_git() -> bool:
    result = CliRunner().invoke(main, ["init", "--help"])
    return "--no-git" in result.output


def full_audit(rules: Path, night: Path, out: Path, monkeypatch: pytest.MonkeyPatch
               ) -> tuple[dict[str, dict], dict[str, dict]]:
    """The night audited in full under RULES into a fresh ledger: verdicts and findings."""
    result = invoke(["--rules-root", str(rules), "audit", str(night), "--out", str(out),
                     "--db", str(out.with_suffix(".db"))], out.parent, monkeypatch)
    assert result.exit_code == 0, result.output
    verdicts = {}
    for line in (out / "verdicts.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        verdicts[record["call_id"]] = record
    findings = {}
    for line in (out / "findings.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        findings[record["fingerprint"]] = record
    return verdicts, findings


def word(valid: bool | None) -> str:
    return "no sale" if valid is None else "valid" if valid else "invalid"


def impact_json(workspace: Path, monkeypatch: pytest.MonkeyPatch, *extra: str) -> dict:
    result = invoke(["rules", "impact", "--from", DAY.isoformat(), "--format", "json",
                     "--examples", "50", *extra], workspace, monkeypatch)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def findings_of(report: dict) -> dict[str, tuple[int, int, list]]:
    return {rule: (v["added"], v["removed"], v["added_examples"] + v["removed_examples"])
            for rule, v in report["rules"].items()}


def test_impact_of_one_phrase_equals_the_difference_of_two_full_audits(centre, monkeypatch,
                                                                       tmp_path):
    before_rules = centre.parent / "rules-before"
    night = centre / "transcripts" / DAY.isoformat()
    report = impact_json(centre, monkeypatch, "--before", str(before_rules))

    old_verdicts, old_findings = full_audit(before_rules, night, tmp_path / "a", monkeypatch)
    new_verdicts, new_findings = full_audit(centre / "rules", night, tmp_path / "b",
                                            monkeypatch)
    assert report["compared"] == len(old_verdicts) == len(new_verdicts)

    flips: Counter[str] = Counter()
    flipped: dict[str, set[str]] = {}
    for call_id, old in old_verdicts.items():
        new = new_verdicts[call_id]
        if old["valid"] != new["valid"]:
            flip = f"{word(old['valid'])} → {word(new['valid'])}"
            flips[flip] += 1
            flipped.setdefault(flip, set()).add(call_id)
    assert flips["valid → invalid"] >= 1, "the edit should make a sale invalid"
    assert report["flips"] == dict(flips)
    assert {k: set(v) for k, v in report["flip_examples"].items()} == flipped

    added = Counter(f["rule_id"] for fp, f in new_findings.items() if fp not in old_findings)
    removed = Counter(f["rule_id"] for fp, f in old_findings.items() if fp not in new_findings)
    assert added, "the edit should add findings"
    assert {r: v["added"] for r, v in report["rules"].items() if v["added"]} == dict(added)
    assert {r: v["removed"] for r, v in report["rules"].items() if v["removed"]} == dict(removed)
    for rule_id, data in report["rules"].items():
        want = {(f["call_id"], f["evidence"][0]["quote"]) for fp, f in new_findings.items()
                if f["rule_id"] == rule_id and fp not in old_findings}
        assert {(e["call_id"], e["quote"]) for e in data["added_examples"]} == want

    actions: dict[str, Counter[str]] = {}
    for call_id, old in old_verdicts.items():
        was, now = set(old["actions"]), set(new_verdicts[call_id]["actions"])
        for kind in now - was:
            actions.setdefault(kind, Counter())["created"] += 1
        for kind in was - now:
            actions.setdefault(kind, Counter())["withdrawn"] += 1
    assert actions.get("callback", Counter())["created"] >= 1
    assert report["actions"] == {k: {"created": c["created"], "withdrawn": c["withdrawn"]}
                                 for k, c in actions.items()}
    # Only the rules that read the edited matcher ran again; the rest kept their findings.
    assert 0 < report["reuse"]["reused"] < report["reuse"]["rule_runs"]


def test_reusing_unchanged_rules_gives_what_a_full_audit_gives(centre, monkeypatch):
    before = str(centre.parent / "rules-before")
    reused = impact_json(centre, monkeypatch, "--before", before)
    full = impact_json(centre, monkeypatch, "--before", before, "--no-reuse")
    assert full["reuse"]["reused"] == 0 and reused["reuse"]["reused"] > 0
    for key in ("reuse", "seconds", "metrics"):
        reused.pop(key), full.pop(key)
    assert reused == full


def test_against_the_ledger_the_change_shows_the_same_flips(centre, monkeypatch):
    from_folder = impact_json(centre, monkeypatch, "--before",
                              str(centre.parent / "rules-before"))
    from_ledger = impact_json(centre, monkeypatch, "--before", "ledger")
    assert from_ledger["before"] == "the ledger's verdicts"
    assert from_ledger["compared"] == from_folder["compared"]
    assert from_ledger["flips"] == from_folder["flips"]
    assert findings_of(from_ledger) == findings_of(from_folder)
    assert from_ledger["versions"][0]["night"] == DAY.isoformat()


def test_a_change_that_loses_a_reviewed_upheld_finding_fails_the_gate(centre, monkeypatch,
                                                                      tmp_path):
    # The reverse change: rules with the phrases back remove findings the edited rules make.
    restored = tmp_path / "restored"
    shutil.copytree(centre.parent / "rules-before", restored / "rules")
    edited = impact_json(centre, monkeypatch, "--before", str(centre.parent / "rules-before"))
    rule_id, data = next((r, v) for r, v in edited["rules"].items() if v["added"])
    call_id = data["added_examples"][0]["call_id"]
    # A night audited under the edited rules, and a reviewer upholding that finding.
    assert invoke(["nightly", "--date", DAY.isoformat()], centre, monkeypatch).exit_code == 0
    findings = (centre / "reports" / DAY.isoformat() / "findings.jsonl").read_text(
        encoding="utf-8").splitlines()
    fingerprint = next(json.loads(f)["fingerprint"] for f in findings
                       if json.loads(f)["rule_id"] == rule_id
                       and json.loads(f)["call_id"] == call_id)
    review = invoke(["review", fingerprint, "--verdict", "upheld", "--by", "质检A"], centre,
                    monkeypatch)
    assert review.exit_code == 0, review.output

    result = invoke(["rules", "impact", "--from", DAY.isoformat(), "--before", "ledger",
                     "--after", str(restored / "rules"), "--fail-if", "upheld_lost>0",
                     "--fail-if", "flips>1000"], centre, monkeypatch)
    assert result.exit_code == 1, result.output
    assert f"LOST upheld finding   {rule_id} on {call_id}" in result.stdout
    assert "FAIL upheld_lost>0: upheld_lost is 1" in result.stderr
    assert "flips>1000" not in result.stderr
    # Put the ledger back as the other tests expect it (the night under the bundled rules).
    assert invoke(["--rules-root", str(restored / "rules"), "nightly", "--date",
                   DAY.isoformat()], centre, monkeypatch).exit_code == 0


def test_by_default_the_working_rules_are_compared_with_their_last_commit(centre, monkeypatch,
                                                                        tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    shutil.copytree(centre.parent / "rules-before", repo / "rules")
    shutil.copy(centre / "callaudit.yaml", repo / "callaudit.yaml")
    shutil.copytree(centre / "transcripts", repo / "transcripts")
    git = ["git", "-C", str(repo), "-c", "user.name=QA", "-c", "user.email=qa@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "rules", "callaudit.yaml"], check=True)
    subprocess.run([*git, "commit", "-qm", "rules as shipped"], check=True)
    edit_phrase(repo / "rules", ORIGINAL, EDITED)
    report = impact_json(repo, monkeypatch)
    folder = impact_json(centre, monkeypatch, "--before", str(centre.parent / "rules-before"))
    assert report["before"].startswith("HEAD")
    assert report["flips"] == folder["flips"]
    assert findings_of(report) == findings_of(folder)
    changed = report["packs"]["zh"]["rules"]
    assert {"id": "activation-without-explicit-consent", "change": "changed"}.items() <= \
        next(r for r in changed if r["id"] == "activation-without-explicit-consent").items()

    result = invoke(["rules", "impact", "--from", DAY.isoformat(), "--before", "v9"], repo,
                    monkeypatch)
    assert result.exit_code == 2
    assert "'v9' is not a commit" in result.output and "Traceback" not in result.output


def test_the_text_report_names_the_change_and_quotes_the_calls(centre, monkeypatch):
    result = invoke(["rules", "impact", "--from", DAY.isoformat(), "--before",
                     str(centre.parent / "rules-before")], centre, monkeypatch)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "changed              activation-without-explicit-consent" in text
    assert "valid → invalid" in text
    assert "activation-without-explicit-consent: +" in text
    assert "callbacks: " in text and " created" in text
    assert "rule runs reused from the first audit" in text


def test_the_html_report_is_written_atomically_and_never_over_another_file(centre,
                                                                         monkeypatch,
                                                                         tmp_path):
    page = tmp_path / "impact.html"
    args = ["rules", "impact", "--from", DAY.isoformat(), "--before",
            str(centre.parent / "rules-before"), "--format", "html", "--out", str(page)]
    result = invoke(args, centre, monkeypatch)
    assert result.exit_code == 0, result.output
    html = page.read_text(encoding="utf-8")
    assert "<title>Rule change impact" in html and "activation-without-explicit-consent" in html
    assert invoke(args, centre, monkeypatch).exit_code == 0  # its own earlier page: replaced
    notes = tmp_path / "notes.html"
    notes.write_text("<p>my notes</p>", encoding="utf-8")
    args[-1] = str(notes)
    refused = invoke(args, centre, monkeypatch)
    assert refused.exit_code == 2
    assert "not an earlier output" in refused.output
    assert notes.read_text(encoding="utf-8") == "<p>my notes</p>"


@pytest.mark.parametrize(("args", "message"), [
    (["--fail-if", "flops>3"], "unknown figure 'flops'"),
    (["--fail-if", "flips>many"], "'many' in 'flips>many' is not a whole number"),
    (["--to", "2026-01-01"], "--to needs --from"),
    (["--from", "2026-02-01", "--to", "2026-01-01"], "is before --from"),
    ([], "which calls?"),
])
def test_mistakes_are_told_plainly(centre, monkeypatch, args, message):
    result = invoke(["rules", "impact", *args], centre, monkeypatch)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_two_worker_processes_give_the_same_report(centre, monkeypatch):
    before = str(centre.parent / "rules-before")
    one = impact_json(centre, monkeypatch, "--before", before, "--workers", "1")
    two = impact_json(centre, monkeypatch, "--before", before, "--workers", "2")
    for report in (one, two):
        report.pop("seconds")
    assert one == two and one["compared"] > 0


def ci_snippet() -> str:
    """The shell block docs/rules-repository.md gives a rules repository's CI."""
    text = (REPO / "docs" / "rules-repository.md").read_text(encoding="utf-8")
    block = text.split("<!-- ci-snippet -->", 1)[1].split("```sh\n", 1)[1]
    return block.split("```", 1)[0]


def test_the_documented_ci_job_passes_a_mild_change_and_fails_one_losing_an_upheld_finding(
        centre, monkeypatch, tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    workspace = tmp_path / "qa"  # the QA server's workspace, its ledger included
    shutil.copytree(centre, workspace)
    checkout = tmp_path / "checkout"  # the rules repository, as CI checks it out
    shutil.copytree(centre.parent / "rules-before", checkout / "rules")
    git = ["git", "-C", str(checkout), "-c", "user.name=QA", "-c", "user.email=qa@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "rules"], check=True)
    subprocess.run([*git, "commit", "-qm", "rules as shipped"], check=True)
    bin_folder = str(Path(sys.executable).parent)
    env = {**os.environ, "QA_WORKSPACE": str(workspace), "BASE_REF": "HEAD",
           "PATH": bin_folder + os.pathsep + os.environ.get("PATH", "")}
    env.pop("CALLAUDIT_DB", None)

    def ci() -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-euc", ci_snippet()], cwd=checkout, env=env,
                              capture_output=True, text=True, check=False)

    edit_phrase(checkout / "rules", ORIGINAL, EDITED)  # one sale flips: within the limits
    passed = ci()
    assert passed.returncode == 0, passed.stderr
    assert "<title>Rule change impact" in (checkout / "impact.html").read_text(encoding="utf-8")

    # The edited rules go live, a reviewer upholds a finding only they make, and a change
    # that takes the phrases back (losing that finding) is proposed.
    subprocess.run([*git, "commit", "-qam", "fewer acceptance phrases"], check=True)
    night = invoke(["--rules-root", str(checkout / "rules"), "nightly", "--date",
                    DAY.isoformat(), "--config", str(workspace / "callaudit.yaml")],
                   workspace, monkeypatch)
    assert night.exit_code == 0, night.output
    findings = [json.loads(line) for line in (workspace / "reports" / DAY.isoformat() /
                "findings.jsonl").read_text(encoding="utf-8").splitlines()]
    added = impact_json(centre, monkeypatch, "--before", str(centre.parent / "rules-before"))
    only_edited = {(e["call_id"], rule) for rule, v in added["rules"].items()
                   for e in v["added_examples"]}
    fingerprint = next(f["fingerprint"] for f in findings
                       if (f["call_id"], f["rule_id"]) in only_edited)
    review = invoke(["review", fingerprint, "--verdict", "upheld", "--by", "质检A", "--config",
                     str(workspace / "callaudit.yaml")], workspace, monkeypatch)
    assert review.exit_code == 0, review.output
    edit_phrase(checkout / "rules", EDITED, ORIGINAL)
    failed = ci()
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "FAIL upheld_lost>0: upheld_lost is 1" in failed.stderr
