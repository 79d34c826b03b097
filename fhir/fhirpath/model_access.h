#pragma once

#include <string_view>

#include "fhir/fhirpath/fhirpath.h"

namespace fhir::fhirpath::internal {

// Walking the generated models through reflection (fhir/model/reflection.h).

// Appends the values of the child element `name` of `value` (an element) to `out`. A choice
// element is reached by its name ("value": the active alternative) or by a typed JSON name
// ("valueQuantity": only when that alternative is active). Returns false when `name` is not an
// element of the type (strict mode reports it).
bool AppendChildren(const Value& value, std::string_view name, Collection& out);

// Appends the values of `field` (a field of value.type()) of the element `value`; for a choice
// field with `choice` != 0, only when that alternative (1-based) is the active one.
void AppendFieldValues(const Value& value, const FieldInfo& field, std::size_t choice,
                       Collection& out);

// Whether `type` is Quantity or one of its specializations (Age, Duration, ...).
bool IsQuantityType(const TypeInfo& type);

// Appends every child element of `value`, in element order (children()).
void AppendAllChildren(const Value& value, Collection& out);

// The address FieldInfo::get expects for an element value (resources: TypeInfo::object_of).
void* ObjectAddress(const Value& value);

// Whether the element `value` has type `name` ("Quantity", "Patient", "string") or, unless
// `exact`, a type derived from it.
bool ElementIsA(const Value& value, std::string_view name, bool exact);

// Whether `name` is a FHIR type name the engine knows.
bool IsFhirTypeName(std::string_view name);

// Extension.url / Reference.reference / a string primitive's value, if present.
const std::string* StringField(const Value& value, std::string_view field);

// The result of type(): a ClassInfo-like element with `namespace` and `name` children
// (http://hl7.org/fhirpath/N1/#reflection). Values are interned and live as long as the process.
Value TypeInfoValue(std::string_view name_space, std::string_view name);

}  // namespace fhir::fhirpath::internal
