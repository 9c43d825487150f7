"""The re-injection prompt: ranking notebook variables, injecting by name, finishing the load."""

from __future__ import annotations

import functools
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


def test_candidates_skip_classes_and_functions_unless_asked(namespace):
    namespace.update({"Database": Database, "helper": lambda: 1, "make": functools.partial(Database, "x"),
                      "length": len, "bound": Database("y").__init__})
    assert candidate_names(namespace) == ["cache", "backup_db", "db", "legacy_db", "app_log"]
    assert candidate_names(namespace, definitions=True) == [
        "cache", "backup_db", "db", "legacy_db", "app_log", "os", "Database", "helper", "make", "length", "bound"]


def test_the_recorded_type_ranks_first_then_the_same_class_name_then_the_same_key_name(namespace):
    assert rank_candidates("db", MISSING["db"]["type"], namespace) == [
        "db", "backup_db", "legacy_db", "app_log", "cache"]
    assert rank_candidates("logger", "logging.Logger", namespace) == [
        "app_log", "backup_db", "cache", "db", "legacy_db"]
    # a variable named like the key but of another type comes after every one of the right type
    namespace["logger"] = "not a logger"
    assert rank_candidates("logger", "logging.Logger", namespace)[:2] == ["app_log", "logger"]
    # among the right type, the one named like the key first
    namespace["logger"] = logging.getLogger("other")
    assert rank_candidates("logger", "logging.Logger", namespace)[:2] == ["logger", "app_log"]


def test_a_function_of_the_recorded_type_is_offered_without_asking(namespace):
    def notify(message):
        return message

    namespace.update({"notify": notify, "Database": Database})
    assert rank_candidates("callback", "function", namespace) == [
        "notify", "app_log", "backup_db", "cache", "db", "legacy_db"]
    assert "Database" in rank_candidates("callback", "function", namespace, definitions=True)


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


def test_a_variable_of_another_type_asks_before_it_is_used(namespace):
    received = []
    prompt = show_reinjection_prompt(object(), {"db": MISSING["db"]}, received.append, namespace=namespace)
    row = prompt.rows["db"]
    row.dropdown.value = "cache"
    row.button.click()
    assert received == [] and "db" not in prompt.chosen  # not injected: a warning instead of a green check
    assert row.button.description == "Use anyway" and row.button.button_style == "warning"
    assert "⚠ cache is a dict, but the saved execution used a notebook_layer.test_reinject.Database" in row.status.value
    assert "✔" not in row.status.value
    row.dropdown.value = "legacy_db"  # another choice: the warning was about the other one
    assert row.button.description == "Inject" and row.status.value == ""
    row.button.click()
    assert row.button.description == "Use anyway" and "legacy_db is a elsewhere.Database" in row.status.value
    row.button.click()  # use anyway
    assert received[0]["db"] is namespace["legacy_db"] and "✔ legacy_db" in row.status.value


def test_the_right_type_injects_at_once_and_an_unrecorded_type_never_warns(namespace):
    received = []
    missing = {"db": MISSING["db"], "blob": {"type": "unknown", "level": "execution", "managed": False}}
    prompt = show_reinjection_prompt(object(), missing, received.append, namespace=namespace)
    prompt.rows["db"].button.click()
    prompt.rows["blob"].dropdown.value = "cache"
    prompt.rows["blob"].button.click()
    assert received[0]["db"] is namespace["db"] and received[0]["blob"] is namespace["cache"]


def test_the_checkbox_offers_modules_classes_and_functions(namespace):
    namespace["Database"] = Database
    prompt = show_reinjection_prompt(object(), {"db": MISSING["db"]}, lambda objects: None, namespace=namespace)
    row = prompt.rows["db"]
    assert "Database" not in [value for _label, value in row.dropdown.options]
    prompt.definitions_box.value = True
    assert [value for _label, value in row.dropdown.options] == [
        "db", "backup_db", "legacy_db", "Database", "app_log", "cache", "os"]
    assert row.dropdown.value == "db"  # still the best match


def test_the_prompt_falls_back_to_text_that_says_how_to_inject_in_code(namespace):
    prompt = show_reinjection_prompt(type("E", (), {"id": "abc"})(), MISSING, lambda objects: None,
                                     namespace=namespace)
    bundle = prompt._repr_mimebundle_()
    assert bundle["text/plain"] == (
        "Execution abc needs 2 live objects that a save cannot keep; with a kernel, pick notebook variables here, "
        "or pass them in code: load(saved, runtime_resources={'db': ..., 'logger': ...})\n"
        "  db: notebook_layer.test_reinject.Database (missing)\n"
        "  logger: logging.Logger (missing)"
    )
    assert "application/vnd.jupyter.widget-view+json" in bundle and "<code>logging.Logger</code>" in bundle["text/html"]
    prompt.rows["db"].button.click()
    prompt.rows["logger"].button.click()
    assert prompt._repr_mimebundle_()["text/plain"].splitlines() == [
        "Execution abc was loaded with its live objects re-injected.",
        "  db: notebook_layer.test_reinject.Database (injected)",
        "  logger: logging.Logger (injected)",
    ]


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
