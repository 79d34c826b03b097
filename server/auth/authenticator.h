#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "fhir/base/status.h"
#include "server/auth/access.h"
#include "server/auth/jwt.h"
#include "server/auth/principal.h"

namespace server::auth {

// What the server publishes about its authorisation server (/.well-known/smart-configuration,
// CapabilityStatement.rest.security). The URLs come from flags; "" = not configured.
struct SmartOptions {
  std::string issuer;
  std::string authorize_url;
  std::string token_url;
};

// The outcome of authenticating one request: a principal, or a 401 to send.
struct AuthResult {
  std::shared_ptr<const Principal> principal;  // set on success
  std::string www_authenticate;                // the 401's WWW-Authenticate value
  std::string diagnostics;                     // the 401's OperationOutcome text
};

// Bearer-token authentication (RFC 6750) for the HTTP layer. Thread-safe.
class Authenticator {
 public:
  static fhir::Result<std::unique_ptr<Authenticator>> Create(VerifierOptions verifier,
                                                             SmartOptions smart);

  // `authorization` is the Authorization header value ("" when absent). No header, or one
  // with another scheme -> challenge without error code (RFC 6750 section 3.1); a bearer
  // token that fails verification -> error="invalid_token" with a description.
  AuthResult Authenticate(std::string_view authorization,
                          std::chrono::system_clock::time_point now) const;

  // The /.well-known/smart-configuration document (application/json).
  const std::string& smart_configuration_json() const { return smart_configuration_json_; }
  const SmartOptions& smart() const { return smart_; }
  const TokenVerifier& verifier() const { return *verifier_; }

 private:
  Authenticator() = default;

  std::unique_ptr<TokenVerifier> verifier_;
  SmartOptions smart_;
  std::string smart_configuration_json_;
};

// The SMART App Launch 2.0 well-known document for `smart`: issuer, authorization_endpoint and
// token_endpoint as configured (each omitted when empty), grant types and response types only
// when the matching endpoint is configured, the scopes this server understands, and the
// capabilities this resource server enforces (permission-v1, permission-v2,
// permission-patient, permission-user).
std::string SmartConfigurationJson(const SmartOptions& smart);

}  // namespace server::auth
