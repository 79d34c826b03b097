#include "server/auth/jwt.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <doctest/doctest.h>

#include "server/auth/mint.h"

namespace server::auth {
namespace {

constexpr int64_t kNow = 1700000000;
const std::chrono::system_clock::time_point kNowTime{std::chrono::seconds(kNow)};
constexpr char kIssuer[] = "https://issuer.test";
constexpr char kAudience[] = "https://fhir.test/fhir";
constexpr char kSecret[] = "a-test-secret-of-reasonable-length";

// Keys are slow to make under the sanitizers: one of each per test run.
const Signer& RsaKey() {
  static const std::unique_ptr<Signer> signer = [] {
    auto made = Signer::Generate("RS256", "rsa-1");
    REQUIRE(made.ok());
    return std::move(made).value();
  }();
  return *signer;
}
const Signer& OtherRsaKey() {  // same kid, another key: a forger's
  static const std::unique_ptr<Signer> signer = [] {
    auto made = Signer::Generate("RS256", "rsa-1");
    REQUIRE(made.ok());
    return std::move(made).value();
  }();
  return *signer;
}
const Signer& SecondRsaKey() {
  static const std::unique_ptr<Signer> signer = [] {
    auto made = Signer::Generate("RS256", "rsa-2");
    REQUIRE(made.ok());
    return std::move(made).value();
  }();
  return *signer;
}
const Signer& EcKey() {
  static const std::unique_ptr<Signer> signer = [] {
    auto made = Signer::Generate("ES256", "ec-1");
    REQUIRE(made.ok());
    return std::move(made).value();
  }();
  return *signer;
}
const Signer& HmacKey() {
  static const std::unique_ptr<Signer> signer = [] {
    auto made = Signer::Hs256(kSecret);
    REQUIRE(made.ok());
    return std::move(made).value();
  }();
  return *signer;
}

// The "keys" member of a one-key JWKS text, to combine several.
std::string KeysOf(const Signer& signer) {
  const std::string jwks = signer.JwksJson();
  const size_t open = jwks.find('[');
  const size_t close = jwks.rfind(']');
  return jwks.substr(open + 1, close - open - 1);
}

std::string Jwks(std::initializer_list<const Signer*> signers) {
  std::string keys;
  for (const Signer* s : signers) keys += (keys.empty() ? "" : ",") + KeysOf(*s);
  return "{\"keys\":[" + keys + "]}";
}

VerifierOptions Options() {
  VerifierOptions options;
  options.hs256_secret = kSecret;
  options.jwks_json = Jwks({&RsaKey(), &EcKey()});
  options.issuer = kIssuer;
  options.audience = kAudience;
  return options;
}

std::unique_ptr<TokenVerifier> MakeVerifier(VerifierOptions options = Options()) {
  auto verifier = TokenVerifier::Create(std::move(options));
  REQUIRE_MESSAGE(verifier.ok(), verifier.status().ToString());
  return std::move(verifier).value();
}

TokenClaims Claims() {
  TokenClaims claims;
  claims.subject = "user-1";
  claims.issuer = kIssuer;
  claims.audience = kAudience;
  claims.issued_at = kNow;
  claims.expires_at = kNow + 3600;
  claims.scope = "openid fhirUser patient/Observation.rs user/*.read";
  claims.fhir_user = "Patient/123";
  return claims;
}

std::string Mint(const Signer& signer, const TokenClaims& claims = Claims()) {
  auto token = MintToken(signer, claims);
  REQUIRE(token.ok());
  return token.value();
}

std::string Sign(const Signer& signer, const std::string& header, const std::string& payload) {
  auto token = signer.SignCompact(header, payload);
  REQUIRE(token.ok());
  return token.value();
}

// The verification error's description, or "ok".
std::string Outcome(const TokenVerifier& verifier, const std::string& token,
                    Principal* out = nullptr) {
  Principal principal;
  std::optional<TokenError> error = verifier.Verify(token, kNowTime, principal);
  if (error) {
    CHECK(error->error == "invalid_token");
    return error->description;
  }
  if (out != nullptr) *out = principal;
  return "ok";
}

TEST_CASE("Base64UrlEncode and Base64UrlDecode use the URL alphabet without padding") {
  CHECK(Base64UrlEncode("") == "");
  CHECK(Base64UrlEncode("f") == "Zg");
  CHECK(Base64UrlEncode("fo") == "Zm8");
  CHECK(Base64UrlEncode("foo") == "Zm9v");
  CHECK(Base64UrlEncode("\xfb\xff\xbf") == "-_-_");
  CHECK(Base64UrlDecode("-_-_") == std::string("\xfb\xff\xbf"));
  CHECK(Base64UrlDecode("Zg") == std::string("f"));
  CHECK(Base64UrlDecode("Zm8") == std::string("fo"));
  CHECK(Base64UrlDecode("") == std::string());
  CHECK_FALSE(Base64UrlDecode("Z").has_value());      // 4n+1 characters
  CHECK_FALSE(Base64UrlDecode("Zg==").has_value());   // padding
  CHECK_FALSE(Base64UrlDecode("+/+/").has_value());   // the standard alphabet
  CHECK_FALSE(Base64UrlDecode("Zm 9v").has_value());  // whitespace
}

TEST_CASE("Valid HS256, RS256 and ES256 tokens give the principal of their claims") {
  const auto verifier = MakeVerifier();
  for (const Signer* signer : {&HmacKey(), &RsaKey(), &EcKey()}) {
    CAPTURE(signer->alg());
    Principal principal;
    REQUIRE(Outcome(*verifier, Mint(*signer), &principal) == "ok");
    CHECK(principal.subject == "user-1");
    CHECK(principal.issuer == kIssuer);
    CHECK(principal.scope_text == "openid fhirUser patient/Observation.rs user/*.read");
    REQUIRE(principal.scopes.size() == 2);
    CHECK(principal.scopes[0].text == "patient/Observation.rs");
    CHECK(principal.scopes[1].text == "user/*.read");
    CHECK(principal.fhir_user == "Patient/123");
    CHECK(principal.fhir_user_type == "Patient");
    CHECK(principal.fhir_user_id == "123");
    CHECK(principal.PatientContext() == std::optional<std::string>("123"));
    CHECK_FALSE(principal.practitioner_id().has_value());
    CHECK(principal.purpose_of_use == "TREAT");
    CHECK_FALSE(principal.IsEmergency());
    CHECK(principal.expires_at == kNow + 3600);
  }
}

TEST_CASE("An ES256 signature is the 64-byte r||s form") {
  const std::string token = Mint(EcKey());
  const std::optional<std::string> signature = Base64UrlDecode(token.substr(token.rfind('.') + 1));
  REQUIRE(signature.has_value());
  CHECK(signature->size() == 64);
}

TEST_CASE("Claims: purpose_of_use, patient, an absolute fhirUser, client_id") {
  const auto verifier = MakeVerifier();
  TokenClaims claims = Claims();
  claims.purpose_of_use = "ETREAT";
  claims.fhir_user = "https://fhir.test/fhir/Practitioner/9";
  claims.patient = "p-42";
  claims.client_id = "app-7";
  Principal principal;
  REQUIRE(Outcome(*verifier, Mint(RsaKey(), claims), &principal) == "ok");
  CHECK(principal.purpose_of_use == "ETREAT");
  CHECK(principal.IsEmergency());
  CHECK(principal.fhir_user == "Practitioner/9");
  CHECK(principal.practitioner_id() == std::optional<std::string>("9"));
  CHECK(principal.PatientContext() == std::optional<std::string>("p-42"));
  CHECK(principal.client_id == "app-7");

  claims.purpose_of_use = "E TREAT\"";
  CHECK(Outcome(*verifier, Mint(RsaKey(), claims)) ==
        "The claim purpose_of_use must be a v3 ActReason code");
  CHECK(Outcome(*verifier, Sign(RsaKey(), RsaKey().HeaderJson(),
                                "{\"sub\":\"u\",\"exp\":1700003600,\"iss\":\"https://issuer.test\","
                                "\"aud\":\"https://fhir.test/fhir\",\"scope\":[\"user/*.read\"]}")) ==
        "The claim scope must be a string");
}

TEST_CASE("exp and nbf are checked with 60 seconds of leeway") {
  const auto verifier = MakeVerifier();
  TokenClaims claims = Claims();
  claims.expires_at = kNow - 61;
  CHECK(Outcome(*verifier, Mint(HmacKey(), claims)) == "The token expired");
  claims.expires_at = kNow - 60;
  CHECK(Outcome(*verifier, Mint(HmacKey(), claims)) == "The token expired");
  claims.expires_at = kNow - 59;
  CHECK(Outcome(*verifier, Mint(HmacKey(), claims)) == "ok");
  claims.expires_at.reset();
  CHECK(Outcome(*verifier, Mint(HmacKey(), claims)) == "The token has no exp claim");

  claims = Claims();
  claims.not_before = kNow + 61;
  CHECK(Outcome(*verifier, Mint(HmacKey(), claims)) == "The token is not valid yet (nbf)");
  claims.not_before = kNow + 60;
  CHECK(Outcome(*verifier, Mint(HmacKey(), claims)) == "ok");

  VerifierOptions strict = Options();
  strict.leeway = std::chrono::seconds(0);
  claims = Claims();
  claims.expires_at = kNow;
  CHECK(Outcome(*MakeVerifier(strict), Mint(HmacKey(), claims)) == "The token expired");
  claims.expires_at = kNow + 1;
  CHECK(Outcome(*MakeVerifier(strict), Mint(HmacKey(), claims)) == "ok");
}

TEST_CASE("iss and aud must match the configuration; sub is required") {
  const auto verifier = MakeVerifier();
  TokenClaims claims = Claims();
  claims.issuer = "https://evil.test";
  CHECK(Outcome(*verifier, Mint(RsaKey(), claims)) == "The token issuer is not the configured one");
  claims.issuer = "";
  CHECK(Outcome(*verifier, Mint(RsaKey(), claims)) == "The token issuer is not the configured one");
  claims = Claims();
  claims.audience = "https://other.test/fhir";
  CHECK(Outcome(*verifier, Mint(RsaKey(), claims)) ==
        "The token audience does not include this server");
  claims.audience = "";
  CHECK(Outcome(*verifier, Mint(RsaKey(), claims)) ==
        "The token audience does not include this server");
  claims = Claims();
  claims.subject = "";
  CHECK(Outcome(*verifier, Mint(RsaKey(), claims)) == "The token has no sub claim");

  const std::string array_aud =
      "{\"iss\":\"https://issuer.test\",\"sub\":\"u\",\"aud\":[\"x\",\"https://fhir.test/fhir\"],"
      "\"exp\":1700003600}";
  CHECK(Outcome(*verifier, Sign(RsaKey(), RsaKey().HeaderJson(), array_aud)) == "ok");

  VerifierOptions open = Options();
  open.issuer.clear();
  open.audience.clear();
  claims = Claims();
  claims.issuer = "https://anyone.test";
  claims.audience = "";
  CHECK(Outcome(*MakeVerifier(open), Mint(RsaKey(), claims)) == "ok");
}

TEST_CASE("Forged and tampered signatures are refused") {
  const auto verifier = MakeVerifier();
  // Signed by another key under the trusted kid.
  CHECK(Outcome(*verifier, Mint(OtherRsaKey())) == "The token signature is not valid");
  auto other_ec = Signer::Generate("ES256", "ec-1");
  REQUIRE(other_ec.ok());
  CHECK(Outcome(*verifier, Mint(*other_ec.value())) == "The token signature is not valid");
  auto other_secret = Signer::Hs256("another-secret");
  REQUIRE(other_secret.ok());
  CHECK(Outcome(*verifier, Mint(*other_secret.value())) == "The token signature is not valid");

  // A payload swapped under a valid signature (more scopes).
  for (const Signer* signer : {&HmacKey(), &RsaKey(), &EcKey()}) {
    CAPTURE(signer->alg());
    const std::string token = Mint(*signer);
    TokenClaims wider = Claims();
    wider.scope = "system/*.cruds";
    const std::string forged = Mint(*signer, wider);
    const std::string spliced = forged.substr(0, forged.rfind('.')) + token.substr(token.rfind('.'));
    CHECK(Outcome(*verifier, spliced) == "The token signature is not valid");
    // One flipped signature character.
    std::string flipped = token;
    char& last = flipped[flipped.rfind('.') + 3];
    last = last == 'A' ? 'B' : 'A';
    CHECK(Outcome(*verifier, flipped) == "The token signature is not valid");
    // No signature at all.
    CHECK(Outcome(*verifier, token.substr(0, token.rfind('.') + 1)) ==
          "The token signature is not valid");
  }
}

TEST_CASE("alg none and unsupported algorithms are refused") {
  const auto verifier = MakeVerifier();
  const std::string payload = ClaimsJson(Claims());
  const std::string unsigned_token =
      Base64UrlEncode("{\"alg\":\"none\",\"typ\":\"JWT\"}") + "." + Base64UrlEncode(payload) + ".";
  CHECK(Outcome(*verifier, unsigned_token) == "alg none is not accepted: tokens must be signed");
  const std::string none_signed = Base64UrlEncode("{\"alg\":\"none\"}") + "." +
                                  Base64UrlEncode(payload) + "." + Base64UrlEncode("sig");
  CHECK(Outcome(*verifier, none_signed) == "alg none is not accepted: tokens must be signed");
  CHECK(Outcome(*verifier, Sign(HmacKey(), "{\"alg\":\"HS512\"}", payload)) ==
        "alg HS512 is not supported; use HS256, RS256 or ES256");
  CHECK(Outcome(*verifier, Sign(HmacKey(), "{\"typ\":\"JWT\"}", payload)) ==
        "The token header has no alg");
  CHECK(Outcome(*verifier, Sign(HmacKey(), "{\"alg\":\"HS256\",\"typ\":\"JOSE+JSON\"}", payload)) ==
        "The token header typ must be JWT");
  CHECK(Outcome(*verifier, Sign(HmacKey(), "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", payload)) ==
        "The token header has crit extensions");
}

TEST_CASE("Algorithm confusion: an alg never selects a key of another type") {
  VerifierOptions jwks_only = Options();
  jwks_only.hs256_secret.clear();
  const auto verifier = MakeVerifier(jwks_only);
  const std::string payload = ClaimsJson(Claims());
  // HS256 keyed with the RSA public key's PEM (the classic attack) and with its JWK text.
  for (const std::string& secret : {RsaKey().PublicKeyPem(), RsaKey().JwksJson()}) {
    auto confused = Signer::Hs256(secret);
    REQUIRE(confused.ok());
    CHECK(Outcome(*verifier, Sign(*confused.value(), "{\"alg\":\"HS256\",\"kid\":\"rsa-1\"}",
                                  payload)) ==
          "alg HS256 is not accepted: no shared secret is configured");
  }
  // With a secret configured too, HS256 is checked with the secret only.
  auto confused = Signer::Hs256(RsaKey().PublicKeyPem());
  REQUIRE(confused.ok());
  CHECK(Outcome(*MakeVerifier(), Sign(*confused.value(), "{\"alg\":\"HS256\",\"kid\":\"rsa-1\"}",
                                      payload)) == "The token signature is not valid");
  // An RSA signature presented as ES256 under the RSA key's kid, and the reverse.
  CHECK(Outcome(*verifier, Sign(RsaKey(), "{\"alg\":\"ES256\",\"kid\":\"rsa-1\"}", payload)) ==
        "No ES256 key in the JWKS has the token's kid");
  CHECK(Outcome(*verifier, Sign(EcKey(), "{\"alg\":\"RS256\",\"kid\":\"ec-1\"}", payload)) ==
        "No RS256 key in the JWKS has the token's kid");
  // No EC key at all.
  VerifierOptions rsa_only = jwks_only;
  rsa_only.jwks_json = Jwks({&RsaKey()});
  CHECK(Outcome(*MakeVerifier(rsa_only), Mint(EcKey())) ==
        "alg ES256 is not accepted: the JWKS has no such key");
  // A JWK whose alg says otherwise is not used for RS256.
  std::string jwks = Jwks({&RsaKey()});
  jwks.replace(jwks.find("\"RS256\""), 7, "\"PS256\"");
  rsa_only.jwks_json = jwks;
  CHECK(Outcome(*MakeVerifier(rsa_only), Mint(RsaKey())) ==
        "alg RS256 is not accepted: the JWKS has no such key");
}

TEST_CASE("kid selects the key; without kid only a single candidate key is used") {
  const std::string payload = ClaimsJson(Claims());
  VerifierOptions options = Options();
  options.jwks_json = Jwks({&RsaKey(), &SecondRsaKey(), &EcKey()});
  const auto verifier = MakeVerifier(options);
  CHECK(Outcome(*verifier, Mint(RsaKey())) == "ok");
  CHECK(Outcome(*verifier, Mint(SecondRsaKey())) == "ok");
  CHECK(Outcome(*verifier, Sign(RsaKey(), "{\"alg\":\"RS256\"}", payload)) ==
        "The token has no kid and the JWKS has several RS256 keys");
  CHECK(Outcome(*verifier, Sign(RsaKey(), "{\"alg\":\"RS256\",\"kid\":\"rsa-9\"}", payload)) ==
        "No RS256 key in the JWKS has the token's kid");
  // The kid of the other RSA key: the signature does not match that key.
  CHECK(Outcome(*verifier, Sign(RsaKey(), "{\"alg\":\"RS256\",\"kid\":\"rsa-2\"}", payload)) ==
        "The token signature is not valid");
  // One EC key: no kid needed.
  CHECK(Outcome(*verifier, Sign(EcKey(), "{\"alg\":\"ES256\"}", payload)) == "ok");
}

TEST_CASE("Malformed tokens are refused with the reason") {
  const auto verifier = MakeVerifier();
  const std::string header = Base64UrlEncode(HmacKey().HeaderJson());
  const std::string payload = Base64UrlEncode(ClaimsJson(Claims()));
  const std::string not_jws =
      "The token is not a compact JWS (three base64url parts separated by dots)";
  CHECK(Outcome(*verifier, "") == not_jws);
  CHECK(Outcome(*verifier, "abc") == not_jws);
  CHECK(Outcome(*verifier, header + "." + payload) == not_jws);
  CHECK(Outcome(*verifier, header + "." + payload + ".c.d") == not_jws);
  CHECK(Outcome(*verifier, "!!!." + payload + ".abcd") ==
        "The token has a part that is not base64url");
  CHECK(Outcome(*verifier, header + "." + payload + "=.abcd") ==
        "The token has a part that is not base64url");
  CHECK(Outcome(*verifier, Base64UrlEncode("{\"alg\":") + "." + payload + ".abcd") ==
        "The token header is not a JSON object");
  CHECK(Outcome(*verifier, Base64UrlEncode("[\"HS256\"]") + "." + payload + ".abcd") ==
        "The token header is not a JSON object");
  CHECK(Outcome(*verifier, Sign(HmacKey(), HmacKey().HeaderJson(), "{\"sub\":\"u\",")) ==
        "The token payload is not a JSON object");
  CHECK(Outcome(*verifier, Sign(HmacKey(), HmacKey().HeaderJson(), "\"just a string\"")) ==
        "The token payload is not a JSON object");
  CHECK(Outcome(*verifier, Sign(HmacKey(), HmacKey().HeaderJson(),
                                "{\"sub\":\"u\",\"exp\":\"tomorrow\"}")) ==
        "The claim exp must be a number (NumericDate)");
}

TEST_CASE("TokenVerifier::Create rejects a bad JWKS and skips keys it does not use") {
  VerifierOptions options;
  options.jwks_json = "{\"keys\":";
  auto bad = TokenVerifier::Create(options);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().diagnostics() == "the JWKS is not a JSON object");
  options.jwks_json = "{\"key\":[]}";
  bad = TokenVerifier::Create(options);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().diagnostics() == "the JWKS has no \"keys\" array");

