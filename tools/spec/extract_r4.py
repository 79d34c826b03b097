#!/usr/bin/env python3
"""Re-extracts the vendored R4 artefacts from the official npm package.

Usage: tools/spec/extract_r4.py [PACKAGE.tgz]

Without an argument it runs `npm pack hl7.fhir.r4.examples@4.0.1` in a temporary folder.
Writes (relative to the repository root):
  fhir/spec/r4-definitions.tar.xz   trimmed StructureDefinitions of every primitive type,
                                    complex type and resource; every SearchParameter; the
                                    ValueSets and CodeSystems of required bindings.
  tests/data/r4-examples.tar.xz     every JSON file of the package, unchanged, for the
                                    round-trip test.
The output is deterministic (sorted, fixed mtimes) so re-running it produces no diff.
"""
import io, json, os, subprocess, sys, tarfile, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE = "hl7.fhir.r4.examples@4.0.1"

SD_KEYS = ["url", "name", "type", "kind", "abstract", "baseDefinition", "derivation"]
ELEMENT_KEYS = ["path", "min", "max", "base", "type", "contentReference", "isSummary",
                "isModifier", "binding", "constraint"]


def trim_element(e):
    out = {k: e[k] for k in ELEMENT_KEYS if k in e}
    if "base" in out:
        out["base"] = {"path": out["base"]["path"]}
    if "binding" in out:
        b = out["binding"]
        out["binding"] = {k: b[k] for k in ("strength", "valueSet") if k in b}
    if "constraint" in out:
        out["constraint"] = [{k: c[k] for k in ("key", "severity", "human", "expression")
                              if k in c} for c in out["constraint"]]
    if "type" in out:
        types = []
        for t in out["type"]:
            tt = {k: t[k] for k in ("code", "profile", "targetProfile") if k in t}
            for ext in t.get("extension", []):  # the FHIRPath type of primitive values
                if ext["url"].endswith("structuredefinition-fhir-type"):
                    tt["fhirType"] = ext["valueUrl"]
                if ext["url"].endswith("regex"):
                    tt["regex"] = ext["valueString"]
            types.append(tt)
        out["type"] = types
    return out


def trim_concepts(concepts):
    out = []
    for c in concepts:
        t = {"code": c["code"]}
        if "concept" in c:
            t["concept"] = trim_concepts(c["concept"])
        out.append(t)
    return out


def main():
    with tempfile.TemporaryDirectory() as tmp:
        tgz = sys.argv[1] if len(sys.argv) > 1 else None
        if tgz is None:
            subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=tmp, check=True,
                           stdout=subprocess.DEVNULL)
            tgz = os.path.join(tmp, [f for f in os.listdir(tmp) if f.endswith(".tgz")][0])
        files = {}
        with tarfile.open(tgz) as tar:
            for m in tar.getmembers():
                name = m.name.split("/", 1)[1]
                if m.isfile() and name.endswith(".json") and "/" not in name:
                    files[name] = tar.extractfile(m).read()

    docs = {n: json.loads(b) for n, b in files.items() if n != "package.json"}
    sds, sps, vss, css, cds = [], [], {}, {}, []
    for name in sorted(docs):
        d = docs[name]
        rt = d.get("resourceType")
        if rt == "StructureDefinition":
            base_type = d.get("derivation") != "constraint"
            if d["kind"] in ("primitive-type", "complex-type", "resource") and base_type:
                t = {k: d[k] for k in SD_KEYS if k in d}
                t["snapshot"] = [trim_element(e) for e in d["snapshot"]["element"]]
                sds.append(t)
        elif rt == "SearchParameter" and not d.get("id", "").startswith("example"):
            # Not the three examples of the SearchParameter resource itself (ids "example",
            # "example-extension", "example-reference"): one repeated Condition's `subject`,
            # which indexed every Condition's subject twice.
            keep = ("url", "name", "code", "base", "type", "expression", "target", "modifier",
                    "comparator", "multipleOr", "multipleAnd", "chain", "component", "xpathUsage")
            sps.append({k: d[k] for k in keep if k in d})
        elif rt == "ValueSet":
            vss[d["url"]] = d
        elif rt == "CompartmentDefinition" and d.get("id") != "example":
            cds.append({"url": d["url"], "code": d["code"],
                        "resource": [{"code": r["code"], "param": r.get("param", [])}
                                     for r in d.get("resource", [])]})
        elif rt == "CodeSystem":
            css[d["url"]] = d

    # ValueSets of required bindings, the ValueSets they import and the CodeSystems they use.
    wanted = set()
    for sd in sds:
        for e in sd["snapshot"]:
            b = e.get("binding", {})
            if b.get("strength") == "required" and "valueSet" in b:
                wanted.add(b["valueSet"].split("|")[0])
    vs_out, cs_urls, todo = {}, set(), list(wanted)
    while todo:
        url = todo.pop()
        if url in vs_out or url not in vss:
            continue
        vs = vss[url]
        vs_out[url] = {"url": url, "compose": vs.get("compose", {})}
        for part in ("include", "exclude"):
            for inc in vs.get("compose", {}).get(part, []):
                if "system" in inc:
                    cs_urls.add(inc["system"])
                todo.extend(v.split("|")[0] for v in inc.get("valueSet", []))
    cs_out = []
    for url in sorted(cs_urls):
        if url in css:
            cs = css[url]
            cs_out.append({"url": url, "content": cs.get("content"),
                           "concept": trim_concepts(cs.get("concept", []))})

    terminology = {"valueSets": [vs_out[u] for u in sorted(vs_out)], "codeSystems": cs_out,
                   "requiredBindings": sorted(wanted)}
    sds.sort(key=lambda s: s["url"])
    sps.sort(key=lambda s: s["url"])
    write_tar(os.path.join(ROOT, "fhir/spec/r4-definitions.tar.xz"), {
        "structure-definitions.json": dump(sds),
        "search-parameters.json": dump(sps),
        "terminology.json": dump(terminology),
        "compartments.json": dump(sorted(cds, key=lambda c: c["code"])),
    })
    write_tar(os.path.join(ROOT, "tests/data/r4-examples.tar.xz"),
              {"r4-examples/" + n: files[n] for n in sorted(files) if n != "package.json"})
    print(f"{len(sds)} StructureDefinitions, {len(sps)} SearchParameters, {len(cds)} compartments, "
          f"{len(vs_out)} ValueSets, {len(cs_out)} CodeSystems, {len(files) - 1} examples")


def dump(obj):
    return json.dumps(obj, indent=0, sort_keys=False, ensure_ascii=False).encode()


def write_tar(path, members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    xz = subprocess.run(["xz", "-9e", "-T1", "-c"], input=buf.getvalue(), check=True,
                        stdout=subprocess.PIPE).stdout
    with open(path, "wb") as f:
        f.write(xz)


if __name__ == "__main__":
    main()
