#include "fhir/model/registry.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>

#include "fhir/json/parser.h"
#include "fhir/json/writer.h"
#include "fhir/model/choice.h"
#include "fhir/model/reflection.h"
#include "fhir/r4/organization.h"
#include "fhir/r4/patient.h"
#include "fhir/r4/value_sets.h"

namespace fhir {
namespace {

// --- the registry ------------------------------------------------------------------------------

// R4 has 146 concrete resource types: the 148 codes of http://hl7.org/fhir/resource-types
// (hl7.fhir.r4.core 4.0.1) less the abstract Resource and DomainResource.
constexpr std::size_t kConcreteResourceTypes = 146;

TEST_CASE("ResourceTypes lists every concrete R4 resource type once, sorted by name") {
  std::span<const TypeInfo* const> types = ResourceTypes();
  CHECK(types.size() == kConcreteResourceTypes);
  REQUIRE_FALSE(types.empty());
  CHECK(types.front()->name == "Account");
  CHECK(types.back()->name == "VisionPrescription");
  for (std::size_t i = 1; i < types.size(); ++i) {
    CAPTURE(types[i]->name);
    CHECK(types[i - 1]->name < types[i]->name);  // sorted and no duplicates
  }
  for (const TypeInfo* type : types) {
    CAPTURE(type->name);
    CHECK(type->kind == TypeKind::kResource);
    CHECK_FALSE(type->is_abstract);
    CHECK(static_cast<bool>(type->create));
    CHECK(static_cast<bool>(type->object_of));
  }
}

TEST_CASE("ResourceTypes are exactly the resource-types codes less the abstract ones") {
  std::vector<std::string_view> expected;
  for (std::string_view code : value_sets::kValueSet_resource_types.codes) {
    if (code != "Resource" && code != "DomainResource") expected.push_back(code);
  }
  CHECK(value_sets::kValueSet_resource_types.codes.size() == kConcreteResourceTypes + 2);
  std::sort(expected.begin(), expected.end());
  CHECK(ResourceTypeNames() == expected);
}

TEST_CASE("ResourceTypeNames matches ResourceTypes") {
  std::vector<std::string_view> names = ResourceTypeNames();
  REQUIRE(names.size() == ResourceTypes().size());
  for (std::size_t i = 0; i < names.size(); ++i) CHECK(names[i] == ResourceTypes()[i]->name);
  CHECK(std::is_sorted(names.begin(), names.end()));
}

TEST_CASE("FindResourceType finds concrete resources only") {
  const TypeInfo* patient = FindResourceType("Patient");
  REQUIRE(patient != nullptr);
  CHECK(patient == &reflect::Patient);
  CHECK(patient->name == "Patient");
  CHECK(patient->base == &reflect::DomainResource);
  std::unique_ptr<Resource> created = patient->create();
  REQUIRE(created != nullptr);
  CHECK(&created->type_info() == &reflect::Patient);
  CHECK(dynamic_cast<Patient*>(created.get()) != nullptr);

  struct Case {
    std::string_view name;
    bool found;
  };
  // clang-format off
  const Case cases[] = {
      {"Account", true},
      {"Bundle", true},
      {"Parameters", true},
      {"VisionPrescription", true},
      {"DomainResource", false},
      {"Resource", false},
      {"HumanName", false},
      {"date", false},
      {"patient", false},
      {"Patient ", false},
      {"", false},
      {"Zzz", false},
  };
  // clang-format on
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const TypeInfo* type = FindResourceType(c.name);
    CHECK((type != nullptr) == c.found);
    if (type != nullptr) CHECK(type->name == c.name);
  }
}

TEST_CASE("FindType finds abstract resources, datatypes and primitives") {
  struct Case {
    std::string_view name;
    TypeKind kind;
    bool is_abstract;
    PrimitiveKind primitive;
  };
  // clang-format off
  const Case cases[] = {
      {"DomainResource", TypeKind::kResource, true, PrimitiveKind::kNone},
      {"Resource", TypeKind::kResource, true, PrimitiveKind::kNone},
      {"Patient", TypeKind::kResource, false, PrimitiveKind::kNone},
      {"HumanName", TypeKind::kComplex, false, PrimitiveKind::kNone},
      {"Extension", TypeKind::kComplex, false, PrimitiveKind::kNone},
      {"date", TypeKind::kPrimitive, false, PrimitiveKind::kDate},
      {"dateTime", TypeKind::kPrimitive, false, PrimitiveKind::kDateTime},
      {"positiveInt", TypeKind::kPrimitive, false, PrimitiveKind::kPositiveInt},
      {"xhtml", TypeKind::kPrimitive, false, PrimitiveKind::kXhtml},
  };
  // clang-format on
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const TypeInfo* type = FindType(c.name);
    REQUIRE(type != nullptr);
    CHECK(type->name == c.name);
    CHECK(type->kind == c.kind);
    CHECK(type->is_abstract == c.is_abstract);
    CHECK(type->primitive == c.primitive);
  }
  CHECK(FindType("DomainResource") == &reflect::DomainResource);
  CHECK(FindType("Nope") == nullptr);
  CHECK(FindType("") == nullptr);
  std::vector<std::string_view> names = ResourceTypeNames();
  CHECK(std::find(names.begin(), names.end(), "DomainResource") == names.end());
  CHECK(std::find(names.begin(), names.end(), "Resource") == names.end());
}

