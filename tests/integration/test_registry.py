"""The registry, the account of care and the claims, on SQLite and PostgreSQL.

Every package goes through the real actors (validate → apply → reply) on a real
database and NATS; the checks read the tables the appliers wrote.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date, timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session

from contracts.flk import Environment, check_flk
from contracts.package import Subject
from contracts.protocol import parse_protocol
from contracts.refs import Directories
from omsx.settings import Settings
from storage.blobs import BlobStore
from storage.db import get_engine, session_scope
from storage.refs import participants
from storage.registry import recompute_invoices
from tests.builders import edit_register, erz_for, expert_file, register
from tests.integration.pipeline import store, through

pytestmark = pytest.mark.integration

BASE = "HM640001S64004_25111"
UNINSURED = "6499999999999990"
HOUR = timedelta(hours=1)


def sql(env: Settings, query: str, **params: object) -> list[tuple]:
    with Session(get_engine(env.database_url)) as s:
        return [tuple(r) for r in s.connection().execute(text(query), params)]


def protocol_of(env: Settings, package_id: int):
    [(body,)] = sql(
        env,
        "SELECT body FROM outbox WHERE package_id = :p AND kind = 'protocol'",
        p=package_id,
    )
    return parse_protocol(body)


def invoices(env: Settings) -> list[tuple]:
    return sql(
        env,
        "SELECT package_id, summav_kop, presented_kop, accepted_kop, refused_kop, mee_kop,"
        " ekmp_kop, payable_kop, cases, accepted, refused FROM invoice ORDER BY package_id",
    )


def assert_balanced(env: Settings) -> None:
    """The claims invariants, per invoice and against its cases."""
    for row in invoices(env):
        pid, summav, presented, accepted, refused, mee, ekmp, payable, cases, n_acc, n_rej = row
        assert presented == accepted + refused, row
        assert payable == accepted - mee - ekmp, row
        assert presented == summav, row  # the sum over cases equals the invoice
        [(sumv, sump, n)] = sql(
            env,
            "SELECT sum(sumv_kop), sum(sump_kop), count(*) FROM carecase WHERE package_id = :p",
            p=pid,
        )
        assert (sumv, sump, n) == (presented, accepted, cases) and n_acc + n_rej == cases


def accepted_money(env: Settings) -> int:
    return sql(env, "SELECT coalesce(sum(accepted_kop), 0) FROM invoice")[0][0]


def insured_register(env: Settings, n: int = 8, seq: int = 1) -> tuple[str, bytes]:
    name, data = register(BASE, n=n, seed=4)
    through(env, *erz_for((name, data)), seq=seq)
    return name, data


def test_the_same_register_again_under_a_new_number_changes_no_money(
    pipeline_env: Settings,
) -> None:
    env = pipeline_env
    name, data = insured_register(env)
    first = through(env, name, data, seq=2)
    assert protocol_of(env, first).result == "A"
    money = accepted_money(env)
    again_name, again = edit_register(name, data, new_base=BASE[:-1] + "2")
    second = through(env, again_name, again, seq=3)
    protocol = protocol_of(env, second)
    assert (protocol.result, protocol.n_acc, protocol.n_rej) == ("R", 0, 8)
    assert {p.oshib for p in protocol.problems} == {"005K.64.0002"}
    assert accepted_money(env) == money
    assert sql(env, "SELECT count(*) FROM outbox WHERE kind = 'registry'") == [(1,)]
    reasons = sql(env, "SELECT DISTINCT reason, f014 FROM carecase WHERE package_id = :p", p=second)
    assert reasons == [("005K.64.0002", "5.7.1")]
    assert_balanced(env)


def test_a_case_repeated_within_a_register_is_refused_and_not_paid(pipeline_env: Settings) -> None:
    env = pipeline_env
    name, data = insured_register(env)

    def repeat_first_idcase(main, _personal) -> None:
        zaps = main.findall("ZAP")
        zaps[1].find("Z_SL/IDCASE").text = zaps[0].findtext("Z_SL/IDCASE")

    name, data = edit_register(name, data, repeat_first_idcase)
    pid = through(env, name, data, seq=2)
    protocol = protocol_of(env, pid)
    assert (protocol.result, protocol.n_acc, protocol.n_rej) == ("P", 7, 1)
    rows = sql(env, "SELECT pos, status, reason, f014 FROM carecase WHERE status = 'refused'")
    assert rows == [(2, "refused", "905", "5.7.2")]
    [(refused_kop, sumv2)] = sql(
        env,
        "SELECT i.refused_kop, c.sumv_kop FROM invoice i JOIN carecase c"
        " ON c.invoice_id = i.id WHERE c.pos = 2",
    )
    assert refused_kop == sumv2 > 0
    assert_balanced(env)


def test_a_one_batch_registers_invoice_has_the_figures_a_recompute_gives(
    pipeline_env: Settings,
) -> None:
    """A register of one batch writes its invoice complete, with figures summed in
    memory; a recompute from the case rows changes none of them."""
    env = pipeline_env
    name, data = insured_register(env)

    def uninsure_second(main, _personal) -> None:
        zaps = main.findall("ZAP")
        pac = zaps[1].findtext("PACIENT/ID_PAC")
        for z in zaps:
            if z.findtext("PACIENT/ID_PAC") == pac:
                z.find("PACIENT/ENP").text = UNINSURED

    name, data = edit_register(name, data, uninsure_second)
    pid = through(env, name, data, seq=2)
    assert env.apply_batch >= 8  # one batch
    written = invoices(env)
    [(invoice_id, complete, refused)] = sql(
        env, "SELECT id, complete, refused FROM invoice WHERE package_id = :p", p=pid
    )
    assert complete and refused > 0
    with session_scope() as session:
        recompute_invoices(session, [invoice_id])
    assert invoices(env) == written
    assert_balanced(env)


def test_mek_refuses_the_uninsured_and_a_resubmission_replaces_the_refusal(
    pipeline_env: Settings,
) -> None:
    env = pipeline_env
    name, data = insured_register(env)

    def uninsure_third(main, _personal) -> None:
        zaps = main.findall("ZAP")
        pac = zaps[2].findtext("PACIENT/ID_PAC")
        for z in zaps:  # every case of that person, so the L-file stays linked
            if z.findtext("PACIENT/ID_PAC") == pac:
                z.find("PACIENT/ENP").text = UNINSURED

    name, data = edit_register(name, data, uninsure_third)
    pid = through(env, name, data, seq=2)
    protocol = protocol_of(env, pid)
    refused = [p for p in protocol.problems if p.oshib == "005K.64.0001"]
    assert refused and protocol.n_rej == len(refused) and protocol.result == "P"
    assert UNINSURED not in protocol_of(env, pid).problems[0].comment
    [(idcase, f014)] = sql(
        env, "SELECT idcase, f014 FROM carecase WHERE status = 'refused' ORDER BY pos LIMIT 1"
    )
    assert f014 == "5.2.4"

    # the МО resubmits that record (PR_NOV=1) once the person is insured
    def only_that_record_resubmitted(main, personal) -> None:
        for z in main.findall("ZAP"):
            if z.findtext("Z_SL/IDCASE") != idcase:
                main.remove(z)
            else:
                z.find("PR_NOV").text = "1"
        kept = {z.findtext("PACIENT/ID_PAC") for z in main.findall("ZAP")}
        for p in personal.findall("PERS"):
            if p.findtext("ID_PAC") not in kept:
                personal.remove(p)

    again_name, again = edit_register(
        name, data, only_that_record_resubmitted, new_base=BASE[:-1] + "3"
    )
    through(env, *erz_for((again_name, again), number=2), seq=3)
    resubmitted = through(env, again_name, again, seq=4)
    assert protocol_of(env, resubmitted).result == "A"
    [(replaces,)] = sql(env, "SELECT replaces FROM carecase WHERE package_id = :p", p=resubmitted)
    assert replaces is not None
    # a second resubmission has nothing left to replace
    third_name, third = edit_register(again_name, again, new_base=BASE[:-1] + "4")
    third_id = through(env, third_name, third, seq=5)
    assert [p.oshib for p in protocol_of(env, third_id).problems] == ["005K.64.0003"]
    assert_balanced(env)


def test_expert_sanctions_reduce_what_is_payable_once(pipeline_env: Settings) -> None:
    env = pipeline_env
    name, data = insured_register(env)
    pid = through(env, name, data, seq=2)
    cases = sql(
        env,
        "SELECT c.idcase, c.sump_kop, i.nschet FROM carecase c JOIN invoice i"
        " ON i.id = c.invoice_id WHERE c.package_id = :p ORDER BY c.pos",
        p=pid,
    )
    (id1, sump1, nschet), (id2, sump2, _) = cases[0], cases[1]
    key = {"CODE_MO": "640001", "YEAR": "2025", "MONTH": "11", "NSCHET": nschet}
    mee = sump1 // 4
    zaps = [
        {**key, "IDCASE": id1, "S_CODE": "s-1", "S_SUM": f"{mee / 100:.2f}", "S_TIP": "21"},
        {**key, "IDCASE": id2, "S_CODE": "s-2", "S_SUM": "100.00", "S_TIP": "30"},
        {**key, "IDCASE": "99999", "S_CODE": "s-3", "S_SUM": "1.00"},  # no such case
        {**key, "IDCASE": id2, "S_CODE": "s-4", "S_SUM": f"{sump2 / 100:.2f}"},  # above SUMP
    ]
    expert = through(env, *expert_file("64004", 1, zaps), seq=3)
    protocol = protocol_of(env, expert)
    assert (protocol.result, protocol.n_acc, protocol.n_rej) == ("P", 2, 2)
    assert [p.oshib for p in protocol.problems] == ["007F.64.0003", "007F.64.0003"]
    [(mee_kop, ekmp_kop, accepted, payable)] = sql(
        env,
        "SELECT mee_kop, ekmp_kop, accepted_kop, payable_kop FROM invoice WHERE package_id = :p",
        p=pid,
    )
    assert (mee_kop, ekmp_kop) == (mee, 10_000) and payable == accepted - mee - 10_000
    # the same acts sent again under another name add nothing
    through(env, *expert_file("64004", 2, zaps[:2]), seq=4)
    assert sql(env, "SELECT count(*), sum(s_sum_kop) FROM sanction") == [(2, mee + 10_000)]
    assert_balanced(env)


def test_the_forward_holds_only_accepted_records_and_passes_flk(pipeline_env: Settings) -> None:
    env = pipeline_env
    name, data = insured_register(env)

    def uninsure_first(main, _personal) -> None:
        first = main.find("ZAP")
        pac = first.findtext("PACIENT/ID_PAC")
        for z in main.findall("ZAP"):
            if z.findtext("PACIENT/ID_PAC") == pac:
                z.find("PACIENT/ENP").text = UNINSURED

    name, data = edit_register(name, data, uninsure_first)
    pid = through(env, name, data, seq=2)
    n_acc = protocol_of(env, pid).n_acc
    [(subject, file_name, sha)] = sql(
        env, "SELECT subject, file_name, blob_sha FROM outbox WHERE kind = 'registry'"
    )
    assert (subject, file_name) == ("oms.out.smo.64004.registry", f"{BASE}.zip")
    forward = BlobStore(env.blobs).read(sha)
    with zipfile.ZipFile(io.BytesIO(forward)) as zf:
        main = zf.read(f"{BASE}.xml")
    assert main.count(b"<ZAP>") == n_acc and b"<SUMP>" in main and b"<OPLATA>1</OPLATA>" in main
    assert UNINSURED.encode() not in main
    participants.clear()
    checked = check_flk(
        forward,
        file_name=f"{BASE}.zip",
        subject=Subject.parse("oms.in.mo.640001.registry"),
        env=Environment(
            participants=participants.get(),
            refs=Directories.seed(),
            region="64",
            today=date(2025, 12, 31),
        ),
    )
    assert (checked.protocol.result, checked.protocol.n_acc) == ("A", n_acc), checked.protocol


def _died_after_three_batches(env: Settings, monkeypatch: pytest.MonkeyPatch) -> int:
    """A register of 50 cases whose first apply (in validate's delivery: it is small)
    died after committing three batches of 7; its package id."""
    from omsx.settings import get_settings
    from workers.validation import validate

    name, data = insured_register(env, n=50)
    monkeypatch.setenv("OMSX_APPLY_BATCH", "7")
    monkeypatch.setenv("OMSX_FAULT_FAIL_AFTER_BATCHES", "3")
    get_settings.cache_clear()
    pid = store(env, name, data, seq=2)
    with pytest.raises(RuntimeError, match="fault injected"):
        validate(pid)
    assert sql(env, "SELECT count(*) FROM carecase") == [(21,)]  # three batches of 7
    return pid


def test_a_worker_dying_mid_register_finishes_it_exactly_once(
    pipeline_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from omsx.settings import get_settings
    from workers.apply import apply
    from workers.replies import publish_protocols
    from workers.validation import validate

    env = pipeline_env
    pid = _died_after_three_batches(env, monkeypatch)
    validate(pid)  # the message delivered again goes on with apply, skipping what committed
    assert sql(env, "SELECT count(*) FROM carecase") == [(50,)]
    apply(pid)  # and the sweeper's re-drive, later, finds nothing left to do
    publish_protocols(pid)
    assert protocol_of(env, pid).n_acc == 50
    assert sql(env, "SELECT count(*), count(DISTINCT pos) FROM carecase") == [(50, 50)]
    assert sql(env, "SELECT batches FROM applyprogress WHERE package_id = :p", p=pid)[0][0] > 7
    with zipfile.ZipFile(io.BytesIO(_forward(env))) as zf:
        assert zf.read(f"{BASE}.xml").count(b"<ZAP>") == 50
    assert_balanced(env)
    get_settings.cache_clear()


@pytest.mark.parametrize("resized", [5, 1000])
def test_a_register_resumed_under_another_batch_size_still_lands_exactly_once(
    pipeline_env: Settings, monkeypatch: pytest.MonkeyPatch, resized: int
) -> None:
    # OMSX_APPLY_BATCH changed (and the workers restarted) while a register was
    # half-applied: the re-run keeps the size its batches were committed with — else it
    # would skip records (a smaller size) or take the package for one batch (1000)
    from omsx.settings import get_settings
    from workers.replies import publish_protocols
    from workers.validation import validate

    env = pipeline_env
    pid = _died_after_three_batches(env, monkeypatch)
    monkeypatch.setenv("OMSX_APPLY_BATCH", str(resized))
    monkeypatch.delenv("OMSX_FAULT_FAIL_AFTER_BATCHES")
    get_settings.cache_clear()
    validate(pid)
    publish_protocols(pid)
    assert sql(env, "SELECT count(*), count(DISTINCT pos) FROM carecase") == [(50, 50)]
    assert protocol_of(env, pid).n_acc == 50
    assert sql(env, "SELECT cases, accepted FROM invoice WHERE package_id = :p", p=pid) == [
        (50, 50)
    ]
    with zipfile.ZipFile(io.BytesIO(_forward(env))) as zf:
        assert zf.read(f"{BASE}.xml").count(b"<ZAP>") == 50
    assert_balanced(env)
    get_settings.cache_clear()


def test_a_one_batch_register_failing_mid_apply_leaves_nothing_and_lands_once_later(
    pipeline_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from omsx.settings import get_settings
    from workers.validation import validate

    env = pipeline_env
    name, data = insured_register(env, n=12)
    monkeypatch.setenv("OMSX_FAULT_FAIL_AFTER_BATCHES", "1")  # dies after its only batch
    get_settings.cache_clear()
    pid = store(env, name, data, seq=2)
    with pytest.raises(RuntimeError, match="fault injected"):
        validate(pid)
    # one transaction from the applier's first write to the conclusion: none of it stayed
    for table in ("carecase", "caresl", "invoice", "applyprogress", "recordproblem"):
        assert sql(env, f"SELECT count(*) FROM {table} WHERE package_id = :p", p=pid) == [(0,)]
    assert sql(env, "SELECT count(*) FROM outbox WHERE package_id = :p", p=pid) == [(0,)]
    assert sql(env, "SELECT state FROM package WHERE id = :p", p=pid) == [("applying",)]
    assert sql(env, "SELECT count(*) FROM applylease") == [(1,)]  # held until the re-run
    monkeypatch.delenv("OMSX_FAULT_FAIL_AFTER_BATCHES")  # the hook would die every run
    get_settings.cache_clear()
    validate(pid)  # the message delivered again applies it whole
    assert sql(env, "SELECT count(*), count(DISTINCT pos) FROM carecase") == [(12, 12)]
    assert protocol_of(env, pid).n_acc == 12
    assert sql(env, "SELECT state FROM package WHERE id = :p", p=pid) == [("applied",)]
    assert sql(env, "SELECT count(*) FROM applylease") == [(0,)]
    events = sql(env, "SELECT stage, outcome FROM packageevent WHERE package_id = :p", p=pid)
    assert events.count(("apply", "started")) == 2
    assert events.count(("apply", "applied:A")) == 1
    assert_balanced(env)
    get_settings.cache_clear()


def _forward(env: Settings) -> bytes:
    [(sha,)] = sql(env, "SELECT blob_sha FROM outbox WHERE kind = 'registry'")
    return BlobStore(env.blobs).read(sha)


def test_the_lease_makes_a_second_register_of_the_same_mo_wait(pipeline_env: Settings) -> None:
    from omsx.errors import Busy
    from storage.registry import acquire_lease, release_lease

    env = pipeline_env
    name, data = insured_register(env)
    first = store(env, name, data, seq=2)
    second = store(env, *edit_register(name, data, new_base=BASE[:-1] + "2"), seq=3)
    for pid in (first, second):
        with session_scope() as s:
            s.connection().execute(
                text("UPDATE package SET state = 'applying' WHERE id = :p"), {"p": pid}
            )
    with session_scope() as s:
        acquire_lease(s, "registry:640001", first, stale_after=HOUR)
    with pytest.raises(Busy), session_scope() as s:
        acquire_lease(s, "registry:640001", second, stale_after=HOUR)
    with session_scope() as s:
        release_lease(s, "registry:640001", first)
    with session_scope() as s:
        acquire_lease(s, "registry:640001", second, stale_after=HOUR)


def _out_of_region(name: str, data: bytes) -> tuple[str, bytes]:
    """The register addressed to the ТФОМС (PLAT = 64) for patients insured elsewhere:
    ST_OKATO 45000 on odd records, 46000 on even ones."""
    from lxml import etree

    def edit(main, _personal) -> None:
        main.find("SCHET/PLAT").text = "64"
        for i, pacient in enumerate(main.iter("PACIENT"), 1):
            smo = pacient.find("SMO")
            okato = etree.Element("ST_OKATO")
            okato.text = "45000" if i % 2 else "46000"
            smo.addprevious(okato)
            pacient.remove(smo)

    return edit_register(name, data, edit, new_base="HM640001T64_25101")


def test_claims_roll_up_per_mo_payer_period_and_list_out_of_region_care(
    pipeline_env: Settings,
) -> None:
    from click.testing import CliRunner

    from admin.cli import main
    from storage.claims import out_of_region, out_of_region_cases, rollups

    env = pipeline_env
    name, data = insured_register(env)
    ours = through(env, name, data, seq=2)
    far_name, far = _out_of_region(*register("HM640001S64004_25101", n=6, seed=9))
    theirs = through(env, far_name, far, seq=3)
    assert protocol_of(env, ours).result == protocol_of(env, theirs).result == "A"
    # the ТФОМС pays out-of-region care itself: nothing is forwarded to an СМО
    assert sql(env, "SELECT package_id FROM outbox WHERE kind = 'registry'") == [(ours,)]
    assert_balanced(env)

    with session_scope() as s:
        found = {
            (r.payer, f"{r.year}-{r.month:02d}", r.cases, r.accepted, r.incomplete)
            for r in rollups(s)
        }
        settlements = out_of_region(s, period=(2025, 10))
        cases = list(out_of_region_cases(s, period=(2025, 10), territory="45000"))
        assert rollups(s, payer="64", period=(2025, 11)) == []
        assert out_of_region(s, period=(2025, 11)) == []
    assert found == {("64004", "2025-11", 8, 8, 0), ("64", "2025-10", 6, 6, 0)}
    [(far_kop,)] = sql(env, "SELECT accepted_kop FROM invoice WHERE package_id = :p", p=theirs)
    assert [(t.territory, t.cases) for t in settlements] == [("45000", 3), ("46000", 3)]
    assert sum(t.accepted_kop for t in settlements) == far_kop
    assert len(cases) == 3 and {c.territory for c in cases} == {"45000"}

    runner = CliRunner()
    rollup = runner.invoke(main, ["claims", "rollup", "--format", "csv"])
    assert rollup.exit_code == 0, rollup.output
    lines = rollup.output.strip().splitlines()
    assert lines[0].startswith("МО,payer,period,invoices") and len(lines) == 3
    listed = runner.invoke(main, ["claims", "out-of-region", "--period", "2025-10", "--cases"])
    assert listed.exit_code == 0, listed.output
    assert listed.output.count("45000") == 3 and listed.output.count("46000") == 3
    wrong = runner.invoke(main, ["claims", "rollup", "--period", "2025-13"])
    assert wrong.exit_code == 2 and "expected YYYY-MM" in wrong.output
