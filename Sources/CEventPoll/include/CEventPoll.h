// Linux epoll for the tracker's announce loop (Sources/Tracker/Server/AnnounceLoop.swift). Swift's Glibc module
// does not export <sys/epoll.h>; these wrappers also keep the packed `struct epoll_event` out of Swift.
#ifndef C_EVENT_POLL_H
#define C_EVENT_POLL_H

#include <stdint.h>

/// epoll_create1(EPOLL_CLOEXEC); -1 and errno on failure.
int swt_epoll_create(void);

/// EPOLL_CTL_ADD (op 0), EPOLL_CTL_MOD (op 1) or EPOLL_CTL_DEL (op 2) of `fd` with `token` as the event data.
/// `readable` chooses EPOLLIN and EPOLLRDHUP, `writable` EPOLLOUT (EPOLLHUP and EPOLLERR are always reported).
int swt_epoll_control(int epfd, int op, int fd, int readable, int writable, uint64_t token);

/// epoll_wait into parallel arrays: `tokens[i]` is the data of the i-th event, `flags[i]` its bits as below.
/// Returns the number of events, 0 on timeout, -1 and errno on failure.
int swt_epoll_wait(int epfd, uint64_t *tokens, uint32_t *flags, int capacity, int timeout_ms);

/// accept4(fd, address, length, SOCK_NONBLOCK | SOCK_CLOEXEC); `address` points to a `struct sockaddr_storage`.
int swt_accept(int fd, void *address, unsigned int *length);

/// pipe2(fds, O_NONBLOCK | O_CLOEXEC).
int swt_pipe(int fds[2]);

/// Bits of `flags`.
#define SWT_EVENT_READABLE 1u
#define SWT_EVENT_WRITABLE 2u
#define SWT_EVENT_HANGUP 4u
#define SWT_EVENT_ERROR 8u

#endif
