/* --api-socket PATH: a Unix socket on which kvmini takes one JSON command
 * per line and answers one JSON line (vmm/apiproto.h has the protocol),
 * served from the main loop's epoll -- no thread of its own. The socket is
 * created before the system-call filter, mode 0600, in a directory no one
 * else may write to (sticky directories like /tmp excepted), and removed
 * when kvmini ends. */
#ifndef KVMINI_VMM_API_H
#define KVMINI_VMM_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct api;
struct vm;

/* 0, or -errno with one line in err naming --api-socket. */
int api_open(struct api **out, const char *path, char *err, size_t errlen);
void api_close(struct api *a);

/* The main loop: adds the listening socket to epfd (and connections as they
 * come); events whose tag api_owns() are api_event()'s. */
void api_watch(struct api *a, int epfd);
bool api_owns(uint64_t tag);
void api_event(struct api *a, int epfd, uint64_t tag, struct vm *vm);

#endif
