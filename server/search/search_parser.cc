#include "server/search/search_parser.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <deque>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fhir/base/primitive_format.h"
#include "fhir/model/registry.h"
#include "fhir/search/normalize.h"
#include "fhir/search/search_registry.h"

namespace server::search {
namespace {

using fhir::IssueType;
using fhir::Result;
using fhir::Status;
using fhir::search::BoundParam;
using fhir::search::SearchRegistry;
using storage::Criterion;
using storage::IndexTable;
using storage::Match;
using storage::Prefix;

Status Bad(const std::string& param, const std::string& why) {
  return Status(IssueType::kValue, "Search parameter '" + param + "': " + why, param);
}
Status Unsupported(const std::string& param, const std::string& why) {
  return Status(IssueType::kNotSupported, "Search parameter '" + param + "': " + why, param);
}

std::optional<IndexTable> TableOf(fhir::SearchParamType type) {
  switch (type) {
    case fhir::SearchParamType::kString:
      return IndexTable::kString;
    case fhir::SearchParamType::kToken:
      return IndexTable::kToken;
    case fhir::SearchParamType::kDate:
      return IndexTable::kDate;
    case fhir::SearchParamType::kNumber:
      return IndexTable::kNumber;
    case fhir::SearchParamType::kQuantity:
      return IndexTable::kQuantity;
    case fhir::SearchParamType::kReference:
      return IndexTable::kReference;
    case fhir::SearchParamType::kUri:
      return IndexTable::kUri;
    default:
      return std::nullopt;
  }
}

// Splits a leading two-letter prefix off a date/number/quantity value.
Prefix TakePrefix(std::string& value) {
  static constexpr std::pair<std::string_view, Prefix> kPrefixes[] = {
      {"eq", Prefix::kEq}, {"ne", Prefix::kNe}, {"gt", Prefix::kGt}, {"lt", Prefix::kLt},
      {"ge", Prefix::kGe}, {"le", Prefix::kLe}, {"sa", Prefix::kSa}, {"eb", Prefix::kEb},
      {"ap", Prefix::kAp}};
  if (value.size() > 2) {
    for (const auto& [text, prefix] : kPrefixes) {
      if (value.compare(0, 2, text) == 0) {
        value.erase(0, 2);
        return prefix;
      }
    }
  }
  return Prefix::kEq;
}

// A search number: its value and the implicit range of its significant digits.
bool ParseNumber(std::string_view text, Match& m) {
  if (!fhir::IsValidDecimal(text)) {
    // Also accept exponent notation (search.html#number: 1e2).
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return false;
    m.number = value;
    m.low = value;
    m.high = std::nextafter(value, HUGE_VAL);
    return true;
  }
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc()) return false;
  std::size_t dot = text.find('.');
  int decimals = dot == std::string_view::npos ? 0 : static_cast<int>(text.size() - dot - 1);
  double half = 0.5 * std::pow(10.0, -decimals);
  m.number = value;
  m.low = value - half;
  m.high = value + half;
  return true;
}

class Parser {
 public:
  explicit Parser(const TerminologyLookup& lookup) : lookup_(lookup) {}

  // The types a system search names in _type: its other parameters may be any common to them.
  void SetSystemTypes(std::vector<std::string> types) { system_types_ = std::move(types); }

