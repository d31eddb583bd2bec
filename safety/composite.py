"""Criteria that join observations over time (febrile neutropenia, fever grade 4). Placeholder: grading owner."""

from __future__ import annotations

from pydantic import BaseModel


class CompositeMemory(BaseModel):
    """Recent readings the composite criteria need (bounded)."""
