// The FHIRPath grammar (http://hl7.org/fhirpath/N1/grammar.html) by recursive descent, one
// function per precedence level. Function names and arities are checked here, so that an
// unknown function is an error when the expression is parsed, not when it first runs.

#include <algorithm>
#include <cctype>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "fhir/fhirpath/ast.h"
#include "fhir/fhirpath/fhirpath.h"
#include "fhir/model/registry.h"

namespace fhir::fhirpath {
namespace internal {
namespace {

struct FunctionSpec {
  std::string_view name;
  Fn fn;
  int min_args;
  int max_args;
};

constexpr FunctionSpec kFunctions[] = {
    {"empty", Fn::kEmpty, 0, 0},
    {"exists", Fn::kExists, 0, 1},
    {"all", Fn::kAll, 1, 1},
    {"allTrue", Fn::kAllTrue, 0, 0},
    {"anyTrue", Fn::kAnyTrue, 0, 0},
    {"allFalse", Fn::kAllFalse, 0, 0},
    {"anyFalse", Fn::kAnyFalse, 0, 0},
    {"subsetOf", Fn::kSubsetOf, 1, 1},
    {"supersetOf", Fn::kSupersetOf, 1, 1},
    {"count", Fn::kCount, 0, 0},
    {"distinct", Fn::kDistinct, 0, 0},
    {"isDistinct", Fn::kIsDistinct, 0, 0},
    {"where", Fn::kWhere, 1, 1},
    {"select", Fn::kSelect, 1, 1},
    {"repeat", Fn::kRepeat, 1, 1},
    {"ofType", Fn::kOfType, 1, 1},
    {"as", Fn::kAs, 1, 1},
    {"is", Fn::kIs, 1, 1},
    {"single", Fn::kSingle, 0, 0},
    {"first", Fn::kFirst, 0, 0},
    {"last", Fn::kLast, 0, 0},
    {"tail", Fn::kTail, 0, 0},
    {"skip", Fn::kSkip, 1, 1},
    {"take", Fn::kTake, 1, 1},
    {"intersect", Fn::kIntersect, 1, 1},
    {"exclude", Fn::kExclude, 1, 1},
    {"union", Fn::kUnion, 1, 1},
    {"combine", Fn::kCombine, 1, 1},
    {"iif", Fn::kIif, 2, 3},
    {"toBoolean", Fn::kToBoolean, 0, 0},
    {"convertsToBoolean", Fn::kConvertsToBoolean, 0, 0},
    {"toInteger", Fn::kToInteger, 0, 0},
    {"convertsToInteger", Fn::kConvertsToInteger, 0, 0},
    {"toDecimal", Fn::kToDecimal, 0, 0},
    {"convertsToDecimal", Fn::kConvertsToDecimal, 0, 0},
    {"toString", Fn::kToString, 0, 0},
    {"convertsToString", Fn::kConvertsToString, 0, 0},
    {"toDate", Fn::kToDate, 0, 0},
    {"convertsToDate", Fn::kConvertsToDate, 0, 0},
    {"toDateTime", Fn::kToDateTime, 0, 0},
    {"convertsToDateTime", Fn::kConvertsToDateTime, 0, 0},
    {"toTime", Fn::kToTime, 0, 0},
    {"convertsToTime", Fn::kConvertsToTime, 0, 0},
    {"toQuantity", Fn::kToQuantity, 0, 1},
    {"convertsToQuantity", Fn::kConvertsToQuantity, 0, 1},
    {"indexOf", Fn::kIndexOf, 1, 1},
    {"lastIndexOf", Fn::kLastIndexOf, 1, 1},
    {"substring", Fn::kSubstring, 1, 2},
    {"startsWith", Fn::kStartsWith, 1, 1},
    {"endsWith", Fn::kEndsWith, 1, 1},
    {"contains", Fn::kContains, 1, 1},
    {"upper", Fn::kUpper, 0, 0},
    {"lower", Fn::kLower, 0, 0},
    {"replace", Fn::kReplace, 2, 2},
    {"matches", Fn::kMatches, 1, 1},
    {"matchesFull", Fn::kMatchesFull, 1, 1},
    {"replaceMatches", Fn::kReplaceMatches, 2, 2},
    {"length", Fn::kLength, 0, 0},
    {"toChars", Fn::kToChars, 0, 0},
    {"split", Fn::kSplit, 1, 1},
    {"join", Fn::kJoin, 0, 1},
    {"trim", Fn::kTrim, 0, 0},
    {"encode", Fn::kEncode, 1, 1},
    {"decode", Fn::kDecode, 1, 1},
    {"escape", Fn::kEscape, 1, 1},
    {"unescape", Fn::kUnescape, 1, 1},
    {"abs", Fn::kAbs, 0, 0},
    {"ceiling", Fn::kCeiling, 0, 0},
    {"exp", Fn::kExp, 0, 0},
    {"floor", Fn::kFloor, 0, 0},
    {"ln", Fn::kLn, 0, 0},
    {"log", Fn::kLog, 1, 1},
    {"power", Fn::kPower, 1, 1},
    {"round", Fn::kRound, 0, 1},
    {"sqrt", Fn::kSqrt, 0, 0},
    {"truncate", Fn::kTruncate, 0, 0},
    {"children", Fn::kChildren, 0, 0},
    {"descendants", Fn::kDescendants, 0, 0},
    {"trace", Fn::kTrace, 1, 2},
    {"now", Fn::kNow, 0, 0},
    {"timeOfDay", Fn::kTimeOfDay, 0, 0},
    {"today", Fn::kToday, 0, 0},
    {"defineVariable", Fn::kDefineVariable, 1, 2},
    {"aggregate", Fn::kAggregate, 1, 2},
    {"sort", Fn::kSort, 0, 8},
    {"precision", Fn::kPrecision, 0, 0},
    {"lowBoundary", Fn::kLowBoundary, 0, 1},
    {"highBoundary", Fn::kHighBoundary, 0, 1},
    {"comparable", Fn::kComparable, 1, 1},
    {"yearOf", Fn::kYearOf, 0, 0},
    {"monthOf", Fn::kMonthOf, 0, 0},
    {"dayOf", Fn::kDayOf, 0, 0},
    {"hourOf", Fn::kHourOf, 0, 0},
    {"minuteOf", Fn::kMinuteOf, 0, 0},
    {"secondOf", Fn::kSecondOf, 0, 0},
    {"millisecondOf", Fn::kMillisecondOf, 0, 0},
    {"timezoneOffsetOf", Fn::kTimezoneOffsetOf, 0, 0},
    {"dateOf", Fn::kDateOf, 0, 0},
    {"timeOf", Fn::kTimeOf, 0, 0},
    {"not", Fn::kNot, 0, 0},
    {"extension", Fn::kExtension, 1, 1},
    {"hasExtension", Fn::kHasExtension, 1, 1},
    {"hasValue", Fn::kHasValue, 0, 0},
    {"getValue", Fn::kGetValue, 0, 0},
    {"resolve", Fn::kResolve, 0, 0},
    {"memberOf", Fn::kMemberOf, 1, 1},
    {"conformsTo", Fn::kConformsTo, 1, 1},
    {"htmlChecks", Fn::kHtmlChecks, 0, 0},
    {"htmlchecks", Fn::kHtmlChecks, 0, 0},
    {"subsumes", Fn::kSubsumes, 1, 1},
    {"subsumedBy", Fn::kSubsumedBy, 1, 1},
    {"elementDefinition", Fn::kElementDefinition, 0, 0},
    {"slice", Fn::kSlice, 2, 2},
    {"checkModifiers", Fn::kCheckModifiers, 1, 1},
    {"type", Fn::kType, 0, 0},
};

const FunctionSpec* FindFunction(std::string_view name) {
  for (const FunctionSpec& spec : kFunctions) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

bool IsIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_'; }
bool IsIdentChar(char c) {
  return IsIdentStart(c) || std::isdigit(static_cast<unsigned char>(c)) != 0;
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsCalendarUnit(std::string_view word) {
  static constexpr std::string_view kUnits[] = {
      "year", "years", "month",  "months",  "week",   "weeks",   "day",         "days",
      "hour", "hours", "minute", "minutes", "second", "seconds", "millisecond", "milliseconds"};
  for (std::string_view unit : kUnits) {
    if (unit == word) return true;
  }
  return false;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<std::unique_ptr<Node>> ParseAll() {
    auto root = ParseExpression(0);
    if (!error_.empty()) return Error();
    SkipSpace();
    if (!error_.empty()) return Error();
    if (pos_ < text_.size()) {
      Fail("unexpected '" + std::string(text_.substr(pos_, 1)) + "'");
      return Error();
    }
    return root;
  }

 private:
  Status Error() const {
    return Status(IssueType::kInvalid, "FHIRPath syntax error at position " +
                                           std::to_string(error_pos_) + ": " + error_);
  }
  void Fail(std::string message) {
    if (error_.empty()) {
      error_ = std::move(message);
      error_pos_ = pos_;
    }
  }

  void SkipSpace() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        ++pos_;
      } else if (text_.substr(pos_, 2) == "//") {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else if (text_.substr(pos_, 2) == "/*") {
        std::size_t end = text_.find("*/", pos_ + 2);
        if (end == std::string_view::npos) {
          Fail("unterminated comment");
          pos_ = text_.size();
          return;
        }
        pos_ = end + 2;
      } else {
        return;
      }
    }
  }

  // Peeks at an operator token without consuming it; returns its length or 0.
  bool PeekSymbol(std::string_view symbol) {
    SkipSpace();
    return text_.substr(pos_, symbol.size()) == symbol;
  }
  bool Accept(std::string_view symbol) {
    if (!PeekSymbol(symbol)) return false;
    pos_ += symbol.size();
    return true;
  }
  // A keyword operator (and, or, is, ...): the word must not continue as an identifier.
  bool PeekWord(std::string_view word) {
    SkipSpace();
    if (text_.substr(pos_, word.size()) != word) return false;
    std::size_t end = pos_ + word.size();
    return end >= text_.size() || !IsIdentChar(text_[end]);
  }
  bool AcceptWord(std::string_view word) {
    if (!PeekWord(word)) return false;
    pos_ += word.size();
    return true;
  }

  // Appends `child` (may be null: a path's implicit start) to `parent.args`. Trees taller than
  // kMaxHeight are refused: evaluation and destruction recurse over them.
  void Adopt(Node& parent, std::unique_ptr<Node> child) {
    if (child) parent.height = std::max(parent.height, child->height + 1);
    parent.args.push_back(std::move(child));
    if (parent.height > kMaxHeight) Fail("expression nested too deeply");
  }
  static constexpr int kMaxHeight = 300;

  std::unique_ptr<Node> MakeNode(Node::Kind kind) {
    auto node = std::make_unique<Node>();
    node->kind = kind;
    node->position = pos_;
    return node;
  }

  std::unique_ptr<Node> Binary(Op op, std::unique_ptr<Node> left, std::unique_ptr<Node> right) {
    auto node = MakeNode(Node::Kind::kBinary);
    node->op = op;
    Adopt(*node, std::move(left));
    Adopt(*node, std::move(right));
    return node;
  }

  // Precedence levels, loosest first: implies; or xor; and; in contains; = ~ != !~;
  // < > <= >=; |; is as; + - &; * / div mod; unary; invocation.
  std::unique_ptr<Node> ParseExpression(int level) {
    if (!error_.empty()) return nullptr;
    // Each nesting (parentheses, arguments, indexes, unary minus) starts over at level 0.
    if (level == 0 && ++depth_ > kMaxNesting) {
      Fail("expression nested too deeply");
      return nullptr;
    }
    std::unique_ptr<Node> result = ParseLevel(level);
    if (level == 0) --depth_;
    return result;
  }
  static constexpr int kMaxNesting = 100;

  std::unique_ptr<Node> ParseLevel(int level) {
    if (level >= 10) return ParseUnary();
    std::unique_ptr<Node> left = ParseExpression(level + 1);
    while (left && error_.empty()) {
      Op op = Op::kNone;
      std::size_t length = 0;
      SkipSpace();
      switch (level) {
        case 0:
          if (PeekWord("implies")) op = Op::kImplies, length = 7;
          break;
        case 1:
          if (PeekWord("or"))
            op = Op::kOr, length = 2;
          else if (PeekWord("xor"))
            op = Op::kXor, length = 3;
          break;
        case 2:
          if (PeekWord("and")) op = Op::kAnd, length = 3;
          break;
        case 3:
          if (PeekWord("in"))
            op = Op::kIn, length = 2;
          else if (PeekWord("contains"))
            op = Op::kContains, length = 8;
          break;
        case 4:
          if (PeekSymbol("="))
            op = Op::kEq, length = 1;
          else if (PeekSymbol("~"))
            op = Op::kEquiv, length = 1;
          else if (PeekSymbol("!="))
            op = Op::kNe, length = 2;
          else if (PeekSymbol("!~"))
            op = Op::kNotEquiv, length = 2;
          break;
        case 5:
          if (PeekSymbol("<="))
            op = Op::kLe, length = 2;
          else if (PeekSymbol(">="))
            op = Op::kGe, length = 2;
          else if (PeekSymbol("<"))
            op = Op::kLt, length = 1;
          else if (PeekSymbol(">"))
            op = Op::kGt, length = 1;
          break;
        case 6:
          if (PeekSymbol("|")) op = Op::kUnion, length = 1;
          break;
        case 7:
          if (PeekWord("is"))
            op = Op::kIs, length = 2;
          else if (PeekWord("as"))
            op = Op::kAs, length = 2;
          break;
        case 8:
          if (PeekSymbol("+"))
            op = Op::kAdd, length = 1;
          else if (PeekSymbol("-"))
            op = Op::kSub, length = 1;
          else if (PeekSymbol("&"))
            op = Op::kConcat, length = 1;
          break;
        case 9:
          if (PeekSymbol("*"))
            op = Op::kMul, length = 1;
          else if (PeekSymbol("/"))
            op = Op::kDiv, length = 1;
          else if (PeekWord("div"))
            op = Op::kIntDiv, length = 3;
          else if (PeekWord("mod"))
            op = Op::kMod, length = 3;
          break;
        default:
          break;
      }
      if (op == Op::kNone) break;
      pos_ += length;
      if (op == Op::kIs || op == Op::kAs) {
        auto node = MakeNode(Node::Kind::kTypeOp);
        node->op = op;
        node->name = ParseQualifiedName();
        if (node->name.empty()) {
          Fail("type name expected");
          return nullptr;
        }
        Adopt(*node, std::move(left));
        left = std::move(node);
        continue;
      }
      std::unique_ptr<Node> right = ParseExpression(level + 1);
      if (!right) {
        Fail("operand expected");
        return nullptr;
      }
      left = Binary(op, std::move(left), std::move(right));
    }
    return left;
  }

  std::string ParseQualifiedName() {
    std::string name = ParseIdentifier();
    while (!name.empty() && PeekSymbol(".")) {
      std::size_t save = pos_;
      ++pos_;
      std::string part = ParseIdentifier();
      if (part.empty()) {
        pos_ = save;
        break;
      }
      name += "." + part;
    }
    return name;
  }

  std::string ParseIdentifier() {
    SkipSpace();
    if (pos_ >= text_.size()) return {};
    if (text_[pos_] == '`') {
      std::size_t end = text_.find('`', pos_ + 1);
      if (end == std::string_view::npos) {
        Fail("unterminated `identifier`");
        return {};
      }
      std::string name(text_.substr(pos_ + 1, end - pos_ - 1));
      pos_ = end + 1;
      return name;
    }
    if (!IsIdentStart(text_[pos_])) return {};
    std::size_t start = pos_;
    while (pos_ < text_.size() && IsIdentChar(text_[pos_])) ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }

  std::unique_ptr<Node> ParseUnary() {
    SkipSpace();
    if (Accept("-")) {
      if (++depth_ > kMaxNesting) {
        Fail("expression nested too deeply");
        return nullptr;
      }
      auto operand = ParseUnary();
      --depth_;
      if (!operand) {
        Fail("operand expected");
        return nullptr;
      }
      auto node = MakeNode(Node::Kind::kNegate);
      Adopt(*node, std::move(operand));
      return node;
    }
    if (Accept("+")) {
      if (++depth_ > kMaxNesting) {
        Fail("expression nested too deeply");
        return nullptr;
      }
      auto operand = ParseUnary();
      --depth_;
      return operand;
    }
    return ParseInvocation();
  }

  std::unique_ptr<Node> ParseInvocation() {
    std::unique_ptr<Node> node = ParseTerm();
    while (node && error_.empty()) {
      SkipSpace();
      if (Accept("[")) {
        auto index = ParseExpression(0);
        if (!index || !Accept("]")) {
          Fail("']' expected");
          return nullptr;
        }
        auto indexer = MakeNode(Node::Kind::kIndexer);
        Adopt(*indexer, std::move(node));
        Adopt(*indexer, std::move(index));
        node = std::move(indexer);
      } else if (pos_ < text_.size() && text_[pos_] == '.' &&
                 (pos_ + 1 >= text_.size() || !IsDigit(text_[pos_ + 1]))) {
        ++pos_;
        node = ParseMemberOrCall(std::move(node));
        if (!node) Fail("name expected after '.'");
      } else {
        break;
      }
    }
    return node;
  }

  // `name` or `name(args)` after a '.', or at the start of a path (target == nullptr).
  std::unique_ptr<Node> ParseMemberOrCall(std::unique_ptr<Node> target) {
    SkipSpace();
    std::size_t start = pos_;
    if (pos_ < text_.size() && text_[pos_] == '$') {
      if (target) return nullptr;
      ++pos_;
      std::string word = ParseIdentifier();
      Node::Kind kind;
      if (word == "this")
        kind = Node::Kind::kThis;
      else if (word == "index")
        kind = Node::Kind::kIndex;
      else if (word == "total")
        kind = Node::Kind::kTotal;
      else {
        Fail("unknown $" + word);
        return nullptr;
      }
      return MakeNode(kind);
    }
    bool quoted = pos_ < text_.size() && text_[pos_] == '`';
    std::string name = ParseIdentifier();
    if (name.empty()) return nullptr;
    SkipSpace();
    if (!quoted && pos_ < text_.size() && text_[pos_] == '(') {
      ++pos_;
      auto call = MakeNode(Node::Kind::kFunction);
      call->position = start;
      call->name = name;
      Adopt(*call, std::move(target));
      if (!Accept(")")) {
        do {
          auto arg = ParseExpression(0);
          if (!arg) {
            Fail("argument expected");
            return nullptr;
          }
          Adopt(*call, std::move(arg));
        } while (Accept(","));
        if (!Accept(")")) {
          Fail("')' expected");
          return nullptr;
        }
      }
      const FunctionSpec* spec = FindFunction(name);
      int count = static_cast<int>(call->args.size()) - 1;
      if (spec == nullptr) {
        pos_ = start;
        Fail("unknown function '" + name + "'");
        return nullptr;
      }
      if (count < spec->min_args || count > spec->max_args) {
        pos_ = start;
        Fail("wrong number of arguments for " + name + "()");
        return nullptr;
      }
      call->fn = spec->fn;
      return call;
    }
    auto node = MakeNode(target ? Node::Kind::kMember : Node::Kind::kIdentifier);
    node->position = start;
    if (!target && std::isupper(static_cast<unsigned char>(name[0])) != 0) {
      const TypeInfo* type = FindType(name);
      if (type != nullptr && type->kind == TypeKind::kResource) node->resource_type = type;
    }
    node->name = std::move(name);
    if (target) Adopt(*node, std::move(target));
    return node;
  }

  std::unique_ptr<Node> Literal(Value value) {
    auto node = MakeNode(Node::Kind::kLiteral);
    node->literal = std::move(value);
    return node;
  }

  std::unique_ptr<Node> ParseTerm() {
    SkipSpace();
    if (!error_.empty()) return nullptr;
    if (pos_ >= text_.size()) {
      Fail("unexpected end of expression");
      return nullptr;
    }
    char c = text_[pos_];
    if (c == '(') {
      ++pos_;
      auto inner = ParseExpression(0);
      if (!inner || !Accept(")")) {
        Fail("')' expected");
        return nullptr;
      }
      return inner;
    }
    if (c == '{') {
      ++pos_;
      if (!Accept("}")) {
        Fail("'}' expected");
        return nullptr;
      }
      return MakeNode(Node::Kind::kEmpty);
    }
    if (c == '\'') return ParseStringLiteral();
    if (c == '@') return ParseDateTimeLiteral();
    if (c == '%') {
      ++pos_;
      std::string name;
      if (pos_ < text_.size() && text_[pos_] == '\'') {
        auto literal = ParseStringLiteral();
        if (!literal) return nullptr;
        name = literal->literal.text();
      } else {
        name = ParseIdentifier();
        // %vs-..., %ext-...: names with dashes.
        while (pos_ < text_.size() && (text_[pos_] == '-' || IsIdentChar(text_[pos_]))) {
          name += text_[pos_++];
        }
      }
      if (name.empty()) {
        Fail("variable name expected after '%'");
        return nullptr;
      }
      auto node = MakeNode(Node::Kind::kVariable);
      node->name = std::move(name);
      return node;
    }
    if (IsDigit(c)) return ParseNumber();
    if (PeekWord("true")) {
      pos_ += 4;
      return Literal(Value::Boolean(true));
    }
    if (PeekWord("false")) {
      pos_ += 5;
      return Literal(Value::Boolean(false));
    }
    auto node = ParseMemberOrCall(nullptr);
    if (!node) Fail("unexpected '" + std::string(text_.substr(pos_, 1)) + "'");
    return node;
  }

  std::unique_ptr<Node> ParseNumber() {
    std::size_t start = pos_;
    while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    bool decimal = false;
    if (pos_ + 1 < text_.size() && text_[pos_] == '.' && IsDigit(text_[pos_ + 1])) {
      decimal = true;
      ++pos_;
      while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    }
    std::string number(text_.substr(start, pos_ - start));
    if (!decimal && pos_ < text_.size() && text_[pos_] == 'L') {
      ++pos_;  // a Long literal (FHIRPath 2.0): an Integer here
    }
    // A quantity: a number followed by a unit string or a calendar duration keyword.
    std::size_t save = pos_;
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == '\'') {
      auto unit = ParseStringLiteral();
      if (!unit) return nullptr;
      return Literal(Value::Quantity(number, unit->literal.text()));
    }
    if (pos_ < text_.size() && IsIdentStart(text_[pos_])) {
      std::size_t word_start = pos_;
      std::string word = ParseIdentifier();
      if (IsCalendarUnit(word)) return Literal(Value::Quantity(number, word));
      pos_ = word_start;
    }
    pos_ = save;
    if (decimal) return Literal(Value::Decimal(number));
    std::int64_t value = 0;
    for (char d : number) {
      if (__builtin_mul_overflow(value, 10, &value) ||
          __builtin_add_overflow(value, d - '0', &value)) {
        Fail("integer literal too large");
        return nullptr;
      }
    }
    // System.Integer is 32-bit in FHIRPath; values keep 64 bits here (Long literals too).
    return Literal(Value::Integer(value));
  }

