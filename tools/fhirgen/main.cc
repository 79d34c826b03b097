// fhirgen: generates the C++ models of FHIR R4 from the vendored definitions.
//
// Usage: fhirgen DEFINITIONS_DIR OUTPUT_DIR [--list FILE]
// Writes every file under OUTPUT_DIR (only those whose content changed, so that incremental
// builds recompile only what changed) and, with --list, the generated .cc paths one per line.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tools/fhirgen/definitions.h"
#include "tools/fhirgen/emit.h"

namespace {

bool WriteIfChanged(const std::filesystem::path& path, const std::string& content) {
  std::ifstream in(path, std::ios::binary);
  if (in) {
    std::stringstream old;
    old << in.rdbuf();
    if (old.str() == content) return true;
  }
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 && !(argc == 5 && std::string(argv[3]) == "--list")) {
    std::fprintf(stderr, "usage: fhirgen DEFINITIONS_DIR OUTPUT_DIR [--list FILE]\n");
    return 2;
  }
  fhirgen::Definitions defs = fhirgen::LoadDefinitions(argv[1]);
  std::filesystem::path root(argv[2]);
  std::string list;
  for (const fhirgen::OutputFile& f : fhirgen::Generate(defs)) {
    if (!WriteIfChanged(root / f.path, f.content)) {
      std::fprintf(stderr, "fhirgen: cannot write %s\n", (root / f.path).c_str());
      return 1;
    }
    if (f.path.size() > 3 && f.path.compare(f.path.size() - 3, 3, ".cc") == 0) {
      list += (root / f.path).string() + "\n";
    }
  }
  if (argc == 5 && !WriteIfChanged(argv[4], list)) return 1;
  return 0;
}
