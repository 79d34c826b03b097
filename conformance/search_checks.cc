// The search checks of the black-box conformance suite (http://hl7.org/fhir/R4/search.html).
//
// Each check makes its own resources, all carrying one meta.tag unique to the check and the run
// (kTagSystem|cf-<random>-<n>), and restricts every search to that tag with `_tag`, so that the
// expected matches are exactly the resources it made, whatever else the server holds. Matches
// are compared as sets of Type/id (or as sequences where the order is the point), and
// Bundle.total, when the server sends it, must equal their number.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conformance/checks.h"

namespace conformance {
namespace {

// The system of the tag that marks the resources of one check.
constexpr std::string_view kTagSystem = "http://example.org/fhir-conformance/run";
constexpr std::string_view kIdentifierSystem = "http://example.org/fhir-conformance/identifier";
constexpr std::string_view kLoinc = "http://loinc.org";
constexpr std::string_view kUcum = "http://unitsofmeasure.org";
constexpr std::string_view kV20203 = "http://terminology.hl7.org/CodeSystem/v2-0203";
// http://hl7.org/fhir/R4/search.html#elements: resources cut down by _elements are tagged so.
constexpr std::string_view kSubsettedSystem =
    "http://terminology.hl7.org/CodeSystem/v3-ObservationValue";

using Refs = std::vector<std::string>;

// "Patient/123" -> "123".
std::string IdOf(std::string_view ref) {
  std::size_t slash = ref.rfind('/');
  return std::string(slash == std::string_view::npos ? ref : ref.substr(slash + 1));
}

// name=value with the value percent-encoded (a "," in it too: join OR values with a bare ",").
std::string Param(std::string_view name, std::string_view value) {
  return std::string(name) + "=" + EncodeQueryValue(value);
}

std::string Join(const Refs& refs) {
  std::string out = "[";
  for (std::size_t i = 0; i < refs.size(); ++i) out += (i == 0 ? "" : ", ") + refs[i];
  return out + "]";
}

// A JSON reference member: "subject":{"reference":"Patient/1"}.
std::string RefMember(std::string_view name, std::string_view ref) {
  return JsonQuote(name) + R"(:{"reference":)" + JsonQuote(ref) + "}";
}

// The test data of one check: every resource carries the check's tag.
class TestData {
 public:
  explicit TestData(Check& c) : c_(c), tag_(c.UniqueId()) {}

  // POSTs {"resourceType":type,"meta":{"tag":[the tag]},`members`} and returns "Type/id";
  // stops the check when that fails.
  std::string Create(std::string_view type, std::string_view members) {
    std::string json = R"({"resourceType":)" + JsonQuote(type) + R"(,"meta":{"tag":[{"system":)" +
                       JsonQuote(kTagSystem) + R"(,"code":)" + JsonQuote(tag_) + "}]}";
    if (!members.empty()) json += "," + std::string(members);
    json += "}";
    Response r = c_.Request("POST", type, {{"Prefer", "return=representation"}}, json);
    std::string what =
        "create a " + std::string(type) + " to search for (POST [base]/" + std::string(type) + ")";
    c_.RequireStatus(r, {201}, what);
    std::string id = ResponseId(r, type);
    c_.Require(!id.empty(), what + ": no id in the body nor in Location");
    return std::string(type) + "/" + id;
  }

  // "Type?_tag=system|tag&`query`" (or "Type?_tag=..." when `query` is empty).
  std::string Query(std::string_view type, std::string_view query = {}) const {
    std::string target = std::string(type) + "?" + TagParam();
    if (!query.empty()) target += "&" + std::string(query);
    return target;
  }

  std::string TagParam() const { return Param("_tag", std::string(kTagSystem) + "|" + tag_); }
  const std::string& tag() const { return tag_; }

