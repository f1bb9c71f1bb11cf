"""exactextract's coverage fractions, spherical areas and weighted means on a grid given by numbers.

Usage: python exactextract_coverage.py SPEC.json > OUT.json
SPEC: a list of cases {"x0", "y0" (north-west corner), "dx", "dy", "cols", "rows",
"features": [GeoJSON Feature]}.
The field is the same function hod's test uses: 10 + sin(0.37 r) + cos(0.23 c) + 0.01 r c, NaN
where (7 r + 3 c) % 11 == 0 (r, c = grid row from the north, column).
Prints, per case and feature: {"cells": [[row, col, coverage]...], "area_m2": sum(coverage * spherical
cell area), "mean": mean(coverage_weight=area_spherical_m2), "mean_cov": coverage-weighted mean}.
"""
import json
import sys

import numpy as np
from exactextract import exact_extract
from exactextract.raster import NumPyRasterSource


def main():
    json.dump([run(case) for case in json.load(open(sys.argv[1]))], sys.stdout)


def run(spec):
    cols, rows = spec["cols"], spec["rows"]
    x0, y0, dx, dy = spec["x0"], spec["y0"], spec["dx"], spec["dy"]
    r, c = np.meshgrid(np.arange(rows, dtype="f8"), np.arange(cols, dtype="f8"), indexing="ij")
    field = 10 + np.sin(0.37 * r) + np.cos(0.23 * c) + 0.01 * r * c
    field[(7 * r.astype(int) + 3 * c.astype(int)) % 11 == 0] = np.nan
    wkt = 'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]]'
    bounds = dict(xmin=x0, ymin=y0 - rows * dy, xmax=x0 + cols * dx, ymax=y0)
    ones = NumPyRasterSource(np.ones((rows, cols)), **bounds, srs_wkt=wkt, name="one")
    vals = NumPyRasterSource(field, **bounds, srs_wkt=wkt, name="v")
    out = []
    for f in spec["features"]:
        res = exact_extract(ones, [f], ["coverage", "cell_id"], output="geojson")[0]["properties"]
        ids = np.asarray(res["cell_id"], dtype=np.int64)
        cov = np.asarray(res["coverage"], dtype="f8")
        m = exact_extract(vals, [f], ["w=mean(coverage_weight=area_spherical_m2)", "c=mean"],
                          output="geojson")[0]["properties"]
        # A sum of ones weighted by coverage x spherical area is the covered area.
        area = exact_extract(ones, [f], ["a=sum(coverage_weight=area_spherical_m2)"],
                             output="geojson")[0]["properties"]
        out.append({
            "cells": [[int(i // cols), int(i % cols), float(v)] for i, v in zip(ids, cov)],
            "area_m2": float(area["a"]),
            "mean": float(m["w"]),
            "mean_cov": float(m["c"]),
        })
    return out


if __name__ == "__main__":
    main()
