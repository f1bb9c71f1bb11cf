"""Thiessen weights (and areal series) the way ../shared/bench/peer_voronoi.py computes them:
pyproj Lambert azimuthal equal-area centred on the basin's centroid, scipy.spatial.Voronoi with
four far dummy sites, shapely intersection with the basin; weight = area(cell ∩ basin) / area(basin).

    python compare_thiessen.py BASIN.geojson STATIONS.csv [SERIES.csv]

STATIONS.csv: id,lon,lat with a header. SERIES.csv: time,<id>,... (empty = missing); the areal
value at each step uses the weights of the stations present at that step.
Prints JSON: {"weights": [...], "areal": [...]} (areal only with a series; null where none present).
"""
import json
import sys

import numpy as np
import shapely
from pyproj import CRS, Transformer
from scipy.spatial import Voronoi


def thiessen_weights(pts, basin):
    # verbatim from peer_voronoi.py
    minx, miny, maxx, maxy = basin.bounds
    span = max(maxx - minx, maxy - miny, 1.0)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    far = 10 * span
    dummies = np.array([[cx - far, cy - far], [cx + far, cy - far],
                        [cx + far, cy + far], [cx - far, cy + far]])
    vor = Voronoi(np.vstack([pts, dummies]))
    cells = []
    for i in range(len(pts)):
        region = vor.regions[vor.point_region[i]]
        if not region or -1 in region:
            cells.append(shapely.Polygon())
            continue
        cells.append(shapely.Polygon(vor.vertices[region]))
    cells = np.array(cells, dtype=object)
    clipped = shapely.intersection(cells, basin)
    areas = shapely.area(clipped)
    return areas / basin.area


def main():
    gj = json.load(open(sys.argv[1]))
    feats = gj["features"] if gj.get("type") == "FeatureCollection" else [gj]
    geoms = [shapely.geometry.shape(f["geometry"] if f.get("type") == "Feature" else f) for f in feats]
    basin_ll = geoms[0] if len(geoms) == 1 else shapely.union_all(geoms)
    rows = [l.strip().split(",") for l in open(sys.argv[2]) if l.strip()][1:]
    ids = [r[0] for r in rows]
    ll = np.array([[float(r[1]), float(r[2])] for r in rows])
    c = basin_ll.centroid
    laea = CRS.from_proj4(f"+proj=laea +lat_0={c.y} +lon_0={c.x} +datum=WGS84 +units=m")
    tr = Transformer.from_crs(CRS.from_epsg(4326), laea, always_xy=True)
    basin = shapely.transform(basin_ll, lambda xy: np.c_[tr.transform(xy[:, 0], xy[:, 1])])
    px, py = tr.transform(ll[:, 0], ll[:, 1])
    pts = np.c_[px, py]
    out = {"weights": thiessen_weights(pts, basin).tolist()}
    if len(sys.argv) > 3:
        lines = [l.rstrip("\n").split(",") for l in open(sys.argv[3]) if l.strip()]
        cols = [ids.index(h) for h in lines[0][1:]]
        cache, areal = {}, []
        for r in lines[1:]:
            v = np.array([float(x) if x not in ("", "NaN", "nan") else np.nan for x in r[1:]])
            present = tuple(k for k in range(len(cols)) if not np.isnan(v[k]))
            if not present:
                areal.append(None)
                continue
            if present not in cache:
                sel = [cols[k] for k in present]
                cache[present] = thiessen_weights(pts[sel], basin)
            areal.append(float(np.dot(cache[present], v[list(present)])))
        out["areal"] = areal
    print(json.dumps(out))


if __name__ == "__main__":
    main()
