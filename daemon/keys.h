/* keys.h - CURVE key files for gaitd's remote feeds and control (daemon/SECURITY.md).
 *
 * ZeroMQ's CURVE uses Curve25519 key pairs, written as 40 Z85 characters. `gaitctl keygen NAME`
 * (keys_generate) writes two small INI files (read back with libinih):
 *   NAME.pub   the public key, given to the other side (a coach's goes into gaitd's allow-list,
 *              gaitd's own to every coach), default file mode:
 *                  # gaitd CURVE public key "NAME", made by gaitctl keygen on 2026-11-29T05:00:00Z
 *                  public-key = <40 Z85 characters>
 *   NAME.key   the secret key, created with mode 0600 whatever the umask; never copied elsewhere:
 *                  # gaitd CURVE secret key "NAME" ...: keep it private (mode 0600)
 *                  public-key = <40 Z85 characters>
 *                  secret-key = <40 Z85 characters>
 * Loading checks everything and names the file and line of the first problem:
 *     coach1.pub:2: public-key: expected 40 Z85 characters, got 39
 *     server.key: mode 0644: a secret key file must be readable by its owner only (chmod 600)
 * Errors are -1 with a message in err; nothing here keeps state.
 */
#ifndef GAITD_KEYS_H
#define GAITD_KEYS_H
#include <stddef.h>
#include <stdint.h>

#define KEYS_Z85_LEN 40 /* characters of a key in Z85 */
#define KEYS_BIN_LEN 32 /* bytes of a key */

typedef struct keys_pair {
    char public_z85[KEYS_Z85_LEN + 1];
    char secret_z85[KEYS_Z85_LEN + 1]; /* "" when only the public key is known */
} keys_pair_t;

/* 1 if libzmq was built with CURVE (zmq_has("curve")), else 0. */
int keys_curve_available(void);

/* Decodes a 40-character Z85 key into 32 bytes (out may be NULL: check only). Returns 0, or -1
 * with a message in err ("expected 40 Z85 characters, got N" / "... not a Z85 character"). */
int keys_z85_decode(const char *z85, uint8_t *out, char *err, size_t errcap);

/* Encodes 32 key bytes as Z85 into out (41 bytes). */
void keys_z85_encode(const uint8_t key[KEYS_BIN_LEN], char out[KEYS_Z85_LEN + 1]);

/* Makes a new key pair and writes PREFIX.key (0600) and PREFIX.pub. Refuses to overwrite
 * either file unless force. The files appear whole or not at all (written to a temporary file,
 * synced, then linked/renamed into place). On success kp holds the pair. Returns 0 or -1. */
int keys_generate(const char *prefix, int force, keys_pair_t *kp, char *err, size_t errcap);

/* Reads the public key of a .pub (or .key) file into kp->public_z85 (kp->secret_z85 = "").
 * Returns 0 or -1 with "path:line: ..." in err. */
int keys_load_public(const char *path, keys_pair_t *kp, char *err, size_t errcap);

/* Reads a .key file: its secret key, and its public key, which must match the secret (it is
 * derived from it when the file has none). The file must not be readable or writable by group
 * or others. Returns 0 or -1 with a message naming the file (and line) in err. */
int keys_load_secret(const char *path, keys_pair_t *kp, char *err, size_t errcap);

/* Client side: makes sock (not yet connected) a CURVE client of the server whose public key is
 * in server_pub_path, authenticating with the secret key in client_key_path. Returns 0 or -1
 * with a message in err. */
int keys_client_setup(void *sock, const char *server_pub_path, const char *client_key_path,
                      char *err, size_t errcap);

#endif
