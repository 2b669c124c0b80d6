"""Package checks 5–8 of exchange.md §3: size, ZIP, members, expected files; the guarded reader."""

from __future__ import annotations

import io
import zipfile

import pytest

from contracts.archive import CHUNK, GuardedReader, MiB, open_member
from contracts.package import Limits
from omsx.errors import PackageRejected

# Central directory header: flags at +8, uncompressed size at +24.
CENTRAL_USIZE = 24


def assert_refused(result, code: str, *words: str, im_pol: str | None = None) -> None:
    assert not result.ok
    assert len(result.problems) == 1
    problem = result.problems[0]
    assert (problem.oshib, problem.bas_el) == (code, "")
    if im_pol is not None:
        assert problem.im_pol == im_pol
    for word in words:
        assert word in problem.comment, problem.comment


def package_with(build, *extra, main=None, personal=None):
    members = [
        (f"{build.MAIN}.xml", main if main is not None else build.registry_xml()),
        (f"{build.PERSONAL}.xml", personal if personal is not None else build.personal_xml()),
    ]
    return build.make_zip([*members, *extra])


def symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = 0o120777 << 16
    return info


# 5. size


def test_a_package_over_the_size_limit_gets_804(build, check):
    data = build.registry_package()
    result = check(data, limits=Limits(max_package_bytes=len(data) - 1))
    assert_refused(result, "804", "размер пакета", str(len(data)), im_pol="Oms-File-Name")


def test_a_package_exactly_at_the_size_limit_passes(build, check):
    data = build.registry_package()
    assert check(data, limits=Limits(max_package_bytes=len(data))).ok


def test_a_package_on_disk_is_checked_like_bytes(build, check, tmp_path):
    path = tmp_path / f"{build.MAIN}.zip"
    path.write_bytes(build.registry_package())
    assert check(path).ok
    assert check(path, limits=Limits(max_package_bytes=10)).problems[0].oshib == "804"


# 6. the archive


@pytest.mark.parametrize(
    "data", [b"", b"not a zip", b"PK\x03\x04garbage"], ids=["empty", "text", "magic"]
)
def test_what_is_not_a_zip_gets_801(check, data):
    assert_refused(check(data), "801", "не является ZIP-архивом", im_pol="Oms-File-Name")


