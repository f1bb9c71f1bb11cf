#!/usr/bin/env python
"""End-to-end peer of `hod basin-mean`: open the netCDF files with xarray, read the basins,
compute each basin's area-weighted mean at every time step, write the CSV.

    python peer_basin_mean_e2e.py VAR BASINS.geojson OUT_PREFIX FILE.nc [FILE.nc ...]

Methods (each timed from opening the files to the CSV written, imports excluded; exactextract
once, regionmask three times, the median):
  exactextract     exact_extract(grid, basins, "mean(coverage_weight=area_spherical_m2)")
                   through rioxarray, one band per time step (as ../shared/bench/peer_basin_mean.py)
  regionmask_frac  regionmask.mask_3D_frac_approx × cos(lat), xarray's weighted mean
Both crop the grid to the basins' bounding box + 2 cells first, as a user would. Writes
OUT_PREFIX.<method>.csv (`time,<id>...`, one row per step) and prints one JSON line of timings.
"""
from __future__ import annotations

import json
import sys
import time

t_start = time.perf_counter()
import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import regionmask  # noqa: E402
import rioxarray  # noqa: E402,F401  (registers .rio)
import xarray as xr  # noqa: E402
from exactextract import exact_extract  # noqa: E402

import_s = time.perf_counter() - t_start


def load(var, basins, files):
    """The variable over the basins' bounding box + 2 cells, time × lat × lon, in memory."""
    dss = [xr.open_dataset(f) for f in files]
    tname = next(d for d in dss[0][var].dims if d not in ("latitude", "longitude", "lat", "lon"))
    da = xr.concat([d[var] for d in dss], dim=tname)
    lat = "latitude" if "latitude" in da.dims else "lat"
    lon = "longitude" if "longitude" in da.dims else "lon"
    gdf = gpd.read_file(basins)
    if gdf.crs is None:
        gdf = gdf.set_crs("EPSG:4326")
    w, s, e, n = gdf.total_bounds
    dy = float(abs(da[lat][1] - da[lat][0])) * 2
    dx = float(abs(da[lon][1] - da[lon][0])) * 2
    desc = da[lat].values[0] > da[lat].values[-1]
    da = da.sel({lat: slice(n + dy, s - dy) if desc else slice(s - dy, n + dy), lon: slice(w - dx, e + dx)})
    da = da.load().astype("f8")
    return da, gdf, tname, lat, lon


def write(path, da, tname, gdf, means):
    """means: basins × steps."""
    df = pd.DataFrame(np.asarray(means).T, columns=[str(i) for i in gdf["id"]])
    df.insert(0, "time", pd.to_datetime(da[tname].values).strftime("%Y-%m-%dT%H:%M:%SZ"))
    df.to_csv(path, index=False)


def exactextract_means(da, gdf, tname, lat, lon):
    r = da.rename({lat: "y", lon: "x"}).transpose(tname, "y", "x")
    if r["y"].values[0] < r["y"].values[-1]:
        r = r.isel(y=slice(None, None, -1))
    r = r.rio.write_crs("EPSG:4326").rio.set_spatial_dims(x_dim="x", y_dim="y")
    res = exact_extract(r, gdf, "mean(coverage_weight=area_spherical_m2)", output="pandas")
    cols = sorted((c for c in res.columns if "mean" in c), key=lambda c: int("".join(ch for ch in c if ch.isdigit()) or 0))
    return res[cols].to_numpy(dtype="f8")


def regionmask_means(da, gdf, tname, lat, lon):
    regs = regionmask.from_geopandas(gdf, overlap=False)
    m = regs.mask_3D_frac_approx(da[lon], da[lat])
    w = (m.astype("f8") * np.cos(np.deg2rad(da[lat]))).fillna(0)
    out = []
    for k in range(len(gdf)):
        sel = m.region.values == k
        if not sel.any():  # regionmask found no cell for this basin
            out.append(np.full(da.sizes[tname], np.nan))
            continue
        out.append(da.weighted(w.isel(region=int(np.argmax(sel)))).mean((lat, lon)).values)
    return np.array(out)


def main() -> int:
    var, basins, prefix, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    timings = {"import_s": import_s}
    steps = None
    # exactextract takes tens of seconds per run (one run); regionmask under a second, so its
    # median of three is given (one run swings by ±20 %).
    for name, fn, runs in [("exactextract", exactextract_means, 1), ("regionmask_frac", regionmask_means, 3)]:
        took = []
        for _ in range(runs):
            t0 = time.perf_counter()
            da, gdf, tname, lat, lon = load(var, basins, files)
            means = fn(da, gdf, tname, lat, lon)
            write(f"{prefix}.{name}.csv", da, tname, gdf, means)
            took.append(time.perf_counter() - t0)
        timings[f"{name}_s"] = sorted(took)[len(took) // 2]
        timings[f"{name}_runs_s"] = took
        steps = int(da.sizes[tname])
    print(json.dumps({"steps": steps, "timings": timings}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
