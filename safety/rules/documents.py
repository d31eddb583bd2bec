"""Schema of a study's document constants: what every SAE report, CIOMS I form and E2B(R3) report of the study
prints that no event carries (trial title, registration and ethics approval numbers, the product and its dose).

They live in the optional ``documents:`` section of rules/studies/<study_id>.yaml, or, for a study whose rules file
must keep its bytes (they are hashed into every alert's ``rules_version``), in rules/documents/<study_id>.yaml with
the same keys. Validated strictly, like the rest of the rules.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, ValidationError

from safety.errors import RuleFileError
from safety.rules.sources import Document, parse_yaml
from safety.rules.strict import Strict
from safety.vocab import Causality, Role


class Bilingual(Strict):
    """A label or a value in the two languages of the site's forms."""

    zh: Annotated[str, Field(min_length=1)]
    en: Annotated[str, Field(min_length=1)]


# The Chinese five-level causality scale sites use (regulatory facts in docs/rules.md), onto the contract's values;
# "unassessable" is the sixth answer every scale needs. A study whose site words it otherwise sets
# ``causality_wording``.
FIVE_LEVEL_WORDING: dict[Causality, Bilingual] = {
    "related": Bilingual(zh="肯定有关", en="Definitely related"),
    "probable": Bilingual(zh="很可能有关", en="Probably related"),
    "possible": Bilingual(zh="可能有关", en="Possibly related"),
    "unlikely": Bilingual(zh="可能无关", en="Unlikely related"),
    "unrelated": Bilingual(zh="肯定无关", en="Not related"),
    "unassessable": Bilingual(zh="无法评价", en="Unassessable"),
}


class Product(Strict):
    """The investigational product as the forms name it; ``route_code`` is the E2B(R3) route of administration
    code (ICH code list, e.g. 042 intravenous) and ``dose_unit`` the UCUM unit of an infusion's ``dose_per_kg``."""

    name: Bilingual
    dose: Bilingual
    route: Bilingual
    route_code: Annotated[str, Field(pattern=r"^\d{3}$")] = "042"
    dose_unit: str = "10*6{cells}/kg"
    dose_scale: Annotated[float, Field(gt=0)] = 1e6
    indication: Bilingual


class DocumentConstants(Strict):
    trial_title: Bilingual
    registration_number: Annotated[str, Field(min_length=1)]
    ethics_approval_number: Annotated[str, Field(min_length=1)]
    sponsor_study_number: Annotated[str, Field(min_length=1)]
    sponsor: Bilingual
    product: Product
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] = "CN"
    reporter_role: Role = "pi"
    sender_identifier: Annotated[str, Field(min_length=1)]
    receiver_identifier: Annotated[str, Field(min_length=1)]
    causality_wording: dict[Causality, Bilingual] = FIVE_LEVEL_WORDING


def build_document_constants(document: Document) -> DocumentConstants:
    """The constants of rules/documents/<study_id>.yaml, or a RuleFileError naming the file and the key."""
    try:
        return DocumentConstants.model_validate(parse_yaml(document))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise RuleFileError(f"{document.name}: {where}: {first['msg']}; see rules/documents/ for an example") from None
