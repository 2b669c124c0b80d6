"""The markup of register records: ZAP of H, C, T and D files and PERS of the L-file.

Element order follows the reference XSDs exactly (see :mod:`.spec` for which one);
optional elements the generator has no value for are left out. A ZAP is spelled with one
f-string per block: every value in it is a code, a number or a date the generator made,
so nothing needs escaping (names and free text, in PERS, go through :func:`.emit.text_of`).
This is the hot loop of a 100 000-case register.
"""

from __future__ import annotations

from contracts.generator.cases import Case, Naz, Sl, Usl
from contracts.generator.checksums import format_snils, spoil_snils
from contracts.generator.codes import PR_CONS_TACTICS, VPOLIS_ENP
from contracts.generator.emit import Markup
from contracts.generator.people import Person
from contracts.generator.spec import Layout
from contracts.records import money

VERS_SPEC = "V021"


def _opt(tag: str, value: object) -> str:
    return "" if value is None else f"<{tag}>{value}</{tag}>"


def zap(case: Case, type_: str, layout: Layout, smo: str) -> str:
    """One ZAP of a register of ``type_``."""
    policy = "ENP" if layout.enp else "NPOLIS"
    out = [
        f"<ZAP><N_ZAP>{case.n_zap}</N_ZAP><PR_NOV>0</PR_NOV><PACIENT><ID_PAC>{case.id_pac}"
        f"</ID_PAC><VPOLIS>{VPOLIS_ENP}</VPOLIS><{policy}>{case.person.enp}</{policy}>"
        f"<SMO>{smo}</SMO><NOVOR>0</NOVOR></PACIENT><Z_SL><IDCASE>{case.idcase}</IDCASE>"
    ]
    if type_[0] == "D":
        _z_sl_d(out, case, layout)
    else:
        _z_sl(out, case, type_, layout)
    out.append(f"<IDSP>{case.idsp}</IDSP><SUMV>{money(case.sumv)}</SUMV></Z_SL></ZAP>")
    return "".join(out)


def _z_sl(out: list[str], case: Case, type_: str, layout: Layout) -> None:
    out.append(
        f"{_opt('USL_OK', case.usl_ok)}<VIDPOM>{case.vidpom}</VIDPOM>"
        f"{_opt('FOR_POM', case.for_pom)}{_opt('NPR_MO', case.npr_mo)}"
        f"{_opt('NPR_DATE', case.npr_date)}<LPU>{case.lpu}</LPU>"
        f"<DATE_Z_1>{case.date_z_1}</DATE_Z_1><DATE_Z_2>{case.date_z_2}</DATE_Z_2>"
        f"{_opt('KD_Z', case.kd_z)}{_opt('RSLT', case.rslt)}{_opt('ISHOD', case.ishod)}"
    )
    oncology = type_ in ("C", "T")
    for sl in case.sl:
        _sl(out, sl, case.lpu, oncology, layout)


def _sl(out: list[str], sl: Sl, lpu: str, oncology: bool, layout: Layout) -> None:
    vmp = sl.vmp
    head = f"<SL><SL_ID>{sl.sl_id}</SL_ID>"
    if vmp is not None:
        head += f"<VID_HMP>{vmp.vid_hmp}</VID_HMP><METOD_HMP>{vmp.metod_hmp}</METOD_HMP>"
    head += f"<PODR>{sl.podr}</PODR><PROFIL>{sl.profil}</PROFIL>{_opt('PROFIL_K', sl.profil_k)}"
    if vmp is not None:
        head += (
            f"<DET>0</DET><TAL_D>{vmp.tal_d}</TAL_D><TAL_NUM>{vmp.tal_num}</TAL_NUM>"
            f"<TAL_P>{vmp.tal_p}</TAL_P>"
        )
    else:
        head += f"<DET>0</DET>{_opt('P_CEL', sl.p_cel)}"
    ds2 = "".join(f"<DS2>{code}</DS2>" for code in sl.ds2)
    out.append(
        f"{head}<NHISTORY>{sl.nhistory}</NHISTORY><DATE_1>{sl.date_1}</DATE_1>"
        f"<DATE_2>{sl.date_2}</DATE_2><DS1>{sl.ds1}</DS1>{ds2}{_opt('C_ZAB', sl.c_zab)}"
    )
    if oncology:
        out.append(f"<DS_ONK>{sl.ds_onk}</DS_ONK>")
        _oncology(out, sl)
    tarif = None if sl.tarif is None else money(sl.tarif)
    out.append(
        f"<PRVS>{sl.doctor.prvs}</PRVS><VERS_SPEC>{VERS_SPEC}</VERS_SPEC>"
        f"<IDDOKT>{sl.doctor.iddokt}</IDDOKT>{_opt('TARIF', tarif)}"
        f"<SUM_M>{money(sl.sum_m)}</SUM_M>"
    )
    for usl in sl.usl:
        out.append(
            f"<USL><IDSERV>{usl.idserv}</IDSERV><LPU>{lpu}</LPU><PODR>{usl.podr}</PODR>"
            f"<PROFIL>{usl.profil}</PROFIL><DET>0</DET><DATE_IN>{usl.date_in}</DATE_IN>"
            f"<DATE_OUT>{usl.date_out}</DATE_OUT><DS>{usl.ds}</DS>"
            f"<CODE_USL>{usl.code}</CODE_USL><KOL_USL>{usl.kol}.00</KOL_USL>"
            f"<TARIF>{money(usl.tarif)}</TARIF><SUMV_USL>{money(usl.sumv)}</SUMV_USL>"
            f"{_performer(usl, layout)}</USL>"
        )
    out.append("</SL>")


