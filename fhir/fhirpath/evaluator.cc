// Evaluation of parsed FHIRPath expressions: collections in, collections out
// (http://hl7.org/fhirpath/N1/#functions, #operations), over the generated models through
// model_access.h.

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "fhir/base/base64.h"
#include "fhir/fhirpath/ast.h"
#include "fhir/fhirpath/fhirpath.h"
#include "fhir/fhirpath/model_access.h"
#include "fhir/fhirpath/system_values.h"
#include "fhir/fhirpath/temporal.h"
#include "fhir/fhirpath/text.h"
#include "fhir/fhirpath/units.h"
#include "fhir/model/registry.h"
#include "fhir/r4/resource.h"
#include "fhir/xhtml/narrative_check.h"

namespace fhir::fhirpath {
namespace internal {
namespace {

using Kind = Value::Kind;

// Bounds on what one evaluation may build, so that an expression (e.g. in a FHIRPath Patch
// from a client) cannot exhaust memory or time: repeat() and string growth; the items and the
// text of any one collection a node yields (`aggregate($total.combine($total))` doubles its
// collection at each item); and the work of the whole evaluation, counted in nodes evaluated,
// items yielded and, for the functions that compare every item with every other (distinct(),
// union, intersect() ...), comparisons. R4's search parameters and invariants stay far below:
// the bounds are for expressions written to exhaust the server.
constexpr std::size_t kMaxRepeatItems = 5000;
constexpr std::size_t kMaxStringBytes = 1 << 20;
constexpr std::size_t kMaxCollectionItems = 250'000;
constexpr std::size_t kMaxCollectionTextBytes = 32 << 20;
constexpr std::size_t kMaxWork = 20'000'000;

Status ExecError(std::string message) {
  return Status(IssueType::kProcessing, "FHIRPath evaluation error: " + std::move(message));
}

// ---- scopes --------------------------------------------------------------------------------

Status CheckOrdered(const Node& target, const std::string& what);
Status CheckMemberOfCast(const Node& member);

struct Scope {
  const Collection* focus;  // what a path starts from: the context, or [$this] in a lambda
  const Value* this_item;
  std::int64_t index;
  const Collection* total;
};

// Whether an item of the path's starting focus is of `type` (or derives from it).
bool FocusHasType(const Scope& scope, const TypeInfo* type) {
  for (const Value& item : *scope.focus) {
    if (item.kind() != Value::Kind::kElement) continue;
    for (const TypeInfo* t = item.type(); t != nullptr; t = t->base) {
      if (t == type) return true;
    }
  }
  return false;
}

class Evaluator {
 public:
  Evaluator(const Environment& env, const Collection& context, const Resource* start)
      : env_(env), context_(context) {
    if (env_.resource != nullptr) {
      resource_.push_back(Value::Element(&env_.resource->type_info(), env_.resource));
    } else if (start != nullptr) {
      resource_.push_back(Value::Element(&start->type_info(), start));
    } else if (context.size() == 1 && context[0].kind() == Kind::kElement &&
               context[0].type()->kind == TypeKind::kResource) {
      resource_.push_back(context[0]);
    }
    if (env_.root_resource != nullptr) {
      root_resource_.push_back(
          Value::Element(&env_.root_resource->type_info(), env_.root_resource));
    } else {
      root_resource_ = resource_;
    }
  }

  Result<Collection> Eval(const Node& node, const Scope& scope) {
    if (++depth_ > 400) {
      --depth_;
      return ExecError("expression evaluation nested too deeply");
    }
    Result<Collection> result = EvalNode(node, scope);
    --depth_;
    if (!result.ok()) return result;
    FHIR_RETURN_IF_ERROR(CheckYield(*result));
    return result;
  }

 private:
  // Counts `units` of work against kMaxWork.
  Status Charge(std::size_t units) {
    work_ += units;
    if (work_ > kMaxWork) {
      return ExecError("the expression takes too much work to evaluate (more than " +
                       std::to_string(kMaxWork) + " steps)");
    }
    return Status::Ok();
  }

  // The keys of what a union holds so far, with Environment::union_by_identity (filled once
  // the union is large; small ones compare in place).
  using IdentitySet = std::unordered_set<std::string>;

  // With Environment::union_by_identity: the same element, or the same kind and text.
  static bool SameIdentity(const Value& a, const Value& b) {
    if (a.kind() != b.kind()) return false;
    if (a.kind() == Kind::kElement) return a.object() == b.object();
    return a.text() == b.text() && a.unit() == b.unit();
  }
  static std::string IdentityKey(const Value& v) {
    std::string key(1, static_cast<char>(v.kind()));
    if (v.kind() == Kind::kElement) {
      const auto address = reinterpret_cast<std::uintptr_t>(v.object());
      key.append(reinterpret_cast<const char*>(&address), sizeof address);
    } else {
      key += v.text();
      key += '\0';
      key += v.unit();
    }
    return key;
  }

  // Appends to `out` the items of `c` it does not hold yet (a union's step).
  Status AppendUnion(Collection& out, const Collection& c, IdentitySet& seen) {
    if (!env_.union_by_identity) {
      FHIR_RETURN_IF_ERROR(Charge(c.size() * (out.size() + c.size())));
      for (const Value& v : c) AppendDistinct(out, v);
      return Status::Ok();
    }
    constexpr std::size_t kCompareInPlace = 64;
    FHIR_RETURN_IF_ERROR(Charge(c.size()));
    for (const Value& v : c) {
      if (seen.empty() && out.size() < kCompareInPlace) {
        if (std::none_of(out.begin(), out.end(),
                         [&](const Value& held) { return SameIdentity(held, v); })) {
          out.push_back(v);
        }
        continue;
      }
      if (seen.empty()) {
        for (const Value& held : out) seen.insert(IdentityKey(held));
      }
      if (seen.insert(IdentityKey(v)).second) out.push_back(v);
    }
    return Status::Ok();
  }

  // A node's result: within the bounds of one collection, and counted as work.
  Status CheckYield(const Collection& c) {
    if (c.size() > kMaxCollectionItems) {
      return ExecError("the expression yields more than " + std::to_string(kMaxCollectionItems) +
                       " items");
    }
    std::size_t text = 0;
    for (const Value& v : c) {
      if (v.kind() != Kind::kElement) text += v.text().size() + v.unit().size();
    }
    if (text > kMaxCollectionTextBytes) {
      return ExecError("the expression yields more than " +
                       std::to_string(kMaxCollectionTextBytes >> 20) + " MiB of text");
    }
    return Charge(1 + c.size());
  }

  Result<Collection> EvalNode(const Node& node, const Scope& scope);
  Result<Collection> EvalIdentifier(const Node& node, const Scope& scope);
  Result<Collection> EvalMember(const Collection& input, const Node& node);
  Result<Collection> EvalFunction(const Node& node, const Scope& scope);
  Result<Collection> EvalBinary(const Node& node, const Scope& scope);
  Result<Collection> EvalVariable(const Node& node);
  Result<Collection> CallFunction(const Node& node, const Collection& input, const Scope& scope);
  Result<Collection> Arithmetic(Op op, const Collection& a, const Collection& b);
  Result<Collection> Compare(Op op, const Collection& a, const Collection& b);
  Result<Collection> TypeFilter(const Collection& input, const std::string& type_name, Fn fn);
  Result<Collection> Resolve(const Collection& input);
  Result<Collection> StringFunction(const Node& node, const Collection& input, const Scope& scope);
  Result<Collection> MathFunction(const Node& node, const Collection& input, const Scope& scope);
  Result<Collection> Sort(const Node& node, const Collection& input);
  Result<Collection> BoundaryFunction(const Node& node, const Collection& input,
                                      const Scope& scope);
  Result<Collection> ConversionFunction(Fn fn, const Collection& input, const Node& node,
                                        const Scope& scope);

  // Evaluates argument `i` (1-based in node.args) against the enclosing scope.
  Result<Collection> Arg(const Node& node, std::size_t i, const Scope& scope) {
    return Eval(*node.args[i], scope);
  }
  // An argument that must be a single value of the kind asked (strings, integers).
  Result<std::optional<Value>> SingleArg(const Node& node, std::size_t i, const Scope& scope) {
    FHIR_ASSIGN_OR_RETURN(Collection c, Arg(node, i, scope));
    if (c.empty()) return std::optional<Value>();
    if (c.size() > 1) return ExecError(node.name + "() argument is not a single value");
    return std::optional<Value>(Sys(c[0]));
  }

  // Evaluates `lambda` with $this = item.
  Result<Collection> EvalLambda(const Node& lambda, const Value& item, std::int64_t index,
                                const Collection* total = nullptr) {
    Collection focus{item};
    Scope scope{&focus, &item, index, total};
    // Variables defined inside the lambda (defineVariable) end with it.
    std::size_t defined = defined_.size();
    Result<Collection> result = Eval(lambda, scope);
    defined_.resize(defined);
    return result;
  }

  // now(), today() and timeOfDay() are fixed for one evaluation.
  const Temporal& Clock() {
    if (!now_) now_ = Now();
    return *now_;
  }

