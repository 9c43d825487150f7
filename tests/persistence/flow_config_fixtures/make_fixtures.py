"""Writes the flow-config fixtures next to this file, one ``<flow>.json`` per flow of ``flow_config_flows``.

Two steps, each in its own interpreter (the two packages need not share one), run in the
order ``ours``, ``agently``, ``ours``, ``agently``. The flows only this package wires
(``OURS_ONLY``) get ``ours-<flow>.json``: ``our_config``, ``runs`` (here) and
``our_config_runs`` (there).

* ``python make_fixtures.py ours`` with triggerflow_nb importable: ``our_config`` is this
  package's ``get_flow_config()`` of the flow; once ``config`` is there, ``back_config`` is
  what this package exports after loading ``config``.
* ``python make_fixtures.py agently`` in a throwaway venv with ``pip install agently==4.1.4.10``
  (Apache-2.0; never a dependency of this package): ``config`` is Agently's own
  ``get_flow_config()`` of the same wiring and ``runs`` what its ``flow.start(value)`` gives
  for each input; ``our_config_runs`` and ``back_config_runs`` what Agently gives running
  ``our_config`` and ``back_config``.

The tests read the files only; they never import Agently.
"""

from __future__ import annotations

import json
import pathlib
import sys

HERE = pathlib.Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from flow_config_flows import EXTRA_NAMES, FLOWS, HANDLERS, OURS_ONLY, build  # noqa: E402


def _path(name):
    return HERE / f"{name}.json"


def _read(name):
    return json.loads(_path(name).read_text(encoding="utf-8")) if _path(name).exists() else {}


def _write(name, fixture):
    _path(name).write_text(json.dumps(fixture, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def ours():
    from triggerflow_nb import TriggerFlow

    for name in FLOWS:
        fixture = _read(name)
        fixture["our_config"] = build(TriggerFlow, name).get_flow_config()
        if "config" in fixture:
            loaded = TriggerFlow(name=name)
            for handler in HANDLERS:
                loaded.register_chunk_handler(handler)
            for extra, handler in EXTRA_NAMES.items():
                loaded.register_chunk_handler(handler, name=extra)
            fixture["back_config"] = loaded.load_flow_config(fixture["config"]).get_flow_config()
        _write(name, fixture)
    for name, (wire, inputs) in OURS_ONLY.items():
        fixture = _read(f"ours-{name}")
        flow = TriggerFlow(name=name)
        wire(flow)
        fixture["our_config"] = flow.get_flow_config()
        fixture["runs"] = [[value, flow.start(value)] for value in inputs]
        _write(f"ours-{name}", fixture)


def _agently_flow(TriggerFlow, name, config):
    loaded = TriggerFlow(name=name)
    for handler in HANDLERS:
        loaded.register_chunk_handler(handler)
        loaded.register_condition_handler(handler)
    for extra, handler in EXTRA_NAMES.items():
        loaded.register_chunk_handler(handler, name=extra)
    return loaded.load_flow_config(config)


def agently():
    from importlib.metadata import version

    from agently import TriggerFlow

    for name, (_wire, inputs) in FLOWS.items():
        fixture = _read(name)
        flow = build(TriggerFlow, name)
        fixture["agently"] = version("agently")
        fixture["config"] = flow.get_flow_config()
        fixture["runs"] = [[value, flow.start(value)] for value in inputs]
        for config in ("our_config", "back_config"):
            if config in fixture:
                loaded = _agently_flow(TriggerFlow, name, fixture[config])
                fixture[f"{config}_runs"] = [[value, loaded.start(value)] for value in inputs]
        _write(name, fixture)
    for name, (_wire, inputs) in OURS_ONLY.items():
        fixture = _read(f"ours-{name}")
        fixture["agently"] = version("agently")
        loaded = _agently_flow(TriggerFlow, name, fixture["our_config"])
        fixture["our_config_runs"] = [[value, loaded.start(value)] for value in inputs]
        _write(f"ours-{name}", fixture)


if __name__ == "__main__":
    {"ours": ours, "agently": agently}[sys.argv[1]]()
