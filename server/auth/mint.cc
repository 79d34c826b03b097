#include "server/auth/mint.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <utility>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "server/auth/jwt.h"

namespace server::auth {

struct Signer::Pkey {
  EVP_PKEY* pkey = nullptr;
  ~Pkey() { EVP_PKEY_free(pkey); }
};

namespace {

using fhir::IssueType;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct CtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct SigFree {
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

void Member(Writer& w, const char* key, std::string_view value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

// The JWS algorithm for a key: RS256 for RSA, ES256 for P-256, "" otherwise.
std::string AlgOf(EVP_PKEY* pkey) {
  if (EVP_PKEY_is_a(pkey, "RSA")) return "RS256";
  if (EVP_PKEY_is_a(pkey, "EC")) {
    char group[64] = {};
    size_t length = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &length) == 1 &&
        std::string_view(group, length) == "prime256v1") {
      return "ES256";
    }
  }
  return "";
}

// The big-endian bytes of a BIGNUM parameter, left-padded to `width` when non-zero.
std::string BnParam(EVP_PKEY* pkey, const char* name, int width) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &raw) != 1) return "";
  std::unique_ptr<BIGNUM, BnFree> bn(raw);
  const int size = width > 0 ? width : BN_num_bytes(bn.get());
  std::string out(static_cast<size_t>(size), '\0');
  if (BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(out.data()), size) != size) {
    return "";
  }
  return out;
}

std::string PemOf(EVP_PKEY* pkey, bool private_key) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio) return "";
  const int ok = private_key
                     ? PEM_write_bio_PrivateKey(bio.get(), pkey, nullptr, nullptr, 0, nullptr,
                                                nullptr)
                     : PEM_write_bio_PUBKEY(bio.get(), pkey);
  if (ok != 1) return "";
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(length));
}

}  // namespace

Signer::~Signer() = default;

fhir::Result<std::unique_ptr<Signer>> Signer::Hs256(std::string secret) {
  if (secret.empty()) return fhir::Status(IssueType::kValue, "the HS256 secret is empty");
  std::unique_ptr<Signer> signer(new Signer());
  signer->alg_ = "HS256";
  signer->secret_ = std::move(secret);
  return signer;
}

fhir::Result<std::unique_ptr<Signer>> Signer::FromPrivateKeyPem(std::string_view pem,
                                                                std::string kid) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* pkey = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (pkey == nullptr) return fhir::Status(IssueType::kValue, "not a PEM private key");
  std::unique_ptr<Signer> signer(new Signer());
  signer->pkey_ = std::make_unique<Pkey>();
  signer->pkey_->pkey = pkey;
  signer->alg_ = AlgOf(pkey);
  if (signer->alg_.empty()) {
    return fhir::Status(IssueType::kValue, "the key is neither RSA nor EC P-256");
  }
  signer->kid_ = std::move(kid);
  return signer;
}

fhir::Result<std::unique_ptr<Signer>> Signer::Generate(std::string_view alg, std::string kid) {
  const bool rsa = alg == "RS256";
  if (!rsa && alg != "ES256") {
    return fhir::Status(IssueType::kValue, "can generate RS256 or ES256 keys only");
  }
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, rsa ? "RSA" : "EC", nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) <= 0 ||
      (rsa ? EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 2048)
           : EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256")) <= 0 ||
      EVP_PKEY_generate(ctx.get(), &pkey) <= 0) {
    return fhir::Status(IssueType::kException, "key generation failed");
  }
  std::unique_ptr<Signer> signer(new Signer());
  signer->pkey_ = std::make_unique<Pkey>();
  signer->pkey_->pkey = pkey;
  signer->alg_ = std::string(alg);
  signer->kid_ = std::move(kid);
  return signer;
}

