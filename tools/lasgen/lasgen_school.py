"""lasgen_school - generate one synthetic school (vendor-neutral model).

  generate_school(...)      -> School      population + organisation of a year
  add_family(...)           one household with 1..3 children (also used by
                            lasgen_evolve for the new intake of a year)
  organise_year(school, rng) groups, placements and staff groups for the
                            school's current schooljaar

Deterministic: every random choice comes from one random.Random seeded with
(seed, BRIN, dependance), and nothing iterates over a set or depends on the
hash seed. Proportions (a few percent of edge cases) are documented in
docs/las-simulator.md.
"""

import datetime
import random

from lasgen_model import (Family, Group, Guardian, IdAllocator, Placement, Relation, School, Staff,
                          Student)
from lasgen_names import SCHOOL_KINDS, SCHOOL_NAMES, SUBLESGROEP_NAMES, TOWNS
from lasgen_people import (EmailBook, add_years, adult_names, ascii_fold, child_names,
                           double_surname, landline, mobile, new_address, phone, pick_origin,
                           pick_surname, random_date, school_day)

LEERJAREN = range(1, 9)


def school_rng(seed, brin, dependance, purpose="school"):
    """The random generator of one school and purpose (changes use their own)."""
    return random.Random(f"lasgen:{purpose}:{seed}:{brin}{dependance}")


# The national profile (lasgen.py national): what a school of any size
# looks like, for benchmarks at the country's scale.
NATIONAL_CLASS_SIZE = 25


def plan_groups(rng, n_students, group_size, profile="default"):
    """(lesgroepen, sublesgroepen) for a school of n_students.

    By default 15-25 groups per 2,000 students, at least 4 lesgroepen and one
    sublesgroep; with group_size, one lesgroep per group_size students.
    The national profile: one lesgroep per 25 students (at least 4), and
    sublesgroepen up to 15-25 groups in all (at least 1, at most one of each
    name), so a typical school of 100-600 students has 15-25 groups and a
    large one a class per 25 students.
    """
    if profile == "national":
        n_les = max(4, round(n_students / NATIONAL_CLASS_SIZE))
        n_sub = min(len(SUBLESGROEP_NAMES), max(1, rng.randint(15, 25) - n_les))
        return n_les, n_sub
    if group_size:
        n_les = max(4, round(n_students / group_size))
        return n_les, max(1, round(n_les * 0.12))
    total = max(5, round(n_students * rng.uniform(15, 25) / 2000))
    n_sub = max(1, round(total * rng.uniform(0.10, 0.16)))
    return max(4, total - n_sub), n_sub


def generate_school(brin, dependance, n_students, seed, schooljaar, id_block, group_size=None,
                    profile="default"):
    """Build a School with about n_students students for schooljaar.

    profile "national" sizes groups and staff as a typical Dutch school has
    them (plan_groups, make_staff) instead of per 2,000 students.
    """
    rng = school_rng(seed, brin, dependance)
    ids = IdAllocator(id_block)
    kind, name = rng.choice(SCHOOL_KINDS), rng.choice(SCHOOL_NAMES)
    own_town = rng.choice(TOWNS)
    others = rng.sample([t for t in TOWNS if t is not own_town], 2)
    school = School(brin=brin, dependance=dependance, naam=f"{kind} {name}",
                    domain=f"{ascii_fold(name)}.example.nl", towns=[own_town] + others,
                    vestiging_id=ids.new("vestiging"), schooljaar=schooljaar, ids=ids)
    school.n_lesgroepen, school.n_sublesgroepen = plan_groups(rng, n_students, group_size, profile)
    emails = EmailBook()
    fill_population(school, rng, emails, leerjaar_quotas(rng, n_students))
    school.staff = make_staff(school, rng, emails, n_students, profile)
    number_people(school, rng)
    organise_year(school, rng)
    return school


