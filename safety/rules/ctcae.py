"""CTCAE criteria as data: the strict schema of ``rules/ctcae_v*.yaml`` and ``rules/units.yaml``, and its
compilation from the documents the shell read (safety/rules/documents.py).

The YAML is validated once at load (pydantic, ``extra="forbid"``: a typo in a rule must fail, architecture.md
convention 3) and compiled into plain tuples and slotted objects that :mod:`safety.grading.grade` walks on every
event
(the replay budget is ~20 us/event, so no pydantic construction happens in the inner loop).

Vocabulary (spec/ctcae.md, "Reading the criteria"):

* a *term entry* grades one test for one CTCAE term (potassium has two entries: Hypokalemia and Hyperkalemia);
* an entry holds one or more *band sets*; each set applies under a baseline condition (``applies``), compares
a
  *measure* (the value, its increase over baseline, or its percent decrease from baseline) and lists *bands*
  worst grade first;
* a band is one comparison from a closed operator table (``lt``/``le``/``gt``/``ge``, never eval) against a
  threshold that is absolute or a multiple of LLN, ULN or the baseline value; ``to`` records the band's other
  end
  (validated and shown in ``basis``, never needed to decide: the worst-first walk already excludes worse
  bands).

Errors are located: ``RuleFileError("rules/ctcae_v5.yaml: ALT grade 2: lower 5.0 > upper 3.0")``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, Field, ValidationError

from safety.errors import RuleFileError
from safety.rules.sources import Document, parse_yaml
from safety.rules.strict import Strict
from safety.vocab import Category

Op = Literal["lt", "le", "gt", "ge"]
Ref = Literal["abs", "lln", "uln", "baseline"]
Applies = Literal[
    "always",
    "baseline_any",
    "baseline_above_uln",
    "baseline_not_above_uln",
    "baseline_below_lln",
    "baseline_not_below_lln",
]
Measure = Literal["value", "increase_from_baseline", "pct_decrease_from_baseline"]
Correction = Literal["albumin_corrected_calcium"]

COMPARATORS: Final[dict[str, Callable[[float, float], bool]]] = {
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}
_SYMBOL: Final = {"lt": "<", "le": "<=", "gt": ">", "ge": ""}
_HIGH_OPS: Final = frozenset({"gt", "ge"})
VERSION_FILES: Final = {"5.0": "ctcae_v5.yaml", "6.0": "ctcae_v6.yaml"}
UNITS_FILE: Final = "units.yaml"
TERMS_FILE: Final = "ctcae_terms.yaml"


# --------------------------------------------------------------------------------------------- schema (YAML)


class Band(Strict):
    """One grade's comparison: ``measure <op> value x <of>``; ``to`` is the band's other end
    (documentation)."""

    grade: Annotated[int, Field(ge=1, le=5)]
    op: Op
    value: float
    of: Ref = "abs"
    to: float | None = None
    to_of: Ref | None = None
    assume_worst: bool | None = None  # True: only with assume_worst_clinical; False: only without it
    label: str | None = None
    note: str | None = None


class BandSet(Strict):
    """Bands that apply together; the entry's grade is the worst over its applicable sets."""

    name: str
    applies: Applies = "always"
    measure: Measure = "value"
    assume_worst: bool | None = None
    bands: list[Band] = Field(min_length=1)


class Example(Strict):
    """A worked example embedded in the rules file; tests/rules grade it and compare (SI unless ``unit``)."""

    value: float | str
    unit: str | None = None
    lln: float | None = None
    uln: float | None = None
    baseline: float | None = None
    baseline_lln: float | None = None
    baseline_uln: float | None = None
    albumin: float | None = None
    assume_worst_clinical: bool = False
    grade: int | None


