#include "fhir/fhirpath/fhirpath.h"

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "fhir/json/dom.h"
#include "fhir/json/parser.h"
#include "fhir/model/registry.h"
#include "fhir/r4/patient.h"
#include "fhir/r4/resource.h"

namespace fhir::fhirpath {
namespace {

constexpr std::string_view kPatient = R"({
  "resourceType": "Patient",
  "id": "p1",
  "contained": [{"resourceType": "Organization", "id": "org1", "name": "Clinic"}],
  "extension": [{"url": "http://example.org/eye-colour", "valueString": "blue"},
                {"url": "http://example.org/height", "valueQuantity": {"value": 180, "unit": "cm",
                 "system": "http://unitsofmeasure.org", "code": "cm"}}],
  "active": true,
  "name": [{"use": "official", "family": "Chalmers", "given": ["Peter", "James"]},
           {"use": "usual", "given": ["Jim"]}],
  "gender": "male",
  "birthDate": "1974-12-25",
  "_birthDate": {"extension": [{"url": "http://example.org/time", "valueTime": "14:35:45"}]},
  "deceasedBoolean": false,
  "managingOrganization": {"reference": "#org1"},
  "generalPractitioner": [{"reference": "Practitioner/pr1"},
                          {"reference": "http://other.org/fhir/Organization/o2/_history/3"}]
})";

constexpr std::string_view kObservation = R"({
  "resourceType": "Observation",
  "id": "o1",
  "status": "final",
  "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
  "subject": {"reference": "Patient/p1"},
  "effectiveDateTime": "2016-03-28T10:00:00+01:00",
  "valueQuantity": {"value": 185.0, "unit": "lbs", "system": "http://unitsofmeasure.org",
                    "code": "[lb_av]"}
})";

std::unique_ptr<Resource> Load(std::string_view json) {
  auto parsed = json::ParseResource(json);
  REQUIRE_MESSAGE(parsed.ok(), parsed.status().ToString());
  return std::move(parsed).value();
}

Collection Eval(const Resource& resource, std::string_view expression,
                const Environment& env = {}) {
  auto parsed = Parse(expression);
  REQUIRE_MESSAGE(parsed.ok(), parsed.status().ToString());
  auto result = Evaluate(*parsed.value(), resource, env);
  REQUIRE_MESSAGE(result.ok(), (std::string(expression) + ": " + result.status().ToString()));
  return std::move(result).value();
}

// The results as "type:text" strings, e.g. {"FHIR.string:Peter", "System.Boolean:true"}.
std::vector<std::string> Texts(const Collection& values) {
  std::vector<std::string> out;
  for (const Value& v : values) {
    std::optional<std::string> text = ToText(v);
    out.push_back(TypeName(v) + ":" + (text ? *text : "(complex)"));
  }
  return out;
}

using Strings = std::vector<std::string>;

TEST_CASE("Parse reports syntax errors with their position") {
  auto unfinished = Parse("2 + 2 /");
  REQUIRE_FALSE(unfinished.ok());
  CHECK(unfinished.status().type() == IssueType::kInvalid);
  CHECK(unfinished.status().diagnostics().find("position 7") != std::string::npos);

  auto comment = Parse("2 + 2 /* not finished");
  REQUIRE_FALSE(comment.ok());
  CHECK(comment.status().diagnostics().find("unterminated comment") != std::string::npos);

  auto unknown = Parse("name.frobnicate()");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.status().diagnostics().find("unknown function 'frobnicate'") != std::string::npos);

  auto arity = Parse("name.where()");
  REQUIRE_FALSE(arity.ok());
  CHECK(arity.status().diagnostics().find("wrong number of arguments") != std::string::npos);
}

TEST_CASE("ParseCached returns one shared parse per text") {
  auto a = ParseCached("Patient.name.given");
  auto b = ParseCached("Patient.name.given");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a.value().get() == b.value().get());
  CHECK(a.value()->text() == "Patient.name.given");
  CHECK_FALSE(ParseCached("Patient.(").ok());
}

