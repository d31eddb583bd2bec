"""The rule data one run grades and evaluates with: CTCAE criteria, units and the study protocol.

Loaded once at start (stream worker or replay) and passed to the pure core; ``version`` is a hash of every rule
file's bytes, written on each alert as ``rules_version``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from safety.coding import check_protocol_terms
from safety.criteria import Criteria, load_criteria
from safety.protocol import Protocol, load_protocol

DEFAULT_STUDY = "ChiCTR2600125907"


def rules_dir() -> Path:
    """rules/ beside the package (a source checkout or the Docker image), or $SAFETY_RULES_DIR."""
    env = os.environ.get("SAFETY_RULES_DIR")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "rules"


@dataclass(frozen=True)
class RuleSet:
    protocol: Protocol
    criteria: Criteria
    tz: ZoneInfo
    version: str


def load_ruleset(study_file: Path | None = None) -> RuleSet:
    """Load the protocol file (default: the first study) and the CTCAE version it selects."""
    path = study_file or rules_dir() / "studies" / f"{DEFAULT_STUDY}.yaml"
    protocol = load_protocol(path)
    criteria = load_criteria(protocol.ctcae_version, rules_dir(), assume_worst_clinical=protocol.assume_worst_clinical)
    check_protocol_terms(protocol, criteria, str(path))
    digest = hashlib.sha256()
    for file in [path, *criteria.source_files]:
        digest.update(Path(file).read_bytes())
    return RuleSet(
        protocol=protocol, criteria=criteria, tz=ZoneInfo(protocol.time_zone), version=digest.hexdigest()[:12]
    )