TEST_CASE("AllTypes is sorted and contains every resource type") {
  std::span<const TypeInfo* const> all = AllTypes();
  for (std::size_t i = 1; i < all.size(); ++i) {
    CAPTURE(all[i]->name);
    CHECK(all[i - 1]->name < all[i]->name);
  }
  for (const TypeInfo* type : ResourceTypes()) {
    CAPTURE(type->name);
    CHECK(FindType(type->name) == type);
  }
}

// --- reflection of Patient ---------------------------------------------------------------------

TEST_CASE("Patient's fields are in StructureDefinition order, inherited ones first") {
  const std::vector<std::string_view> expected = {
      "id",        "meta",          "implicitRules", "language",     "text",
      "contained", "extension",     "modifierExtension", "identifier", "active",
      "name",      "telecom",       "gender",        "birthDate",    "deceased",
      "address",   "maritalStatus", "multipleBirth", "photo",        "contact",
      "communication", "generalPractitioner", "managingOrganization", "link",
  };
  std::vector<std::string_view> names;
  for (const FieldInfo& field : reflect::Patient.fields) names.push_back(field.name);
  CHECK(names == expected);
}

TEST_CASE("Patient fields have the shape, type and cardinality of the spec") {
  struct Case {
    std::string_view name;
    FieldShape shape;
    const TypeInfo* type;
    std::uint32_t min;
    std::uint32_t max;
  };
  // clang-format off
  const Case cases[] = {
      {"id", FieldShape::kSystemString, nullptr, 0, 1},
      {"meta", FieldShape::kSingle, &reflect::Meta, 0, 1},
      {"contained", FieldShape::kRepeated, &reflect::Resource, 0, FieldInfo::kUnbounded},
      {"active", FieldShape::kSingle, &reflect::boolean, 0, 1},
      {"name", FieldShape::kRepeated, &reflect::HumanName, 0, FieldInfo::kUnbounded},
      {"birthDate", FieldShape::kSingle, &reflect::date, 0, 1},
      {"deceased", FieldShape::kChoice, nullptr, 0, 1},
      {"contact", FieldShape::kRepeated, &reflect::Patient_Contact, 0, FieldInfo::kUnbounded},
  };
  // clang-format on
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const FieldInfo* field = reflect::Patient.FindField(c.name);
    REQUIRE(field != nullptr);
    CHECK(field->shape == c.shape);
    CHECK(field->type == c.type);
    CHECK(field->min == c.min);
    CHECK(field->max == c.max);
    CHECK(field->repeated() == (c.shape == FieldShape::kRepeated));
  }
  CHECK(reflect::Patient.FindField("id")->system_format == PrimitiveKind::kId);
  const FieldInfo* language = reflect::Patient_Communication.FindField("language");
  REQUIRE(language != nullptr);
  CHECK(language->min == 1);
  CHECK(reflect::Patient_Contact.name == "Patient.contact");
  CHECK(reflect::Patient_Contact.kind == TypeKind::kBackbone);
}

