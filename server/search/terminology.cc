#include "server/search/terminology.h"

#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

namespace server::search {
namespace {

using fhir::IssueType;
using fhir::Result;
using fhir::Status;

// How deep include.valueSet may nest (a cycle ends here too).
constexpr int kMaxDepth = 8;

Status Bad(const std::string& text) { return Status(IssueType::kValue, text); }

std::string Str(const rapidjson::Value& object, const char* key) {
  if (!object.IsObject() || !object.HasMember(key) || !object[key].IsString()) return {};
  return std::string(object[key].GetString(), object[key].GetStringLength());
}

// The array member `key`, or nullptr.
const rapidjson::Value* Array(const rapidjson::Value& object, const char* key) {
  if (!object.IsObject() || !object.HasMember(key) || !object[key].IsArray()) return nullptr;
  return &object[key];
}

Result<std::unique_ptr<rapidjson::Document>> Load(const TerminologyLookup& lookup,
                                                  std::string_view type,
                                                  std::string_view reference) {
  FHIR_ASSIGN_OR_RETURN(std::optional<std::string> json, lookup(type, reference));
  if (!json) {
    return Bad("there is no " + std::string(type) + " '" + std::string(reference) +
               "' on this server");
  }
  auto doc = std::make_unique<rapidjson::Document>();
  doc->Parse(json->data(), json->size());
  if (doc->HasParseError() || !doc->IsObject()) {
    return Status(IssueType::kException, "the stored " + std::string(reference) + " is not JSON");
  }
  return doc;
}

// A stored CodeSystem's is-a hierarchy: the children and parents of each code.
struct Hierarchy {
  std::map<std::string, std::vector<std::string>> children;
  std::map<std::string, std::vector<std::string>> parents;
};

void Walk(const rapidjson::Value& concepts, const std::string& parent, Hierarchy& h) {
  for (const rapidjson::Value& entry : concepts.GetArray()) {
    std::string code = Str(entry, "code");
    if (code.empty()) continue;
    h.children[code];
    h.parents[code];
    if (!parent.empty()) {
      h.children[parent].push_back(code);
      h.parents[code].push_back(parent);
    }
    if (const rapidjson::Value* nested = Array(entry, "concept")) Walk(*nested, code, h);
  }
}

Result<Hierarchy> LoadHierarchy(const TerminologyLookup& lookup, std::string_view system) {
  FHIR_ASSIGN_OR_RETURN(auto doc, Load(lookup, "CodeSystem", system));
  std::string meaning = Str(*doc, "hierarchyMeaning");
  if (meaning != "is-a") {
    return Bad("the CodeSystem '" + std::string(system) + "' has hierarchyMeaning '" + meaning +
               "', not 'is-a': its hierarchy does not define subsumption");
  }
  Hierarchy h;
  if (const rapidjson::Value* concepts = Array(*doc, "concept")) Walk(*concepts, "", h);
  return h;
}

// `code` and everything reachable from it through `edges` (children or parents).
std::set<std::string> Closure(const std::map<std::string, std::vector<std::string>>& edges,
                              const std::string& code) {
  std::set<std::string> out{code};
  std::deque<std::string> todo{code};
  while (!todo.empty()) {
    auto it = edges.find(todo.front());
    todo.pop_front();
    if (it == edges.end()) continue;
    for (const std::string& next : it->second) {
      if (out.insert(next).second) todo.push_back(next);
    }
  }
  return out;
}

std::size_t SizeOf(const CodeSet& set) {
  std::size_t n = set.codes.size();
  for (const auto& [system, excluded] : set.systems) n += 1 + excluded.size();
  return n;
}

// `out` becomes the union of `out` and `part`.
void Union(CodeSet& out, const CodeSet& part) {
  out.codes.insert(part.codes.begin(), part.codes.end());
  for (const auto& [system, excluded] : part.systems) {
    auto it = out.systems.find(system);
    if (it == out.systems.end()) {
      out.systems.emplace(system, excluded);
      continue;
    }
    // Only what both exclude stays excluded.
    std::set<std::string> both;
    for (const std::string& code : excluded) {
      if (it->second.count(code) > 0) both.insert(code);
    }
    it->second = std::move(both);
  }
}

// `out` loses the codes of `part`.
void Subtract(CodeSet& out, const CodeSet& part) {
  for (const auto& code : part.codes) {
    out.codes.erase(code);
    if (auto it = out.systems.find(code.first); it != out.systems.end()) {
      it->second.insert(code.second);
    }
  }
  for (const auto& [part_system, part_excluded] : part.systems) {
    const std::string& system = part_system;
    const std::set<std::string>& excluded = part_excluded;
    // Every code of `system` goes, but those `part` excludes.
    std::erase_if(out.codes, [&](const std::pair<std::string, std::string>& code) {
      return code.first == system && excluded.count(code.second) == 0;
    });
    auto it = out.systems.find(system);
    if (it == out.systems.end()) continue;
    for (const std::string& code : excluded) {
      if (it->second.count(code) == 0) out.codes.emplace(system, code);
    }
    out.systems.erase(it);
  }
}

class Expander {
 public:
  explicit Expander(const TerminologyLookup& lookup) : lookup_(lookup) {}

