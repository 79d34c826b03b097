#pragma once

#include <map>
#include <string>
#include <string_view>

namespace fhirgen {

// Appends text templates with `$name$` placeholders (in the manner of protobuf's io::Printer).
// An unknown placeholder is a generator bug: it aborts.
class Printer {
 public:
  using Vars = std::map<std::string, std::string, std::less<>>;

  void Emit(std::string_view text, const Vars& vars = {});
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

}  // namespace fhirgen
