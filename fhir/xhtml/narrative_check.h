#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace fhir::xhtml {

// What is wrong with a Narrative.div (http://hl7.org/fhir/R4/narrative.html#xhtml).
struct NarrativeProblem {
  // True when the XHTML is well-formed but breaks a rule of the narrative (txt-1: only the basic
  // formatting elements and attributes of HTML 4, no scripts, forms, frames, objects or event
  // attributes; txt-2: some non-whitespace content); false when it is not well-formed XML, or
  // not a <div> in the XHTML namespace.
  bool rule = false;
  std::string text;
};

// Checks `div`, the XHTML of a Narrative, as the R4 invariants txt-1 and txt-2 ask (the
// invariant's FHIRPath function htmlChecks() is this check). Only the five XML entities and
// character references are allowed (no DOCTYPE, so no HTML entities such as &nbsp;), nor
// processing instructions; `href` and `src` must not use the javascript: scheme. nullopt when
// `div` is acceptable.
std::optional<NarrativeProblem> CheckNarrative(std::string_view div);

}  // namespace fhir::xhtml
