#pragma once

#include <string>

namespace server::audit {

// What permitted an access, for its AuditEvent: the REST layer (Consent checks) fills it in
// RestResponse::access_basis. Empty when scopes alone decided (the resident's own record, a
// system/ scope, or authentication off).
struct AccessBasis {
  std::string consent;     // "Consent/123": the active Consent that permitted the access
  bool emergency = false;  // granted by the emergency purpose (ETREAT, break-the-glass)
  std::string reason;      // free text: why ("emergency access without Consent", ...)

  bool empty() const { return consent.empty() && !emergency && reason.empty(); }
};

}  // namespace server::audit
