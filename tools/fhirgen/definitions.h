#pragma once

// The generator's view of the R4 definitions: which C++ structs to emit, with which fields.

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace fhirgen {

enum class Shape { kSystemString, kSingle, kRepeated, kChoice };

struct Struct;

struct Constraint {
  std::string key, severity, human, expression, path;
};

struct Field {
  std::string json_name;  // "birthDate"; for a choice "deceased"
  std::string cpp_name;   // "birth_date"
  Shape shape = Shape::kSingle;
  std::string type;                // FHIR type code: "date", "HumanName", "Resource"; "" if nested
  Struct* nested = nullptr;        // BackboneElement / Element with children, contentReference
  std::vector<std::string> choices;  // the choice alternatives' type codes
  int min = 0;
  int max = 1;  // -1 = "*"
  bool summary = false, modifier = false;
  std::string binding_strength, value_set;
  std::string system_format;  // for kSystemString: "string", "id", "uri"
  bool inherited = false;     // a member of a base resource class
};

enum class StructKind { kComplex, kBackbone, kResource };

struct Struct {
  std::string fhir_name;     // "Patient", "Patient.contact"
  std::string cpp_name;      // "Contact"
  std::string qualified;     // "Patient::Contact"
  std::string reflect_name;  // "Patient_Contact"
  StructKind kind = StructKind::kComplex;
  bool is_abstract = false;
  std::string base;  // resources: the base resource's name ("DomainResource"), else ""
  std::vector<Field> fields;
  std::vector<std::unique_ptr<Struct>> nested;
  std::vector<Constraint> constraints;
};

struct ValueSetCodes {
  std::string url;
  std::string symbol;  // C++ identifier of its CodeList
  std::vector<std::string> codes;  // sorted
};

struct SearchParam {
  std::string url, code, type, expression;
  std::vector<std::string> base, target;
  std::vector<std::pair<std::string, std::string>> components;  // (definition, expression)
};

struct Compartment {
  std::string code;
  std::string url;  // the CompartmentDefinition's canonical URL
  std::vector<std::pair<std::string, std::vector<std::string>>> members;  // (type, params)
};

struct Definitions {
  std::vector<std::string> primitives;          // "boolean", "date", ... sorted
  std::vector<std::unique_ptr<Struct>> datatypes;  // complex types, sorted by name
  std::vector<std::unique_ptr<Struct>> resources;  // Resource, DomainResource, then the rest
  std::map<std::string, ValueSetCodes> value_sets;  // enumerable required ValueSets by URL
  // search-parameters.json, when the definitions directory has it; sorted by URL.
  bool has_search_params = false;
  std::vector<SearchParam> search_params;
  std::vector<Compartment> compartments;  // compartments.json, sorted by code
};

// Reads structure-definitions.json, terminology.json and (if present) search-parameters.json
// from `dir` (see
// tools/spec/extract_r4.py). Exits the process with a message on malformed input.
Definitions LoadDefinitions(const std::string& dir);

// "birthDate" -> "birth_date"; C++ keywords get a trailing underscore ("class_").
std::string SnakeCase(const std::string& json_name);
// "dateTime" -> "DateTime".
std::string UpperFirst(const std::string& s);

}  // namespace fhirgen