def test_a_truncated_zip_gets_801(build, check):
    data = build.registry_package()
    assert_refused(check(data[: len(data) // 2]), "801")


def test_a_member_with_a_bad_crc_gets_801(build, check):
    data = build.make_zip(
        [
            (f"{build.MAIN}.xml", build.registry_xml()),
            (f"{build.PERSONAL}.xml", build.personal_xml()),
        ],
        compression=zipfile.ZIP_STORED,
    )
    corrupt = data.replace(b"<SUMMAV>1000.00", b"<SUMMAV>9000.00", 1)
    assert corrupt != data
    assert_refused(check(corrupt), "801", "повреждён", im_pol=f"{build.MAIN}.xml")


def test_a_member_compressed_with_an_unsupported_method_gets_801(build, check):
    data = build.make_zip(
        [
            (f"{build.MAIN}.xml", build.registry_xml()),
            (f"{build.PERSONAL}.xml", build.personal_xml()),
        ],
        compression=zipfile.ZIP_BZIP2,
    )
    assert_refused(check(data), "801", "метод сжатия")


def test_a_member_name_flagged_utf8_but_not_utf8_gets_801_without_crashing(build, check):
    data = package_with(build, ("é.xml", b"<a/>"))
    broken = data.replace("é.xml".encode(), b"\xff\xfe.xml")
    assert broken.count(b"\xff\xfe.xml") == 2
    assert_refused(check(broken), "801")


def test_a_cp437_gibberish_member_name_is_just_an_extra_file(build, check):
    data = package_with(build, ("AB.xml", b"<a/>"))
    gibberish = data.replace(b"AB.xml", b"\x8f\xe0.xml")
    assert_refused(check(gibberish), "803", "лишний файл", "\u00c5\u03b1.xml")


# 7. members


def test_an_encrypted_member_gets_804(build, check):
    data = build.mark_encrypted(build.registry_package(), index=1)
    assert_refused(check(data), "804", "зашифрован", im_pol=f"{build.PERSONAL}.xml")


@pytest.mark.parametrize(
    "name",
    [
        "../HM640001S64004_25111.xml",
        "sub/HM640001S64004_25111.xml",
        "/HM640001S64004_25111.xml",
        "C:HM640001S64004_25111.xml",
        "sub\\HM640001S64004_25111.xml",
        "HM640001S64004_25111..xml",
    ],
)
def test_a_member_with_a_path_or_dotdot_is_refused_with_804(build, check, name):
    data = package_with(build, (name, b"<a/>"))
    assert_refused(check(data), "804", "путь в имени файла", im_pol=name)


def test_a_directory_entry_is_refused_with_804(build, check):
    assert_refused(check(package_with(build, ("docs/", b""))), "804", "каталог")


def test_a_control_character_in_a_member_name_is_refused_with_804(build, check):
    assert_refused(check(package_with(build, ("a\x01.xml", b"<a/>"))), "804", "управляющие символы")


def test_a_symlink_member_is_refused_with_804(build, check):
    data = package_with(build, (symlink("link.xml"), b"/etc/passwd"))
    assert_refused(check(data), "804", "символическая ссылка", im_pol="link.xml")


@pytest.mark.parametrize("suffix", [".zip", ".rar", ".7z", ".gz", ".tar", ".arj", ".ZIP"])
def test_a_nested_archive_by_name_is_refused_with_804(build, check, suffix):
    data = package_with(build, (f"inner{suffix}", b"whatever"))
    assert_refused(check(data), "804", "вложенный архив", im_pol=f"inner{suffix}")


@pytest.mark.parametrize(
    "magic",
    [b"PK\x03\x04", b"\x1f\x8b\x08\x00", b"7z\xbc\xaf\x27\x1c", b"Rar!\x1a\x07\x00"],
    ids=["zip", "gzip", "7z", "rar"],
)
def test_a_nested_archive_by_content_is_refused_with_804(build, check, magic):
    data = package_with(build, personal=magic + b"\x00" * 64)
    assert_refused(check(data), "804", "вложенный архив", im_pol=f"{build.PERSONAL}.xml")


def test_a_zip_bomb_by_ratio_is_refused_with_804(build, check):
    data = package_with(build, main=b"\x00" * 50_000_000)
    assert len(data) < 200_000
    assert_refused(check(data), "804", "степень сжатия", "200:1", im_pol=f"{build.MAIN}.xml")


def test_a_package_over_the_total_uncompressed_limit_is_refused_with_804(build, check):
    data = build.registry_package()
    result = check(data, limits=Limits(max_uncompressed_bytes=2000))
    assert_refused(result, "804", "распакованный объём", "2000")


def test_a_lower_ratio_limit_applies(build, check):
    result = check(build.registry_package(), limits=Limits(max_ratio=2))
    assert_refused(result, "804", "степень сжатия", "2:1")


def test_a_member_whose_header_understates_its_size_is_caught_not_unpacked(build, check):
    data = package_with(build, main=b"\x00" * 5_000_000)
    lying = build.patch_central(data, CENTRAL_USIZE, "<I", 1000, index=0)
    with zipfile.ZipFile(io.BytesIO(lying)) as zf:
        assert zf.infolist()[0].file_size == 1000  # the header passes the ratio check
    assert_refused(check(lying), "801", "контрольная сумма", im_pol=f"{build.MAIN}.xml")


def test_a_member_whose_header_overstates_its_size_gets_801(build, check):
    data = build.registry_package()
    lying = build.patch_central(data, CENTRAL_USIZE, "<I", 20_000, index=0)
    assert_refused(check(lying), "801", "короче заявленного", im_pol=f"{build.MAIN}.xml")


def test_the_archive_is_judged_before_the_expected_files(build, check):
    data = build.mark_encrypted(build.make_zip([(f"{build.MAIN}.xml", build.registry_xml())]))
    assert check(data).problems[0].oshib == "804"


# 8. expected files


def test_a_missing_main_file_gets_803(build, check):
    data = build.make_zip([(f"{build.PERSONAL}.xml", build.personal_xml())])
    assert_refused(
        check(data), "803", "нет основного файла", f"«{build.MAIN}.xml»", im_pol=f"{build.MAIN}.xml"
    )


def test_a_missing_l_file_gets_803_naming_both_spellings(build, check):
    data = build.make_zip([(f"{build.MAIN}.xml", build.registry_xml())])
    assert_refused(
        check(data),
        "803",
        "нет файла персональных данных",
        f"«{build.PERSONAL}.xml»",
        f"«L{build.MAIN}.xml»",
    )


def test_an_extra_file_gets_803_naming_it(build, check):
    data = package_with(build, ("readme.txt", b"hello"))
    assert_refused(check(data), "803", "лишний файл «readme.txt»", im_pol="readme.txt")


def test_both_l_spellings_at_once_get_803(build, check):
    data = package_with(build, (f"L{build.MAIN}.xml", build.personal_xml()))
    assert_refused(check(data), "803", "лишний файл", f"L{build.MAIN}.xml")


def test_a_second_xml_in_a_single_file_kind_gets_803(build, check):
    data = build.make_zip(
        [
            ("ATM640001T64_25111.xml", build.document("ATT", "REC")),
            ("ATM640001T64_25112.xml", build.document("ATT", "REC")),
        ]
    )
    result = check(data, file_name="ATM640001T64_25111.zip", subject="oms.in.mo.640001.attach")
    assert_refused(result, "803", "лишний файл «ATM640001T64_25112.xml»")


def test_a_member_repeated_in_another_case_gets_803(build, check):
    data = package_with(build, (f"{build.MAIN.lower()}.xml", build.registry_xml()))
    assert_refused(check(data), "803", "дважды")


def test_members_are_found_whatever_their_case(build, check):
    data = build.make_zip(
        [
            (f"{build.MAIN}.XML", build.registry_xml()),
            (f"{build.PERSONAL.lower()}.Xml", build.personal_xml()),
        ]
    )
    result = check(data)
    assert result.ok, result.problems
    assert result.members == {
        "main": f"{build.MAIN}.XML",
        "personal": f"{build.PERSONAL.lower()}.Xml",
    }


def test_a_main_file_with_another_extension_is_not_the_main_file(build, check):
    data = build.make_zip(
        [
            (f"{build.MAIN}.txt", build.registry_xml()),
            (f"{build.PERSONAL}.xml", build.personal_xml()),
        ]
    )
    assert_refused(check(data), "803", "нет основного файла")


# the guarded reader


def zeros_zip(size: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.xml", b"\x00" * size)
    return buffer.getvalue()


def test_open_member_reads_a_member_whole(build):
    with (
        zipfile.ZipFile(io.BytesIO(build.registry_package())) as zf,
        open_member(zf, f"{build.MAIN}.xml", Limits()) as reader,
    ):
        assert reader.read() == build.registry_xml()


def test_open_member_stops_the_moment_the_total_limit_is_crossed():
    with zipfile.ZipFile(io.BytesIO(zeros_zip(5 * MiB))) as zf:
        reader = GuardedReader(
            zf, zf.getinfo("zeros.xml"), Limits(max_uncompressed_bytes=MiB, max_ratio=10**9)
        )
        with reader, pytest.raises(PackageRejected) as caught:
            while reader.read(CHUNK // 4):
                pass
        assert reader.count <= MiB + CHUNK // 4
    assert caught.value.problem.oshib == "804"
    assert "распакованный объём" in caught.value.problem.comment


def test_open_member_stops_when_the_actual_ratio_is_crossed():
    with (
        zipfile.ZipFile(io.BytesIO(zeros_zip(5 * MiB))) as zf,
        open_member(zf, "zeros.xml", Limits(max_ratio=10)) as reader,
        pytest.raises(PackageRejected) as caught,
    ):
        reader.read()
    assert caught.value.problem.oshib == "804"
    assert "степень сжатия" in caught.value.problem.comment


def test_open_member_counts_what_other_members_already_yielded():
    with zipfile.ZipFile(io.BytesIO(zeros_zip(1000))) as zf:
        reader = GuardedReader(
            zf, zf.getinfo("zeros.xml"), Limits(max_uncompressed_bytes=1500), already=600
        )
        with reader, pytest.raises(PackageRejected):
            reader.read()


def test_open_member_refuses_an_encrypted_member(build):
    encrypted = build.mark_encrypted(build.registry_package())
    with zipfile.ZipFile(io.BytesIO(encrypted)) as zf, pytest.raises(PackageRejected) as caught:
        open_member(zf, f"{build.MAIN}.xml", Limits())
    assert caught.value.problem.oshib == "804"
