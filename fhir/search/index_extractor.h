#pragma once

#include "fhir/search/index_entries.h"

namespace fhir {
class Resource;
}

namespace fhir::search {

// Evaluates every R4 SearchParameter of the resource's type (SearchRegistry) on `resource` and
// turns the nodes found into index entries by parameter type: string (HumanName and Address
// parts, normalised and exact), token (code, Coding, CodeableConcept, Identifier with its type,
// ContactPoint, boolean, id/uri/string), date (date/dateTime/instant, Period, Timing), number,
// quantity (Quantity and its profiles, Money, Range), reference (Reference, canonical, uri;
// with target type, id, version, absolute URL, identifier), uri, and composite (each
// component's values on the same element the composite's expression selects, in every
// combination). Special parameters are not indexed. An expression the FHIRPath engine cannot
// evaluate indexes nothing (never fails a write); tests check that every R4 expression
// evaluates.
IndexEntries ExtractIndexEntries(const Resource& resource);

}  // namespace fhir::search
