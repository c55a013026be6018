"""lasgen_people - random Dutch names, addresses, phone numbers and e-mail.

Small functions of a random.Random; no state of their own except the
EmailBook that keeps e-mail addresses unique within one school. Numbers are
random digits in Dutch formats; e-mail addresses only use example.nl and
example.com.
"""

import datetime
import re
import unicodedata

from lasgen_names import (ADULT_MEN, ADULT_WOMEN, CHILD_BOYS, CHILD_GIRLS, FORMAL_NAMES_BOYS,
                          FORMAL_NAMES_GIRLS, HOUSE_NUMBER_SUFFIXES, MIDDLE_NAMES_BOYS,
                          MIDDLE_NAMES_GIRLS, NAMED_STREETS, ORIGIN_WEIGHTS, POSTCODE_FORBIDDEN,
                          POSTCODE_LETTERS, STREET_STEMS, STREET_SUFFIXES, SURNAMES)
from lasgen_model import Address, Phone

_ASCII_EXTRA = str.maketrans({"ı": "i", "ł": "l", "Ł": "L", "ø": "o", "ß": "ss", "đ": "d"})


# -- dates ----------------------------------------------------------------------

def add_years(day, years):
    """day plus whole years; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def random_date(rng, first, last):
    """A uniformly random date in [first, last]."""
    return first + datetime.timedelta(days=rng.randint(0, (last - first).days))


def school_day(rng, first, last):
    """A random Monday-to-Friday date in [first, last] (first when none)."""
    for _ in range(10):
        day = random_date(rng, first, last)
        if day.weekday() < 5:
            return day
    return first


# -- names ----------------------------------------------------------------------

def pick_origin(rng):
    """The origin of a family's surname, weighted as ORIGIN_WEIGHTS."""
    origins = list(ORIGIN_WEIGHTS)
    return rng.choices(origins, [ORIGIN_WEIGHTS[o] for o in origins])[0]


def pick_surname(rng, origin):
    """A (tussenvoegsel, achternaam) of the given origin."""
    pool = [(infix, name) for infix, name, o in SURNAMES if o == origin]
    return rng.choice(pool)


def _pool(rng, pools, origin, own_share):
    """The origin's own name pool with probability own_share, else the Dutch one."""
    return pools[origin] if origin != "nl" and rng.random() < own_share else pools["nl"]


def child_names(rng, geslacht, origin, taken):
    """(roepnaam, voornamen) for a child; roepnaam not in taken (siblings)."""
    girl = geslacht == "VROUW"
    formal = FORMAL_NAMES_GIRLS if girl else FORMAL_NAMES_BOYS
    middles = MIDDLE_NAMES_GIRLS if girl else MIDDLE_NAMES_BOYS
    for _ in range(20):
        if origin == "nl" and rng.random() < 0.06:
            first, roepnaam = rng.choice(formal)     # called Kees, named Cornelis
        else:
            roepnaam = first = rng.choice(_pool(rng, CHILD_GIRLS if girl else CHILD_BOYS, origin, 0.5))
        if roepnaam not in taken:
            break
    names = [first]
    if rng.random() < 0.55:
        names += rng.sample([m for m in middles if m != first], rng.choice((1, 1, 2)))
    return roepnaam, " ".join(names)


def adult_names(rng, geslacht, origin):
    """(roepnaam, voornamen) for an adult."""
    girl = geslacht == "VROUW"
    roepnaam = rng.choice(_pool(rng, ADULT_WOMEN if girl else ADULT_MEN, origin, 0.8))
    names = [roepnaam]
    if rng.random() < 0.4:
        names.append(rng.choice(MIDDLE_NAMES_GIRLS if girl else MIDDLE_NAMES_BOYS))
    return roepnaam, " ".join(names)


def double_surname(first, second):
    """The combined name "Jansen-El Amrani" (first keeps its tussenvoegsel)."""
    infix2, name2 = second
    return first[0], f"{first[1]}-{infix2 + ' ' if infix2 else ''}{name2}"


# -- addresses and phones -------------------------------------------------------

def street(rng):
    """A Dutch street name."""
    if rng.random() < 0.2:
        return rng.choice(NAMED_STREETS)
    return rng.choice(STREET_STEMS) + rng.choice(STREET_SUFFIXES)