  // One `key=value` of a search on `type`, added to `query`. Result parameters are handled by
  // the caller. Returns kNotSupported for parameters the server does not know or support.
  Status AddParam(const std::string& type, const std::string& key, const std::string& value,
                  storage::SearchQuery& query) {
    if (key.starts_with("_has:")) return AddHas(type, key, value, query);
    // name[:modifier][.chain]
    std::string name = key;
    std::string chain;
    if (std::size_t dot = key.find('.'); dot != std::string::npos) {
      name = key.substr(0, dot);
      chain = key.substr(dot + 1);
    }
    std::string modifier;
    if (std::size_t colon = name.find(':'); colon != std::string::npos) {
      modifier = name.substr(colon + 1);
      name = name.substr(0, colon);
    }
    const BoundParam* param = nullptr;
    if (!type.empty()) {
      param = SearchRegistry::Get().Find(type, name);
    } else {
      // A system search: parameters common to all resources, or with _type, to its types.
      param = SearchRegistry::Get().Find("Patient", name);
      if (param != nullptr && param->def->base.size() != 1) param = nullptr;
      if (param != nullptr && param->def->base[0] != "Resource") param = nullptr;
      if (param == nullptr) param = CommonToSystemTypes(name);
    }
    if (param == nullptr) {
      if (!type.empty()) return Unsupported(key, "unknown parameter for " + type);
      if (system_types_.empty()) {
        return Unsupported(key, "unknown parameter for a system search without _type (only "
                                "parameters of every resource, e.g. _id, _lastUpdated)");
      }
      std::string types;
      for (const std::string& t : system_types_) types += (types.empty() ? "" : ", ") + t;
      return Unsupported(key, "not a parameter of the same type on every _type (" + types + ")");
    }
    std::optional<IndexTable> table = TableOf(param->def->type);
    if (param->def->type == fhir::SearchParamType::kComposite && !param->components.empty()) {
      table = IndexTable::kComposite;
    }
    if (!table) {
      return Unsupported(key, std::string("parameters of type ") +
                                  (param->def->type == fhir::SearchParamType::kComposite
                                       ? "composite"
                                       : "special") +
                                  " are not supported");
    }
    if (param->expression.empty() && name != "_id" && name != "_lastUpdated") {
      return Unsupported(key, "the parameter has no expression to index");
    }
    Criterion criterion;
    criterion.table = *table;
    criterion.param = name;
    if (!chain.empty()) {
      if (*table != IndexTable::kReference) return Bad(key, "only reference parameters chain");
      return AddChain(*param, modifier, chain, value, key, criterion, query);
    }
    if (modifier == "missing") {
      if (value != "true" && value != "false") return Bad(key, ":missing takes true or false");
      criterion.missing = value == "true";
      query.criteria.push_back(std::move(criterion));
      return Status::Ok();
    }
    if (value.empty()) return Bad(key, "empty value");
    if (*table == IndexTable::kToken && name != "_id" &&
        (modifier == "in" || modifier == "not-in" || modifier == "above" || modifier == "below")) {
      FHIR_RETURN_IF_ERROR(AddCodeSet(modifier, value, key, criterion));
      query.criteria.push_back(std::move(criterion));
      return Status::Ok();
    }
    for (const std::string& alternative : SplitUnescaped(value, ',')) {
      Match m;
      FHIR_RETURN_IF_ERROR(ParseValue(*param, *table, modifier, alternative, key, criterion, m));
      criterion.any.push_back(std::move(m));
    }
    query.criteria.push_back(std::move(criterion));
    return Status::Ok();
  }

 private:
  // :in / :not-in (ValueSets) and :above / :below (a CodeSystem's is-a hierarchy), from the
  // terminology stored on the server: one kTokenIn match per system (OR), :not-in negated.
  Status AddCodeSet(const std::string& modifier, const std::string& value, const std::string& key,
                    Criterion& criterion) {
    if (!lookup_) {
      return Unsupported(key, ":" + modifier + " needs the ValueSets and CodeSystems of the store");
    }
    auto named = [&](const Status& status) {
      return Status(status.type(), "Search parameter '" + key + "': " + status.diagnostics(), key);
    };
    for (const std::string& alternative : SplitUnescaped(value, ',')) {
      CodeSet set;
      if (modifier == "in" || modifier == "not-in") {
        Result<CodeSet> expanded = ExpandValueSet(lookup_, Unescape(alternative));
        if (!expanded.ok()) return named(expanded.status());
        set = *std::move(expanded);
      } else {
        std::vector<std::string> parts = SplitUnescaped(alternative, '|');
        if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
          return Bad(key, ":" + modifier + " takes system|code (the system names the stored "
                                           "CodeSystem whose hierarchy is used)");
        }
        const std::string system = Unescape(parts[0]);
        Result<std::set<std::string>> codes =
            Subsumption(lookup_, system, Unescape(parts[1]), modifier == "below");
        if (!codes.ok()) return named(codes.status());
        for (const std::string& code : *codes) set.codes.emplace(system, code);
      }
      std::map<std::string, std::vector<std::string>> by_system;
      for (const auto& [system, code] : set.codes) by_system[system].push_back(code);
      for (auto& [system, codes] : by_system) {
        Match m;
        m.kind = Match::Kind::kTokenIn;
        m.system = system;
        m.codes = std::move(codes);
        criterion.any.push_back(std::move(m));
      }
      for (const auto& [system, excluded] : set.systems) {
        Match m;
        m.kind = Match::Kind::kTokenIn;
        m.system = system;
        m.codes.assign(excluded.begin(), excluded.end());
        m.codes_excluded = true;
        criterion.any.push_back(std::move(m));
      }
      if (criterion.any.empty()) {  // an empty set: nothing is in it
        Match m;
        m.kind = Match::Kind::kTokenIn;
        criterion.any.push_back(std::move(m));
      }
    }
    criterion.negate = modifier == "not-in";
    return Status::Ok();
  }