 private:
  Check& c_;
  std::string tag_;
};

// A searchset, its match and include entries as Type/id in Bundle order.
struct Found {
  rapidjson::Document bundle;
  Refs matches;
  Refs includes;
};

// Checks that `r` is a 200 searchset and sorts its entries by search.mode (no mode counts as a
// match; "outcome" entries are left out).
Found ReadSearchset(Check& c, const Response& r, const std::string& what) {
  c.RequireStatus(r, {200}, what);
  Found found;
  found.bundle = c.RequireJson(r, what);
  c.ExpectResourceType(found.bundle, "Bundle", what);
  std::string type = JsonString(found.bundle, "type");
  c.Expect(type == "searchset",
           what + ": Bundle.type is " + Quoted(type) + ", expected \"searchset\"");
  const rapidjson::Value* entries = JsonAt(found.bundle, "entry");
  if (entries == nullptr || !entries->IsArray()) return found;
  for (const rapidjson::Value& entry : entries->GetArray()) {
    std::string mode = JsonString(entry, "search.mode");
    if (mode == "outcome") continue;
    std::string ref =
        JsonString(entry, "resource.resourceType") + "/" + JsonString(entry, "resource.id");
    if (mode.empty() || mode == "match") {
      found.matches.push_back(ref);
    } else if (mode == "include") {
      found.includes.push_back(ref);
    } else {
      c.Expect(false, what + ": entry " + ref + " has search.mode " + Quoted(mode));
    }
  }
  return found;
}

Found Search(Check& c, const std::string& target, const Headers& headers = {}) {
  return ReadSearchset(c, c.Request("GET", target, headers), "GET [base]/" + target);
}

Refs Sorted(Refs refs) {
  std::sort(refs.begin(), refs.end());
  return refs;
}

// Expects `actual` to hold the refs of `expected`, each once, in any order.
bool ExpectSameRefs(Check& c, const Refs& actual, const Refs& expected, const std::string& what,
                    std::string_view why) {
  Refs got = Sorted(actual);
  Refs want = Sorted(expected);
  return c.Expect(got == want, what + ": " + Join(got) + ", expected " + Join(want) + " (" +
                                   std::string(why) + ")");
}

// Expects Bundle.total, when present, to be `expected`.
void ExpectTotalIfPresent(Check& c, const rapidjson::Value& bundle, std::size_t expected,
                          const std::string& what) {
  if (JsonAt(bundle, "total") == nullptr) return;
  std::optional<std::int64_t> total = JsonInt(bundle, "total");
  c.Expect(total && *total == static_cast<std::int64_t>(expected),
           what + ": Bundle.total is " + (total ? std::to_string(*total) : "not an integer") +
               ", expected " + std::to_string(expected));
}

// GET [base]/`target`: the matches are exactly `expected` (any order) and Bundle.total, when
// present, is their number.
Found ExpectMatches(Check& c, const std::string& target, const Refs& expected, std::string_view why,
                    const Headers& headers = {}) {
  Found found = Search(c, target, headers);
  std::string what = "GET [base]/" + target;
  ExpectSameRefs(c, found.matches, expected, what + " matches", why);
  ExpectTotalIfPresent(c, found.bundle, expected.size(), what);
  return found;
}

// As ExpectMatches(), in exactly the order of `expected`.
void ExpectMatchOrder(Check& c, const std::string& target, const Refs& expected,
                      std::string_view why) {
  Found found = Search(c, target);
  std::string what = "GET [base]/" + target;
  c.Expect(found.matches == expected, what + ": matches in the order " + Join(found.matches) +
                                          ", expected " + Join(expected) + " (" + std::string(why) +
                                          ")");
  ExpectTotalIfPresent(c, found.bundle, expected.size(), what);
}

// Members of a Patient.
std::string PatientMembers(std::string_view family, std::string_view given,
                           std::string_view extra = {}) {
  std::string json = R"("name":[{"family":)" + JsonQuote(family);
  if (!given.empty()) json += R"(,"given":[)" + JsonQuote(given) + "]";
  json += "}]";
  if (!extra.empty()) json += "," + std::string(extra);
  return json;
}

// Members of an Observation with one coding (system left out when empty) and `extra`.
std::string ObservationMembers(std::string_view system, std::string_view code,
                               std::string_view extra = {}) {
  std::string json = R"("status":"final","code":{"coding":[{)";
  if (!system.empty()) json += R"("system":)" + JsonQuote(system) + ",";
  json += R"("code":)" + JsonQuote(code) + "}]}";
  if (!extra.empty()) json += "," + std::string(extra);
  return json;
}

std::string QuantityMember(double value, std::string_view unit, std::string_view code) {
  std::string number = std::to_string(value);
  number.erase(number.find_last_not_of('0') + 1);
  if (number.back() == '.') number.pop_back();
  return R"("valueQuantity":{"value":)" + number + R"(,"unit":)" + JsonQuote(unit) +
         R"(,"system":)" + JsonQuote(kUcum) + R"(,"code":)" + JsonQuote(code) + "}";
}

// --- string (search.html#string) -----------------------------------------------------------

// Three Patients for the string checks: Müller Anna, Mullerson Ben, "Chen, Li" Wei.
struct StringData {
  std::string muller, mullerson, chen;
};

StringData CreateStringData(TestData& d) {
  return {d.Create("Patient", PatientMembers("Müller", "Anna")),
          d.Create("Patient", PatientMembers("Mullerson", "Ben")),
          d.Create("Patient", PatientMembers("Chen, Li", "Wei"))};
}

// "By default, a field matches a string query if the value of the field equals or starts with
// the supplied parameter value, after both have been normalized by case and accent."
void CheckSearchStringDefault(Check& c) {
  TestData d(c);
  StringData p = CreateStringData(d);
  ExpectMatches(c, d.Query("Patient", "family=muller"), {p.muller, p.mullerson},
                "starts with, ignoring case and accents");
  ExpectMatches(c, d.Query("Patient", Param("family", "MÜLLER")), {p.muller, p.mullerson},
                "case-insensitive with the accent in the query");
  ExpectMatches(c, d.Query("Patient", "family=mullerson"), {p.mullerson}, "whole value");
  ExpectMatches(c, d.Query("Patient", "family=ller"), {}, "a substring is not a prefix");
  ExpectMatches(c, d.Query("Patient", "name=anna"), {p.muller}, "name covers given names");
}

// :exact: "the whole string, including casing and accents".
void CheckSearchStringExact(Check& c) {
  TestData d(c);
  StringData p = CreateStringData(d);
  ExpectMatches(c, d.Query("Patient", Param("family:exact", "Müller")), {p.muller},
                "same case and accents");
  ExpectMatches(c, d.Query("Patient", "family:exact=Muller"), {}, "the accent differs");
  ExpectMatches(c, d.Query("Patient", Param("family:exact", "müller")), {}, "the case differs");
  ExpectMatches(c, d.Query("Patient", Param("family:exact", "Mül")), {}, "a prefix is not exact");
}

// :contains: "the supplied parameter value anywhere within the field".
void CheckSearchStringContains(Check& c) {
  TestData d(c);
  StringData p = CreateStringData(d);
  ExpectMatches(c, d.Query("Patient", "family:contains=LERS"), {p.mullerson},
                "inside the value, any case");
  ExpectMatches(c, d.Query("Patient", "family:contains=ulle"), {p.muller, p.mullerson},
                "inside the value, accent-insensitive");
  ExpectMatches(c, d.Query("Patient", "family:contains=hen"), {p.chen}, "inside the value");
  ExpectMatches(c, d.Query("Patient", "family:contains=xyz"), {}, "in no value");
}

// search.html#combining (OR with ",", AND by repetition) and #escaping ("\,").
void CheckSearchStringOrAndEscape(Check& c) {
  TestData d(c);
  StringData p = CreateStringData(d);
  ExpectMatches(c, d.Query("Patient", "given=anna,wei"), {p.muller, p.chen}, "anna OR wei");
  ExpectMatches(c, d.Query("Patient", "family=mull&given=ben"), {p.mullerson},
                "family mull AND given ben");
  ExpectMatches(c, d.Query("Patient", "family=mull&given=wei"), {}, "no Patient has both");
  ExpectMatches(c, d.Query("Patient", Param("family:exact", "Chen\\, Li")), {p.chen},
                "an escaped comma is part of the value");
  ExpectMatches(c, d.Query("Patient", "family:exact=Chen"), {}, "\"Chen\" is not the whole value");
}

// --- token (search.html#token) -------------------------------------------------------------

// [parameter]=[system]|[code], [code], |[code], [system]|.
void CheckSearchTokenSystemCode(Check& c) {
  TestData d(c);
  std::string loinc = d.Create("Observation", ObservationMembers(kLoinc, "8480-6"));
  std::string other =
      d.Create("Observation", ObservationMembers("http://example.org/codes", "8480-6"));
  std::string no_system = d.Create("Observation", ObservationMembers({}, "8480-6"));
  std::string weight = d.Create("Observation", ObservationMembers(kLoinc, "29463-7"));
  ExpectMatches(c, d.Query("Observation", Param("code", "http://loinc.org|8480-6")), {loinc},
                "system and code");
  ExpectMatches(c, d.Query("Observation", "code=8480-6"), {loinc, other, no_system},
                "code in any system");
  ExpectMatches(c, d.Query("Observation", Param("code", "|8480-6")), {no_system},
                "|code: code with no system");
  ExpectMatches(c, d.Query("Observation", Param("code", "http://loinc.org|")), {loinc, weight},
                "system|: any code of the system");
  ExpectMatches(c,
                d.Query("Observation", Param("code", "http://loinc.org|29463-7") + "," +
                                           EncodeQueryValue("|8480-6")),
                {weight, no_system}, "OR of two tokens");
}

// :not "returns resources that do not contain a match", including those with no value.
void CheckSearchTokenNot(Check& c) {
  TestData d(c);
  std::string male = d.Create("Patient", PatientMembers("Not", "Male", R"("gender":"male")"));
  std::string female = d.Create("Patient", PatientMembers("Not", "Female", R"("gender":"female")"));
  std::string unknown = d.Create("Patient", PatientMembers("Not", "Nobody"));
  ExpectMatches(c, d.Query("Patient", "gender=male"), {male}, "gender male");
  ExpectMatches(c, d.Query("Patient", "gender:not=male"), {female, unknown},
                "every Patient whose gender is not male, including the one with no gender");
  ExpectMatches(c, d.Query("Patient", "gender=male,female"), {male, female}, "male OR female");
}

// :text "searches text associated with the code/value - either CodeableConcept.text,
// Coding.display, or Identifier.type.text", as a string search (starts with, any case).
void CheckSearchTokenText(Check& c) {
  TestData d(c);
  std::string systolic =
      d.Create("Observation",
               R"("status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6",)"
               R"("display":"Systolic blood pressure"}]})");
  std::string weight = d.Create(
      "Observation",
      R"("status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}],)"
      R"("text":"Body weight"})");
  ExpectMatches(c, d.Query("Observation", Param("code:text", "systolic BLOOD")), {systolic},
                "start of Coding.display");
  ExpectMatches(c, d.Query("Observation", "code:text=body"), {weight},
                "start of CodeableConcept.text");
  ExpectMatches(c, d.Query("Observation", "code:text=8480-6"), {}, "the code is not its text");
}

// identifier:of-type=[type system]|[type code]|[value].
void CheckSearchIdentifierOfType(Check& c) {
  TestData d(c);
  std::string shared_value = d.tag() + "-77";
  auto identifier = [&](std::string_view type_code, std::string_view system,
                        std::string_view value) {
    return R"({"type":{"coding":[{"system":)" + JsonQuote(kV20203) + R"(,"code":)" +
           JsonQuote(type_code) + R"(}]},"system":)" + JsonQuote(system) + R"(,"value":)" +
           JsonQuote(value) + "}";
  };
  // The first has shared_value as passport number, the second as national id.
  std::string passport = d.Create(
      "Patient", PatientMembers("OfType", "Passport",
                                R"("identifier":[)" +
                                    identifier("NI", "urn:example:national", d.tag() + "-1") + "," +
                                    identifier("PPN", "urn:example:passport", shared_value) + "]"));
  std::string national = d.Create(
      "Patient", PatientMembers("OfType", "National",
                                R"("identifier":[)" +
                                    identifier("NI", "urn:example:national", shared_value) + "]"));
  ExpectMatches(c, d.Query("Patient", Param("identifier", shared_value)), {passport, national},
                "both carry the value");
  ExpectMatches(c,
                d.Query("Patient",
                        Param("identifier:of-type", std::string(kV20203) + "|PPN|" + shared_value)),
                {passport}, "the value as a passport number");
  ExpectMatches(
      c,
      d.Query("Patient", Param("identifier:of-type", std::string(kV20203) + "|NI|" + shared_value)),
      {national}, "the value as a national id");
  ExpectMatches(
      c,
      d.Query("Patient", Param("identifier:of-type", std::string(kV20203) + "|MR|" + shared_value)),
      {}, "no identifier of type MR");
}

