"""The live client card names the new channels (issue 16): a visit from an AI assistant and one
from a webmail newsletter before a call, through the real processor and Redis; with
TOUCHLINE_AI_ASSISTANT_AS_REFERRAL the assistant's visit is a referral."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from pipeline.card import Rules, render
from pipeline.processor import Config, Processor, processor_config
from pipeline.store import ClientStore
from tests.integration.test_processor import CODEC, LOOP, MIN, T0, call, enriched, event
from touchline.services.stack import Endpoints
from touchline.settings import Settings

pytestmark = pytest.mark.integration
DAY = 86_400_000


@pytest.fixture(params=[False, True], ids=["ai_assistant", "folded"])
def processor(services: Endpoints, request: pytest.FixtureRequest) -> Iterator[Processor]:
    store = ClientStore(services.redis_url, f"t{uuid.uuid4().hex[:8]}", max_share=2)
    settings = Settings(ai_assistant_as_referral=request.param)  # the env var's setting
    config = processor_config(settings)
    assert isinstance(config, Config) and config.ai_assistant_as_referral is request.param
    yield Processor(CODEC, store, config)
    LOOP.run_until_complete(store.close())


def page(at: int, referrer: str) -> bytes:
    web = {"referrer": referrer, "page_url": "https://studio.example/kurse"}
    return event("WebTouch", "page_view", at, {"cid": "7.7", "email": "lea@x.de"}, web)


def test_the_card_shows_the_assistant_and_the_webmail_visit(processor: Processor) -> None:
    records = [
        page(T0, "https://chatgpt.com/"),
        page(T0 + DAY, "https://deref-gmx.net/mail/client/abc/dereferrer/?redirectUrl=x"),
        page(T0 + DAY + MIN, "https://studio.example/preise"),  # the same visit, internal
        call(T0 + 2 * DAY, "+49 30 1112223", "lea@x.de"),
    ]
    outputs = [enriched(o) for o in (LOOP.run_until_complete(processor.handle(r)) for r in records)]
    folded = processor.config.ai_assistant_as_referral
    assistant = "referral" if folded else "ai_assistant"
    assert [o["own_channel"] for o in outputs] == [assistant, "email", "direct", "phone_call"]
    card = LOOP.run_until_complete(processor.store.card("acc", outputs[0]["client_id"]))
    text = render(card, Rules(30 * MIN, 90 * DAY, 2))
    assert f"channels      {', '.join(sorted([assistant, 'email', 'phone_call']))}" in text
    assert "first touch   2026-09-21 14:13 UTC  " + assistant in text
    assert "touches       3   contacts 1   multichannel 1" in text  # the internal page is no touch
    assert f"phone_call  (+24.0 h)  multichannel: {assistant}, email" in text
