"""What a newcomer who ran ``make run`` does in the admin, in a real headless Chromium:
log in, watch a package go through on the live overview, find it, read its protocol,
replay a dead letter and see its queue's dead count fall.

Screenshots of every step go to ``tests/artifacts/`` (not committed).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import (
    ARTIFACTS,
    DEAD_ACTOR,
    DEAD_DAY,
    DEAD_QUEUE,
    PASSWORD,
    USER,
    AdminHub,
)
from tests.builders import erz_for, register

if TYPE_CHECKING:  # Playwright is imported when the test runs: without it, it skips
    from playwright.sync_api import BrowserContext, Page

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.timeout(180)]

# the overview's tables, as the live refresh leaves them: {first cell: other cells}
TABLE_JS = """sel => Object.fromEntries([...document.querySelectorAll(sel + " tbody tr")]
    .map(tr => [...tr.cells].map(c => c.textContent.trim()))
    .map(([first, ...rest]) => [first, rest]))"""
# true once the overview's table ``sel`` has ``want`` in the cell ``col`` (its data-col)
# of the row whose first cell is ``row``
CELL_IS_JS = """([sel, row, col, want]) => {
    const tr = [...document.querySelectorAll(sel + " tbody tr")]
        .find(tr => tr.cells[0].textContent.trim() === row);
    const td = tr && tr.querySelector(`td[data-col="${col}"]`);
    return td != null && td.textContent.trim() === want;
}"""
REGISTER = "HM640001S64004_25111"


def ok(what: str) -> None:
    print(f"  ok: {what}")


def shot(page: Page, name: str) -> None:
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def wait_cell(page: Page, table: str, row: str, col: str, want: str, timeout: float = 30) -> None:
    """Wait (never reloading) until the live table shows ``want``; else say what it shows."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(CELL_IS_JS, arg=[table, row, col, want], timeout=timeout * 1000)
    except PlaywrightTimeout as exc:
        shows = page.evaluate(TABLE_JS, table)
        raise AssertionError(f"{table} never showed {row}[{col}] = {want}: {shows}") from exc


