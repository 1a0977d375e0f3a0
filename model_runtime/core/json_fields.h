// Config structs list their stored fields once, in a visit function
//   template <class C, class F> void visit(C& c, F&& f)
// that calls f(key, field) for a field always written and
// f(key, field, default) for one written only when it differs from its
// default (so files made before the field existed keep their fingerprints).
// JSON writing and reading are both made from that one list.
#pragma once
#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace evatok {

struct JsonFieldWriter {
  nlohmann::json& j;
  template <class T>
  void operator()(const char* key, const T& v) {
    j[key] = v;
  }
  template <class T>
  void operator()(const char* key, const T& v, const T& dflt) {
    if (!(v == dflt)) j[key] = v;
  }
};

// Strict about types: nlohmann's get<int>() takes true as 1 and wraps
// 2^32 + 8 to 8, which would let a hostile file pass the range checks with a
// value other than the one it states.
template <class T>
void check_json_number(const char* key, const nlohmann::json& x) {
  if constexpr (std::is_same_v<T, bool>) {
    if (!x.is_boolean()) throw std::runtime_error(std::string("config field ") + key + " must be true or false");
  } else if constexpr (std::is_integral_v<T>) {
    const bool fits = x.is_number_integer() &&
                      (x.is_number_unsigned() ? x.template get<uint64_t>() <= (uint64_t)std::numeric_limits<T>::max()
                                              : x.template get<int64_t>() >= (int64_t)std::numeric_limits<T>::min() &&
                                                    x.template get<int64_t>() <= (int64_t)std::numeric_limits<T>::max());
    if (!fits) throw std::runtime_error(std::string("config field ") + key + " must be an integer in range, not " + x.dump());
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!x.is_number() || !std::isfinite(x.template get<double>()))
      throw std::runtime_error(std::string("config field ") + key + " must be a finite number, not " + x.dump());
  }
}

template <class T>
struct is_vector : std::false_type {};
template <class U>
struct is_vector<std::vector<U>> : std::true_type {};

struct JsonFieldReader {
  const nlohmann::json& j;
  template <class T>
  void operator()(const char* key, T& v) const {
    if (!j.contains(key)) return;
    const nlohmann::json& x = j.at(key);
    if constexpr (is_vector<T>::value) {
      if (!x.is_array()) throw std::runtime_error(std::string("config field ") + key + " must be an array");
      for (const auto& e : x) check_json_number<typename T::value_type>(key, e);
    } else {
      check_json_number<T>(key, x);
    }
    v = x.template get<T>();
  }
  template <class T>
  void operator()(const char* key, T& v, const T&) const {
    (*this)(key, v);
  }
};

}  // namespace evatok
