// The main thread's side: the calls into JavaScript, run in batches within a budget per turn of the event loop.
#include "procstat.h"

static void unlink_write(mount_t *m, write_req_t *w) {
  if (w->prev) w->prev->next = w->next; else m->writes = w->next;
  if (w->next) w->next->prev = w->prev;
}

static napi_value call_handler(napi_env env, napi_ref ref, int argc, napi_value *argv) {
  napi_value fn, global, result = NULL;
  if (napi_get_reference_value(env, ref, &fn) != napi_ok || napi_get_global(env, &global) != napi_ok) return NULL;
  if (napi_call_function(env, global, fn, (size_t)argc, argv, &result) != napi_ok) {
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);  /* the handlers catch their own errors */
    return NULL;
  }
  return result;
}

/** The JavaScript answer: a string (the content) or a number (an errno). */
static int read_result(napi_env env, napi_value result, char **content, size_t *len) {
  napi_valuetype type;
  if (!result || napi_typeof(env, result, &type) != napi_ok) return EIO;
  if (type == napi_number) {
    int32_t err = EIO;
    napi_get_value_int32(env, result, &err);
    return err > 0 ? err : EIO;
  }
  if (type != napi_string || napi_get_value_string_utf8(env, result, NULL, 0, len) != napi_ok) return EIO;
  *content = malloc(*len + 1);
  if (!*content) return ENOMEM;
  napi_get_value_string_utf8(env, result, *content, *len + 1, len);
  return 0;
}

static void finish_list(napi_env env, mount_t *m, uint64_t ino) {
  // Where the node is, too: JavaScript may have told this entry without making its node (an instance's directory).
  char name[256] = "";
  uint64_t parent = 0;
  lock_tree(m);
  node_t *listed = find(m, ino);
  if (listed) {
    parent = listed->parent;
    snprintf(name, sizeof name, "%s", listed->name ? listed->name : "");
  }
  pthread_mutex_unlock(&m->lock);
  napi_value args[3], result;
  napi_create_double(env, (double)ino, &args[0]);
  napi_create_double(env, (double)parent, &args[1]);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &args[2]);
  result = call_handler(env, m->on_list, 3, args);
  int32_t err = EIO;
  if (result) napi_get_value_int32(env, result, &err);
  lock_tree(m);
  node_t *n = find(m, ino);
  if (n) {
    n->inflight = 0;
    if (!err) n->listed = 1;
    for (waiter_t *w = n->waiters, *following; w; w = following) {
      following = w->next;
      unlink_waiter(m, w);
      settle(m, w, NULL, 0, n->gone ? ENOENT : err);
      free_waiter(w);
    }
    maybe_free(m, n);
  }
  pthread_mutex_unlock(&m->lock);
  send_later();
}

static void finish_write(napi_env env, mount_t *m, write_req_t *w) {
  lock_tree(m);
  int taken = w->state == WRITE_PENDING;
  if (taken) w->state = WRITE_TAKEN;
  unlink_write(m, w);
  pthread_mutex_unlock(&m->lock);
  send_later();
  if (taken) {
    napi_value args[2], result;
    void *data;
    napi_create_double(env, (double)w->ino, &args[0]);
    napi_create_buffer_copy(env, w->len, w->data ? w->data : "", &data, &args[1]);
    result = call_handler(env, m->on_write, 2, args);
    int32_t err = EIO;
    if (result) napi_get_value_int32(env, result, &err);
    // Values produced before the write may show what it changed: none is served without a call now.
    lock_tree(m);
    m->fresh_after = now_ms();
    pthread_mutex_unlock(&m->lock);
    if (err) fuse_reply_err(w->req, err);
    else if (w->is_flush) fuse_reply_err(w->req, 0);
    else fuse_reply_write(w->req, w->reply_size);
  }
  free(w->data);
  free(w);
}

/** A call that will not run: unmounted, its request was answered at unmount. */
static void drop_call(call_t *c) {
  if (c->kind == CALL_WRITE) {
    free(c->write->data);
    free(c->write);
  }
  free(c);
}

/** A call is starting: the loop is alive, so what still waits is timed from now (see stuck()). */
static void started(mount_t *m, call_t *c) {
  if (!c->prefetch && m->queued > 0 && --m->queued > 0) m->queued_since = now_ms();
}

/**
 * A listing queued ahead (list_ahead()) that the budget left no time for: dropped, unless an open
 * came for it meanwhile; then it is asked for now, and returned to be kept for the next turn.
 */