class TermEntry(Strict):
    """One CTCAE term graded from one test.

    ``sets`` are read in the test's SI unit; ``bands_by_unit`` holds the bands CTCAE itself prints in another
    unit (Anemia in g/dL and mmol/L, Hypoglycemia in mg/dL, ...): a value reported in one of those units is
    graded against them as printed, never converted (spec/ctcae.md, "A unit CTCAE itself states wins over
    conversion"). Keys are unit spellings of the test in rules/units.yaml.
    """

    id: Annotated[str, Field(pattern=r"^[A-Z0-9]+(-[A-Z]+)?$")]
    test: str
    term: str
    category: Category
    correction: Correction | None = None
    sets: list[BandSet] = Field(min_length=1)
    bands_by_unit: dict[str, list[BandSet]] = Field(default_factory=dict)
    examples: list[Example] = Field(default_factory=list)
    note: str | None = None


class FebrileNeutropenia(Strict):
    """spec/ctcae.md: NEUT < 1.0 with TEMP > 38.3 C within 24 h, or two TEMP >= 38.0 >= 1 h apart
    (sustained)."""

    id: str = "FN"
    term: str = "Febrile neutropenia"
    category: Category = "hematologic"
    neut_test: str = "NEUT"
    temp_test: str = "TEMP"
    neut_below: float
    temp_above: float
    sustained_at_least: float
    sustained_hours: float
    within_hours: float
    grade: int


class SustainedFever(Strict):
    """spec/ctcae.md Settled details: two readings > 40.0 C >= 24 h apart, none <= 40.0 between -> grade 4."""

    entry: str
    above: float
    hours: float
    grade: int


class Composites(Strict):
    febrile_neutropenia: FebrileNeutropenia | None = None
    sustained_fever: SustainedFever | None = None


class CriteriaFile(Strict):
    """The top level of ``rules/ctcae_v*.yaml``. ``base`` names a file whose entries this one
    extends/replaces."""

    version: Literal["5.0", "6.0"]
    prefix: str
    base: str | None = None
    source: str | None = None
    terms: list[TermEntry] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list)
    composites: Composites | None = None


class UnitDef(Strict):
    """SI = (reported - offset) x factor / divisor."""

    factor: float = 1.0
    divisor: float = 1.0
    offset: float = 0.0


class TestUnits(Strict):
    si: str
    allow_missing: bool = False
    units: dict[str, UnitDef] = Field(min_length=1)


class UnitsFile(Strict):
    tests: dict[str, TestUnits]


class TermVersion(Strict):
    """One version's term names in ``rules/ctcae_terms.yaml``: its base's names, renamed, plus its own."""

    base: str | None = None
    terms: list[str] = Field(default_factory=list)
    renamed: dict[str, str] = Field(default_factory=dict)


class TermsFile(Strict):
    versions: dict[str, TermVersion] = Field(min_length=1)


# ----------------------------------------------------------------------------------------- compiled (hot
# path)


# The limit a band's ``missing`` sentence names; an absolute band never lacks one.
_MISSING_REF: Final = {"lln": "LLN", "uln": "ULN", "baseline": "baseline", "abs": "ULN"}


class CBand:
    """A band compiled for the interpreter: a bound comparator, its threshold and the texts a basis quotes.

    ``label`` is the band as the basis names it; ``missing`` the whole basis of a grade this band leaves unknown
    (its limit absent); ``times``: the threshold is a multiple of its limit other than 1.
    """

    __slots__ = ("grade", "op", "cmp", "value", "of", "times", "label", "missing", "high")

    def __init__(self, band: Band, label: str) -> None:
        self.grade = band.grade
        self.op = band.op
        self.cmp = COMPARATORS[band.op]
        self.value = band.value
        self.of = band.of
        self.times = band.value != 1.0
        self.label = label
        self.missing = f"range: {_MISSING_REF[band.of]} missing, needed for {label}"
        self.high = band.op in _HIGH_OPS


class CSet:
    """A band set compiled: ``cites_baseline``, a band met in it depends on the baseline (the basis cites it);
    ``plain``, the set reads the value alone, always; ``bit``, its place in a term's mask of applicable sets."""

    __slots__ = ("name", "applies", "measure", "bands", "plain", "bit", "needs_baseline", "cites_baseline")

    def __init__(self, name: str, applies: str, measure: str, bands: tuple[CBand, ...], bit: int) -> None:
        self.name = name
        self.applies = applies
        self.measure = measure
        self.bands = bands
        self.plain = applies == "always" and measure == "value"
        self.bit = bit
        self.needs_baseline = applies != "always" and applies not in (
            "baseline_not_above_uln",
            "baseline_not_below_lln",
        )
        self.cites_baseline = self.needs_baseline or any(b.of == "baseline" for b in bands)


