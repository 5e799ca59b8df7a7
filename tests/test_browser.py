"""The page of ``inspect`` in a real browser: Debian's headless Chromium,
driven by selenium through chromedriver, opens it from disk with the
network off; it loads nothing, logs no error, its screenshot shows
coloured text, hovering a character shows the five best guesses, tapping
one too, and choosing a unit changes the shading. Without Chromium,
chromedriver or selenium these tests skip, saying which is missing.

Also the one function that renders a page to a PNG, :func:`screenshot`,
for the docs' picture (``docs/inspect.png``)::

    python tests/test_browser.py PAGE.html OUT.png [--unit 1] [--hover 30]

(CI: ``apt-get install chromium chromium-driver``, ``pip install
selenium``; a CJK font such as ``fonts-wqy-zenhei`` or ``fonts-noto-cjk``
for Chinese text that is not boxes.)
"""
import argparse
import os
import shutil
import sys
import tempfile

import numpy as np
import pytest

CHROMIUM = os.environ.get('CHROMIUM', '/usr/bin/chromium')
CHROMEDRIVER = os.environ.get('CHROMEDRIVER', '/usr/bin/chromedriver')
# headless, and quiet on a machine without network: no sync, no updates,
# no QUIC probes, a fresh profile each time
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
         '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync',
         '--disable-dev-shm-usage', '--hide-scrollbars']


def missing():
    """Why there is no browser to test with (None: there is one)."""
    for path, package in ((CHROMIUM, 'chromium'),
                          (CHROMEDRIVER, 'chromium-driver')):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            return 'no %s (apt-get install %s)' % (path, package)
    try:
        import selenium  # noqa: F401
    except ImportError:
        return 'no selenium (pip install selenium)'
    return None


class Browser:
    """A headless Chromium (selenium's ``driver``) with its own fresh
    profile folder and the network switched off; close() ends both."""

    def __init__(self, width=1100, height=900):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        self.profile = tempfile.mkdtemp(prefix='d2l_ch6-chromium-')
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in FLAGS + ['--user-data-dir=' + self.profile,
                             '--window-size=%d,%d' % (width, height)]:
            options.add_argument(flag)
        options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
        try:
            self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER),
                                           options=options)
        except Exception:
            shutil.rmtree(self.profile, ignore_errors=True)
            raise
        # the page's viewport exactly width x height (a window's size
        # includes the browser's own bars)
        self.driver.execute_cdp_cmd('Emulation.setDeviceMetricsOverride', {
            'width': width, 'height': height, 'deviceScaleFactor': 1,
            'mobile': False})
        # offline, as the page must work: anything it fetched would fail
        self.driver.set_network_conditions(
            offline=True, latency=0, download_throughput=0,
            upload_throughput=0)

    def open(self, page):
        self.driver.get('file://' + os.path.abspath(page))

    def close(self):
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)


def choose_unit(driver, index):
    """Choose option ``index`` of the unit chooser (0: surprisal)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    Select(driver.find_element(By.ID, 'unit')).select_by_index(index)


def hover(driver, t):
    """Move the mouse over character ``t`` of the text."""
    from selenium.webdriver import ActionChains
    from selenium.webdriver.common.by import By
    span = driver.find_elements(By.CSS_SELECTOR, '#text span')[t]
    ActionChains(driver).move_to_element(span).perform()
    return span


def screenshot(page, png, width=1100, height=900, unit=None, hover_at=None):
    """Render the inspect page ``page`` (a file) in headless Chromium and
    write a PNG of the window (``width`` x ``height``) to ``png``: shaded
    by surprisal, or by unit option ``unit`` of the chooser, with the
    top-5 box of character ``hover_at`` open if given. Returns ``png``.
    Needs chromium, chromium-driver and selenium (:func:`missing`)."""
    browser = Browser(width, height)
    try:
        browser.open(page)
        if unit:
            choose_unit(browser.driver, unit)
        if hover_at is not None:
            hover(browser.driver, hover_at)
        browser.driver.save_screenshot(os.path.abspath(png))
    finally:
        browser.close()
    return png


# -- the tests ------------------------------------------------------------

@pytest.fixture(scope='module')
def page(tmp_path_factory):
    reason = missing()
    if reason:
        pytest.skip('no browser to test the page: %s' % reason)
    from test_decode import cli, lyrics, save_lines_model
    folder = tmp_path_factory.mktemp('browser')
    save_lines_model(folder / 'lines.params', epochs=10)
    text = folder / 'lyrics.txt'
    text.write_text(lyrics(700), encoding='utf-8')
    html = folder / 'page.html'
    status, _, err = cli('inspect', folder / 'lines.params', '--text', text,
                         '--html', html, '--ctx', 'cpu')
    assert status == 0, err
    return html


@pytest.fixture(scope='module')
def browser(page):
    b = Browser()
    yield b
    b.close()


@pytest.fixture
def opened(browser, page):
    browser.open(page)
    return browser.driver


def colours(driver):
    """The background colours of the text's characters, as drawn."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#text span'), "
        's => getComputedStyle(s).backgroundColor);')


