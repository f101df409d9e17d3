#ifndef MTCP_COPENSSL_SHIM_H
#define MTCP_COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/bio.h>
#include <openssl/rand.h>

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

/// The 80 bytes of ticket keys (name, HMAC secret, AES key): the same on every
/// core, so a ticket issued by one core's context resumes on another's.
static inline int mtcp_ssl_ctx_set_ticket_keys(SSL_CTX *ctx, const unsigned char *keys, long length) {
    return (int)SSL_CTX_set_tlsext_ticket_keys(ctx, (void *)keys, length);
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
