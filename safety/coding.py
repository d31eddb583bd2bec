"""Coded values for what an adverse event or a death says, so that no identifier leaves the service.

Free text that arrives in events (an AE's verbatim ``term`` and ``outcome``, a death's ``cause``, and a
``ctcae_term`` that is not a CTCAE term of the study's version) can carry names, ID-card and phone numbers. Alerts,
messages, the ethics feed, the safety summary and the pages carry only the values this module returns: a CTCAE term
of the version the study selects (``rules/ctcae_terms.yaml``), "uncoded term" otherwise, "Death NOS" grade 5 for a
death, and an outcome from a closed list (README, "No identifiers"). A narrative a document needs is written for it
by a person in the service, never copied from an event.

An uncoded term never holds an alert back: the event is kept and evaluated on its seriousness, grade and
causality (a missed SAE is the worst bug); only its text is withheld.
"""

from __future__ import annotations

import re
from typing import Any, Final

from safety.model.events import (
    AdverseEvent,
    Death,
    Ecg,
    EndOfStudy,
    Enrollment,
    Infusion,
    Lab,
    Transfusion,
    Vital,
)
from safety.model.outputs import Alert
from safety.rules.ctcae import Criteria
from safety.rules.units import unit_like

UNCODED_TERM: Final = "uncoded term"
UNCODED_OUTCOME: Final = "uncoded outcome"
TERM_CODING_KEY: Final = "term_coding"  # the basis key that says why an AE alert carries no ctcae_term
DEATH_TERM: Final = "Death NOS"  # CTCAE v5.0/v6.0, General disorders and administration site conditions
DEATH_FALLBACK: Final = "Death"  # for a CTCAE version whose rules file does not list Death NOS
DEATH_GRADE: Final = 5

# AE outcomes (CDISC AEOUT, and the spellings sites use for them) -> the value the documents show.
OUTCOMES: Final = {
    "recovered": "recovered",
    "resolved": "recovered",
    "recovered resolved": "recovered",
    "recovering": "recovering",
    "resolving": "recovering",
    "recovering resolving": "recovering",
    "not recovered": "not recovered",
    "not resolved": "not recovered",
    "not recovered not resolved": "not recovered",
    "recovered with sequelae": "recovered with sequelae",
    "resolved with sequelae": "recovered with sequelae",
    "recovered resolved with sequelae": "recovered with sequelae",
    "fatal": "fatal",
    "death": "fatal",
    "unknown": "unknown",
}
_SEPARATORS = re.compile(r"[\s_/\-]+")


def ctcae_term(term: str | None, criteria: Criteria) -> str | None:
    """``term`` spelled as the CTCAE version of ``criteria`` spells it, or None when it is not one of its terms
    (case and runs of blanks do not matter: "infusion related  reaction" is Infusion related reaction)."""
    if term is None:
        return None
    if term in criteria.term_names:
        return term
    return criteria.term_by_folded.get(" ".join(term.split()).casefold())


def ae_term(event: AdverseEvent, criteria: Criteria) -> tuple[str | None, dict[str, Any]]:
    """The AE's CTCAE term for an alert, and the basis entry that explains a missing one (its text withheld)."""
    term = ctcae_term(event.ctcae_term, criteria)
    if term is not None:
        return term, {}
    why = (
        "no ctcae_term given"
        if event.ctcae_term is None
        else f"ctcae_term is not a CTCAE v{criteria.version} term; its text is withheld"
    )
    return None, {TERM_CODING_KEY: f"{UNCODED_TERM}: {why}"}


def uncoded_term(event: AdverseEvent, criteria: Criteria) -> str | None:
    """Why the AE's ``ctcae_term`` is not used (the reason of its ``uncoded_term`` record in the rejected
    output / dead letter, without the text), or None when it is a term of the version or none was given."""
    if event.ctcae_term is None or ctcae_term(event.ctcae_term, criteria) is not None:
        return None
    return (
        f"uncoded term: adverse_event.ctcae_term of {event.event_id!r} is not a CTCAE v{criteria.version} term "
        '(rules/); the event is kept and its alerts raised with "uncoded term", its text withheld; send a higher '
        f"revision with the CTCAE v{criteria.version} term"
    )


def death_term(criteria: Criteria) -> str:
    """The term a death's alerts carry: CTCAE's Death NOS when the study's version lists it."""
    return DEATH_TERM if DEATH_TERM in criteria.term_names else DEATH_FALLBACK


def alert_term(alert: Alert) -> str | None:
    """The term column of an alert in every document: its CTCAE term, "uncoded term" for an AE alert without
    one, nothing for alerts that have no term (lab-based, Hy's law, stopping boundary)."""
    if alert.ctcae_term:
        return alert.ctcae_term
    if alert.basis and TERM_CODING_KEY in alert.basis:
        return UNCODED_TERM
    return None


def outcome(text: str | None) -> str | None:
    """An AE outcome as one of ``OUTCOMES``' values, "uncoded outcome" for any other text, None when absent."""
    if text is None or not text.strip():
        return None
    return OUTCOMES.get(_SEPARATORS.sub(" ", text).strip().casefold(), UNCODED_OUTCOME)


_EVENT_FIELDS: Final = {
    name: frozenset(model.model_fields)
    for name, model in (
        ("enrollment", Enrollment),
        ("infusion", Infusion),
        ("lab", Lab),
        ("vital", Vital),
        ("ecg", Ecg),
        ("adverse_event", AdverseEvent),
        ("transfusion", Transfusion),
        ("death", Death),
        ("end_of_study", EndOfStudy),
    )
}
_TEST_CODE: Final = re.compile(r"[A-Z][A-Z0-9_]{0,15}")  # SDTM LBTESTCD / VSTESTCD style
# Contract fields that are free text and that no page, chart or document needs (README, "No identifiers").
FREE_TEXT_FIELDS: Final = frozenset({"term", "cause", "outcome", "meddra_code", "source", "lot"})


def without_free_text(record: dict[str, Any], criteria: Criteria | None) -> dict[str, Any] | None:
    """An input event as the worker's page view keeps it (a table replicated to every worker through its
    changelog topic): the contract's fields of its type only, the free text withheld, an AE's term and ctcae_term
    replaced by its coded term ("uncoded term" when it has none; None without ``criteria``) and its outcome coded,
    an observation's unit only when it looks like one. None for an observation whose ``test`` is not a test code
    (nothing could grade or draw it). A record of an unknown type is returned as it is (the ingest agent
    dead-letters it)."""
    kind = str(record.get("type"))
    fields = _EVENT_FIELDS.get(kind)
    if fields is None:
        return record
    kept = {k: v for k, v in record.items() if k in fields and k not in FREE_TEXT_FIELDS}
    if kind == "adverse_event":
        raw = record.get("ctcae_term")
        coded = ctcae_term(raw, criteria) if criteria is not None and isinstance(raw, str) else None
        kept.update(term=coded or UNCODED_TERM, ctcae_term=coded)
        value = record.get("outcome")
        kept["outcome"] = outcome(value) if isinstance(value, str) else None
    elif kind in ("lab", "vital", "ecg"):
        if not _TEST_CODE.fullmatch(str(record.get("test"))):
            return None
        unit = record.get("unit")
        if isinstance(unit, str) and not unit_like(unit):
            kept["unit"] = None
    return kept