std::string Signer::HeaderJson() const {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  Member(w, "alg", alg_);
  Member(w, "typ", "JWT");
  if (!kid_.empty()) Member(w, "kid", kid_);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

fhir::Result<std::string> Signer::SignCompact(std::string_view header_json,
                                              std::string_view payload_json) const {
  const std::string input = Base64UrlEncode(header_json) + "." + Base64UrlEncode(payload_json);
  std::string signature;
  if (alg_ == "HS256") {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()), Bytes(input),
             input.size(), mac, &length) == nullptr) {
      return fhir::Status(IssueType::kException, "HMAC failed");
    }
    signature.assign(reinterpret_cast<char*>(mac), length);
  } else {
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
    size_t length = 0;
    if (!ctx ||
        EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey_->pkey) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &length, Bytes(input), input.size()) != 1) {
      return fhir::Status(IssueType::kException, "signing failed");
    }
    signature.resize(length);
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                       Bytes(input), input.size()) != 1) {
      return fhir::Status(IssueType::kException, "signing failed");
    }
    signature.resize(length);
    if (alg_ == "ES256") {  // DER -> the JWS r||s form
      const unsigned char* p = Bytes(signature);
      std::unique_ptr<ECDSA_SIG, SigFree> sig(
          d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(signature.size())));
      if (!sig) return fhir::Status(IssueType::kException, "bad ECDSA signature");
      std::string raw(64, '\0');
      auto* out = reinterpret_cast<unsigned char*>(raw.data());
      if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out, 32) != 32 ||
          BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out + 32, 32) != 32) {
        return fhir::Status(IssueType::kException, "bad ECDSA signature");
      }
      signature = std::move(raw);
    }
  }
  return input + "." + Base64UrlEncode(signature);
}

std::string Signer::JwksJson() const {
  if (!pkey_) return "";
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("keys");
  w.StartArray();
  w.StartObject();
  if (alg_ == "RS256") {
    Member(w, "kty", "RSA");
  } else {
    Member(w, "kty", "EC");
    Member(w, "crv", "P-256");
  }
  if (!kid_.empty()) Member(w, "kid", kid_);
  Member(w, "use", "sig");
  Member(w, "alg", alg_);
  if (alg_ == "RS256") {
    Member(w, "n", Base64UrlEncode(BnParam(pkey_->pkey, OSSL_PKEY_PARAM_RSA_N, 0)));
    Member(w, "e", Base64UrlEncode(BnParam(pkey_->pkey, OSSL_PKEY_PARAM_RSA_E, 0)));
  } else {
    Member(w, "x", Base64UrlEncode(BnParam(pkey_->pkey, OSSL_PKEY_PARAM_EC_PUB_X, 32)));
    Member(w, "y", Base64UrlEncode(BnParam(pkey_->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, 32)));
  }
  w.EndObject();
  w.EndArray();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string Signer::PrivateKeyPem() const { return pkey_ ? PemOf(pkey_->pkey, true) : ""; }
std::string Signer::PublicKeyPem() const { return pkey_ ? PemOf(pkey_->pkey, false) : ""; }

std::string ClaimsJson(const TokenClaims& claims) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  if (!claims.issuer.empty()) Member(w, "iss", claims.issuer);
  if (!claims.subject.empty()) Member(w, "sub", claims.subject);
  if (!claims.audience.empty()) Member(w, "aud", claims.audience);
  if (claims.expires_at) {
    w.Key("exp");
    w.Int64(*claims.expires_at);
  }
  if (claims.not_before) {
    w.Key("nbf");
    w.Int64(*claims.not_before);
  }
  if (claims.issued_at != 0) {
    w.Key("iat");
    w.Int64(claims.issued_at);
  }
  if (!claims.scope.empty()) Member(w, "scope", claims.scope);
  if (!claims.fhir_user.empty()) Member(w, "fhirUser", claims.fhir_user);
  if (!claims.patient.empty()) Member(w, "patient", claims.patient);
  if (!claims.purpose_of_use.empty()) Member(w, "purpose_of_use", claims.purpose_of_use);
  if (!claims.client_id.empty()) Member(w, "client_id", claims.client_id);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

fhir::Result<std::string> MintToken(const Signer& signer, const TokenClaims& claims) {
  return signer.SignCompact(signer.HeaderJson(), ClaimsJson(claims));
}

}  // namespace server::auth
