/* config.c - gaitd's INI configuration file (see config.h and CONFIG.md). */
#include "config.h"
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"

#define CONFIG_MAX_FILE (1u << 20)

void config_default(config_t *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->pub, sizeof c->pub, "tcp://127.0.0.1:5556");
    snprintf(c->control, sizeof c->control, "tcp://127.0.0.1:5557");
    c->log_level = LOG_INFO;
    c->hwm = 10000;
    c->sim_seed = 1;
    c->window_period_s = 5.0;
    c->status_period_s = 2.0;
    c->usb_erase = 1;
    snprintf(c->usb_athlete, sizeof c->usb_athlete, "usb1");
}

/* Parser state shared by the line reader and the inih handler. */
typedef struct parse {
    config_t *c;
    const char *name;                /* file name for messages */
    const char *pos;                 /* next unread byte of the text */
    int line;                        /* number of the line being parsed (1-based) */
    int indented;                    /* that line starts with white space (a continuation) */
    int err_line;                    /* line of the first error, 0 = none */
    char err[400];                   /* its message, without the "name:line: " prefix */
    int key_line[32];                /* line each config_field bit was set on */
} parse_t;
_Static_assert(CONFIG_USB_ATHLETE < (1u << 31), "key_line has one slot per config_field bit");

__attribute__((format(printf, 3, 4))) static void perr(parse_t *p, int line, const char *fmt, ...)
{
    if (p->err_line && p->err_line <= line)
        return;                      /* keep the first error of the file */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, sizeof p->err, fmt, ap);
    va_end(ap);
    p->err_line = line;
}

static const char *const sections[] = {"daemon", "simulate", "rates", "pods", "usb"};

static int known_section(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        if (strlen(sections[i]) == n && !strncmp(s, sections[i], n))
            return 1;
    return zap_cfg_section(s, n);    /* [security], [client NAME] (zap.c) */
}

/* ini_reader over p->pos: copies one line (with its '\n') into str. Counts lines, notes
 * continuation lines and checks section headers here, because inih calls the handler only for
 * key = value lines (an unknown section with no keys would otherwise pass unnoticed). */
static char *reader(char *str, int num, void *stream)
{
    parse_t *p = stream;
    if (!*p->pos)
        return NULL;
    const char *nl = strchr(p->pos, '\n');
    size_t len = nl ? (size_t)(nl - p->pos) + 1 : strlen(p->pos);
    p->line++;
    p->indented = p->pos[0] == ' ' || p->pos[0] == '\t';
    if (len + 1 > (size_t)num - 2) {
        perr(p, p->line, "line longer than %d characters", num - 4);
        str[0] = '\n';
        str[1] = '\0';
        p->pos += len;
        return str;
    }
    memcpy(str, p->pos, len);
    str[len] = '\0';
    p->pos += len;
    if (str[0] == '[') {
        const char *end = strchr(str, ']');
        if (end) {
            const char *s = str + 1;
            while (s < end && isspace((unsigned char)*s))
                s++;
            const char *e = end;
            while (e > s && isspace((unsigned char)e[-1]))
                e--;
            if (!known_section(s, (size_t)(e - s)))
                perr(p, p->line,
                     "unknown section [%.*s] (expected [daemon], [simulate], [rates], [pods], "
                     "[usb], [security] or [client NAME])",
                     (int)(e - s), s);
        }
    }
    return str;
}

/* Value checkers: 0 or -1 with a message (after "[section] key: "). */

static int tcp_host_ok(const char *h, size_t n)
{
    if (n == 0)
        return 0;
    if (n == 1 && h[0] == '*')
        return 1;
    if (h[0] == '[')
        return n > 2 && h[n - 1] == ']' && strspn(h + 1, "0123456789abcdefABCDEF:.") == n - 2;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)h[i]) && h[i] != '.' && h[i] != '-' && h[i] != '_')
            return 0;
    return 1;
}

int config_endpoint_ok(const char *s)
{
    if (!strncmp(s, "tcp://", 6)) {
        const char *hp = s + 6;
        const char *colon = strrchr(hp, ':');
        if (!colon || !tcp_host_ok(hp, (size_t)(colon - hp)))
            return 0;
        const char *port = colon + 1;
        char *end;
        errno = 0;
        long v = strtol(port, &end, 10);
        return !errno && end != port && !*end && isdigit((unsigned char)port[0]) && v >= 1 &&
               v <= 65535;
    }
    if (!strncmp(s, "ipc://", 6))
        return s[6] != '\0';
    return 0;
}

static int set_str(char *dst, const char *v, char *msg, size_t cap)
{
    size_t n = strlen(v);
    if (n >= CONFIG_STR) {
        snprintf(msg, cap, "longer than %d characters", CONFIG_STR - 1);
        return -1;
    }
    memcpy(dst, v, n + 1);
    return 0;
}

