"""Tests of tools/lasgen: synthetic schools in the exact shape of the examples.

The example documents are the repo's own copies in fixtures/las (a clone has
no shared design folder). The generator runs as a subprocess, as benchmarks
and the demo run it.
"""

import datetime
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LASGEN = REPO / "tools" / "lasgen" / "lasgen.py"
EXAMPLES = REPO / "fixtures" / "las"
PARNASSYS_OPS = ("getLeerlingen", "getMedewerkers", "getVerzorgers")
ESIS_OPS = ("HaalLeerlinggegevens", "HaalVerzorgergegevens")
NS = {"le": "http://www.edustandaard.nl/leerresultaten/2/leerlinggegevens",
      "vz": "urn:esis:verzorgers:model:1"}

# Elements the generator may use beyond the example documents: the optional
# elements that las-formats/README.md lists and the examples happen to omit.
# (datumUitschrijving is how a leaver shows, R16.)
DOCUMENTED_EXTRA = {
    ("getLeerlingen", "inschrijving"): ["id", "datumInschrijving", "datumUitschrijving",
                                        "inschrijvingType"],
}


def run_lasgen(*args, hash_seed="0"):
    """Run lasgen.py; return its stderr (it must succeed and print nothing on stdout)."""
    env = dict(os.environ, PYTHONHASHSEED=hash_seed)
    proc = subprocess.run([sys.executable, str(LASGEN), *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    return proc.stderr


def tree_bytes(root):
    """{relative path: bytes} of every file under root."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def local(tag):
    return tag.rsplit("}", 1)[-1]


def shape(path):
    """(paths, sequences) of a document: the path of tags from the root of
    every element, and per parent path the distinct sequences of child tags
    (runs of one tag, like a list's items, count once)."""
    paths, sequences = set(), {}

    def walk(element, prefix):
        here = prefix + (element.tag,)
        paths.add(here)
        sequence = []
        for child in element:
            if not sequence or sequence[-1] != child.tag:
                sequence.append(child.tag)
            walk(child, here)
        sequences.setdefault(here, set()).add(tuple(sequence))

    walk(ET.parse(path).getroot(), ())
    return paths, sequences


def canonical_order(sequences):
    """One order of child tags consistent with every example sequence
    (optional elements make each instance show only part of it)."""
    after, tags = {}, []
    for sequence in sorted(sequences):
        for tag in sequence:
            if tag not in tags:
                tags.append(tag)
        for a, b in zip(sequence, sequence[1:]):
            after.setdefault(a, set()).add(b)
    incoming = {t: sum(t in after.get(a, ()) for a in tags) for t in tags}
    order, ready = [], [t for t in tags if incoming[t] == 0]
    while ready:
        tag = ready.pop(0)
        order.append(tag)
        for b in sorted(after.get(tag, ()), key=tags.index):
            incoming[b] -= 1
            if incoming[b] == 0:
                ready.append(b)
    assert len(order) == len(tags), "example documents disagree on element order"
    return {tag: i for i, tag in enumerate(order)}


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A 2,000-student ParnasSys school and its ESIS twin, seed 7."""
    out = tmp_path_factory.mktemp("big")
    stderr = run_lasgen("parnassys", "--brin", "12AB", "--students", 2000, "--seed", 7, "--out", out)
    run_lasgen("esis", "--brin", "12AB", "--students", 2000, "--seed", 7, "--out", out)
    return out, stderr


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A 60-student school."""
    out = tmp_path_factory.mktemp("small")
    run_lasgen("parnassys", "--brin", "34CD", "--students", 60, "--seed", 3, "--out", out)
    run_lasgen("esis", "--brin", "34CD", "--students", 60, "--seed", 3, "--dependance", "01", "--out", out)
    return out


class ParnasSysDocs:
    """The three parsed ParnasSys responses of one generated school."""

    def __init__(self, directory):
        self.dir = directory
        self.leerlingen = ET.parse(directory / "getLeerlingen.xml").getroot()
        self.medewerkers = ET.parse(directory / "getMedewerkers.xml").getroot()
        self.verzorgers = ET.parse(directory / "getVerzorgers.xml").getroot()

    @staticmethod
    def ids(root, path):
        """The id texts of the elements at path (".//adressen/adres")."""
        return [e.findtext("id") for e in root.iterfind(path)]

    def students(self):
        return list(self.leerlingen.iter("leerling"))

    def guardians(self):
        return list(self.verzorgers.iter("verzorger"))

    def staff(self):
        return list(self.medewerkers.iter("medewerker"))

    def groups(self):
        return list(self.leerlingen.find(".//groepen"))


# -- determinism ------------------------------------------------------------------

def test_same_seed_same_bytes_whatever_the_hash_seed(tmp_path):
    for vendor in ("parnassys", "esis"):
        a, b = tmp_path / f"{vendor}-a", tmp_path / f"{vendor}-b"
        run_lasgen(vendor, "--brin", "12AB", "--students", 250, "--seed", 11, "--out", a, hash_seed="1")
        run_lasgen(vendor, "--brin", "12AB", "--students", 250, "--seed", 11, "--out", b, hash_seed="2")
        assert tree_bytes(a) == tree_bytes(b)


def test_other_seed_other_school(tmp_path):
    run_lasgen("parnassys", "--brin", "12AB", "--students", 100, "--seed", 1, "--out", tmp_path / "a")
    run_lasgen("parnassys", "--brin", "12AB", "--students", 100, "--seed", 2, "--out", tmp_path / "b")
    a = (tmp_path / "a/parnassys/12AB/getLeerlingen.xml").read_bytes()
    b = (tmp_path / "b/parnassys/12AB/getLeerlingen.xml").read_bytes()
    assert a != b


# -- shape ------------------------------------------------------------------------

@pytest.mark.parametrize("op", PARNASSYS_OPS)
def test_parnassys_documents_have_the_example_shape(big, op):
    out, _ = big
    generated = out / "parnassys/12AB" / f"{op}.xml"
    example = EXAMPLES / "parnassys/99ZZ" / f"{op}.xml"
    assert_same_shape(generated, example, op)


@pytest.mark.parametrize("op", ESIS_OPS)
def test_esis_documents_have_the_example_shape(big, op):
    out, _ = big
    assert_same_shape(out / "esis/12AB00" / f"{op}.xml", EXAMPLES / "esis/88YY01" / f"{op}.xml", op)


def assert_same_shape(generated, example, op):
    """Every element path of generated occurs in example (or is documented),
    children keep the example's order, and the envelope lines are identical."""
    gen_paths, gen_sequences = shape(generated)
    ex_paths, ex_sequences = shape(example)
    for (doc, parent), children in DOCUMENTED_EXTRA.items():
        if doc == op:
            for path in list(ex_sequences):
                if local(path[-1]) == parent:
                    ex_sequences[path].add(tuple(children))
                    for child in children:
                        ex_paths.add(path + (child,))
                        ex_sequences.setdefault(path + (child,), {()})
    unknown = sorted("/".join(map(local, p)) for p in gen_paths - ex_paths)
    assert not unknown, f"elements not in the example vocabulary: {unknown[:5]}"
    for parent, sequences in gen_sequences.items():
        rank = canonical_order(ex_sequences[parent])
        for sequence in sequences:
            ranks = [rank[tag] for tag in sequence]
            assert ranks == sorted(set(ranks)), \
                f"child order under {local(parent[-1])}: {[local(t) for t in sequence]}"
    gen_head = generated.read_text(encoding="utf-8").splitlines()[:4]
    ex_head = example.read_text(encoding="utf-8").splitlines()[:4]
    assert gen_head == ex_head


def test_all_files_written(big):
    out, _ = big
    names = sorted(p.name for p in (out / "parnassys/12AB").iterdir())
    assert names == ["getLeerlingen.xml", "getMedewerkers.xml", "getVerzorgers.xml", "leveranciersleutel"]
    assert (out / "parnassys/12AB/leveranciersleutel").read_text() == "dev-key-12AB\n"
    names = sorted(p.name for p in (out / "esis/12AB00").iterdir())
    assert names == ["HaalLeerlinggegevens.xml", "HaalVerzorgergegevens.xml", "autorisatiesleutel", "koppeling"]
    assert (out / "esis/12AB00/koppeling").read_text() == "BasisOnline Ouderportaal\n"


# -- references -------------------------------------------------------------------

def test_every_parnassys_id_reference_resolves(big):
    docs = ParnasSysDocs(big[0] / "parnassys/12AB")
    ll = docs.leerlingen
    vestigingen = set(docs.ids(ll, ".//vestigingen/vestiging"))
    schooljaren = set(docs.ids(ll, ".//schooljaren/schooljaar"))
    groups = set(e.findtext("id") for e in docs.groups())
    types = set(docs.ids(ll, ".//inschrijvingtypes/inschrijvingtype"))
    student_addresses = set(docs.ids(ll, ".//adressen/adres"))
    student_ids = [s.findtext("id") for s in docs.students()]
    guardian_addresses = set(docs.ids(docs.verzorgers, ".//adressen/adres"))
    for ids in (student_ids, [g.findtext("id") for g in docs.guardians()],
                [m.findtext("id") for m in docs.staff()], [g.findtext("id") for g in docs.groups()],
                docs.ids(ll, ".//adressen/adres"), docs.ids(docs.verzorgers, ".//adressen/adres"),
                docs.ids(ll, ".//groepsindeling")):
        assert len(ids) == len(set(ids)), "duplicate id"
    for group in docs.groups():
        assert group.findtext("schooljaar") in schooljaren
    referenced = set()
    for s in docs.students():
        assert s.findtext("vestiging") in vestigingen
        assert s.findtext("leerlingAdres") in student_addresses
        referenced.add(s.findtext("leerlingAdres"))
        for p in s.iter("groepsindeling"):
            assert p.findtext("groep") in groups
            assert p.findtext("schooljaar") in schooljaren
        for i in s.iter("inschrijving"):
            assert i.findtext("inschrijvingType") in types
    assert referenced == student_addresses, "getLeerlingen lists addresses nobody lives at"
    for m in docs.staff():
        assert [g.text for g in m.find("groepen")], "staff member without groups"
        for g in m.find("groepen"):
            assert g.text in groups
    referenced = set()
    for g in docs.guardians():
        assert g.findtext("adres") in guardian_addresses
        referenced.add(g.findtext("adres"))
        assert g.find("relaties") is not None and len(g.find("relaties"))
        for r in g.iter("relatie"):
            assert r.findtext("leerling") in set(student_ids)
    assert referenced == guardian_addresses, "getVerzorgers lists addresses nobody lives at"


def test_every_esis_key_reference_resolves(big):
    directory = big[0] / "esis/12AB00"
    ll = ET.parse(directory / "HaalLeerlinggegevens.xml").getroot()
    vz = ET.parse(directory / "HaalVerzorgergegevens.xml").getroot()
    groepen = {g.get("key") for g in ll.iterfind(".//le:groepen/le:groep", NS)}
    samengesteld = {g.get("key") for g in ll.iterfind(".//le:groepen/le:samengestelde_groep", NS)}
    students = {s.get("key") for s in ll.iterfind(".//le:leerling", NS)}
    for s in ll.iterfind(".//le:leerling", NS):
        assert s.find("le:groep", NS).get("key") in groepen
        for sg in s.iterfind("le:samengestelde_groepen/le:samengestelde_groep", NS):
            assert sg.get("key") in samengesteld
    for t in ll.iterfind(".//le:leerkracht", NS):
        for ref in t.find("le:groepen", NS):
            assert ref.get("key") in (groepen if local(ref.tag) == "groep" else samengesteld)
    for g in vz.iterfind(".//vz:verzorger", NS):
        for child in g.iterfind("vz:kinderen/vz:leerling", NS):
            assert child.get("key") in students
            assert child.get("relatie") in ("moeder", "vader", "verzorger")


# -- families ---------------------------------------------------------------------

def guardian_sets(docs):
    """{student id: frozenset of guardian ids}."""
    by_student = {}
    for g in docs.guardians():
        for r in g.iter("relatie"):
            by_student.setdefault(r.findtext("leerling"), set()).add(g.findtext("id"))
    return {k: frozenset(v) for k, v in by_student.items()}


def test_siblings_share_guardians_and_address(big):
    docs = ParnasSysDocs(big[0] / "parnassys/12AB")
    sets = guardian_sets(docs)
    address = {s.findtext("id"): s.findtext("leerlingAdres") for s in docs.students()}
    assert set(sets) == set(address), "every student has a guardian"
    assert all(1 <= len(v) <= 2 for v in sets.values()), "1-2 guardians per student"
    families = {}
    for student, guardians in sets.items():
        families.setdefault(guardians, []).append(student)
    # a guardian belongs to exactly one family: siblings share all guardians
    owner = {}
    for guardians in families:
        for g in guardians:
            assert owner.setdefault(g, guardians) == guardians
    for children in families.values():
        assert len({address[c] for c in children}) == 1, "siblings live at one address"
    multi = sum(1 for c in families.values() if len(c) > 1) / len(families)
    assert 0.2 <= multi <= 0.4, f"share of families with 2-3 children: {multi:.2f}"
    assert max(len(c) for c in families.values()) <= 4


def test_guardian_variety(big):
    docs = ParnasSysDocs(big[0] / "parnassys/12AB")
    guardians = docs.guardians()
    n = len(guardians)
    without_email = sum(g.find("email") is None for g in guardians) / n
    without_phone = sum(g.find("telefoonVast") is None and g.find("telefoonMobiel") is None
                        for g in guardians) / n
    assert 0.03 < without_email < 0.3
    assert 0.01 < without_phone < 0.2
    types = {r.findtext("type") for r in docs.verzorgers.iter("relatie")}
    assert types == {"MOEDER", "VADER", "VERZORGER"}
    assert {r.findtext("wettelijkVertegenwoordiger") for r in docs.verzorgers.iter("relatie")} == {"true", "false"}
    assert any("-" in g.findtext("achternaam") for g in guardians), "double names occur"
    assert any(g.find("tussenvoegsel") is not None for g in guardians)


# -- realism and counts -------------------------------------------------------------

EMAIL = re.compile(r"^[A-Za-z0-9._-]+@([a-z0-9-]+\.)*example\.(nl|com)$", re.IGNORECASE)
POSTCODE = re.compile(r"^[1-9][0-9]{3} [A-Z]{2}$")
PHONE = re.compile(r"^(0[1-9][0-9]{1,2}-[1-9][0-9]{5,6}|06-?[0-9]{8}|\+31 6 [0-9]{8})$")


def test_contact_data_formats(big):
    docs = ParnasSysDocs(big[0] / "parnassys/12AB")
    for root in (docs.leerlingen, docs.medewerkers, docs.verzorgers):
        for e in list(root.iter("email")):
            assert EMAIL.match(e.text), e.text
        for e in root.iter("postcode"):
            assert POSTCODE.match(e.text) and e.text[-2:] not in ("SA", "SD", "SS"), e.text
        for e in root.iter("nummer"):
            assert PHONE.match(e.text), e.text
    addresses = list(docs.leerlingen.iter("adres"))
    assert any(a.findtext("geheimadres") == "true" for a in addresses)
    assert any(a.find("telefoon") is not None for a in addresses)
    assert any(n.text == "true" for n in docs.verzorgers.iter("geheim"))
    text = (docs.dir / "getLeerlingen.xml").read_text(encoding="utf-8")
    assert re.search(r"[ëïöüçéè]", text), "some names carry diacritics"


def age_on(birth, day):
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def test_students_ages_placements_and_edge_cases(big):
    docs = ParnasSysDocs(big[0] / "parnassys/12AB")
    first, last, oct1 = datetime.date(2026, 8, 1), datetime.date(2027, 7, 31), datetime.date(2026, 10, 1)
    types = {t.findtext("id"): t.findtext("code") for t in docs.leerlingen.iter("inschrijvingtype")}
    lesgroepen = {g.findtext("id") for g in docs.groups() if g.findtext("type") == "LESGROEP"}
    students = docs.students()
    under4 = later = leavers = mobiel = 0
    for s in students:
        birth = datetime.date.fromisoformat(s.findtext("geboortedatum"))
        placements = list(s.iter("groepsindeling"))
        main = [p for p in placements if p.findtext("groep") in lesgroepen]
        assert len(main) == 1, "one lesgroep placement per student"
        leerjaar = int(main[0].findtext("leerjaar"))
        assert 1 <= leerjaar <= 8
        age = age_on(birth, oct1)
        inschrijving = s.find(".//inschrijving")
        if age < 4:
            under4 += 1
            assert leerjaar == 1 and types[inschrijving.findtext("inschrijvingType")] == "AANM"
            assert main[0].findtext("vanafDatum") == str(datetime.date(birth.year + 4, birth.month, birth.day))
        else:
            assert leerjaar + 3 <= age <= leerjaar + 4, (leerjaar, age)
        for p in placements:
            vanaf = datetime.date.fromisoformat(p.findtext("vanafDatum"))
            tot = datetime.date.fromisoformat(p.findtext("totDatum"))
            assert first <= vanaf <= tot <= last
        later += datetime.date.fromisoformat(main[0].findtext("vanafDatum")) > first
        uit = inschrijving.findtext("datumUitschrijving")
        if uit and uit < "2026-11-01":
            leavers += 1
            assert main[0].findtext("totDatum") == uit
        mobiel += s.find("mobiel") is not None
    n = len(students)
    assert 0.01 <= under4 / n <= 0.05
    assert 0.02 <= later / n <= 0.10
    assert 0.005 <= leavers / n <= 0.04
    assert 0.003 <= mobiel / n <= 0.05


def test_counts_of_a_2000_student_school(big):
    out, stderr = big
    docs = ParnasSysDocs(out / "parnassys/12AB")
    assert len(docs.students()) == 2000
    assert 2000 <= len(docs.guardians()) <= 4000
    assert 20 <= len(docs.staff()) <= 40
    groups = docs.groups()
    assert 15 <= len(groups) <= 25
    assert_groups(docs)
    line, = stderr.strip().splitlines()
    assert re.fullmatch(r"lasgen: parnassys brin=12AB dependance=00 schooljaar=2026/2027 students=2000 "
                        r"guardians=\d+ staff=\d+ groups=\d+ \(lesgroepen=\d+ sublesgroepen=\d+\) "
                        r"bytes=\d+ ms=\d+", line), line


def assert_groups(docs):
    """Groups cover leerjaren 1-8, with combinations, single years and sublesgroepen."""
    groups = docs.groups()
    vestiging, = docs.leerlingen.iterfind(".//vestigingen/vestiging")
    assert vestiging.findtext("brinnummer") == docs.dir.name
    schooljaar, = docs.leerlingen.iterfind(".//schooljaren/schooljaar")
    assert {g.findtext("schooljaar") for g in groups} == {schooljaar.findtext("id")}
    years = {}
    members = {}
    for s in docs.students():
        for p in s.iter("groepsindeling"):
            years.setdefault(p.findtext("groep"), set()).add(int(p.findtext("leerjaar")))
            members[p.findtext("groep")] = members.get(p.findtext("groep"), 0) + 1
    lesgroepen = [g for g in groups if g.findtext("type") == "LESGROEP"]
    sub = [g for g in groups if g.findtext("type") == "SUBLESGROEP"]
    assert len(lesgroepen) >= 4 and sub
    assert set().union(*(years[g.findtext("id")] for g in lesgroepen)) == set(range(1, 9))
    combos = [g for g in lesgroepen if len(years[g.findtext("id")]) == 2]
    assert combos and all("/" in g.findtext("naam") for g in combos)
    assert all(len(years[g.findtext("id")]) <= 2 for g in lesgroepen)
    for g in lesgroepen:
        assert members.get(g.findtext("id")), f"lesgroep {g.findtext('naam')} has no students"
    n = len(docs.students())
    for g in sub:
        assert 0 < members.get(g.findtext("id"), 0) < n / 4, "a sublesgroep holds a subset"
    for m in docs.staff():
        count = len(m.find("groepen"))
        if m.findtext("functie") in ("Leerkracht", "Onderwijsassistent"):
            assert 1 <= count <= 3


def test_small_school_still_has_a_few_groups(small):
    docs = ParnasSysDocs(small / "parnassys/34CD")
    assert len(docs.students()) == 60
    assert len(docs.staff()) >= 3
    assert_groups(docs)
    ll = ET.parse(small / "esis/34CD01/HaalLeerlinggegevens.xml").getroot()
    assert ll.findtext(".//le:dependancecode", namespaces=NS) == "01"
    jaargroepen = [g.findtext("le:jaargroep", namespaces=NS) for g in ll.iterfind(".//le:groepen/le:groep", NS)]
    assert "C" in jaargroepen


def test_esis_twin_matches_parnassys_school(big):
    out, _ = big
    docs = ParnasSysDocs(out / "parnassys/12AB")
    ll = ET.parse(out / "esis/12AB00/HaalLeerlinggegevens.xml").getroot()
    exported = {s.get("key")[1:] for s in ll.iterfind(".//le:leerling", NS)}
    still_enrolled = {s.findtext("id") for s in docs.students()
                      if (s.findtext(".//datumUitschrijving") or "9999") > "2026-11-28"}
    assert exported == still_enrolled
    vz = ET.parse(out / "esis/12AB00/HaalVerzorgergegevens.xml").getroot()
    assert any(t.get("soort") == "nood" for t in vz.iterfind(".//vz:telefoon", NS))


# -- several schools and change modes -------------------------------------------------

def test_several_schools_spread_in_size_with_distinct_ids(tmp_path):
    stderr = run_lasgen("parnassys", "--schools", 4, "--seed", 5, "--out", tmp_path)
    brins = sorted(p.name for p in (tmp_path / "parnassys").iterdir())
    assert len(brins) == 4 and all(re.fullmatch(r"[0-9]{2}[A-Z]{2}", b) for b in brins)
    sizes = sorted(int(m) for m in re.findall(r"brin=.* students=(\d+)", stderr))
    assert sizes[0] < 100 and sizes[-1] == 2000
    seen = set()
    for b in brins:
        ids = set(ParnasSysDocs.ids(ParnasSysDocs(tmp_path / "parnassys" / b).leerlingen, ".//leerling"))
        assert not ids & seen, "student ids shared between schools"
        seen |= ids
    assert "lasgen: total schools=4" in stderr


def student_records(docs):
    return {s.findtext("id"): s for s in docs.students()}


def test_change_rate_changes_about_that_share(tmp_path):
    args = ("parnassys", "--brin", "12AB", "--students", 1000, "--seed", 9)
    run_lasgen(*args, "--out", tmp_path / "base")
    stderr = run_lasgen(*args, "--change-rate", "0.02", "--out", tmp_path / "changed")
    base = ParnasSysDocs(tmp_path / "base/parnassys/12AB")
    changed = ParnasSysDocs(tmp_path / "changed/parnassys/12AB")
    a, b = student_records(base), student_records(changed)
    assert a.keys() == b.keys(), "the same students"
    assert base.ids(base.verzorgers, ".//verzorger") == changed.ids(changed.verzorgers, ".//verzorger")
    renamed = sum(a[k].findtext("roepNaam") != b[k].findtext("roepNaam") for k in a)
    moved = sum(ET.tostring(x) != ET.tostring(y) for x, y in
                zip(base.leerlingen.iter("adres"), changed.leerlingen.iter("adres")))
    guardians = sum(ET.tostring(x) != ET.tostring(y) for x, y in zip(base.guardians(), changed.guardians()))
    total = renamed + moved + guardians
    assert 0.01 * 1000 <= total <= 0.04 * 1000, (renamed, moved, guardians)
    assert re.search(r"changed=address:\d+,phone:\d+,name:\d+", stderr)
    assert (base.dir / "getMedewerkers.xml").read_bytes() == (changed.dir / "getMedewerkers.xml").read_bytes()


def test_year_transition_moves_everyone_up(tmp_path):
    args = ("parnassys", "--brin", "12AB", "--students", 400, "--seed", 9)
    run_lasgen(*args, "--out", tmp_path / "base")
    run_lasgen(*args, "--year-transition", "--out", tmp_path / "next")
    base = ParnasSysDocs(tmp_path / "base/parnassys/12AB")
    nxt = ParnasSysDocs(tmp_path / "next/parnassys/12AB")
    assert nxt.leerlingen.find(".//schooljaren/schooljaar").findtext("naam") == "2027 / 2028"
    assert not {g.findtext("id") for g in base.groups()} & {g.findtext("id") for g in nxt.groups()}

    def leerjaar(docs, student):
        lesgroepen = {g.findtext("id") for g in docs.groups() if g.findtext("type") == "LESGROEP"}
        return next(int(p.findtext("leerjaar")) for p in student.iter("groepsindeling")
                    if p.findtext("groep") in lesgroepen)

    base_students, next_students = student_records(base), student_records(nxt)
    stayed = base_students.keys() & next_students.keys()
    assert stayed and len(next_students) == pytest.approx(len(base_students), rel=0.1)
    up = sum(leerjaar(nxt, next_students[k]) == leerjaar(base, base_students[k]) + 1 for k in stayed)
    assert up / len(stayed) > 0.95
    assert all(leerjaar(base, base_students[k]) < 8 for k in stayed), "groep 8 left"
    new = next_students.keys() - base_students.keys()
    assert new and all(leerjaar(nxt, next_students[k]) == 1 for k in new)
    assert_groups(nxt)
    guardians_next = guardian_sets(nxt)
    assert set(guardians_next) == set(next_students)