class CTerm:
    """A term entry compiled: ``criteria[grade]`` (``criterion_prefix`` + grade) is the ``criterion`` of a row;
    ``normal[mask]`` the label of grade 0 when the sets in ``mask`` (their bits) applied: "not" each set's mildest
    band ("not >ULN-3.0 x ULN and not >1.5-3.0 x baseline"), or "no band applies"."""

    __slots__ = (
        "id",
        "test",
        "term",
        "category",
        "correction",
        "sets",
        "criterion_prefix",
        "criteria",
        "normal",
        "normal_label",
        "uses_baseline",
        "reads_baseline",
        "unit",
        "by_unit",
    )

    def __init__(self, entry: TermEntry, prefix: str, sets: tuple[CSet, ...], unit: str) -> None:
        self.unit = unit  # the unit the bands are read in (the SI unit, or one of bands_by_unit)
        # unit spelling (as in rules/units.yaml) -> the same term with the bands CTCAE prints in that unit
        self.by_unit: dict[str, CTerm] = {}
        self.id = entry.id
        self.test = entry.test
        self.term = entry.term
        self.category = entry.category
        self.correction = entry.correction
        self.sets = sets
        self.criterion_prefix = f"{prefix}/{entry.id}/"
        self.criteria = tuple(f"{self.criterion_prefix}{grade}" for grade in range(6))  # grades 0-5
        self.normal = tuple(_normal(tuple(s for s in sets if mask & s.bit)) for mask in range(1 << len(sets)))
        mildest = min(
            (
                b
                for s in sets
                if s.applies in ("always", "baseline_not_above_uln", "baseline_not_below_lln")
                for b in s.bands
            ),
            key=lambda b: b.grade,
            default=None,
        )
        self.normal_label = f"not {mildest.label}" if mildest else "no band met"
        self.uses_baseline = any(s.applies != "always" for s in sets)
        # Whether the grade can depend on the baseline at all (condition, measure or threshold).
        self.reads_baseline = self.uses_baseline or any(
            s.measure != "value" or any(b.of == "baseline" for b in s.bands) for s in sets
        )


def _normal(applied: tuple[CSet, ...]) -> str:
    """The label of grade 0 when ``applied`` are the sets that applied."""
    if not applied:
        return "no band applies"
    return "not " + " and not ".join(s.bands[-1].label for s in applied)


class CUnit:
    """One unit of a test: its conversion to SI and ``name``, its spelling in rules/units.yaml."""

    __slots__ = ("name", "factor", "divisor", "offset", "identity")

    def __init__(self, name: str, d: UnitDef) -> None:
        self.name = name
        self.factor = d.factor
        self.divisor = d.divisor
        self.offset = d.offset
        self.identity = d.factor == 1.0 and d.divisor == 1.0 and d.offset == 0.0  # the SI unit itself


class UnitTable:
    """Per test: SI unit name and the known units (exact spelling, then case-insensitive) -> conversion."""

    __slots__ = ("si", "exact", "folded", "allow_missing")

    def __init__(self, data: UnitsFile) -> None:
        self.si: dict[str, str] = {}
        self.exact: dict[str, dict[str, CUnit]] = {}
        self.folded: dict[str, dict[str, CUnit]] = {}
        self.allow_missing: frozenset[str] = frozenset(t for t, d in data.tests.items() if d.allow_missing)
        for test, spec in data.tests.items():
            self.si[test] = spec.si
            self.exact[test] = {u.strip(): CUnit(u.strip(), d) for u, d in spec.units.items()}
            self.folded[test] = {u.strip().casefold(): CUnit(u.strip(), d) for u, d in spec.units.items()}


