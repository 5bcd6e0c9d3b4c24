"""The city overview in a real browser: feed status of the webhooks, emergency banner."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fleet_server.db.models import Site
from tests.e2e.conftest import ADMIN_PASSWORD, ConsoleServer, screenshot
from tests.support.webhook_receiver import webhook_receiver


@pytest.fixture
def page(browser: Any, console_server: ConsoleServer) -> Iterator[Any]:
    """A fresh browser context in English."""
    context = browser.new_context(locale="en-GB", viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_city_overview_shows_failing_webhook_and_site_emergency(
    page: Any, console_server: ConsoleServer
) -> None:
    api = console_server.api
    # A site of its own, without robots, so the emergency disturbs no other test.
    with console_server.services.db.session() as session:
        session.add(Site(id="e2e-bank", name="E2E Bank", kind="bank"))
        session.commit()
    with webhook_receiver() as receiver:
        receiver.scripts["/ops"] = [500]
        created = api.post(
            "/api/v1/webhooks",
            json={
                "name": "ops-centre",
                "url": receiver.url("/ops"),
                "event_types": ["site.emergency.started"],
            },
        )
        assert created.status_code == 201, created.text
        hook = created.json()["id"]
        started = api.post("/api/v1/sites/e2e-bank/emergency", json={"reason": "evacuation"})
        assert started.status_code == 201, started.text
        try:
            page.goto(console_server.base_url + "/")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", ADMIN_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_selector("[data-testid=who]")
            banner = page.wait_for_selector("[data-testid=emergency-banner-e2e-bank]")
            assert "E2E Bank" in banner.inner_text() and "evacuation" in banner.inner_text()
            # The receiver answers 500: the webhook shows as failing within a poll or two.
            page.wait_for_selector(f"[data-testid=webhook-{hook}].webhook-failing", timeout=20_000)
            assert "1 failing" in page.inner_text("[data-testid=feeds-summary]")
            assert page.inner_text("[data-testid=feeds-bridge]") == "MQTT bridge off"
            screenshot(page, "20-city-feeds-emergency")
        finally:
            api.delete(f"/api/v1/webhooks/{hook}")
            api.delete("/api/v1/sites/e2e-bank/emergency")
        page.wait_for_selector("[data-testid=emergency-banner-e2e-bank]", state="detached")
    with console_server.services.db.session() as session:
        site = session.get(Site, "e2e-bank")
        if site is not None:
            session.delete(site)
            session.commit()
