"""Writes the small GeoTIFF fixtures of tests/geotiff.rs with GDAL (rasterio 1.4.4, GDAL 3.10.3).

Pixel values follow `value()` so the Rust test recomputes them without a copy.
Run: python make_fixtures.py (in this folder).
"""
import numpy as np
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

W, H = 45, 37


def value(dtype, bands):
    b, r, c = np.meshgrid(np.arange(bands), np.arange(H), np.arange(W), indexing="ij")
    if np.dtype(dtype).kind == "f":
        return ((r * W + c) * 0.25 - 100.5 + b * 1000).astype(dtype)
    return ((r * 37 + c * 11 + b * 101) % 251 * (-1 if np.dtype(dtype).kind == "i" else 1)).astype(dtype)


def write(name, dtype, bands, crs="EPSG:4326", transform=from_origin(10.0, 50.0, 0.5, 0.25), tags=None, **opts):
    with rasterio.open(name, "w", driver="GTiff", width=W, height=H, count=bands, dtype=dtype,
                       crs=crs, transform=transform, **opts) as ds:
        ds.write(value(dtype, bands))
        if tags:
            ds.update_tags(**tags)


write("u16_3band_pixel_lzw_pred2_strips.tif", "uint16", 3, interleave="pixel", compress="lzw",
      predictor=2, blockysize=5)
write("f32_lzw_pred3_bigtiff_be_tiled.tif", "float32", 1, compress="lzw", predictor=3, tiled=True,
      blockxsize=16, blockysize=16, BIGTIFF="YES", ENDIANNESS="BIG", nodata=float("nan"))
write("i32_2band_band_deflate_pred2_tiled_be_point.tif", "int32", 2, interleave="band", compress="deflate",
      predictor=2, tiled=True, blockxsize=16, blockysize=16, ENDIANNESS="BIG",
      crs="EPSG:32633", transform=from_origin(500000.0, 4000000.0, 30.0, 30.0), tags={"AREA_OR_POINT": "Point"})
write("f64_2band_pixel_lzw_pred3.tif", "float64", 2, interleave="pixel", compress="lzw", predictor=3,
      blockysize=8, nodata=-9999.0)
write("u8_jpeg.tif", "uint8", 1, compress="jpeg", tiled=True, blockxsize=16, blockysize=16)

# Sparse: only the top-left 16x16 tile is written, the others have offset 0.
with rasterio.open("u8_sparse_tiled.tif", "w", driver="GTiff", width=W, height=H, count=1, dtype="uint8",
                   tiled=True, blockxsize=16, blockysize=16, SPARSE_OK="TRUE", nodata=0) as ds:
    ds.write(np.full((16, 16), 7, dtype="uint8"), 1, window=Window(0, 0, 16, 16))
