#include "tools/fhirgen/printer.h"

#include <cstdio>
#include <cstdlib>

namespace fhirgen {

void Printer::Emit(std::string_view text, const Vars& vars) {
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t open = text.find('$', i);
    if (open == std::string_view::npos) {
      out_.append(text.substr(i));
      break;
    }
    std::size_t close = text.find('$', open + 1);
    if (close == std::string_view::npos) std::abort();
    out_.append(text.substr(i, open - i));
    std::string_view name = text.substr(open + 1, close - open - 1);
    auto it = vars.find(name);
    if (it == vars.end()) {
      std::fprintf(stderr, "fhirgen: unknown template variable $%.*s$\n",
                   static_cast<int>(name.size()), name.data());
      std::abort();
    }
    out_.append(it->second);
    i = close + 1;
  }
}

}  // namespace fhirgen
