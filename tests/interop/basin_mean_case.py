"""Synthetic gridded data over a basin, and exactextract's basin means of it.

  python basin_mean_case.py make OUT.nc W S E N DEG [--ascending] [--lon360] [--steps N] [--nc3]
      writes variable `v` (time, lat, lon), float64, a smooth field with some NaN cells that move
      with time, on a DEG grid covering W..E, S..N plus two cells.
  python basin_mean_case.py expect GRID.nc BASINS.geojson
      prints {"times": [...], "means": [[per basin] per step]}: exactextract's
      mean(coverage_weight=area_spherical_m2) of each feature at each step (0..360 longitudes
      are moved to -180..180 first, as exactextract does not wrap).
"""
import json
import sys

import numpy as np


def make(out, w, s, e, n, d, ascending, lon360, steps, nc3=False):
    import xarray as xr

    lon = np.arange(w - 2 * d, e + 2 * d, d) + d / 2
    lat = np.arange(s - 2 * d, n + 2 * d, d) + d / 2
    if not ascending:
        lat = lat[::-1]
    t = np.arange(steps)
    T, LAT, LON = np.meshgrid(t, lat, lon, indexing="ij")
    v = 280 + 5 * np.sin(np.radians(LAT) * 40 + T) + 3 * np.cos(np.radians(LON) * 25) + 0.1 * T
    ii = np.indices(v.shape)
    v[(ii[0] + 3 * ii[1] + 7 * ii[2]) % 13 == 0] = np.nan
    if lon360:
        lon = lon % 360
    ds = xr.Dataset(
        {"v": (("time", "lat", "lon"), v, {"units": "K"})},
        coords={
            "time": ("time", t.astype("f8"), {"units": "days since 2020-01-01", "calendar": "standard"}),
            "lat": ("lat", lat, {"units": "degrees_north", "standard_name": "latitude"}),
            "lon": ("lon", lon, {"units": "degrees_east", "standard_name": "longitude"}),
        },
    )
    ds.to_netcdf(out, format="NETCDF3_CLASSIC" if nc3 else "NETCDF4")


def expect(grid, basins):
    import xarray as xr
    from exactextract import exact_extract
    from exactextract.raster import NumPyRasterSource

    da = xr.open_dataset(grid)["v"]
    lon = da["lon"].values
    if lon.max() > 180:
        lon = np.where(lon > 180, lon - 360, lon)
    lat = da["lat"].values
    vals = da.values
    if lat[0] < lat[-1]:
        lat, vals = lat[::-1], vals[:, ::-1, :]
    order = np.argsort(lon)
    lon, vals = lon[order], vals[:, :, order]
    dx, dy = (lon[-1] - lon[0]) / (len(lon) - 1), (lat[0] - lat[-1]) / (len(lat) - 1)
    feats = json.load(open(basins))
    feats = feats["features"] if feats.get("type") == "FeatureCollection" else [feats]
    means = []
    for k in range(vals.shape[0]):
        r = NumPyRasterSource(np.ascontiguousarray(vals[k]), xmin=lon[0] - dx / 2, xmax=lon[-1] + dx / 2,
                              ymin=lat[-1] - dy / 2, ymax=lat[0] + dy / 2,
                              srs_wkt='GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
                                      'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]]')
        res = exact_extract(r, feats, ["m=mean(coverage_weight=area_spherical_m2)"], output="geojson")
        means.append([f["properties"]["m"] for f in res])
    json.dump({"means": means}, sys.stdout)


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "make":
        steps = int(a[a.index("--steps") + 1]) if "--steps" in a else 4
        make(a[1], *map(float, a[2:7]), "--ascending" in a, "--lon360" in a, steps, "--nc3" in a)
    else:
        expect(a[1], a[2])