// --- date (search.html#date) ---------------------------------------------------------------

// Birth dates of three precisions: a day, a whole year (1985), a day.
struct DateData {
  std::string day1970, year1985, day2001;
};

DateData CreateDateData(TestData& d) {
  return {d.Create("Patient", PatientMembers("Date", "A", R"("birthDate":"1970-03-15")")),
          d.Create("Patient", PatientMembers("Date", "B", R"("birthDate":"1985")")),
          d.Create("Patient", PatientMembers("Date", "C", R"("birthDate":"2001-07-04")"))};
}

// "the search value and the target are both ranges" (eq: the search range contains the target).
void CheckSearchDatePrecision(Check& c) {
  TestData d(c);
  DateData p = CreateDateData(d);
  ExpectMatches(c, d.Query("Patient", "birthdate=1970"), {p.day1970}, "the year contains the day");
  ExpectMatches(c, d.Query("Patient", "birthdate=1970-03"), {p.day1970},
                "the month contains the day");
  ExpectMatches(c, d.Query("Patient", "birthdate=1970-03-15"), {p.day1970}, "the same day");
  ExpectMatches(c, d.Query("Patient", "birthdate=1970-03-16"), {}, "another day");
  ExpectMatches(c, d.Query("Patient", "birthdate=1985"), {p.year1985}, "the same year");
  ExpectMatches(c, d.Query("Patient", "birthdate=1985-06-01"), {},
                "a day does not contain the whole year 1985");
  ExpectMatches(c, d.Query("Patient", "birthdate=1985-06"), {},
                "a month does not contain the whole year 1985");
}

// The prefixes on ranges: gt lt ge le sa eb ne.
void CheckSearchDatePrefixes(Check& c) {
  TestData d(c);
  DateData p = CreateDateData(d);
  ExpectMatches(c, d.Query("Patient", "birthdate=gt1985"), {p.day2001},
                "gt: after the end of 1985");
  ExpectMatches(c, d.Query("Patient", "birthdate=lt1985-06-01"), {p.day1970, p.year1985},
                "lt: 1985 starts before June");
  ExpectMatches(c, d.Query("Patient", "birthdate=ge1985-06-01"), {p.year1985, p.day2001},
                "ge: 1985 ends after June");
  ExpectMatches(c, d.Query("Patient", "birthdate=le1970-03-15"), {p.day1970}, "le: the same day");
  ExpectMatches(c, d.Query("Patient", "birthdate=sa1984"), {p.year1985, p.day2001},
                "sa: starts after the end of 1984");
  ExpectMatches(c, d.Query("Patient", "birthdate=eb1986"), {p.day1970, p.year1985},
                "eb: ends before the start of 1986");
  ExpectMatches(c, d.Query("Patient", "birthdate=sa1985-06-01"), {p.day2001},
                "sa: 1985 starts before June");
  ExpectMatches(c, d.Query("Patient", "birthdate=ne1970"), {p.year1985, p.day2001},
                "ne: not within 1970");
  ExpectMatches(c, d.Query("Patient", "birthdate=ge1970&birthdate=lt2000"), {p.day1970, p.year1985},
                "ge AND lt");
}

// Instants with time zone offsets compare as instants.
void CheckSearchDateTimeZone(Check& c) {
  TestData d(c);
  std::string utc = d.Create("Observation", ObservationMembers(kLoinc, "8480-6",
                                                               R"("effectiveDateTime":)"
                                                               R"("2020-01-10T08:00:00Z")"));
  // 23:30 at -05:00 is 04:30 UTC on the next day.
  std::string minus5 =
      d.Create("Observation", ObservationMembers(kLoinc, "8480-6",
                                                 R"("effectiveDateTime":)"
                                                 R"("2020-01-10T23:30:00-05:00")"));
  ExpectMatches(c, d.Query("Observation", Param("date", "2020-01-10T10:00:00+02:00")), {utc},
                "10:00+02:00 is 08:00Z");
  ExpectMatches(c, d.Query("Observation", Param("date", "2020-01-10T08:00:00+02:00")), {},
                "08:00+02:00 is 06:00Z");
  ExpectMatches(c, d.Query("Observation", Param("date", "2020-01-11T04:30:00Z")), {minus5},
                "23:30-05:00 is 04:30Z the next day");
  ExpectMatches(c, d.Query("Observation", Param("date", "gt2020-01-11T00:00:00Z")), {minus5},
                "only the -05:00 one is on the 11th in UTC");
  ExpectMatches(c, d.Query("Observation", Param("date", "lt2020-01-10T12:00:00-03:00")), {utc},
                "12:00-03:00 is 15:00Z");
}

// A Period is a range too: eq needs it inside the search range.
void CheckSearchDatePeriod(Check& c) {
  TestData d(c);
  std::string period =
      d.Create("Observation", ObservationMembers(kLoinc, "8480-6",
                                                 R"("effectivePeriod":{"start":"2020-02-01",)"
                                                 R"("end":"2020-02-03"})"));
  std::string march = d.Create(
      "Observation", ObservationMembers(kLoinc, "8480-6", R"("effectiveDateTime":"2020-03-05")"));
  ExpectMatches(c, d.Query("Observation", "date=2020-02"), {period}, "February contains it");
  ExpectMatches(c, d.Query("Observation", "date=2020-02-02"), {}, "one day does not contain three");
  ExpectMatches(c, d.Query("Observation", "date=2020"), {period, march}, "2020 contains both");
  ExpectMatches(c, d.Query("Observation", "date=ge2020-02-02"), {period, march},
                "ge: the period goes on after the 2nd");
  ExpectMatches(c, d.Query("Observation", "date=sa2020-01-31"), {period, march},
                "sa: both start after January");
  ExpectMatches(c, d.Query("Observation", "date=eb2020-02-03"), {},
                "eb: the period ends on the 3rd, not before it");
}

// --- number and quantity (search.html#number, #quantity) -----------------------------------

// RiskAssessment.prediction.probability (number): "the precision of the search value implies a
// range": 0.3 means [0.25, 0.35).
void CheckSearchNumber(Check& c) {
  TestData d(c);
  std::string patient = d.Create("Patient", PatientMembers("Number", "Risk"));
  auto risk = [&](std::string_view probability) {
    return d.Create("RiskAssessment", R"("status":"final",)" + RefMember("subject", patient) +
                                          R"(,"prediction":[{"probabilityDecimal":)" +
                                          std::string(probability) + "}]");
  };
  std::string low = risk("0.2");
  std::string mid = risk("0.31");
  std::string high = risk("0.75");
  ExpectMatches(c, d.Query("RiskAssessment", "probability=0.31"), {mid}, "equal");
  ExpectMatches(c, d.Query("RiskAssessment", "probability=0.3"), {mid}, "0.3 means [0.25, 0.35)");
  ExpectMatches(c, d.Query("RiskAssessment", "probability=0.310"), {mid},
                "0.310 means [0.3095, 0.3105)");
  ExpectMatches(c, d.Query("RiskAssessment", "probability=0.32"), {}, "[0.315, 0.325)");
  ExpectMatches(c, d.Query("RiskAssessment", "probability=gt0.5"), {high}, "greater");
  ExpectMatches(c, d.Query("RiskAssessment", "probability=lt0.25"), {low}, "less");
  ExpectMatches(c, d.Query("RiskAssessment", "probability=ge0.31"), {mid, high},
                "greater or equal");
  ExpectMatches(c, d.Query("RiskAssessment", "probability=le0.31"), {low, mid}, "less or equal");
}

