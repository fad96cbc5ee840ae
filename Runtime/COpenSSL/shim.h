// COpenSSL: libssl and libcrypto for Swift. Only Runtime/TLS and the crypto helpers import it.
#ifndef COPENSSL_SHIM_H
#define COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/// SSL_set_tlsext_host_name is a macro over SSL_ctrl; Swift cannot import it.
static inline long copenssl_set_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}

/// SSL_CTX_set_min_proto_version is a macro over SSL_CTX_ctrl.
static inline int copenssl_ctx_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

/// SSL_CTX_set_mode is a macro over SSL_CTX_ctrl.
static inline long copenssl_ctx_set_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_mode(ctx, mode);
}

/// The SSL_OP_* options are built with the SSL_OP_BIT macro, which Swift cannot evaluate.
static const uint64_t copenssl_op_no_renegotiation = SSL_OP_NO_RENEGOTIATION;
static const uint64_t copenssl_op_no_compression = SSL_OP_NO_COMPRESSION;
static const uint64_t copenssl_op_cipher_server_preference = SSL_OP_CIPHER_SERVER_PREFERENCE;
#endif
