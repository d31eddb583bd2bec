"""The clinical rules as data: CTCAE criteria and units (rules/ctcae_v*.yaml, rules/units.yaml), the study
protocols (rules/studies/*.yaml), and the rule set each study's events are graded and evaluated with. Each is
built from a ``Document`` (a file's name and bytes) that the shell read: the core opens no file.
"""

from safety.rules.ctcae import Criteria, UnitTable, Vocabulary, build_criteria, build_units, build_vocabulary
from safety.rules.protocol import HysLaw, Protocol, StoppingRule, build_protocol, check_against_criteria
from safety.rules.ruleset import DEFAULT_STUDY, RuleBook, RuleSet, build_rulebook, build_ruleset
from safety.rules.sources import Document
from safety.rules.units import Ungradable, convert, to_si

__all__ = [
    "DEFAULT_STUDY",
    "Criteria",
    "Document",
    "HysLaw",
    "Protocol",
    "RuleBook",
    "RuleSet",
    "StoppingRule",
    "Ungradable",
    "UnitTable",
    "Vocabulary",
    "build_criteria",
    "build_protocol",
    "build_rulebook",
    "build_ruleset",
    "build_units",
    "build_vocabulary",
    "check_against_criteria",
    "convert",
    "to_si",
]
