#!/usr/bin/env python3
"""lasgen - generate synthetic schools as LAS fixture files.

Usage:
  lasgen.py parnassys --brin 12AB --students 2000 --seed 7 --out DIR
            [--dependance 00] [--schooljaar "2026 / 2027"] [--key KEY]
            [--group-size N] [--id-block K] [--change-rate 0.01] [--year-transition]
  lasgen.py parnassys --schools 20 --seed 7 --out DIR [--students MAX] [--min-students MIN]
  lasgen.py esis ...  (the same options, plus --koppeling LABEL)
  lasgen.py national --schools 1000 --seed 7 --out DIR [--esis-share 0.3]
            [--median 200] [--students MAX] [--min-students MIN]
            [--change-rate 0.01] [--year-transition]

Writes the fixture layout the LAS simulator (tools/lassim) serves:
DIR/parnassys/<BRIN>/{getLeerlingen,getMedewerkers,getVerzorgers}.xml plus
leveranciersleutel, or DIR/esis/<BRIN><dep>/{HaalLeerlinggegevens,
HaalVerzorgergegevens}.xml plus autorisatiesleutel and koppeling. `national`
writes N schools of both vendors with the size spread of the country's
primary schools, and DIR/schools.tsv listing them (vendor, BRIN, counts),
for the benchmarks in bench/. The same arguments always give the same bytes. One summary line per school goes to
stderr (counts, sizes, time; no personal data). All data is synthetic.
Python 3.11 standard library only. See docs/las-simulator.md.
"""

import argparse
import math
import os.path
import os
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lasgen_esis import write_esis  # noqa: E402
from lasgen_evolve import advance_year, apply_changes  # noqa: E402
from lasgen_model import ID_BLOCKS, counts, default_id_block  # noqa: E402
from lasgen_school import generate_school, school_rng  # noqa: E402
from lasgen_parnassys import write_parnassys  # noqa: E402

MIN_STUDENTS = 20
MAX_STUDENTS = 20_000
RESERVED_BRINS = ("99ZZ", "88YY")   # the example schools in fixtures/las
# The country (issue 8): about 6,000 primary schools and 1.4 million students,
# from under 100 to 2,000 each: school sizes are log-normal with a median of
# 200 and sigma 0.55, a mean of about 233 students.
NATIONAL_MEDIAN = 200
NATIONAL_SIGMA = 0.55


def write_parnassys_school(school, out, args):
    return write_parnassys(school, out, args.key or f"dev-key-{school.brin}")


def write_esis_school(school, out, args):
    key = args.key or f"dev-esis-key-{school.brin}{school.dependance}"
    return write_esis(school, out, key, args.koppeling)


# vendor -> writer; a new vendor is one writer module and one row here
WRITERS = {"parnassys": write_parnassys_school, "esis": write_esis_school}


def schooljaar_start(text):
    """Parse "2026 / 2027" (or "2026-2027") into 2026."""
    m = re.fullmatch(r"\s*(\d{4})\s*[/-]\s*(\d{4})\s*", text)
    if not m or int(m.group(2)) != int(m.group(1)) + 1:
        raise argparse.ArgumentTypeError('schooljaar must read "YYYY / YYYY+1", e.g. "2026 / 2027"')
    return int(m.group(1))


def brin(text):
    if not re.fullmatch(r"[0-9]{2}[A-Z]{2}", text):
        raise argparse.ArgumentTypeError("BRIN must be 2 digits and 2 capitals, e.g. 12AB")
    return text


def dependance(text):
    if not re.fullmatch(r"[0-9]{2}", text):
        raise argparse.ArgumentTypeError("dependance code must be 2 digits, e.g. 00")
    return text


def rate(text):
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("change rate must be between 0 and 1")
    return value


def national_parser(vendors):
    """The national subcommand: N schools of both vendors."""
    p = vendors.add_parser("national", help="N schools of both vendors with the national size spread")
    p.add_argument("--schools", type=int, required=True, help=f"how many (1..{ID_BLOCKS})")
    p.add_argument("--out", type=Path, required=True, help="fixture root to write into")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--esis-share", type=rate, default=0.3,
                   help="share of ESIS schools (default 0.3; the rest ParnasSys)")
    p.add_argument("--median", type=int, default=NATIONAL_MEDIAN,
                   help=f"median school size (default {NATIONAL_MEDIAN})")
    p.add_argument("--students", type=int, default=2000,
                   help="the largest school (default 2000; the first school has this size)")
    p.add_argument("--min-students", type=int, default=40,
                   help="the smallest school (default 40; the second school has this size)")
    p.add_argument("--dependance", type=dependance, default="00", help="dependance code (00)")
    p.add_argument("--schooljaar", type=schooljaar_start, default=2026,
                   help='schooljaar, e.g. "2026 / 2027" (default)')
    p.add_argument("--change-rate", type=rate, default=0.0,
                   help="share of students whose family gets a changed address, phone or name")
    p.add_argument("--year-transition", action="store_true",
                   help="write the next schooljaar: everyone a leerjaar up, new groups")
    p.add_argument("--koppeling", default="BasisOnline Ouderportaal",
                   help="label the ESIS keys were issued for (default BasisOnline Ouderportaal)")


