"""Compare raw arrays dumped by hod (one .npy per variable) with what the reference tool reads
from the original file: netCDF4-python (mask/scale off), h5py, cfgrib/ecCodes or rasterio.

Usage: python compare_raw.py DUMP_DIR   (DUMP_DIR/manifest.json is written by the Rust test)
Exits non-zero listing every variable that differs or that hod did not produce.
"""
import json
import sys
from pathlib import Path

import numpy as np


def same(ours, ref):
    ref = np.asarray(ref, dtype=np.float64)
    if ours.shape != ref.shape:
        ours, ref = np.squeeze(ours), np.squeeze(ref)
    return ours.shape == ref.shape and np.array_equal(ours, ref, equal_nan=True)


def netcdf4_vars(path):
    import netCDF4

    out = {}

    def walk(group, prefix):
        group.set_auto_maskandscale(False)
        for name, var in group.variables.items():
            if var.dtype == str or var.dtype.kind in "OSU":
                out[prefix + name] = None  # strings: not chunk-referenceable
            else:
                out[prefix + name] = np.asarray(var[...])
        for gname, sub in group.groups.items():
            walk(sub, prefix + gname + "/")

    with netCDF4.Dataset(path) as ds:
        walk(ds, "")
    return out


def h5py_vars(path):
    import h5py

    out = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            if obj.dtype.kind in "OSUV":
                out[name] = None
            elif "This is a netCDF dimension but not a netCDF variable" in str(obj.attrs.get("NAME", b"")):
                pass
            else:
                out[name] = obj[()]

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return out


def rasterio_vars(path):
    import rasterio

    with rasterio.open(path) as ds:
        band = ds.read(1) if ds.count == 1 else ds.read()
        rows, cols = np.arange(ds.height), np.arange(ds.width)
        xs = np.array([ds.xy(0, c)[0] for c in cols])
        ys = np.array([ds.xy(r, 0)[1] for r in rows])
    return {"band_data": band, "x": xs, "y": ys}


LEVEL_SKIP = {"latitude", "longitude", "time", "step", "valid_time", "number"}


def cfgrib_match(path, ours, dump):
    """cfgrib splits a GRIB file into hypercubes; find each of our variables in them.

    hod gives a file one level coordinate per level type (the union of its variables' levels),
    where cfgrib gives each hypercube only its own levels: our values are compared at cfgrib's
    levels, and our other levels must be all-NaN (no message)."""
    import re

    import cfgrib

    datasets = cfgrib.open_datasets(str(path), backend_kwargs={"indexpath": ""})
    coords = {}
    for name, info in ours.items():
        if len(info["shape"]) == 1 and name not in LEVEL_SKIP and name in info.get("dims", [name]):
            coords[name] = np.load(dump / info["npy"])
    out = {}
    for name, info in ours.items():
        attrs = info.get("attrs", {})
        level = attrs.get("GRIB_typeOfLevel")
        short = attrs.get("GRIB_cfVarName") or name
        if re.fullmatch(r"p\d+_\d+_\d+", name):
            short = "unknown"
        step_type = attrs.get("GRIB_stepType")
        if name in coords or name in ("latitude", "longitude"):
            # A coordinate: cfgrib's values (in any hypercube) must be among ours.
            mine = np.load(dump / info["npy"])
            refs = [np.atleast_1d(ds[name].values).astype(np.float64) for ds in datasets if name in ds.coords]
            if refs:
                out[name] = mine if any(np.isin(r, mine).all() for r in refs) else refs[0]
            continue
        for ds in datasets:
            for dv in ds.data_vars.values():
                if dv.name not in (short, name):
                    continue
                if level and dv.attrs.get("GRIB_typeOfLevel") != level:
                    continue
                if step_type and dv.attrs.get("GRIB_stepType") != step_type:
                    continue
                out[name] = align(dv, info, dump, coords)
                break
            if name in out:
                break
    return out


