"""Every default lives in ``Settings``: no runtime module restates one as a literal, the inner
configs take their defaults from it, and they are built from the settings in effect."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from cli import main as cli
from pipeline import card
from pipeline.processor import Config, processor_config
from pipeline.store import ClientStore
from producers import events
from sinks.sink import Sink
from touchline import identity, normalize
from touchline.settings import REPO_ROOT, Settings, default, get_settings

RUNTIME = ("touchline", "pipeline", "producers", "sinks", "synthetic")
# Literals that look like a setting's default but are not one: (file, name) -> why.
NOT_SETTINGS = {
    ("touchline/services/process.py", "host"): "probes the local stack's own loopback ports",
}


def _literal_defaults(tree: ast.Module) -> Iterator[tuple[int, str, Any]]:
    """(line, name, value) of every literal default: function parameters and annotated
    class-level fields (dataclasses)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args
            positional = [*args.posonlyargs, *args.args]
            with_default = positional[len(positional) - len(args.defaults) :]
            pairs = list(zip(with_default, args.defaults, strict=True))
            kw_defaults = zip(args.kwonlyargs, args.kw_defaults, strict=True)
            pairs += [(a, d) for a, d in kw_defaults if d is not None]
            for arg, value in pairs:
                if isinstance(value, ast.Constant):
                    yield value.lineno, arg.arg, value.value
        elif isinstance(node, ast.ClassDef):
            for stmt in node.body:
                if (
                    isinstance(stmt, ast.AnnAssign)
                    and isinstance(stmt.target, ast.Name)
                    and isinstance(stmt.value, ast.Constant)
                ):
                    yield stmt.lineno, stmt.target.id, stmt.value.value


def restated(tree: ast.Module) -> list[str]:
    """Literal defaults that repeat a setting's default: same last word of the name (``region``,
    ``batch_rows`` -> ``rows``, ``max_share`` -> ``share``) and the same value."""
    by_word: dict[str, list[tuple[str, Any]]] = {}
    for name in Settings.model_fields:
        by_word.setdefault(name.rsplit("_", 1)[-1], []).append((name, default(name)))
    found = []
    for line, name, value in _literal_defaults(tree):
        if value in (None, 0, "") or isinstance(value, bool):
            continue  # "none", "off" and "pick one" are not settings' defaults restated
        for setting, setting_default in by_word.get(name.rsplit("_", 1)[-1], []):
            if value == setting_default:
                found.append(f"line {line}: {name}={value!r} restates {setting}")
    return found


def test_no_runtime_module_restates_a_settings_default() -> None:
    found = {}
    for package in RUNTIME:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            where = str(path.relative_to(REPO_ROOT))
            hits = [
                hit
                for hit in restated(ast.parse(path.read_text()))
                if (where, hit.split(":", 1)[1].split("=", 1)[0].strip()) not in NOT_SETTINGS
            ]
            if path.name != "settings.py" and hits:
                found[where] = hits
    assert found == {}


def test_the_scan_finds_restated_defaults() -> None:
    code = (
        "def f(x, default_region='DE', *, max_share=2, port=0): ...\n"
        "class C:\n    batch_rows: int = 5000\n    record_chunk: int = 7\n"
    )
    assert restated(ast.parse(code)) == [
        "line 1: default_region='DE' restates phone_region",
        "line 1: max_share=2 restates identity_max_share",
        "line 3: batch_rows=5000 restates sink_batch_rows",
    ]


def _default_of(func: Any, parameter: str) -> Any:
    return inspect.signature(func).parameters[parameter].default


def test_inner_defaults_are_the_settings_defaults() -> None:
    assert Config() == processor_config(Settings.model_construct())
    region = default("phone_region")
    assert _default_of(normalize.normalize_phone, "default_region") == region
    assert _default_of(identity.extract, "default_region") == region
    assert _default_of(card.identifier_key, "region") == region
    assert _default_of(events.partition_key, "phone_region") == region
    assert _default_of(ClientStore, "max_share") == default("identity_max_share")
    assert _default_of(ClientStore, "dedupe_window_s") == default("worker_dedupe_days") * 86400
    assert _default_of(ClientStore, "dedupe_shards") == default("worker_dedupe_shards")
    assert _default_of(ClientStore, "id_shards") == default("identity_id_shards")
    assert _default_of(Sink, "batch_rows") == default("sink_batch_rows")
    assert _default_of(Sink, "batch_seconds") == default("sink_batch_seconds")
    assert _default_of(Sink, "derive_every_s") == default("sink_derive_seconds")


def test_inner_configs_are_built_from_the_settings_in_effect() -> None:
    s = Settings(
        session_timeout_minutes=10,
        lookback_days=30,
        multichannel_min_channels=3,
        phone_region="AT",
        own_hosts=["Studio.Example"],
        hit_cap=9,
        worker_record_chunk=5,
        identity_max_share=4,
        worker_dedupe_days=2,
        worker_dedupe_shards=16,
        identity_id_shards=8,
        topic_prefix="p",
    )
    assert processor_config(s) == Config(
        session_timeout_ms=600_000,
        lookback_ms=30 * 86_400_000,
        min_channels=3,
        phone_region="AT",
        own_hosts=frozenset({"studio.example"}),
        hit_cap=9,
        record_chunk=5,
    )
    store = ClientStore.from_settings("redis://127.0.0.1:9/0", s)  # connects lazily: never here
    assert (store.prefix, store.max_share, store.window_s, store.shards) == ("p", 4, 2 * 86400, 16)
    assert store.id_shards == 8


def test_the_lookback_cap_is_on_the_setting_and_the_cli_names_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ValidationError):
        Settings(lookback_days=366)
    monkeypatch.setenv("TOUCHLINE_LOOKBACK_DAYS", "400")
    get_settings.cache_clear()
    try:
        assert cli.main(["config"]) == 2
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert err == (
        "touchline: TOUCHLINE_LOOKBACK_DAYS: Input should be less than or equal to 365 "
        "(got '400')\n"
    )


def test_settings_module_is_where_the_defaults_are() -> None:
    assert Path(inspect.getfile(Settings)) == REPO_ROOT / "touchline" / "settings.py"
