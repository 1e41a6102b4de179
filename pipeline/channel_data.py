"""``touchline channels refresh``: rebuild the classifier's host lists from maintained public data.

Sources (each recorded with its repository, files, commit, commit date and licence in the
``provenance`` of the file written, ``pipeline/channel_hosts.json``):

* **Matomo's searchengine-and-social-list** (CC0-1.0): ``SearchEngines.yml``, ``Socials.yml`` and
  ``AIAssistants.yml``. Their ``{}`` placeholders become Touchline's patterns: ``name.{}`` (any
  country suffix: ``google.{}`` is google.de, google.co.uk, google.com.br) goes to ``tld_hosts``;
  ``{}.name`` and ``a.{}.name`` match subdomains of ``name`` anyway; a URL with a path
  (``x.com/i/grok``, ``google.{}/imgres``) goes to ``paths`` and decides only for referrers on that
  path; ``android-app//<package>/...`` becomes the app's package (the referrer host of an
  ``android-app://`` referrer).
* **GA4's list of sources and categories** (Google, support.google.com/analytics/answer/9756891)
  as kept in Velir/dbt-ga4's seed ``seeds/ga4_source_categories.csv`` (MIT). Entries with a dot are
  hosts, the rest utm_source names (``43things``, ``Google Shopping``).

When lists disagree on one key, the first of ``PRECEDENCE`` wins: Matomo's AI-assistant list (the
point of Touchline's ``ai_assistant`` channel), then GA4 (its grouping is the reference), then
Matomo's search and social lists. The hand-kept categories of ``pipeline/channel_rules.json``
(webmail and its redirect hosts, utm_source shorthands) are applied over all of these at load.

Each source is read from a snapshot: ``--matomo DIR`` / ``--ga4 DIR`` take a checkout or a bare git
repository (files read at ``--matomo-ref`` / ``--ga4-ref``, default HEAD, commit and date from git)
or a plain directory of the files; without them the files are downloaded from GitHub at that ref
and the commit is asked of GitHub's API.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from touchline.clock import now_ms
from touchline.errors import TouchlineError

HOSTS_PATH = Path(__file__).with_name("channel_hosts.json")

SEARCH, SHOPPING, SOCIAL, VIDEO, AI = "search", "shopping", "social", "video", "ai"
GA4_CATEGORIES = {
    "SOURCE_CATEGORY_SEARCH": SEARCH,
    "SOURCE_CATEGORY_SHOPPING": SHOPPING,
    "SOURCE_CATEGORY_SOCIAL": SOCIAL,
    "SOURCE_CATEGORY_VIDEO": VIDEO,
}


@dataclass(frozen=True)
class Source:
    key: str
    repository: str
    files: tuple[str, ...]
    licence: str
    note: str


MATOMO = Source(
    "matomo",
    "matomo-org/searchengine-and-social-list",
    ("SearchEngines.yml", "Socials.yml", "AIAssistants.yml"),
    "CC0-1.0",
    "Matomo's community-maintained search engine, social network and AI assistant definitions.",
)
GA4 = Source(
    "ga4",
    "Velir/dbt-ga4",
    ("seeds/ga4_source_categories.csv",),
    "MIT (the repository); the list is Google's, published at "
    "https://support.google.com/analytics/answer/9756891",
    "GA4's list of sources and categories (SOURCE_CATEGORY_*), as downloaded by dbt-ga4.",
)
# Which list wins a key two lists give different categories (first wins).
PRECEDENCE = ("matomo:ai", "ga4", "matomo:search", "matomo:social")


@dataclass
class Snapshot:
    source: Source
    texts: dict[str, str]
    commit: str
    date: str
    origin: str
    changed: dict[str, str] = field(default_factory=dict)  # file -> its last commit and date


@dataclass
class Lists:
    hosts: dict[str, str] = field(default_factory=dict)
    tld_hosts: dict[str, str] = field(default_factory=dict)
    paths: dict[str, dict[str, str]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)


def _git(repo: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", "--git-dir" if (repo / "HEAD").is_file() else "-C", str(repo), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise TouchlineError(f"{repo}: git {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout


def _is_git(path: Path) -> bool:
    return (path / "HEAD").is_file() or (path / ".git").exists()


def read_local(source: Source, path: Path, ref: str = "HEAD") -> Snapshot:
    """The source's files from a checkout, a bare repository or a plain directory."""
    if not path.is_dir():
        raise TouchlineError(f"--{source.key}: {path} is not a directory")
    if _is_git(path):
        commit = _git(path, "rev-parse", f"{ref}^{{commit}}").strip()
        date = _git(path, "show", "-s", "--format=%cI", commit).strip()
        texts = {f: _git(path, "show", f"{commit}:{f}") for f in source.files}
        changed = {
            f: _git(path, "log", "-1", "--format=%H %cI", commit, "--", f).strip()
            for f in source.files
        }
        origin = "a local git snapshot of the repository"
        return Snapshot(source, texts, commit, date, origin, changed)
    missing = [f for f in source.files if not (path / f).is_file()]
    if missing:
        raise TouchlineError(f"--{source.key}: {path} has no {', '.join(missing)}")
    texts = {f: (path / f).read_text(encoding="utf-8") for f in source.files}
    return Snapshot(source, texts, "unknown (plain directory)", "unknown", "a plain directory")


