"""Pilot workflows on the server: stored specs, their versions, executions and figures."""
