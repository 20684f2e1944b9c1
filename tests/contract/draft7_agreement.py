#!/usr/bin/python3
"""Checks the schemas with a standard draft-07 validator (python3-jsonschema).

The schemas must be valid draft-07, and on every example the standard
validator (with format checking) must reach the verdict backbeat-validate
--json reports, except where the manifest records that a standard validator
cannot judge the rule (then it must accept while backbeat-validate rejects).
"""
import argparse
import json
import os
import re
import subprocess
import sys
from datetime import date

import jsonschema

_DATE_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
    r"([Zz]|[+-](\d{2}):(\d{2}))$", re.ASCII)


def is_date_time(value):
    """RFC 3339 date-time; used when jsonschema has no checker of its own."""
    if not isinstance(value, str):
        return True
    m = _DATE_TIME.fullmatch(value)
    if not m:
        return False
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    try:
        date(year, month, day)
    except ValueError:
        return False
    if hour > 23 or minute > 59 or second > 60:
        return False
    if m.group(9) and (int(m.group(9)) > 23 or int(m.group(10)) > 59):
        return False
    return True


def format_checker():
    checker = jsonschema.FormatChecker()
    if "date-time" not in checker.checkers:
        checker.checks("date-time")(is_date_time)
    return checker


def main():
    parser = argparse.ArgumentParser()
    for flag in ("--validator", "--schemas", "--examples", "--manifest"):
        parser.add_argument(flag, required=True)
    args = parser.parse_args()

    validators = {}
    for kind in ("beatframe", "statusclaim", "barreport"):
        with open(os.path.join(args.schemas, kind + "-v1.schema.json")) as f:
            schema = json.load(f)
        jsonschema.Draft7Validator.check_schema(schema)
        validators[kind] = jsonschema.Draft7Validator(
            schema, format_checker=format_checker())

    with open(args.manifest) as f:
        manifest = json.load(f)["examples"]
    files = sorted({e["file"] for e in manifest})
    out = subprocess.run(
        [args.validator, "--json"] +
        [a for name in files for a in ("--file", os.path.join(args.examples, name))],
        check=True, capture_output=True, text=True).stdout
    ours = {(os.path.basename(r["source"]), r["index"]): r["valid"]
            for r in json.loads(out)["results"]}

    failures = 0
    for e in manifest:
        key = (e["file"], e["index"])
        with open(os.path.join(args.examples, e["file"])) as f:
            message = json.load(f)[e["index"]]
        kind = e["file"].split("-")[0]
        standard = validators[kind].is_valid(message)
        expected = e["valid"] or e.get("draft7") == "accepts"
        if ours[key] != e["valid"] or standard != expected:
            failures += 1
            print("disagree: %s#%d (%s): backbeat-validate %s, draft-07 %s"
                  % (e["file"], e["index"], e["rule"], ours[key], standard))
    print("%d examples compared, %d disagreements" % (len(manifest), failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