  Status ParseValue(const BoundParam& param, IndexTable table, const std::string& modifier,
                    const std::string& raw, const std::string& key, Criterion& criterion,
                    Match& m) {
    const std::string name(param.def->code);
    if (name == "_id") {
      if (!modifier.empty() && modifier != "not") return Unsupported(key, "modifier :" + modifier);
      criterion.negate = modifier == "not";
      m.kind = Match::Kind::kId;
      m.value = Unescape(raw);
      return Status::Ok();
    }
    switch (table) {
      case IndexTable::kString:
        m.value = Unescape(raw);
        if (modifier.empty()) {
          m.kind = Match::Kind::kStringStarts;
        } else if (modifier == "exact") {
          m.kind = Match::Kind::kStringExact;
        } else if (modifier == "contains") {
          m.kind = Match::Kind::kStringContains;
        } else {
          return Unsupported(key, "modifier :" + modifier + " on a string parameter");
        }
        return Status::Ok();
      case IndexTable::kToken: {
        if (modifier == "text") {
          m.kind = Match::Kind::kTokenText;
          m.value = Unescape(raw);
          return Status::Ok();
        }
        if (modifier == "of-type") {
          std::vector<std::string> parts = SplitUnescaped(raw, '|');
          if (parts.size() != 3 || parts[1].empty() || parts[2].empty()) {
            return Bad(key, ":of-type takes type-system|type-code|value");
          }
          m.kind = Match::Kind::kTokenOfType;
          m.extra2 = Unescape(parts[0]);
          m.extra = Unescape(parts[1]);
          m.value = Unescape(parts[2]);
          return Status::Ok();
        }
        if (modifier == "not") {
          criterion.negate = true;
        } else if (!modifier.empty()) {
          return Unsupported(key, "modifier :" + modifier + " on a token parameter");
        }
        m.kind = Match::Kind::kToken;
        std::vector<std::string> parts = SplitUnescaped(raw, '|');
        if (parts.size() == 1) {
          m.value = Unescape(parts[0]);
        } else if (parts.size() == 2) {
          m.system = Unescape(parts[0]);
          m.value = Unescape(parts[1]);
          if (m.system->empty() && m.value.empty()) return Bad(key, "'|' alone is not a token");
        } else {
          return Bad(key, "a token is [system|]code (escape a '|' in values as \\|)");
        }
        return Status::Ok();
      }
      case IndexTable::kDate: {
        if (!modifier.empty()) return Unsupported(key, "modifier :" + modifier + " on a date");
        std::string text = Unescape(raw);
        m.prefix = TakePrefix(text);
        std::optional<fhir::search::TimeRange> range = fhir::search::DateRange(text);
        if (!range) return Bad(key, "'" + text + "' is not a date, dateTime or instant");
        m.kind = Match::Kind::kRange;
        m.is_time = true;
        m.time_low = range->low;
        m.time_high = range->high;
        return Status::Ok();
      }
      case IndexTable::kNumber: {
        if (!modifier.empty()) return Unsupported(key, "modifier :" + modifier + " on a number");
        std::string text = Unescape(raw);
        m.prefix = TakePrefix(text);
        m.kind = Match::Kind::kRange;
        if (!ParseNumber(text, m)) return Bad(key, "'" + text + "' is not a number");
        return Status::Ok();
      }
      case IndexTable::kQuantity: {
        if (!modifier.empty()) return Unsupported(key, "modifier :" + modifier + " on a quantity");
        std::vector<std::string> parts = SplitUnescaped(raw, '|');
        if (parts.size() != 1 && parts.size() != 3) {
          return Bad(key, "a quantity is [prefix]number[|system|code]");
        }
        std::string text = Unescape(parts[0]);
        m.prefix = TakePrefix(text);
        m.kind = Match::Kind::kRange;
        if (!ParseNumber(text, m)) return Bad(key, "'" + text + "' is not a number");
        if (parts.size() == 3) {
          if (!parts[1].empty()) m.system = Unescape(parts[1]);
          m.extra = Unescape(parts[2]);
        }
        return Status::Ok();
      }
      case IndexTable::kReference:
        return ParseReference(param, modifier, raw, key, m);
      case IndexTable::kComposite:
        return ParseComposite(param, modifier, raw, key, m);
      case IndexTable::kUri:
        m.value = Unescape(raw);
        if (modifier.empty()) {
          m.kind = Match::Kind::kUri;
        } else if (modifier == "below") {
          m.kind = Match::Kind::kUriBelow;
        } else if (modifier == "above") {
          m.kind = Match::Kind::kUriAbove;
        } else {
          return Unsupported(key, "modifier :" + modifier + " on a uri parameter");
        }
        return Status::Ok();
    }
    return Unsupported(key, "parameter type");
  }

