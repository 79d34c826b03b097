#include "fhir/search/index_extractor.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "fhir/fhirpath/fhirpath.h"
#include "fhir/model/box.h"
#include "fhir/model/choice.h"
#include "fhir/model/primitive.h"
#include "fhir/model/reflection.h"
#include "fhir/model/registry.h"
#include "fhir/r4/domain_resource.h"
#include "fhir/r4/resource.h"
#include "fhir/search/normalize.h"
#include "fhir/search/search_registry.h"

namespace fhir::search {
namespace {

constexpr std::int64_t kMinTime = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kMaxTime = std::numeric_limits<std::int64_t>::max();

// --- Generic access to model objects through reflection ---------------------------------------

struct Node {
  const TypeInfo* type = nullptr;
  const void* object = nullptr;
  explicit operator bool() const { return type != nullptr && object != nullptr; }
};

void* Mutable(const void* object) { return const_cast<void*>(object); }

// The single-valued child `name` of `node` (an absent complex child gives an empty Node).
Node Child(const Node& node, std::string_view name) {
  if (!node) return {};
  const FieldInfo* field = node.type->FindField(name);
  if (field == nullptr || field->shape != FieldShape::kSingle) return {};
  void* at = field->get(Mutable(node.object));
  if (field->type->kind == TypeKind::kPrimitive) return {field->type, at};
  return {field->type, field->type->box_get(at)};
}

// The items of the repeated child `name`.
std::vector<Node> Children(const Node& node, std::string_view name) {
  std::vector<Node> out;
  if (!node) return out;
  const FieldInfo* field = node.type->FindField(name);
  if (field == nullptr || field->shape != FieldShape::kRepeated) return out;
  void* vector = field->get(Mutable(node.object));
  std::size_t n = field->type->vector_size(vector);
  for (std::size_t i = 0; i < n; ++i) out.push_back({field->type, field->type->vector_at(vector, i)});
  return out;
}

// The child `name` of `node` as a list: its items when repeated, else the child if present.
std::vector<Node> Items(const Node& node, std::string_view name) {
  std::vector<Node> out = Children(node, name);
  if (out.empty()) {
    if (Node single = Child(node, name)) out.push_back(single);
  }
  return out;
}

// The active alternative of the choice child `name`.
Node ChoiceChild(const Node& node, std::string_view name) {
  if (!node) return {};
  const FieldInfo* field = node.type->FindField(name);
  if (field == nullptr || field->shape != FieldShape::kChoice) return {};
  const auto* choice = static_cast<const Choice*>(field->get(Mutable(node.object)));
  if (choice->empty()) return {};
  return {choice->type(), choice->get()};
}

// The value of a string-valued primitive node.
const std::string* StringValue(const Node& node) {
  if (!node || node.type->kind != TypeKind::kPrimitive ||
      CategoryOf(node.type->primitive) != ValueCategory::kString) {
    return nullptr;
  }
  const auto& primitive = *static_cast<const Primitive<std::string>*>(node.object);
  return primitive.value ? &*primitive.value : nullptr;
}

std::string_view Text(const Node& node) {
  const std::string* value = StringValue(node);
  return value != nullptr ? std::string_view(*value) : std::string_view();
}

std::optional<double> ParseDouble(std::string_view text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// A primitive's value as text (numbers and booleans spelled as in JSON).
std::optional<std::string> PrimitiveText(const Node& node) {
  if (!node || node.type->kind != TypeKind::kPrimitive) return std::nullopt;
  switch (CategoryOf(node.type->primitive)) {
    case ValueCategory::kBool: {
      const auto& p = *static_cast<const Primitive<bool>*>(node.object);
      if (!p.value) return std::nullopt;
      return std::string(*p.value ? "true" : "false");
    }
    case ValueCategory::kInt: {
      const auto& p = *static_cast<const Primitive<std::int32_t>*>(node.object);
      if (!p.value) return std::nullopt;
      return std::to_string(*p.value);
    }
    case ValueCategory::kString: {
      const std::string* value = StringValue(node);
      if (value == nullptr) return std::nullopt;
      return *value;
    }
  }
  return std::nullopt;
}

bool IsQuantityLike(std::string_view type) {
  return type == "Quantity" || type == "Age" || type == "Duration" || type == "Count" ||
         type == "Distance" || type == "SimpleQuantity" || type == "MoneyQuantity";
}

// --- Per parameter type ------------------------------------------------------------------------

class Extractor {
 public:
  explicit Extractor(IndexEntries& out) : out_(out) {}

  // `skipped`: HumanName/Address parts another parameter indexes (BoundParam::skipped_parts).
  void Add(const SearchParameterDef& def, const fhirpath::Value& value,
           std::span<const std::string_view> skipped = {}) {
    if (value.kind() != fhirpath::Value::Kind::kElement) {
      AddSystem(def, value);
      return;
    }
    Node node{value.type(), value.object()};
    if (!node) return;
    switch (def.type) {
      case SearchParamType::kString:
        AddString(def.code, node, skipped);
        break;
      case SearchParamType::kToken:
        AddToken(def.code, node);
        break;
      case SearchParamType::kDate:
        AddDate(def.code, node);
        break;
      case SearchParamType::kNumber:
        AddNumber(def.code, node);
        break;
      case SearchParamType::kQuantity:
        AddQuantity(def.code, node);
        break;
      case SearchParamType::kReference:
        AddReference(def.code, node);
        break;
      case SearchParamType::kUri:
        if (std::optional<std::string> text = PrimitiveText(node)) {
          out_.uris.push_back({std::string(def.code), std::move(*text)});
        }
        break;
      case SearchParamType::kComposite:
      case SearchParamType::kSpecial:
        break;
    }
  }

 private:
  void AddSystem(const SearchParameterDef& def, const fhirpath::Value& value) {
    using Kind = fhirpath::Value::Kind;
    const std::string code(def.code);
    switch (def.type) {
      case SearchParamType::kString:
        if (value.kind() == Kind::kString) StringValueEntry(code, value.text());
        break;
      case SearchParamType::kToken:
        if (value.kind() == Kind::kString) out_.tokens.push_back({code, "", value.text(), "", "", ""});
        if (value.kind() == Kind::kBoolean) {
          out_.tokens.push_back({code, "", value.boolean() ? "true" : "false", "", "", ""});
        }
        break;
      case SearchParamType::kDate:
        if (value.kind() == Kind::kDate || value.kind() == Kind::kDateTime) {
          if (std::optional<TimeRange> range = DateRange(value.text())) {
            out_.dates.push_back({code, range->low, range->high});
          }
        }
        break;
      case SearchParamType::kNumber:
        if (value.kind() == Kind::kInteger) {
          auto v = static_cast<double>(value.integer());
          out_.numbers.push_back({code, v, v});
        } else if (value.kind() == Kind::kDecimal) {
          if (std::optional<double> v = ParseDouble(value.text())) out_.numbers.push_back({code, *v, *v});
        }
        break;
      case SearchParamType::kUri:
      case SearchParamType::kReference:
        if (value.kind() == Kind::kString) AddReferenceText(code, value.text());
        break;
      default:
        break;
    }
  }

  void StringValueEntry(const std::string& code, std::string_view text) {
    if (text.empty()) return;
    out_.strings.push_back({code, NormalizeString(text), std::string(text)});
  }

  void AddString(std::string_view param, const Node& node,
                 std::span<const std::string_view> skipped) {
    const std::string code(param);
    std::string_view type = node.type->name;
    auto parts = [&](std::initializer_list<std::string_view> names) {
      for (std::string_view part : names) {
        if (std::find(skipped.begin(), skipped.end(), part) != skipped.end()) continue;
        for (const Node& item : Items(node, part)) StringValueEntry(code, Text(item));
      }
    };
    // The parts listed in index_sharing.cc (kHumanNameParts, kAddressParts).
    if (type == "HumanName") {
      parts({"text", "family", "given", "prefix", "suffix"});
    } else if (type == "Address") {
      parts({"line", "text", "city", "district", "state", "postalCode", "country"});
    } else if (node.type->kind == TypeKind::kPrimitive) {
      if (std::optional<std::string> text = PrimitiveText(node)) StringValueEntry(code, *text);
    }
  }

  void AddCoding(const std::string& code, const Node& coding, std::string_view extra_text) {
    std::string text = NormalizeString(Text(Child(coding, "display")));
    if (!extra_text.empty()) {
      if (!text.empty()) text += ' ';
      text += NormalizeString(extra_text);
    }
    out_.tokens.push_back({code, std::string(Text(Child(coding, "system"))),
                           std::string(Text(Child(coding, "code"))), std::move(text), "", ""});
  }

  void AddToken(std::string_view param, const Node& node) {
    const std::string code(param);
    std::string_view type = node.type->name;
    if (type == "Coding") {
      AddCoding(code, node, {});
    } else if (type == "CodeableConcept") {
      std::string_view concept_text = Text(Child(node, "text"));
      std::vector<Node> codings = Children(node, "coding");
      for (const Node& coding : codings) AddCoding(code, coding, concept_text);
      if (codings.empty() && !concept_text.empty()) {
        out_.tokens.push_back({code, "", "", NormalizeString(concept_text), "", ""});
      }
    } else if (type == "Identifier") {
      TokenEntry entry{code, std::string(Text(Child(node, "system"))),
                       std::string(Text(Child(node, "value"))), "", "", ""};
      Node identifier_type = Child(node, "type");
      entry.text = NormalizeString(Text(Child(identifier_type, "text")));
      std::vector<Node> type_codings = Children(identifier_type, "coding");
      if (type_codings.empty()) {
        out_.tokens.push_back(std::move(entry));
      }
      for (const Node& coding : type_codings) {
        TokenEntry typed = entry;
        typed.type_system = Text(Child(coding, "system"));
        typed.type_code = Text(Child(coding, "code"));
        out_.tokens.push_back(std::move(typed));
      }
    } else if (type == "ContactPoint") {
      std::string_view value = Text(Child(node, "value"));
      if (!value.empty()) {
        out_.tokens.push_back({code, std::string(Text(Child(node, "system"))), std::string(value),
                               "", "", ""});
      }
    } else if (node.type->kind == TypeKind::kPrimitive) {
      if (std::optional<std::string> text = PrimitiveText(node)) {
        out_.tokens.push_back({code, "", std::move(*text), "", "", ""});
      }
    }
  }

  void AddDateText(const std::string& code, std::string_view low_text, std::string_view high_text) {
    std::optional<TimeRange> low = DateRange(low_text);
    std::optional<TimeRange> high = DateRange(high_text);
    if (!low && !high) return;
    out_.dates.push_back({code, low ? low->low : kMinTime, high ? high->high : kMaxTime});
  }

  void AddDate(std::string_view param, const Node& node) {
    const std::string code(param);
    std::string_view type = node.type->name;
    if (type == "Period") {
      AddDateText(code, Text(Child(node, "start")), Text(Child(node, "end")));
    } else if (type == "Timing") {
      for (const Node& event : Children(node, "event")) {
        if (std::optional<TimeRange> range = DateRange(Text(event))) {
          out_.dates.push_back({code, range->low, range->high});
        }
      }
      Node bounds = ChoiceChild(Child(node, "repeat"), "bounds");
      if (bounds && bounds.type->name == "Period") AddDate(param, bounds);
    } else if (node.type->kind == TypeKind::kPrimitive) {
      if (std::optional<TimeRange> range = DateRange(Text(node))) {
        out_.dates.push_back({code, range->low, range->high});
      }
    }
  }

  void AddNumber(std::string_view param, const Node& node) {
    std::optional<std::string> text = PrimitiveText(node);
    if (!text) return;
    if (std::optional<double> value = ParseDouble(*text)) {
      out_.numbers.push_back({std::string(param), *value, *value});
    }
  }

  void AddQuantity(std::string_view param, const Node& node) {
    const std::string code(param);
    std::string_view type = node.type->name;
    if (IsQuantityLike(type)) {
      std::optional<double> value = ParseDouble(Text(Child(node, "value")));
      if (!value) return;
      std::string unit_code(Text(Child(node, "code")));
      if (unit_code.empty()) unit_code = Text(Child(node, "unit"));
      out_.quantities.push_back(
          {code, std::string(Text(Child(node, "system"))), std::move(unit_code), *value, *value});
    } else if (type == "Money") {
      std::optional<double> value = ParseDouble(Text(Child(node, "value")));
      if (!value) return;
      out_.quantities.push_back(
          {code, "urn:iso:std:iso:4217", std::string(Text(Child(node, "currency"))), *value, *value});
    } else if (type == "Range") {
      Node low = Child(node, "low");
      Node high = Child(node, "high");
      std::optional<double> low_value = ParseDouble(Text(Child(low, "value")));
      std::optional<double> high_value = ParseDouble(Text(Child(high, "value")));
      if (!low_value && !high_value) return;
      Node unit = low ? low : high;
      std::string unit_code(Text(Child(unit, "code")));
      if (unit_code.empty()) unit_code = Text(Child(unit, "unit"));
      out_.quantities.push_back({code, std::string(Text(Child(unit, "system"))), std::move(unit_code),
                                 low_value ? *low_value : -std::numeric_limits<double>::infinity(),
                                 high_value ? *high_value : std::numeric_limits<double>::infinity()});
    } else if (node.type->kind == TypeKind::kPrimitive) {
      std::optional<std::string> text = PrimitiveText(node);
      if (!text) return;
      if (std::optional<double> value = ParseDouble(*text)) {
        out_.quantities.push_back({code, "", "", *value, *value});
      }
    }
  }

  void AddReferenceText(const std::string& code, std::string_view reference) {
    if (reference.empty() || reference.front() == '#') return;
    ReferenceEntry entry{code, "", "", "", "", "", ""};
    ParseReference(reference, entry);
    out_.references.push_back(std::move(entry));
  }

  void AddReference(std::string_view param, const Node& node) {
    const std::string code(param);
    if (node.type->name == "Reference") {
      std::string_view reference = Text(Child(node, "reference"));
      Node identifier = Child(node, "identifier");
      if (reference.empty() && !identifier) return;
      if (!reference.empty() && reference.front() == '#' && !identifier) return;
      ReferenceEntry entry{code, "", "", "", "", "", ""};
      if (!reference.empty() && reference.front() != '#') ParseReference(reference, entry);
      if (identifier) {
        entry.identifier_system = Text(Child(identifier, "system"));
        entry.identifier_value = Text(Child(identifier, "value"));
      }
      out_.references.push_back(std::move(entry));
    } else if (node.type->kind == TypeKind::kPrimitive) {
      AddReferenceText(code, Text(node));
    }
  }

 public:
  // "Patient/1", "Patient/1/_history/2", "http://x/fhir/Patient/1", "http://x/vs|4.0".
  static void ParseReference(std::string_view reference, ReferenceEntry& entry) {
    std::string_view rest = reference;
    bool absolute = rest.find("://") != std::string_view::npos || rest.starts_with("urn:");
    if (absolute) {
      std::size_t bar = rest.find('|');
      if (bar != std::string_view::npos) {
        entry.version = rest.substr(bar + 1);
        rest = rest.substr(0, bar);
      }
      entry.url = rest;
    }
    if (rest.starts_with("urn:")) return;
    // The last "Type/id" or "Type/id/_history/v" of the path.
    std::vector<std::string_view> segments;
    std::size_t start = 0;
    while (start <= rest.size()) {
      std::size_t slash = rest.find('/', start);
      if (slash == std::string_view::npos) slash = rest.size();
      segments.push_back(rest.substr(start, slash - start));
      start = slash + 1;
    }
    std::size_t n = segments.size();
    std::string_view version;
    if (n >= 4 && segments[n - 2] == "_history") {
      version = segments[n - 1];
      n -= 2;
    }
    if (n >= 2 && FindResourceType(segments[n - 2]) != nullptr && !segments[n - 1].empty()) {
      entry.target_type = segments[n - 2];
      entry.target_id = segments[n - 1];
      if (!version.empty()) entry.version = version;
    }
  }

 private:
  IndexEntries& out_;
};

// The component values an Extractor found, as composite parts.
std::vector<CompositePart> PartsOf(const IndexEntries& found) {
  std::vector<CompositePart> parts;
  for (const TokenEntry& e : found.tokens) {
    if (!e.code.empty()) parts.push_back({e.system, e.code, "", 0, 0, 0, 0, false});
  }
  for (const StringEntry& e : found.strings) {
    parts.push_back({"", e.normalized, e.exact, 0, 0, 0, 0, false});
  }
  for (const DateEntry& e : found.dates) parts.push_back({"", "", "", 0, 0, e.low, e.high, true});
  for (const NumberEntry& e : found.numbers) {
    parts.push_back({"", "", "", e.low, e.high, 0, 0, false});
  }
  for (const QuantityEntry& e : found.quantities) {
    parts.push_back({e.system, e.code, "", e.low, e.high, 0, 0, false});
  }
  for (const ReferenceEntry& e : found.references) {
    if (e.target_id.empty() && e.url.empty()) continue;
    parts.push_back({e.target_type, e.target_id, e.url, 0, 0, 0, 0, false});
  }
  for (const UriEntry& e : found.uris) parts.push_back({"", e.value, "", 0, 0, 0, 0, false});
  return parts;
}

// At most this many entries per element of a composite (the product of its components'
// value counts): a CodeableConcept with many codings times a value stays well below it.
constexpr std::size_t kMaxCombinations = 256;

// The entries of composite `param` on `resource`: for each element its expression selects,
// every combination of its components' values on that element (none when a component has
// no value there).
void AddComposite(const BoundParam& param, const Resource& resource,
                  const fhirpath::Collection& elements, IndexEntries& out) {
  fhirpath::Environment environment;
  environment.resource = &resource;
  environment.union_by_identity = true;
  for (const fhirpath::Value& element : elements) {
    std::vector<std::vector<CompositePart>> values;
    for (const BoundComponent& component : param.components) {
      Result<fhirpath::Collection> found =
          fhirpath::Evaluate(*component.parsed, fhirpath::Collection{element}, environment);
      if (!found.ok()) break;
      IndexEntries scratch;
      Extractor extractor(scratch);
      for (const fhirpath::Value& value : *found) extractor.Add(*component.def, value);
      std::vector<CompositePart> parts = PartsOf(scratch);
      if (parts.empty()) break;
      values.push_back(std::move(parts));
    }
    if (values.size() != param.components.size()) continue;
    std::vector<std::vector<CompositePart>> combinations(1);
    for (const std::vector<CompositePart>& parts : values) {
      std::vector<std::vector<CompositePart>> next;
      for (const std::vector<CompositePart>& prefix : combinations) {
        for (const CompositePart& part : parts) {
          if (next.size() >= kMaxCombinations) break;
          next.push_back(prefix);
          next.back().push_back(part);
        }
      }
      combinations = std::move(next);
    }
    for (std::vector<CompositePart>& parts : combinations) {
      out.composites.push_back({std::string(param.def->code), std::move(parts)});
    }
  }
}

// Drops the entries of parameter `whole` equal (`key`) to an entry of one of its `subsets`
// (BoundParam::subsets): a search of `whole` reads those in the subset's rows.
template <class Entry, class Key>
void LeaveToSubsets(std::vector<Entry>& entries, std::string_view whole,
                    std::span<const std::string_view> subsets, Key key) {
  std::vector<decltype(key(entries.front()))> kept_elsewhere;
  for (const Entry& e : entries) {
    if (std::find(subsets.begin(), subsets.end(), e.param) != subsets.end()) {
      kept_elsewhere.push_back(key(e));
    }
  }
  if (kept_elsewhere.empty()) return;
  std::erase_if(entries, [&](const Entry& e) {
    return e.param == whole && std::find(kept_elsewhere.begin(), kept_elsewhere.end(), key(e)) !=
                                   kept_elsewhere.end();
  });
}

// A parameter and its subsets are of one search type: only that type's entries are looked at.
void LeaveToSubsets(IndexEntries& out, const BoundParam& param) {
  const std::string_view whole = param.def->code;
  std::span<const std::string_view> subsets = param.subsets;
  switch (param.def->type) {
    case SearchParamType::kString:
      LeaveToSubsets(out.strings, whole, subsets,
                     [](const StringEntry& e) { return std::tuple(e.normalized, e.exact); });
      break;
    case SearchParamType::kToken:
      LeaveToSubsets(out.tokens, whole, subsets, [](const TokenEntry& e) {
        return std::tuple(e.system, e.code, e.text, e.type_system, e.type_code);
      });
      break;
    case SearchParamType::kDate:
      LeaveToSubsets(out.dates, whole, subsets,
                     [](const DateEntry& e) { return std::tuple(e.low, e.high); });
      break;
    case SearchParamType::kNumber:
      LeaveToSubsets(out.numbers, whole, subsets,
                     [](const NumberEntry& e) { return std::tuple(e.low, e.high); });
      break;
    case SearchParamType::kQuantity:
      LeaveToSubsets(out.quantities, whole, subsets, [](const QuantityEntry& e) {
        return std::tuple(e.system, e.code, e.low, e.high);
      });
      break;
    case SearchParamType::kReference:
      LeaveToSubsets(out.references, whole, subsets, [](const ReferenceEntry& e) {
        return std::tuple(e.target_type, e.target_id, e.version, e.url, e.identifier_system,
                          e.identifier_value);
      });
      break;
    case SearchParamType::kUri:
      LeaveToSubsets(out.uris, whole, subsets,
                     [](const UriEntry& e) { return std::tuple(e.value); });
      break;
    case SearchParamType::kComposite:
    case SearchParamType::kSpecial:
      break;
  }
}

}  // namespace

IndexEntries ExtractIndexEntries(const Resource& resource) {
  IndexEntries out;
  Extractor extractor(out);
  const TypeInfo& type = resource.type_info();
  fhirpath::Environment indexing;
  indexing.union_by_identity = true;
  for (const BoundParam& param : SearchRegistry::Get().ForType(type.name)) {
    if (param.expression.empty() || !param.own_rows) continue;
    const SearchParamType kind = param.def->type;
    if (kind == SearchParamType::kSpecial) continue;
    if (kind == SearchParamType::kComposite && param.components.empty()) continue;
    // _id and _lastUpdated come from the store's own columns.
    if (param.def->code == "_id" || param.def->code == "_lastUpdated") continue;
    // An expression the engine cannot parse or evaluate indexes nothing rather than refusing
    // the write; the FHIRPath tests check that every R4 expression parses and evaluates.
    if (param.parsed == nullptr) continue;
    Result<fhirpath::Collection> values = fhirpath::Evaluate(*param.parsed, resource, indexing);
    if (!values.ok()) continue;
    if (kind == SearchParamType::kComposite) {
      AddComposite(param, resource, *values, out);
      continue;
    }
    for (const fhirpath::Value& value : *values) {
      extractor.Add(*param.def, value, param.skipped_parts);
    }
  }
  for (const BoundParam& param : SearchRegistry::Get().ForType(type.name)) {
    if (param.own_rows && !param.subsets.empty()) LeaveToSubsets(out, param);
  }
  // Contained resources (never nested: dom-2), indexed under ContainedType(type, slot).
  if (type.base != nullptr && type.base->name == "DomainResource") {
    std::map<std::string_view, int> slots;
    for (const Box<Resource>& box : static_cast<const DomainResource&>(resource).contained) {
      if (box.get() == nullptr) continue;
      IndexEntries entries = ExtractIndexEntries(*box);
      entries.contained.clear();
      auto resource_level = [](const auto& e) { return e.param.starts_with("_"); };
      std::erase_if(entries.strings, resource_level);
      std::erase_if(entries.tokens, resource_level);
      std::erase_if(entries.dates, resource_level);
      std::erase_if(entries.numbers, resource_level);
      std::erase_if(entries.quantities, resource_level);
      std::erase_if(entries.references, resource_level);
      std::erase_if(entries.uris, resource_level);
      std::erase_if(entries.composites, resource_level);
      entries.tokens.push_back({kContainedIdParam, "", box->id, "", "", ""});
      const std::string_view contained_type = box->type_info().name;
      out.contained.push_back(
          {ContainedType(contained_type, ++slots[contained_type]), std::move(entries)});
    }
  }
  return out;
}

}  // namespace fhir::search
