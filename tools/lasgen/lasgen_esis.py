"""lasgen_esis - write a School as ESIS HaalLeerlinggegevens and
HaalVerzorgergegevens responses (UWLR 2.2 shape of las-formats/examples/esis-*).

  <out>/esis/<BRIN><dependance>/HaalLeerlinggegevens.xml
  <out>/esis/<BRIN><dependance>/HaalVerzorgergegevens.xml
  <out>/esis/<BRIN><dependance>/autorisatiesleutel
  <out>/esis/<BRIN><dependance>/koppeling      the label the key was issued for

ESIS works with groepen: each lesgroep is a groep (jaargroep C for a
combination group), each sublesgroep a samengestelde_groep; a student carries
their own jaargroep. Group keys derive from the group name ("1/2A" -> G12A,
"Groep 5" -> G5), so they stay the same across a year transition. Students
whose datumUitschrijving lies before the export date are not exported (UWLR
has no leaving date); guardians only list exported children.
"""

import datetime
import re
from xml.sax.saxutils import escape

from lasgen_people import ascii_fold
from lasgen_write import write_documents

LE_NS = "http://www.edustandaard.nl/leerresultaten/2/leerlinggegevens"
VZ_NS = "urn:esis:verzorgers:model:1"
ENVELOPE_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                 '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">\n'
                 "  <SOAP-ENV:Body>\n")
ENVELOPE_TAIL = "  </SOAP-ENV:Body>\n</SOAP-ENV:Envelope>\n"
I4, I5, I6 = " " * 8, " " * 10, " " * 12


def export_date(school):
    """The aanmaakdatum of the export: 28 November of the schooljaar, 02:00."""
    return datetime.datetime(school.schooljaar, 11, 28, 2, 0, 0)


def group_key(group):
    """A stable key from the group name: "1/2A" -> G12A, "Rekenplus" -> SG-REKENPLUS."""
    if group.type == "SUBLESGROEP":
        return "SG-" + ascii_fold(group.naam).upper()
    return "G" + re.sub(r"[^0-9A-Za-z]", "", group.naam.removeprefix("Groep "))


def exported_students(school):
    """Students still enrolled on the export date."""
    day = export_date(school).date()
    return [s for s in school.students if s.uitschrijving is None or s.uitschrijving > day]


def _t(prefix, tag, value):
    return f"<{prefix}:{tag}>{escape(str(value))}</{prefix}:{tag}>"


def _opt(prefix, tag, value):
    return _t(prefix, tag, value) if value else ""


def leerlinggegevens_document(school):
    """The HaalLeerlinggegevens response."""
    le = lambda tag, value: _t("le", tag, value)  # noqa: E731 - local shorthand
    out = [ENVELOPE_HEAD,
           f'    <le:leerlinggegevens_antwoord xmlns:le="{LE_NS}">\n',
           "      <le:leerlinggegevens>\n",
           "        <le:school>\n"]
    for tag, value in (("schooljaar", f"{school.schooljaar}-{school.schooljaar + 1}"),
                       ("brincode", school.brin), ("dependancecode", school.dependance),
                       ("schoolkey", school.brin + school.dependance),
                       ("aanmaakdatum", export_date(school).isoformat()),
                       ("auteur", "ESIS"), ("xsdversie", "2.2")):
        out.append(f"{I5}{le(tag, value)}\n")
    out.append("        </le:school>\n        <le:groepen>\n")
    for g in school.lesgroepen():
        jaargroep = "C" if len(g.leerjaren) > 1 else g.leerjaren[0]
        out.append(f'{I5}<le:groep key="{group_key(g)}">{le("naam", g.naam)}{le("jaargroep", jaargroep)}'
                   f'{_opt("le", "omschrijving", g.omschrijving)}</le:groep>\n')
    for g in school.sublesgroepen():
        out.append(f'{I5}<le:samengestelde_groep key="{group_key(g)}">{le("naam", g.naam)}'
                   "</le:samengestelde_groep>\n")
    out.append("        </le:groepen>\n        <le:leerlingen>\n")
    for s in exported_students(school):
        out.append(_leerling(s))
    out.append("        </le:leerlingen>\n        <le:leerkrachten>\n")
    for m in sorted(school.staff, key=lambda m: m.id):
        if m.groups:
            out.append(_leerkracht(m))
    out.append("        </le:leerkrachten>\n"
               "      </le:leerlinggegevens>\n"
               "    </le:leerlinggegevens_antwoord>\n")
    out.append(ENVELOPE_TAIL)
    return "".join(out)