static int parse_num(const char *v, double lo, double hi, int whole, double *out, char *msg,
                     size_t cap)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(d) || d < lo || d > hi ||
        (whole && d != floor(d))) {
        snprintf(msg, cap, "expected %s in [%g, %g], got '%s'", whole ? "a whole number" : "a number",
                 lo, hi, v);
        return -1;
    }
    *out = d;
    return 0;
}

static int path_ok(const char *v, char *msg, size_t cap)
{
    if (!*v) {
        snprintf(msg, cap, "expected a path, got ''");
        return -1;
    }
    if (v[0] == '~') {
        snprintf(msg, cap, "'%s': ~ is not expanded, give the full path", v);
        return -1;
    }
    return 0;
}

/* Names in topics (athletes) and pod serials: letters, digits, '_', '-', '.'. */
static int name_ok(const char *s, size_t n, size_t max)
{
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
            return 0;
    return 1;
}

static int pod_line(parse_t *p, const char *serial, const char *v, char *msg, size_t cap)
{
    config_t *c = p->c;
    if (!name_ok(serial, strlen(serial), CONFIG_SERIAL - 1)) {
        snprintf(msg, cap,
                 "pod serial '%s': expected 1 to %d letters, digits, '_', '-' or '.'", serial,
                 CONFIG_SERIAL - 1);
        return -1;
    }
    for (int i = 0; i < c->n_pods; i++)
        if (!strcmp(c->pods[i].serial, serial)) {
            snprintf(msg, cap, "pod %s paired twice (first on line %d)", serial, c->pods[i].line);
            return -1;
        }
    const char *colon = strrchr(v, ':');
    size_t an = colon ? (size_t)(colon - v) : 0;
    const char *foot = colon ? colon + 1 : "";
    char f = 0;
    if (!strcasecmp(foot, "L") || !strcasecmp(foot, "left"))
        f = 'L';
    else if (!strcasecmp(foot, "R") || !strcasecmp(foot, "right"))
        f = 'R';
    if (!colon || !f || !name_ok(v, an, CONFIG_NAME - 1)) {
        snprintf(msg, cap,
                 "expected ATHLETE:FOOT like anna:L (athlete: 1 to %d letters, digits, '_', "
                 "'-' or '.'; foot L or R), got '%s'",
                 CONFIG_NAME - 1, v);
        return -1;
    }
    if (c->n_pods == CONFIG_MAX_PODS) {
        snprintf(msg, cap, "more than %d pods", CONFIG_MAX_PODS);
        return -1;
    }
    config_pod_t *pod = &c->pods[c->n_pods++];
    snprintf(pod->serial, sizeof pod->serial, "%s", serial);
    memcpy(pod->athlete, v, an);
    pod->athlete[an] = '\0';
    pod->foot = f;
    pod->line = p->line;
    return 0;
}

/* Keys of the fixed sections. */
enum kind { K_ENDPOINT, K_PATH, K_LOGLEVEL, K_INT, K_U64, K_REAL, K_STR };
static const struct key {
    const char *section, *name;
    unsigned field;
    enum kind kind;
    double lo, hi;                   /* K_INT, K_REAL */
    size_t off;                      /* offset of the value in config_t */
} keys[] = {
    {"daemon", "pub", CONFIG_PUB, K_ENDPOINT, 0, 0, offsetof(config_t, pub)},
    {"daemon", "control", CONFIG_CONTROL, K_ENDPOINT, 0, 0, offsetof(config_t, control)},
    {"daemon", "data_dir", CONFIG_DATA_DIR, K_PATH, 0, 0, offsetof(config_t, data_dir)},
    {"daemon", "db", CONFIG_DB, K_PATH, 0, 0, offsetof(config_t, db)},
    {"daemon", "log_level", CONFIG_LOG_LEVEL, K_LOGLEVEL, 0, 0, offsetof(config_t, log_level)},
    {"daemon", "hwm", CONFIG_HWM, K_INT, 1, 10000000, offsetof(config_t, hwm)},
    {"simulate", "athletes", CONFIG_SIM_ATHLETES, K_INT, 0, OPTS_MAX_SIMULATE, offsetof(config_t, sim_athletes)},
    {"simulate", "plan", CONFIG_SIM_PLAN, K_STR, 0, 0, offsetof(config_t, sim_plan)},
    {"simulate", "seed", CONFIG_SIM_SEED, K_U64, 0, 0, offsetof(config_t, sim_seed)},
    {"simulate", "rate_hz", CONFIG_SIM_RATE, K_REAL, 50, 2000, offsetof(config_t, sim_rate_hz)},
    {"rates", "default_rate_hz", CONFIG_DEFAULT_RATE, K_REAL, 50, 2000, offsetof(config_t, default_rate_hz)},
    {"rates", "window_period_s", CONFIG_WINDOW_PERIOD, K_REAL, 0.5, 3600, offsetof(config_t, window_period_s)},
    {"rates", "status_period_s", CONFIG_STATUS_PERIOD, K_REAL, 0.05, 3600, offsetof(config_t, status_period_s)},
    {"usb", "live", CONFIG_USB_LIVE, K_INT, 0, 1, offsetof(config_t, usb_live)},
    {"usb", "sync", CONFIG_USB_SYNC, K_INT, 0, 1, offsetof(config_t, usb_sync)},
    {"usb", "erase", CONFIG_USB_ERASE, K_INT, 0, 1, offsetof(config_t, usb_erase)},
    {"usb", "athlete", CONFIG_USB_ATHLETE, K_STR, 0, 0, offsetof(config_t, usb_athlete)},
};
#define N_KEYS (sizeof keys / sizeof keys[0])

