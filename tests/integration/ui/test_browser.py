"""The web UI in a real browser against a real server: what a person does, end to end.

Each test saves screenshots under test-output/screenshots/ for a person to look at.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from nanobrain.examples import DATA_DIR
from tests.support.browser import DESKTOP, PHONE, launch, screenshot
from tests.support.server import Server

TIMEOUT_MS = 20_000
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from launch()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with just the bundled examples: what `nanobrain serve` shows a newcomer."""
    instance = Server(tmp_path_factory.mktemp("ui"), targets=["nanobrain.examples"]).start()
    yield instance
    instance.kill()


def open_page(browser: Browser, base_url: str, viewport: dict[str, int] = DESKTOP) -> Page:
    context = browser.new_context(base_url=base_url, viewport=viewport)  # type: ignore[arg-type]
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.uncaught_errors = errors  # type: ignore[attr-defined]
    return page


@pytest.fixture
def page(browser: Browser, server: Server) -> Iterator[Page]:
    page = open_page(browser, server.url)
    yield page
    errors = page.uncaught_errors  # type: ignore[attr-defined]
    page.context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


def drop_file(page: Page, selector: str, path: Path, mime: str) -> None:
    """Drag a file onto an element, as a person dropping it from their desktop."""
    payload = base64.b64encode(path.read_bytes()).decode()
    transfer = page.evaluate_handle(
        """([name, b64, mime]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: mime }));
            return transfer;
        }""",
        [path.name, payload, mime],
    )
    page.dispatch_event(selector, "dragover", {"dataTransfer": transfer})
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


def field(page: Page, name: str) -> Locator:
    """A generated form's input for a top-level field."""
    return page.locator(f"#root_{name}")


def progress_percent(page: Page) -> int:
    bar = page.get_by_role("progressbar", name="Execution progress")
    return int(bar.get_attribute("aria-valuenow") or 0)


def execution(page: Page, status: str) -> None:
    expect(page.locator(f'section.execution[data-status="{status}"]')).to_be_visible()


# -- catalog and routing ---------------------------------------------------------------------


def test_catalog_lists_workflows_with_search_and_tag_filters(page: Page, server: Server) -> None:
    page.goto("/")
    cards = page.locator(".workflow-card")
    expect(cards).to_have_count(len(httpx.get(f"{server.api}/workflows", timeout=10).json()))
    card = page.locator('.workflow-card[data-workflow="sequence-analysis"]')
    expect(card.locator(".badge.mode")).to_have_text("job")
    expect(card).to_contain_text("analyse the sequences in this FASTA file")
    screenshot(page, "catalog")

    page.get_by_placeholder("Search workflows").fill("histogram")
    expect(cards).to_have_count(1)
    expect(cards.first).to_have_attribute("data-workflow", "data-summary")
    page.get_by_placeholder("Search workflows").fill("")
    page.get_by_role("group", name="Filter by tag").get_by_role("button", name="text 1").click()
    expect(cards).to_have_count(1)
    expect(cards.first).to_have_attribute("data-workflow", "text-stats")


def test_the_free_form_box_routes_and_prefills_the_form(page: Page) -> None:
    page.goto("/")
    page.get_by_label("What do you want to do?").fill("count the words in this text")
    page.get_by_role("button", name="Find workflow").click()
    result = page.locator(".route-result")
    expect(result).to_contain_text("Best match: text-stats")
    expect(result).to_contain_text("confident")
    screenshot(page, "route-box")
    page.get_by_role("button", name="Open text-stats").click()
    expect(page).to_have_url(re.compile(r"/workflows/text-stats$"))
    expect(field(page, "text")).to_have_value("count the words in this text")


# -- generated run pages -------------------------------------------------------------------


def test_sequence_analysis_from_an_uploaded_fasta_shows_a_per_record_table(page: Page) -> None:
    page.goto("/workflows/sequence-analysis")
    page.locator("#root_fasta").set_input_files(str(DATA_DIR / "sample.fasta"))
    expect(page.get_by_text("sample.fasta")).to_be_visible()
    page.get_by_role("button", name="Run").click()
    execution(page, "succeeded")
    table = page.get_by_role("region", name="Sequences")
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(table.locator("tbody tr").first).to_contain_text("seq1")
    # sortable: GC content descending puts the GC-rich fragment first
    header = table.get_by_role("columnheader", name="gc_content")
    header.get_by_role("button").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    header.get_by_role("button").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(table.locator("tbody tr").first).to_contain_text("seq2")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
    screenshot(page, "run-sequence-analysis")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    csv = Path(download.value.path()).read_text()
    assert csv.splitlines()[0].startswith("id,description,length,gc_content")
    assert len(csv.splitlines()) == 4


