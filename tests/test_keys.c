/* test_keys.c - daemon/keys.c: CURVE key files written by `gaitctl keygen` (real files in a
 * temporary directory, real libzmq key functions): modes whatever the umask, no overwrite,
 * round trips, and a clear error naming the file and line for every kind of bad key file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>
#include "keys.h"

/* gaitctl keygen (daemon/cmd_keygen.c, compiled into this test) */
int cmd_keygen(int argc, char **argv);

static char dir[PATH_MAX];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/gaitd-keys-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static void write_text(const char *name, const char *text, mode_t mode)
{
    char p[PATH_MAX + 64];
    path_of(p, sizeof p, name);
    unlink(p);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(p, mode), 0);
}

static mode_t mode_of(const char *name)
{
    char p[PATH_MAX + 64];
    struct stat st;
    path_of(p, sizeof p, name);
    assert_int_equal(stat(p, &st), 0);
    return st.st_mode & 07777;
}

static void test_curve_available(void **state)
{
    (void)state;
    /* Debian's libzmq5 is built with libsodium: CURVE must be there for any of this to work */
    assert_int_equal(keys_curve_available(), 1);
}

static void test_z85(void **state)
{
    (void)state;
    char pub[41], sec[41], err[200];
    uint8_t bin[32];
    assert_int_equal(zmq_curve_keypair(pub, sec), 0);
    assert_int_equal(keys_z85_decode(pub, bin, err, sizeof err), 0);
    char back[41];
    keys_z85_encode(bin, back);
    assert_string_equal(back, pub);
    assert_int_equal(keys_z85_decode("abc", NULL, err, sizeof err), -1);
    assert_string_equal(err, "expected 40 Z85 characters, got 3");
    char bad[41];
    memcpy(bad, pub, sizeof bad);
    bad[7] = '"';
    assert_int_equal(keys_z85_decode(bad, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "character 8 ('\"') is not a Z85 character"));
}

/* keygen: NAME.key 0600 and NAME.pub (0644 under umask 022) whatever the umask; the pair loads
 * back; no overwrite without --force. */
