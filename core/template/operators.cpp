#include "core/template/operators.h"

#include "core/template/string_format.h"
#include "core/template/template_error.h"
#include "core/template/value_format.h"

#include <cmath>

namespace tunebench::jinja {

const char* binaryOpSymbol(BinaryOp op)
{
    switch (op) {
    case BinaryOp::Add:
        return "+";
    case BinaryOp::Sub:
        return "-";
    case BinaryOp::Mul:
        return "*";
    case BinaryOp::Div:
        return "/";
    case BinaryOp::FloorDiv:
        return "//";
    case BinaryOp::Mod:
        return "%";
    case BinaryOp::Pow:
        return "**";
    }
    return "?";
}

namespace {

[[noreturn]] void unsupportedOperands(BinaryOp op, const Value& a, const Value& b)
{
    if (a.isUndefined() || b.isUndefined()) {
        const Value& u = a.isUndefined() ? a : b;
        throw RuntimeProblem(ErrorKind::Undefined, u.undefinedHint());
    }
    throwTypeError(std::string("unsupported operand type(s) for ") + binaryOpSymbol(op) + ": '" + a.typeName()
        + "' and '" + b.typeName() + "'");
}

[[noreturn]] void overflow()
{
    throwUnsupported("integer result does not fit in 64 bits (Python's unbounded integers are not supported)");
}

bool isIntegral(const Value& v)
{
    return v.isInt() || v.isBool();
}

Value repeat(const Value& sequence, std::int64_t times, std::size_t maxSize)
{
    if (times < 0)
        times = 0;
    if (sequence.isString()) {
        const std::string& s = sequence.str();
        if (!s.empty() && static_cast<std::uint64_t>(times) > maxSize / s.size())
            throw RuntimeProblem(
                ErrorKind::Limit, "string repetition would exceed " + std::to_string(maxSize) + " bytes");
        std::string out;
        out.reserve(s.size() * static_cast<std::size_t>(times));
        for (std::int64_t i = 0; i < times; ++i)
            out += s;
        return Value::string(std::move(out), sequence.isMarkup());
    }
    const auto& items = sequence.items();
    if (!items.empty() && static_cast<std::uint64_t>(times) > maxSize / items.size())
        throw RuntimeProblem(ErrorKind::Limit, "list repetition would exceed " + std::to_string(maxSize) + " items");
    std::vector<Value> out;
    out.reserve(items.size() * static_cast<std::size_t>(times));
    for (std::int64_t i = 0; i < times; ++i)
        out.insert(out.end(), items.begin(), items.end());
    return Value::sequence(std::move(out), sequence.sequenceKind());
}

std::int64_t floorDivInt(std::int64_t a, std::int64_t b)
{
    if (b == 0)
        throwTypeError("integer division or modulo by zero");
    if (a == INT64_MIN && b == -1)
        overflow();
    std::int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        --q;
    return q;
}

std::int64_t modInt(std::int64_t a, std::int64_t b)
{
    if (b == 0)
        throwTypeError("integer division or modulo by zero");
    if (b == -1)
        return 0;
    std::int64_t r = a % b;
    if (r != 0 && ((r < 0) != (b < 0)))
        r += b;
    return r;
}

// Python's float divmod (Objects/floatobject.c): the remainder takes the divisor's sign.
void floatDivmod(double a, double b, double& div, double& mod)
{
    if (b == 0.0)
        throwTypeError("float divmod()");
    mod = std::fmod(a, b);
    div = (a - mod) / b;
    if (mod != 0.0) {
        if ((b < 0) != (mod < 0)) {
            mod += b;
            div -= 1.0;
        }
    } else {
        mod = std::copysign(0.0, b);
    }
    if (div != 0.0) {
        double floordiv = std::floor(div);
        if (div - floordiv > 0.5)
            floordiv += 1.0;
        div = floordiv;
    } else {
        div = std::copysign(0.0, a / b);
    }
}

Value powInt(std::int64_t base, std::int64_t exponent)
{
    if (exponent < 0) {
        if (base == 0)
            throwTypeError("0.0 cannot be raised to a negative power");
        return Value::number(std::pow(static_cast<double>(base), static_cast<double>(exponent)));
    }
    std::int64_t result = 1;
    std::int64_t b = base;
    std::int64_t e = exponent;
    while (e > 0) {
        if (e & 1) {
            if (__builtin_mul_overflow(result, b, &result))
                overflow();
        }
        e >>= 1;
        if (e > 0 && __builtin_mul_overflow(b, b, &b))
            overflow();
    }
    return Value::integer(result);
}

} // namespace

Value concatStrings(const Value& left, const Value& right)
{
    if (left.isMarkup() || right.isMarkup()) {
        const std::string l = left.isMarkup() ? left.str() : escapeHtml(left.str());
        const std::string r = right.isMarkup() ? right.str() : escapeHtml(right.str());
        return Value::string(l + r, true);
    }
    return Value::string(left.str() + right.str());
}

// Long for a reason: one switch over operators and operand types, as Jinja defines them, in one table.
Value binaryOperation(BinaryOp op, const Value& a, const Value& b, std::size_t maxSize)
{
    const bool numbers = a.isNumber() && b.isNumber();
    const bool ints = isIntegral(a) && isIntegral(b);
    switch (op) {
    case BinaryOp::Add:
        if (ints) {
            std::int64_t r = 0;
            if (__builtin_add_overflow(a.toInt(), b.toInt(), &r))
                overflow();
            return Value::integer(r);
        }
        if (numbers)
            return Value::number(a.toDouble() + b.toDouble());
        if (a.isString() && b.isString()) {
            if (a.str().size() + b.str().size() > maxSize)
                throw RuntimeProblem(
                    ErrorKind::Limit, "string concatenation would exceed " + std::to_string(maxSize) + " bytes");
            return concatStrings(a, b);
        }
        if (a.isSequence() && b.isSequence() && a.sequenceKind() == b.sequenceKind() && (a.isList() || a.isTuple())) {
            std::vector<Value> items = a.items();
            items.insert(items.end(), b.items().begin(), b.items().end());
            return Value::sequence(std::move(items), a.sequenceKind());
        }
        unsupportedOperands(op, a, b);
    case BinaryOp::Sub:
        if (ints) {
            std::int64_t r = 0;
            if (__builtin_sub_overflow(a.toInt(), b.toInt(), &r))
                overflow();
            return Value::integer(r);
        }
        if (numbers)
            return Value::number(a.toDouble() - b.toDouble());
        unsupportedOperands(op, a, b);
    case BinaryOp::Mul:
        if (ints) {
            std::int64_t r = 0;
            if (__builtin_mul_overflow(a.toInt(), b.toInt(), &r))
                overflow();
            return Value::integer(r);
        }
        if (numbers)
            return Value::number(a.toDouble() * b.toDouble());
        if ((a.isString() || a.isList() || a.isTuple()) && isIntegral(b))
            return repeat(a, b.toInt(), maxSize);
        if ((b.isString() || b.isList() || b.isTuple()) && isIntegral(a))
            return repeat(b, a.toInt(), maxSize);
        unsupportedOperands(op, a, b);
    case BinaryOp::Div:
        if (numbers) {
            if (b.toDouble() == 0.0)
                throwTypeError("division by zero");
            return Value::number(a.toDouble() / b.toDouble());
        }
        unsupportedOperands(op, a, b);
    case BinaryOp::FloorDiv:
        if (ints)
            return Value::integer(floorDivInt(a.toInt(), b.toInt()));
        if (numbers) {
            double div = 0;
            double mod = 0;
            floatDivmod(a.toDouble(), b.toDouble(), div, mod);
            return Value::number(div);
        }
        unsupportedOperands(op, a, b);
    case BinaryOp::Mod:
        if (ints)
            return Value::integer(modInt(a.toInt(), b.toInt()));
        if (numbers) {
            double div = 0;
            double mod = 0;
            floatDivmod(a.toDouble(), b.toDouble(), div, mod);
            return Value::number(mod);
        }
        if (a.isString())
            return Value::string(percentFormat(a.str(), b), a.isMarkup());
        unsupportedOperands(op, a, b);
    case BinaryOp::Pow:
        if (ints)
            return powInt(a.toInt(), b.toInt());
        if (numbers) {
            const double x = a.toDouble();
            const double y = b.toDouble();
            if (x == 0.0 && y < 0)
                throwTypeError("0.0 cannot be raised to a negative power");
            if (x < 0 && y != std::floor(y))
                throwUnsupported("a negative number to a fractional power is complex, which is not supported");
            return Value::number(std::pow(x, y));
        }
        unsupportedOperands(op, a, b);
    }
    unsupportedOperands(op, a, b);
}

Value negate(const Value& v)
{
    if (isIntegral(v)) {
        if (v.toInt() == INT64_MIN)
            overflow();
        return Value::integer(-v.toInt());
    }
    if (v.isFloat())
        return Value::number(-v.asFloat());
    if (v.isUndefined())
        throw RuntimeProblem(ErrorKind::Undefined, v.undefinedHint());
    throwTypeError("bad operand type for unary -: '" + v.typeName() + "'");
}

Value unaryPlus(const Value& v)
{
    if (isIntegral(v))
        return Value::integer(v.toInt());
    if (v.isFloat())
        return v;
    if (v.isUndefined())
        throw RuntimeProblem(ErrorKind::Undefined, v.undefinedHint());
    throwTypeError("bad operand type for unary +: '" + v.typeName() + "'");
}

} // namespace tunebench::jinja
