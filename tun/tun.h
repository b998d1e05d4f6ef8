/* The TUN device: open (IFF_TUN, IFF_NO_PI, non-blocking), read and write whole IP packets. */
#ifndef N4M_TUN_H
#define N4M_TUN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TUN_NAME_MAX 16 /* IFNAMSIZ */

struct tun;

/* Creates (or attaches to) the device; name "" lets the kernel pick. 0 or -errno. */
int tun_open(const char *name, struct tun **out);
void tun_close(struct tun *t);
int tun_fd(const struct tun *t);
const char *tun_name(const struct tun *t);

/* One packet into buf: its length, -EAGAIN when none is waiting, -EMSGSIZE if it was cut. */
ssize_t tun_read(struct tun *t, uint8_t *buf, size_t len);
/* One packet out: 0, -EAGAIN (the queue is full: the packet is dropped), or -errno. */
int tun_write(struct tun *t, const uint8_t *buf, size_t len);

#endif