TEST_CASE("paths walk the model: repeated, primitive and typed values") {
  auto patient = Load(kPatient);
  CHECK(Texts(Eval(*patient, "Patient.name.given")) ==
        Strings{"FHIR.string:Peter", "FHIR.string:James", "FHIR.string:Jim"});
  CHECK(Texts(Eval(*patient, "name.where(use = 'official').family")) ==
        Strings{"FHIR.string:Chalmers"});
  CHECK(Texts(Eval(*patient, "birthDate")) == Strings{"FHIR.date:1974-12-25"});
  CHECK(Texts(Eval(*patient, "gender")) == Strings{"FHIR.code:male"});
  CHECK(Texts(Eval(*patient, "id")) == Strings{"System.String:p1"});
  CHECK(Texts(Eval(*patient, "name.given.count()")) == Strings{"System.Integer:3"});
  CHECK(Eval(*patient, "Observation.status").empty());
  CHECK(Texts(Eval(*patient, "name[1].given | name[0].family")) ==
        Strings{"FHIR.string:Jim", "FHIR.string:Chalmers"});
  CHECK(Texts(Eval(*patient, "birthDate.extension.value")) == Strings{"FHIR.time:14:35:45"});
}

TEST_CASE("htmlChecks(): txt-1 and txt-2 on a narrative") {
  auto patient = Load(
      R"({"resourceType":"Patient","text":{"status":"generated",)"
      R"("div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Peter</p></div>"}})");
  CHECK(Texts(Eval(*patient, "text.div.htmlChecks()")) == Strings{"System.Boolean:true"});
  CHECK(Eval(*patient, "name.text.htmlChecks()").empty());
  // The parser refuses such a narrative; set in the model, the invariant catches it.
  auto& text = static_cast<Patient&>(*patient).text;
  REQUIRE(text);
  Narrative* narrative = &*text;
  narrative->div.value = R"(<div xmlns="http://www.w3.org/1999/xhtml"><script>x</script></div>)";
  CHECK(Texts(Eval(*patient, "text.div.htmlChecks()")) == Strings{"System.Boolean:false"});
  narrative->div.value = R"(<div xmlns="http://www.w3.org/1999/xhtml"> </div>)";
  CHECK(Texts(Eval(*patient, "text.div.htmlChecks()")) == Strings{"System.Boolean:false"});
}

TEST_CASE("choice elements: the active alternative by name, typed names, is/as/ofType") {
  auto observation = Load(kObservation);
  CHECK(Texts(Eval(*observation, "Observation.value.value")) == Strings{"FHIR.decimal:185.0"});
  CHECK(Texts(Eval(*observation, "Observation.valueQuantity.unit")) == Strings{"FHIR.string:lbs"});
  CHECK(Eval(*observation, "Observation.valueString").empty());
  CHECK(Texts(Eval(*observation, "value is Quantity")) == Strings{"System.Boolean:true"});
  CHECK(Texts(Eval(*observation, "value is FHIR.string")) == Strings{"System.Boolean:false"});
  CHECK(Texts(Eval(*observation, "(value as Quantity).code")) == Strings{"FHIR.code:[lb_av]"});
  CHECK(Texts(Eval(*observation, "value.ofType(Quantity).system")) ==
        Strings{"FHIR.uri:http://unitsofmeasure.org"});
  CHECK(Texts(Eval(*observation, "effective is dateTime")) == Strings{"System.Boolean:true"});
  CHECK(Texts(Eval(*observation, "status is id")) == Strings{"System.Boolean:false"});
  CHECK(Texts(Eval(*observation, "status is code")) == Strings{"System.Boolean:true"});
  // FHIR.code derives from FHIR.string for `is`; as/ofType match the exact type.
  auto patient = Load(kPatient);
  CHECK(Texts(Eval(*patient, "gender.is(string)")) == Strings{"System.Boolean:true"});
  CHECK(Eval(*patient, "gender.as(string)").empty());
  CHECK(Texts(Eval(*patient, "Patient is DomainResource")) == Strings{"System.Boolean:true"});
}

TEST_CASE("strict mode rejects names that are not elements and typed choice names") {
  auto observation = Load(kObservation);
  Environment strict;
  strict.strict = true;
  auto parsed = Parse("Observation.valueQuantity.unit");
  REQUIRE(parsed.ok());
  auto typed = Evaluate(*parsed.value(), *observation, strict);
  CHECK_FALSE(typed.ok());
  auto unknown = Parse("Observation.nonsense");
  REQUIRE(unknown.ok());
  CHECK_FALSE(Evaluate(*unknown.value(), *observation, strict).ok());
  CHECK(Evaluate(*unknown.value(), *observation).ok());
  // Names after a cast are checked against the type even when no value has it.
  auto cast = Parse("(Observation.value as Period).unit");
  REQUIRE(cast.ok());
  CHECK_FALSE(Evaluate(*cast.value(), *observation, strict).ok());
  CHECK(Evaluate(*cast.value(), *observation).ok());
  auto cast_ok = Parse("(Observation.value as Period).start");
  REQUIRE(cast_ok.ok());
  CHECK(Evaluate(*cast_ok.value(), *observation, strict).ok());
  // Order-dependent functions on the unordered children().
  auto ordered = Parse("Observation.children().first()");
  REQUIRE(ordered.ok());
  CHECK_FALSE(Evaluate(*ordered.value(), *observation, strict).ok());
  CHECK(Evaluate(*ordered.value(), *observation).ok());
}

