"""lasgen_parnassys - write a School as ParnasSys getLeerlingen, getMedewerkers
and getVerzorgers responses.

The documents have exactly the shape of las-formats/examples/parnassys-*
(envelope, namespaces, element names, order and line layout), so a generated
school reads like the example school, only bigger:

  <out>/parnassys/<BRIN>/getLeerlingen.xml
  <out>/parnassys/<BRIN>/getMedewerkers.xml
  <out>/parnassys/<BRIN>/getVerzorgers.xml
  <out>/parnassys/<BRIN>/leveranciersleutel

Each response carries its own adressen list holding exactly the addresses its
records refer to. The household line (adres/telefoon) appears only in
getLeerlingen, as in the example.
"""

from xml.sax.saxutils import escape

from lasgen_write import write_documents

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">\n'
        "  <soap:Body>\n"
        '    <ns2:{op}Response xmlns:ns2="http://www.topicus.nl/parnassys">\n'
        "      <return>\n")
TAIL = ("      </return>\n"
        "    </ns2:{op}Response>\n"
        "  </soap:Body>\n"
        "</soap:Envelope>\n")
I3, I4, I5, I6 = " " * 8, " " * 10, " " * 12, " " * 14


def _e(tag, value):
    """<tag>value</tag> with the value escaped."""
    return f"<{tag}>{escape(str(value))}</{tag}>"


def _opt(tag, value):
    """_e() when value is non-empty, else nothing."""
    return _e(tag, value) if value else ""


def _bool(value):
    return "true" if value else "false"


def _phone(tag, p, with_id=False):
    """<tag>[<id/>]<nummer/><geheim/></tag>."""
    ident = _e("id", p.id) if with_id else ""
    return f"<{tag}>{ident}{_e('nummer', p.nummer)}{_e('geheim', _bool(p.geheim))}</{tag}>"


def _address(a, with_phone):
    phone = _phone("telefoon", a.telefoon, with_id=True) if with_phone and a.telefoon else ""
    return (f"{I4}<adres>{_e('id', a.id)}{_e('straat', a.straat)}{_e('huisnummer', a.huisnummer)}"
            f"{_opt('huisnummerToevoeging', a.toevoeging)}{_e('postcode', a.postcode)}"
            f"{_e('plaats', a.plaats)}{_e('land', a.land)}{_e('geheimadres', _bool(a.geheim))}"
            f"{phone}</adres>\n")


def _addresses(addresses, with_phone):
    unique = {a.id: a for a in addresses}
    return ([f"{I3}<adressen>\n"] + [_address(unique[k], with_phone) for k in sorted(unique)]
            + [f"{I3}</adressen>\n"])


def leerlingen_document(school):
    """The getLeerlingen response."""
    out = [HEAD.format(op="getLeerlingen"),
           f"{I3}<vestigingen>\n",
           f"{I4}<vestiging>{_e('id', school.vestiging_id)}{_e('brinnummer', school.brin)}"
           f"{_e('dependancecode', school.dependance)}{_e('naam', school.naam)}</vestiging>\n",
           f"{I3}</vestigingen>\n",
           f"{I3}<schooljaren>\n",
           f"{I4}<schooljaar>{_e('id', school.schooljaar_id)}{_e('naam', school.schooljaar_naam)}"
           "</schooljaar>\n",
           f"{I3}</schooljaren>\n",
           f"{I3}<groepen>\n"]
    for g in school.groups:
        out.append(f"{I4}<groep>{_e('id', g.id)}{_e('naam', g.naam)}{_e('code', g.code)}"
                   f"{_e('type', g.type)}{_e('schooljaar', school.schooljaar_id)}</groep>\n")
    out.append(f"{I3}</groepen>\n")
    students = school.students
    out += _addresses([s.address for s in students], with_phone=True)
    out += [f"{I3}<inschrijvingtypes>\n",
            f"{I4}<inschrijvingtype><id>1</id><code>REG</code><omschrijving>Regulier"
            "</omschrijving></inschrijvingtype>\n",
            f"{I4}<inschrijvingtype><id>2</id><code>AANM</code><omschrijving>Aangemeld"
            "</omschrijving></inschrijvingtype>\n",
            f"{I3}</inschrijvingtypes>\n",
            f"{I3}<leerlingen>\n"]
    for s in students:
        out.append(_leerling(school, s))
    out.append(f"{I3}</leerlingen>\n")
    out.append(TAIL.format(op="getLeerlingen"))
    return "".join(out)


