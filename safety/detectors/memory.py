"""What the detectors remember per subject (episodes, pending confirmations). Placeholder: rules owner."""

from __future__ import annotations

from pydantic import BaseModel


class RuleMemory(BaseModel):
    """Per-subject rule state (bounded, JSON-serialisable)."""