// [prefix][number]|[system]|[code].
void CheckSearchQuantity(Check& c) {
  TestData d(c);
  std::string pressure = d.Create(
      "Observation", ObservationMembers(kLoinc, "8480-6", QuantityMember(121.3, "mmHg", "mm[Hg]")));
  std::string weight = d.Create(
      "Observation", ObservationMembers(kLoinc, "29463-7", QuantityMember(80, "kg", "kg")));
  std::string high = d.Create(
      "Observation", ObservationMembers(kLoinc, "8480-6", QuantityMember(140, "mmHg", "mm[Hg]")));
  ExpectMatches(c, d.Query("Observation", "value-quantity=121.3"), {pressure}, "equal");
  ExpectMatches(c, d.Query("Observation", "value-quantity=121"), {pressure},
                "121 means [120.5, 121.5)");
  ExpectMatches(c, d.Query("Observation", "value-quantity=121.0"), {},
                "121.0 means [120.95, 121.05)");
  ExpectMatches(c,
                d.Query("Observation", Param("value-quantity",
                                             "gt100|http://unitsofmeasure.org|"
                                             "mm[Hg]")),
                {pressure, high}, "greater than 100 mm[Hg]");
  ExpectMatches(c, d.Query("Observation", Param("value-quantity", "lt100||kg")), {weight},
                "less than 100, unit code kg in any system");
  ExpectMatches(c,
                d.Query("Observation", Param("value-quantity", "80|http://unitsofmeasure.org|kg")),
                {weight}, "80 kg");
  ExpectMatches(c,
                d.Query("Observation", Param("value-quantity", "80|http://unitsofmeasure.org|g")),
                {}, "80 g is not 80 kg");
}

// --- reference (search.html#reference) -----------------------------------------------------

void CheckSearchReference(Check& c) {
  TestData d(c);
  std::string p1 = d.Create("Patient", PatientMembers("Reference", "One"));
  std::string p2 = d.Create("Patient", PatientMembers("Reference", "Two"));
  std::string group = d.Create("Group", R"("type":"person","actual":true)");
  std::string o1 =
      d.Create("Observation", ObservationMembers(kLoinc, "8480-6", RefMember("subject", p1)));
  std::string o2 =
      d.Create("Observation", ObservationMembers(kLoinc, "8480-6", RefMember("subject", p2)));
  std::string o3 =
      d.Create("Observation", ObservationMembers(kLoinc, "8480-6", RefMember("subject", group)));
  ExpectMatches(c, d.Query("Observation", Param("subject", p1)), {o1}, "subject=Type/id");
  ExpectMatches(c, d.Query("Observation", Param("subject", IdOf(p2))), {o2}, "subject=id");
  ExpectMatches(c, d.Query("Observation", Param("subject:Patient", IdOf(p1))), {o1},
                "subject:Patient=id");
  ExpectMatches(c, d.Query("Observation", Param("subject:Group", IdOf(group))), {o3},
                "subject:Group=id");
  ExpectMatches(c, d.Query("Observation", Param("subject:Patient", IdOf(group))), {},
                "the Group's id as a Patient");
  ExpectMatches(c, d.Query("Observation", Param("patient", IdOf(p2))), {o2},
                "patient=id (a Patient subject)");
  ExpectMatches(c, d.Query("Observation", Param("subject", p1) + "," + EncodeQueryValue(p2)),
                {o1, o2}, "either Patient");
}

// Parameters that R4 defines over the same values find the same resources: `name` and its
// parts `family` and `given` (and `phonetic`, over `name`), `address` and `address-city`,
// `telecom` and its filters `email` and `phone`, Observation `combo-code` and `code` /
// `component-code`. (A server that indexes each value once, as ours does, must still answer
// every one of them.)
void CheckSearchSharedValues(Check& c) {
  TestData d(c);
  std::string p1 = d.Create(
      "Patient", R"("name":[{"family":"Chalmers","given":["Peter","James"],"prefix":["Mr"]}],)"
                 R"("address":[{"line":["534 Erewhon St"],"city":"PleasantVille","state":"Vic"}],)"
                 R"("telecom":[{"system":"email","value":"peter@example.org"},)"
                 R"({"system":"phone","value":"555-0101"}])");
  std::string p2 = d.Create("Patient", R"("name":[{"family":"Peterson"}],)"
                                       R"("address":[{"city":"Vicksburg"}])");
  struct Case {
    const char* param;
    const char* value;
    Refs expected;
    const char* why;
  };
  const Case cases[] = {
      {"name", "chalmers", {p1}, "name by the family"},
      {"name", "james", {p1}, "name by a given name"},
      {"name", "mr", {p1}, "name by the prefix"},
      {"name", "peter", {p1, p2}, "name: a given name of one, the start of the other's family"},
      {"family", "peter", {p2}, "family only"},
      {"given", "peter", {p1}, "given only"},
      {"phonetic", "Chalmers", {p1}, "phonetic: the same name sounds the same"},
      {"name:exact", "James", {p1}, "name:exact, a given"},
      {"address", "pleasantville", {p1}, "address by the city"},
      {"address", "vic", {p1, p2}, "address: one's state, the other's city"},
      {"address-city", "vic", {p2}, "address-city only"},
      {"address-state", "vic", {p1}, "address-state only"},
      {"telecom", "peter@example.org", {p1}, "telecom by the email address"},
      {"telecom", "555-0101", {p1}, "telecom by the phone number"},
      {"email", "peter@example.org", {p1}, "email"},
      {"phone", "555-0101", {p1}, "phone"},
      {"email", "555-0101", {}, "a phone is no email"},
  };
  for (const Case& k : cases) {
    ExpectMatches(c, d.Query("Patient", Param(k.param, k.value)), k.expected, k.why);
  }

  std::string o1 = d.Create(
      "Observation",
      ObservationMembers(kLoinc, "85354-9",
                         R"("component":[{"code":{"coding":[{"system":"http://loinc.org",)"
                         R"("code":"8480-6"}]}}])"));
  std::string o2 = d.Create("Observation", ObservationMembers(kLoinc, "8480-6"));
  ExpectMatches(c, d.Query("Observation", Param("combo-code", "8480-6")), {o1, o2},
                "combo-code: a component's code or the code");
  ExpectMatches(c, d.Query("Observation", Param("code", "8480-6")), {o2}, "code only");
  ExpectMatches(c, d.Query("Observation", Param("component-code", "8480-6")), {o1},
                "component-code only");
  ExpectMatches(c, d.Query("Observation", Param("combo-code:not", "85354-9")), {o2},
                "combo-code:not");
}

// :identifier matches Reference.identifier (a logical reference), not the target's identifier.
void CheckSearchReferenceIdentifier(Check& c) {
  TestData d(c);
  std::string value = d.tag() + "-subject";
  std::string identifier =
      R"({"system":)" + JsonQuote(kIdentifierSystem) + R"(,"value":)" + JsonQuote(value) + "}";
  std::string patient = d.Create(
      "Patient", PatientMembers("Logical", "Reference", R"("identifier":[)" + identifier + "]"));
  std::string logical = d.Create(
      "Observation",
      ObservationMembers(kLoinc, "8480-6", R"("subject":{"identifier":)" + identifier + "}"));
  std::string literal =
      d.Create("Observation", ObservationMembers(kLoinc, "8480-6", RefMember("subject", patient)));
  ExpectMatches(c,
                d.Query("Observation",
                        Param("subject:identifier", std::string(kIdentifierSystem) + "|" + value)),
                {logical}, "only the reference that carries the identifier");
  ExpectMatches(c, d.Query("Observation", Param("subject:identifier", "urn:other|" + value)), {},
                "another system");
  ExpectMatches(c, d.Query("Observation", Param("subject", patient)), {literal},
                "the literal reference");
}

