"""Fixtures for the notebook layer: a recording comm stands in for the front end."""

from __future__ import annotations

import comm
import pytest
from comm.base_comm import BaseComm


class RecordingComm(BaseComm):
    """Records every message a widget would send to a front end: (comm id, msg type, data)."""

    log: list[tuple[str, str, dict]] = []

    def __init__(self, *args, **kwargs):
        self._log = RecordingComm.log  # this test's log, even if the widget outlives the test
        super().__init__(*args, **kwargs)

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        self._log.append((self.comm_id, msg_type, data or {}))


class CommLog:
    def __init__(self, log: list):
        self.log = log

    def mark(self) -> int:
        return len(self.log)

    def updates(self, widget, since: int = 0) -> list[dict]:
        """The state updates sent for ``widget`` (each a dict of trait name -> new value)."""
        comm_id = widget.comm.comm_id
        return [data["state"] for cid, kind, data in self.log[since:]
                if cid == comm_id and kind == "comm_msg" and data.get("method") == "update"]

    def frontend_state(self, widget) -> dict:
        """What a front end would hold for ``widget``: its opening state plus every update since."""
        comm_id = widget.comm.comm_id
        state: dict = {}
        for cid, kind, data in self.log:
            if cid != comm_id:
                continue
            if kind == "comm_open":
                state.update(data.get("state", {}))
            elif kind == "comm_msg" and data.get("method") == "update":
                state.update(data["state"])
        return state

    def updated_comm_ids(self, since: int = 0) -> set[str]:
        return {cid for cid, kind, data in self.log[since:] if kind == "comm_msg" and data.get("method") == "update"}


@pytest.fixture
def comm_log(monkeypatch):
    """Widgets created while this fixture is active send through a RecordingComm."""
    log: list = []
    monkeypatch.setattr(RecordingComm, "log", log)
    monkeypatch.setattr(comm, "create_comm", lambda *args, **kwargs: RecordingComm(*args, **kwargs))
    return CommLog(log)