def parse_args(argv):
    """Command line; see the module docstring."""
    common = argparse.ArgumentParser(add_help=False)
    which = common.add_mutually_exclusive_group(required=True)
    which.add_argument("--brin", type=brin, help="BRIN of the one school to write")
    which.add_argument("--schools", type=int, help="write N schools with generated BRINs")
    common.add_argument("--out", type=Path, required=True, help="fixture root to write into")
    common.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    common.add_argument("--students", type=int,
                        help="students (default 400); with --schools the largest school (default 2000)")
    common.add_argument("--min-students", type=int, default=60,
                        help="with --schools: the smallest school (default 60)")
    common.add_argument("--dependance", type=dependance, default="00", help="dependance code (00)")
    common.add_argument("--schooljaar", type=schooljaar_start, default=2026,
                        help='schooljaar, e.g. "2026 / 2027" (default)')
    common.add_argument("--key", help="the valid key (default dev-key-<BRIN> / dev-esis-key-<BRIN><dep>)")
    common.add_argument("--group-size", type=int,
                        help="students per lesgroep (default: 15-25 groups per 2,000 students)")
    common.add_argument("--id-block", type=int,
                        help=f"id block 0..{ID_BLOCKS} (default derived from BRIN and dependance)")
    common.add_argument("--change-rate", type=rate, default=0.0,
                        help="share of students whose family gets a changed address, phone or name")
    common.add_argument("--year-transition", action="store_true",
                        help="write the next schooljaar: everyone a leerjaar up, new groups")
    parser = argparse.ArgumentParser(prog="lasgen.py", description="synthetic LAS schools")
    vendors = parser.add_subparsers(dest="vendor", required=True)
    vendors.add_parser("parnassys", parents=[common], help="ParnasSys getLeerlingen/-Medewerkers/-Verzorgers")
    esis = vendors.add_parser("esis", parents=[common], help="ESIS HaalLeerling-/HaalVerzorgergegevens")
    esis.add_argument("--koppeling", default="BasisOnline Ouderportaal",
                      help="label the key was issued for (default BasisOnline Ouderportaal)")
    national_parser(vendors)
    args = parser.parse_args(argv)
    if args.vendor == "national":
        if not 1 <= args.schools <= ID_BLOCKS:
            parser.error(f"--schools must be 1..{ID_BLOCKS}")
        if not MIN_STUDENTS <= args.min_students <= args.median <= args.students <= MAX_STUDENTS:
            parser.error(f"need {MIN_STUDENTS} <= --min-students <= --median <= --students <= {MAX_STUDENTS}")
        args.key, args.group_size = None, None
        return args
    if args.vendor != "esis":
        args.koppeling = None
    if args.students is None:
        args.students = 2000 if args.schools else 400
    if not MIN_STUDENTS <= args.students <= MAX_STUDENTS:
        parser.error(f"--students must be {MIN_STUDENTS}..{MAX_STUDENTS}")
    if args.schools is not None:
        if not 1 <= args.schools <= 1000:
            parser.error("--schools must be 1..1000")
        if not MIN_STUDENTS <= args.min_students <= args.students:
            parser.error(f"--min-students must be {MIN_STUDENTS}..--students")
        if args.id_block is not None or args.key is not None:
            parser.error("--id-block and --key apply to one school (--brin)")
    if args.id_block is not None and not 0 <= args.id_block <= ID_BLOCKS:
        parser.error(f"--id-block must be 0..{ID_BLOCKS}")
    if args.group_size is not None and args.group_size < 5:
        parser.error("--group-size must be at least 5")
    return args


def school_plan(args):
    """[(brin, students, id block)] for the schools to write."""
    if args.brin:
        block = args.id_block if args.id_block is not None else default_id_block(args.brin, args.dependance)
        return [(args.brin, args.students, block)]
    rng = random.Random(f"lasgen:brins:{args.seed}")
    brins, blocks, plan = set(), set(), []
    n = args.schools
    for i in range(n):
        candidate, block = distinct_school(rng, args.dependance, brins, blocks)
        ratio = i / (n - 1) if n > 1 else 1.0
        size = round(args.min_students * math.exp(ratio * math.log(args.students / args.min_students)))
        plan.append((candidate, size, block))
    return plan


