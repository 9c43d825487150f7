"""What a notebook user reaches and sees: the package's lazy names, the executor's repr."""

import pytest

pytestmark = pytest.mark.timeout(60)


def test_dask_executor_is_loaded_by_name_from_the_package():
    import triggerflow_nb.distributed as package
    from triggerflow_nb.distributed.dask import DaskExecutor

    assert package.DaskExecutor is DaskExecutor  # asked now, not bound when this module was imported
    assert "DaskExecutor" not in vars(package)  # it stays lazy: each access goes through __getattr__
    with pytest.raises(AttributeError) as info:
        package.DaskExecuter  # noqa: B018 (a misspelt name)
    assert str(info.value) == "module 'triggerflow_nb.distributed' has no attribute 'DaskExecuter'"


def test_the_repr_shows_batch_size_and_scheduler(client):
    from distributed import Client

    from triggerflow_nb.distributed import DaskExecutor

    assert repr(DaskExecutor(client, batch_size=7)) == (
        f"<DaskExecutor batch_size=7 scheduler={client.scheduler.address!r}>")
    closed = Client(client.scheduler.address, timeout=30)
    executor = DaskExecutor(closed)
    closed.close(timeout=10)
    assert repr(executor) == "<DaskExecutor batch_size=500 scheduler=None>"
