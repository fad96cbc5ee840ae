// CZlib: zlib for Swift. Only Runtime/WebSocket (permessage-deflate) imports it.
#ifndef CZLIB_SHIM_H
#define CZLIB_SHIM_H
#include <zlib.h>

/// deflateInit2 is a macro over deflateInit2_ (it passes the header's version and sizeof(z_stream));
/// Swift cannot import it. Negative windowBits selects raw deflate, without the zlib header and trailer.
static inline int czlib_deflate_init(z_streamp stream, int level, int windowBits, int memLevel) {
    return deflateInit2(stream, level, Z_DEFLATED, windowBits, memLevel, Z_DEFAULT_STRATEGY);
}

/// inflateInit2 is a macro over inflateInit2_, for the same reason.
static inline int czlib_inflate_init(z_streamp stream, int windowBits) {
    return inflateInit2(stream, windowBits);
}
#endif
