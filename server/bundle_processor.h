#pragma once

#include "server/rest_service.h"
#include "server/rest_types.h"

namespace server {

// POST [base] with a batch or transaction Bundle (http://hl7.org/fhir/R4/http.html#transaction).
// A batch answers each entry independently. A transaction runs in one store transaction in the
// spec's order (DELETE, POST, PUT/PATCH, GET): urn:uuid fullUrls get server ids (or the id
// found by `ifNoneExist`), references to them and conditional references
// (`Patient?identifier=sys|val`) are rewritten across the whole Bundle, and any failing entry
// rolls everything back and answers with that entry's status and OperationOutcome.
// `nested`: the request itself comes from a transaction (not allowed).
RestResponse ProcessBundle(RestService& service, const RestRequest& request, bool nested);

}  // namespace server
