/*
 * lily-netns, namespace side: a child process that enters fresh network and
 * mount namespaces (and a user namespace when unprivileged), creates the
 * TAP device there, hands its descriptor to the parent, configures the
 * interfaces as the parent says and executes the command.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <net/route.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools/lily-netns/netns.h"

/* Report a failure of the namespace side and end it. */
static G_GNUC_NORETURN G_GNUC_PRINTF(1, 2) void child_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("lily-netns: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    _exit(NETNS_EXIT_SETUP);
}

static bool child_write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = write(fd, text, strlen(text));
    int saved = errno;
    close(fd);
    errno = saved;
    return n == (ssize_t)strlen(text);
}

/* Map our own uid and gid to root inside the new user namespace. */
static void child_map_ids(uid_t uid, gid_t gid)
{
    char map[64];
    /* An unprivileged process may only map its gid after giving up setgroups(2). */
    if (!child_write_file("/proc/self/setgroups", "deny") && errno != ENOENT)
        child_fail("cannot write /proc/self/setgroups: %s", g_strerror(errno));
    snprintf(map, sizeof map, "0 %u 1\n", (unsigned)uid);
    if (!child_write_file("/proc/self/uid_map", map))
        child_fail("cannot write /proc/self/uid_map: %s", g_strerror(errno));
    snprintf(map, sizeof map, "0 %u 1\n", (unsigned)gid);
    if (!child_write_file("/proc/self/gid_map", map))
        child_fail("cannot write /proc/self/gid_map: %s", g_strerror(errno));
}

static int child_open_tap(void)
{
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        child_fail("cannot open /dev/net/tun inside the namespace: %s%s", g_strerror(errno),
                   errno == EACCES ? " (the device node must be usable by this user, "
                                     "usually mode 0666)" : "");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    g_strlcpy(ifr.ifr_name, NETNS_IFNAME, sizeof ifr.ifr_name);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0)
        child_fail("cannot create TAP device %s: %s", NETNS_IFNAME, g_strerror(errno));
    return fd;
}

static void child_send_fd(int sock, int fd)
{
    char byte = 'T';
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } u;
    memset(&u, 0, sizeof u);
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_control = u.buf, .msg_controllen = sizeof u.buf };
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    if (sendmsg(sock, &msg, MSG_NOSIGNAL) != 1)
        child_fail("cannot pass the TAP descriptor to the harness: %s", g_strerror(errno));
}

static void child_ioctl(int s, unsigned long req, struct ifreq *ifr, const char *what)
{
    if (ioctl(s, req, ifr) < 0)
        child_fail("%s %s: %s", what, ifr->ifr_name, g_strerror(errno));
}

static void child_set_up(int s, const char *ifname)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    g_strlcpy(ifr.ifr_name, ifname, sizeof ifr.ifr_name);
    child_ioctl(s, SIOCGIFFLAGS, &ifr, "cannot read the flags of");
    ifr.ifr_flags |= IFF_UP;
    child_ioctl(s, SIOCSIFFLAGS, &ifr, "cannot bring up");
}

static void child_set_in(struct sockaddr *sa, uint32_t addr)
{
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(addr) };
    memcpy(sa, &sin, sizeof sin);
}

/* lo and the TAP up, the address, MTU and default route on the TAP. */
static void child_configure(const NetnsSetup *su)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        child_fail("socket: %s", g_strerror(errno));
    child_set_up(s, "lo");

    /* Router solicitations and the like only add noise on this link. */
    child_write_file("/proc/sys/net/ipv6/conf/" NETNS_IFNAME "/disable_ipv6", "1");

    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    g_strlcpy(ifr.ifr_name, NETNS_IFNAME, sizeof ifr.ifr_name);
    ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    memcpy(ifr.ifr_hwaddr.sa_data, su->mac, 6);
    child_ioctl(s, SIOCSIFHWADDR, &ifr, "cannot set the MAC address of");
    ifr.ifr_mtu = (int)su->mtu;
    child_ioctl(s, SIOCSIFMTU, &ifr, "cannot set the MTU of");
    child_set_in(&ifr.ifr_addr, su->addr);
    child_ioctl(s, SIOCSIFADDR, &ifr, "cannot set the address of");
    uint32_t mask = su->prefix ? ~0u << (32 - su->prefix) : 0;
    child_set_in(&ifr.ifr_netmask, mask);
    child_ioctl(s, SIOCSIFNETMASK, &ifr, "cannot set the netmask of");
    child_set_up(s, NETNS_IFNAME);

    if (su->gateway) {
        struct rtentry rt;
        memset(&rt, 0, sizeof rt);
        child_set_in(&rt.rt_dst, 0);
        child_set_in(&rt.rt_genmask, 0);
        child_set_in(&rt.rt_gateway, su->gateway);
        rt.rt_flags = RTF_UP | RTF_GATEWAY;
        rt.rt_dev = (char *)NETNS_IFNAME;
        if (ioctl(s, SIOCADDRT, &rt) < 0)
            child_fail("cannot add the default route via %u.%u.%u.%u: %s",
                       su->gateway >> 24, su->gateway >> 16 & 255, su->gateway >> 8 & 255,
                       su->gateway & 255, g_strerror(errno));
    }
    close(s);
}

