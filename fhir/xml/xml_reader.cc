#include "fhir/xml/xml_reader.h"

#include <climits>
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include <expat.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "fhir/base/primitive_format.h"
#include "fhir/model/registry.h"
#include "fhir/r4/datatypes.h"

namespace fhir::xml {

const XmlAttribute* XmlElement::FindAttribute(std::string_view attribute_name) const {
  for (const XmlAttribute& a : attributes) {
    if (a.ns.empty() && a.name == attribute_name) return &a;
  }
  return nullptr;
}

const XmlElement* XmlElement::FindChild(std::string_view child_name) const {
  for (const XmlElement& c : children) {
    if (c.name == child_name) return &c;
  }
  return nullptr;
}

namespace {

constexpr std::string_view kXmlNamespace = "http://www.w3.org/XML/1998/namespace";
// Expat reports a namespaced name as "URI<sep>local"; a space never occurs in either.
constexpr char kNamespaceSeparator = ' ';

// --- XML text -> XmlElement (expat) -------------------------------------------------------

class TreeBuilder {
 public:
  explicit TreeBuilder(XML_Parser parser) : parser_(parser) {}

  static void XMLCALL Start(void* data, const XML_Char* name, const XML_Char** atts) {
    static_cast<TreeBuilder*>(data)->OnStart(name, atts);
  }
  static void XMLCALL End(void* data, const XML_Char* /*name*/) {
    auto& stack = static_cast<TreeBuilder*>(data)->stack_;
    if (!stack.empty()) stack.pop_back();
  }
  static void XMLCALL Characters(void* data, const XML_Char* s, int len) {
    static_cast<TreeBuilder*>(data)->OnCharacters(
        std::string_view(s, static_cast<std::size_t>(len)));
  }
  static void XMLCALL Doctype(void* data, const XML_Char* /*name*/, const XML_Char* /*sysid*/,
                              const XML_Char* /*pubid*/, int /*has_internal_subset*/) {
    static_cast<TreeBuilder*>(data)->Abort(IssueType::kStructure,
                                           "A DOCTYPE declaration is not allowed in FHIR XML");
  }

  std::optional<XmlElement>& root() { return root_; }
  std::optional<Status>& error() { return error_; }

 private:
  static void SplitName(std::string_view qualified, std::string& ns, std::string& local) {
    std::size_t sep = qualified.find(kNamespaceSeparator);
    if (sep == std::string_view::npos) {
      ns.clear();
      local.assign(qualified);
    } else {
      ns.assign(qualified.substr(0, sep));
      local.assign(qualified.substr(sep + 1));
    }
  }

  void OnStart(const XML_Char* name, const XML_Char** atts) {
    if (stack_.size() >= static_cast<std::size_t>(kMaxDepth)) {
      Abort(IssueType::kTooCostly,
            "XML nests deeper than " + std::to_string(kMaxDepth) + " elements");
      return;
    }
    XmlElement* e = nullptr;
    if (stack_.empty()) {
      root_.emplace();
      e = &*root_;
    } else {
      e = &stack_.back()->children.emplace_back();
    }
    SplitName(name, e->ns, e->name);
    e->line = static_cast<int>(XML_GetCurrentLineNumber(parser_));
    for (const XML_Char** a = atts; *a != nullptr; a += 2) {
      XmlAttribute& attribute = e->attributes.emplace_back();
      SplitName(a[0], attribute.ns, attribute.name);
      attribute.value = a[1];
    }
    stack_.push_back(e);
  }

  void OnCharacters(std::string_view s) {
    if (stack_.empty()) return;
    XmlElement* e = stack_.back();
    (e->children.empty() ? e->text : e->children.back().tail).append(s);
  }

  void Abort(IssueType type, std::string message) {
    if (!error_) {
      error_ = Status(type, message + " (line " +
                                std::to_string(XML_GetCurrentLineNumber(parser_)) + ")");
    }
    XML_StopParser(parser_, static_cast<XML_Bool>(0));
  }