def _leerling(school, s):
    lines = [f"{I4}<leerling>\n",
             f"{I5}{_e('id', s.id)}{_e('leerlingNummer', s.nummer)}\n",
             f"{I5}{_e('achternaam', s.achternaam)}{_opt('tussenvoegsel', s.tussenvoegsel)}"
             f"{_e('roepNaam', s.roepnaam)}{_e('voornamen', s.voornamen)}\n",
             f"{I5}{_e('geboortedatum', s.geboortedatum.isoformat())}{_e('geslacht', s.geslacht)}\n",
             f"{I5}{_e('vestiging', school.vestiging_id)}{_e('leerlingAdres', s.address.id)}\n"]
    if s.mobiel:
        lines.append(f"{I5}{_phone('mobiel', s.mobiel)}\n")
    lines.append(f"{I5}<groepsindelingen>\n")
    for p in s.placements:
        lines.append(f"{I6}<groepsindeling>{_e('id', p.id)}{_e('groep', p.group.id)}"
                     f"{_e('schooljaar', school.schooljaar_id)}{_e('leerjaar', p.leerjaar)}"
                     f"{_e('vanafDatum', p.vanaf.isoformat())}{_e('totDatum', p.tot.isoformat())}"
                     "</groepsindeling>\n")
    lines.append(f"{I5}</groepsindelingen>\n")
    uit = _e("datumUitschrijving", s.uitschrijving.isoformat()) if s.uitschrijving else ""
    type_id = 2 if s.inschrijving_type == "AANM" else 1
    lines.append(f"{I5}<inschrijvingen><inschrijving>{_e('id', s.inschrijving_id)}"
                 f"{_e('datumInschrijving', s.inschrijving.isoformat())}{uit}"
                 f"{_e('inschrijvingType', type_id)}</inschrijving></inschrijvingen>\n")
    lines.append(f"{I4}</leerling>\n")
    return "".join(lines)


def medewerkers_document(school):
    """The getMedewerkers response."""
    out = [HEAD.format(op="getMedewerkers"), f"{I3}<medewerkers>\n"]
    for m in sorted(school.staff, key=lambda m: m.id):
        out.append(f"{I4}<medewerker>\n")
        out.append(f"{I5}{_e('id', m.id)}{_opt('aanhef', m.aanhef)}{_e('roepNaam', m.roepnaam)}"
                   f"{_opt('tussenvoegsel', m.tussenvoegsel)}{_e('achternaam', m.achternaam)}\n")
        out.append(f"{I5}{_e('email', m.email)}{_e('functie', m.functie)}\n")
        if m.mobile:
            out.append(f"{I5}{_phone('mobile', m.mobile)}\n")
        groups = "".join(_e("groep", g.id) for g in m.groups)
        out.append(f"{I5}<groepen>{groups}</groepen>\n")
        out.append(f"{I4}</medewerker>\n")
    out.append(f"{I3}</medewerkers>\n")
    out.append(TAIL.format(op="getMedewerkers"))
    return "".join(out)


def verzorgers_document(school):
    """The getVerzorgers response."""
    guardians = [g for g in school.guardians if g.relations]
    out = [HEAD.format(op="getVerzorgers")]
    out += _addresses([g.address for g in guardians], with_phone=False)
    out.append(f"{I3}<verzorgers>\n")
    for g in guardians:
        out.append(f"{I4}<verzorger>\n")
        out.append(f"{I5}{_e('id', g.id)}{_e('roepNaam', g.roepnaam)}{_e('voorletters', g.voorletters)}"
                   f"{_opt('tussenvoegsel', g.tussenvoegsel)}{_e('achternaam', g.achternaam)}\n")
        out.append(f"{I5}{_opt('email', g.email)}{_e('adres', g.address.id)}\n")
        if g.vast:
            out.append(f"{I5}{_phone('telefoonVast', g.vast)}\n")
        if g.mobiel:
            out.append(f"{I5}{_phone('telefoonMobiel', g.mobiel)}\n")
        out.append(f"{I5}<relaties>\n")
        for r in sorted(g.relations, key=lambda r: r.student.id):
            out.append(f"{I6}<relatie>{_e('leerling', r.student.id)}{_e('type', r.type)}"
                       f"{_e('wettelijkVertegenwoordiger', _bool(r.wettelijk))}</relatie>\n")
        out.append(f"{I5}</relaties>\n")
        out.append(f"{I4}</verzorger>\n")
    out.append(f"{I3}</verzorgers>\n")
    out.append(TAIL.format(op="getVerzorgers"))
    return "".join(out)


def write_parnassys(school, out_dir, key):
    """Write the school's fixture directory; return {file name: bytes}."""
    directory = out_dir / "parnassys" / school.brin
    return write_documents(directory, {
        "getLeerlingen.xml": leerlingen_document(school),
        "getMedewerkers.xml": medewerkers_document(school),
        "getVerzorgers.xml": verzorgers_document(school),
        "leveranciersleutel": key + "\n",
    })
