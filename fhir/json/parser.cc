#include "fhir/json/parser.h"

#include <array>
#include <charconv>
#include <cstdint>
#include <string>

#include "fhir/base/primitive_format.h"
#include "fhir/model/registry.h"
#include "fhir/r4/datatypes.h"
#include "fhir/xhtml/narrative_check.h"

namespace fhir::json {
namespace {

using Kind = JsonValue::Kind;

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kNull: return "null";
    case Kind::kFalse:
    case Kind::kTrue: return "a boolean";
    case Kind::kNumber: return "a number";
    case Kind::kString: return "a string";
    case Kind::kArray: return "an array";
    case Kind::kObject: return "an object";
  }
  return "a value";
}

std::string_view PrimitiveName(PrimitiveKind kind) {
  switch (kind) {
    case PrimitiveKind::kBoolean: return "boolean";
    case PrimitiveKind::kInteger: return "integer";
    case PrimitiveKind::kPositiveInt: return "positiveInt";
    case PrimitiveKind::kUnsignedInt: return "unsignedInt";
    case PrimitiveKind::kDecimal: return "decimal";
    case PrimitiveKind::kString: return "string";
    case PrimitiveKind::kMarkdown: return "markdown";
    case PrimitiveKind::kCode: return "code";
    case PrimitiveKind::kId: return "id";
    case PrimitiveKind::kUri: return "uri";
    case PrimitiveKind::kUrl: return "url";
    case PrimitiveKind::kCanonical: return "canonical";
    case PrimitiveKind::kOid: return "oid";
    case PrimitiveKind::kUuid: return "uuid";
    case PrimitiveKind::kBase64Binary: return "base64Binary";
    case PrimitiveKind::kDate: return "date";
    case PrimitiveKind::kDateTime: return "dateTime";
    case PrimitiveKind::kInstant: return "instant";
    case PrimitiveKind::kTime: return "time";
    case PrimitiveKind::kXhtml: return "xhtml";
    case PrimitiveKind::kNone: break;
  }
  return "value";
}

bool FormatOk(PrimitiveKind kind, std::string_view text) {
  switch (kind) {
    case PrimitiveKind::kInteger: return IsValidInteger(text);
    case PrimitiveKind::kPositiveInt: return IsValidPositiveInt(text);
    case PrimitiveKind::kUnsignedInt: return IsValidUnsignedInt(text);
    case PrimitiveKind::kDecimal: return IsValidDecimal(text);
    case PrimitiveKind::kCode: return IsValidCode(text);
    case PrimitiveKind::kId: return IsValidId(text);
    case PrimitiveKind::kUri:
    case PrimitiveKind::kUrl:
    case PrimitiveKind::kCanonical: return IsValidUri(text);
    case PrimitiveKind::kOid: return IsValidOid(text);
    case PrimitiveKind::kUuid: return IsValidUuid(text);
    case PrimitiveKind::kBase64Binary: return IsValidBase64(text);
    case PrimitiveKind::kDate: return IsValidDate(text);
    case PrimitiveKind::kDateTime: return IsValidDateTime(text);
    case PrimitiveKind::kInstant: return IsValidInstant(text);
    case PrimitiveKind::kTime: return IsValidTime(text);
    case PrimitiveKind::kXhtml: return true;  // ValueOk checks it as a narrative
    case PrimitiveKind::kString:
    case PrimitiveKind::kMarkdown: return IsValidString(text);
    case PrimitiveKind::kBoolean:
    case PrimitiveKind::kNone: return true;
  }
  return true;
}

// The members of a primitive's `_name` object (Element.id and Element.extension).
const FieldInfo kElementId = {"id", FieldShape::kSystemString, nullptr, {}, 0, 1, false, false,
                              BindingStrength::kNone, {}, nullptr, PrimitiveKind::kString,
                              nullptr};
const FieldInfo kElementExtension = {
    "extension", FieldShape::kRepeated, &reflect::Extension, {}, 0,
    FieldInfo::kUnbounded, false, false, BindingStrength::kNone, {}, nullptr,
    PrimitiveKind::kNone, nullptr};

