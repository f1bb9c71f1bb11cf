#!/usr/bin/env python
"""Peer benchmark: watershed delineation on a DEM GeoTIFF with Whitebox Workflows
(John Lindsay's successor to WhiteboxTools, Rust core; `pip install whitebox-workflows`).

    python peer_whitebox.py DEM.tif [--pour-point X Y] [--acc-threshold N] [--repeat N]

Same steps and output as ../../../shared/bench/peer_watershed.py (pysheds), each timed: read,
fill_depressions (priority-flood, flats fixed by its default Garbrecht-Martz gradient), d8_pointer,
d8_flow_accum (cells), snap (jenson_snap_pour_points: the nearest stream cell, stream = accumulation
> threshold, as pysheds's snap_to_mask), watershed. Without --pour-point the pour point is the
interior cell of highest accumulation. Prints one JSON line: times per step (first run apart, then
min/median/max of the others), peak RSS in MiB, accumulation max and catchment cells.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time


def snapped_xy(shp: str):
    """The first point of a point shapefile (the record header is 12 bytes, then x, y)."""
    import struct

    with open(shp, "rb") as f:
        data = f.read()
    return struct.unpack("<2d", data[100 + 8 + 4:100 + 8 + 4 + 16])


def run_once(wbe, path: str, pour_point, acc_threshold, tmp: str):
    import numpy as np

    h = wbe.hydrology
    t: dict[str, float] = {}

    def timed(name, f):
        s = time.perf_counter()
        out = f()
        t[name] = time.perf_counter() - s
        return out

    dem = timed("read_s", lambda: wbe.read_raster(path))
    filled = timed("fill_depressions_s", lambda: h.fill_depressions(dem=dem))
    pntr = timed("flowdir_d8_s", lambda: h.d8_pointer(dem=filled))
    acc = timed("accumulation_s",
                lambda: h.d8_flow_accum(input=pntr, input_is_pointer=True, out_type="cells"))
    accv = acc.to_numpy()
    valid = np.isfinite(accv) & (accv >= 0)
    amax = float(accv[valid].max())
    thr = acc_threshold if acc_threshold is not None else max(1.0, 0.01 * amax)
    rows, cols = accv.shape
    if pour_point is None:
        inner = np.where(valid, accv, -1)[1:-1, 1:-1]
        r, c = np.unravel_index(int(np.argmax(inner)), inner.shape)
        x, y = acc.get_x_from_column(int(c) + 1), acc.get_y_from_row(int(r) + 1)
    else:
        x, y = pour_point
    # Pour points are vectors read from a file with a CRS (.prj), as the tools require.
    epsg = dem.crs_epsg() or 4326
    gj = os.path.join(tmp, "pour.geojson")
    with open(gj, "w") as f:
        json.dump({"type": "FeatureCollection", "features": [{
            "type": "Feature", "properties": {"id": 1},
            "geometry": {"type": "Point", "coordinates": [float(x), float(y)]}}]}, f)
    pts = wbe.read_vector(gj)
    pts.set_crs_epsg(epsg)
    shp = os.path.join(tmp, "pour.shp")
    wbe.write_vector(pts, shp)
    pts = wbe.read_vector(shp)
    cell = abs(acc.get_x_from_column(1) - acc.get_x_from_column(0))
    snapped_path = os.path.join(tmp, "snapped.shp")

    def snap():
        streams = acc.gt(float(thr))
        # pysheds's snap_to_mask has no radius: allow the whole grid.
        return h.jenson_snap_pour_points(pour_pts=pts, streams=streams,
                                         snap_dist=cell * max(rows, cols), output=snapped_path)

    snapped = timed("snap_s", snap)
    basin = timed("catchment_s", lambda: h.watershed(d8_pntr=pntr, pour_pts=snapped))
    b = basin.to_numpy()
    ncells = int((np.isfinite(b) & (b > 0)).sum())
    sx, sy = snapped_xy(snapped_path)
    t["total_s"] = sum(t.values())
    info = {
        "dem_shape": [rows, cols],
        "acc_max": amax,
        "acc_threshold": thr,
        "pour_point": [float(x), float(y)],
        "snapped": [float(sx), float(sy)],
        "catchment_cells": ncells,
    }
    return t, info


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dem", help="DEM GeoTIFF (single band)")
    ap.add_argument("--pour-point", nargs=2, type=float, metavar=("X", "Y"), default=None)
    ap.add_argument("--acc-threshold", type=float, default=None)
    ap.add_argument("--repeat", type=int, default=3, help="runs after the first")
    a = ap.parse_args(argv)
    try:
        import whitebox_workflows as wbw
    except ImportError:
        print(json.dumps({"bench": "peer_whitebox", "error": "whitebox_workflows not installed"}))
        return 0
    wbe = wbw.WbEnvironment()
    wbe.verbose = False
    with tempfile.TemporaryDirectory() as tmp:
        first, info = run_once(wbe, a.dem, a.pour_point, a.acc_threshold, tmp)
        runs = []
        for _ in range(max(0, a.repeat)):
            tt, info2 = run_once(wbe, a.dem, a.pour_point, a.acc_threshold, tmp)
            assert info2["catchment_cells"] == info["catchment_cells"]
            runs.append(tt)
    timings = {k: {"median": round(statistics.median(r[k] for r in runs), 6),
                   "min": round(min(r[k] for r in runs), 6),
                   "max": round(max(r[k] for r in runs), 6)} for k in first} if runs else None
    print(json.dumps({
        "bench": "peer_whitebox",
        "dem": a.dem,
        **info,
        "repeat": len(runs),
        "first_run": {k: round(v, 6) for k, v in first.items()},
        "timings": timings,
        "versions": {"whitebox_workflows": wbe.version()},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
