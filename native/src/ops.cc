// Every ATen operator through one door: look up its schema once, then convert JS arguments to
// IValues by the schema's types, call it boxed (autograd included) and convert the results back.
#include <ATen/core/dispatch/Dispatcher.h>

#include "common.h"

namespace kestrel {
namespace {

constexpr napi_type_tag kOpTag = {0x6b65737472656c31ULL, 0x6f70000000000001ULL};

const c10::OperatorHandle& unwrapOp(Napi::Env env, Napi::Value v) {
  bool tagged = false;
  if (v.IsExternal()) napi_check_object_type_tag(env, v, &kOpTag, &tagged);
  if (!tagged) throw Napi::TypeError::New(env, "expected an operator handle");
  return *v.As<Napi::External<c10::OperatorHandle>>().Data();
}

[[noreturn]] void badArg(const c10::FunctionSchema& schema, const c10::Argument& arg, const std::string& what) {
  throw std::invalid_argument(schema.name() + "(): argument '" + arg.name() + "' " + what);
}

int64_t toInt(const c10::FunctionSchema& s, const c10::Argument& a, Napi::Value v) {
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1 : 0;
  if (!v.IsNumber()) badArg(s, a, "must be an integer");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int64_t>(d))) badArg(s, a, "must be an integer, got " + std::to_string(d));
  return static_cast<int64_t>(d);
}

double toDouble(const c10::FunctionSchema& s, const c10::Argument& a, Napi::Value v) {
  if (!v.IsNumber()) badArg(s, a, "must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

c10::IValue toList(Napi::Env env, const c10::FunctionSchema& s, const c10::Argument& a, const c10::TypePtr& elem,
                   Napi::Value v) {
  auto kind = elem->kind();
  bool intLike = kind == c10::TypeKind::IntType || kind == c10::TypeKind::SymIntType;
  // PyTorch accepts a single int where an int[N] is expected (kernel_size=3 means [3, 3]).
  if (intLike && v.IsNumber()) {
    size_t n = a.N() ? static_cast<size_t>(*a.N()) : 1;
    return c10::IValue(std::vector<int64_t>(n, toInt(s, a, v)));
  }
  if (!v.IsArray()) badArg(s, a, "must be an array");
  auto arr = v.As<Napi::Array>();
  uint32_t n = arr.Length();
  if (intLike) {
    std::vector<int64_t> out(n);
    for (uint32_t i = 0; i < n; ++i) out[i] = toInt(s, a, arr.Get(i));
    return c10::IValue(out);
  }
  switch (kind) {
    case c10::TypeKind::FloatType: {
      std::vector<double> out(n);
      for (uint32_t i = 0; i < n; ++i) out[i] = toDouble(s, a, arr.Get(i));
      return c10::IValue(out);
    }
    case c10::TypeKind::BoolType: {
      c10::List<bool> out;
      for (uint32_t i = 0; i < n; ++i) out.push_back(arr.Get(i).ToBoolean().Value());
      return c10::IValue(out);
    }
    case c10::TypeKind::TensorType: {
      c10::List<at::Tensor> out;
      out.reserve(n);
      for (uint32_t i = 0; i < n; ++i) out.push_back(unwrapTensor(env, arr.Get(i)));
      return c10::IValue(out);
    }
    case c10::TypeKind::OptionalType: {
      c10::List<c10::optional<at::Tensor>> out;
      out.reserve(n);
      for (uint32_t i = 0; i < n; ++i) {
        auto e = arr.Get(i);
        if (e.IsNull() || e.IsUndefined()) out.push_back(c10::nullopt);
        else out.push_back(unwrapTensor(env, e));
      }
      return c10::IValue(out);
    }
    default:
      badArg(s, a, "has an unsupported list type " + elem->str());
  }
}

c10::IValue toIValue(Napi::Env env, const c10::FunctionSchema& s, const c10::Argument& a, const c10::TypePtr& type,
                     Napi::Value v) {
  switch (type->kind()) {
    case c10::TypeKind::OptionalType:
      if (v.IsNull() || v.IsUndefined()) return c10::IValue();
      return toIValue(env, s, a, type->castRaw<c10::OptionalType>()->getElementType(), v);
    case c10::TypeKind::TensorType:
      if (!isTensor(env, v)) badArg(s, a, "must be a tensor" + std::string(v.IsNumber() ? " (a number, or a disposed tensor, was given)" : ""));
      return c10::IValue(unwrapTensor(env, v));
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
    case c10::TypeKind::ScalarTypeType:
    case c10::TypeKind::LayoutType:
    case c10::TypeKind::MemoryFormatType:
      return c10::IValue(toInt(s, a, v));
    case c10::TypeKind::FloatType:
      return c10::IValue(toDouble(s, a, v));
    case c10::TypeKind::BoolType:
      if (!v.IsBoolean()) badArg(s, a, "must be a boolean");
      return c10::IValue(v.As<Napi::Boolean>().Value());
    case c10::TypeKind::NumberType: {  // Scalar: JS integers stay integral, like Python literals
      if (v.IsBoolean()) return c10::IValue(v.As<Napi::Boolean>().Value());
      double d = toDouble(s, a, v);
      if (std::isfinite(d) && d == std::trunc(d) && std::abs(d) < 9.0e15) return c10::IValue(static_cast<int64_t>(d));
      return c10::IValue(d);
    }
    case c10::TypeKind::StringType:
      if (!v.IsString()) badArg(s, a, "must be a string");
      return c10::IValue(v.As<Napi::String>().Utf8Value());
    case c10::TypeKind::DeviceObjType:
      if (!v.IsString()) badArg(s, a, "must be a device string");
      return c10::IValue(c10::Device(v.As<Napi::String>().Utf8Value()));
    case c10::TypeKind::ListType:
      return toList(env, s, a, type->castRaw<c10::ListType>()->getElementType(), v);
    case c10::TypeKind::GeneratorType:
      if (v.IsNull() || v.IsUndefined()) return c10::IValue();
      badArg(s, a, "(a generator) is not supported; seed with manualSeed()");
    default:
      badArg(s, a, "has an unsupported type " + type->str());
  }
}

Napi::Value fromIValue(Napi::Env env, const c10::IValue& v) {
  if (v.isTensor()) return wrapTensor(env, v.toTensor());
  if (v.isNone()) return env.Null();
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  if (v.isTensorList()) {
    auto list = v.toTensorList();
    auto out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) out.Set(static_cast<uint32_t>(i), wrapTensor(env, list.get(i)));
    return out;
  }
  if (v.isList()) {
    auto list = v.toListRef();
    auto out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) out.Set(static_cast<uint32_t>(i), fromIValue(env, list[i]));
    return out;
  }
  if (v.isTuple()) {
    auto elems = v.toTupleRef().elements();
    auto out = Napi::Array::New(env, elems.size());
    for (size_t i = 0; i < elems.size(); ++i) out.Set(static_cast<uint32_t>(i), fromIValue(env, elems[i]));
    return out;
  }
  throw std::runtime_error(std::string("cannot return a value of kind ") + v.tagKind());
}

