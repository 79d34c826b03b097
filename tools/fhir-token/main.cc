// fhir-token: mints bearer JWTs for development and tests, signed with the key the server is
// configured with (server/auth/mint.h). Prints the token on stdout.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "server/auth/mint.h"

namespace {

constexpr char kUsage[] =
    "Usage: fhir-token KEY [CLAIMS] [--jwks-out FILE]\n"
    "Prints a signed JWT for fhir-server. Exit status 0, or 2 for bad arguments.\n"
    "KEY, one of:\n"
    "  --secret SECRET        HS256 with the server's --jwt-secret (default: $FHIR_JWT_SECRET)\n"
    "  --key FILE             RS256/ES256 with a PEM private key (RSA or EC P-256)\n"
    "  --generate RS256|ES256 a new key; --key-out FILE saves its PEM private key\n"
    "  --kid KID              key id for the header and the JWKS (default 'dev')\n"
    "CLAIMS:\n"
    "  --sub SUBJECT          sub (default 'dev-user')\n"
    "  --iss ISSUER           iss\n"
    "  --aud AUDIENCE         aud\n"
    "  --scope \"S1 S2\"        scope, e.g. \"patient/*.rs user/Observation.read\"\n"
    "  --fhir-user REF        fhirUser, e.g. Patient/123 or Practitioner/9\n"
    "  --patient ID           patient launch context\n"
    "  --purpose CODE         purpose_of_use (server default TREAT; ETREAT = emergency)\n"
    "  --client-id ID         client_id\n"
    "  --exp-in SECONDS       exp = now + SECONDS (default 3600; negative for expired tokens)\n"
    "  --nbf-in SECONDS       nbf = now + SECONDS\n"
    "OUTPUT:\n"
    "  --jwks-out FILE        write the public JWK Set for the server's --jwks (RS256/ES256)\n";

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out);
}

std::optional<int64_t> ParseSeconds(const std::string& text) {
  try {
    size_t used = 0;
    const long long value = std::stoll(text, &used);
    if (used != text.size()) return std::nullopt;
    return value;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

int Fail(const std::string& message) {
  std::cerr << "fhir-token: " << message << "\nTry 'fhir-token --help'.\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  std::string secret, key_file, generate, key_out, kid = "dev", jwks_out;
  server::auth::TokenClaims claims;
  claims.subject = "dev-user";
  int64_t exp_in = 3600;
  std::optional<int64_t> nbf_in;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (flag == "--help" || flag == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (i + 1 >= args.size()) return Fail("unknown argument or missing value: " + flag);
    const std::string& value = args[++i];
    if (flag == "--secret") {
      secret = value;
    } else if (flag == "--key") {
      key_file = value;
    } else if (flag == "--generate") {
      generate = value;
    } else if (flag == "--key-out") {
      key_out = value;
    } else if (flag == "--kid") {
      kid = value;
    } else if (flag == "--sub") {
      claims.subject = value;
    } else if (flag == "--iss") {
      claims.issuer = value;
    } else if (flag == "--aud") {
      claims.audience = value;
    } else if (flag == "--scope") {
      claims.scope = value;
    } else if (flag == "--fhir-user") {
      claims.fhir_user = value;
    } else if (flag == "--patient") {
      claims.patient = value;
    } else if (flag == "--purpose") {
      claims.purpose_of_use = value;
    } else if (flag == "--client-id") {
      claims.client_id = value;
    } else if (flag == "--jwks-out") {
      jwks_out = value;
    } else if (flag == "--exp-in" || flag == "--nbf-in") {
      const std::optional<int64_t> seconds = ParseSeconds(value);
      if (!seconds) return Fail(flag + " needs a whole number of seconds, not '" + value + "'");
      (flag == "--exp-in" ? exp_in : nbf_in.emplace()) = *seconds;
    } else {
      return Fail("unknown argument " + flag);
    }
  }
  if (secret.empty() && key_file.empty() && generate.empty()) {
    if (const char* env = std::getenv("FHIR_JWT_SECRET")) secret = env;  // NOLINT(concurrency-mt-unsafe)
  }
  const int keys = !secret.empty() + !key_file.empty() + !generate.empty();
  if (keys != 1) return Fail("give exactly one of --secret, --key, --generate");

  fhir::Result<std::unique_ptr<server::auth::Signer>> signer = fhir::Status();
  if (!secret.empty()) {
    signer = server::auth::Signer::Hs256(secret);
  } else if (!key_file.empty()) {
    std::ifstream file(key_file, std::ios::binary);
    std::ostringstream pem;
    pem << file.rdbuf();
    if (!file) return Fail("cannot read " + key_file);
    signer = server::auth::Signer::FromPrivateKeyPem(pem.str(), kid);
  } else {
    signer = server::auth::Signer::Generate(generate, kid);
  }
  if (!signer.ok()) return Fail(signer.status().diagnostics());
  if (!key_out.empty() && !WriteFile(key_out, signer.value()->PrivateKeyPem())) {
    return Fail("cannot write " + key_out);
  }
  if (!jwks_out.empty()) {
    const std::string jwks = signer.value()->JwksJson();
    if (jwks.empty()) return Fail("--jwks-out needs an RS256 or ES256 key, not a secret");
    if (!WriteFile(jwks_out, jwks + "\n")) return Fail("cannot write " + jwks_out);
  }

  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  claims.issued_at = now;
  claims.expires_at = now + exp_in;
  if (nbf_in) claims.not_before = now + *nbf_in;
  fhir::Result<std::string> token = server::auth::MintToken(*signer.value(), claims);
  if (!token.ok()) return Fail(token.status().diagnostics());
  std::cout << token.value() << "\n";
  return 0;
}