// Which fields of one object have been seen, for duplicates and required elements.
struct Seen {
  static constexpr std::size_t kMaxFields = 256;
  std::array<std::uint64_t, kMaxFields / 64> value{};
  std::array<std::uint64_t, kMaxFields / 64> extension{};
  static bool Test(const std::array<std::uint64_t, 4>& bits, std::size_t i) {
    return (bits[i / 64] >> (i % 64)) & 1u;
  }
  static void Set(std::array<std::uint64_t, 4>& bits, std::size_t i) {
    bits[i / 64] |= std::uint64_t{1} << (i % 64);
  }
};

class Walker {
 public:
  Walker(const ParseOptions& options, std::vector<Issue>* warnings)
      : options_(options), warnings_(warnings) {}

  std::unique_ptr<fhir::Resource> ParseResourceObject(const JsonValue& v, bool contained) {
    if (!v.is_object()) {
      Error(IssueType::kStructure,
            "A resource must be a JSON object, found " + std::string(KindName(v.kind)));
      return nullptr;
    }
    const JsonValue* rt = v.Find("resourceType");
    if (rt == nullptr) {
      Error(IssueType::kRequired, "The resourceType property is missing");
      return nullptr;
    }
    if (!rt->is_string()) {
      Error(IssueType::kStructure, "resourceType must be a string", "resourceType");
      return nullptr;
    }
    const TypeInfo* type = FindResourceType(rt->str());
    if (type == nullptr) {
      Error(IssueType::kNotSupported,
            "Unknown resource type '" + std::string(rt->str()) + "'", "resourceType");
      return nullptr;
    }
    if (path_.empty()) path_ = type->name;
    std::unique_ptr<fhir::Resource> resource = type->create();
    bool saved = in_contained_;
    in_contained_ = contained;
    Object(v, *type, type->object_of(resource.get()), /*is_resource=*/true);
    in_contained_ = saved;
    return resource;
  }

  std::vector<Issue> TakeIssues() { return std::move(issues_); }
  void SetPath(std::string_view path) { path_ = path; }

 private:
  // --- issues -----------------------------------------------------------------------------

  void Error(IssueType type, std::string message, std::string_view child = {}) {
    issues_.push_back({Severity::kError, type, std::move(message), PathTo(child)});
  }
  void Warning(IssueType type, std::string message, std::string_view child) {
    if (warnings_ != nullptr) {
      warnings_->push_back({Severity::kWarning, type, std::move(message), PathTo(child)});
    }
  }
  std::string PathTo(std::string_view child) const {
    if (child.empty()) return path_;
    std::string out = path_;
    if (!out.empty()) out += '.';
    out += child;
    return out;
  }

  // Appends ".name" (and "[i]") to the path for the lifetime of the guard.
  class PathGuard {
   public:
    PathGuard(std::string& path, std::string_view name) : path_(path), mark_(path.size()) {
      if (!path_.empty()) path_ += '.';
      path_ += name;
    }
    PathGuard(std::string& path, std::size_t index) : path_(path), mark_(path.size()) {
      path_ += '[';
      path_ += std::to_string(index);
      path_ += ']';
    }
    ~PathGuard() { path_.resize(mark_); }
    PathGuard(const PathGuard&) = delete;
    PathGuard& operator=(const PathGuard&) = delete;

   private:
    std::string& path_;
    std::size_t mark_;
  };

  // --- objects ----------------------------------------------------------------------------

  void Object(const JsonValue& v, const TypeInfo& type, void* out, bool is_resource) {
    if (!is_resource && v.size == 0) {
      Error(IssueType::kStructure, "An element must not be an empty object");
      return;
    }
    Seen seen;
    bool resource_type_seen = false;
    std::size_t kept = 0;  // members that are not dropped unknown elements
    for (const JsonMember& m : v.object()) {
      if (is_resource && m.name == "resourceType") {
        if (resource_type_seen) {
          Error(IssueType::kStructure, "Duplicate property 'resourceType'", "resourceType");
        }
        resource_type_seen = true;
        continue;
      }
      Member(m, type, out, seen, kept);
    }
    if (!is_resource && kept == 0 && options_.lenient) {
      Error(IssueType::kStructure,
            "An element must not be empty; it held only unknown elements, which were ignored");
    }

    CheckRequired(type, seen, out);
  }

