"""The web page in a real headless Chromium: pick a user, see posters, like an item, see the list change."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serve.conftest import API_KEY
from tests.serve.server import ServerProcess

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    if not Path(CHROMIUM).is_file() and shutil.which("chromium") is None:
        pytest.skip(f"no Chromium at {CHROMIUM} (install the Debian chromium package)")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def server(artifact: Path, tmp_path: Path) -> Iterator[ServerProcess]:
    settings = {"artifact": str(artifact), "store_url": f"sqlite:///{tmp_path / 'events.sqlite3'}", "api_key": API_KEY}
    process = ServerProcess(settings, tmp_path / "server.log")
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def card_ids(page: Any) -> list[str]:
    return page.eval_on_selector_all("#recommendations .rec-card", "cards => cards.map(c => c.dataset.itemId)")


def test_pick_a_user_like_an_item_and_see_the_list_change(browser: Any, server: ServerProcess) -> None:
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(f"{server.url}/")
    page.wait_for_selector("#user-select option[value='u3']", state="attached")
    page.fill("#api-key", API_KEY)
    page.select_option("#user-select", "u3")

    page.wait_for_function("() => document.querySelectorAll('#recommendations .rec-card').length === 12")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#recommendations img.poster')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    assert page.locator("#recommendations img.poster").count() == 12
    assert page.locator("#history li").count() > 0
    page.wait_for_function("() => document.querySelector('#recommendations .legend').textContent.includes('image')")
    assert "text" in page.locator("#recommendations .legend").first.text_content()
    assert page.locator("#recommendations .bar span").count() >= 12
    before = card_ids(page)

    page.locator(f"#recommendations .rec-card[data-item-id='{before[0]}'] button.like").click()
    page.wait_for_function(
        "first => ![...document.querySelectorAll('#recommendations .rec-card')].some(c => c.dataset.itemId === first)",
        arg=before[0],
    )
    after = card_ids(page)
    assert after != before and before[0] not in after and len(after) == 12
    page.wait_for_function("() => document.querySelector('#strategy').textContent.includes('profile')")
    first_history = page.locator("#history li").first
    assert first_history.get_attribute("data-item-id") == before[0]
    assert first_history.locator(".tag").text_content() == "like"

    page.locator("#recommendations .rec-card button.similar").first.click()
    page.wait_for_function("() => document.querySelectorAll('#similar li').length === 8")
    assert "error" not in (page.locator("#status").get_attribute("class") or "")
    assert not [text for text in console if "Content Security Policy" in text]  # the page lives within its CSP
    page.close()


def test_a_like_without_the_api_key_shows_the_error(browser: Any, server: ServerProcess) -> None:
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{server.url}/")
    page.wait_for_selector("#user-select option[value='u4']", state="attached")
    page.select_option("#user-select", "u4")
    page.wait_for_function("() => document.querySelector('#status').textContent === 'user u4'")  # fully loaded
    before = card_ids(page)
    page.locator("#recommendations button.like").first.click()
    page.wait_for_function("() => document.querySelector('#status').classList.contains('error')")
    assert "unauthorized" in page.locator("#status").text_content()
    assert card_ids(page) == before
    page.close()