def eccodes_stack(path, attrs):
    """Values of the messages with our parameter and level type, read with ecCodes directly
    (for parameters ecCodes has no name for: cfgrib calls them all 'unknown' and keeps one)."""
    import eccodes

    keys = {"discipline": "GRIB_discipline", "parameterCategory": "GRIB_parameterCategory",
            "parameterNumber": "GRIB_parameterNumber", "typeOfLevel": "GRIB_typeOfLevel"}
    fields = []
    with open(path, "rb") as f:
        while (h := eccodes.codes_grib_new_from_file(f)) is not None:
            try:
                if all(str(eccodes.codes_get(h, k)) == str(attrs.get(a)) for k, a in keys.items() if a in attrs):
                    ni, nj = eccodes.codes_get(h, "Ni"), eccodes.codes_get(h, "Nj")
                    v = eccodes.codes_get_values(h).astype(np.float32).astype(np.float64)
                    if eccodes.codes_get(h, "bitmapPresent"):
                        v[v == eccodes.codes_get(h, "missingValue")] = np.nan
                    fields.append(v.reshape(nj, ni))
            finally:
                eccodes.codes_release(h)
    return np.stack(fields) if fields else None


def align(dv, info, dump, coords):
    """cfgrib's values laid out on our level axis (NaN where cfgrib has no such level)."""
    dims = info.get("dims", [])
    level_dims = [d for d in dims if d in coords]
    ref = dv.values
    if not level_dims:
        return ref
    d = level_dims[0]
    ours_levels = coords[d]
    theirs = np.atleast_1d(dv[d].values).astype(np.float64) if d in dv.coords else None
    if theirs is None:
        return ref
    full_shape = list(info["shape"])
    axis = dims.index(d)
    # Squeeze our singleton dims that cfgrib drops, keeping the level axis.
    kept = [i for i, n in enumerate(full_shape) if n != 1 or i == axis]
    shape = [full_shape[i] for i in kept]
    lax = kept.index(axis)
    ref = np.asarray(ref, dtype=np.float64).reshape([n if i != lax else len(theirs) for i, n in enumerate(shape)])
    out = np.full(shape, np.nan)
    idx = [int(np.nonzero(ours_levels == t)[0][0]) for t in theirs]
    sl = [slice(None)] * len(shape)
    sl[lax] = idx
    out[tuple(sl)] = ref
    return out.reshape(full_shape)


def main():
    dump = Path(sys.argv[1])
    manifest = json.loads((dump / "manifest.json").read_text())
    path, tool, ours = manifest["file"], manifest["tool"], manifest["variables"]
    if tool == "netcdf4":
        ref = netcdf4_vars(path)
    elif tool == "h5py":
        ref = h5py_vars(path)
    elif tool == "rasterio":
        ref = rasterio_vars(path)
    elif tool == "cfgrib":
        ref = cfgrib_match(path, ours, dump)
    else:
        sys.exit(f"unknown tool {tool}")
    skipped = set(manifest.get("skipped", []))
    bad, checked = [], 0
    for name, info in ours.items():
        if name not in ref:
            if tool in ("cfgrib",) and name in ("time", "step", "valid_time", "number") or info["shape"] == []:
                continue  # cfgrib encodes time/step coordinates as datetimes; checked via kerchunk tests
            bad.append(f"{name}: not found by {tool}")
            continue
        if ref[name] is None:
            bad.append(f"{name}: {tool} sees a string variable that hod produced")
            continue
        values = np.load(dump / info["npy"])
        if tool == "cfgrib" and not same(values, ref[name]) and "GRIB_discipline" in info.get("attrs", {}):
            direct = eccodes_stack(path, info["attrs"])
            if direct is not None and same(values, direct):
                ref[name] = direct
        if not same(values, ref[name]):
            r = np.asarray(ref[name], dtype=np.float64)
            diff = np.nanmax(np.abs(values.reshape(-1)[: r.size] - r.reshape(-1)[: values.size])) if r.size == values.size else "shape"
            bad.append(f"{name}: differs from {tool} (shape ours {values.shape} vs {r.shape}, max diff {diff})")
        checked += 1
    if tool in ("netcdf4", "h5py", "rasterio"):
        for name, arr in ref.items():
            if name not in ours and arr is not None and name not in skipped:
                bad.append(f"{name}: read by {tool} but missing from hod")
    print(f"{path}: {checked} variables equal to {tool}" + (f"; {len(bad)} problems" if bad else ""))
    for b in bad:
        print("  " + b)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
