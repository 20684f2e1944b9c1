// A matcher for the one shape of regular expression the contract's
// schemas use: anchored at both ends, a sequence of ASCII literals and
// bracket classes, each repeated {n}, {n,}, {n,m}, ?, * or +.
//
//   ^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$
//   ^[a-z][a-z0-9_]{0,63}$
//
// It matches in one pass over the bytes, without backtracking, and agrees
// with RapidJSON's regex engine on every pattern it accepts. Compile
// refuses anything else (alternation, groups, '.', negated classes,
// escapes in classes, non-ASCII), and any sequence in which a repeated
// atom shares a character with a later atom, where one greedy pass could
// be wrong; callers keep the general engine for those.
#pragma once

#include <bitset>
#include <cstddef>
#include <optional>
#include <vector>

#include "absl/strings/string_view.h"

namespace backbeat {

class SimplePattern {
 public:
  // The matcher for `source`, or nullopt if it is not of the simple shape.
  static std::optional<SimplePattern> Compile(absl::string_view source);

  // True if all of `text` matches.
  bool Matches(absl::string_view text) const;

 private:
  struct Atom {
    std::bitset<128> accepts;  // ASCII bytes this atom takes.
    size_t min = 1;
    size_t max = 1;
  };

  std::vector<Atom> atoms_;
};

}  // namespace backbeat
