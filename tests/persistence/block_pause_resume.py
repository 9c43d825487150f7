"""Run in a fresh process: load a saved snapshot into a new flow, resume every pause, print the close snapshot.

``python block_pause_resume.py <builder name> <snapshot file>``
"""

import json
import sys

from block_pause_flows import BUILDERS

from triggerflow_nb.persistence import load_from_file

flow, _ = BUILDERS[sys.argv[1]]()
execution = flow.create_execution(auto_close=False)
execution.load(load_from_file(sys.argv[2]))
for interrupt_id in sorted(execution.get_pending_interrupts()):
    execution.continue_with(interrupt_id, "ok")
print(json.dumps(execution.close(), sort_keys=True))
