/* keys.c - CURVE key files (see keys.h). */
#include "keys.h"
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define KEYS_MAX_FILE 4096 /* a key file is a few lines */

int keys_curve_available(void)
{
    return zmq_has("curve") ? 1 : 0;
}

static const char z85_chars[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

int keys_z85_decode(const char *z85, uint8_t *out, char *err, size_t errcap)
{
    size_t n = strlen(z85);
    if (n != KEYS_Z85_LEN) {
        snprintf(err, errcap, "expected %d Z85 characters, got %zu", KEYS_Z85_LEN, n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!strchr(z85_chars, z85[i]) || !z85[i]) {
            snprintf(err, errcap, "character %zu ('%c') is not a Z85 character", i + 1,
                     (z85[i] >= 0x20 && z85[i] < 0x7f) ? z85[i] : '?');
            return -1;
        }
    }
    uint8_t tmp[KEYS_BIN_LEN];
    if (!zmq_z85_decode(tmp, z85)) {
        snprintf(err, errcap, "not a Z85-encoded key");
        return -1;
    }
    if (out)
        memcpy(out, tmp, sizeof tmp);
    return 0;
}

void keys_z85_encode(const uint8_t key[KEYS_BIN_LEN], char out[KEYS_Z85_LEN + 1])
{
    if (!zmq_z85_encode(out, key, KEYS_BIN_LEN))
        out[0] = '\0';
}

/* --- reading --- */

typedef struct kparse {
    FILE *f;
    const char *path;
    int line;
    int err_line; /* 0: no error yet */
    char err[200];
    char pub[KEYS_Z85_LEN + 1], sec[KEYS_Z85_LEN + 1];
    int pub_line, sec_line;
} kparse_t;

static char *kreader(char *str, int num, void *stream)
{
    kparse_t *p = stream;
    char *s = fgets(str, num, p->f);
    if (s)
        p->line++;
    return s;
}

__attribute__((format(printf, 2, 3))) static void kerr(kparse_t *p, const char *fmt, ...)
{
    if (p->err_line)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, sizeof p->err, fmt, ap);
    va_end(ap);
    p->err_line = p->line;
}

static int khandler(void *user, const char *section, const char *name, const char *value)
{
    kparse_t *p = user;
    if (*section) {
        kerr(p, "unexpected section [%s] (a key file has public-key and secret-key lines)",
             section);
        return 0;
    }
    char *dst;
    int *dline;
    if (!strcmp(name, "public-key")) {
        dst = p->pub;
        dline = &p->pub_line;
    } else if (!strcmp(name, "secret-key")) {
        dst = p->sec;
        dline = &p->sec_line;
    } else {
        kerr(p, "unknown key '%s' (expected public-key or secret-key)", name);
        return 0;
    }
    if (*dline) {
        kerr(p, "%s: given twice (first on line %d)", name, *dline);
        return 0;
    }
    char msg[120];
    if (keys_z85_decode(value, NULL, msg, sizeof msg) != 0) {
        kerr(p, "%s: %s", name, msg);
        return 0;
    }
    memcpy(dst, value, KEYS_Z85_LEN + 1);
    *dline = p->line;
    return 1;
}

/* Parses path into p. secret: the file must be private. Returns 0 or -1 with err filled. */
static int read_key_file(const char *path, int secret, kparse_t *p, char *err, size_t errcap)
{
    memset(p, 0, sizeof *p);
    p->path = path;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errcap, "%s: cannot open the key file: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errcap, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    if (st.st_size > KEYS_MAX_FILE) {
        snprintf(err, errcap, "%s: %lld bytes: too large for a key file", path,
                 (long long)st.st_size);
        close(fd);
        return -1;
    }
    if (secret && (st.st_mode & 077)) {
        snprintf(err, errcap,
                 "%s: mode %04o: a secret key file must be readable by its owner "
                 "only (chmod 600 %s)",
                 path, (unsigned)(st.st_mode & 07777), path);
        close(fd);
        return -1;
    }
    p->f = fdopen(fd, "r");
    if (!p->f) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    int rc = ini_parse_stream(kreader, p, khandler, p);
    fclose(p->f);
    p->f = NULL;
    if (rc > 0 && !p->err_line) {
        p->line = rc;
        kerr(p, "syntax error: expected 'public-key = ...', 'secret-key = ...' or a comment");
    }
    if (rc < 0 || p->err_line) {
        if (rc < 0)
            snprintf(err, errcap, "%s: cannot parse (inih error %d)", path, rc);
        else
            snprintf(err, errcap, "%s:%d: %s", path, p->err_line, p->err);
        return -1;
    }
    return 0;
}

int keys_load_public(const char *path, keys_pair_t *kp, char *err, size_t errcap)
{
    kparse_t p;
    if (read_key_file(path, 0, &p, err, errcap) != 0)
        return -1;
    if (!p.pub_line) {
        snprintf(err, errcap, "%s: no 'public-key = ...' line (not a gaitctl keygen file?)", path);
        return -1;
    }
    memcpy(kp->public_z85, p.pub, sizeof kp->public_z85);
    kp->secret_z85[0] = '\0';
    return 0;
}