  Result<CodeSet> Expand(std::string_view reference, int depth) {
    const std::string name = "ValueSet '" + std::string(reference) + "'";
    if (depth > kMaxDepth) {
      return Bad(name + ": include.valueSet nests deeper than " + std::to_string(kMaxDepth));
    }
    FHIR_ASSIGN_OR_RETURN(auto doc, Load(lookup_, "ValueSet", reference));
    CodeSet out;
    if (doc->HasMember("expansion") && (*doc)["expansion"].IsObject()) {
      const rapidjson::Value& expansion = (*doc)["expansion"];
      if (const rapidjson::Value* contains = Array(expansion, "contains")) {
        Contains(*contains, out);
      }
      if (expansion.HasMember("total") && expansion["total"].IsInt64() &&
          static_cast<std::size_t>(expansion["total"].GetInt64()) > out.codes.size()) {
        return Bad(name + " holds a partial expansion (" + std::to_string(out.codes.size()) +
                   " of " + std::to_string(expansion["total"].GetInt64()) + " codes)");
      }
    } else if (doc->HasMember("compose") && (*doc)["compose"].IsObject()) {
      const rapidjson::Value& compose = (*doc)["compose"];
      if (const rapidjson::Value* includes = Array(compose, "include")) {
        for (const rapidjson::Value& include : includes->GetArray()) {
          FHIR_ASSIGN_OR_RETURN(CodeSet part, Item(include, name, depth));
          Union(out, part);
        }
      }
      if (const rapidjson::Value* excludes = Array(compose, "exclude")) {
        for (const rapidjson::Value& exclude : excludes->GetArray()) {
          FHIR_ASSIGN_OR_RETURN(CodeSet part, Item(exclude, name, depth));
          Subtract(out, part);
        }
      }
    } else {
      return Bad(name + " has neither an expansion nor a compose");
    }
    if (SizeOf(out) > kMaxExpansion) {
      return Bad(name + " has more than " + std::to_string(kMaxExpansion) + " codes");
    }
    return out;
  }

 private:
  static void Contains(const rapidjson::Value& contains, CodeSet& out) {
    for (const rapidjson::Value& item : contains.GetArray()) {
      std::string code = Str(item, "code");
      if (!code.empty()) out.codes.emplace(Str(item, "system"), std::move(code));
      if (const rapidjson::Value* nested = Array(item, "contains")) Contains(*nested, out);
    }
  }

  // One compose.include or compose.exclude.
  Result<CodeSet> Item(const rapidjson::Value& item, const std::string& name, int depth) {
    const std::string system = Str(item, "system");
    const rapidjson::Value* concepts = Array(item, "concept");
    const rapidjson::Value* filters = Array(item, "filter");
    const rapidjson::Value* value_sets = Array(item, "valueSet");
    if (value_sets != nullptr && !value_sets->Empty()) {
      if (!system.empty() || value_sets->Size() > 1) {
        return Bad(name + " intersects value sets (include.valueSet with a system or several), "
                          "which needs a terminology service");
      }
      const rapidjson::Value& ref = (*value_sets)[0];
      if (!ref.IsString()) return Bad(name + ": include.valueSet is not a canonical");
      return Expand(std::string_view(ref.GetString(), ref.GetStringLength()), depth + 1);
    }
    if (system.empty()) return Bad(name + ": an include without system or valueSet");
    CodeSet out;
    if (concepts != nullptr && !concepts->Empty()) {
      for (const rapidjson::Value& entry : concepts->GetArray()) {
        std::string code = Str(entry, "code");
        if (!code.empty()) out.codes.emplace(system, std::move(code));
      }
      return out;
    }
    if (filters != nullptr && !filters->Empty()) {
      bool first = true;
      for (const rapidjson::Value& filter : filters->GetArray()) {
        FHIR_ASSIGN_OR_RETURN(std::set<std::string> codes, Filter(filter, system, name));
        if (first) {
          for (const std::string& code : codes) out.codes.emplace(system, code);
          first = false;
        } else {  // several filters: all must hold
          std::erase_if(out.codes, [&](const std::pair<std::string, std::string>& code) {
            return codes.count(code.second) == 0;
          });
        }
      }
      return out;
    }
    out.systems.emplace(system, std::set<std::string>{});
    return out;
  }

  // A filter on the concept hierarchy of a stored CodeSystem; any other needs a terminology
  // service.
  Result<std::set<std::string>> Filter(const rapidjson::Value& filter, const std::string& system,
                                       const std::string& name) {
    const std::string property = Str(filter, "property");
    const std::string op = Str(filter, "op");
    const std::string value = Str(filter, "value");
    if (property == "concept" && (op == "is-a" || op == "descendent-of" || op == "=")) {
      if (op == "=") return std::set<std::string>{value};
      FHIR_ASSIGN_OR_RETURN(Hierarchy h, LoadHierarchy(lookup_, system));
      if (h.children.count(value) == 0) {
        return Bad(name + ": the filter's code '" + value + "' is not in CodeSystem '" + system +
                   "'");
      }
      std::set<std::string> codes = Closure(h.children, value);
      if (op == "descendent-of") codes.erase(value);
      return codes;
    }
    return Bad(name + " has a filter (" + property + " " + op + " " + value +
               ") that needs a terminology service, which this server does not have");
  }

  const TerminologyLookup& lookup_;
};

}  // namespace

Result<CodeSet> ExpandValueSet(const TerminologyLookup& lookup, std::string_view reference) {
  Expander expander(lookup);
  return expander.Expand(reference, 0);
}

Result<std::set<std::string>> Subsumption(const TerminologyLookup& lookup,
                                          std::string_view system, std::string_view code,
                                          bool below) {
  FHIR_ASSIGN_OR_RETURN(Hierarchy h, LoadHierarchy(lookup, system));
  const std::string key(code);
  if (h.children.count(key) == 0) {
    return Bad("the code '" + key + "' is not in CodeSystem '" + std::string(system) + "'");
  }
  return Closure(below ? h.children : h.parents, key);
}

}  // namespace server::search
