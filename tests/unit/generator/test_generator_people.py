from __future__ import annotations

from datetime import date

from contracts.generator.checksums import enp_valid, snils_valid
from contracts.generator.people import (
    FEMALE,
    FEMALE_NAMES,
    MALE,
    MALE_NAMES,
    SURNAMES,
    Population,
    doctors,
)

START = date(2025, 11, 1)


def _population(size: int = 2000, seed: int = 1) -> Population:
    return Population(
        seed=seed,
        region="64",
        size=size,
        smos=["64001", "64002", "64003"],
        mos=["640001", "640002"],
        period_start=START,
    )


def test_names_are_synthetic_and_patronymics_follow_the_sex() -> None:
    population = _population()
    for person in map(population.person, range(population.size)):
        root = person.fam.removesuffix("а") if person.sex == FEMALE else person.fam
        assert root in SURNAMES
        if person.sex == MALE:
            assert person.im in MALE_NAMES and person.ot.endswith("ич")
        else:
            assert person.im in FEMALE_NAMES and person.ot.endswith("на")


def test_people_are_adults_with_a_passport_issued_after_14() -> None:
    population = _population()
    for person in map(population.person, range(population.size)):
        age = (START - person.birth).days / 365.25
        assert 18 <= age < 91
        assert person.passport.issued > person.birth
        assert person.passport.series[:2] == "63" and len(person.passport.number) == 6
        if person.old_passport is not None:
            assert person.old_passport.issued < person.passport.issued
        assert person.insured_since < START and person.attached_since < START


def test_enp_and_snils_are_valid_and_unique_in_a_population() -> None:
    population = _population(5000)
    people = [population.person(i) for i in range(population.size)]
    assert len({p.enp for p in people}) == len({p.snils for p in people}) == len(people)
    assert all(enp_valid(p.enp) and p.enp.startswith("64") for p in people)
    assert all(snils_valid(p.snils) for p in people)


def test_the_cheap_patient_view_agrees_with_the_full_person() -> None:
    population = _population()
    for index in range(0, population.size, 7):
        patient, person = population.patient(index), population.person(index)
        assert (patient.enp, patient.sex) == (person.enp, person.sex)


def test_insurance_and_attachment_split_the_population_evenly() -> None:
    population = _population(600)
    insured = [set(population.insured_by(smo)) for smo in population.smos]
    assert [len(s) for s in insured] == [200, 200, 200]
    assert set.union(*insured) == set(range(600))
    attached = [population.attached_to(mo) for mo in population.mos]
    assert sorted(len(a) for a in attached) == [300, 300]
    assert all(population.person(i).smo == "64002" for i in population.insured_by("64002"))


def test_a_person_is_the_same_for_the_same_seed_only() -> None:
    assert _population(seed=1).person(42) == _population(seed=1).person(42)
    assert _population(seed=1).person(42).enp != _population(seed=2).person(42).enp


def test_doctors_have_valid_snils_distinct_from_patients() -> None:
    population = _population(3000)
    patients = {population.person(i).snils for i in range(population.size)}
    staff = [d for mo in ("640001", "640030") for p in (97, 29, 84) for d in doctors(mo, p)]
    assert len({d.snils for d in staff}) == len(staff)
    assert all(snils_valid(d.iddokt) for d in staff)
    assert not patients & {d.snils for d in staff}
