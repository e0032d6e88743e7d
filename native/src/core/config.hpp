// The model configuration a module is created from (the C API's `config` text).
//
// Format: one "key=value" per line; a list is comma-separated ("block_out_channels=320,640,1280,1280");
// a list of lists separates its lists with ';' ("transformer_layers_per_block=1,2;2,2"); booleans are
// true/false. Keys are lower-case names of the reference config.json ([a-z0-9_]); values are printable
// ASCII without '=' (names, numbers, lists). Anything else, a key given twice, or a key the model family
// never reads is an error, so no value can smuggle in another key and no typo goes unnoticed. The Java
// layer writes this from its typed configs (io.d2g.models), so the C++ side needs no JSON parser.
#pragma once

#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "status.hpp"

namespace d2g {

class Config {
 public:
  static constexpr size_t kMaxText = 1 << 20;  // far above any real config
  static constexpr size_t kMaxListItems = 4096;

  static Config parse(const char* text) {
    if (text == nullptr) fail(D2G_INVALID_ARGUMENT, "config is NULL");
    const std::string all(text, strnlen(text, kMaxText + 1));
    if (all.size() > kMaxText) fail(D2G_INVALID_ARGUMENT, "config is longer than ", kMaxText, " bytes");
    Config c;
    std::istringstream in(all);
    std::string line;
    int lineno = 0;
    while (std::getline(in, line)) {
      lineno++;
      if (line.empty() || line[0] == '#') continue;
      auto eq = line.find('=');
      if (eq == std::string::npos || eq == 0)
        fail(D2G_INVALID_ARGUMENT, "config line ", lineno, " is not key=value");
      std::string key = line.substr(0, eq), value = line.substr(eq + 1);
      for (char ch : key)
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
          fail(D2G_INVALID_ARGUMENT, "config line ", lineno, ": a key is lower-case letters, digits and '_'");
      for (char ch : value)
        if (ch < 0x20 || ch > 0x7e || ch == '=')
          fail(D2G_INVALID_ARGUMENT, "config key '", key, "': the value holds a character a config value cannot hold");
      if (!c.values_.emplace(key, value).second) fail(D2G_INVALID_ARGUMENT, "config key '", key, "' is given twice");
    }
    return c;
  }

  // A key the family reads (or asks about) counts as used; after construction check_all_used()
  // refuses keys nobody read.
  bool has(const std::string& key) const {
    used_.insert(key);
    return values_.count(key) != 0;
  }

  void check_all_used(const std::string& kind) const {
    std::string unknown;
    for (const auto& [k, v] : values_)
      if (!used_.count(k)) unknown += (unknown.empty() ? "'" : ", '") + k + "'";
    if (!unknown.empty())
      fail(D2G_INVALID_ARGUMENT, kind, ": unknown config key", unknown.find(',') == std::string::npos ? " " : "s ",
           unknown, " (not a key of this model family)");
  }

  // A list of lists ("1,2;2,2"): one inner list per block; a plain list or value is one item per block.
  std::vector<std::vector<int64_t>> integer_lists(const std::string& key) const {
    std::vector<std::vector<int64_t>> out;
    std::istringstream in(raw(key));
    std::string part;
    while (std::getline(in, part, ';')) {
      std::vector<int64_t> inner;
      for (auto& s : split(key, part)) inner.push_back(to_int(key, s));
      out.push_back(std::move(inner));
    }
    return out;
  }

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

  std::vector<std::string> strings(const std::string& key) const { return split(key, raw(key)); }
  std::vector<std::string> strings(const std::string& key, std::vector<std::string> dflt) const {
    return has(key) ? strings(key) : dflt;
  }

  std::vector<int64_t> integers(const std::string& key) const {
    std::vector<int64_t> out;
    for (auto& s : split(key, raw(key))) out.push_back(to_int(key, s));
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
    used_.insert(key);
    auto it = values_.find(key);
    if (it == values_.end()) fail(D2G_INVALID_ARGUMENT, "config lacks required key '", key, "'");
    return it->second;
  }
  static std::vector<std::string> split(const std::string& key, const std::string& v) {
    std::vector<std::string> out;
    if (v.empty()) return out;
    std::string item;
    std::istringstream in(v);
    while (std::getline(in, item, ',')) {
      if (out.size() == kMaxListItems) fail(D2G_INVALID_ARGUMENT, "config key '", key, "' has more than ", kMaxListItems, " values");
      out.push_back(item);
    }
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
  mutable std::set<std::string> used_;
};

}  // namespace d2g
