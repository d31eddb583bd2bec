"""CTCAE criteria as data: the strict schema of ``rules/ctcae_v*.yaml`` and ``rules/units.yaml``, and the
loader.

The YAML is validated once at load (pydantic, ``extra="forbid"``: a typo in a rule must fail, architecture.md
convention 3) and compiled into plain tuples and slotted objects that :mod:`safety.grading` walks on every
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
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from safety.errors import RuleFileError

Op = Literal["lt", "le", "gt", "ge"]
Ref = Literal["abs", "lln", "uln", "baseline"]
Applies = Literal[
    "always", "baseline_any", "baseline_above_uln", "baseline_not_above_uln", "baseline_below_lln",
    "baseline_not_below_lln",
]
Measure = Literal["value", "increase_from_baseline", "pct_decrease_from_baseline"]
Correction = Literal["albumin_corrected_calcium"]

COMPARATORS: Final[dict[str, Callable[[float, float], bool]]] = {
    "lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge,
}
_SYMBOL: Final = {"lt": "<", "le": "<=", "gt": ">", "ge": ""}
_HIGH_OPS: Final = frozenset({"gt", "ge"})
_LOADER: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
VERSION_FILES: Final = {"5.0": "ctcae_v5.yaml", "6.0": "ctcae_v6.yaml"}


# --------------------------------------------------------------------------------------------- schema (YAML)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Band(_Strict):
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


class BandSet(_Strict):
    """Bands that apply together; the entry's grade is the worst over its applicable sets."""

    name: str
    applies: Applies = "always"
    measure: Measure = "value"
    assume_worst: bool | None = None
    bands: list[Band] = Field(min_length=1)


class Example(_Strict):
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


class TermEntry(_Strict):
    """One CTCAE term graded from one test."""

    id: Annotated[str, Field(pattern=r"^[A-Z0-9]+(-[A-Z]+)?$")]
    test: str
    term: str
    category: Literal["hematologic", "non_hematologic"]
    correction: Correction | None = None
    sets: list[BandSet] = Field(min_length=1)
    examples: list[Example] = Field(default_factory=list)
    note: str | None = None


class FebrileNeutropenia(_Strict):
    """spec/ctcae.md: NEUT < 1.0 with TEMP > 38.3 C within 24 h, or two TEMP >= 38.0 >= 1 h apart
    (sustained)."""

    id: str = "FN"
    term: str = "Febrile neutropenia"
    category: Literal["hematologic", "non_hematologic"] = "hematologic"
    neut_test: str = "NEUT"
    temp_test: str = "TEMP"
    neut_below: float
    temp_above: float
    sustained_at_least: float
    sustained_hours: float
    within_hours: float
    grade: int


class SustainedFever(_Strict):
    """spec/ctcae.md Settled details: two readings > 40.0 C >= 24 h apart, none <= 40.0 between -> grade 4."""

    entry: str
    above: float
    hours: float
    grade: int


class Composites(_Strict):
    febrile_neutropenia: FebrileNeutropenia | None = None
    sustained_fever: SustainedFever | None = None


class CriteriaFile(_Strict):
    """The top level of ``rules/ctcae_v*.yaml``. ``base`` names a file whose entries this one
    extends/replaces."""

    version: Literal["5.0", "6.0"]
    prefix: str
    base: str | None = None
    source: str | None = None
    terms: list[TermEntry] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list)
    composites: Composites | None = None
    # CTCAE terms of this version without numeric criteria (AEs are graded by the investigator), accepted as an
    # adverse event's ``ctcae_term`` beside the terms above; a file with ``base`` adds to its base's list.
    vocabulary: list[str] = Field(default_factory=list)


class UnitDef(_Strict):
    """SI = (reported - offset) x factor / divisor."""

    factor: float = 1.0
    divisor: float = 1.0
    offset: float = 0.0


class TestUnits(_Strict):
    si: str
    allow_missing: bool = False
    units: dict[str, UnitDef] = Field(min_length=1)


class UnitsFile(_Strict):
    tests: dict[str, TestUnits]


# ----------------------------------------------------------------------------------------- compiled (hot
# path)


class CBand:
    """A band compiled for the interpreter: a bound comparator, its threshold and its basis label."""

    __slots__ = ("grade", "op", "cmp", "value", "of", "label", "high")

    def __init__(self, band: Band, label: str) -> None:
        self.grade = band.grade
        self.op = band.op
        self.cmp = COMPARATORS[band.op]
        self.value = band.value
        self.of = band.of
        self.label = label
        self.high = band.op in _HIGH_OPS


class CSet:
    __slots__ = ("name", "applies", "measure", "bands", "needs_baseline")

    def __init__(self, name: str, applies: str, measure: str, bands: tuple[CBand, ...]) -> None:
        self.name = name
        self.applies = applies
        self.measure = measure
        self.bands = bands
        self.needs_baseline = applies != "always" and applies not in ("baseline_not_above_uln",
                                                                      "baseline_not_below_lln")