// :missing=true|false.
void CheckSearchMissing(Check& c) {
  TestData d(c);
  std::string practitioner = d.Create("Practitioner", R"("name":[{"family":"Missing"}])");
  std::string with = d.Create(
      "Observation",
      ObservationMembers(kLoinc, "8480-6",
                         R"("performer":[{"reference":)" + JsonQuote(practitioner) + "}]"));
  std::string without = d.Create("Observation", ObservationMembers(kLoinc, "8480-6"));
  ExpectMatches(c, d.Query("Observation", "performer:missing=true"), {without}, "no performer");
  ExpectMatches(c, d.Query("Observation", "performer:missing=false"), {with}, "a performer");
  ExpectMatches(c, d.Query("Observation", "value-quantity:missing=false"), {},
                "neither has a value");
}

// --- chaining and reverse chaining (search.html#chaining, #has) ----------------------------

void CheckSearchChain(Check& c) {
  TestData d(c);
  std::string alvarez =
      d.Create("Patient", PatientMembers("Alvarez", "Ana", R"("gender":"female")"));
  std::string brown = d.Create("Patient", PatientMembers("Brown", "Bob", R"("gender":"male")"));
  std::string oa =
      d.Create("Observation", ObservationMembers(kLoinc, "8480-6", RefMember("subject", alvarez)));
  std::string ob =
      d.Create("Observation", ObservationMembers(kLoinc, "8480-6", RefMember("subject", brown)));
  ExpectMatches(c, d.Query("Observation", "subject:Patient.family=alvarez"), {oa},
                "subject:Patient.family");
  ExpectMatches(c, d.Query("Observation", "patient.gender=male"), {ob}, "patient.gender");
  ExpectMatches(c, d.Query("Observation", "subject:Patient.family=alvarez,brown"), {oa, ob},
                "OR inside the chain");
  ExpectMatches(c, d.Query("Observation", "subject:Patient.family=carter"), {}, "no such Patient");
}

void CheckSearchChainTwoHops(Check& c) {
  TestData d(c);
  std::string house = d.Create("Practitioner", R"("name":[{"family":"House"}])");
  std::string wilson = d.Create("Practitioner", R"("name":[{"family":"Wilson"}])");
  auto patient = [&](std::string_view given, const std::string& gp) {
    return d.Create("Patient", PatientMembers("Hops", given,
                                              R"("generalPractitioner":[{"reference":)" +
                                                  JsonQuote(gp) + "}]"));
  };
  std::string pa = patient("A", house);
  std::string pb = patient("B", wilson);
  auto condition = [&](const std::string& subject) {
    return d.Create("Condition", R"("code":{"text":"Asthma"},)" + RefMember("subject", subject));
  };
  std::string ca = condition(pa);
  std::string cb = condition(pb);
  ExpectMatches(
      c, d.Query("Condition", "subject:Patient.general-practitioner:Practitioner.family=house"),
      {ca}, "Condition -> Patient -> Practitioner");
  ExpectMatches(c, d.Query("Condition", "patient.general-practitioner:Practitioner.name=wilson"),
                {cb}, "Condition -> Patient -> Practitioner by name");
  ExpectMatches(
      c, d.Query("Condition", "subject:Patient.general-practitioner:Practitioner.family=cuddy"), {},
      "no such Practitioner");
}

void CheckSearchHas(Check& c) {
  TestData d(c);
  std::string pa = d.Create("Patient", PatientMembers("Has", "A"));
  std::string pb = d.Create("Patient", PatientMembers("Has", "B"));
  d.Create("Observation", ObservationMembers(kLoinc, "8480-6", RefMember("subject", pa)));
  d.Create("Observation", ObservationMembers(kLoinc, "29463-7", RefMember("subject", pb)));
  ExpectMatches(
      c, d.Query("Patient", Param("_has:Observation:patient:code", "http://loinc.org|8480-6")),
      {pa}, "Patients with an Observation of code 8480-6");
  ExpectMatches(c, d.Query("Patient", "_has:Observation:subject:code=29463-7"), {pb},
                "through subject");
  ExpectMatches(c, d.Query("Patient", "_has:Observation:patient:code=8480-6,29463-7"), {pa, pb},
                "either code");
  ExpectMatches(c, d.Query("Patient", "_has:Observation:patient:code=9999-9"), {},
                "no such Observation");
}

void CheckSearchHasNested(Check& c) {
  TestData d(c);
  std::string house = d.Create("Practitioner", R"("name":[{"family":"House"}])");
  std::string wilson = d.Create("Practitioner", R"("name":[{"family":"Wilson"}])");
  std::string pa = d.Create("Patient", PatientMembers("Nested", "A",
                                                      R"("generalPractitioner":[{"reference":)" +
                                                          JsonQuote(house) + "}]"));
  std::string pb = d.Create("Patient", PatientMembers("Nested", "B",
                                                      R"("generalPractitioner":[{"reference":)" +
                                                          JsonQuote(wilson) + "}]"));
  std::string code = d.tag() + "-asthma";
  d.Create("Condition", R"("code":{"coding":[{"system":"urn:example:conditions","code":)" +
                            JsonQuote(code) + "}]}," + RefMember("subject", pa));
  d.Create("Condition", R"("code":{"coding":[{"system":"urn:example:conditions","code":"flu"}]},)" +
                            RefMember("subject", pb));
  ExpectMatches(
      c,
      d.Query("Practitioner", Param("_has:Patient:general-practitioner:_has:Condition:subject:code",
                                    "urn:example:conditions|" + code)),
      {house}, "the Practitioner of a Patient with that Condition");
  ExpectMatches(
      c,
      d.Query("Practitioner", Param("_has:Patient:general-practitioner:_has:Condition:subject:code",
                                    "urn:example:conditions|flu")),
      {wilson}, "the Practitioner of a Patient with flu");
}

// --- _include and _revinclude (search.html#include) -----------------------------------------

void CheckSearchInclude(Check& c) {
  TestData d(c);
  std::string patient = d.Create("Patient", PatientMembers("Include", "Subject"));
  std::string practitioner = d.Create("Practitioner", R"("name":[{"family":"Include"}])");
  std::string obs =
      d.Create("Observation",
               ObservationMembers(kLoinc, "8480-6",
                                  RefMember("subject", patient) + R"(,"performer":[{"reference":)" +
                                      JsonQuote(practitioner) + "}]"));
  std::string target =
      d.Query("Observation", Param("_id", IdOf(obs)) + "&_include=Observation:subject");
  Found found = ExpectMatches(c, target, {obs}, "the includes are not matches");
  ExpectSameRefs(c, found.includes, {patient}, "GET [base]/" + target + " includes",
                 "the subject, not the performer");
  target =
      d.Query("Observation", Param("_id", IdOf(obs)) +
                                 "&_include=Observation:subject&_include=Observation:performer");
  found = ExpectMatches(c, target, {obs}, "the includes are not matches");
  ExpectSameRefs(c, found.includes, {patient, practitioner}, "GET [base]/" + target + " includes",
                 "subject and performer");
}

void CheckSearchRevinclude(Check& c) {
  TestData d(c);
  std::string p1 = d.Create("Patient", PatientMembers("Revinclude", "One"));
  std::string p2 = d.Create("Patient", PatientMembers("Revinclude", "Two"));
  std::string o1 =
      d.Create("Observation", ObservationMembers(kLoinc, "8480-6", RefMember("subject", p1)));
  std::string o2 =
      d.Create("Observation", ObservationMembers(kLoinc, "29463-7", RefMember("subject", p1)));
  d.Create("Observation", ObservationMembers(kLoinc, "8480-6", RefMember("subject", p2)));
  std::string target =
      d.Query("Patient", Param("_id", IdOf(p1)) + "&_revinclude=Observation:subject");
  Found found = ExpectMatches(c, target, {p1}, "the revincludes are not matches");
  ExpectSameRefs(c, found.includes, {o1, o2}, "GET [base]/" + target + " includes",
                 "the Observations whose subject is the match");
}