def leerjaar_quotas(rng, n_students):
    """Students per leerjaar (1..8): about even, groep 1 a little smaller."""
    weights = {j: (0.92 if j == 1 else 1.0) * rng.uniform(0.92, 1.08) for j in LEERJAREN}
    total = sum(weights.values())
    exact = {j: n_students * w / total for j, w in weights.items()}
    quotas = {j: int(x) for j, x in exact.items()}
    by_remainder = sorted(LEERJAREN, key=lambda j: (exact[j] - quotas[j], -j), reverse=True)
    for j in by_remainder[: n_students - sum(quotas.values())]:
        quotas[j] += 1
    return quotas


def fill_population(school, rng, emails, quotas):
    """Create households until every leerjaar quota is filled.

    About 30% of households have 2 or 3 children at the school; about 3% of
    all students are under 4 on 1 October (registered, AANM, in leerjaar 1).
    """
    n = sum(quotas.values())
    under4 = min(quotas[1], max(1 if n >= 30 else 0, round(n * 0.03)))
    remaining = dict(quotas)
    while sum(remaining.values()):
        size = rng.choices((1, 2, 3), (70, 24, 6))[0]
        years = []
        for _ in range(size):
            open_years = [j for j in LEERJAREN if remaining[j] > 0 and
                          (j not in years or (remaining[j] > 1 and rng.random() < 0.03))]
            if not open_years:
                break
            j = rng.choices(open_years, [remaining[y] for y in open_years])[0]
            remaining[j] -= 1
            years.append(j)
        kinds = []
        for j in sorted(years):
            if j == 1 and under4 > 0 and rng.random() < 0.5:
                under4 -= 1
                kinds.append((j, "under4"))
            else:
                kinds.append((j, "regular"))
        add_family(school, rng, emails, kinds)
    # Whatever under-4 quota is left goes to leerjaar-1 children already made.
    for family in school.families:
        for child in family.children:
            if under4 > 0 and child.leerjaar == 1 and child.inschrijving_type == "REG" \
                    and child.uitschrijving is None:
                make_under4(school, rng, child)
                under4 -= 1


def add_family(school, rng, emails, children):
    """Add one household: guardians, home address and the given children.

    children is a list of (leerjaar, "regular" | "under4"). Returns the Family.
    """
    origin = pick_origin(rng)
    address = new_address(rng, school.ids, _home_town(school, rng))
    if rng.random() < 0.35:
        address.telefoon = household_line(rng, school, address)
    family = Family(surname=("", ""), origin=origin, address=address)
    roles = make_guardians(school, rng, emails, family)
    taken = []
    for leerjaar, kind in children:
        child = make_student(school, rng, family, leerjaar, taken)
        if kind == "under4":
            make_under4(school, rng, child)
        family.children.append(child)
        taken.append(child.roepnaam)
    wettelijk_default = {"MOEDER": True, "VADER": True, "VERZORGER": False}
    for guardian, role in roles:
        wettelijk = wettelijk_default[role] if rng.random() < 0.97 else not wettelijk_default[role]
        guardian.relations = [Relation(child, role, wettelijk) for child in family.children]
    school.families.append(family)
    return family


def household_line(rng, school, address):
    """The fixed line of a household; the address lists it with its own id."""
    line = phone(rng, landline(rng, address.area_code), 0.05)
    line.id = school.ids.new("telefoon")
    return line


def _home_town(school, rng):
    """Most families live in the school's town, some in a neighbouring one."""
    return school.towns[0] if rng.random() < 0.8 else rng.choice(school.towns[1:])


