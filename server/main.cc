// fhir-server: serves the FHIR R4 REST API until SIGINT or SIGTERM. See Usage() for flags.
#include <chrono>
#include <csignal>
#include <exception>
#include <iostream>
#include <memory>
#include <string>
#include <utility>  // before any Asio header (STYLE.md)
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "fhir/model/registry.h"
#include "server/capability.h"
#include "server/config.h"
#include "server/handler.h"
#include "server/http_server.h"
#include "server/rest_service.h"
#include "storage/sqlite/sqlite_store.h"

namespace {

constexpr char kSoftwareVersion[] = "0.1.0";

int Serve(const server::Config& config) {
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
  auto store = storage::sqlite::OpenSqliteStore(store_options);
  if (!store.ok()) {
    std::cerr << "fhir-server: cannot open " << config.db_path << ": "
              << store.status().ToString() << "\n";
    return 1;
  }
  server::RestService rest(*store.value(),
                           server::RestService::Options{server::PublicBaseUrl(config, http.port())});

  server::CapabilityInput capability;
  capability.rest_interactions = true;
  for (std::string_view type : fhir::ResourceTypeNames())
    capability.resource_types.emplace_back(type);
  capability.base_url = server::PublicBaseUrl(config, http.port());
  capability.software_version = kSoftwareVersion;
  capability.start_instant = server::FormatInstant(std::chrono::system_clock::now());
  handler = std::make_unique<server::Handler>(server::HandlerOptions{
      config.base_path, server::CapabilityStatementJson(capability), &rest});

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