TEST_CASE("resolve(): stubs without a resolver, contained resources, a resolver hook") {
  auto patient = Load(kPatient);
  auto observation = Load(kObservation);
  CHECK(Texts(Eval(*observation, "subject.resolve() is Patient")) ==
        Strings{"System.Boolean:true"});
  CHECK(Texts(Eval(*patient, "generalPractitioner.resolve().ofType(Organization).count()")) ==
        Strings{"System.Integer:1"});
  CHECK(Texts(Eval(*patient, "generalPractitioner.resolve().ofType(Practitioner).count()")) ==
        Strings{"System.Integer:1"});
  CHECK(Texts(Eval(*patient, "managingOrganization.resolve().name")) ==
        Strings{"FHIR.string:Clinic"});

  Environment env;
  std::vector<std::string> asked;
  env.resolve = [&](std::string_view reference) -> const Resource* {
    asked.emplace_back(reference);
    return reference == "Patient/p1" ? patient.get() : nullptr;
  };
  CHECK(Texts(Eval(*observation, "subject.resolve().name.first().family", env)) ==
        Strings{"FHIR.string:Chalmers"});
  CHECK(asked == Strings{"Patient/p1"});
}

TEST_CASE("extension(url), %resource, %context and the predefined constants") {
  auto patient = Load(kPatient);
  CHECK(Texts(Eval(*patient, "extension('http://example.org/eye-colour').value")) ==
        Strings{"FHIR.string:blue"});
  CHECK(Texts(Eval(*patient, "extension('http://example.org/height').value > 1.7 'm'")) ==
        Strings{"System.Boolean:true"});
  CHECK(Texts(Eval(*patient, "name.given.where(%resource.gender = 'male').count()")) ==
        Strings{"System.Integer:3"});
  CHECK(Texts(Eval(*patient, "%context.id")) == Strings{"System.String:p1"});
  CHECK(Texts(Eval(*patient, "%ucum")) == Strings{"System.String:http://unitsofmeasure.org"});
  CHECK(Texts(Eval(*patient, "%vs-administrative-gender")) ==
        Strings{"System.String:http://hl7.org/fhir/ValueSet/administrative-gender"});
  Environment env;
  env.variables.push_back({"limit", Collection{Value::Integer(2)}});
  CHECK(Texts(Eval(*patient, "name.given.take(%limit)", env)) ==
        Strings{"FHIR.string:Peter", "FHIR.string:James"});
  auto unknown = Parse("%nothing");
  REQUIRE(unknown.ok());
  CHECK_FALSE(Evaluate(*unknown.value(), *patient).ok());
}

TEST_CASE("three-valued logic") {
  auto patient = Load(kPatient);
  CHECK(Texts(Eval(*patient, "{} and false")) == Strings{"System.Boolean:false"});
  CHECK(Eval(*patient, "{} and true").empty());
  CHECK(Texts(Eval(*patient, "{} or true")) == Strings{"System.Boolean:true"});
  CHECK(Eval(*patient, "{} or false").empty());
  CHECK(Eval(*patient, "true xor {}").empty());
  CHECK(Texts(Eval(*patient, "false implies {}")) == Strings{"System.Boolean:true"});
  CHECK(Eval(*patient, "true implies {}").empty());
  CHECK(Texts(Eval(*patient, "active and deceased.not()")) == Strings{"System.Boolean:true"});
}

TEST_CASE("dates honour precision and time zones") {
  auto observation = Load(kObservation);
  CHECK(Texts(Eval(*observation, "effective > @2016-03-28T08:59:00Z")) ==
        Strings{"System.Boolean:true"});
  CHECK(Texts(Eval(*observation, "effective = @2016-03-28T09:00:00Z")) ==
        Strings{"System.Boolean:true"});
  CHECK(Eval(*observation, "effective = @2016-03-28").empty());
  CHECK(Texts(Eval(*observation, "@2012 < @2013-01-01")) == Strings{"System.Boolean:true"});
  CHECK(Eval(*observation, "@2012 = @2012-01").empty());
  CHECK(Texts(Eval(*observation, "@2012-01-31 + 1 month")) == Strings{"System.Date:2012-02-29"});
  CHECK(Texts(Eval(*observation, "@T10:30:00 < @T10:31")) == Strings{"System.Boolean:true"});
}