TEST_CASE("Patient.deceased[x] is a choice of boolean and dateTime") {
  const FieldInfo* deceased = reflect::Patient.FindField("deceased");
  REQUIRE(deceased != nullptr);
  CHECK(deceased->shape == FieldShape::kChoice);
  REQUIRE(deceased->choices.size() == 2);
  CHECK(deceased->choices[0].suffix == "Boolean");
  CHECK(deceased->choices[0].type == &reflect::boolean);
  CHECK(deceased->choices[1].suffix == "DateTime");
  CHECK(deceased->choices[1].type == &reflect::dateTime);

  // JSON names map to the field and the 1-based alternative.
  const JsonName* as_boolean = reflect::Patient.FindJsonName("deceasedBoolean");
  const JsonName* as_date_time = reflect::Patient.FindJsonName("deceasedDateTime");
  REQUIRE(as_boolean != nullptr);
  REQUIRE(as_date_time != nullptr);
  CHECK(&reflect::Patient.fields[as_boolean->field] == deceased);
  CHECK(as_boolean->choice == 1);
  CHECK(as_date_time->choice == 2);
  CHECK(reflect::Patient.FindJsonName("deceased") == nullptr);
  CHECK(reflect::Patient.FindJsonName("deceasedString") == nullptr);
  CHECK(reflect::Patient.FindField("deceasedBoolean") == nullptr);

  // The field reaches the fhir::Choice of a real Patient.
  Patient patient;
  void* slot = deceased->get(reflect::Patient.object_of(&patient));
  REQUIRE(slot == &patient.deceased);
  auto* choice = static_cast<Choice*>(slot);
  CHECK(choice->empty());
  CHECK(choice->index() == 0);
  CHECK(choice->get() == nullptr);
  CHECK(patient.deceased_boolean() == nullptr);
  CHECK(patient.deceased_date_time() == nullptr);

  patient.mutable_deceased_date_time().value = "2020-01-01";
  CHECK(patient.deceased.index() == 2);
  CHECK(patient.deceased.type() == &reflect::dateTime);
  CHECK(patient.deceased_boolean() == nullptr);
  REQUIRE(patient.deceased_date_time() != nullptr);
  CHECK(patient.deceased_date_time()->value == "2020-01-01");
  CHECK(choice->get() == patient.deceased_date_time());

  // Emplacing the active alternative keeps its value; another one replaces it.
  static_cast<DateTime*>(choice->Emplace(2, reflect::dateTime))->id = "d";
  CHECK(patient.deceased_date_time()->value == "2020-01-01");
  CHECK(patient.deceased_date_time()->id == "d");
  patient.mutable_deceased_boolean().value = true;
  CHECK(patient.deceased.index() == 1);
  CHECK(patient.deceased_date_time() == nullptr);
  REQUIRE(patient.deceased_boolean() != nullptr);
  CHECK(patient.deceased_boolean()->value == true);
  patient.deceased.Reset();
  CHECK(patient.deceased.empty());
  CHECK(patient.deceased_boolean() == nullptr);
}

TEST_CASE("Patient.gender has a required binding to administrative-gender") {
  const FieldInfo* gender = reflect::Patient.FindField("gender");
  REQUIRE(gender != nullptr);
  CHECK(gender->type == &reflect::code);
  CHECK(gender->binding == BindingStrength::kRequired);
  CHECK(gender->value_set == "http://hl7.org/fhir/ValueSet/administrative-gender");
  REQUIRE(gender->required_codes != nullptr);
  CHECK(gender->required_codes->value_set == "http://hl7.org/fhir/ValueSet/administrative-gender");
  std::vector<std::string_view> codes(gender->required_codes->codes.begin(),
                                      gender->required_codes->codes.end());
  CHECK(codes == std::vector<std::string_view>{"female", "male", "other", "unknown"});
  CHECK(gender->required_codes->Contains("male"));
  CHECK(gender->required_codes->Contains("unknown"));
  CHECK_FALSE(gender->required_codes->Contains("Male"));
  CHECK_FALSE(gender->required_codes->Contains("mal"));
  CHECK_FALSE(gender->required_codes->Contains(""));

  const FieldInfo* marital_status = reflect::Patient.FindField("maritalStatus");
  REQUIRE(marital_status != nullptr);
  CHECK(marital_status->binding == BindingStrength::kExtensible);
  CHECK(marital_status->required_codes == nullptr);
  const FieldInfo* language = reflect::Patient.FindField("language");
  REQUIRE(language != nullptr);
  CHECK(language->binding == BindingStrength::kPreferred);
  CHECK(language->required_codes == nullptr);
  CHECK(reflect::Patient.FindField("name")->binding == BindingStrength::kNone);
}

TEST_CASE("Patient fields carry isSummary and isModifier") {
  struct Case {
    std::string_view name;
    bool is_summary;
    bool is_modifier;
  };
  // clang-format off
  const Case cases[] = {
      {"id", true, false},
      {"meta", true, false},
      {"implicitRules", true, true},
      {"language", false, false},
      {"text", false, false},
      {"modifierExtension", false, true},
      {"identifier", true, false},
      {"active", true, true},
      {"name", true, false},
      {"gender", true, false},
      {"birthDate", true, false},
      {"deceased", true, true},
      {"maritalStatus", false, false},
      {"photo", false, false},
      {"managingOrganization", true, false},
      {"link", true, true},
  };
  // clang-format on
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const FieldInfo* field = reflect::Patient.FindField(c.name);
    REQUIRE(field != nullptr);
    CHECK(field->is_summary == c.is_summary);
    CHECK(field->is_modifier == c.is_modifier);
  }
}

