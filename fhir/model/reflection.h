#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

namespace fhir {

class Resource;
struct TypeInfo;

// Reflection metadata of the generated models: one TypeInfo per FHIR type (primitive, complex
// datatype, BackboneElement, resource), one FieldInfo per element, made by tools/fhirgen from
// the R4 StructureDefinitions. Generic engines (JSON, FHIRPath, search indexing, _elements,
// profile validation) walk every resource through it instead of per-type code.
//
// Objects are reached through untyped pointers: FieldInfo::get returns the address of a member
// in an object of the field's owner type; what lives at that address depends on the shape:
//   kSystemString   std::string                  (Element.id, Extension.url, Resource.id)
//   kSingle         primitive: the Primitive<V> itself; complex, backbone: Box<T>;
//                   resource: Box<Resource>
//   kRepeated       std::vector<Primitive<V>> / std::vector<T> / std::vector<Box<Resource>>
//   kChoice         a fhir::Choice holding the alternative itself (a Primitive<V> or a T)
// TypeInfo's box/vector functions operate on Box<T> and std::vector<T> of the type they
// describe, so generic code never needs the C++ type.

enum class TypeKind : std::uint8_t { kPrimitive, kComplex, kBackbone, kResource };

// The R4 primitive types. The C++ value of each: kBoolean -> bool; kInteger, kPositiveInt,
// kUnsignedInt -> std::int32_t; all others -> std::string (decimal keeps its JSON source text).
enum class PrimitiveKind : std::uint8_t {
  kNone,
  kBoolean,
  kInteger,
  kPositiveInt,
  kUnsignedInt,
  kDecimal,
  kString,
  kMarkdown,
  kCode,
  kId,
  kUri,
  kUrl,
  kCanonical,
  kOid,
  kUuid,
  kBase64Binary,
  kDate,
  kDateTime,
  kInstant,
  kTime,
  kXhtml,
};

// The C++ value category of a primitive kind.
enum class ValueCategory : std::uint8_t { kBool, kInt, kString };
constexpr ValueCategory CategoryOf(PrimitiveKind kind) {
  switch (kind) {
    case PrimitiveKind::kBoolean:
      return ValueCategory::kBool;
    case PrimitiveKind::kInteger:
    case PrimitiveKind::kPositiveInt:
    case PrimitiveKind::kUnsignedInt:
      return ValueCategory::kInt;
    default:
      return ValueCategory::kString;
  }
}

enum class FieldShape : std::uint8_t { kSystemString, kSingle, kRepeated, kChoice };

enum class BindingStrength : std::uint8_t { kNone, kExample, kPreferred, kExtensible, kRequired };

// The codes of a required ValueSet, sorted (byte order), when the server could enumerate them
// from the vendored CodeSystems.
struct CodeList {
  std::string_view value_set;
  std::span<const std::string_view> codes;
  bool Contains(std::string_view code) const;
};

// One alternative of a choice element: `suffix` is the JSON name suffix ("Boolean",
// "CodeableConcept"); its 1-based position in FieldInfo::choices is its fhir::Choice index.
struct ChoiceType {
  std::string_view suffix;
  const TypeInfo* type;
};

// An invariant of the StructureDefinition, carried as data; profiles/ evaluates them.
struct Constraint {
  std::string_view key;       // "pat-1"
  std::string_view severity;  // "error" | "warning"
  std::string_view human;
  std::string_view expression;  // FHIRPath
  std::string_view path;        // the element it is declared on ("Patient.contact")
};

struct FieldInfo {
  std::string_view name;  // the JSON name; for a choice the name without [x] ("value")
  FieldShape shape;
  const TypeInfo* type;  // nullptr for kChoice and kSystemString
  std::span<const ChoiceType> choices;
  std::uint32_t min;
  std::uint32_t max;  // kUnbounded for "*"
  bool is_summary;
  bool is_modifier;
  BindingStrength binding;
  std::string_view value_set;  // canonical URL of the bound ValueSet, if any
  const CodeList* required_codes;  // set for `code` elements with an enumerable required binding
  PrimitiveKind system_format;     // kSystemString only: the format the string must have
  void* (*get)(void* object);

  static constexpr std::uint32_t kUnbounded = 0xffffffffu;
  bool repeated() const { return shape == FieldShape::kRepeated; }
};

// A JSON property name of a type and the field (and choice alternative) it maps to;
// TypeInfo::json_names is sorted by name for binary search.
struct JsonName {
  std::string_view name;  // "birthDate", "deceasedBoolean"
  std::uint16_t field;
  std::uint16_t choice;  // 1-based choice index; 0 for non-choice fields
};

struct TypeInfo {
  std::string_view name;  // "Patient", "HumanName", "date", "Patient.contact"
  TypeKind kind;
  PrimitiveKind primitive;  // kNone unless kind == kPrimitive
  bool is_abstract;
  const TypeInfo* base;  // Resource types: DomainResource/Resource; others nullptr
  std::span<const FieldInfo> fields;
  std::span<const JsonName> json_names;
  std::span<const Constraint> constraints;

  // On a Box<T> of this type (Box<Resource> for resources).
  void* (*box_get)(void* box);
  void* (*box_ensure)(void* box);  // nullptr for resources (need a concrete type)
  // On a std::vector<T> of this type (std::vector<Box<Resource>> for resources).
  std::size_t (*vector_size)(const void* vector);
  void* (*vector_at)(void* vector, std::size_t i);
  void* (*vector_push)(void* vector);
  // Concrete resources only: a new, empty instance, and the object address of a Resource of
  // this type (for FieldInfo::get).
  std::unique_ptr<Resource> (*create)();
  void* (*object_of)(Resource* resource);
  // Primitives and complex types only (choice alternatives): a heap value of this type.
  void* (*new_value)();
  void* (*clone_value)(const void* value);
  void (*delete_value)(void* value);

  // The field for a JSON property name, or nullptr.
  const JsonName* FindJsonName(std::string_view json_name) const;
  // The field named `name` (no choice suffix), or nullptr.
  const FieldInfo* FindField(std::string_view field_name) const;
};

}  // namespace fhir
