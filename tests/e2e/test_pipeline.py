"""Publish → protocol through real processes, as a participant's gateway sees it."""

from __future__ import annotations

import asyncio
import io
import zipfile

import pytest

from contracts.protocol import Protocol
from messages.gateway import Gateway, Published
from tests.builders import h_file, l_file, register, zip_of
from tests.e2e.conftest import Hub

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


async def roundtrip(
    hub: Hub, data: bytes, name: str, *, token: str = "mo.640001", kind: str | None = None
) -> tuple[Published, Protocol]:
    gw: Gateway = await hub.gateway(token)
    async with gw:
        sent = await gw.publish(data, name, kind=kind)
        got = await gw.wait_protocol(sent, timeout=60)
    return sent, got.protocol


def codes(protocol: Protocol) -> list[str]:
    return [p.oshib for p in protocol.problems]


async def test_a_valid_register_is_accepted_with_its_record_count(hub: Hub) -> None:
    name, data = register("HM640001S64004_25111", n=3)
    await hub.insure((name, data))
    sent, protocol = await roundtrip(hub, data, name)
    assert (protocol.result, protocol.n_acc, protocol.n_rej, codes(protocol)) == ("A", 3, 0, [])
    assert protocol.fname == "VHM640001S64004_25111"
    rows = hub.sql("SELECT state, result FROM package WHERE sha256 = :s", s=sent.sha256)
    assert rows == [("applied", "A")]


async def test_the_paying_smo_reads_the_accepted_records_forwarded_to_it(hub: Hub) -> None:
    from datetime import UTC, datetime

    name, data = register("HM640001S64004_25113", n=3)
    await hub.insure((name, data))
    since = datetime.now(UTC)
    _, protocol = await roundtrip(hub, data, name)
    assert protocol.result == "A"
    smo = await hub.gateway("smo.64004")
    async with smo:
        forward = await smo.wait_delivery("registry", since, timeout=60)
        inbox = [item async for item in smo.deliveries("smo-inbox", idle_timeout=3)]
    assert (forward.kind, forward.file_name) == ("registry", name)
    assert forward.headers["Oms-Records"] == "3" and forward.protocol is None
    with zipfile.ZipFile(io.BytesIO(forward.data)) as zf:
        main = next(n for n in zf.namelist() if n.startswith("H"))
        assert zf.read(main).count(b"<OPLATA>1</OPLATA>") == 3
    # the durable inbox holds both: the erz's protocol and the forwarded register
    kinds = {item.kind for item in inbox}
    assert {"protocol", "registry"} <= kinds
    assert all(i.protocol is not None for i in inbox if i.kind == "protocol")


async def test_a_delivery_sent_through_the_object_store_is_fetched_and_checked(hub: Hub) -> None:
    import hashlib
    from datetime import UTC, datetime

    from messages.objects import put_object
    from omsx.errors import OmsxError

    big = b"<DAILY>" + b"x" * (2 << 20) + b"</DAILY>"
    sha = hashlib.sha256(big).hexdigest()
    since = datetime.now(UTC)
    smo = await hub.gateway("smo.64004")
    async with smo:
        await put_object(smo.js, sha, big, namespace="smo.64004")  # as the hub does
        headers = {"Oms-Object": sha, "Oms-Sha256": sha, "Oms-File-Name": "D.xml"}
        await smo.js.publish(
            "oms.out.smo.64004.daily", b"", headers={**headers, "Nats-Msg-Id": sha}
        )
        got = await smo.wait_delivery("daily", since, timeout=30)
        assert (got.kind, got.file_name, got.data) == ("daily", "D.xml", big)
        wrong = {**headers, "Oms-Sha256": "0" * 64, "Nats-Msg-Id": "tampered"}
        await smo.js.publish("oms.out.smo.64004.bad", b"", headers=wrong)
        with pytest.raises(OmsxError, match="does not match its SHA-256"):
            await smo.wait_delivery("bad", since, timeout=30)


async def test_bytes_that_are_not_a_zip_get_801(hub: Hub) -> None:
    _, protocol = await roundtrip(hub, b"this is not an archive", "HM640001S64004_25112.zip")
    assert (protocol.result, codes(protocol)) == ("R", ["801"])


async def test_a_bad_file_name_gets_802(hub: Hub) -> None:
    _, data = register("HM640001S64004_25113")
    _, protocol = await roundtrip(hub, data, "register-november.zip", kind="registry")
    assert (protocol.result, codes(protocol)) == ("R", ["802"])


async def test_a_register_without_its_l_file_gets_803(hub: Hub) -> None:
    base = "HM640001S64004_25114"
    data = zip_of({f"{base}.xml": h_file(base)})
    _, protocol = await roundtrip(hub, data, f"{base}.zip")
    assert (protocol.result, codes(protocol)) == ("R", ["803"])


async def test_a_member_with_a_path_gets_804(hub: Hub) -> None:
    base = "HM640001S64004_25115"
    data = zip_of(
        {f"../{base}.xml": h_file(base), f"L{base[1:]}.xml": l_file("L" + base[1:], base)}
    )
    _, protocol = await roundtrip(hub, data, f"{base}.zip")
    assert (protocol.result, codes(protocol)) == ("R", ["804"])


