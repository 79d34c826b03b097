#include "tools/fhirgen/definitions.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include <rapidjson/document.h>

namespace fhirgen {
namespace {

[[noreturn]] void Fail(const std::string& message) {
  std::fprintf(stderr, "fhirgen: %s\n", message.c_str());
  std::exit(1);
}

rapidjson::Document ReadJson(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail("cannot read " + path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  rapidjson::Document doc;
  doc.Parse(buffer.str().c_str());
  if (doc.HasParseError()) Fail("malformed JSON in " + path);
  return doc;
}

std::string Str(const rapidjson::Value& v, const char* key) {
  auto it = v.FindMember(key);
  if (it == v.MemberEnd() || !it->value.IsString()) return {};
  return it->value.GetString();
}

bool Bool(const rapidjson::Value& v, const char* key) {
  auto it = v.FindMember(key);
  return it != v.MemberEnd() && it->value.IsBool() && it->value.GetBool();
}

const std::set<std::string>& Keywords() {
  static const std::set<std::string> k = {
      "alignas", "alignof", "and", "asm", "auto", "bool", "break", "case", "catch", "char",
      "class", "concept", "const", "consteval", "constexpr", "constinit", "continue", "default",
      "delete", "do", "double", "else", "enum", "explicit", "export", "extern", "false", "float",
      "for", "friend", "goto", "if", "import", "inline", "int", "long", "module", "mutable",
      "namespace", "new", "noexcept", "not", "operator", "or", "private", "protected", "public",
      "register", "requires", "return", "short", "signed", "sizeof", "static", "struct",
      "switch", "template", "this", "throw", "true", "try", "typedef", "typeid", "typename",
      "union", "unsigned", "using", "virtual", "void", "volatile", "while", "xor"};
  return k;
}

struct Element {
  const rapidjson::Value* json;
  std::string path;
};

class Builder {
 public:
  explicit Builder(Definitions& defs) : defs_(defs) {}

  void AddStructureDefinition(const rapidjson::Value& sd) {
    std::string kind = Str(sd, "kind");
    std::string name = Str(sd, "name");
    if (kind == "primitive-type") {
      defs_.primitives.push_back(name);
      return;
    }
    if (name == "Element" || name == "BackboneElement") return;  // flattened into each struct
    auto s = std::make_unique<Struct>();
    s->fhir_name = s->cpp_name = s->qualified = s->reflect_name = name;
    s->is_abstract = Bool(sd, "abstract");
    if (kind == "resource") {
      s->kind = StructKind::kResource;
      std::string base = Str(sd, "baseDefinition");
      if (!base.empty()) s->base = base.substr(base.rfind('/') + 1);
    }
    std::vector<Element> elements;
    for (const auto& e : sd["snapshot"].GetArray()) elements.push_back({&e, Str(e, "path")});
    paths_.clear();
    paths_[name] = s.get();
    BuildStruct(*s, elements, 0);
    CheckFieldCounts(*s);
    (s->kind == StructKind::kResource ? defs_.resources : defs_.datatypes).push_back(std::move(s));
  }

 private:
  // Fills `s` from the children of elements[root]; returns the index after its subtree.
  std::size_t BuildStruct(Struct& s, const std::vector<Element>& elements, std::size_t root) {
    const std::string& root_path = elements[root].path;
    AddConstraints(s, *elements[root].json, root_path);
    std::size_t i = root + 1;
    while (i < elements.size() && IsChild(elements[i].path, root_path)) {
      const Element& e = elements[i];
      std::size_t next = i + 1;
      while (next < elements.size() && IsChild(elements[next].path, e.path)) ++next;
      std::string max = Str(*e.json, "max");
      if (max != "0") {
        Field f = MakeField(s, *e.json, e.path);
        if (next > i + 1) {  // has children: a BackboneElement (or Element) of its own
          auto n = std::make_unique<Struct>();
          n->fhir_name = e.path;
          n->cpp_name = NestedName(s, f.json_name);
          n->qualified = s.qualified + "::" + n->cpp_name;
          n->reflect_name = s.reflect_name + "_" + n->cpp_name;
          n->kind = StructKind::kBackbone;
          paths_[e.path] = n.get();
          BuildStruct(*n, elements, i);
          f.nested = n.get();
          f.type.clear();
          s.nested.push_back(std::move(n));
        }
        s.fields.push_back(std::move(f));
      }
      i = next;
    }
    return i;
  }

  // The JSON parser tracks seen fields in a 256-bit set (fhir/json/parser.cc).
  static void CheckFieldCounts(const Struct& s) {
    if (s.fields.size() > 256) Fail("more than 256 elements in " + s.fhir_name);
    for (const auto& n : s.nested) CheckFieldCounts(*n);
  }

  static bool IsChild(const std::string& path, const std::string& parent) {
    return path.size() > parent.size() + 1 && path.compare(0, parent.size(), parent) == 0 &&
           path[parent.size()] == '.';
  }

  static std::string NestedName(const Struct& parent, const std::string& json_name) {
    std::string name = UpperFirst(json_name);
    // A nested class may not share its enclosing classes' names.
    for (const std::string& part : {parent.cpp_name, parent.qualified}) {
      if (part == name || part.find("::" + name) != std::string::npos ||
          part.rfind(name + "::", 0) == 0) {
        name += "_";
      }
    }
    return name;
  }

  Field MakeField(const Struct& owner, const rapidjson::Value& e, const std::string& path) {
    Field f;
    std::string last = path.substr(path.rfind('.') + 1);
    bool choice = last.size() > 3 && last.compare(last.size() - 3, 3, "[x]") == 0;
    f.json_name = choice ? last.substr(0, last.size() - 3) : last;
    f.cpp_name = SnakeCase(f.json_name);
    f.min = e["min"].GetInt();
    std::string max = Str(e, "max");
    f.max = max == "*" ? -1 : std::atoi(max.c_str());
    f.summary = Bool(e, "isSummary");
    f.modifier = Bool(e, "isModifier");
    if (e.HasMember("binding")) {
      f.binding_strength = Str(e["binding"], "strength");
      f.value_set = Str(e["binding"], "valueSet");
      if (auto bar = f.value_set.find('|'); bar != std::string::npos) f.value_set.resize(bar);
    }
    std::string base_path = e.HasMember("base") ? Str(e["base"], "path") : path;
    std::string base_type = base_path.substr(0, base_path.find('.'));
    f.inherited = owner.kind == StructKind::kResource && base_type != owner.fhir_name &&
                  (base_type == "Resource" || base_type == "DomainResource");

    std::string content_ref = Str(e, "contentReference");
    if (!content_ref.empty()) {
      auto it = paths_.find(content_ref.substr(1));
      if (it == paths_.end()) Fail("contentReference to an undefined element: " + content_ref);
      f.nested = it->second;
    } else if (!e.HasMember("type") || e["type"].Size() == 0) {
      Fail("element without type: " + path);
    } else if (choice) {
      f.shape = Shape::kChoice;
      for (const auto& t : e["type"].GetArray()) f.choices.push_back(Str(t, "code"));
    } else {
      f.type = Str(e["type"][0], "code");
      if (f.type.rfind("http://hl7.org/fhirpath/System.", 0) == 0) {
        f.shape = Shape::kSystemString;
        f.system_format = Str(e["type"][0], "fhirType");
        if (base_path == "Resource.id") f.system_format = "id";
        if (f.system_format.empty()) f.system_format = "string";
      }
    }
    if (f.shape != Shape::kChoice && f.shape != Shape::kSystemString && f.max != 1 &&
        f.max != 0) {
      f.shape = Shape::kRepeated;
    }
    return f;
  }

  void AddConstraints(Struct& s, const rapidjson::Value& e, const std::string& path) {
    auto it = e.FindMember("constraint");
    if (it == e.MemberEnd()) return;
    for (const auto& c : it->value.GetArray()) {
      std::string key = Str(c, "key");
      if (key == "ele-1" || key == "ext-1") continue;  // Element's own, checked generically
      bool seen = std::any_of(s.constraints.begin(), s.constraints.end(),
                              [&](const Constraint& x) { return x.key == key; });
      if (seen) continue;
      s.constraints.push_back(
          {key, Str(c, "severity"), Str(c, "human"), Str(c, "expression"), path});
    }
  }

  Definitions& defs_;
  std::map<std::string, Struct*> paths_;
};

// Expands the required ValueSets whose codes can be enumerated from the vendored CodeSystems
// (complete content, no filters); others stay unchecked.
class ValueSetExpander {
 public:
  explicit ValueSetExpander(const rapidjson::Value& terminology) {
    for (const auto& cs : terminology["codeSystems"].GetArray()) {
      if (Str(cs, "content") != "complete") continue;
      std::vector<std::string>& codes = code_systems_[Str(cs, "url")];
      std::function<void(const rapidjson::Value&)> walk = [&](const rapidjson::Value& list) {
        for (const auto& c : list.GetArray()) {
          codes.push_back(Str(c, "code"));
          if (c.HasMember("concept")) walk(c["concept"]);
        }
      };
      if (cs.HasMember("concept")) walk(cs["concept"]);
    }
    for (const auto& vs : terminology["valueSets"].GetArray()) value_sets_[Str(vs, "url")] = &vs;
  }

  // False when the ValueSet cannot be enumerated.
  bool Expand(const std::string& url, std::set<std::string>& out, int depth = 0) {
    auto it = value_sets_.find(url);
    if (it == value_sets_.end() || depth > 8) return false;
    const rapidjson::Value& vs = *it->second;
    if (!vs.HasMember("compose")) return false;
    const rapidjson::Value& compose = vs["compose"];
    if (!compose.HasMember("include")) return false;
    for (const auto& inc : compose["include"].GetArray()) {
      if (!Include(inc, out, depth)) return false;
    }
    if (compose.HasMember("exclude")) {
      std::set<std::string> excluded;
      for (const auto& exc : compose["exclude"].GetArray()) {
        if (!Include(exc, excluded, depth)) return false;
      }
      for (const std::string& code : excluded) out.erase(code);
    }
    return !out.empty();
  }

 private:
  bool Include(const rapidjson::Value& inc, std::set<std::string>& out, int depth) {
    if (inc.HasMember("filter")) return false;
    if (inc.HasMember("valueSet")) {
      for (const auto& v : inc["valueSet"].GetArray()) {
        std::string url = v.GetString();
        if (auto bar = url.find('|'); bar != std::string::npos) url.resize(bar);
        if (!Expand(url, out, depth + 1)) return false;
      }
    }
    if (!inc.HasMember("system")) return inc.HasMember("valueSet");
    if (inc.HasMember("concept")) {
      for (const auto& c : inc["concept"].GetArray()) out.insert(Str(c, "code"));
      return true;
    }
    auto cs = code_systems_.find(Str(inc, "system"));
    if (cs == code_systems_.end()) return false;
    out.insert(cs->second.begin(), cs->second.end());
    return true;
  }

  std::map<std::string, std::vector<std::string>> code_systems_;
  std::map<std::string, const rapidjson::Value*> value_sets_;
};

std::string Symbol(const std::string& url, const std::set<std::string>& taken) {
  std::string tail = url.substr(url.rfind('/') + 1);
  std::string s = "kValueSet_";
  for (char c : tail) s += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  std::string unique = s;
  for (int n = 2; taken.count(unique); ++n) unique = s + "_" + std::to_string(n);
  return unique;
}

}  // namespace

std::string SnakeCase(const std::string& json_name) {
  std::string out;
  for (char c : json_name) {
    if (std::isupper(static_cast<unsigned char>(c))) {
      if (!out.empty()) out += '_';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  if (Keywords().count(out)) out += '_';
  return out;
}

std::string UpperFirst(const std::string& s) {
  std::string out = s;
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

namespace {

std::vector<std::string> Strings(const rapidjson::Value& v, const char* key) {
  std::vector<std::string> out;
  auto it = v.FindMember(key);
  if (it == v.MemberEnd() || !it->value.IsArray()) return out;
  for (const auto& item : it->value.GetArray()) {
    if (item.IsString()) out.emplace_back(item.GetString());
  }
  return out;
}

void LoadSearchParams(const std::string& path, Definitions& defs) {
  if (!std::ifstream(path)) return;  // the golden-test fixture has none
  rapidjson::Document doc = ReadJson(path);
  if (!doc.IsArray()) Fail(path + ": expected an array of SearchParameters");
  defs.has_search_params = true;
  for (const auto& sp : doc.GetArray()) {
    SearchParam p{Str(sp, "url"), Str(sp, "code"), Str(sp, "type"), Str(sp, "expression"),
                  Strings(sp, "base"), Strings(sp, "target"), {}};
    if (p.url.empty() || p.code.empty() || p.type.empty()) Fail(path + ": incomplete entry");
    auto components = sp.FindMember("component");
    if (components != sp.MemberEnd() && components->value.IsArray()) {
      for (const auto& c : components->value.GetArray()) {
        p.components.emplace_back(Str(c, "definition"), Str(c, "expression"));
      }
    }
    std::sort(p.target.begin(), p.target.end());
    defs.search_params.push_back(std::move(p));
  }
  std::sort(defs.search_params.begin(), defs.search_params.end(),
            [](const SearchParam& a, const SearchParam& b) { return a.url < b.url; });

  const std::string compartments_path =
      path.substr(0, path.rfind('/') + 1) + "compartments.json";
  if (!std::ifstream(compartments_path)) return;
  rapidjson::Document compartments = ReadJson(compartments_path);
  if (!compartments.IsArray()) Fail(compartments_path + ": expected an array");
  for (const auto& cd : compartments.GetArray()) {
    Compartment c{Str(cd, "code"), Str(cd, "url"), {}};
    auto resources = cd.FindMember("resource");
    if (resources != cd.MemberEnd() && resources->value.IsArray()) {
      for (const auto& r : resources->value.GetArray()) {
        std::vector<std::string> params = Strings(r, "param");
        if (!params.empty()) c.members.emplace_back(Str(r, "code"), std::move(params));
      }
    }
    std::sort(c.members.begin(), c.members.end());
    defs.compartments.push_back(std::move(c));
  }
  std::sort(defs.compartments.begin(), defs.compartments.end(),
            [](const Compartment& a, const Compartment& b) { return a.code < b.code; });
}

}  // namespace

Definitions LoadDefinitions(const std::string& dir) {
  Definitions defs;
  rapidjson::Document sds = ReadJson(dir + "/structure-definitions.json");
  Builder builder(defs);
  for (const auto& sd : sds.GetArray()) builder.AddStructureDefinition(sd);
  std::sort(defs.primitives.begin(), defs.primitives.end());
  auto by_name = [](const auto& a, const auto& b) { return a->fhir_name < b->fhir_name; };
  std::sort(defs.datatypes.begin(), defs.datatypes.end(), by_name);
  // Base classes first: Resource, DomainResource, then every other resource by name.
  auto rank = [](const Struct& s) { return s.fhir_name == "Resource" ? 0
                                           : s.fhir_name == "DomainResource" ? 1 : 2; };
  std::sort(defs.resources.begin(), defs.resources.end(), [&](const auto& a, const auto& b) {
    if (rank(*a) != rank(*b)) return rank(*a) < rank(*b);
    return a->fhir_name < b->fhir_name;
  });

  rapidjson::Document terminology = ReadJson(dir + "/terminology.json");
  ValueSetExpander expander(terminology);
  std::set<std::string> symbols;
  std::function<void(Struct&)> visit = [&](Struct& s) {
    for (Field& f : s.fields) {
      if (f.type != "code" || f.binding_strength != "required" || f.value_set.empty()) continue;
      if (defs.value_sets.count(f.value_set)) continue;
      std::set<std::string> codes;
      if (!expander.Expand(f.value_set, codes)) continue;
      ValueSetCodes v{f.value_set, Symbol(f.value_set, symbols), {codes.begin(), codes.end()}};
      symbols.insert(v.symbol);
      defs.value_sets[f.value_set] = std::move(v);
    }
    for (auto& n : s.nested) visit(*n);
  };
  for (auto& s : defs.datatypes) visit(*s);
  for (auto& s : defs.resources) visit(*s);
  LoadSearchParams(dir + "/search-parameters.json", defs);
  return defs;
}

}  // namespace fhirgen