// op(name, overload): the handle of one ATen operator, e.g. op("aten::add", "Tensor").
KESTREL_FN(op) {
  auto env = info.Env();
  auto name = info[0].As<Napi::String>().Utf8Value();
  auto overload = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : std::string();
  auto found = c10::Dispatcher::singleton().findSchema({name, overload});
  if (!found) throw std::invalid_argument("no operator " + name + (overload.empty() ? "" : "." + overload));
  auto ext = Napi::External<c10::OperatorHandle>::New(env, new c10::OperatorHandle(*found),
                                                       [](Napi::Env, c10::OperatorHandle* h) { delete h; });
  napi_type_tag_object(env, ext, &kOpTag);
  return ext;
}

KESTREL_FN(schema) {
  return Napi::String::New(info.Env(), c10::toString(unwrapOp(info.Env(), info[0]).schema()));
}

torch::jit::Stack run(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  const auto& handle = unwrapOp(env, info[0]);
  const auto& schema = handle.schema();
  const auto& args = schema.arguments();
  size_t given = info.Length() - 1;
  if (given > args.size()) {
    throw std::invalid_argument(schema.name() + "() takes " + std::to_string(args.size()) + " arguments, got " +
                                std::to_string(given));
  }
  torch::jit::Stack stack;
  stack.reserve(std::max(args.size(), schema.returns().size()));
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    Napi::Value v = i < given ? info[i + 1] : env.Undefined();
    if (v.IsUndefined() && a.default_value()) {
      stack.push_back(*a.default_value());
    } else if (v.IsUndefined() && a.type()->kind() != c10::TypeKind::OptionalType) {
      badArg(schema, a, "is required");
    } else {
      stack.push_back(toIValue(env, schema, a, a.type(), v));
    }
  }
  handle.callBoxed(&stack);
  return stack;
}

// call(op, ...args): runs the operator; one return comes back as a value, several as an array.
KESTREL_FN(call) {
  auto env = info.Env();
  auto stack = run(info);
  if (stack.empty()) return env.Undefined();
  if (stack.size() == 1) return fromIValue(env, stack[0]);
  auto out = Napi::Array::New(env, stack.size());
  for (size_t i = 0; i < stack.size(); ++i) out.Set(static_cast<uint32_t>(i), fromIValue(env, stack[i]));
  return out;
}

// callVoid(op, ...args): runs the operator and drops its results (in-place ops return their input).
KESTREL_FN(callVoid) {
  run(info);
  return info.Env().Undefined();
}

}  // namespace

void initOps(Napi::Env env, Napi::Object exports) {
  exports.Set("op", Napi::Function::New(env, op));
  exports.Set("schema", Napi::Function::New(env, schema));
  exports.Set("call", Napi::Function::New(env, call));
  exports.Set("callVoid", Napi::Function::New(env, callVoid));
}

}  // namespace kestrel
