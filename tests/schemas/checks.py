#!/usr/bin/env python3
"""The parts of test_schemas.sh that run in one Python process, printing "ok - NAME" or
"not ok - NAME" lines (details as "#   " lines) for the shell test to count.

usage: checks.py lint SCHEMA_DIR DOCS_PAGE SCHEDULE_NAME...
         The schemas themselves: each a valid draft 2020-12 schema with its $id, title, a
         description (or a $ref) on every property, every required field described, and only
         references within the file; the "schema" header each names; the $defs
         that several files carry identical; the schedule names those of pp's catalogue
         (SCHEDULE_NAME...); DOCS_PAGE naming every schema file.
       checks.py cases SCHEMA_DIR CASES
         Mutated documents: each line of CASES is NAME TAB SCHEMA TAB BASE TAB OUT TAB EXPECT TAB
         CODE: the document BASE, changed by the Python statement CODE (the document is d), is
         written to OUT and must be EXPECT ("valid" or "invalid") under SCHEMA, a kind with an
         optional JSON pointer ("plan", "plan#/$defs/written") in SCHEMA_DIR. With
         PP_SCHEMA_TEST_VERBOSE set, the reason of each rejection follows its line.
"""
import json
import os
import pathlib
import sys

import jsonschema

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import validate  # noqa: E402

DRAFT = "https://json-schema.org/draft/2020-12/schema"
# The document each schema file describes: its "schema" header, and where the header is.
HEADERS = {
    "plan": ("pp.plan", ()),
    "plan-infeasible": ("pp.plan-infeasible", ()),
    "cluster": ("pp.cluster", ("$defs", "cluster")),
    "profile": ("pp.profile", ()),
    "schedule": ("pp.schedule", ()),
    "simulate": ("pp.simulate", ()),
    "compare": ("pp.compare", ()),
    "trace": ("pp.trace", ("properties", "otherData")),
    "run": ("pp.run", ()),
}


def report(name, problems):
    if problems:
        print(f"not ok - {name}")
        for p in problems[:8]:
            print(f"#   {p}")
    else:
        print(f"ok - {name}")


def walk(node, path=()):
    """Every (path, subschema) of a schema."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            if key in ("properties", "$defs"):
                for name, sub in value.items():
                    yield from walk(sub, path + (key, name))
            elif key in ("items", "additionalProperties", "not", "if", "then", "else") and isinstance(value, dict):
                yield from walk(value, path + (key,))
            elif key in ("allOf", "anyOf", "oneOf"):
                for i, sub in enumerate(value):
                    yield from walk(sub, path + (key, str(i)))


def lint(directory, docs_page, schedule_names):
    files = sorted(pathlib.Path(directory).glob("*.schema.json"))
    schemas = {}
    for p in files:
        kind = p.name[: -len(".schema.json")]
        problems = []
        try:
            s = json.loads(p.read_text())
            jsonschema.Draft202012Validator.check_schema(s)
        except (ValueError, jsonschema.SchemaError) as e:
            report(f"{p.name} is a draft 2020-12 schema", [str(e)[:300]])
            continue
        schemas[kind] = s
        if s.get("$schema") != DRAFT:
            problems.append(f"$schema is {s.get('$schema')!r}, not {DRAFT}")
        if s.get("$id") != f"https://pp.dev/schemas/{p.name}":
            problems.append(f"$id is {s.get('$id')!r}")
        for key in ("title", "description"):
            if not s.get(key):
                problems.append(f"no {key}")
        for path, sub in walk(s):
            # Conditional branches and the "written" refinements only narrow properties described elsewhere.
            refinement = any(k in ("if", "then", "else") or k == "written" or k.endswith("_written") for k in path)
            if len(path) >= 2 and path[-2] == "properties" and not refinement:
                if "description" not in sub and "$ref" not in sub:
                    problems.append(f"{'/'.join(path)} has neither a description nor a $ref")
            if "properties" in sub and not refinement:
                for key in sub.get("required", []):
                    if key not in sub["properties"]:
                        problems.append(f"{'/'.join(path) or '(top level)'} requires {key}, which it does not describe")
            ref = sub.get("$ref")
            if ref is not None and not ref.startswith("#"):
                problems.append(f"{'/'.join(path)}: $ref {ref} is not within the file (each schema stands alone)")
        if kind in HEADERS:
            name, where = HEADERS[kind]
            node = s
            for key in where:
                node = node.get(key, {})
            if node.get("properties", {}).get("schema", {}).get("const") != name:
                problems.append(f'properties/schema is not const "{name}"')
            if "schema" not in node.get("required", []) or "version" not in node.get("required", []):
                problems.append("schema and version are not required")
        else:
            problems.append("not a schema test_schemas.sh knows: add it to checks.py's HEADERS and the test")
        report(f"{p.name}: a self-contained draft 2020-12 schema with $id, title, descriptions and its "
               f"\"{HEADERS.get(kind, ('?',))[0]}\" header", problems)

    report("a schema file for every kind of document", [f"no schemas/{k}.schema.json" for k in HEADERS if k not in schemas])

    shared = {}
    for kind, s in schemas.items():
        for name, definition in s.get("$defs", {}).items():
            if name == "written":  # each file's own: the document as pp writes it
                continue
            shared.setdefault(name, []).append((kind, definition))
    problems = []
    for name, uses in shared.items():
        for kind, definition in uses[1:]:
            if definition != uses[0][1]:
                problems.append(f"$defs/{name} differs between {uses[0][0]} and {kind}")
    report("the $defs several schemas carry (cluster, metrics, schedule_name, ...) are identical in each", problems)

    problems = []
    for kind, s in schemas.items():
        enum = s.get("$defs", {}).get("schedule_name", {}).get("enum")
        if enum is not None and enum != schedule_names:
            problems.append(f"{kind}: {enum} is not pp's {schedule_names}")
    if not any("schedule_name" in s.get("$defs", {}) for s in schemas.values()):
        problems.append("no schema has $defs/schedule_name")
    report("the schedule names are pp's catalogue, in its order", problems)

    text = pathlib.Path(docs_page).read_text()
    report(f"{pathlib.Path(docs_page).name} names every schema file",
           [f"no {p.name}" for p in files if p.name not in text])


def cases(directory, path):
    verbose = bool(os.environ.get("PP_SCHEMA_TEST_VERBOSE"))
    validators = {}
    for line in pathlib.Path(path).read_text().splitlines():
        if not line.strip():
            continue
        name, schema, base, out, expect, code = line.split("\t", 5)
        kind, _, pointer = schema.partition("#")
        label = f"{kind} schema{' ' + pointer if pointer else ''} {'accepts' if expect == 'valid' else 'rejects'} {name}"
        try:
            d = json.loads(pathlib.Path(base).read_text())
            exec(code, {"d": d})
            pathlib.Path(out).write_text(json.dumps(d, indent=1) + "\n")
        except Exception as e:  # a case that cannot be built is a failure of the test itself
            report(label, [f"building the document from {base}: {type(e).__name__}: {e}"])
            continue
        if schema not in validators:
            validators[schema] = validate.validator(f"{directory}/{kind}.schema.json" + (f"#{pointer}" if pointer else ""))
        why = validate.first_error(validators[schema], d)
        if expect == "valid":
            report(label, [why] if why else [])
        else:
            report(label, [] if why else ["the schema accepts it"])
            if verbose and why:
                print(f"#   ({why})")


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "lint":
        lint(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif len(sys.argv) == 4 and sys.argv[1] == "cases":
        cases(sys.argv[2], sys.argv[3])
    else:
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
