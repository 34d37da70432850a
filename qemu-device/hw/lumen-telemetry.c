/*
 * Lumen N1 accelerator: telemetry (docs/hw-spec.md section 8).
 *
 * The card has no sensors, so temperature and power come from a small
 * model driven by engine busy time and QEMU_CLOCK_VIRTUAL (so a paused VM
 * neither heats nor cools):
 *
 *   u     = utilisation over the interval since the last update (0..1)
 *   P     = P_idle + u * P_dyn, limited to max(P_idle, POWER_CAP_MW)
 *   T_ss  = T_idle + u * (T_full - T_idle)
 *   T    += (T_ss - T) * (1 - exp(-dt / tau))
 *
 * The model is advanced lazily whenever it is looked at or an engine
 * reports busy time (lumen_telemetry_add_busy()), instead of on a periodic
 * timer: with u constant over an interval the exponential step is exact for
 * any interval length, and an idle card costs nothing.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <math.h>
#include "qemu/timer.h"
#include "lumen-npu.h"

#define LUMEN_TEMP_IDLE_MC      35000           /* ambient */
#define LUMEN_TEMP_FULL_MC      80000
#define LUMEN_TEMP_CRIT_MC      95000
#define LUMEN_TEMP_TAU_NS       (3 * NANOSECONDS_PER_SECOND)
#define LUMEN_POWER_IDLE_MW     25000
#define LUMEN_POWER_DYN_MW      125000
#define LUMEN_POWER_MAX_MW      150000
#define LUMEN_CLK_CORE_MHZ      1000
#define LUMEN_CLK_MEM_MHZ       1600

static int64_t lumen_now(void)
{
    return qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
}

static uint32_t lumen_power_mw(LumenTelemetry *t, double u)
{
    double p = LUMEN_POWER_IDLE_MW + u * LUMEN_POWER_DYN_MW;
    double limit = MAX(LUMEN_POWER_IDLE_MW, t->power_cap_mw);

    return (uint32_t)MIN(p, limit);
}

/* Advance the model to @now. */
static void lumen_telemetry_advance(LumenState *s, int64_t now)
{
    LumenTelemetry *t = &s->telem;
    uint64_t busy = t->busy_ns - t->busy_at_last;
    int64_t span = now - t->last_ns;
    double u, t_ss, temp;

    if (span <= 0) {
        return;
    }
    /* Busy time counts towards the interval it was reported in. */
    u = MIN(1.0, (double)busy / span);
    t_ss = LUMEN_TEMP_IDLE_MC + u * (LUMEN_TEMP_FULL_MC - LUMEN_TEMP_IDLE_MC);
    temp = t->temp_mc;
    temp += (t_ss - temp) * -expm1(-(double)span / LUMEN_TEMP_TAU_NS);
    t->temp_mc = (int32_t)lrint(temp);
    t->power_mw = lumen_power_mw(t, u);
    t->last_ns = now;
    t->busy_at_last = t->busy_ns;

    if (t->temp_mc >= LUMEN_TEMP_CRIT_MC && !t->over_temp) {
        t->over_temp = true;
        lumen_report_error(s, LUMEN_ERR_THERMAL, LUMEN_STATUS_INTERNAL,
                           t->temp_mc);
    } else if (t->temp_mc < LUMEN_TEMP_CRIT_MC - 5000) {
        t->over_temp = false;
    }
}

static void lumen_telemetry_update(LumenState *s)
{
    lumen_telemetry_advance(s, lumen_now());
}

/*
 * An engine was busy for @ns up to now. BUSY_NS never runs faster than
 * time since reset, whatever engines report.
 */
void lumen_telemetry_add_busy(LumenState *s, uint64_t ns)
{
    LumenTelemetry *t = &s->telem;
    int64_t now = lumen_now();
    uint64_t uptime = now - t->reset_ns;

    lumen_telemetry_advance(s, now);
    t->busy_ns = MIN(t->busy_ns + ns, uptime);
}

static uint64_t lumen_uptime_ns(LumenState *s)
{
    return lumen_now() - s->telem.reset_ns;
}