async def test_xml_with_an_entity_declaration_gets_804(hub: Hub) -> None:
    base = "HM640001S64004_25116"
    evil = (
        b'<?xml version="1.0" encoding="utf-8"?><!DOCTYPE z [<!ENTITY a "aaaa">]>'
        b"<ZL_LIST>&a;</ZL_LIST>"
    )
    data = zip_of({f"{base}.xml": evil, f"L{base[1:]}.xml": l_file("L" + base[1:], base)})
    _, protocol = await roundtrip(hub, data, f"{base}.zip")
    assert (protocol.result, codes(protocol)) == ("R", ["804"])


async def test_the_same_name_with_other_bytes_after_acceptance_gets_805(hub: Hub) -> None:
    name, first = register("HM640001S64004_25117", n=1)
    await hub.insure((name, first))
    _, accepted = await roundtrip(hub, first, name)
    _, again = await roundtrip(hub, register("HM640001S64004_25117", n=2)[1], name)
    assert accepted.result == "A"
    assert (again.result, codes(again)) == ("R", ["805"])
    assert "HM640001S64004_25117.zip" in again.problems[0].comment


async def test_the_same_bytes_outside_the_jetstream_window_get_805_and_change_nothing(
    hub: Hub,
) -> None:
    name, data = register("HM640001S64004_25118", n=2)
    await hub.insure((name, data))
    first, accepted = await roundtrip(hub, data, name)
    await asyncio.sleep(2.5)  # the hub under test runs a 2 s duplicate window
    second, repeat = await roundtrip(hub, data, name)
    assert accepted.result == "A" and not second.duplicate and second.seq != first.seq
    assert (repeat.result, codes(repeat)) == ("R", ["805"])
    assert "пакет № " in repeat.problems[0].comment
    packages = hub.sql("SELECT id, state FROM package WHERE sha256 = :s", s=first.sha256)
    receipts = hub.sql("SELECT count(*) FROM receipt WHERE package_id = :p", p=packages[0][0])
    assert packages[0][1] == "applied" and len(packages) == 1 and receipts == [(2,)]


async def test_a_sender_other_than_the_subject_gets_806(hub: Hub) -> None:
    name, data = register("HM640002S64004_25111")
    _, protocol = await roundtrip(hub, data, name, token="mo.640001")
    assert (protocol.result, codes(protocol)) == ("R", ["806"])


async def test_an_unknown_participant_gets_806(hub: Hub) -> None:
    name, data = register("HM649999S64004_25111")
    _, protocol = await roundtrip(hub, data, name, token="mo.649999")
    assert (protocol.result, codes(protocol)) == ("R", ["806"])


async def test_an_unknown_kind_gets_807(hub: Hub) -> None:
    name, data = register("HM640001S64004_25119")
    _, protocol = await roundtrip(hub, data, name, kind="invoices")
    assert (protocol.result, codes(protocol)) == ("R", ["807"])


async def test_a_register_on_the_attach_subject_gets_808(hub: Hub) -> None:
    name, data = register("HM640001S64004_251110")
    _, protocol = await roundtrip(hub, data, name, kind="attach")
    assert (protocol.result, codes(protocol)) == ("R", ["808"])


async def test_a_package_above_the_message_limit_travels_through_the_object_store(
    hub: Hub,
) -> None:
    base = "HM640001S64004_25121"
    _, deflated = register(base, n=600)
    # stored (not deflated) so the package really is above 1 MiB
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(deflated)) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info), compress_type=zipfile.ZIP_STORED)
    assert len(buf.getvalue()) > 1 << 20
    await hub.insure((f"{base}.zip", deflated))
    sent, protocol = await roundtrip(hub, buf.getvalue(), f"{base}.zip")
    assert sent.via_object
    assert (protocol.result, protocol.n_acc) == ("A", 600)


async def test_every_distinct_package_has_exactly_one_protocol(hub: Hub) -> None:
    # the gateway may see the last protocol a moment before the worker records it as sent
    rows = hub.wait_for(
        "SELECT msg_id, published_at FROM outbox",
        lambda rows: rows and all(published for _, published in rows),
        timeout=10,
    )
    assert rows and all(published for _, published in rows)
    assert len({m for m, _ in rows}) == len(rows)


async def test_an_smo_reads_its_daily_extract_after_omsx_consolidate(hub: Hub) -> None:
    from datetime import UTC, datetime

    import xmlschema

    from contracts.daily import XSD

    since = datetime.now(UTC)
    today = since.date().isoformat()
    done = hub.omsx("consolidate", "--date", today)
    assert done.returncode == 0, done.stderr
    assert today in done.stdout
    smo = await hub.gateway("smo.64004")
    async with smo:
        got = await smo.wait_delivery("daily", since, timeout=60)
    schema = xmlschema.XMLSchema(str(XSD))
    schema.validate(got.data)
    extract = schema.to_dict(got.data)
    assert (extract["ZGLV"]["SMO"], extract["ZGLV"]["REPORT_DATE"]) == ("64004", today)
    assert got.file_name == f"RT64S64004_{since:%y%m%d}1.xml"
    balance = hub.omsx("daily", "balance", "--date", today)
    assert balance.returncode == 0, balance.stdout  # every message of the day accounted for