class GradingTable:
    """What grading reads for one test, gathered at load so an observation finds it with one look-up: the SI
    unit, the known spellings of its units, its term entries, and what else the test feeds.

    ``corrected``: the entries graded after a correction (albumin-corrected calcium); ``composite``: the test is
    an input of a composite criterion (NEUT, TEMP) or corrects another test (ALB); ``printed_in``: the units some
    entry has the bands CTCAE prints in (a value in one of them is also graded as reported).
    """

    __slots__ = ("test", "si", "exact", "folded", "allow_missing", "terms", "corrected", "composite", "printed_in")

    def __init__(self, test: str, units: UnitTable, terms: tuple[CTerm, ...], composite: bool) -> None:
        self.test = test
        self.si = units.si[test]
        self.exact = units.exact[test]
        self.folded = units.folded[test]
        self.allow_missing = test in units.allow_missing
        self.terms = terms
        self.corrected = tuple(t for t in terms if t.correction is not None)
        self.composite = composite
        self.printed_in = frozenset(unit for term in terms for unit in term.by_unit)


class Vocabulary:
    """The CTCAE term names of one version, and the names other versions give the same terms (aliases).

    Built from ``rules/ctcae_terms.yaml``. A study's rules may name a term of their version, or another version's
    name of one of its terms: "Thrombocytopenia" (v6.0) stands for "Platelet count decreased" in a v5.0 study, so
    an AE coded with either name is matched (README, "Checking a study file").
    """

    __slots__ = ("version", "names", "aliases")

    def __init__(self, version: str, by_version: Mapping[str, Mapping[str, str]]) -> None:
        own = by_version[version]
        self.version = version
        self.names: frozenset[str] = frozenset(own.values())
        self.aliases: dict[str, str] = {
            name: own[concept]
            for other, names in by_version.items()
            if other != version
            for concept, name in names.items()
            if concept in own and name not in self.names
        }

    def lookup(self, name: str) -> str | None:
        """The selected version's name of ``name`` (itself or the term it is another version's name of), or None."""
        return name if name in self.names else self.aliases.get(name)


class Criteria:
    """Everything grading needs, compiled: entries by test, units, composites, version and the documents read
    (``sources``, in the order they are hashed into ``rules_version``); and the term names rules may use
    (``vocabulary``)."""

    def __init__(
        self,
        version: str,
        prefix: str,
        entries: tuple[TermEntry, ...],
        units: UnitTable,
        composites: Composites,
        sources: tuple[Document, ...],
        assume_worst_clinical: bool,
        vocabulary: Vocabulary,
    ) -> None:
        self.version = version
        self.vocabulary = vocabulary
        self.prefix = prefix
        self.entries = entries
        self.units = units
        self.composites = composites
        self.sources = sources
        self.assume_worst_clinical = assume_worst_clinical
        by_test: dict[str, list[CTerm]] = {}
        self.by_id: dict[str, CTerm] = {}
        for entry in entries:
            cterm = _compile_entry(entry, prefix, assume_worst_clinical, units.si.get(entry.test, ""))
            by_test.setdefault(entry.test, []).append(cterm)
            self.by_id[entry.id] = cterm
        self.by_test: dict[str, tuple[CTerm, ...]] = {t: tuple(v) for t, v in by_test.items()}
        self.fn = composites.febrile_neutropenia
        self.sustained_fever = composites.sustained_fever
        tests = {"ALB"}  # albumin of the same draw corrects calcium (spec/ctcae.md)
        if self.fn is not None:
            tests.update((self.fn.neut_test, self.fn.temp_test))
        if self.sustained_fever is not None:
            tests.add(self.by_id[self.sustained_fever.entry].test)
        self.composite_tests: frozenset[str] = frozenset(tests)
        # test -> its grading table, for every test an observation of which grading reads
        self.tables: dict[str, GradingTable] = {
            test: GradingTable(test, units, self.by_test.get(test, ()), test in self.composite_tests)
            for test in sorted({*self.by_test, *self.composite_tests})
            if test in units.si
        }
        # tests whose baseline grade needs the albumin of its draw (albumin-corrected calcium)
        self.corrected_tests: frozenset[str] = frozenset(t for t, table in self.tables.items() if table.corrected)
        # every CTCAE term of this version the service accepts as a ctcae_term (safety/coding.py): the names of
        # rules/ctcae_terms.yaml, which hold every graded term (checked at load)
        self.term_names: frozenset[str] = vocabulary.names
        # the same terms, and other versions' names of them, by their case- and blank-folded spelling ("infusion
        # related  reaction"), each to this version's name
        spellings = {**{name: name for name in vocabulary.names}, **vocabulary.aliases}
        self.term_by_folded: dict[str, str] = {" ".join(k.split()).casefold(): v for k, v in spellings.items()}

    def __repr__(self) -> str:
        return f"Criteria(version={self.version!r}, terms={len(self.entries)}, worst={self.assume_worst_clinical})"