def _oncology(out: list[str], sl: Sl) -> None:
    if sl.napr is not None:
        napr = sl.napr
        out.append(
            f"<NAPR><NAPR_DATE>{napr.date}</NAPR_DATE><NAPR_MO>{napr.mo}</NAPR_MO>"
            f"<NAPR_V>{napr.kind}</NAPR_V></NAPR>"
        )
    if sl.cons is not None:
        out.append(f"<CONS><PR_CONS>{PR_CONS_TACTICS}</PR_CONS><DT_CONS>{sl.cons}</DT_CONS></CONS>")
    if sl.onk is not None:
        onk = sl.onk
        out.append(
            f"<ONK_SL><DS1_T>{onk.ds1_t}</DS1_T><STAD>{onk.stad}</STAD>"
            f"<ONK_T>{onk.onk_t}</ONK_T><ONK_N>{onk.onk_n}</ONK_N><ONK_M>{onk.onk_m}</ONK_M>"
            "</ONK_SL>"
        )


def _performer(usl: Usl, layout: Layout) -> str:
    doctor = usl.doctor
    if layout.mr_usl:
        return (
            f"<MR_USL_N><MR_N>1</MR_N><PRVS>{doctor.prvs}</PRVS>"
            f"<CODE_MD>{doctor.iddokt}</CODE_MD></MR_USL_N>"
        )
    return f"<PRVS>{doctor.prvs}</PRVS><CODE_MD>{doctor.iddokt}</CODE_MD>"


def _z_sl_d(out: list[str], case: Case, layout: Layout) -> None:
    out.append(
        f"<VIDPOM>{case.vidpom}</VIDPOM><LPU>{case.lpu}</LPU><VBR>{case.vbr or 0}</VBR>"
        f"<DATE_Z_1>{case.date_z_1}</DATE_Z_1><DATE_Z_2>{case.date_z_2}</DATE_Z_2>"
        f"<P_OTK>{case.p_otk or 0}</P_OTK>{_opt('RSLT_D', case.rslt_d)}"
    )
    for sl in case.sl:
        naz = "".join(_naz(n, layout) for n in sl.naz)
        tarif = None if sl.tarif is None else money(sl.tarif)
        out.append(
            f"<SL><SL_ID>{sl.sl_id}</SL_ID><NHISTORY>{sl.nhistory}</NHISTORY>"
            f"<DATE_1>{sl.date_1}</DATE_1><DATE_2>{sl.date_2}</DATE_2><DS1>{sl.ds1}</DS1>"
            f"{_opt('DS1_PR', sl.ds1_pr)}<DS_ONK>{sl.ds_onk}</DS_ONK>"
            f"{_opt('PR_D_N', sl.pr_d_n)}{naz}{_opt('TARIF', tarif)}"
            f"<SUM_M>{money(sl.sum_m)}</SUM_M>"
        )
        for usl in sl.usl:
            out.append(
                f"<USL><IDSERV>{usl.idserv}</IDSERV><LPU>{case.lpu}</LPU>"
                f"<DATE_IN>{usl.date_in}</DATE_IN><DATE_OUT>{usl.date_out}</DATE_OUT>"
                f"<P_OTK>0</P_OTK><CODE_USL>{usl.code}</CODE_USL>"
                f"<TARIF>{money(usl.tarif)}</TARIF><SUMV_USL>{money(usl.sumv)}</SUMV_USL>"
                f"{_performer(usl, layout)}</USL>"
            )
        out.append("</SL>")


def _naz(naz: Naz, layout: Layout) -> str:
    if layout.naz_iddokt:
        who = f"<NAZ_IDDOKT>{naz.doctor.iddokt}</NAZ_IDDOKT>"
    else:
        who = _opt("NAZ_SP", naz.sp)
    return (
        f"<NAZ><NAZ_N>{naz.n}</NAZ_N><NAZ_R>{naz.r}</NAZ_R>{who}{_opt('NAZ_V', naz.v)}"
        f"{_opt('NAZ_USL', naz.usl)}{_opt('NAPR_DATE', naz.napr_date)}"
        f"{_opt('NAPR_MO', naz.napr_mo)}</NAZ>"
    )


def pers(id_pac: str, person: Person, *, spoiled: bool = False) -> Markup:
    """One PERS of the L-file; ``spoiled`` writes a SNILS with a wrong check number."""
    m = Markup("PERS")
    m.leaf("ID_PAC", id_pac)
    m.leaf("FAM", person.fam)
    m.leaf("IM", person.im)
    m.leaf("OT", person.ot)
    m.leaf("W", person.sex)
    m.leaf("DR", person.birth)
    doc = person.passport
    m.leaf("DOCTYPE", doc.doctype)
    m.leaf("DOCSER", doc.series)
    m.leaf("DOCNUM", doc.number)
    m.leaf("DOCDATE", doc.issued)
    m.leaf("DOCORG", doc.issuer)
    m.leaf("SNILS", format_snils(spoil_snils(person.snils) if spoiled else person.snils))
    m.close("PERS")
    return m
