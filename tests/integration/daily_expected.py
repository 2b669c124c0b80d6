"""The daily report recomputed from the generated files themselves (xml.etree, no
project code), for the tests of the consolidation (docs/daily.md is the definition).

``Month`` reads each package the test pushed through the hub, with the positions the
hub refused (from its protocol), and answers ``figures(day)`` and ``accompany(day)``
as the consolidation must.
"""

from __future__ import annotations

import statistics
import xml.etree.ElementTree as ET
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

Key = tuple[str, str, int, str, str]


@dataclass(frozen=True)
class N:
    """The horizons the test runs the consolidation with."""

    lookback: int = 365
    onco: int = 3
    referral: int = 5
    overdue: int = 1
    dispensary: int = 5
    tmk: int = 10


def d(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def t(elem: ET.Element | None, tag: str) -> str:
    if elem is None:
        return ""
    found = elem.find(tag)
    return (found.text or "").strip() if found is not None and found.text else ""


def kop(text: str) -> int:
    rub, _, cents = (text or "0").partition(".")
    return int(rub) * 100 + int((cents + "00")[:2])


def members(path: Path) -> dict[str, ET.Element]:
    with zipfile.ZipFile(path) as zf:
        return {name: ET.fromstring(zf.read(name)) for name in zf.namelist()}


@dataclass
class Month:
    region: str
    today: date  # the day the hub received everything: refusals and schedules
    n: N
    counts: defaultdict[Key, set[Any]] = field(default_factory=lambda: defaultdict(set))
    sums: defaultdict[Key, int] = field(default_factory=lambda: defaultdict(int))
    by_day: defaultdict[date, list[tuple[str, int, str, str | None, str | None, Any, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    insurance: defaultdict[str, list[tuple[date, date | None, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    onco: defaultdict[str, list[tuple[date, int, str, str | None]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    referrals: dict[str, dict[str, Any]] = field(default_factory=dict)
    beds: dict[tuple[str, date, str, str], int] = field(default_factory=dict)
    tmk: list[tuple[date, str, str, str | None, date | None]] = field(default_factory=list)
    schedules: dict[str, list[tuple[str, bool, bool]]] = field(default_factory=dict)
    dispensary: list[tuple[date, str, str, str | None]] = field(default_factory=list)
    visits: defaultdict[str, list[date]] = field(default_factory=lambda: defaultdict(list))
    stays: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    pending_smo: list[tuple[list[Any], date, str]] = field(default_factory=list)

    # ------------------------------------------------------------ reading

    def event(self, when: date | None, category: int, indicator: str, mo: str | None,
              smo: str | None, *, key: str = "", unit: Any = None, amount: int = 0,
              enp: str = "") -> None:  # fmt: skip
        if when is None:
            return
        row = [indicator, category, key, mo, smo, unit, amount]
        self.by_day[when].append(row)  # type: ignore[arg-type]
        if smo is None and enp:  # the hub names the СМО insuring the person that day
            self.pending_smo.append((row, when, enp))

    def read(self, path: Path, refused: set[int], pacs: set[str]) -> None:
        """``refused``: positions the protocol names; ``pacs``: the ID_PAC it names (a
        register's record whose person's data the L-file spoils is refused too)."""
        name = path.name
        files = members(path)
        main = next(v for k, v in files.items() if not k.upper().startswith("L"))
        recs = [(i, e) for i, e in enumerate(main, 0) if e.tag not in {"ZGLV", "SCHET"}]
        refused = refused | {
            pos for pos, (_i, e) in enumerate(recs, 1) if t(e.find("PACIENT"), "ID_PAC") in pacs
        }
        live = [(i, e) for i, e in enumerate((e for _i, e in recs), 1) if i not in refused]
        kind = name[:3] if name.startswith("I0") else name[0] if name[0] in "HCTKGOAE" else name[:2]
        if name.startswith("AT"):
            return
        if kind == "E":
            smo = t(main.find("ZGLV"), "SMO")
            for _pos, pers in live:
                periods = self.insurance[t(pers, "ENP")]
                dend = d(t(pers, "DEND"))
                if dend is None:
                    periods.append((d(t(pers, "DBEG")), None, smo))  # type: ignore[arg-type]
                    continue
                for i, (dbeg, end, holder) in enumerate(periods):  # closes its open period
                    if holder == smo and end is None:
                        periods[i] = (dbeg, dend, holder)
        elif kind in {"H", "C", "T", "DP", "DV", "DO"}:
            self._register(name, kind, main, recs, refused)
        elif kind.startswith("I0"):
            getattr(self, f"_{kind.lower()}")(name, live)
        elif kind == "K":
            self._tmk(live)
        elif kind == "G":
            mo = t(main.find("ZGLV"), "CODE_MO")
            units = []
            for _pos, unit in live:
                days = unit.findall("DAY")
                evening = any(t(x, "TO")[:5] > "18:00" for x in days)
                saturday = any(t(x, "WEEKDAY") == "6" for x in days)
                units.append((t(unit, "UNIT_ID"), evening, saturday))
            self.schedules[mo] = units
        elif kind == "O":
            smo = name[2:7]
            for _pos, z in live:
                ref, mo = t(z, "ID_APPEAL"), t(z, "MO") or None
                self.event(d(t(z, "DATE_IN")), 6, "appeals_received", mo, smo, key=t(z, "TYPE"),
                           unit=ref)  # fmt: skip
                self.event(d(t(z, "DATE_OUT")), 6, "appeals_answered", mo, smo,
                           key=t(z, "RESULT"), unit=ref)  # fmt: skip
        elif kind == "A":
            self._expert(main, live)

    def _register(self, name: str, kind: str, main: ET.Element, recs: list[Any],
                  refused: set[int]) -> None:  # fmt: skip
        schet = main.find("SCHET")
        mo = t(schet, "CODE_MO")
        smo = name[name.index("S", 2) + 1 :][:5]
        for pos, (_i, zap) in enumerate(recs, 1):
            z_sl, pac = zap.find("Z_SL"), zap.find("PACIENT")
            enp = t(pac, "ENP") or (t(pac, "NPOLIS") if t(pac, "VPOLIS") == "3" else "")
            if pos in refused:
                self.event(self.today, 7, "mek_refused", mo, smo, unit=("mek", name, pos),
                           amount=kop(t(z_sl, "SUMV")))  # fmt: skip
                continue
            if enp and d(t(z_sl, "DATE_Z_1")):
                self.visits[enp].append(d(t(z_sl, "DATE_Z_1")))  # type: ignore[arg-type]
            sls = z_sl.findall("SL")  # type: ignore[union-attr]
            if kind.startswith("D"):
                ended = d(t(z_sl, "DATE_Z_2"))
                self.event(ended, 1, "exams", mo, smo, key=f"{kind}:{t(z_sl, 'RSLT_D')}",
                           unit=("exam", name, pos))  # fmt: skip
                naz_n = 0
                for sl in sls:
                    if t(sl, "PR_D_N") == "2":
                        when = d(t(sl, "DATE_2")) or ended
                        self.event(when, 1, "dispensary_new", mo, smo, unit=enp)
                        self.dispensary.append((when, enp, mo, smo))  # type: ignore[arg-type]
                    for naz in sl.findall("NAZ"):
                        naz_n += 1
                        self.event(d(t(naz, "NAPR_DATE")) or ended, 1, "exam_referrals", mo, smo,
                                   key=t(naz, "NAZ_R"), unit=("naz", name, pos, naz_n))  # fmt: skip
            for sl in sls:
                ds1, suspected = t(sl, "DS1"), t(sl, "DS_ONK") == "1"
                start = d(t(sl, "DATE_1"))
                if suspected:
                    self._onco(enp, start, 0, mo, smo)
                for cons in sl.findall("CONS"):
                    self._onco(enp, d(t(cons, "DT_CONS")), 1, mo, smo)
                if not suspected and (ds1.startswith("C") or ds1.startswith("D0")):
                    self._onco(enp, start, 2, mo, smo)
                    if t(sl.find("ONK_SL"), "DS1_T") in {"0", "1", "2"}:
                        self._onco(enp, start, 3, mo, smo)

    ONCO = ("onco_suspicions", "onco_consultations", "onco_diagnoses", "onco_treatments")

    def _onco(self, enp: str, when: date | None, order: int, mo: str, smo: str) -> None:
        if when is None:
            return
        self.event(when, 2, self.ONCO[order], mo, smo, unit=enp)
        self.onco[enp].append((when, order, mo, smo))

    def _i01(self, name: str, live: list[Any]) -> None:
        for _pos, r in live:
            pat = r.find("PATIENT")
            ref, smo = t(r, "ID_D"), t(pat, "SMO") or None
            self.referrals[ref] = {
                "mo_d": t(r, "MO_D"), "date_d": d(t(r, "DATE_D")),
                "date_hosp": d(t(r, "DATE_HOSP")),
                "mo_h": t(r, "MO_H"), "smo": smo, "enp": t(pat, "ENP"), "profil": t(r, "PROFIL"),
                "admitted": None, "cancelled": None,
            }  # fmt: skip
            self.event(d(t(r, "DATE_D")), 3, "hosp_referrals", t(r, "MO_D"), smo, unit=ref,
                       enp=t(pat, "ENP"))  # fmt: skip

    def _i03(self, name: str, live: list[Any]) -> None:
        for _pos, r in live:
            ref = self.referrals[t(r, "ID_D")]
            ref["cancelled"] = d(t(r, "DATE_C"))
            self.event(d(t(r, "DATE_C")), 3, "hosp_cancellations", ref["mo_d"], ref["smo"],
                       key=t(r, "REASON"), unit=t(r, "ID_D"), enp=ref["enp"])  # fmt: skip

    def _i04(self, name: str, live: list[Any], planned: bool = True) -> None:
        mo = name[4:10]
        for _pos, r in live:
            pat = r.find("PATIENT")
            when, smo = d(t(r, "DATE_H")), t(pat, "SMO") or None
            self.stays[t(r, "ID_H")] = (mo, smo)
            if planned:
                self.referrals[t(r, "ID_D")]["admitted"] = when
            self.event(when, 3, "hosp_planned" if planned else "hosp_emergency", mo, smo,
                       unit=t(r, "ID_H"), enp=t(pat, "ENP"))  # fmt: skip

    def _i05(self, name: str, live: list[Any]) -> None:
        self._i04(name, live, planned=False)

    def _i06(self, name: str, live: list[Any]) -> None:
        for _pos, r in live:
            mo, smo = self.stays[t(r, "ID_H")]
            self.event(d(t(r, "DATE_OUT")), 3, "hosp_discharges", mo, smo, unit=t(r, "ID_H"))

    def _i07(self, name: str, live: list[Any]) -> None:
        mo = name[4:10]
        for _pos, r in live:
            key = (mo, d(t(r, "DATE_PL")), t(r, "PROFIL"), t(r, "PROFIL_K"))
            self.beds[key] = int(t(r, "FREE") or 0)  # type: ignore[index]

    def _tmk(self, live: list[Any]) -> None:
        for _pos, z in live:
            ref, enp, mo = t(z, "ID_TMK"), t(z, "ENP"), t(z, "MO")
            held, done = d(t(z, "DATE_CONS")), d(t(z, "DATE_IMPL"))
            self.event(d(t(z, "DATE_REQ")), 4, "tmk_requests", mo, None, unit=ref, enp=enp)
            self.event(held, 4, "tmk_consultations", mo, None, unit=ref, enp=enp)
            implemented = t(z, "IMPLEMENTED") == "1"
            if implemented:
                self.event(done or held, 4, "tmk_implemented", mo, None, unit=ref, enp=enp)
            self.tmk.append((held, ref, mo, enp, (done or held) if implemented else None))  # type: ignore[arg-type]

    def _expert(self, main: ET.Element, live: list[Any]) -> None:
        smo = t(main.find("ZGLV"), "SMO")
        for _pos, z in live:
            for n, sank in enumerate(z.findall("SANK"), 1):
                what = "ekmp" if t(sank, "S_TIP").startswith("3") else "mee"
                self.event(d(t(sank, "DATE_ACT")), 7, what, t(z, "CODE_MO"), smo,
                           unit=("sank", id(z), n), amount=kop(t(sank, "S_SUM")))  # fmt: skip

    # ------------------------------------------------------------ after reading

    def finish(self) -> None:
        """Fill the СМО of events that name a person only (tmk), from the erz."""
        for row, when, enp in self.pending_smo:
            row[4] = self.insurer(enp, when)

    def insurer(self, enp: str, when: date) -> str | None:
        held = [
            (b, s)
            for b, e, s in self.insurance.get(enp, [])
            if b <= when and (e is None or when <= e)
        ]
        return max(held)[1] if held else None

    # ------------------------------------------------------------ the report of a day

    def figures(self, day: date) -> dict[Key, float]:
        units: defaultdict[Key, set[Any]] = defaultdict(set)
        sums: defaultdict[Key, int] = defaultdict(int)
        samples: defaultdict[Key, list[int]] = defaultdict(list)
        ratios: defaultdict[Key, list[int]] = defaultdict(lambda: [0, 0])

        def scopes(mo: str | None, smo: str | None) -> list[tuple[str, str]]:
            return [("region", self.region)] + ([("mo", mo)] if mo else []) + (
                [("smo", smo)] if smo else [])  # fmt: skip

        def add(
            cat: int, ind: str, mo: str | None, smo: str | None, unit: Any, key: str = ""
        ) -> None:
            for s, c in scopes(mo, smo):
                units[(s, c, cat, ind, key)].add(unit)

        for ind, cat, key, mo, smo, unit, amount in self.by_day.get(day, []):
            add(cat, ind, mo, smo, unit, key)
            if cat == 7:
                for s, c in scopes(mo, smo):
                    sums[(s, c, cat, f"{ind}_kop", "")] += amount
        self._pathways(day, add, samples, scopes)
        for ref, r in self.referrals.items():
            if not (day - timedelta(days=self.n.lookback) <= r["date_d"] <= day):
                continue
            open_ = (r["admitted"] is None or r["admitted"] > day) and (
                r["cancelled"] is None or r["cancelled"] > day)  # fmt: skip
            if open_ and (day - r["date_d"]).days > self.n.referral:
                add(3, "hosp_waiting", r["mo_h"], r["smo"], ref)
            if open_ and r["date_hosp"] and (day - r["date_hosp"]).days > self.n.overdue:
                add(3, "hosp_overdue", r["mo_h"], r["smo"], ref)
        for r in self.referrals.values():
            if r["admitted"] == day:
                for s, c in scopes(r["mo_h"], r["smo"]):
                    samples[(s, c, 3, "hosp_days_to_admission", r["profil"])].append(
                        (day - r["date_d"]).days)  # fmt: skip
        for (mo, when, profil, _k), free in self.beds.items():
            if when == day:
                for s, c in scopes(mo, None):
                    sums[(s, c, 3, "hosp_free_beds", profil)] += free
        start = day - timedelta(days=self.n.tmk - 1)
        held: dict[str, tuple[str, str | None]] = {}
        done: set[str] = set()
        for when, ref, mo, enp, implemented in sorted(self.tmk, key=lambda x: x[0]):
            if start <= when <= day:
                held.setdefault(ref, (mo, self.insurer(enp, when)))
            if implemented is not None and start <= implemented <= day:
                done.add(ref)
        for ref, (mo, smo) in held.items():
            for s, c in scopes(mo, smo):
                ratios[(s, c, 4, "tmk_implemented_share", "")][0] += ref in done
                ratios[(s, c, 4, "tmk_implemented_share", "")][1] += 1
        if day >= self.today:
            for mo, found in self.schedules.items():
                for unit, evening, saturday in found:
                    add(5, "units", mo, None, unit)
                    if evening:
                        add(5, "units_evening", mo, None, unit)
                    if saturday:
                        add(5, "units_saturday", mo, None, unit)
        for enp, (_since, mo, smo) in self._missed(day).items():
            add(1, "dispensary_missed", mo, smo, enp)
        out: dict[Key, float] = {k: float(len(v)) for k, v in units.items()}
        out.update({k: float(v) for k, v in sums.items() if v})
        out.update({k: float(statistics.median(v)) for k, v in samples.items()})
        out.update({k: round(h / n, 4) for k, (h, n) in ratios.items() if n})
        return out

    def _pathways(self, day: date, add: Any, samples: Any, scopes: Any) -> None:
        window = day - timedelta(days=self.n.lookback)
        for enp, found in self.onco.items():
            steps = sorted(s for s in found if window <= s[0] <= day)
            suspected = diagnosed = None
            waiting = None
            treated = False
            for when, order, mo, smo in steps:
                if order == 0:
                    if diagnosed is None and suspected is None:
                        suspected = when
                    waiting = waiting or (when, mo, smo)
                elif order == 1:
                    waiting = None
                elif order == 2:
                    if diagnosed is None:
                        diagnosed = when
                        if when == day and suspected is not None:
                            for s, c in scopes(mo, smo):
                                samples[(s, c, 2, "onco_days_to_diagnosis", "")].append(
                                    (when - suspected).days)  # fmt: skip
                    suspected = waiting = None
                elif not treated and diagnosed is not None:
                    treated = True
                    if when == day:
                        for s, c in scopes(mo, smo):
                            samples[(s, c, 2, "onco_days_to_treatment", "")].append(
                                (when - diagnosed).days)  # fmt: skip
            if waiting is not None and (day - waiting[0]).days > self.n.onco:
                add(2, "onco_open_suspicions", waiting[1], waiting[2], enp)

    def _missed(self, day: date) -> dict[str, tuple[date, str, str | None]]:
        first: dict[str, tuple[date, str, str | None]] = {}
        for when, enp, mo, smo in sorted(self.dispensary, key=lambda x: (x[1], x[0], x[2])):
            if day - timedelta(days=self.n.lookback) <= when <= day:
                first.setdefault(enp, (when, mo, smo))
        return {
            enp: f for enp, f in first.items()
            if (day - f[0]).days > self.n.dispensary
            and not any(f[0] < v <= day for v in self.visits.get(enp, []))
        }  # fmt: skip

    def accompany(self, day: date) -> set[tuple[Any, ...]]:
        out: set[tuple[Any, ...]] = set()
        since = day - timedelta(days=self.n.lookback)
        for enp, steps in self.onco.items():
            waiting = None
            for when, order, mo, smo in sorted(s for s in steps if since <= s[0] <= day):
                if order == 0:
                    waiting = waiting or (when, mo, smo)
                elif order in (1, 2):
                    waiting = None
            if waiting and (day - waiting[0]).days > self.n.onco and waiting[2]:
                began = waiting[0]
                out.add((waiting[2], "onco.no_consultation", enp, began,
                         began + timedelta(days=self.n.onco), waiting[1], ""))  # fmt: skip
        for ref, r in self.referrals.items():
            open_ = (r["admitted"] is None or r["admitted"] > day) and (
                r["cancelled"] is None or r["cancelled"] > day)  # fmt: skip
            if (open_ and since <= r["date_d"] <= day and r["date_hosp"] and r["smo"]
                    and (day - r["date_hosp"]).days > self.n.overdue):  # fmt: skip
                due = r["date_hosp"] + timedelta(days=self.n.overdue)
                out.add((r["smo"], "hosp.overdue", r["enp"], r["date_d"], due, r["mo_h"], ref))
        for enp, (since, mo, smo) in self._missed(day).items():
            if smo:
                out.add((smo, "dispensary.missed", enp, since,
                         since + timedelta(days=self.n.dispensary), mo, ""))  # fmt: skip
        return out
