/*
 * /init of the throw-away initramfs that tests/native/qemu-compat.sh boots:
 * mounts /proc and /tmp, brings up lo, runs /test and powers off, printing
 * the test's wait status for the script.
 */
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void qinit_loopback_up(void)
{
    struct ifreq ifr;
    int s = socket(AF_INET, SOCK_DGRAM, 0);

    if (s < 0)
        return;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP;
        ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    close(s);
}

int main(void)
{
    char *argv[] = { "/test", NULL };
    char *envp[] = { "PATH=/", NULL };
    int status = -1;
    pid_t pid;

    mount("proc", "/proc", "proc", 0, NULL);
    mount("tmpfs", "/tmp", "tmpfs", 0, NULL);
    qinit_loopback_up();
    pid = fork();
    if (pid == 0) {
        execve(argv[0], argv, envp);
        perror("qemu-init: execve /test");
        _exit(127);
    }
    if (pid > 0)
        waitpid(pid, &status, 0);
    printf("LILYVM-QEMU-STATUS %d\n", status);
    fflush(stdout);
    sync();
    reboot(RB_POWER_OFF);
    return 0;
}
