// The kernel's requests, answered on the FUSE thread from the table (values and lazy listings wait for JavaScript).
#include "procstat.h"

mount_t *mount_of(fuse_req_t req) {
  return fuse_req_userdata(req);
}

void answer_lookup(mount_t *m, fuse_req_t req, node_t *dir, const char *name) {
  node_t *child = find_child(m, dir->ino, name);
  if (child) reply_entry(m, req, child);
  else later_err(req, ENOENT);
}

/** A lazy directory is listed by JavaScript the first time it is used; past the deadline, EAGAIN. */
static int needs_listing(mount_t *m, node_t *dir, fuse_req_t req) {
  if (!dir->lazy || dir->listed) return 0;
  if (stuck(m)) { later_err(req, EAGAIN); return -1; }
  return 1;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
  mount_t *m = mount_of(req);
  follow_reader(req);
  lock_tree(m);
  node_t *dir = find(m, parent);
  if (!dir || dir->gone || !dir->is_dir) later_err(req, dir && !dir->gone ? ENOTDIR : ENOENT);
  else {
    int listing = needs_listing(m, dir, req);
    if (listing == 1) add_waiter(m, dir, req, W_LOOKUP, NULL, name);
    else if (listing == 0) answer_lookup(m, req, dir, name);
  }
  pthread_mutex_unlock(&m->lock);
  send_later();
}

static void forget_one(mount_t *m, fuse_ino_t ino, uint64_t count) {
  node_t *n = find(m, ino);
  if (!n) return;
  n->nlookup = n->nlookup > count ? n->nlookup - count : 0;
  maybe_free(m, n);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  mount_t *m = mount_of(req);
  lock_tree(m);
  forget_one(m, ino, nlookup);
  pthread_mutex_unlock(&m->lock);
  send_later();
  fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets) {
  mount_t *m = mount_of(req);
  lock_tree(m);
  for (size_t i = 0; i < count; i++) forget_one(m, forgets[i].ino, forgets[i].nlookup);
  pthread_mutex_unlock(&m->lock);
  send_later();
  fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  mount_t *m = mount_of(req);
  struct stat st;
  lock_tree(m);
  node_t *n = find(m, ino);
  int ok = n && !n->gone;
  if (ok) fill_attr(m, n, &st);
  pthread_mutex_unlock(&m->lock);
  send_later();
  if (ok) fuse_reply_attr(req, &st, CACHE_SECONDS);
  else fuse_reply_err(req, ENOENT);
  (void)fi;
}

/** Only `echo 5 > parameter` needs this: O_TRUNC of a writable file. Everything else is refused. */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi) {
  mount_t *m = mount_of(req);
  struct stat st;
  int err = 0;
  lock_tree(m);
  node_t *n = find(m, ino);
  if (!n || n->gone) err = ENOENT;
  else if (to_set & ~(FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME)) err = EPERM;
  else if ((to_set & FUSE_SET_ATTR_SIZE) && (n->is_dir || !(n->mode & 0222))) err = n->is_dir ? EISDIR : EACCES;
  else if (!(to_set & FUSE_SET_ATTR_SIZE)) err = EPERM;
  else fill_attr(m, n, &st);
  pthread_mutex_unlock(&m->lock);
  send_later();
  if (err) fuse_reply_err(req, err);
  else fuse_reply_attr(req, &st, CACHE_SECONDS);
  (void)attr; (void)fi;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  mount_t *m = mount_of(req);
  follow_reader(req);
  lock_tree(m);
  node_t *n = find(m, ino);
  int mode = fi->flags & O_ACCMODE;
  int wants_read = mode != O_WRONLY, wants_write = mode != O_RDONLY;
  if (!n || n->gone) later_err(req, ENOENT);
  else if (n->is_dir) later_err(req, EISDIR);
  else if ((wants_read && !(n->mode & 0444)) || (wants_write && !(n->mode & 0222))) later_err(req, EACCES);
  else if (n->local) {
    size_t len = 0;
    char *text = local_content(m, n, &len);
    if (text) reply_open(m, req, fi, n, text, len);
    else later_err(req, ENOMEM);
    free(text);
  } else if (!wants_read) {
    reply_open(m, req, fi, n, NULL, 0);
  } else if (stuck(m)) {
    // Known to be stuck: answer at once rather than wait the deadline again.
    waiter_t w = { .req = req, .kind = W_OPEN, .node = n, .fi = *fi };
    expire(m, &w);
  } else {
    double now = now_ms();
    n->opened = now;
    n->unread = 0;
    node_t *dir = find(m, n->parent);
    if (fresh(m, n, now) && dir && !dir->elements) {
      n->prefetched = 0;
      reply_open(m, req, fi, n, n->content, n->content_len);
    } else {
      add_waiter(m, n, req, W_OPEN, fi, NULL);
    }
  }
  pthread_mutex_unlock(&m->lock);
  send_later();
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  mount_t *m = mount_of(req);
  handle_t *h = (handle_t *)(uintptr_t)fi->fh;
  lock_tree(m);
  node_t *n = find(m, ino);
  int gone = !n || n->gone;
  pthread_mutex_unlock(&m->lock);
  send_later();
  // The handle is this request's alone until release: read it without the lock.
  if (gone) fuse_reply_err(req, ENOENT);
  else if ((size_t)off >= h->len) fuse_reply_buf(req, NULL, 0);
  else fuse_reply_buf(req, h->content + off, h->len - (size_t)off < size ? h->len - (size_t)off : size);
}

