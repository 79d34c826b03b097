#include "fhir/xhtml/narrative_check.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <expat.h>

namespace fhir::xhtml {
namespace {

constexpr std::string_view kXhtmlNamespace = "http://www.w3.org/1999/xhtml";
constexpr std::string_view kXmlLang = "http://www.w3.org/XML/1998/namespace lang";
// Expat reports a namespaced name as "URI<sep>local"; a space never occurs in either.
constexpr char kNamespaceSeparator = ' ';

// txt-1: the basic formatting elements of HTML 4 (chapters 7-11, not section 4 of 9, and 15),
// <a>, images and tables; no scripts, styles sheets, forms, frames, objects or head elements.
constexpr std::string_view kElements[] = {
    "a",       "abbr",    "acronym", "address", "area",  "b",      "bdo",   "big",  "blockquote",
    "br",      "caption", "cite",    "code",    "col",   "colgroup", "dd",  "dfn",  "div",
    "dl",      "dt",      "em",      "h1",      "h2",    "h3",     "h4",    "h5",   "h6",
    "hr",      "i",       "img",     "kbd",     "li",    "map",    "ol",    "p",    "pre",
    "q",       "samp",    "small",   "span",    "strong", "sub",   "sup",   "table", "tbody",
    "td",      "tfoot",   "th",      "thead",   "tr",    "tt",     "ul",    "var"};

// The attributes of those elements; no event attributes (onclick, ...).
constexpr std::string_view kAttributes[] = {
    "abbr",   "accesskey", "align",  "alt",      "axis",   "border",  "cellpadding",
    "cellspacing", "char", "charoff", "cite",    "class",  "colspan", "compact",
    "coords", "datetime",  "dir",    "frame",    "headers", "height", "href",
    "hreflang", "id",      "lang",   "name",     "nohref", "rel",     "rev",
    "rowspan", "rules",    "scope",  "shape",    "span",   "src",     "start",
    "style",  "summary",   "tabindex", "title",  "type",   "valign",  "value",
    "width"};

bool Allowed(std::string_view name, std::span<const std::string_view> names) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Whether `url` uses the javascript: scheme (ignoring case and leading spaces and controls, as
// browsers do).
bool IsScriptUrl(std::string_view url) {
  std::string scheme;
  for (char c : url) {
    auto u = static_cast<unsigned char>(c);
    if (u <= ' ' && scheme.empty()) continue;
    if (c == ':') break;
    if (u <= ' ') continue;  // browsers drop tabs and newlines inside a URL
    scheme += static_cast<char>(std::tolower(u));
    if (scheme.size() > 10) return false;
  }
  return scheme == "javascript" || scheme == "vbscript";
}

class Checker {
 public:
  explicit Checker(XML_Parser parser) : parser_(parser) {}

  static void XMLCALL Start(void* data, const XML_Char* name, const XML_Char** atts) {
    static_cast<Checker*>(data)->OnStart(name, atts);
  }
  static void XMLCALL End(void* data, const XML_Char* /*name*/) {
    --static_cast<Checker*>(data)->depth_;
  }
  static void XMLCALL Characters(void* data, const XML_Char* s, int len) {
    auto* checker = static_cast<Checker*>(data);
    for (int i = 0; i < len && !checker->content_; ++i) {
      if (!std::isspace(static_cast<unsigned char>(s[i]))) checker->content_ = true;
    }
  }
  static void XMLCALL Doctype(void* data, const XML_Char* /*name*/, const XML_Char* /*sysid*/,
                              const XML_Char* /*pubid*/, int /*has_internal_subset*/) {
    static_cast<Checker*>(data)->Fail(false, "a narrative must not have a DOCTYPE");
  }
  static void XMLCALL Instruction(void* data, const XML_Char* /*target*/,
                                  const XML_Char* /*pi*/) {
    static_cast<Checker*>(data)->Fail(true, "processing instructions are not allowed (txt-1)");
  }

  const std::optional<NarrativeProblem>& problem() const { return problem_; }
  bool content() const { return content_; }

  void Fail(bool rule, std::string text) {
    if (problem_) return;
    problem_ = NarrativeProblem{rule, std::move(text)};
    XML_StopParser(parser_, static_cast<XML_Bool>(0));
  }

 private:
  void OnStart(const XML_Char* qualified, const XML_Char** atts) {
    std::string_view name(qualified);
    const std::size_t sep = name.rfind(kNamespaceSeparator);
    const std::string_view ns = sep == std::string_view::npos ? "" : name.substr(0, sep);
    const std::string_view local = sep == std::string_view::npos ? name : name.substr(sep + 1);
    if (depth_++ == 0) {
      if (ns != kXhtmlNamespace || local != "div") {
        Fail(false, "the narrative must be a <div> in the XHTML namespace (" +
                        std::string(kXhtmlNamespace) + ")");
        return;
      }
    } else if (ns != kXhtmlNamespace) {
      Fail(true, "element <" + std::string(local) + "> is not in the XHTML namespace (txt-1)");
      return;
    } else if (!Allowed(local, kElements)) {
      Fail(true, "element <" + std::string(local) + "> is not allowed in a narrative (txt-1)");
      return;
    }
    if (local == "img") content_ = true;
    for (std::size_t i = 0; atts[i] != nullptr; i += 2) {
      const std::string_view attribute(atts[i]);
      if (attribute == kXmlLang) continue;
      if (!Allowed(attribute, kAttributes)) {
        Fail(true, "attribute '" + std::string(attribute) + "' of <" + std::string(local) +
                       "> is not allowed in a narrative (txt-1)");
        return;
      }
      if ((attribute == "href" || attribute == "src") && IsScriptUrl(atts[i + 1])) {
        Fail(true, "attribute '" + std::string(attribute) + "' of <" + std::string(local) +
                       "> must not be a script URL (txt-1)");
        return;
      }
    }
  }

  XML_Parser parser_;
  int depth_ = 0;
  bool content_ = false;
  std::optional<NarrativeProblem> problem_;
};

struct ParserFree {
  void operator()(XML_Parser p) const { XML_ParserFree(p); }
};

}  // namespace

std::optional<NarrativeProblem> CheckNarrative(std::string_view div) {
  if (div.size() > static_cast<std::size_t>(INT_MAX)) {
    return NarrativeProblem{false, "the narrative is too large"};
  }
  std::unique_ptr<XML_ParserStruct, ParserFree> parser(
      XML_ParserCreateNS("UTF-8", kNamespaceSeparator));
  if (!parser) return NarrativeProblem{false, "out of memory"};
  Checker checker(parser.get());
  XML_SetUserData(parser.get(), &checker);
  XML_SetElementHandler(parser.get(), &Checker::Start, &Checker::End);
  XML_SetCharacterDataHandler(parser.get(), &Checker::Characters);
  XML_SetStartDoctypeDeclHandler(parser.get(), &Checker::Doctype);
  XML_SetProcessingInstructionHandler(parser.get(), &Checker::Instruction);
  const XML_Status status =
      XML_Parse(parser.get(), div.data(), static_cast<int>(div.size()), XML_TRUE);
  if (checker.problem()) return checker.problem();
  if (status != XML_STATUS_OK) {
    return NarrativeProblem{
        false, std::string("the narrative is not well-formed XHTML: ") +
                   XML_ErrorString(XML_GetErrorCode(parser.get())) + " (line " +
                   std::to_string(XML_GetCurrentLineNumber(parser.get())) + ", column " +
                   std::to_string(XML_GetCurrentColumnNumber(parser.get()) + 1) + ")"};
  }
  if (!checker.content()) {
    return NarrativeProblem{true, "the narrative has no content other than whitespace (txt-2)"};
  }
  return std::nullopt;
}

}  // namespace fhir::xhtml
