#include "fhir/model/visit.h"

#include "fhir/model/box.h"
#include "fhir/model/choice.h"
#include "fhir/r4/resource.h"

namespace fhir {
namespace {

void VisitValue(const TypeInfo& type, void* value,
                const std::function<void(const TypeInfo&, void*)>& visit) {
  if (type.kind == TypeKind::kResource) {
    auto* resource = static_cast<Resource*>(value);
    const TypeInfo& concrete = resource->type_info();
    VisitObjects(concrete, concrete.object_of(resource), visit);
  } else {
    VisitObjects(type, value, visit);
  }
}

}  // namespace

void VisitObjects(const TypeInfo& type, void* object,
                  const std::function<void(const TypeInfo&, void*)>& visit) {
  visit(type, object);
  for (const FieldInfo& field : type.fields) {
    void* slot = field.get(object);
    switch (field.shape) {
      case FieldShape::kSystemString:
        break;
      case FieldShape::kSingle:
        if (field.type->kind != TypeKind::kPrimitive) {
          if (void* value = field.type->box_get(slot)) VisitValue(*field.type, value, visit);
        }
        break;
      case FieldShape::kRepeated:
        if (field.type->kind != TypeKind::kPrimitive) {
          std::size_t n = field.type->vector_size(slot);
          for (std::size_t i = 0; i < n; ++i) {
            void* item = field.type->vector_at(slot, i);
            if (field.type->kind == TypeKind::kResource) {
              if (void* r = field.type->box_get(item)) VisitValue(*field.type, r, visit);
            } else {
              VisitValue(*field.type, item, visit);
            }
          }
        }
        break;
      case FieldShape::kChoice: {
        auto* choice = static_cast<Choice*>(slot);
        if (!choice->empty() && choice->type()->kind != TypeKind::kPrimitive) {
          VisitValue(*choice->type(), choice->get(), visit);
        }
        break;
      }
    }
  }
}

}  // namespace fhir