/** Hands the bytes written since the last apply to JavaScript; the reply comes from whoever decides. */
static void apply_write(mount_t *m, fuse_req_t req, handle_t *h, size_t reply_size, int is_flush) {
  write_req_t *w = calloc(1, sizeof *w);
  if (!w) { later_err(req, ENOMEM); return; }
  w->req = req;
  w->ino = h->ino;
  w->data = h->pending;
  w->len = h->pending_len;
  w->reply_size = reply_size;
  w->is_flush = is_flush;
  w->state = WRITE_PENDING;
  w->deadline = now_ms() + m->deadline_ms;
  h->pending = NULL;
  h->pending_len = 0;
  if (stuck(m) || m->stopping) {
    later_err(req, EAGAIN);
    free(w->data);
    free(w);
    return;
  }
  w->next = m->writes;
  if (m->writes) m->writes->prev = w;
  m->writes = w;
  queue_call(m, CALL_WRITE, h->ino, w, 0);
  wake_timer_by(m, w->deadline);
}

/**
 * A value is applied once, whole: at a write that ends with a newline, else when the process that
 * wrote it closes the file (its flush), else when the last descriptor goes (release). Pieces must
 * follow each other; a write elsewhere cannot make a value.
 */
static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  mount_t *m = mount_of(req);
  handle_t *h = (handle_t *)(uintptr_t)fi->fh;
  lock_tree(m);
  node_t *n = find(m, ino);
  if (!n || n->gone) later_err(req, ENOENT);
  else if ((uint64_t)off != h->written) later_err(req, EINVAL);
  else if (h->refused || h->pending_len + size > MAX_PENDING_WRITE) {
    // Refused whole: this piece and every later one up to the value's end (a newline, or close),
    // so that its tail is never applied as a value of its own.
    free(h->pending);
    h->pending = NULL;
    h->pending_len = 0;
    h->written += size;
    h->refused = !(size > 0 && buf[size - 1] == '\n');
    later_err(req, EINVAL);
  } else {
    char *grown = realloc(h->pending, h->pending_len + size + 1);
    if (!grown) later_err(req, ENOMEM);
    else {
      memcpy(grown + h->pending_len, buf, size);
      h->pending = grown;
      h->pending_len += size;
      h->written += size;
      h->writer = fi->lock_owner;
      if (size > 0 && buf[size - 1] == '\n') apply_write(m, req, h, size, 0);
      else { out_t *o = later(OUT_WRITE, req); if (o) o->count = size; }
    }
  }
  pthread_mutex_unlock(&m->lock);
  send_later();
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  mount_t *m = mount_of(req);
  handle_t *h = (handle_t *)(uintptr_t)fi->fh;
  lock_tree(m);
  if (h->refused) {
    h->refused = 0;
    later_err(req, EINVAL);               /* close() reports the refused value */
  } else if (h->pending_len > 0 && fi->lock_owner == h->writer) apply_write(m, req, h, 0, 1);
  else later_err(req, 0);                 /* nothing pending, or another process closing a descriptor it inherited */
  pthread_mutex_unlock(&m->lock);
  send_later();
  (void)ino;
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  mount_t *m = mount_of(req);
  handle_t *h = (handle_t *)(uintptr_t)fi->fh;
  lock_tree(m);
  node_t *n = find(m, ino);
  // Bytes no close of their writer applied (the last descriptor was another process's): applied now,
  // the release answered when it is (nobody waits to hear an error).
  int applying = n && !n->gone && h->pending_len > 0 && !h->refused;
  if (applying) apply_write(m, req, h, 0, 1);
  if (n) {
    if (n->opens) n->opens--;
    maybe_free(m, n);
  }
  pthread_mutex_unlock(&m->lock);
  send_later();
  free(h->content);
  free(h->pending);
  free(h);
  if (!applying) fuse_reply_err(req, 0);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  mount_t *m = mount_of(req);
  follow_reader(req);
  lock_tree(m);
  node_t *n = find(m, ino);
  if (!n || n->gone) later_err(req, ENOENT);
  else if (!n->is_dir) later_err(req, ENOTDIR);
  else {
    int listing = needs_listing(m, n, req);
    if (listing == 1) add_waiter(m, n, req, W_OPENDIR, fi, NULL);
    else if (listing == 0) reply_opendir(m, req, fi, n);
  }
  pthread_mutex_unlock(&m->lock);
  send_later();
}

