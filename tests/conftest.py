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


@pytest.fixture
def eventually():
    """``await eventually(predicate)``: poll until it holds (bounded), for timer-driven outcomes.

    Sleeping a fixed time and then asserting is flaky on a loaded CI machine; waiting for the
    outcome with a generous bound is not, and still fails (with a clear message) if it never comes.
    """
    import asyncio

    async def wait(predicate, timeout: float = 5.0, interval: float = 0.01):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() > deadline:
                raise AssertionError(f"condition not reached within {timeout}s")
            await asyncio.sleep(interval)

    return wait