  // component1$component2[$component3] (search.html#composite): each component parsed as its
  // own parameter's type (so a prefix applies to a date, number or quantity component).
  Status ParseComposite(const BoundParam& param, const std::string& modifier,
                        const std::string& raw, const std::string& key, Match& m) {
    if (!modifier.empty()) {
      return Unsupported(key, "modifier :" + modifier + " on a composite parameter");
    }
    std::vector<std::string> values = SplitUnescaped(raw, '$');
    const std::size_t n = param.components.size();
    if (values.size() != n) {
      return Bad(key, "a value of this composite parameter has " + std::to_string(n) +
                          " components separated by '$' (escape a '$' in a value as \\$)");
    }
    m.kind = Match::Kind::kComposite;
    for (std::size_t i = 0; i < n; ++i) {
      const fhir::search::BoundComponent& component = param.components[i];
      if (values[i].empty()) return Bad(key, "component " + std::to_string(i + 1) + " is empty");
      std::optional<IndexTable> table = TableOf(component.def->type);
      if (!table) return Unsupported(key, "a component of an unsupported type");
      BoundParam component_param;
      component_param.def = component.def;
      component_param.type = param.type;
      Criterion scratch;
      Match part;
      FHIR_RETURN_IF_ERROR(ParseValue(component_param, *table, "", values[i], key, scratch, part));
      if (part.kind == Match::Kind::kReference && !part.extra2.empty()) {
        return Bad(key, "a reference component cannot name a version");
      }
      m.parts.push_back(std::move(part));
    }
    return Status::Ok();
  }