  const Environment& env_;
  const Collection& context_;
  Collection resource_;
  Collection root_resource_;
  std::vector<std::pair<std::string, Collection>> defined_;
  std::optional<Temporal> now_;
  int depth_ = 0;
  std::size_t work_ = 0;  // Charge()
};

// Singleton evaluation of a collection as a boolean: empty -> nullopt; one Boolean -> it; one
// other item -> true (http://hl7.org/fhirpath/N1/#singleton-evaluation-of-collections).
Result<std::optional<bool>> AsBoolean(const Collection& c) {
  if (c.empty()) return std::optional<bool>();
  if (c.size() > 1) return ExecError("a collection of several items where a boolean is needed");
  Value v = Sys(c[0]);
  if (v.kind() == Kind::kBoolean) return std::optional<bool>(v.boolean());
  return std::optional<bool>(true);
}

Collection BoolResult(std::optional<bool> b) {
  if (!b) return {};
  return Collection{Value::Boolean(*b)};
}

Result<Collection> Evaluator::EvalNode(const Node& node, const Scope& scope) {
  switch (node.kind) {
    case Node::Kind::kLiteral:
      return Collection{node.literal};
    case Node::Kind::kEmpty:
      return Collection{};
    case Node::Kind::kThis:
      if (scope.this_item == nullptr) return *scope.focus;
      return Collection{*scope.this_item};
    case Node::Kind::kIndex:
      if (scope.this_item == nullptr) return Collection{};
      return Collection{Value::Integer(scope.index)};
    case Node::Kind::kTotal:
      if (scope.total == nullptr) return Collection{};
      return *scope.total;
    case Node::Kind::kVariable:
      return EvalVariable(node);
    case Node::Kind::kIdentifier:
      return EvalIdentifier(node, scope);
    case Node::Kind::kMember: {
      if (env_.strict) FHIR_RETURN_IF_ERROR(CheckMemberOfCast(node));
      FHIR_ASSIGN_OR_RETURN(Collection input, Eval(*node.args[0], scope));
      return EvalMember(input, node);
    }
    case Node::Kind::kFunction:
      return EvalFunction(node, scope);
    case Node::Kind::kIndexer: {
      if (env_.strict) FHIR_RETURN_IF_ERROR(CheckOrdered(*node.args[0], "[]"));
      FHIR_ASSIGN_OR_RETURN(Collection input, Eval(*node.args[0], scope));
      FHIR_ASSIGN_OR_RETURN(Collection index, Eval(*node.args[1], scope));
      if (index.empty()) return Collection{};
      Value i = Sys(index[0]);
      if (index.size() > 1 || i.kind() != Kind::kInteger) {
        return ExecError("an index must be a single integer");
      }
      if (i.integer() < 0 || static_cast<std::size_t>(i.integer()) >= input.size()) {
        return Collection{};
      }
      return Collection{input[static_cast<std::size_t>(i.integer())]};
    }
    case Node::Kind::kNegate: {
      FHIR_ASSIGN_OR_RETURN(Collection input, Eval(*node.args[0], scope));
      if (input.empty()) return Collection{};
      if (input.size() > 1) return ExecError("unary '-' on several items");
      Value v = Sys(input[0]);
      switch (v.kind()) {
        case Kind::kInteger:
          if (v.integer() == INT64_MIN) return Collection{};
          return Collection{Value::Integer(-v.integer())};
        case Kind::kDecimal:
          return Collection{
              Value::Decimal(v.text()[0] == '-' ? v.text().substr(1) : "-" + v.text())};
        case Kind::kQuantity:
          return Collection{
              Value::Quantity(v.text()[0] == '-' ? v.text().substr(1) : "-" + v.text(), v.unit())};
        default:
          return ExecError("unary '-' applies to numbers and quantities");
      }
    }
    case Node::Kind::kBinary:
      return EvalBinary(node, scope);
    case Node::Kind::kTypeOp: {
      FHIR_ASSIGN_OR_RETURN(Collection input, Eval(*node.args[0], scope));
      if (node.op == Op::kIs) {
        if (input.empty()) return Collection{};
        if (input.size() > 1) return ExecError("'is' on several items");
        return TypeFilter(input, node.name, Fn::kIs);
      }
      if (input.size() > 1 && env_.strict) return ExecError("'as' on several items");
      return TypeFilter(input, node.name, Fn::kOfType);
    }
  }
  return Collection{};
}

Result<Collection> Evaluator::EvalVariable(const Node& node) {
  const std::string& name = node.name;
  if (name == "context") return context_;
  if (name == "resource") return resource_;
  if (name == "rootResource") return root_resource_;
  if (name == "ucum") return Collection{Value::String("http://unitsofmeasure.org")};
  if (name == "sct") return Collection{Value::String("http://snomed.info/sct")};
  if (name == "loinc") return Collection{Value::String("http://loinc.org")};
  if (name.rfind("vs-", 0) == 0) {
    return Collection{Value::String("http://hl7.org/fhir/ValueSet/" + name.substr(3))};
  }
  if (name.rfind("ext-", 0) == 0) {
    return Collection{Value::String("http://hl7.org/fhir/StructureDefinition/" + name.substr(4))};
  }
  for (auto it = defined_.rbegin(); it != defined_.rend(); ++it) {
    if (it->first == name) return it->second;
  }
  for (const auto& [key, value] : env_.variables) {
    if (key == name) return value;
  }
  return Status(IssueType::kInvalid, "unknown FHIRPath variable %" + name);
}

Result<Collection> Evaluator::EvalIdentifier(const Node& node, const Scope& scope) {
  const Collection& focus = *scope.focus;
  // A type name at the start of a path (`Patient.name`) selects the items of that type.
  if (node.resource_type != nullptr) {
    Collection out;
    for (const Value& item : focus) {
      if (item.kind() != Kind::kElement) continue;
      for (const TypeInfo* type = item.type(); type != nullptr; type = type->base) {
        if (type == node.resource_type) {
          out.push_back(item);
          break;
        }
      }
    }
    if (out.empty() && env_.strict && !focus.empty()) {
      return Status(IssueType::kInvalid,
                    "FHIRPath: the context is not a " + node.name + " (strict mode)");
    }
    return out;
  }
  return EvalMember(focus, node);
}

Result<Collection> Evaluator::EvalMember(const Collection& input, const Node& node) {
  Collection out;
  for (const Value& item : input) {
    // The field the parser resolved for the type this path has (the usual case).
    if (node.field != nullptr && item.kind() == Kind::kElement && item.type() == node.owner_type &&
        !env_.strict) {
      AppendFieldValues(item, *node.field, node.choice, out);
      continue;
    }
    if (!AppendChildren(item, node.name, out) && env_.strict && item.kind() == Kind::kElement) {
      return Status(IssueType::kInvalid, "FHIRPath: '" + node.name + "' is not an element of " +
                                             std::string(item.type()->name) + " (strict mode)");
    }
    if (env_.strict && item.kind() == Kind::kElement && item.type()->kind != TypeKind::kPrimitive) {
      // A choice element's typed name (valueQuantity) is not FHIRPath (strict mode).
      const FieldInfo* field = item.type()->FindField(node.name);
      if (field == nullptr) {
        return Status(IssueType::kInvalid, "FHIRPath: '" + node.name +
                                               "' is not an element name of " +
                                               std::string(item.type()->name) + " (strict mode)");
      }
    }
  }
  return out;
}

Result<Collection> Evaluator::EvalBinary(const Node& node, const Scope& scope) {
  if (node.op == Op::kUnion) {
    // `a | b | c ...` (left-associative): evaluate the operands left to right and remove
    // duplicates once, instead of once per '|'.
    std::vector<const Node*> operands;
    const Node* left = &node;
    while (left->kind == Node::Kind::kBinary && left->op == Op::kUnion) {
      operands.push_back(left->args[1].get());
      left = left->args[0].get();
    }
    operands.push_back(left);
    Collection out;
    IdentitySet seen;
    for (auto it = operands.rbegin(); it != operands.rend(); ++it) {
      // `Account.subject | ActivityDefinition.subject | ...`: skip the paths for other types.
      if ((*it)->root_type != nullptr && !env_.strict && !FocusHasType(scope, (*it)->root_type)) {
        continue;
      }
      FHIR_ASSIGN_OR_RETURN(Collection c, Eval(**it, scope));
      FHIR_RETURN_IF_ERROR(AppendUnion(out, c, seen));
    }
    return out;
  }
  FHIR_ASSIGN_OR_RETURN(Collection a, Eval(*node.args[0], scope));
  // Boolean operators: three-valued logic, the right side is always evaluated (it may fail,
  // which the spec leaves to the implementation; evaluating both keeps results order-free).
  switch (node.op) {
    case Op::kAnd:
    case Op::kOr:
    case Op::kXor:
    case Op::kImplies: {
      FHIR_ASSIGN_OR_RETURN(std::optional<bool> x, AsBoolean(a));
      FHIR_ASSIGN_OR_RETURN(Collection b, Eval(*node.args[1], scope));
      FHIR_ASSIGN_OR_RETURN(std::optional<bool> y, AsBoolean(b));
      switch (node.op) {
        case Op::kAnd:
          if ((x && !*x) || (y && !*y)) return BoolResult(false);
          if (x && y) return BoolResult(true);
          return Collection{};
        case Op::kOr:
          if ((x && *x) || (y && *y)) return BoolResult(true);
          if (x && y) return BoolResult(false);
          return Collection{};
        case Op::kXor:
          if (!x || !y) return Collection{};
          return BoolResult(*x != *y);
        default:  // implies
          if (x && !*x) return BoolResult(true);
          if (y && *y) return BoolResult(true);
          if (x && y) return BoolResult(false);
          return Collection{};
      }
    }
    default:
      break;
  }
  FHIR_ASSIGN_OR_RETURN(Collection b, Eval(*node.args[1], scope));
  switch (node.op) {
    case Op::kEq:
      return BoolResult(CollectionsEqual(a, b));
    case Op::kNe: {
      std::optional<bool> eq = CollectionsEqual(a, b);
      if (!eq) return Collection{};
      return BoolResult(!*eq);
    }
    case Op::kEquiv:
      return BoolResult(CollectionsEquivalent(a, b));
    case Op::kNotEquiv:
      return BoolResult(!CollectionsEquivalent(a, b));
    case Op::kIn:
    case Op::kContains: {
      const Collection& item = node.op == Op::kIn ? a : b;
      const Collection& set = node.op == Op::kIn ? b : a;
      if (item.empty()) return Collection{};
      if (item.size() > 1) return ExecError("'in'/'contains' needs a single item");
      return BoolResult(Contains(set, item[0]));
    }
    case Op::kLt:
    case Op::kGt:
    case Op::kLe:
    case Op::kGe:
      return Compare(node.op, a, b);
    default:
      return Arithmetic(node.op, a, b);
  }
}

Result<Collection> Evaluator::Compare(Op op, const Collection& a_in, const Collection& b_in) {
  if (a_in.empty() || b_in.empty()) return Collection{};
  if (a_in.size() > 1 || b_in.size() > 1) return ExecError("comparison of several items");
  Value a = Sys(a_in[0]), b = Sys(b_in[0]);
  std::optional<int> c;
  if (IsNumeric(a) && IsNumeric(b)) {
    if (a.kind() == Kind::kInteger && b.kind() == Kind::kInteger) {
      c = a.integer() < b.integer() ? -1 : (a.integer() > b.integer() ? 1 : 0);
    } else {
      double x = NumberOf(a), y = NumberOf(b);
      c = x < y ? -1 : (x > y ? 1 : 0);
    }
  } else if (a.kind() == Kind::kString && b.kind() == Kind::kString) {
    c = a.text() < b.text() ? -1 : (a.text() > b.text() ? 1 : 0);
  } else if (IsTemporal(a) && IsTemporal(b) &&
             (a.kind() == Kind::kTime) == (b.kind() == Kind::kTime)) {
    std::optional<Temporal> ta = TemporalOf(a), tb = TemporalOf(b);
    if (!ta || !tb) return ExecError("invalid date/time value");
    c = CompareTemporal(*ta, *tb);
    if (!c) return Collection{};
  } else if (a.kind() == Kind::kQuantity && b.kind() == Kind::kQuantity) {
    c = CompareQuantities(a.text(), a.unit(), b.text(), b.unit(), false);
    if (!c) return Collection{};
  } else {
    return ExecError("cannot compare " + TypeName(a) + " with " + TypeName(b));
  }
  switch (op) {
    case Op::kLt:
      return BoolResult(*c < 0);
    case Op::kGt:
      return BoolResult(*c > 0);
    case Op::kLe:
      return BoolResult(*c <= 0);
    default:
      return BoolResult(*c >= 0);
  }
}

Result<Collection> Evaluator::Arithmetic(Op op, const Collection& a_in, const Collection& b_in) {
  if (op == Op::kConcat) {
    if (a_in.size() > 1 || b_in.size() > 1) return ExecError("'&' on several items");
    std::string text;
    for (const Collection* c : {&a_in, &b_in}) {
      if (c->empty()) continue;
      Value v = Sys((*c)[0]);
      if (v.kind() != Kind::kString) return ExecError("'&' needs strings");
      text += v.text();
      if (text.size() > kMaxStringBytes) return ExecError("string too long");
    }
    return Collection{Value::String(std::move(text))};
  }
  if (a_in.empty() || b_in.empty()) return Collection{};
  if (a_in.size() > 1 || b_in.size() > 1) return ExecError("arithmetic on several items");
  Value a = Sys(a_in[0]), b = Sys(b_in[0]);
  if (op == Op::kAdd && a.kind() == Kind::kString && b.kind() == Kind::kString) {
    if (a.text().size() + b.text().size() > kMaxStringBytes) return ExecError("string too long");
    return Collection{Value::String(a.text() + b.text())};
  }
  if (IsTemporal(a) && b.kind() == Kind::kQuantity && (op == Op::kAdd || op == Op::kSub)) {
    std::optional<Temporal> t = TemporalOf(a);
    if (!t) return ExecError("invalid date/time value");
    double amount = NumberOf(Value::Decimal(b.text()));
    if (!(std::fabs(amount) < 1e9)) return ExecError("duration out of range");
    auto whole = static_cast<std::int64_t>(std::trunc(amount));
    if (op == Op::kSub) whole = -whole;
    std::string unit = b.unit();
    // 'mo' and 'a' are UCUM's definite durations, not calendar months and years.
    if (unit == "mo" || unit == "a") {
      return ExecError("'" + unit + "' is not a calendar duration; use month/year");
    }
    std::optional<Temporal> r = AddDuration(*t, whole, unit);
    if (!r) return ExecError("cannot add '" + unit + "' to a " + TypeName(a));
    return Collection{TemporalValue(*r)};
  }
  if (a.kind() == Kind::kQuantity || b.kind() == Kind::kQuantity) {
    std::optional<QuantityValue> r =
        QuantityArithmetic(op == Op::kAdd   ? '+'
                           : op == Op::kSub ? '-'
                           : op == Op::kMul ? '*'
                           : op == Op::kDiv ? '/'
                                            : '?',
                           a.kind() == Kind::kQuantity ? a.text() : FormatDecimal(NumberOf(a)),
                           a.kind() == Kind::kQuantity ? a.unit() : "1",
                           b.kind() == Kind::kQuantity ? b.text() : FormatDecimal(NumberOf(b)),
                           b.kind() == Kind::kQuantity ? b.unit() : "1");
    if (!r) {
      if ((a.kind() == Kind::kQuantity || IsNumeric(a)) &&
          (b.kind() == Kind::kQuantity || IsNumeric(b))) {
        return Collection{};
      }
      return ExecError("invalid quantity arithmetic");
    }
    return Collection{Value::Quantity(r->number, r->unit)};
  }
  if (!IsNumeric(a) || !IsNumeric(b)) {
    return ExecError("arithmetic on " + TypeName(a) + " and " + TypeName(b));
  }
  bool integers = a.kind() == Kind::kInteger && b.kind() == Kind::kInteger;
  if (integers && op != Op::kDiv) {
    std::int64_t x = a.integer(), y = b.integer(), r = 0;
    switch (op) {
      case Op::kAdd:
        if (__builtin_add_overflow(x, y, &r)) return Collection{};
        break;
      case Op::kSub:
        if (__builtin_sub_overflow(x, y, &r)) return Collection{};
        break;
      case Op::kMul:
        if (__builtin_mul_overflow(x, y, &r)) return Collection{};
        break;
      case Op::kIntDiv:
        if (y == 0) return Collection{};
        if (y == -1 && x == INT64_MIN) return Collection{};
        r = x / y;
        break;
      case Op::kMod:
        if (y == 0) return Collection{};
        if (y == -1) return Collection{Value::Integer(0)};
        r = x % y;
        break;
      default:
        return ExecError("unsupported operator");
    }
    return Collection{Value::Integer(r)};
  }
  if (op == Op::kAdd || op == Op::kSub || op == Op::kMul) {
    std::string ta = a.kind() == Kind::kInteger ? std::to_string(a.integer()) : a.text();
    std::string tb = b.kind() == Kind::kInteger ? std::to_string(b.integer()) : b.text();
    char symbol = op == Op::kAdd ? '+' : (op == Op::kSub ? '-' : '*');
    if (std::optional<std::string> exact = ExactDecimal(symbol, ta, tb)) {
      return Collection{Value::Decimal(std::move(*exact))};
    }
  }
  double x = NumberOf(a), y = NumberOf(b);
  switch (op) {
    case Op::kAdd:
      return Collection{Value::Decimal(FormatDecimal(x + y))};
    case Op::kSub:
      return Collection{Value::Decimal(FormatDecimal(x - y))};
    case Op::kMul:
      return Collection{Value::Decimal(FormatDecimal(x * y))};
    case Op::kDiv:
      if (y == 0) return Collection{};
      return Collection{Value::Decimal(FormatDecimal(x / y))};
    case Op::kIntDiv:
      if (y == 0) return Collection{};
      return IntegerResult(std::trunc(x / y));
    case Op::kMod:
      if (y == 0) return Collection{};
      return Collection{Value::Decimal(FormatDecimal(std::fmod(x, y)))};
    default:
      return ExecError("unsupported operator");
  }
}

// ---- types ---------------------------------------------------------------------------------

bool SystemIsA(const Value& v, std::string_view name) {
  switch (v.kind()) {
    case Kind::kBoolean:
      return name == "Boolean";
    case Kind::kInteger:
      return name == "Integer";
    case Kind::kDecimal:
      return name == "Decimal";
    case Kind::kString:
      return name == "String";
    case Kind::kDate:
      return name == "Date";
    case Kind::kDateTime:
      return name == "DateTime";
    case Kind::kTime:
      return name == "Time";
    case Kind::kQuantity:
      return name == "Quantity";
    case Kind::kElement:
      return false;
  }
  return false;
}

bool IsSystemTypeName(std::string_view name) {
  return name == "Boolean" || name == "Integer" || name == "Decimal" || name == "String" ||
         name == "Date" || name == "DateTime" || name == "Time" || name == "Quantity" ||
         name == "Any";
}

Result<Collection> Evaluator::TypeFilter(const Collection& input, const std::string& type_name,
                                         Fn fn) {
  std::string_view name = type_name;
  enum class Space { kAny, kFhir, kSystem } space = Space::kAny;
  if (name.rfind("FHIR.", 0) == 0) {
    space = Space::kFhir;
    name.remove_prefix(5);
  } else if (name.rfind("System.", 0) == 0) {
    space = Space::kSystem;
    name.remove_prefix(7);
  }
  bool fhir_known = IsFhirTypeName(name);
  bool system_known = IsSystemTypeName(name);
  if (fn != Fn::kIs &&
      ((space == Space::kFhir && !fhir_known) || (space == Space::kSystem && !system_known) ||
       (!fhir_known && !system_known))) {
    return ExecError("unknown type " + type_name);
  }
  Collection out;
  for (const Value& item : input) {
    bool match;
    if (item.kind() == Kind::kElement) {
      match = space != Space::kSystem && ElementIsA(item, name, fn != Fn::kIs);
    } else {
      match = space != Space::kFhir && SystemIsA(item, name);
    }
    if (fn == Fn::kIs) {
      out.push_back(Value::Boolean(match));
    } else if (match) {
      out.push_back(item);
    }
  }
  return out;
}

// ---- resolve() -----------------------------------------------------------------------------

Result<Collection> Evaluator::Resolve(const Collection& input) {
  Collection out;
  for (const Value& item : input) {
    const std::string* reference = nullptr;
    if (item.kind() == Kind::kElement) {
      reference = StringField(item, "reference");
    } else if (item.kind() == Kind::kString) {
      reference = &item.text();
    }
    if (reference == nullptr || reference->empty()) continue;
    if (env_.resolve) {
      if (const Resource* r = env_.resolve(*reference)) {
        out.push_back(Value::Element(&r->type_info(), r));
      }
      continue;
    }
    if ((*reference)[0] == '#') {
      std::string_view id = std::string_view(*reference).substr(1);
      for (const Collection* holder : {&resource_, &root_resource_}) {
        bool found = false;
        for (const Value& r : *holder) {
          Collection contained;
          AppendChildren(r, "contained", contained);
          for (const Value& c : contained) {
            const std::string* cid = StringField(c, "id");
            if (cid != nullptr && *cid == id) {
              out.push_back(c);
              found = true;
              break;
            }
          }
          if (found) break;
        }
        if (found) break;
      }
      continue;
    }
    // "Type/id", "base/Type/id", "Type/id/_history/v": the type is the segment before the id.
    std::string_view ref = *reference;
    std::size_t history = ref.find("/_history/");
    if (history != std::string_view::npos) ref = ref.substr(0, history);
    std::size_t slash = ref.rfind('/');
    if (slash == std::string_view::npos || slash == 0) continue;
    std::string_view head = ref.substr(0, slash);
    std::size_t prev = head.rfind('/');
    std::string_view type_name = prev == std::string_view::npos ? head : head.substr(prev + 1);
    if (const TypeInfo* type = FindResourceType(type_name)) {
      out.push_back(Value::Element(type, nullptr));
    }
  }
  return out;
}

// ---- strings -------------------------------------------------------------------------------

Result<std::optional<std::string>> InputString(const Collection& input, const std::string& fn) {
  if (input.empty()) return std::optional<std::string>();
  if (input.size() > 1) return ExecError(fn + "() on several items");
  Value v = Sys(input[0]);
  if (v.kind() != Kind::kString) return ExecError(fn + "() needs a string");
  return std::optional<std::string>(v.text());
}

Result<Collection> Evaluator::StringFunction(const Node& node, const Collection& input,
                                             const Scope& scope) {
  FHIR_ASSIGN_OR_RETURN(std::optional<std::string> s, InputString(input, node.name));
  if (!s) return Collection{};
  const std::string& text = *s;
  auto string_arg = [&](std::size_t i) -> Result<std::optional<std::string>> {
    FHIR_ASSIGN_OR_RETURN(std::optional<Value> v, SingleArg(node, i, scope));
    if (!v) return std::optional<std::string>();
    if (v->kind() != Kind::kString) return ExecError(node.name + "() needs a string argument");
    return std::optional<std::string>(v->text());
  };
  switch (node.fn) {
    case Fn::kUpper: {
      std::string out = text;
      for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      return Collection{Value::String(out)};
    }
    case Fn::kLower:
      return Collection{Value::String(Lower(text))};
    case Fn::kLength:
      return Collection{Value::Integer(static_cast<std::int64_t>(text.size()))};
    case Fn::kToChars: {
      Collection out;
      for (char c : text) out.push_back(Value::String(std::string(1, c)));
      return out;
    }
    case Fn::kTrim: {
      std::size_t b = 0, e = text.size();
      while (b < e && std::isspace(static_cast<unsigned char>(text[b])) != 0) ++b;
      while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1])) != 0) --e;
      return Collection{Value::String(text.substr(b, e - b))};
    }
    case Fn::kStartsWith:
    case Fn::kEndsWith:
    case Fn::kContains:
    case Fn::kIndexOf:
    case Fn::kLastIndexOf:
    case Fn::kSplit:
    case Fn::kMatches:
    case Fn::kMatchesFull:
    case Fn::kEncode:
    case Fn::kDecode:
    case Fn::kEscape:
    case Fn::kUnescape: {
      FHIR_ASSIGN_OR_RETURN(std::optional<std::string> a, string_arg(1));
      if (!a) return Collection{};
      const std::string& arg = *a;
      switch (node.fn) {
        case Fn::kStartsWith:
          return BoolResult(text.rfind(arg, 0) == 0);
        case Fn::kEndsWith:
          return BoolResult(text.size() >= arg.size() &&
                            text.compare(text.size() - arg.size(), arg.size(), arg) == 0);
        case Fn::kContains:
          return BoolResult(text.find(arg) != std::string::npos);
        case Fn::kIndexOf: {
          std::size_t p = text.find(arg);
          return Collection{
              Value::Integer(p == std::string::npos ? -1 : static_cast<std::int64_t>(p))};
        }
        case Fn::kLastIndexOf: {
          std::size_t p = text.rfind(arg);
          return Collection{
              Value::Integer(p == std::string::npos ? -1 : static_cast<std::int64_t>(p))};
        }
        case Fn::kSplit: {
          Collection out;
          if (arg.empty()) {
            for (char c : text) out.push_back(Value::String(std::string(1, c)));
            return out;
          }
          std::size_t start = 0;
          while (true) {
            std::size_t p = text.find(arg, start);
            if (p == std::string::npos) {
              out.push_back(Value::String(text.substr(start)));
              break;
            }
            out.push_back(Value::String(text.substr(start, p - start)));
            start = p + arg.size();
          }
          return out;
        }
        case Fn::kMatches:
        case Fn::kMatchesFull: {
          std::unique_ptr<re2::RE2> re = MakeRegex(arg);
          if (!re) return ExecError("invalid regular expression '" + arg + "'");
          return BoolResult(RegexMatch(text, *re, node.fn == Fn::kMatchesFull));
        }
        case Fn::kEncode:
          if (arg == "base64") return Collection{Value::String(Base64Encode(text, false))};
          if (arg == "urlbase64") return Collection{Value::String(Base64Encode(text, true))};
          if (arg == "hex") {
            static constexpr char kHex[] = "0123456789abcdef";
            std::string out;
            for (char c : text) {
              out += kHex[(static_cast<unsigned char>(c) >> 4) & 15];
              out += kHex[static_cast<unsigned char>(c) & 15];
            }
            return Collection{Value::String(out)};
          }
          return Collection{};
        case Fn::kDecode:
          if (arg == "base64" || arg == "urlbase64") {
            std::optional<std::string> out = Base64Decode(text);
            if (!out) return Collection{};
            return Collection{Value::String(*out)};
          }
          if (arg == "hex") {
            if (text.size() % 2 != 0) return Collection{};
            std::string out;
            for (std::size_t i = 0; i < text.size(); i += 2) {
              int high = HexDigit(text[i]), low = HexDigit(text[i + 1]);
              if (high < 0 || low < 0) return Collection{};
              out += static_cast<char>(high * 16 + low);
            }
            return Collection{Value::String(out)};
          }
          return Collection{};
        case Fn::kEscape: {
          std::string out;
          for (char c : text) {
            if (arg == "html") {
              switch (c) {
                case '<':
                  out += "&lt;";
                  break;
                case '>':
                  out += "&gt;";
                  break;
                case '&':
                  out += "&amp;";
                  break;
                case '"':
                  out += "&quot;";
                  break;
                default:
                  out += c;
              }
            } else if (arg == "json") {
              switch (c) {
                case '"':
                  out += "\\\"";
                  break;
                case '\\':
                  out += "\\\\";
                  break;
                case '\n':
                  out += "\\n";
                  break;
                case '\r':
                  out += "\\r";
                  break;
                case '\t':
                  out += "\\t";
                  break;
                default:
                  out += c;
              }
            } else {
              return Collection{};
            }
          }
          return Collection{Value::String(out)};
        }
        default: {  // unescape
          std::string out;
          if (arg == "html") {
            static const std::pair<std::string_view, char> kEntities[] = {
                {"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}, {"&apos;", '\''}};
            for (std::size_t i = 0; i < text.size();) {
              bool replaced = false;
              for (const auto& [entity, c] : kEntities) {
                if (text.compare(i, entity.size(), entity) == 0) {
                  out += c;
                  i += entity.size();
                  replaced = true;
                  break;
                }
              }
              if (!replaced) out += text[i++];
            }
          } else if (arg == "json") {
            for (std::size_t i = 0; i < text.size(); ++i) {
              if (text[i] == '\\' && i + 1 < text.size()) {
                char e = text[++i];
                out += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
              } else {
                out += text[i];
              }
            }
          } else {
            return Collection{};
          }
          return Collection{Value::String(out)};
        }
      }
    }
    case Fn::kReplace:
    case Fn::kReplaceMatches: {
      FHIR_ASSIGN_OR_RETURN(std::optional<std::string> a, string_arg(1));
      FHIR_ASSIGN_OR_RETURN(std::optional<std::string> b, string_arg(2));
      if (!a || !b) return Collection{};
      if (node.fn == Fn::kReplaceMatches) {
        if (a->empty()) return Collection{Value::String(text)};
        std::unique_ptr<re2::RE2> re = MakeRegex(*a);
        if (!re) return ExecError("invalid regular expression '" + *a + "'");
        std::optional<std::string> replaced = RegexReplace(text, *re, *b, kMaxStringBytes);
        if (!replaced) {
          return ExecError("replaceMatches(): substitution '" + *b +
                           "' names a group the regular expression lacks");
        }
        if (replaced->size() > kMaxStringBytes) return ExecError("replaceMatches() result too long");
        return Collection{Value::String(*replaced)};
      }
      std::string out;
      if ((text.size() + 1) * (b->size() + 1) > kMaxStringBytes) {
        return ExecError("replace() result too long");
      }
      if (a->empty()) {
        // Inserted between every character and at both ends.
        out = *b;
        for (char c : text) {
          out += c;
          out += *b;
        }
        return Collection{Value::String(out)};
      }
      std::size_t start = 0;
      while (true) {
        std::size_t p = text.find(*a, start);
        if (p == std::string::npos) break;
        out += text.substr(start, p - start);
        out += *b;
        start = p + a->size();
      }
      out += text.substr(start);
      return Collection{Value::String(out)};
    }
    case Fn::kSubstring: {
      FHIR_ASSIGN_OR_RETURN(std::optional<Value> start, SingleArg(node, 1, scope));
      if (!start) return Collection{};
      if (start->kind() != Kind::kInteger) return ExecError("substring() needs an integer");
      std::int64_t from = start->integer();
      if (from < 0 || from >= static_cast<std::int64_t>(text.size())) return Collection{};
      std::size_t length = std::string::npos;
      if (node.args.size() > 2) {
        FHIR_ASSIGN_OR_RETURN(std::optional<Value> len, SingleArg(node, 2, scope));
        if (len) {
          if (len->kind() != Kind::kInteger) return ExecError("substring() needs an integer");
          if (len->integer() < 0) return Collection{Value::String("")};
          length = static_cast<std::size_t>(len->integer());
        }
      }
      return Collection{Value::String(text.substr(static_cast<std::size_t>(from), length))};
    }
    default:
      return ExecError("unsupported string function " + node.name);
  }
}

// ---- math ----------------------------------------------------------------------------------

Result<Collection> Evaluator::MathFunction(const Node& node, const Collection& input,
                                           const Scope& scope) {
  if (input.empty()) return Collection{};
  if (input.size() > 1) return ExecError(node.name + "() on several items");
  Value v = Sys(input[0]);
  if (node.fn == Fn::kAbs && v.kind() == Kind::kQuantity) {
    std::string n = v.text();
    if (!n.empty() && n[0] == '-') n.erase(0, 1);
    return Collection{Value::Quantity(n, v.unit())};
  }
  if (!IsNumeric(v)) return ExecError(node.name + "() needs a number");
  double x = NumberOf(v);
  auto decimal = [](double d) -> Collection {
    if (std::isnan(d) || std::isinf(d)) return {};
    return Collection{Value::Decimal(FormatDecimal(d))};
  };
  switch (node.fn) {
    case Fn::kAbs:
      if (v.kind() == Kind::kInteger) {
        if (v.integer() == INT64_MIN) return Collection{};
        return Collection{Value::Integer(std::llabs(v.integer()))};
      }
      return Collection{Value::Decimal(v.text()[0] == '-' ? v.text().substr(1) : v.text())};
    case Fn::kCeiling:
      return IntegerResult(std::ceil(x));
    case Fn::kFloor:
      return IntegerResult(std::floor(x));
    case Fn::kTruncate:
      return IntegerResult(std::trunc(x));
    case Fn::kExp:
      return decimal(std::exp(x));
    case Fn::kLn:
      if (x <= 0) return Collection{};
      return decimal(std::log(x));
    case Fn::kSqrt:
      if (x < 0) return Collection{};
      return decimal(std::sqrt(x));
    case Fn::kLog: {
      FHIR_ASSIGN_OR_RETURN(std::optional<Value> base, SingleArg(node, 1, scope));
      if (!base) return Collection{};
      if (!IsNumeric(*base)) return ExecError("log() needs a number");
      double b = NumberOf(*base);
      if (x <= 0 || b <= 0 || b == 1) return Collection{};
      return decimal(std::log(x) / std::log(b));
    }
    case Fn::kPower: {
      FHIR_ASSIGN_OR_RETURN(std::optional<Value> exponent, SingleArg(node, 1, scope));
      if (!exponent) return Collection{};
      if (!IsNumeric(*exponent)) return ExecError("power() needs a number");
      double r = std::pow(x, NumberOf(*exponent));
      if (std::isnan(r) || std::isinf(r)) return Collection{};
      if (v.kind() == Kind::kInteger && exponent->kind() == Kind::kInteger &&
          exponent->integer() >= 0) {
        return IntegerResult(r);
      }
      return decimal(r);
    }
    case Fn::kRound: {
      std::int64_t digits = 0;
      if (node.args.size() > 1) {
        FHIR_ASSIGN_OR_RETURN(std::optional<Value> p, SingleArg(node, 1, scope));
        if (p) {
          if (p->kind() != Kind::kInteger || p->integer() < 0 || p->integer() > 28) {
            return ExecError("round() needs a non-negative integer precision");
          }
          digits = p->integer();
        }
      }
      double scale = std::pow(10.0, static_cast<double>(digits));
      double r = std::round(x * scale) / scale;
      char buffer[64];
      std::snprintf(buffer, sizeof buffer, "%.*f", static_cast<int>(digits), r);
      return Collection{Value::Decimal(buffer)};
    }
    default:
      return ExecError("unsupported math function " + node.name);
  }
}

// ---- conversions ---------------------------------------------------------------------------

Fn ToFunctionOf(Fn converts) {
  switch (converts) {
    case Fn::kConvertsToBoolean:
      return Fn::kToBoolean;
    case Fn::kConvertsToInteger:
      return Fn::kToInteger;
    case Fn::kConvertsToDecimal:
      return Fn::kToDecimal;
    case Fn::kConvertsToString:
      return Fn::kToString;
    case Fn::kConvertsToDate:
      return Fn::kToDate;
    case Fn::kConvertsToDateTime:
      return Fn::kToDateTime;
    case Fn::kConvertsToTime:
      return Fn::kToTime;
    case Fn::kConvertsToQuantity:
      return Fn::kToQuantity;
    default:
      return converts;
  }
}

Result<Collection> Evaluator::ConversionFunction(Fn fn, const Collection& input, const Node& node,
                                                 const Scope& scope) {
  if (input.empty()) return Collection{};
  if (input.size() > 1) return ExecError(node.name + "() on several items");
  Value v = Sys(input[0]);
  Fn to = ToFunctionOf(fn);
  std::optional<Value> converted = Convert(to, v);
  if (converted && to == Fn::kToQuantity && node.args.size() > 1) {
    FHIR_ASSIGN_OR_RETURN(std::optional<Value> unit, SingleArg(node, 1, scope));
    if (unit && unit->kind() == Kind::kString && unit->text() != converted->unit()) {
      std::optional<QuantityValue> q =
          ConvertQuantity(converted->text(), converted->unit(), unit->text());
      converted = q ? std::optional<Value>(Value::Quantity(q->number, q->unit)) : std::nullopt;
    }
  }
  if (fn != to) return BoolResult(converted.has_value());
  if (!converted) return Collection{};
  return Collection{*converted};
}

// ---- sort(), lowBoundary(), highBoundary() (FHIRPath 2.1 additions) -------------------------

// Orders two sort keys: empty first, then numbers, strings, dates by value.
int CompareKeys(const Collection& a, const Collection& b) {
  if (a.empty() || b.empty()) return a.empty() == b.empty() ? 0 : (a.empty() ? -1 : 1);
  Value x = Sys(a[0]), y = Sys(b[0]);
  if (IsNumeric(x) && IsNumeric(y)) {
    double p = NumberOf(x), q = NumberOf(y);
    return p < q ? -1 : (p > q ? 1 : 0);
  }
  if (IsTemporal(x) && IsTemporal(y)) {
    std::optional<Temporal> tx = TemporalOf(x), ty = TemporalOf(y);
    if (tx && ty) {
      std::optional<int> c = CompareTemporal(*tx, *ty);
      if (c) return *c;
    }
  }
  std::optional<std::string> sx = ToText(x), sy = ToText(y);
  std::string p = sx.value_or(""), q = sy.value_or("");
  return p < q ? -1 : (p > q ? 1 : 0);
}

Result<Collection> Evaluator::Sort(const Node& node, const Collection& input) {
  struct Keyed {
    Value item;
    std::vector<Collection> keys;
  };
  std::vector<Keyed> keyed;
  std::vector<bool> descending;
  for (std::size_t k = 1; k < node.args.size(); ++k) {
    descending.push_back(node.args[k]->kind == Node::Kind::kNegate);
  }
  for (std::size_t i = 0; i < input.size(); ++i) {
    Keyed entry{input[i], {}};
    if (node.args.size() == 1) entry.keys.push_back(Collection{input[i]});
    for (std::size_t k = 1; k < node.args.size(); ++k) {
      const Node& key = descending[k - 1] ? *node.args[k]->args[0] : *node.args[k];
      FHIR_ASSIGN_OR_RETURN(Collection c, EvalLambda(key, input[i], static_cast<std::int64_t>(i)));
      entry.keys.push_back(std::move(c));
    }
    keyed.push_back(std::move(entry));
  }
  std::stable_sort(keyed.begin(), keyed.end(), [&](const Keyed& a, const Keyed& b) {
    for (std::size_t k = 0; k < a.keys.size(); ++k) {
      int c = CompareKeys(a.keys[k], b.keys[k]);
      // Items without a key come first in both directions.
      bool keyed_both = !a.keys[k].empty() && !b.keys[k].empty();
      if (keyed_both && k < descending.size() && descending[k]) c = -c;
      if (c != 0) return c < 0;
    }
    return false;
  });
  Collection out;
  for (Keyed& entry : keyed) out.push_back(std::move(entry.item));
  return out;
}

// A decimal's bound at `precision` digits after the point: the value plus or minus half a unit
// of its last digit, rounded outwards.
std::optional<std::string> DecimalBoundary(const Value& v, std::int64_t precision, bool high) {
  if (precision < 0 || precision > 28) return std::nullopt;
  int digits = v.kind() == Kind::kDecimal ? DecimalPlaces(v.text()) : 0;
  double x = NumberOf(v);
  double half = 0.5 * std::pow(10.0, -digits);
  double bound = high ? x + half : x - half;
  double scale = std::pow(10.0, static_cast<double>(precision));
  double rounded;
  if (std::fabs(x) < 1 / scale) {
    rounded = 0;
  } else if (high) {
    rounded = std::ceil(bound * scale - 1e-7) / scale;
  } else {
    rounded = std::floor(bound * scale + 1e-7) / scale;
  }
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "%.*f", static_cast<int>(precision), rounded);
  return std::string(buffer);
}

