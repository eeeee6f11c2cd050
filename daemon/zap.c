/* zap.c - CURVE allow-list and ZAP handler (see zap.h and SECURITY.md). */
#define LOG_PREFIX "zap"
#include "zap.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "alloc.h"

/* --- configuration --- */

static int name_ok(const char *s, size_t n)
{
    if (n < 1 || n >= ZAP_NAME)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
            return 0;
    return 1;
}

/* "client NAME": the offset of NAME in section, or 0 if section is not a client section. */
static size_t client_name_at(const char *s, size_t n)
{
    if (n < 7 || strncmp(s, "client", 6) || (s[6] != ' ' && s[6] != '\t'))
        return 0;
    size_t i = 6;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i < n ? i : 0;
}

int zap_cfg_section(const char *section, size_t n)
{
    if (n == 8 && !strncmp(section, "security", 8))
        return 1;
    return client_name_at(section, n) > 0;
}

int zap_cfg_enabled(const zap_cfg_t *c)
{
    return c && c->server_key[0] != '\0';
}

static zap_client_t *client_of(zap_cfg_t *c, const char *name, int line, char *msg, size_t cap)
{
    for (int i = 0; i < c->n_clients; i++)
        if (!strcmp(c->clients[i].name, name))
            return &c->clients[i];
    if (c->n_clients == ZAP_MAX_CLIENTS) {
        snprintf(msg, cap, "more than %d [client NAME] sections", ZAP_MAX_CLIENTS);
        return NULL;
    }
    zap_client_t *cl = &c->clients[c->n_clients++];
    memset(cl, 0, sizeof *cl);
    snprintf(cl->name, sizeof cl->name, "%s", name);
    cl->line = line;
    return cl;
}

static int path_value(char *dst, const char *v, char *msg, size_t cap)
{
    if (!*v) {
        snprintf(msg, cap, "expected a file path, got ''");
        return -1;
    }
    if (v[0] == '~') {
        snprintf(msg, cap, "'~' is not expanded: give the full path, got '%s'", v);
        return -1;
    }
    if (strlen(v) >= ZAP_PATH) {
        snprintf(msg, cap, "path longer than %d bytes", ZAP_PATH - 1);
        return -1;
    }
    snprintf(dst, ZAP_PATH, "%s", v);
    return 0;
}

static int twice(int first_line, char *msg, size_t cap)
{
    if (!first_line)
        return 0;
    snprintf(msg, cap, "given twice (first on line %d)", first_line);
    return -1;
}

/* feeds = "*" | "none" | athletes separated by commas, spaces or '|'. */
static int feeds_value(zap_client_t *cl, const char *v, char *msg, size_t cap)
{
    cl->all_feeds = 0;
    cl->n_feeds = 0;
    if (!strcmp(v, "*")) {
        cl->all_feeds = 1;
        return 0;
    }
    if (!strcmp(v, "none"))
        return 0;
    const char *sep = ", \t|";
    const char *s = v;
    while (*s) {
        s += strspn(s, sep);
        size_t n = strcspn(s, sep);
        if (!n)
            break;
        if (n == 1 && s[0] == '*') {
            snprintf(msg, cap, "'*' stands alone (every athlete), got '%s'", v);
            return -1;
        }
        if (!name_ok(s, n)) {
            snprintf(msg, cap,
                     "'%.*s' is not an athlete name (1 to 63 letters, digits, _ - .); "
                     "expected athlete names, * or none",
                     (int)(n < 80 ? n : 80), s);
            return -1;
        }
        if (cl->n_feeds == ZAP_MAX_FEEDS) {
            snprintf(msg, cap, "more than %d athletes (use * for every athlete)", ZAP_MAX_FEEDS);
            return -1;
        }
        snprintf(cl->feeds[cl->n_feeds++], ZAP_NAME, "%.*s", (int)n, s);
        s += n;
    }
    if (!cl->n_feeds) {
        snprintf(msg, cap,
                 "expected athlete names (sim1, sim2), * (every athlete) or none, "
                 "got '%s'",
                 v);
        return -1;
    }
    return 0;
}