  Status ParseReference(const BoundParam& param, const std::string& modifier,
                        const std::string& raw, const std::string& key, Match& m) {
    std::string value = Unescape(raw);
    if (modifier == "identifier") {
      m.kind = Match::Kind::kReferenceIdentifier;
      std::vector<std::string> parts = SplitUnescaped(raw, '|');
      if (parts.size() == 1) {
        m.value = Unescape(parts[0]);
      } else if (parts.size() == 2) {
        m.system = Unescape(parts[0]);
        m.value = Unescape(parts[1]);
      } else {
        return Bad(key, ":identifier takes [system|]value");
      }
      return Status::Ok();
    }
    std::string type_modifier;
    if (!modifier.empty()) {
      if (fhir::FindResourceType(modifier) == nullptr) {
        return Unsupported(key, "modifier :" + modifier + " on a reference parameter");
      }
      type_modifier = modifier;
    }
    if (value.find("://") != std::string::npos || value.starts_with("urn:")) {
      m.kind = Match::Kind::kReferenceUrl;
      if (std::size_t bar = value.find('|'); bar != std::string::npos) {
        m.extra2 = value.substr(bar + 1);
        value.resize(bar);
      }
      m.value = value;
      return Status::Ok();
    }
    m.kind = Match::Kind::kReference;
    std::vector<std::string_view> segments;
    std::string_view rest = value;
    while (true) {
      std::size_t slash = rest.find('/');
      segments.push_back(rest.substr(0, slash));
      if (slash == std::string_view::npos) break;
      rest.remove_prefix(slash + 1);
    }
    if (segments.size() == 1) {
      m.value = value;
      m.extra = type_modifier;
      if (m.extra.empty() && param.def->target.size() == 1) m.extra = param.def->target[0];
    } else if (segments.size() == 2 || (segments.size() == 4 && segments[2] == "_history")) {
      if (fhir::FindResourceType(segments[0]) == nullptr) {
        return Bad(key, "'" + std::string(segments[0]) + "' is not a resource type");
      }
      if (!type_modifier.empty() && type_modifier != segments[0]) {
        return Bad(key, "the type modifier :" + type_modifier + " contradicts " + value);
      }
      m.extra = segments[0];
      m.value = segments[1];
      if (segments.size() == 4) m.extra2 = segments[3];
    } else {
      return Bad(key, "'" + value + "' is not a reference ([Type/]id or an absolute URL)");
    }
    if (m.value.empty() || !fhir::IsValidId(m.value)) {
      return Bad(key, "'" + m.value + "' is not a resource id");
    }
    return Status::Ok();
  }

  // name[:Type].chain=value: a reference whose target matches `chain` on the target type.
  // Without :Type, every target type of the parameter that has the chained parameter is tried
  // (OR), as HAPI does; none having it is an error.
  Status AddChain(const BoundParam& param, const std::string& modifier, const std::string& chain,
                  const std::string& value, const std::string& key, Criterion& criterion,
                  storage::SearchQuery& query) {
    std::vector<std::string> targets;
    if (!modifier.empty()) {
      if (fhir::FindResourceType(modifier) == nullptr) {
        return Bad(key, "'" + modifier + "' is not a resource type");
      }
      targets.push_back(modifier);
    } else {
      std::string first = chain.substr(0, chain.find_first_of(".:"));
      for (std::string_view target : param.def->target) {
        if (first.starts_with("_has") || SearchRegistry::Get().Find(target, first) != nullptr) {
          targets.emplace_back(target);
        }
      }
      if (targets.empty()) {
        return Bad(key, "no target type of " + std::string(param.def->code) +
                            " has a search parameter '" + first + "'");
      }
    }
    Status last = Status::Ok();
    for (const std::string& target : targets) {
      auto sub = std::make_shared<storage::SearchQuery>();
      sub->type = target;
      Status status = AddParam(target, chain, value, *sub);
      if (!status.ok()) {
        // Name the whole chained parameter, not only its last link.
        last = Status(status.type(), status.diagnostics(), key);
        if (targets.size() == 1 || status.type() != IssueType::kNotSupported) return last;
        continue;
      }
      Match m;
      m.kind = Match::Kind::kChain;
      m.chain = std::move(sub);
      criterion.any.push_back(std::move(m));
    }
    if (criterion.any.empty()) return last;
    query.criteria.push_back(std::move(criterion));
    return Status::Ok();
  }

