// The N-API binding: each JavaScript function checks its arguments (macros.h) and calls into the mount.
#include "procstat.h"
#include "macros.h"

/** mount(mountpoint, fusermountOptions, deadlineMs, { read, list, write }, takeSigint, takeSigterm, stallThresholdMs, budgetMs) → handle */
NAPI_METHOD(js_mount) {
  static const char usage[] = "mount(mountpoint, options, deadlineMs, handlers, takeSigint, takeSigterm, stallThresholdMs, budgetMs)";
  NAPI_ARGV(8);
  NAPI_ARGV_UTF8(mountpoint, 4096, 0);
  NAPI_ARGV_UTF8(options, 1024, 1);
  NAPI_ARGV_DOUBLE(deadline, 2);
  NAPI_ARGV_BOOL(take_sigint, 4);
  NAPI_ARGV_BOOL(take_sigterm, 5);
  NAPI_ARGV_DOUBLE(stall_threshold, 6);
  NAPI_ARGV_DOUBLE(budget, 7);
  mount_args_t a = { .mountpoint = mountpoint, .options = options, .deadline_ms = deadline, .stall_threshold_ms = stall_threshold,
                     .budget_ms = budget, .take_signals = { take_sigint, take_sigterm } };
  const char *code;
  char error[512] = "";
  mount_t *m = mount_start(env, &a, argv[3], &code, error, sizeof error);
  if (!m) NAPI_THROW(code, error);
  napi_value handle;
  if (napi_create_external(env, m, handle_finalize, NULL, &handle) != napi_ok) {
    napi_remove_env_cleanup_hook(env, cleanup_hook, m);
    cleanup_hook(m);
    release_mount(m);
    NAPI_THROW("ENOMEM", "out of memory");
  }
  return handle;
}

/** add(handle, parentIno, ino, name, flags, mode, description): flags F_DIR | F_LAZY | F_HIDDEN | F_ELEMENTS; description 0: none. */
NAPI_METHOD(js_add) {
  static const char usage[] = "add(handle, parent, ino, name, flags, mode, description)";
  NAPI_ARGV(7);
  NAPI_ARGV_MOUNT(m, 0);
  NAPI_ARGV_DOUBLE(parent, 1);
  NAPI_ARGV_DOUBLE(ino, 2);
  NAPI_ARGV_UTF8(name, 256, 3);
  NAPI_ARGV_INT32(flags, 4);
  NAPI_ARGV_INT32(mode, 5);
  NAPI_ARGV_UINT32(description, 6);
  if (m->mounted && add_later(m, (uint64_t)parent, (uint64_t)ino, name, name_len, flags, (uint32_t)mode, description) != 0) {
    NAPI_THROW("ENOMEM", "out of memory");
  }
  return NULL;
}

/** remove(handle, ino): the node and everything below it; open files of them answer ENOENT. */
NAPI_METHOD(js_remove) {
  static const char usage[] = "remove(handle, ino)";
  NAPI_ARGV(2);
  NAPI_ARGV_MOUNT(m, 0);
  NAPI_ARGV_DOUBLE(ino, 1);
  if (m->mounted && remove_now_or_later(m, (uint64_t)ino) != 0) NAPI_THROW("ENOMEM", "out of memory");
  return NULL;
}

/** setHidden(handle, ino, hidden): left out of its directory's listing, still found by name. */
NAPI_METHOD(js_set_hidden) {
  static const char usage[] = "setHidden(handle, ino, hidden)";
  NAPI_ARGV(3);
  NAPI_ARGV_MOUNT(m, 0);
  NAPI_ARGV_DOUBLE(ino, 1);
  NAPI_ARGV_BOOL(hidden, 2);
  if (m->mounted) set_hidden(m, (uint64_t)ino, hidden);
  return NULL;
}

/** unmount(handle): synchronous; safe to call twice and at process exit. */
NAPI_METHOD(js_unmount) {
  static const char usage[] = "unmount(handle)";
  NAPI_ARGV(1);
  NAPI_ARGV_MOUNT(m, 0);
  if (m->mounted) {
    napi_remove_env_cleanup_hook(env, cleanup_hook, m);
    cleanup_hook(m);
  }
  return NULL;
}

/** watch(handle, dev): the watcher process for this mount; `dev` is the mountpoint's st_dev. */
NAPI_METHOD(js_watch) {
  static const char usage[] = "watch(handle, dev)";
  NAPI_ARGV(2);
  NAPI_ARGV_MOUNT(m, 0);
  NAPI_ARGV_DOUBLE(dev, 1);
  start_watcher(m, (unsigned)dev);
  return NULL;
}

static void set_number(napi_env env, napi_value object, const char *name, double number) {
  napi_value value;
  napi_create_double(env, number, &value);
  napi_set_named_property(env, object, name, value);
}

