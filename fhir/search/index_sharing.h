#pragma once

// Index rows shared between the search parameters of one resource type. R4 defines some
// parameters as the values of others: Patient `phonetic` is `Patient.name`, exactly `name`;
// Observation `combo-code` is `code | component-code`; `family` is one part of what `name`
// indexes. Writing such values once and letting a search read the rows of every parameter
// they belong to cut a Patient's index rows by a third (see README, benchmarks) and gives
// the same results: each value is still in the rows a search of any of those parameters reads.
//
// Four rules, from the bound expressions (BoundParam::expression, one resource type):
//  - parts: a string parameter on a HumanName or Address element `T.e` leaves the part `p`
//    to a string parameter whose expression is exactly `T.e.p` (`name` leaves `family` and
//    `given` to those parameters; `address` leaves `city` to `address-city`);
//  - subset: a parameter whose expression filters another's, `E.where(...)` of `E` (Observation
//    `patient` of `subject`, Patient `email` of `telecom`), keeps its rows, and the other
//    leaves those values out of its own;
//  - union: a parameter whose union branches are exactly the branches of other parameters of
//    its kind (`combo-code` = `code` | `component-code`) writes no rows of its own;
//  - alias: of parameters with the same branches (`name`, `phonetic`), only the first by code
//    writes rows.

#include <string_view>
#include <vector>

#include "fhir/search/search_registry.h"

namespace fhir::search {

// Sets own_rows, skipped_parts, subsets and rows_also_in of `params`, the parameters of resource type
// `type` sorted by code.
void ShareIndexRows(std::string_view type, std::vector<BoundParam>& params);

}  // namespace fhir::search
