#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fhir/base/status.h"
#include "server/auth/principal.h"

namespace server::auth {

// base64url without padding (RFC 4648 section 5, as JWS uses it), on OpenSSL's EVP base64.
std::string Base64UrlEncode(std::string_view bytes);
// Decodes unpadded base64url; nullopt for any other character, trailing '=', or a length
// that no encoding has (4n+1).
std::optional<std::string> Base64UrlDecode(std::string_view text);

// What a verifier accepts. A token must be signed by one of the keys: HS256 with `hs256_secret`
// (when non-empty), RS256 or ES256 with a key of `jwks` (a JWK Set, RFC 7517).
struct VerifierOptions {
  std::string hs256_secret;
  std::string jwks_json;  // "" = no public keys
  std::string issuer;     // when non-empty, `iss` must equal it
  std::string audience;   // when non-empty, `aud` (a string or an array) must contain it
  // Clock skew allowed between the token issuer and this server, for `exp` and `nbf`.
  std::chrono::seconds leeway{60};
};

// Why a token was refused: RFC 6750 error code and a human description (printable ASCII
// without '"' or '\', so that it can go into WWW-Authenticate).
struct TokenError {
  std::string error = "invalid_token";
  std::string description;
};

// Verifies compact JWS bearer tokens (RFC 7515/7519) and turns their claims into a Principal.
// Rules, each failure a TokenError:
//   - three base64url parts; header and payload JSON objects; header `typ`, when present, JWT
//   - header `alg` HS256, RS256 or ES256 ("none" and everything else refused); HS256 only with
//     a configured secret; RS256/ES256 only with a JWK of that type (RSA; EC on P-256), chosen
//     by `kid`. Without `kid` the token is accepted only when the JWKS holds exactly one key
//     usable for its alg. A JWK with `alg` must match; a JWK with `use` must be "sig".
//   - signature valid (ES256: the 64-byte JWS r||s form)
//   - `exp` required, a number, now < exp + leeway; `nbf`, when present, now >= nbf - leeway
//   - `iss` / `aud` as VerifierOptions says
//   - `sub` a non-empty string; `scope`, `fhirUser`, `patient`, `purpose_of_use`, when present,
//     strings (purpose_of_use a code: letters, digits, '-', '_', '.').
// Thread-safe after construction: Verify() is const and the keys are immutable.
class TokenVerifier {
 public:
  ~TokenVerifier();
  TokenVerifier(const TokenVerifier&) = delete;
  TokenVerifier& operator=(const TokenVerifier&) = delete;

  // Fails (IssueType kValue) on a JWKS that is not JSON, has no `keys` array, or holds a key
  // that cannot be loaded; keys of other types (oct, OKP, EC on other curves) are skipped.
  static fhir::Result<std::unique_ptr<TokenVerifier>> Create(VerifierOptions options);

  // `now` is the verification time (a parameter for tests).
  std::optional<TokenError> Verify(std::string_view token,
                                   std::chrono::system_clock::time_point now,
                                   Principal& principal) const;

  const VerifierOptions& options() const { return options_; }
  size_t key_count() const;

  struct Key;  // a loaded JWK (defined in the .cc)

 private:
  explicit TokenVerifier(VerifierOptions options);

  VerifierOptions options_;
  std::vector<std::unique_ptr<Key>> keys_;
};

}  // namespace server::auth
