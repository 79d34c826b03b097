#include "fhir/json/writer.h"

#include <cstdint>
#include <string>
#include <vector>

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "fhir/r4/datatypes.h"

namespace fhir::json {
namespace {

template <class W>
class Serializer {
 public:
  explicit Serializer(W& w) : w_(w) {}

  void Resource(const fhir::Resource& resource) {
    const TypeInfo& type = resource.type_info();
    w_.StartObject();
    w_.Key("resourceType", 12);
    String(type.name);
    Fields(type, type.object_of(const_cast<fhir::Resource*>(&resource)));
    w_.EndObject();
  }

 private:
  void String(std::string_view s) {
    w_.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  }
  void Key(std::string_view s) { w_.Key(s.data(), static_cast<rapidjson::SizeType>(s.size())); }
  void UnderscoreKey(std::string_view s) {
    scratch_.assign("_");
    scratch_.append(s);
    Key(scratch_);
  }

  void Object(const TypeInfo& type, void* object) {
    w_.StartObject();
    Fields(type, object);
    w_.EndObject();
  }

  void Fields(const TypeInfo& type, void* object) {
    for (const FieldInfo& field : type.fields) {
      void* slot = field.get(object);
      switch (field.shape) {
        case FieldShape::kSystemString: {
          const auto& s = *static_cast<const std::string*>(slot);
          if (!s.empty()) {
            Key(field.name);
            String(s);
          }
          break;
        }
        case FieldShape::kSingle:
          Single(field.name, *field.type, slot);
          break;
        case FieldShape::kRepeated:
          Repeated(field.name, *field.type, slot);
          break;
        case FieldShape::kChoice: {
          const auto* choice = static_cast<const Choice*>(slot);
          if (choice->empty()) break;
          const ChoiceType& alt = field.choices[choice->index() - 1];
          std::string name(field.name);
          name.append(alt.suffix);
          if (alt.type->kind == TypeKind::kPrimitive) {
            PrimitiveSingle(name, alt.type->primitive, choice->get());
          } else {
            Key(name);
            Object(*alt.type, choice->get());
          }
          break;
        }
      }
    }
  }

  void Single(std::string_view name, const TypeInfo& type, void* slot) {
    switch (type.kind) {
      case TypeKind::kPrimitive:
        PrimitiveSingle(name, type.primitive, slot);
        return;
      case TypeKind::kResource: {
        auto* box = static_cast<Box<fhir::Resource>*>(slot);
        if (*box) {
          Key(name);
          Resource(**box);
        }
        return;
      }
      case TypeKind::kComplex:
      case TypeKind::kBackbone: {
        void* object = type.box_get(slot);
        if (object != nullptr) {
          Key(name);
          Object(type, object);
        }
        return;
      }
    }
  }

  void Repeated(std::string_view name, const TypeInfo& type, void* slot) {
    std::size_t n = type.vector_size(slot);
    if (n == 0) return;
    if (type.kind == TypeKind::kPrimitive) {
      PrimitiveArray(name, type, slot, n);
      return;
    }
    Key(name);
    w_.StartArray();
    for (std::size_t i = 0; i < n; ++i) {
      void* item = type.vector_at(slot, i);
      if (type.kind == TypeKind::kResource) {
        auto* box = static_cast<Box<fhir::Resource>*>(item);
        if (*box) {
          Resource(**box);
        } else {
          w_.Null();
        }
      } else {
        Object(type, item);
      }
    }
    w_.EndArray();
  }

  // --- primitives ---------------------------------------------------------------------------

  struct Parts {
    bool has_value;
    const std::string* id;
    const std::vector<Extension>* extension;
    bool has_element() const { return !id->empty() || !extension->empty(); }
  };

  static Parts PartsOf(PrimitiveKind kind, void* p) {
    switch (CategoryOf(kind)) {
      case ValueCategory::kBool: {
        auto* x = static_cast<Primitive<bool>*>(p);
        return {x->value.has_value(), &x->id, &x->extension};
      }
      case ValueCategory::kInt: {
        auto* x = static_cast<Primitive<std::int32_t>*>(p);
        return {x->value.has_value(), &x->id, &x->extension};
      }
      case ValueCategory::kString: {
        auto* x = static_cast<Primitive<std::string>*>(p);
        return {x->value.has_value(), &x->id, &x->extension};
      }
    }
    return {false, nullptr, nullptr};
  }

  void Value(PrimitiveKind kind, void* p) {
    switch (CategoryOf(kind)) {
      case ValueCategory::kBool:
        w_.Bool(*static_cast<Primitive<bool>*>(p)->value);
        return;
      case ValueCategory::kInt:
        w_.Int(*static_cast<Primitive<std::int32_t>*>(p)->value);
        return;
      case ValueCategory::kString: {
        const std::string& s = *static_cast<Primitive<std::string>*>(p)->value;
        if (kind == PrimitiveKind::kDecimal) {
          w_.RawValue(s.data(), s.size(), rapidjson::kNumberType);
        } else {
          String(s);
        }
        return;
      }
    }
  }

  void ElementPart(const Parts& parts) {
    w_.StartObject();
    if (!parts.id->empty()) {
      Key("id");
      String(*parts.id);
    }
    if (!parts.extension->empty()) {
      Key("extension");
      w_.StartArray();
      for (const Extension& e : *parts.extension) {
        Object(reflect::Extension, const_cast<Extension*>(&e));
      }
      w_.EndArray();
    }
    w_.EndObject();
  }

  void PrimitiveSingle(std::string_view name, PrimitiveKind kind, void* p) {
    Parts parts = PartsOf(kind, p);
    if (parts.has_value) {
      Key(name);
      Value(kind, p);
    }
    if (parts.has_element()) {
      UnderscoreKey(name);
      ElementPart(parts);
    }
  }

  void PrimitiveArray(std::string_view name, const TypeInfo& type, void* slot, std::size_t n) {
    bool any_value = false, any_element = false;
    for (std::size_t i = 0; i < n; ++i) {
      Parts parts = PartsOf(type.primitive, type.vector_at(slot, i));
      any_value = any_value || parts.has_value;
      any_element = any_element || parts.has_element();
    }
    if (any_value) {
      Key(name);
      w_.StartArray();
      for (std::size_t i = 0; i < n; ++i) {
        void* item = type.vector_at(slot, i);
        if (PartsOf(type.primitive, item).has_value) {
          Value(type.primitive, item);
        } else {
          w_.Null();
        }
      }
      w_.EndArray();
    }
    if (any_element) {
      UnderscoreKey(name);
      w_.StartArray();
      for (std::size_t i = 0; i < n; ++i) {
        Parts parts = PartsOf(type.primitive, type.vector_at(slot, i));
        if (parts.has_element()) {
          ElementPart(parts);
        } else {
          w_.Null();
        }
      }
      w_.EndArray();
    }
  }

  W& w_;
  std::string scratch_;
};

}  // namespace

std::string Write(const Resource& resource, const WriteOptions& options) {
  rapidjson::StringBuffer buffer;
  if (options.pretty) {
    rapidjson::PrettyWriter<rapidjson::StringBuffer> writer(buffer);
    writer.SetIndent(' ', 2);
    Serializer(writer).Resource(resource);
  } else {
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    Serializer(writer).Resource(resource);
  }
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace fhir::json
