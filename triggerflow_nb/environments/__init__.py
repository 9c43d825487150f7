"""Managed execution environments: resources the package starts, shares and releases for executions."""
