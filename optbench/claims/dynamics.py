"""Placeholder until its claims land."""

CLAIMS: list = []