# ------------------------------------------------------------------------------------------------- labels


def _num(x: float) -> str:
    """Thresholds as CTCAE writes them: 5.0, 20.0, 0.5, 1.75."""
    return repr(float(x)) if x != int(x) or abs(x) < 1e15 else f"{x:g}"


def _ref_text(k: float, of: str, unit: str) -> str:
    if of == "abs":
        return _num(k)
    name = {"lln": "LLN", "uln": "ULN", "baseline": "baseline"}[of]
    return name if k == 1.0 else f"{_num(k)} x {name}"


def band_label(band: Band, measure: str, unit: str) -> str:
    """Human text of a band, e.g. '>5.0-20.0 x ULN', '<LLN-1.5 10^9/L', '1.5-3.0 x baseline'."""
    if band.label:
        return band.label
    to_of = band.to_of or band.of
    sym = _SYMBOL[band.op]
    if band.to is not None and to_of == band.of and band.of != "abs":
        name = {"lln": "LLN", "uln": "ULN", "baseline": "baseline"}[band.of]
        text = f"{sym}{_num(band.value)}-{_num(band.to)} x {name}"
    else:
        text = sym + _ref_text(band.value, band.of, unit)
        if band.to is not None:
            text += "-" + _ref_text(band.to, to_of, unit)
    if measure == "increase_from_baseline":
        return f"{text} {unit} above baseline"
    if measure == "pct_decrease_from_baseline":
        return f"{text}% decrease from baseline"
    if band.of == "abs" or to_of == "abs":
        return f"{text} {unit}".rstrip()
    return text


# ------------------------------------------------------------------------------------------------- loading


def _document(documents: Mapping[str, Document], file: str, needed_by: str) -> Document:
    """The document of ``file`` in the rules directory (``documents``, by file name)."""
    document = documents.get(file)
    if document is None:
        raise RuleFileError(
            f"{file}: not in the rules directory ({needed_by} needs it); restore the file or point "
            f"the service at a rules directory that has it"
        )
    return document


