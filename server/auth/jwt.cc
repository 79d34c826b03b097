#include "server/auth/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>

#include <cmath>
#include <utility>

#include <rapidjson/document.h>

namespace server::auth {

struct TokenVerifier::Key {
  std::string kid;
  std::string alg;  // RS256 or ES256: what the key type allows (and its `alg`, if it had one)
  EVP_PKEY* pkey = nullptr;
  ~Key() { EVP_PKEY_free(pkey); }
};

namespace {

using Json = rapidjson::Document;

struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct BldFree {
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct CtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct SigFree {
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

TokenError Invalid(std::string description) { return {"invalid_token", std::move(description)}; }

// Loads one key from the JWK parameters; kty/crv already checked.
fhir::Result<EVP_PKEY*> FromData(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0) {
    return fhir::Status(fhir::IssueType::kValue, "OpenSSL rejected the key parameters");
  }
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) <= 0) {
    EVP_PKEY_free(pkey);
    return fhir::Status(fhir::IssueType::kValue, "the public key is not valid");
  }
  return pkey;
}

std::optional<std::string> MemberBytes(const rapidjson::Value& jwk, const char* name) {
  auto it = jwk.FindMember(name);
  if (it == jwk.MemberEnd() || !it->value.IsString()) return std::nullopt;
  return Base64UrlDecode(std::string_view(it->value.GetString(), it->value.GetStringLength()));
}

std::string MemberString(const rapidjson::Value& object, const char* name) {
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsString()) return "";
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

fhir::Result<EVP_PKEY*> LoadRsa(const rapidjson::Value& jwk) {
  const std::optional<std::string> n = MemberBytes(jwk, "n");
  const std::optional<std::string> e = MemberBytes(jwk, "e");
  if (!n || !e || n->empty() || e->empty()) {
    return fhir::Status(fhir::IssueType::kValue, "an RSA key needs base64url n and e");
  }
  std::unique_ptr<BIGNUM, BnFree> bn_n(BN_bin2bn(Bytes(*n), static_cast<int>(n->size()), nullptr));
  std::unique_ptr<BIGNUM, BnFree> bn_e(BN_bin2bn(Bytes(*e), static_cast<int>(e->size()), nullptr));
  if (!bn_n || !bn_e) return fhir::Status(fhir::IssueType::kValue, "bad RSA n or e");
  if (BN_num_bits(bn_n.get()) < 2048) {
    return fhir::Status(fhir::IssueType::kValue, "RSA keys need at least 2048 bits");
  }
  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get())) {
    return fhir::Status(fhir::IssueType::kValue, "cannot build the RSA key");
  }
  return FromData("RSA", bld.get());
}

fhir::Result<EVP_PKEY*> LoadP256(const rapidjson::Value& jwk) {
  const std::optional<std::string> x = MemberBytes(jwk, "x");
  const std::optional<std::string> y = MemberBytes(jwk, "y");
  if (!x || !y || x->size() != 32 || y->size() != 32) {
    return fhir::Status(fhir::IssueType::kValue,
                        "a P-256 key needs base64url x and y of 32 bytes each");
  }
  const std::string point = "\x04" + *x + *y;  // SEC 1 uncompressed form
  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                        point.size())) {
    return fhir::Status(fhir::IssueType::kValue, "cannot build the EC key");
  }
  return FromData("EC", bld.get());
}

bool VerifyDigest(EVP_PKEY* pkey, std::string_view input, std::string_view signature) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), Bytes(signature), signature.size(), Bytes(input),
                          input.size()) == 1;
}

// JWS ES256 signatures are r||s, 32 bytes each (RFC 7518 section 3.4); EVP wants DER.
std::optional<std::string> EcdsaDer(std::string_view raw) {
  if (raw.size() != 64) return std::nullopt;
  std::unique_ptr<ECDSA_SIG, SigFree> sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(Bytes(raw), 32, nullptr);
  BIGNUM* s = BN_bin2bn(Bytes(raw.substr(32)), 32, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  const int length = i2d_ECDSA_SIG(sig.get(), &der);
  if (length <= 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  return out;
}

bool VerifyHs256(std::string_view secret, std::string_view input, std::string_view signature) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), Bytes(input),
           input.size(), mac, &length) == nullptr) {
    return false;
  }
  return signature.size() == length && CRYPTO_memcmp(mac, signature.data(), length) == 0;
}

std::optional<Json> ParseObject(std::string_view text) {
  Json json;
  json.Parse(text.data(), text.size());
  if (json.HasParseError() || !json.IsObject()) return std::nullopt;
  return json;
}

// `member` as a string, "" when absent; an error when present with another JSON type.
std::optional<TokenError> OptionalString(const Json& claims, const char* name, std::string& out) {
  auto it = claims.FindMember(name);
  if (it == claims.MemberEnd()) return std::nullopt;
  if (!it->value.IsString()) return Invalid(std::string("The claim ") + name + " must be a string");
  out.assign(it->value.GetString(), it->value.GetStringLength());
  return std::nullopt;
}

