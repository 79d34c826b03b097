#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "fhir/model/reflection.h"
#include "fhir/r4/resource.h"
#include "fhir/xml/xml_reader.h"

namespace fhir::xml {

// Called for every node the writer makes from a model value: `type` and `object` as a FHIRPath
// Value::Element names them (a primitive's Primitive<V>, a complex or backbone struct, a
// resource's fhir::Resource), `path` the child indices from the root element to the node (for
// a resource inside a wrapper element such as <contained>, the path of the resource's own
// element).
using NodeCallback = std::function<void(const TypeInfo& type, const void* object,
                                        std::span<const std::size_t> path)>;

// The R4 XML form (http://hl7.org/fhir/R4/xml.html) of `resource` as an element tree, in the
// order of the definitions, through the reflection metadata. Narrative divs are carried as
// `verbatim` text. ParseXmlResourceElement(ResourceToXml(r)) gives back r.
XmlElement ResourceToXml(const Resource& resource, const NodeCallback& on_node = {});

// An element named `name` holding `object`, a value of the primitive, complex or backbone type
// `type` (a Primitive<V>* for primitives). An xhtml primitive becomes a verbatim div.
XmlElement ValueToXml(std::string_view name, const TypeInfo& type, const void* object);

// The R4 XML text of `resource` (no XML declaration).
std::string WriteXmlResource(const Resource& resource);

}  // namespace fhir::xml
