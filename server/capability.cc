#include "server/capability.h"

#include <time.h>

#include <cstdio>
#include <ctime>
#include <string_view>
#include <utility>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "fhir/model/registry.h"
#include "fhir/search/search_registry.h"

namespace server {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void WriteString(Writer& writer, std::string_view text) {
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

void WriteMember(Writer& writer, std::string_view key, std::string_view value) {
  writer.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  WriteString(writer, value);
}

const char* SearchTypeName(fhir::SearchParamType type) {
  switch (type) {
    case fhir::SearchParamType::kNumber:
      return "number";
    case fhir::SearchParamType::kDate:
      return "date";
    case fhir::SearchParamType::kString:
      return "string";
    case fhir::SearchParamType::kToken:
      return "token";
    case fhir::SearchParamType::kReference:
      return "reference";
    case fhir::SearchParamType::kQuantity:
      return "quantity";
    case fhir::SearchParamType::kUri:
      return "uri";
    case fhir::SearchParamType::kComposite:
      return "composite";
    case fhir::SearchParamType::kSpecial:
      return nullptr;
  }
  return nullptr;
}

const char* ModifiersOf(fhir::SearchParamType type) {
  switch (type) {
    case fhir::SearchParamType::kString:
      return "Modifiers: :exact, :contains, :missing. Case- and accent-insensitive prefix match.";
    case fhir::SearchParamType::kToken:
      return "Modifiers: :not, :text, :of-type (Identifier), :missing, :in and :not-in (ValueSets "
             "stored on this server), :above and :below (system|code in a stored CodeSystem "
             "with an is-a hierarchy).";
    case fhir::SearchParamType::kReference:
      return "Modifiers: :[type], :identifier, :missing; chaining (several hops) and _has.";
    case fhir::SearchParamType::kUri:
      return "Modifiers: :above, :below, :missing.";
    case fhir::SearchParamType::kComposite:
      return "Components separated by $ (\\$ escapes), matched on the same element; prefixes "
             "on date, number and quantity components. Modifier: :missing.";
    default:
      return "Prefixes: eq, ne, gt, lt, ge, le, sa, eb, ap. Modifier: :missing.";
  }
}

// What every resource type supports (rest.resource minus `type`), in element order.
void WriteRestResource(Writer& writer, std::string_view type) {
  writer.Key("interaction");
  writer.StartArray();
  for (const char* code : {"read", "vread", "update", "patch", "delete", "history-instance",
                           "history-type", "create", "search-type"}) {
    writer.StartObject();
    WriteMember(writer, "code", code);
    writer.EndObject();
  }
  writer.EndArray();
  WriteMember(writer, "versioning", "versioned-update");
  writer.Key("readHistory");
  writer.Bool(true);
  writer.Key("updateCreate");
  writer.Bool(true);
  writer.Key("conditionalCreate");
  writer.Bool(true);
  WriteMember(writer, "conditionalRead", "full-support");
  writer.Key("conditionalUpdate");
  writer.Bool(true);
  WriteMember(writer, "conditionalDelete", "single");
  writer.Key("searchParam");
  writer.StartArray();
  // Exactly the parameters the search engine answers (fhir/search, server/search): every R4
  // parameter of the type except special ones (and composites whose components are unknown).
  for (const fhir::search::BoundParam& param : fhir::search::SearchRegistry::Get().ForType(type)) {
    const fhir::SearchParameterDef& def = *param.def;
    const char* kind = SearchTypeName(def.type);
    if (kind == nullptr) continue;
    if (param.expression.empty() && def.code != "_id" && def.code != "_lastUpdated") continue;
    if (def.type == fhir::SearchParamType::kComposite && param.components.empty()) continue;
    writer.StartObject();
    WriteMember(writer, "name", def.code);
    WriteMember(writer, "definition", def.url);
    WriteMember(writer, "type", kind);
    WriteMember(writer, "documentation", ModifiersOf(def.type));
    writer.EndObject();
  }
  writer.EndArray();
}

// rest.security for SMART on FHIR (http://hl7.org/fhir/smart-app-launch/conformance.html).
void WriteSecurity(Writer& writer, const CapabilityInput& input) {
  writer.Key("security");
  writer.StartObject();
  if (!input.authorize_url.empty() || !input.token_url.empty()) {
    writer.Key("extension");
    writer.StartArray();
    writer.StartObject();
    WriteMember(writer, "url",
                "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris");
    writer.Key("extension");
    writer.StartArray();
    for (const auto& [name, url] :
         {std::pair<const char*, const std::string*>{"authorize", &input.authorize_url},
          std::pair<const char*, const std::string*>{"token", &input.token_url}}) {
      if (url->empty()) continue;
      writer.StartObject();
      WriteMember(writer, "url", name);
      WriteMember(writer, "valueUri", *url);
      writer.EndObject();
    }
    writer.EndArray();
    writer.EndObject();
    writer.EndArray();
  }
  writer.Key("service");
  writer.StartArray();
  writer.StartObject();
  writer.Key("coding");
  writer.StartArray();
  writer.StartObject();
  WriteMember(writer, "system", "http://terminology.hl7.org/CodeSystem/restful-security-service");
  WriteMember(writer, "code", "SMART-on-FHIR");
  writer.EndObject();
  writer.EndArray();
  WriteMember(writer, "text", "OAuth2 bearer tokens with SMART on FHIR scopes");
  writer.EndObject();
  writer.EndArray();
  WriteMember(writer, "description",
              "Every request but metadata and .well-known/smart-configuration needs a bearer "
              "JWT (RS256, ES256 or HS256); SMART v1 and v2 resource scopes bound what it may "
              "do. See /.well-known/smart-configuration.");
  writer.EndObject();
}

}  // namespace

std::string CapabilityStatementJson(const CapabilityInput& input) {
  rapidjson::StringBuffer buffer;
  Writer writer(buffer);
  // Members in the order of the R4 element definitions, as canonical FHIR JSON has them.
  writer.StartObject();
  WriteMember(writer, "resourceType", "CapabilityStatement");
  WriteMember(writer, "status", "active");
  WriteMember(writer, "date", input.start_instant);
  WriteMember(writer, "kind", "instance");

  writer.Key("software");
  writer.StartObject();
  WriteMember(writer, "name", "fhir-server");
  if (!input.software_version.empty()) WriteMember(writer, "version", input.software_version);
  writer.EndObject();

  // kind = instance requires an implementation (cpb-14), whose description is 1..1.
  writer.Key("implementation");
  writer.StartObject();
  WriteMember(writer, "description", "fhir-server FHIR R4 endpoint");
  if (!input.base_url.empty()) WriteMember(writer, "url", input.base_url);
  writer.EndObject();

  WriteMember(writer, "fhirVersion", "4.0.1");
  writer.Key("format");
  writer.StartArray();
  WriteString(writer, "application/fhir+json");
  WriteString(writer, "json");
  writer.EndArray();

  writer.Key("rest");
  writer.StartArray();
  writer.StartObject();
  WriteMember(writer, "mode", "server");
  if (input.smart_security) WriteSecurity(writer, input);
  // FHIR JSON forbids empty arrays, so no types means no "resource" member at all.
  if (!input.resource_types.empty()) {
    writer.Key("resource");
    writer.StartArray();
    for (const std::string& type : input.resource_types) {
      writer.StartObject();
      WriteMember(writer, "type", type);
      if (input.rest_interactions) WriteRestResource(writer, type);
      writer.EndObject();
    }
    writer.EndArray();
  }
  if (input.rest_interactions) {
    writer.Key("interaction");
    writer.StartArray();
    for (const char* code : {"transaction", "batch", "search-system", "history-system"}) {
      writer.StartObject();
      WriteMember(writer, "code", code);
      writer.EndObject();
    }
    writer.EndArray();
    // Compartment searches (GET Patient/123/Immunization, GET Patient/123/*) work for each.
    writer.Key("compartment");
    writer.StartArray();
    for (const fhir::CompartmentDef& def : fhir::AllCompartments()) WriteString(writer, def.url);
    writer.EndArray();
  }
  writer.EndObject();
  writer.EndArray();
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string FormatInstant(std::chrono::system_clock::time_point time) {
  const auto since_epoch = time.time_since_epoch();
  const auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds);
  const std::time_t t = static_cast<std::time_t>(seconds.count());
  std::tm utc{};
  gmtime_r(&t, &utc);  // std::gmtime shares a static buffer between threads.
  char text[32];
  const size_t length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, ".%03dZ", static_cast<int>(millis.count()));
  return std::string(text, length) + fraction;
}

}  // namespace server