  XML_Parser parser_;
  std::optional<XmlElement> root_;
  // The open elements. A pointer into its parent's `children` stays valid while it is open:
  // siblings are only added after it is closed.
  std::vector<XmlElement*> stack_;
  std::optional<Status> error_;
};

struct ParserFree {
  void operator()(XML_Parser p) const { XML_ParserFree(p); }
};

// --- XmlElement -> XML text ----------------------------------------------------------------

void Escape(std::string_view s, bool attribute, std::string& out) {
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>':
        if (attribute) {
          out += c;
        } else {
          out += "&gt;";
        }
        break;
      case '"': out += "&quot;"; break;
      // Attribute-value normalization would turn these into spaces.
      case '\n': out += attribute ? "&#10;" : "\n"; break;
      case '\r': out += attribute ? "&#13;" : "&#13;"; break;
      case '\t': out += attribute ? "&#9;" : "\t"; break;
      default: out += c;
    }
  }
}

void WriteElement(const XmlElement& e, std::string_view parent_ns, std::string& out) {
  if (e.verbatim) {
    out += *e.verbatim;
    return;
  }
  out += '<';
  out += e.name;
  if (e.ns != parent_ns) {
    out += " xmlns=\"";
    Escape(e.ns, true, out);
    out += '"';
  }
  for (const XmlAttribute& a : e.attributes) {
    out += ' ';
    if (a.ns == kXmlNamespace) {
      out += "xml:";
    }
    out += a.name;
    out += "=\"";
    Escape(a.value, true, out);
    out += '"';
  }
  if (e.text.empty() && e.children.empty()) {
    out += "/>";
  } else {
    out += '>';
    Escape(e.text, false, out);
    for (const XmlElement& c : e.children) {
      WriteElement(c, e.ns, out);
      Escape(c.tail, false, out);
    }
    out += "</";
    out += e.name;
    out += '>';
  }
}

// --- XmlElement -> FHIR JSON ---------------------------------------------------------------

