"""Expected answers of `hod catalog search` over the shared data sets, computed independently of hod.

Usage: python stac_search.py SPEC.json
SPEC.json: {"datasets": {name: [files...]}, "basins": [geojson paths], "start": ISO, "end": ISO}
Prints JSON: {"extents": {name: [W,S,E,N] or null}, "times": {name: [first, last] or null},
              "hits": {basin: {name: {"bbox": clipped [W,S,E,N], "time": clipped [a, b] or null}}},
              "hits_any_time": the same without the time range}

Extents are grid-cell edges (centre +- half a step) read with xarray/h5netcdf/ecCodes, or rasterio's
bounds (transformed to WGS 84 with transform_bounds, densify 21, for projected rasters); a dataset
matches a basin when shapely says its box intersects the basin polygon.
"""
import json
import sys
import warnings

import numpy as np
import rasterio
import shapely
import xarray as xr
from rasterio.warp import transform_bounds
from shapely.geometry import box, shape


def wrap(w, e):
    if e - w >= 360 - 1e-9:
        return -180.0, 180.0
    w2 = (w + 180.0) % 360.0 - 180.0
    e2 = w2 + (e - w)
    return w2, (e2 - 360.0 if e2 > 180.0 else e2)


def edges(values):
    v = np.asarray(values, dtype="f8")
    lo, hi = float(v.min()), float(v.max())
    h = (hi - lo) / (len(v) - 1) / 2 if len(v) > 1 else 0.0
    return lo - h, hi + h


def grib_extent_and_times(f):
    """Grid edges of the first message and the run times of all, read with ecCodes."""
    import eccodes

    times, bbox = [], None
    with open(f, "rb") as fh:
        while (h := eccodes.codes_grib_new_from_file(fh)) is not None:
            try:
                d, t = eccodes.codes_get(h, "dataDate"), eccodes.codes_get(h, "dataTime")
                times.append(np.datetime64(f"{d // 10000:04d}-{d // 100 % 100:02d}-{d % 100:02d}T{t // 100:02d}:{t % 100:02d}", "s"))
                if bbox is None:
                    g = lambda k: eccodes.codes_get_double(h, k)
                    lon = [g("longitudeOfFirstGridPointInDegrees"), g("longitudeOfLastGridPointInDegrees")]
                    lat = [g("latitudeOfFirstGridPointInDegrees"), g("latitudeOfLastGridPointInDegrees")]
                    ni, nj = eccodes.codes_get(h, "Ni"), eccodes.codes_get(h, "Nj")
                    if lon[1] < lon[0]:
                        lon[1] += 360.0
                    w, e = wrap(*edges(np.linspace(lon[0], lon[1], ni)))
                    s, n = edges(np.linspace(min(lat), max(lat), nj))
                    bbox = [w, max(s, -90.0), e, min(n, 90.0)]
            finally:
                eccodes.codes_release(h)
    return bbox, times


def open_ds(f):
    if f.endswith(".HDF5"):
        return xr.open_dataset(f, engine="h5netcdf", group="Grid", decode_times=False)
    return xr.open_dataset(f, decode_times=False)


def find(ds, names, units):
    for n in list(ds.coords) + list(ds.variables):
        if n in names or str(ds[n].attrs.get("units", "")).startswith(units):
            return ds[n]
    return None


def extent_and_time(files):
    if files[0].endswith(".tif"):
        with rasterio.open(files[0]) as r:
            b = r.bounds
            if not r.crs.is_geographic:
                b = transform_bounds(r.crs, "EPSG:4326", *b, densify_pts=21)
            return [b[0], b[1], b[2], b[3]], None
    times = []
    bbox = None
    # Files are in time order: the first and the last bound the time range.
    for f in sorted({files[0], files[-1]}):
        if f.endswith((".grib", ".grib2")):
            b, t = grib_extent_and_times(f)
            bbox = bbox or b
            times += t
            continue
        ds = open_ds(f)
        if bbox is None:
            lon = find(ds, ("lon", "longitude", "X"), "degree_east")
            lat = find(ds, ("lat", "latitude", "Y"), "degree_north")
            if lon is not None and lat is not None:
                if lon.ndim == 0:
                    x, y = float(lon), float(lat)
                    w, _ = wrap(x, x)
                    bbox = [w, y, w, y]
                else:
                    w, e = wrap(*edges(lon.values))
                    s, n = edges(lat.values)
                    bbox = [w, max(s, -90.0), e, min(n, 90.0)]
        t = ds["time"] if "time" in ds.variables else None
        if t is not None and t.ndim <= 1 and t.size:
            dec = xr.decode_cf(t.to_dataset(name="t"))["t"].values if t.dtype.kind != "M" else t.values
            times += [np.datetime64(x, "s") for x in np.atleast_1d(dec)]
    time = [str(min(times)), str(max(times))] if times else None
    return bbox, time


def main():
    warnings.simplefilter("ignore")
    spec = json.load(open(sys.argv[1]))
    start, end = np.datetime64(spec["start"], "s"), np.datetime64(spec["end"], "s")
    extents, times = {}, {}
    for name, files in spec["datasets"].items():
        extents[name], times[name] = extent_and_time(files)
    hits, hits_any_time = {}, {}
    for path in spec["basins"]:
        hits[path] = basin_hits(path, extents, times, start, end)
        hits_any_time[path] = basin_hits(path, extents, times, None, None)
    print(json.dumps({"extents": extents, "times": times, "hits": hits, "hits_any_time": hits_any_time}))


def basin_hits(path, extents, times, start, end):
    gj = json.load(open(path))
    feats = gj["features"] if gj.get("type") == "FeatureCollection" else [gj]
    poly = shapely.union_all([shape(f["geometry"] if "geometry" in f else f) for f in feats])
    qb = poly.bounds
    out = {}
    for name, b in extents.items():
        if b is None:
            continue
        w, s, e, n = b
        if w == e and s == n:
            parts = [shapely.Point(w, s)]
        else:
            parts = [box(w, s, e, n)] if w <= e else [box(w, s, 180, n), box(-180, s, e, n)]
        if not any(p.intersects(poly) for p in parts):
            continue
        t = times[name]
        if t is not None and start is not None:
            lo, hi = max(np.datetime64(t[0]), start), min(np.datetime64(t[1]), end)
            if lo > hi:
                continue
            t = [str(lo), str(hi)]
        clipped = [p.intersection(box(*qb)).bounds for p in parts if p.intersects(box(*qb))]
        cb = [min(c[0] for c in clipped), min(c[1] for c in clipped),
              max(c[2] for c in clipped), max(c[3] for c in clipped)]
        out[name] = {"bbox": cb, "time": t}
    return out


if __name__ == "__main__":
    main()
