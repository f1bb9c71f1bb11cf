#!/usr/bin/env python
"""Why pysheds's largest basin on the big synthetic fractals is smaller than ours (docs/BENCHMARKS.md).

    python pysheds_max_iter.py SIDE OUT.tif [MAX_ITER ...]

Writes the watershed bench's fractal DEM (same LCG and value noise as `fractal` in
`watershed.rs`, in numpy float32) as OUT.tif, then for each MAX_ITER (default 1000 100000) runs
pysheds `fill_pits` + `fill_depressions` + `resolve_flats(max_iter=...)` + `flowdir` +
`accumulation` and prints the accumulation maximum and the cells left flat (-1) or pits (-2).
Compare with `hod dem accumulation --dem OUT.tif -o acc.tif --json`.
"""
import sys
import warnings

import numpy as np
import rasterio
from rasterio.transform import from_origin


def fractal(side: int) -> np.ndarray:
    mask, seed = (1 << 64) - 1, 0x9E3779B97F4A7C15
    z = np.zeros((side, side), np.float32)
    for o in range(9):
        cells = 2 << o
        lattice = np.empty((cells + 1) ** 2, np.float32)
        for i in range(lattice.size):
            seed = (seed * 6364136223846793005 + 1442695040888963407) & mask
            lattice[i] = np.float32(seed >> 40) / np.float32(1 << 24)
        lattice = lattice.reshape(cells + 1, cells + 1)
        amp, scale = np.float32(600.0 / (1 << o)), np.float32(cells / side)
        f = np.arange(side, dtype=np.float32) * scale
        i, t = f.astype(np.int64), (f - np.floor(f)).astype(np.float32)
        for r in range(side):
            iy, ty = i[r], t[r]
            top = lattice[iy, i] * (1 - t) + lattice[iy, i + 1] * t
            bot = lattice[iy + 1, i] * (1 - t) + lattice[iy + 1, i + 1] * t
            z[r] += amp * (top * (1 - ty) + bot * ty)
    tilt = np.add.outer(np.arange(side), np.arange(side)).astype(np.float32)
    return np.round(z + np.float32(0.01) * tilt).astype(np.float32)


def main() -> None:
    side, out = int(sys.argv[1]), sys.argv[2]
    iters = [int(a) for a in sys.argv[3:]] or [1000, 100000]
    z = fractal(side)
    profile = dict(driver="GTiff", height=side, width=side, count=1, dtype="float32",
                   crs="EPSG:32633", transform=from_origin(500000, 5000000, 30, 30), compress="deflate")
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(z, 1)
    warnings.filterwarnings("ignore")
    if not hasattr(np, "in1d"):  # pysheds 0.5 calls np.in1d, which NumPy 2.4 removed
        np.in1d = lambda a, b, assume_unique=False, invert=False, **kw: np.isin(
            np.ravel(a), b, assume_unique=assume_unique, invert=invert)
    from pysheds.grid import Grid

    grid = Grid.from_raster(out)
    filled = grid.fill_depressions(grid.fill_pits(grid.read_raster(out)))
    for max_iter in iters:
        fdir = grid.flowdir(grid.resolve_flats(filled, max_iter=max_iter), routing="d8")
        acc = np.asarray(grid.accumulation(fdir, routing="d8"))
        codes = np.asarray(fdir)
        print({"max_iter": max_iter, "acc_max": int(acc.max()),
               "flat_cells": int((codes == -1).sum()), "pit_cells": int((codes == -2).sum())})


if __name__ == "__main__":
    main()
