#pragma once

#include <string>
#include <vector>

#include "tools/fhirgen/definitions.h"

namespace fhirgen {

struct OutputFile {
  std::string path;  // relative to the output root, e.g. "fhir/r4/patient.h"
  std::string content;
};

// Every generated file for `defs`, in a deterministic order with deterministic content.
std::vector<OutputFile> Generate(const Definitions& defs);

// "MedicationRequest" -> "medication_request".
std::string FileStem(const std::string& type_name);

}  // namespace fhirgen