static void test_generate(void **state)
{
    (void)state;
    char prefix[PATH_MAX + 64], p[PATH_MAX + 64], err[600];
    keys_pair_t kp, back;
    mode_t old = umask(0); /* the most permissive umask: the secret stays 0600 */
    path_of(prefix, sizeof prefix, "coach1");
    assert_int_equal(keys_generate(prefix, 0, &kp, err, sizeof err), 0);
    assert_int_equal(mode_of("coach1.key"), 0600);
    assert_int_equal(mode_of("coach1.pub"), 0644);
    umask(077);
    path_of(prefix, sizeof prefix, "coach2");
    assert_int_equal(keys_generate(prefix, 0, &kp, err, sizeof err), 0);
    assert_int_equal(mode_of("coach2.key"), 0600);
    umask(old);

    path_of(p, sizeof p, "coach2.key");
    assert_int_equal(keys_load_secret(p, &back, err, sizeof err), 0);
    assert_string_equal(back.public_z85, kp.public_z85);
    assert_string_equal(back.secret_z85, kp.secret_z85);
    path_of(p, sizeof p, "coach2.pub");
    assert_int_equal(keys_load_public(p, &back, err, sizeof err), 0);
    assert_string_equal(back.public_z85, kp.public_z85);
    assert_string_equal(back.secret_z85, "");
    /* the public key in the .pub is the one derived from the secret */
    char derived[41];
    assert_int_equal(zmq_curve_public(derived, kp.secret_z85), 0);
    assert_string_equal(derived, kp.public_z85);

    /* no overwrite: the old pair stays */
    keys_pair_t again;
    assert_int_equal(keys_generate(prefix, 0, &again, err, sizeof err), -1);
    assert_non_null(strstr(err, "coach2.key: already exists"));
    path_of(p, sizeof p, "coach2.key");
    assert_int_equal(keys_load_secret(p, &back, err, sizeof err), 0);
    assert_string_equal(back.public_z85, kp.public_z85);
    /* half a pair present (only the .pub): still refused */
    assert_int_equal(unlink(p), 0);
    assert_int_equal(keys_generate(prefix, 0, &again, err, sizeof err), -1);
    assert_non_null(strstr(err, "coach2.pub: already exists"));
    /* --force replaces both */
    assert_int_equal(keys_generate(prefix, 1, &again, err, sizeof err), 0);
    assert_int_equal(keys_load_secret(p, &back, err, sizeof err), 0);
    assert_string_equal(back.public_z85, again.public_z85);
    assert_string_not_equal(again.public_z85, kp.public_z85);
    assert_int_equal(mode_of("coach2.key"), 0600);
    /* no temporary files left behind */
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q tmp", dir);
    assert_int_not_equal(system(cmd), 0);
    /* a directory that does not exist */
    assert_int_equal(keys_generate("/nonexistent-dir/k", 0, &again, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent-dir/k.key: cannot"));
}

static void expect_error(int secret, const char *name, const char *text, mode_t mode,
                         const char *want)
{
    char p[PATH_MAX + 64], err[700];
    keys_pair_t kp;
    if (text)
        write_text(name, text, mode);
    path_of(p, sizeof p, name);
    int rc = secret ? keys_load_secret(p, &kp, err, sizeof err)
                    : keys_load_public(p, &kp, err, sizeof err);
    assert_int_equal(rc, -1);
    if (!strstr(err, want))
        fail_msg("%s: error '%s' does not contain '%s'", name, err, want);
    /* every message names the file */
    assert_non_null(strstr(err, name));
}

static void test_bad_files(void **state)
{
    (void)state;
    char pub[41], sec[41], pub2[41], sec2[41], t[512];
    assert_int_equal(zmq_curve_keypair(pub, sec), 0);
    assert_int_equal(zmq_curve_keypair(pub2, sec2), 0);

    expect_error(0, "missing.pub", NULL, 0, "missing.pub: cannot open the key file: No such file");
    snprintf(t, sizeof t, "# comment\npublic-key = %.39s\n", pub);
    expect_error(0, "short.pub", t, 0644,
                 "short.pub:2: public-key: expected 40 Z85 characters, got 39");
    snprintf(t, sizeof t, "public-key = %.39s~\n", pub);
    expect_error(0, "char.pub", t, 0644, "char.pub:1: public-key: character 40 ('~') is not");
    snprintf(t, sizeof t, "public-key = %s\npublic-key = %s\n", pub, pub);
    expect_error(0, "twice.pub", t, 0644, "twice.pub:2: public-key: given twice (first on line 1)");
    snprintf(t, sizeof t, "\n\npublic_key = %s\n", pub);
    expect_error(0, "name.pub", t, 0644, "name.pub:3: unknown key 'public_key'");
    snprintf(t, sizeof t, "[curve]\npublic-key = %s\n", pub);
    expect_error(0, "section.pub", t, 0644, "section.pub:2: unexpected section [curve]");
    expect_error(0, "syntax.pub", "# ok\nthis is not a key file\n", 0644,
                 "syntax.pub:2: syntax error");
    expect_error(0, "empty.pub", "# nothing\n", 0644, "empty.pub: no 'public-key = ...' line");
    /* a bare Z85 key with no 'public-key =' */
    snprintf(t, sizeof t, "%s\n", pub);
    expect_error(0, "bare.pub", t, 0644, "bare.pub:1:");
    /* secret files */
    snprintf(t, sizeof t, "public-key = %s\nsecret-key = %s\n", pub, sec);
    expect_error(1, "open.key", t, 0644,
                 "open.key: mode 0644: a secret key file must be readable "
                 "by its owner only (chmod 600");
    expect_error(1, "group.key", t, 0640, "mode 0640");
    snprintf(t, sizeof t, "public-key = %s\nsecret-key = %s\n", pub2, sec);
    expect_error(1, "mismatch.key", t, 0600,
                 "mismatch.key:1: public-key does not belong to the secret-key of line 2");
    snprintf(t, sizeof t, "public-key = %s\n", pub);
    expect_error(1, "pubonly.key", t, 0600, "pubonly.key: no 'secret-key = ...' line");
    char big[6000];
    memset(big, '#', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    expect_error(0, "big.pub", big, 0644, "too large for a key file");
    char p[PATH_MAX + 64], err[300];
    keys_pair_t kp;
    path_of(p, sizeof p, "");
    assert_int_equal(keys_load_public(p, &kp, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a regular file"));

    /* a secret file without public-key: derived */
    snprintf(t, sizeof t, "secret-key = %s\n", sec);
    write_text("seconly.key", t, 0600);
    path_of(p, sizeof p, "seconly.key");
    assert_int_equal(keys_load_secret(p, &kp, err, sizeof err), 0);
    assert_string_equal(kp.public_z85, pub);
    /* a .key file also serves as a public key file (its public-key line) */
    assert_int_equal(keys_load_public(p, &kp, err, sizeof err), -1);
    snprintf(t, sizeof t, "public-key = %s\nsecret-key = %s\n", pub, sec);
    write_text("both.key", t, 0600);
    path_of(p, sizeof p, "both.key");
    assert_int_equal(keys_load_public(p, &kp, err, sizeof err), 0);
    assert_string_equal(kp.public_z85, pub);
}

static void test_client_setup(void **state)
{
    (void)state;
    char prefix[PATH_MAX + 64], spub[PATH_MAX + 64], ckey[PATH_MAX + 64], err[600];
    keys_pair_t s, c;
    path_of(prefix, sizeof prefix, "srv");
    assert_int_equal(keys_generate(prefix, 1, &s, err, sizeof err), 0);
    path_of(prefix, sizeof prefix, "cli");
    assert_int_equal(keys_generate(prefix, 1, &c, err, sizeof err), 0);
    path_of(spub, sizeof spub, "srv.pub");
    path_of(ckey, sizeof ckey, "cli.key");
    void *ctx = zmq_ctx_new();
    void *sock = zmq_socket(ctx, ZMQ_SUB);
    assert_int_equal(keys_client_setup(sock, spub, ckey, err, sizeof err), 0);
    char got[41];
    size_t n = sizeof got;
    assert_int_equal(zmq_getsockopt(sock, ZMQ_CURVE_SERVERKEY, got, &n), 0);
    assert_string_equal(got, s.public_z85);
    n = sizeof got;
    assert_int_equal(zmq_getsockopt(sock, ZMQ_CURVE_PUBLICKEY, got, &n), 0);
    assert_string_equal(got, c.public_z85);
    /* the .pub given where the secret key belongs */
    path_of(ckey, sizeof ckey, "cli.pub");
    assert_int_equal(keys_client_setup(sock, spub, ckey, err, sizeof err), -1);
    assert_non_null(strstr(err, "cli.pub: mode 0"));
    zmq_close(sock);
    zmq_ctx_term(ctx);
}

/* `gaitctl keygen` itself (cmd_keygen.c, in-process): usage errors exit 2, success 0. */
static void test_cmd_keygen(void **state)
{
    (void)state;
    char prefix[PATH_MAX + 64];
    path_of(prefix, sizeof prefix, "viewer");
    char *ok[] = {"keygen", prefix, NULL};
    char *force[] = {"keygen", "--force", prefix, NULL};
    char *none[] = {"keygen", NULL};
    char *two[] = {"keygen", "a", "b", NULL};
    char *opt[] = {"keygen", "--bogus", "x", NULL};
    fflush(stdout);
    int saved = dup(1), devnull = open("/dev/null", O_WRONLY);
    assert_true(saved >= 0 && devnull >= 0);
    dup2(devnull, 1); /* keygen prints the public key */
    assert_int_equal(cmd_keygen(2, ok), 0);
    assert_int_equal(cmd_keygen(2, ok), 1); /* exists */
    assert_int_equal(cmd_keygen(3, force), 0);
    assert_int_equal(cmd_keygen(1, none), 2);
    assert_int_equal(cmd_keygen(3, two), 2);
    assert_int_equal(cmd_keygen(3, opt), 2);
    fflush(stdout);
    dup2(saved, 1);
    assert_int_equal(mode_of("viewer.key"), 0600);
    /* "NAME.key" given: NAME.key and NAME.pub, not NAME.key.key */
    char withext[PATH_MAX + 64];
    path_of(withext, sizeof withext, "ext.key");
    char *ext[] = {"keygen", withext, NULL};
    dup2(devnull, 1);
    assert_int_equal(cmd_keygen(2, ext), 0);
    fflush(stdout);
    dup2(saved, 1);
    assert_int_equal(mode_of("ext.key"), 0600);
    assert_true(mode_of("ext.pub") & 0400); /* the .pub follows the umask */
    close(saved);
    close(devnull);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_curve_available), cmocka_unit_test(test_z85),
        cmocka_unit_test(test_generate),        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_client_setup),    cmocka_unit_test(test_cmd_keygen),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