def publish(admin_hub: AdminHub, tmp: Path, name: str, data: bytes, party: str, *,
            wait: bool) -> str:  # fmt: skip
    """``omsx publish`` as the participant's gateway, as the README tells a newcomer."""
    path = tmp / name
    path.write_bytes(data)
    args = ["publish", str(path), "--as", party]
    done = admin_hub.hub.omsx(*args, *(["--wait", "--timeout", "60"] if wait else []))
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_log_in_watch_a_package_read_its_protocol_and_replay_a_dead_letter(
    admin_hub: AdminHub, browser_context: BrowserContext, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    hub, base = admin_hub.hub, admin_hub.url
    overview = browser_context.new_page()

    # 1. no session: the overview sends to the login; log in as the operator
    overview.goto("/")
    expect(overview).to_have_url(f"{base}/login?next=%2F")
    expect(overview.get_by_role("button", name="Войти")).to_be_visible()
    ok("/ without a session redirects to /login?next=%2F")
    overview.fill("#username", USER)
    overview.fill("#password", PASSWORD)
    shot(overview, "01-login")
    overview.get_by_role("button", name="Войти").click()
    expect(overview).to_have_url(f"{base}/")
    expect(overview.locator("nav")).to_contain_text(f"{USER} (operator)")
    expect(overview.locator("h1")).to_have_text("omsx — обзор обмена")
    ok(f"logged in: the overview, nav shows '{USER} (operator)'")
    wait_cell(overview, "#queues", DEAD_QUEUE, "dead", "1", timeout=5)
    assert overview.evaluate(TABLE_JS, "#packages") == {}, "a fresh hub has packages"
    ok(f"overview: queue {DEAD_QUEUE} has 1 dead letter, no packages yet")
    shot(overview, "02-overview-fresh")
    overview.evaluate("window.omsxNotReloaded = true")  # gone if the page reloads

    # 2. a register goes through (its persons' erz first), watched on the live overview
    reg_name, reg = register(REGISTER, n=2)
    erz_name, erz = erz_for((reg_name, reg))
    out = publish(admin_hub, tmp_path, erz_name, erz, "smo.64004", wait=True)
    assert "RESULT A" in out, out
    wait_cell(overview, "#packages", "applied", "packages", "1")
    ok(f"{erz_name} (the persons the register names) applied, seen live")
    publish(admin_hub, tmp_path, reg_name, reg, "mo.640001", wait=False)
    wait_cell(overview, "#packages", "applied", "packages", "2", timeout=60)
    assert overview.evaluate("window.omsxNotReloaded === true"), "the overview reloaded"
    assert overview.evaluate(TABLE_JS, "#packages") == {"applied": ["2"]}
    ok(f"{reg_name} published; the overview shows applied 2 without a reload")
    shot(overview, "03-overview-applied")

    # 3. find the register by its file name's start, open it, read its protocol
    page = browser_context.new_page()
    page.goto("/packages")
    page.fill("input[name=file_name]", REGISTER[:8])
    page.get_by_role("button", name="Найти").click()
    expect(page).to_have_url(re.compile(rf"/packages\?.*file_name={REGISTER[:8]}"))
    rows = page.locator("#packages tbody tr")
    expect(rows).to_have_count(1)
    row = rows.first
    expect(row).to_contain_text(reg_name)
    cells = [c.strip() for c in row.locator("td").all_inner_texts()]
    assert cells[1:8] == [reg_name, "mo.640001", "registry", "2511", "applied", "A", "2"], cells
    ok(f"search file_name={REGISTER[:8]}: one row {cells[:8]}")
    shot(page, "04-packages-search")
    row.get_by_role("link", name=reg_name).click()
    expect(page).to_have_url(re.compile(r"/packages/\d+$"))
    package_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("h1")).to_have_text(f"Пакет {package_id}: {reg_name}")
    expect(page.locator("#state")).to_have_text("applied")
    expect(page.locator("#timeline")).to_contain_text("ingest")
    protocol = page.locator("#protocol")
    expect(protocol).to_contain_text(f"V{REGISTER}")
    expect(protocol).to_contain_text("RESULT A, принято 2, отказано 0")
    expect(page.locator("#problems tbody")).to_have_text("замечаний нет")
    ok(f"package {package_id}: applied, protocol '{protocol.inner_text().strip()}'")
    xml_link = protocol.get_by_role("link", name="XML")
    assert xml_link.get_attribute("href") == f"/packages/{package_id}/protocol.xml"
    raw = page.request.get(f"/packages/{package_id}/protocol.xml")  # the session's cookies
    assert raw.status == 200 and raw.headers["content-type"].startswith("application/xml")
    xml = raw.body().decode("utf-8")
    assert "<FLK_P>" in xml and f"V{REGISTER}" in xml and "<RESULT>A</RESULT>" in xml, xml
    ok(f"/packages/{package_id}/protocol.xml: {len(xml)} chars of FLK_P, RESULT A")
    shot(page, "05-package-detail")

    # 4. the dead letter: listed, dry run, replay — the overview's count falls by itself
    page.get_by_role("link", name="Мёртвые письма").click()
    expect(page).to_have_url(f"{base}/dead")
    dead_rows = page.locator("#dead tbody tr")
    expect(dead_rows).to_have_count(1)
    dead = [c.strip() for c in dead_rows.first.locator("td").all_inner_texts()]
    assert dead[:2] == [DEAD_QUEUE, DEAD_ACTOR] and dead[5] == "InjectedFault", dead
    ok(f"/dead lists {dead[:2]} reason {dead[4]}, error {dead[5]}")
    shot(page, "06-dead-listed")
    page.select_option("select[name=queue]", DEAD_QUEUE)
    page.get_by_role("button", name="Показать").click()
    expect(page).to_have_url(re.compile(rf"/dead\?queue={DEAD_QUEUE}"))
    expect(dead_rows).to_have_count(1)
    page.click("#replay-all")
    expect(page.locator("#result")).to_contain_text(
        f"Под фильтр «queue={DEAD_QUEUE}» попадает писем: 1."
    )
    expect(page.locator("#dead tbody tr")).to_have_count(1)  # a dry run changes nothing
    assert hub.sql("SELECT day FROM dailyrun") == []
    ok("dry run: 1 letter matches, nothing replayed yet")
    shot(page, "07-dead-dry-run")
    wait_cell(overview, "#queues", DEAD_QUEUE, "dead", "1", timeout=5)
    confirm = page.locator("#confirm")
    expect(confirm).to_have_text("Повторить 1")
    confirm.click()
    expect(page.locator("#result")).to_contain_text(f"Повторено: 1 (фильтр «queue={DEAD_QUEUE}»).")
    expect(page.locator("#dead tbody")).to_have_text("мёртвых писем нет")
    ok("confirmed: 'Повторено: 1', the list is empty")
    shot(page, "08-dead-replayed")
    wait_cell(overview, "#queues", DEAD_QUEUE, "dead", "0", timeout=10)
    assert overview.evaluate("window.omsxNotReloaded === true"), "the overview reloaded"
    ok(f"overview (live, no reload): {DEAD_QUEUE} dead 1 -> 0")
    ran = hub.wait_for("SELECT day, events FROM dailyrun", timeout=30)
    assert [(str(day), events) for day, events in ran] == [(DEAD_DAY, 0)], ran
    wait_cell(overview, "#queues", DEAD_QUEUE, "ready", "0", timeout=10)
    ok(f"the replayed {DEAD_ACTOR}({DEAD_DAY}) ran in the worker: dailyrun row {ran}")
    shot(overview, "09-overview-dead-replayed")
    overview.reload()
    expect(overview.locator("#daily")).to_contain_text(f"за {DEAD_DAY}")
    ok(f"overview after a reload: the daily report of {DEAD_DAY}")
    shot(overview, "10-overview-daily")
