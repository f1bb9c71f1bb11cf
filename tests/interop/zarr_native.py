"""Native Zarr v3 stores written by zarr-python (through xarray), and xarray's view of them.

Usage:
  python zarr_native.py make OUT_DIR NC_FILE...   writes OUT_DIR/<variant>.zarr from the files
      concatenated along valid_time, one store per codec/chunking variant; prints their names
  python zarr_native.py stats ZARR VAR             count/mean/min/max of a variable, as xarray reads it
  python zarr_native.py compare DUMP_DIR          DUMP_DIR/selections.json: {"zarr": path,
      "var": "t2m", "time_dim": "valid_time", "selections": [{"start", "end", "bbox": [W,S,E,N],
      "npy": "s0.npy"}]}; each .npy holds hod's values, compared with xarray's `.sel` on the store.
"""
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import xarray as xr
from zarr.codecs import BloscCodec, BytesCodec, Crc32cCodec, GzipCodec, TransposeCodec, ZstdCodec

warnings.simplefilter("ignore")


def make(out, files):
    ds = xr.concat([xr.open_dataset(f) for f in files], "valid_time")
    for v in ds.variables.values():
        v.encoding = {}

    def t2m(**e):
        return {"t2m": e}

    variants = {
        # zarr-python's defaults: zstd, its own chunking; the string coordinate expver is kept.
        "zstd-default": ({}, True),
        # No consolidated metadata: arrays found by listing.
        "gzip": (t2m(compressors=[GzipCodec(level=5)], chunks=(24, 16, 16)), False),
        "blosc-lz4-bitshuffle": (t2m(compressors=[BloscCodec(cname="lz4", shuffle="bitshuffle")], chunks=(48, 33, 49)), True),
        "blosc-default": (t2m(compressors=[BloscCodec()], chunks=(100, 10, 10)), True),
        "sharded": (t2m(chunks=(12, 11, 7), shards=(48, 22, 14)), True),
        "transpose-crc32c-big": (
            t2m(
                filters=[TransposeCodec(order=(2, 0, 1))],
                serializer=BytesCodec(endian="big"),
                compressors=[ZstdCodec(level=3), Crc32cCodec()],
                chunks=(30, 20, 25),
            ),
            True,
        ),
        "v2-keys": (t2m(chunks=(50, 33, 49), chunk_key_encoding={"name": "v2", "separator": "."}), True),
    }
    for name, (encoding, consolidated) in variants.items():
        data = ds if name == "zstd-default" else ds.drop_vars("expver")
        data.to_zarr(Path(out) / f"{name}.zarr", zarr_format=3, encoding=encoding, consolidated=consolidated)
    # A plain zarr-python array with a numeric fill_value and no _FillValue: the chunks that hold
    # only the fill value are not written, and read back as that value (not as missing).
    import zarr

    group = zarr.open_group(Path(out) / "gzip.zarr", mode="a")
    mask = np.where(ds["latitude"].values[:, None] > 54.0, -1.5, ds["longitude"].values[None, :]).astype("float32")
    arr = group.create_array(
        "mask", shape=mask.shape, dtype="float32", chunks=(11, 7), fill_value=-1.5,
        dimension_names=["latitude", "longitude"], compressors=[GzipCodec()],
    )
    arr[:] = mask
    print(json.dumps(list(variants)))


def stats(path, var):
    v = xr.open_zarr(path, consolidated=None)[var].values.astype(np.float64)
    ok = v[~np.isnan(v)]
    print(json.dumps({"shape": list(v.shape), "count": int(ok.size), "mean": float(ok.mean()),
                      "min": float(ok.min()), "max": float(ok.max())}))


def compare(dump):
    spec = json.loads((dump / "selections.json").read_text())
    ds = xr.open_zarr(spec["zarr"], consolidated=None)
    da = ds[spec["var"]]
    tdim = spec["time_dim"]
    lat = da["latitude"].values
    bad = 0
    for i, s in enumerate(spec["selections"]):
        w, so, e, n = s["bbox"]
        lat_slice = slice(n, so) if lat[0] > lat[-1] else slice(so, n)
        ref = da.sel({tdim: slice(s["start"], s["end"]), "latitude": lat_slice, "longitude": slice(w, e)}).values
        ours = np.load(dump / s["npy"])
        if not (ours.shape == ref.shape and np.array_equal(ours, ref.astype(np.float64), equal_nan=True)):
            bad += 1
            print(f"selection {i} {s}: ours {ours.shape} vs xarray {ref.shape}")
    print(f"{spec['zarr']}: {len(spec['selections'])} selections, {bad} differ from xarray")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3:])
    elif sys.argv[1] == "stats":
        stats(sys.argv[2], sys.argv[3])
    else:
        compare(Path(sys.argv[2]))