  // One member of an object of `type`.
  void Member(const JsonMember& m, const TypeInfo& type, void* out, Seen& seen,
              std::size_t& kept) {
    bool underscore = !m.name.empty() && m.name[0] == '_';
    std::string_view name = underscore ? m.name.substr(1) : m.name;
    const JsonName* jn = type.FindJsonName(name);
    const FieldInfo* field = jn ? &type.fields[jn->field] : nullptr;
    const TypeInfo* target = nullptr;
    if (field != nullptr) {
      target = field->shape == FieldShape::kChoice ? field->choices[jn->choice - 1].type
                                                   : field->type;
    }
    bool primitive = target != nullptr && target->kind == TypeKind::kPrimitive;
    if (field == nullptr || (underscore && !primitive)) {
      std::string message = "Unknown element '" + std::string(m.name) + "' in " +
                            std::string(type.name);
      if (options_.lenient) {
        Warning(IssueType::kStructure, message + " (ignored)", m.name);
      } else {
        Error(IssueType::kStructure, message, m.name);
      }
      return;
    }
    ++kept;
    auto& bits = underscore ? seen.extension : seen.value;
    void* slot = field->get(out);
    auto* choice = field->shape == FieldShape::kChoice ? static_cast<Choice*>(slot) : nullptr;
    std::size_t current = choice != nullptr ? choice->index() : 0;
    if (current != 0 && current != jn->choice) {
      Error(IssueType::kStructure,
            "Only one type of choice element '" + std::string(field->name) +
                "[x]' is allowed, found '" + std::string(name) + "' as well",
            name);
      return;
    }
    if (Seen::Test(bits, jn->field)) {
      Error(IssueType::kStructure, "Duplicate property '" + std::string(m.name) + "'", name);
      return;
    }
    Seen::Set(bits, jn->field);
    if (choice != nullptr) {
      void* alt = choice->Emplace(jn->choice, *target);
      PathGuard guard(path_, name);
      Single(m.value, *field, *target, alt, underscore, /*boxed=*/false);
      return;
    }
    PathGuard guard(path_, name);
    switch (field->shape) {
      case FieldShape::kSystemString:
        SystemString(m.value, *field, *static_cast<std::string*>(slot));
        break;
      case FieldShape::kSingle:
        Single(m.value, *field, *target, slot, underscore, /*boxed=*/true);
        break;
      case FieldShape::kRepeated:
        Repeated(m.value, *field, *target, slot, underscore);
        break;
      case FieldShape::kChoice:
        break;
    }
  }

  void CheckRequired(const TypeInfo& type, const Seen& seen, void* out) {
    for (std::size_t i = 0; i < type.fields.size(); ++i) {
      const FieldInfo& f = type.fields[i];
      if (Seen::Test(seen.value, i) || Seen::Test(seen.extension, i)) {
        if (f.repeated() && f.type != nullptr && f.type->kind == TypeKind::kPrimitive) {
          CheckPrimitiveArray(f, f.get(out));
        }
        continue;
      }
      if (f.min > 0) {
        Error(IssueType::kRequired,
              "Missing required element '" + std::string(f.name) +
                  (f.shape == FieldShape::kChoice ? "[x]" : "") + "' in " +
                  std::string(type.name),
              f.name);
      }
    }
  }

  // Items of a primitive array must each have a value or an extension, and `name` and `_name`
  // must have the same length.
  void CheckPrimitiveArray(const FieldInfo& f, void* slot) {
    std::size_t n = f.type->vector_size(slot);
    for (std::size_t i = 0; i < n; ++i) {
      void* item = f.type->vector_at(slot, i);
      // A wrong item already has its error; do not report it once more as "null in both".
      if (PrimitiveEmpty(*f.type, item) && !ItemFailed(slot, i)) {
        std::string at = std::string(f.name) + "[" + std::to_string(i) + "]";
        Error(IssueType::kStructure, "An array item must not be null in both '" +
                                         std::string(f.name) + "' and '_" +
                                         std::string(f.name) + "'",
              at);
      }
    }
  }