def _get(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "touchline-channels-refresh"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body: bytes = response.read()
            return body
    except OSError as exc:
        raise TouchlineError(f"cannot download {url}: {exc}") from exc


def download(source: Source, ref: str) -> Snapshot:
    """The source's files from GitHub at ``ref`` (a branch, tag or commit)."""
    meta = json.loads(_get(f"https://api.github.com/repos/{source.repository}/commits/{ref}"))
    commit = str(meta["sha"])
    date = str(meta["commit"]["committer"]["date"])
    base = f"https://raw.githubusercontent.com/{source.repository}/{commit}"
    texts = {f: _get(f"{base}/{f}").decode("utf-8") for f in source.files}
    return Snapshot(source, texts, commit, date, "downloaded from GitHub")


def _add(lists: Lists, table: dict[str, str], key: str, category: str, origin: str) -> None:
    key = key.strip().lower()
    if key.startswith("www."):
        key = key[4:]
    if not key:
        return
    held = table.get(key)
    if held is None:
        table[key] = category
    elif held != category:
        lists.conflicts.append(f"{key}: {held} kept, {origin} says {category}")


def add_url(lists: Lists, url: str, category: str, origin: str) -> None:
    """One Matomo URL pattern into the host, country-suffix or path tables."""
    url = url.strip().lower()
    if url.startswith("android-app//"):
        _add(lists, lists.hosts, url.removeprefix("android-app//").split("/")[0], category, origin)
        return
    host, slash, path = url.partition("/")
    while host.startswith("{}."):
        host = host[3:]
    if ".{}." in host:  # images.{}.ask.com: a subdomain of ask.com
        host = host.split(".{}.", 1)[1]
    tld = host.endswith(".{}")
    if tld:
        host = host[:-3]
    if slash:
        key = f"{host}.{{}}" if tld else host.removeprefix("www.")
        prefixes = lists.paths.setdefault(key, {})
        prefixes.setdefault("/" + path.rstrip("/"), category)
        return
    _add(lists, lists.tld_hosts if tld else lists.hosts, host, category, origin)


def matomo_lists(snapshot: Snapshot, lists: Lists, part: str) -> None:
    import yaml  # only the refresh needs it

    texts = snapshot.texts
    if part == "ai":
        for urls in (yaml.safe_load(texts["AIAssistants.yml"]) or {}).values():
            for url in urls:
                add_url(lists, str(url), AI, "matomo:ai")
    elif part == "search":
        for configs in (yaml.safe_load(texts["SearchEngines.yml"]) or {}).values():
            for config in configs:
                for url in config.get("urls", []):
                    add_url(lists, str(url), SEARCH, "matomo:search")
    else:
        for urls in (yaml.safe_load(texts["Socials.yml"]) or {}).values():
            for url in urls:
                add_url(lists, str(url), SOCIAL, "matomo:social")


def ga4_lists(snapshot: Snapshot, lists: Lists) -> None:
    rows = csv.DictReader(io.StringIO(snapshot.texts[GA4.files[0]]))
    for row in rows:
        value, raw = (row.get("source") or "").strip(), (row.get("source_category") or "").strip()
        category = GA4_CATEGORIES.get(raw)
        if not value or category is None:
            raise TouchlineError(
                f"ga4 list: bad row {row!r}: source and a SOURCE_CATEGORY_* needed"
            )
        table = lists.hosts if "." in value and " " not in value else lists.names
        _add(lists, table, value, category, "ga4")


def _drop_redundant_paths(lists: Lists) -> None:
    """A path whose category is its host's own decides nothing: dropped."""
    for key in list(lists.paths):
        own = lists.tld_hosts.get(key[:-3]) if key.endswith(".{}") else lists.hosts.get(key)
        kept = {p: c for p, c in lists.paths[key].items() if c != own}
        if kept:
            lists.paths[key] = kept
        else:
            del lists.paths[key]


def build(matomo: Snapshot, ga4: Snapshot) -> dict[str, Any]:
    """The content of ``channel_hosts.json`` from the two snapshots."""
    lists = Lists()
    for step in PRECEDENCE:
        if step == "ga4":
            ga4_lists(ga4, lists)
        else:
            matomo_lists(matomo, lists, step.split(":")[1])
    _drop_redundant_paths(lists)
    return {
        "_doc": "Generated by `touchline channels refresh` (pipeline/channel_data.py); do not edit "
        "by hand: hand-kept lists are in channel_rules.json. hosts: a referrer host or utm_source "
        "equal to the key or a subdomain of it; tld_hosts: '<key>.<country suffix>' (google.de, "
        "google.co.uk); paths: host (or '<key>.{}') -> path prefix -> category, deciding over the "
        "host's own category for referrers on that path; names: utm_source values.",
        "provenance": [
            {
                "list": s.source.key,
                "repository": f"https://github.com/{s.source.repository}",
                "files": list(s.source.files),
                "commit": s.commit,
                "commit_date": s.date,
                "licence": s.source.licence,
                "what": s.source.note,
                "read_from": s.origin,
                "files_last_changed": s.changed,
            }
            for s in (matomo, ga4)
        ],
        "precedence": list(PRECEDENCE),
        "conflicts": sorted(lists.conflicts),
        "hosts": dict(sorted(lists.hosts.items())),
        "tld_hosts": dict(sorted(lists.tld_hosts.items())),
        "paths": {h: dict(sorted(p.items())) for h, p in sorted(lists.paths.items())},
        "names": dict(sorted(lists.names.items())),
    }


def _snapshot(source: Source, path: str | None, ref: str) -> Snapshot:
    return read_local(source, Path(path), ref) if path else download(source, ref)


def _refresh(args: argparse.Namespace, _settings: object) -> int:
    data = build(
        _snapshot(MATOMO, args.matomo, args.matomo_ref), _snapshot(GA4, args.ga4, args.ga4_ref)
    )
    data["refreshed_at"] = datetime.fromtimestamp(now_ms() / 1000, UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    out = Path(args.out)
    out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(
        f"wrote {out}: {len(data['hosts'])} hosts, {len(data['tld_hosts'])} country-suffix "
        f"hosts, {len(data['paths'])} hosts with paths, {len(data['names'])} names, "
        f"{len(data['conflicts'])} conflicts resolved by precedence"
    )
    for p in data["provenance"]:
        print(f"  {p['list']}: {p['repository']} @ {p['commit']} ({p['commit_date']})")
    return 0


def register(sub: Any) -> None:
    channels = sub.add_parser(
        "channels",
        help="the channel classifier's data (refresh its host lists from public sources)",
        description="Maintain pipeline/channel_hosts.json, the search, social, video, shopping "
        "and AI-assistant hosts of the channel rules.",
    )
    actions = channels.add_subparsers(dest="action", required=True, metavar="ACTION")
    refresh = actions.add_parser(
        "refresh",
        help="rebuild channel_hosts.json from Matomo's lists (CC0) and GA4's source categories",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    refresh.add_argument("--matomo", help="snapshot of matomo-org/searchengine-and-social-list")
    refresh.add_argument("--matomo-ref", default="HEAD", help="git ref to read (default HEAD)")
    refresh.add_argument("--ga4", help="snapshot of Velir/dbt-ga4")
    refresh.add_argument("--ga4-ref", default="HEAD", help="git ref to read (default HEAD)")
    refresh.add_argument("--out", default=str(HOSTS_PATH), help="file to write")
    refresh.set_defaults(func=_refresh)