/** readdir and readdirplus: offsets are positions in the listing taken at opendir (0 and 1: `.` and `..`). */
static void list_dir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi, int plus) {
  mount_t *m = mount_of(req);
  listing_t *l = (listing_t *)(uintptr_t)fi->fh;
  char *buf = malloc(size);
  if (!buf) { fuse_reply_err(req, ENOMEM); return; }
  size_t used = 0;
  lock_tree(m);
  for (size_t i = (size_t)off; i < l->count + 2; i++) {
    struct fuse_entry_param e;
    const char *name;
    node_t *n = NULL;
    if (i < 2) {
      memset(&e, 0, sizeof e);                 /* ino 0: the kernel makes no entry for dots */
      e.attr.st_mode = S_IFDIR | 0755;
      e.attr.st_ino = i == 0 ? ino : (l->dir->parent ? l->dir->parent : ROOT_INO);
      name = i == 0 ? "." : "..";
    } else {
      n = l->entries[i - 2];
      if (n->gone) continue;                   /* removed since opendir */
      fill_entry(m, n, &e);
      name = n->name;
    }
    size_t need = plus ? fuse_add_direntry_plus(req, buf + used, size - used, name, &e, (off_t)i + 1)
                       : fuse_add_direntry(req, buf + used, size - used, name, &e.attr, (off_t)i + 1);
    if (need > size - used) break;
    used += need;
    if (plus && n) n->nlookup++;               /* readdirplus counts as a lookup of each entry */
  }
  pthread_mutex_unlock(&m->lock);
  send_later();
  fuse_reply_buf(req, buf, used);
  free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  list_dir(req, ino, size, off, fi, 0);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  list_dir(req, ino, size, off, fi, 1);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  mount_t *m = mount_of(req);
  lock_tree(m);
  free_listing(m, (listing_t *)(uintptr_t)fi->fh);
  pthread_mutex_unlock(&m->lock);
  send_later();
  fuse_reply_err(req, 0);
  (void)ino;
}

static void refuse(fuse_req_t req) {
  fuse_reply_err(req, EPERM);
}

static void op_mknod(fuse_req_t req, fuse_ino_t p, const char *n, mode_t mode, dev_t rdev) { refuse(req); (void)p; (void)n; (void)mode; (void)rdev; }

static void op_mkdir(fuse_req_t req, fuse_ino_t p, const char *n, mode_t mode) { refuse(req); (void)p; (void)n; (void)mode; }

static void op_unlink(fuse_req_t req, fuse_ino_t p, const char *n) { refuse(req); (void)p; (void)n; }

static void op_symlink(fuse_req_t req, const char *l, fuse_ino_t p, const char *n) { refuse(req); (void)l; (void)p; (void)n; }

static void op_rename(fuse_req_t req, fuse_ino_t p, const char *n, fuse_ino_t np, const char *nn, unsigned int f) {
  refuse(req); (void)p; (void)n; (void)np; (void)nn; (void)f;
}

static void op_link(fuse_req_t req, fuse_ino_t i, fuse_ino_t p, const char *n) { refuse(req); (void)i; (void)p; (void)n; }

static void op_create(fuse_req_t req, fuse_ino_t p, const char *n, mode_t mode, struct fuse_file_info *fi) {
  refuse(req); (void)p; (void)n; (void)mode; (void)fi;
}

static void op_setxattr(fuse_req_t req, fuse_ino_t i, const char *n, const char *v, size_t s, int f) {
  refuse(req); (void)i; (void)n; (void)v; (void)s; (void)f;
}

static void op_removexattr(fuse_req_t req, fuse_ino_t i, const char *n) { refuse(req); (void)i; (void)n; }

const struct fuse_lowlevel_ops operations = {
  .lookup = op_lookup, .forget = op_forget, .forget_multi = op_forget_multi, .getattr = op_getattr,
  .setattr = op_setattr, .open = op_open, .read = op_read, .write = op_write, .flush = op_flush,
  .release = op_release, .opendir = op_opendir, .readdir = op_readdir, .readdirplus = op_readdirplus,
  .releasedir = op_releasedir, .mknod = op_mknod, .mkdir = op_mkdir, .unlink = op_unlink, .rmdir = op_unlink,
  .symlink = op_symlink, .rename = op_rename, .link = op_link, .create = op_create, .setxattr = op_setxattr,
  .removexattr = op_removexattr, .getxattr = op_getxattr, .listxattr = op_listxattr,
};