def test_data_summary_from_a_dropped_csv_draws_its_chart(page: Page) -> None:
    page.goto("/workflows/data-summary")
    drop_file(page, '[data-testid="file-root_table"]', DATA_DIR / "sample.csv", "text/csv")
    expect(page.get_by_text("sample.csv")).to_be_visible()
    field(page, "column").fill("ph")
    page.get_by_role("button", name="Run").click()
    execution(page, "succeeded")
    expect(page.get_by_role("region", name="Numeric columns")).to_contain_text("temperature_c")
    chart = page.get_by_test_id("chart")
    expect(chart.locator("svg .mark-rect path").first).to_be_attached()
    expect(page.locator(".chart-view figcaption")).to_have_text("Distribution of ph")
    screenshot(page, "run-data-summary-chart")


def test_a_simulation_shows_progress_and_really_cancels(page: Page, server: Server) -> None:
    page.goto("/workflows/simulation")
    field(page, "steps").fill("60")
    field(page, "step_seconds").fill("0.2")
    page.get_by_role("button", name="Run").click()
    execution(page, "running")
    expect(page.locator(".progress-text")).to_contain_text("step 2/60")
    first = progress_percent(page)
    expect(page.locator(".progress-text")).to_contain_text("step 6/60")
    assert progress_percent(page) > first
    screenshot(page, "run-simulation-progress")
    page.get_by_role("button", name="Cancel").click()
    execution(page, "cancelled")
    expect(page.locator(".execution .status")).to_have_text("cancelled")
    execution_id = page.url.split("execution=")[1]
    status = httpx.get(f"{server.api}/workflows/{execution_id}/status", timeout=10).json()
    assert status["status"] == "cancelled"
    assert status["progress"]["fraction"] < 0.5  # it stopped running, not just the display
    screenshot(page, "run-simulation-cancelled")


def test_server_validation_errors_show_under_their_field(page: Page) -> None:
    page.goto("/")
    page.evaluate(
        """localStorage.setItem("nanobrain.ui.v1", JSON.stringify({
            drafts: {"workflow:sequence-analysis": {fasta: "no-such-file"}}, theme: "light"}))"""
    )
    page.goto("/workflows/sequence-analysis")
    page.get_by_role("button", name="Run").click()
    expect(page.locator(".error-detail")).to_contain_text("unknown file_id 'no-such-file'")
    expect(page.get_by_role("alert").first).to_be_visible()


def test_drafts_survive_a_reload_and_edits_undo(page: Page) -> None:
    page.goto("/workflows/simulation")
    steps = field(page, "steps")
    steps.fill("7")
    page.wait_for_timeout(900)  # a separate undo step from the next edit
    steps.fill("9")
    page.wait_for_timeout(500)  # drafts are saved a moment after the last edit
    page.reload()
    expect(field(page, "steps")).to_have_value("9")
    field(page, "seed").fill("42")
    page.get_by_role("button", name="Undo").click()
    expect(field(page, "seed")).to_have_value("0")
    field(page, "steps").press("Control+Shift+Z")
    expect(field(page, "seed")).to_have_value("42")


# -- connection resilience -------------------------------------------------------------------


def test_the_page_reconnects_through_a_server_restart_and_completes(
    browser: Browser, tmp_path: Path
) -> None:
    server = Server(tmp_path / "data", env={"NANOBRAIN_RUNTIME__SHUTDOWN_GRACE_SECONDS": "20"})
    server.start()
    page = open_page(browser, server.url)
    try:
        page.goto("/workflows/simulation")
        field(page, "steps").fill("16")
        field(page, "step_seconds").fill("0.5")
        page.get_by_role("button", name="Run").click()
        expect(page.locator(".progress-text")).to_contain_text("step 2/16")
        expect(page.locator(".connection")).to_have_attribute("data-state", "live")

        # A graceful restart: the running execution finishes during the shutdown grace period,
        # while the page has lost its stream and keeps retrying with Last-Event-ID.
        assert server.stop()
        expect(page.locator(".connection")).to_have_attribute("data-state", "reconnecting")
        expect(page.locator(".stream-note")).to_contain_text("reconnecting")
        screenshot(page, "restart-reconnecting")
        time.sleep(1)
        server.start()

        execution(page, "succeeded")
        expect(
            page.get_by_role("region", name="Estimate per step").locator("tbody tr")
        ).to_have_count(16)
        expect(page.locator(".connection")).to_have_attribute("data-state", "online")
        screenshot(page, "restart-completed")
        assert page.uncaught_errors == []  # type: ignore[attr-defined]
    finally:
        page.context.close()
        server.kill()


