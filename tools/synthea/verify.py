#!/usr/bin/env python3
"""Checks a server loaded with the Synthea population (tools/synthea/load.sh) against counts
taken from the population's README and counts computed here from the bundles themselves.

Usage: verify.py BASE_URL SYNTHEA_DIR
Every check is a search with `_summary=count` (the server's Bundle.total) and prints
`ok|FAIL  query  expected N  actual M`; the exit status is 1 when any check fails.
Python 3 standard library only; the bundles (*.json.bz2) are read with the bz2 module.
"""

import bz2
import collections
import datetime
import glob
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
CVX = "http://hl7.org/fhir/sid/cvx"


def readme_counts(directory):
    """The per-type totals listed in the README ("92,114 resources in all: Observation 42929, ...")."""
    text = open(os.path.join(directory, "README.md"), encoding="utf-8").read()
    match = re.search(r"resources in all:(.*?)\.\s*\n\s*-", text, re.S)
    if not match:
        sys.exit("verify: no 'resources in all:' list in %s/README.md" % directory)
    return {kind: int(n) for kind, n in re.findall(r"([A-Z][A-Za-z]+) (\d+)", match.group(1))}


def instant(text):
    """A FHIR dateTime with seconds and a time zone, as a UTC datetime."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(datetime.timezone.utc)


def codes(concept, system):
    return {c.get("code") for c in (concept or {}).get("coding", []) if c.get("system") == system}


def data_counts(directory):
    """(query, expected) pairs computed from the bundles."""
    types = collections.Counter()
    gender = collections.Counter()
    patients = {}  # fullUrl -> Patient
    body_heights = []  # subject references of LOINC 8302-2 Observations
    conditions = collections.Counter()
    condition_subjects = collections.defaultdict(set)
    vaccines = collections.Counter()
    year_2015 = 0
    born = 0
    start = datetime.datetime(2015, 1, 1, tzinfo=datetime.timezone.utc)
    end = datetime.datetime(2016, 1, 1, tzinfo=datetime.timezone.utc)
    files = sorted(glob.glob(os.path.join(directory, "*.json.bz2")))
    if not files:
        sys.exit("verify: no *.json.bz2 in %s" % directory)
    for path in files:
        with bz2.open(path, "rt", encoding="utf-8") as f:
            bundle = json.load(f)
        for entry in bundle.get("entry", []):
            resource = entry["resource"]
            kind = resource["resourceType"]
            types[kind] += 1
            if kind == "Patient":
                patients[entry["fullUrl"]] = resource
                gender[resource.get("gender")] += 1
                if "1950-01-01" <= resource.get("birthDate", "") < "1970-01-01":
                    born += 1
            elif kind == "Observation":
                if "8302-2" in codes(resource.get("code"), LOINC):
                    body_heights.append(resource["subject"]["reference"])
                if start <= instant(resource["effectiveDateTime"]) < end:
                    year_2015 += 1
            elif kind == "Condition":
                for code in codes(resource.get("code"), SNOMED):
                    conditions[code] += 1
                    condition_subjects[code].add(resource["subject"]["reference"])
            elif kind == "Immunization":
                for code in codes(resource.get("vaccineCode"), CVX):
                    vaccines[code] += 1
    checks = [("%s?" % kind, n) for kind, n in sorted(types.items())]
    checks += [("Patient?gender=male", gender["male"]), ("Patient?gender=female", gender["female"])]
    checks.append(("Patient?birthdate=ge1950-01-01&birthdate=lt1970-01-01", born))
    checks.append(("Observation?code=%s|8302-2" % LOINC, len(body_heights)))
    female_heights = sum(1 for ref in body_heights if patients[ref].get("gender") == "female")
    checks.append(("Observation?subject.gender=female&code=%s|8302-2" % LOINC, female_heights))
    checks.append(("Observation?date=ge2015-01-01T00:00:00Z&date=lt2016-01-01T00:00:00Z", year_2015))
    condition, n = conditions.most_common(1)[0]
    checks.append(("Condition?code=%s|%s" % (SNOMED, condition), n))
    checks.append(("Patient?_has:Condition:subject:code=%s|%s" % (SNOMED, condition),
                   len(condition_subjects[condition])))
    vaccine, n = vaccines.most_common(1)[0]
    checks.append(("Immunization?vaccine-code=%s|%s" % (CVX, vaccine), n))
    return checks


def server_count(base, query):
    kind, _, params = query.partition("?")
    pairs = urllib.parse.parse_qsl(params, keep_blank_values=True) + [("_summary", "count")]
    url = "%s/%s?%s" % (base.rstrip("/"), kind, urllib.parse.urlencode(pairs))
    request = urllib.request.Request(url, headers={"Accept": "application/fhir+json",
                                                   "Prefer": "handling=strict"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.load(response).get("total")
    except urllib.error.HTTPError as error:
        return "HTTP %d %s" % (error.code, error.read()[:200].decode("utf-8", "replace"))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    base, directory = sys.argv[1], sys.argv[2]
    checks = [("%s? (README)" % kind, n) for kind, n in sorted(readme_counts(directory).items())]
    checks += data_counts(directory)
    failed = 0
    for label, expected in checks:
        query = label.split(" ")[0]
        actual = server_count(base, query)
        ok = actual == expected
        failed += not ok
        print("%-4s  %-75s expected %6d  actual %s" % ("ok" if ok else "FAIL", label, expected, actual))
    print("verify: %d checks, %d failed" % (len(checks), failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