def postcode(rng, town):
    """A postcode "1234 AB" in the town's range."""
    while True:
        letters = rng.choice(POSTCODE_LETTERS) + rng.choice(POSTCODE_LETTERS)
        if letters not in POSTCODE_FORBIDDEN:
            return f"{rng.randint(town[2], town[3])} {letters}"


def address_fields(rng, town):
    """Street, number, suffix, postcode and town of a random home in town."""
    return {
        "straat": street(rng),
        "huisnummer": rng.choice((rng.randint(1, 60), rng.randint(1, 250))),
        "toevoeging": rng.choice(HOUSE_NUMBER_SUFFIXES) if rng.random() < 0.12 else "",
        "postcode": postcode(rng, town),
        "plaats": town[0],
        "area_code": town[1],
    }


def new_address(rng, ids, town):
    """A new home address in town (a TOWNS entry); 2% are secret."""
    fields = address_fields(rng, town)
    return Address(id=ids.new("adres"), geheim=rng.random() < 0.02, **fields)


def landline(rng, area_code):
    """A fixed-line number "030-1234567" (area code plus subscriber, 10 digits)."""
    digits = 10 - len(area_code)
    subscriber = str(rng.randint(2, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(digits - 1))
    return f"{area_code}-{subscriber}"


def mobile(rng):
    """A mobile number, mostly "06-12345678", sometimes written otherwise."""
    digits = str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(7))
    form = rng.random()
    if form < 0.05:
        return f"06{digits}"
    if form < 0.07:
        return f"+31 6 {digits}"
    return f"06-{digits}"


def phone(rng, number, secret_share):
    """A Phone with the geheim flag set for a share of numbers."""
    return Phone(number, rng.random() < secret_share)


# -- e-mail ---------------------------------------------------------------------

def ascii_fold(text):
    """Lower-case ASCII letters and digits of text ("Öztürk" -> "ozturk")."""
    text = unicodedata.normalize("NFKD", text.translate(_ASCII_EXTRA))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]", "", text.lower())


class EmailBook:
    """Keeps the e-mail addresses of one school unique."""

    def __init__(self):
        self._used = set()

    def reserve(self, addresses):
        """Mark existing addresses (None ignored) as taken."""
        for address in addresses:
            if address:
                self._used.add(address.lower())

    def claim(self, local, domain):
        """Return local@domain, numbered when already taken."""
        candidate, n = f"{local}@{domain}", 2
        while candidate.lower() in self._used:
            candidate, n = f"{local}{n}@{domain}", n + 1
        self._used.add(candidate.lower())
        return candidate

    def guardian(self, rng, roepnaam, tussenvoegsel, achternaam):
        """A private address in example.nl or example.com."""
        first, infix, last = ascii_fold(roepnaam), ascii_fold(tussenvoegsel), ascii_fold(achternaam)
        form = rng.random()
        if form < 0.40:
            local = f"{first}.{infix}{last}"
        elif form < 0.60:
            local = f"{first[0]}.{infix}{last}"
        elif form < 0.75:
            local = f"{first}{last}{rng.randint(70, 99)}"
        elif form < 0.85:
            local = f"{first}.{last}{rng.randint(1, 99)}"
        else:
            local = f"{first}_{last}"
        domain = "example.nl" if rng.random() < 0.65 else "example.com"
        if rng.random() < 0.03:          # typed with capitals, as parents do
            local = ".".join(part[:1].upper() + part[1:] for part in local.split("."))
            domain = "Example.NL" if domain == "example.nl" else "Example.com"
        return self.claim(local, domain)

    def family(self, tussenvoegsel, achternaam):
        """One address shared by both parents."""
        return self.claim(f"fam.{ascii_fold(tussenvoegsel)}{ascii_fold(achternaam)}", "example.nl")

    def staff(self, roepnaam, tussenvoegsel, achternaam, domain):
        """A school address "m.smit@delinde.example.nl"."""
        local = f"{ascii_fold(roepnaam)[:1]}.{ascii_fold(tussenvoegsel)}{ascii_fold(achternaam)}"
        return self.claim(local, domain)