TEST_CASE("Patient carries its invariants as data") {
  std::vector<std::string_view> keys;
  for (const Constraint& constraint : reflect::Patient.constraints) keys.push_back(constraint.key);
  CHECK(std::find(keys.begin(), keys.end(), "dom-2") != keys.end());
  REQUIRE(reflect::Patient_Contact.constraints.size() == 1);
  CHECK(reflect::Patient_Contact.constraints[0].key == "pat-1");
  CHECK(reflect::Patient_Contact.constraints[0].severity == "error");
  CHECK(reflect::Patient_Contact.constraints[0].path == "Patient.contact");
}

// --- value semantics ---------------------------------------------------------------------------

Patient MakePatient() {
  Patient patient;
  patient.id = "p1";
  patient.name.emplace_back().family.value = "Original";
  patient.marital_status.ensure().text.value = "married";
  auto contained = std::make_unique<Organization>();
  contained->id = "org";
  contained->name.value = "ACME";
  patient.contained.emplace_back(std::move(contained));
  patient.mutable_deceased_date_time().value = "2020-01-01";
  return patient;
}

TEST_CASE("copying a Patient copies everything it holds (deep copy through Box)") {
  Patient original = MakePatient();
  Patient copy = original;
  REQUIRE(copy.name.size() == 1);
  REQUIRE(copy.marital_status);
  REQUIRE(copy.contained.size() == 1);
  REQUIRE(copy.contained[0]);
  CHECK(copy.marital_status.get() != original.marital_status.get());
  CHECK(copy.contained[0].get() != original.contained[0].get());

  copy.name[0].family.value = "Copy";
  copy.marital_status->text.value = "single";
  auto* organization = dynamic_cast<Organization*>(copy.contained[0].get());
  REQUIRE(organization != nullptr);
  organization->name.value = "Changed";
  REQUIRE(copy.deceased_date_time() != nullptr);
  CHECK(copy.deceased_date_time() != original.deceased_date_time());
  copy.mutable_deceased_date_time().value = "2021-01-01";

  CHECK(original.name[0].family.value == "Original");
  CHECK(original.marital_status->text.value == "married");
  CHECK(static_cast<Organization&>(*original.contained[0]).name.value == "ACME");
  CHECK(original.deceased_date_time()->value == "2020-01-01");
  CHECK(copy.name[0].family.value == "Copy");
  CHECK(copy.marital_status->text.value == "single");
}

TEST_CASE("copy-assigning a Patient is deep too, and an empty Box copies as empty") {
  Patient original = MakePatient();
  Patient assigned;
  assigned.gender.value = "male";
  assigned = original;
  CHECK_FALSE(assigned.gender.value.has_value());
  REQUIRE(assigned.deceased_date_time() != nullptr);
  assigned.mutable_deceased_boolean().value = false;
  CHECK(original.deceased_date_time()->value == "2020-01-01");
  REQUIRE(assigned.marital_status);
  assigned.marital_status->text.value = "divorced";
  CHECK(original.marital_status->text.value == "married");

  Box<HumanName> empty;
  Box<HumanName> empty_copy = empty;
  CHECK_FALSE(empty_copy);
  Box<HumanName> full(std::make_unique<HumanName>());
  full->family.value = "F";
  full = empty;
  CHECK_FALSE(full);
}

TEST_CASE("Resource::Clone is a deep copy of the concrete type") {
  constexpr std::string_view kJson =
      R"({"resourceType":"Patient","id":"p","contained":[{"resourceType":"Organization",)"
      R"("id":"o","name":"ACME"}],"active":true,"name":[{"family":"Chalmers",)"
      R"("given":["Peter",null],"_given":[null,{"id":"g2"}]}],"birthDate":"1974-12-25"})";
  auto parsed = json::ParseResource(kJson);
  REQUIRE_MESSAGE(parsed.ok(), parsed.status().ToString());
  const Resource& resource = *parsed.value();
  std::unique_ptr<Resource> clone = resource.Clone();
  REQUIRE(clone != nullptr);
  CHECK(clone.get() != &resource);
  CHECK(&clone->type_info() == &reflect::Patient);
  const std::string written = json::Write(resource);
  CHECK(json::Write(*clone) == written);
  CHECK(written == kJson);

  auto& cloned_patient = static_cast<Patient&>(*clone);
  cloned_patient.name[0].family.value = "Changed";
  static_cast<Organization&>(*cloned_patient.contained[0]).name.value = "Other";
  CHECK(json::Write(resource) == written);
  CHECK(json::Write(*clone) != written);
}

}  // namespace
}  // namespace fhir