def test_it_opens_offline_loads_nothing_and_logs_no_error(opened):
    assert opened.execute_script(
        "return performance.getEntriesByType('resource').length") == 0
    assert opened.execute_script('return navigator.onLine') is False
    errors = [e for e in opened.get_log('browser')
              if e['level'] == 'SEVERE']
    assert not errors, errors
    assert len(colours(opened)) == 700


def test_the_screenshot_shows_coloured_text(page, tmp_path):
    from PIL import Image
    png = screenshot(page, tmp_path / 'page.png')
    with open(png, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    image = Image.open(png).convert('RGB')
    assert image.size == (1100, 900)
    # the text area: the lower part of the window
    pixels = np.asarray(image.crop((60, 300, 1040, 880)), dtype=int)
    pixels = pixels.reshape(-1, 3)
    distinct = len(np.unique(pixels, axis=0))
    coloured = (pixels.max(axis=1) - pixels.min(axis=1) > 30).mean()
    assert distinct > 50, distinct
    assert coloured > 0.05, coloured


def test_hover_shows_the_five_best_guesses(opened):
    from selenium.webdriver.common.by import By
    tip = opened.find_element(By.ID, 'tip')
    assert not tip.is_displayed()
    hover(opened, 12)
    assert tip.is_displayed()
    rows = tip.find_elements(By.CSS_SELECTOR, 'tbody tr')
    assert len(rows) == 5
    assert 'best guesses' in tip.text and 'bits' in tip.text
    hover(opened, 0)  # the first character has no guess
    assert 'nothing before it' in tip.text
    assert not tip.find_elements(By.CSS_SELECTOR, 'tbody tr')


def test_a_tap_shows_them_too(opened):
    from selenium.webdriver.common.by import By
    span = opened.find_elements(By.CSS_SELECTOR, '#text span')[40]
    opened.execute_script(
        "arguments[0].dispatchEvent(new MouseEvent('click', "
        '{bubbles: true}))', span)
    tip = opened.find_element(By.ID, 'tip')
    assert tip.is_displayed()
    assert len(tip.find_elements(By.CSS_SELECTOR, 'tbody tr')) == 5


def test_choosing_a_unit_changes_the_shading(opened):
    from selenium.webdriver.common.by import By
    before = colours(opened)
    choose_unit(opened, 1)
    after = colours(opened)
    changed = sum(a != b for a, b in zip(before, after))
    assert changed > len(before) // 2
    assert 'correlation' in opened.find_element(By.ID, 'explain').text
    hover(opened, 20)
    assert '=' in opened.find_element(By.ID, 'tip').text  # the unit's value
    choose_unit(opened, 0)  # back to the surprisal
    assert colours(opened) == before


def main(argv=None):
    """``python tests/test_browser.py PAGE.html OUT.png``."""
    p = argparse.ArgumentParser(description=screenshot.__doc__.split('\n')[0])
    p.add_argument('page')
    p.add_argument('png')
    p.add_argument('--width', type=int, default=1100)
    p.add_argument('--height', type=int, default=900)
    p.add_argument('--unit', type=int, default=None,
                   help='shade by this option of the unit chooser')
    p.add_argument('--hover', type=int, default=None,
                   help='open the top-5 box of this character')
    args = p.parse_args(argv)
    reason = missing()
    if reason:
        sys.exit('error: %s' % reason)
    screenshot(args.page, args.png, args.width, args.height, args.unit,
               args.hover)
    print('wrote %s' % args.png)


if __name__ == '__main__':
    main()