std::optional<TokenError> NumericDate(const Json& claims, const char* name, bool required,
                                      std::optional<double>& out) {
  auto it = claims.FindMember(name);
  if (it == claims.MemberEnd()) {
    if (required) return Invalid(std::string("The token has no ") + name + " claim");
    return std::nullopt;
  }
  if (!it->value.IsNumber() || !std::isfinite(it->value.GetDouble())) {
    return Invalid(std::string("The claim ") + name + " must be a number (NumericDate)");
  }
  out = it->value.GetDouble();
  return std::nullopt;
}

bool IsCode(std::string_view text) {
  if (text.empty() || text.size() > 64) return false;
  for (char c : text) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

// "Patient/123" or "https://h/fhir/Patient/123" -> type "Patient", id "123".
void SplitFhirUser(std::string_view value, Principal& principal) {
  while (!value.empty() && value.back() == '/') value.remove_suffix(1);
  const size_t last = value.rfind('/');
  if (last == std::string_view::npos || last == 0) return;
  const size_t before = value.rfind('/', last - 1);
  const std::string_view type =
      before == std::string_view::npos ? value.substr(0, last) : value.substr(before + 1, last - before - 1);
  principal.fhir_user_type = std::string(type);
  principal.fhir_user_id = std::string(value.substr(last + 1));
  principal.fhir_user = principal.fhir_user_type + "/" + principal.fhir_user_id;
}

}  // namespace

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), Bytes(bytes),
                                     static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(length));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string standard(text);
  for (char& c : standard) {
    if (c == '-') {
      c = '+';
    } else if (c == '_') {
      c = '/';
    } else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
      return std::nullopt;
    }
  }
  const size_t padding = (4 - standard.size() % 4) % 4;
  standard.append(padding, '=');
  std::string out(standard.size() / 4 * 3, '\0');
  const int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                     Bytes(standard), static_cast<int>(standard.size()));
  if (length < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes.
  out.resize(static_cast<size_t>(length) - padding);
  return out;
}

TokenVerifier::TokenVerifier(VerifierOptions options) : options_(std::move(options)) {}
TokenVerifier::~TokenVerifier() = default;

size_t TokenVerifier::key_count() const { return keys_.size(); }

fhir::Result<std::unique_ptr<TokenVerifier>> TokenVerifier::Create(VerifierOptions options) {
  std::unique_ptr<TokenVerifier> verifier(new TokenVerifier(std::move(options)));
  const std::string& jwks = verifier->options_.jwks_json;
  if (jwks.empty()) return verifier;
  const std::optional<Json> set = ParseObject(jwks);
  if (!set) return fhir::Status(fhir::IssueType::kValue, "the JWKS is not a JSON object");
  auto keys = set->FindMember("keys");
  if (keys == set->MemberEnd() || !keys->value.IsArray()) {
    return fhir::Status(fhir::IssueType::kValue, "the JWKS has no \"keys\" array");
  }
  for (rapidjson::SizeType i = 0; i < keys->value.Size(); ++i) {
    const rapidjson::Value& jwk = keys->value[i];
    const std::string where = "keys[" + std::to_string(i) + "]";
    if (!jwk.IsObject()) return fhir::Status(fhir::IssueType::kValue, where + " is not an object");
    const std::string kty = MemberString(jwk, "kty");
    const std::string use = MemberString(jwk, "use");
    const std::string alg = MemberString(jwk, "alg");
    if (!use.empty() && use != "sig") continue;
    auto key = std::make_unique<Key>();
    key->kid = MemberString(jwk, "kid");
    if (kty == "RSA") {
      key->alg = "RS256";
    } else if (kty == "EC" && MemberString(jwk, "crv") == "P-256") {
      key->alg = "ES256";
    } else {
      continue;  // a key type this server does not verify with
    }
    if (!alg.empty() && alg != key->alg) continue;  // e.g. an RSA key meant for PS256
    fhir::Result<EVP_PKEY*> loaded = key->alg == "RS256" ? LoadRsa(jwk) : LoadP256(jwk);
    if (!loaded.ok()) {
      return fhir::Status(fhir::IssueType::kValue,
                          where + " (kid '" + key->kid + "'): " + loaded.status().diagnostics());
    }
    key->pkey = loaded.value();
    verifier->keys_.push_back(std::move(key));
  }
  return verifier;
}

