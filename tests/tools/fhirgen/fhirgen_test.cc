// Golden test of tools/fhirgen: a small fixture of trimmed R4 definitions (three resources,
// two complex types, six primitives, one required ValueSet) must generate exactly the files
// in golden/. After an intended generator change, run with UPDATE_GOLDEN=1 to rewrite them
// (the run then fails, so a rewrite is never silent) and review the diff.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <doctest/doctest.h>

#include "tools/fhirgen/definitions.h"
#include "tools/fhirgen/emit.h"

namespace {

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("fhirgen output for the fixture equals the golden files") {
  fhirgen::Definitions defs = fhirgen::LoadDefinitions(FHIRGEN_FIXTURE_DIR);
  REQUIRE(defs.primitives.size() == 6);
  REQUIRE(defs.datatypes.size() == 2);
  REQUIRE(defs.resources.size() == 3);
  std::vector<fhirgen::OutputFile> files = fhirgen::Generate(defs);
  const std::filesystem::path golden(FHIRGEN_GOLDEN_DIR);

  if (std::getenv("UPDATE_GOLDEN") != nullptr) {
    std::filesystem::remove_all(golden);
    for (const auto& f : files) {
      std::filesystem::create_directories((golden / f.path).parent_path());
      std::ofstream(golden / f.path, std::ios::binary) << f.content;
    }
    FAIL("golden files rewritten; review the diff and run again without UPDATE_GOLDEN");
  }

  std::set<std::string> expected;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(golden)) {
    if (entry.is_regular_file()) {
      expected.insert(std::filesystem::relative(entry.path(), golden).string());
    }
  }
  std::set<std::string> actual;
  for (const auto& f : files) {
    actual.insert(f.path);
    CAPTURE(f.path);
    CHECK(f.content == ReadFile(golden / f.path));
  }
  CHECK(actual == expected);
}

TEST_CASE("fhirgen is deterministic") {
  auto a = fhirgen::Generate(fhirgen::LoadDefinitions(FHIRGEN_FIXTURE_DIR));
  auto b = fhirgen::Generate(fhirgen::LoadDefinitions(FHIRGEN_FIXTURE_DIR));
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].path == b[i].path);
    CHECK(a[i].content == b[i].content);
  }
}

TEST_CASE("fhirgen names") {
  CHECK(fhirgen::SnakeCase("birthDate") == "birth_date");
  CHECK(fhirgen::SnakeCase("class") == "class_");
  CHECK(fhirgen::SnakeCase("modifierExtension") == "modifier_extension");
  CHECK(fhirgen::UpperFirst("dateTime") == "DateTime");
  CHECK(fhirgen::FileStem("MedicationRequest") == "medication_request");
}

TEST_CASE("fhirgen fixture model: fields, nesting, inheritance, bindings") {
  fhirgen::Definitions defs = fhirgen::LoadDefinitions(FHIRGEN_FIXTURE_DIR);
  const fhirgen::Struct& patient = *defs.resources[2];
  REQUIRE(patient.fhir_name == "Patient");
  CHECK(patient.base == "DomainResource");
  REQUIRE(patient.nested.size() == 1);
  CHECK(patient.nested[0]->qualified == "Patient::Contact");
  const fhirgen::Field* deceased = nullptr;
  for (const auto& f : patient.fields) {
    if (f.json_name == "deceased") deceased = &f;
    if (f.json_name == "id") CHECK(f.inherited);
    if (f.json_name == "id") CHECK(f.system_format == "id");
  }
  REQUIRE(deceased != nullptr);
  CHECK(deceased->shape == fhirgen::Shape::kChoice);
  CHECK(deceased->choices == std::vector<std::string>{"boolean", "dateTime"});
  REQUIRE(defs.value_sets.size() == 1);
  CHECK(defs.value_sets.begin()->second.codes ==
        std::vector<std::string>{"female", "male", "other", "unknown"});
}
