"""Broken copies of the valid samples fail in lxml and in xmlschema alike.

Each case changes one thing in a valid sample (lxml edits): an element removed or
moved (order, missing), a required element emptied, a bad date, a value too long or of
the wrong shape. The whole file must be invalid in both validators; when the change is
inside a record, that record alone must be invalid too (the streaming validator checks
records one by one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.conformance.helpers import check, fmt_of, parse, reference_folder, standalone

pytestmark = pytest.mark.conformance

H = ("registry-v3/H_VALID.XML", "H", "3.1")
H32 = ("registry-v3/H_VALID_3.2.XML", "H", "3.2")
C = ("registry-v3/C_VALID.XML", "C", "3.1")
T = ("registry-v3/T_VALID.XML", "T", "3.1")
D = ("registry-v3/D_VALID.XML", "DO", "3.1")
D21 = ("registry-v3/D_VALID_08_2021.XML", "DO", "3.2")
ATT = ("attach/ATM352530T35351_251028.xml", "AT", "1.3")


@dataclass(frozen=True)
class Mutation:
    """Apply ``action`` to the first element at ``path`` (relative to the root)."""

    sample: tuple[str, str, str]
    path: str
    action: str  # remove, remove-all (every match), text (= value), after-next, append (xml)
    value: str = ""

    def apply(self, root: Any) -> Any:
        element = root.find(self.path)
        assert element is not None, self.path
        if self.action == "remove":
            element.getparent().remove(element)
        elif self.action == "remove-all":
            for match in root.findall(self.path):
                match.getparent().remove(match)
        elif self.action == "text":
            element.text = self.value
        elif self.action == "after-next":
            element.getnext().addnext(element)
        elif self.action == "append":
            element.append(parse(self.value.encode()))
        else:
            raise AssertionError(self.action)
        return root


CASES = {
    # order and missing elements
    "H Z_SL DATE_Z_1 missing": Mutation(H, "ZAP/Z_SL/DATE_Z_1", "remove"),
    "H DATE_Z_1 after DATE_Z_2": Mutation(H, "ZAP/Z_SL/DATE_Z_1", "after-next"),
    "H header SD_Z missing": Mutation(H, "ZGLV/SD_Z", "remove"),
    "H SCHET NSCHET missing": Mutation(H, "SCHET/NSCHET", "remove"),
    "H whole SCHET missing": Mutation(H, "SCHET", "remove"),
    "H USL missing in SL": Mutation(H, "ZAP/Z_SL/SL/USL", "remove"),
    "H PACIENT after Z_SL": Mutation(H, "ZAP/PACIENT", "after-next"),
    "H32 USL MR_USL_N missing": Mutation(H32, "ZAP/Z_SL/SL/USL/MR_USL_N", "remove-all"),
    "C SL DS_ONK missing": Mutation(C, "ZAP/Z_SL/SL/DS_ONK", "remove"),
    "T SL TAL_NUM missing": Mutation(T, "ZAP/Z_SL/SL/TAL_NUM", "remove"),
    "D Z_SL VBR missing": Mutation(D, "ZAP/Z_SL/VBR", "remove"),
    "D USL with PRVS and MR_USL_N": Mutation(
        D, "ZAP/Z_SL/SL/USL", "append", "<MR_USL_N><MR_N>1</MR_N></MR_USL_N>"
    ),
    "D21 USL without MR_USL_N in 3.2": Mutation(D21, "ZAP/Z_SL/SL/USL/MR_USL_N", "remove-all"),
    "ATT REC DATE_ATTACH_B missing": Mutation(ATT, "REC/DATE_ATTACH_B", "remove"),
    "ATT header FNAME missing": Mutation(ATT, "ZGLV/FNAME", "remove"),
    # required elements emptied
    "H SL NHISTORY empty": Mutation(H, "ZAP/Z_SL/SL/NHISTORY", "text", ""),
    "H SL NHISTORY blank": Mutation(H, "ZAP/Z_SL/SL/NHISTORY", "text", "   "),
    "H PACIENT ID_PAC empty": Mutation(H, "ZAP/PACIENT/ID_PAC", "text", ""),
    "H USL CODE_USL empty": Mutation(H, "ZAP/Z_SL/SL/USL/CODE_USL", "text", ""),
    "H header FILENAME empty": Mutation(H, "ZGLV/FILENAME", "text", ""),
    "H Z_SL RSLT empty": Mutation(H, "ZAP/Z_SL/RSLT", "text", ""),
    "ATT REC FAM empty": Mutation(ATT, "REC/FAM", "text", ""),
    # bad dates
    "H DATE_Z_2 30 February": Mutation(H, "ZAP/Z_SL/DATE_Z_2", "text", "2021-02-30"),
    "H DATE_Z_2 in Russian order": Mutation(H, "ZAP/Z_SL/DATE_Z_2", "text", "05.04.2021"),
    "H DATE_Z_2 with a time zone": Mutation(H, "ZAP/Z_SL/DATE_Z_2", "text", "2021-04-05Z"),
    "H DSCHET month 13": Mutation(H, "SCHET/DSCHET", "text", "2021-13-01"),
    "ATT REC DR 31 April": Mutation(ATT, "REC/DR", "text", "1990-04-31"),
    # too long or wrong shape
    "H CODE_MO seven characters": Mutation(H, "SCHET/CODE_MO", "text", "7500961"),
    "H DS1 eleven characters": Mutation(H, "ZAP/Z_SL/SL/DS1", "text", "L42.0000000"),
    "H CODE_USL 21 characters": Mutation(H, "ZAP/Z_SL/SL/USL/CODE_USL", "text", "6" * 21),
    "H IDCASE twelve digits": Mutation(H, "ZAP/Z_SL/IDCASE", "text", "1" * 12),
    "H PR_NOV 2": Mutation(H, "ZAP/PR_NOV", "text", "2"),
    "H PR_NOV with a sign": Mutation(H, "ZAP/PR_NOV", "text", "+1"),
    "H SUMV three fraction digits": Mutation(H, "ZAP/Z_SL/SUMV", "text", "115.091"),
    "H SUMV negative": Mutation(H, "ZAP/Z_SL/SUMV", "text", "-115.09"),
    "H MONTH 13": Mutation(H, "SCHET/MONTH", "text", "13"),
    "C NOVOR ten characters": Mutation(C, "ZAP/PACIENT/NOVOR", "text", "1" * 10),
    "T VID_HMP thirteen characters": Mutation(T, "ZAP/Z_SL/SL/VID_HMP", "text", "201/56/211940"),
    "D DISP four characters": Mutation(D, "SCHET/DISP", "text", "ОПВ1"),
    "ATT REC ENP fifteen digits": Mutation(ATT, "REC/ENP", "text", "355111011100111"),
    "ATT REC DOC_CODE with separators": Mutation(ATT, "REC/DOC_CODE", "text", "111-111-111 11"),
    "ATT header CODE_MO seven digits": Mutation(ATT, "ZGLV/CODE_MO", "text", "3525301"),
    "ATT REC ATTACH_METHOD 3": Mutation(ATT, "REC/ATTACH_METHOD", "text", "3"),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_broken_copy_of_a_valid_sample_is_invalid_in_both_validators(case: Mutation) -> None:
    name, file_type, version = case.sample
    fmt = fmt_of(file_type, version)
    root = parse((reference_folder() / name).read_bytes())
    assert check(fmt, root).valid
    verdict = check(fmt, case.apply(root))
    assert verdict.invalid_in_both, verdict
    record_tag = case.path.partition("/")[0]
    if record_tag in fmt.records:
        record = standalone(root.find(record_tag))
        assert check(fmt, record).invalid_in_both


def test_a_d_service_without_any_performer_is_valid_in_lenient_3_1_only() -> None:
    name, file_type, _ = D21
    root = CASES["D21 USL without MR_USL_N in 3.2"].apply(
        parse((reference_folder() / name).read_bytes())
    )
    assert check(fmt_of(file_type, "3.1"), root).valid
    assert check(fmt_of(file_type, "3.2"), root).invalid_in_both


def test_an_empty_optional_element_reads_as_absent_in_the_published_formats() -> None:
    name, file_type, version = C
    root = parse((reference_folder() / name).read_bytes())
    root.find("ZAP/PACIENT/SMO").text = None
    root.find("SCHET/COMENTS").text = ""
    assert check(fmt_of(file_type, version), root).valid
