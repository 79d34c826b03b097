#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fhir/base/status.h"
#include "fhir/model/reflection.h"

namespace fhir {
class Resource;
}

namespace fhir::fhirpath {

// FHIRPath (http://hl7.org/fhirpath/N1/) as FHIR R4 uses it: SearchParameter expressions,
// invariants, FHIRPath Patch. Resources are walked through the generated reflection metadata
// (fhir/model/reflection.h), never through per-type code.
//
// This header is the contract other modules (search indexing in storage/ and server/, FHIRPath
// Patch, profile validation) build on; extend it, do not change what is here.

// One item of a FHIRPath collection: an element of a model (a FHIR-typed node) or a System value
// made by the expression (a literal, the result of a function or operator).
class Value {
 public:
  enum class Kind : std::uint8_t {
    kElement,   // a node of a resource: type() and object() describe it
    kBoolean,   // System.Boolean: boolean()
    kInteger,   // System.Integer: integer()
    kDecimal,   // System.Decimal: text() is the decimal's text ("1.50")
    kString,    // System.String: text()
    kDate,      // System.Date: text() in FHIR date syntax ("2012", "2012-05", "2012-05-01")
    kDateTime,  // System.DateTime: text() in FHIR dateTime syntax, without the leading '@'
    kTime,      // System.Time: text() "hh:mm:ss(.sss)" without the leading "@T"
    kQuantity,  // System.Quantity: text() is the number, unit() the unit ("mg", "'wk'" as 'wk')
  };

  // A FHIR-typed node. `object` is what reflection describes for `type`:
  //   primitive type  -> a fhir::Primitive<V>* (its value may be absent: extension-only)
  //   complex/backbone -> the struct (e.g. fhir::HumanName*)
  //   resource        -> the concrete resource (fhir::Resource*, type == &resource.type_info())
  // `object` is nullptr only for a resource stub from resolve() without a resolver (see below).
  static Value Element(const TypeInfo* type, const void* object);
  static Value Boolean(bool value);
  static Value Integer(std::int64_t value);
  static Value Decimal(std::string text);
  static Value String(std::string text);
  static Value Date(std::string text);
  static Value DateTime(std::string text);
  static Value Time(std::string text);
  static Value Quantity(std::string number, std::string unit);

  Kind kind() const { return kind_; }
  const TypeInfo* type() const { return type_; }
  const void* object() const { return object_; }
  bool boolean() const { return integer_ != 0; }
  std::int64_t integer() const { return integer_; }
  const std::string& text() const { return text_; }
  const std::string& unit() const { return unit_; }

 private:
  Kind kind_ = Kind::kBoolean;
  const TypeInfo* type_ = nullptr;
  const void* object_ = nullptr;
  std::int64_t integer_ = 0;
  std::string text_;
  std::string unit_;
};

using Collection = std::vector<Value>;

// A parsed expression; immutable and safe to share between threads.
class Expression {
 public:
  virtual ~Expression() = default;
  virtual const std::string& text() const = 0;
};

// Parses `text`; a syntax error is a Status naming the position (IssueType kInvalid).
Result<std::shared_ptr<const Expression>> Parse(std::string_view text);

// Parse() through a process-wide thread-safe cache keyed by the text (search parameters and
// invariants are parsed once).
Result<std::shared_ptr<const Expression>> ParseCached(std::string_view text);

struct Environment {
  // %resource / %rootResource; when null, the resource the evaluation starts from.
  const Resource* resource = nullptr;
  const Resource* root_resource = nullptr;
  // resolve(): maps a reference string (Reference.reference, canonical) to a resource, or
  // nullptr when it cannot be resolved. When unset, resolve() yields for each literal reference
  // "Type/id" (relative or absolute, optionally with _history) a stub Value::Element(type of
  // Type, nullptr), so that `resolve() is Patient` and `resolve().ofType(Patient)` work when
  // indexing without reading other resources; "#id" resolves to the contained resource.
  std::function<const Resource*(std::string_view reference)> resolve;
  // Further %variables (%ucum, %sct, %loinc, %vs-..., %ext-... are predefined by the engine).
  std::vector<std::pair<std::string, Collection>> variables;
  // Errors for ambiguous or invalid paths (e.g. a name that is not an element of the type)
  // instead of an empty result: the suite's mode="strict".
  bool strict = false;
  // For search indexing: `|` and union() drop only the same element of the resource, or a
  // System value of the same kind and text (1.0 and 1.00 both stay), in linear time instead of
  // comparing every item with every other (`Observation | Observation.component` of an
  // Observation with 12,000 components was 72 million deep comparisons). Duplicates left are
  // the same index values.
  bool union_by_identity = false;
};

// Evaluates `expression` with `context` as the input collection ($this at the top).
Result<Collection> Evaluate(const Expression& expression, const Collection& context,
                            const Environment& environment = {});

// Convenience: evaluate on a resource (context = that resource, %resource = it unless set).
Result<Collection> Evaluate(const Expression& expression, const Resource& resource,
                            const Environment& environment = {});

// Evaluation errors are Statuses: kProcessing for execution errors (an operator or function
// given several items where it needs one, arithmetic on strings, an unknown type in as()/ofType,
// runaway repeat() or string growth), kInvalid for unknown %variables and, in strict mode, names
// that are not elements of their type, kNotSupported for functions the engine does not implement
// (conformsTo() of a non-core profile, subsumes(), slice(), ...). Evaluation never throws.
// Outside strict mode, as() on several items filters like ofType() (R4's dom-3 invariant
// relies on it), and typed choice names (`valueQuantity`) are accepted.

// --- Helpers for users of results (search indexing, FHIRPath Patch, the suite runner) --------

// The System value of a FHIR primitive element (FHIR.date -> System.Date, FHIR.code ->
// System.String, ...) and of a Quantity-typed element (Quantity, Age, Duration, ...: its value
// with the UCUM code, else the unit); `value` itself when it is already a System value; nullopt
// for a primitive without a value (extension only) and for other complex elements.
std::optional<Value> ToSystemValue(const Value& value);

// The qualified type name: "FHIR.code", "FHIR.Patient", "FHIR.Patient.contact", "System.String".
std::string TypeName(const Value& value);

// The text toString() gives: "true", "1.50", "2012-05-01", "1 'mg'", "4 days"; nullopt for
// complex elements and primitives without a value.
std::optional<std::string> ToText(const Value& value);

}  // namespace fhir::fhirpath
