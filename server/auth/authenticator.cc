#include "server/auth/authenticator.h"

#include <utility>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace server::auth {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

std::string BaseChallenge() { return "Bearer realm=\"" + std::string(kRealm) + "\""; }

bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

void Member(Writer& w, const char* key, std::string_view value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void Strings(Writer& w, const char* key, std::initializer_list<std::string_view> values) {
  w.Key(key);
  w.StartArray();
  for (std::string_view v : values) w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  w.EndArray();
}

}  // namespace

fhir::Result<std::unique_ptr<Authenticator>> Authenticator::Create(VerifierOptions verifier,
                                                                   SmartOptions smart) {
  FHIR_ASSIGN_OR_RETURN(std::unique_ptr<TokenVerifier> loaded,
                        TokenVerifier::Create(std::move(verifier)));
  std::unique_ptr<Authenticator> out(new Authenticator());
  out->verifier_ = std::move(loaded);
  out->smart_configuration_json_ = SmartConfigurationJson(smart);
  out->smart_ = std::move(smart);
  return out;
}

AuthResult Authenticator::Authenticate(std::string_view authorization,
                                       std::chrono::system_clock::time_point now) const {
  AuthResult result;
  while (!authorization.empty() && authorization.front() == ' ') authorization.remove_prefix(1);
  while (!authorization.empty() && authorization.back() == ' ') authorization.remove_suffix(1);
  if (!StartsWithNoCase(authorization, "bearer ")) {
    result.www_authenticate = BaseChallenge();
    result.diagnostics = authorization.empty()
                             ? "Authentication is required: send Authorization: Bearer <token>"
                             : "Only Bearer authentication is supported: send Authorization: "
                               "Bearer <token>";
    return result;
  }
  std::string_view token = authorization.substr(7);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  auto principal = std::make_shared<Principal>();
  if (std::optional<TokenError> error = verifier_->Verify(token, now, *principal)) {
    // RFC 6750 section 3: the description is printable ASCII without '"' and '\'; it may
    // echo token bytes (an unknown alg), so anything else becomes '?'.
    std::string description = error->description;
    for (char& c : description) {
      if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') c = '?';
    }
    result.www_authenticate = BaseChallenge() + ", error=\"" + error->error +
                              "\", error_description=\"" + description + "\"";
    result.diagnostics = "Invalid bearer token: " + error->description;
    return result;
  }
  result.principal = std::move(principal);
  return result;
}

std::string SmartConfigurationJson(const SmartOptions& smart) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  if (!smart.issuer.empty()) Member(w, "issuer", smart.issuer);
  if (!smart.authorize_url.empty()) Member(w, "authorization_endpoint", smart.authorize_url);
  if (!smart.token_url.empty()) Member(w, "token_endpoint", smart.token_url);
  if (!smart.authorize_url.empty() || !smart.token_url.empty()) {
    w.Key("grant_types_supported");
    w.StartArray();
    if (!smart.authorize_url.empty()) w.String("authorization_code");
    if (!smart.token_url.empty()) w.String("client_credentials");
    w.EndArray();
  }
  if (!smart.authorize_url.empty()) {
    Strings(w, "response_types_supported", {"code"});
    Strings(w, "code_challenge_methods_supported", {"S256"});
  }
  Strings(w, "scopes_supported",
          {"openid", "fhirUser", "launch/patient", "patient/*.cruds", "user/*.cruds",
           "system/*.cruds", "patient/*.read", "patient/*.write", "user/*.read", "user/*.write",
           "system/*.read", "system/*.write"});
  Strings(w, "capabilities",
          {"permission-v1", "permission-v2", "permission-patient", "permission-user"});
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace server::auth
