#define _GNU_SOURCE
#include "CEventPoll.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

int swt_accept(int fd, void *address, unsigned int *length) {
    socklen_t size = *length;
    int accepted = accept4(fd, (struct sockaddr *)address, &size, SOCK_NONBLOCK | SOCK_CLOEXEC);
    *length = size;
    return accepted;
}

int swt_pipe(int fds[2]) { return pipe2(fds, O_NONBLOCK | O_CLOEXEC); }

int swt_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int swt_epoll_control(int epfd, int op, int fd, int readable, int writable, uint64_t token) {
    struct epoll_event event = {0};
    event.events = (readable ? (EPOLLIN | EPOLLRDHUP) : 0) | (writable ? EPOLLOUT : 0);
    event.data.u64 = token;
    int ops[3] = {EPOLL_CTL_ADD, EPOLL_CTL_MOD, EPOLL_CTL_DEL};
    if (op < 0 || op > 2) return -1;
    return epoll_ctl(epfd, ops[op], fd, &event);
}

int swt_epoll_wait(int epfd, uint64_t *tokens, uint32_t *flags, int capacity, int timeout_ms) {
    struct epoll_event events[256];
    if (capacity > 256) capacity = 256;
    int count = epoll_wait(epfd, events, capacity, timeout_ms);
    for (int i = 0; i < count; i++) {
        uint32_t bits = events[i].events;
        tokens[i] = events[i].data.u64;
        flags[i] = ((bits & EPOLLIN) ? SWT_EVENT_READABLE : 0u) | ((bits & EPOLLOUT) ? SWT_EVENT_WRITABLE : 0u) |
                   ((bits & (EPOLLHUP | EPOLLRDHUP)) ? SWT_EVENT_HANGUP : 0u) | ((bits & EPOLLERR) ? SWT_EVENT_ERROR : 0u);
    }
    return count;
}
