#include "fhir/xml/xml_writer.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fhir/model/box.h"
#include "fhir/model/choice.h"
#include "fhir/model/primitive.h"
#include "fhir/r4/datatypes.h"

namespace fhir::xml {
namespace {

// Walks a model through its reflection metadata and builds the element tree, keeping the
// child-index path of the node being built for the callback.
class ModelWriter {
 public:
  explicit ModelWriter(const NodeCallback& on_node) : on_node_(on_node) {}

  void Resource(const fhir::Resource& resource, XmlElement& e) {
    const TypeInfo& type = resource.type_info();
    e.ns = kFhirNamespace;
    e.name = type.name;
    Notify(type, &resource);
    Fields(type, type.object_of(const_cast<fhir::Resource*>(&resource)), e, true);
  }

  // `object` of `type` (primitive, complex or backbone) into the element `e` named already.
  void Value(const TypeInfo& type, const void* object, XmlElement& e) {
    if (type.kind == TypeKind::kPrimitive) {
      Primitive(type, object, e);
    } else {
      e.ns = kFhirNamespace;
      Notify(type, object);
      Fields(type, const_cast<void*>(object), e, false);
    }
  }

 private:
  void Notify(const TypeInfo& type, const void* object) {
    if (on_node_) on_node_(type, object, path_);
  }

  // Adds a child named `name` to `parent`; the caller fills it before adding the next one (a
  // reference into `children` stays valid until then).
  XmlElement& Child(XmlElement& parent, std::string_view name) {
    XmlElement& c = parent.children.emplace_back();
    c.ns = kFhirNamespace;
    c.name = name;
    return c;
  }

  void Fields(const TypeInfo& type, void* object, XmlElement& e, bool is_resource) {
    for (const FieldInfo& f : type.fields) {
      void* slot = f.get(object);
      switch (f.shape) {
        case FieldShape::kSystemString: {
          const auto& s = *static_cast<const std::string*>(slot);
          if (s.empty()) break;
          if (is_resource) {  // Resource.id is an element, Element.id and Extension.url attributes
            Child(e, f.name).attributes.push_back({{}, "value", s});
          } else {
            e.attributes.push_back({{}, std::string(f.name), s});
          }
          break;
        }
        case FieldShape::kSingle:
          Slot(e, f.name, *f.type, slot, /*boxed=*/true);
          break;
        case FieldShape::kRepeated: {
          std::size_t n = f.type->vector_size(slot);
          for (std::size_t i = 0; i < n; ++i) {
            Slot(e, f.name, *f.type, f.type->vector_at(slot, i), /*boxed=*/false);
          }
          break;
        }
        case FieldShape::kChoice: {
          const auto* choice = static_cast<const Choice*>(slot);
          if (choice->empty()) break;
          std::string name = std::string(f.name);
          name += f.choices[choice->index() - 1].suffix;
          Slot(e, name, *choice->type(), choice->get(), /*boxed=*/false);
          break;
        }
      }
    }
  }

  // One value in `slot`: a Box<T> when `boxed` (single complex elements), a Box<Resource> for
  // resources, else the value itself.
  void Slot(XmlElement& parent, std::string_view name, const TypeInfo& type, void* slot,
            bool boxed) {
    if (type.kind == TypeKind::kResource) {
      auto* box = static_cast<Box<fhir::Resource>*>(slot);
      if (!*box) return;
      path_.push_back(parent.children.size());
      XmlElement& wrapper = Child(parent, name);
      path_.push_back(0);
      Resource(**box, wrapper.children.emplace_back());
      path_.resize(path_.size() - 2);
      return;
    }
    const void* object = slot;
    if (type.kind != TypeKind::kPrimitive && boxed) object = type.box_get(slot);
    if (object == nullptr || (type.kind == TypeKind::kPrimitive && PrimitiveEmpty(type, object))) {
      return;
    }
    path_.push_back(parent.children.size());
    Value(type, object, Child(parent, name));
    path_.pop_back();
  }

  static bool PrimitiveEmpty(const TypeInfo& type, const void* p) {
    switch (CategoryOf(type.primitive)) {
      case ValueCategory::kBool:
        return static_cast<const fhir::Primitive<bool>*>(p)->empty();
      case ValueCategory::kInt:
        return static_cast<const fhir::Primitive<std::int32_t>*>(p)->empty();
      case ValueCategory::kString:
        return static_cast<const fhir::Primitive<std::string>*>(p)->empty();
    }
    return true;
  }

  template <class V>
  void PrimitiveParts(const fhir::Primitive<V>& p, XmlElement& e, std::string value) {
    if (!p.id.empty()) e.attributes.push_back({{}, "id", p.id});
    if (p.value) e.attributes.push_back({{}, "value", std::move(value)});
    for (const Extension& x : p.extension) {
      path_.push_back(e.children.size());
      Value(reflect::Extension, &x, Child(e, "extension"));
      path_.pop_back();
    }
  }

  void Primitive(const TypeInfo& type, const void* object, XmlElement& e) {
    Notify(type, object);
    e.ns = kFhirNamespace;
    switch (CategoryOf(type.primitive)) {
      case ValueCategory::kBool: {
        const auto& p = *static_cast<const fhir::Primitive<bool>*>(object);
        PrimitiveParts(p, e, p.value && *p.value ? "true" : "false");
        return;
      }
      case ValueCategory::kInt: {
        const auto& p = *static_cast<const fhir::Primitive<std::int32_t>*>(object);
        PrimitiveParts(p, e, p.value ? std::to_string(*p.value) : std::string());
        return;
      }
      case ValueCategory::kString: {
        const auto& p = *static_cast<const fhir::Primitive<std::string>*>(object);
        if (type.primitive == PrimitiveKind::kXhtml) {
          e.ns = kXhtmlNamespace;
          e.verbatim = p.value.value_or(std::string());
          return;
        }
        PrimitiveParts(p, e, p.value.value_or(std::string()));
        return;
      }
    }
  }

  const NodeCallback& on_node_;
  std::vector<std::size_t> path_;
};

}  // namespace

XmlElement ResourceToXml(const Resource& resource, const NodeCallback& on_node) {
  XmlElement root;
  ModelWriter(on_node).Resource(resource, root);
  return root;
}

XmlElement ValueToXml(std::string_view name, const TypeInfo& type, const void* object) {
  XmlElement e;
  e.name = name;
  NodeCallback none;
  ModelWriter(none).Value(type, object, e);
  return e;
}

std::string WriteXmlResource(const Resource& resource) {
  return WriteXml(ResourceToXml(resource));
}

}  // namespace fhir::xml