class CTerm:
    """A term entry compiled: ``criterion_prefix`` + grade is the ``criterion`` field of every row."""

    __slots__ = ("id", "test", "term", "category", "correction", "sets", "criterion_prefix", "normal_label",
                 "uses_baseline", "reads_baseline", "decisions")

    def __init__(self, entry: TermEntry, prefix: str, sets: tuple[CSet, ...]) -> None:
        self.id = entry.id
        self.test = entry.test
        self.term = entry.term
        self.category = entry.category
        self.correction = entry.correction
        self.sets = sets
        self.criterion_prefix = f"{prefix}/{entry.id}/"
        mildest = min((b for s in sets if s.applies in ("always", "baseline_not_above_uln",
                                                         "baseline_not_below_lln") for b in s.bands),
                      key=lambda b: b.grade, default=None)
        self.normal_label = f"not {mildest.label}" if mildest else "no band met"
        self.uses_baseline = any(s.applies != "always" for s in sets)
        # Whether the grade can depend on the baseline at all (condition, measure or threshold).
        self.reads_baseline = self.uses_baseline or any(
            s.measure != "value" or any(b.of == "baseline" for b in s.bands) for s in sets)
        # Grading decisions already taken for this entry, filled by safety.grading (values recur on every
        # event); a cache, not rule data.
        self.decisions: dict[tuple[float, float | None, float | None, object], object] = {}


class CUnit:
    __slots__ = ("factor", "divisor", "offset", "identity")

    def __init__(self, d: UnitDef) -> None:
        self.factor = d.factor
        self.divisor = d.divisor
        self.offset = d.offset
        self.identity = d.factor == 1.0 and d.divisor == 1.0 and d.offset == 0.0  # the SI unit itself


class UnitTable:
    """Per test: SI unit name and the known units (exact spelling, then case-insensitive) -> conversion."""

    __slots__ = ("si", "exact", "folded", "allow_missing", "resolved")

    def __init__(self, data: UnitsFile) -> None:
        self.si: dict[str, str] = {}
        # (test, unit as reported) -> what safety.units.lookup_unit answered: a handful of spellings recur
        # on every event, so the answer is looked up once (filled lazily, never part of the rules' meaning).
        self.resolved: dict[tuple[str, str | None], object] = {}
        self.exact: dict[str, dict[str, CUnit]] = {}
        self.folded: dict[str, dict[str, CUnit]] = {}
        self.allow_missing: frozenset[str] = frozenset(t for t, d in data.tests.items() if d.allow_missing)
        for test, spec in data.tests.items():
            self.si[test] = spec.si
            self.exact[test] = {u.strip(): CUnit(d) for u, d in spec.units.items()}
            self.folded[test] = {u.strip().casefold(): CUnit(d) for u, d in spec.units.items()}


class Criteria:
    """Everything grading needs, compiled: entries by test, units, composites, version and files read."""

    def __init__(self, version: str, prefix: str, entries: tuple[TermEntry, ...], units: UnitTable,
                 composites: Composites, source_files: list[Path], assume_worst_clinical: bool,
                 vocabulary: frozenset[str] = frozenset()) -> None:
        self.version = version
        self.prefix = prefix
        self.entries = entries
        self.units = units
        self.composites = composites
        self.source_files = source_files
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
        # every CTCAE term of this version the service accepts as a ctcae_term (safety/coding.py)
        names = {entry.term for entry in entries} | vocabulary
        if self.fn is not None:
            names.add(self.fn.term)
        self.term_names: frozenset[str] = frozenset(names)
        # the same terms by their case- and blank-folded spelling ("infusion related  reaction")
        self.term_by_folded: dict[str, str] = {" ".join(n.split()).casefold(): n for n in names}

    def __repr__(self) -> str:
        return (f"Criteria(version={self.version!r}, terms={len(self.entries)}, "
                f"worst={self.assume_worst_clinical})")


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


def _where(path: Path, rules_dir: Path) -> str:
    try:
        return f"{rules_dir.name}/{path.relative_to(rules_dir)}"
    except ValueError:
        return str(path)