int zap_cfg_set(zap_cfg_t *c, const char *section, const char *key, const char *value, int line,
                char *msg, size_t cap)
{
    size_t sn = strlen(section);
    if (!strcmp(section, "security")) {
        if (!c->section_line)
            c->section_line = line;
        if (strcmp(key, "server_key")) {
            snprintf(msg, cap, "unknown key (known: server_key)");
            return -1;
        }
        if (twice(c->server_key_line, msg, cap) || path_value(c->server_key, value, msg, cap))
            return -1;
        c->server_key_line = line;
        return 0;
    }
    size_t at = client_name_at(section, sn);
    if (!at) {
        snprintf(msg, cap, "not a security section");
        return -1;
    }
    const char *name = section + at;
    if (!name_ok(name, strlen(name))) {
        snprintf(msg, cap, "client name '%s': expected 1 to 63 letters, digits, _ - .", name);
        return -1;
    }
    zap_client_t *cl = client_of(c, name, line, msg, cap);
    if (!cl)
        return -1;
    if (!strcmp(key, "public_key") || !strcmp(key, "public_key_file")) {
        if (cl->key_line) {
            snprintf(msg, cap,
                     "the key is already given on line %d (public_key or "
                     "public_key_file, once)",
                     cl->key_line);
            return -1;
        }
        if (key[10] == '\0') {
            char e[120];
            if (keys_z85_decode(value, cl->key, e, sizeof e) != 0) {
                snprintf(msg, cap, "%s (a public key from gaitctl keygen's .pub file), got '%.60s'",
                         e, value);
                return -1;
            }
            snprintf(cl->public_z85, sizeof cl->public_z85, "%s", value);
            for (int i = 0; i < c->n_clients; i++) {
                const zap_client_t *o = &c->clients[i];
                if (o != cl && o->public_z85[0] && !strcmp(o->public_z85, cl->public_z85)) {
                    snprintf(msg, cap, "the same key as [client %s] (line %d): one key per client",
                             o->name, o->key_line);
                    return -1;
                }
            }
        } else if (path_value(cl->key_file, value, msg, cap)) {
            return -1;
        }
        cl->key_line = line;
        return 0;
    }
    if (!strcmp(key, "feeds")) {
        if (twice(cl->feeds_line, msg, cap) || feeds_value(cl, value, msg, cap))
            return -1;
        cl->feeds_line = line;
        return 0;
    }
    if (!strcmp(key, "control")) {
        if (twice(cl->control_line, msg, cap))
            return -1;
        if (!strcmp(value, "no"))
            cl->control = ZAP_CONTROL_NO;
        else if (!strcmp(value, "read"))
            cl->control = ZAP_CONTROL_READ;
        else if (!strcmp(value, "yes"))
            cl->control = ZAP_CONTROL_YES;
        else {
            snprintf(msg, cap,
                     "expected no, read (commands that only read) or yes (every "
                     "command), got '%s'",
                     value);
            return -1;
        }
        cl->control_line = line;
        return 0;
    }
    snprintf(msg, cap, "unknown key (known: public_key, public_key_file, feeds, control)");
    return -1;
}

int zap_cfg_check(const zap_cfg_t *c, int *line, char *msg, size_t cap)
{
    for (int i = 0; i < c->n_clients; i++) {
        const zap_client_t *cl = &c->clients[i];
        if (!cl->key_line) {
            *line = cl->line;
            snprintf(msg, cap, "[client %s]: no public_key or public_key_file", cl->name);
            return -1;
        }
    }
    if (c->n_clients && !c->server_key[0]) {
        *line = c->clients[0].line;
        snprintf(msg, cap,
                 "[client %s]: CURVE clients need [security] server_key (gaitd's "
                 "secret key file, from gaitctl keygen)",
                 c->clients[0].name);
        return -1;
    }
    if (c->server_key[0] && !c->n_clients) {
        *line = c->server_key_line;
        snprintf(msg, cap,
                 "[security] server_key: no [client NAME] section: no client could "
                 "connect (add one per coach's public key)");
        return -1;
    }
    if (c->section_line && !c->server_key[0]) {
        *line = c->section_line;
        snprintf(msg, cap, "[security]: server_key missing (gaitd's secret key file)");
        return -1;
    }
    return 0;
}