  // _has:Type:param:rest=value, where rest is a parameter of Type or another _has.
  Status AddHas(const std::string& type, const std::string& key, const std::string& value,
                storage::SearchQuery& query) {
    std::string_view rest = std::string_view(key).substr(5);
    std::size_t first = rest.find(':');
    std::size_t second = first == std::string_view::npos ? first : rest.find(':', first + 1);
    if (second == std::string_view::npos) return Bad(key, "_has takes _has:Type:reference:param");
    std::string referring(rest.substr(0, first));
    std::string reference(rest.substr(first + 1, second - first - 1));
    std::string inner(rest.substr(second + 1));
    if (fhir::FindResourceType(referring) == nullptr) {
      return Bad(key, "'" + referring + "' is not a resource type");
    }
    const BoundParam* param = SearchRegistry::Get().Find(referring, reference);
    if (param == nullptr || param->def->type != fhir::SearchParamType::kReference) {
      return Bad(key, "'" + reference + "' is not a reference parameter of " + referring);
    }
    if (!type.empty()) {
      bool targets = param->def->target.empty();
      for (std::string_view t : param->def->target) targets = targets || t == type;
      if (!targets) return Bad(key, referring + "." + reference + " does not refer to " + type);
    }
    auto sub = std::make_shared<storage::SearchQuery>();
    sub->type = referring;
    Status status = AddParam(referring, inner, value, *sub);
    if (!status.ok()) return Status(status.type(), status.diagnostics(), key);
    query.has.push_back({reference, std::move(sub)});
    return Status::Ok();
  }

  // The parameter `name` when every one of system_types_ has a parameter of that name and
  // search type (R4 search.html: with _type, the other parameters must be common to the types
  // listed); otherwise nullptr. The store matches each resource by its own type's definition;
  // the value is read by one that holds for all: the first type's for strings, tokens, dates,
  // numbers, quantities and uris (read the same whatever the definition), for references one
  // whose targets are all the types' targets (a bare id or a chain may mean any of them), and
  // composites only under one shared definition (their components may differ).
  const BoundParam* CommonToSystemTypes(const std::string& name) {
    std::vector<const BoundParam*> params;
    for (const std::string& t : system_types_) {
      const BoundParam* p = SearchRegistry::Get().Find(t, name);
      if (p == nullptr || (!params.empty() && p->def->type != params[0]->def->type)) {
        return nullptr;
      }
      params.push_back(p);
    }
    if (params.empty()) return nullptr;
    bool one_definition = true;
    for (const BoundParam* p : params) one_definition = one_definition && p->def == params[0]->def;
    if (one_definition) return params[0];
    switch (params[0]->def->type) {
      case fhir::SearchParamType::kComposite:
      case fhir::SearchParamType::kSpecial:
        return nullptr;
      case fhir::SearchParamType::kReference:
        break;
      default:
        return params[0];
    }
    std::vector<std::string_view>& targets = merged_targets_.emplace_back();
    bool any = false;  // a definition without targets refers to anything
    for (const BoundParam* p : params) {
      any = any || p->def->target.empty();
      for (std::string_view target : p->def->target) {
        if (std::find(targets.begin(), targets.end(), target) == targets.end()) {
          targets.push_back(target);
        }
      }
    }
    if (any) targets.clear();
    fhir::SearchParameterDef& def = merged_defs_.emplace_back(*params[0]->def);
    def.target = targets;
    BoundParam& merged = merged_params_.emplace_back(*params[0]);
    merged.def = &def;
    return &merged;
  }

  const TerminologyLookup& lookup_;
  std::vector<std::string> system_types_;
  // Reference parameters made for a system search (CommonToSystemTypes), alive while parsing.
  std::deque<std::vector<std::string_view>> merged_targets_;
  std::deque<fhir::SearchParameterDef> merged_defs_;
  std::deque<BoundParam> merged_params_;
};