  std::unique_ptr<Node> ParseStringLiteral() {
    ++pos_;  // opening quote
    std::string out;
    while (pos_ < text_.size() && text_[pos_] != '\'') {
      char c = text_[pos_++];
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= text_.size()) break;
      char e = text_[pos_++];
      switch (e) {
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'f':
          out += '\f';
          break;
        case 'u': {
          if (pos_ + 4 > text_.size()) {
            Fail("bad \\u escape");
            return nullptr;
          }
          unsigned code = 0;
          for (int i = 0; i < 4; ++i) {
            char h = text_[pos_++];
            code <<= 4;
            if (IsDigit(h))
              code |= static_cast<unsigned>(h - '0');
            else if (h >= 'a' && h <= 'f')
              code |= static_cast<unsigned>(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F')
              code |= static_cast<unsigned>(h - 'A' + 10);
            else {
              Fail("bad \\u escape");
              return nullptr;
            }
          }
          if (code < 0x80) {
            out += static_cast<char>(code);
          } else if (code < 0x800) {
            out += static_cast<char>(0xC0 | (code >> 6));
            out += static_cast<char>(0x80 | (code & 0x3F));
          } else {
            out += static_cast<char>(0xE0 | (code >> 12));
            out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (code & 0x3F));
          }
          break;
        }
        default:
          out += e;  // \' \" \` \\ \/
      }
    }
    if (pos_ >= text_.size()) {
      Fail("unterminated string");
      return nullptr;
    }
    ++pos_;  // closing quote
    return Literal(Value::String(std::move(out)));
  }