int zap_cfg_load_keys(zap_cfg_t *c, const char *cfg_name, char *err, size_t errcap)
{
    char e[700];
    keys_pair_t kp;
    if (!zap_cfg_enabled(c))
        return 0;
    if (!keys_curve_available()) {
        snprintf(err, errcap, "%s:%d: [security] server_key: this libzmq has no CURVE support",
                 cfg_name, c->server_key_line);
        return -1;
    }
    if (keys_load_secret(c->server_key, &kp, e, sizeof e) != 0) {
        snprintf(err, errcap, "%s:%d: [security] server_key: %s", cfg_name, c->server_key_line, e);
        return -1;
    }
    memcpy(c->server_public, kp.public_z85, sizeof c->server_public);
    memcpy(c->server_secret, kp.secret_z85, sizeof c->server_secret);
    explicit_bzero(&kp, sizeof kp);
    for (int i = 0; i < c->n_clients; i++) {
        zap_client_t *cl = &c->clients[i];
        if (!cl->key_file[0])
            continue;
        if (keys_load_public(cl->key_file, &kp, e, sizeof e) != 0) {
            snprintf(err, errcap, "%s:%d: [client %s] public_key_file: %s", cfg_name, cl->key_line,
                     cl->name, e);
            return -1;
        }
        memcpy(cl->public_z85, kp.public_z85, sizeof cl->public_z85);
        keys_z85_decode(cl->public_z85, cl->key, e, sizeof e);
    }
    for (int i = 0; i < c->n_clients; i++) {
        const zap_client_t *a = &c->clients[i];
        if (!strcmp(a->public_z85, c->server_public)) {
            snprintf(err, errcap,
                     "%s:%d: [client %s]: this is gaitd's own key (server_key): "
                     "give each coach a key of its own",
                     cfg_name, a->key_line, a->name);
            return -1;
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(a->public_z85, c->clients[j].public_z85)) {
                snprintf(err, errcap,
                         "%s:%d: [client %s]: the same key as [client %s] (line "
                         "%d): one key per client",
                         cfg_name, a->key_line, a->name, c->clients[j].name,
                         c->clients[j].key_line);
                return -1;
            }
    }
    c->keys_loaded = 1;
    return 0;
}

/* --- decisions --- */

const zap_client_t *zap_cfg_find_key(const zap_cfg_t *c, const uint8_t *key)
{
    for (int i = 0; i < c->n_clients; i++)
        if (c->clients[i].public_z85[0] && !memcmp(c->clients[i].key, key, KEYS_BIN_LEN))
            return &c->clients[i];
    return NULL;
}

const zap_client_t *zap_cfg_find_name(const zap_cfg_t *c, const char *name)
{
    if (!name || !*name)
        return NULL;
    for (int i = 0; i < c->n_clients; i++)
        if (!strcmp(c->clients[i].name, name))
            return &c->clients[i];
    return NULL;
}

int zap_decide(const zap_cfg_t *c, const char *domain, const char *mechanism, const uint8_t *cred,
               size_t cred_len, const zap_client_t **who, char *why, size_t whycap)
{
    *who = NULL;
    if (strcmp(mechanism, "CURVE")) {
        snprintf(why, whycap, "mechanism %.20s refused (CURVE only)", mechanism);
        return 400;
    }
    if (cred_len != KEYS_BIN_LEN) {
        snprintf(why, whycap, "malformed CURVE credential (%zu bytes)", cred_len);
        return 400;
    }
    const zap_client_t *cl = zap_cfg_find_key(c, cred);
    if (!cl) {
        snprintf(why, whycap, "key not in the allow-list");
        return 400;
    }
    if (!strcmp(domain, ZAP_DOMAIN_FEEDS)) {
        if (!cl->all_feeds && !cl->n_feeds) {
            snprintf(why, whycap, "client %s may watch no feed (feeds = none)", cl->name);
            return 400;
        }
    } else if (!strcmp(domain, ZAP_DOMAIN_CONTROL)) {
        if (cl->control == ZAP_CONTROL_NO) {
            snprintf(why, whycap, "client %s may not use the control endpoint (control = no)",
                     cl->name);
            return 400;
        }
    } else {
        snprintf(why, whycap, "unknown ZAP domain '%.40s'", domain);
        return 400;
    }
    *who = cl;
    snprintf(why, whycap, "OK");
    return 200;
}

