"""The re-injection prompt: ranking notebook variables, injecting by name, finishing the load."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import types

import pytest

from triggerflow_nb.layers.resources import describe_resource
from triggerflow_nb.notebook import env
from triggerflow_nb.notebook.reinject import (
    ReinjectionPrompt,
    candidate_names,
    rank_candidates,
    show_reinjection_prompt,
)


class Database:
    def __init__(self, url: str):
        self.url = url


# A class with the same name in another module: ranks after the exact type, before unrelated ones.
LookalikeDatabase = type("Database", (), {"__module__": "elsewhere"})


@pytest.fixture
def namespace():
    return {
        "cache": {"a": 1},
        "backup_db": Database("sqlite://backup"),
        "db": Database("sqlite://main"),
        "legacy_db": LookalikeDatabase(),
        "app_log": logging.getLogger("app"),
        "_private": Database("hidden"),
        "os": os,
        "In": ["cell 1"],
        "Out": {},
    }


MISSING = {
    "db": {"type": describe_resource(Database("x")), "level": "execution", "managed": False},
    "logger": {"type": "logging.Logger", "level": "execution", "managed": False},
}


def test_candidates_skip_private_names_modules_and_ipython_internals(namespace):
    assert candidate_names(namespace) == ["cache", "backup_db", "db", "legacy_db", "app_log"]


def test_the_same_name_ranks_first_then_the_same_type_then_the_same_class_name(namespace):
    assert rank_candidates("db", MISSING["db"]["type"], namespace) == [
        "db", "backup_db", "legacy_db", "app_log", "cache"]
    assert rank_candidates("logger", "logging.Logger", namespace) == [
        "app_log", "backup_db", "cache", "db", "legacy_db"]
    # the same name wins even over the right type
    namespace["logger"] = "not a logger"
    assert rank_candidates("logger", "logging.Logger", namespace)[:2] == ["logger", "app_log"]


def test_the_dropdowns_offer_the_ranked_variables_with_their_types(namespace):
    prompt = show_reinjection_prompt(object(), MISSING, lambda objects: None, namespace=namespace)
    assert isinstance(prompt, ReinjectionPrompt)
    db_row, log_row = prompt.rows["db"], prompt.rows["logger"]
    assert [value for _label, value in db_row.dropdown.options] == ["db", "backup_db", "legacy_db", "app_log",
                                                                   "cache"]
    assert db_row.dropdown.options[0][0] == f"db  ({MISSING['db']['type']}) ✓"
    assert db_row.dropdown.options[2][0] == "legacy_db  (elsewhere.Database)"
    assert db_row.dropdown.value == "db" and log_row.dropdown.value == "app_log"
    assert "logging.Logger" in log_row.label.value


def test_injecting_every_key_finishes_with_the_very_objects(namespace):
    received = []
    prompt = show_reinjection_prompt(object(), MISSING, received.append, namespace=namespace)
    prompt.rows["db"].button.click()
    assert received == [] and "✔ db" in prompt.rows["db"].status.value
    assert prompt.rows["db"].button.disabled
    prompt.rows["logger"].dropdown.value = "app_log"
    prompt.rows["logger"].button.click()
    assert len(received) == 1
    assert received[0]["db"] is namespace["db"] and received[0]["logger"] is namespace["app_log"]
    assert set(received[0]) == {"db", "logger"}
    assert prompt.finished and "loaded" in prompt.result.value


def test_a_variable_removed_meanwhile_is_reported_not_guessed(namespace):
    received = []
    prompt = show_reinjection_prompt(object(), {"db": MISSING["db"]}, received.append, namespace=namespace)
    del namespace["db"]  # the user deleted it after the prompt appeared
    prompt.rows["db"].button.click()
    assert received == [] and "no notebook variable db" in prompt.rows["db"].status.value
    prompt.refresh()
    assert prompt.rows["db"].dropdown.value == "backup_db"  # the best one left


def test_the_choice_is_one_of_the_offered_names_never_code(namespace):
    received = []
    prompt = show_reinjection_prompt(object(), {"db": MISSING["db"]}, received.append, namespace=namespace)
    # A Dropdown, not a text box: a front end can only pick an offered name, which is then looked up.
    with pytest.raises(Exception):
        prompt.rows["db"].dropdown.value = "__import__('os')"
    assert received == []


def test_a_failing_finish_is_shown_and_can_be_retried(namespace):
    calls = []

    def finish(objects):
        calls.append(objects)
        if len(calls) == 1:
            raise RuntimeError("the flow changed since the save")

    prompt = show_reinjection_prompt(object(), {"db": MISSING["db"]}, finish, namespace=namespace)
    prompt.rows["db"].button.click()
    assert "load failed: RuntimeError: the flow changed since the save" in prompt.result.value
    assert not prompt.finished and not prompt.rows["db"].button.disabled
    prompt.rows["db"].button.click()
    assert prompt.finished and len(calls) == 2 and calls[1]["db"] is namespace["db"]


def test_no_candidates_disables_the_row_until_refresh():
    namespace = {}
    received = []
    prompt = show_reinjection_prompt(object(), {"db": MISSING["db"]}, received.append, namespace=namespace)
    row = prompt.rows["db"]
    assert row.button.disabled and "no notebook variable yet" in row.status.value
    namespace["db"] = Database("late")
    prompt.refresh_button.click()
    assert not row.button.disabled and row.status.value == ""
    row.button.click()
    assert received[0]["db"] is namespace["db"]


def test_the_prompt_reads_the_ipython_namespace_by_default(monkeypatch, namespace):
    monkeypatch.setattr(env, "user_namespace", lambda: namespace)
    monkeypatch.setattr("triggerflow_nb.notebook.reinject.user_namespace", lambda: namespace)
    received = []
    prompt = show_reinjection_prompt(object(), {"db": MISSING["db"]}, received.append)
    prompt.rows["db"].button.click()
    assert received[0]["db"] is namespace["db"]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="at least one missing resource key"):
        show_reinjection_prompt(object(), {}, lambda objects: None, namespace={})
    with pytest.raises(TypeError, match="finish must be callable"):
        show_reinjection_prompt(object(), {"db": {}}, None, namespace={})


def test_in_notebook_is_false_here_and_never_imports_ipython():
    assert env.in_notebook() is False
    code = ("import sys; import triggerflow_nb.notebook.env as e; "
            "print(e.in_notebook(), e.user_namespace(), 'IPython' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "{}", "False"]


def test_importing_the_package_loads_no_notebook_library():
    code = ("import sys, triggerflow_nb; from triggerflow_nb import TriggerFlow; "
            "f = TriggerFlow(name='x'); f.to(lambda d: 1, name='a'); f.to_dot(); f.to_mermaid(); "
            "print(sorted(m for m in ('ipywidgets', 'IPython', 'graphviz') if m in sys.modules)); "
            "f._repr_mimebundle_(); "  # drawing a flow needs graphviz, still no widgets
            "print(sorted(m for m in ('ipywidgets', 'IPython', 'graphviz') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["[]", "['graphviz']"]


def test_in_notebook_recognises_a_kernel_shell(monkeypatch):
    class ZMQInteractiveShell:
        user_ns = {"x": 1}

    fake_ipython = types.ModuleType("IPython")
    fake_ipython.get_ipython = lambda: ZMQInteractiveShell()
    monkeypatch.setitem(sys.modules, "IPython", fake_ipython)
    monkeypatch.delitem(sys.modules, "ipykernel.zmqshell", raising=False)
    assert env.in_notebook() is True and env.user_namespace() == {"x": 1}

    class TerminalInteractiveShell:
        user_ns = {}

    fake_ipython.get_ipython = lambda: TerminalInteractiveShell()
    assert env.in_notebook() is False
