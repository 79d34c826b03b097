#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "fhir/base/status.h"

namespace server::auth {

// Makes signed JWTs for development and tests (tools/fhir-token, tests/server/auth_*): the
// same claims the verifier reads. Not used by the server itself.
class Signer {
 public:
  ~Signer();
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;

  // HS256 with a shared secret (the server's --jwt-secret).
  static fhir::Result<std::unique_ptr<Signer>> Hs256(std::string secret);
  // RS256 for an RSA key, ES256 for an EC P-256 key, from a PEM private key (PKCS#8 or
  // traditional). `kid` goes into token headers and the JWKS.
  static fhir::Result<std::unique_ptr<Signer>> FromPrivateKeyPem(std::string_view pem,
                                                                 std::string kid);
  // A fresh key: `alg` RS256 (2048-bit RSA) or ES256 (P-256).
  static fhir::Result<std::unique_ptr<Signer>> Generate(std::string_view alg, std::string kid);

  const std::string& alg() const { return alg_; }
  const std::string& kid() const { return kid_; }

  // header.payload.signature for the given JSON texts, which are used verbatim (tests pass
  // odd headers and payloads on purpose).
  fhir::Result<std::string> SignCompact(std::string_view header_json,
                                        std::string_view payload_json) const;
  // The standard header for this key: {"alg":..,"typ":"JWT"[,"kid":..]}.
  std::string HeaderJson() const;

  // {"keys":[<public JWK>]} for RS256/ES256 keys; "" for HS256.
  std::string JwksJson() const;
  // PEM of the private key / SubjectPublicKeyInfo; "" for HS256.
  std::string PrivateKeyPem() const;
  std::string PublicKeyPem() const;

 private:
  Signer() = default;

  std::string alg_;
  std::string kid_;
  std::string secret_;
  struct Pkey;
  std::unique_ptr<Pkey> pkey_;
};

// The claims fhir-token sets. Empty strings and unset optionals are left out of the payload.
struct TokenClaims {
  std::string subject;
  std::string issuer;
  std::string audience;
  std::string scope;           // space-separated
  std::string fhir_user;       // "Patient/123"
  std::string patient;         // launch context
  std::string purpose_of_use;  // "ETREAT"
  std::string client_id;
  int64_t issued_at = 0;  // iat and, unless set, the base of exp
  std::optional<int64_t> expires_at;
  std::optional<int64_t> not_before;
};

// The JSON payload of `claims` (members in a fixed order).
std::string ClaimsJson(const TokenClaims& claims);

// A signed token with the signer's standard header.
fhir::Result<std::string> MintToken(const Signer& signer, const TokenClaims& claims);

}  // namespace server::auth