int zap_client_may_control(const zap_cfg_t *c, const char *peer, int changes_state)
{
    const zap_client_t *cl = zap_cfg_find_name(c, peer);
    if (!cl)
        return 0;
    return changes_state ? cl->control == ZAP_CONTROL_YES : cl->control >= ZAP_CONTROL_READ;
}

static int starts_with(const char *s, size_t n, const char *prefix, size_t pn)
{
    return n >= pn && !memcmp(s, prefix, pn);
}

int zap_feed_prefixes(const zap_client_t *cl, const char *p, size_t n,
                      void (*fn)(void *ud, const char *prefix, size_t n), void *ud)
{
    if (!cl)
        return 0;
    if (cl->all_feeds) {
        fn(ud, p, n);
        return 1;
    }
    char own[ZAP_NAME + 8];
    /* within one allowed athlete's topics: as asked */
    for (int i = 0; i < cl->n_feeds; i++) {
        int on = snprintf(own, sizeof own, "gait/%s/", cl->feeds[i]);
        if (starts_with(p, n, own, (size_t)on)) {
            fn(ud, p, n);
            return 1;
        }
    }
    /* wider: every allowed athlete it covers */
    int count = 0;
    for (int i = 0; i < cl->n_feeds; i++) {
        int on = snprintf(own, sizeof own, "gait/%s/", cl->feeds[i]);
        if (starts_with(own, (size_t)on, p, n)) {
            fn(ud, own, (size_t)on);
            count++;
        }
    }
    return count;
}

int zap_endpoint_is_local(const char *ep)
{
    if (strncmp(ep, "tcp://", 6) && strncmp(ep, "ws://", 5) && strncmp(ep, "udp://", 6) &&
        strncmp(ep, "pgm://", 6) && strncmp(ep, "epgm://", 7))
        return 1; /* ipc://, inproc:// */
    if (strncmp(ep, "tcp://", 6))
        return 0;
    const char *h = ep + 6;
    const char *semi = strchr(h, ';'); /* tcp://src;dst: the bind side is what counts */
    if (semi)
        return 0;
    const char *colon = strrchr(h, ':');
    size_t hn = colon ? (size_t)(colon - h) : strlen(h);
    if ((hn == 9 && !strncmp(h, "localhost", 9)) || (hn == 5 && !strncmp(h, "[::1]", 5)))
        return 1;
    if (hn >= 4 && !strncmp(h, "127.", 4)) {
        for (size_t i = 4; i < hn; i++)
            if (!isdigit((unsigned char)h[i]) && h[i] != '.')
                return 0;
        return 1;
    }
    return 0;
}

/* --- the handler --- */

#define ZAP_SEEN 32 /* refusals remembered for log de-duplication */
#define ZAP_RELOG_US (60 * 1000000LL)
#define ZAP_FRAMES 8

typedef struct zap_seen {
    uint8_t key[KEYS_BIN_LEN];
    char domain[16];
    char addr[64];
    char why[48];      /* start of the reason */
    int64_t logged_us; /* 0: free entry */
    uint64_t suppressed;
} zap_seen_t;

#define ZAP_MAX_MONITORS 4

typedef struct zap_monitor {
    struct zap *z;
    void *sock; /* PAIR connected to the server socket's monitor */
    int io;     /* loop item id */
    char domain[16];
} zap_monitor_t;

struct zap {
    void *sock;
    void *zctx;
    loop_t *loop; /* NULL: the caller polls */
    int io;
    const zap_cfg_t *cfg;
    const log_t *lg;
    uint64_t accepted, refused, hs_failed;
    zap_seen_t seen[ZAP_SEEN];
    zap_monitor_t mon[ZAP_MAX_MONITORS];
    int n_mon;
};

static void zap_on_io(loop_t *l, void *ud, short revents)
{
    (void)l;
    (void)revents;
    zap_on_readable(ud);
}

