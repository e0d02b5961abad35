/*
 * lily-netns: run a command in a private network namespace whose only link
 * is a TAP device served by a LilyVM network backend.  Shared declarations
 * of the namespace side (netns.c) and the NIC side (tapnic.c).
 */
#ifndef LILY_NETNS_H
#define LILY_NETNS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "src/core/core.h"

#define NETNS_IFNAME "tap0"

/* Exit statuses of lily-netns itself (as env(1) and unshare(1) use them). */
#define NETNS_EXIT_SETUP 125   /* options, namespace, TAP or backend failed */
#define NETNS_EXIT_NOEXEC 126  /* COMMAND found but not executable */
#define NETNS_EXIT_NOTFOUND 127

/* What the parent tells the namespace side once the backend runs. */
typedef struct NetnsSetup {
    uint32_t addr;      /* the namespace's address, host order */
    uint32_t gateway;   /* host order; 0: no default route */
    uint32_t dns;       /* host order; 0: leave resolv.conf alone */
    uint32_t prefix;    /* netmask length */
    uint32_t mtu;
    uint8_t mac[6];     /* for the TAP device */
    uint8_t pad[2];
} NetnsSetup;

/* The namespace side as the parent sees it. */
typedef struct NetnsChild {
    pid_t pid;
    int sock;     /* the parent's end of the setup channel */
    int tap_fd;   /* the TAP device, opened inside the namespace */
} NetnsChild;

/*
 * netns_spawn() - fork the namespace side of argv
 * @argv: COMMAND and its arguments (NULL-terminated)
 * @userns: make a user namespace too (needed when not root)
 * @child: filled in on success
 *
 * The child makes the namespaces and the TAP device, hands the TAP
 * descriptor back, then waits for netns_start() before it configures the
 * interfaces and executes the command.  If the child fails, it prints why
 * and exits with NETNS_EXIT_SETUP; *error then says so.
 *
 * Return: TRUE when the TAP descriptor arrived.
 */
gboolean netns_spawn(char **argv, bool userns, NetnsChild *child, GError **error);

/* Let the child configure its interfaces with setup and run the command. */
gboolean netns_start(NetnsChild *child, const NetnsSetup *setup, GError **error);

/* Wait for the child; its status as a shell reports it (128 + signal). */
int netns_wait(NetnsChild *child);

/* The NIC end of a netdev, over a TAP descriptor (tapnic.c). */
typedef struct TapNic TapNic;

TapNic *tapnic_new(LilyVm *vm, const char *netdev, int tap_fd, GError **error);
void tapnic_free(TapNic *nic);
/* Frames and bytes each way and frames dropped, for --stats. */
void tapnic_print_stats(TapNic *nic, FILE *out);

#endif
