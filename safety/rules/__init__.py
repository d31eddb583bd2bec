"""The clinical rules as data: CTCAE criteria and units (rules/ctcae_v*.yaml, rules/units.yaml), the study
protocols (rules/studies/*.yaml), and the rule set each study's events are graded and evaluated with.
"""

from safety.rules.ctcae import Criteria, UnitTable, Vocabulary, load_criteria, load_units, load_vocabulary
from safety.rules.protocol import HysLaw, Protocol, StoppingRule, check_against_criteria, load_protocol
from safety.rules.ruleset import DEFAULT_STUDY, RuleBook, RuleSet, load_rulebook, load_ruleset, rules_dir
from safety.rules.units import Ungradable, convert, to_si

__all__ = [
    "DEFAULT_STUDY",
    "Criteria",
    "HysLaw",
    "Protocol",
    "RuleBook",
    "RuleSet",
    "StoppingRule",
    "Ungradable",
    "UnitTable",
    "Vocabulary",
    "check_against_criteria",
    "convert",
    "load_criteria",
    "load_protocol",
    "load_rulebook",
    "load_ruleset",
    "load_units",
    "load_vocabulary",
    "rules_dir",
    "to_si",
]
