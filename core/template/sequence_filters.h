#pragma once

#include "core/template/callable.h"
#include "core/template/value.h"

namespace tunebench::jinja {

class Evaluator;

// Jinja2's filters over sequences and mappings, with its results' types: map,
// select, reject, selectattr, rejectattr, unique, items and reverse give
// generators (consumed once, no len()), the rest lists, tuples or single values.
// Each throws RuntimeProblem as Jinja2 raises.
using FilterFunction = Value (*)(Evaluator&, const Value& input, const CallArgs& args);

Value filterLength(Evaluator&, const Value& input, const CallArgs& args);
Value filterList(Evaluator&, const Value& input, const CallArgs& args);
Value filterFirst(Evaluator&, const Value& input, const CallArgs& args);
Value filterLast(Evaluator&, const Value& input, const CallArgs& args);
Value filterJoin(Evaluator&, const Value& input, const CallArgs& args);
Value filterItems(Evaluator&, const Value& input, const CallArgs& args);
Value filterDictsort(Evaluator&, const Value& input, const CallArgs& args);
Value filterSort(Evaluator&, const Value& input, const CallArgs& args);
Value filterUnique(Evaluator&, const Value& input, const CallArgs& args);
Value filterMin(Evaluator&, const Value& input, const CallArgs& args);
Value filterMax(Evaluator&, const Value& input, const CallArgs& args);
Value filterSum(Evaluator&, const Value& input, const CallArgs& args);
Value filterMap(Evaluator&, const Value& input, const CallArgs& args);
Value filterSelect(Evaluator&, const Value& input, const CallArgs& args);
Value filterReject(Evaluator&, const Value& input, const CallArgs& args);
Value filterSelectattr(Evaluator&, const Value& input, const CallArgs& args);
Value filterRejectattr(Evaluator&, const Value& input, const CallArgs& args);
Value filterReverse(Evaluator&, const Value& input, const CallArgs& args);
Value filterBatch(Evaluator&, const Value& input, const CallArgs& args);

} // namespace tunebench::jinja
