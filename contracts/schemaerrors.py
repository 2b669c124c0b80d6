"""libxml2 schema errors → protocol lines (901 order/missing, 902 empty, 903 type/length).

lxml is the hot path (xmlschema stays the schema authority for loading and for the
conformance suite); its error log gives the failing node's path, from which the
record's keys (N_ZAP, IDCASE, SL_ID, IDSERV, ID_PAC) are read for the protocol line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml import etree

from contracts.privacy import safe_value
from contracts.protocol import Code, Problem

ORDER = {
    "SCHEMAV_ELEMENT_CONTENT",
    "SCHEMAV_CVC_COMPLEX_TYPE_2_4",
    "SCHEMAV_CVC_ELT_1",
    "SCHEMAV_CVC_COMPLEX_TYPE_2_1",
    "SCHEMAV_CVC_COMPLEX_TYPE_2_3",
    "SCHEMAV_CVC_COMPLEX_TYPE_3_2_2",
    "SCHEMAV_CVC_COMPLEX_TYPE_4",
}
_EXPECTED = re.compile(r"Expected is(?: one of)? \( ([^)]*) \)")
_MISSING = "Missing child element"
_FACETS = {
    "SCHEMAV_CVC_PATTERN_VALID": "не соответствует шаблону",
    "SCHEMAV_CVC_MAXLENGTH_VALID": "длиннее допустимого",
    "SCHEMAV_CVC_MINLENGTH_VALID": "короче допустимого",
    "SCHEMAV_CVC_LENGTH_VALID": "неверной длины",
    "SCHEMAV_CVC_ENUMERATION_VALID": "не из списка допустимых",
    "SCHEMAV_CVC_TOTALDIGITS_VALID": "содержит слишком много цифр",
    "SCHEMAV_CVC_FRACTIONDIGITS_VALID": "содержит слишком много знаков после запятой",
    "SCHEMAV_CVC_MININCLUSIVE_VALID": "меньше допустимого",
    "SCHEMAV_CVC_MAXINCLUSIVE_VALID": "больше допустимого",
}
RECORD_KEYS = {  # where a record's identifying values sit, for protocol positions
    "N_ZAP": ("N_ZAP",),
    "IDCASE": ("Z_SL/IDCASE", "IDCASE"),
    "ID_PAC": ("PACIENT/ID_PAC", "ID_PAC"),
}


def problems_from_log(
    log: etree._ListErrorLog, record: etree._Element, *, limit: int = 50
) -> Iterator[Problem]:
    """One protocol line per schema error in ``record`` (at most ``limit``)."""
    base = _record_keys(record)
    seen: set[tuple[str, str, str]] = set()
    for n, entry in enumerate(log):
        if n >= limit:
            return
        node = _node(record, entry.path)
        problem = _problem(entry, node, record, base)
        key = (problem.oshib, problem.im_pol, problem.bas_el)
        if key in seen:
            continue
        seen.add(key)
        yield problem


def _node(validated: etree._Element, path: str | None) -> etree._Element | None:
    """The element an error names. libxml2 writes the path as if the validated element
    were the document root (``/ZAP/Z_SL/SL[2]/DS1``), so it is resolved from there."""
    if not path or not path.startswith("/"):
        return None
    steps = path.split("/")[2:]
    if not steps:
        return validated
    try:
        found = validated.xpath("/".join(steps))
    except etree.XPathError:
        return None
    if isinstance(found, list) and found and isinstance(found[0], etree._Element):
        return found[0]
    return None


def _problem(
    entry: etree._LogEntry,
    node: etree._Element | None,
    record: etree._Element,
    base: dict[str, str | None],
) -> Problem:
    message = entry.message or ""
    keys = dict(base)
    if node is not None:
        keys.update(_nested_keys(node, record))
    tag = node.tag if node is not None and isinstance(node.tag, str) else ""
    parent = node.getparent() if node is not None else None
    parent_tag = parent.tag if parent is not None and isinstance(parent.tag, str) else ""
    if entry.type_name in ORDER or _MISSING in message:
        expected = _EXPECTED.search(message)
        wanted = expected.group(1).replace(" ", "") if expected else ""
        if _MISSING in message:  # the node is the parent that lacks a child
            im_pol, bas_el = (wanted.split(",")[0] if wanted else ""), tag
            comment = f"В элементе {tag} отсутствует обязательный элемент {wanted or '?'}"
        else:
            im_pol, bas_el = tag, parent_tag
            hint = f"; ожидается {wanted}" if wanted else ""
            comment = f"Элемент {tag} не на своём месте или не предусмотрен форматом{hint}"
        return Problem(
            oshib=str(int(Code.STRUCTURE)),
            im_pol=im_pol,
            bas_el=bas_el or record.tag,
            comment=comment,
            zn_pol=None,
            **keys,
        )
    text = (node.text or "").strip() if node is not None else ""
    if node is not None and not text and len(node) == 0:
        return Problem(
            oshib=str(int(Code.EMPTY)),
            im_pol=tag,
            bas_el=parent_tag or record.tag,
            comment=f"Обязательный элемент {tag} не заполнен",
            **keys,
        )
    what = _FACETS.get(entry.type_name, "не соответствует типу данных")
    return Problem(
        oshib=str(int(Code.FORMAT)),
        im_pol=tag,
        bas_el=parent_tag or record.tag,
        zn_pol=safe_value(tag, text),
        comment=f"Значение элемента {tag} {what}",
        **keys,
    )


def _first_text(element: etree._Element, paths: tuple[str, ...]) -> str | None:
    for path in paths:
        value = element.findtext(path)
        if value:
            return str(value).strip()
    return None


def _record_keys(record: etree._Element) -> dict[str, str | None]:
    return {
        "n_zap": _first_text(record, RECORD_KEYS["N_ZAP"]),
        "idcase": _first_text(record, RECORD_KEYS["IDCASE"]),
        "id_pac": _first_text(record, RECORD_KEYS["ID_PAC"]),
    }


def _nested_keys(node: etree._Element, record: etree._Element) -> dict[str, str | None]:
    keys: dict[str, str | None] = {}
    current: etree._Element | None = node
    while current is not None and current is not record:
        if current.tag == "USL" and "idserv" not in keys:
            keys["idserv"] = _first_text(current, ("IDSERV",))
        elif current.tag == "SL" and "sl_id" not in keys:
            keys["sl_id"] = _first_text(current, ("SL_ID",))
        current = current.getparent()
    return keys