  bool ItemFailed(const void* slot, std::size_t index) const {
    for (const auto& [s, i] : failed_items_) {
      if (s == slot && i == index) return true;
    }
    return false;
  }

  static bool PrimitiveEmpty(const TypeInfo& t, void* p) {
    switch (CategoryOf(t.primitive)) {
      case ValueCategory::kBool: return static_cast<Primitive<bool>*>(p)->empty();
      case ValueCategory::kInt: return static_cast<Primitive<std::int32_t>*>(p)->empty();
      case ValueCategory::kString: return static_cast<Primitive<std::string>*>(p)->empty();
    }
    return true;
  }

  // --- values -----------------------------------------------------------------------------

  // Whether `text` is a valid `kind`; reports why not. A narrative's XHTML is checked against
  // txt-1 and txt-2 (fhir/xhtml/narrative_check.h): a rule broken by well-formed XHTML is an
  // invariant (422), malformed XHTML an invalid value (400); not for stored JSON.
  bool ValueOk(PrimitiveKind kind, std::string_view text) {
    if (kind == PrimitiveKind::kXhtml) {
      if (!options_.check_narratives) return true;
      std::optional<xhtml::NarrativeProblem> problem = xhtml::CheckNarrative(text);
      if (!problem) return true;
      Error(problem->rule ? IssueType::kInvariant : IssueType::kValue,
            "Invalid narrative: " + problem->text);
      return false;
    }
    if (FormatOk(kind, text)) return true;
    Error(IssueType::kValue, "Invalid " + std::string(PrimitiveName(kind)) + " '" + Clip(text) +
                                 "'");
    return false;
  }

  void SystemString(const JsonValue& v, const FieldInfo& field, std::string& out) {
    if (!v.is_string()) {
      bool scalar = !v.is_object() && !v.is_array() && !v.is_null();
      Error(scalar ? IssueType::kValue : IssueType::kStructure,
            "Expected a string, found " + std::string(KindName(v.kind)));
      return;
    }
    PrimitiveKind format = field.system_format;
    if (v.size == 0) {
      Error(IssueType::kValue, "Empty strings are not allowed");
      return;
    }
    if (!ValueOk(format, v.str())) return;
    out.assign(v.str());
  }

  // `slot` holds a Box<T> when `boxed`, else the T itself (a choice alternative).
  void Single(const JsonValue& v, const FieldInfo& field, const TypeInfo& target, void* slot,
              bool underscore, bool boxed) {
    if (v.is_array()) {
      Error(IssueType::kStructure, "Expected a single value, found an array");
      return;
    }
    if (target.kind == TypeKind::kPrimitive) {
      if (underscore) {
        PrimitiveExtension(v, target, slot);
      } else {
        PrimitiveValue(v, field, target, slot);
      }
      return;
    }
    if (target.kind == TypeKind::kResource) {
      ResourceInto(v, field, *static_cast<Box<fhir::Resource>*>(slot));
      return;
    }
    if (!v.is_object()) {
      Error(IssueType::kStructure, "Expected an object, found " + std::string(KindName(v.kind)));
      return;
    }
    Object(v, target, boxed ? target.box_ensure(slot) : slot, false);
  }