/** status(handle) → { staleReads, blockedMs, nodes, id, stalls, longestStallMs } */
NAPI_METHOD(js_status) {
  static const char usage[] = "status(handle)";
  NAPI_ARGV(1);
  NAPI_ARGV_MOUNT(m, 0);
  napi_value result;
  napi_create_object(env, &result);
  lock_tree(m);
  double stale = (double)m->stale_reads, nodes = (double)m->count;
  double stalls = (double)m->stall_count, longest = m->stall_longest_ms;
  pthread_mutex_unlock(&m->lock);
  send_later();
  set_number(env, result, "staleReads", stale);
  set_number(env, result, "blockedMs", blocked_ms(m));
  set_number(env, result, "nodes", nodes);
  set_number(env, result, "id", m->id);
  set_number(env, result, "stalls", stalls);
  set_number(env, result, "longestStallMs", longest);
  return result;
}

/** stallState(id) → { blockedMs, key, thresholdMs, needsStack } or null once unmounted (status.c). */
NAPI_METHOD(js_stall_state) {
  static const char usage[] = "stallState(id)";
  NAPI_ARGV(1);
  NAPI_ARGV_UINT32(id, 0);
  double blocked, key, threshold;
  int needs;
  if (stall_state(id, &blocked, &key, &threshold, &needs) != 0) return NULL;
  napi_value result, value;
  napi_create_object(env, &result);
  set_number(env, result, "blockedMs", blocked);
  set_number(env, result, "key", key);
  set_number(env, result, "thresholdMs", threshold);
  napi_get_boolean(env, needs, &value);
  napi_set_named_property(env, result, "needsStack", value);
  return result;
}

/** A string argument of any length, malloc'd; NULL if it is not a string. */
static char *string_of(napi_env env, napi_value value) {
  size_t len;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &len) != napi_ok) return NULL;
  char *text = malloc(len + 1);
  if (text) napi_get_value_string_utf8(env, value, text, len + 1, &len);
  return text;
}

/** setStallStack(id, key, text): the stack of stall `key`; dropped if that stall has ended. */
NAPI_METHOD(js_set_stall_stack) {
  static const char usage[] = "setStallStack(id, key, text)";
  NAPI_ARGV(3);
  NAPI_ARGV_UINT32(id, 0);
  NAPI_ARGV_DOUBLE(key, 1);
  char *text = string_of(env, argv[2]);
  if (!text) NAPI_THROW("EINVAL", usage);
  set_stall_stack(id, key, text);
  return NULL;
}

/** describe(handle, kind, help, unit) → a number for add(); help and unit may be undefined. */
NAPI_METHOD(js_describe) {
  static const char usage[] = "describe(handle, kind, help, unit)";
  NAPI_ARGV(4);
  NAPI_ARGV_MOUNT(m, 0);
  description_t d = { { NULL } };
  napi_valuetype type;
  int missing = 0;
  for (int x = 0; x < X_COUNT; x++) {
    if (napi_typeof(env, argv[1 + x], &type) != napi_ok || type != napi_string) continue;  /* undefined: absent */
    if (!(d.text[x] = string_of(env, argv[1 + x]))) missing = 1;
  }
  uint32_t number = missing ? 0 : add_description(m, &d);
  if (number == 0) {
    for (int x = 0; x < X_COUNT; x++) free(d.text[x]);
    NAPI_THROW("ENOMEM", "out of memory");
  }
  napi_value result;
  napi_create_uint32(env, number, &result);
  return result;
}

/** descriptionOf(path) → { kind, help, unit } from the file's user.procstat.* attributes (the CLI). */
NAPI_METHOD(js_description_of) {
  static const char usage[] = "descriptionOf(path)";
  NAPI_ARGV(1);
  NAPI_ARGV_UTF8(path, 4096, 0);
  napi_value result, value;
  char buf[4096];
  napi_create_object(env, &result);
  const char *keys[X_COUNT] = { "kind", "help", "unit" };
  for (int x = 0; x < X_COUNT; x++) {
    ssize_t got = getxattr(path, xattr_names[x], buf, sizeof buf);
    if (got < 0) continue;
    napi_create_string_utf8(env, buf, (size_t)got, &value);
    napi_set_named_property(env, result, keys[x], value);
  }
  return result;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    NAPI_EXPORT("mount", js_mount), NAPI_EXPORT("add", js_add), NAPI_EXPORT("remove", js_remove),
    NAPI_EXPORT("setHidden", js_set_hidden), NAPI_EXPORT("unmount", js_unmount), NAPI_EXPORT("watch", js_watch),
    NAPI_EXPORT("status", js_status), NAPI_EXPORT("describe", js_describe), NAPI_EXPORT("stallState", js_stall_state),
    NAPI_EXPORT("setStallStack", js_set_stall_stack), NAPI_EXPORT("descriptionOf", js_description_of),
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