zap_t *zap_new(void *zctx, const zap_cfg_t *cfg, loop_t *loop, const log_t *lg, char *err,
               size_t errcap)
{
    if (!cfg->keys_loaded) {
        snprintf(err, errcap, "ZAP: keys not loaded (zap_cfg_load_keys)");
        return NULL;
    }
    void *s = zmq_socket(zctx, ZMQ_REP);
    if (!s) {
        snprintf(err, errcap, "ZAP socket: %s", zmq_strerror(zmq_errno()));
        return NULL;
    }
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(s, ZAP_ENDPOINT) != 0) {
        snprintf(err, errcap, "ZAP handler %s: %s", ZAP_ENDPOINT, zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    zap_t *z = xcalloc(1, sizeof *z);
    z->sock = s;
    z->zctx = zctx;
    z->loop = loop;
    z->cfg = cfg;
    z->lg = lg;
    if (loop)
        z->io = loop_add_socket(loop, s, ZMQ_POLLIN, zap_on_io, z);
    log_info(lg, "CURVE on: server key %s, %d client key(s) allowed", cfg->server_public,
             cfg->n_clients);
    return z;
}

void zap_free(zap_t **zp)
{
    if (!zp || !*zp)
        return;
    zap_t *z = *zp;
    for (int i = 0; i < z->n_mon; i++) {
        loop_del_io(z->loop, z->mon[i].io);
        zmq_close(z->mon[i].sock);
    }
    if (z->loop)
        loop_del_io(z->loop, z->io);
    zmq_close(z->sock);
    log_debug(z->lg, "ZAP handler closed: %llu accepted, %llu refused, %llu failed handshakes",
              (unsigned long long)z->accepted, (unsigned long long)z->refused,
              (unsigned long long)z->hs_failed);
    xfree(z);
    *zp = NULL;
}

void *zap_socket(zap_t *z)
{
    return z->sock;
}

uint64_t zap_accepted(const zap_t *z)
{
    return z->accepted;
}

uint64_t zap_refused(const zap_t *z)
{
    return z->refused;
}

uint64_t zap_handshake_failures(const zap_t *z)
{
    return z->hs_failed;
}

const zap_cfg_t *zap_config(const zap_t *z)
{
    return z->cfg;
}

/* Copies frame f into dst as a C string (cut, with non-printable bytes as '?'). */
static void frame_str(zmq_msg_t *f, char *dst, size_t cap)
{
    size_t n = zmq_msg_size(f);
    const unsigned char *d = zmq_msg_data(f);
    if (n >= cap)
        n = cap - 1;
    for (size_t i = 0; i < n; i++)
        dst[i] = (d[i] >= 0x20 && d[i] < 0x7f) ? (char)d[i] : '?';
    dst[n] = '\0';
}

/* Logs a refusal, at most once a minute for the same key, domain, address and reason. */
static void log_refusal(zap_t *z, const uint8_t *key, const char *domain, const char *addr,
                        const char *why)
{
    uint8_t k[KEYS_BIN_LEN];
    memset(k, 0, sizeof k);
    if (key)
        memcpy(k, key, sizeof k);
    int64_t now = loop_now_us();
    zap_seen_t *e = NULL, *oldest = &z->seen[0];
    for (int i = 0; i < ZAP_SEEN; i++) {
        zap_seen_t *s = &z->seen[i];
        if (s->logged_us && !memcmp(s->key, k, sizeof k) && !strcmp(s->domain, domain) &&
            !strcmp(s->addr, addr) && !strncmp(s->why, why, sizeof s->why - 1)) {
            e = s;
            break;
        }
        if (s->logged_us < oldest->logged_us)
            oldest = s;
    }
    if (e && now - e->logged_us < ZAP_RELOG_US) {
        e->suppressed++;
        log_debug(z->lg, "refused again on %s from %s: %s", domain, addr, why);
        return;
    }
    uint64_t before = e ? e->suppressed : 0;
    if (!e) {
        e = oldest;
        memcpy(e->key, k, sizeof k);
        snprintf(e->domain, sizeof e->domain, "%s", domain);
        snprintf(e->addr, sizeof e->addr, "%s", addr);
        snprintf(e->why, sizeof e->why, "%s", why);
    }
    e->logged_us = now;
    e->suppressed = 0;
    char z85[KEYS_Z85_LEN + 1] = "(none)";
    if (key)
        keys_z85_encode(key, z85);
    if (before)
        log_warn(z->lg,
                 "refused CURVE key %s on %s from %s: %s (and %llu more time(s) in the "
                 "last minute)",
                 z85, domain, addr, why, (unsigned long long)before);
    else
        log_warn(z->lg, "refused CURVE key %s on %s from %s: %s", z85, domain, addr, why);
}

static void send_reply(zap_t *z, zmq_msg_t *req_id, const char *code, const char *text,
                       const char *user)
{
    zmq_send(z->sock, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(z->sock, req_id ? zmq_msg_data(req_id) : "", req_id ? zmq_msg_size(req_id) : 0,
             ZMQ_SNDMORE);
    zmq_send(z->sock, code, strlen(code), ZMQ_SNDMORE);
    zmq_send(z->sock, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(z->sock, user, strlen(user), ZMQ_SNDMORE);
    zmq_send(z->sock, "", 0, 0);
}

/* Serves one request. Returns 0, or -1 if there was none. */
static int serve_one(zap_t *z)
{
    zmq_msg_t f[ZAP_FRAMES];
    int n = 0, more = 1;
    zmq_msg_init(&f[0]);
    if (zmq_msg_recv(&f[0], z->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&f[0]);
        return -1;
    }
    n = 1;
    more = zmq_msg_more(&f[0]);
    while (more) {
        zmq_msg_t extra, *m = n < ZAP_FRAMES ? &f[n] : &extra;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, z->sock, 0) < 0) {
            zmq_msg_close(m);
            break;
        }
        more = zmq_msg_more(m);
        if (m == &extra)
            zmq_msg_close(m);
        else
            n++;
    }
    char version[8] = "", domain[16] = "", addr[64] = "", mech[16] = "";
    if (n >= 1)
        frame_str(&f[0], version, sizeof version);
    if (n >= 6) {
        frame_str(&f[2], domain, sizeof domain);
        frame_str(&f[3], addr, sizeof addr);
        frame_str(&f[5], mech, sizeof mech);
    }
    if (!addr[0])
        snprintf(addr, sizeof addr, "(local)");
    if (n < 6 || strcmp(version, "1.0")) {
        z->refused++;
        log_warn(z->lg, "malformed ZAP request (%d frames, version '%s'): refused", n, version);
        send_reply(z, n >= 2 ? &f[1] : NULL, "500", "malformed ZAP request", "");
    } else {
        const uint8_t *cred = n >= 7 ? zmq_msg_data(&f[6]) : NULL;
        size_t cred_len = n >= 7 ? zmq_msg_size(&f[6]) : 0;
        const zap_client_t *who;
        char why[200];
        int code = zap_decide(z->cfg, domain, mech, cred, cred_len, &who, why, sizeof why);
        if (code == 200) {
            z->accepted++;
            log_info(z->lg, "%s (key %s) connected to %s from %s", who->name, who->public_z85,
                     domain, addr);
            send_reply(z, &f[1], "200", "OK", who->name);
        } else {
            z->refused++;
            log_refusal(z, cred_len == KEYS_BIN_LEN ? cred : NULL, domain, addr, why);
            send_reply(z, &f[1], "400", why, "");
        }
    }
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
    return 0;
}

void zap_on_readable(zap_t *z)
{
    while (serve_one(z) == 0) {
    }
}

/* What a failed handshake most likely means, from the monitor's protocol error code. */
static const char *handshake_reason(int event, uint32_t value)
{
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        return "the client hung up during the handshake (a plaintext client, or one expecting "
               "another server key?)";
    switch (value) {
    case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
        return "the client does not use CURVE (plaintext)";
    case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC:
        return "cryptographic error: a wrong key (the client's secret does not match its "
               "public key, or it expects another server key)";
    case ZMQ_PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE:
        return "key exchange failed";
    default:
        return "protocol error";
    }
}

/* Monitor events of a CURVE server socket: failed handshakes are logged (de-duplicated like
 * refusals); refusals by the handler itself (ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) were logged
 * already. */
static void on_monitor(loop_t *l, void *ud, short revents)
{
    zap_monitor_t *m = ud;
    (void)l;
    (void)revents;
    for (;;) {
        zmq_msg_t ev, ep;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, m->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            return;
        }
        zmq_msg_init(&ep);
        int have_ep = zmq_msg_more(&ev) && zmq_msg_recv(&ep, m->sock, 0) >= 0;
        if (zmq_msg_size(&ev) >= 6) {
            const uint8_t *d = zmq_msg_data(&ev);
            uint16_t event;
            uint32_t value;
            memcpy(&event, d, 2); /* host byte order (zmq_socket_monitor) */
            memcpy(&value, d + 2, 4);
            if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
                event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
                char where[64];
                frame_str(&ep, where, sizeof where);
                m->z->hs_failed++;
                log_refusal(m->z, NULL, m->domain, have_ep ? where : "?",
                            handshake_reason(event, value));
            }
        }
        zmq_msg_close(&ev);
        zmq_msg_close(&ep);
    }
}

