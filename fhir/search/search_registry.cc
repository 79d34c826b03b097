#include "fhir/search/search_registry.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "fhir/model/registry.h"
#include "fhir/search/index_sharing.h"

namespace fhir::search {
namespace {

bool IsIdentChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
}

// "(Condition.onset as Age)" -> "Condition"; "" when the branch does not start with a name.
std::string_view LeadingName(std::string_view branch) {
  std::size_t i = 0;
  while (i < branch.size() && (branch[i] == '(' || branch[i] == ' ')) ++i;
  std::size_t start = i;
  while (i < branch.size() && IsIdentChar(branch[i])) ++i;
  return branch.substr(start, i - start);
}

bool IsUpper(std::string_view name) {
  return !name.empty() && std::isupper(static_cast<unsigned char>(name[0])) != 0;
}

// R4 errata in composite definitions, corrected when the registry is built: the component
// (composite URL, component index) gets `expression`. DocumentReference-relationship pairs
// the relatesto (reference) definition with "code" and relation (token) with "target"; R4B
// and R5 fixed it to relatesto = target, relation = code. Observation-code-value-date casts to
// `DateTime`, the System type, which a FHIR dateTime is not (Observation-value-date itself uses
// `dateTime`).
struct ComponentFix {
  std::string_view composite;
  std::size_t index;
  std::string_view expression;
};
constexpr ComponentFix kComponentFixes[] = {
    {"http://hl7.org/fhir/SearchParameter/DocumentReference-relationship", 0, "target"},
    {"http://hl7.org/fhir/SearchParameter/DocumentReference-relationship", 1, "code"},
    {"http://hl7.org/fhir/SearchParameter/Observation-code-value-date", 1,
     "value.as(dateTime) | value.as(Period)"},
};

// Search parameters this server defines beyond R4's, bound like the R4 ones. AuditEvent has no
// parameter on the purpose of use in R4 (R5 added `purpose`); residents and auditors ask for
// the events of a purpose (break-the-glass: ETREAT).
constexpr std::string_view kAuditEventBase[] = {"AuditEvent"};
constexpr SearchParameterDef kServerParameters[] = {
    {"urn:fhir-server:SearchParameter:AuditEvent-purpose", "purpose", kAuditEventBase,
     SearchParamType::kToken, "AuditEvent.purposeOfEvent | AuditEvent.agent.purposeOfUse", {},
     {}},
};

std::string_view ComponentExpression(const SearchParameterDef& def, std::size_t index) {
  for (const ComponentFix& fix : kComponentFixes) {
    if (fix.composite == def.url && fix.index == index) return fix.expression;
  }
  return def.components[index].expression;
}

}  // namespace

namespace {

// Calls visit(i, depth) for each character of `expression` outside its string literals, with
// the bracket depth after it; stops early when visit returns false.
template <class Visit>
void ScanOutsideLiterals(std::string_view expression, Visit visit) {
  int depth = 0;
  char quote = 0;
  for (std::size_t i = 0; i < expression.size(); ++i) {
    char c = expression[i];
    if (quote != 0) {
      if (c == '\\') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
      continue;
    }
    switch (c) {
      case '\'':
      case '`':
      case '"':
        quote = c;
        continue;
      case '(':
      case '[':
      case '{':
        ++depth;
        break;
      case ')':
      case ']':
      case '}':
        --depth;
        break;
      default:
        break;
    }
    if (!visit(i, depth)) return;
  }
}

}  // namespace

std::vector<std::string> SplitUnion(std::string_view expression) {
  std::vector<std::string> out;
  std::size_t start = 0;
  auto flush = [&](std::size_t end) {
    std::string_view part = expression.substr(start, end - start);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (!part.empty()) out.emplace_back(part);
  };
  ScanOutsideLiterals(expression, [&](std::size_t i, int depth) {
    if (expression[i] == '|' && depth == 0) {
      flush(i);
      start = i + 1;
    }
    return true;
  });
  flush(expression.size());
  return out;
}

bool IsWhereOf(std::string_view expression, std::string_view whole) {
  constexpr std::string_view kWhere = ".where(";
  if (whole.empty() || !expression.starts_with(whole) ||
      !expression.substr(whole.size()).starts_with(kWhere)) {
    return false;
  }
  // The where( after `whole` must close at the very end, and `whole` be one closed term.
  bool closed_at_end = false;
  bool whole_closed = true;
  ScanOutsideLiterals(expression, [&](std::size_t i, int depth) {
    if (i < whole.size()) {
      // An operator at the top of `whole` ("A.b as X", "A | B") would bind looser than the
      // where() after it: `whole` must be one term.
      if (depth == 0 && (expression[i] == '|' || expression[i] == ' ')) whole_closed = false;
      return true;
    }
    if (i > whole.size() + kWhere.size() - 1 && depth == 0) {
      closed_at_end = i + 1 == expression.size();
      return false;
    }
    return true;
  });
  return whole_closed && closed_at_end;
}

