// Argument macros for the N-API functions (as sodium-native's macros.h and classic-level's
// NAPI_METHOD do): each function declares `usage`, the call as JavaScript writes it, and a wrong
// argument throws EINVAL with it.
#ifndef PROCSTAT_MACROS_H
#define PROCSTAT_MACROS_H

#include <node_api.h>

#define NAPI_METHOD(name) static napi_value name(napi_env env, napi_callback_info info)

#define NAPI_THROW(code, message) do { napi_throw_error(env, code, message); return NULL; } while (0)

/** The first `n` arguments, in `argv`; fewer given is EINVAL. */
#define NAPI_ARGV(n) \
  size_t argc = n; \
  napi_value argv[n]; \
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < n) NAPI_THROW("EINVAL", usage)

/** Argument `i` as a C `type`, read with napi_get_value_`getter`. */
#define NAPI_ARGV_AS(type, getter, name, i) \
  type name; \
  if (napi_get_value_##getter(env, argv[i], &name) != napi_ok) NAPI_THROW("EINVAL", usage)

#define NAPI_ARGV_DOUBLE(name, i) NAPI_ARGV_AS(double, double, name, i)
#define NAPI_ARGV_UINT32(name, i) NAPI_ARGV_AS(uint32_t, uint32, name, i)
#define NAPI_ARGV_INT32(name, i) NAPI_ARGV_AS(int32_t, int32, name, i)
#define NAPI_ARGV_BOOL(name, i) NAPI_ARGV_AS(bool, bool, name, i)

/** A string of at most `size` - 1 bytes into `char name[size]`, its length in name##_len. */
#define NAPI_ARGV_UTF8(name, size, i) \
  char name[size]; \
  size_t name##_len; \
  if (napi_get_value_string_utf8(env, argv[i], name, size, &name##_len) != napi_ok) NAPI_THROW("EINVAL", usage)

/** The mount a handle from mount() stands for. */
#define NAPI_ARGV_MOUNT(name, i) \
  mount_t *name = NULL; \
  if (napi_get_value_external(env, argv[i], (void **)&name) != napi_ok || !name) NAPI_THROW("EINVAL", usage)

#define NAPI_EXPORT(js_name, fn) { js_name, NULL, fn, NULL, NULL, NULL, napi_default, NULL }

#endif
