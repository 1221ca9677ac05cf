"""The book built from the test session's executed chapters works offline in headless Chromium: the 00_faces
page's widget control changes the view with no kernel and no network, and no page loads code from a CDN."""

from __future__ import annotations

import re
import tempfile
import time

import pytest

from conftest import chromium_available, existing_chapters

CHAPTER = "00_faces"
pytestmark = pytest.mark.skipif(CHAPTER not in [c.name for c in existing_chapters()],
                                reason=f"notebooks/{CHAPTER}.ipynb does not exist yet")

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                  "--window-size=1280,2000"]

# What a reader sees of a widget area: each displayed image's pixels (via a canvas) and each displayed HTML view.
VISIBLE_VIEWS_JS = """
const root = arguments[0];
const shown = el => el.offsetParent !== null && el.getClientRects().length > 0;
const out = [];
for (const img of root.querySelectorAll('img.widget-image')) {
  if (!shown(img) || !img.complete || !img.naturalWidth) continue;
  const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  c.getContext('2d').drawImage(img, 0, 0);
  out.push(c.toDataURL());
}
for (const h of root.querySelectorAll('.widget-html-content')) { if (shown(h)) out.push(h.innerHTML); }
return out;
"""


@pytest.fixture(scope="module")
def driver():
    if not chromium_available():
        pytest.fail("Chromium / chromedriver missing: `apt-get install -y chromium chromium-driver` "
                    "(.ci/run and `make test` do this)", pytrace=False)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}"]:
        opts.add_argument(flag)
    drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    yield drv
    drv.quit()


def test_no_page_loads_from_a_cdn(built_book):
    pages = list(built_book.rglob("*.html"))
    assert pages
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert "cdn.jsdelivr" not in html and "cdnjs.cloudflare" not in html, f"{page} names a CDN"
        remote = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', html)
        assert not remote, f"{page} loads {remote}"


def test_widget_works_without_kernel_or_network(built_book, driver):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

    page = built_book / "book" / "chapters" / f"{CHAPTER}.html"
    assert page.exists(), f"{page} was not built"
    assert "embed.js" in page.read_text(encoding="utf-8"), "the page does not load the widget manager"
    driver.get(page.as_uri())
    controls = ".widget-dropdown select, .widget-slider .noUi-handle"
    WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, controls))
    control = driver.find_elements(By.CSS_SELECTOR, controls)[0]
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", control)
    area = driver.execute_script("return arguments[0].closest('.cell_output') || document.body;", control)
    WebDriverWait(driver, 10).until(lambda d: d.execute_script(VISIBLE_VIEWS_JS, area))
    before = driver.execute_script(VISIBLE_VIEWS_JS, area)

    if control.tag_name == "select":
        select = Select(control)
        current = select.first_selected_option.get_attribute("value")
        other = next(i for i, o in enumerate(select.options) if o.get_attribute("value") != current)
        select.select_by_index(other)
    else:
        control.send_keys(Keys.ARROW_RIGHT)

    deadline = time.monotonic() + 10
    after = before
    while time.monotonic() < deadline and after == before:
        time.sleep(0.2)
        after = driver.execute_script(VISIBLE_VIEWS_JS, area)
    assert after and after != before, "changing the control did not change the visible view"
    severe = [e for e in driver.get_log("browser")
              if e["level"] == "SEVERE" and "widget" in e["message"].lower()]
    assert not severe, f"widget errors in the browser console: {severe}"