/* Monitors sock's failed handshakes in the loop (best effort: a failure is logged). */
static void monitor(zap_t *z, void *sock, const char *domain)
{
    if (!z->loop || z->n_mon == ZAP_MAX_MONITORS)
        return;
    zap_monitor_t *m = &z->mon[z->n_mon];
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://gaitd-zap-monitor-%d", z->n_mon);
    int events = ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
    if (zmq_socket_monitor(sock, ep, events) != 0) {
        log_warn(z->lg, "%s: cannot monitor handshakes: %s", domain, zmq_strerror(zmq_errno()));
        return;
    }
    m->sock = zmq_socket(z->zctx, ZMQ_PAIR);
    int zero = 0;
    if (!m->sock || zmq_setsockopt(m->sock, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_connect(m->sock, ep) != 0) {
        log_warn(z->lg, "%s: handshake monitor: %s", domain, zmq_strerror(zmq_errno()));
        if (m->sock)
            zmq_close(m->sock);
        zmq_socket_monitor(sock, NULL, 0);
        return;
    }
    m->z = z;
    snprintf(m->domain, sizeof m->domain, "%s", domain);
    m->io = loop_add_socket(z->loop, m->sock, ZMQ_POLLIN, on_monitor, m);
    z->n_mon++;
}

/* libzmq's ZMQ_ZAP_ENFORCE_DOMAIN (a draft option in 4.3, built in Debian's libzmq5): with it,
 * a missing ZAP handler fails the handshake instead of letting every key in. Where the option
 * is unknown setting it fails harmlessly: the handler outlives the sockets anyway. */
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

int zap_server_setup(zap_t *z, void *sock, const char *domain, char *err, size_t errcap)
{
    int one = 1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, z->cfg->server_secret, KEYS_Z85_LEN) != 0 ||
        zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, domain, strlen(domain)) != 0) {
        snprintf(err, errcap, "CURVE server options (%s): %s", domain, zmq_strerror(zmq_errno()));
        return -1;
    }
    zmq_setsockopt(sock, ZMQ_ZAP_ENFORCE_DOMAIN, &one, sizeof one);
    monitor(z, sock, domain);
    return 0;
}