int keys_load_secret(const char *path, keys_pair_t *kp, char *err, size_t errcap)
{
    kparse_t p;
    if (read_key_file(path, 1, &p, err, errcap) != 0)
        return -1;
    if (!p.sec_line) {
        snprintf(err, errcap, "%s: no 'secret-key = ...' line (a .pub file? give the .key file)",
                 path);
        return -1;
    }
    char derived[KEYS_Z85_LEN + 1];
    if (zmq_curve_public(derived, p.sec) != 0) {
        snprintf(err, errcap, "%s:%d: secret-key: cannot derive its public key: %s", path,
                 p.sec_line, zmq_strerror(zmq_errno()));
        return -1;
    }
    if (p.pub_line && strcmp(derived, p.pub) != 0) {
        snprintf(err, errcap, "%s:%d: public-key does not belong to the secret-key of line %d",
                 path, p.pub_line, p.sec_line);
        return -1;
    }
    memcpy(kp->public_z85, derived, sizeof kp->public_z85);
    memcpy(kp->secret_z85, p.sec, sizeof kp->secret_z85);
    explicit_bzero(p.sec, sizeof p.sec);
    return 0;
}

/* --- writing --- */

/* Writes text to a new temporary file next to final (mode 0600 from mkstemp, then mode), syncs
 * it and puts it in place: link() (fails if final exists) or, with force, rename(). */
static int write_file(const char *final, const char *text, mode_t mode, int force, char *err,
                      size_t errcap)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", final) >= (int)sizeof tmp) {
        snprintf(err, errcap, "%s: path too long", final);
        return -1;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errcap, "%s: cannot create: %s", final, strerror(errno));
        return -1;
    }
    size_t n = strlen(text);
    int ok = fchmod(fd, mode) == 0 && write(fd, text, n) == (ssize_t)n && fsync(fd) == 0;
    int saved = errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        saved = errno;
    }
    if (ok) {
        if (force ? rename(tmp, final) != 0 : link(tmp, final) != 0) {
            ok = 0;
            saved = errno;
        }
    }
    if (!ok || !force)
        unlink(tmp);
    if (!ok) {
        snprintf(err, errcap, "%s: cannot write: %s%s", final, strerror(saved),
                 saved == EEXIST ? " (remove it first, or gaitctl keygen --force)" : "");
        return -1;
    }
    return 0;
}

int keys_generate(const char *prefix, int force, keys_pair_t *kp, char *err, size_t errcap)
{
    if (!*prefix) {
        snprintf(err, errcap, "empty key name");
        return -1;
    }
    if (!keys_curve_available()) {
        snprintf(err, errcap, "this libzmq has no CURVE support (zmq_has(\"curve\") is false)");
        return -1;
    }
    char keyp[4096], pubp[4096];
    if (snprintf(keyp, sizeof keyp, "%s.key", prefix) >= (int)sizeof keyp ||
        snprintf(pubp, sizeof pubp, "%s.pub", prefix) >= (int)sizeof pubp) {
        snprintf(err, errcap, "%s: path too long", prefix);
        return -1;
    }
    if (!force) {
        /* neither file may exist: never half a pair */
        if (access(keyp, F_OK) == 0 || access(pubp, F_OK) == 0) {
            snprintf(err, errcap, "%s: already exists (remove it first, or gaitctl keygen --force)",
                     access(keyp, F_OK) == 0 ? keyp : pubp);
            return -1;
        }
    }
    if (zmq_curve_keypair(kp->public_z85, kp->secret_z85) != 0) {
        snprintf(err, errcap, "zmq_curve_keypair: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    const char *name = strrchr(prefix, '/');
    name = name ? name + 1 : prefix;
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char text[512];
    snprintf(text, sizeof text,
             "# gaitd CURVE secret key \"%.80s\", made by gaitctl keygen on %s.\n"
             "# Keep it private (mode 0600); give out %.80s.pub instead.\n"
             "public-key = %s\nsecret-key = %s\n",
             name, when, name, kp->public_z85, kp->secret_z85);
    int rc = write_file(keyp, text, 0600, force, err, errcap);
    explicit_bzero(text, sizeof text);
    if (rc != 0)
        return -1;
    snprintf(text, sizeof text,
             "# gaitd CURVE public key \"%.80s\", made by gaitctl keygen on %s.\n"
             "public-key = %s\n",
             name, when, kp->public_z85);
    if (write_file(pubp, text, 0644, force, err, errcap) != 0) {
        unlink(keyp); /* never leave half a pair */
        return -1;
    }
    return 0;
}

int keys_client_setup(void *sock, const char *server_pub_path, const char *client_key_path,
                      char *err, size_t errcap)
{
    keys_pair_t server, client;
    if (!keys_curve_available()) {
        snprintf(err, errcap, "this libzmq has no CURVE support");
        return -1;
    }
    if (keys_load_public(server_pub_path, &server, err, errcap) != 0 ||
        keys_load_secret(client_key_path, &client, err, errcap) != 0)
        return -1;
    int rc =
        zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server.public_z85, KEYS_Z85_LEN) == 0 &&
                zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, client.public_z85, KEYS_Z85_LEN) == 0 &&
                zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, client.secret_z85, KEYS_Z85_LEN) == 0
            ? 0
            : -1;
    explicit_bzero(&client, sizeof client);
    if (rc != 0)
        snprintf(err, errcap, "CURVE client options: %s", zmq_strerror(zmq_errno()));
    return rc;
}
