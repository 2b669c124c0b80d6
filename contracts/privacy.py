"""Which elements carry personal data: never echoed in ZN_POL, COMMENT or logs."""

from __future__ import annotations

PERSONAL_TAGS = frozenset(
    {
        # the insured person and their representative (L-file, attach, erz, hosp, tmk)
        "FAM",
        "IM",
        "OT",
        "FAM_P",
        "IM_P",
        "OT_P",
        "DR",
        "DR_P",
        "MR",
        "W",
        "W_P",
        "SURNAME",
        "NAME",
        "PATRONYMIC",
        "BIRTHDAY",
        "SEX",
        "ENP",
        "NPOLIS",
        "SPOLIS",
        "SNILS",
        "DOCSER",
        "DOCNUM",
        "DOCDATE",
        "DOCORG",
        "OKATOG",
        "OKATOP",
        "ADDRESS",
        "PHONE",
        # doctors' SNILS are personal data too
        "IDDOKT",
        "DOC_CODE",
        "CODE_MD",
    }
)


def safe_value(tag: str, value: object, limit: int = 100) -> str | None:
    """The value as it may appear in a protocol (None for personal data)."""
    if tag in PERSONAL_TAGS or value is None:
        return None
    text = str(value)
    return text[:limit] if text else None
