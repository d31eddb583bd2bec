"""An EDC's CDISC ODM 1.3 clinical data (a Snapshot file) -> SDTM rows -> contract events (docs/odm.md).

ClinicalData/SubjectData/StudyEventData/FormData/ItemGroupData/ItemData is read with lxml; each ItemGroupData of a
group the mapping file names (streams/feeds/odm_mapping.py) becomes one SDTM row of its domain (or, for findings
recorded one item per test, one row per test), which streams/feeds/sdtm.py maps like an SDTM export: the same
subject codes, checks by the contract's parser, partial-date imputation and ledger. The row's event id is the
record's place in the file (study event, form and item group with their repeat keys), which the EDC keeps from one
export to the next. A record that gives no event is listed with its ItemGroupOID, repeat key and ItemOID.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree  # type: ignore[import-untyped]  # no stubs; only parse and iterfind are used

from streams.feeds.datasets import Cell, Dataset, DatasetError
from streams.feeds.odm_mapping import DATE_VARIABLES, GroupMapping, OdmMapping
from streams.feeds.sdtm import EDC_NOTE, RECORD_ID, Listed, Mapped

NAMESPACE = "http://www.cdisc.org/ns/odm/v1.3"
_NS = {"odm": NAMESPACE}
_UNSAFE = re.compile(r"[^A-Za-z0-9._]+")


@dataclass(frozen=True)
class Origin:
    """Where an SDTM row came from: its item group, its repeat keys, and the ItemOID behind each variable."""

    item_group: str
    repeat_key: str
    items: dict[str, str]


@dataclass
class OdmRows:
    datasets: list[Dataset] = field(default_factory=list)
    origins: dict[str, list[Origin]] = field(default_factory=dict)  # domain -> per row, in row order
    unmapped_groups: dict[str, int] = field(default_factory=dict)


def check_schema(path: Path, schema: Path) -> None:
    """Refuse a file that does not conform to the ODM XML schema, naming the first problems (xmlschema)."""
    import xmlschema

    errors = list(xmlschema.XMLSchema(str(schema)).iter_errors(str(path)))
    if errors:
        shown = "; ".join(f"{error.path}: {error.reason}" for error in errors[:3])
        raise DatasetError(f"{path}: {len(errors)} departures from {schema.name}: {shown}; correct the export")


def _value(item: Any) -> str | None:
    if item.get("IsNull") == "Yes":
        return None
    value = item.get("Value")
    if value is None:  # ODM 1.3 typed ItemData (ItemDataString, ItemDataInteger...): the value is the text
        value = item.text
    text = (value or "").strip()
    return text or None


def _key(*parts: str | None) -> str:
    return ".".join(_UNSAFE.sub("_", part or "1") for part in parts)


def read_odm(path: Path, mapping: OdmMapping) -> OdmRows:
    """The rows of the mapped item groups of a Snapshot ODM 1.3 file, per domain, in file order."""
    try:
        root = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    except (OSError, etree.XMLSyntaxError) as exc:
        raise DatasetError(f"{path}: not readable XML ({exc}); expected a CDISC ODM 1.3 file") from exc
    if root.tag != f"{{{NAMESPACE}}}ODM":
        raise DatasetError(
            f"{path}: the root is {root.tag}, not an ODM element of {NAMESPACE} (ODM 1.3.x); "
            "export the clinical data as ODM 1.3"
        )
    if root.get("FileType") != "Snapshot":
        raise DatasetError(
            f"{path}: FileType {root.get('FileType')!r}: a Transactional file holds changes, not the "
            "current data; export a Snapshot"
        )
    rows: dict[str, list[dict[str, Cell]]] = {}
    result = OdmRows()
    for subject in root.iterfind("odm:ClinicalData/odm:SubjectData", _NS):
        subject_key = subject.get("SubjectKey")
        for visit in subject.iterfind("odm:StudyEventData", _NS):
            visit_items = {item.get("ItemOID"): _value(item) for item in visit.iterfind(".//odm:ItemData", _NS)}
            for form in visit.iterfind("odm:FormData", _NS):
                for group in form.iterfind("odm:ItemGroupData", _NS):
                    oid = group.get("ItemGroupOID") or ""
                    spec = mapping.groups.get(oid)
                    if spec is None:
                        result.unmapped_groups[oid] = result.unmapped_groups.get(oid, 0) + 1
                        continue
                    record = _key(
                        visit.get("StudyEventOID"),
                        visit.get("StudyEventRepeatKey"),
                        form.get("FormOID"),
                        form.get("FormRepeatKey"),
                        oid,
                        group.get("ItemGroupRepeatKey"),
                    )
                    repeat_key = "/".join(
                        part or "1"
                        for part in (
                            visit.get("StudyEventOID"),
                            visit.get("StudyEventRepeatKey"),
                            form.get("FormRepeatKey"),
                            group.get("ItemGroupRepeatKey"),
                        )
                    )
                    values = {item.get("ItemOID"): _value(item) for item in group.iterfind("odm:ItemData", _NS)}
                    for row, origin in _rows(spec, oid, record, repeat_key, subject_key, values, visit_items):
                        rows.setdefault(spec.domain, []).append(row)
                        result.origins.setdefault(spec.domain, []).append(origin)
    result.datasets = [_dataset(domain, path, domain_rows) for domain, domain_rows in rows.items()]
    return result


def _dataset(domain: str, path: Path, records: list[dict[str, Cell]]) -> Dataset:
    """One domain's rows as a dataset of the variables any of them has (a row without one: None). The values are
    normalised as they are read (``_value``), so they are taken as they are."""
    names = list(dict.fromkeys(name for record in records for name in record))
    rows = [[record.get(name) for name in names] for record in records]
    return Dataset(domain, path, {name: position for position, name in enumerate(names)}, rows, list)


def _rows(
    spec: GroupMapping,
    oid: str,
    record: str,
    repeat_key: str,
    subject_key: str | None,
    values: dict[str, str | None],
    visit_items: dict[str, str | None],
) -> list[tuple[dict[str, Cell], Origin]]:
    base: dict[str, Cell] = {"USUBJID": subject_key, RECORD_ID: record}
    items = {"USUBJID": "SubjectKey"}
    for item_oid, variable in spec.items.items():
        value = values.get(item_oid)
        base[variable] = spec.values.get(variable, {}).get(value, value) if value is not None else None
        items[variable] = item_oid
    dated = DATE_VARIABLES[spec.domain]
    if not any(base.get(variable) for variable in dated):
        found = next(((item, visit_items[item]) for item in spec.visit_dates if visit_items.get(item)), None)
        if found is not None:
            base[dated[0]], items[dated[0]] = found[1], found[0]
            base[EDC_NOTE] = f"{dated[0]} from {found[0]} of the same study event (the group records no date)"
    if not spec.tests:
        return [(base, Origin(oid, repeat_key, items))]
    domain = spec.domain
    rows = []
    for item_oid, test in spec.tests.items():
        if values.get(item_oid) is None:
            continue
        row = {
            **base,
            RECORD_ID: f"{record}.{_key(item_oid)}",
            f"{domain}TESTCD": test.test,
            f"{domain}ORRES": values[item_oid],
            f"{domain}ORRESU": test.unit,
        }
        where = {**items, f"{domain}ORRES": item_oid, f"{domain}TESTCD": item_oid}
        rows.append((row, Origin(oid, f"{repeat_key} {item_oid}", where)))
    return rows


def odm_listing(mapped: Mapped, rows: OdmRows) -> list[dict[str, Any]]:
    """The listed records of the SDTM mapping, told in the ODM file's own terms."""
    return [_listed(item, rows.origins[item.domain][item.row - 1]) for item in mapped.listed]


def _listed(item: Listed, origin: Origin) -> dict[str, Any]:
    listed = {
        "kind": item.kind,
        "file": item.file,
        "item_group": origin.item_group,
        "repeat_key": origin.repeat_key,
        "item": origin.items.get(item.variable, f"(none mapped to {item.variable})"),
        "variable": item.variable,
        "reason": item.reason,
    }
    if item.subject_id is not None:
        listed["subject_id"] = item.subject_id
    return listed
