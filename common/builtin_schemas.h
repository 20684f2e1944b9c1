// The schema files of schemas/, embedded at build time by
// common/embed_schemas.cmake.
#pragma once

#include <cstddef>

namespace backbeat {

struct EmbeddedSchema {
  const char* file_name;  // e.g. "statusclaim-v1.schema.json".
  const char* text;
};

extern const EmbeddedSchema kEmbeddedSchemas[];
extern const size_t kEmbeddedSchemaCount;

}  // namespace backbeat