TEST_CASE("quantities compare across units; calendar durations") {
  auto observation = Load(kObservation);
  CHECK(Texts(Eval(*observation, "4 'g' = 4000 'mg'")) == Strings{"System.Boolean:true"});
  CHECK(Texts(Eval(*observation, "value > 80 'kg'")) == Strings{"System.Boolean:true"});
  CHECK(Texts(Eval(*observation, "value < 90 'kg'")) == Strings{"System.Boolean:true"});
  CHECK(Texts(Eval(*observation, "7 days = 1 week")) == Strings{"System.Boolean:true"});
  CHECK(Texts(Eval(*observation, "1 year = 12 months")) == Strings{"System.Boolean:true"});
  CHECK(Eval(*observation, "1 year = 1 'a'").empty());
  CHECK(Texts(Eval(*observation, "1 year ~ 1 'a'")) == Strings{"System.Boolean:true"});
  CHECK(Eval(*observation, "1 'g' = 1 'm'").empty());
}

TEST_CASE("functions: strings, math, conversions, collections") {
  auto patient = Load(kPatient);
  CHECK(Texts(Eval(*patient, "name.family.first().upper().substring(1, 3)")) ==
        Strings{"System.String:HAL"});
  CHECK(Texts(Eval(*patient, "name.given.distinct().count()")) == Strings{"System.Integer:3"});
  CHECK(Texts(Eval(*patient, "'a,b,c'.split(',').join('-')")) == Strings{"System.String:a-b-c"});
  CHECK(Texts(Eval(*patient, "'abc'.matches('^a.c$')")) == Strings{"System.Boolean:true"});
  CHECK(Texts(Eval(*patient, "'abcb'.replaceMatches('b', 'x')")) == Strings{"System.String:axcx"});
  CHECK(Texts(Eval(*patient, "(1.8 - 1.2) = 0.6")) == Strings{"System.Boolean:true"});
  CHECK(Texts(Eval(*patient, "7 div 2 + 7 mod 2")) == Strings{"System.Integer:4"});
  CHECK(Texts(Eval(*patient, "3.14159.round(2)")) == Strings{"System.Decimal:3.14"});
  CHECK(Texts(Eval(*patient, "'12'.toInteger() + 1")) == Strings{"System.Integer:13"});
  CHECK(Texts(Eval(*patient, "'1.5x'.convertsToDecimal()")) == Strings{"System.Boolean:false"});
  CHECK(Texts(Eval(*patient, "birthDate.toString()")) == Strings{"System.String:1974-12-25"});
  CHECK(Texts(Eval(*patient, "iif(active, 'yes', 'no')")) == Strings{"System.String:yes"});
  CHECK(Texts(Eval(*patient, "(1 | 2 | 3).aggregate($this + $total, 0)")) ==
        Strings{"System.Integer:6"});
  CHECK(Texts(Eval(*patient, "name.select(given.first()).where($index = 1)")) ==
        Strings{"FHIR.string:Jim"});
  CHECK(Texts(Eval(*patient, "(1 | 2).combine(2 | 3).count()")) == Strings{"System.Integer:4"});
  CHECK(Texts(Eval(*patient, "name.all(given.exists())")) == Strings{"System.Boolean:true"});
  CHECK(Texts(Eval(*patient, "contained.descendants().ofType(string).count()")) ==
        Strings{"System.Integer:1"});
  auto several = Parse("name.given.single()");
  REQUIRE(several.ok());
  CHECK_FALSE(Evaluate(*several.value(), *patient).ok());
}

// The message of evaluating `expression` on `resource`, which must fail.
std::string EvalFailure(const Resource& resource, std::string_view expression) {
  auto parsed = Parse(expression);
  REQUIRE(parsed.ok());
  auto result = Evaluate(*parsed.value(), resource);
  REQUIRE_FALSE(result.ok());
  return result.status().diagnostics();
}

