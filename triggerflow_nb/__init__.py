"""triggerflow_nb: a Jupyter-first TriggerFlow workflow toolkit.

Importing this package never imports ipywidgets, IPython or graphviz; the
notebook layer (``triggerflow_nb.notebook``) loads them when first used.
"""

from .definition.builder import Chain
from .errors import (
    BlueprintError,
    ChunkError,
    EnvironmentProviderError,
    FingerprintMismatchError,
    FlowConfigError,
    FlowDefinitionError,
    HistoryError,
    HistoryLimitWarning,
    InterruptError,
    InvalidArgumentError,
    InvalidSnapshotError,
    LifecycleError,
    MissingResourceError,
    PauseNotSupportedError,
    ResourceTypeWarning,
    SaveError,
    SchemaVersionError,
    SnapshotError,
    StateSerializationError,
    TriggerFlowError,
)
from .execution import TriggerFlowExecution
from .flow import TriggerFlow
from .reproducibility import reproducible
from .runtime.chunk_run import ChunkRun
from .runtime.runtime_data import TriggerFlowEventData, TriggerFlowRuntimeData
from .runtime.steps import ABSENT, Emit, NotRecorded, StepRecord, Write

__version__ = "0.1.0"


def _connect_the_notebook_layer() -> None:
    from .notebook.cell_warnings import install
    from .notebook.store_views import provide_store_views

    # Inside IPython, warnings from a cell say "Cell In[3], line 6" instead of a temp file path.
    install()
    # store.browse() and a store's display are the notebook layer's: the stores, below it, find them
    # in the slot this fills (triggerflow_nb._store_views); ipywidgets loads only when browse() is called.
    provide_store_views()


_connect_the_notebook_layer()


def watch(execution: TriggerFlowExecution, **options):
    """Show a live ipywidgets panel for ``execution`` (the same as ``execution.watch()``)."""
    return execution.watch(**options)


def __getattr__(name: str):
    # Loaded on first use so that a plain `import triggerflow_nb` stays light.
    if name == "execution_environment":
        from .environments.manager import execution_environment

        return execution_environment
    raise AttributeError(f"module 'triggerflow_nb' has no attribute {name!r}")


def load_ipython_extension(ipython):  # `%load_ext triggerflow_nb`
    from .notebook.magics import load_ipython_extension as load

    load(ipython)


__all__ = [
    "ABSENT", "BlueprintError", "Chain", "ChunkError", "ChunkRun", "Emit", "EnvironmentProviderError",
    "FingerprintMismatchError", "FlowConfigError", "FlowDefinitionError", "HistoryError", "HistoryLimitWarning",
    "InterruptError", "InvalidArgumentError", "InvalidSnapshotError", "LifecycleError", "MissingResourceError",
    "NotRecorded", "PauseNotSupportedError", "ResourceTypeWarning", "SaveError", "SchemaVersionError",
    "SnapshotError", "StateSerializationError", "StepRecord", "TriggerFlow", "TriggerFlowError",
    "TriggerFlowEventData", "TriggerFlowExecution", "TriggerFlowRuntimeData", "Write", "execution_environment",
    "reproducible", "watch",
]
