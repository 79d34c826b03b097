// fhir-conformance: black-box checks of the FHIR R4 RESTful API of any server.
//
//   fhir-conformance --base http://127.0.0.1:8080/fhir [--filter SUBSTRING] [--verbose]
//
// Prints "PASS name" or "FAIL name: reason" per check (notes indented below it), then
// "N passed, M failed". Exits 0 only when every selected check passed; 1 when one failed;
// 2 on a usage error.
#include <chrono>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include "conformance/checks.h"
#include "conformance/http_client.h"

namespace {

constexpr std::string_view kUsage =
    "usage: fhir-conformance --base URL [--filter SUBSTRING] [--verbose] [--timeout SECONDS]\n"
    "                        [--list]\n"
    "  --base URL        the FHIR base, e.g. http://127.0.0.1:8080/fhir (http:// only)\n"
    "  --filter SUBSTR   run only the checks whose name contains SUBSTR\n"
    "  --verbose         log every request and response to stderr\n"
    "  --timeout SECONDS bound on each connect, send and receive (default 30)\n"
    "  --list            print the checks and exit\n";

int Usage(std::string_view error) {
  if (!error.empty()) std::cerr << "fhir-conformance: " << error << "\n";
  std::cerr << kUsage;
  return 2;
}

int Run(int argc, char** argv) {
  std::string base;
  std::string filter;
  bool verbose = false;
  bool list = false;
  long timeout_seconds = 30;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&](std::string_view flag) -> std::optional<std::string> {
      // Accepts "--flag value" and "--flag=value".
      if (arg.substr(0, flag.size()) != flag) return std::nullopt;
      if (arg.size() > flag.size() && arg[flag.size()] == '=') {
        return std::string(arg.substr(flag.size() + 1));
      }
      if (arg.size() == flag.size() && i + 1 < argc) return std::string(argv[++i]);
      return std::nullopt;
    };
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--verbose" || arg == "-v") {
      verbose = true;
    } else if (arg == "--list") {
      list = true;
    } else if (std::optional<std::string> v = value("--base")) {
      base = *v;
    } else if (std::optional<std::string> f = value("--filter")) {
      filter = *f;
    } else if (std::optional<std::string> t = value("--timeout")) {
      char* end = nullptr;
      timeout_seconds = std::strtol(t->c_str(), &end, 10);
      if (t->empty() || *end != '\0' || timeout_seconds <= 0) {
        return Usage("--timeout needs a positive number of seconds");
      }
    } else {
      return Usage("unknown or incomplete argument: " + std::string(arg));
    }
  }

  if (list) {
    for (const conformance::CheckEntry& entry : conformance::AllChecks()) {
      std::cout << entry.name << "  " << entry.description << "\n";
    }
    return 0;
  }
  if (base.empty()) return Usage("--base is required");
  std::string error;
  std::optional<conformance::Url> url = conformance::ParseUrl(base, &error);
  if (!url) return Usage(error);

  conformance::HttpClient client(*url, std::chrono::seconds(timeout_seconds));
  int passed = 0;
  int failed = 0;
  for (const conformance::CheckEntry& entry : conformance::AllChecks()) {
    if (entry.name.find(filter) == std::string_view::npos) continue;
    conformance::CheckResult result = conformance::RunCheck(entry, client, verbose, std::cerr);
    if (result.passed) {
      ++passed;
      std::cout << "PASS " << entry.name << "\n";
    } else {
      ++failed;
      std::cout << "FAIL " << entry.name << ": ";
      for (std::size_t i = 0; i < result.failures.size(); ++i) {
        std::cout << (i == 0 ? "" : "; ") << result.failures[i];
      }
      std::cout << "\n";
    }
    for (const std::string& note : result.notes) std::cout << "  note: " << note << "\n";
    std::cout.flush();
  }
  std::cout << passed << " passed, " << failed << " failed\n";
  if (passed + failed == 0) {
    std::cerr << "fhir-conformance: no check name contains \"" << filter << "\"\n";
    return 2;
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "fhir-conformance: " << e.what() << "\n";
    return 2;
  }
}
