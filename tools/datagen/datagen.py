#!/usr/bin/env python3
"""Synthetic residents for the search benchmark (issue 4), as FHIR R4 transaction Bundles.

Each resident is a Patient (national ID `urn:oid:2.16.756.5.32` and a passport identifier, both
typed with v2-0203, a name, gender, birth date, address, phone) with Immunizations (CVX),
Conditions (SNOMED CT), FamilyMemberHistory (SNOMED CT, v3 RoleCode) and Observations (LOINC:
vital signs, laboratory, smoking status). Every resident has exactly `--resources` resources
(Patient included), so N residents make exactly N x R resources, and exactly one body height
Observation (LOINC 8302-2), so that code has one hit per resident.

Exactly `--family-hits` residents (default 10) carry the family name `--family` (default
Vandersloot); no other family name starts with it, so `Patient?family=Vandersloot` has exactly
that many hits at any N.

The output is deterministic for a given seed and arguments (Python's random.Random, no clock):
bundles `DIR/00000.json`, ... of `--per-bundle` residents each, entries POSTed with `urn:uuid:`
fullUrls and references, and `DIR/manifest.json` with what a benchmark needs to know (the
family name, the first resident of each bundle (identifiers, family, birth date), counts per
type and per code).

Usage: tools/datagen/datagen.py --residents N --out DIR [--resources 20] [--per-bundle 25]
                                [--seed 1] [--family NAME] [--family-hits 10]
Python 3 standard library only.
"""

import argparse
import json
import os
import random
import sys
import unicodedata
import uuid

NATIONAL_ID_SYSTEM = "urn:oid:2.16.756.5.32"  # Swiss AHV number (AHVN13)
PASSPORT_SYSTEM = "urn:oid:2.16.840.1.113883.4.330.756"  # passport numbers, Switzerland
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
CVX = "http://hl7.org/fhir/sid/cvx"
UCUM = "http://unitsofmeasure.org"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"

# (code, display) pairs.
VACCINES = [
    ("08", "Hep B, adolescent or pediatric"), ("10", "IPV"), ("20", "DTaP"),
    ("03", "MMR"), ("21", "varicella"), ("113", "Td (adult) preservative free"),
    ("115", "Tdap"), ("133", "Pneumococcal conjugate PCV 13"),
    ("33", "pneumococcal polysaccharide vaccine, 23 valent"), ("62", "HPV, quadrivalent"),
    ("140", "Influenza, seasonal, injectable, preservative free"),
    ("208", "SARS-COV-2 (COVID-19) vaccine, mRNA, spike protein, LNP, preservative free, 30 mcg/0.3mL dose"),
]
CONDITIONS = [
    ("44054006", "Diabetes mellitus type 2 (disorder)"), ("38341003", "Hypertensive disorder (disorder)"),
    ("195967001", "Asthma (disorder)"), ("40055000", "Chronic sinusitis (disorder)"),
    ("10509002", "Acute bronchitis (disorder)"), ("444814009", "Viral sinusitis (disorder)"),
    ("15777000", "Prediabetes (finding)"), ("162864005", "Body mass index 30+ - obesity (finding)"),
    ("55822004", "Hyperlipidemia (disorder)"), ("233604007", "Pneumonia (disorder)"),
    ("35489007", "Depressive disorder (disorder)"), ("68496003", "Polyp of colon (disorder)"),
    ("239873007", "Osteoarthritis of knee (disorder)"), ("53741008", "Coronary arteriosclerosis (disorder)"),
]
FAMILY_CONDITIONS = [
    ("22298006", "Myocardial infarction (disorder)"), ("363406005", "Malignant tumor of colon (disorder)"),
    ("254837009", "Malignant neoplasm of breast (disorder)"), ("44054006", "Diabetes mellitus type 2 (disorder)"),
    ("230690007", "Cerebrovascular accident (disorder)"), ("26929004", "Alzheimer's disease (disorder)"),
]
RELATIVES = [("FTH", "father"), ("MTH", "mother"), ("BRO", "brother"), ("SIS", "sister"),
             ("GRFTH", "grandfather"), ("GRMTH", "grandmother")]