std::optional<TokenError> TokenVerifier::Verify(std::string_view token,
                                                std::chrono::system_clock::time_point now,
                                                Principal& principal) const {
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return Invalid("The token is not a compact JWS (three base64url parts separated by dots)");
  }
  const std::string_view signing_input = token.substr(0, dot2);
  const std::optional<std::string> header_text = Base64UrlDecode(token.substr(0, dot1));
  const std::optional<std::string> payload_text =
      Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  const std::optional<std::string> signature = Base64UrlDecode(token.substr(dot2 + 1));
  if (!header_text || !payload_text || !signature) {
    return Invalid("The token has a part that is not base64url");
  }
  const std::optional<Json> header = ParseObject(*header_text);
  if (!header) return Invalid("The token header is not a JSON object");
  auto alg_member = header->FindMember("alg");
  if (alg_member == header->MemberEnd() || !alg_member->value.IsString()) {
    return Invalid("The token header has no alg");
  }
  const std::string alg = alg_member->value.GetString();
  const std::string typ = MemberString(*header, "typ");
  if (!typ.empty() && typ != "JWT" && typ != "at+jwt" && typ != "application/at+jwt") {
    return Invalid("The token header typ must be JWT");
  }
  if (header->HasMember("crit")) return Invalid("The token header has crit extensions");

  if (alg == "HS256") {
    if (options_.hs256_secret.empty()) {
      return Invalid("alg HS256 is not accepted: no shared secret is configured");
    }
    if (!VerifyHs256(options_.hs256_secret, signing_input, *signature)) {
      return Invalid("The token signature is not valid");
    }
  } else if (alg == "RS256" || alg == "ES256") {
    const std::string kid = MemberString(*header, "kid");
    const Key* key = nullptr;
    size_t candidates = 0;
    for (const std::unique_ptr<Key>& k : keys_) {
      if (k->alg != alg) continue;
      ++candidates;
      if (kid.empty() || k->kid == kid) key = k.get();
      if (!kid.empty() && k->kid == kid) break;
    }
    if (candidates == 0) return Invalid("alg " + alg + " is not accepted: the JWKS has no such key");
    if (kid.empty() && candidates > 1) {
      return Invalid("The token has no kid and the JWKS has several " + alg + " keys");
    }
    if (key == nullptr) return Invalid("No " + alg + " key in the JWKS has the token's kid");
    bool valid = false;
    if (alg == "RS256") {
      valid = VerifyDigest(key->pkey, signing_input, *signature);
    } else if (std::optional<std::string> der = EcdsaDer(*signature)) {
      valid = VerifyDigest(key->pkey, signing_input, *der);
    }
    if (!valid) return Invalid("The token signature is not valid");
  } else if (alg == "none") {
    return Invalid("alg none is not accepted: tokens must be signed");
  } else {
    return Invalid("alg " + alg + " is not supported; use HS256, RS256 or ES256");
  }

  const std::optional<Json> claims = ParseObject(*payload_text);
  if (!claims) return Invalid("The token payload is not a JSON object");
  std::optional<double> exp, nbf;
  if (auto e = NumericDate(*claims, "exp", true, exp)) return e;
  if (auto e = NumericDate(*claims, "nbf", false, nbf)) return e;
  const double seconds =
      std::chrono::duration<double>(now.time_since_epoch()).count();
  const double leeway = static_cast<double>(options_.leeway.count());
  if (seconds >= *exp + leeway) return Invalid("The token expired");
  if (nbf && seconds < *nbf - leeway) return Invalid("The token is not valid yet (nbf)");

  Principal out;
  if (auto e = OptionalString(*claims, "iss", out.issuer)) return e;
  if (!options_.issuer.empty() && out.issuer != options_.issuer) {
    return Invalid("The token issuer is not the configured one");
  }
  if (!options_.audience.empty()) {
    bool match = false;
    auto aud = claims->FindMember("aud");
    if (aud != claims->MemberEnd() && aud->value.IsString()) {
      match = aud->value.GetString() == options_.audience;
    } else if (aud != claims->MemberEnd() && aud->value.IsArray()) {
      for (const rapidjson::Value& a : aud->value.GetArray()) {
        if (a.IsString() && a.GetString() == options_.audience) match = true;
      }
    }
    if (!match) return Invalid("The token audience does not include this server");
  }
  if (auto e = OptionalString(*claims, "sub", out.subject)) return e;
  if (out.subject.empty()) return Invalid("The token has no sub claim");
  if (auto e = OptionalString(*claims, "scope", out.scope_text)) return e;
  out.scopes = ParseScopes(out.scope_text);
  std::string fhir_user;
  if (auto e = OptionalString(*claims, "fhirUser", fhir_user)) return e;
  SplitFhirUser(fhir_user, out);
  if (auto e = OptionalString(*claims, "patient", out.patient)) return e;
  std::string purpose;
  if (auto e = OptionalString(*claims, "purpose_of_use", purpose)) return e;
  if (!purpose.empty()) {
    if (!IsCode(purpose)) return Invalid("The claim purpose_of_use must be a v3 ActReason code");
    out.purpose_of_use = purpose;
  }
  if (auto e = OptionalString(*claims, "client_id", out.client_id)) return e;
  if (out.client_id.empty()) {
    if (auto e = OptionalString(*claims, "azp", out.client_id)) return e;
  }
  out.expires_at = static_cast<int64_t>(*exp);
  principal = std::move(out);
  return std::nullopt;
}

}  // namespace server::auth
