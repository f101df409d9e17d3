#ifndef MTCP_COPENSSL_SHIM_H
#define MTCP_COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/bio.h>
#include <openssl/rand.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <string.h>

// SSL_OP_BIT(n) is a function-like macro: Swift sees these as constants.
static const uint64_t mtcp_ssl_op_no_ticket = SSL_OP_NO_TICKET;
static const uint64_t mtcp_ssl_op_no_renegotiation = SSL_OP_NO_RENEGOTIATION;

// OpenSSL's configuration calls below are macros over SSL_CTX_ctrl/SSL_ctrl,
// which Swift does not import: small wrappers with the same meaning.

static inline int mtcp_ssl_ctx_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

static inline long mtcp_ssl_ctx_set_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_mode(ctx, mode);
}

static inline long mtcp_ssl_ctx_set_session_cache_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_session_cache_mode(ctx, mode);
}

// MARK: session ticket keys

/// One ticket key: 16 bytes of name, 32 of HMAC-SHA256 secret, 32 of AES-256 key.
#define MTCP_TICKET_KEY_BYTES 80

/// The session ticket keys every core's context shares (a ticket issued on one
/// core resumes on another): `current` encrypts new tickets, `previous` (the
/// one before the last rotation) still decrypts. The lock is taken once per
/// ticket issued or opened, never per record.
typedef struct {
    pthread_mutex_t lock;
    unsigned char current[MTCP_TICKET_KEY_BYTES];
    unsigned char previous[MTCP_TICKET_KEY_BYTES];
    int has_previous;
} mtcp_ticket_keys;

/// Fresh random keys become current, the current ones previous. 1 on success.
static inline int mtcp_ticket_keys_rotate(mtcp_ticket_keys *keys) {
    unsigned char fresh[MTCP_TICKET_KEY_BYTES];
    if (RAND_bytes(fresh, sizeof(fresh)) != 1) return 0;
    pthread_mutex_lock(&keys->lock);
    memcpy(keys->previous, keys->current, sizeof(fresh));
    memcpy(keys->current, fresh, sizeof(fresh));
    keys->has_previous = 1;
    pthread_mutex_unlock(&keys->lock);
    OPENSSL_cleanse(fresh, sizeof(fresh));
    return 1;
}

/// Random current keys and no previous ones. 1 on success.
static inline int mtcp_ticket_keys_init(mtcp_ticket_keys *keys) {
    memset(keys, 0, sizeof(*keys));
    if (pthread_mutex_init(&keys->lock, NULL) != 0) return 0;
    if (mtcp_ticket_keys_rotate(keys) != 1) return 0;
    OPENSSL_cleanse(keys->previous, sizeof(keys->previous));
    keys->has_previous = 0;
    return 1;
}

static inline void mtcp_ticket_keys_destroy(mtcp_ticket_keys *keys) {
    pthread_mutex_destroy(&keys->lock);
    OPENSSL_cleanse(keys, sizeof(*keys));
}

/// OpenSSL's ticket key callback (SSL_CTX_set_tlsext_ticket_key_evp_cb): new
/// tickets under the current key; a ticket under the previous key is accepted
/// and reissued under the current one (2); any other is refused (0: a full
/// handshake).
static int mtcp_ticket_key_callback(SSL *ssl, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *cipher,
                                    EVP_MAC_CTX *mac, int encrypt) {
    mtcp_ticket_keys *keys = (mtcp_ticket_keys *)SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    unsigned char key[MTCP_TICKET_KEY_BYTES];
    int result = 1;
    pthread_mutex_lock(&keys->lock);
    if (encrypt || memcmp(name, keys->current, 16) == 0) {
        memcpy(key, keys->current, sizeof(key));
    } else if (keys->has_previous && memcmp(name, keys->previous, 16) == 0) {
        memcpy(key, keys->previous, sizeof(key));
        result = 2;
    } else {
        result = 0;
    }
    pthread_mutex_unlock(&keys->lock);
    if (result == 0) return 0;
    if (encrypt) {
        memcpy(name, key, 16);
        if (RAND_bytes(iv, 16) != 1) result = -1;
    }
    OSSL_PARAM digest[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0), OSSL_PARAM_construct_end()
    };
    if (result > 0 && (EVP_MAC_init(mac, key + 16, 32, digest) != 1
                       || EVP_CipherInit_ex(cipher, EVP_aes_256_cbc(), NULL, key + 48, iv, encrypt) != 1)) {
        result = -1;
    }
    OPENSSL_cleanse(key, sizeof(key));
    return result;
}

/// Makes `ctx` issue and open tickets with `keys`, which must outlive it. 1 on success.
static inline int mtcp_ssl_ctx_use_ticket_keys(SSL_CTX *ctx, mtcp_ticket_keys *keys) {
    SSL_CTX_set_app_data(ctx, keys);
    return SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, mtcp_ticket_key_callback);
}

static inline int mtcp_ssl_set_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

/// An empty memory BIO reads as "retry later", never as end of file: the bytes
/// come from the user-level stack when they arrive.
static inline void mtcp_bio_set_mem_retry(BIO *bio) {
    BIO_set_mem_eof_return(bio, -1);
}

/// The bytes a memory BIO holds, from its read position; returns their count.
static inline long mtcp_bio_mem_data(BIO *bio, char **data) {
    return BIO_get_mem_data(bio, data);
}

static inline size_t mtcp_bio_pending(BIO *bio) {
    return BIO_ctrl_pending(bio);
}

/// ALPN (RFC 7301): the server speaks HTTP/1.1 and HTTP/1.0 and selects the
/// first of them (in that order) that the client offered. A client that offers
/// protocols but neither (say h2 alone) gets the fatal no_application_protocol
/// alert; a client that offers none is served without ALPN.
static int mtcp_alpn_select_http1(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                                  const unsigned char *in, unsigned int inlen, void *arg) {
    (void)ssl;
    (void)arg;
    static const unsigned char http1[] = "\x08http/1.1\x08http/1.0";
    unsigned char *selected = NULL;
    if (SSL_select_next_proto(&selected, outlen, http1, sizeof(http1) - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

static inline void mtcp_ssl_ctx_select_http1(SSL_CTX *ctx) {
    SSL_CTX_set_alpn_select_cb(ctx, mtcp_alpn_select_http1, NULL);
}
#endif