void lumen_telemetry_fill(LumenState *s, struct lumen_mbox_telemetry *out)
{
    LumenTelemetry *t = &s->telem;

    lumen_telemetry_update(s);
    memset(out, 0, sizeof(*out));
    out->temp_mc = cpu_to_le32(t->temp_mc);
    out->power_mw = cpu_to_le32(t->power_mw);
    out->clk_core_mhz = cpu_to_le32(LUMEN_CLK_CORE_MHZ);
    out->clk_mem_mhz = cpu_to_le32(LUMEN_CLK_MEM_MHZ);
    out->busy_ns = cpu_to_le64(t->busy_ns);
    out->uptime_ns = cpu_to_le64(lumen_uptime_ns(s));
    out->temp_crit_mc = cpu_to_le32(LUMEN_TEMP_CRIT_MC);
    out->power_cap_mw = cpu_to_le32(t->power_cap_mw);
}

bool lumen_telemetry_read(LumenState *s, hwaddr addr, uint32_t *val)
{
    LumenTelemetry *t = &s->telem;

    switch (addr) {
    case LUMEN_REG_TEMP_MC:
        lumen_telemetry_update(s);
        *val = t->temp_mc;
        return true;
    case LUMEN_REG_POWER_MW:
        lumen_telemetry_update(s);
        *val = t->power_mw;
        return true;
    case LUMEN_REG_CLK_CORE_MHZ:
        *val = LUMEN_CLK_CORE_MHZ;
        return true;
    case LUMEN_REG_CLK_MEM_MHZ:
        *val = LUMEN_CLK_MEM_MHZ;
        return true;
    case LUMEN_REG_BUSY_NS_LO:
        *val = (uint32_t)t->busy_ns;
        return true;
    case LUMEN_REG_BUSY_NS_HI:
        *val = t->busy_ns >> 32;
        return true;
    case LUMEN_REG_UPTIME_MS:
        *val = (uint32_t)(lumen_uptime_ns(s) / SCALE_MS);
        return true;
    case LUMEN_REG_TEMP_CRIT_MC:
        *val = LUMEN_TEMP_CRIT_MC;
        return true;
    case LUMEN_REG_POWER_CAP_MW:
        *val = t->power_cap_mw;
        return true;
    case LUMEN_REG_POWER_MAX_MW:
        *val = LUMEN_POWER_MAX_MW;
        return true;
    default:
        return false;
    }
}

bool lumen_telemetry_write(LumenState *s, hwaddr addr, uint32_t val)
{
    switch (addr) {
    case LUMEN_REG_POWER_CAP_MW:
        if (val < 1 || val > LUMEN_POWER_MAX_MW) {
            lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                            "POWER_CAP_MW outside [1, POWER_MAX_MW]");
            return true;
        }
        /* The old cap applies up to now, the new one from now on. */
        lumen_telemetry_update(s);
        s->telem.power_cap_mw = val;
        return true;
    case LUMEN_REG_TEMP_MC:
    case LUMEN_REG_POWER_MW:
    case LUMEN_REG_CLK_CORE_MHZ:
    case LUMEN_REG_CLK_MEM_MHZ:
    case LUMEN_REG_BUSY_NS_LO:
    case LUMEN_REG_BUSY_NS_HI:
    case LUMEN_REG_UPTIME_MS:
    case LUMEN_REG_TEMP_CRIT_MC:
    case LUMEN_REG_POWER_MAX_MW:
        lumen_reg_error(s, addr, LUMEN_STATUS_BAD_ARGUMENT,
                        "write to a read-only register");
        return true;
    default:
        return false;
    }
}

/*
 * Soft reset: counters restart, the cap returns to the board limit. The
 * die temperature is physical and carries on (@power_on resets it too).
 */
void lumen_telemetry_reset(LumenState *s, bool power_on)
{
    LumenTelemetry *t = &s->telem;
    int64_t now = lumen_now();

    if (power_on) {
        t->temp_mc = LUMEN_TEMP_IDLE_MC;
        t->over_temp = false;
    } else {
        lumen_telemetry_advance(s, now);
    }
    t->reset_ns = now;
    t->last_ns = now;
    t->busy_ns = 0;
    t->busy_at_last = 0;
    t->power_cap_mw = LUMEN_POWER_MAX_MW;
    t->power_mw = lumen_power_mw(t, 0);
}