Result<Include> ParseInclude(const std::string& key, const std::string& value, bool reverse) {
  Include include;
  include.iterate = key.ends_with(":iterate") || key.ends_with(":recurse");
  include.text = value;
  include.query.reverse = reverse;
  if (value == "*") {
    include.query.source_type = "*";
    include.query.param = "*";
    return include;
  }
  std::vector<std::string> parts = SplitUnescaped(value, ':');
  if (parts.size() < 2 || parts.size() > 3) {
    return Bad(key, "takes SourceType:parameter[:TargetType] or *");
  }
  if (fhir::FindResourceType(parts[0]) == nullptr) {
    return Bad(key, "'" + parts[0] + "' is not a resource type");
  }
  include.query.source_type = parts[0];
  include.query.param = parts[1];
  if (parts[1] != "*") {
    const BoundParam* param = SearchRegistry::Get().Find(parts[0], parts[1]);
    if (param == nullptr || param->def->type != fhir::SearchParamType::kReference) {
      return Bad(key, "'" + parts[1] + "' is not a reference parameter of " + parts[0]);
    }
  }
  if (parts.size() == 3) {
    if (fhir::FindResourceType(parts[2]) == nullptr) {
      return Bad(key, "'" + parts[2] + "' is not a resource type");
    }
    include.query.target_type = parts[2];
  }
  return include;
}

bool ParseNonNegative(std::string_view text, int& out) {
  if (text.empty() || text.size() > 9) return false;
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  out = value;
  return true;
}

}  // namespace

std::vector<std::string> SplitUnescaped(std::string_view value, char separator) {
  std::vector<std::string> out(1);
  for (std::size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '\\' && i + 1 < value.size()) {
      out.back() += c;
      out.back() += value[++i];
    } else if (c == separator) {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

std::string Unescape(std::string_view value) {
  std::string out;
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\\' && i + 1 < value.size() &&
        (value[i + 1] == ',' || value[i + 1] == '$' || value[i + 1] == '|' ||
         value[i + 1] == '\\')) {
      ++i;
    }
    out += value[i];
  }
  return out;
}