bool IsWhitespace(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

std::string Clip(std::string_view s) {
  constexpr std::size_t kMax = 64;
  return s.size() <= kMax ? std::string(s) : std::string(s.substr(0, kMax)) + "...";
}

// Writes the JSON form while walking the XML with the reflection metadata, which says what is
// an array, which JSON type a primitive takes, and which elements are primitives (`_name`).
class Converter {
 public:
  Converter(const json::ParseOptions& options, std::vector<Issue>* warnings)
      : writer_(buffer_), options_(options), warnings_(warnings) {}

  void Resource(const XmlElement& e) {
    if (e.ns != kFhirNamespace) {
      WrongNamespace(e, {});
      writer_.Null();
      return;
    }
    const TypeInfo* type = FindResourceType(e.name);
    if (type == nullptr) {
      Error(IssueType::kNotSupported, "Unknown resource type '" + Clip(e.name) + "'", e);
      writer_.Null();
      return;
    }
    if (path_.empty()) path_ = type->name;
    writer_.StartObject();
    Key("resourceType");
    String(type->name);
    Members(e, *type, /*is_resource=*/true);
    writer_.EndObject();
  }

  std::vector<Issue> TakeIssues() { return std::move(issues_); }
  std::string TakeJson() { return std::string(buffer_.GetString(), buffer_.GetSize()); }

 private:
  // --- issues -----------------------------------------------------------------------------

  void Error(IssueType type, std::string message, const XmlElement& at) {
    issues_.push_back({Severity::kError, type, std::move(message) + Line(at), path_});
  }
  void Warning(IssueType type, std::string message, const XmlElement& at) {
    if (warnings_ != nullptr) {
      warnings_->push_back({Severity::kWarning, type, std::move(message) + Line(at), path_});
    }
  }
  static std::string Line(const XmlElement& e) {
    return " (line " + std::to_string(e.line) + ")";
  }
  void WrongNamespace(const XmlElement& e, std::string_view expected) {
    std::string want = expected.empty() ? std::string(kFhirNamespace) : std::string(expected);
    Error(IssueType::kStructure,
          "Element '" + Clip(e.name) + "' must be in the namespace '" + want + "', found " +
              (e.ns.empty() ? std::string("no namespace") : "'" + Clip(e.ns) + "'"),
          e);
  }

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

  // --- JSON output ------------------------------------------------------------------------

  void Key(std::string_view s) {
    writer_.Key(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  }
  void String(std::string_view s) {
    writer_.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  }

  // --- structure --------------------------------------------------------------------------

  // Text directly inside a FHIR element (not XHTML) must be whitespace.
  void CheckNoText(const XmlElement& e) {
    bool text = !IsWhitespace(e.text);
    for (const XmlElement& c : e.children) text = text || !IsWhitespace(c.tail);
    if (text) {
      Error(IssueType::kStructure,
            "Text is not allowed in the FHIR element '" + Clip(e.name) +
                "'; values go in the 'value' attribute",
            e);
    }
  }

  // Attributes of a FHIR element other than `allowed` (namespaced ones such as
  // xsi:schemaLocation are ignored).
  void CheckAttributes(const XmlElement& e, std::initializer_list<std::string_view> allowed) {
    for (const XmlAttribute& a : e.attributes) {
      if (!a.ns.empty()) continue;
      bool ok = false;
      for (std::string_view name : allowed) ok = ok || a.name == name;
      if (!ok) {
        Error(IssueType::kStructure,
              "Unknown attribute '" + Clip(a.name) + "' on the element '" + Clip(e.name) + "'",
              e);
      }
    }
  }

  // The children of `e`, an element of `type`, as JSON members (the object is open).
  void Members(const XmlElement& e, const TypeInfo& type, bool is_resource) {
    CheckNoText(e);
    // Element.id and Extension.url are attributes; Resource.id is an element.
    for (const XmlAttribute& a : e.attributes) {
      if (!a.ns.empty()) continue;
      const FieldInfo* f = is_resource ? nullptr : type.FindField(a.name);
      if (f == nullptr || f->shape != FieldShape::kSystemString) {
        Error(IssueType::kStructure,
              "Unknown attribute '" + Clip(a.name) + "' on the element '" + Clip(e.name) + "'",
              e);
        continue;
      }
      Key(a.name);
      String(a.value);
    }
    // The elements of one name are one JSON property. XML requires them adjacent and in the
    // order of the definition; the order is not enforced (HL7's own test inputs break it).
    const auto& children = e.children;
    std::vector<bool> taken(children.size(), false);
    for (std::size_t i = 0; i < children.size(); ++i) {
      if (taken[i]) continue;
      const XmlElement& first = children[i];
      std::vector<const XmlElement*> run;
      for (std::size_t k = i; k < children.size(); ++k) {
        if (!taken[k] && children[k].name == first.name && children[k].ns == first.ns) {
          taken[k] = true;
          run.push_back(&children[k]);
        }
      }
      const JsonName* jn = type.FindJsonName(first.name);
      const FieldInfo* field = jn != nullptr ? &type.fields[jn->field] : nullptr;
      if (field == nullptr || (field->shape == FieldShape::kSystemString && !is_resource)) {
        PathGuard guard(path_, first.name);
        std::string message =
            "Unknown element '" + Clip(first.name) + "' in " + std::string(type.name);
        if (field != nullptr) message += " (it is an attribute in XML)";
        if (options_.lenient && field == nullptr) {
          Warning(IssueType::kStructure, message + " (ignored)", first);
        } else {
          Error(IssueType::kStructure, message, first);
        }
        continue;
      }
      const TypeInfo* target =
          field->shape == FieldShape::kChoice ? field->choices[jn->choice - 1].type : field->type;
      bool array = field->repeated() || run.size() > 1;

      std::string_view want_ns = target != nullptr && target->primitive == PrimitiveKind::kXhtml
                                     ? kXhtmlNamespace
                                     : kFhirNamespace;
      bool ns_ok = true;
      for (const XmlElement* c : run) {
        if (c->ns != want_ns) {
          PathGuard guard(path_, c->name);
          WrongNamespace(*c, want_ns);
          ns_ok = false;
        }
      }
      if (!ns_ok) continue;

      if (field->shape == FieldShape::kSystemString) {
        ResourceId(run, array);
      } else if (target->kind == TypeKind::kPrimitive) {
        Primitives(run, *target, first.name, array);
      } else {
        PathGuard guard(path_, first.name);
        Key(first.name);
        if (array) writer_.StartArray();
        for (std::size_t k = 0; k < run.size(); ++k) {
          std::optional<PathGuard> index;
          if (array) index.emplace(path_, k);
          if (target->kind == TypeKind::kResource) {
            Wrapped(*run[k]);
          } else {
            writer_.StartObject();
            Members(*run[k], *target, false);
            writer_.EndObject();
          }
        }
        if (array) writer_.EndArray();
      }
    }
  }

  // Resource.id: <id value="..."/>.
  void ResourceId(const std::vector<const XmlElement*>& run, bool array) {
    PathGuard guard(path_, "id");
    Key("id");
    if (array) writer_.StartArray();
    for (const XmlElement* element : run) {
      const XmlElement& c = *element;
      CheckAttributes(c, {"value"});
      CheckNoText(c);
      if (!c.children.empty()) {
        Error(IssueType::kStructure, "The resource id takes no id or extensions", c);
      }
      const XmlAttribute* value = c.FindAttribute("value");
      if (value == nullptr) {
        Error(IssueType::kStructure, "The resource id needs a 'value' attribute", c);
        writer_.Null();
      } else {
        String(value->value);
      }
    }
    if (array) writer_.EndArray();
  }

  // A resource in its wrapper element (<contained><Patient>...</Patient></contained>).
  void Wrapped(const XmlElement& wrapper) {
    CheckAttributes(wrapper, {});
    CheckNoText(wrapper);
    if (wrapper.children.size() != 1) {
      Error(IssueType::kStructure,
            "The element '" + Clip(wrapper.name) + "' must contain exactly one resource, found " +
                std::to_string(wrapper.children.size()) + " elements",
            wrapper);
      writer_.Null();
      return;
    }
    Resource(wrapper.children[0]);
  }

  // A run of primitive elements: "name": value(s), then "_name": {id, extension}(s) when any
  // has them. A value-less single element gets an empty `_name` object, which the JSON parser
  // rejects as an empty element, as it should.
  void Primitives(const std::vector<const XmlElement*>& run, const TypeInfo& target,
                  std::string_view name, bool array) {
    PathGuard guard(path_, name);
    if (target.primitive == PrimitiveKind::kXhtml) {
      Key(name);
      if (array) writer_.StartArray();
      for (const XmlElement* c : run) String(WriteXml(*c));
      if (array) writer_.EndArray();
      return;
    }
    bool any_value = false;
    bool any_extra = false;
    for (const XmlElement* c : run) {
      CheckAttributes(*c, {"id", "value"});
      CheckNoText(*c);
      any_value = any_value || c->FindAttribute("value") != nullptr;
      any_extra = any_extra || c->FindAttribute("id") != nullptr || !c->children.empty();
    }
    if (any_value || (array && !any_extra)) {
      Key(name);
      if (array) writer_.StartArray();
      for (std::size_t k = 0; k < run.size(); ++k) {
        std::optional<PathGuard> index;
        if (array) index.emplace(path_, k);
        const XmlAttribute* value = run[k]->FindAttribute("value");
        if (value == nullptr) {
          writer_.Null();
        } else {
          PrimitiveValue(value->value, target.primitive, *run[k]);
        }
      }
      if (array) writer_.EndArray();
    }
    if (!any_extra && (any_value || array)) return;
    std::string underscore = "_" + std::string(name);
    Key(underscore);
    if (array) writer_.StartArray();
    for (std::size_t k = 0; k < run.size(); ++k) {
      std::optional<PathGuard> index;
      if (array) index.emplace(path_, k);
      const XmlElement& c = *run[k];
      const XmlAttribute* id = c.FindAttribute("id");
      if (array && id == nullptr && c.children.empty()) {
        writer_.Null();
        continue;
      }
      writer_.StartObject();
      if (id != nullptr) {
        Key("id");
        String(id->value);
      }
      PrimitiveExtensions(c);
      writer_.EndObject();
    }
    if (array) writer_.EndArray();
  }

  // The children of a primitive element: only `extension`.
  void PrimitiveExtensions(const XmlElement& e) {
    std::size_t count = 0;
    for (const XmlElement& c : e.children) {
      if (c.name == "extension" && c.ns == kFhirNamespace) {
        ++count;
        continue;
      }
      PathGuard guard(path_, c.name);
      if (c.ns != kFhirNamespace) {
        WrongNamespace(c, kFhirNamespace);
      } else {
        Error(IssueType::kStructure,
              "Unknown element '" + Clip(c.name) + "' in a primitive element (only 'extension')",
              c);
      }
    }
    if (count == 0) return;
    PathGuard guard(path_, "extension");
    Key("extension");
    writer_.StartArray();
    std::size_t k = 0;
    for (const XmlElement& c : e.children) {
      if (c.name != "extension" || c.ns != kFhirNamespace) continue;
      PathGuard index(path_, k++);
      writer_.StartObject();
      Members(c, reflect::Extension, false);
      writer_.EndObject();
    }
    writer_.EndArray();
  }

  void PrimitiveValue(const std::string& text, PrimitiveKind kind, const XmlElement& at) {
    if (kind == PrimitiveKind::kBoolean) {
      if (text == "true" || text == "false") {
        writer_.Bool(text == "true");
      } else {
        Error(IssueType::kValue, "Invalid boolean '" + Clip(text) + "'", at);
        writer_.Null();
      }
      return;
    }
    if (kind == PrimitiveKind::kDecimal || CategoryOf(kind) == ValueCategory::kInt) {
      // The JSON parser checks the range and the kind of number; it must be a JSON number.
      if (IsValidDecimal(text)) {
        writer_.RawValue(text.data(), text.size(), rapidjson::kNumberType);
      } else {
        Error(IssueType::kValue,
              std::string(kind == PrimitiveKind::kDecimal ? "Invalid decimal '"
                                                          : "Invalid integer '") +
                  Clip(text) + "'",
              at);
        writer_.Null();
      }
      return;
    }
    String(text);
  }

  rapidjson::StringBuffer buffer_;
  rapidjson::Writer<rapidjson::StringBuffer> writer_;
  const json::ParseOptions& options_;
  std::vector<Issue>* warnings_;
  std::vector<Issue> issues_;
  std::string path_;
};

}  // namespace

Result<XmlElement> ParseXml(std::string_view xml) {
  if (xml.size() > static_cast<std::size_t>(INT_MAX)) {
    return Status(IssueType::kTooCostly, "The XML document is too large");
  }
  std::unique_ptr<XML_ParserStruct, ParserFree> parser(
      XML_ParserCreateNS(nullptr, kNamespaceSeparator));
  if (!parser) return Status(IssueType::kException, "Could not create an XML parser");
  TreeBuilder builder(parser.get());
  XML_SetUserData(parser.get(), &builder);
  XML_SetElementHandler(parser.get(), &TreeBuilder::Start, &TreeBuilder::End);
  XML_SetCharacterDataHandler(parser.get(), &TreeBuilder::Characters);
  XML_SetStartDoctypeDeclHandler(parser.get(), &TreeBuilder::Doctype);
  if (XML_Parse(parser.get(), xml.data(), static_cast<int>(xml.size()), /*isFinal=*/1) !=
      XML_STATUS_OK) {
    if (builder.error()) return *builder.error();
    return Status(IssueType::kStructure,
                  "Malformed XML: " + std::string(XML_ErrorString(XML_GetErrorCode(parser.get()))) +
                      " (line " + std::to_string(XML_GetCurrentLineNumber(parser.get())) +
                      ", column " + std::to_string(XML_GetCurrentColumnNumber(parser.get())) +
                      ")");
  }
  if (!builder.root()) return Status(IssueType::kStructure, "The XML document has no element");
  return std::move(*builder.root());
}

std::string WriteXml(const XmlElement& element) {
  std::string out;
  WriteElement(element, {}, out);
  return out;
}

Result<std::string> XmlToJson(const XmlElement& element, const json::ParseOptions& options,
                              std::vector<Issue>* warnings) {
  Converter converter(options, warnings);
  converter.Resource(element);
  std::vector<Issue> issues = converter.TakeIssues();
  if (!issues.empty()) return Status(std::move(issues));
  return converter.TakeJson();
}

Result<std::unique_ptr<Resource>> ParseXmlResourceElement(const XmlElement& element,
                                                          const json::ParseOptions& options,
                                                          std::vector<Issue>* warnings) {
  FHIR_ASSIGN_OR_RETURN(std::string json, XmlToJson(element, options, warnings));
  return json::ParseResource(json, options, warnings);
}

Result<std::unique_ptr<Resource>> ParseXmlResource(std::string_view xml,
                                                   const json::ParseOptions& options,
                                                   std::vector<Issue>* warnings) {
  FHIR_ASSIGN_OR_RETURN(XmlElement root, ParseXml(xml));
  return ParseXmlResourceElement(root, options, warnings);
}

}  // namespace fhir::xml