def _read_yaml(path: Path, where: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleFileError(f"{where}: cannot read the rules file ({exc.strerror}); check the path") from exc
    try:
        return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader (C when available)
    except yaml.YAMLError as exc:
        raise RuleFileError(f"{where}: not valid YAML: {exc}") from exc


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
    for bset in entry.sets:
        directions = {b.op in _HIGH_OPS for b in bset.bands}
        if len(directions) > 1:
            raise RuleFileError(f"{where}: {entry.id} set {bset.name!r}: mixes 'lt/le' and 'gt/ge' bands")
        grades = [b.grade for b in bset.bands]
        if grades != sorted(grades, reverse=True):
            raise RuleFileError(f"{where}: {entry.id} set {bset.name!r}: bands must be listed worst grade "
                                "first")
        for band in bset.bands:
            _check_band(entry, band, where)
        _check_monotonic(entry, bset, where)


def _check_band(entry: TermEntry, band: Band, where: str) -> None:
    if band.to is None or (band.to_of or band.of) != band.of:
        return
    lower, upper = (band.value, band.to) if band.op in _HIGH_OPS else (band.to, band.value)
    if lower > upper:
        raise RuleFileError(f"{where}: {entry.id} grade {band.grade}: lower {_num(lower)} > upper "
                            f"{_num(upper)}")


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


def _compile_entry(entry: TermEntry, prefix: str, worst: bool, unit: str) -> CTerm:
    sets: list[CSet] = []
    for bset in entry.sets:
        if bset.assume_worst is not None and bset.assume_worst != worst:
            continue
        bands = tuple(CBand(b, band_label(b, bset.measure, unit)) for b in bset.bands
                      if b.assume_worst is None or b.assume_worst == worst)
        if bands:
            sets.append(CSet(bset.name, bset.applies, bset.measure, bands))
    return CTerm(entry, prefix, tuple(sets))


def _load_file(path: Path, rules_dir: Path,
               seen: list[Path]) -> tuple[CriteriaFile, list[TermEntry], Composites, frozenset[str]]:
    where = _where(path, rules_dir)
    if path in seen:
        raise RuleFileError(f"{where}: 'base' chain loops back to this file")
    seen.append(path)
    data: CriteriaFile = _validate(CriteriaFile, _read_yaml(path, where), where)
    entries: list[TermEntry] = []
    composites = Composites()
    vocabulary: frozenset[str] = frozenset()
    if data.base:
        _, entries, composites, vocabulary = _load_file(path.parent / data.base, rules_dir, seen)
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
    return data, entries, composites, vocabulary | frozenset(data.vocabulary)


def load_units(path: Path, rules_dir: Path) -> UnitTable:
    """Read ``rules/units.yaml``; a unit spelled twice for a test (ignoring case) with two meanings fails."""
    where = _where(path, rules_dir)
    data: UnitsFile = _validate(UnitsFile, _read_yaml(path, where), where)
    for test, spec in data.tests.items():
        folded: dict[str, UnitDef] = {}
        for unit, d in spec.units.items():
            key = unit.strip().casefold()
            if key in folded and folded[key] != d:
                raise RuleFileError(f"{where}: {test} unit {unit!r}: differs from another spelling of the "
                                    "same unit")
            if d.factor <= 0 or d.divisor <= 0:
                raise RuleFileError(f"{where}: {test} unit {unit!r}: factor and divisor must be > 0")
            folded[key] = d
        if spec.si not in spec.units:
            raise RuleFileError(f"{where}: {test}: SI unit {spec.si!r} is not among its units")
    return UnitTable(data)


def load_criteria(version: str, rules_dir: Path, assume_worst_clinical: bool = False) -> Criteria:
    """Load and validate the CTCAE file of ``version`` ("5.0" or "6.0") and ``units.yaml`` from ``rules_dir``.

    ``assume_worst_clinical`` (per study, off by default; spec/ctcae.md) keeps the bands marked
    ``assume_worst: true`` (admiral's worst case: hypokalemia <LLN -> 2, hyponatremia <130 -> 3, INR x
    baseline as
    if on anticoagulation) and drops those marked ``assume_worst: false``.
    """
    rules_dir = Path(rules_dir)
    if version not in VERSION_FILES:
        raise RuleFileError(f"ctcae_version {version!r} is not supported; use one of {sorted(VERSION_FILES)}")
    path = rules_dir / VERSION_FILES[version]
    seen: list[Path] = []
    data, entries, composites, vocabulary = _load_file(path, rules_dir, seen)
    where = _where(path, rules_dir)
    if data.version != version:
        raise RuleFileError(f"{where}: version: says {data.version!r}, expected {version!r}")
    units_path = rules_dir / "units.yaml"
    units = load_units(units_path, rules_dir)
    for entry in entries:
        if entry.test not in units.si:
            raise RuleFileError(f"{where}: {entry.id}: test {entry.test!r} has no entry in units.yaml")
    if composites.sustained_fever and composites.sustained_fever.entry not in {e.id for e in entries}:
        raise RuleFileError(f"{where}: composites.sustained_fever.entry: no term id "
                            f"{composites.sustained_fever.entry!r}")
    files = [*reversed(seen), units_path]
    return Criteria(version, data.prefix, tuple(entries), units, composites, files, assume_worst_clinical,
                    vocabulary)