def make_guardians(school, rng, emails, family):
    """Decide the household (roles, surnames) and create its guardians.

    Returns [(guardian, relation type)]; relations are added by the caller
    once the children exist.

    82% two guardians (mostly MOEDER + VADER, a few same-sex couples or a
    mother with a VERZORGER), else one. Children mostly carry the father's
    surname; mothers keep their own name, take the partner's or combine both.
    """
    origin = family.origin
    if rng.random() < 0.82:
        roll = rng.random()
        roles = [("MOEDER", "VROUW"), ("VADER", "MAN")]
        if roll < 0.03:
            roles = [("MOEDER", "VROUW"), ("MOEDER", "VROUW")]
        elif roll < 0.04:
            roles = [("VADER", "MAN"), ("VADER", "MAN")]
        elif roll < 0.07:
            roles = [("MOEDER", "VROUW"), ("VERZORGER", "MAN")]
    else:
        roll = rng.random()
        roles = [("MOEDER", "VROUW")] if roll < 0.75 else \
            [("VADER", "MAN")] if roll < 0.95 else [("VERZORGER", rng.choice(("VROUW", "MAN")))]
    surnames = [pick_surname(rng, origin) for _ in roles]
    if len(roles) == 2 and roles[1][0] == "VADER":
        family.surname = surnames[1] if rng.random() < 0.85 else surnames[0]
        mother_name = rng.random()
        if mother_name < 0.15:
            surnames[0] = surnames[1]
        elif mother_name < 0.25 and surnames[0] != surnames[1]:
            surnames[0] = double_surname(surnames[1], surnames[0])
    elif roles[0][0] == "VERZORGER":
        family.surname = pick_surname(rng, origin)
    else:
        family.surname = surnames[0] if rng.random() < 0.6 else pick_surname(rng, origin)
    separated = len(roles) == 2 and rng.random() < 0.10
    shared_email = len(roles) == 2 and not separated and rng.random() < 0.02
    result = []
    for i, ((role, geslacht), (infix, achternaam)) in enumerate(zip(roles, surnames)):
        address = family.address
        if i == 1 and separated:
            address = new_address(rng, school.ids, _home_town(school, rng))
            if rng.random() < 0.2:
                address.telefoon = household_line(rng, school, address)
        roepnaam, voornamen = adult_names(rng, geslacht, origin)
        guardian = Guardian(id=0, roepnaam=roepnaam, voornamen=voornamen, tussenvoegsel=infix,
                            achternaam=achternaam, geslacht=geslacht, address=address)
        if shared_email:
            guardian.email = family.guardians[0].email if i else emails.family(*family.surname)
        elif rng.random() < 0.88:
            guardian.email = emails.guardian(rng, roepnaam, infix, achternaam)
        if address.telefoon is not None:
            guardian.vast = address.telefoon
        if rng.random() < 0.90:
            guardian.mobiel = phone(rng, mobile(rng), 0.04)
        if rng.random() < 0.04:          # no numbers at all in the LAS
            guardian.vast = guardian.mobiel = None
        if rng.random() < 0.25:
            guardian.nood = phone(rng, mobile(rng), 0.0)
        family.guardians.append(guardian)
        result.append((guardian, role))
    return result


def make_student(school, rng, family, leerjaar, taken):
    """A regular student of leerjaar: aged leerjaar+3 on 1 October.

    A few are a year older (kleuterverlenging), some came from another
    school (later datumInschrijving), 1.5% start during this year, 2% left
    this autumn (datumUitschrijving in the past for a sync after 1 November)
    and 0.5% have a departure date later in the year.
    """
    y = school.schooljaar
    geslacht = rng.choice(("MAN", "VROUW"))
    roepnaam, voornamen = child_names(rng, geslacht, family.origin, taken)
    born_from, born_to = datetime.date(y - leerjaar - 4, 10, 2), datetime.date(y - leerjaar - 3, 10, 1)
    if leerjaar >= 3 and rng.random() < 0.03:
        born_from, born_to = add_years(born_from, -1), add_years(born_to, -1)
    born = random_date(rng, born_from, born_to)
    fourth = add_years(born, 4)
    inschrijving = fourth
    start = max(school.first_day, fourth)
    roll = rng.random()
    if leerjaar >= 2 and roll < 0.08:                      # came from another school
        earliest, latest = add_years(fourth, 1), datetime.date(y, 7, 15)
        if earliest < latest:
            inschrijving = school_day(rng, earliest, latest)
    elif leerjaar >= 2 and roll < 0.095:                   # moves in during this year
        inschrijving = start = school_day(rng, datetime.date(y, 8, 20), datetime.date(y + 1, 3, 31))
    student = Student(
        id=0, nummer=0, achternaam=family.surname[1], tussenvoegsel=family.surname[0],
        roepnaam=roepnaam, voornamen=voornamen, geboortedatum=born, geslacht=geslacht,
        address=family.address, leerjaar=leerjaar, inschrijving_id=school.ids.new("inschrijving"),
        inschrijving=inschrijving, inschrijving_type="REG", start=start, family=family)
    if start == school.first_day:
        roll = rng.random()
        if roll < 0.02:
            student.uitschrijving = school_day(rng, datetime.date(y, 8, 20), datetime.date(y, 10, 31))
        elif roll < 0.025:
            student.uitschrijving = school_day(rng, datetime.date(y + 1, 1, 15), datetime.date(y + 1, 4, 30))
    if leerjaar >= 6 and rng.random() < 0.06:              # to be ignored by lasync (R8)
        student.mobiel = phone(rng, mobile(rng), 0.2)
    return student


