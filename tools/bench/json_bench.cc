// fhir-bench: throughput of our JSON round trip (fhir::json::ParseResource + Write: strict parse
// and validation into the generated models, then canonical output) against RapidJSON's own DOM
// round trip of the same bytes, in the same process. See tools/bench/README.md.
//
// Why it is built this way:
// - Inputs are read (and the Synthea bundles decompressed with `bzip2 -dc`, so that we need no
//   libbz2) before any timing; the timed loops touch memory only.
// - The three measurements of a corpus run interleaved, run after run, so that they share the
//   machine's noise; each run repeats whole passes over the corpus until --min-seconds passed,
//   and the best of --repeat runs counts.
// - Every pass returns a checksum (the sum of output sizes) that must equal the one computed at
//   load time: the work cannot be optimised away, and a nondeterministic writer is caught.
// - Each document gets a fresh rapidjson::Document and StringBuffer, as each gets a fresh model
//   on our side: both sides pay for their allocations, as a request handler would.

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/wait.h>
#include <system_error>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "fhir/json/parser.h"
#include "fhir/json/writer.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr char kUsage[] =
    "usage: fhir-bench [--examples DIR] [--synthea DIR] [--repeat N] [--min-seconds S]\n"
    "  --examples DIR     folder of official R4 example *.json files (BUILD/r4-examples)\n"
    "  --synthea DIR      folder of *.json.bz2 transaction bundles (decompressed with bzip2 -dc)\n"
    "  --repeat N         runs per measurement; the best one counts (default 3)\n"
    "  --min-seconds S    minimum duration of one run (default 2)\n";

struct Options {
  std::optional<fs::path> examples;
  std::optional<fs::path> synthea;
  int repeat = 3;
  double min_seconds = 2;
};

// The three measurements, in the order they are interleaved.
enum Kind : std::size_t { kReference, kRoundTrip, kParseOnly, kKinds };

struct Corpus {
  std::string name;
  std::vector<std::string> docs;  // only the documents that both sides accept
  std::size_t excluded = 0;       // documents our strict parser (or RapidJSON) rejects
  std::size_t bytes = 0;
  std::size_t resources = 0;
  std::size_t checksum[kKinds] = {};  // what one pass of each measurement must return
  double best_seconds[kKinds] = {};   // per pass, over the runs
};

// --- Loading ----------------------------------------------------------------------------------

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Runs `bzip2 -dc FILE` and returns its output.
std::string Bunzip2(const fs::path& path) {
  std::string quoted = "'";  // for sh: ' ends the quote, \' is a quote, ' reopens it
  for (char c : path.string()) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  quoted += "'";
  std::string command = "bzip2 -dc " + quoted;
  std::FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run " + command);
  std::string out;
  char chunk[1 << 16];
  std::size_t n;
  while ((n = std::fread(chunk, 1, sizeof chunk, pipe)) > 0) out.append(chunk, n);
  int status = pclose(pipe);
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error(command + " failed");
  }
  return out;
}

// Files of `dir` whose name ends with `suffix`, sorted so that runs see the same order.
std::vector<fs::path> ListFiles(const fs::path& dir, std::string_view suffix) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.size() > suffix.size() && name.ends_with(suffix)) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    throw std::runtime_error("no *" + std::string(suffix) + " file in " + dir.string());
  }
  return files;
}

// The resource itself plus, for a Bundle, the resources of its entries (recursively).
std::size_t CountResources(const rapidjson::Value& resource) {
  std::size_t count = 1;
  auto type = resource.FindMember("resourceType");
  if (type == resource.MemberEnd() || !type->value.IsString() ||
      std::string_view(type->value.GetString()) != "Bundle") {
    return count;
  }
  auto entries = resource.FindMember("entry");
  if (entries == resource.MemberEnd() || !entries->value.IsArray()) return count;
  for (const auto& entry : entries->value.GetArray()) {
    if (!entry.IsObject()) continue;
    auto inner = entry.FindMember("resource");
    if (inner != entry.MemberEnd() && inner->value.IsObject())
      count += CountResources(inner->value);
  }
  return count;
}

// Keeps `doc` if both sides accept it, and records what one pass over it must return.
void Add(Corpus& corpus, std::string doc) {
  rapidjson::Document reference;
  reference.Parse(doc.data(), doc.size());
  auto parsed = fhir::json::ParseResource(doc);
  if (reference.HasParseError() || !parsed.ok() || !reference.IsObject()) {
    ++corpus.excluded;
    return;
  }
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  reference.Accept(writer);
  corpus.checksum[kReference] += buffer.GetSize();
  corpus.checksum[kRoundTrip] += fhir::json::Write(*parsed.value()).size();
  corpus.checksum[kParseOnly] += parsed.value()->id.size() + 1;
  corpus.resources += CountResources(reference);
  corpus.bytes += doc.size();
  corpus.docs.push_back(std::move(doc));
}

Corpus LoadExamples(const fs::path& dir) {
  Corpus corpus;
  corpus.name = "r4-examples";
  for (const fs::path& file : ListFiles(dir, ".json")) Add(corpus, ReadFile(file));
  return corpus;
}

Corpus LoadSynthea(const fs::path& dir) {
  Corpus corpus;
  corpus.name = "synthea";
  for (const fs::path& file : ListFiles(dir, ".json.bz2")) Add(corpus, Bunzip2(file));
  return corpus;
}

// --- Measuring --------------------------------------------------------------------------------

