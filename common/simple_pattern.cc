#include "common/simple_pattern.h"

#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"

namespace backbeat {
namespace {

constexpr size_t kUnbounded = std::numeric_limits<size_t>::max();

bool IsAscii(char c) { return static_cast<unsigned char>(c) < 0x80; }

// Characters with a meaning of their own outside a class.
bool IsSpecial(char c) {
  return absl::string_view("^$|()?*+.[]{}\\").find(c) !=
         absl::string_view::npos;
}

// Reads a repetition count: digits only.
bool ReadCount(absl::string_view digits, size_t* out) {
  if (digits.empty() || digits.size() > 9) {
    return false;
  }
  for (char c : digits) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return absl::SimpleAtoi(digits, out);
}

// Reads "[...]" at the front of `*rest` into `*out`. Ranges and single
// characters only; '-' is literal first or last.
bool ReadClass(absl::string_view* rest, std::bitset<128>* out) {
  size_t end = rest->find(']', 1);
  if (end == absl::string_view::npos || end == 1) {
    return false;
  }
  absl::string_view body = rest->substr(1, end - 1);
  rest->remove_prefix(end + 1);
  if (body.front() == '^') {
    return false;
  }
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (!IsAscii(c) || c == '\\' || c == '[') {
      return false;
    }
    if (c == '-' && i != 0 && i + 1 != body.size()) {
      return false;
    }
    if (i + 2 < body.size() && body[i + 1] == '-') {
      char last = body[i + 2];
      if (!IsAscii(last) || last == '\\' || last == '-' || last < c) {
        return false;
      }
      for (int b = c; b <= last; ++b) {
        out->set(b);
      }
      i += 2;
    } else {
      out->set(static_cast<unsigned char>(c));
    }
  }
  return true;
}

// Reads one literal or escaped special character.
bool ReadLiteral(absl::string_view* rest, std::bitset<128>* out) {
  char c = rest->front();
  size_t used = 1;
  if (c == '\\') {
    if (rest->size() < 2 || !IsSpecial((*rest)[1])) {
      return false;
    }
    c = (*rest)[1];
    used = 2;
  } else if (IsSpecial(c) || !IsAscii(c)) {
    return false;
  }
  out->set(static_cast<unsigned char>(c));
  rest->remove_prefix(used);
  return true;
}

// Reads an optional quantifier after an atom.
bool ReadQuantifier(absl::string_view* rest, size_t* min, size_t* max) {
  if (rest->empty()) {
    return true;
  }
  switch (rest->front()) {
    case '?':
      *min = 0, *max = 1;
      break;
    case '*':
      *min = 0, *max = kUnbounded;
      break;
    case '+':
      *min = 1, *max = kUnbounded;
      break;
    case '{': {
      size_t end = rest->find('}');
      if (end == absl::string_view::npos) {
        return false;
      }
      absl::string_view body = rest->substr(1, end - 1);
      size_t comma = body.find(',');
      if (!ReadCount(body.substr(0, comma), min)) {
        return false;
      }
      *max = *min;
      if (comma != absl::string_view::npos) {
        absl::string_view high = body.substr(comma + 1);
        if (high.empty()) {
          *max = kUnbounded;
        } else if (!ReadCount(high, max) || *max < *min) {
          return false;
        }
      }
      rest->remove_prefix(end);
      break;
    }
    default:
      return true;
  }
  rest->remove_prefix(1);
  return true;
}

}  // namespace

std::optional<SimplePattern> SimplePattern::Compile(absl::string_view source) {
  if (source.size() < 3 || source.front() != '^' || source.back() != '$') {
    return std::nullopt;
  }
  absl::string_view rest = source.substr(1, source.size() - 2);
  if (!rest.empty() && rest.back() == '\\') {
    return std::nullopt;
  }
  SimplePattern pattern;
  while (!rest.empty()) {
    Atom atom;
    bool ok = rest.front() == '[' ? ReadClass(&rest, &atom.accepts)
                                  : ReadLiteral(&rest, &atom.accepts);
    if (!ok || !ReadQuantifier(&rest, &atom.min, &atom.max)) {
      return std::nullopt;
    }
    pattern.atoms_.push_back(atom);
  }
  // A repeated atom must not share a character with any later one.
  for (size_t i = 0; i < pattern.atoms_.size(); ++i) {
    if (pattern.atoms_[i].min == pattern.atoms_[i].max) {
      continue;
    }
    for (size_t j = i + 1; j < pattern.atoms_.size(); ++j) {
      if ((pattern.atoms_[i].accepts & pattern.atoms_[j].accepts).any()) {
        return std::nullopt;
      }
    }
  }
  return pattern;
}

bool SimplePattern::Matches(absl::string_view text) const {
  size_t pos = 0;
  for (const Atom& atom : atoms_) {
    size_t taken = 0;
    while (taken < atom.max && pos < text.size() && IsAscii(text[pos]) &&
           atom.accepts.test(static_cast<unsigned char>(text[pos]))) {
      ++pos;
      ++taken;
    }
    if (taken < atom.min) {
      return false;
    }
  }
  return pos == text.size();
}

}  // namespace backbeat
