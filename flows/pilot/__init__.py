"""Pilot: workflows generated from a prompt, validated, and compiled to PocketFlow graphs.

A workflow spec is JSON (or YAML): typed nodes and the actions that connect them. `spec`
says what a valid one looks like, `validate` checks one, `compile` turns one into a graph
the durable runner walks like any flow, and `generate` drafts one from plain language.
"""