def make_under4(school, rng, student):
    """Turn a leerjaar-1 student into one who turns 4 during the schooljaar.

    Registered (AANM) with datumInschrijving and vanafDatum on the 4th
    birthday, which falls between 2 October and mid-July.
    """
    y = school.schooljaar
    fourth = random_date(rng, datetime.date(y, 10, 2), datetime.date(y + 1, 7, 15))
    student.geboortedatum = add_years(fourth, -4)
    student.inschrijving = student.start = fourth
    student.inschrijving_type = "AANM"
    student.uitschrijving = None
    student.mobiel = None


STAFF_TITLES = {"VROUW": "Juf", "MAN": "Meester"}


def make_staff(school, rng, emails, n_students, profile="default"):
    """20-40 staff per 2,000 students, at least one teacher per lesgroep.

    One Directeur, Intern begeleiders (one per 700 students), a gym teacher
    in larger schools, some Onderwijsassistenten; the rest Leerkracht.
    The national profile: 20-40 staff from 250 students up, proportionally
    fewer below (a school of 100 has 8-16), still one teacher per lesgroep.
    """
    special = ["Directeur"]
    if n_students >= 150:
        special += ["Intern begeleider"] * max(1, round(n_students / 700))
    if n_students >= 300:
        special.append("Vakleerkracht bewegingsonderwijs")
    if profile == "national":
        wanted = max(3, round(rng.uniform(20, 40) * min(1.0, n_students / 250)))
    else:
        wanted = max(3, round(n_students * rng.uniform(20, 40) / 2000))
    total = max(wanted, len(special) + school.n_lesgroepen)
    n_assistants = round(total * 0.08) if total >= 12 else 0
    functies = special + ["Onderwijsassistent"] * n_assistants
    functies += ["Leerkracht"] * (total - len(functies))
    staff = []
    for functie in functies:
        geslacht = "VROUW" if rng.random() < 0.8 else "MAN"
        origin = pick_origin(rng)
        roepnaam, _ = adult_names(rng, geslacht, origin)
        infix, achternaam = pick_surname(rng, origin)
        member = Staff(id=0, aanhef=STAFF_TITLES[geslacht] if rng.random() < 0.8 else "",
                       roepnaam=roepnaam, tussenvoegsel=infix, achternaam=achternaam,
                       email=emails.staff(roepnaam, infix, achternaam, school.domain),
                       functie=functie)
        if rng.random() < 0.4:
            member.mobile = phone(rng, mobile(rng), 0.6)
        staff.append(member)
    return staff


