#include "fhir/search/index_sharing.h"

#include <algorithm>
#include <cctype>
#include <span>
#include <string>

#include "fhir/model/registry.h"

namespace fhir::search {
namespace {

// The parts of a HumanName and of an Address that a string parameter indexes
// (index_extractor.cc, AddString).
constexpr std::string_view kHumanNameParts[] = {"text", "family", "given", "prefix", "suffix"};
constexpr std::string_view kAddressParts[] = {"line",  "text",       "city",   "district",
                                              "state", "postalCode", "country"};

bool Shareable(const BoundParam& p) {
  return p.parsed != nullptr && !p.expression.empty() && !p.def->code.starts_with('_') &&
         p.def->type != SearchParamType::kComposite && p.def->type != SearchParamType::kSpecial;
}

// The parts a string parameter on element `expression` ("Patient.name") indexes separately:
// those of a HumanName or an Address element of `type`; empty for any other expression.
std::span<const std::string_view> PartsOf(std::string_view type, std::string_view expression) {
  if (expression.size() <= type.size() + 1 || !expression.starts_with(type) ||
      expression[type.size()] != '.') {
    return {};
  }
  std::string_view field = expression.substr(type.size() + 1);
  for (char c : field) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0) return {};
  }
  const TypeInfo* info = FindResourceType(type);
  const FieldInfo* element = info != nullptr ? info->FindField(field) : nullptr;
  if (element == nullptr || element->type == nullptr) return {};
  if (element->type->name == "HumanName") return kHumanNameParts;
  if (element->type->name == "Address") return kAddressParts;
  return {};
}

// Leaves parts of HumanName and Address parameters to the parameters of those parts.
void ShareParts(std::string_view type, std::vector<BoundParam>& params) {
  for (BoundParam& whole : params) {
    if (!Shareable(whole) || whole.def->type != SearchParamType::kString) continue;
    std::span<const std::string_view> parts = PartsOf(type, whole.expression);
    if (parts.empty()) continue;
    const std::string prefix = whole.expression + ".";
    for (const BoundParam& part_param : params) {
      if (&part_param == &whole || !Shareable(part_param) ||
          part_param.def->type != SearchParamType::kString ||
          !part_param.expression.starts_with(prefix)) {
        continue;
      }
      std::string_view part = std::string_view(part_param.expression).substr(prefix.size());
      auto known = std::find(parts.begin(), parts.end(), part);
      if (known == parts.end()) continue;
      if (std::find(whole.skipped_parts.begin(), whole.skipped_parts.end(), *known) !=
          whole.skipped_parts.end()) {
        continue;  // two parameters of one part: the first keeps it
      }
      whole.skipped_parts.push_back(*known);
      whole.rows_also_in.push_back(part_param.def->code);
    }
  }
}

// Parameters whose values another filters leave those values to it. IsWhereOf admits only a
// single-term whole and a single-branch filter of it.
void ShareSubsets(std::vector<BoundParam>& params) {
  for (BoundParam& whole : params) {
    if (!Shareable(whole)) continue;
    for (const BoundParam& part : params) {
      if (&part == &whole || !Shareable(part) || part.def->type != whole.def->type ||
          !IsWhereOf(part.expression, whole.expression)) {
        continue;
      }
      whole.subsets.push_back(part.def->code);
      whole.rows_also_in.push_back(part.def->code);
    }
  }
}

// Parameters whose branches are the branches of others of their kind write no rows.
void ShareUnions(std::vector<BoundParam>& params) {
  std::vector<std::vector<std::string>> branches(params.size());
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (!Shareable(params[i])) continue;
    branches[i] = SplitUnion(params[i].expression);
    std::sort(branches[i].begin(), branches[i].end());
    branches[i].erase(std::unique(branches[i].begin(), branches[i].end()), branches[i].end());
    order.push_back(i);
  }
  // `a` may stand for part of `b` when it has fewer branches, or as many and an earlier code:
  // a strict order, so that no two parameters stand for each other.
  auto before = [&](std::size_t a, std::size_t b) {
    if (branches[a].size() != branches[b].size()) return branches[a].size() < branches[b].size();
    return params[a].def->code < params[b].def->code;
  };
  for (std::size_t b : order) {
    std::vector<std::size_t> candidates;
    for (std::size_t a : order) {
      if (a == b || params[a].def->type != params[b].def->type || !before(a, b)) continue;
      if (std::includes(branches[b].begin(), branches[b].end(), branches[a].begin(),
                        branches[a].end())) {
        candidates.push_back(a);
      }
    }
    // Larger pieces first; a piece is taken only if all of its branches are still uncovered.
    std::sort(candidates.begin(), candidates.end(), [&](std::size_t x, std::size_t y) {
      return before(y, x);
    });
    std::vector<std::string> remaining = branches[b];
    std::vector<std::string_view> cover;
    for (std::size_t a : candidates) {
      if (!std::includes(remaining.begin(), remaining.end(), branches[a].begin(),
                         branches[a].end())) {
        continue;
      }
      std::vector<std::string> rest;
      std::set_difference(remaining.begin(), remaining.end(), branches[a].begin(),
                          branches[a].end(), std::back_inserter(rest));
      remaining = std::move(rest);
      cover.push_back(params[a].def->code);
    }
    if (!remaining.empty() || cover.empty()) continue;
    params[b].own_rows = false;
    params[b].skipped_parts.clear();
    params[b].subsets.clear();
    params[b].rows_also_in = std::move(cover);
  }
}

// Makes rows_also_in transitive: a parameter reads the rows its parts read.
void Close(std::vector<BoundParam>& params) {
  auto find = [&](std::string_view code) -> const BoundParam* {
    for (const BoundParam& p : params) {
      if (p.def->code == code) return &p;
    }
    return nullptr;
  };
  std::vector<std::vector<std::string_view>> closed(params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    std::vector<std::string_view> pending = params[i].rows_also_in;
    while (!pending.empty()) {
      std::string_view code = pending.back();
      pending.pop_back();
      if (code == params[i].def->code ||
          std::find(closed[i].begin(), closed[i].end(), code) != closed[i].end()) {
        continue;
      }
      closed[i].push_back(code);
      if (const BoundParam* p = find(code)) {
        pending.insert(pending.end(), p->rows_also_in.begin(), p->rows_also_in.end());
      }
    }
    std::sort(closed[i].begin(), closed[i].end());
  }
  for (std::size_t i = 0; i < params.size(); ++i) params[i].rows_also_in = std::move(closed[i]);
}

}  // namespace

void ShareIndexRows(std::string_view type, std::vector<BoundParam>& params) {
  ShareParts(type, params);
  ShareSubsets(params);
  ShareUnions(params);
  Close(params);
}

}  // namespace fhir::search
