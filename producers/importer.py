"""``touchline import FILE``: upload a CRM lead/deal export (history) straight to Kafka.

The file is JSON lines (one row object a line) or CSV with a header row: ``--format``, else a .csv
suffix means CSV and .jsonl/.ndjson/.json JSON lines, else the first line decides (a JSON object:
JSON lines; anything else: the CSV header), and the choice is printed with how to override it.
The row fields are those of the CRM adapter (``producers/adapters/crm.py``, whose table
``--help`` prints). Every row goes the same way as through the API: the CRM adapter,
``prepare`` against the contracts, the codec, and the acks=all idempotent publisher. The ingest
API's time horizon does not apply: an import is history. Its other limits do: ``occurred_at``
within ``[TOUCHLINE_INGEST_MIN_OCCURRED_AT, now + TOUCHLINE_INGEST_FUTURE_HORIZON_S]`` and the
encoded event at most ``TOUCHLINE_INGEST_MAX_EVENT_BYTES`` (see :mod:`producers.events`).

A bad row (not JSON, not mappable, or refused by the contract) is reported on stderr in one line
(``row N: field: reason``; the progress bar is drawn only on a terminal, below those lines),
written to the dead-letter topic (stage ``ingest``; the original line's bytes for JSON lines, the
row as a JSON object for CSV) and skipped; the others are still imported. The command prints a
summary and exits with status **1 when any row was rejected** (so scripts notice), 0 when every row
was imported, and 2 when the file cannot be read or Kafka did not acknowledge every message (then
nothing is reported as imported that was not acknowledged). Re-importing a file is idempotent:
event ids are derived from the rows.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import orjson

from producers.adapters import AdapterError
from producers.adapters.crm import row_to_event
from producers.events import Prepared, occurred_range, prepare, too_large
from producers.publisher import Message, Publisher
from touchline import batch_bytes, clock, deadletter
from touchline.codec import Codec
from touchline.contracts import Contracts
from touchline.errors import TouchlineError
from touchline.settings import Settings


@dataclass(frozen=True)
class Row:
    number: int  # 1-based data row number (the CSV header is not counted)
    original: bytes
    data: Any  # the parsed row, or None when it could not be parsed
    error: str | None = None


@dataclass
class Outcome:
    """Messages to publish and rejections, for one batch of rows. Built without I/O."""

    messages: list[Message] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (row number, reason)
    dead_letters: list[Message] = field(default_factory=list)


SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
NAMES = {"csv": "CSV", "jsonl": "JSON lines"}


def detect_format(path: Path, given: str | None, first_line: str = "") -> tuple[str, str | None]:
    """The format to read ``path`` in, and a hint to print when it was guessed or looks wrong."""
    if given:
        return given, None
    looks = "jsonl" if first_line.lstrip("\ufeff \t").startswith("{") else "csv"
    why = "is a JSON object" if looks == "jsonl" else "is not a JSON object, so it is the header"
    by_suffix = SUFFIXES.get(path.suffix.lower())
    if by_suffix is None:
        return looks, (
            f"{path.name}: reading it as {NAMES[looks]} (its first line {why}); "
            "--format csv|jsonl to choose"
        )
    if by_suffix != looks:
        return by_suffix, (
            f"{path.name}: reading it as {NAMES[by_suffix]} (its suffix), but its first line "
            f"looks like {NAMES[looks]}: try --format {looks}"
        )
    return by_suffix, None


def first_line(path: Path) -> str:
    """The first non-blank line of the file (a little of it), for :func:`detect_format`."""
    try:
        with path.open("rb") as f:
            head = f.read(64 * 1024).decode("utf-8", errors="replace")
    except OSError:
        return ""
    return next((line for line in head.splitlines() if line.strip()), "")


def fields_table() -> str:
    """The row fields as the CRM adapter documents them (its docstring's indented table), and the
    web-context fields it keeps that the table does not name (found by mapping a row that has
    all of them)."""
    from producers.adapters import crm
    from producers.adapters.native import WEB_FIELDS

    doc = crm.__doc__ or ""
    block = doc.split("::\n", 1)[1] if "::\n" in doc else ""
    lines = []
    for line in block.splitlines()[1:]:
        if line and not line.startswith(" "):
            break
        lines.append(line)
    table = "\n".join(lines).strip("\n")
    row = {"type": "lead", "id": "1", "created_at": "2025-01-01", "account_id": "a"}
    web = crm.row_to_event({**row, **dict.fromkeys(WEB_FIELDS, "x")}, None)["envelope"]["web"]
    more = [f for f in WEB_FIELDS if f in (web or {}) and f not in table]
    return table + (f"\n    {', '.join(more)}  (web context, like the utm_ fields)" if more else "")


def read_rows(stream: TextIO, fmt: str) -> Iterator[Row]:
    if fmt == "csv":
        reader = csv.DictReader(stream)
        for n, record in enumerate(reader, start=1):
            if None in record:  # more cells than header columns
                yield Row(n, orjson.dumps(record, default=str), None, "row has extra cells")
                continue
            yield Row(n, orjson.dumps(record), dict(record))
        return
    n = 0
    for line in stream:
        if not line.strip():
            continue
        n += 1
        raw = line.rstrip("\n").encode()
        try:
            yield Row(n, raw, orjson.loads(raw))
        except orjson.JSONDecodeError as exc:
            yield Row(n, raw, None, f"$: not valid JSON: {exc}")


@dataclass(frozen=True)
class _Context:
    contracts: Contracts
    codec: Codec
    settings: Settings
    account: str | None
    received: int
    valid: tuple[int, int]  # the valid occurred_at range


def _event(row: Row, c: _Context) -> tuple[Prepared, bytes] | str:
    """The row's event and its Avro bytes, or why the row is refused."""
    try:
        event = row_to_event(row.data, c.account)
        region = c.settings.phone_region
        result = prepare(c.contracts, event, c.received, c.valid, phone_region=region)
    except AdapterError as exc:
        return str(exc)
    if not isinstance(result, Prepared):
        return "; ".join(str(e) for e in result)
    try:
        value = c.codec.encode(result.family.name, result.datum)
    except (ValueError, TypeError, OverflowError) as exc:
        return f"$: cannot be encoded as Avro: {exc}"
    big = too_large(result.datum, len(value), c.settings.ingest_max_event_bytes)
    return str(big) if big is not None else (result, value)


def convert_rows(
    rows: list[Row],
    contracts: Contracts,
    codec: Codec,
    settings: Settings,
    account: str | None,
) -> Outcome:
    """Map, validate and encode rows; rejected rows become dead letters."""
    from touchline import topics

    out = Outcome()
    received = clock.now_ms()
    valid = occurred_range(
        settings.ingest_min_occurred_at, settings.ingest_future_horizon_s, received
    )
    context = _Context(contracts, codec, settings, account, received, valid)
    for row in rows:
        found = row.error or _event(row, context)
        if not isinstance(found, str):
            prepared, value = found
            out.messages.append(
                Message(topics.raw(settings, prepared.family.topic), prepared.key, value)
            )
            continue
        out.rejected.append((row.number, found))
        letter = deadletter.encode(
            codec, "ingest", f"import row {row.number}: {found}", row.original, failed_at=received
        )
        out.dead_letters.append(Message(topics.dead_letter(settings), None, letter))
    return out


def run_import(
    path: Path,
    settings: Settings,
    *,
    fmt: str | None = None,
    account: str | None = None,
    batch_rows: int | None = None,
    progress: bool = True,
    err: TextIO = sys.stderr,
) -> tuple[int, int]:
    """Import ``path``; returns ``(imported, rejected)``. Raises TouchlineError on I/O failure."""
    from tqdm import tqdm

    from touchline import topics

    fmt, hint = detect_format(path, fmt, first_line(path))
    if hint:
        print(hint, file=err)
    try:
        stream: TextIO = io.TextIOWrapper(path.open("rb"), encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise TouchlineError(f"cannot read {path}: {exc.strerror}") from exc
    endpoints, contracts = topics.ready(settings)
    codec = Codec(contracts, endpoints.schema_registry_url)
    written = [*topics.all_raw(settings, contracts), topics.dead_letter(settings)]
    batch = batch_bytes.for_topics(
        endpoints.kafka_bootstrap, written, settings.kafka_max_message_bytes
    )
    overrides: dict[str, Any] = {"batch.size": batch}
    publisher = Publisher(endpoints.kafka_bootstrap, **overrides)
    total = path.stat().st_size
    try:
        with (
            stream,
            tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                desc=path.name,
                disable=not (progress and err.isatty()),  # \r redraws garble a log file
                file=err,
            ) as bar,
        ):
            tally = _Tally()

            def flush(batch: list[Row]) -> None:
                outcome = convert_rows(batch, contracts, codec, settings, account)
                tally.publish(publisher, outcome, lambda line: bar.write(line, file=err))
                batch.clear()

            try:
                position = _read(stream, fmt, batch_rows or settings.import_batch_rows, flush, bar)
            except (UnicodeDecodeError, csv.Error) as exc:
                raise TouchlineError(f"{path}: cannot parse as {fmt}: {exc}") from exc
            bar.update(total - position)
    finally:
        publisher.close(10)
    return tally.imported, tally.rejected


@dataclass
class _Tally:
    """Rows imported (acknowledged by Kafka) and rejected so far."""

    imported: int = 0
    rejected: int = 0

    def publish(self, publisher: Publisher, outcome: Outcome, say: Callable[[str], None]) -> None:
        """Publish one converted batch and count it; a Kafka failure says how far it got."""
        try:
            publisher.publish_sync([*outcome.messages, *outcome.dead_letters])
        except Exception as exc:
            raise TouchlineError(
                f"Kafka did not acknowledge every message ({exc}); "
                f"{self.imported} rows were imported before this batch, re-run to finish "
                "(re-importing is idempotent)"
            ) from exc
        for number, reason in outcome.rejected:
            say(f"row {number}: {reason}")
        self.imported += len(outcome.messages)
        self.rejected += len(outcome.rejected)


def _read(
    stream: TextIO, fmt: str, batch_rows: int, flush: Callable[[list[Row]], None], bar: Any
) -> int:
    """Rows in batches of ``batch_rows`` to ``flush``, the progress bar following the bytes read.
    Returns the byte position the bar has reached."""
    batch: list[Row] = []
    position = 0
    for row in read_rows(stream, fmt):
        batch.append(row)
        if len(batch) >= batch_rows:
            flush(batch)
            now = stream.buffer.tell()
            bar.update(now - position)
            position = now
    if batch:
        flush(batch)
    return position


def _import(args: argparse.Namespace, settings: Settings) -> int:
    imported, rejected = run_import(
        Path(args.file),
        settings,
        fmt=args.format,
        account=args.account,
        progress=not args.quiet,
    )
    print(
        f"imported {imported} row{'' if imported == 1 else 's'}, rejected {rejected}"
        + (" (rejected rows are in the dead-letter topic)" if rejected else "")
    )
    return 1 if rejected else 0


def register(sub: argparse._SubParsersAction) -> None:
    from producers.doctext import terminal

    paragraphs = (__doc__ or "").split("\n\n")
    parser = sub.add_parser(
        "import",
        help="upload a CRM lead/deal export (JSON lines or CSV) to Kafka",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="\n\n".join(
            [
                terminal(paragraphs[1]),
                terminal(
                    "Row fields (a JSON object's keys or the CSV header's names; values may be "
                    "strings, empty means absent):"
                ),
                fields_table(),
                terminal(paragraphs[2]),
            ]
        ),
    )
    parser.add_argument("file", help="the export: CSV with a header row, or JSON lines")
    parser.add_argument(
        "--format",
        choices=["jsonl", "csv"],
        default=None,
        help="default: .csv is CSV, .jsonl/.ndjson/.json JSON lines, else the first line decides",
    )
    parser.add_argument(
        "--account", default=None, help="account id of every row (else each row's account_id)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_import)