def number_people(school, rng):
    """Give students, guardians and staff without an id one, in shuffled order.

    Siblings and roles therefore do not sit next to each other in the
    id-ordered documents, as in a real administration.
    """
    students = [c for f in school.families for c in f.children if not c.id]
    rng.shuffle(students)
    for student in students:
        student.id = school.ids.new("leerling")
        student.nummer = school.ids.next["leerling"] + 999
    guardians = [g for f in school.families for g in f.guardians if not g.id]
    rng.shuffle(guardians)
    for guardian in guardians:
        guardian.id = school.ids.new("verzorger")
    staff = [m for m in school.staff if not m.id]
    rng.shuffle(staff)
    for member in staff:
        member.id = school.ids.new("medewerker")


# -- organisation of a schooljaar ---------------------------------------------------

def _letter(i):
    """A, B, ... Z, AA, AB, ... for the i-th parallel group (0-based)."""
    return _letter(i // 26 - 1) + chr(65 + i % 26) if i >= 26 else chr(65 + i)


def layout_lesgroepen(rng, n_les, per_leerjaar):
    """The lesgroepen of a year as (leerjaren, naam, omschrijving).

    Leerjaren 1 and 2 are always combined ("1/2A", "1/2B"). Small schools pair
    further years ("3/4", "5/6"); larger ones have single-year groups
    ("Groep 5", "Groep 3A", "Groep 3B") and a few combination groups ("4/5").
    """
    total = sum(per_leerjaar.values()) or 1
    share12 = (per_leerjaar[1] + per_leerjaar[2]) / total
    k12 = max(1, min(n_les - 3, round(n_les * share12)))
    rest = n_les - k12
    layout = [((1, 2), f"1/2{_letter(i)}", f"Kleutergroep 1/2{_letter(i)}") for i in range(k12)]
    if rest < 6:
        pairs = sorted(rng.sample([(3, 4), (5, 6), (7, 8)], 6 - rest))
        j = 3
        while j <= 8:
            if (j, j + 1) in pairs:
                layout.append(((j, j + 1), f"{j}/{j + 1}", f"Combinatiegroep {j}/{j + 1}"))
                j += 2
            else:
                layout.append(((j,), f"Groep {j}", ""))
                j += 1
        return layout
    singles = {j: rest // 6 for j in range(3, 9)}
    for j in rng.sample(range(3, 9), rest % 6):
        singles[j] += 1
    combos = [j for j in range(3, 8) if singles[j] >= 2 and rng.random() < 0.3]
    if not combos:
        candidates = [j for j in range(3, 8) if singles[j] >= 2]
        combos = [rng.choice(candidates)] if candidates else []
    for j in combos:
        singles[j] -= 1
    for j in range(3, 9):
        for i in range(singles[j]):
            suffix = _letter(i) if singles[j] > 1 else ""
            layout.append(((j,), f"Groep {j}{suffix}", ""))
        if j in combos:
            layout.append(((j, j + 1), f"{j}/{j + 1}", f"Combinatiegroep {j}/{j + 1}"))
    return layout


def organise_year(school, rng):
    """Build the groups of the current schooljaar and place everyone in them."""
    students = school.students
    per_leerjaar = {j: sum(1 for s in students if s.leerjaar == j) for j in LEERJAREN}
    school.groups = []
    for i, (leerjaren, naam, omschrijving) in enumerate(
            layout_lesgroepen(rng, school.n_lesgroepen, per_leerjaar)):
        school.groups.append(Group(school.ids.new("groep"), naam, f"L{i + 1:02d}", "LESGROEP",
                                   leerjaren, omschrijving))
    chosen = sorted(rng.sample(range(len(SUBLESGROEP_NAMES)),
                               min(school.n_sublesgroepen, len(SUBLESGROEP_NAMES))))
    for i, k in enumerate(chosen):
        naam, low, high = SUBLESGROEP_NAMES[k]
        school.groups.append(Group(school.ids.new("groep"), naam, f"S{i + 1:02d}", "SUBLESGROEP",
                                   tuple(range(low, high + 1))))
    for student in students:
        student.placements = []
    place_in_lesgroepen(school, rng, students)
    place_in_sublesgroepen(school, rng, students)
    assign_staff(school, rng)


def _period(school, student):
    """(vanafDatum, totDatum) of a student's lesgroep placement this year."""
    vanaf = max(school.first_day, student.start)
    tot = student.uitschrijving if student.uitschrijving else school.last_day
    return vanaf, tot


def place_in_lesgroepen(school, rng, students):
    """Each student joins the least filled lesgroep holding their leerjaar."""
    size = {g.id: 0 for g in school.lesgroepen()}
    order = list(students)
    rng.shuffle(order)
    for student in sorted(order, key=lambda s: s.leerjaar):
        candidates = [g for g in school.lesgroepen() if student.leerjaar in g.leerjaren]
        group = min(candidates, key=lambda g: size[g.id])
        size[group.id] += 1
        vanaf, tot = _period(school, student)
        student.placements.append(Placement(school.ids.new("groepsindeling"), group,
                                            student.leerjaar, vanaf, tot))


def place_in_sublesgroepen(school, rng, students):
    """Fill each sublesgroep with a subset of the students of its leerjaren.

    About 1-2.5% of the school per sublesgroep (at least 4); registered
    under-4s and leavers are left out. Some join later in the autumn.
    """
    n = len(students)
    for group in school.sublesgroepen():
        eligible = [s for s in students if s.leerjaar in group.leerjaren
                    and s.inschrijving_type == "REG" and s.uitschrijving is None
                    and s.start == school.first_day]
        want = min(len(eligible), max(4, round(n * rng.uniform(0.01, 0.025))))
        for student in sorted(rng.sample(eligible, want), key=lambda s: s.id):
            vanaf, tot = _period(school, student)
            if rng.random() < 0.6:
                vanaf = school_day(rng, school.first_day + datetime.timedelta(days=20),
                                   school.first_day + datetime.timedelta(days=75))
            student.placements.append(Placement(school.ids.new("groepsindeling"), group,
                                                student.leerjaar, vanaf, tot))


def assign_staff(school, rng):
    """Place staff in groups: teachers in 1-3, IB, directie and gym in many."""
    lesgroepen, sub = school.lesgroepen(), school.sublesgroepen()
    for member in school.staff:
        member.groups = []
    by_functie = {}
    for member in school.staff:
        by_functie.setdefault(member.functie, []).append(member)
    for member in by_functie.get("Directeur", []):
        member.groups = list(lesgroepen)
    ibs = by_functie.get("Intern begeleider", [])
    for i, member in enumerate(ibs):
        share = [g for k, g in enumerate(lesgroepen) if k * len(ibs) // len(lesgroepen) == i]
        member.groups = share + list(sub)
    for member in by_functie.get("Vakleerkracht bewegingsonderwijs", []):
        member.groups = [g for g in lesgroepen if min(g.leerjaren) >= 3]
    for member in by_functie.get("Onderwijsassistent", []):
        member.groups = rng.sample(lesgroepen, min(len(lesgroepen), rng.randint(1, 3)))
    teachers = by_functie.get("Leerkracht", [])
    if not teachers:                       # a school of three: the head teaches
        teachers = by_functie["Directeur"]
        for member in teachers:
            member.groups = []
    for i, group in enumerate(lesgroepen):   # every lesgroep has a teacher
        teachers[i % len(teachers)].groups.append(group)
    for member in teachers[len(lesgroepen):]:  # duo teachers
        member.groups.append(rng.choice(lesgroepen))
    for group in sub:                      # every sublesgroep too
        free = [t for t in teachers if len(t.groups) < 3]
        rng.choice(free or teachers).groups.append(group)
    for member in teachers:
        roll = rng.random()
        extra = 2 if roll < 0.08 else 1 if roll < 0.3 else 0
        for _ in range(min(extra, 3 - len(member.groups))):
            options = [g for g in lesgroepen + sub if g not in member.groups]
            if options:
                member.groups.append(rng.choice(options))
    for member in school.staff:
        member.groups.sort(key=lambda g: g.id)