# -- history, tools, admin -------------------------------------------------------------------


def test_history_reopens_an_execution_and_reruns_it(page: Page, server: Server) -> None:
    started = httpx.post(
        f"{server.api}/workflows/execute",
        json={"workflow": "text-stats", "input": {"text": "One fish. Two fish.", "top": 3}},
        timeout=10,
    ).json()
    page.goto("/history")
    statuses = page.get_by_role("group", name="Filter by status")
    statuses.get_by_role("button", name="succeeded").click()
    item = page.locator(".history-item", has=page.get_by_text("text-stats")).first
    expect(item.locator(".status")).to_have_text("succeeded")
    page.get_by_role("button", name="failed", exact=True).click()
    expect(page.locator(".history-item", has_text="text-stats")).to_have_count(0)
    page.get_by_role("button", name="all", exact=True).click()
    expect(item).to_be_visible()
    screenshot(page, "history")

    page.goto(f"/executions/{started['execution_id']}")
    expect(page.locator(".json-view").first).to_contain_text('"text": "One fish. Two fish."')
    execution(page, "succeeded")
    expect(page.get_by_role("region", name="Top terms")).to_contain_text("fish")
    page.get_by_text("Events (").click()
    expect(page.locator(".json-view", has_text="Events")).to_contain_text('"type": "result"')
    screenshot(page, "execution-detail")
    page.get_by_role("button", name="Re-run with the same inputs").click()
    rerun = re.compile(r"/workflows/text-stats\?execution=(?!" + started["execution_id"] + ")")
    expect(page).to_have_url(rerun)
    execution(page, "succeeded")
    expect(field(page, "text")).to_have_value("One fish. Two fish.")


def test_tools_page_lists_agents_and_tries_a_tool(page: Page) -> None:
    page.goto("/tools")
    page.get_by_role("button", name="lab-assistant").click()
    expect(page.locator("#agent-title")).to_have_text("lab-assistant")
    expect(page.locator(".tools-main")).to_contain_text("convert-units")
    page.get_by_role("button", name="gc-content").click()
    field(page, "sequence").fill("GCGCAT")
    page.get_by_role("button", name="Try it").click()
    expect(page.locator(".tool-result .result-text")).to_have_text("66.67")
    screenshot(page, "tools")
    field(page, "sequence").fill("hello")
    page.get_by_role("button", name="Try it").click()
    expect(page.get_by_role("alert")).to_contain_text("not a DNA sequence")


def test_admin_shows_health_and_metrics_and_what_this_server_lacks(page: Page) -> None:
    page.goto("/admin")
    expect(page.get_by_role("heading", name="Administration")).to_be_visible()
    health = page.locator("section", has=page.locator("#health-title"))
    expect(health).to_contain_text("database")
    expect(health).to_contain_text("HTTP requests")
    screenshot(page, "admin")


# -- theme, keyboard, phone ------------------------------------------------------------------


def test_dark_theme_is_chosen_and_remembered(page: Page) -> None:
    page.goto("/")
    html = page.locator("html")
    expect(html).to_have_attribute("data-theme", "light")
    page.get_by_role("button", name="Switch to dark theme").click()
    expect(html).to_have_attribute("data-theme", "dark")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 17, 23)"
    page.wait_for_timeout(400)
    page.goto("/workflows/simulation")
    expect(html).to_have_attribute("data-theme", "dark")
    field(page, "steps").fill("3")
    field(page, "step_seconds").fill("0")
    page.get_by_role("button", name="Run").click()
    execution(page, "succeeded")
    screenshot(page, "run-page-dark")