// Regexes come from clients (FHIRPath Patch): they run in linear time (RE2), whatever the pattern.
TEST_CASE("functions: matches() and replaceMatches() on client patterns") {
  auto patient = Load(kPatient);
  // Single-line mode: '.' matches a newline.
  CHECK(Texts(Eval(*patient, "'a\nb'.matches('^a.b$')")) == Strings{"System.Boolean:true"});
  CHECK(Texts(Eval(*patient, "'abc'.matchesFull('b')")) == Strings{"System.Boolean:false"});
  // Groups by number and by name (the spec's example, .NET-style named groups). In the C++
  // source each regex backslash is doubled twice: once for C++, once for the FHIRPath string.
  CHECK(Texts(Eval(*patient, "'abcb'.replaceMatches('(b)', '[$1]')")) ==
        Strings{"System.String:a[b]c[b]"});
  CHECK(Texts(Eval(*patient,
                   "'11/30/1972'.replaceMatches('\\\\b(?<month>\\\\d{1,2})/(?<day>\\\\d{1,2})/"
                   "(?<year>\\\\d{2,4})\\\\b', '${day}-${month}-${year}')")) ==
        Strings{"System.String:30-11-1972"});
  // A backslash in the substitution is kept as is; an empty match keeps whole UTF-8 characters.
  CHECK(Texts(Eval(*patient, "'a-b'.replaceMatches('-', '\\\\')")) ==
        Strings{"System.String:a\\b"});
  CHECK(Texts(Eval(*patient, "'\u00e9\u00e9'.replaceMatches('x*', '-')")) ==
        Strings{"System.String:-\u00e9-\u00e9-"});
  // Exponential for a backtracking engine: answered at once.
  const std::string many_a(5000, 'a');
  CHECK(Texts(Eval(*patient, "'" + many_a + "c'.matches('^(a+)+b$')")) ==
        Strings{"System.Boolean:false"});
  CHECK(Texts(Eval(*patient, "'" + many_a + "'.matches('(a|aa)*c')")) ==
        Strings{"System.Boolean:false"});
  // Back-references (std::regex overflowed an int on \4444444444444444444) and unknown groups:
  // errors.
  CHECK(EvalFailure(*patient, "'aa'.matches('(a)\\\\1')") ==
        "FHIRPath evaluation error: invalid regular expression '(a)\\1'");
  CHECK(EvalFailure(*patient, "'a'.matches('\\\\4444444444444444444:')") ==
        "FHIRPath evaluation error: invalid regular expression '\\4444444444444444444:'");
  CHECK(EvalFailure(*patient, "'ab'.replaceMatches('(a)', '${b}')") ==
        "FHIRPath evaluation error: replaceMatches(): substitution '${b}' names a group the "
        "regular expression lacks");
  // A result past 1 MiB stops early.
  CHECK(EvalFailure(*patient, "'" + many_a + "'.replaceMatches('a', '" + std::string(300, 'x') +
                                  "')") ==
        "FHIRPath evaluation error: replaceMatches() result too long");
}

}  // namespace
}  // namespace fhir::fhirpath

namespace fhir::fhirpath {
namespace {

TEST_CASE("every R4 invariant and search parameter expression parses") {
  std::size_t invariants = 0;
  for (const TypeInfo* type : AllTypes()) {
    for (const Constraint& constraint : type->constraints) {
      if (constraint.expression.empty()) continue;
      ++invariants;
      auto parsed = Parse(constraint.expression);
      CHECK_MESSAGE(parsed.ok(),
                    (std::string(constraint.key) + ": " + std::string(constraint.expression) +
                     " -> " + parsed.status().ToString()));
    }
  }
  CHECK(invariants > 800);

  std::ifstream in(FHIR_SPEC_DIR "/search-parameters.json");
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  json::JsonDocument document;
  REQUIRE(document.Parse(text.str()).ok());
  REQUIRE(document.root().is_array());
  std::size_t expressions = 0;
  auto patient = Load(kPatient);
  auto observation = Load(kObservation);
  for (const json::JsonValue& parameter : document.root().array()) {
    const json::JsonValue* value = parameter.Find("expression");
    if (value == nullptr || !value->is_string()) continue;
    ++expressions;
    std::string expression(value->str());
    auto parsed = Parse(expression);
    CHECK_MESSAGE(parsed.ok(), (expression + " -> " + parsed.status().ToString()));
    if (!parsed.ok()) continue;
    // And evaluates on resources of the types it names.
    for (const Resource* resource : {patient.get(), observation.get()}) {
      auto result = Evaluate(*parsed.value(), *resource);
      CHECK_MESSAGE(result.ok(), (expression + " -> " + result.status().ToString()));
    }
  }
  CHECK(expressions > 1000);
}

}  // namespace
}  // namespace fhir::fhirpath