void CheckSearchIncludeIterate(Check& c) {
  TestData d(c);
  std::string gp = d.Create("Practitioner", R"("name":[{"family":"Iterate"}])");
  std::string patient = d.Create(
      "Patient", PatientMembers("Iterate", "P",
                                R"("generalPractitioner":[{"reference":)" + JsonQuote(gp) + "}]"));
  std::string condition =
      d.Create("Condition", R"("code":{"text":"Asthma"},)" + RefMember("subject", patient));
  std::string base =
      d.Query("Condition", Param("_id", IdOf(condition)) + "&_include=Condition:subject");
  std::string target = base + "&_include:iterate=Patient:general-practitioner";
  Found found = ExpectMatches(c, target, {condition}, "one Condition");
  ExpectSameRefs(c, found.includes, {patient, gp}, "GET [base]/" + target + " includes",
                 ":iterate follows the included Patient to its Practitioner");
  target = base + "&_include=Patient:general-practitioner";
  found = ExpectMatches(c, target, {condition}, "one Condition");
  ExpectSameRefs(c, found.includes, {patient}, "GET [base]/" + target + " includes",
                 "without :iterate only references from the matches are followed");
}

// --- _sort, _count, _total, _summary, _elements (search.html#sort, #count, ...) -------------

void CheckSearchSort(Check& c) {
  TestData d(c);
  std::string b1990 = d.Create("Patient", PatientMembers("Sort", "A", R"("birthDate":"1990")"));
  std::string b1970 =
      d.Create("Patient", PatientMembers("Sort", "B", R"("birthDate":"1970-05-05")"));
  std::string b1980 =
      d.Create("Patient", PatientMembers("Sort", "C", R"("birthDate":"1980-12-31")"));
  ExpectMatchOrder(c, d.Query("Patient", "_sort=birthdate"), {b1970, b1980, b1990}, "oldest first");
  ExpectMatchOrder(c, d.Query("Patient", "_sort=-birthdate"), {b1990, b1980, b1970},
                   "youngest first");
}

void CheckSearchSortTwoKeys(Check& c) {
  TestData d(c);
  std::string adams_zoe = d.Create("Patient", PatientMembers("Adams", "Zoe"));
  std::string baker_max = d.Create("Patient", PatientMembers("Baker", "Max"));
  std::string adams_amy = d.Create("Patient", PatientMembers("Adams", "Amy"));
  ExpectMatchOrder(c, d.Query("Patient", "_sort=family,-given"), {adams_zoe, adams_amy, baker_max},
                   "family ascending, then given descending");
  ExpectMatchOrder(c, d.Query("Patient", "_sort=-family,given"), {baker_max, adams_amy, adams_zoe},
                   "family descending, then given ascending");
}

// _count and the next links: following them to the end yields every match exactly once.
void CheckSearchPaging(Check& c) {
  TestData d(c);
  Refs created;
  for (int i = 0; i < 7; ++i) {
    created.push_back(d.Create("Patient", PatientMembers("Paging", "P" + std::to_string(i))));
  }
  std::string target = d.Query("Patient", "_count=3");
  Refs seen;
  std::vector<std::size_t> page_sizes;
  std::string what = "GET [base]/" + target;
  Found page = Search(c, target);
  for (int pages = 0;; ++pages) {
    c.Require(pages < 20, what + ": more than 20 pages of _count=3 for 7 matches");
    page_sizes.push_back(page.matches.size());
    c.Expect(page.matches.size() <= 3, what + ": page " + std::to_string(pages + 1) + " has " +
                                           std::to_string(page.matches.size()) +
                                           " matches, more than _count=3");
    ExpectTotalIfPresent(c, page.bundle, created.size(),
                         what + " page " + std::to_string(pages + 1));
    seen.insert(seen.end(), page.matches.begin(), page.matches.end());
    std::string next = LinkUrl(page.bundle, "next");
    if (next.empty()) break;
    what = "GET " + next;
    page = ReadSearchset(c, c.Request("GET", next), what);
  }
  ExpectSameRefs(c, seen, created, "the matches of all pages", "each Patient exactly once");
  std::string sizes;
  for (std::size_t size : page_sizes) sizes += (sizes.empty() ? "" : ",") + std::to_string(size);
  // "The server is not bound to return the number requested, but cannot return more".
  if (sizes != "3,3,1") c.Note("page sizes " + sizes + " for _count=3 (3,3,1 is the usual)");
}

// Bundle.total is the number of matches of the whole search, not of the page.
void CheckSearchTotal(Check& c) {
  TestData d(c);
  for (int i = 0; i < 4; ++i) d.Create("Patient", PatientMembers("Total", std::to_string(i)));
  for (std::string_view extra : {"_count=2", "_count=2&_total=accurate"}) {
    std::string target = d.Query("Patient", extra);
    Found found = Search(c, target);
    std::string what = "GET [base]/" + target;
    std::optional<std::int64_t> total = JsonInt(found.bundle, "total");
    c.Expect(total.has_value(), what + ": no Bundle.total");
    c.Expect(!total || *total == 4, what + ": Bundle.total is " +
                                        (total ? std::to_string(*total) : "") +
                                        ", expected 4 (all matches, not the page)");
    c.Expect(!found.matches.empty() && found.matches.size() <= 2,
             what + ": " + std::to_string(found.matches.size()) +
                 " matches on the page, expected 1 or 2");
  }
}

// _summary=count: "Return only the count, not the actual resources".
void CheckSearchSummaryCount(Check& c) {
  TestData d(c);
  for (int i = 0; i < 3; ++i) d.Create("Patient", PatientMembers("Count", std::to_string(i)));
  std::string target = d.Query("Patient", "_summary=count");
  Found found = Search(c, target);
  std::string what = "GET [base]/" + target;
  std::optional<std::int64_t> total = JsonInt(found.bundle, "total");
  c.Expect(total && *total == 3, what + ": Bundle.total is " +
                                     (total ? std::to_string(*total) : "absent") + ", expected 3");
  c.Expect(found.matches.empty() && found.includes.empty(),
           what + ": the Bundle has resources " + Join(found.matches) + ", expected none");
}

// _elements: only the listed elements (and mandatory ones), tagged SUBSETTED.
void CheckSearchElements(Check& c) {
  TestData d(c);
  std::string patient = d.Create(
      "Patient", PatientMembers("Elements", "E", R"("gender":"female","birthDate":"1999-09-09")"));
  std::string target = d.Query("Patient", "_elements=gender,birthDate");
  Found found = ExpectMatches(c, target, {patient}, "the one Patient");
  std::string what = "GET [base]/" + target;
  const rapidjson::Value* resource = JsonAt(found.bundle, "entry[0].resource");
  c.Require(resource != nullptr, what + ": no entry[0].resource");
  c.Expect(JsonString(*resource, "id") == IdOf(patient), what + ": the resource has no id");
  c.Expect(JsonString(*resource, "gender") == "female", what + ": gender is not \"female\"");
  c.Expect(JsonString(*resource, "birthDate") == "1999-09-09",
           what + ": birthDate is not \"1999-09-09\"");
  c.Expect(JsonAt(*resource, "name") == nullptr, what + ": name is there but was not asked for");
  bool subsetted = false;
  const rapidjson::Value* tags = JsonAt(*resource, "meta.tag");
  if (tags != nullptr && tags->IsArray()) {
    for (const rapidjson::Value& tag : tags->GetArray()) {
      subsetted = subsetted || (JsonString(tag, "system") == kSubsettedSystem &&
                                JsonString(tag, "code") == "SUBSETTED");
    }
  }
  c.Expect(subsetted, what + ": meta.tag has no " + std::string(kSubsettedSystem) + "|SUBSETTED");
}

// --- other ways to search (search.html#Introduction, #compartments) -------------------------

// POST [type]/_search with a form body means the same as GET [type]?query.
void CheckSearchPost(Check& c) {
  TestData d(c);
  std::string smith = d.Create("Patient", PatientMembers("Smith", "Post"));
  d.Create("Patient", PatientMembers("Jones", "Post"));
  std::string query = d.TagParam() + "&family=smith";
  Found get = ExpectMatches(c, "Patient?" + query, {smith}, "GET");
  Response r = c.Request("POST", "Patient/_search",
                         {{"Content-Type", "application/x-www-form-urlencoded"}}, query);
  std::string what = "POST [base]/Patient/_search with the body " + query;
  Found post = ReadSearchset(c, r, what);
  ExpectSameRefs(c, post.matches, get.matches, what + " matches", "the same as GET");
  ExpectTotalIfPresent(c, post.bundle, 1, what);
}

