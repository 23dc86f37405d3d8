/* fuzz_zones.h: the IANA zones the cron and tz targets pick from (by an
 * input byte), loaded from tzdata once each. The odd rules among them:
 * 30-minute DST (Lord_Howe), a skipped day (Apia), DST at midnight
 * (Sao_Paulo, Havana), 2-hour DST (Troll), negative DST (Dublin), Ramadan
 * breaks (Casablanca), 45-minute offsets (Kathmandu, Chatham), +14 h
 * (Kiritimati). */
#ifndef STAMPEDE_FUZZ_ZONES_H
#define STAMPEDE_FUZZ_ZONES_H

#include "fuzz.h"
#include "tz.h"

static const char *const fuzz_zone_names[] = {
    "UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Apia",
    "America/Sao_Paulo", "America/Havana", "Antarctica/Troll", "Europe/Dublin",
    "Africa/Casablanca", "Asia/Kathmandu", "Pacific/Chatham", "America/St_Johns",
    "Asia/Tehran", "Pacific/Kiritimati", "Australia/Adelaide",
};
#define FUZZ_NZONES (sizeof fuzz_zone_names / sizeof fuzz_zone_names[0])

/* Zone i (mod the list's length); aborts when tzdata lacks it. */
static inline const struct tz_zone *fuzz_zone(unsigned i)
{
    static struct tz_zone *zones[FUZZ_NZONES];
    i %= FUZZ_NZONES;
    if (!zones[i]) {
        char err[256];
        zones[i] = tz_load(fuzz_zone_names[i], err, sizeof err);
        if (!zones[i]) {
            fprintf(stderr, "fuzz: %s (is tzdata installed?)\n", err);
            abort();
        }
    }
    return zones[i];
}

#endif
