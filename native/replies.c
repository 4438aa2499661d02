// Replies decided under the table's lock, sent after it is released; entries, opens and listings.
#include "procstat.h"

static __thread out_t *out_head, *out_tail;

out_t *later(int kind, fuse_req_t req) {
  out_t *o = calloc(1, sizeof *o);
  if (!o) { if (req) fuse_reply_err(req, ENOMEM); return NULL; }
  o->kind = kind;
  o->req = req;
  if (out_tail) out_tail->next = o; else out_head = o;
  out_tail = o;
  return o;
}

void later_err(fuse_req_t req, int err) {
  out_t *o = later(OUT_ERR, req);
  if (o) o->err = err;
}

void queue_inval(mount_t *m, uint64_t parent, const char *name) {
  inval_t *i = calloc(1, sizeof *i);
  if (!i || !(i->name = strdup(name))) { free(i); return; }
  i->parent = parent;
  if (m->inval_tail) m->inval_tail->next = i; else m->inval_head = i;
  m->inval_tail = i;
  pthread_cond_signal(&m->inval_wake);
}

void fill_attr(mount_t *m, node_t *n, struct stat *st) {
  memset(st, 0, sizeof *st);
  st->st_ino = n->ino;
  st->st_mode = n->mode;
  st->st_nlink = n->is_dir ? 2 : 1;
  st->st_uid = m->uid;
  st->st_gid = m->gid;
  st->st_blksize = 4096;
  st->st_mtim.tv_sec = st->st_ctim.tv_sec = st->st_atim.tv_sec = (time_t)m->mount_time;
}

void fill_entry(mount_t *m, node_t *n, struct fuse_entry_param *e) {
  memset(e, 0, sizeof *e);
  e->ino = n->ino;
  e->attr_timeout = e->entry_timeout = CACHE_SECONDS;
  fill_attr(m, n, &e->attr);
}

/** Counted now; taken back in send_later() should the reply not reach the kernel. */
void reply_entry(mount_t *m, fuse_req_t req, node_t *n) {
  out_t *o = later(OUT_ENTRY, req);
  if (!o) return;
  fill_entry(m, n, &o->entry);
  o->m = m;
  o->ino = n->ino;
  n->nlookup++;
}

/** Opens a handle on `content`; the handle owns a copy. */
void reply_open(mount_t *m, fuse_req_t req, struct fuse_file_info *fi, node_t *n, const char *content, size_t len) {
  handle_t *h = calloc(1, sizeof *h);
  if (!h || (len && !(h->content = malloc(len)))) { free(h); later_err(req, ENOMEM); return; }
  if (len) memcpy(h->content, content, len);
  h->len = len;
  h->ino = n->ino;
  fi->fh = (uint64_t)(uintptr_t)h;
  fi->direct_io = 1;                          /* never cached: every cat sees the live value */
  fi->noflush = (fi->flags & O_ACCMODE) == O_RDONLY;  /* flush only matters to writers */
  out_t *o = later(OUT_OPEN, req);
  if (!o) { free(h->content); free(h); return; }
  o->fi = *fi;
  o->m = m;
  o->ino = n->ino;
  o->ptr = h;
  n->opens++;
}

static listing_t *take_listing(node_t *dir) {
  size_t count = 0;
  for (node_t *c = dir->first; c; c = c->next) if (!c->hidden) count++;
  listing_t *l = calloc(1, sizeof *l);
  if (!l) return NULL;
  l->entries = calloc(count ? count : 1, sizeof *l->entries);
  if (!l->entries) { free(l); return NULL; }
  l->dir = dir;
  dir->listings++;
  for (node_t *c = dir->first; c; c = c->next) {
    if (c->hidden) continue;
    l->entries[l->count++] = c;
    c->listings++;
  }
  return l;
}

/** Call with the lock held. */
void free_listing(mount_t *m, listing_t *l) {
  for (size_t i = 0; i < l->count; i++) {
    l->entries[i]->listings--;
    maybe_free(m, l->entries[i]);
  }
  l->dir->listings--;
  maybe_free(m, l->dir);
  free(l->entries);
  free(l);
}

void reply_opendir(mount_t *m, fuse_req_t req, struct fuse_file_info *fi, node_t *dir) {
  listing_t *l = take_listing(dir);
  if (!l) { later_err(req, ENOMEM); return; }
  fi->fh = (uint64_t)(uintptr_t)l;
  out_t *o = later(OUT_OPENDIR, req);
  if (!o) { free_listing(m, l); return; }
  o->fi = *fi;
  o->m = m;
  o->ptr = l;
}

/** Sends what this thread decided under the lock. Call with the lock released. */
void send_later(void) {
  out_t *o = out_head;
  out_head = out_tail = NULL;
  while (o) {
    out_t *next = o->next;
    int failed = 0;
    switch (o->kind) {
      case OUT_ERR: fuse_reply_err(o->req, o->err); break;
      case OUT_WRITE: fuse_reply_write(o->req, o->count); break;
      case OUT_ENTRY: failed = fuse_reply_entry(o->req, &o->entry) != 0; break;
      case OUT_OPENDIR:
        if (fuse_reply_open(o->req, &o->fi) != 0) {
          pthread_mutex_lock(&o->m->lock);
          free_listing(o->m, o->ptr);
          pthread_mutex_unlock(&o->m->lock);
        }
        break;
      case OUT_OPEN:
        failed = fuse_reply_open(o->req, &o->fi) != 0;
        if (failed) { free(((handle_t *)o->ptr)->content); free(o->ptr); }
        break;
      case OUT_CALL: uv_async_send(o->m->calls_wake); break;
    }
    if (failed) {
      // The kernel did not take the reply: take back the lookup or open counted for it.
      pthread_mutex_lock(&o->m->lock);
      node_t *n = find(o->m, o->ino);
      if (n && o->kind == OUT_ENTRY && n->nlookup) n->nlookup--;
      if (n && o->kind == OUT_OPEN && n->opens) n->opens--;
      if (n) maybe_free(o->m, n);
      pthread_mutex_unlock(&o->m->lock);
    }
    free(o);
    o = next;
  }
}
