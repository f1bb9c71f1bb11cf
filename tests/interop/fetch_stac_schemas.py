"""Download the STAC extension JSON schemas that stac_check.py validates against into a local
cache, following every $ref, so tests never reach the network. Run once at install time (.ci/run
does). The STAC 1.1.0 core and GeoJSON schemas are not fetched: pystac ships them.

Usage: python fetch_stac_schemas.py CACHE_DIR
Exits 0 even when the schema host cannot be reached (it prints why): the check then skips schema
validation unless HOD_REQUIRE_STAC_SCHEMAS=1.
"""
import hashlib
import json
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urldefrag, urljoin

BASE = "https://schemas.stacspec.org/v1.1.0"
CORE = {
    "Catalog": f"{BASE}/catalog-spec/json-schema/catalog.json",
    "Collection": f"{BASE}/collection-spec/json-schema/collection.json",
    "Feature": f"{BASE}/item-spec/json-schema/item.json",
}
EXTENSIONS = [
    "https://stac-extensions.github.io/datacube/v2.2.0/schema.json",
    "https://stac-extensions.github.io/scientific/v1.0.0/schema.json",
]


def cache_path(cache, uri):
    uri = urldefrag(uri)[0]
    return Path(cache) / (hashlib.sha256(uri.encode()).hexdigest()[:24] + ".json")


def refs(node, base):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str) and not v.startswith("#"):
                yield urldefrag(urljoin(base, v))[0]
            else:
                yield from refs(v, base)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v, base)


def main():
    cache = Path(sys.argv[1])
    cache.mkdir(parents=True, exist_ok=True)
    from pystac.validation.local_validator import get_local_schema_cache

    bundled = set(get_local_schema_cache())
    todo, seen = list(EXTENSIONS), set(bundled)
    try:
        while todo:
            uri = todo.pop()
            if uri in seen:
                continue
            seen.add(uri)
            p = cache_path(cache, uri)
            if not p.exists():
                with urllib.request.urlopen(uri, timeout=30) as r:
                    p.write_bytes(r.read())
            doc = json.loads(p.read_text())
            base = doc.get("$id", uri) if isinstance(doc, dict) else uri
            todo.extend(u for u in refs(doc, base) if u not in seen)
    except Exception as e:  # network, DNS, HTTP: reported, not fatal at install time
        print(f"fetch_stac_schemas: cannot fetch {uri}: {e}; schema validation will be skipped", file=sys.stderr)
        return
    print(f"fetch_stac_schemas: {len(seen - bundled)} schemas in {cache}")


if __name__ == "__main__":
    main()
