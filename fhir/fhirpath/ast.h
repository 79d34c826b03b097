#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fhir/fhirpath/fhirpath.h"

namespace fhir::fhirpath::internal {

// The FHIRPath functions the engine knows; the parser resolves names to these once, so that
// evaluation switches on an enum instead of comparing strings.
enum class Fn : std::uint8_t {
  kUnknown,
  // existence
  kEmpty,
  kExists,
  kAll,
  kAllTrue,
  kAnyTrue,
  kAllFalse,
  kAnyFalse,
  kSubsetOf,
  kSupersetOf,
  kCount,
  kDistinct,
  kIsDistinct,
  // filtering and projection
  kWhere,
  kSelect,
  kRepeat,
  kOfType,
  kAs,
  kIs,
  // subsetting
  kSingle,
  kFirst,
  kLast,
  kTail,
  kSkip,
  kTake,
  kIntersect,
  kExclude,
  // combining
  kUnion,
  kCombine,
  // conversion
  kIif,
  kToBoolean,
  kConvertsToBoolean,
  kToInteger,
  kConvertsToInteger,
  kToDecimal,
  kConvertsToDecimal,
  kToString,
  kConvertsToString,
  kToDate,
  kConvertsToDate,
  kToDateTime,
  kConvertsToDateTime,
  kToTime,
  kConvertsToTime,
  kToQuantity,
  kConvertsToQuantity,
  // strings
  kIndexOf,
  kLastIndexOf,
  kSubstring,
  kStartsWith,
  kEndsWith,
  kContains,
  kUpper,
  kLower,
  kReplace,
  kMatches,
  kMatchesFull,
  kReplaceMatches,
  kLength,
  kToChars,
  kSplit,
  kJoin,
  kTrim,
  kEncode,
  kDecode,
  kEscape,
  kUnescape,
  // math
  kAbs,
  kCeiling,
  kExp,
  kFloor,
  kLn,
  kLog,
  kPower,
  kRound,
  kSqrt,
  kTruncate,
  // tree navigation
  kChildren,
  kDescendants,
  // utility
  kTrace,
  kNow,
  kTimeOfDay,
  kToday,
  kDefineVariable,
  kAggregate,
  kSort,
  kPrecision,
  kLowBoundary,
  kHighBoundary,
  kComparable,
  kYearOf,
  kMonthOf,
  kDayOf,
  kHourOf,
  kMinuteOf,
  kSecondOf,
  kMillisecondOf,
  kTimezoneOffsetOf,
  kDateOf,
  kTimeOf,
  // boolean
  kNot,
  // FHIR extensions (http://hl7.org/fhir/R4/fhirpath.html#functions)
  kExtension,
  kHasExtension,
  kHasValue,
  kGetValue,
  kResolve,
  kMemberOf,
  kConformsTo,
  kHtmlChecks,
  kSubsumes,
  kSubsumedBy,
  kElementDefinition,
  kSlice,
  kCheckModifiers,
  kType,
};

enum class Op : std::uint8_t {
  kNone,
  kMul,
  kDiv,
  kIntDiv,
  kMod,
  kAdd,
  kSub,
  kConcat,
  kUnion,
  kLt,
  kGt,
  kLe,
  kGe,
  kEq,
  kNe,
  kEquiv,
  kNotEquiv,
  kIn,
  kContains,
  kAnd,
  kOr,
  kXor,
  kImplies,
  kIs,
  kAs,
};

struct Node {
  enum class Kind : std::uint8_t {
    kLiteral,     // literal
    kEmpty,       // {}
    kIdentifier,  // name at the start of a path: a member of $this or a type name
    kMember,      // args[0].name
    kFunction,    // args[0] = target (nullptr at the start of a path), args[1..] = arguments
    kIndexer,     // args[0][args[1]]
    kThis,
    kIndex,
    kTotal,
    kVariable,  // %name
    kNegate,    // -args[0]
    kBinary,    // args[0] op args[1]
    kTypeOp,    // args[0] is/as type_name
  };
  Kind kind = Kind::kLiteral;
  Op op = Op::kNone;
  Fn fn = Fn::kUnknown;
  std::string name;  // identifier, member, function, variable; type name of kTypeOp
  const TypeInfo* resource_type = nullptr;  // kIdentifier naming a resource type (`Patient`)
  // Set when the node is a path that starts with a resource type name and yields nothing for
  // an empty collection (`Observation.subject.where(...)`): on a focus without a resource of
  // that type the result is empty without evaluating it (unions of R4 search parameters).
  const TypeInfo* root_type = nullptr;
  // What the parser knows of the values' type (`Observation.subject`: Reference), and for a
  // kMember on such a type its field, resolved once instead of by name for every value.
  const TypeInfo* static_type = nullptr;
  const TypeInfo* owner_type = nullptr;
  const FieldInfo* field = nullptr;
  std::size_t choice = 0;  // 1-based alternative for a typed choice name (`valueQuantity`)
  Value literal;           // kLiteral
  std::vector<std::unique_ptr<Node>> args;
  std::size_t position = 0;  // offset in the expression text, for errors
  int height = 1;            // of the tree below and including this node
};

class ParsedExpression final : public Expression {
 public:
  ParsedExpression(std::string text, std::unique_ptr<Node> root)
      : text_(std::move(text)), root_(std::move(root)) {}
  const std::string& text() const override { return text_; }
  const Node& root() const { return *root_; }

 private:
  std::string text_;
  std::unique_ptr<Node> root_;
};

// The qualified type name a type-specifier argument (`Patient`, `FHIR.Patient`, `System.String`)
// spells, or empty if the node is not a type specifier.
std::string TypeSpecifierName(const Node& node);

}  // namespace fhir::fhirpath::internal
