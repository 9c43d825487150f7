"""One test file per part of the runtime execution (issue 24).

A package: test_lifecycle.py and test_stream.py share their names with files in tests/engine.
"""
