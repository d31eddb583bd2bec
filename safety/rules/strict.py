"""The base of every model read from a rule file: an unknown key is refused, so a typo in `rules/` fails at load
instead of being ignored (docs/rules.md), and a loaded rule is frozen."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


__all__ = ["Strict"]