Result<Collection> Evaluator::BoundaryFunction(const Node& node, const Collection& input,
                                               const Scope& scope) {
  if (input.empty()) return Collection{};
  if (input.size() > 1) return ExecError(node.name + "() on several items");
  bool high = node.fn == Fn::kHighBoundary;
  Value v = Sys(input[0]);
  std::optional<std::int64_t> precision;
  if (node.args.size() > 1) {
    FHIR_ASSIGN_OR_RETURN(std::optional<Value> p, SingleArg(node, 1, scope));
    if (p) {
      if (p->kind() != Kind::kInteger) return ExecError(node.name + "() needs an integer");
      precision = p->integer();
    }
  }
  if (IsNumeric(v) || v.kind() == Kind::kQuantity) {
    Value number = v.kind() == Kind::kQuantity ? Value::Decimal(v.text()) : v;
    if (v.kind() == Kind::kQuantity && number.text().find('.') == std::string::npos) {
      number = Value::Integer(std::strtoll(v.text().c_str(), nullptr, 10));
    }
    std::optional<std::string> text = DecimalBoundary(number, precision.value_or(8), high);
    if (!text) return Collection{};
    if (v.kind() == Kind::kQuantity) return Collection{Value::Quantity(*text, v.unit())};
    return Collection{Value::Decimal(*text)};
  }
  std::optional<Temporal> t = TemporalOf(v);
  if (!t) return Collection{};
  bool is_time = t->kind == Temporal::Kind::kTime;
  std::int64_t digits =
      precision.value_or(is_time ? 9 : (t->kind == Temporal::Kind::kDate ? 8 : 17));
  Temporal::Precision target;
  if (is_time) {
    if (digits == 2)
      target = Temporal::kHour;
    else if (digits == 4)
      target = Temporal::kMinute;
    else if (digits == 6)
      target = Temporal::kSecond;
    else if (digits == 9)
      target = Temporal::kMillisecond;
    else
      return Collection{};
  } else {
    if (digits == 4)
      target = Temporal::kYear;
    else if (digits == 6)
      target = Temporal::kMonth;
    else if (digits == 8)
      target = Temporal::kDay;
    else if (t->kind == Temporal::Kind::kDate)
      return Collection{};
    else if (digits == 10)
      target = Temporal::kHour;
    else if (digits == 12)
      target = Temporal::kMinute;
    else if (digits == 14)
      target = Temporal::kSecond;
    else if (digits == 17)
      target = Temporal::kMillisecond;
    else
      return Collection{};
  }
  return Collection{TemporalValue(Boundary(*t, target, high))};
}

