// CURing: liburing for Swift. Only Runtime/IO imports this module.
// Holds what Swift cannot import from liburing 2.3 (macros) or what 2.3 lacks
// (io_uring_setup_buf_ring arrived in 2.4). No logic beyond that.
#ifndef CURING_SHIM_H
#define CURING_SHIM_H

// System headers first: glibc fixes its feature macros at the first include, so liburing.h's own
// _XOPEN_SOURCE cannot change struct layouts (fd_set) away from what Swift's Glibc module saw.
#include <errno.h>
#include <stdint.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <fcntl.h>
#include <time.h>
#include <string.h>
#include <unistd.h>
#include <malloc.h>   // malloc_trim, for MemoryTrimmer (RuntimeIO owns the process's system calls)
#include <liburing.h>

static const uint32_t curing_cqe_f_buffer = IORING_CQE_F_BUFFER;
static const uint32_t curing_cqe_f_more = IORING_CQE_F_MORE;
static const uint32_t curing_cqe_buffer_shift = IORING_CQE_BUFFER_SHIFT;
static const uint32_t curing_sqe_buffer_select = IOSQE_BUFFER_SELECT;
static const uint32_t curing_setup_single_issuer = IORING_SETUP_SINGLE_ISSUER;
static const uint32_t curing_setup_defer_taskrun = IORING_SETUP_DEFER_TASKRUN;
static const uint32_t curing_setup_coop_taskrun = IORING_SETUP_COOP_TASKRUN;
static const uint32_t curing_setup_submit_all = IORING_SETUP_SUBMIT_ALL;
static const uint32_t curing_setup_cqsize = IORING_SETUP_CQSIZE;
static const uint32_t curing_feat_ext_arg = IORING_FEAT_EXT_ARG;
static const uint32_t curing_async_cancel_all = IORING_ASYNC_CANCEL_ALL;
static const uint32_t curing_fsync_datasync = IORING_FSYNC_DATASYNC;

/// Maps and registers a provided-buffer ring of `entries` slots (a power of two)
/// for buffer group `group`. Returns the ring or NULL with `*error` set to a
/// positive errno. liburing 2.4 calls this io_uring_setup_buf_ring.
static inline struct io_uring_buf_ring *curing_setup_buf_ring(
    struct io_uring *ring, unsigned entries, int group, int *error) {
    size_t size = (size_t)entries * sizeof(struct io_uring_buf);
    void *memory = mmap(NULL, size, PROT_READ | PROT_WRITE,
                        MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (memory == MAP_FAILED) { *error = errno; return NULL; }
    struct io_uring_buf_reg reg = {0};
    reg.ring_addr = (unsigned long)(uintptr_t)memory;
    reg.ring_entries = entries;
    reg.bgid = (unsigned short)group;
    int result = io_uring_register_buf_ring(ring, &reg, 0);
    if (result < 0) { munmap(memory, size); *error = -result; return NULL; }
    struct io_uring_buf_ring *buffers = (struct io_uring_buf_ring *)memory;
    io_uring_buf_ring_init(buffers);
    return buffers;
}

/// Unregisters and unmaps a ring made by curing_setup_buf_ring.
static inline void curing_free_buf_ring(struct io_uring *ring,
    struct io_uring_buf_ring *buffers, unsigned entries, int group) {
    io_uring_unregister_buf_ring(ring, group);
    munmap(buffers, (size_t)entries * sizeof(struct io_uring_buf));
}

#endif
