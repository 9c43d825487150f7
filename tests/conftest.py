import warnings

import pytest


@pytest.fixture(autouse=True)
def _fresh_deprecation_registry():
    """Deprecations warn once per process; tests that check them need a clean slate."""
    from triggerflow_nb import _warn_once

    saved = set(_warn_once._already_warned)
    _warn_once._already_warned.clear()
    yield
    _warn_once._already_warned.clear()
    _warn_once._already_warned.update(saved)


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield
