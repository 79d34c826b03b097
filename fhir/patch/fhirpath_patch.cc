#include "fhir/patch/fhirpath_patch.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fhir/fhirpath/fhirpath.h"
#include "fhir/json/parser.h"
#include "fhir/model/primitive.h"
#include "fhir/r4/datatypes.h"
#include "fhir/xml/xml_reader.h"
#include "fhir/xml/xml_writer.h"

namespace fhir::patch {
namespace {

// The operations work on the resource's XML element tree (fhir/xml): unlike the generated
// models, it can insert, remove and reorder children generically, and it keeps a primitive's
// value, id and extensions together (JSON splits them into `name` and `_name`). FHIRPath
// selects nodes in the model; the tree built from the model records where each node went.
// After each operation the tree is read back into a model (which validates it) for the next.

using Param = Parameters::Parameter;
using xml::XmlElement;

constexpr std::size_t kNone = static_cast<std::size_t>(-1);

enum class OpType { kAdd, kInsert, kDelete, kReplace, kMove };

struct Operation {
  OpType type = OpType::kAdd;
  std::string type_name;
  std::string where;  // "Parameters.parameter[2]"
  std::string path;
  std::string path_at;  // where the path part is
  std::string name;
  const Param* value = nullptr;
  std::optional<std::int32_t> index;
  std::optional<std::int32_t> source;
  std::optional<std::int32_t> destination;

  std::string Describe() const { return type_name + " at '" + path + "'"; }
  Status Fail(std::string message) const {
    return Status(IssueType::kProcessing, "FHIRPath Patch " + Describe() + ": " + message, where);
  }
};

// --- reading the Parameters -------------------------------------------------------------

// The text of a part's value[x] of a string-like primitive type (string, code, uri, id, ...).
const std::string* StringValue(const Param& part) {
  const TypeInfo* type = part.value.type();
  if (type == nullptr || type->kind != TypeKind::kPrimitive ||
      CategoryOf(type->primitive) != ValueCategory::kString ||
      type->primitive == PrimitiveKind::kDecimal) {
    return nullptr;
  }
  const auto* p = static_cast<const Primitive<std::string>*>(part.value.get());
  return p->value ? &*p->value : nullptr;
}

Result<Operation> ReadOperation(const Param& p, std::size_t i) {
  Operation op;
  op.where = "Parameters.parameter[" + std::to_string(i) + "]";
  if (!p.name.value || *p.name.value != "operation") {
    return Status(IssueType::kInvalid,
                  "A FHIRPath Patch parameter must be named 'operation', found '" +
                      p.name.value.value_or("") + "'",
                  op.where + ".name");
  }
  if (!p.value.empty() || p.resource) {
    return Status(IssueType::kInvalid, "An operation has parts only, no value or resource",
                  op.where);
  }
  std::map<std::string, std::size_t> seen;
  for (std::size_t j = 0; j < p.part.size(); ++j) {
    const Param& part = p.part[j];
    const std::string at = op.where + ".part[" + std::to_string(j) + "]";
    const std::string name = part.name.value.value_or("");
    if (!seen.emplace(name, j).second) {
      return Status(IssueType::kInvalid, "The part '" + name + "' appears twice", at);
    }
    if (name == "value") {
      op.value = &part;
      continue;
    }
    if (name == "index" || name == "source" || name == "destination") {
      const Integer* n = part.value_integer();
      if (n == nullptr || !n->value) {
        return Status(IssueType::kInvalid, "The part '" + name + "' needs a valueInteger", at);
      }
      (name == "index" ? op.index : name == "source" ? op.source : op.destination) = *n->value;
      continue;
    }
    if (name != "type" && name != "path" && name != "name") {
      return Status(IssueType::kInvalid,
                    "Unknown part '" + name + "' of a FHIRPath Patch operation", at);
    }
    const std::string* text = StringValue(part);
    if (text == nullptr) {
      return Status(IssueType::kInvalid,
                    "The part '" + name + "' needs a valueString" +
                        (name == "type" ? std::string(" or valueCode") : std::string()),
                    at);
    }
    if (name == "type") {
      op.type_name = *text;
      static const std::pair<std::string_view, OpType> kTypes[] = {
          {"add", OpType::kAdd},         {"insert", OpType::kInsert}, {"delete", OpType::kDelete},
          {"replace", OpType::kReplace}, {"move", OpType::kMove}};
      auto it = std::find_if(std::begin(kTypes), std::end(kTypes),
                             [&](const auto& t) { return t.first == *text; });
      if (it == std::end(kTypes)) {
        return Status(IssueType::kInvalid,
                      "Unknown operation type '" + *text +
                          "' (add, insert, delete, replace or move)",
                      at);
      }
      op.type = it->second;
    } else if (name == "path") {
      op.path = *text;
      op.path_at = at;
    } else {
      op.name = *text;
    }
  }
  if (!seen.contains("type")) {
    return Status(IssueType::kRequired, "An operation needs the part 'type'", op.where);
  }
  std::vector<std::string_view> needs = {"path"};
  switch (op.type) {
    case OpType::kAdd: needs.insert(needs.end(), {"name", "value"}); break;
    case OpType::kInsert: needs.insert(needs.end(), {"value", "index"}); break;
    case OpType::kDelete: break;
    case OpType::kReplace: needs.push_back("value"); break;
    case OpType::kMove: needs.insert(needs.end(), {"source", "destination"}); break;
  }
  for (std::string_view need : needs) {
    if (!seen.contains(std::string(need))) {
      return Status(IssueType::kRequired,
                    "The operation '" + op.type_name + "' needs the part '" + std::string(need) +
                        "'",
                    op.where);
    }
  }
  return op;
}

// --- the element tree ---------------------------------------------------------------------

struct Node {
  const TypeInfo* type;
  std::vector<std::size_t> path;  // child indices from the root element
};

struct Tree {
  XmlElement root;
  std::unordered_multimap<const void*, Node> nodes;  // by model object address
  std::map<std::vector<std::size_t>, const TypeInfo*> types;  // of the node at each path
};

Tree BuildTree(const Resource& resource) {
  Tree tree;
  tree.root = xml::ResourceToXml(
      resource, [&](const TypeInfo& type, const void* object, std::span<const std::size_t> path) {
        std::vector<std::size_t> p(path.begin(), path.end());
        tree.types[p] = &type;
        tree.nodes.emplace(object, Node{&type, std::move(p)});
      });
  return tree;
}

XmlElement& At(XmlElement& root, std::span<const std::size_t> path) {
  XmlElement* e = &root;
  for (std::size_t i : path) e = &e->children[i];
  return *e;
}

// A primitive's extensions, as a field of the primitive (its TypeInfo has no fields).
const FieldInfo kPrimitiveExtension = {
    "extension", FieldShape::kRepeated, &reflect::Extension, {}, 0, FieldInfo::kUnbounded, false,
    false, BindingStrength::kNone, {}, nullptr, PrimitiveKind::kNone, nullptr};

// The index of the field that the child element `name` of an element of `owner` belongs to.
std::size_t FieldIndexOf(const TypeInfo& owner, std::string_view name) {
  if (owner.kind == TypeKind::kPrimitive) return name == "extension" ? 0 : kNone;
  const JsonName* jn = owner.FindJsonName(name);
  return jn != nullptr ? jn->field : kNone;
}

const FieldInfo* FindField(const TypeInfo& owner, std::string_view name) {
  if (owner.kind == TypeKind::kPrimitive) {
    return name == "extension" ? &kPrimitiveExtension : nullptr;
  }
  return owner.FindField(name);
}

std::size_t IndexOfField(const TypeInfo& owner, const FieldInfo& field) {
  return &field == &kPrimitiveExtension ? 0
                                        : static_cast<std::size_t>(&field - owner.fields.data());
}

// Where a selected node sits: the element in its owner's children (for a resource inside a
// wrapper, the wrapper), the owner and the field.
struct Slot {
  std::vector<std::size_t> element;
  std::vector<std::size_t> owner;
  const TypeInfo* owner_type = nullptr;
  const FieldInfo* field = nullptr;
  std::size_t field_index = kNone;
};

// REQUIRES: `node` is not the root.
Result<Slot> SlotOf(const Operation& op, const Tree& tree, const Node& node) {
  Slot s;
  s.element = node.path;
  if (node.type->kind == TypeKind::kResource) s.element.pop_back();
  if (s.element.empty()) return op.Fail("the element has no parent");
  s.owner.assign(s.element.begin(), s.element.end() - 1);
  auto owner = tree.types.find(s.owner);
  if (owner == tree.types.end()) return op.Fail("the element's parent was not found");
  s.owner_type = owner->second;
  const XmlElement& e = At(const_cast<XmlElement&>(tree.root), s.element);
  s.field_index = FieldIndexOf(*s.owner_type, e.name);
  if (s.field_index == kNone) return op.Fail("'" + e.name + "' was not found in its parent");
  s.field = s.owner_type->kind == TypeKind::kPrimitive ? &kPrimitiveExtension
                                                       : &s.owner_type->fields[s.field_index];
  return s;
}

// The positions in `owner` of the children of field `field_index`.
std::vector<std::size_t> ListOf(const XmlElement& owner, const TypeInfo& owner_type,
                                std::size_t field_index) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < owner.children.size(); ++i) {
    if (FieldIndexOf(owner_type, owner.children[i].name) == field_index) out.push_back(i);
  }
  return out;
}

// Where a new child of field `field_index` goes: after the children of earlier fields.
std::size_t InsertPosition(const XmlElement& owner, const TypeInfo& owner_type,
                           std::size_t field_index) {
  for (std::size_t i = 0; i < owner.children.size(); ++i) {
    std::size_t f = FieldIndexOf(owner_type, owner.children[i].name);
    if (f != kNone && f > field_index) return i;
  }
  return owner.children.size();
}

// --- FHIRPath -----------------------------------------------------------------------------

Result<std::vector<const Node*>> Select(const Operation& op, const Tree& tree,
                                        const Resource& resource, const std::string& path) {
  auto expression = fhirpath::Parse(path);
  if (!expression.ok()) {
    return Status(IssueType::kInvalid,
                  "FHIRPath Patch " + op.Describe() + ": the path is not valid FHIRPath: " +
                      expression.status().diagnostics(),
                  op.path_at);
  }
  auto result = fhirpath::Evaluate(**expression, resource);
  if (!result.ok()) {
    return op.Fail("evaluating '" + path + "' failed: " + result.status().diagnostics());
  }
  std::vector<const Node*> nodes;
  for (const fhirpath::Value& v : *result) {
    if (v.kind() != fhirpath::Value::Kind::kElement || v.object() == nullptr) {
      return op.Fail("'" + path + "' must select elements of the resource being patched");
    }
    const Node* found = nullptr;
    auto [begin, end] = tree.nodes.equal_range(v.object());
    for (auto it = begin; it != end; ++it) {
      if (found == nullptr || it->second.type == v.type()) found = &it->second;
    }
    if (found == nullptr) {
      return op.Fail("'" + path + "' selects an element outside the resource being patched");
    }
    nodes.push_back(found);
  }
  return nodes;
}

// The FHIRPath without its last step, and that step's name ("Patient.identifier" ->
// "Patient", "identifier"), for a list that is empty and so selects nothing.
std::optional<std::pair<std::string, std::string>> SplitLastStep(std::string_view path) {
  int depth = 0;
  char quote = 0;
  std::size_t dot = std::string_view::npos;
  for (std::size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (quote != 0) {
      if (c == '\\') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
    } else if (c == '\'' || c == '`') {
      quote = c;
    } else if (c == '(' || c == '[') {
      ++depth;
    } else if (c == ')' || c == ']') {
      --depth;
    } else if (c == '.' && depth == 0) {
      dot = i;
    }
  }
  std::string_view last = dot == std::string_view::npos ? path : path.substr(dot + 1);
  while (!last.empty() && last.front() == ' ') last.remove_prefix(1);
  while (!last.empty() && last.back() == ' ') last.remove_suffix(1);
  if (last.size() >= 2 && last.front() == '`' && last.back() == '`') {
    last = last.substr(1, last.size() - 2);
  }
  if (last.empty()) return std::nullopt;
  for (char c : last) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_';
    if (!ok) return std::nullopt;
  }
  std::string parent =
      dot == std::string_view::npos ? std::string() : std::string(path.substr(0, dot));
  return std::make_pair(std::move(parent), std::string(last));
}

// --- values -------------------------------------------------------------------------------

// Whether a value of `from` may go where the model holds a `to`.
bool Compatible(const TypeInfo& from, const TypeInfo& to) {
  if (&from == &to) return true;
  if (from.kind != TypeKind::kPrimitive || to.kind != TypeKind::kPrimitive) return false;
  ValueCategory f = CategoryOf(from.primitive);
  if (to.primitive == PrimitiveKind::kDecimal) {
    return from.primitive == PrimitiveKind::kDecimal || f == ValueCategory::kInt;
  }
  if (from.primitive == PrimitiveKind::kDecimal) return false;
  return f == CategoryOf(to.primitive);
}

std::string FieldLabel(const TypeInfo& owner, const FieldInfo& field) {
  return std::string(owner.name) + "." + std::string(field.name) +
         (field.shape == FieldShape::kChoice ? "[x]" : "");
}

// The element for `part`'s value as the field `field` of an `owner`.
Result<XmlElement> ValueElement(const Operation& op, const Param& part, const TypeInfo& owner,
                                const FieldInfo& field) {
  if (!part.value.empty()) {
    const TypeInfo& from = *part.value.type();
    const void* object = part.value.get();
    std::string name(field.name);
    const TypeInfo* to = field.type;
    if (field.shape == FieldShape::kChoice) {
      to = nullptr;
      for (const ChoiceType& c : field.choices) {
        if (c.type == &from) {
          to = c.type;
          name += c.suffix;
        }
      }
    }
    if (to == nullptr || !Compatible(from, *to)) {
      return op.Fail("a value of type " + std::string(from.name) + " cannot be " +
                     FieldLabel(owner, field));
    }
    if (to->primitive == PrimitiveKind::kXhtml) {
      // A narrative must be well-formed XHTML; it is kept in the form the XML writer gives.
      auto div = xml::ParseXml(
          static_cast<const Primitive<std::string>*>(object)->value.value_or(""));
      if (!div.ok() || div->name != "div" || div->ns != xml::kXhtmlNamespace) {
        return op.Fail("the value of " + FieldLabel(owner, field) +
                       " must be an XHTML <div>" +
                       (div.ok() ? std::string() : ": " + div.status().diagnostics()));
      }
      return std::move(div).value();
    }
    return xml::ValueToXml(name, from, object);
  }
  if (part.resource) {
    if (field.type == nullptr || field.type->kind != TypeKind::kResource) {
      return op.Fail("a resource cannot be " + FieldLabel(owner, field));
    }
    XmlElement wrapper;
    wrapper.ns = xml::kFhirNamespace;
    wrapper.name = field.name;
    wrapper.children.push_back(xml::ResourceToXml(*part.resource));
    return wrapper;
  }
  if (part.part.empty()) {
    return Status(IssueType::kRequired,
                  "FHIRPath Patch " + op.Describe() +
                      ": the value has no value[x], resource or parts",
                  op.where);
  }
  // An anonymous type (a BackboneElement) given as parts, one per child element.
  const TypeInfo* to = field.type;
  if (to == nullptr || (to->kind != TypeKind::kBackbone && to->kind != TypeKind::kComplex)) {
    return op.Fail("parts cannot make a value of " + FieldLabel(owner, field));
  }
  XmlElement e;
  e.ns = xml::kFhirNamespace;
  e.name = field.name;
  std::vector<std::pair<std::size_t, XmlElement>> children;
  for (const Param& child : part.part) {
    std::string child_name = child.name.value.value_or("");
    const FieldInfo* f = to->FindField(child_name);
    if (f == nullptr) {
      return op.Fail("'" + child_name + "' is not an element of " + std::string(to->name));
    }
    if (f->shape == FieldShape::kSystemString) {
      const std::string* text = StringValue(child);
      if (text == nullptr) return op.Fail("'" + child_name + "' needs a valueString");
      e.attributes.push_back({{}, child_name, *text});
      continue;
    }
    FHIR_ASSIGN_OR_RETURN(XmlElement c, ValueElement(op, child, *to, *f));
    children.emplace_back(IndexOfField(*to, *f), std::move(c));
  }
  std::stable_sort(children.begin(), children.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [index, c] : children) e.children.push_back(std::move(c));
  return e;
}

// --- operations ---------------------------------------------------------------------------

Result<const Node*> SelectOne(const Operation& op, const Tree& tree, const Resource& resource,
                              const std::string& verb) {
  FHIR_ASSIGN_OR_RETURN(std::vector<const Node*> nodes, Select(op, tree, resource, op.path));
  if (nodes.empty()) return op.Fail("No content found at " + op.path + " when " + verb);
  if (nodes.size() > 1) {
    return op.Fail("the path selects " + std::to_string(nodes.size()) +
                   " elements; it must select one");
  }
  return nodes[0];
}

Status Replace(const Operation& op, Tree& tree, const Resource& resource) {
  FHIR_ASSIGN_OR_RETURN(const Node* node, SelectOne(op, tree, resource, "replacing"));
  if (node->path.empty()) return op.Fail("the resource itself cannot be replaced");
  FHIR_ASSIGN_OR_RETURN(Slot slot, SlotOf(op, tree, *node));
  FHIR_ASSIGN_OR_RETURN(XmlElement value,
                        ValueElement(op, *op.value, *slot.owner_type, *slot.field));
  At(tree.root, slot.element) = std::move(value);
  return Status::Ok();
}

Status Delete(const Operation& op, Tree& tree, const Resource& resource) {
  FHIR_ASSIGN_OR_RETURN(std::vector<const Node*> nodes, Select(op, tree, resource, op.path));
  if (nodes.empty()) return Status::Ok();  // "delete ... (if found)"
  if (nodes.size() > 1) {
    return op.Fail("the path selects " + std::to_string(nodes.size()) +
                   " elements; delete removes one");
  }
  if (nodes[0]->path.empty()) return op.Fail("the resource itself cannot be deleted");
  FHIR_ASSIGN_OR_RETURN(Slot slot, SlotOf(op, tree, *nodes[0]));
  auto& siblings = At(tree.root, slot.owner).children;
  siblings.erase(siblings.begin() + static_cast<std::ptrdiff_t>(slot.element.back()));
  return Status::Ok();
}

Status Add(const Operation& op, Tree& tree, const Resource& resource) {
  FHIR_ASSIGN_OR_RETURN(const Node* node, SelectOne(op, tree, resource, "adding"));
  const TypeInfo& owner_type = *node->type;
  XmlElement& owner = At(tree.root, node->path);
  const FieldInfo* field = FindField(owner_type, op.name);
  bool typed_choice = false;  // a choice named with its type ("deceasedBoolean")
  if (field == nullptr && owner_type.kind != TypeKind::kPrimitive) {
    const JsonName* jn = owner_type.FindJsonName(op.name);
    if (jn != nullptr && jn->choice != 0) {
      field = &owner_type.fields[jn->field];
      typed_choice = true;
    }
  }
  if (field == nullptr) {
    return op.Fail("'" + op.name + "' is not an element of " + std::string(owner_type.name));
  }
  if (field->shape == FieldShape::kSystemString) {
    const std::string* text = StringValue(*op.value);
    if (text == nullptr) return op.Fail("'" + op.name + "' needs a string value");
    if (owner_type.kind == TypeKind::kResource) {  // Resource.id is an element
      if (!owner.children.empty() && owner.children[0].name == "id") {
        return op.Fail("the resource already has an id; use replace");
      }
      XmlElement id;
      id.ns = xml::kFhirNamespace;
      id.name = "id";
      id.attributes.push_back({{}, "value", *text});
      owner.children.insert(owner.children.begin(), std::move(id));
      return Status::Ok();
    }
    if (owner.FindAttribute(op.name) != nullptr) {
      return op.Fail("'" + op.name + "' is already present; use replace");
    }
    owner.attributes.push_back({{}, op.name, *text});
    return Status::Ok();
  }
  std::size_t field_index = IndexOfField(owner_type, *field);
  if (!field->repeated() && !ListOf(owner, owner_type, field_index).empty()) {
    return op.Fail("'" + op.name + "' is already present; use replace");
  }
  FHIR_ASSIGN_OR_RETURN(XmlElement value, ValueElement(op, *op.value, owner_type, *field));
  if (typed_choice && value.name != op.name) {
    return op.Fail("the value's type makes '" + value.name + "', not '" + op.name + "'");
  }
  std::size_t at = InsertPosition(owner, owner_type, field_index);
  owner.children.insert(owner.children.begin() + static_cast<std::ptrdiff_t>(at),
                        std::move(value));
  return Status::Ok();
}

// The list that insert and move work on.
struct List {
  std::vector<std::size_t> owner;
  const TypeInfo* owner_type = nullptr;
  const FieldInfo* field = nullptr;
  std::size_t field_index = kNone;
  std::vector<std::size_t> items;  // positions in the owner's children
};

Result<List> SelectList(const Operation& op, Tree& tree, const Resource& resource,
                        const std::string& verb) {
  FHIR_ASSIGN_OR_RETURN(std::vector<const Node*> nodes, Select(op, tree, resource, op.path));
  List list;
  if (!nodes.empty()) {
    if (nodes[0]->path.empty()) return op.Fail("the path must select a list, not the resource");
    FHIR_ASSIGN_OR_RETURN(Slot first, SlotOf(op, tree, *nodes[0]));
    for (const Node* n : nodes) {
      if (n->path.empty()) return op.Fail("the path must select a list, not the resource");
      FHIR_ASSIGN_OR_RETURN(Slot s, SlotOf(op, tree, *n));
      if (s.owner != first.owner || s.field_index != first.field_index) {
        return op.Fail("the path selects elements of more than one list");
      }
    }
    list.owner = first.owner;
    list.owner_type = first.owner_type;
    list.field = first.field;
    list.field_index = first.field_index;
  } else {
    // An empty list selects nothing: find its owner through the path without its last step.
    auto split = SplitLastStep(op.path);
    if (!split) return op.Fail("No content found at " + op.path + " when " + verb);
    Node root{tree.types.at({}), {}};
    const Node* owner = &root;  // a path of one step starts at the resource
    if (!split->first.empty()) {
      FHIR_ASSIGN_OR_RETURN(std::vector<const Node*> owners,
                            Select(op, tree, resource, split->first));
      owner = owners.size() == 1 ? owners[0] : nullptr;
    }
    if (owner == nullptr) return op.Fail("No content found at " + op.path + " when " + verb);
    list.owner = owner->path;
    list.owner_type = owner->type;
    list.field = FindField(*owner->type, split->second);
    if (list.field == nullptr) {
      return op.Fail("'" + split->second + "' is not an element of " +
                     std::string(owner->type->name));
    }
    list.field_index = IndexOfField(*owner->type, *list.field);
  }
  if (!list.field->repeated()) {
    return op.Fail(FieldLabel(*list.owner_type, *list.field) + " is not a list");
  }
  list.items = ListOf(At(tree.root, list.owner), *list.owner_type, list.field_index);
  if (!nodes.empty() && nodes.size() != list.items.size()) {
    return op.Fail("the path must select the whole list (it selects " +
                   std::to_string(nodes.size()) + " of " + std::to_string(list.items.size()) +
                   " items)");
  }
  return list;
}

Status CheckIndex(const Operation& op, std::string_view part, std::int32_t index,
                  std::size_t limit) {
  if (index < 0 || static_cast<std::size_t>(index) > limit) {
    return op.Fail("the " + std::string(part) + " " + std::to_string(index) +
                   " is out of range (0 to " + std::to_string(limit) + ")");
  }
  return Status::Ok();
}

Status Insert(const Operation& op, Tree& tree, const Resource& resource) {
  FHIR_ASSIGN_OR_RETURN(List list, SelectList(op, tree, resource, "inserting"));
  FHIR_RETURN_IF_ERROR(CheckIndex(op, "index", *op.index, list.items.size()));
  XmlElement& owner = At(tree.root, list.owner);
  FHIR_ASSIGN_OR_RETURN(XmlElement value,
                        ValueElement(op, *op.value, *list.owner_type, *list.field));
  std::size_t at = list.items.empty()
                       ? InsertPosition(owner, *list.owner_type, list.field_index)
                       : list.items[0] + static_cast<std::size_t>(*op.index);
  owner.children.insert(owner.children.begin() + static_cast<std::ptrdiff_t>(at),
                        std::move(value));
  return Status::Ok();
}

Status Move(const Operation& op, Tree& tree, const Resource& resource) {
  FHIR_ASSIGN_OR_RETURN(List list, SelectList(op, tree, resource, "moving"));
  if (list.items.empty()) return op.Fail("No content found at " + op.path + " when moving");
  std::size_t last = list.items.size() - 1;
  FHIR_RETURN_IF_ERROR(CheckIndex(op, "source", *op.source, last));
  FHIR_RETURN_IF_ERROR(CheckIndex(op, "destination", *op.destination, last));
  auto& children = At(tree.root, list.owner).children;
  auto from = children.begin() + static_cast<std::ptrdiff_t>(list.items[0]) + *op.source;
  XmlElement item = std::move(*from);
  children.erase(from);
  children.insert(children.begin() + static_cast<std::ptrdiff_t>(list.items[0]) + *op.destination,
                  std::move(item));
  return Status::Ok();
}

// Removes the elements an operation left empty (a contact whose only child was deleted), as
// a model drops them. Element names start in lower case, resource names in upper case; a
// resource element stays even when empty.
void PruneEmpty(XmlElement& e) {
  if (e.ns != xml::kFhirNamespace) return;  // a narrative's XHTML is kept as it is
  for (XmlElement& c : e.children) PruneEmpty(c);
  std::erase_if(e.children, [](const XmlElement& c) {
    return c.ns == xml::kFhirNamespace && c.children.empty() && c.attributes.empty() &&
           !c.verbatim && !c.name.empty() && c.name[0] >= 'a' && c.name[0] <= 'z';
  });
}

Result<std::unique_ptr<Resource>> Apply(const Operation& op, const Resource& resource) {
  Tree tree = BuildTree(resource);
  switch (op.type) {
    case OpType::kAdd: FHIR_RETURN_IF_ERROR(Add(op, tree, resource)); break;
    case OpType::kInsert: FHIR_RETURN_IF_ERROR(Insert(op, tree, resource)); break;
    case OpType::kDelete: FHIR_RETURN_IF_ERROR(Delete(op, tree, resource)); break;
    case OpType::kReplace: FHIR_RETURN_IF_ERROR(Replace(op, tree, resource)); break;
    case OpType::kMove: FHIR_RETURN_IF_ERROR(Move(op, tree, resource)); break;
  }
  PruneEmpty(tree.root);
  auto patched = xml::ParseXmlResourceElement(tree.root);
  if (!patched.ok()) {
    std::vector<Issue> issues = {{Severity::kError, IssueType::kProcessing,
                                  "FHIRPath Patch " + op.Describe() +
                                      " makes the resource invalid",
                                  op.where}};
    for (const Issue& issue : patched.status().issues()) issues.push_back(issue);
    return Status(std::move(issues));
  }
  return std::move(patched).value();
}

}  // namespace

Result<std::unique_ptr<Resource>> ApplyFhirPathPatch(const Resource& resource,
                                                     const Parameters& patch) {
  if (patch.parameter.size() > kMaxOperations) {
    return Status(IssueType::kTooCostly,
                  "A FHIRPath Patch may have at most " + std::to_string(kMaxOperations) +
                      " operations, found " + std::to_string(patch.parameter.size()),
                  "Parameters.parameter");
  }
  std::vector<Operation> operations;
  for (std::size_t i = 0; i < patch.parameter.size(); ++i) {
    FHIR_ASSIGN_OR_RETURN(Operation op, ReadOperation(patch.parameter[i], i));
    operations.push_back(std::move(op));
  }
  std::unique_ptr<Resource> current = resource.Clone();
  for (const Operation& op : operations) {
    FHIR_ASSIGN_OR_RETURN(current, Apply(op, *current));
  }
  return current;
}

}  // namespace fhir::patch
