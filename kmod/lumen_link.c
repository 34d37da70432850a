// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lumen N1: optical link ports (docs/hw-spec.md 13.2).
 *
 * On a card with CAPS.LINK_PORTS the driver enables every port at probe
 * and after each device reset; the card then trains each lit port with its
 * neighbour on its own. The driver only watches: LINK_CHANGED says which
 * ports changed state, and each change becomes a KOBJ_CHANGE uevent on the
 * PCI device:
 *
 *   LUMEN_EVENT=link LUMEN_PORT=<p> LUMEN_LINK_STATE=<down|training|up|error>
 *   LUMEN_PEER_CHIP=<id> LUMEN_PEER_PORT=<p>   (while up)
 *
 * and a sysfs_notify() on the port's state file. Every port's state, peer
 * and counters are in sysfs, readable by any user without opening the
 * device (npu-smi link):
 *
 * /sys/bus/pci/devices/<bdf>/links/port<N>/
 *   state          down, training, up or error
 *   peer_chip      neighbour's chip id while up, else -1
 *   peer_port      neighbour's port while up, else -1
 *   light          1 if the fiber carries light, else 0
 *   enabled        1 if the port is enabled (write 0/1, root; the same
 *                  setting as DRM_IOCTL_LUMEN_PORT_CTRL's ENABLE)
 *   generation     the port's link generation (bumped on every retrain)
 *   tx_frames rx_frames tx_bytes rx_bytes crc_errors frame_errors
 *   retransmits down_events   counters since the last device reset
 *   With the link engine (CAPS.LINKS, hw-spec 13.3-13.5), also counters:
 *   naks_rx naks_tx         NAK frames received / sent
 *   replay_timeouts         replay timer expiries
 *   ttl_drops               packets that arrived here with no TTL left
 *   credit_stalls           times a packet waited for credit here
 *   failovers               packets sent here as a route's alternative
 *   retrains                times the port gave up replaying (ERROR)
 *   data_tx data_rx         DATA frames sent first time / accepted
 *   seq_errors              DATA frames out of sequence
 *
 * /sys/bus/pci/devices/<bdf>/links/ (with CAPS.LINKS), the chip's link
 * engine, counters since the last device reset:
 *   chip_id         the chip's id on the fabric (LINK_CHIP_ID)
 *   fwd_pkts        transit packets forwarded
 *   no_route_drops  packets dropped: no valid route, no port up
 *   ttl_drops       transit packets dropped: TTL ran out here
 *   access_errors   remote operations this chip refused as target
 *   e2e_retransmits request packets this chip sent again end to end
 *   e2e_duplicates  duplicate requests recognised here as target
 *   mkey_violations management SETs refused for their key
 *   lane_errors     packets a dateline bumped past the last lane
 *   reroute_drops   frames of a port gone down with no way out
 *   e2e_timeouts    remote operations of this chip failed by timeout
 *   bad_pkts        packets dropped: end-to-end CRC or fields
 *   mgmt_rx_drops   management packets the card dropped (its queue full)
 *   mgmt_fifo_drops management packets the driver dropped (its 256-packet
 *                   queue full; the oldest goes); since the driver bound,
 *                   a device reset does not clear it
 *
 * Copyright (C) 2025 The Lumen Authors
 */

#include <linux/device.h>
#include <linux/interrupt.h>
#include <linux/kobject.h>
#include <linux/slab.h>
#include <linux/sysfs.h>
#include <linux/workqueue.h>

#include <drm/drm_drv.h>
#include <drm/drm_managed.h>

#include <lumen/lumen_link.h>

#include "lumen_drv.h"
#include "lumen_hw.h"
#include "lumen_link.h"
#include "lumen_mgmt.h"

/**
 * struct lumen_link_port - sysfs directory of one link port
 * @kobj: links/port<N>
 * @ldev: device
 * @index: port number
 */
struct lumen_link_port {
	struct kobject kobj;
	struct lumen_device *ldev;
	u32 index;
};

/**
 * struct lumen_links - the link ports of a device
 * @ldev: device
 * @num: ports with registers (NUM_LINK_PORTS) when CAPS.LINK_PORTS
 * @dir: the "links" directory under the PCI device
 * @ports: per-port directories
 * @irq: Linux IRQ of LUMEN_VEC_LINK, 0 without link ports
 * @causes: the interrupt causes of LUMEN_VEC_LINK this card has
 * @changed: LINK_CHANGED bits the interrupt collected, for @work
 * @work: turns changes into uevents and sysfs notifications
 * @ctrl_lock: serializes the ports' CTRL writes and @ctrl
 * @ctrl: each port's CTRL as the driver wants it (LUMEN_LCTRL_*): written
 *	again after a reset (which clears it) and a resume
 */
struct lumen_links {
	struct lumen_device *ldev;
	u32 num;
	struct kobject *dir;
	struct lumen_link_port *ports[LUMEN_LINK_PORTS_MAX];
	int irq;
	u32 causes;
	atomic_t changed;
	struct work_struct work;
	struct mutex ctrl_lock;	/* CTRL writes and @ctrl */
	u32 ctrl[LUMEN_LINK_PORTS_MAX];
};

static const char * const lumen_link_state_names[] = {
	[LUMEN_LINK_DOWN] = "down",
	[LUMEN_LINK_TRAINING] = "training",
	[LUMEN_LINK_UP] = "up",
	[LUMEN_LINK_ERROR] = "error",
};

static const char *lumen_link_state_name(u32 state)
{
	return state < ARRAY_SIZE(lumen_link_state_names) ? lumen_link_state_names[state] :
							     "unknown";
}

static u32 lumen_lrd(struct lumen_device *ldev, u32 port, u32 reg)
{
	return lumen_rd32(ldev, LUMEN_REG_LINK(port, reg));
}

static u64 lumen_lrd64(struct lumen_device *ldev, u32 port, u32 reg)
{
	return lumen_rd64(ldev, LUMEN_REG_LINK(port, reg));
}

/* ---- sysfs ---------------------------------------------------------------- */

struct lumen_link_attr {
	struct attribute attr;
	ssize_t (*show)(struct lumen_link_port *p, char *buf);
	ssize_t (*store)(struct lumen_link_port *p, const char *buf, size_t len);
};

static ssize_t lumen_link_attr_show(struct kobject *kobj, struct attribute *attr, char *buf)
{
	struct lumen_link_port *p = container_of(kobj, struct lumen_link_port, kobj);
	struct lumen_link_attr *la = container_of(attr, struct lumen_link_attr, attr);
	ssize_t ret;
	int idx;

	/* Registers only while the card is bound. */
	if (!drm_dev_enter(&p->ldev->drm, &idx))
		return -ENODEV;
	ret = la->show(p, buf);
	drm_dev_exit(idx);
	return ret;
}

static ssize_t lumen_link_attr_store(struct kobject *kobj, struct attribute *attr,
				     const char *buf, size_t len)
{
	struct lumen_link_port *p = container_of(kobj, struct lumen_link_port, kobj);
	struct lumen_link_attr *la = container_of(attr, struct lumen_link_attr, attr);
	ssize_t ret;
	int idx;

	if (!la->store)
		return -EIO;
	if (!drm_dev_enter(&p->ldev->drm, &idx))
		return -ENODEV;
	ret = la->store(p, buf, len);
	drm_dev_exit(idx);
	return ret;
}

static const struct sysfs_ops lumen_link_sysfs_ops = {
	.show = lumen_link_attr_show,
	.store = lumen_link_attr_store,
};

static ssize_t state_show(struct lumen_link_port *p, char *buf)
{
	return sysfs_emit(buf, "%s\n",
			  lumen_link_state_name(lumen_lrd(p->ldev, p->index, LUMEN_LREG_STATE)));
}

/* ~0 (no neighbour) reads as -1. */
static ssize_t lumen_link_show_peer(struct lumen_link_port *p, char *buf, u32 reg)
{
	u32 v = lumen_lrd(p->ldev, p->index, reg);

	return v == U32_MAX ? sysfs_emit(buf, "-1\n") : sysfs_emit(buf, "%u\n", v);
}

static ssize_t peer_chip_show(struct lumen_link_port *p, char *buf)
{
	return lumen_link_show_peer(p, buf, LUMEN_LREG_PEER_CHIP);
}

static ssize_t peer_port_show(struct lumen_link_port *p, char *buf)
{
	return lumen_link_show_peer(p, buf, LUMEN_LREG_PEER_PORT);
}

static ssize_t light_show(struct lumen_link_port *p, char *buf)
{
	u32 sts = lumen_lrd(p->ldev, p->index, LUMEN_LREG_STATUS);

	return sysfs_emit(buf, "%d\n", !!(sts & LUMEN_LSTS_LIGHT));
}

static ssize_t enabled_show(struct lumen_link_port *p, char *buf)
{
	u32 ctrl = lumen_lrd(p->ldev, p->index, LUMEN_LREG_CTRL);

	return sysfs_emit(buf, "%d\n", !!(ctrl & LUMEN_LCTRL_ENABLE));
}

/* Taking a port down is an administrative action: root only (mode 0644). */
static ssize_t enabled_store(struct lumen_link_port *p, const char *buf, size_t len)
{
	struct lumen_links *links = p->ldev->links;
	bool on;
	int ret = kstrtobool(buf, &on);

	if (ret)
		return ret;
	/*
	 * DATELINE (PORT_CTRL) stays as it is. Under the reset lock like
	 * PORT_CTRL: no register write while a reset (an FLR) has the card.
	 */
	down_read(&p->ldev->reset_lock);
	mutex_lock(&links->ctrl_lock);
	links->ctrl[p->index] &= ~LUMEN_LCTRL_ENABLE;
	if (on)
		links->ctrl[p->index] |= LUMEN_LCTRL_ENABLE;
	lumen_wr32(p->ldev, LUMEN_REG_LINK(p->index, LUMEN_LREG_CTRL), links->ctrl[p->index]);
	mutex_unlock(&links->ctrl_lock);
	up_read(&p->ldev->reset_lock);
	return len;
}

#define LUMEN_LINK_U32(_n, reg)							\
static ssize_t _n##_show(struct lumen_link_port *p, char *buf)			\
{										\
	return sysfs_emit(buf, "%u\n", lumen_lrd(p->ldev, p->index, reg));	\
}

#define LUMEN_LINK_U64(_n, reg)							\
static ssize_t _n##_show(struct lumen_link_port *p, char *buf)			\
{										\
	return sysfs_emit(buf, "%llu\n", lumen_lrd64(p->ldev, p->index, reg));	\
}

LUMEN_LINK_U32(generation, LUMEN_LREG_GENERATION)
LUMEN_LINK_U32(crc_errors, LUMEN_LREG_CRC_ERRORS)
LUMEN_LINK_U32(frame_errors, LUMEN_LREG_FRAME_ERRORS)
LUMEN_LINK_U32(retransmits, LUMEN_LREG_RETRANSMITS)
LUMEN_LINK_U32(down_events, LUMEN_LREG_DOWN_EVENTS)
LUMEN_LINK_U64(tx_frames, LUMEN_LREG_TX_PKTS_LO)
LUMEN_LINK_U64(rx_frames, LUMEN_LREG_RX_PKTS_LO)
LUMEN_LINK_U64(tx_bytes, LUMEN_LREG_TX_BYTES_LO)
LUMEN_LINK_U64(rx_bytes, LUMEN_LREG_RX_BYTES_LO)
LUMEN_LINK_U32(naks_rx, LUMEN_LREG_NAKS_RX)
LUMEN_LINK_U32(naks_tx, LUMEN_LREG_NAKS_TX)
LUMEN_LINK_U32(replay_timeouts, LUMEN_LREG_REPLAY_TIMEOUTS)
LUMEN_LINK_U32(ttl_drops, LUMEN_LREG_TTL_DROPS)
LUMEN_LINK_U32(credit_stalls, LUMEN_LREG_CREDIT_STALLS)
LUMEN_LINK_U32(failovers, LUMEN_LREG_FAILOVERS)
LUMEN_LINK_U32(retrains, LUMEN_LREG_RETRAINS)
LUMEN_LINK_U64(data_tx, LUMEN_LREG_DATA_TX_LO)
LUMEN_LINK_U64(data_rx, LUMEN_LREG_DATA_RX_LO)
LUMEN_LINK_U32(seq_errors, LUMEN_LREG_SEQ_ERRORS)

#define LUMEN_LINK_ATTR_RO(_n)							\
	static struct lumen_link_attr lumen_link_attr_##_n =			\
		{ .attr = { .name = #_n, .mode = 0444 }, .show = _n##_show }

LUMEN_LINK_ATTR_RO(state);
LUMEN_LINK_ATTR_RO(peer_chip);
LUMEN_LINK_ATTR_RO(peer_port);
LUMEN_LINK_ATTR_RO(light);
LUMEN_LINK_ATTR_RO(generation);
LUMEN_LINK_ATTR_RO(crc_errors);
LUMEN_LINK_ATTR_RO(frame_errors);
LUMEN_LINK_ATTR_RO(retransmits);
LUMEN_LINK_ATTR_RO(down_events);
LUMEN_LINK_ATTR_RO(tx_frames);
LUMEN_LINK_ATTR_RO(rx_frames);
LUMEN_LINK_ATTR_RO(tx_bytes);
LUMEN_LINK_ATTR_RO(rx_bytes);
LUMEN_LINK_ATTR_RO(naks_rx);
LUMEN_LINK_ATTR_RO(naks_tx);
LUMEN_LINK_ATTR_RO(replay_timeouts);
LUMEN_LINK_ATTR_RO(ttl_drops);
LUMEN_LINK_ATTR_RO(credit_stalls);
LUMEN_LINK_ATTR_RO(failovers);
LUMEN_LINK_ATTR_RO(retrains);
LUMEN_LINK_ATTR_RO(data_tx);
LUMEN_LINK_ATTR_RO(data_rx);
LUMEN_LINK_ATTR_RO(seq_errors);
static struct lumen_link_attr lumen_link_attr_enabled = {
	.attr = { .name = "enabled", .mode = 0644 },
	.show = enabled_show,
	.store = enabled_store,
};

static struct attribute *lumen_link_port_attrs[] = {
	&lumen_link_attr_state.attr,
	&lumen_link_attr_peer_chip.attr,
	&lumen_link_attr_peer_port.attr,
	&lumen_link_attr_light.attr,
	&lumen_link_attr_enabled.attr,
	&lumen_link_attr_generation.attr,
	&lumen_link_attr_tx_frames.attr,
	&lumen_link_attr_rx_frames.attr,
	&lumen_link_attr_tx_bytes.attr,
	&lumen_link_attr_rx_bytes.attr,
	&lumen_link_attr_crc_errors.attr,
	&lumen_link_attr_frame_errors.attr,
	&lumen_link_attr_retransmits.attr,
	&lumen_link_attr_down_events.attr,
	NULL,
};

static const struct attribute_group lumen_link_port_group = {
	.attrs = lumen_link_port_attrs,
};

/* Link-layer counters: registers that exist with CAPS.LINKS only. */
static struct attribute *lumen_link_engine_port_attrs[] = {
	&lumen_link_attr_naks_rx.attr,
	&lumen_link_attr_naks_tx.attr,
	&lumen_link_attr_replay_timeouts.attr,
	&lumen_link_attr_ttl_drops.attr,
	&lumen_link_attr_credit_stalls.attr,
	&lumen_link_attr_failovers.attr,
	&lumen_link_attr_retrains.attr,
	&lumen_link_attr_data_tx.attr,
	&lumen_link_attr_data_rx.attr,
	&lumen_link_attr_seq_errors.attr,
	NULL,
};

static umode_t lumen_link_engine_port_visible(struct kobject *kobj, struct attribute *attr,
					      int n)
{
	struct lumen_link_port *p = container_of(kobj, struct lumen_link_port, kobj);

	return lumen_has_links(p->ldev) ? attr->mode : 0;
}

static const struct attribute_group lumen_link_engine_port_group = {
	.attrs = lumen_link_engine_port_attrs,
	.is_visible = lumen_link_engine_port_visible,
};

static const struct attribute_group *lumen_link_port_groups[] = {
	&lumen_link_port_group,
	&lumen_link_engine_port_group,
	NULL,
};

static void lumen_link_port_release(struct kobject *kobj)
{
	kfree(container_of(kobj, struct lumen_link_port, kobj));
}

static const struct kobj_type lumen_link_port_ktype = {
	.release = lumen_link_port_release,
	.sysfs_ops = &lumen_link_sysfs_ops,
	.default_groups = lumen_link_port_groups,
};

/* ---- chip counters: links/ ------------------------------------------------ */

/* links/ is a plain kobject under the PCI device: find the card from it. */
static struct lumen_device *lumen_links_dir_ldev(struct kobject *kobj)
{
	return pci_get_drvdata(to_pci_dev(kobj_to_dev(kobj->parent)));
}

static ssize_t lumen_links_dir_show(struct kobject *kobj, char *buf, u32 reg, bool wide)
{
	struct lumen_device *ldev = lumen_links_dir_ldev(kobj);
	ssize_t ret;
	int idx;

	if (!drm_dev_enter(&ldev->drm, &idx))
		return -ENODEV;
	if (wide)
		ret = sysfs_emit(buf, "%llu\n", lumen_rd64(ldev, reg));
	else
		ret = sysfs_emit(buf, "%u\n", lumen_rd32(ldev, reg));
	drm_dev_exit(idx);
	return ret;
}

#define LUMEN_CHIP_ATTR(_n, reg, wide)						\
static ssize_t lumen_chip_##_n##_show(struct kobject *kobj, struct kobj_attribute *a,	\
				      char *buf)					\
{										\
	return lumen_links_dir_show(kobj, buf, reg, wide);			\
}										\
static struct kobj_attribute lumen_chip_attr_##_n =				\
	__ATTR(_n, 0444, lumen_chip_##_n##_show, NULL)

LUMEN_CHIP_ATTR(chip_id, LUMEN_REG_LINK_CHIP_ID, false);
LUMEN_CHIP_ATTR(fwd_pkts, LUMEN_REG_FWD_PKTS_LO, true);
LUMEN_CHIP_ATTR(no_route_drops, LUMEN_REG_NO_ROUTE_DROPS, false);
LUMEN_CHIP_ATTR(ttl_drops, LUMEN_REG_TTL_DROPS, false);
LUMEN_CHIP_ATTR(access_errors, LUMEN_REG_ACCESS_ERRORS, false);
LUMEN_CHIP_ATTR(e2e_retransmits, LUMEN_REG_E2E_RETRANSMITS, false);
LUMEN_CHIP_ATTR(e2e_duplicates, LUMEN_REG_E2E_DUPLICATES, false);
LUMEN_CHIP_ATTR(mkey_violations, LUMEN_REG_MKEY_VIOLATIONS, false);
LUMEN_CHIP_ATTR(lane_errors, LUMEN_REG_LANE_ERRORS, false);
LUMEN_CHIP_ATTR(reroute_drops, LUMEN_REG_REROUTE_DROPS, false);
LUMEN_CHIP_ATTR(e2e_timeouts, LUMEN_REG_E2E_TIMEOUTS, false);
LUMEN_CHIP_ATTR(bad_pkts, LUMEN_REG_BAD_PKTS, false);
LUMEN_CHIP_ATTR(mgmt_rx_drops, LUMEN_REG_MGMT_RX_DROPS, false);

static ssize_t lumen_chip_mgmt_fifo_drops_show(struct kobject *kobj, struct kobj_attribute *a,
					       char *buf)
{
	return sysfs_emit(buf, "%llu\n", lumen_mgmt_fifo_drops(lumen_links_dir_ldev(kobj)));
}

static struct kobj_attribute lumen_chip_attr_mgmt_fifo_drops =
	__ATTR(mgmt_fifo_drops, 0444, lumen_chip_mgmt_fifo_drops_show, NULL);

static struct attribute *lumen_chip_attrs[] = {
	&lumen_chip_attr_chip_id.attr,
	&lumen_chip_attr_fwd_pkts.attr,
	&lumen_chip_attr_no_route_drops.attr,
	&lumen_chip_attr_ttl_drops.attr,
	&lumen_chip_attr_access_errors.attr,
	&lumen_chip_attr_e2e_retransmits.attr,
	&lumen_chip_attr_e2e_duplicates.attr,
	&lumen_chip_attr_mkey_violations.attr,
	&lumen_chip_attr_lane_errors.attr,
	&lumen_chip_attr_reroute_drops.attr,
	&lumen_chip_attr_e2e_timeouts.attr,
	&lumen_chip_attr_bad_pkts.attr,
	&lumen_chip_attr_mgmt_rx_drops.attr,
	&lumen_chip_attr_mgmt_fifo_drops.attr,
	NULL,
};

static const struct attribute_group lumen_chip_group = {
	.attrs = lumen_chip_attrs,
};

/* ---- state changes ----------------------------------------------------------- */

static void lumen_link_report(struct lumen_links *links, u32 port)
{
	struct lumen_device *ldev = links->ldev;
	char ev_port[24], ev_state[40], ev_chip[32], ev_peer[32], *envp[6];
	u32 state = lumen_lrd(ldev, port, LUMEN_LREG_STATE);
	int n = 0;

	snprintf(ev_port, sizeof(ev_port), "LUMEN_PORT=%u", port);
	snprintf(ev_state, sizeof(ev_state), "LUMEN_LINK_STATE=%s", lumen_link_state_name(state));
	envp[n++] = "LUMEN_EVENT=link";
	envp[n++] = ev_port;
	envp[n++] = ev_state;
	if (state == LUMEN_LINK_UP) {
		snprintf(ev_chip, sizeof(ev_chip), "LUMEN_PEER_CHIP=%u",
			 lumen_lrd(ldev, port, LUMEN_LREG_PEER_CHIP));
		snprintf(ev_peer, sizeof(ev_peer), "LUMEN_PEER_PORT=%u",
			 lumen_lrd(ldev, port, LUMEN_LREG_PEER_PORT));
		envp[n++] = ev_chip;
		envp[n++] = ev_peer;
	}
	envp[n] = NULL;
	dev_dbg(lumen_dev(ldev), "link port %u %s\n", port, lumen_link_state_name(state));
	kobject_uevent_env(&lumen_dev(ldev)->kobj, KOBJ_CHANGE, envp);
	if (links->ports[port])
		sysfs_notify(&links->ports[port]->kobj, NULL, "state");
}

static void lumen_link_work(struct work_struct *work)
{
	struct lumen_links *links = container_of(work, struct lumen_links, work);
	unsigned long changed = atomic_xchg(&links->changed, 0);
	unsigned int port;
	int idx;

	if (!drm_dev_enter(&links->ldev->drm, &idx))
		return;
	for_each_set_bit(port, &changed, links->num)
		lumen_link_report(links, port);
	drm_dev_exit(idx);
}

/* LUMEN_VEC_LINK: port state changes and, with CAPS.LINKS, management packets. */
static irqreturn_t lumen_link_irq(int irq, void *arg)
{
	struct lumen_links *links = arg;
	struct lumen_device *ldev = links->ldev;
	u32 status = lumen_rd32(ldev, LUMEN_REG_INT_STATUS) & links->causes;
	u32 changed;

	if (!status)
		return IRQ_NONE;
	/* Acknowledge before reading, so that a new change signals again. */
	lumen_wr32(ldev, LUMEN_REG_INT_STATUS, status);
	if (status & LUMEN_INT_LINK) {
		changed = lumen_rd32(ldev, LUMEN_REG_LINK_CHANGED);
		if (changed) {
			lumen_wr32(ldev, LUMEN_REG_LINK_CHANGED, changed);
			atomic_or(changed, &links->changed);
			schedule_work(&links->work);
		}
	}
	if (status & LUMEN_INT_MGMT)
		lumen_mgmt_rx_kick(ldev);
	return IRQ_HANDLED;
}

/**
 * lumen_link_num_ports() - link ports the driver manages
 * @ldev: device
 *
 * Taken from the card's identity, which lives as long as @ldev, and not
 * from &lumen_device.links, which is freed at unbind: the ioctls check a
 * port number before they enter the device (drm_dev_enter()).
 *
 * Return: NUM_LINK_PORTS with CAPS.LINK_PORTS, else 0.
 */
u32 lumen_link_num_ports(struct lumen_device *ldev)
{
	return ldev->id.caps & LUMEN_CAP_LINK_PORTS ? ldev->id.num_link_ports : 0;
}

/**
 * lumen_link_get_ctrl() - a port's CTRL register
 * @ldev: device; the caller is in drm_dev_enter()
 * @port: port, below lumen_link_num_ports()
 *
 * Return: LUMEN_LCTRL_* bits as the card has them (a management SET from
 * another chip may have changed them).
 */
u32 lumen_link_get_ctrl(struct lumen_device *ldev, u32 port)
{
	return lumen_lrd(ldev, port, LUMEN_LREG_CTRL) & LUMEN_LCTRL_MASK;
}

/**
 * lumen_link_set_ctrl() - set a port's CTRL, kept across resets
 * @ldev: device; the caller is in drm_dev_enter()
 * @port: port, below lumen_link_num_ports()
 * @ctrl: LUMEN_LCTRL_* bits (DATELINE only with CAPS.LINKS)
 */
void lumen_link_set_ctrl(struct lumen_device *ldev, u32 port, u32 ctrl)
{
	struct lumen_links *links = ldev->links;

	mutex_lock(&links->ctrl_lock);
	links->ctrl[port] = ctrl;
	lumen_wr32(ldev, LUMEN_REG_LINK(port, LUMEN_LREG_CTRL), ctrl);
	mutex_unlock(&links->ctrl_lock);
}

/**
 * lumen_link_restart() - program every port and enable the link interrupt
 * @ldev: device, firmware running, interrupts set up
 *
 * After probe, a device reset and a resume: each port gets the CTRL the
 * driver keeps for it (all enabled at probe; PORT_CTRL and sysfs change
 * it). The card trains the lit, enabled ports on its own from here (an
 * enabled, trained port is left as it is).
 */
void lumen_link_restart(struct lumen_device *ldev)
{
	struct lumen_links *links = ldev->links;
	u32 p;

	if (!links || !links->causes)
		return;
	lumen_wr32(ldev, LUMEN_REG_LINK_CHANGED, lumen_rd32(ldev, LUMEN_REG_LINK_CHANGED));
	mutex_lock(&links->ctrl_lock);
	for (p = 0; p < links->num; p++)
		lumen_wr32(ldev, LUMEN_REG_LINK(p, LUMEN_LREG_CTRL), links->ctrl[p]);
	mutex_unlock(&links->ctrl_lock);
	lumen_hw_irq_enable(ldev, links->causes);
	/* Packets the card queued while INT_MGMT was masked. */
	if (links->causes & LUMEN_INT_MGMT)
		lumen_mgmt_rx_kick(ldev);
}

/* ---- setup -------------------------------------------------------------------- */

static void lumen_link_fini(void *arg)
{
	struct lumen_links *links = arg;
	struct lumen_device *ldev = links->ldev;
	u32 p;

	/*
	 * The IRQ is freed only after this (devres order) and @links later
	 * still: mask the causes and wait for a running handler, so that no
	 * work is queued once the pending ones are cancelled.
	 */
	lumen_wr32(ldev, LUMEN_REG_INT_MASK, lumen_rd32(ldev, LUMEN_REG_INT_MASK) | links->causes);
	synchronize_irq(links->irq);
	cancel_work_sync(&links->work);
	lumen_mgmt_stop(ldev);
	for (p = 0; p < LUMEN_LINK_PORTS_MAX; p++)
		if (links->ports[p])
			kobject_put(&links->ports[p]->kobj);
	kobject_put(links->dir);
}

/**
 * lumen_link_init() - link ports and engine: sysfs, interrupt, enable
 * @ldev: device with its MSI-X vectors allocated, the firmware running and
 *	the management receive side set up (lumen_mgmt_init())
 *
 * Return: 0 (also without link ports) or a negative errno (logged).
 */
int lumen_link_init(struct lumen_device *ldev)
{
	struct device *dev = lumen_dev(ldev);
	struct lumen_links *links;
	const char *name;
	int irq, ret;
	u32 p;

	links = devm_kzalloc(dev, sizeof(*links), GFP_KERNEL);
	if (!links)
		return -ENOMEM;
	links->ldev = ldev;
	INIT_WORK(&links->work, lumen_link_work);
	ret = devm_mutex_init(dev, &links->ctrl_lock);
	if (ret)
		return ret;
	ldev->links = links;
	links->num = lumen_link_num_ports(ldev);
	if (links->num)
		links->causes |= LUMEN_INT_LINK;
	if (lumen_has_links(ldev))
		links->causes |= LUMEN_INT_MGMT;
	if (!links->causes)
		return 0;
	for (p = 0; p < links->num; p++)
		links->ctrl[p] = LUMEN_LCTRL_ENABLE;

	irq = pci_irq_vector(ldev->pdev, LUMEN_VEC_LINK);
	if (irq < 0) {
		dev_err(dev, "no Linux IRQ for the link vector: %pe\n", ERR_PTR(irq));
		return irq;
	}
	name = devm_kasprintf(dev, GFP_KERNEL, DRIVER_NAME "-link@%s", pci_name(ldev->pdev));
	if (!name)
		return -ENOMEM;
	ret = devm_request_irq(dev, irq, lumen_link_irq, 0, name, links);
	if (ret) {
		dev_err(dev, "cannot request IRQ %d (link): %pe\n", irq, ERR_PTR(ret));
		return ret;
	}
	links->irq = irq;

	links->dir = kobject_create_and_add("links", &dev->kobj);
	if (!links->dir)
		return -ENOMEM;
	ret = devm_add_action_or_reset(dev, lumen_link_fini, links);
	if (ret)
		return ret;
	if (lumen_has_links(ldev)) {
		ret = sysfs_create_group(links->dir, &lumen_chip_group);
		if (ret) {
			dev_err(dev, "cannot create the links/ chip counters: %pe\n", ERR_PTR(ret));
			return ret;
		}
	}
	for (p = 0; p < links->num; p++) {
		struct lumen_link_port *port = kzalloc(sizeof(*port), GFP_KERNEL);

		if (!port)
			return -ENOMEM;
		port->ldev = ldev;
		port->index = p;
		ret = kobject_init_and_add(&port->kobj, &lumen_link_port_ktype, links->dir,
					   "port%u", p);
		links->ports[p] = port;	/* put by lumen_link_fini(), also on failure */
		if (ret) {
			dev_err(dev, "cannot create links/port%u: %pe\n", p, ERR_PTR(ret));
			return ret;
		}
	}

	lumen_link_restart(ldev);
	return 0;
}
