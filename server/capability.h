#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace server {

// What the CapabilityStatement describes; see CapabilityStatementJson().
struct CapabilityInput {
  std::vector<std::string> resource_types;  // one rest.resource each, in order; distinct (cpb-9)
  std::string base_url;                     // implementation.url; omitted when empty
  std::string software_version;             // software.version; omitted when empty
  std::string start_instant;  // date (1..1): when the server started, see FormatInstant()
  // Whether the REST interactions of server/rest_service.h are served (else only metadata).
  bool rest_interactions = false;
  // Bearer tokens are required (server/auth): rest.security names SMART-on-FHIR, with the
  // oauth-uris extension when an endpoint is configured.
  bool smart_security = false;
  std::string authorize_url;  // "" = not advertised
  std::string token_url;
};

// Returns a compact R4 CapabilityStatement (http://hl7.org/fhir/R4/capabilitystatement.html)
// for this server: status active, kind instance, fhirVersion 4.0.1, format
// [application/fhir+json, json], software "fhir-server", and one rest entry in mode server that
// lists each of `input.resource_types`. With `rest_interactions` each type claims read, vread,
// update, patch, delete, history-instance, history-type, create and search-type, versioned
// updates, conditional create/update/delete (single), update-as-create, and every R4 search
// parameter of the type that the search engine answers (all but composite and special ones),
// with its definition URL and the modifiers in `documentation`; the system claims transaction,
// batch, search-system and history-system. With `smart_security`, rest.security has service SMART-on-FHIR
// (http://terminology.hl7.org/CodeSystem/restful-security-service) and the
// http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris extension listing the
// configured authorize/token URLs. It claims only what works.
// REQUIRES: input.start_instant is non-empty.
std::string CapabilityStatementJson(const CapabilityInput& input);

// Returns `time` as an R4 instant in UTC with milliseconds: "2024-05-01T12:34:56.789Z".
std::string FormatInstant(std::chrono::system_clock::time_point time);

}  // namespace server
