#!/usr/bin/env python3
"""Validates markcert reports against their schemas (used by harness/tests/certify_reports.rs).

usage: validate_reports.py json REPORT.json SCHEMA.json
       validate_reports.py junit REPORT.xml SCHEMA.xsd
Needs the `jsonschema` and `xmlschema` packages (.ci/run installs them into target/ci-venv).
Exit 0 when valid; 1 with the errors when not; 2 when a package is missing.
"""
import json
import sys


def main(kind, document, schema):
    if kind == "json":
        try:
            import jsonschema
        except ImportError:
            print("the jsonschema package is missing (bash .ci/run installs it)", file=sys.stderr)
            return 2
        with open(schema, encoding="utf-8") as f:
            s = json.load(f)
        with open(document, encoding="utf-8") as f:
            d = json.load(f)
        cls = jsonschema.validators.validator_for(s)
        cls.check_schema(s)
        errors = sorted(cls(s).iter_errors(d), key=lambda e: list(e.path))
        for e in errors:
            print(f"{'/'.join(map(str, e.path))}: {e.message}", file=sys.stderr)
        return 1 if errors else 0
    if kind == "junit":
        try:
            import xmlschema
        except ImportError:
            print("the xmlschema package is missing (bash .ci/run installs it)", file=sys.stderr)
            return 2
        xsd = xmlschema.XMLSchema(schema)
        errors = list(xsd.iter_errors(document))
        for e in errors:
            print(f"{e.path}: {e.reason}", file=sys.stderr)
        return 1 if errors else 0
    print(f"unknown kind {kind!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
