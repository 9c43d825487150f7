"""What the test cluster's scheduler still holds (a module of its own: every test folder has a conftest)."""


def scheduler_task_keys(client) -> list[str]:
    """Every key the scheduler still holds (batches, scattered jobs): only these tests use the cluster."""
    def keys(dask_scheduler):
        return [str(k) for k in dask_scheduler.tasks]

    return client.run_on_scheduler(keys)
