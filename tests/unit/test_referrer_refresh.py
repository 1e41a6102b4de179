"""``touchline channels refresh`` builds channel_hosts.json from snapshots of the public lists,
with provenance; the checked-in file carries its provenance and loads."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from cli import main as cli
from pipeline import channel_data
from pipeline import channels as ch
from pipeline.source_categories import load_categories

SEARCH_YML = """\
Google:
  -
    urls:
      - www.google.com
      - 'google.{}'
      - 'google.{}/imgres'
      - 'android-app//com.google.android.googlequicksearchbox/https/www.google.com'
    params:
      - q
Bing:
  -
    urls:
      - '{}.bing.com'
    params:
      - q
ChatGPT:
  -
    urls:
      - chatgpt.com
    params:
      - q
Portal:
  -
    urls:
      - 'portal.example/search/'
    params:
      - q
"""
SOCIAL_YML = "Twitter:\n  - x.com\n  - twitter.com\nYouTube:\n  - youtube.com\n"
AI_YML = "ChatGPT:\n  - chatgpt.com\nGrok:\n  - grok.com\n  - x.com/i/grok\n"
GA4_CSV = (
    "source,source_category\n"
    "youtube.com,SOURCE_CATEGORY_VIDEO\n"
    "43things,SOURCE_CATEGORY_SOCIAL\n"
    "Google Shopping,SOURCE_CATEGORY_SHOPPING\n"
    "mail.yandex.ru,SOURCE_CATEGORY_SEARCH\n"
)


def snapshots(tmp_path: Path, ga4_csv: str = GA4_CSV) -> tuple[Path, Path]:
    matomo = tmp_path / "matomo"
    matomo.mkdir()
    (matomo / "SearchEngines.yml").write_text(SEARCH_YML)
    (matomo / "Socials.yml").write_text(SOCIAL_YML)
    (matomo / "AIAssistants.yml").write_text(AI_YML)
    ga4 = tmp_path / "ga4"
    (ga4 / "seeds").mkdir(parents=True)
    (ga4 / "seeds" / "ga4_source_categories.csv").write_text(ga4_csv)
    return matomo, ga4


def refresh(matomo: Path, ga4: Path, out: Path) -> int:
    return cli.main(["channels", "refresh", f"--matomo={matomo}", f"--ga4={ga4}", f"--out={out}"])


def test_refresh_builds_the_tables_with_provenance(tmp_path: Path) -> None:
    matomo, ga4 = snapshots(tmp_path)
    out = tmp_path / "hosts.json"
    assert refresh(matomo, ga4, out) == 0
    data = json.loads(out.read_text())
    assert data["hosts"] == {
        "google.com": "search",
        "com.google.android.googlequicksearchbox": "search",
        "bing.com": "search",
        "chatgpt.com": "ai",  # the AI list wins over Matomo's search list
        "grok.com": "ai",
        "x.com": "social",
        "twitter.com": "social",
        "youtube.com": "video",  # GA4 wins over Matomo's social list
        "mail.yandex.ru": "search",
    }
    assert data["tld_hosts"] == {"google": "search"}
    # google.{}/imgres says what google.{} says: dropped; the portal's search path and Grok stay
    assert data["paths"] == {"portal.example": {"/search": "search"}, "x.com": {"/i/grok": "ai"}}
    assert data["names"] == {"43things": "social", "google shopping": "shopping"}
    assert "chatgpt.com: ai kept, matomo:search says search" in data["conflicts"]
    assert "youtube.com: video kept, matomo:social says social" in data["conflicts"]
    lists = {p["list"]: p for p in data["provenance"]}
    assert lists["matomo"]["licence"] == "CC0-1.0"
    assert lists["matomo"]["repository"].endswith("matomo-org/searchengine-and-social-list")
    assert lists["ga4"]["files"] == ["seeds/ga4_source_categories.csv"]
    assert lists["ga4"]["commit"].startswith("unknown")  # a plain directory has no commit
    # the classifier reads what the refresh wrote
    ch.load_rules(hosts_path=out)
    tables = load_categories(json.loads(ch.RULES_PATH.read_text()), out)
    assert tables.paths["x.com"] == (("/i/grok", "ai"),)
    assert tables.hosts["mail.yandex.ru"] == "email"  # the hand-kept webmail list is laid over


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_refresh_from_a_git_snapshot_records_its_commit(tmp_path: Path) -> None:
    matomo, ga4 = snapshots(tmp_path)
    git = ["git", "-C", str(matomo), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "lists"], check=True)
    sha = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True)
    (matomo / "Socials.yml").write_text("Changed:\n  - changed.example\n")  # not committed
    out = tmp_path / "hosts.json"
    assert refresh(matomo, ga4, out) == 0
    data = json.loads(out.read_text())
    prov = {p["list"]: p for p in data["provenance"]}["matomo"]
    assert prov["commit"] == sha.stdout.strip()
    assert re.match(r"\d{4}-\d\d-\d\dT", prov["commit_date"])
    assert prov["files_last_changed"]["Socials.yml"].startswith(sha.stdout.strip())
    assert "changed.example" not in data["hosts"]  # read at the commit, not the work tree


def test_bad_snapshots_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    matomo, ga4 = snapshots(tmp_path, ga4_csv="source,source_category\nfoo.com,SOURCE_X\n")
    out = tmp_path / "hosts.json"
    assert refresh(matomo, ga4, out) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("touchline: ga4 list: bad row") and "SOURCE_X" in err
    assert "\n" not in err and not out.exists()
    (matomo / "Socials.yml").unlink()
    assert refresh(matomo, ga4, out) == 2
    assert "has no Socials.yml" in capsys.readouterr().err
    assert refresh(tmp_path / "nowhere", ga4, out) == 2
    assert "--matomo" in capsys.readouterr().err


def test_checked_in_hosts_file_has_provenance_and_loads() -> None:
    data = json.loads(channel_data.HOSTS_PATH.read_text())
    lists = {p["list"]: p for p in data["provenance"]}
    assert set(lists) == {"matomo", "ga4"}
    for p in lists.values():
        assert re.fullmatch(r"[0-9a-f]{40}", p["commit"]), p
        assert p["licence"] and p["commit_date"] and p["repository"].startswith("https://")
    assert "GPL" not in json.dumps(data["provenance"])
    assert len(data["hosts"]) > 1000 and set(data["hosts"].values()) == {
        "search",
        "social",
        "video",
        "shopping",
        "ai",
    }
    ch.load_rules()
