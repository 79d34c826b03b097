#include "fhir/fhirpath/model_access.h"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fhir/fhirpath/system_values.h"
#include "fhir/fhirpath/temporal.h"
#include "fhir/model/box.h"
#include "fhir/model/choice.h"
#include "fhir/model/primitive.h"
#include "fhir/model/registry.h"
#include "fhir/r4/datatypes.h"
#include "fhir/r4/resource.h"

namespace fhir::fhirpath {
namespace internal {
namespace {

void AppendValue(const TypeInfo* type, void* value, Collection& out) {
  if (value == nullptr) return;
  if (type->kind == TypeKind::kResource) {
    auto* resource = static_cast<Resource*>(value);
    out.push_back(Value::Element(&resource->type_info(), resource));
  } else {
    out.push_back(Value::Element(type, value));
  }
}

bool PrimitiveEmpty(const TypeInfo* type, const void* value) {
  switch (CategoryOf(type->primitive)) {
    case ValueCategory::kBool:
      return static_cast<const Primitive<bool>*>(value)->empty();
    case ValueCategory::kInt:
      return static_cast<const Primitive<std::int32_t>*>(value)->empty();
    case ValueCategory::kString:
      return static_cast<const Primitive<std::string>*>(value)->empty();
  }
  return true;
}

const std::vector<Extension>* PrimitiveExtensions(const TypeInfo* type, const void* value) {
  switch (CategoryOf(type->primitive)) {
    case ValueCategory::kBool:
      return &static_cast<const Primitive<bool>*>(value)->extension;
    case ValueCategory::kInt:
      return &static_cast<const Primitive<std::int32_t>*>(value)->extension;
    case ValueCategory::kString:
      return &static_cast<const Primitive<std::string>*>(value)->extension;
  }
  return nullptr;
}

const std::string& PrimitiveId(const TypeInfo* type, const void* value) {
  switch (CategoryOf(type->primitive)) {
    case ValueCategory::kBool:
      return static_cast<const Primitive<bool>*>(value)->id;
    case ValueCategory::kInt:
      return static_cast<const Primitive<std::int32_t>*>(value)->id;
    case ValueCategory::kString:
      break;
  }
  return static_cast<const Primitive<std::string>*>(value)->id;
}

// `choice` is 0 for every alternative, else the 1-based alternative wanted.
void AppendField(const FieldInfo& field, void* object, std::size_t choice, Collection& out) {
  void* slot = field.get(object);
  switch (field.shape) {
    case FieldShape::kSystemString: {
      const auto* text = static_cast<const std::string*>(slot);
      if (!text->empty()) out.push_back(Value::String(*text));
      return;
    }
    case FieldShape::kSingle:
      if (field.type->kind == TypeKind::kPrimitive) {
        if (!PrimitiveEmpty(field.type, slot)) out.push_back(Value::Element(field.type, slot));
      } else {
        AppendValue(field.type, field.type->box_get(slot), out);
      }
      return;
    case FieldShape::kRepeated: {
      std::size_t n = field.type->vector_size(slot);
      for (std::size_t i = 0; i < n; ++i) {
        void* item = field.type->vector_at(slot, i);
        if (field.type->kind == TypeKind::kPrimitive) {
          if (!PrimitiveEmpty(field.type, item)) out.push_back(Value::Element(field.type, item));
        } else if (field.type->kind == TypeKind::kResource) {
          AppendValue(field.type, field.type->box_get(item), out);
        } else {
          out.push_back(Value::Element(field.type, item));
        }
      }
      return;
    }
    case FieldShape::kChoice: {
      const auto* value = static_cast<const Choice*>(slot);
      if (value->empty() || (choice != 0 && value->index() != choice)) return;
      if (value->type()->kind == TypeKind::kPrimitive &&
          PrimitiveEmpty(value->type(), value->get())) {
        return;
      }
      AppendValue(value->type(), value->get(), out);
      return;
    }
  }
}

std::string_view PrimitiveParent(std::string_view name) {
  if (name == "code" || name == "id" || name == "markdown") return "string";
  if (name == "url" || name == "canonical" || name == "oid" || name == "uuid") return "uri";
  if (name == "positiveInt" || name == "unsignedInt") return "integer";
  return {};
}

bool IsQuantitySpecialization(std::string_view name) {
  return name == "Age" || name == "Count" || name == "Distance" || name == "Duration" ||
         name == "MoneyQuantity" || name == "SimpleQuantity";
}

}  // namespace

void* ObjectAddress(const Value& value) {
  if (value.kind() != Value::Kind::kElement || value.object() == nullptr) return nullptr;
  void* object = const_cast<void*>(value.object());
  if (value.type()->kind == TypeKind::kResource) {
    auto* resource = static_cast<Resource*>(object);
    return resource->type_info().object_of(resource);
  }
  return object;
}

bool AppendChildren(const Value& value, std::string_view name, Collection& out) {
  if (value.kind() != Value::Kind::kElement) return false;
  const TypeInfo* type = value.type();
  if (type->kind == TypeKind::kPrimitive) {
    if (value.object() == nullptr) return true;
    if (name == "extension") {
      for (const Extension& extension : *PrimitiveExtensions(type, value.object())) {
        out.push_back(Value::Element(&reflect::Extension, &extension));
      }
      return true;
    }
    if (name == "id") {
      const std::string& id = PrimitiveId(type, value.object());
      if (!id.empty()) out.push_back(Value::String(id));
      return true;
    }
    return name == "value";
  }
  void* object = ObjectAddress(value);
  if (const FieldInfo* field = type->FindField(name)) {
    if (object != nullptr) AppendField(*field, object, 0, out);
    return true;
  }
  if (const JsonName* json = type->FindJsonName(name); json != nullptr && json->choice != 0) {
    if (object != nullptr) AppendField(type->fields[json->field], object, json->choice, out);
    return true;
  }
  return false;
}

void AppendFieldValues(const Value& value, const FieldInfo& field, std::size_t choice,
                       Collection& out) {
  if (value.kind() != Value::Kind::kElement || value.object() == nullptr) return;
  AppendField(field, ObjectAddress(value), choice, out);
}

bool IsQuantityType(const TypeInfo& type) {
  return type.name == "Quantity" || IsQuantitySpecialization(type.name);
}

void AppendAllChildren(const Value& value, Collection& out) {
  if (value.kind() != Value::Kind::kElement || value.object() == nullptr) return;
  const TypeInfo* type = value.type();
  if (type->kind == TypeKind::kPrimitive) {
    for (const Extension& extension : *PrimitiveExtensions(type, value.object())) {
      out.push_back(Value::Element(&reflect::Extension, &extension));
    }
    return;
  }
  void* object = ObjectAddress(value);
  for (const FieldInfo& field : type->fields) AppendField(field, object, 0, out);
}

bool ElementIsA(const Value& value, std::string_view name, bool exact) {
  if (value.kind() != Value::Kind::kElement) return false;
  const TypeInfo* type = value.type();
  if (type->name == name) return true;
  if (exact) return false;
  if (type->kind == TypeKind::kResource) {
    for (const TypeInfo* base = type->base; base != nullptr; base = base->base) {
      if (base->name == name) return true;
    }
    return false;
  }
  if (name == "Element") return true;
  if (type->kind == TypeKind::kPrimitive) {
    for (std::string_view parent = PrimitiveParent(type->name); !parent.empty();
         parent = PrimitiveParent(parent)) {
      if (parent == name) return true;
    }
    return false;
  }
  if (type->kind == TypeKind::kBackbone) return name == "BackboneElement";
  if (IsQuantitySpecialization(type->name)) return name == "Quantity";
  return false;
}

bool IsFhirTypeName(std::string_view name) {
  if (name == "Element" || name == "BackboneElement") return true;
  return FindType(name) != nullptr;
}

const std::string* StringField(const Value& value, std::string_view field_name) {
  if (value.kind() != Value::Kind::kElement || value.object() == nullptr) return nullptr;
  const TypeInfo* type = value.type();
  if (type->kind == TypeKind::kPrimitive) {
    if (CategoryOf(type->primitive) != ValueCategory::kString) return nullptr;
    const auto& text = static_cast<const Primitive<std::string>*>(value.object())->value;
    return text ? &*text : nullptr;
  }
  const FieldInfo* field = type->FindField(field_name);
  if (field == nullptr) return nullptr;
  void* slot = field->get(ObjectAddress(value));
  if (field->shape == FieldShape::kSystemString) {
    const auto* text = static_cast<const std::string*>(slot);
    return text->empty() ? nullptr : text;
  }
  if (field->shape == FieldShape::kSingle && field->type->kind == TypeKind::kPrimitive &&
      CategoryOf(field->type->primitive) == ValueCategory::kString) {
    const auto& text = static_cast<const Primitive<std::string>*>(slot)->value;
    return text ? &*text : nullptr;
  }
  return nullptr;
}

namespace {

struct TypeInfoObject {
  String name_space;
  String name;
};

void* GetTypeInfoNamespace(void* o) { return &static_cast<TypeInfoObject*>(o)->name_space; }
void* GetTypeInfoName(void* o) { return &static_cast<TypeInfoObject*>(o)->name; }

const FieldInfo kTypeInfoFields[] = {
    {"namespace",
     FieldShape::kSingle,
     &reflect::string,
     {},
     0,
     1,
     false,
     false,
     BindingStrength::kNone,
     {},
     nullptr,
     PrimitiveKind::kNone,
     &GetTypeInfoNamespace},
    {"name",
     FieldShape::kSingle,
     &reflect::string,
     {},
     0,
     1,
     false,
     false,
     BindingStrength::kNone,
     {},
     nullptr,
     PrimitiveKind::kNone,
     &GetTypeInfoName},
};

const TypeInfo kTypeInfoType = {"TypeInfo",
                                TypeKind::kComplex,
                                PrimitiveKind::kNone,
                                false,
                                nullptr,
                                kTypeInfoFields,
                                {},
                                {},
                                nullptr,
                                nullptr,
                                nullptr,
                                nullptr,
                                nullptr,
                                nullptr,
                                nullptr,
                                nullptr,
                                nullptr,
                                nullptr};

}  // namespace

Value TypeInfoValue(std::string_view name_space, std::string_view name) {
  static std::mutex mutex;
  static auto* interned = new std::map<std::string, std::unique_ptr<TypeInfoObject>>();
  std::string key = std::string(name_space) + "." + std::string(name);
  std::lock_guard lock(mutex);
  std::unique_ptr<TypeInfoObject>& object = (*interned)[key];
  if (!object) {
    object = std::make_unique<TypeInfoObject>();
    object->name_space.value = std::string(name_space);
    object->name.value = std::string(name);
  }
  return Value::Element(&kTypeInfoType, object.get());
}

}  // namespace internal

std::optional<Value> ToSystemValue(const Value& value) {
  if (value.kind() != Value::Kind::kElement) return value;
  const TypeInfo* type = value.type();
  if (value.object() == nullptr) return std::nullopt;
  if (type->kind == TypeKind::kPrimitive) {
    switch (CategoryOf(type->primitive)) {
      case ValueCategory::kBool: {
        const auto& v = static_cast<const Primitive<bool>*>(value.object())->value;
        if (!v) return std::nullopt;
        return Value::Boolean(*v);
      }
      case ValueCategory::kInt: {
        const auto& v = static_cast<const Primitive<std::int32_t>*>(value.object())->value;
        if (!v) return std::nullopt;
        return Value::Integer(*v);
      }
      case ValueCategory::kString:
        break;
    }
    const auto& v = static_cast<const Primitive<std::string>*>(value.object())->value;
    if (!v) return std::nullopt;
    switch (type->primitive) {
      case PrimitiveKind::kDecimal:
        return Value::Decimal(*v);
      case PrimitiveKind::kDate:
        return Value::Date(*v);
      case PrimitiveKind::kDateTime:
      case PrimitiveKind::kInstant:
        return Value::DateTime(*v);
      case PrimitiveKind::kTime:
        return Value::Time(*v);
      default:
        return Value::String(*v);
    }
  }
  if (type->name == "Quantity" || internal::IsQuantitySpecialization(type->name)) {
    Collection number;
    internal::AppendChildren(value, "value", number);
    if (number.empty()) return std::nullopt;
    std::optional<Value> n = ToSystemValue(number[0]);
    if (!n) return std::nullopt;
    const std::string* system = internal::StringField(value, "system");
    const std::string* code = internal::StringField(value, "code");
    const std::string* unit = internal::StringField(value, "unit");
    std::string unit_text;
    if (code != nullptr && (system == nullptr || *system == "http://unitsofmeasure.org")) {
      unit_text = *code;
    } else if (unit != nullptr) {
      unit_text = *unit;
    } else if (code != nullptr) {
      unit_text = *code;
    }
    return Value::Quantity(n->text(), unit_text.empty() ? "1" : unit_text);
  }
  return std::nullopt;
}

std::string TypeName(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::kElement:
      return "FHIR." + std::string(value.type()->name);
    case Value::Kind::kBoolean:
      return "System.Boolean";
    case Value::Kind::kInteger:
      return "System.Integer";
    case Value::Kind::kDecimal:
      return "System.Decimal";
    case Value::Kind::kString:
      return "System.String";
    case Value::Kind::kDate:
      return "System.Date";
    case Value::Kind::kDateTime:
      return "System.DateTime";
    case Value::Kind::kTime:
      return "System.Time";
    case Value::Kind::kQuantity:
      return "System.Quantity";
  }
  return {};
}

std::optional<std::string> ToText(const Value& value) {
  std::optional<Value> system = ToSystemValue(value);
  if (!system || system->kind() == Value::Kind::kElement) return std::nullopt;
  switch (system->kind()) {
    case Value::Kind::kBoolean:
      return std::string(system->boolean() ? "true" : "false");
    case Value::Kind::kInteger:
      return std::to_string(system->integer());
    case Value::Kind::kQuantity:
      if (internal::IsCalendarWord(system->unit())) return system->text() + " " + system->unit();
      return system->text() + " '" + system->unit() + "'";
    default:
      return system->text();
  }
}

}  // namespace fhir::fhirpath
