"""Validate a hod store's STAC and walk it with pystac, offline.

Usage: python stac_check.py STORE_DIR [SCHEMA_CACHE_DIR]
- pystac opens STORE_DIR/stac/catalog.json and walks every collection and item; relative asset
  hrefs must point at files that exist.
- Every document is validated with jsonschema against the STAC 1.1.0 schema of its type and the
  schemas of its stac_extensions. Nothing is fetched here: the STAC 1.1.0 core and GeoJSON
  schemas come with pystac; extension schemas come from SCHEMA_CACHE_DIR (filled at install time
  by fetch_stac_schemas.py). An extension schema missing from the cache is skipped with a note,
  or an error when HOD_REQUIRE_STAC_SCHEMAS=1.
Prints a JSON summary; exits non-zero on any failure.
"""
import json
import os
import sys
from pathlib import Path

import pystac
from fetch_stac_schemas import CORE, cache_path


def missing(href):
    """Whether a local asset href points at nothing (remote ones are not checked)."""
    if not href or href.startswith(("s3://", "http://", "https://")):
        return False
    return not Path(href.removeprefix("file://")).exists()


def walk(root_path):
    cat = pystac.Catalog.from_file(str(root_path))
    collections, items, problems = 0, 0, []
    for c in cat.get_children():
        collections += 1
        for a in c.assets.values():
            if missing(a.get_absolute_href()):
                problems.append(f"{c.id}: asset {a.href} missing")
        for it in c.get_items():
            items += 1
            if it.collection_id != c.id:
                problems.append(f"item {it.id}: collection {it.collection_id} != {c.id}")
            for a in it.assets.values():
                if missing(a.get_absolute_href()):
                    problems.append(f"item {it.id}: asset {a.href} missing")
    return collections, items, problems


def bundled():
    """The STAC 1.1.0 core and GeoJSON schemas that pystac ships, by URI."""
    from pystac.validation.local_validator import get_local_schema_cache

    return get_local_schema_cache()


def validate(docs, cache):
    """Errors of every document, and the extension schemas that could not be checked."""
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    local = bundled()

    def contents(uri):
        uri = uri.split("#")[0]
        if uri in local:
            return local[uri]
        p = cache_path(cache, uri) if cache else None
        if p is None or not p.exists():
            raise LookupError(f"schema {uri} is neither bundled with pystac nor in the cache {cache}")
        return json.loads(p.read_text())

    registry = Registry(retrieve=lambda uri: Resource.from_contents(contents(uri), default_specification=DRAFT7))
    errors, skipped = [], set()
    for path, doc in docs:
        for uri in [CORE[doc["type"]]] + list(doc.get("stac_extensions", [])):
            try:
                schema = contents(uri)
            except LookupError:
                skipped.add(uri)
                continue
            cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
            try:
                for e in cls(schema, registry=registry).iter_errors(doc):
                    errors.append(f"{path}: {uri}: {e.message} at {list(e.absolute_path)}")
            except Exception as e:  # an unresolvable $ref inside a cached schema
                errors.append(f"{path}: {uri}: {e}")
    return errors, sorted(skipped)


def main():
    store = Path(sys.argv[1])
    cache = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    root = store / "stac" / "catalog.json"
    collections, items, problems = walk(root)
    docs = [(str(p), json.loads(p.read_text())) for p in sorted((store / "stac").rglob("*.json"))
            if p.name != "kerchunk.json"]
    errors, skipped = validate(docs, cache)
    if skipped:
        msg = f"extension schemas not in the cache {cache}: {skipped}"
        if os.environ.get("HOD_REQUIRE_STAC_SCHEMAS") == "1":
            errors.append(msg)
        else:
            print(f"SKIP {msg}", file=sys.stderr)
    print(json.dumps({"collections": collections, "items": items, "documents": len(docs),
                      "skipped_schemas": skipped, "problems": problems, "errors": errors[:50]}))
    sys.exit(1 if problems or errors else 0)


if __name__ == "__main__":
    main()