// ---- functions -----------------------------------------------------------------------------

// Strict mode: functions that depend on order applied to children()/descendants(), whose order
// is undefined (http://hl7.org/fhirpath/N1/#children-collection).
Status CheckOrdered(const Node& target, const std::string& what) {
  if (target.kind == Node::Kind::kFunction &&
      (target.fn == Fn::kChildren || target.fn == Fn::kDescendants)) {
    return Status(IssueType::kInvalid, "FHIRPath: " + what +
                                           " depends on order, and the result of " + target.name +
                                           "() has none (strict mode)");
  }
  return Status::Ok();
}

// Strict mode: `(x as Period).unit`, `x.ofType(Period).unit`: the name must be an element of
// the type cast to, whatever the values are (also when there are none).
Status CheckMemberOfCast(const Node& member) {
  const Node& target = *member.args[0];
  std::string type_name;
  if (target.kind == Node::Kind::kTypeOp && target.op == Op::kAs) {
    type_name = target.name;
  } else if (target.kind == Node::Kind::kFunction &&
             (target.fn == Fn::kAs || target.fn == Fn::kOfType) && target.args.size() > 1) {
    type_name = TypeSpecifierName(*target.args[1]);
  }
  std::string_view name = type_name;
  if (name.rfind("FHIR.", 0) == 0) name.remove_prefix(5);
  const TypeInfo* type = name.empty() ? nullptr : FindType(name);
  if (type == nullptr) return Status::Ok();
  bool known = type->kind == TypeKind::kPrimitive
                   ? (member.name == "id" || member.name == "extension" || member.name == "value")
                   : type->FindField(member.name) != nullptr;
  if (known) return Status::Ok();
  return Status(IssueType::kInvalid, "FHIRPath: '" + member.name + "' is not an element of " +
                                         std::string(type->name) + " (strict mode)");
}