namespace fhir::fhirpath {
namespace {

TEST_CASE("the resource-level error invariants hold on valid resources") {
  auto patient = Load(kPatient);
  auto observation = Load(kObservation);
  std::size_t checked = 0;
  for (const Resource* resource : {patient.get(), observation.get()}) {
    const TypeInfo& type = resource->type_info();
    for (const Constraint& constraint : type.constraints) {
      if (constraint.path != type.name || constraint.severity != "error") continue;
      ++checked;
      auto parsed = ParseCached(constraint.expression);
      REQUIRE(parsed.ok());
      auto result = Evaluate(*parsed.value(), *resource);
      REQUIRE_MESSAGE(result.ok(), result.status().ToString());
      CHECK_MESSAGE(Texts(result.value()) == Strings{"System.Boolean:true"},
                    (std::string(constraint.key) + ": " + std::string(constraint.expression)));
    }
  }
  CHECK(checked >= 6);
}

}  // namespace
}  // namespace fhir::fhirpath

namespace fhir::fhirpath {
namespace {

TEST_CASE("numeric and calendar overflow give empty or an error, never undefined behaviour") {
  auto patient = Load(kPatient);
  CHECK(Eval(*patient, "9223372036854775807 + 1").empty());
  CHECK(Eval(*patient, "(-9223372036854775807 - 1) div -1").empty());
  CHECK(Eval(*patient, "(-9223372036854775807 - 1).abs()").empty());
  CHECK(Eval(*patient, "10.power(30)").empty());
  CHECK(Eval(*patient, "1 / 0").empty());
  CHECK(Eval(*patient, "'zz'.decode('hex')").empty());
  CHECK(Texts(Eval(*patient, "'7a'.decode('hex')")) == Strings{"System.String:z"});
  auto late = Parse("@9999-12-31 + 1 day");
  REQUIRE(late.ok());
  CHECK_FALSE(Evaluate(*late.value(), *patient).ok());
  auto deep = Parse(std::string(150, '(') + "1" + std::string(150, ')'));
  REQUIRE_FALSE(deep.ok());
  CHECK(deep.status().diagnostics().find("nested too deeply") != std::string::npos);
  auto minus = Parse(std::string(5000, '-') + "1");
  CHECK_FALSE(minus.ok());
  std::string chain = "name";
  for (int i = 0; i < 2000; ++i) chain += ".given";
  CHECK_FALSE(Parse(chain).ok());
}

TEST_CASE("2.1 functions: sort, boundaries, type()") {
  auto patient = Load(kPatient);
  CHECK(Texts(Eval(*patient, "(3 | 1 | 2).sort()")) ==
        Strings{"System.Integer:1", "System.Integer:2", "System.Integer:3"});
  CHECK(Texts(Eval(*patient, "name.sort(-given.first()).select(given.first())")) ==
        Strings{"FHIR.string:Peter", "FHIR.string:Jim"});
  CHECK(Texts(Eval(*patient, "1.587.lowBoundary(2)")) == Strings{"System.Decimal:1.58"});
  CHECK(Texts(Eval(*patient, "1.587.highBoundary()")) == Strings{"System.Decimal:1.58750000"});
  CHECK(Texts(Eval(*patient, "@2014.highBoundary(6)")) == Strings{"System.Date:2014-12"});
  CHECK(Texts(Eval(*patient, "birthDate.lowBoundary(17)")) == Strings{});
  CHECK(Texts(Eval(*patient, "@2014-01-01T10:30.lowBoundary(17)")) ==
        Strings{"System.DateTime:2014-01-01T10:30:00.000+14:00"});
  CHECK(Texts(Eval(*patient, "gender.type().name")) == Strings{"FHIR.string:code"});
  CHECK(Texts(Eval(*patient, "1.type().namespace")) == Strings{"FHIR.string:System"});
  CHECK(Texts(Eval(*patient, "conformsTo('http://hl7.org/fhir/StructureDefinition/Patient')")) ==
        Strings{"System.Boolean:true"});
  auto other = Parse("conformsTo('http://example.org/StructureDefinition/my-patient')");
  REQUIRE(other.ok());
  auto unsupported = Evaluate(*other.value(), *patient);
  REQUIRE_FALSE(unsupported.ok());
  CHECK(unsupported.status().type() == IssueType::kNotSupported);
}

}  // namespace
}  // namespace fhir::fhirpath

