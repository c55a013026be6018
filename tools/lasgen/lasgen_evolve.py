"""lasgen_evolve - derive a later state of a generated school, for benchmarks
of successive syncs.

  advance_year(school, rng)          --year-transition: the next schooljaar
  apply_changes(school, rate, rng)   --change-rate: a share of students' families
                                     get a changed address, phone or name

Both start from the base school of the same seed, so the ids of everyone who
stays are unchanged and a diff against the base is exactly the change made
here. Each uses its own random stream, so the base never shifts.
"""

import datetime

from lasgen_model import Phone, Relation
from lasgen_people import (EmailBook, address_fields, child_names, landline, mobile, phone,
                           pick_surname, school_day)
from lasgen_school import add_family, make_student, make_under4, number_people, organise_year


def advance_year(school, rng):
    """Move the school to its next schooljaar.

    Groep 8 and everyone with a datumUitschrijving leave (they are absent from
    the new documents, as are guardians left without children); the others
    move up a leerjaar (2% stay behind), registered under-4s become regular;
    a new intake of about the same size joins leerjaar 1 (a quarter of them
    younger siblings in families already at the school, about 3% of the
    school under 4). The groups are new (ParnasSys groups are per schooljaar,
    R3), and staff are placed in the new groups.
    """
    school.schooljaar += 1
    leaving = 0
    for family in school.families:
        stay = []
        for child in family.children:
            if child.uitschrijving is not None or child.leerjaar == 8:
                leaving += 1
                continue
            if child.leerjaar == 1 or rng.random() >= 0.02:
                child.leerjaar += 1
            child.inschrijving_type = "REG"
            child.start = school.first_day
            if rng.random() < 0.02:
                child.uitschrijving = school_day(rng, datetime.date(school.schooljaar, 8, 20),
                                                 datetime.date(school.schooljaar, 10, 31))
            stay.append(child)
        family.children = stay
        for guardian in family.guardians:
            guardian.relations = [r for r in guardian.relations if r.student in stay]
    school.families = [f for f in school.families if f.children]
    emails = EmailBook()
    emails.reserve([g.email for g in school.guardians] + [m.email for m in school.staff])
    intake_into_families(school, rng, emails, leaving)
    number_people(school, rng)
    organise_year(school, rng)


def intake_into_families(school, rng, emails, count):
    """Add count new leerjaar-1 students, some as younger siblings."""
    under4 = max(1, round(sum(len(f.children) for f in school.families) * 0.03)) if count else 0
    for _ in range(count):
        kind = "under4" if under4 > 0 and rng.random() < 0.3 else "regular"
        if kind == "under4":
            under4 -= 1
        if school.families and rng.random() < 0.25:
            add_sibling(school, rng, rng.choice(school.families), kind)
        else:
            add_family(school, rng, emails, [(1, kind)])


def add_sibling(school, rng, family, kind):
    """A younger child joins a family already at the school."""
    child = make_student(school, rng, family, 1, [c.roepnaam for c in family.children])
    if kind == "under4":
        make_under4(school, rng, child)
    family.children.append(child)
    for guardian in family.guardians:
        first = guardian.relations[0]
        guardian.relations.append(Relation(child, first.type, first.wettelijk))


def apply_changes(school, rate, rng):
    """Change the address, a phone or a name for a share `rate` of students.

    Per chosen student: 40% the family moves (the same address record gets a
    new street, number and postcode; the household line may change), 40% a
    guardian's mobile number changes (or is removed, or added), 20% a name
    changes (the student's roepnaam, or a guardian's achternaam). Returns
    the counts per kind, which are also stored in school.changes.
    """
    students = school.students
    if rate <= 0 or not students:
        return {}
    chosen = rng.sample(students, min(len(students), max(1, round(rate * len(students)))))
    done = {"address": 0, "phone": 0, "name": 0}
    for student in chosen:
        kind = rng.choices(("address", "phone", "name"), (40, 40, 20))[0]
        family = student.family
        if kind == "address":
            move(school, rng, family.address)
        elif kind == "phone":
            guardian = rng.choice(family.guardians)
            if guardian.mobiel is None:
                guardian.mobiel = phone(rng, mobile(rng), 0.04)
            elif rng.random() < 0.7:
                guardian.mobiel = Phone(mobile(rng), guardian.mobiel.geheim)
            else:
                guardian.mobiel = None
        elif rng.random() < 0.6:
            taken = [c.roepnaam for c in family.children]
            student.roepnaam, _ = child_names(rng, student.geslacht, family.origin, taken)
        else:
            guardian = rng.choice(family.guardians)
            guardian.tussenvoegsel, guardian.achternaam = pick_surname(rng, family.origin)
        done[kind] += 1
    school.changes = done
    return done


def move(school, rng, address):
    """The household moves: same address record, new street and postcode."""
    town = school.towns[0] if rng.random() < 0.8 else rng.choice(school.towns[1:])
    for field, value in address_fields(rng, town).items():
        setattr(address, field, value)
    if address.telefoon is not None and rng.random() < 0.5:
        address.telefoon.nummer = landline(rng, address.area_code)   # same id