Result<Collection> Evaluator::EvalFunction(const Node& node, const Scope& scope) {
  if (env_.strict && node.args[0] != nullptr &&
      (node.fn == Fn::kSkip || node.fn == Fn::kTake || node.fn == Fn::kFirst ||
       node.fn == Fn::kLast || node.fn == Fn::kTail)) {
    FHIR_RETURN_IF_ERROR(CheckOrdered(*node.args[0], node.name + "()"));
  }
  if (node.args[0] == nullptr) return CallFunction(node, *scope.focus, scope);
  FHIR_ASSIGN_OR_RETURN(Collection input, Eval(*node.args[0], scope));
  return CallFunction(node, input, scope);
}

int PrecisionOf(const Value& v) {
  switch (v.kind()) {
    case Kind::kDecimal:
      return DecimalPlaces(v.text());
    case Kind::kInteger:
      return 0;
    case Kind::kDate:
    case Kind::kDateTime:
    case Kind::kTime: {
      std::optional<Temporal> t = TemporalOf(v);
      if (!t) return -1;
      static constexpr int kDateDigits[] = {0, 4, 6, 8, 10, 12, 14, 17};
      int p = kDateDigits[t->precision];
      if (t->kind == Temporal::Kind::kTime) p -= 8;
      return p;
    }
    default:
      return -1;
  }
}