namespace fhir::fhirpath {
namespace {

TEST_CASE("runaway expressions stop with an error") {
  auto patient = Load(kPatient);
  for (const char* text : {"1.repeat($this + 1)", "'ab'.repeat($this + $this)",
                           "descendants().aggregate($total & $total, 'abcdefgh')"}) {
    auto parsed = Parse(text);
    REQUIRE(parsed.ok());
    auto result = Evaluate(*parsed.value(), *patient);
    CHECK_MESSAGE(!result.ok(), std::string(text));
  }
  CHECK(Texts(Eval(*patient, "name.repeat(given).count()")) == Strings{"System.Integer:3"});
}

// Expressions a client can send (FHIRPath Patch paths) that would take the server's memory or
// its time: each stops with an error saying which bound it hit, before it takes either.
TEST_CASE("expressions that grow without bound stop at the evaluation's bounds") {
  auto patient = Load(kPatient);
  const std::string thirty = "(1|2|3|4|5|6|7|8|9|10|11|12|13|14|15|16|17|18|19|20|21|22|23|24|25|"
                             "26|27|28|29|30)";
  const std::vector<std::pair<std::string, std::string>> cases = {
      // The collection doubles at each of 30 items: 2^30 items.
      {thirty + ".aggregate($total.combine($total), 1).count()", "items"},
      // Items double and their text triples at each step, each string under the 1 MiB bound.
      {thirty + ".aggregate($total.combine($total.select($this & $this)), 'abcdefghij').count()",
       "text"},
      // distinct() over 2^17 items: 2^34 comparisons.
      {thirty + ".aggregate(iif($total.count() < 100000, $total.combine($total), $total), 1)"
                ".distinct().count()",
       "work"},
      // select() of a million items per item: stopped as it grows, before memory fills.
      {"('" + std::string(1000, 'a') + "'.toChars()).select('" + std::string(1000, 'b') +
           "'.toChars().select('" + std::string(1000, 'c') + "'.toChars())).count()",
       "items"},
      // Nested lambdas: 30^5 evaluations of the innermost one.
      {thirty + ".where(" + thirty + ".where(" + thirty + ".where(" + thirty + ".where(" + thirty +
           ".where($this > 0).exists()).exists()).exists()).exists()).count()",
       "work"},
  };
  for (const auto& c : cases) {
    const std::string& text = c.first;
    const std::string& bound = c.second;
    auto parsed = Parse(text);
    REQUIRE_MESSAGE(parsed.ok(), text);
    auto result = Evaluate(*parsed.value(), *patient);
    REQUIRE_MESSAGE(!result.ok(), text);
    CHECK(result.status().type() == IssueType::kProcessing);
    const std::string& message = result.status().diagnostics();
    CHECK_MESSAGE(message.find("FHIRPath evaluation error") == 0, message);
    if (bound == "items") CHECK_MESSAGE(message.find("items") != std::string::npos, message);
    if (bound == "work") CHECK_MESSAGE(message.find("work") != std::string::npos, message);
    if (bound == "text") CHECK_MESSAGE(message.find("MiB of text") != std::string::npos, message);
  }
  // Big but bounded collections still evaluate.
  CHECK(Texts(Eval(*patient, thirty + ".aggregate(iif($total.count() < 100000, "
                                      "$total.combine($total), $total), 1).count()")) ==
        Strings{"System.Integer:131072"});
  CHECK(Texts(Eval(*patient, thirty + ".select(" + thirty + ").distinct().count()")) ==
        Strings{"System.Integer:30"});
}

}  // namespace
}  // namespace fhir::fhirpath

namespace fhir::fhirpath {
namespace {

TEST_CASE("ParseCached and Evaluate from several threads give the same results") {
  auto patient = Load(kPatient);
  const std::vector<std::string> expressions = {"Patient.name.given",
                                                "name.where(use = 'usual').given",
                                                "birthDate < @2000-01-01",
                                                "extension('http://example.org/eye-colour').value",
                                                "generalPractitioner.resolve()",
                                                "descendants().ofType(string).count()"};
  std::vector<Strings> expected;
  for (const std::string& e : expressions) expected.push_back(Texts(Eval(*patient, e)));
  std::vector<std::vector<Strings>> got(4);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < got.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 50; ++round) {
        for (const std::string& e : expressions) {
          auto parsed = ParseCached(e);
          if (!parsed.ok()) continue;
          auto result = Evaluate(*parsed.value(), *patient);
          if (round == 0 && result.ok()) got[t].push_back(Texts(result.value()));
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::vector<Strings>& results : got) CHECK(results == expected);
}

}  // namespace
}  // namespace fhir::fhirpath

