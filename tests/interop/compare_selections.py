"""Check hod's selections against xarray's `.sel` on the original files.

Usage: python compare_selections.py DUMP_DIR
DUMP_DIR/selections.json: {"files": [...], "engine": "netcdf4"|"cfgrib", "var": "t2m",
  "time_dim": "time", "tolerance": 0.0, "selections": [{"start", "end", "bbox": [W,S,E,N],
  "npy": "s0.npy"}]}; each .npy holds hod's values for that selection.
xarray semantics: ds.sel(time=slice(start, end), latitude=slice(N, S) (descending) or slice(S, N),
longitude=slice(W, E)).
"""
import json
import sys
from pathlib import Path

import numpy as np
import xarray as xr


def main():
    dump = Path(sys.argv[1])
    spec = json.loads((dump / "selections.json").read_text())
    kwargs = {"indexpath": ""} if spec["engine"] == "cfgrib" else {}
    parts = [xr.open_dataset(f, engine=spec["engine"], backend_kwargs=kwargs or None) for f in spec["files"]]
    tdim = spec["time_dim"]
    da = xr.concat([p[spec["var"]] for p in parts], dim=tdim)
    lat = da["latitude"].values
    bad = 0
    for i, s in enumerate(spec["selections"]):
        w, so, e, n = s["bbox"]
        lat_slice = slice(n, so) if lat[0] > lat[-1] else slice(so, n)
        ref = da.sel({tdim: slice(s["start"], s["end"]), "latitude": lat_slice, "longitude": slice(w, e)}).values
        ours = np.load(dump / s["npy"])
        ok = ours.shape == ref.shape and np.allclose(ours, ref.astype(np.float64), rtol=0, atol=spec["tolerance"], equal_nan=True)
        if not ok:
            bad += 1
            print(f"selection {i} {s}: ours {ours.shape} vs xarray {ref.shape}")
    print(f"{len(spec['selections'])} selections, {bad} differ from xarray ({spec['engine']})")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