std::string ExpressionForType(std::string_view expression, std::string_view type) {
  std::string out;
  for (const std::string& branch : SplitUnion(expression)) {
    std::string_view name = LeadingName(branch);
    std::string kept;
    if (name == type || !IsUpper(name)) {
      kept = branch;
    } else if (name == "Resource" || name == "DomainResource") {
      std::size_t at = branch.find(name);
      kept = branch.substr(0, at) + std::string(type) + branch.substr(at + name.size());
    } else {
      continue;
    }
    if (!out.empty()) out += " | ";
    out += kept;
  }
  return out;
}

SearchRegistry::SearchRegistry() {
  for (const TypeInfo* info : ResourceTypes()) {
    TypeParams entry{std::string(info->name), {}};
    std::vector<const SearchParameterDef*> defs;
    for (const SearchParameterDef& def : AllSearchParameters()) defs.push_back(&def);
    for (const SearchParameterDef& def : kServerParameters) defs.push_back(&def);
    for (const SearchParameterDef* def_ptr : defs) {
      const SearchParameterDef& def = *def_ptr;
      bool applies = false;
      for (std::string_view base : def.base) {
        if (base == info->name || base == "Resource" ||
            (base == "DomainResource" && info->base != nullptr &&
             info->base->name == "DomainResource")) {
          applies = true;
        }
      }
      if (!applies) continue;
      BoundParam param;
      param.def = &def;
      param.type = entry.type;
      param.expression = ExpressionForType(def.expression, info->name);
      if (!param.expression.empty()) {
        auto parsed = fhirpath::Parse(param.expression);
        if (parsed.ok()) param.parsed = *std::move(parsed);
      }
      if (def.type == SearchParamType::kComposite) BindComponents(param);
      entry.params.push_back(std::move(param));
    }
    std::sort(entry.params.begin(), entry.params.end(),
              [](const BoundParam& a, const BoundParam& b) { return a.def->code < b.def->code; });
    ShareIndexRows(entry.type, entry.params);
    types_.push_back(std::move(entry));
  }
  std::sort(types_.begin(), types_.end(),
            [](const TypeParams& a, const TypeParams& b) { return a.type < b.type; });
}

void SearchRegistry::BindComponents(BoundParam& param) const {
  const SearchParameterDef& def = *param.def;
  std::vector<BoundComponent> components;
  for (std::size_t i = 0; i < def.components.size(); ++i) {
    BoundComponent component;
    component.def = FindByUrl(def.components[i].definition);
    if (component.def == nullptr || component.def->type == SearchParamType::kComposite ||
        component.def->type == SearchParamType::kSpecial) {
      return;
    }
    auto parsed = fhirpath::ParseCached(ComponentExpression(def, i));
    if (!parsed.ok()) return;
    component.parsed = *std::move(parsed);
    components.push_back(std::move(component));
  }
  param.components = std::move(components);
}

const SearchRegistry& SearchRegistry::Get() {
  static const SearchRegistry* registry = new SearchRegistry();
  return *registry;
}

std::span<const BoundParam> SearchRegistry::ForType(std::string_view type) const {
  auto it = std::lower_bound(types_.begin(), types_.end(), type,
                             [](const TypeParams& t, std::string_view name) { return t.type < name; });
  if (it == types_.end() || it->type != type) return {};
  return it->params;
}

std::vector<SharedRows> SearchRegistry::AllSharedRows() const {
  std::vector<SharedRows> out;
  for (const TypeParams& t : types_) {
    for (const BoundParam& p : t.params) {
      for (std::string_view other : p.rows_also_in) out.push_back({t.type, p.def->code, other});
    }
  }
  return out;
}

const BoundParam* SearchRegistry::Find(std::string_view type, std::string_view code) const {
  std::span<const BoundParam> params = ForType(type);
  auto it = std::lower_bound(params.begin(), params.end(), code,
                             [](const BoundParam& p, std::string_view c) { return p.def->code < c; });
  if (it == params.end() || it->def->code != code) return nullptr;
  return &*it;
}

const CompartmentMember* FindCompartmentMember(std::string_view compartment, std::string_view type) {
  for (const CompartmentDef& def : AllCompartments()) {
    if (def.code != compartment) continue;
    auto it = std::lower_bound(
        def.members.begin(), def.members.end(), type,
        [](const CompartmentMember& m, std::string_view t) { return m.type < t; });
    if (it != def.members.end() && it->type == type) return &*it;
  }
  return nullptr;
}

std::vector<std::pair<std::string, std::string>> CompartmentTypeParams(
    std::string_view compartment) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const CompartmentDef& def : AllCompartments()) {
    if (def.code != compartment) continue;
    for (const CompartmentMember& member : def.members) {
      for (std::string_view param : member.params) out.emplace_back(member.type, param);
    }
  }
  return out;
}

const SearchParameterDef* SearchRegistry::FindByUrl(std::string_view url) const {
  std::span<const SearchParameterDef> all = AllSearchParameters();
  auto it = std::lower_bound(all.begin(), all.end(), url,
                             [](const SearchParameterDef& d, std::string_view u) { return d.url < u; });
  if (it != all.end() && it->url == url) return &*it;
  for (const SearchParameterDef& def : kServerParameters) {
    if (def.url == url) return &def;
  }
  return nullptr;
}

}  // namespace fhir::search
