#!/usr/bin/env python3
"""Validates JSON documents against one of pp's schemas (schemas/*.schema.json).

usage: validate.py SCHEMA_DIR KIND DOC...   (KIND: plan, cluster, profile, schedule, ...)
Exit 0 when every DOC is valid; 1 with the first error of each invalid one on stderr.
The schemas are checked themselves (Draft 2020-12), and refer to each other by their $id.
"""
import json
import pathlib
import sys

import jsonschema


def load_schemas(directory):
    return {s["$id"]: s for s in (json.loads(p.read_text()) for p in sorted(pathlib.Path(directory).glob("*.schema.json")))}


def validator_for(schemas, kind):
    root = next(s for s in schemas.values() if s["$id"].endswith(f"/{kind}.schema.json"))
    for schema in schemas.values():
        jsonschema.Draft202012Validator.check_schema(schema)
    try:  # jsonschema >= 4.18
        from referencing import Registry, Resource
        registry = Registry().with_resources((i, Resource.from_contents(s)) for i, s in schemas.items())
        return jsonschema.Draft202012Validator(root, registry=registry)
    except ImportError:  # Debian 12's 4.10
        resolver = jsonschema.RefResolver.from_schema(root, store=dict(schemas))
        return jsonschema.Draft202012Validator(root, resolver=resolver)


def main():
    directory, kind, docs = sys.argv[1], sys.argv[2], sys.argv[3:]
    validator = validator_for(load_schemas(directory), kind)
    failed = 0
    for path in docs:
        try:
            doc = json.loads(pathlib.Path(path).read_text())
        except (OSError, ValueError) as e:
            failed += 1
            print(f"{path}: not a JSON document: {e}", file=sys.stderr)
            continue
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
        if errors:
            failed += 1
            where = "/".join(str(p) for p in errors[0].path) or "(root)"
            print(f"{path}: {where}: {errors[0].message[:300]}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
