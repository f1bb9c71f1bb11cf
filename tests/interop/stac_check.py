"""Validate a hod store's STAC and walk it with pystac, offline.

Usage: python stac_check.py STORE_DIR [SCHEMA_CACHE_DIR]
- pystac opens STORE_DIR/stac/catalog.json and walks every collection and item; relative asset
  hrefs must point at files that exist.
- Every document is validated with jsonschema against the STAC 1.1.0 schema of its type and the
  schemas of its stac_extensions, all resolved from SCHEMA_CACHE_DIR (filled at install time by
  fetch_stac_schemas.py; nothing is fetched here). Without a cache the schema step is skipped,
  unless HOD_REQUIRE_STAC_SCHEMAS=1.
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


def validate(docs, cache):
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    def retrieve(uri):
        p = cache_path(cache, uri)
        if not p.exists():
            raise LookupError(f"schema {uri} is not in the cache {cache}")
        return Resource.from_contents(json.loads(p.read_text()), default_specification=DRAFT7)

    registry = Registry(retrieve=retrieve)
    errors = []
    for path, doc in docs:
        schemas = [CORE[doc["type"]]] + list(doc.get("stac_extensions", []))
        for uri in schemas:
            schema = retrieve(uri).contents
            cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
            v = cls(schema, registry=registry)
            for e in v.iter_errors(doc):
                errors.append(f"{path}: {uri}: {e.message} at {list(e.absolute_path)}")
    return errors


def main():
    store = Path(sys.argv[1])
    cache = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    root = store / "stac" / "catalog.json"
    collections, items, problems = walk(root)
    docs = [(str(p), json.loads(p.read_text())) for p in sorted((store / "stac").rglob("*.json"))
            if p.name != "kerchunk.json"]
    have_cache = cache is not None and all(cache_path(cache, u).exists() for u in CORE.values())
    if have_cache:
        errors = validate(docs, cache)
        validated = len(docs)
    elif os.environ.get("HOD_REQUIRE_STAC_SCHEMAS") == "1":
        errors, validated = [f"no STAC schema cache at {cache}"], 0
    else:
        print(f"SKIP schema validation: no STAC schema cache at {cache}", file=sys.stderr)
        errors, validated = [], 0
    print(json.dumps({"collections": collections, "items": items, "documents": len(docs),
                      "validated": validated, "problems": problems, "errors": errors[:50]}))
    sys.exit(1 if problems or errors else 0)


if __name__ == "__main__":
    main()
