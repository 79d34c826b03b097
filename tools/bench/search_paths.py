#!/usr/bin/env python3
"""Helper of search_bench.sh: the request paths of the selective searches, from the datagen
manifest's sample residents whose bundles were loaded, checked once against the server.

Usage: search_paths.py MANIFEST BASE_URL LOADED OUTDIR [MAX]
  LOADED  file listing the loaded bundle files (one name per line), or "all"
  MAX     samples to use (default 50); every sample's identifier and family+birthdate search
          is checked, the code+patient search of the first sample only (it may be slow)
Writes OUTDIR/{identifier,family_birthdate,code_patient}.paths (one path per line, base path
included, query percent-encoded) and prints how many samples it used. Exits non-zero when a
sample is not found as the data says (e.g. its identifier search does not give exactly 1 hit).
Python 3 standard library only.
"""

import json
import sys
import urllib.parse
import urllib.request

LOINC = "http://loinc.org"


def get(url):
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.load(response)


def main():
    if len(sys.argv) not in (5, 6):
        sys.exit(__doc__)
    manifest_path, base, loaded_path, out = sys.argv[1:5]
    limit = int(sys.argv[5]) if len(sys.argv) == 6 else 50
    manifest = json.load(open(manifest_path, encoding="utf-8"))
    if loaded_path == "all":
        loaded = {b["file"] for b in manifest["bundles"]}
    else:
        loaded = {line.strip() for line in open(loaded_path) if line.strip()}
    numbers = {int(name.split(".")[0]) for name in loaded}
    samples = [s for s in manifest["samples"] if s["bundle"] in numbers]
    if not samples:
        sys.exit("search_paths: no sample resident in the loaded bundles")
    # Spread the chosen samples over the whole load.
    step = max(1, len(samples) // limit)
    samples = samples[::step][:limit]
    base_path = urllib.parse.urlsplit(base).path.rstrip("/")
    q = lambda value: urllib.parse.quote(value, safe="")
    lines = {"identifier": [], "family_birthdate": [], "code_patient": []}
    for s in samples:
        identifier = "Patient?identifier=" + q(manifest["national_id_system"] + "|" + s["national_id"])
        found = get(base + "/" + identifier)
        if found.get("total") != 1 or len(found.get("entry", [])) != 1:
            sys.exit("search_paths: %s gave total %s, not 1" % (identifier, found.get("total")))
        patient_id = found["entry"][0]["resource"]["id"]
        family = "Patient?family=%s&birthdate=%s" % (q(s["family"]), s["birthDate"])
        found = get(base + "/" + family)
        ids = [e["resource"]["id"] for e in found.get("entry", [])]
        if patient_id not in ids:
            sys.exit("search_paths: %s does not find Patient/%s" % (family, patient_id))
        code = "Observation?code=%s&patient=Patient/%s" % (q(LOINC + "|8302-2"), patient_id)
        found = get(base + "/" + code) if not lines["code_patient"] else {"total": 1}
        if found.get("total") != 1:  # every resident has exactly one body height
            sys.exit("search_paths: %s gave total %s, not 1" % (code, found.get("total")))
        lines["identifier"].append(base_path + "/" + identifier)
        lines["family_birthdate"].append(base_path + "/" + family)
        lines["code_patient"].append(base_path + "/" + code)
    for name, paths in lines.items():
        with open("%s/%s.paths" % (out, name), "w", encoding="utf-8") as f:
            f.write("\n".join(paths) + "\n")
    print(len(samples))


if __name__ == "__main__":
    main()