  // A point that is not on P-256.
  options.jwks_json = "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"bad\",\"x\":\"" +
                      Base64UrlEncode(std::string(32, '\x01')) + "\",\"y\":\"" +
                      Base64UrlEncode(std::string(32, '\x02')) + "\"}]}";
  bad = TokenVerifier::Create(options);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().diagnostics().starts_with("keys[0] (kid 'bad'): "));
  options.jwks_json = "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"short\",\"x\":\"AQ\","
                      "\"y\":\"AQ\"}]}";
  bad = TokenVerifier::Create(options);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().diagnostics() ==
        "keys[0] (kid 'short'): a P-256 key needs base64url x and y of 32 bytes each");
  // A 1024-bit modulus.
  options.jwks_json = "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"small\",\"e\":\"AQAB\",\"n\":\"" +
                      Base64UrlEncode("\x80" + std::string(127, '\x01')) + "\"}]}";
  bad = TokenVerifier::Create(options);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().diagnostics() == "keys[0] (kid 'small'): RSA keys need at least 2048 bits");

  // oct, P-384 and encryption keys are skipped.
  options.jwks_json =
      "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"},{\"kty\":\"EC\",\"crv\":\"P-384\"}," +
      KeysOf(RsaKey()) + "]}";
  std::string enc = KeysOf(EcKey());
  enc.replace(enc.find("\"sig\""), 5, "\"enc\"");
  options.jwks_json.insert(options.jwks_json.size() - 2, "," + enc);
  auto good = TokenVerifier::Create(options);
  REQUIRE_MESSAGE(good.ok(), good.status().ToString());
  CHECK(good.value()->key_count() == 1);
  CHECK(Outcome(*good.value(), Mint(RsaKey())) == "ok");
  CHECK(Outcome(*good.value(), Mint(EcKey())) ==
        "alg ES256 is not accepted: the JWKS has no such key");
}

TEST_CASE("Signer::FromPrivateKeyPem signs like the key it was saved from") {
  for (const Signer* original : {&RsaKey(), &EcKey()}) {
    CAPTURE(original->alg());
    auto loaded = Signer::FromPrivateKeyPem(original->PrivateKeyPem(), original->kid());
    REQUIRE(loaded.ok());
    CHECK(loaded.value()->alg() == original->alg());
    CHECK(loaded.value()->JwksJson() == original->JwksJson());
    CHECK(Outcome(*MakeVerifier(), Mint(*loaded.value())) == "ok");
  }
  auto bad = Signer::FromPrivateKeyPem("-----BEGIN PRIVATE KEY-----\nAAAA\n", "x");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().diagnostics() == "not a PEM private key");
}

}  // namespace
}  // namespace server::auth
