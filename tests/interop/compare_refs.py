"""Open hod's kerchunk export with xarray and compare every variable with the original files
opened by xarray's own engine for them (netCDF4 or cfgrib), concatenated along the concat dim.

Usage: python compare_refs.py REFS.json ENGINE CONCAT_DIM FILE...
"""
import sys

import numpy as np
import xarray as xr


def main():
    refs, engine, dim, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    ours = xr.open_dataset(
        "reference://",
        engine="zarr",
        backend_kwargs={"consolidated": False, "storage_options": {"fo": refs}},
    )
    kwargs = {"indexpath": ""} if engine == "cfgrib" else {}
    parts = [xr.open_dataset(f, engine=engine, backend_kwargs=kwargs or None) for f in files]
    bad, checked = [], 0
    for name in ours.variables:
        present = [p for p in parts if name in p.variables]
        if not present:
            bad.append(f"{name}: not in the original files")
            continue
        a = ours[name].values
        if dim in present[0][name].dims and len(present) > 1:
            b = xr.concat([p[name] for p in present], dim=dim).values
        else:
            b = present[0][name].values
        if a.shape != b.shape:
            a, b = np.squeeze(a), np.squeeze(b)
        if a.dtype.kind in "fc" or b.dtype.kind in "fc":
            ok = a.shape == b.shape and np.array_equal(a.astype(np.float64), b.astype(np.float64), equal_nan=True)
        else:
            ok = a.shape == b.shape and np.array_equal(a, b)
        if not ok:
            bad.append(f"{name}: differs (ours {a.dtype}{a.shape} vs {engine} {b.dtype}{b.shape})")
        checked += 1
    print(f"{refs}: {checked} variables equal to {engine} over {len(files)} files" + (f"; {len(bad)} problems" if bad else ""))
    for b in bad:
        print("  " + b)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
