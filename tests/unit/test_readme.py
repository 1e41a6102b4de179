"""The README documents every setting (its table is `touchline config --markdown`)."""

from __future__ import annotations

from touchline.settings import REPO_ROOT, Settings


def test_every_setting_is_in_the_readme() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    missing = [
        f"TOUCHLINE_{n.upper()}"
        for n in Settings.model_fields
        if f"`TOUCHLINE_{n.upper()}`" not in readme
    ]
    assert missing == []


def test_readme_has_the_two_commands() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