Result<ParsedSearch> ParseSearch(std::string_view type, const Params& params, bool strict,
                                 const TerminologyLookup& lookup) {
  ParsedSearch out;
  out.query.type = type;
  Parser parser(lookup);
  if (type.empty()) {
    std::vector<std::string> system_types;
    for (const auto& [key, value] : params) {
      if (key != "_type") continue;
      for (const std::string& name : SplitUnescaped(value, ',')) {
        if (fhir::FindResourceType(name) != nullptr) system_types.push_back(name);
      }
    }
    parser.SetSystemTypes(std::move(system_types));
  }
  std::string contained = "false";
  for (const auto& [key, value] : params) {
    if (key == "_format" || key == "_pretty") continue;
    if (key == "_count") {
      int count = 0;
      if (!ParseNonNegative(value, count)) return Bad(key, "a non-negative integer");
      out.count = count > kMaxCount ? kMaxCount : count;
      out.used.emplace_back(key, std::to_string(out.count));
      continue;
    }
    if (key == "_after" || key == "_before") {
      std::size_t slash = value.find('/');
      if (slash == std::string::npos || fhir::FindResourceType(value.substr(0, slash)) == nullptr ||
          !fhir::IsValidId(value.substr(slash + 1))) {
        return Bad(key, "a paging cursor is Type/id");
      }
      (key == "_after" ? out.after : out.before) =
          std::make_pair(value.substr(0, slash), value.substr(slash + 1));
      continue;  // paging links set it
    }
    if (key == "_offset") {
      if (!ParseNonNegative(value, out.offset)) return Bad(key, "a non-negative integer");
      continue;  // paging links set it
    }
    if (key == "_sort") {
      for (const std::string& item : SplitUnescaped(value, ',')) {
        storage::SortKey sort;
        std::string name = item;
        if (name.starts_with("-")) {
          sort.descending = true;
          name.erase(0, 1);
        }
        sort.param = name;
        if (name != "_id" && name != "_lastUpdated") {
          const BoundParam* param =
              type.empty() ? nullptr : SearchRegistry::Get().Find(type, name);
          std::optional<IndexTable> table;
          if (param != nullptr) table = TableOf(param->def->type);
          if (!table) return Bad(key, "cannot sort by '" + name + "'");
          sort.table = *table;
        }
        out.query.sort.push_back(std::move(sort));
      }
      out.used.emplace_back(key, value);
      continue;
    }
    if (key == "_include" || key.starts_with("_include:") || key == "_revinclude" ||
        key.starts_with("_revinclude:")) {
      bool reverse = key.starts_with("_revinclude");
      FHIR_ASSIGN_OR_RETURN(Include include, ParseInclude(key, value, reverse));
      (reverse ? out.revincludes : out.includes).push_back(std::move(include));
      out.used.emplace_back(key, value);
      continue;
    }
    if (key == "_total") {
      if (value == "none") {
        out.total = TotalMode::kNone;
      } else if (value == "estimate") {
        out.total = TotalMode::kEstimate;
      } else if (value == "accurate") {
        out.total = TotalMode::kAccurate;
      } else {
        return Bad(key, "none, estimate or accurate");
      }
      out.used.emplace_back(key, value);
      continue;
    }
    if (key == "_summary") {
      if (value == "true") {
        out.summary = SummaryMode::kTrue;
      } else if (value == "text") {
        out.summary = SummaryMode::kText;
      } else if (value == "data") {
        out.summary = SummaryMode::kData;
      } else if (value == "count") {
        out.summary = SummaryMode::kCount;
      } else if (value == "false") {
        out.summary = SummaryMode::kFalse;
      } else {
        return Bad(key, "true, text, data, count or false");
      }
      out.used.emplace_back(key, value);
      continue;
    }
    if (key == "_elements") {
      for (const std::string& item : SplitUnescaped(value, ',')) {
        if (item.empty()) return Bad(key, "an empty element name");
        out.elements.push_back(item);
      }
      out.used.emplace_back(key, value);
      continue;
    }
    if (key == "_contained") {
      if (value != "true" && value != "false" && value != "both") {
        return Bad(key, "true, false or both");
      }
      contained = value;
      out.used.emplace_back(key, value);
      continue;
    }
    if (key == "_containedType") {
      if (value != "container" && value != "contained") return Bad(key, "container or contained");
      if (value == "contained") {
        Status s = Unsupported(key, "only the containers are returned (_containedType=container)");
        if (strict) return s;
        out.ignored.push_back(s.diagnostics());
        continue;
      }
      out.used.emplace_back(key, value);
      continue;
    }
    if (key == "_type") {
      if (!type.empty()) {
        Status s = Unsupported(key, "_type applies to a system-level search");
        if (strict) return s;
        out.ignored.push_back(s.diagnostics());
        continue;
      }
      for (const std::string& name : SplitUnescaped(value, ',')) {
        if (fhir::FindResourceType(name) == nullptr) {
          return Bad(key, "'" + name + "' is not a resource type");
        }
        out.query.types.push_back(name);
      }
      out.used.emplace_back(key, value);
      continue;
    }
    Status status = parser.AddParam(std::string(type), key, value, out.query);
    if (status.ok()) {
      out.used.emplace_back(key, value);
    } else if (status.type() == IssueType::kNotSupported && !strict) {
      out.ignored.push_back(status.diagnostics());
    } else {
      return status;
    }
  }
  if ((out.after || out.before) && !out.query.sort.empty()) {
    return Bad(out.after ? "_after" : "_before", "cursor paging does not combine with _sort");
  }
  if (out.after && out.before) return Bad("_before", "use either _after or _before");
  if (contained != "false") {
    // The criteria apply to contained resources of `type`; the containers (any type) match.
    if (type.empty()) return Bad("_contained", "needs a resource type to search contained");
    if (!out.query.has.empty()) return Bad("_contained", "does not combine with _has");
    if (!out.query.sort.empty()) return Bad("_contained", "does not combine with _sort");
    for (const Criterion& criterion : out.query.criteria) {
      if (criterion.param == "_lastUpdated") {
        return Bad("_lastUpdated", "contained resources have no lastUpdated of their own");
      }
    }
    auto inner = std::make_shared<storage::SearchQuery>();
    inner->type = type;
    inner->criteria = std::move(out.query.criteria);
    out.query.criteria.clear();
    out.query.type.clear();
    out.query.contained = std::move(inner);
    out.query.contained_self = contained == "both";
  }
  return out;
}

}  // namespace server::search
