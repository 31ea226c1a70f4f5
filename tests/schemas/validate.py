#!/usr/bin/env python3
"""Validates JSON documents against one of pp's JSON Schemas (schemas/*.schema.json, draft 2020-12).

usage: validate.py SCHEMA DOC...

SCHEMA is a schema file (schemas/plan.schema.json) or a kind (plan, cluster, profile, schedule,
simulate, compare, trace, run, plan-infeasible: schemas/<kind>.schema.json beside this repository's
tests/), optionally with a JSON pointer into it: "plan#/$defs/written" checks a plan as pp writes
it. The schema is checked first (Draft202012Validator.check_schema); every *.schema.json in its
directory is registered under its $id, so references between them resolve locally, never over
the network. Exit 0 when every DOC is valid; 1 when one is not (the first error of each on
stderr); 2 when the schema itself is broken or cannot be read.
Works with python3-jsonschema 4.10 (Debian 12) and with jsonschema >= 4.18 (referencing).
"""
import json
import pathlib
import sys

import jsonschema

REPO_SCHEMAS = pathlib.Path(__file__).resolve().parent.parent.parent / "schemas"


def schema_path(spec):
    """The schema file and the JSON pointer ("" for the whole schema) that SCHEMA names."""
    path, _, pointer = spec.partition("#")
    p = pathlib.Path(path)
    if not p.suffix:  # a kind
        p = REPO_SCHEMAS / f"{path}.schema.json"
    return p, pointer


def load_directory(directory):
    """Every schema of the directory by $id, each checked against draft 2020-12's metaschema."""
    schemas = {}
    for p in sorted(pathlib.Path(directory).glob("*.schema.json")):
        schema = json.loads(p.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        schemas[schema.get("$id", p.resolve().as_uri())] = schema
    return schemas


def validator(spec):
    """A Draft202012Validator for SCHEMA (see the module's docstring)."""
    path, pointer = schema_path(spec)
    root = json.loads(path.read_text())
    jsonschema.Draft202012Validator.check_schema(root)
    schemas = load_directory(path.parent)
    base = root.get("$id", path.resolve().as_uri())
    schemas[base] = root
    target = {"$ref": f"{base}#{pointer}"} if pointer else root
    try:  # jsonschema >= 4.18
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        registry = Registry().with_resources(
            (uri, Resource.from_contents(s, default_specification=DRAFT202012)) for uri, s in schemas.items())
        return jsonschema.Draft202012Validator(target, registry=registry)
    except ImportError:  # Debian 12's 4.10
        resolver = jsonschema.RefResolver(base_uri=base, referrer=root, store=dict(schemas))
        return jsonschema.Draft202012Validator(target, resolver=resolver)


def first_error(v, doc):
    """The first error (by place in the document) as "where: message", or None when valid."""
    # Errors that only summarise others (oneOf, unevaluatedProperties after a failed property in
    # jsonschema 4.10) come after the ones that say what is wrong.
    summary = ("oneOf", "anyOf", "unevaluatedProperties", "allOf", "$ref")
    errors = sorted(v.iter_errors(doc), key=lambda e: (e.validator in summary, [str(p) for p in e.absolute_path]))
    if not errors:
        return None
    error = errors[0]
    while error.context:  # the deepest reason a oneOf or anyOf failed
        error = sorted(error.context, key=lambda e: (-len(e.absolute_path), e.validator == "type"))[0]
    where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
    return f"{where}: {error.message[:300]}"


def main(argv):
    if len(argv) < 3 or argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        v = validator(argv[1])
    except (OSError, ValueError, jsonschema.SchemaError) as e:
        print(f"{argv[1]}: not a usable schema: {e}", file=sys.stderr)
        return 2
    failed = 0
    for path in argv[2:]:
        try:
            doc = json.loads(pathlib.Path(path).read_text())
        except (OSError, ValueError) as e:
            failed += 1
            print(f"{path}: not a JSON document: {e}", file=sys.stderr)
            continue
        why = first_error(v, doc)
        if why is not None:
            failed += 1
            print(f"{path}: {why}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