  std::unique_ptr<Node> ParseDateTimeLiteral() {
    ++pos_;  // '@'
    std::size_t start = pos_;
    auto is_dt_char = [](char ch) {
      return IsDigit(ch) || ch == '-' || ch == ':' || ch == '.' || ch == 'T' || ch == 'Z' ||
             ch == '+';
    };
    // A '.' belongs to the literal only as the seconds' fraction point (`@2015.is(Date)`).
    while (pos_ < text_.size() && is_dt_char(text_[pos_]) &&
           (text_[pos_] != '.' || (pos_ + 1 < text_.size() && IsDigit(text_[pos_ + 1])))) {
      ++pos_;
    }
    std::string body(text_.substr(start, pos_ - start));
    if (body.empty()) {
      Fail("date/time expected after '@'");
      return nullptr;
    }
    if (body[0] == 'T') {
      std::string time = body.substr(1);
      if (!ValidTime(time)) {
        Fail("invalid time literal @" + body);
        return nullptr;
      }
      return Literal(Value::Time(time));
    }
    std::size_t t = body.find('T');
    if (t == std::string::npos) {
      if (!ValidDate(body)) {
        Fail("invalid date literal @" + body);
        return nullptr;
      }
      return Literal(Value::Date(body));
    }
    std::string date = body.substr(0, t);
    std::string rest = body.substr(t + 1);
    if (!ValidDate(date)) {
      Fail("invalid date literal @" + body);
      return nullptr;
    }
    if (!rest.empty()) {
      std::string time = rest;
      std::size_t zone = time.find_first_of("Z+-");
      std::string tz;
      if (zone != std::string::npos) {
        tz = time.substr(zone);
        time = time.substr(0, zone);
      }
      if ((!time.empty() && !ValidTime(time)) || (!tz.empty() && !ValidZone(tz)) ||
          (time.empty() && !tz.empty() && date.size() != 10)) {
        Fail("invalid dateTime literal @" + body);
        return nullptr;
      }
      if (time.empty()) rest = tz;
    }
    // "@2015T" is a DateTime of year precision; keep the text without the trailing 'T'.
    return Literal(Value::DateTime(rest.empty() ? date : date + "T" + rest));
  }

