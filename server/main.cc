// fhir-server: serves the FHIR R4 REST API until SIGINT or SIGTERM. See Usage() for flags.
#include <chrono>
#include <csignal>
#include <exception>
#include <fstream>
#include <iostream>
#include <sstream>
#include <memory>
#include <string>
#include <utility>  // before any Asio header (STYLE.md)
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "fhir/model/registry.h"
#include "server/audit/audit.h"
#include "server/auth/authenticator.h"
#include "server/capability.h"
#include "server/config.h"
#include "server/handler.h"
#include "server/http_server.h"
#include "server/rest_service.h"
#include "server/search/reindex.h"
#include "storage/sqlite/sqlite_store.h"

namespace {

constexpr char kSoftwareVersion[] = "0.1.0";

// The authenticator the flags ask for; null (with `error` empty) when authentication is off.
std::unique_ptr<server::auth::Authenticator> LoadAuth(const server::Config& config,
                                                      std::string& error) {
  if (!config.AuthEnabled()) return nullptr;
  server::auth::VerifierOptions verifier;
  verifier.hs256_secret = config.jwt_secret;
  verifier.issuer = config.jwt_issuer;
  verifier.audience = config.jwt_audience;
  verifier.leeway = std::chrono::seconds(config.jwt_leeway_seconds);
  if (!config.jwks_path.empty()) {
    std::ifstream file(config.jwks_path, std::ios::binary);
    std::ostringstream text;
    text << file.rdbuf();
    if (!file || text.str().empty()) {
      error = "cannot read the JWKS file " + config.jwks_path;
      return nullptr;
    }
    verifier.jwks_json = text.str();
  }
  auto authenticator = server::auth::Authenticator::Create(
      std::move(verifier), server::auth::SmartOptions{config.jwt_issuer,
                                                      config.smart_authorize_url,
                                                      config.smart_token_url});
  if (!authenticator.ok()) {
    error = "bad JWKS " + config.jwks_path + ": " + authenticator.status().diagnostics();
    return nullptr;
  }
  if (!config.jwks_path.empty() && authenticator.value()->verifier().key_count() == 0) {
    error = "the JWKS " + config.jwks_path + " has no RSA or EC P-256 signing key";
    return nullptr;
  }
  return std::move(authenticator).value();
}

int Serve(const server::Config& config) {
  std::string auth_error;
  const std::unique_ptr<server::auth::Authenticator> authenticator = LoadAuth(config, auth_error);
  if (!auth_error.empty()) {
    std::cerr << "fhir-server: " << auth_error << "\n";
    return 1;
  }
  const std::optional<bool> loopback = server::IsLoopbackHost(config.host);
  if (loopback) {
    if (std::optional<std::string> problem = server::ExposureProblem(config, *loopback)) {
      std::cerr << "fhir-server: " << *problem << "\n";
      return 1;
    }
    if (!*loopback && !authenticator) {
      std::cerr << "fhir-server: WARNING: --insecure: serving " << config.host
                << " without authentication\n";
    }
  }  // else Listen() reports the unresolvable host
  // The handler needs the bound port (for implementation.url), known only after Listen(); it
  // is set before Start(), so before any request can reach the lambda.
  std::unique_ptr<server::Handler> handler;
  server::HttpServer http(config,
                          [&handler](const server::Request& r) { return handler->Handle(r); });
  if (std::optional<std::string> error = http.Listen()) {
    std::cerr << "fhir-server: " << *error << "\n";
    return 1;
  }

  storage::sqlite::SqliteOptions store_options;
  store_options.path = config.db_path;
  store_options.sync = config.sync_full ? storage::sqlite::SqliteOptions::Sync::kFull
                                        : storage::sqlite::SqliteOptions::Sync::kNormal;
  auto store = storage::sqlite::OpenSqliteStore(store_options);
  if (!store.ok()) {
    std::cerr << "fhir-server: cannot open " << config.db_path << ": "
              << store.status().ToString() << "\n";
    return 1;
  }
  // A store written by a server with another index extraction is reindexed before serving.
  if (fhir::Status indexed = server::search::EnsureSearchIndex(*store.value(), false);
      !indexed.ok()) {
    std::cerr << "fhir-server: cannot build the search index of " << config.db_path << ": "
              << indexed.ToString() << "\n";
    return 1;
  }
  // Every interaction's AuditEvent, written in batches by a background thread (server/audit).
  std::unique_ptr<server::audit::AuditLog> audit_log;
  if (config.audit) {
    server::audit::LogOptions audit_options;
    audit_options.source.site = server::PublicBaseUrl(config, http.port());
    audit_log = std::make_unique<server::audit::AuditLog>(*store.value(), audit_options);
  }
  server::RestService rest(*store.value(),
                           server::RestService::Options{server::PublicBaseUrl(config, http.port()),
                                                        audit_log.get()});

  server::CapabilityInput capability;
  capability.rest_interactions = true;
  for (std::string_view type : fhir::ResourceTypeNames())
    capability.resource_types.emplace_back(type);
  capability.base_url = server::PublicBaseUrl(config, http.port());
  capability.software_version = kSoftwareVersion;
  capability.start_instant = server::FormatInstant(std::chrono::system_clock::now());
  capability.smart_security = authenticator != nullptr;
  capability.authorize_url = config.smart_authorize_url;
  capability.token_url = config.smart_token_url;
  handler = std::make_unique<server::Handler>(server::HandlerOptions{
      config.base_path, server::CapabilityStatementJson(capability), &rest,
      authenticator.get()});

  // Registered before the server threads exist, so that no signal finds the default action.
  boost::asio::io_context signal_context;
  boost::asio::signal_set signals(signal_context, SIGINT, SIGTERM);
  signals.async_wait([](const boost::system::error_code&, int) {});

  if (std::optional<std::string> error = http.Start()) {
    std::cerr << "fhir-server: " << *error << "\n";
    return 1;
  }
  server::Config bound = config;
  bound.public_base_url.clear();
  std::cerr << "fhir-server listening on " << server::PublicBaseUrl(bound, http.port())
            << std::endl;
  signal_context.run();  // returns once a signal arrived
  http.Stop();
  if (audit_log) audit_log->Stop();  // writes the AuditEvents still queued
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const server::ConfigParse parsed =
        server::ParseConfig(std::vector<std::string>(argv + 1, argv + argc), server::ProcessEnv);
    if (!parsed.error.empty()) {
      std::cerr << "fhir-server: " << parsed.error << "\nTry 'fhir-server --help'.\n";
      return 2;
    }
    if (parsed.help) {
      std::cout << server::Usage();
      return 0;
    }
    return Serve(parsed.config);
  } catch (const std::exception& e) {
    std::cerr << "fhir-server: " << e.what() << "\n";
    return 1;
  }
}