# LOINC code, display, category, UCUM unit, low, high, decimals.
QUANTITY_OBSERVATIONS = [
    ("29463-7", "Body Weight", "vital-signs", "kg", 45.0, 120.0, 1),
    ("39156-5", "Body mass index (BMI) [Ratio]", "vital-signs", "kg/m2", 17.0, 38.0, 1),
    ("8867-4", "Heart rate", "vital-signs", "/min", 50.0, 110.0, 0),
    ("9279-1", "Respiratory rate", "vital-signs", "/min", 11.0, 22.0, 0),
    ("8310-5", "Body temperature", "vital-signs", "Cel", 36.0, 38.5, 1),
    ("2339-0", "Glucose [Mass/volume] in Blood", "laboratory", "mg/dL", 65.0, 180.0, 0),
    ("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "laboratory", "mg/dL", 140.0, 280.0, 0),
    ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "laboratory", "%", 4.5, 9.5, 1),
]
HEIGHT = ("8302-2", "Body Height", "vital-signs", "cm", 150.0, 200.0, 1)
SMOKING = [("266919005", "Never smoker"), ("8517006", "Ex-smoker"), ("449868002", "Smokes tobacco daily")]
GIVEN_FEMALE = ["Anna", "Maria", "Laura", "Sara", "Lea", "Julia", "Elena", "Nina", "Sophie", "Mia",
                "Chiara", "Emma", "Lina", "Noemi", "Zoé", "Céline", "Marta", "Ines", "Olga", "Ayşe"]
GIVEN_MALE = ["Luca", "Noah", "David", "Daniel", "Marco", "Thomas", "Jonas", "Simon", "Leon", "Elias",
              "Matteo", "Samuel", "Nico", "Jan", "Stefan", "Peter", "Ömer", "José", "Rémy", "Andrzej"]
FAMILY_STEMS = ["Müll", "Schmid", "Kell", "Web", "Mey", "Brunn", "Hub", "Zimmer", "Fisch", "Baum",
                "Stein", "Moos", "Frei", "Graf", "Roth", "Sutt", "Wyss", "Gerb", "Bühl", "Hof",
                "Rossi", "Bianch", "Ferrar", "Colomb", "Favr", "Bonv", "Perr", "Rey", "Lüth", "Kuhn",
                "Marti", "Brand", "Fuchs", "Wolf", "Lang", "Schür", "Egg", "Ruf", "Nuss", "Studer"]
FAMILY_ENDINGS = ["er", "i", "mann", "li", "egger", "haus", "berg", "ini", "et", "in", "ig",
                  "enbach", "ener", "ler", "ot", "and", "inger", "o", "ard", "y"]
CITIES = [("Zürich", "8001"), ("Genève", "1201"), ("Basel", "4001"), ("Lausanne", "1003"),
          ("Bern", "3011"), ("Winterthur", "8400"), ("Luzern", "6003"), ("St. Gallen", "9000"),
          ("Lugano", "6900"), ("Biel/Bienne", "2502")]


