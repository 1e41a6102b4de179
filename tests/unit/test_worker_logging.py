"""The worker's Faust Worker leaves the root logger at the level asked for: Faust's terminal
spinner would set it to DEBUG, so every library's debug message would be made into a record."""

from __future__ import annotations

import logging

import faust

from pipeline.commands import worker_class
from touchline.settings import Settings


def test_the_root_logger_stays_at_the_level_asked_for() -> None:
    app = faust.App("touchline-test-logging", broker="kafka://127.0.0.1:1")
    worker = worker_class(Settings())(app, loglevel="warning")
    logger = logging.Logger("root-under-test")
    logger.addHandler(logging.StreamHandler())
    logger.setLevel(logging.WARNING)

    worker.on_setup_root_logger(logger, logging.WARNING)

    assert logger.level == logging.WARNING
    assert not logger.isEnabledFor(logging.DEBUG)