// One pass of measurement `kind` over the corpus; returns its checksum.
std::size_t Pass(Kind kind, const Corpus& corpus) {
  std::size_t sum = 0;
  for (const std::string& doc : corpus.docs) {
    switch (kind) {
      case kReference: {
        rapidjson::Document reference;
        reference.Parse(doc.data(), doc.size());
        rapidjson::StringBuffer buffer;
        rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
        reference.Accept(writer);
        sum += buffer.GetSize();
        break;
      }
      case kRoundTrip: {
        auto parsed = fhir::json::ParseResource(doc);
        if (parsed.ok()) sum += fhir::json::Write(*parsed.value()).size();
        break;
      }
      case kParseOnly: {
        auto parsed = fhir::json::ParseResource(doc);
        if (parsed.ok()) sum += parsed.value()->id.size() + 1;
        break;
      }
      case kKinds:
        break;
    }
  }
  return sum;
}

// One run: whole passes until `min_seconds` elapsed; returns the seconds per pass.
double Run(Kind kind, const Corpus& corpus, double min_seconds) {
  std::size_t passes = 0;
  Clock::time_point start = Clock::now();
  std::chrono::duration<double> elapsed{};
  do {
    if (Pass(kind, corpus) != corpus.checksum[kind]) {
      throw std::runtime_error(corpus.name + ": a pass returned another checksum than at load");
    }
    ++passes;
    elapsed = Clock::now() - start;
  } while (elapsed.count() < min_seconds);
  return elapsed.count() / static_cast<double>(passes);
}

void Measure(Corpus& corpus, const Options& options) {
  for (double& best : corpus.best_seconds) best = std::numeric_limits<double>::infinity();
  for (int run = 1; run <= options.repeat; ++run) {
    std::fprintf(stderr, "%s: run %d of %d\n", corpus.name.c_str(), run, options.repeat);
    for (std::size_t kind = 0; kind < kKinds; ++kind) {
      double seconds = Run(static_cast<Kind>(kind), corpus, options.min_seconds);
      corpus.best_seconds[kind] = std::min(corpus.best_seconds[kind], seconds);
    }
  }
}

// --- Reporting --------------------------------------------------------------------------------

void PrintTable(const std::vector<Corpus>& corpora, const Options& options) {
  std::printf("fhir-bench: best of %d runs of >= %g s; MB = 10^6 bytes of input JSON\n",
              options.repeat, options.min_seconds);
  std::printf("ref   = RapidJSON %s Document::Parse (default flags) + Writer<StringBuffer>\n",
              RAPIDJSON_VERSION_STRING);
  std::printf("rt    = fhir::json::ParseResource + fhir::json::Write (strict, validated)\n");
  std::printf("parse = fhir::json::ParseResource only; x = ours / ref round trip\n\n");
  std::printf(
      "| corpus      | files | excluded |     MB | resources | ref MB/s |  ref res/s | rt MB/s |"
      "   rt res/s | rt x  | parse MB/s | parse res/s | parse x |\n");
  std::printf(
      "|-------------|------:|---------:|-------:|----------:|---------:|-----------:|--------:|"
      "-----------:|------:|-----------:|------------:|--------:|\n");
  for (const Corpus& c : corpora) {
    double mb = static_cast<double>(c.bytes) / 1e6;
    double resources = static_cast<double>(c.resources);
    const double* s = c.best_seconds;
    std::printf(
        "| %-11s | %5zu | %8zu | %6.1f | %9zu | %8.1f | %10.0f | %7.1f | %10.0f | %4.2fx |"
        " %10.1f | %11.0f | %6.2fx |\n",
        c.name.c_str(), c.docs.size(), c.excluded, mb, c.resources, mb / s[kReference],
        resources / s[kReference], mb / s[kRoundTrip], resources / s[kRoundTrip],
        s[kReference] / s[kRoundTrip], mb / s[kParseOnly], resources / s[kParseOnly],
        s[kReference] / s[kParseOnly]);
  }
}

// --- Command line -----------------------------------------------------------------------------

template <class T>
T ParseNumber(std::string_view flag, std::string_view text) {
  T value{};
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || !(value > 0)) {
    throw std::invalid_argument(std::string(flag) + " needs a positive number, not '" +
                                std::string(text) + "'");
  }
  return value;
}

Options ParseFlags(int argc, char** argv) {
  Options options;
  std::vector<std::string_view> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view flag = args[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (i + 1 == args.size())
      throw std::invalid_argument("unknown flag or missing value: " + std::string(flag));
    std::string_view value = args[++i];
    if (flag == "--examples") {
      options.examples = fs::path(value);
    } else if (flag == "--synthea") {
      options.synthea = fs::path(value);
    } else if (flag == "--repeat") {
      options.repeat = ParseNumber<int>(flag, value);
    } else if (flag == "--min-seconds") {
      options.min_seconds = ParseNumber<double>(flag, value);
    } else {
      throw std::invalid_argument("unknown flag: " + std::string(flag));
    }
  }
  if (!options.examples && !options.synthea) {
    throw std::invalid_argument("give --examples DIR, --synthea DIR or both");
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  try {
    options = ParseFlags(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fhir-bench: %s\n%s", e.what(), kUsage);
    return 2;
  }
  try {
    std::vector<Corpus> corpora;
    Clock::time_point start = Clock::now();
    if (options.examples) corpora.push_back(LoadExamples(*options.examples));
    if (options.synthea) corpora.push_back(LoadSynthea(*options.synthea));
    std::chrono::duration<double> load = Clock::now() - start;
    std::fprintf(stderr, "loaded and checked the inputs in %.1f s\n", load.count());
    for (Corpus& corpus : corpora) {
      if (corpus.docs.empty()) throw std::runtime_error(corpus.name + ": no valid document");
      Measure(corpus, options);
    }
    PrintTable(corpora, options);
    std::chrono::duration<double> total = Clock::now() - start;
    std::fprintf(stderr, "total %.1f s\n", total.count());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fhir-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
