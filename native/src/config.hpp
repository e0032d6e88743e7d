// Internal: the model configuration a module is created from.
//
// Format (what the C API's `config` string holds): one "key=value" per line; a list is
// comma-separated ("block_out_channels=320,640,1280,1280"); booleans are true/false; an absent or
// null value is simply left out. The Java layer turns a diffusers/transformers config.json into
// this form (io.d2g.sd.ModelConfig), so the C++ side needs no JSON parser. Keys keep the names of
// the reference config.json files.
#pragma once

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "status.hpp"

namespace d2g {

class Config {
 public:
  static Config parse(const char* text) {
    if (text == nullptr) fail(D2G_INVALID_ARGUMENT, "config is NULL");
    Config c;
    std::istringstream in(text);
    std::string line;
    int lineno = 0;
    while (std::getline(in, line)) {
      lineno++;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty() || line[0] == '#') continue;
      auto eq = line.find('=');
      if (eq == std::string::npos || eq == 0)
        fail(D2G_INVALID_ARGUMENT, "config line ", lineno, " is not key=value: '", line, "'");
      c.values_[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return c;
  }

  bool has(const std::string& key) const { return values_.count(key) != 0; }

  std::string str(const std::string& key) const { return raw(key); }
  std::string str(const std::string& key, const std::string& dflt) const { return has(key) ? raw(key) : dflt; }

  int64_t integer(const std::string& key) const { return to_int(key, raw(key)); }
  int64_t integer(const std::string& key, int64_t dflt) const { return has(key) ? integer(key) : dflt; }

  double number(const std::string& key) const { return to_double(key, raw(key)); }
  double number(const std::string& key, double dflt) const { return has(key) ? number(key) : dflt; }

  bool boolean(const std::string& key) const {
    const std::string& v = raw(key);
    if (v == "true" || v == "1") return true;
    if (v == "false" || v == "0") return false;
    fail(D2G_INVALID_ARGUMENT, "config key '", key, "' must be true or false, not '", v, "'");
  }
  bool boolean(const std::string& key, bool dflt) const { return has(key) ? boolean(key) : dflt; }

  std::vector<std::string> strings(const std::string& key) const { return split(raw(key)); }
  std::vector<std::string> strings(const std::string& key, std::vector<std::string> dflt) const {
    return has(key) ? strings(key) : dflt;
  }

  std::vector<int64_t> integers(const std::string& key) const {
    std::vector<int64_t> out;
    for (auto& s : split(raw(key))) out.push_back(to_int(key, s));
    return out;
  }
  std::vector<int64_t> integers(const std::string& key, std::vector<int64_t> dflt) const {
    return has(key) ? integers(key) : dflt;
  }

  // An int-or-list key (like attention_head_dim): a single value is repeated n times.
  std::vector<int64_t> integers_or_repeat(const std::string& key, size_t n, int64_t dflt) const {
    if (!has(key)) return std::vector<int64_t>(n, dflt);
    auto v = integers(key);
    if (v.size() == 1) return std::vector<int64_t>(n, v[0]);
    if (v.size() != n) fail(D2G_INVALID_ARGUMENT, "config key '", key, "' has ", v.size(), " values, expected 1 or ", n);
    return v;
  }

 private:
  const std::string& raw(const std::string& key) const {
    auto it = values_.find(key);
    if (it == values_.end()) fail(D2G_INVALID_ARGUMENT, "config lacks required key '", key, "'");
    return it->second;
  }
  static std::vector<std::string> split(const std::string& v) {
    std::vector<std::string> out;
    if (v.empty()) return out;
    std::string item;
    std::istringstream in(v);
    while (std::getline(in, item, ',')) out.push_back(item);
    return out;
  }
  static int64_t to_int(const std::string& key, const std::string& v) {
    try {
      size_t pos = 0;
      long long x = std::stoll(v, &pos);
      if (pos == v.size()) return x;
    } catch (...) {
    }
    fail(D2G_INVALID_ARGUMENT, "config key '", key, "' must be an integer, not '", v, "'");
  }
  static double to_double(const std::string& key, const std::string& v) {
    try {
      size_t pos = 0;
      double x = std::stod(v, &pos);
      if (pos == v.size()) return x;
    } catch (...) {
    }
    fail(D2G_INVALID_ARGUMENT, "config key '", key, "' must be a number, not '", v, "'");
  }
  std::map<std::string, std::string> values_;
};

}  // namespace d2g