def _leerling(s):
    le = lambda tag, value: _t("le", tag, value)  # noqa: E731
    lesgroep = next(p.group for p in s.placements if p.group.type == "LESGROEP")
    subs = [p.group for p in s.placements if p.group.type == "SUBLESGROEP"]
    lines = [f'{I5}<le:leerling key="L{s.id}">\n',
             f"{I6}{le('achternaam', s.achternaam)}{_opt('le', 'voorvoegsel', s.tussenvoegsel)}"
             f"{le('roepnaam', s.roepnaam)}\n",
             f"{I6}{le('geboortedatum', s.geboortedatum.isoformat())}"
             f"{le('geslacht', 1 if s.geslacht == 'MAN' else 2)}\n",
             f'{I6}{le("jaargroep", s.leerjaar)}<le:groep key="{group_key(lesgroep)}"/>\n']
    if subs:
        keys = "".join(f'<le:samengestelde_groep key="{group_key(g)}"/>' for g in subs)
        lines.append(f"{I6}<le:samengestelde_groepen>{keys}</le:samengestelde_groepen>\n")
    lines.append(f"{I5}</le:leerling>\n")
    return "".join(lines)


def _leerkracht(m):
    le = lambda tag, value: _t("le", tag, value)  # noqa: E731
    refs = "".join(
        f'<le:{"samengestelde_groep" if g.type == "SUBLESGROEP" else "groep"} key="{group_key(g)}"/>'
        for g in m.groups)
    return (f'{I5}<le:leerkracht key="M{m.id}">\n'
            f"{I6}{le('achternaam', m.achternaam)}{_opt('le', 'voorvoegsel', m.tussenvoegsel)}"
            f"{le('roepnaam', m.roepnaam)}{le('emailadres', m.email)}\n"
            f"{I6}<le:groepen>{refs}</le:groepen>\n"
            f"{I5}</le:leerkracht>\n")


def verzorgergegevens_document(school):
    """The HaalVerzorgergegevens response."""
    vz = lambda tag, value: _t("vz", tag, value)  # noqa: E731
    exported = {s.id for s in exported_students(school)}
    out = [ENVELOPE_HEAD,
           f'    <vz:verzorgergegevens_antwoord xmlns:vz="{VZ_NS}">\n',
           f"      {vz('brincode', school.brin)}\n",
           f"      {vz('dependancecode', school.dependance)}\n",
           "      <vz:verzorgers>\n"]
    for g in school.guardians:
        children = sorted((r for r in g.relations if r.student.id in exported),
                          key=lambda r: r.student.id)
        if not children:
            continue
        a = g.address
        out.append(f'{I4}<vz:verzorger key="V{g.id}">\n')
        out.append(f"{I5}{vz('achternaam', g.achternaam)}{_opt('vz', 'voorvoegsel', g.tussenvoegsel)}"
                   f"{vz('roepnaam', g.roepnaam)}{vz('voorletters', g.voorletters)}\n")
        if g.email:
            out.append(f"{I5}{vz('emailadres', g.email)}\n")
        out.append(f'{I5}<vz:adres geheim="{_bool(a.geheim)}">{vz("straat", a.straat)}'
                   f'{vz("huisnummer", a.huisnummer)}{vz("toevoeging", a.toevoeging)}'
                   f'{vz("postcode", a.postcode)}{vz("woonplaats", a.plaats)}</vz:adres>\n')
        for soort, p in (("vast", g.vast), ("mobiel", g.mobiel), ("nood", g.nood)):
            if p:
                out.append(f'{I5}<vz:telefoon soort="{soort}" geheim="{_bool(p.geheim)}">'
                           f"{escape(p.nummer)}</vz:telefoon>\n")
        kids = "".join(f'<vz:leerling key="L{r.student.id}" relatie="{r.type.lower()}"/>'
                       for r in children)
        out.append(f"{I5}<vz:kinderen>{kids}</vz:kinderen>\n")
        out.append(f"{I4}</vz:verzorger>\n")
    out.append("      </vz:verzorgers>\n    </vz:verzorgergegevens_antwoord>\n")
    out.append(ENVELOPE_TAIL)
    return "".join(out)


def _bool(value):
    return "true" if value else "false"


def write_esis(school, out_dir, key, koppeling):
    """Write the school's ESIS fixture directory; return {file name: bytes}."""
    directory = out_dir / "esis" / (school.brin + school.dependance)
    return write_documents(directory, {
        "HaalLeerlinggegevens.xml": leerlinggegevens_document(school),
        "HaalVerzorgergegevens.xml": verzorgergegevens_document(school),
        "autorisatiesleutel": key + "\n",
        "koppeling": koppeling + "\n",
    })
