import pytest
from test_jupyterlab_browser import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture
def browser():
    """Headless Chromium for one test; closed whatever the test does."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()
