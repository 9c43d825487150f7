"""A worker process: ``python -m resume_worker <sqlite path> <execution id> <payload>``.

It builds the flow from code, brings its OWN mailer, resumes the paused execution from the
store under a lease and prints one JSON line: what it sent and the version it saved.
"""

from __future__ import annotations

import json
import sys

from approval_flow import Mailer, build_flow

from triggerflow_nb.store import SQLiteStore, resume, stored_version


def main(argv: list[str]) -> int:
    path, execution_id, payload = argv
    mailer = Mailer("worker")
    with SQLiteStore(path) as store:
        execution = resume(build_flow(), store, execution_id, owner="worker-1",
                           runtime_resources={"mailer": mailer}, payload=payload)
        print(json.dumps({"sent": mailer.sent, "status": execution.status,
                          "version": stored_version(execution, store)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
