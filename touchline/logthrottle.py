"""Rate limit for repeated log lines: an outage must not write megabytes of the same error.

A record of one kind (logger, level, message template) passes at most ``per_minute`` times a
minute; the others are dropped and counted, and the next one that passes says how many of its kind
were suppressed. Installed on the handlers of the root logger of each long-running process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

Key = tuple[str, int, str]


class RepeatFilter(logging.Filter):
    def __init__(
        self, per_minute: int, clock: Callable[[], float] = time.monotonic, window_s: float = 60.0
    ) -> None:
        super().__init__()
        self.per_minute = per_minute
        self.window_s = window_s
        self.clock = clock
        self._seen: dict[Key, tuple[float, int, int]] = {}  # window start, passed, suppressed

    def filter(self, record: logging.LogRecord) -> bool:
        if self.per_minute <= 0:
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        start, passed, suppressed = self._seen.get(key, (now, 0, 0))
        if now - start >= self.window_s:
            start, passed = now, 0
        if passed >= self.per_minute:
            self._seen[key] = (start, passed, suppressed + 1)
            return False
        if suppressed:
            record.msg = f"{record.msg} [{suppressed} more like this suppressed]"
        self._seen[key] = (start, passed + 1, 0)
        if len(self._seen) > 10_000:  # many distinct templates: forget the oldest windows
            for old in sorted(self._seen, key=lambda k: self._seen[k][0])[:5_000]:
                del self._seen[old]
        return True


def install(logger: logging.Logger, per_minute: int) -> RepeatFilter:
    """Add one shared filter to every handler of ``logger`` (records of its child loggers reach
    those handlers too; a filter on the logger itself would only see its own records)."""
    repeat = RepeatFilter(per_minute)
    for handler in logger.handlers:
        handler.addFilter(repeat)
    return repeat