  static bool Digits(std::string_view s, std::size_t n) {
    if (s.size() != n) return false;
    for (char c : s) {
      if (!IsDigit(c)) return false;
    }
    return true;
  }
  static bool ValidDate(std::string_view s) {
    if (s.size() == 4) return Digits(s, 4);
    if (s.size() == 7) return Digits(s.substr(0, 4), 4) && s[4] == '-' && Digits(s.substr(5), 2);
    if (s.size() == 10) {
      return Digits(s.substr(0, 4), 4) && s[4] == '-' && Digits(s.substr(5, 2), 2) && s[7] == '-' &&
             Digits(s.substr(8), 2);
    }
    return false;
  }
  static bool ValidTime(std::string_view s) {
    if (s.size() < 2 || !Digits(s.substr(0, 2), 2)) return false;
    if (s.size() == 2) return true;
    if (s.size() < 5 || s[2] != ':' || !Digits(s.substr(3, 2), 2)) return false;
    if (s.size() == 5) return true;
    if (s.size() < 8 || s[5] != ':' || !Digits(s.substr(6, 2), 2)) return false;
    if (s.size() == 8) return true;
    if (s[8] != '.' || s.size() == 9) return false;
    for (char c : s.substr(9)) {
      if (!IsDigit(c)) return false;
    }
    return true;
  }
  static bool ValidZone(std::string_view s) {
    if (s == "Z") return true;
    return s.size() == 6 && (s[0] == '+' || s[0] == '-') && Digits(s.substr(1, 2), 2) &&
           s[3] == ':' && Digits(s.substr(4), 2);
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  int depth_ = 0;
  std::string error_;
  std::size_t error_pos_ = 0;
};

}  // namespace

std::string TypeSpecifierName(const Node& node) {
  if (node.kind == Node::Kind::kIdentifier) return node.name;
  if (node.kind == Node::Kind::kMember && node.args.size() == 1 && node.args[0] &&
      node.args[0]->kind == Node::Kind::kIdentifier) {
    return node.args[0]->name + "." + node.name;
  }
  return {};
}

}  // namespace internal