// GET [base]?_type=...: a search across types.
void CheckSearchSystem(Check& c) {
  TestData d(c);
  std::string patient = d.Create("Patient", PatientMembers("System", "S"));
  std::string obs =
      d.Create("Observation", ObservationMembers(kLoinc, "8480-6", RefMember("subject", patient)));
  std::string practitioner = d.Create("Practitioner", R"("name":[{"family":"System"}])");
  std::string tag = d.TagParam();
  ExpectMatches(c, "?_type=Patient,Observation&" + tag, {patient, obs},
                "the Patient and the Observation, not the Practitioner");
  ExpectMatches(c, "?" + tag, {patient, obs, practitioner}, "every type");
  ExpectMatches(c, "?_type=Patient,Practitioner&" + tag + "&" + Param("given", "s"), {patient},
                "a parameter both types have (R4: with _type, the others are common to them)");
}

// GET Patient/[id]/Observation: the Observations in the Patient's compartment.
void CheckSearchCompartment(Check& c) {
  TestData d(c);
  std::string p1 = d.Create("Patient", PatientMembers("Compartment", "One"));
  std::string p2 = d.Create("Patient", PatientMembers("Compartment", "Two"));
  std::string o1 =
      d.Create("Observation", ObservationMembers(kLoinc, "8480-6", RefMember("subject", p1)));
  std::string o2 =
      d.Create("Observation", ObservationMembers(kLoinc, "29463-7", RefMember("subject", p1)));
  std::string o3 =
      d.Create("Observation", ObservationMembers(kLoinc, "8480-6", RefMember("subject", p2)));
  std::string c1 = d.Create("Condition", R"("code":{"text":"Asthma"},)" + RefMember("subject", p1));
  ExpectMatches(c, p1 + "/Observation", {o1, o2}, "the first Patient's Observations");
  ExpectMatches(c, p1 + "/Observation?code=29463-7", {o2}, "with a criterion");
  ExpectMatches(c, p2 + "/Observation", {o3}, "the second Patient's Observation");
  ExpectMatches(c, p1 + "/Condition", {c1}, "the first Patient's Condition");
  ExpectMatches(c, p2 + "/Condition", {}, "the second Patient has none");
}

// --- errors and handling (search.html#errors, http.html#parameters) -------------------------

constexpr std::string_view kUnknownParameter = "cf-no-such-parameter";

// Prefer: handling=strict: an unknown parameter is an error naming it.
void CheckSearchStrictUnknown(Check& c) {
  TestData d(c);
  d.Create("Patient", PatientMembers("Strict", "S"));
  std::string target = d.Query("Patient", std::string(kUnknownParameter) + "=42");
  Response r = c.Request("GET", target, {{"Prefer", "handling=strict"}});
  std::string what = "GET [base]/" + target + " with Prefer: handling=strict";
  c.ExpectStatus(r, {400}, what);
  if (c.ExpectOperationOutcome(r, what)) {
    c.Expect(r.body.find(kUnknownParameter) != std::string::npos,
             what + ": the OperationOutcome does not name " + std::string(kUnknownParameter) +
                 " (" + Explanation(r) + ")");
  }
}

// Prefer: handling=lenient: an unknown parameter is ignored and left out of the self link.
void CheckSearchLenientUnknown(Check& c) {
  TestData d(c);
  std::string patient = d.Create("Patient", PatientMembers("Lenient", "L"));
  std::string target = d.Query("Patient", std::string(kUnknownParameter) + "=42");
  Found found = ExpectMatches(c, target, {patient}, "the unknown parameter is ignored",
                              {{"Prefer", "handling=lenient"}});
  std::string self = LinkUrl(found.bundle, "self");
  std::string what = "GET [base]/" + target + " with Prefer: handling=lenient";
  c.Expect(!self.empty(), what + ": no self link");
  c.Expect(self.find(kUnknownParameter) == std::string::npos,
           what + ": the self link " + Quoted(self) + " names the ignored parameter");
}

// A value that is not a date is an error, not an empty result.
void CheckSearchMalformedDate(Check& c) {
  TestData d(c);
  std::string target = d.Query("Patient", "birthdate=not-a-date");
  Response r = c.Request("GET", target);
  std::string what = "GET [base]/" + target;
  c.ExpectStatus(r, {400}, what);
  c.ExpectOperationOutcome(r, what);
}

// --- composite (search.html#composite) --------------------------------------------------------

// A blood pressure panel: components on the same element match, components of different
// elements do not; the value component takes prefixes; `$` separates, `\$` escapes.
void CheckSearchComposite(Check& c) {
  TestData d(c);
  auto component = [](std::string_view code, double value) {
    return R"({"code":{"coding":[{"system":)" + JsonQuote(kLoinc) + R"(,"code":)" +
           JsonQuote(code) + "}]}," + QuantityMember(value, "mmHg", "mm[Hg]") + "}";
  };
  std::string systolic = d.Create(
      "Observation", ObservationMembers(kLoinc, "8480-6", QuantityMember(130, "mmHg", "mm[Hg]")));
  std::string panel = d.Create(
      "Observation", ObservationMembers(kLoinc, "85354-9", R"("component":[)" +
                                                               component("8480-6", 120) + "," +
                                                               component("8462-4", 80) + "]"));
  std::string text = d.Create(
      "Observation", ObservationMembers(kLoinc, "5778-6", R"("valueString":"Costs $5")"));
  ExpectMatches(c,
                d.Query("Observation",
                        Param("code-value-quantity", "http://loinc.org|8480-6$gt125")),
                {systolic}, "code and value of the Observation, value prefix gt");
  ExpectMatches(c, d.Query("Observation", Param("code-value-quantity", "8480-6$lt125")), {},
                "the Observation's value is 130");
  ExpectMatches(c, d.Query("Observation", Param("component-code-value-quantity", "8462-4$80")),
                {panel}, "diastolic 80 in one component");
  ExpectMatches(c, d.Query("Observation", Param("component-code-value-quantity", "8480-6$80")),
                {}, "systolic is 120: the 80 belongs to another component");
  ExpectMatches(c,
                d.Query("Observation", Param("combo-code-value-quantity", "8480-6$ge120") + "," +
                                           EncodeQueryValue("8462-4$gt90")),
                {systolic, panel}, "the Observation's or a component's code and value, OR");
  ExpectMatches(c, d.Query("Observation", Param("code-value-string", "5778-6$costs \\$5")),
                {text}, "an escaped $ in the string component");
  std::string target = d.Query("Observation", Param("code-value-quantity", "8480-6"));
  Response r = c.Request("GET", target);
  std::string what = "GET [base]/" + target + " (the value component is missing)";
  c.ExpectStatus(r, {400}, what);
  c.ExpectOperationOutcome(r, what);
}

// --- :in / :not-in (search.html#modifiers) --------------------------------------------------

// A ValueSet stored on the server (its url unique to the run) selects codes by :in, by url
// and as ValueSet/id; :not-in is the rest; an unknown ValueSet is an error.
void CheckSearchTokenIn(Check& c) {
  TestData d(c);
  const std::string system = "http://example.org/fhir-conformance/cs/" + d.tag();
  const std::string url = "http://example.org/fhir-conformance/vs/" + d.tag();
  std::string value_set = d.Create(
      "ValueSet", R"("url":)" + JsonQuote(url) +
                      R"(,"status":"active","compose":{"include":[{"system":)" +
                      JsonQuote(system) + R"(,"concept":[{"code":"a"},{"code":"b"}]}]})");
  std::string a = d.Create("Observation", ObservationMembers(system, "a"));
  std::string b = d.Create("Observation", ObservationMembers(system, "b"));
  std::string other = d.Create("Observation", ObservationMembers(system, "c"));
  ExpectMatches(c, d.Query("Observation", Param("code:in", url)), {a, b},
                "the codes the ValueSet includes");
  ExpectMatches(c, d.Query("Observation", Param("code:in", value_set)), {a, b},
                "the ValueSet as ValueSet/id");
  ExpectMatches(c, d.Query("Observation", Param("code:not-in", url)), {other},
                "the codes the ValueSet does not include");
  std::string target = d.Query("Observation", Param("code:in", url + "-unknown"));
  Response r = c.Request("GET", target);
  std::string what = "GET [base]/" + target + " (no such ValueSet)";
  c.ExpectStatus(r, {400}, what);
  c.ExpectOperationOutcome(r, what);
}

