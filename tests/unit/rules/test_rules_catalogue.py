"""The catalogue as data: complete, well formed, bound to exactly one check per rule part."""

from __future__ import annotations

import re
import textwrap

import pytest

from contracts.filenames import D_TYPES
from contracts.rules import Rule, check_file, check_record, load_catalogue, read_catalogue
from contracts.rules import rule as rule_module
from omsx.errors import ConfigError

SECTION_6 = {
    "003F.00.1970",
    "003F.64.0001",
    "001F.00.0030",
    "001F.00.0080",
    "001F.00.0160",
    "001F.64.0010",
    "006F.00.1200",
    "006F.00.1280",
    "006F.00.1100",
    "006F.00.0430",
    "002K.00.0010",
    "002K.00.0160",
    "002K.00.0330",
    "002K.00.0240",
    "002K.00.0290",
    "002K.00.0370",
    "002K.64.0371",
    "002K.64.0570",
    "003F.00.3080",
    "003F.00.1530",
    "004F.00.1570",
    "003F.00.0100",
    "006F.00.0350",
    "006F.00.0900",
    "003K.00.0040",
    "005K.64.0001",
    "005K.64.0002",
    "005K.64.0003",
    "007F.64.0001",
    "007F.64.0002",
    "007F.64.0003",
}
STATEFUL = {
    "005K.64.0001",
    "005K.64.0002",
    "005K.64.0003",
    "007F.64.0001",
    "007F.64.0002",
    "007F.64.0003",
}
RULE_ID = re.compile(r"^\d{3}[FK]\.\d{2}\.\d{4}$")
CYRILLIC = re.compile("[А-Яа-яЁё]")


def parts(catalogue) -> list[Rule]:
    return [part for rule in catalogue for part in catalogue.parts(rule.id)]


OUR_ADDITIONS = {"007F.64.0004"}  # erz I/C for a person the СМО does not insure


def test_every_rule_of_exchange_md_section_6_is_in_the_catalogue(catalogue):
    assert {rule.id for rule in catalogue} == SECTION_6 | OUR_ADDITIONS
    assert len(catalogue) == len(SECTION_6) + len(OUR_ADDITIONS)


def test_every_refusal_has_an_f014_basis(catalogue):
    assert catalogue.basis("005K.64.0001") == "5.2.4"
    assert catalogue.basis("005K.64.0001", "other_smo") == "5.2.1"
    assert catalogue.basis("005K.64.0002") == "5.7.1"
    assert catalogue.basis("905") == "5.7.2"
    assert catalogue.basis("002K.00.0370") == "5.1.5"
    for rule in catalogue:
        assert catalogue.basis(rule.id)  # a default covers rules without their own


def test_rule_ids_follow_the_federal_pattern(catalogue):
    assert all(RULE_ID.match(rule.id) for rule in catalogue)


def test_every_stateless_part_has_a_check_and_stateful_rules_have_none(catalogue):
    for part in parts(catalogue):
        assert (part.check is None) == part.stateful, part.id
    assert {rule.id for rule in catalogue if rule.stateful} == STATEFUL | OUR_ADDITIONS


def test_messages_are_russian_and_fit_a_protocol_comment(catalogue):
    for part in parts(catalogue):
        for message in (part.message, *part.messages.values()):
            assert CYRILLIC.search(message), message
            assert len(message) <= 250 - len("001F.00.0000 ")


def test_file_parts_reject_the_file_and_record_parts_refuse_the_record(catalogue):
    for part in parts(catalogue):
        assert part.severity == ("reject" if part.scope == "file" else "refuse"), part.id


def test_directory_rules_are_the_001f_rules_and_answer_904(catalogue):
    for rule in catalogue:
        assert bool(rule.directory) == rule.id.startswith("001F")
        assert rule.oshib == ("904" if rule.directory else rule.id)


def test_every_part_names_the_fields_it_reads(catalogue):
    assert all(part.fields for part in parts(catalogue))


def test_stateful_rules_are_never_handed_to_the_engine(catalogue):
    for file_type in ("H", "C", "T", "DP", "L", "AT", "E", "I01", "K", "G", "O", "A"):
        for scope in ("file", "record"):
            assert not [r for r in catalogue.for_file(file_type, scope) if r.stateful]


@pytest.mark.parametrize("file_type", D_TYPES)
def test_every_d_type_gets_the_rules_of_kind_d(catalogue, file_type):
    ids = [rule.id for rule in catalogue.for_file(file_type, "record")]
    assert "003K.00.0040" in ids
    assert "006F.00.1200" not in ids