namespace internal {
namespace {

// Functions that give an empty result for an empty input.
bool PreservesEmpty(Fn fn) {
  switch (fn) {
    case Fn::kWhere:
    case Fn::kSelect:
    case Fn::kRepeat:
    case Fn::kOfType:
    case Fn::kAs:
    case Fn::kIs:
    case Fn::kFirst:
    case Fn::kLast:
    case Fn::kTail:
    case Fn::kSkip:
    case Fn::kTake:
    case Fn::kDistinct:
    case Fn::kResolve:
    case Fn::kExtension:
    case Fn::kChildren:
    case Fn::kDescendants:
    case Fn::kTrace:
    case Fn::kGetValue:
      return true;
    default:
      return false;
  }
}

// The FHIR type a type specifier names (`Quantity`, `FHIR.Quantity`), or nullptr.
const TypeInfo* FhirType(std::string_view name) {
  if (name.rfind("FHIR.", 0) == 0) name.remove_prefix(5);
  if (name.rfind("System.", 0) == 0) return nullptr;
  return FindType(name);
}

// Node::static_type and the field of a kMember, from the children's static types.
void SetStaticType(Node& node) {
  switch (node.kind) {
    case Node::Kind::kIdentifier:
      node.static_type = node.resource_type;
      break;
    case Node::Kind::kIndexer:
      node.static_type = node.args[0]->static_type;
      break;
    case Node::Kind::kTypeOp:
      if (node.op == Op::kAs) node.static_type = FhirType(node.name);
      break;
    case Node::Kind::kFunction:
      if (node.args[0] == nullptr) break;
      switch (node.fn) {
        case Fn::kWhere:
        case Fn::kFirst:
        case Fn::kLast:
        case Fn::kTail:
        case Fn::kSkip:
        case Fn::kTake:
        case Fn::kDistinct:
        case Fn::kSingle:
        case Fn::kTrace:
          node.static_type = node.args[0]->static_type;
          break;
        case Fn::kOfType:
        case Fn::kAs:
          node.static_type = FhirType(TypeSpecifierName(*node.args[1]));
          break;
        default:
          break;
      }
      break;
    case Node::Kind::kMember: {
      const TypeInfo* owner = node.args[0]->static_type;
      if (owner == nullptr || owner->kind == TypeKind::kPrimitive) break;
      if (const FieldInfo* field = owner->FindField(node.name)) {
        node.owner_type = owner;
        node.field = field;
        if (field->shape != FieldShape::kChoice && field->type != nullptr &&
            field->type->kind != TypeKind::kResource) {
          node.static_type = field->type;
        }
      } else if (const JsonName* json = owner->FindJsonName(node.name);
                 json != nullptr && json->choice != 0) {
        node.owner_type = owner;
        node.field = &owner->fields[json->field];
        node.choice = json->choice;
        node.static_type = node.field->choices[json->choice - 1].type;
      }
      break;
    }
    default:
      break;
  }
}

// Sets Node::root_type over the tree (height-limited by the parser).
void SetRootTypes(Node& node) {
  for (const std::unique_ptr<Node>& arg : node.args) {
    if (arg) SetRootTypes(*arg);
  }
  SetStaticType(node);
  switch (node.kind) {
    case Node::Kind::kIdentifier:
      node.root_type = node.resource_type;
      break;
    case Node::Kind::kMember:
    case Node::Kind::kIndexer:
    case Node::Kind::kTypeOp:
      node.root_type = node.args[0]->root_type;
      break;
    case Node::Kind::kFunction:
      if (node.args[0] != nullptr && PreservesEmpty(node.fn)) {
        node.root_type = node.args[0]->root_type;
      }
      break;
    default:
      break;
  }
}

}  // namespace
}  // namespace internal

