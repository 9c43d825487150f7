"""save / load of executions, snapshot files, and flow blueprints."""

from .files import load_from_file, save_to_file
from .saved import SCHEMA_VERSION, SavedExecution

__all__ = ["SCHEMA_VERSION", "SavedExecution", "load_from_file", "save_to_file"]
