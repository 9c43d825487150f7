"""check_handler refuses a handler that would carry a live resource to the workers, whatever its kind:
a bound method (its globals and the object it is bound to) and a functools.partial (what it holds)."""

from __future__ import annotations

import functools

import pytest

from triggerflow_nb.distributed.errors import RemoteSerializationError
from triggerflow_nb.distributed.shipping import check_handler


class Client:
    """A live object: a runtime resource of the notebook process."""

    def __reduce__(self):
        raise TypeError("a live client does not pickle")


DB = Client()


class Steps:
    def uses_the_global(self, data):
        return DB

    def plain(self, data):
        return data


def uses_its_argument(client, data):
    return client


def message(variable: str) -> str:
    return (f"chunk 'score' in 'fan' uses variable {variable!r}, which is runtime resource 'db' of the notebook "
            f"process; live resources are never shipped to Dask workers.")


def test_a_bound_method_reading_a_live_global_is_refused_as_a_function_would_be():
    with pytest.raises(RemoteSerializationError) as caught:
        check_handler("score", Steps().uses_the_global, "fan", {"db": DB})
    assert str(caught.value).startswith(message("DB"))


def test_a_method_bound_to_a_live_resource_is_refused():
    with pytest.raises(RemoteSerializationError) as caught:
        check_handler("score", DB.__reduce__, "fan", {"db": DB})
    assert str(caught.value).startswith(message("self"))


@pytest.mark.parametrize("handler, variable", [
    (functools.partial(uses_its_argument, DB), "argument 0 of the partial"),
    (functools.partial(uses_its_argument, client=DB), "keyword 'client' of the partial"),
])
def test_a_partial_holding_a_live_resource_is_refused(handler, variable):
    with pytest.raises(RemoteSerializationError) as caught:
        check_handler("score", handler, "fan", {"db": DB})
    assert str(caught.value).startswith(message(variable))


def test_handlers_that_hold_nothing_live_pass():
    check_handler("score", Steps().plain, "fan", {"db": DB})
    check_handler("score", functools.partial(uses_its_argument, 3), "fan", {"db": DB})
