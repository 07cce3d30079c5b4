// support/json.hpp: JSON text with numbers as people and parsers expect them. Boost.JSON
// writes every double in exponent form (1 as 1E0, 0.5 as 5E-1); here a double is written in
// the shortest form that reads back to it (1, 0.5, 1e-07), a non-finite one as null.
// Header-only, so that the tool writes its reports as the library writes its own.
#pragma once

#include <fmt/format.h>

#include <boost/json.hpp>

#include <cmath>
#include <string>
#include <utility>

namespace tiermem {

inline void append_json(std::string& out, const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::double_: {
      double d = value.get_double();
      out += std::isfinite(d) ? fmt::format("{}", d) : "null";
      return;
    }
    case boost::json::kind::array: {
      out += '[';
      const char* separator = "";
      for (const boost::json::value& item : value.get_array()) {
        out += std::exchange(separator, ",");
        append_json(out, item);
      }
      out += ']';
      return;
    }
    case boost::json::kind::object: {
      out += '{';
      const char* separator = "";
      for (const auto& member : value.get_object()) {
        out += std::exchange(separator, ",");
        out += boost::json::serialize(boost::json::value(member.key()));
        out += ':';
        append_json(out, member.value());
      }
      out += '}';
      return;
    }
    default:  // null, booleans, integers and strings: Boost.JSON writes them as wanted
      out += boost::json::serialize(value);
  }
}

inline std::string json_text(const boost::json::value& value) {
  std::string out;
  append_json(out, value);
  return out;
}

}  // namespace tiermem