def distinct_school(rng, dep, brins, blocks):
    """A new BRIN and id block, distinct from those taken (and then taken)."""
    while True:
        candidate = f"{rng.randint(0, 99):02d}{rng.choice('ABCDEFGHJKLMNPRSTVWXYZ')}" \
                    f"{rng.choice('ABCDEFGHJKLMNPRSTVWXYZ')}"
        if candidate not in brins and candidate not in RESERVED_BRINS:
            break
    brins.add(candidate)
    block = default_id_block(candidate, dep)
    while block in blocks:                           # keep ids distinct across schools
        block = block % ID_BLOCKS + 1
    blocks.add(block)
    return candidate, block


def national_plan(args):
    """[(vendor, brin, students, id block)]: the largest school first, then
    the smallest, then sizes drawn log-normal around the median (clamped)."""
    rng = random.Random(f"lasgen:national:{args.seed}")
    brins, blocks, plan = set(), set(), []
    for i in range(args.schools):
        vendor = "esis" if rng.random() < args.esis_share else "parnassys"
        if i == 0:
            size = args.students
        elif i == 1:
            size = args.min_students
        else:
            size = round(min(max(rng.lognormvariate(math.log(args.median), NATIONAL_SIGMA),
                                 args.min_students), args.students))
        candidate, block = distinct_school(rng, args.dependance, brins, blocks)
        plan.append((vendor, candidate, size, block))
    return plan


def build(args, brin_code, students, block, profile="default"):
    """Generate one school, evolved as the flags ask."""
    school = generate_school(brin_code, args.dependance, students, args.seed, args.schooljaar,
                             block, args.group_size, profile)
    if args.year_transition:
        advance_year(school, school_rng(args.seed, brin_code, args.dependance, "year"))
    if args.change_rate:
        apply_changes(school, args.change_rate, school_rng(args.seed, brin_code, args.dependance, "changes"))
    return school


def summary(vendor, school, sizes, elapsed):
    """One line of counts for stderr (no names, addresses or numbers)."""
    c = counts(school)
    extra = ""
    if school.changes:
        extra = " changed=" + ",".join(f"{k}:{v}" for k, v in school.changes.items())
    return (f"lasgen: {vendor} brin={school.brin} dependance={school.dependance} "
            f"schooljaar={school.schooljaar_naam.replace(' ', '')} students={c['students']} "
            f"guardians={c['guardians']} staff={c['staff']} groups={c['groups']} "
            f"(lesgroepen={c['lesgroepen']} sublesgroepen={c['sublesgroepen']}){extra} "
            f"bytes={sum(sizes.values())} ms={elapsed * 1000:.0f}")


def national(args):
    """Write the national sample and its manifest DIR/schools.tsv."""
    totals = {"schools": 0, "students": 0, "guardians": 0, "bytes": 0}
    started = time.monotonic()
    rows = ["# vendor\tbrin\tdependance\tstudents\tguardians\tstaff\tgroups\tbytes"]
    for vendor, brin_code, students, block in national_plan(args):
        t0 = time.monotonic()
        school = build(args, brin_code, students, block, "national")
        sizes = WRITERS[vendor](school, args.out, args)
        c = counts(school)
        print(summary(vendor, school, sizes, time.monotonic() - t0), file=sys.stderr)
        rows.append(f"{vendor}\t{school.brin}\t{school.dependance}\t{c['students']}\t"
                    f"{c['guardians']}\t{c['staff']}\t{c['groups']}\t{sum(sizes.values())}")
        totals["schools"] += 1
        totals["students"] += c["students"]
        totals["guardians"] += c["guardians"]
        totals["bytes"] += sum(sizes.values())
    manifest = os.path.join(args.out, "schools.tsv")
    with open(manifest + ".tmp", "w", encoding="ascii") as f:
        f.write("\n".join(rows) + "\n")
    os.replace(manifest + ".tmp", manifest)
    print(f"lasgen: total schools={totals['schools']} students={totals['students']} "
          f"guardians={totals['guardians']} bytes={totals['bytes']} "
          f"ms={(time.monotonic() - started) * 1000:.0f}", file=sys.stderr)
    return 0


def main(argv=None):
    """Generate and write the schools; return the exit status."""
    args = parse_args(argv)
    if args.vendor == "national":
        return national(args)
    writer = WRITERS[args.vendor]
    totals = {"schools": 0, "students": 0, "bytes": 0}
    started = time.monotonic()
    for brin_code, students, block in school_plan(args):
        t0 = time.monotonic()
        school = build(args, brin_code, students, block)
        sizes = writer(school, args.out, args)
        print(summary(args.vendor, school, sizes, time.monotonic() - t0), file=sys.stderr)
        totals["schools"] += 1
        totals["students"] += counts(school)["students"]
        totals["bytes"] += sum(sizes.values())
    if args.schools:
        print(f"lasgen: total schools={totals['schools']} students={totals['students']} "
              f"bytes={totals['bytes']} ms={(time.monotonic() - started) * 1000:.0f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