Result<std::shared_ptr<const Expression>> Parse(std::string_view text) {
  internal::Parser parser(text);
  FHIR_ASSIGN_OR_RETURN(std::unique_ptr<internal::Node> root, parser.ParseAll());
  internal::SetRootTypes(*root);
  return std::shared_ptr<const Expression>(
      std::make_shared<internal::ParsedExpression>(std::string(text), std::move(root)));
}

namespace {
// Lets the cache be searched with a string_view, without making a std::string per lookup.
struct TextHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const {
    return std::hash<std::string_view>()(text);
  }
};
}  // namespace

Result<std::shared_ptr<const Expression>> ParseCached(std::string_view text) {
  static std::shared_mutex mutex;
  static auto* cache = new std::unordered_map<std::string, std::shared_ptr<const Expression>,
                                              TextHash, std::equal_to<>>();
  {
    std::shared_lock lock(mutex);
    auto it = cache->find(text);
    if (it != cache->end()) return it->second;
  }
  FHIR_ASSIGN_OR_RETURN(std::shared_ptr<const Expression> parsed, Parse(text));
  std::unique_lock lock(mutex);
  // Expressions come from definitions (search parameters, invariants, patches): a bounded set
  // in practice; a cap keeps a stream of distinct patch paths from growing it without end.
  if (cache->size() > 100000) cache->clear();
  cache->emplace(std::string(text), parsed);
  return parsed;
}

}  // namespace fhir::fhirpath