/*
 * Point /etc/resolv.conf at the backend's DNS address for this mount
 * namespace only: a private file bind-mounted over it (and unlinked at once:
 * the mount keeps it alive).
 */
static void child_resolv_conf(uint32_t dns)
{
    if (access("/etc/resolv.conf", F_OK) != 0) {
        fprintf(stderr, "lily-netns: warning: no /etc/resolv.conf to replace; "
                        "name resolution inside is left as it is\n");
        return;
    }
    char path[] = "/tmp/lily-netns-resolv.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        child_fail("cannot create a resolv.conf in /tmp: %s", g_strerror(errno));
    char text[64];
    int len = snprintf(text, sizeof text, "nameserver %u.%u.%u.%u\n", dns >> 24,
                       dns >> 16 & 255, dns >> 8 & 255, dns & 255);
    bool ok = write(fd, text, (size_t)len) == len && fchmod(fd, 0644) == 0;
    close(fd);
    if (!ok || mount(path, "/etc/resolv.conf", NULL, MS_BIND, NULL) < 0) {
        int saved = errno;
        unlink(path);
        child_fail("cannot bind-mount a resolv.conf for %u.%u.%u.%u over /etc/resolv.conf: %s",
                   dns >> 24, dns >> 16 & 255, dns >> 8 & 255, dns & 255, g_strerror(saved));
    }
    unlink(path);
}

static G_GNUC_NORETURN void child_main(char **argv, bool userns, pid_t parent, int sock)
{
    /* Without the harness the command has no network: do not outlive it. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(NETNS_EXIT_SETUP);

    uid_t uid = getuid();
    gid_t gid = getgid();
    int flags = CLONE_NEWNET | CLONE_NEWNS | (userns ? CLONE_NEWUSER : 0);
    if (unshare(flags) < 0)
        child_fail("cannot create %s: %s%s",
                   userns ? "user, network and mount namespaces" : "network and mount namespaces",
                   g_strerror(errno),
                   errno == EPERM || errno == EINVAL
                       ? (userns ? " (are unprivileged user namespaces disabled? see "
                                   "sysctl kernel.unprivileged_userns_clone and "
                                   "user.max_user_namespaces)"
                                 : " (not allowed here; try --userns)")
                       : "");
    if (userns)
        child_map_ids(uid, gid);
    /* Our bind mounts must not leak back to the parent's mount namespace. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        child_fail("cannot make the mount namespace private: %s", g_strerror(errno));

    int tap = child_open_tap();
    child_send_fd(sock, tap);
    close(tap);

    NetnsSetup su;
    ssize_t n = recv(sock, &su, sizeof su, 0);
    if (n == 0)
        _exit(NETNS_EXIT_SETUP);  /* the harness gave up and said why */
    if (n != (ssize_t)sizeof su)
        child_fail("bad setup message from the harness (%zd bytes)", n);
    /* A sysfs of this namespace over the host's, so that /sys/class/net shows its links. */
    if (mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        fprintf(stderr, "lily-netns: warning: cannot mount a sysfs for the namespace: %s\n",
                g_strerror(errno));
    child_configure(&su);
    if (su.dns)
        child_resolv_conf(su.dns);
    close(sock);

    execvp(argv[0], argv);
    int saved = errno;
    fprintf(stderr, "lily-netns: cannot run %s: %s\n", argv[0], g_strerror(saved));
    _exit(saved == ENOENT ? NETNS_EXIT_NOTFOUND : NETNS_EXIT_NOEXEC);
}

static int netns_recv_fd(int sock)
{
    char byte;
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } u;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_control = u.buf, .msg_controllen = sizeof u.buf };
    ssize_t n;
    do
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n != 1)
        return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
            c->cmsg_len == CMSG_LEN(sizeof(int))) {
            int fd;
            memcpy(&fd, CMSG_DATA(c), sizeof fd);
            return fd;
        }
    }
    return -1;
}

gboolean netns_spawn(char **argv, bool userns, NetnsChild *child, GError **error)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_NET, "socketpair: %s",
                    g_strerror(errno));
        return FALSE;
    }
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_NET, "fork: %s",
                    g_strerror(errno));
        close(sv[0]);
        close(sv[1]);
        return FALSE;
    }
    if (pid == 0) {
        close(sv[0]);
        child_main(argv, userns, parent, sv[1]);
    }
    close(sv[1]);
    child->pid = pid;
    child->sock = sv[0];
    child->tap_fd = netns_recv_fd(sv[0]);
    if (child->tap_fd < 0) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_NET,
                    "the namespace could not be set up (see the message above)");
        return FALSE;
    }
    return TRUE;
}

gboolean netns_start(NetnsChild *child, const NetnsSetup *setup, GError **error)
{
    if (send(child->sock, setup, sizeof *setup, MSG_NOSIGNAL) != (ssize_t)sizeof *setup) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_NET,
                    "cannot send the interface setup to the namespace: %s", g_strerror(errno));
        return FALSE;
    }
    close(child->sock);
    child->sock = -1;
    return TRUE;
}

int netns_wait(NetnsChild *child)
{
    if (child->sock >= 0) {
        close(child->sock);  /* a child still waiting for its setup gives up */
        child->sock = -1;
    }
    int status;
    pid_t r;
    do
        r = waitpid(child->pid, &status, 0);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return NETNS_EXIT_SETUP;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return NETNS_EXIT_SETUP;
}