  void Repeated(const JsonValue& v, const FieldInfo& field, const TypeInfo& target, void* slot,
                bool underscore) {
    if (!v.is_array()) {
      Error(IssueType::kStructure,
            "Expected an array, found " + std::string(KindName(v.kind)));
      return;
    }
    if (v.size == 0) {
      Error(IssueType::kStructure, "An array must not be empty");
      return;
    }
    if (target.kind == TypeKind::kPrimitive) {
      std::size_t have = target.vector_size(slot);
      if (have != 0 && have != v.size) {
        Error(IssueType::kStructure, "'" + std::string(field.name) + "' and '_" +
                                         std::string(field.name) +
                                         "' must have the same number of items");
        return;
      }
      for (std::size_t i = 0; i < v.size; ++i) {
        void* item = i < have ? target.vector_at(slot, i) : target.vector_push(slot);
        const JsonValue& x = v.items[i];
        if (x.is_null()) continue;  // a placeholder; CheckPrimitiveArray checks the pair
        PathGuard guard(path_, i);
        const std::size_t errors_before = issues_.size();
        if (underscore) {
          PrimitiveExtension(x, target, item);
        } else {
          PrimitiveValue(x, field, target, item);
        }
        if (issues_.size() > errors_before) failed_items_.emplace_back(slot, i);
      }
      return;
    }
    for (std::size_t i = 0; i < v.size; ++i) {
      const JsonValue& x = v.items[i];
      PathGuard guard(path_, i);
      if (x.is_null()) {
        Error(IssueType::kStructure, "null is only allowed in arrays of primitives");
        continue;
      }
      if (target.kind == TypeKind::kResource) {
        auto* box = static_cast<Box<fhir::Resource>*>(target.vector_push(slot));
        ResourceInto(x, field, *box);
        continue;
      }
      if (!x.is_object()) {
        Error(IssueType::kStructure,
              "Expected an object, found " + std::string(KindName(x.kind)));
        continue;
      }
      Object(x, target, target.vector_push(slot), false);
    }
  }

  void ResourceInto(const JsonValue& v, const FieldInfo& field, Box<fhir::Resource>& box) {
    bool contained = field.name == "contained";
    if (contained && in_contained_) {
      Error(IssueType::kInvariant,
            "A contained resource must not contain resources itself (dom-2)");
      return;
    }
    box.reset(ParseResourceObject(v, contained));
  }

  void PrimitiveValue(const JsonValue& v, const FieldInfo& field, const TypeInfo& target,
                      void* slot) {
    PrimitiveKind kind = target.primitive;
    switch (CategoryOf(kind)) {
      case ValueCategory::kBool: {
        if (v.kind != Kind::kTrue && v.kind != Kind::kFalse) {
          WrongPrimitive(v, kind);
          return;
        }
        static_cast<Primitive<bool>*>(slot)->value = v.kind == Kind::kTrue;
        return;
      }
      case ValueCategory::kInt: {
        if (v.kind != Kind::kNumber) {
          WrongPrimitive(v, kind);
          return;
        }
        if (!FormatOk(kind, v.str())) {
          Error(IssueType::kValue, "Invalid " + std::string(PrimitiveName(kind)) + " " +
                                       Clip(v.str()));
          return;
        }
        std::int32_t n = 0;
        std::from_chars(v.text, v.text + v.size, n);
        static_cast<Primitive<std::int32_t>*>(slot)->value = n;
        return;
      }
      case ValueCategory::kString:
        break;
    }
    bool number = kind == PrimitiveKind::kDecimal;
    if (v.kind != (number ? Kind::kNumber : Kind::kString)) {
      WrongPrimitive(v, kind);
      return;
    }
    if (v.size == 0) {
      Error(IssueType::kValue, "Empty strings are not allowed");
      return;
    }
    if (!ValueOk(kind, v.str())) return;
    if (field.required_codes != nullptr && kind == PrimitiveKind::kCode &&
        !field.required_codes->Contains(v.str())) {
      Error(IssueType::kCodeInvalid, "The code '" + Clip(v.str()) +
                                         "' is not in the required ValueSet " +
                                         std::string(field.required_codes->value_set));
      return;
    }
    static_cast<Primitive<std::string>*>(slot)->value.emplace(v.str());
  }

  void WrongPrimitive(const JsonValue& v, PrimitiveKind kind) {
    std::string_view expected = kind == PrimitiveKind::kBoolean ? "a JSON boolean"
                                : CategoryOf(kind) == ValueCategory::kInt ||
                                        kind == PrimitiveKind::kDecimal
                                    ? "a JSON number"
                                    : "a JSON string";
    IssueType type =
        v.is_object() || v.is_array() || v.is_null() ? IssueType::kStructure : IssueType::kValue;
    Error(type, "A " + std::string(PrimitiveName(kind)) + " must be " + std::string(expected) +
                    ", found " + std::string(KindName(v.kind)));
  }

  // The `_name` companion: {"id": ..., "extension": [...]}.
  void PrimitiveExtension(const JsonValue& v, const TypeInfo& target, void* slot) {
    if (!v.is_object()) {
      Error(IssueType::kStructure,
            "Expected an object, found " + std::string(KindName(v.kind)));
      return;
    }
    if (v.size == 0) {
      Error(IssueType::kStructure, "An element must not be an empty object");
      return;
    }
    std::string* id = nullptr;
    std::vector<Extension>* extension = nullptr;
    switch (CategoryOf(target.primitive)) {
      case ValueCategory::kBool: {
        auto* p = static_cast<Primitive<bool>*>(slot);
        id = &p->id;
        extension = &p->extension;
        break;
      }
      case ValueCategory::kInt: {
        auto* p = static_cast<Primitive<std::int32_t>*>(slot);
        id = &p->id;
        extension = &p->extension;
        break;
      }
      case ValueCategory::kString: {
        auto* p = static_cast<Primitive<std::string>*>(slot);
        id = &p->id;
        extension = &p->extension;
        break;
      }
    }
    Seen seen;
    for (const JsonMember& m : v.object()) {
      const FieldInfo* f = m.name == "id"          ? &kElementId
                           : m.name == "extension" ? &kElementExtension
                                                   : nullptr;
      if (f == nullptr || target.primitive == PrimitiveKind::kXhtml) {
        std::string message = "Unknown element '" + std::string(m.name) + "' in a primitive's '_' object";
        if (options_.lenient) {
          Warning(IssueType::kStructure, message + " (ignored)", m.name);
        } else {
          Error(IssueType::kStructure, message, m.name);
        }
        continue;
      }
      std::size_t index = f == &kElementId ? 0 : 1;
      if (Seen::Test(seen.value, index)) {
        Error(IssueType::kStructure, "Duplicate property '" + std::string(m.name) + "'", m.name);
        continue;
      }
      Seen::Set(seen.value, index);
      PathGuard guard(path_, m.name);
      if (f->shape == FieldShape::kSystemString) {
        SystemString(m.value, *f, *id);
      } else {
        Repeated(m.value, *f, *f->type, extension, false);
      }
    }
  }

  static std::string Clip(std::string_view s) {
    constexpr std::size_t kMax = 64;
    return s.size() <= kMax ? std::string(s) : std::string(s.substr(0, kMax)) + "...";
  }

  const ParseOptions& options_;
  std::vector<Issue>* warnings_;
  std::vector<Issue> issues_;
  std::string path_;
  bool in_contained_ = false;
  // Items of primitive arrays whose value or `_` object had an error (by vector address).
  std::vector<std::pair<const void*, std::size_t>> failed_items_;
};

Result<std::unique_ptr<Resource>> Finish(Walker& walker, std::unique_ptr<Resource> resource) {
  std::vector<Issue> issues = walker.TakeIssues();
  if (!issues.empty()) return Status(std::move(issues));
  return resource;
}

}  // namespace

Result<std::unique_ptr<Resource>> ParseResourceValue(const JsonValue& value,
                                                     const ParseOptions& options,
                                                     std::vector<Issue>* warnings,
                                                     std::string_view path) {
  Walker walker(options, warnings);
  walker.SetPath(path);
  std::unique_ptr<Resource> resource = walker.ParseResourceObject(value, false);
  return Finish(walker, std::move(resource));
}

Result<std::unique_ptr<Resource>> ParseResource(std::string_view json,
                                                const ParseOptions& options,
                                                std::vector<Issue>* warnings) {
  JsonDocument doc;
  FHIR_RETURN_IF_ERROR(doc.Parse(json));
  return ParseResourceValue(doc.root(), options, warnings);
}

}  // namespace fhir::json