def _locate(raw: Any, loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic location into 'ALT sets[0].bands[1].op' using the entry id when there is one."""
    parts: list[str] = []
    node = raw
    for item in loc:
        if isinstance(node, list) and isinstance(item, int) and item < len(node):
            node = node[item]
            ident = node.get("id") if isinstance(node, dict) else None
            parts.append(str(ident) if ident else f"[{item}]")
        else:
            node = node.get(item) if isinstance(node, dict) else None
            parts.append(str(item))
    return ".".join(p for p in parts if p != "terms")


def _validate(model: type[BaseModel], raw: Any, where: str) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = _locate(raw, tuple(err["loc"]))
        raise RuleFileError(f"{where}: {loc}: {err['msg']}") from exc


def _check_entry(entry: TermEntry, where: str) -> None:
    """Semantic checks the schema cannot express: ordered ends, one direction per set, worst band first."""
    for bset in [*entry.sets, *(s for sets in entry.bands_by_unit.values() for s in sets)]:
        directions = {b.op in _HIGH_OPS for b in bset.bands}
        if len(directions) > 1:
            raise RuleFileError(f"{where}: {entry.id} set {bset.name!r}: mixes 'lt/le' and 'gt/ge' bands")
        grades = [b.grade for b in bset.bands]
        if grades != sorted(grades, reverse=True):
            raise RuleFileError(f"{where}: {entry.id} set {bset.name!r}: bands must be listed worst grade first")
        for band in bset.bands:
            _check_band(entry, band, where)
        _check_monotonic(entry, bset, where)


def _check_band(entry: TermEntry, band: Band, where: str) -> None:
    if band.to is None or (band.to_of or band.of) != band.of:
        return
    lower, upper = (band.value, band.to) if band.op in _HIGH_OPS else (band.to, band.value)
    if lower > upper:
        raise RuleFileError(f"{where}: {entry.id} grade {band.grade}: lower {_num(lower)} > upper {_num(upper)}")


def _check_monotonic(entry: TermEntry, bset: BandSet, where: str) -> None:
    """A worse grade must need a more extreme value than a milder one on the same reference."""
    last: dict[str, Band] = {}
    for band in bset.bands:
        prev = last.get(band.of)
        if prev is not None and prev.grade > band.grade:
            high = band.op in _HIGH_OPS
            if (high and prev.value < band.value) or (not high and prev.value > band.value):
                raise RuleFileError(
                    f"{where}: {entry.id} grade {prev.grade}: threshold {_num(prev.value)} is milder than "
                    f"grade "
                    f"{band.grade}'s {_num(band.value)}"
                )
        last[band.of] = band


def _compile_sets(band_sets: list[BandSet], worst: bool, unit: str) -> tuple[CSet, ...]:
    sets: list[CSet] = []
    for bset in band_sets:
        if bset.assume_worst is not None and bset.assume_worst != worst:
            continue
        bands = tuple(
            CBand(b, band_label(b, bset.measure, unit))
            for b in bset.bands
            if b.assume_worst is None or b.assume_worst == worst
        )
        if bands:
            sets.append(CSet(bset.name, bset.applies, bset.measure, bands, 1 << len(sets)))
    return tuple(sets)


def _compile_entry(entry: TermEntry, prefix: str, worst: bool, unit: str) -> CTerm:
    term = CTerm(entry, prefix, _compile_sets(entry.sets, worst, unit), unit)
    for other, band_sets in entry.bands_by_unit.items():
        term.by_unit[other] = CTerm(entry, prefix, _compile_sets(band_sets, worst, other), other)
    return term


UNIT_BANDS_TOLERANCE: Final = 0.1  # a printed threshold converted to SI lies within 10% of the SI one


def _check_unit_bands(entry: TermEntry, units: UnitTable, where: str) -> None:
    """``bands_by_unit`` restates the SI bands in a unit CTCAE prints: same sets, same grades, same kind of
    comparison, thresholds that convert to within 10% of the SI ones (CTCAE's columns are rounded restatements,
    e.g. Hypomagnesemia 0.9 mg/dL = 0.37 mmol/L for 0.4), so a mistyped or misplaced threshold fails at load."""
    known = units.exact.get(entry.test, {})
    si = units.si.get(entry.test)
    for unit, band_sets in entry.bands_by_unit.items():
        at = f"{where}: {entry.id} bands_by_unit {unit!r}"
        conv = known.get(unit)
        if conv is None:
            raise RuleFileError(f"{at}: not a unit of {entry.test} in units.yaml (known: {sorted(known)})")
        if unit == si:
            raise RuleFileError(f"{at}: the SI unit's bands are the entry's 'sets'")
        if len(band_sets) != len(entry.sets):
            raise RuleFileError(f"{at}: {len(band_sets)} sets, the SI bands have {len(entry.sets)}")
        for mine, ref in zip(band_sets, entry.sets, strict=True):
            if (mine.name, mine.applies, mine.measure, mine.assume_worst) != (
                ref.name,
                ref.applies,
                ref.measure,
                ref.assume_worst,
            ):
                raise RuleFileError(
                    f"{at}: set {mine.name!r} does not match SI set {ref.name!r} "
                    "(name, applies, measure and assume_worst must be the same)"
                )
            if mine.applies != "always" or mine.measure != "value":
                raise RuleFileError(
                    f"{at}: set {mine.name!r}: only sets that read the value alone (applies "
                    "always, measure value) can have bands in another unit"
                )
            if len(mine.bands) != len(ref.bands):
                raise RuleFileError(f"{at}: set {mine.name!r} has {len(mine.bands)} bands, the SI set {len(ref.bands)}")
            for band, sib in zip(mine.bands, ref.bands, strict=True):
                _check_unit_band(at, band, sib, conv)


def _check_unit_band(at: str, band: Band, sib: Band, conv: CUnit) -> None:
    same = (band.grade, band.op, band.of, band.to_of, band.assume_worst) == (
        sib.grade,
        sib.op,
        sib.of,
        sib.to_of,
        sib.assume_worst,
    )
    if not same or (band.to is None) != (sib.to is None):
        raise RuleFileError(
            f"{at}: grade {band.grade} is not the SI grade {sib.grade} band restated "
            "(grade, op, of, to, to_of and assume_worst must correspond)"
        )
    if band.of == "baseline":
        raise RuleFileError(f"{at}: grade {band.grade}: a multiple of baseline cannot have bands by unit")
    pairs: list[tuple[float, float, str]] = [(band.value, sib.value, band.of)]
    if band.to is not None and sib.to is not None:
        pairs.append((band.to, sib.to, band.to_of or band.of))
    for printed, si_value, of in pairs:
        if of != "abs":  # a multiple of LLN/ULN does not depend on the unit
            ok = printed == si_value
        else:
            converted = (printed - conv.offset) * conv.factor / conv.divisor
            ok = abs(converted - si_value) <= UNIT_BANDS_TOLERANCE * abs(si_value)
        if not ok:
            raise RuleFileError(
                f"{at}: grade {band.grade}: threshold {_num(printed)} does not restate the SI "
                f"threshold {_num(si_value)}; check the value and its unit"
            )


def _load_file(
    file: str, documents: Mapping[str, Document], needed_by: str, seen: list[Document]
) -> tuple[CriteriaFile, list[TermEntry], Composites]:
    document = _document(documents, file, needed_by)
    where = document.name
    if document in seen:
        raise RuleFileError(f"{where}: 'base' chain loops back to this file")
    seen.append(document)
    data: CriteriaFile = _validate(CriteriaFile, parse_yaml(document), where)
    entries: list[TermEntry] = []
    composites = Composites()
    if data.base:
        _, entries, composites = _load_file(data.base, documents, f"the 'base' of {where}", seen)
    ids = [e.id for e in entries]
    for rid in data.remove:
        if rid not in ids:
            raise RuleFileError(f"{where}: remove: {rid!r} is not a term id of {data.base}")
    entries = [e for e in entries if e.id not in data.remove]
    own: set[str] = set()
    for entry in data.terms:
        if entry.id in own:
            raise RuleFileError(f"{where}: {entry.id}: duplicate term id")
        own.add(entry.id)
        _check_entry(entry, where)
        entries = [e for e in entries if e.id != entry.id] + [entry]
    if data.composites is not None:
        composites = Composites(
            febrile_neutropenia=data.composites.febrile_neutropenia or composites.febrile_neutropenia,
            sustained_fever=data.composites.sustained_fever or composites.sustained_fever,
        )
    return data, entries, composites


def build_units(document: Document) -> UnitTable:
    """The unit table of ``rules/units.yaml``; a unit spelled twice for a test (ignoring case) with two meanings
    fails."""
    where = document.name
    data: UnitsFile = _validate(UnitsFile, parse_yaml(document), where)
    for test, spec in data.tests.items():
        folded: dict[str, UnitDef] = {}
        for unit, d in spec.units.items():
            key = unit.strip().casefold()
            if key in folded and folded[key] != d:
                raise RuleFileError(f"{where}: {test} unit {unit!r}: differs from another spelling of the same unit")
            if d.factor <= 0 or d.divisor <= 0:
                raise RuleFileError(f"{where}: {test} unit {unit!r}: factor and divisor must be > 0")
            folded[key] = d
        if spec.si not in spec.units:
            raise RuleFileError(f"{where}: {test}: SI unit {spec.si!r} is not among its units")
    return UnitTable(data)


def _version_names(data: TermsFile, version: str, where: str, seen: tuple[str, ...] = ()) -> dict[str, str]:
    """concept -> name in ``version``; a concept is a term's name in the oldest version that has it."""
    spec = data.versions.get(version)
    if spec is None:
        raise RuleFileError(f"{where}: versions: no version {version!r}; add its term names")
    if version in seen:
        raise RuleFileError(f"{where}: versions.{version}.base: the 'base' chain loops back to {version!r}")
    names = _version_names(data, spec.base, where, (*seen, version)) if spec.base else {}
    concept_of = {name: concept for concept, name in names.items()}
    for old, new in spec.renamed.items():
        if old not in concept_of:
            raise RuleFileError(f"{where}: versions.{version}.renamed: {old!r} is not a term of {spec.base}")
        names[concept_of[old]] = new
    for term in spec.terms:
        if term in names.values():
            raise RuleFileError(f"{where}: versions.{version}.terms: {term!r} is listed twice")
        names[term] = term
    return names


def build_vocabulary(version: str, document: Document) -> Vocabulary:
    """The term names of ``version`` and their aliases, from ``rules/ctcae_terms.yaml``."""
    where = document.name
    data: TermsFile = _validate(TermsFile, parse_yaml(document), where)
    by_version = {v: _version_names(data, v, where) for v in data.versions}
    if version not in by_version:
        raise RuleFileError(f"{where}: versions: no version {version!r}; add its term names")
    return Vocabulary(version, by_version)


def build_criteria(version: str, documents: Mapping[str, Document], assume_worst_clinical: bool = False) -> Criteria:
    """Validate and compile the CTCAE criteria of ``version`` ("5.0" or "6.0") from the rules directory's
    documents, by file name: the version's file (``VERSION_FILES``) and the files it names as ``base``,
    ``units.yaml`` and ``ctcae_terms.yaml``. Other documents are not read.

    ``assume_worst_clinical`` (per study, off by default; spec/ctcae.md) keeps the bands marked
    ``assume_worst: true`` (admiral's worst case: hypokalemia <LLN -> 2, hyponatremia <130 -> 3, INR x
    baseline as
    if on anticoagulation) and drops those marked ``assume_worst: false``.
    """
    if version not in VERSION_FILES:
        raise RuleFileError(f"ctcae_version {version!r} is not supported; use one of {sorted(VERSION_FILES)}")
    needed_by = f"CTCAE v{version}"
    seen: list[Document] = []
    data, entries, composites = _load_file(VERSION_FILES[version], documents, needed_by, seen)
    where = seen[0].name
    if data.version != version:
        raise RuleFileError(f"{where}: version: says {data.version!r}, expected {version!r}")
    units_document = _document(documents, UNITS_FILE, needed_by)
    units = build_units(units_document)
    for entry in entries:
        if entry.test not in units.si:
            raise RuleFileError(f"{where}: {entry.id}: test {entry.test!r} has no entry in units.yaml")
        _check_unit_bands(entry, units, where)
    if composites.sustained_fever and composites.sustained_fever.entry not in {e.id for e in entries}:
        raise RuleFileError(
            f"{where}: composites.sustained_fever.entry: no term id {composites.sustained_fever.entry!r}"
        )
    terms_document = _document(documents, TERMS_FILE, needed_by)
    vocabulary = build_vocabulary(version, terms_document)
    graded = [(e.id, e.term) for e in entries]
    if composites.febrile_neutropenia is not None:
        graded.append((composites.febrile_neutropenia.id, composites.febrile_neutropenia.term))
    for ident, term in graded:
        if term not in vocabulary.names:
            raise RuleFileError(
                f"{where}: {ident}: term {term!r} is not a CTCAE v{version} term in {TERMS_FILE}; "
                "add it there or correct the spelling"
            )
    sources = (*reversed(seen), units_document, terms_document)
    return Criteria(version, data.prefix, tuple(entries), units, composites, sources, assume_worst_clinical, vocabulary)
