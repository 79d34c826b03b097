#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fhir/base/status.h"
#include "fhir/json/parser.h"
#include "fhir/r4/resource.h"

namespace fhir::xml {

inline constexpr std::string_view kFhirNamespace = "http://hl7.org/fhir";
inline constexpr std::string_view kXhtmlNamespace = "http://www.w3.org/1999/xhtml";

struct XmlAttribute {
  std::string ns;  // namespace URI; empty for an unprefixed attribute
  std::string name;  // local name
  std::string value;
};

// An element of a parsed XML document, namespaces resolved. Text is kept as ElementTree does:
// `text` is the character data before the first child, each child's `tail` the character data
// after it, so mixed content (XHTML) keeps its order. Comments and processing instructions are
// dropped.
struct XmlElement {
  std::string ns;    // namespace URI
  std::string name;  // local name
  std::vector<XmlAttribute> attributes;
  std::vector<XmlElement> children;
  std::string text;
  std::string tail;
  int line = 0;  // where the start tag is, 1-based
  // When set, the whole element is this XML text, written unchanged by WriteXml (an XHTML div
  // taken from a model, kept byte for byte). Never set by ParseXml.
  std::optional<std::string> verbatim;

  // The unprefixed attribute `name`, or nullptr.
  const XmlAttribute* FindAttribute(std::string_view attribute_name) const;
  // The first child element named `name` (any namespace), or nullptr.
  const XmlElement* FindChild(std::string_view child_name) const;
};

// Parses an XML 1.0 document (UTF-8, UTF-16 or ISO-8859-1 as its declaration says) with expat.
// A DOCTYPE is refused (FHIR forbids them; this also shuts out entity expansion), as is nesting
// deeper than kMaxDepth. Fails with kStructure naming the line and column of malformed XML.
inline constexpr int kMaxDepth = 200;
Result<XmlElement> ParseXml(std::string_view xml);

// Writes `element` back as XML text (`verbatim` when set): the root element declares its
// namespace (`xmlns="..."`), descendants in the same namespace are unprefixed, `xml:` attributes
// keep their prefix. Text escapes & < > " and CR; attributes & < " and CR, LF, TAB (which an
// XML reader would otherwise turn into spaces). This is the form the JSON of a Narrative.div
// takes (as the HL7 tools write it).
std::string WriteXml(const XmlElement& element);

// Parses a resource from its R4 XML form (http://hl7.org/fhir/R4/xml.html): elements in the
// FHIR namespace (their order is not enforced), primitive values in `value`
// attributes, Element.id and Extension.url as attributes, Narrative.div as XHTML, resources in
// `contained`, Bundle.entry.resource, Parameters.parameter.resource (...) wrapped in an element
// named by their type, choice elements named with their type (`valueQuantity`).
//
// The XML is converted, through the reflection metadata, to the equivalent JSON and parsed by
// fhir::json::ParseResource, so every rule and error of the JSON form applies with the same
// locations (`Patient.contact[0].telecom[1].value`). Errors that only XML can have are
// reported the same way (kStructure, the location of the element at fault, the line in the
// diagnostics): an element outside the FHIR namespace, an unknown element or attribute, text
// where none is allowed, a resource wrapper without exactly one resource.
// In lenient mode unknown elements are warnings, as in JSON.
Result<std::unique_ptr<Resource>> ParseXmlResource(std::string_view xml,
                                                   const json::ParseOptions& options = {},
                                                   std::vector<Issue>* warnings = nullptr);

// The same from an already parsed element (e.g. a resource embedded in a test-case document).
Result<std::unique_ptr<Resource>> ParseXmlResourceElement(const XmlElement& element,
                                                          const json::ParseOptions& options = {},
                                                          std::vector<Issue>* warnings = nullptr);

// The JSON form of the resource in `element`, without parsing it into a model.
Result<std::string> XmlToJson(const XmlElement& element, const json::ParseOptions& options = {},
                              std::vector<Issue>* warnings = nullptr);

}  // namespace fhir::xml
