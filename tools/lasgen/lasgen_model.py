"""lasgen_model - the vendor-neutral model of one synthetic school.

The generator (lasgen_school) builds a School; the writers (lasgen_parnassys,
lasgen_esis) render it in a vendor's shape. A School has a *population*
(families, students, guardians, staff, addresses) that lasts across school
years, and a *year organisation* (groups, placements, staff groups) that is
rebuilt for each schooljaar. Objects refer to each other directly; ids are
only numbers to print.

Ids come from an IdAllocator: one block of a million ids per school, so that
several generated schools never share an id (tenants may share one portal in
tests, and externalIds are built from LAS ids). Every id stays below 2^31.
"""

import dataclasses
import datetime
import zlib

# Offsets of each kind of id inside a school's block.
ID_OFFSETS = {
    "vestiging": 500, "leerling": 100_000, "verzorger": 200_000, "medewerker": 300_000,
    "adres": 400_000, "telefoon": 450_000, "inschrijving": 500_000, "groep": 600_000,
    "groepsindeling": 700_000,
}
ID_BLOCK_SIZE = 1_000_000
ID_BLOCKS = 2000                     # 2000 * 1e6 + offsets < 2^31


def default_id_block(brin, dependance):
    """A school's id block, derived from its BRIN and dependance (1..ID_BLOCKS)."""
    return zlib.crc32(f"{brin}{dependance}".encode("ascii")) % ID_BLOCKS + 1


class IdAllocator:
    """Hands out increasing ids per kind inside one school's block."""

    def __init__(self, block):
        if not 0 <= block <= ID_BLOCKS:
            raise ValueError(f"id block must be 0..{ID_BLOCKS}")
        self.base = block * ID_BLOCK_SIZE
        self.next = {kind: 1 for kind in ID_OFFSETS}

    def new(self, kind):
        """Return the next id of this kind."""
        n = self.next[kind]
        if n >= 100_000 or (kind == "telefoon" and n >= 50_000):
            raise OverflowError(f"too many {kind} ids for one school")
        self.next[kind] = n + 1
        return self.base + ID_OFFSETS[kind] + n


@dataclasses.dataclass(eq=False)
class Phone:
    """A phone number as the LAS holds it (verbatim format)."""
    nummer: str
    geheim: bool = False
    id: int = 0                     # only household lines on an address carry one


@dataclasses.dataclass(eq=False)
class Address:
    """A postal address; household line on the address, if any."""
    id: int
    straat: str
    huisnummer: int
    toevoeging: str                 # "" when none
    postcode: str
    plaats: str
    area_code: str
    geheim: bool = False
    land: str = "Nederland"
    telefoon: Phone | None = None


@dataclasses.dataclass(eq=False)
class Group:
    """A lesgroep or sublesgroep of one schooljaar."""
    id: int
    naam: str
    code: str
    type: str                       # LESGROEP | SUBLESGROEP
    leerjaren: tuple                # leerjaren a lesgroep holds; sublesgroep: eligible range
    omschrijving: str = ""


@dataclasses.dataclass(eq=False)
class Placement:
    """A groepsindeling: a student in a group for part of a schooljaar."""
    id: int
    group: Group
    leerjaar: int
    vanaf: datetime.date
    tot: datetime.date


@dataclasses.dataclass(eq=False)
class Student:
    id: int
    nummer: int
    achternaam: str
    tussenvoegsel: str
    roepnaam: str
    voornamen: str
    geboortedatum: datetime.date
    geslacht: str                   # MAN | VROUW
    address: Address
    leerjaar: int
    inschrijving_id: int
    inschrijving: datetime.date     # datumInschrijving
    inschrijving_type: str          # REG | AANM
    start: datetime.date            # first day in the group this year
    uitschrijving: datetime.date | None = None
    mobiel: Phone | None = None
    placements: list = dataclasses.field(default_factory=list)
    family: "Family" = None


@dataclasses.dataclass(eq=False)
class Relation:
    student: Student
    type: str                       # MOEDER | VADER | VERZORGER
    wettelijk: bool


@dataclasses.dataclass(eq=False)
class Guardian:
    id: int
    roepnaam: str
    voornamen: str
    tussenvoegsel: str
    achternaam: str
    geslacht: str
    address: Address
    email: str | None = None
    vast: Phone | None = None
    mobiel: Phone | None = None
    nood: Phone | None = None       # ESIS emergency number; ParnasSys has none
    relations: list = dataclasses.field(default_factory=list)

    @property
    def voorletters(self):
        """Initials from the voornamen: "Anna Maria" -> "A.M."."""
        return "".join(f"{part[0]}." for part in self.voornamen.replace("-", " ").split())


@dataclasses.dataclass(eq=False)
class Family:
    """Children at the school sharing guardians (and a home address)."""
    surname: tuple                  # (tussenvoegsel, achternaam) of the children
    origin: str
    address: Address
    guardians: list = dataclasses.field(default_factory=list)
    children: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass(eq=False)
class Staff:
    id: int
    aanhef: str                     # "" when absent
    roepnaam: str
    tussenvoegsel: str
    achternaam: str
    email: str
    functie: str
    mobile: Phone | None = None
    groups: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass(eq=False)
class School:
    brin: str
    dependance: str
    naam: str
    domain: str                     # e-mail domain of the staff
    towns: list                     # TOWNS entries: the school's own town first
    vestiging_id: int
    schooljaar: int                 # first calendar year of the schooljaar
    ids: IdAllocator
    families: list = dataclasses.field(default_factory=list)
    staff: list = dataclasses.field(default_factory=list)
    groups: list = dataclasses.field(default_factory=list)
    n_lesgroepen: int = 0
    n_sublesgroepen: int = 0
    changes: dict = dataclasses.field(default_factory=dict)

    @property
    def schooljaar_id(self):
        """ParnasSys-style id of the schooljaar (27 for 2026 / 2027)."""
        return self.schooljaar - 1999

    @property
    def schooljaar_naam(self):
        return f"{self.schooljaar} / {self.schooljaar + 1}"

    @property
    def first_day(self):
        return datetime.date(self.schooljaar, 8, 1)

    @property
    def last_day(self):
        return datetime.date(self.schooljaar + 1, 7, 31)

    @property
    def students(self):
        """All students, ordered by id."""
        return sorted((c for f in self.families for c in f.children), key=lambda s: s.id)

    @property
    def guardians(self):
        """All guardians, ordered by id (a guardian belongs to one family)."""
        return sorted((g for f in self.families for g in f.guardians), key=lambda g: g.id)

    def lesgroepen(self):
        return [g for g in self.groups if g.type == "LESGROEP"]

    def sublesgroepen(self):
        return [g for g in self.groups if g.type == "SUBLESGROEP"]


def counts(school):
    """The summary counts of a school (no personal data)."""
    return {
        "students": len(school.students),
        "guardians": len(school.guardians),
        "staff": len(school.staff),
        "groups": len(school.groups),
        "lesgroepen": len(school.lesgroepen()),
        "sublesgroepen": len(school.sublesgroepen()),
    }
