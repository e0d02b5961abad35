/*
 * Network links: each [netdev NAME] is one link with two ports, the
 * backend's own and the one a NIC attaches to by naming the netdev.  Frames
 * cross only when the receiving side can take them; every frame that
 * crosses is also written to the link's pcap file when one is configured.
 */
#include <errno.h>
#include <string.h>
#include <sys/time.h>
#include "src/core/core.h"

#define NET_FRAME_MAX 65535  /* largest frame carried (and pcap snaplen) */

NetLink *net_link_new(LilyVm *vm, const char *name)
{
    NetLink *link = g_new0(NetLink, 1);
    link->name = g_strdup(name);
    link->backend.link = link;
    link->nic.link = link;
    g_ptr_array_add(vm->netlinks, link);
    return link;
}

void net_link_free(NetLink *link)
{
    if (link->pcap)
        fclose(link->pcap);
    g_free(link->pcap_path);
    g_free(link->name);
    g_free(link);
}

static void net_put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);  /* pcap files are written in host byte order */
}

gboolean net_link_set_pcap(NetLink *link, const char *path, GError **error)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_NET, "cannot create %s: %s",
                    path, g_strerror(errno));
        return FALSE;
    }
    /* Global header: magic, version 2.4, zone, sigfigs, snaplen, LINKTYPE_ETHERNET. */
    uint8_t hdr[24];
    net_put32(hdr, 0xa1b2c3d4);
    uint16_t major = 2, minor = 4;
    memcpy(hdr + 4, &major, 2);
    memcpy(hdr + 6, &minor, 2);
    net_put32(hdr + 8, 0);
    net_put32(hdr + 12, 0);
    net_put32(hdr + 16, NET_FRAME_MAX);
    net_put32(hdr + 20, 1);
    if (fwrite(hdr, sizeof hdr, 1, f) != 1 || fflush(f) != 0) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_NET, "cannot write %s: %s",
                    path, g_strerror(errno));
        fclose(f);
        return FALSE;
    }
    link->pcap = f;
    link->pcap_path = g_strdup(path);
    return TRUE;
}

static void net_pcap_write(NetLink *link, const uint8_t *frame, size_t len)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    uint8_t rec[16];
    net_put32(rec, (uint32_t)tv.tv_sec);
    net_put32(rec + 4, (uint32_t)tv.tv_usec);
    net_put32(rec + 8, (uint32_t)len);
    net_put32(rec + 12, (uint32_t)len);
    if (fwrite(rec, sizeof rec, 1, link->pcap) != 1 || fwrite(frame, len, 1, link->pcap) != 1 ||
        fflush(link->pcap) != 0) {
        log_msg("net", LILY_LOG_WARN, "%s: writing %s failed (%s); capture stopped",
                link->name, link->pcap_path, g_strerror(errno));
        fclose(link->pcap);
        link->pcap = NULL;
    }
}

static NetLink *net_find_link(LilyVm *vm, const char *name)
{
    for (guint i = 0; i < vm->netlinks->len; i++) {
        NetLink *l = g_ptr_array_index(vm->netlinks, i);
        if (strcmp(l->name, name) == 0)
            return l;
    }
    return NULL;
}

LilyNetPort *net_attach(LilyVm *vm, LilyInstance *inst, const char *netdev,
                        const LilyNetOps *ops, void *opaque, GError **error)
{
    const char *who = inst ? inst->name : "core";
    if (!ops || !ops->receive || !ops->can_receive) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_NET,
                    "%s: net_attach needs can_receive and receive callbacks", who);
        return NULL;
    }
    LilyNetPort *port;
    if (!netdev) {
        NetLink *link = inst ? net_find_link(vm, inst->name) : NULL;
        if (!link || inst->plugin->desc->kind != LILY_PLUGIN_NETDEV) {
            g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_NET,
                        "%s: only a [netdev] instance can attach without a netdev name", who);
            return NULL;
        }
        port = &link->backend;
    } else {
        NetLink *link = net_find_link(vm, netdev);
        if (!link) {
            GString *names = g_string_new(NULL);
            for (guint i = 0; i < vm->netlinks->len; i++)
                g_string_append_printf(names, "%s%s", i ? ", " : "",
                                       ((NetLink *)g_ptr_array_index(vm->netlinks, i))->name);
            g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_NET,
                        "%s: netdev '%s' does not exist (configured netdevs: %s); add a "
                        "[netdev %s] group", who, netdev, names->len ? names->str : "none",
                        netdev);
            g_string_free(names, TRUE);
            return NULL;
        }
        port = &link->nic;
    }
    if (port->attached) {
        g_set_error(error, LILY_CORE_ERROR, LILY_CORE_ERROR_NET,
                    "%s: netdev '%s' is already used by %s; each netdev links one NIC "
                    "to one backend", who, port->link->name,
                    port->owner ? port->owner->name : "another instance");
        return NULL;
    }
    port->owner = inst;
    port->ops = ops;
    port->opaque = opaque;
    port->attached = true;
    log_msg("net", LILY_LOG_DEBUG, "%s attached to netdev %s", who, port->link->name);
    return port;
}

static LilyNetPort *net_peer(LilyNetPort *port)
{
    NetLink *link = port->link;
    return port == &link->nic ? &link->backend : &link->nic;
}

bool net_can_send(LilyNetPort *port)
{
    if (!port || !port->attached)
        return false;
    LilyNetPort *peer = net_peer(port);
    return peer->attached && peer->ops->can_receive(peer->opaque);
}

bool net_send(LilyNetPort *port, const uint8_t *frame, size_t len)
{
    if (!port || !port->attached || !frame || len == 0 || len > NET_FRAME_MAX)
        return false;
    NetLink *link = port->link;
    if (!net_can_send(port)) {
        link->dropped++;
        return false;
    }
    LilyNetPort *peer = net_peer(port);
    if (link->pcap)
        net_pcap_write(link, frame, len);
    link->frames++;
    link->bytes += len;
    peer->ops->receive(peer->opaque, frame, len);
    return true;
}

void net_ready(LilyNetPort *port)
{
    if (!port || !port->attached)
        return;
    LilyNetPort *peer = net_peer(port);
    if (peer->attached && peer->ops->ready)
        peer->ops->ready(peer->opaque);
}

void net_detach(LilyNetPort *port)
{
    if (!port)
        return;
    port->attached = false;
    port->ops = NULL;
    port->opaque = NULL;
    port->owner = NULL;
}

void net_release_owner(LilyVm *vm, LilyInstance *owner)
{
    for (guint i = 0; i < vm->netlinks->len; i++) {
        NetLink *l = g_ptr_array_index(vm->netlinks, i);
        if (l->nic.attached && l->nic.owner == owner)
            net_detach(&l->nic);
        if (l->backend.attached && l->backend.owner == owner)
            net_detach(&l->backend);
    }
}