def test_other_types_get_the_rules_of_their_kind(catalogue):
    assert [r.id for r in catalogue.for_file("AT", "file")] == ["003F.00.1970", "002K.00.0010"]
    assert [r.id for r in catalogue.for_file("L", "record")] == ["003F.00.1530", "004F.00.1570"]
    oncology = {"006F.00.0350", "006F.00.0900"}
    assert oncology <= {r.id for r in catalogue.for_file("C", "record")}
    assert not oncology & {r.id for r in catalogue.for_file("H", "record")}
    assert catalogue.for_file("AT", "record") == []


def test_a_rule_with_two_parts_is_found_under_both_scopes(catalogue):
    record, file = catalogue.parts("003F.00.3080")
    assert (record.scope, file.scope) == ("record", "file")
    assert catalogue["003F.00.3080"] is record
    assert len({record, file}) == 2, "rules are hashable values"
    assert record in catalogue.for_file("H", "record")
    assert file in catalogue.for_file("H", "file")


@pytest.mark.parametrize("file_type", ["H", "C", "T", "DP", "DV", "L"])
def test_the_valid_samples_pass_every_rule(catalogue, samples, file_type):
    ctx = samples.context(file_type)
    problems = check_record(samples.record(file_type), ctx, catalogue.for_file(file_type, "record"))
    problems += check_file(ctx, catalogue.for_file(file_type, "file"))
    assert problems == []


def test_check_record_collects_the_problems_of_every_rule_in_order(catalogue, samples):
    zap = samples.record("H")
    zap["Z_SL"]["VIDPOM"] = "13"
    zap["Z_SL"]["SUMV"] = zap["Z_SL"]["SUMV"] + 1
    problems = check_record(zap, samples.context("H"), catalogue.for_file("H", "record"))
    assert [p.oshib for p in problems] == ["006F.00.1200", "002K.00.0370"]


def test_check_record_refuses_to_run_a_stateful_rule(catalogue, samples):
    with pytest.raises(ValueError, match="stateful"):
        check_record(samples.record("H"), samples.context("H"), [catalogue["005K.64.0001"]])


def test_the_catalogue_is_loaded_once():
    assert load_catalogue() is load_catalogue()


def test_a_check_registered_twice_is_refused(monkeypatch):
    monkeypatch.setattr(rule_module, "CHECKS", {})
    rule_module.check("001F.00.0160")(lambda rule, record, ctx: ())
    with pytest.raises(ConfigError, match=r"001F\.00\.0160"):
        rule_module.check("001F.00.0160")(lambda rule, record, ctx: ())


RULE = """
[[rule]]
id = "{id}"
kinds = ["H"]
scope = "record"
severity = "refuse"
stateful = {stateful}
fields = ["Z_SL/USL_OK"]
message = "Проверка {{value}}"
{extra}
"""


def write(tmp_path, *rules: str):
    path = tmp_path / "catalogue.toml"
    path.write_text("".join(textwrap.dedent(rule) for rule in rules), encoding="utf-8")
    return path


def entry(rule_id="006F.64.9999", stateful="false", extra=""):
    return RULE.format(id=rule_id, stateful=stateful, extra=extra)


def noop(rule, record, ctx):
    return ()


def test_a_catalogue_file_binds_its_functions(tmp_path):
    catalogue = read_catalogue(write(tmp_path, entry()), {("006F.64.9999", None): noop})
    assert catalogue["006F.64.9999"].check is not None
    assert list(catalogue["006F.64.9999"].check({}, None)) == []


@pytest.mark.parametrize(
    ("rules", "checks", "error"),
    [
        pytest.param(
            [entry()], {}, "нет функции проверки у 006F.64.9999", id="a rule without a function"
        ),
        pytest.param(
            [entry()],
            {("006F.64.9999", None): noop, ("006F.64.9998", None): noop},
            "которого нет в каталоге",
            id="a function without a rule",
        ),
        pytest.param(
            [entry(stateful="true")],
            {("006F.64.9999", None): noop},
            "stateful",
            id="a function for a stateful rule",
        ),
        pytest.param([entry(rule_id="6F.64.9999")], {}, "KKKK.RR.TTTT", id="a malformed id"),
        pytest.param([entry(extra='colour = "red"')], {}, "неизвестные ключи", id="an unknown key"),
        pytest.param([entry(), entry()], {}, "указано дважды", id="a rule listed twice"),
        pytest.param(
            [entry(extra='directory = "V006"')],
            {},
            "001F",
            id="a directory on a rule that is not 001F",
        ),
        pytest.param(
            [entry(extra='[[rule.part]]\nscope = "file"\nseverity = "reject"\nmessage = "Файл"\n')],
            {("006F.64.9999", None): noop},
            "укажите scope",
            id="an unscoped function for a rule of two parts",
        ),
        pytest.param(
            [entry().replace('"refuse"', '"warn"')], {}, "severity", id="an unknown severity"
        ),
    ],
)
def test_a_broken_catalogue_does_not_load(tmp_path, rules, checks, error):
    with pytest.raises(ConfigError, match=error):
        read_catalogue(write(tmp_path, *rules), checks)
