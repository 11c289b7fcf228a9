"""The built wheel, installed in a fresh virtual environment outside the repository, runs a
QA workspace's whole loop from the workspace alone: no --db, no CALLAUDIT_* variable."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from datetime import date, timedelta
from pathlib import Path

import pytest

pytest.importorskip("venv")  # some distributions ship Python without it

REPO = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "cli.py", "cli_commands", "engine", "rules",
           "webconsole")
DAY = date.today() - timedelta(days=10)
NIGHT_SOURCE = REPO / "transcripts" / "labelled" / "zh-mixed.jsonl"
OPT_OUT_CALL = "ZH-B-023"


def build_wheel(tmp: Path) -> Path:
    """The wheel of a copy of the sources (the build writes build/ beside them)."""
    source = tmp / "source"
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(REPO / name, source / name)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
               "-w", str(tmp / "dist")]
    if _has_setuptools_77():
        command.append("--no-build-isolation")  # offline and seconds faster
    subprocess.run([*command, str(source)], check=True, capture_output=True, text=True)
    (wheel,) = (tmp / "dist").glob("callaudit-*.whl")
    return wheel


def _has_setuptools_77() -> bool:
    if importlib.util.find_spec("setuptools") is None:
        return False
    import setuptools

    return int(setuptools.__version__.split(".")[0]) >= 77


def make_venv(tmp: Path, wheel: Path) -> Path:
    """A fresh environment holding only the wheel; its dependencies come from this one's
    site-packages through a .pth line (a folder added that way has its own .pth files
    ignored, so an editable install of the repository does not come along)."""
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    own = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                          "['purelib'])"], check=True, capture_output=True, text=True)
    site_packages = Path(own.stdout.strip())
    paths = dict.fromkeys([*(sysconfig.get_paths()[key] for key in ("purelib", "platlib")),
                           *site.getsitepackages(),
                           *([site.getusersitepackages()] if site.ENABLE_USER_SITE else [])])
    (site_packages / "dependencies.pth").write_text("\n".join(paths) + "\n", encoding="utf-8")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                    "--no-deps", "--no-index", "--quiet", str(wheel)],
                   check=True, capture_output=True, text=True)
    return venv


def night_calls(folder: Path) -> dict[str, str]:
    """The labelled Chinese calls, started on DAY, in the day's folder; call id → phone."""
    folder.mkdir(parents=True)
    phones, lines = {}, []
    for line in NIGHT_SOURCE.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        record["started_at"] = DAY.isoformat() + record["started_at"][10:]
        phones[record["call_id"]] = record["customer_phone"]
        lines.append(json.dumps(record, ensure_ascii=False))
    (folder / "calls.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return phones


def test_the_wheel_runs_a_workspace_from_init_to_purge(tmp_path):
    wheel = build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert {"engine/packs/actions.yaml", "engine/packs/zh-CN/pack.yaml",
            "engine/packs/en-US/pack.yaml", "engine/text/homophones.tsv"} <= names
    packages = {str(p.parent.relative_to(REPO)) for root in ("engine", "cli_commands")
                for p in (REPO / root).rglob("__init__.py")}
    assert {p for p in packages if f"{p}/__init__.py" not in names} == set()

    venv = make_venv(tmp_path, wheel)
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CALLAUDIT_") and k not in ("PYTHONPATH", "XDG_DATA_HOME")}
    env["HOME"] = str(home)

    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import engine, cli; print(engine.__file__); print(cli.__file__)"],
                           cwd=tmp_path, env=env, check=True, capture_output=True, text=True)
    for line in where.stdout.splitlines():
        assert Path(line).is_relative_to(venv), where.stdout

    workspace = tmp_path / "qa"
    workspace.mkdir()

    def callaudit(*args: str, cwd: Path = workspace) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(venv / "bin" / "callaudit"), *args], cwd=cwd, env=env,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"callaudit {' '.join(args)}:\n{result.stdout}" \
                                       f"{result.stderr}"
        assert "using ledger" not in result.stderr  # always the workspace's own
        return result

    callaudit("init")
    assert (workspace / "rules" / "zh-CN" / "pack.yaml").is_file()
    phones = night_calls(workspace / "transcripts" / DAY.isoformat())
    night = callaudit("nightly", "--date", DAY.isoformat(), cwd=workspace / "transcripts")
    assert (workspace / "reports" / DAY.isoformat() / "report.html").is_file(), night.stdout
    assert (workspace / "callaudit-ledger.db").is_file()
    assert not (home / ".local" / "share" / "callaudit").exists()

    pending = callaudit("blacklist", "list", "--status", "pending", cwd=workspace / "reports")
    rows = [line.split() for line in pending.stdout.splitlines()[2:] if line.strip()]
    assert len(rows) >= 2, pending.stdout
    (approved, _, _, approved_call, *_), (rejected, *_) = rows[:2]
    callaudit("blacklist", "approve", approved, "--by", "王经理", "--reason", "投诉威胁属实")
    callaudit("blacklist", "reject", rejected, "--by", "王经理", "--reason", "客户已撤回")
    decided = callaudit("blacklist", "list")
    statuses = {line.split()[0]: line.split()[2] for line in decided.stdout.splitlines()[2:]}
    assert statuses[approved] == "approved" and statuses[rejected] == "rejected"

    clean_number = "13512345678"
    (workspace / "campaign.csv").write_text(
        f"name,phone\n甲,{phones[OPT_OUT_CALL]}\n乙,{phones[approved_call]}\n丙,{clean_number}\n",
        encoding="utf-8")
    callaudit("suppress", "scrub", "campaign.csv", "--out", "clean.csv")
    with (workspace / "clean.csv").open(encoding="utf-8") as handle:
        assert [row["phone"] for row in csv.DictReader(handle)] == [clean_number]

    due = (date.today() + timedelta(days=60)).isoformat()
    callaudit("callbacks", "export", "--due", due, "--out", "callbacks.csv")
    with (workspace / "callbacks.csv").open(encoding="utf-8-sig") as handle:
        assert len(list(csv.DictReader(handle))) >= 1

    purged = callaudit("purge", "--older-than", "1")
    assert f"words removed from {len(phones)} call(s)" in purged.stdout
    assert not (workspace / "reports" / DAY.isoformat() / "report.html").exists()