// --- _contained (search.html#contained) ---------------------------------------------------

// A Medication contained in a MedicationRequest: found (as its container) only with
// _contained=true or both; a standalone Medication with the same code only without, or both.
void CheckSearchContained(Check& c) {
  TestData d(c);
  const std::string code = "cf-" + d.tag();
  const std::string coding = R"("code":{"coding":[{"system":"http://example.org/fhir-conformance",)"
                             R"("code":)" + JsonQuote(code) + "}]}";
  std::string patient = d.Create("Patient", PatientMembers("Contained", "C"));
  std::string request = d.Create(
      "MedicationRequest", R"("status":"active","intent":"order","contained":[{)"
                           R"("resourceType":"Medication","id":"med",)" + coding +
                               R"(}],"medicationReference":{"reference":"#med"},)" +
                               RefMember("subject", patient));
  std::string medication = d.Create("Medication", coding);
  // The tag is on the container and the standalone Medication, not on the contained one:
  // search by code alone.
  auto query = [&](std::string_view contained) {
    std::string q = "Medication?" + Param("code", code);
    if (!contained.empty()) q += "&_contained=" + std::string(contained);
    return q;
  };
  ExpectMatches(c, query(""), {medication}, "contained resources are not searched by default");
  ExpectMatches(c, query("true"), {request}, "the container of the matching contained Medication");
  ExpectMatches(c, query("both"), {request, medication}, "the container and the Medication");
}

// http.html#ccreate with a criterion other than identifier: 201, then 200, then 412 when two
// resources match.
void CheckSearchConditionalCreate(Check& c) {
  TestData d(c);
  // The letter after the tag keeps the prefix match from finding another check's tag.
  std::string family = d.tag() + "x";
  std::string criteria = Param("family", family) + "&birthdate=1961-02-03";
  std::string body = R"({"resourceType":"Patient","name":[{"family":)" + JsonQuote(family) +
                     R"(}],"birthDate":"1961-02-03"})";
  Headers headers = {{"If-None-Exist", criteria}};
  std::string what = "POST [base]/Patient with If-None-Exist: " + criteria;
  Response first = c.Request("POST", "Patient", headers, body);
  c.RequireStatus(first, {201}, what + " (nothing matches)");
  std::string id = ResponseId(first, "Patient");
  c.Require(!id.empty(), what + ": no id in the body nor in Location");
  Response second = c.Request("POST", "Patient", headers, body);
  if (c.ExpectStatus(second, {200}, what + " (one matches)")) {
    std::string again = ResponseId(second, "Patient");
    if (!again.empty()) {
      c.Expect(again == id, what + " (one matches): names Patient " + Quoted(again) +
                                ", expected " + Quoted(id));
    }
  }
  Response plain = c.Request("POST", "Patient", {}, body);
  c.RequireStatus(plain, {201}, "POST [base]/Patient (a second Patient that matches)");
  Response third = c.Request("POST", "Patient", headers, body);
  c.ExpectStatus(third, {412}, what + " (two match)");
  Found found = Search(c, "Patient?" + criteria);
  c.Expect(found.matches.size() == 2, "GET [base]/Patient?" + criteria + ": " +
                                          std::to_string(found.matches.size()) +
                                          " matches, expected 2");
}

constexpr CheckEntry kSearchChecks[] = {
    {"search-string", "string: case- and accent-insensitive prefix match",
     CheckSearchStringDefault},
    {"search-string-exact", "string :exact: whole value, case and accents", CheckSearchStringExact},
    {"search-string-contains", "string :contains: anywhere in the value",
     CheckSearchStringContains},
    {"search-string-or-and", "OR with \",\", AND by repetition, escaped \"\\,\"",
     CheckSearchStringOrAndEscape},
    {"search-token", "token: system|code, code, |code, system|", CheckSearchTokenSystemCode},
    {"search-token-not", "token :not includes resources without a value", CheckSearchTokenNot},
    {"search-token-text", "token :text on Coding.display and CodeableConcept.text",
     CheckSearchTokenText},
    {"search-identifier-of-type", "identifier:of-type=system|code|value",
     CheckSearchIdentifierOfType},
    {"search-date-precision", "date: a year contains a day, not the reverse",
     CheckSearchDatePrecision},
    {"search-date-prefixes", "date prefixes gt lt ge le sa eb ne on ranges",
     CheckSearchDatePrefixes},
    {"search-date-timezone", "date: instants with offsets compare as instants",
     CheckSearchDateTimeZone},
    {"search-date-period", "date: a Period is a range", CheckSearchDatePeriod},
    {"search-number", "number: implicit precision and prefixes", CheckSearchNumber},
    {"search-quantity", "quantity: implicit precision, prefixes, system|code", CheckSearchQuantity},
    {"search-reference", "reference: Type/id, id, :Type", CheckSearchReference},
    {"search-shared-values",
     "parameters over the same values: name/family/given/phonetic, address/address-city, "
     "telecom/email/phone, combo-code/code/component-code",
     CheckSearchSharedValues},
    {"search-reference-identifier", "reference :identifier matches Reference.identifier",
     CheckSearchReferenceIdentifier},
    {"search-missing", ":missing=true|false", CheckSearchMissing},
    {"search-chain", "chaining one hop", CheckSearchChain},
    {"search-chain-two-hops", "chaining two hops", CheckSearchChainTwoHops},
    {"search-has", "_has reverse chaining", CheckSearchHas},
    {"search-has-nested", "_has inside _has", CheckSearchHasNested},
    {"search-include", "_include: targets as include entries", CheckSearchInclude},
    {"search-revinclude", "_revinclude: referrers as include entries", CheckSearchRevinclude},
    {"search-include-iterate", "_include:iterate follows included resources",
     CheckSearchIncludeIterate},
    {"search-sort", "_sort ascending and descending", CheckSearchSort},
    {"search-sort-two-keys", "_sort on two keys", CheckSearchSortTwoKeys},
    {"search-paging", "_count with next links: every match exactly once", CheckSearchPaging},
    {"search-total", "Bundle.total by default: all matches, not the page", CheckSearchTotal},
    {"search-summary-count", "_summary=count: total, no resources", CheckSearchSummaryCount},
    {"search-elements", "_elements: listed elements only, SUBSETTED tag", CheckSearchElements},
    {"search-post", "POST [type]/_search equals GET", CheckSearchPost},
    {"search-system", "GET [base]?_type=...", CheckSearchSystem},
    {"search-compartment", "GET Patient/[id]/Observation", CheckSearchCompartment},
    {"search-strict-unknown", "Prefer: handling=strict, unknown parameter: 400 naming it",
     CheckSearchStrictUnknown},
    {"search-lenient-unknown", "Prefer: handling=lenient, unknown parameter: ignored, not in self",
     CheckSearchLenientUnknown},
    {"search-malformed-date", "a malformed date: 400 with an OperationOutcome",
     CheckSearchMalformedDate},
    {"search-composite", "composite: components on the same element, prefixes, \\$",
     CheckSearchComposite},
    {"search-token-in", "token :in / :not-in against a ValueSet stored on the server",
     CheckSearchTokenIn},
    {"search-contained", "_contained=true|both: the containers of matching contained resources",
     CheckSearchContained},
    {"search-conditional-create", "If-None-Exist on family and birthdate: 201, 200, 412",
     CheckSearchConditionalCreate},
};

}  // namespace

std::span<const CheckEntry> SearchChecks() { return kSearchChecks; }

}  // namespace conformance
