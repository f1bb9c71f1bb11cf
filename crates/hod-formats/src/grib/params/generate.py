"""Regenerates grib1.tsv and grib2.tsv from ecCodes' parameter database.

The tables are probed, not copied: a real message is re-keyed to every parameter number and ecCodes
is asked for the names it derives. Run with a Python that has the `eccodes` package:
    python generate.py ../../../../../../shared/data   (the folder holding era5/ and gfs/)
Columns: key, paramId, shortName, cfVarName, cfName, units, name.
GRIB2 keys are `discipline/category/number` plus an optional variant: `l{type}` (first fixed
surface type), `h2`/`h10` (height above ground 2 m/10 m), `s{k}` (statistical processing k) or
`s{k}/l1` (both, for parameters only known as surface statistics);
a variant row exists only where ecCodes names the parameter differently from the plain row,
which is probed on an isobaric level.
"""
import sys
import eccodes

KEYS = ["paramId", "shortName", "cfVarName", "cfName", "units", "name"]


def names(h):
    return [str(eccodes.codes_get(h, k)) for k in KEYS]


def first_message(path):
    with open(path, "rb") as f:
        return eccodes.codes_grib_new_from_file(f)


def grib1(data):
    h = first_message(f"{data}/era5/era5-levels-members.grib")
    rows = []
    for table in (1, 2, 3, 128, 140, 162, 170, 171, 172, 174, 200, 228, 235):
        eccodes.codes_set(h, "table2Version", table)
        for p in range(1, 256):
            eccodes.codes_set(h, "indicatorOfParameter", p)
            n = names(h)
            if n[1] not in ("unknown", "") and n[0] != "0":
                rows.append([f"{table}/{p}"] + n)
    return rows


# Level types some parameters are named after (`sp`, `orog`, `msl`, `trpp`, `2t`, `10u`).
LEVEL_VARIANTS = [("l1", 1, 0), ("l7", 7, 0), ("l8", 8, 0), ("l101", 101, 0), ("h2", 103, 2), ("h10", 103, 10)]

# Categories probed per discipline (the whole space is too slow to probe).
CATEGORIES = {
    0: list(range(0, 8)) + list(range(13, 21)) + [190, 191],
    1: [0, 1, 2],
    2: [0, 3, 4],
    10: [0, 1, 2, 3, 4, 191],
}


def grib2(data):
    rows = []
    path = f"{data}/gfs/gfs.t12z.pgrbf120.2p5deg.grib2"
    plain = first_message(path)  # template 4.0
    stat = None
    with open(path, "rb") as f:
        while stat is None:
            h = eccodes.codes_grib_new_from_file(f)
            if eccodes.codes_get(h, "productDefinitionTemplateNumber") == 8:
                stat = h
    # Both probes stay on the first message's isobaric level, which no concept singles out.
    level = [eccodes.codes_get(plain, k) for k in ("typeOfFirstFixedSurface", "scaledValueOfFirstFixedSurface")]
    eccodes.codes_set(stat, "typeOfFirstFixedSurface", level[0])
    eccodes.codes_set(stat, "scaledValueOfFirstFixedSurface", level[1])
    for d, cats in CATEGORIES.items():
        for c in cats:
            for n in range(0, 256):
                key = f"{d}/{c}/{n}"
                for h in (plain, stat):
                    eccodes.codes_set(h, "discipline", d)
                    eccodes.codes_set(h, "parameterCategory", c)
                    eccodes.codes_set(h, "parameterNumber", n)
                # paramId 0 means unknown; probing it first is the cheap test. Some parameters
                # are only known at the surface or as a statistic.
                if eccodes.codes_get(plain, "paramId") == 0:
                    rows.extend(unknown_base(key, plain, stat))
                    continue
                base = names(plain)
                rows.append([key] + base)
                probe = eccodes.codes_clone(plain)
                for tag, kind, value in LEVEL_VARIANTS:
                    eccodes.codes_set(probe, "typeOfFirstFixedSurface", kind)
                    eccodes.codes_set(probe, "scaleFactorOfFirstFixedSurface", 0)
                    eccodes.codes_set(probe, "scaledValueOfFirstFixedSurface", value)
                    if eccodes.codes_get(probe, "paramId") not in (0, int(base[0])):
                        rows.append([f"{key}/{tag}"] + names(probe))
                eccodes.codes_release(probe)
                for k in range(0, 4):
                    eccodes.codes_set(stat, "typeOfStatisticalProcessing", k)
                    if eccodes.codes_get(stat, "paramId") not in (0, int(base[0])):
                        rows.append([f"{key}/s{k}"] + names(stat))
    return rows


def unknown_base(key, plain, stat):
    rows = []
    probe = eccodes.codes_clone(plain)
    eccodes.codes_set(probe, "typeOfFirstFixedSurface", 1)
    eccodes.codes_set(probe, "scaledValueOfFirstFixedSurface", 0)
    if eccodes.codes_get(probe, "paramId") != 0:
        rows.append([f"{key}/l1"] + names(probe))
    eccodes.codes_release(probe)
    level = [eccodes.codes_get(stat, k) for k in ("typeOfFirstFixedSurface", "scaledValueOfFirstFixedSurface")]
    for surface in (False, True):
        eccodes.codes_set(stat, "typeOfFirstFixedSurface", 1 if surface else level[0])
        eccodes.codes_set(stat, "scaledValueOfFirstFixedSurface", 0 if surface else level[1])
        for k in (0, 1):
            eccodes.codes_set(stat, "typeOfStatisticalProcessing", k)
            if eccodes.codes_get(stat, "paramId") != 0:
                rows.append([f"{key}/s{k}" + ("/l1" if surface else "")] + names(stat))
    eccodes.codes_set(stat, "typeOfFirstFixedSurface", level[0])
    eccodes.codes_set(stat, "scaledValueOfFirstFixedSurface", level[1])
    return rows


def write(path, rows):
    with open(path, "w") as f:
        f.write("# generated by generate.py from ecCodes " + eccodes.codes_get_api_version() + "\n")
        for r in rows:
            f.write("\t".join(x.replace("\t", " ") for x in r) + "\n")


if __name__ == "__main__":
    data = sys.argv[1]
    if "--grib2-only" not in sys.argv:
        write("grib1.tsv", grib1(data))
    write("grib2.tsv", grib2(data))
