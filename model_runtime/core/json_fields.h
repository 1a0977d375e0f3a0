// Config structs list their stored fields once, in a visit function
//   template <class C, class F> void visit(C& c, F&& f)
// that calls f(key, field) for a field always written and
// f(key, field, default) for one written only when it differs from its
// default (so files made before the field existed keep their fingerprints).
// JSON writing and reading are both made from that one list.
#pragma once
#include <nlohmann/json.hpp>

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

struct JsonFieldReader {
  const nlohmann::json& j;
  template <class T>
  void operator()(const char* key, T& v) const {
    if (j.contains(key)) v = j.at(key).template get<T>();
  }
  template <class T>
  void operator()(const char* key, T& v, const T&) const {
    (*this)(key, v);
  }
};

}  // namespace evatok