def test_a_workflow_runs_from_the_keyboard_alone(page: Page) -> None:
    page.goto("/workflows/echo")
    expect(field(page, "message")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    field(page, "message").focus()
    page.keyboard.type("hello from the keyboard")
    page.keyboard.press("Enter")
    execution(page, "succeeded")
    expect(page.locator(".scalars")).to_contain_text("hello from the keyboard")


def test_phone_width_stacks_the_layout_behind_a_menu(browser: Browser, server: Server) -> None:
    page = open_page(browser, server.url, PHONE)
    try:
        page.goto("/")
        nav = page.get_by_role("navigation", name="Main")
        expect(nav).to_be_hidden()
        page.get_by_role("button", name="Menu").click()
        expect(nav.get_by_role("link", name="History")).to_be_visible()
        screenshot(page, "phone-menu")
        nav.get_by_role("link", name="Workflows").click()
        expect(nav).to_be_hidden()
        page.goto("/workflows/simulation")
        field(page, "steps").fill("2")
        field(page, "step_seconds").fill("0")
        page.get_by_role("button", name="Run").click()
        execution(page, "succeeded")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
        screenshot(page, "phone-run")
    finally:
        page.context.close()


# -- chat, sign-in and roles ----------------------------------------------------------------


def test_chat_streams_a_reply(page: Page, server: Server) -> None:
    page.goto("/chat")
    page.get_by_label("Message").fill("Reverse complement of ATGC, please")
    page.get_by_label("Message").press("Enter")
    messages = page.locator(".message")
    expect(messages.first).to_have_attribute("data-role", "user")
    expect(page.locator('.message[data-role="assistant"]:not([data-streaming])')).to_have_count(1)
    expect(page).to_have_url(re.compile(r"/chat/.+"))
    screenshot(page, "chat")
    page.reload()
    expect(page.locator('.message[data-role="assistant"]')).to_have_count(1)


ADMIN_PASSWORD = "e2e-admin-password"


@pytest.fixture
def auth_server(tmp_path: Path) -> Iterator[Server]:
    server = Server(
        tmp_path / "auth",
        env={
            "NANOBRAIN_WEB_INTERFACE__AUTH_CONFIG__ENABLED": "true",
            "NANOBRAIN_WEB_INTERFACE__AUTH_CONFIG__JWT_SECRET": "e2e-secret-" + "x" * 32,
            "NANOBRAIN_ADMIN_USERNAME": "admin",
            "NANOBRAIN_ADMIN_PASSWORD": ADMIN_PASSWORD,
        },
    )
    server.start()
    yield server
    server.kill()


def _admin_token(server: Server) -> str:
    reply = httpx.post(
        f"{server.api}/auth/login",
        json={"username": "admin", "password": ADMIN_PASSWORD},
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    return str(reply.json()["access_token"])


def test_sign_in_and_out(browser: Browser, auth_server: Server) -> None:
    page = open_page(browser, auth_server.url)
    try:
        page.goto("/")
        expect(page.get_by_role("heading", name="Sign in to NanoBrain")).to_be_visible()
        screenshot(page, "sign-in")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill("wrong")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_be_visible()
        page.get_by_label("Password").fill(ADMIN_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator(".workflow-card").first).to_be_visible()
        page.goto("/admin")
        expect(page.get_by_role("heading", name="Users and roles")).to_be_visible()
        screenshot(page, "admin-signed-in")
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in to NanoBrain")).to_be_visible()
    finally:
        page.context.close()


def test_a_user_without_admin_permission_sees_no_admin_pages(
    browser: Browser, auth_server: Server
) -> None:
    created = httpx.post(
        f"{auth_server.api}/admin/users",
        json={"username": "reader", "password": "reader-password", "role": "user"},
        headers={"Authorization": f"Bearer {_admin_token(auth_server)}"},
        timeout=10,
    )
    assert created.status_code in (200, 201), created.text
    page = open_page(browser, auth_server.url)
    try:
        page.goto("/")
        page.get_by_label("Username").fill("reader")
        page.get_by_label("Password").fill("reader-password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator(".workflow-card").first).to_be_visible()
        expect(page.get_by_role("link", name="Admin")).to_have_count(0)
        page.goto("/admin")
        expect(page).to_have_url(re.compile(r"/$"))
        expect(page.get_by_role("heading", name="Administration")).to_have_count(0)
    finally:
        page.context.close()


def test_signed_in_chat_authenticates_its_socket_with_a_message_not_the_url(
    browser: Browser, auth_server: Server
) -> None:
    page = open_page(browser, auth_server.url)
    try:
        page.goto("/")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill(ADMIN_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator(".workflow-card").first).to_be_visible()
        page.goto("/chat")
        expect(page.locator(".connection")).to_have_attribute("data-state", "live")
        page.get_by_label("Message").fill("Reverse complement of ATGC, please")
        page.get_by_label("Message").press("Enter")
        expect(page.locator('.message[data-role="assistant"]:not([data-streaming])')).to_have_count(
            1
        )
    finally:
        page.context.close()  # the socket closes: its access log line is written
    deadline = time.monotonic() + 10
    while '"WEBSOCKET /api/v1/ws' not in auth_server.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    sessions = [line for line in auth_server.log().splitlines() if '"WEBSOCKET ' in line]
    assert sessions and all('"WEBSOCKET /api/v1/ws" 101 ' in line for line in sessions), sessions