def fold(text):
    """Case- and accent-insensitive form, as FHIR string search compares."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


class Generator:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        stems = [s + e for s in FAMILY_STEMS for e in FAMILY_ENDINGS]
        target = fold(args.family)
        # No other name may start with the chosen one (string search matches prefixes).
        self.families = [n for n in stems if not fold(n).startswith(target)]
        # A Zipf-like spread: a few common names, a long tail.
        self.family_weights = [1.0 / (rank + 1) ** 0.7 for rank in range(len(self.families))]
        self.counts = {}
        self.code_counts = {}

    def uuid(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def date(self, first_year, last_year):
        year = self.rng.randint(first_year, last_year)
        return "%04d-%02d-%02d" % (year, self.rng.randint(1, 12), self.rng.randint(1, 28))

    def datetime(self, first_year, last_year):
        return "%sT%02d:%02d:%02d+01:00" % (self.date(first_year, last_year),
                                              self.rng.randint(7, 18), self.rng.randint(0, 59),
                                              self.rng.randint(0, 59))

    def count(self, resource, code=None):
        kind = resource["resourceType"]
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if code is not None:
            key = kind + " " + code
            self.code_counts[key] = self.code_counts.get(key, 0) + 1

    def ahv(self):
        digits = "756" + "".join(str(self.rng.randint(0, 9)) for _ in range(9))
        # EAN-13 check digit, as the AHVN13 uses.
        total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
        digits += str((10 - total % 10) % 10)
        return "%s.%s.%s.%s" % (digits[0:3], digits[3:7], digits[7:11], digits[11:13])

    def patient(self, family):
        gender = self.rng.choice(["female", "male"])
        given = self.rng.choice(GIVEN_FEMALE if gender == "female" else GIVEN_MALE)
        city, postal = self.rng.choice(CITIES)
        birth = self.date(1930, 2022)
        return {
            "resourceType": "Patient",
            "identifier": [
                {"use": "official",
                 "type": {"coding": [{"system": V2_0203, "code": "NI",
                                      "display": "National unique individual identifier"}]},
                 "system": NATIONAL_ID_SYSTEM, "value": self.ahv()},
                {"type": {"coding": [{"system": V2_0203, "code": "PPN", "display": "Passport number"}]},
                 "system": PASSPORT_SYSTEM,
                 "value": "%s%07d" % (self.rng.choice("XSFE"), self.rng.randint(0, 9999999))},
            ],
            "active": True,
            "name": [{"use": "official", "family": family, "given": [given]}],
            "telecom": [{"system": "phone", "value": "+41 %02d %03d %02d %02d" % (
                self.rng.randint(21, 79), self.rng.randint(0, 999), self.rng.randint(0, 99),
                self.rng.randint(0, 99)), "use": "home"}],
            "gender": gender,
            "birthDate": birth,
            "address": [{"use": "home", "line": ["%s %d" % (self.rng.choice(
                ["Bahnhofstrasse", "Hauptstrasse", "Rue du Lac", "Via Cantonale", "Dorfstrasse"]),
                self.rng.randint(1, 120))], "city": city, "postalCode": postal, "country": "CH"}],
        }

    def immunization(self, subject, birth_year):
        code, display = self.rng.choice(VACCINES)
        return {
            "resourceType": "Immunization",
            "status": "completed",
            "vaccineCode": {"coding": [{"system": CVX, "code": code, "display": display}],
                            "text": display},
            "patient": {"reference": subject},
            "occurrenceDateTime": self.datetime(max(birth_year, 1960), 2025),
            "primarySource": True,
        }, code

    def condition(self, subject, birth_year):
        code, display = self.rng.choice(CONDITIONS)
        onset = self.datetime(max(birth_year, 1950), 2025)
        resolved = self.rng.random() < 0.3
        resource = {
            "resourceType": "Condition",
            "clinicalStatus": {"coding": [{"system": CONDITION_CLINICAL,
                                           "code": "resolved" if resolved else "active"}]},
            "verificationStatus": {"coding": [{"system": CONDITION_VERIFICATION, "code": "confirmed"}]},
            "category": [{"coding": [{"system": CONDITION_CATEGORY, "code": "encounter-diagnosis",
                                      "display": "Encounter Diagnosis"}]}],
            "code": {"coding": [{"system": SNOMED, "code": code, "display": display}], "text": display},
            "subject": {"reference": subject},
            "onsetDateTime": onset,
            "recordedDate": onset,
        }
        if resolved:
            resource["abatementDateTime"] = onset[:4] + "-12-31T00:00:00+01:00"
        return resource, code

    def family_history(self, subject):
        relation, display = self.rng.choice(RELATIVES)
        code, condition = self.rng.choice(FAMILY_CONDITIONS)
        return {
            "resourceType": "FamilyMemberHistory",
            "status": "completed",
            "patient": {"reference": subject},
            "date": self.date(2000, 2025),
            "relationship": {"coding": [{"system": ROLE_CODE, "code": relation, "display": display}]},
            "sex": {"coding": [{"system": "http://hl7.org/fhir/administrative-gender",
                                "code": "male" if relation in ("FTH", "BRO", "GRFTH") else "female"}]},
            "condition": [{"code": {"coding": [{"system": SNOMED, "code": code, "display": condition}],
                                    "text": condition},
                           "onsetAge": {"value": self.rng.randint(35, 85), "unit": "a",
                                        "system": UCUM, "code": "a"}}],
        }, code

    def observation(self, subject, birth_year, kind):
        effective = self.datetime(max(birth_year, 1990), 2025)
        resource = {"resourceType": "Observation", "status": "final"}
        if kind == "smoking":
            code, display, category = "72166-2", "Tobacco smoking status", "social-history"
        else:
            code, display, category, unit, low, high, decimals = kind
        resource["category"] = [{"coding": [{"system": OBS_CATEGORY, "code": category}]}]
        resource["code"] = {"coding": [{"system": LOINC, "code": code, "display": display}],
                            "text": display}
        resource["subject"] = {"reference": subject}
        resource["effectiveDateTime"] = effective
        resource["issued"] = effective[:19] + ".000+01:00"
        if kind == "smoking":
            answer, answer_display = self.rng.choice(SMOKING)
            resource["valueCodeableConcept"] = {
                "coding": [{"system": SNOMED, "code": answer, "display": answer_display}],
                "text": answer_display}
        else:
            value = round(self.rng.uniform(low, high), decimals)
            if decimals == 0:
                value = int(value)
            resource["valueQuantity"] = {"value": value, "unit": unit, "system": UCUM, "code": unit}
        return resource, code

    def resident(self, family):
        """The resources of one resident, Patient first: list of (fullUrl, resource)."""
        patient_url = "urn:uuid:" + self.uuid()
        patient = self.patient(family)
        self.count(patient)
        birth_year = int(patient["birthDate"][:4])
        out = [(patient_url, patient)]
        rest = self.args.resources - 1
        # Mix per resident: 1-5 immunizations, 1-4 conditions, 1-2 family histories, one body
        # height, the rest other observations (at least one).
        immunizations = self.rng.randint(1, 5)
        conditions = self.rng.randint(1, 4)
        histories = self.rng.randint(1, 2)
        while immunizations + conditions + histories + 2 > rest:
            if immunizations > 1:
                immunizations -= 1
            elif conditions > 1:
                conditions -= 1
            else:
                histories -= 1
        observations = rest - immunizations - conditions - histories
        made = []
        for _ in range(immunizations):
            made.append(self.immunization(patient_url, birth_year))
        for _ in range(conditions):
            made.append(self.condition(patient_url, birth_year))
        for _ in range(histories):
            made.append(self.family_history(patient_url))
        made.append(self.observation(patient_url, birth_year, HEIGHT))
        for _ in range(observations - 1):
            kind = self.rng.choice(QUANTITY_OBSERVATIONS + ["smoking"])
            made.append(self.observation(patient_url, birth_year, kind))
        for resource, code in made:
            self.count(resource, code)
            out.append(("urn:uuid:" + self.uuid(), resource))
        return out, patient

    def run(self):
        args = self.args
        os.makedirs(args.out, exist_ok=True)
        chosen = set(self.rng.sample(range(args.residents), args.family_hits))
        manifest = {"seed": args.seed, "residents": args.residents,
                    "resources_per_resident": args.resources, "family": args.family,
                    "family_hits": args.family_hits, "national_id_system": NATIONAL_ID_SYSTEM,
                    "passport_system": PASSPORT_SYSTEM, "bundles": [], "samples": []}
        entries = []
        bundle_number = 0

        def flush():
            nonlocal entries, bundle_number
            if not entries:
                return
            name = "%05d.json" % bundle_number
            bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
            with open(os.path.join(args.out, name), "w", encoding="utf-8") as f:
                json.dump(bundle, f, ensure_ascii=False, separators=(",", ":"))
            manifest["bundles"].append({"file": name, "entries": len(entries)})
            bundle_number += 1
            entries = []

        for index in range(args.residents):
            if index in chosen:
                family = args.family
            else:
                family = self.rng.choices(self.families, self.family_weights)[0]
            resources, patient = self.resident(family)
            if index % args.per_bundle == 0:
                # One sample resident per bundle, so that a partial load still has samples.
                manifest["samples"].append({
                    "bundle": bundle_number,
                    "national_id": patient["identifier"][0]["value"],
                    "passport": patient["identifier"][1]["value"],
                    "family": family, "birthDate": patient["birthDate"],
                    "gender": patient["gender"]})
            for url, resource in resources:
                entries.append({"fullUrl": url, "resource": resource,
                                "request": {"method": "POST", "url": resource["resourceType"]}})
            if (index + 1) % args.per_bundle == 0:
                flush()
        flush()
        manifest["resources"] = sum(self.counts.values())
        manifest["counts"] = dict(sorted(self.counts.items()))
        manifest["code_counts"] = dict(sorted(self.code_counts.items()))
        with open(os.path.join(args.out, "manifest.json"), "w", encoding="utf-8") as f:
            json.dump(manifest, f, ensure_ascii=False, indent=1)
        return manifest


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--residents", type=int, required=True)
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--resources", type=int, default=20, help="resources per resident (>= 6)")
    parser.add_argument("--per-bundle", type=int, default=25, help="residents per transaction Bundle")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--family", default="Vandersloot")
    parser.add_argument("--family-hits", type=int, default=10)
    args = parser.parse_args()
    if args.resources < 6:
        parser.error("--resources must be at least 6 (Patient, Immunization, Condition, "
                     "FamilyMemberHistory, two Observations)")
    if args.residents < args.family_hits or args.per_bundle < 1:
        parser.error("--residents must be at least --family-hits, --per-bundle at least 1")
    manifest = Generator(args).run()
    print("datagen: %d residents, %d resources in %d bundles in %s" % (
        args.residents, manifest["resources"], len(manifest["bundles"]), args.out), file=sys.stderr)


if __name__ == "__main__":
    main()