static call_t *keep_listing_ahead(mount_t *m, call_t *c) {
  lock_tree(m);
  node_t *n = find(m, c->ino);
  int wanted = n && n->waiters && !n->gone;
  if (wanted) {
    c->prefetch = 0;
    if (m->queued++ == 0) m->queued_since = now_ms();
  } else if (n) {
    n->inflight = 0;
    maybe_free(m, n);
  }
  pthread_mutex_unlock(&m->lock);
  send_later();
  if (wanted) return c;
  free(c);
  return NULL;
}

static void run_call(napi_env env, mount_t *m, call_t *c) {
  lock_tree(m);
  started(m, c);
  pthread_mutex_unlock(&m->lock);
  send_later();
  if (c->kind == CALL_LIST) finish_list(env, m, c->ino);
  else finish_write(env, m, c->write);
  free(c);
}

/** Puts calls that did not run back at the head of the queue, in their order; the loop runs them next turn. */
static void put_back(mount_t *m, call_t *first, call_t *last) {
  if (!first) return;
  lock_tree(m);
  last->next = m->calls;
  if (!m->calls) m->calls_tail = last;
  m->calls = first;
  pthread_mutex_unlock(&m->lock);
  if (m->calls_wake) uv_async_send(m->calls_wake);
}

/** Where a batch's answer lands: the node's content, and every open waiting for it. */
static void deliver(mount_t *m, node_t *n, int err, char *content, size_t len, double began, int prefetch) {
  if (!err) {
    // A late answer still becomes the last value.
    free(n->content);
    n->content = content;
    n->content_len = len;
    n->has_content = 1;
    n->produced = began;
    n->prefetched = prefetch && !n->waiters;
  }
  for (waiter_t *w = n->waiters, *following; w; w = following) {
    following = w->next;
    unlink_waiter(m, w);
    settle(m, w, n->content, n->content_len, err);
    free_waiter(w);
  }
}

/**
 * One JavaScript call for every value queued: read([ino, …], budgetMs) → [content or errno, …],
 * shorter when the budget ran out. Files asked for by an open come first; a file nobody waits for
 * that was not reached is dropped, one an open waits for goes back to the queue (`left`).
 */
static void run_reads(napi_env env, mount_t *m, call_t *reads, size_t count, double budget, call_t **left_first, call_t **left_last) {
  // Files an open asked for first, then those produced ahead (the second half, moved up after).
  call_t **batch = calloc(count ? 2 * count : 1, sizeof *batch);
  napi_value array, args[2], result = NULL;
  size_t used = 0, ahead = 0;
  lock_tree(m);
  for (call_t *c = reads, *next; c; c = next) {
    next = c->next;
    node_t *n = find(m, c->ino);
    started(m, c);
    if (batch && n && !n->gone) {
      if (c->prefetch) batch[count + ahead++] = c;
      else batch[used++] = c;
      continue;
    }
    // Gone since it was queued (its opens were answered ENOENT then), or no memory for the batch.
    if (n) { n->inflight = 0; fail_waiters(m, n, n->gone ? ENOENT : ENOMEM); maybe_free(m, n); }
    free(c);
  }
  pthread_mutex_unlock(&m->lock);
  send_later();
  if (!batch) return;
  memmove(batch + used, batch + count, ahead * sizeof *batch);
  used += ahead;
  double began = now_ms();
  if (napi_create_array_with_length(env, used, &array) == napi_ok) {
    for (size_t i = 0; i < used; i++) {
      napi_value ino;
      napi_create_double(env, (double)batch[i]->ino, &ino);
      napi_set_element(env, array, (uint32_t)i, ino);
    }
    args[0] = array;
    napi_create_double(env, budget, &args[1]);
    result = call_handler(env, m->on_read, 2, args);
  }
  uint32_t done = 0;
  bool is_array = false;
  if (result && napi_is_array(env, result, &is_array) == napi_ok && is_array) napi_get_array_length(env, result, &done);
  if (done > used) done = (uint32_t)used;
  char **contents = calloc(done ? done : 1, sizeof *contents);
  size_t *lens = calloc(done ? done : 1, sizeof *lens);
  int *errs = calloc(done ? done : 1, sizeof *errs);
  for (uint32_t i = 0; contents && lens && errs && i < done; i++) {
    napi_value element = NULL;
    napi_get_element(env, result, i, &element);
    errs[i] = read_result(env, element, &contents[i], &lens[i]);
  }
  if (!contents || !lens || !errs) done = 0;
  lock_tree(m);
  for (size_t i = 0; i < used; i++) {
    call_t *c = batch[i];
    node_t *n = find(m, c->ino);
    if (n && i >= done && n->waiters && !n->gone) {
      // Not reached within the budget: an open waits for it, so it runs next turn.
      c->prefetch = 0;
      c->next = NULL;
      if (*left_last) (*left_last)->next = c; else *left_first = c;
      *left_last = c;
      if (m->queued++ == 0) m->queued_since = now_ms();
      continue;
    }
    if (n) {
      n->inflight = 0;
      if (i < done) {
        deliver(m, n, errs[i], contents[i], lens[i], began, c->prefetch);
        if (!errs[i]) contents[i] = NULL;
      } else {
        fail_waiters(m, n, EIO);
      }
      maybe_free(m, n);
    }
    free(c);
  }
  pthread_mutex_unlock(&m->lock);
  send_later();
  for (uint32_t i = 0; contents && i < done; i++) free(contents[i]);
  free(contents);
  free(lens);
  free(errs);
  free(batch);
}