Result<Collection> Evaluator::CallFunction(const Node& node, const Collection& input,
                                           const Scope& scope) {
  switch (node.fn) {
    case Fn::kEmpty:
      return BoolResult(input.empty());
    case Fn::kExists:
      if (node.args.size() == 1) return BoolResult(!input.empty());
      [[fallthrough]];
    case Fn::kWhere:
    case Fn::kAll: {
      Collection out;
      for (std::size_t i = 0; i < input.size(); ++i) {
        FHIR_ASSIGN_OR_RETURN(Collection r,
                              EvalLambda(*node.args[1], input[i], static_cast<std::int64_t>(i)));
        FHIR_ASSIGN_OR_RETURN(std::optional<bool> b, AsBoolean(r));
        bool yes = b.value_or(false);
        if (node.fn == Fn::kAll && !yes) return BoolResult(false);
        if (node.fn == Fn::kExists && yes) return BoolResult(true);
        if (yes) out.push_back(input[i]);
      }
      if (node.fn == Fn::kAll) return BoolResult(true);
      if (node.fn == Fn::kExists) return BoolResult(false);
      return out;
    }
    case Fn::kSelect: {
      Collection out;
      for (std::size_t i = 0; i < input.size(); ++i) {
        FHIR_ASSIGN_OR_RETURN(Collection r,
                              EvalLambda(*node.args[1], input[i], static_cast<std::int64_t>(i)));
        // Checked as it grows, not only once whole (CheckYield): a million items per item
        // would fill memory before the work bound ends the loop.
        if (out.size() + r.size() > kMaxCollectionItems) {
          return ExecError("the expression yields more than " +
                           std::to_string(kMaxCollectionItems) + " items");
        }
        out.insert(out.end(), r.begin(), r.end());
      }
      return out;
    }
    case Fn::kRepeat: {
      Collection out;
      Collection frontier = input;
      while (!frontier.empty()) {
        Collection next;
        for (std::size_t i = 0; i < frontier.size(); ++i) {
          FHIR_ASSIGN_OR_RETURN(
              Collection r, EvalLambda(*node.args[1], frontier[i], static_cast<std::int64_t>(i)));
          for (const Value& v : r) {
            if (!Contains(out, v)) {
              out.push_back(v);
              next.push_back(v);
            }
          }
        }
        frontier = std::move(next);
        if (out.size() > kMaxRepeatItems) return ExecError("repeat() produced too many items");
      }
      return out;
    }
    case Fn::kAggregate: {
      Collection total;
      if (node.args.size() > 2) {
        FHIR_ASSIGN_OR_RETURN(total, Arg(node, 2, scope));
      }
      for (std::size_t i = 0; i < input.size(); ++i) {
        FHIR_ASSIGN_OR_RETURN(Collection r, EvalLambda(*node.args[1], input[i],
                                                       static_cast<std::int64_t>(i), &total));
        total = std::move(r);
      }
      return total;
    }
    case Fn::kAllTrue:
    case Fn::kAnyTrue:
    case Fn::kAllFalse:
    case Fn::kAnyFalse: {
      bool want = node.fn == Fn::kAllTrue || node.fn == Fn::kAnyTrue;
      bool all = node.fn == Fn::kAllTrue || node.fn == Fn::kAllFalse;
      for (const Value& item : input) {
        Value v = Sys(item);
        if (v.kind() != Kind::kBoolean) return ExecError(node.name + "() needs booleans");
        if (all && v.boolean() != want) return BoolResult(false);
        if (!all && v.boolean() == want) return BoolResult(true);
      }
      return BoolResult(all);
    }
    case Fn::kSubsetOf:
    case Fn::kSupersetOf: {
      FHIR_ASSIGN_OR_RETURN(Collection other, Arg(node, 1, scope));
      const Collection& sub = node.fn == Fn::kSubsetOf ? input : other;
      const Collection& super = node.fn == Fn::kSubsetOf ? other : input;
      FHIR_RETURN_IF_ERROR(Charge(sub.size() * super.size()));
      for (const Value& v : sub) {
        if (!Contains(super, v)) return BoolResult(false);
      }
      return BoolResult(true);
    }
    case Fn::kCount:
      return Collection{Value::Integer(static_cast<std::int64_t>(input.size()))};
    case Fn::kDistinct: {
      FHIR_RETURN_IF_ERROR(Charge(input.size() * input.size()));
      Collection out;
      for (const Value& v : input) AppendDistinct(out, v);
      return out;
    }
    case Fn::kIsDistinct: {
      FHIR_RETURN_IF_ERROR(Charge(input.size() * input.size()));
      Collection out;
      for (const Value& v : input) AppendDistinct(out, v);
      return BoolResult(out.size() == input.size());
    }
    case Fn::kOfType:
    case Fn::kAs:
    case Fn::kIs: {
      std::string type = TypeSpecifierName(*node.args[1]);
      if (type.empty()) return ExecError(node.name + "() needs a type name");
      if (node.fn == Fn::kOfType) return TypeFilter(input, type, Fn::kOfType);
      if (input.empty()) return Collection{};
      // FHIRPath makes as() on several items an error, but R4's own invariants (dom-3:
      // `descendants().as(canonical)`) rely on it filtering like ofType(): only strict mode
      // keeps the error.
      if (input.size() > 1 && (node.fn == Fn::kIs || env_.strict)) {
        return ExecError(node.name + "() on several items");
      }
      return TypeFilter(input, type, node.fn == Fn::kIs ? Fn::kIs : Fn::kOfType);
    }
    case Fn::kSingle:
      if (input.size() > 1) return ExecError("single() on several items");
      return input;
    case Fn::kFirst:
      if (input.empty()) return Collection{};
      return Collection{input.front()};
    case Fn::kLast:
      if (input.empty()) return Collection{};
      return Collection{input.back()};
    case Fn::kTail:
      if (input.size() <= 1) return Collection{};
      return Collection(input.begin() + 1, input.end());
    case Fn::kSkip:
    case Fn::kTake: {
      FHIR_ASSIGN_OR_RETURN(std::optional<Value> n, SingleArg(node, 1, scope));
      if (!n || n->kind() != Kind::kInteger) return ExecError(node.name + "() needs an integer");
      std::int64_t count = std::max<std::int64_t>(0, n->integer());
      auto k = static_cast<std::size_t>(
          std::min<std::int64_t>(count, static_cast<std::int64_t>(input.size())));
      if (node.fn == Fn::kSkip)
        return Collection(input.begin() + static_cast<long>(k), input.end());
      return Collection(input.begin(), input.begin() + static_cast<long>(k));
    }
    case Fn::kIntersect: {
      FHIR_ASSIGN_OR_RETURN(Collection other, Arg(node, 1, scope));
      FHIR_RETURN_IF_ERROR(Charge(input.size() * (other.size() + input.size())));
      Collection out;
      for (const Value& v : input) {
        if (Contains(other, v)) AppendDistinct(out, v);
      }
      return out;
    }
    case Fn::kExclude: {
      FHIR_ASSIGN_OR_RETURN(Collection other, Arg(node, 1, scope));
      FHIR_RETURN_IF_ERROR(Charge(input.size() * other.size()));
      Collection out;
      for (const Value& v : input) {
        if (!Contains(other, v)) out.push_back(v);
      }
      return out;
    }
    case Fn::kUnion: {
      FHIR_ASSIGN_OR_RETURN(Collection other, Arg(node, 1, scope));
      Collection out;
      IdentitySet seen;
      FHIR_RETURN_IF_ERROR(AppendUnion(out, input, seen));
      FHIR_RETURN_IF_ERROR(AppendUnion(out, other, seen));
      return out;
    }
    case Fn::kCombine: {
      FHIR_ASSIGN_OR_RETURN(Collection other, Arg(node, 1, scope));
      Collection out = input;
      out.insert(out.end(), other.begin(), other.end());
      return out;
    }
    case Fn::kIif: {
      if (input.size() > 1) return ExecError("iif() on several items");
      Collection criterion;
      if (node.args[0] != nullptr && input.size() == 1) {
        FHIR_ASSIGN_OR_RETURN(criterion, EvalLambda(*node.args[1], input[0], 0));
      } else {
        FHIR_ASSIGN_OR_RETURN(criterion, Arg(node, 1, scope));
      }
      if (criterion.size() > 1) return ExecError("iif() criterion is not a single boolean");
      std::optional<bool> condition;
      if (criterion.size() == 1) {
        Value c = Sys(criterion[0]);
        if (c.kind() != Kind::kBoolean) {
          return Status(IssueType::kInvalid, "iif() criterion is not a boolean");
        }
        condition = c.boolean();
      }
      std::size_t branch = condition.value_or(false) ? 2 : 3;
      if (branch >= node.args.size()) return Collection{};
      if (node.args[0] != nullptr && input.size() == 1) {
        return EvalLambda(*node.args[branch], input[0], 0);
      }
      return Arg(node, branch, scope);
    }
    case Fn::kToBoolean:
    case Fn::kConvertsToBoolean:
    case Fn::kToInteger:
    case Fn::kConvertsToInteger:
    case Fn::kToDecimal:
    case Fn::kConvertsToDecimal:
    case Fn::kToString:
    case Fn::kConvertsToString:
    case Fn::kToDate:
    case Fn::kConvertsToDate:
    case Fn::kToDateTime:
    case Fn::kConvertsToDateTime:
    case Fn::kToTime:
    case Fn::kConvertsToTime:
    case Fn::kToQuantity:
    case Fn::kConvertsToQuantity:
      return ConversionFunction(node.fn, input, node, scope);
    case Fn::kJoin: {
      std::string separator;
      if (node.args.size() > 1) {
        FHIR_ASSIGN_OR_RETURN(std::optional<Value> s, SingleArg(node, 1, scope));
        if (s) separator = s->text();
      }
      std::string out;
      for (std::size_t i = 0; i < input.size(); ++i) {
        Value v = Sys(input[i]);
        if (v.kind() != Kind::kString) return ExecError("join() needs strings");
        if (i > 0) out += separator;
        out += v.text();
        if (out.size() > kMaxStringBytes) return ExecError("join() result too long");
      }
      return Collection{Value::String(out)};
    }
    case Fn::kIndexOf:
    case Fn::kLastIndexOf:
    case Fn::kSubstring:
    case Fn::kStartsWith:
    case Fn::kEndsWith:
    case Fn::kContains:
    case Fn::kUpper:
    case Fn::kLower:
    case Fn::kReplace:
    case Fn::kMatches:
    case Fn::kMatchesFull:
    case Fn::kReplaceMatches:
    case Fn::kLength:
    case Fn::kToChars:
    case Fn::kSplit:
    case Fn::kTrim:
    case Fn::kEncode:
    case Fn::kDecode:
    case Fn::kEscape:
    case Fn::kUnescape:
      return StringFunction(node, input, scope);
    case Fn::kAbs:
    case Fn::kCeiling:
    case Fn::kExp:
    case Fn::kFloor:
    case Fn::kLn:
    case Fn::kLog:
    case Fn::kPower:
    case Fn::kRound:
    case Fn::kSqrt:
    case Fn::kTruncate:
      return MathFunction(node, input, scope);
    case Fn::kChildren: {
      Collection out;
      for (const Value& v : input) AppendAllChildren(v, out);
      return out;
    }
    case Fn::kDescendants: {
      Collection out;
      Collection frontier = input;
      while (!frontier.empty()) {
        Collection next;
        for (const Value& v : frontier) AppendAllChildren(v, next);
        out.insert(out.end(), next.begin(), next.end());
        frontier = std::move(next);
      }
      return out;
    }
    case Fn::kTrace:
      return input;
    case Fn::kNow:
      return Collection{Value::DateTime(Clock().ToString())};
    case Fn::kToday: {
      Temporal t = Clock();
      t.kind = Temporal::Kind::kDate;
      t.precision = Temporal::kDay;
      return Collection{Value::Date(t.ToString())};
    }
    case Fn::kTimeOfDay: {
      Temporal t = Clock();
      t.kind = Temporal::Kind::kTime;
      return Collection{Value::Time(t.ToString())};
    }
    case Fn::kDefineVariable: {
      if (node.args[1]->kind != Node::Kind::kLiteral ||
          node.args[1]->literal.kind() != Kind::kString) {
        return ExecError("defineVariable() needs a name");
      }
      std::string name = node.args[1]->literal.text();
      Node probe;
      probe.name = name;
      if (EvalVariable(probe).ok()) return ExecError("variable %" + name + " is already defined");
      Collection value = input;
      if (node.args.size() > 2) {
        // The value expression runs on the input collection (FHIRPath 2.1).
        Scope on_input{&input, nullptr, 0, scope.total};
        FHIR_ASSIGN_OR_RETURN(value, Eval(*node.args[2], on_input));
      }
      defined_.emplace_back(std::move(name), std::move(value));
      return input;
    }
    case Fn::kNot: {
      FHIR_ASSIGN_OR_RETURN(std::optional<bool> b, AsBoolean(input));
      if (!b) return Collection{};
      return BoolResult(!*b);
    }
    case Fn::kPrecision: {
      if (input.empty()) return Collection{};
      if (input.size() > 1) return ExecError("precision() on several items");
      int p = PrecisionOf(Sys(input[0]));
      if (p < 0) return Collection{};
      return Collection{Value::Integer(p)};
    }
    case Fn::kHasExtension:  // used by R4 search parameters: extension(url).exists()
    case Fn::kExtension: {
      FHIR_ASSIGN_OR_RETURN(std::optional<Value> url, SingleArg(node, 1, scope));
      if (!url) return Collection{};
      Collection extensions;
      for (const Value& v : input) AppendChildren(v, "extension", extensions);
      Collection out;
      for (const Value& e : extensions) {
        const std::string* u = StringField(e, "url");
        if (u != nullptr && *u == url->text()) out.push_back(e);
      }
      if (node.fn == Fn::kHasExtension) return BoolResult(!out.empty());
      return out;
    }
    case Fn::kHasValue:
      return BoolResult(input.size() == 1 && input[0].kind() == Kind::kElement &&
                        input[0].type()->kind == TypeKind::kPrimitive &&
                        ToSystemValue(input[0]).has_value());
    case Fn::kGetValue:
      if (input.size() == 1 && input[0].kind() == Kind::kElement &&
          input[0].type()->kind == TypeKind::kPrimitive) {
        std::optional<Value> v = ToSystemValue(input[0]);
        if (v) return Collection{*v};
      }
      return Collection{};
    case Fn::kResolve:
      return Resolve(input);
    case Fn::kMemberOf:
      // Terminology is not available to the engine: unknown.
      return Collection{};
    case Fn::kHtmlChecks: {
      // txt-1 and txt-2 on a narrative's XHTML (fhir/xhtml/narrative_check.h).
      FHIR_ASSIGN_OR_RETURN(std::optional<std::string> div, InputString(input, node.name));
      if (!div) return Collection{};
      return BoolResult(!xhtml::CheckNarrative(*div).has_value());
    }
    case Fn::kSort:
      return Sort(node, input);
    case Fn::kLowBoundary:
    case Fn::kHighBoundary:
      return BoundaryFunction(node, input, scope);
    case Fn::kComparable: {
      if (input.empty()) return Collection{};
      if (input.size() > 1) return ExecError("comparable() on several items");
      FHIR_ASSIGN_OR_RETURN(std::optional<Value> other, SingleArg(node, 1, scope));
      Value v = Sys(input[0]);
      if (!other || v.kind() != Kind::kQuantity || other->kind() != Kind::kQuantity) {
        return Collection{};
      }
      return BoolResult(UnitsComparable(v.unit(), other->unit()));
    }
    case Fn::kConformsTo: {
      // The core profiles only (http://hl7.org/fhir/StructureDefinition/[type]): a resource
      // conforms to its own type and its bases. Other profiles need profile validation, which
      // is not the engine's job.
      FHIR_ASSIGN_OR_RETURN(std::optional<Value> url, SingleArg(node, 1, scope));
      if (!url || input.empty()) return Collection{};
      if (input.size() > 1) return ExecError("conformsTo() on several items");
      constexpr std::string_view kCore = "http://hl7.org/fhir/StructureDefinition/";
      std::string_view profile = url->text();
      if (profile.rfind(kCore, 0) != 0 || !IsFhirTypeName(profile.substr(kCore.size()))) {
        return Status(IssueType::kNotSupported,
                      "conformsTo() supports the core profiles only, not " + url->text());
      }
      return BoolResult(ElementIsA(input[0], profile.substr(kCore.size()), false));
    }
    case Fn::kType: {
      Collection out;
      for (const Value& v : input) {
        std::string name = TypeName(v);
        std::size_t dot = name.find('.');
        out.push_back(TypeInfoValue(std::string_view(name).substr(0, dot),
                                    std::string_view(name).substr(dot + 1)));
      }
      return out;
    }
    case Fn::kSubsumes:
    case Fn::kSubsumedBy:
    case Fn::kElementDefinition:
    case Fn::kSlice:
    case Fn::kCheckModifiers:
    case Fn::kYearOf:
    case Fn::kMonthOf:
    case Fn::kDayOf:
    case Fn::kHourOf:
    case Fn::kMinuteOf:
    case Fn::kSecondOf:
    case Fn::kMillisecondOf:
    case Fn::kTimezoneOffsetOf:
    case Fn::kDateOf:
    case Fn::kTimeOf:
    case Fn::kUnknown:
      break;
  }
  return Status(IssueType::kNotSupported, "FHIRPath function " + node.name + "() is not supported");
}

}  // namespace
}  // namespace internal

Result<Collection> Evaluate(const Expression& expression, const Collection& context,
                            const Environment& environment) {
  const auto& parsed = static_cast<const internal::ParsedExpression&>(expression);
  internal::Evaluator evaluator(environment, context, nullptr);
  internal::Scope scope{&context, nullptr, 0, nullptr};
  return evaluator.Eval(parsed.root(), scope);
}

Result<Collection> Evaluate(const Expression& expression, const Resource& resource,
                            const Environment& environment) {
  const auto& parsed = static_cast<const internal::ParsedExpression&>(expression);
  Collection context{Value::Element(&resource.type_info(), &resource)};
  internal::Evaluator evaluator(environment, context, &resource);
  internal::Scope scope{&context, nullptr, 0, nullptr};
  return evaluator.Eval(parsed.root(), scope);
}

}  // namespace fhir::fhirpath
