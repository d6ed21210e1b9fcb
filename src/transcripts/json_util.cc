#include "transcripts/json_util.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/types.h"

namespace coach::transcripts::internal {

absl::StatusOr<Json> ParseJsonDocument(absl::string_view file_name, absl::string_view content) {
  try {
    return Json::parse(content.begin(), content.end());
  } catch (const Json::parse_error& e) {
    // e.byte is the 1-based offset of the character at fault.
    const size_t offset = std::min(e.byte == 0 ? 0 : e.byte - 1, content.size());
    size_t line = 1;
    size_t line_begin = 0;
    for (size_t i = 0; i < offset; ++i) {
      if (content[i] == '\n') {
        ++line;
        line_begin = i + 1;
      }
    }
    // Keep nlohmann's explanation, drop its "[json.exception...] parse error at ...:" prefix.
    absl::string_view what = e.what();
    if (const size_t at = what.find("syntax error"); at != absl::string_view::npos) {
      what.remove_prefix(at);
    }
    return absl::InvalidArgumentError(
        absl::StrCat(file_name, ":", line, ":", offset - line_begin + 1, ": invalid JSON: ", what));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(file_name, ": invalid JSON: ", e.what()));
  }
}

JsonPath JsonPath::Key(absl::string_view key) const {
  return JsonPath(absl::StrCat(text_, ".", key));
}

JsonPath JsonPath::Index(size_t index) const {
  return JsonPath(absl::StrCat(text_, "[", index, "]"));
}

absl::Status JsonErrors::At(const JsonPath& path, absl::string_view message) const {
  return absl::InvalidArgumentError(absl::StrCat(file_name_, ": ", path.str(), ": ", message));
}

absl::Status JsonErrors::WrongType(const JsonPath& path, const Json& value,
                                   absl::string_view what) const {
  return At(path, absl::StrCat("expected ", what, ", found ", value.type_name()));
}

const Json* FindField(const Json& object, absl::string_view key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::Status GetString(const JsonErrors& errors, const Json& object, const JsonPath& path,
                       absl::string_view key, bool required, std::string* out) {
  const Json* value = FindField(object, key);
  if (value == nullptr) {
    return required ? errors.At(path.Key(key), "is missing") : absl::OkStatus();
  }
  if (!value->is_string()) return errors.WrongType(path.Key(key), *value, "a string");
  *out = value->get_ref<const std::string&>();
  return absl::OkStatus();
}

absl::Status GetInt(const JsonErrors& errors, const Json& object, const JsonPath& path,
                    absl::string_view key, bool required, int64_t min, int64_t max, int64_t* out) {
  const Json* value = FindField(object, key);
  const JsonPath at = path.Key(key);
  if (value == nullptr) return required ? errors.At(at, "is missing") : absl::OkStatus();
  int64_t result = 0;
  bool ok = false;
  if (value->is_number_integer()) {
    if (value->is_number_unsigned()) {
      const uint64_t u = value->get<uint64_t>();
      ok = u <= static_cast<uint64_t>(INT64_MAX);
      result = static_cast<int64_t>(u);
    } else {
      result = value->get<int64_t>();
      ok = true;
    }
  } else if (value->is_number_float()) {
    const double d = value->get<double>();
    ok = std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15;
    if (ok) result = static_cast<int64_t>(d);
  } else if (value->is_string()) {
    ok = absl::SimpleAtoi(value->get_ref<const std::string&>(), &result);
  } else {
    return errors.WrongType(at, *value, "an integer");
  }
  if (!ok) return errors.At(at, absl::StrCat("expected an integer, found ", value->dump()));
  if (result < min || result > max) {
    return errors.At(at, absl::StrCat(result, " is out of range [", min, ", ", max, "]"));
  }
  *out = result;
  return absl::OkStatus();
}

namespace {

absl::StatusOr<const Json*> GetContainer(const JsonErrors& errors, const Json& object,
                                         const JsonPath& path, absl::string_view key, bool required,
                                         bool array) {
  const Json* value = FindField(object, key);
  if (value == nullptr) {
    if (required) return errors.At(path.Key(key), "is missing");
    return nullptr;
  }
  if (array ? !value->is_array() : !value->is_object()) {
    return errors.WrongType(path.Key(key), *value, array ? "an array" : "an object");
  }
  return value;
}

}  // namespace

absl::StatusOr<const Json*> GetArray(const JsonErrors& errors, const Json& object,
                                     const JsonPath& path, absl::string_view key, bool required) {
  return GetContainer(errors, object, path, key, required, /*array=*/true);
}

absl::StatusOr<const Json*> GetObject(const JsonErrors& errors, const Json& object,
                                      const JsonPath& path, absl::string_view key, bool required) {
  return GetContainer(errors, object, path, key, required, /*array=*/false);
}

std::optional<int64_t> SecondsToMs(const Json& value) {
  double seconds = 0;
  if (value.is_number()) {
    seconds = value.get<double>();
  } else if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    // Plain decimal only: no sign, exponent, "nan" or "inf".
    size_t digits = 0;
    size_t dots = 0;
    for (char c : text) {
      if (absl::ascii_isdigit(c)) {
        ++digits;
      } else if (c == '.') {
        ++dots;
      } else {
        return std::nullopt;
      }
    }
    if (digits == 0 || dots > 1 || text.size() > 32 || !absl::SimpleAtod(text, &seconds)) {
      return std::nullopt;
    }
  } else {
    return std::nullopt;
  }
  if (!std::isfinite(seconds) || seconds < 0 ||
      seconds > static_cast<double>(engine::kMaxCallTimeMs) / 1000) {
    return std::nullopt;
  }
  return std::llround(seconds * 1000);
}

}  // namespace coach::transcripts::internal