static int field_bit(unsigned field)
{
    int b = 0;
    while (field > 1u) {
        field >>= 1;
        b++;
    }
    return b;
}

static void keys_of(const char *section, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < N_KEYS; i++)
        if (!strcmp(keys[i].section, section) && n < cap)
            n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? ", " : "", keys[i].name);
}

static int set_key(parse_t *p, const struct key *k, const char *v, char *msg, size_t cap)
{
    char *base = (char *)p->c + k->off;
    double d;
    switch (k->kind) {
    case K_ENDPOINT:
        if (!config_endpoint_ok(v)) {
            snprintf(msg, cap,
                     "expected a ZeroMQ endpoint like tcp://127.0.0.1:5556 or ipc:///run/gaitd/feed, "
                     "got '%s'",
                     v);
            return -1;
        }
        return set_str(base, v, msg, cap);
    case K_PATH:
        if (path_ok(v, msg, cap))
            return -1;
        return set_str(base, v, msg, cap);
    case K_STR:
        if (!*v) {
            snprintf(msg, cap, "expected a value, got ''");
            return -1;
        }
        return set_str(base, v, msg, cap);
    case K_LOGLEVEL: {
        int lv = log_level_parse(v);
        if (lv < 0) {
            snprintf(msg, cap, "expected error, warn, info or debug, got '%s'", v);
            return -1;
        }
        *(int *)(void *)base = lv;
        return 0;
    }
    case K_INT:
        if (parse_num(v, k->lo, k->hi, 1, &d, msg, cap))
            return -1;
        *(int *)(void *)base = (int)d;
        return 0;
    case K_U64: {
        char *end;
        errno = 0;
        unsigned long long u = strtoull(v, &end, 10);
        if (errno || end == v || *end || !isdigit((unsigned char)v[0])) {
            snprintf(msg, cap, "expected an unsigned whole number, got '%s'", v);
            return -1;
        }
        *(uint64_t *)(void *)base = u;
        return 0;
    }
    case K_REAL:
        if (parse_num(v, k->lo, k->hi, 0, &d, msg, cap))
            return -1;
        *(double *)(void *)base = d;
        return 0;
    }
    return -1;
}

/* inih handler: one key = value line (or a continuation line of the previous key). */
static int handler(void *user, const char *section, const char *name, const char *value)
{
    parse_t *p = user;
    char msg[320];
    if (!*section) {
        perr(p, p->line, "'%s' is outside a section (start with [daemon], [simulate], [rates], "
             "[pods], [usb], [security] or [client NAME])", name);
        return 0;
    }
    if (!known_section(section, strlen(section))) {
        /* normally reported by the reader at the section header already */
        perr(p, p->line, "[%s] %s: unknown section [%s] (expected [daemon], [simulate], [rates], "
             "[pods], [usb], [security] or [client NAME])", section, name, section);
        return 0;
    }
    if (p->indented) {
        perr(p, p->line, "[%s] %s: value continued on an indented line (values fit on one "
             "line; remove the leading spaces)", section, name);
        return 0;
    }
    if (zap_cfg_section(section, strlen(section))) {     /* [security], [client NAME] */
        if (zap_cfg_set(&p->c->security, section, name, value, p->line, msg, sizeof msg)) {
            perr(p, p->line, "[%s] %s: %s", section, name, msg);
            return 0;
        }
        return 1;
    }
    if (!strcmp(section, "pods")) {
        if (pod_line(p, name, value, msg, sizeof msg)) {
            perr(p, p->line, "[pods] %s: %s", name, msg);
            return 0;
        }
        return 1;
    }
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct key *k = &keys[i];
        if (strcmp(k->section, section) || strcmp(k->name, name))
            continue;
        int b = field_bit(k->field);
        if (p->c->set & k->field) {
            perr(p, p->line, "[%s] %s: given twice (first on line %d)", section, name,
                 p->key_line[b]);
            return 0;
        }
        if (set_key(p, k, value, msg, sizeof msg)) {
            perr(p, p->line, "[%s] %s: %s", section, name, msg);
            return 0;
        }
        p->c->set |= k->field;
        p->key_line[b] = p->line;
        return 1;
    }
    char known[200];
    keys_of(section, known, sizeof known);
    perr(p, p->line, "[%s] %s: unknown key (known: %s)", section, name, known);
    return 0;
}