const char *zap_peer_name(zmq_msg_t *m)
{
    const char *u = zmq_msg_gets(m, "User-Id");
    return u && *u ? u : NULL;
}

int zap_may_control(const zap_t *z, const char *peer, int changes_state)
{
    return zap_client_may_control(z->cfg, peer, changes_state);
}

typedef struct sub_apply {
    void *xpub;
    int opt; /* ZMQ_SUBSCRIBE or ZMQ_UNSUBSCRIBE */
} sub_apply_t;

static void apply_prefix(void *ud, const char *prefix, size_t n)
{
    sub_apply_t *a = ud;
    zmq_setsockopt(a->xpub, a->opt, prefix, n);
}

int zap_xpub_subscription(const zap_t *z, void *xpub, zmq_msg_t *m)
{
    size_t n = zmq_msg_size(m);
    const char *d = zmq_msg_data(m);
    if (n < 1 || (d[0] != 0 && d[0] != 1))
        return 0; /* not a subscription message */
    const char *peer = zap_peer_name(m);
    const zap_client_t *cl = zap_cfg_find_name(z->cfg, peer);
    sub_apply_t a = {xpub, d[0] == 1 ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE};
    int k = zap_feed_prefixes(cl, d + 1, n - 1, apply_prefix, &a);
    if (k == 0 && d[0] == 1) {
        char p[80];
        size_t pn = n - 1 < sizeof p - 1 ? n - 1 : sizeof p - 1;
        for (size_t i = 0; i < pn; i++)
            p[i] = (d[1 + i] >= 0x20 && d[1 + i] < 0x7f) ? d[1 + i] : '?';
        p[pn] = '\0';
        log_warn(z->lg, "subscription '%s' of %s refused: not among its feeds", p,
                 peer ? peer : "(unauthenticated peer)");
    }
    return k;
}