static call_t *take_calls(mount_t *m) {
  lock_tree(m);
  call_t *c = m->calls;
  m->calls = m->calls_tail = NULL;
  pthread_mutex_unlock(&m->lock);
  return c;
}

/**
 * Runs the calls queued, within the budget of one turn of the loop: listings and writes one by one
 * (at least one per turn), then every value in one batch (run_reads) with the time left. What did
 * not fit goes back to the queue for the next turn, after the program's own callbacks. One
 * callback: the program's promise reactions and nextTick callbacks run after the batch, as after
 * any I/O callback.
 */
static void run_calls(mount_t *m) {
  napi_env env = m->env;
  double began = now_ms();
  call_t *c = take_calls(m);
  napi_handle_scope scope;
  napi_callback_scope callback_scope = NULL;
  napi_value resource;
  if (!c) return;
  if (napi_open_handle_scope(env, &scope) != napi_ok) {
    call_t *last = c;
    while (last->next) last = last->next;
    put_back(m, c, last);
    return;
  }
  if (napi_create_object(env, &resource) == napi_ok) napi_open_callback_scope(env, resource, m->async_context, &callback_scope);
  call_t *reads = NULL, *reads_last = NULL, *left = NULL, *left_last = NULL;
  size_t read_count = 0;
  int ran = 0;
  while (c) {
    call_t *next = c->next;
    c->next = NULL;
    if (!m->mounted) drop_call(c);                        /* unmounted by a call before it */
    else if (c->kind == CALL_READ) {
      if (reads_last) reads_last->next = c; else reads = c;
      reads_last = c;
      read_count++;
    } else if (ran && now_ms() - began >= m->budget_ms) {
      if (c->prefetch) c = keep_listing_ahead(m, c);
      if (c) {
        if (left_last) left_last->next = c; else left = c;
        left_last = c;
      }
    } else {
      run_call(env, m, c);
      ran = 1;
    }
    c = next;
  }
  if (reads && !m->mounted) {
    while (reads) { call_t *next = reads->next; drop_call(reads); reads = next; }
  } else if (reads) {
    double budget = m->budget_ms - (now_ms() - began);
    run_reads(env, m, reads, read_count, budget > 0 ? budget : 0, &left, &left_last);
  }
  if (left && !m->mounted) {
    while (left) { call_t *next = left->next; drop_call(left); left = next; }
  } else if (left) {
    put_back(m, left, left_last);
  }
  if (callback_scope) napi_close_callback_scope(env, callback_scope);
  napi_close_handle_scope(env, scope);
}

void on_calls(uv_async_t *async) {
  run_calls(async->data);
}

static void calls_closed(uv_handle_t *handle) {
  mount_t *m = handle->data;
  free(handle);
  release_mount(m);
}

/** Once the FUSE thread has stopped, no call comes any more: the queue is dropped and the wake closed. */
void close_calls(mount_t *m) {
  while (m->calls) {
    call_t *c = m->calls;
    m->calls = c->next;
    drop_call(c);
  }
  m->calls_tail = NULL;
  if (m->async_context) napi_async_destroy(m->env, m->async_context);
  m->async_context = NULL;
  if (m->calls_wake) uv_close((uv_handle_t *)m->calls_wake, calls_closed);
  m->calls_wake = NULL;
}