int config_load_string(config_t *c, const char *name, const char *text, char *err,
                       size_t errcap)
{
    parse_t p;
    memset(&p, 0, sizeof p);
    p.c = c;
    p.name = name;
    p.pos = text;
    int rc = ini_parse_stream(reader, &p, handler, &p);
    if (rc < 0) {
        snprintf(err, errcap, "%s: cannot parse (inih error %d)", name, rc);
        return -1;
    }
    if (rc > 0 && (!p.err_line || rc < p.err_line))
        perr(&p, rc, "syntax error: expected [section], key = value, or a comment (; or #)");
    int zline = 0;                   /* [security] as a whole (zap.c) */
    char zmsg[320];
    if (zap_cfg_check(&c->security, &zline, zmsg, sizeof zmsg) != 0)
        perr(&p, zline, "%s", zmsg);
    if (p.err_line) {
        snprintf(err, errcap, "%s:%d: %s", name, p.err_line, p.err);
        return -1;
    }
    return 0;
}

int config_load(config_t *c, const char *path, char *err, size_t errcap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errcap, "%s: cannot open the configuration file: %s", path, strerror(errno));
        return -1;
    }
    char *buf = malloc(CONFIG_MAX_FILE + 1);
    if (!buf) {
        fclose(f);
        snprintf(err, errcap, "%s: out of memory", path);
        return -1;
    }
    size_t n = fread(buf, 1, CONFIG_MAX_FILE + 1, f);
    int bad = ferror(f);
    int saved = errno;
    fclose(f);
    if (bad) {
        snprintf(err, errcap, "%s: cannot read the configuration file: %s", path, strerror(saved));
        free(buf);
        return -1;
    }
    if (n > CONFIG_MAX_FILE) {
        snprintf(err, errcap, "%s: larger than %u bytes: not a configuration file", path,
                 CONFIG_MAX_FILE);
        free(buf);
        return -1;
    }
    buf[n] = '\0';
    if (memchr(buf, '\0', n)) {
        snprintf(err, errcap, "%s: byte %zu: NUL byte: not a text file", path,
                 (size_t)((char *)memchr(buf, '\0', n) - buf));
        free(buf);
        return -1;
    }
    int rc = config_load_string(c, path, buf, err, errcap);
    free(buf);
    if (rc == 0)
        snprintf(c->path, sizeof c->path, "%s", path);
    return rc;
}

void config_apply(const config_t *c, gaitd_opts_t *o)
{
    if (c->set & CONFIG_PUB)
        o->pub = c->pub;
    if (c->set & CONFIG_CONTROL)
        o->control = c->control;
    if (c->set & CONFIG_DATA_DIR)
        o->record_dir = c->data_dir;
    if (c->set & CONFIG_DB)
        o->db = c->db;
    if (c->set & CONFIG_LOG_LEVEL)
        o->log_level = c->log_level;
    if (c->set & CONFIG_HWM)
        o->sndhwm = c->hwm;
    if (c->set & CONFIG_SIM_ATHLETES)
        o->simulate = c->sim_athletes;
    if (c->set & CONFIG_SIM_PLAN)
        o->sim_plan = c->sim_plan;
    if (c->set & CONFIG_SIM_SEED)
        o->sim_seed = c->sim_seed;
    if (c->set & CONFIG_SIM_RATE)
        o->sim_rate_hz = c->sim_rate_hz;
    else if (c->set & CONFIG_DEFAULT_RATE)
        o->sim_rate_hz = c->default_rate_hz;
    if (c->set & CONFIG_WINDOW_PERIOD)
        o->window_period_s = c->window_period_s;
    if (c->set & CONFIG_STATUS_PERIOD)
        o->status_period_s = c->status_period_s;
    if (c->set & CONFIG_USB_LIVE)
        o->usb = c->usb_live;
    if (c->set & CONFIG_USB_SYNC)
        o->usb_sync = c->usb_sync;
    if (c->set & CONFIG_USB_ERASE)
        o->usb_erase = c->usb_erase;
    if (c->set & CONFIG_USB_ATHLETE)
        o->usb_athlete = c->usb_athlete;
}