namespace fhir::fhirpath {
namespace {

TEST_CASE("resources inside resources: Bundle entries, %resource and %rootResource") {
  auto bundle = Load(R"({
    "resourceType": "Bundle", "type": "collection",
    "entry": [
      {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient", "id": "a",
                                             "gender": "female"}},
      {"fullUrl": "urn:uuid:2", "resource": {"resourceType": "Observation", "id": "b",
        "status": "final", "code": {"text": "x"}, "subject": {"reference": "Patient/a"}}}
    ]
  })");
  CHECK(Texts(Eval(*bundle, "Bundle.entry.resource.ofType(Patient).gender")) ==
        Strings{"FHIR.code:female"});
  CHECK(Texts(Eval(*bundle, "entry.resource.where($this is Observation).id")) ==
        Strings{"System.String:b"});
  CHECK(Texts(Eval(*bundle, "entry[1].resource.subject.resolve() is Patient")) ==
        Strings{"System.Boolean:true"});
  CHECK(Texts(Eval(*bundle, "entry.resource.select(%resource.type().name)")) ==
        Strings{"FHIR.string:Bundle", "FHIR.string:Bundle"});

  // An entry evaluated on its own, with the Bundle as %rootResource.
  auto parsed = Parse("%resource.id | %rootResource.type");
  REQUIRE(parsed.ok());
  Collection entries = Eval(*bundle, "entry.resource.ofType(Observation)");
  REQUIRE(entries.size() == 1);
  Environment env;
  env.root_resource = bundle.get();
  auto result = Evaluate(*parsed.value(), entries, env);
  REQUIRE(result.ok());
  CHECK(Texts(result.value()) == Strings{"System.String:b", "FHIR.code:collection"});
}

}  // namespace
}  // namespace fhir::fhirpath

namespace fhir::fhirpath {
namespace {

TEST_CASE("defineVariable() scopes, now() is fixed for one evaluation") {
  auto patient = Load(kPatient);
  CHECK(Texts(Eval(*patient, "defineVariable('v', 41).select(%v + 1)")) ==
        Strings{"System.Integer:42"});
  CHECK(Texts(Eval(*patient, "name.defineVariable('n', given.first()).select(%n)")) ==
        Strings{"FHIR.string:Peter", "FHIR.string:Peter"});
  for (const char* text :
       {"name.select(defineVariable('n', 1)).exists() and %n.exists()",
        "defineVariable('a', 1).defineVariable('a', 2)", "defineVariable('resource', 1)"}) {
    auto parsed = Parse(text);
    REQUIRE(parsed.ok());
    CHECK_MESSAGE(!Evaluate(*parsed.value(), *patient).ok(), std::string(text));
  }
  CHECK(Texts(Eval(*patient,
                   "now() = now() and today() = now().toString().substring(0, 10).toDate()")) ==
        Strings{"System.Boolean:true"});
}

}  // namespace
}  // namespace fhir::fhirpath

namespace fhir::fhirpath {
namespace {

TEST_CASE("decimal arithmetic is exact and keeps the digits after the point") {
  auto patient = Load(kPatient);
  CHECK(Texts(Eval(*patient, "1.1 + 2.20")) == Strings{"System.Decimal:3.30"});
  CHECK(Texts(Eval(*patient, "0.1 + 0.2")) == Strings{"System.Decimal:0.3"});
  CHECK(Texts(Eval(*patient, "1.8 - 1.2")) == Strings{"System.Decimal:0.6"});
  CHECK(Texts(Eval(*patient, "1 - 1.25")) == Strings{"System.Decimal:-0.25"});
  CHECK(Texts(Eval(*patient, "1.5 * 1.5")) == Strings{"System.Decimal:2.25"});
  CHECK(Texts(Eval(*patient, "-0.05 * 2")) == Strings{"System.Decimal:-0.10"});
  CHECK(Texts(Eval(*patient, "12345678901234.5678 + 0.0001")) ==
        Strings{"System.Decimal:12345678901234.5679"});
  // Beyond 18 digits: binary floating point, 15 significant digits.
  CHECK(Texts(Eval(*patient, "1234567890123456789.5 + 1")) ==
        Strings{"System.Decimal:1234567890123456768"});
  CHECK(Texts(Eval(*patient, "1 / 4")) == Strings{"System.Decimal:0.25"});
}

}  // namespace
}  // namespace fhir::fhirpath
